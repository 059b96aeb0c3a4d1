/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config-values.h"
#include "string-util.h"

/* Parses "DIGITS[.DIGITS]" at *p; advances *p. Returns the integer part and the fraction as
 * numerator/denominator (denominator a power of ten, at most 10^9; further digits truncated). */
static int parse_decimal(const char **p, uint64_t *ret_int, uint64_t *ret_num, uint64_t *ret_den) {
        const char *s = *p;
        uint64_t v = 0, num = 0, den = 1;

        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        for (; isdigit((unsigned char) *s); s++) {
                unsigned d = (unsigned) (*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (*s == '.') {
                s++;
                if (!isdigit((unsigned char) *s))
                        return -EINVAL;
                for (; isdigit((unsigned char) *s); s++)
                        if (den < 1000000000ULL) {
                                num = num * 10 + (uint64_t) (*s - '0');
                                den *= 10;
                        }
        }
        *p = s;
        *ret_int = v;
        *ret_num = num;
        *ret_den = den;
        return 0;
}

/* v * mult + num * mult / den with overflow checks */
static int scale(uint64_t v, uint64_t num, uint64_t den, uint64_t mult, uint64_t *ret) {
        uint64_t r, f;
        if (mult != 0 && v > UINT64_MAX / mult)
                return -ERANGE;
        r = v * mult;
        /* num < den ≤ 10^9 and mult ≤ 2^40 (sizes) or ~3.2e13 (weeks in µs): split to avoid overflow */
        f = (num * (mult / den)) + (num * (mult % den)) / den;
        if (r > UINT64_MAX - f)
                return -ERANGE;
        *ret = r + f;
        return 0;
}

/* s is "infinity": 1 with *ret = UINT64_MAX (USEC_INFINITY), or -EINVAL where it is not allowed; 0 for
 * another string; -EINVAL for NULL */
static int parse_infinity(const char *s, bool allow_infinity, uint64_t *ret) {
        if (!s)
                return -EINVAL;
        if (!streq(s, "infinity"))
                return 0;
        if (!allow_infinity)
                return -EINVAL;
        *ret = UINT64_MAX;
        return 1;
}

int config_parse_size(const char *s, bool allow_infinity, uint64_t *ret) {
        static const struct {
                char suffix;
                uint64_t factor;
        } table[] = {
                { 'K', 1ULL << 10 },
                { 'M', 1ULL << 20 },
                { 'G', 1ULL << 30 },
                { 'T', 1ULL << 40 },
        };
        uint64_t v, num, den, mult = 1, r;
        const char *p = s;
        int k;

        k = parse_infinity(s, allow_infinity, ret);
        if (k != 0)
                return k < 0 ? k : 0;
        k = parse_decimal(&p, &v, &num, &den);
        if (k < 0)
                return k;
        if (*p) {
                bool found = false;
                for (size_t i = 0; i < ELEMENTSOF(table); i++)
                        if (*p == table[i].suffix) {
                                mult = table[i].factor;
                                found = true;
                                break;
                        }
                if (!found)
                        return -EINVAL;
                p++;
                if (*p == 'B')
                        p++;
                if (*p)
                        return -EINVAL;
        } else if (num != 0)
                return -EINVAL; /* fractional bytes */
        k = scale(v, num, den, mult, &r);
        if (k < 0)
                return k;
        if (r == UINT64_MAX) /* reserved for "infinity" */
                return -ERANGE;
        *ret = r;
        return 0;
}

char *config_format_size(uint64_t bytes) {
        static const char suffixes[] = "KMGT";
        if (bytes == UINT64_MAX)
                return strdup("infinity");
        if (bytes == 0)
                return strdup("0");
        for (int i = 3; i >= 0; i--) {
                uint64_t f = 1ULL << (10 * (i + 1));
                if (bytes % f == 0)
                        return strprintf("%llu%c", (unsigned long long) (bytes / f), suffixes[i]);
        }
        return strprintf("%llu", (unsigned long long) bytes);
}

static const struct {
        const char *unit;
        uint64_t usec;
} timespan_units[] = {
        { "us", 1 },
        { "usec", 1 },
        { "µs", 1 },
        { "ms", USEC_PER_MSEC },
        { "msec", USEC_PER_MSEC },
        { "s", USEC_PER_SEC },
        { "sec", USEC_PER_SEC },
        { "second", USEC_PER_SEC },
        { "seconds", USEC_PER_SEC },
        { "m", 60 * USEC_PER_SEC },
        { "min", 60 * USEC_PER_SEC },
        { "minute", 60 * USEC_PER_SEC },
        { "minutes", 60 * USEC_PER_SEC },
        { "h", 3600 * USEC_PER_SEC },
        { "hr", 3600 * USEC_PER_SEC },
        { "hour", 3600 * USEC_PER_SEC },
        { "hours", 3600 * USEC_PER_SEC },
        { "d", 86400 * USEC_PER_SEC },
        { "day", 86400 * USEC_PER_SEC },
        { "days", 86400 * USEC_PER_SEC },
        { "w", 7 * 86400 * USEC_PER_SEC },
        { "week", 7 * 86400 * USEC_PER_SEC },
        { "weeks", 7 * 86400 * USEC_PER_SEC },
};

int config_parse_timespan(const char *s, bool allow_infinity, uint64_t *ret_usec) {
        uint64_t total = 0;
        const char *p = s;
        bool any = false;
        int k;

        k = parse_infinity(s, allow_infinity, ret_usec);
        if (k != 0)
                return k < 0 ? k : 0;
        for (;;) {
                uint64_t v, num, den, mult = 0, r;
                const char *u;
                size_t n;

                while (*p == ' ')
                        p++;
                if (!*p)
                        break;
                k = parse_decimal(&p, &v, &num, &den);
                if (k < 0)
                        return k;
                while (*p == ' ')
                        p++;
                u = p;
                while (*p && !isdigit((unsigned char) *p) && *p != ' ')
                        p++;
                n = (size_t) (p - u);
                if (n == 0)
                        mult = USEC_PER_SEC;
                else
                        for (size_t i = 0; i < ELEMENTSOF(timespan_units); i++)
                                if (strlen(timespan_units[i].unit) == n &&
                                    strneq(u, timespan_units[i].unit, n)) {
                                        mult = timespan_units[i].usec;
                                        break;
                                }
                if (mult == 0)
                        return -EINVAL;
                if (mult == 1 && num != 0)
                        return -EINVAL; /* fractional microseconds */
                k = scale(v, num, den, mult, &r);
                if (k < 0)
                        return k;
                if (total > UINT64_MAX - 1 - r)
                        return -ERANGE;
                total += r;
                any = true;
        }
        if (!any)
                return -EINVAL;
        *ret_usec = total;
        return 0;
}

char *config_format_timespan(uint64_t usec) {
        static const struct {
                const char *unit;
                uint64_t usec;
        } parts[] = {
                { "w", 7 * 86400 * USEC_PER_SEC },
                { "d", 86400 * USEC_PER_SEC },
                { "h", 3600 * USEC_PER_SEC },
                { "min", 60 * USEC_PER_SEC },
                { "s", USEC_PER_SEC },
                { "ms", USEC_PER_MSEC },
                { "us", 1 },
        };
        Buffer b = {};

        if (usec == USEC_INFINITY)
                return strdup("infinity");
        if (usec == 0)
                return strdup("0");
        for (size_t i = 0; i < ELEMENTSOF(parts) && usec > 0; i++) {
                uint64_t n = usec / parts[i].usec;
                if (n == 0)
                        continue;
                usec -= n * parts[i].usec;
                if (buffer_printf(&b, "%s%llu%s", b.size > 0 ? " " : "", (unsigned long long) n,
                                  parts[i].unit) < 0) {
                        buffer_done(&b);
                        return NULL;
                }
        }
        return b.data;
}

int config_parse_cpu_quota(const char *s, uint64_t *ret_usec_per_sec) {
        uint64_t v, num, den, r;
        const char *p = s;
        int k;

        if (!s)
                return -EINVAL;
        k = parse_decimal(&p, &v, &num, &den);
        if (k < 0)
                return k;
        if (!streq(p, "%"))
                return -EINVAL;
        if (den > 100) /* at most two decimals: 0.01% = 100 µs per second */
                return -EINVAL;
        if (v > 100000)
                return -ERANGE;
        /* 1% = 10000 µs per second */
        k = scale(v, num, den, 10000, &r);
        if (k < 0)
                return k;
        if (r == 0)
                return -ERANGE;
        *ret_usec_per_sec = r;
        return 0;
}

char *config_format_cpu_quota(uint64_t usec_per_sec) {
        uint64_t hundredths = usec_per_sec / 100;
        if (hundredths % 100 == 0)
                return strprintf("%llu%%", (unsigned long long) (hundredths / 100));
        if (hundredths % 10 == 0)
                return strprintf("%llu.%llu%%", (unsigned long long) (hundredths / 100),
                                 (unsigned long long) (hundredths % 100 / 10));
        return strprintf("%llu.%02llu%%", (unsigned long long) (hundredths / 100),
                         (unsigned long long) (hundredths % 100));
}

/* "N" or "A-B" over [s, e) */
static int parse_range(const char *s, const char *e, unsigned min, unsigned max, unsigned *ret_a,
                       unsigned *ret_b) {
        unsigned v[2] = {};
        int n = 0;
        const char *p = s;

        for (;;) {
                unsigned x = 0;
                if (p >= e || !isdigit((unsigned char) *p))
                        return -EINVAL;
                if (*p == '0' && p + 1 < e && isdigit((unsigned char) p[1]))
                        return -EINVAL; /* no leading zeros */
                for (; p < e && isdigit((unsigned char) *p); p++) {
                        x = x * 10 + (unsigned) (*p - '0');
                        if (x > max)
                                return -ERANGE;
                }
                if (x < min)
                        return -ERANGE;
                v[n++] = x;
                if (p == e)
                        break;
                if (*p != '-' || n == 2)
                        return -EINVAL;
                p++;
        }
        if (n == 1)
                v[1] = v[0];
        if (v[1] < v[0])
                return -EINVAL;
        *ret_a = v[0];
        *ret_b = v[1];
        return 0;
}

int config_parse_port_spec(const char *s, PortMap *ret) {
        const char *colon[3] = {}, *slash, *end, *hs, *cs;
        unsigned n_colons = 0, ha, hb, ca, cb;
        struct in_addr addr = { .s_addr = htonl(INADDR_ANY) };
        uint8_t proto = IPPROTO_TCP;
        int r;

        if (!s || !*s)
                return -EINVAL;
        slash = strchr(s, '/');
        end = slash ?: s + strlen(s);
        if (slash) {
                if (streq(slash + 1, "tcp"))
                        proto = IPPROTO_TCP;
                else if (streq(slash + 1, "udp"))
                        proto = IPPROTO_UDP;
                else
                        return -EINVAL;
        }
        for (const char *p = s; p < end; p++)
                if (*p == ':') {
                        if (n_colons >= 2)
                                return -EINVAL;
                        colon[n_colons++] = p;
                }
        if (n_colons == 0)
                return -EINVAL; /* "80" alone: cbox does not pick host ports */
        if (n_colons == 2) {
                _cleanup_free_ char *a = strndup(s, (size_t) (colon[0] - s));
                if (!a)
                        return -ENOMEM;
                r = config_parse_ipv4(a, &addr);
                if (r < 0)
                        return -EINVAL;
                hs = colon[0] + 1;
        } else
                hs = s;
        cs = colon[n_colons - 1] + 1;

        r = parse_range(hs, colon[n_colons - 1], 1, 65535, &ha, &hb);
        if (r < 0)
                return r;
        r = parse_range(cs, end, 1, 65535, &ca, &cb);
        if (r < 0)
                return r;
        if (hb - ha != cb - ca)
                return -EINVAL;

        ret->host_address = addr;
        ret->host_port = (uint16_t) ha;
        ret->host_port_end = (uint16_t) hb;
        ret->container_port = (uint16_t) ca;
        ret->container_port_end = (uint16_t) cb;
        ret->protocol = proto;
        return 0;
}

static char *format_range(unsigned a, unsigned b) {
        return a == b ? strprintf("%u", a) : strprintf("%u-%u", a, b);
}

char *config_format_port_spec(const PortMap *p) {
        _cleanup_free_ char *h = format_range(p->host_port, p->host_port_end);
        _cleanup_free_ char *c = format_range(p->container_port, p->container_port_end);
        char a[INET_ADDRSTRLEN];

        if (!h || !c)
                return NULL;
        if (p->host_address.s_addr == htonl(INADDR_ANY))
                return strprintf("%s:%s/%s", h, c, p->protocol == IPPROTO_UDP ? "udp" : "tcp");
        if (!inet_ntop(AF_INET, &p->host_address, a, sizeof(a)))
                return NULL;
        return strprintf("%s:%s:%s/%s", a, h, c, p->protocol == IPPROTO_UDP ? "udp" : "tcp");
}

bool port_map_conflicts(const PortMap *a, const PortMap *b) {
        if (a->protocol != b->protocol)
                return false;
        if (a->host_address.s_addr != b->host_address.s_addr &&
            a->host_address.s_addr != htonl(INADDR_ANY) && b->host_address.s_addr != htonl(INADDR_ANY))
                return false;
        return a->host_port <= b->host_port_end && b->host_port <= a->host_port_end;
}

int config_parse_cpuset(const char *s, uint8_t **ret_mask, size_t *ret_size, char **ret_normalised) {
        _cleanup_free_ uint8_t *mask = NULL;
        unsigned max = 0;
        const char *p = s;
        Buffer b = {};
        int r;

        if (!s || !*s)
                return -EINVAL;
        mask = new0(uint8_t, CONFIG_CPUSET_MAX / 8);
        if (!mask)
                return -ENOMEM;
        for (;;) {
                const char *e = strchr(p, ',') ?: p + strlen(p);
                unsigned a, z;
                r = parse_range(p, e, 0, CONFIG_CPUSET_MAX - 1, &a, &z);
                if (r < 0)
                        return r;
                for (unsigned i = a; i <= z; i++)
                        mask[i / 8] |= (uint8_t) (1U << (i % 8));
                max = MAX(max, z);
                if (!*e)
                        break;
                p = e + 1;
        }

        /* normalise: ascending ranges */
        for (unsigned i = 0; i <= max; i++) {
                unsigned j;
                if (!(mask[i / 8] & (1U << (i % 8))))
                        continue;
                for (j = i; j + 1 <= max && (mask[(j + 1) / 8] & (1U << ((j + 1) % 8))); j++)
                        ;
                r = j == i ? buffer_printf(&b, "%s%u", b.size ? "," : "", i)
                           : buffer_printf(&b, "%s%u-%u", b.size ? "," : "", i, j);
                if (r < 0) {
                        buffer_done(&b);
                        return r;
                }
                i = j;
        }

        size_t size = max / 8 + 1;
        uint8_t *m = realloc(mask, size);
        if (!m) {
                buffer_done(&b);
                return -ENOMEM;
        }
        mask = NULL;
        *ret_mask = m;
        *ret_size = size;
        *ret_normalised = b.data;
        return 0;
}

static int parse_uint(const char *s, unsigned max, unsigned *ret) {
        unsigned v = 0;
        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        for (; *s; s++) {
                if (!isdigit((unsigned char) *s))
                        return -EINVAL;
                v = v * 10 + (unsigned) (*s - '0');
                if (v > max)
                        return -ERANGE;
        }
        *ret = v;
        return 0;
}

int config_parse_signal(const char *s, int *ret) {
        const char *n, *rest;
        unsigned off;

        if (!s || !*s)
                return -EINVAL;
        if (isdigit((unsigned char) *s)) {
                unsigned v;
                /* numbers without a name (32 and 33 belong to the C library's threads) are refused */
                if (parse_uint(s, _NSIG - 1, &v) < 0 || v == 0 || !config_signal_to_string((int) v))
                        return -EINVAL;
                *ret = (int) v;
                return 0;
        }
        n = startswith(s, "SIG") ?: s;
        /* RTMIN, RTMIN+N, RTMAX, RTMAX-N */
        for (int sign = 1; sign >= -1; sign -= 2) {
                int base = sign > 0 ? SIGRTMIN : SIGRTMAX;
                if (!(rest = startswith(n, sign > 0 ? "RTMIN" : "RTMAX")))
                        continue;
                if (!*rest) {
                        *ret = base;
                        return 0;
                }
                if (*rest != (sign > 0 ? '+' : '-') ||
                    parse_uint(rest + 1, (unsigned) (SIGRTMAX - SIGRTMIN), &off) < 0)
                        return -EINVAL;
                *ret = base + sign * (int) off;
                return 0;
        }
        for (int i = 1; i < SIGRTMIN; i++) {
                const char *a = sigabbrev_np(i);
                if (a && streq(a, n)) {
                        *ret = i;
                        return 0;
                }
        }
        return -EINVAL;
}

const char *config_signal_to_string(int sig) {
        static __thread char buf[sizeof("SIGRTMIN+") + 12];
        const char *a;

        if (sig <= 0 || sig >= _NSIG)
                return NULL;
        if (sig >= SIGRTMIN) {
                if (sig == SIGRTMIN)
                        return "SIGRTMIN";
                (void) snprintf(buf, sizeof(buf), "SIGRTMIN+%d", sig - SIGRTMIN);
                return buf;
        }
        a = sigabbrev_np(sig);
        if (!a)
                return NULL;
        (void) snprintf(buf, sizeof(buf), "SIG%s", a);
        return buf;
}

int config_parse_ipv4(const char *s, struct in_addr *ret) {
        /* inet_pton(AF_INET) accepts exactly four decimal octets without leading-zero octal */
        struct in_addr a;
        if (!s || inet_pton(AF_INET, s, &a) != 1)
                return -EINVAL;
        *ret = a;
        return 0;
}

int config_parse_ipv4_prefix(const char *s, struct in_addr *ret, unsigned *ret_prefixlen) {
        _cleanup_free_ char *a = NULL;
        const char *slash;
        struct in_addr addr;
        unsigned plen;
        uint32_t m;

        if (!s)
                return -EINVAL;
        slash = strchr(s, '/');
        if (!slash)
                return -EINVAL;
        a = strndup(s, (size_t) (slash - s));
        if (!a)
                return -ENOMEM;
        if (config_parse_ipv4(a, &addr) < 0)
                return -EINVAL;
        if (parse_uint(slash + 1, 32, &plen) < 0 || (slash[1] == '0' && slash[2]))
                return -EINVAL;
        m = plen == 0 ? 0 : htonl(~((1U << (32 - plen)) - 1) & 0xffffffffU);
        if (plen == 32)
                m = 0xffffffffU;
        if ((addr.s_addr & ~m) != 0)
                return -EINVAL; /* host bits set */
        *ret = addr;
        *ret_prefixlen = plen;
        return 0;
}

bool ipv4_in_subnet(struct in_addr a, struct in_addr subnet, unsigned prefixlen) {
        uint32_t m = prefixlen == 0 ? 0 : prefixlen >= 32 ? 0xffffffffU : ~((1U << (32 - prefixlen)) - 1);
        return (ntohl(a.s_addr) & m) == (ntohl(subnet.s_addr) & m);
}

static const char *const capability_names[] = {
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
};

int config_parse_capability(const char *s, bool allow_all, char **ret) {
        _cleanup_free_ char *u = NULL;
        const char *n;

        if (!s || !*s)
                return -EINVAL;
        u = strdup(s);
        if (!u)
                return -ENOMEM;
        for (char *p = u; *p; p++)
                *p = (char) toupper((unsigned char) *p);
        if (streq(u, "ALL")) {
                if (!allow_all)
                        return -EINVAL;
                *ret = TAKE_PTR(u);
                return 0;
        }
        n = startswith(u, "CAP_") ?: u;
        for (size_t i = 0; i < ELEMENTSOF(capability_names); i++)
                if (streq(n, capability_names[i])) {
                        char *c = strjoin("CAP_", capability_names[i]);
                        if (!c)
                                return -ENOMEM;
                        *ret = c;
                        return 0;
                }
        return -EINVAL;
}

bool config_path_is_valid_absolute(const char *s) {
        if (!s || s[0] != '/')
                return false;
        if (streq(s, "/"))
                return true;
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return false;
        for (const char *p = s; *p;) {
                const char *e;
                size_t n;
                p++; /* skip '/' */
                e = strchrnul(p, '/');
                n = (size_t) (e - p);
                if (n == 0) /* "//" or trailing '/' */
                        return false;
                if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                p = e;
        }
        return true;
}
