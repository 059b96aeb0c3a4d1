/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* "1.5M" style, base 1024 */
void format_bytes(uint64_t b, char *buf, size_t n);
