/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cpu-set.h"
#include "macros.h"
#include "string-util.h"

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* One CPU number of [p, e), advancing *p past it */
static int parse_cpu(const char **p, const char *e, unsigned max_cpu, unsigned *ret) {
        const char *s = *p;
        unsigned v = 0;

        if (s >= e || !is_digit(*s))
                return -EINVAL;
        if (*s == '0' && s + 1 < e && is_digit(s[1]))
                return -EINVAL; /* no leading zeros */
        for (; s < e && is_digit(*s); s++) {
                v = v * 10 + (unsigned) (*s - '0');
                if (v > max_cpu)
                        return -ERANGE;
        }
        *p = s;
        *ret = v;
        return 0;
}

/* "N" or "N-M" spanning exactly [s, e) */
static int parse_cpu_range(const char *s, const char *e, unsigned max_cpu, unsigned *ret_a,
                           unsigned *ret_b) {
        unsigned a, b;
        int r;

        r = parse_cpu(&s, e, max_cpu, &a);
        if (r < 0)
                return r;
        b = a;
        if (s < e) {
                if (*s != '-')
                        return -EINVAL;
                s++;
                r = parse_cpu(&s, e, max_cpu, &b);
                if (r < 0)
                        return r;
                if (s != e || b < a)
                        return -EINVAL;
        }
        *ret_a = a;
        *ret_b = b;
        return 0;
}

int cpu_set_parse(const char *s, unsigned max_cpu, uint8_t **ret_mask, size_t *ret_size) {
        _cleanup_free_ uint8_t *mask = NULL;
        unsigned highest = 0;
        const char *p = s;
        uint8_t *m;
        int r;

        if (!s || !*s)
                return -EINVAL;
        mask = new0(uint8_t, max_cpu / 8 + 1);
        if (!mask)
                return -ENOMEM;
        for (;;) {
                const char *e = strchr(p, ',') ?: p + strlen(p);
                unsigned a, b;

                r = parse_cpu_range(p, e, max_cpu, &a, &b);
                if (r < 0)
                        return r;
                for (unsigned i = a; i <= b; i++)
                        mask[i / 8] |= (uint8_t) (1U << (i % 8));
                highest = MAX(highest, b);
                if (!*e)
                        break;
                p = e + 1;
        }
        m = realloc(mask, highest / 8 + 1);
        if (!m)
                return -ENOMEM;
        mask = NULL;
        *ret_mask = m;
        *ret_size = highest / 8 + 1;
        return 0;
}

static bool cpu_is_set(const uint8_t *mask, size_t size, size_t i) {
        return i / 8 < size && (mask[i / 8] & (1U << (i % 8)));
}

char *cpu_set_format(const uint8_t *mask, size_t size) {
        Buffer b = {};

        for (size_t i = 0; i < size * 8; i++) {
                size_t j;
                int r;

                if (!cpu_is_set(mask, size, i))
                        continue;
                for (j = i; cpu_is_set(mask, size, j + 1); j++)
                        ;
                r = j == i ? buffer_printf(&b, "%s%zu", b.size ? "," : "", i)
                           : buffer_printf(&b, "%s%zu-%zu", b.size ? "," : "", i, j);
                if (r < 0) {
                        buffer_done(&b);
                        return NULL;
                }
                i = j;
        }
        return b.data ?: strdup("");
}
