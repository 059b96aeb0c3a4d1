/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small helpers several verbs share (kept out of main.c so each verb stays one file). */
#include <inttypes.h>
#include <stdio.h>

#include "cli-util.h"
#include "macros.h"

void format_bytes(uint64_t b, char *buf, size_t n) {
        static const char *const units[] = { "B", "K", "M", "G", "T" };
        double v = (double) b;
        size_t u = 0;
        while (v >= 1024 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024;
                u++;
        }
        if (u == 0)
                snprintf(buf, n, "%" PRIu64 "B", b);
        else
                snprintf(buf, n, "%.1f%s", v, units[u]);
}
