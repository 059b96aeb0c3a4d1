/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* A CPU list as the kernel writes it and systemd's AllowedCPUs= takes it: comma-separated CPU numbers
 * and ranges, "0-3,8,10-11". Decimal without leading zeros, a range's end not below its start, no CPU
 * above max_cpu. The result is a bitmask (CPU i is bit i % 8 of byte i / 8) trimmed to the highest
 * CPU given: size = highest / 8 + 1. -EINVAL for bad syntax or an empty list, -ERANGE for a CPU above
 * max_cpu. */
int cpu_set_parse(const char *s, unsigned max_cpu, uint8_t **ret_mask, size_t *ret_size);

/* The mask as a list of ascending ranges ("0-3,8,10-11"; "" for an empty mask); NULL on OOM */
char *cpu_set_format(const uint8_t *mask, size_t size);
