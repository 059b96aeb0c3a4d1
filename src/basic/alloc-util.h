/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* Makes *p, an array of *allocated elements of size bytes, hold at least need elements: when it is too
 * small it grows to twice its size, at least min_alloc (and at least need). 0, or -ENOMEM with *p and
 * *allocated untouched. */
int greedy_realloc(void **p, size_t *allocated, size_t need, size_t size, size_t min_alloc);

/* GREEDY_REALLOC(array, allocated, n + 1, 16) before array[n++] = x */
#define GREEDY_REALLOC(array, allocated, need, min_alloc)                                                   \
        greedy_realloc((void **) &(array), &(allocated), (need), sizeof((array)[0]), (min_alloc))
