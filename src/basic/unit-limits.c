/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit-limits.h"

const UnitLimitInfo unit_limit_info[_UNIT_LIMIT_MAX] = {
        [UNIT_LIMIT_CPU_QUOTA] = { "resources.cpu_quota", "CPUQuotaPerSecUSec" },
        [UNIT_LIMIT_CPU_WEIGHT] = { "resources.cpu_weight", "CPUWeight" },
        [UNIT_LIMIT_IO_WEIGHT] = { "resources.io_weight", "IOWeight" },
        [UNIT_LIMIT_MEMORY_HIGH] = { "resources.memory_high", "MemoryHigh" },
        [UNIT_LIMIT_MEMORY_MAX] = { "resources.memory_max", "MemoryMax" },
        [UNIT_LIMIT_MEMORY_SWAP_MAX] = { "resources.memory_swap_max", "MemorySwapMax" },
        [UNIT_LIMIT_TASKS_MAX] = { "resources.tasks_max", "TasksMax" },
};
