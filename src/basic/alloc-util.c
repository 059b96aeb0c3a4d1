/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc-util.h"
#include "macros.h"

int greedy_realloc(void **p, size_t *allocated, size_t need, size_t size, size_t min_alloc) {
        size_t a;
        void *q;

        if (need <= *allocated)
                return 0;
        a = MAX(*allocated > SIZE_MAX / 2 ? need : *allocated * 2, min_alloc);
        if (a < need)
                a = need;
        /* checked here, not left to reallocarray(): the sanitizers' reallocarray aborts on an overflow */
        if (size > 0 && a > SIZE_MAX / size)
                return -ENOMEM;
        q = reallocarray(*p, a, size);
        if (!q)
                return -ENOMEM;
        *p = q;
        *allocated = a;
        return 0;
}
