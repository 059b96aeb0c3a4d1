/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The formatters of the key tables: one field as a TOML value, the inverse of its parser; and the TOML
 * output helpers they share with config-format.c. */
#include <arpa/inet.h>
#include <stdio.h>

#include "config-internal.h"
#include "config-values.h"

int toml_quote_string(Buffer *b, const char *s) {
        static const char *const escapes[0x80] = {
                ['"'] = "\\\"", ['\\'] = "\\\\", ['\n'] = "\\n", ['\t'] = "\\t", ['\r'] = "\\r",
        };
        int r = buffer_append(b, "\"", 1);

        for (const unsigned char *p = (const unsigned char *) s; r >= 0 && *p; p++)
                if (*p < ELEMENTSOF(escapes) && escapes[*p])
                        r = buffer_append(b, escapes[*p], 2);
                else if (*p < 0x20 || *p == 0x7f)
                        r = buffer_printf(b, "\\u%04x", *p);
                else
                        r = buffer_append(b, p, 1);
        if (r >= 0)
                r = buffer_append(b, "\"", 1);
        return r;
}

char *toml_quote(const char *s) {
        Buffer b = {};
        if (toml_quote_string(&b, s) < 0 || buffer_append(&b, "", 1) < 0) {
                buffer_done(&b);
                return NULL;
        }
        return b.data;
}

char *toml_format_strv(char *const *l) {
        Buffer b = {};
        int r = buffer_append(&b, "[", 1);
        for (size_t i = 0; r >= 0 && l && l[i]; i++) {
                if (i > 0)
                        r = buffer_append(&b, ", ", 2);
                if (r >= 0)
                        r = toml_quote_string(&b, l[i]);
        }
        if (r >= 0)
                r = buffer_append(&b, "]", 2); /* with the NUL */
        if (r < 0) {
                buffer_done(&b);
                return NULL;
        }
        return b.data;
}

static bool is_set(const ConfigKey *k, const void *data) {
        if (k->set_offset < 0)
                return true;
        return *(const bool *) ((const uint8_t *) data - k->offset + (size_t) k->set_offset);
}

/* for formatters: the key is not set */
static char *unset(bool *ret_unset) {
        *ret_unset = true;
        return NULL;
}

/* for formatters: s (freed) as a TOML string; NULL on OOM */
static char *quote_free(char *s) {
        char *q = s ? toml_quote(s) : NULL;
        free(s);
        return q;
}

char *format_string(const ConfigKey *k, const void *data, bool *ret_unset) {
        const char *s = *(char *const *) data;
        return s ? toml_quote(s) : unset(ret_unset);
}

char *format_strv(const ConfigKey *k, const void *data, bool *ret_unset) {
        char *const *l = *(char **const *) data;
        return l && is_set(k, data) ? toml_format_strv(l) : unset(ret_unset);
}

char *format_bool(const ConfigKey *k, const void *data, bool *ret_unset) {
        return strdup(*(const bool *) data ? "true" : "false");
}

/* without a *_set flag, 0 means not set */
char *format_size(const ConfigKey *k, const void *data, bool *ret_unset) {
        uint64_t v = *(const uint64_t *) data;
        if (!is_set(k, data) || (k->set_offset < 0 && v == 0))
                return unset(ret_unset);
        return quote_free(config_format_size(v));
}

char *format_timespan(const ConfigKey *k, const void *data, bool *ret_unset) {
        return quote_free(config_format_timespan(*(const uint64_t *) data));
}

char *format_signal(const ConfigKey *k, const void *data, bool *ret_unset) {
        const char *s = config_signal_to_string(*(const int *) data);
        return s ? toml_quote(s) : strprintf("%d", *(const int *) data);
}

char *format_cpu_quota(const ConfigKey *k, const void *data, bool *ret_unset) {
        if (!is_set(k, data))
                return unset(ret_unset);
        return quote_free(config_format_cpu_quota(*(const uint64_t *) data));
}

char *format_u64(const ConfigKey *k, const void *data, bool *ret_unset) {
        uint64_t v = *(const uint64_t *) data;
        if (!is_set(k, data))
                return unset(ret_unset);
        if (v == UINT64_MAX)
                return strdup("\"infinity\"");
        return strprintf("%llu", (unsigned long long) v);
}

char *format_int(const ConfigKey *k, const void *data, bool *ret_unset) {
        if (!is_set(k, data))
                return unset(ret_unset);
        return strprintf("%d", *(const int *) data);
}

static char *rlimit_value(uint64_t v) {
        return v == UINT64_MAX ? strdup("infinity") : strprintf("%llu", (unsigned long long) v);
}

char *format_rlimit(const ConfigKey *k, const void *data, bool *ret_unset) {
        const ConfigRlimit *l = data;
        _cleanup_free_ char *soft = NULL, *hard = NULL;

        if (!is_set(k, data))
                return unset(ret_unset);
        if (l->soft == l->hard && l->soft != UINT64_MAX)
                return strprintf("%llu", (unsigned long long) l->soft);
        soft = rlimit_value(l->soft);
        hard = rlimit_value(l->hard);
        if (!soft || !hard)
                return NULL;
        if (l->soft == l->hard)
                return toml_quote(soft);
        return quote_free(strjoin(soft, ":", hard));
}

char *format_unsigned(const ConfigKey *k, const void *data, bool *ret_unset) {
        return strprintf("%u", *(const unsigned *) data);
}

char *format_cpuset(const ConfigKey *k, const void *data, bool *ret_unset) {
        const ResourceConfig *rc = data;
        return rc->cpuset_set && rc->cpuset ? toml_quote(rc->cpuset) : unset(ret_unset);
}

char *format_enum(const ConfigKey *k, const void *data, bool *ret_unset) {
        const char *name = scalar_syntax_name(k->syntax, *(const int *) data);
        return name ? toml_quote(name) : NULL;
}

char *format_user_namespace(const ConfigKey *k, const void *data, bool *ret_unset) {
        return strdup(*(const bool *) data ? "\"auto\"" : "false");
}

/* without a *_set flag, 0.0.0.0 means not set */
char *format_ipv4(const ConfigKey *k, const void *data, bool *ret_unset) {
        char a[INET_ADDRSTRLEN];
        if (!is_set(k, data) || ((const struct in_addr *) data)->s_addr == 0)
                return unset(ret_unset);
        return inet_ntop(AF_INET, data, a, sizeof(a)) ? toml_quote(a) : NULL;
}

char *format_ports(const ConfigKey *k, const void *data, bool *ret_unset) {
        const NetworkConfig *nc = data;
        _cleanup_strv_free_ char **l = NULL;

        if (nc->n_ports == 0 && !nc->ports)
                return unset(ret_unset);
        l = new0(char *, 1);
        if (!l)
                return NULL;
        for (size_t i = 0; i < nc->n_ports; i++)
                if (strv_consume(&l, config_format_port_spec(&nc->ports[i])) < 0 || !l[i])
                        return NULL;
        return toml_format_strv(l);
}
