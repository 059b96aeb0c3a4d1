/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The value parsers of config/ (port specs, sizes, time spans, CPU quotas, cpusets, signals, subnets):
 * the first byte picks the parser, the rest is the string. Invariant: whatever parses formats back to a
 * string that parses to the same value. */

#include <stdio.h>
#include <stdlib.h>

#include "config-values.h"
#include "macros.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_port(const char *s) {
        PortMap a = {}, b = {};
        if (config_parse_port_spec(s, &a) < 0)
                return;
        if (a.host_port == 0 || a.host_port > a.host_port_end ||
            a.host_port_end - a.host_port != a.container_port_end - a.container_port)
                abort();
        _cleanup_free_ char *f = config_format_port_spec(&a);
        if (!f || config_parse_port_spec(f, &b) < 0 || memcmp(&a, &b, sizeof(a)) != 0)
                abort();
        (void) port_map_conflicts(&a, &b);
}

static void fuzz_size(const char *s) {
        uint64_t a, b;
        if (config_parse_size(s, true, &a) < 0)
                return;
        _cleanup_free_ char *f = config_format_size(a);
        if (!f || config_parse_size(f, true, &b) < 0 || a != b)
                abort();
}

static void fuzz_timespan(const char *s) {
        uint64_t a, b;
        if (config_parse_timespan(s, true, &a) < 0)
                return;
        _cleanup_free_ char *f = config_format_timespan(a);
        if (!f || config_parse_timespan(f, true, &b) < 0 || a != b)
                abort();
}

static void fuzz_cpu_quota(const char *s) {
        uint64_t a, b;
        if (config_parse_cpu_quota(s, &a) < 0)
                return;
        if (a == 0)
                abort();
        _cleanup_free_ char *f = config_format_cpu_quota(a);
        /* formatting keeps two decimals: values are multiples of 100 µs */
        if (!f || config_parse_cpu_quota(f, &b) < 0 || a / 100 != b / 100)
                abort();
}

static void fuzz_cpuset(const char *s) {
        _cleanup_free_ uint8_t *m1 = NULL, *m2 = NULL;
        _cleanup_free_ char *n1 = NULL, *n2 = NULL;
        size_t z1, z2;
        if (config_parse_cpuset(s, &m1, &z1, &n1) < 0)
                return;
        if (config_parse_cpuset(n1, &m2, &z2, &n2) < 0 || z1 != z2 || memcmp(m1, m2, z1) != 0 ||
            strcmp(n1, n2) != 0)
                abort();
}

static void fuzz_signal(const char *s) {
        int a, b;
        if (config_parse_signal(s, &a) < 0)
                return;
        const char *n = config_signal_to_string(a);
        if (!n || config_parse_signal(n, &b) < 0 || a != b)
                abort();
}

static void fuzz_subnet(const char *s) {
        struct in_addr a;
        unsigned p;
        if (config_parse_ipv4_prefix(s, &a, &p) < 0)
                return;
        if (p > 32 || !ipv4_in_subnet(a, a, p))
                abort();
        (void) container_name_is_valid(s);
        (void) config_path_is_valid_absolute(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static void (*const fns[])(const char *) = {
                fuzz_port, fuzz_size, fuzz_timespan, fuzz_cpu_quota, fuzz_cpuset, fuzz_signal, fuzz_subnet,
        };
        if (size < 1 || size > 4096)
                return 0;
        _cleanup_free_ char *s = strndup((const char *) data + 1, size - 1);
        if (!s)
                return 0;
        fns[data[0] % ELEMENTSOF(fns)](s);
        return 0;
}
