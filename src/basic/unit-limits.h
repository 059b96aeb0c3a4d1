/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The container file's [resources] keys that are systemd unit properties of type "t", as one value type
 * shared by config/ (which parses them into ResourceConfig.limits), bus/ (which sends them in
 * BusScopeParams and reads them back in BusScopeLimits) and the verbs that show them. A new such key is an
 * entry here and in unit_limit_info[] (unit-limits.c), plus its parsing line in config-keys.c's key
 * table; nothing copies it field by field on the way to D-Bus.
 *
 * The order is that of the names of the drop-ins systemd writes for them at runtime (50-CPUQuota.conf,
 * 50-CPUWeight.conf, 50-IOWeight.conf, 50-MemoryHigh.conf, …): bus/ sends them in this order (see
 * bus.c). AllowedCPUs is not here: it is a byte array, not a "t". */
typedef enum UnitLimit {
        UNIT_LIMIT_CPU_QUOTA,       /* CPUQuotaPerSecUSec: "50%" → 500000 */
        UNIT_LIMIT_CPU_WEIGHT,      /* CPUWeight 1..10000 */
        UNIT_LIMIT_IO_WEIGHT,       /* IOWeight 1..10000 */
        UNIT_LIMIT_MEMORY_HIGH,     /* MemoryHigh, bytes */
        UNIT_LIMIT_MEMORY_MAX,      /* MemoryMax, bytes */
        UNIT_LIMIT_MEMORY_SWAP_MAX, /* MemorySwapMax, bytes */
        UNIT_LIMIT_TASKS_MAX,       /* TasksMax */
        _UNIT_LIMIT_MAX,
} UnitLimit;

/* value[i] applies only when set[i]; UINT64_MAX means "infinity" for the memory and task limits (and,
 * as systemd reports them, "no quota" / "the default weight" for the others). */
typedef struct UnitLimits {
        bool set[_UNIT_LIMIT_MAX];
        uint64_t value[_UNIT_LIMIT_MAX];
} UnitLimits;

typedef struct UnitLimitInfo {
        const char *key;      /* the container file's key path: "resources.memory_max" */
        const char *property; /* the unit property: "MemoryMax" */
} UnitLimitInfo;

extern const UnitLimitInfo unit_limit_info[_UNIT_LIMIT_MAX];

#define UNIT_LIMIT_FOREACH(i) for (UnitLimit i = 0; i < _UNIT_LIMIT_MAX; i++)
