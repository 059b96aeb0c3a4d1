/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The syntaxes of cbox.toml(5) values and the parsers behind the key tables (config-keys.c): TOML value →
 * model field, with a problem report naming the key path, what is wrong and what is accepted; and the walker
 * that applies a TOML table through a key table, with "did you mean" for unknown keys. */
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/types.h>

#include "config-internal.h"
#include "config-values.h"

#define FIELD(base, k) ((void *) ((uint8_t *) (base) + (k)->offset))

static const char *type_with_article(TomlType t) {
        switch (t) {
        case TOML_STRING:
                return "a string";
        case TOML_INTEGER:
                return "an integer";
        case TOML_FLOAT:
                return "a float";
        case TOML_BOOL:
                return "a boolean";
        case TOML_ARRAY:
                return "an array";
        case TOML_TABLE:
                return "a table";
        default:
                return "a date/time";
        }
}

static char *display_path(const ParseCtx *ctx, const char *key_path) {
        return strjoin(strempty(ctx->prefix), key_path);
}

/* "key.path: <message> (<accepted>)" at v's position */
_printf_(5, 6) static int report(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v,
                                 const char *fmt, ...) {
        _cleanup_free_ char *path = display_path(ctx, key_path);
        TomlPos pos = v ? toml_value_pos(v) : (TomlPos){ 0, 0 };
        va_list ap;
        int r;

        if (!path)
                return -ENOMEM;
        va_start(ap, fmt);
        r = config_diag_addv(ctx->diag, ctx->file, pos.line, pos.column, path, k ? k->accepted : NULL, fmt,
                             ap);
        va_end(ap);
        return r;
}

static int wrong_type(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v,
                      const char *expected) {
        return report(ctx, k, key_path, v, "expected %s, got %s", expected,
                      type_with_article(toml_value_type(v)));
}

/* A string for messages: the value, cut at 64 bytes and with control characters replaced */
static char *printable(const char *s) {
        size_t n = strnlen(s, 64);
        char *c = strndup(s, n);
        if (!c)
                return NULL;
        for (char *p = c; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f || *p == '\'')
                        *p = '?';
        if (n == 64 && s[64]) {
                char *e = strjoin(c, "…");
                free(c);
                return e;
        }
        return c;
}

static int bad_value(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v,
                     const char *what, const char *s, int error) {
        _cleanup_free_ char *p = printable(s);
        if (!p)
                return -ENOMEM;
        return report(ctx, k, key_path, v, "%s %s '%s'", error == -ERANGE ? "out of range" : "invalid", what,
                      p);
}

/* A string without embedded NULs; reports otherwise. Returns NULL when reported. */
static const char *get_string(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v,
                              int *ret_r) {
        size_t len;
        const char *s;

        *ret_r = 0;
        if (toml_value_type(v) != TOML_STRING) {
                *ret_r = wrong_type(ctx, k, key_path, v, "a string");
                return NULL;
        }
        s = toml_value_string(v, &len);
        if (strlen(s) != len) {
                *ret_r = report(ctx, k, key_path, v, "string contains a NUL character");
                return NULL;
        }
        return s;
}

/* ---- string checks: 0 and optionally a normalised copy, or -EINVAL/-ENOMEM ---- */

typedef int (*StringCheck)(const char *s, char **ret);

static int check_nonempty(const char *s, char **ret) {
        return *s ? 0 : -EINVAL;
}

static int check_abs_path(const char *s, char **ret) {
        return config_path_is_valid_absolute(s) ? 0 : -EINVAL;
}

/* The n characters at s (no NUL among them) are ASCII letters, digits or characters of extra */
static bool alnum_or(const char *s, size_t n, const char *extra) {
        for (size_t i = 0; i < n; i++)
                if (!isascii((unsigned char) s[i]) ||
                    !(isalnum((unsigned char) s[i]) || strchr(extra, s[i])))
                        return false;
        return true;
}

static int check_image(const char *s, char **ret) {
        if (!*s || strlen(s) > 255)
                return -EINVAL;
        for (const char *p = s; *p; p++)
                if (!isascii((unsigned char) *p) || !isgraph((unsigned char) *p))
                        return -EINVAL;
        return 0;
}

int check_hostname(const char *s, char **ret) {
        size_t n = strlen(s), label = 0;
        if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p == '.') {
                        if (label == 0 || p[-1] == '-')
                                return -EINVAL;
                        label = 0;
                        continue;
                }
                if (!isascii((unsigned char) *p) || !(isalnum((unsigned char) *p) || *p == '-'))
                        return -EINVAL;
                if ((label == 0 && *p == '-') || ++label > 63)
                        return -EINVAL;
        }
        return 0;
}

static bool user_part_valid(const char *s, size_t n) {
        return n > 0 && n <= 32 && s[0] != '-' && alnum_or(s, n, "_.-");
}

static int check_user(const char *s, char **ret) {
        const char *c = strchr(s, ':');
        if (!c)
                return user_part_valid(s, strlen(s)) ? 0 : -EINVAL;
        return user_part_valid(s, (size_t) (c - s)) && user_part_valid(c + 1, strlen(c + 1)) ? 0 : -EINVAL;
}

static int check_slice(const char *s, char **ret) {
        size_t n = strlen(s);
        if (n <= strlen(".slice") || n > 255 || !streq(s + n - strlen(".slice"), ".slice") || s[0] == '-')
                return -EINVAL;
        return alnum_or(s, n, ":_.-") ? 0 : -EINVAL;
}

/* network names double as bridge names: interface-name rules */
static int check_ifname(const char *s, char **ret) {
        size_t n = strlen(s);
        if (n == 0 || n > 15 || streq(s, ".") || streq(s, ".."))
                return -EINVAL;
        return alnum_or(s, n, "_-.") ? 0 : -EINVAL;
}

/* "FAMILY TABLE CHAIN" of nftables: ip or inet, then two names (nft/'s nft_chain_ref_parse takes it) */
static int check_nft_chain(const char *s, char **ret) {
        const char *t, *c;

        if (startswith(s, "ip "))
                t = s + 3;
        else if (startswith(s, "inet "))
                t = s + 5;
        else
                return -EINVAL;
        c = strchr(t, ' ');
        if (!c || c == t || (size_t) (c - t) > 255 || !alnum_or(t, (size_t) (c - t), "_-.") ||
            isempty(c + 1) || strlen(c + 1) > 255 || !alnum_or(c + 1, strlen(c + 1), "_-."))
                return -EINVAL;
        return 0;
}

static int check_seccomp(const char *s, char **ret) {
        return streq(s, "default") || streq(s, "unconfined") || config_path_is_valid_absolute(s) ? 0
                                                                                                 : -EINVAL;
}

static int check_ipv4(const char *s, char **ret) {
        struct in_addr a;
        return config_parse_ipv4(s, &a);
}

static int check_host_entry(const char *s, char **ret) {
        const char *c = strrchr(s, ':');
        struct in_addr a;
        _cleanup_free_ char *h = NULL;
        if (!c)
                return -EINVAL;
        h = strndup(s, (size_t) (c - s));
        if (!h)
                return -ENOMEM;
        if (check_hostname(h, NULL) < 0)
                return -EINVAL;
        return config_parse_ipv4(c + 1, &a);
}

static int check_device(const char *s, char **ret) {
        const char *c = strchr(s, ':');
        _cleanup_free_ char *p = strndup(s, c ? (size_t) (c - s) : strlen(s));
        if (!p)
                return -ENOMEM;
        if (!startswith(p, "/dev/") || !config_path_is_valid_absolute(p))
                return -EINVAL;
        if (c) {
                const char *m = c + 1;
                if (!*m || strspn(m, "rwm") != strlen(m))
                        return -EINVAL;
        }
        return 0;
}

static int check_cap(const char *s, char **ret) {
        return config_parse_capability(s, false, ret);
}

static int check_cap_or_all(const char *s, char **ret) {
        return config_parse_capability(s, true, ret);
}

static int check_env_name(const char *s, char **ret) {
        if (!*s || isdigit((unsigned char) *s))
                return -EINVAL;
        return alnum_or(s, strlen(s), "_") ? 0 : -EINVAL;
}

bool config_workdir_is_valid(const char *s) {
        return s && check_abs_path(s, NULL) >= 0;
}

bool config_user_is_valid(const char *s) {
        return s && check_user(s, NULL) >= 0;
}

bool config_env_assignment_is_valid(const char *s) {
        const char *eq = s ? strchr(s, '=') : NULL;
        _cleanup_free_ char *name = NULL;

        if (!eq)
                return false;
        name = strndup(s, (size_t) (eq - s));
        return name && check_env_name(name, NULL) >= 0;
}

/* ---- scalar syntaxes: one TOML value, converted, into one field ---- */

/* A converted value on its way into the field */
typedef union ScalarValue {
        uint64_t u64;
        ConfigRlimit rlimit;
        unsigned u;
        int i;
        char *str;
        struct in_addr addr;
        PortMap port;
        struct {
                struct in_addr addr;
                unsigned prefixlen;
        } subnet;
        struct {
                uint8_t *mask;
                size_t size;
                char *list;
        } cpuset;
} ScalarValue;

struct ScalarSyntax {
        const char *what; /* the value in "invalid <what> '…'" and "out of range <what> '…'" */
        /* The string form, NULL if none: 0, -EINVAL or -ERANGE (reported with what), or -ENOMEM */
        int (*from_string)(const ScalarSyntax *x, const ConfigKey *k, const char *s, ScalarValue *ret);
        /* The integer form, NULL if none: 0, -EINVAL or -ERANGE (reported with what) */
        int (*from_integer)(const ConfigKey *k, int64_t i, ScalarValue *ret);
        /* For a value of another type, where integers are accepted: NULL for "an integer" or, with a
         * string form, "a string or an integer" */
        const char *expected;
        /* Moves the value into the field, freeing what it replaces; NULL: copies size bytes */
        void (*store)(void *field, ScalarValue *val);
        size_t size;
        StringCheck check;        /* string_from_string(): the check and normalisation */
        const char *const *names; /* enum_from_string(): the names, by value */
        size_t n_names;
};

const char *scalar_syntax_name(const ScalarSyntax *x, int value) {
        return value >= 0 && (size_t) value < x->n_names ? x->names[value] : NULL;
}

static int string_from_string(const ScalarSyntax *x, const ConfigKey *k, const char *s, ScalarValue *ret) {
        _cleanup_free_ char *norm = NULL;
        int r = x->check(s, &norm);
        if (r < 0)
                return r;
        if (!norm) {
                norm = strdup(s);
                if (!norm)
                        return -ENOMEM;
        }
        ret->str = TAKE_PTR(norm);
        return 0;
}

static void string_store(void *field, ScalarValue *val) {
        free(*(char **) field);
        *(char **) field = val->str;
}

/* sizes and time spans: k->max != 0 allows "infinity" */
static int size_from_string(const ScalarSyntax *x, const ConfigKey *k, const char *s, ScalarValue *ret) {
        return config_parse_size(s, k->max != 0, &ret->u64);
}

static int size_from_integer(const ConfigKey *k, int64_t i, ScalarValue *ret) {
        if (i < 0)
                return -ERANGE;
        ret->u64 = (uint64_t) i;
        return 0;
}

static int timespan_from_string(const ScalarSyntax *x, const ConfigKey *k, const char *s, ScalarValue *ret) {
        return config_parse_timespan(s, k->max != 0, &ret->u64);
}

static int timespan_from_integer(const ConfigKey *k, int64_t i, ScalarValue *ret) {
        if (i < 0 || (uint64_t) i > UINT64_MAX / USEC_PER_SEC - 1)
                return -ERANGE;
        ret->u64 = (uint64_t) i * USEC_PER_SEC;
        return 0;
}

static int signal_from_string(const ScalarSyntax *x, const ConfigKey *k, const char *s, ScalarValue *ret) {
        return config_parse_signal(s, &ret->i) < 0 ? -EINVAL : 0;
}

static int signal_from_integer(const ConfigKey *k, int64_t i, ScalarValue *ret) {
        if (i <= 0 || i >= _NSIG || !config_signal_to_string((int) i))
                return -EINVAL;
        ret->i = (int) i;
        return 0;
}

static int cpu_quota_from_string(const ScalarSyntax *x, const ConfigKey *k, const char *s,
                                 ScalarValue *ret) {
        return config_parse_cpu_quota(s, &ret->u64);
}

/* an integer in [k->min, k->max] */
static int uint_from_integer(const ConfigKey *k, int64_t i, ScalarValue *ret) {
        if (i < 0 || (uint64_t) i < k->min || (uint64_t) i > k->max)
                return -ERANGE;
        ret->u64 = (uint64_t) i;
        return 0;
}

static int unsigned_from_integer(const ConfigKey *k, int64_t i, ScalarValue *ret) {
        int r = uint_from_integer(k, i, ret);
        if (r >= 0)
                ret->u = (unsigned) i;
        return r;
}

/* tasks_max: the integer form's only string */
static int infinity_from_string(const ScalarSyntax *x, const ConfigKey *k, const char *s, ScalarValue *ret) {
        if (!streq(s, "infinity"))
                return -EINVAL;
        ret->u64 = UINT64_MAX;
        return 0;
}

/* resources.nofile, .nproc: N, "infinity", or "SOFT:HARD" of those, soft at most hard */
static int rlimit_part(const char *s, size_t n, uint64_t *ret) {
        _cleanup_free_ char *t = strndup(s, n);
        char *end;

        if (!t)
                return -ENOMEM;
        if (streq(t, "infinity")) {
                *ret = UINT64_MAX;
                return 0;
        }
        if (!isdigit((unsigned char) t[0]))
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(t, &end, 10);
        if (errno != 0 || *end || v >= UINT64_MAX)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int rlimit_from_string(const ScalarSyntax *x, const ConfigKey *k, const char *s, ScalarValue *ret) {
        const char *c = strchr(s, ':');
        int r;

        r = rlimit_part(s, c ? (size_t) (c - s) : strlen(s), &ret->rlimit.soft);
        if (r < 0)
                return r;
        if (!c)
                ret->rlimit.hard = ret->rlimit.soft;
        else {
                r = rlimit_part(c + 1, strlen(c + 1), &ret->rlimit.hard);
                if (r < 0)
                        return r;
        }
        return ret->rlimit.soft > ret->rlimit.hard ? -ERANGE : 0;
}

static int rlimit_from_integer(const ConfigKey *k, int64_t i, ScalarValue *ret) {
        if (i < 0)
                return -ERANGE;
        ret->rlimit.soft = ret->rlimit.hard = (uint64_t) i;
        return 0;
}

/* resources.oom_score_adj: -1000..1000 */
static int oom_score_adj_from_integer(const ConfigKey *k, int64_t i, ScalarValue *ret) {
        if (i < -1000 || i > 1000)
                return -ERANGE;
        ret->i = (int) i;
        return 0;
}

static int enum_from_string(const ScalarSyntax *x, const ConfigKey *k, const char *s, ScalarValue *ret) {
        for (size_t i = 0; i < x->n_names; i++)
                if (streq(s, x->names[i])) {
                        ret->i = (int) i;
                        return 0;
                }
        return -EINVAL;
}

static int ipv4_from_string(const ScalarSyntax *x, const ConfigKey *k, const char *s, ScalarValue *ret) {
        return config_parse_ipv4(s, &ret->addr) < 0 ? -EINVAL : 0;
}

static int port_from_string(const ScalarSyntax *x, const ConfigKey *k, const char *s, ScalarValue *ret) {
        return config_parse_port_spec(s, &ret->port);
}

/* data = NetworkDef: subnet + prefixlen */
static int subnet_from_string(const ScalarSyntax *x, const ConfigKey *k, const char *s, ScalarValue *ret) {
        int r = config_parse_ipv4_prefix(s, &ret->subnet.addr, &ret->subnet.prefixlen);
        if (r < 0)
                return r;
        return ret->subnet.prefixlen < 8 || ret->subnet.prefixlen > 30 ? -ERANGE : 0;
}

static void subnet_store(void *field, ScalarValue *val) {
        NetworkDef *n = field;
        n->subnet = val->subnet.addr;
        n->prefixlen = val->subnet.prefixlen;
}

/* data = ResourceConfig: cpuset, its mask and its flag */
static int cpuset_from_string(const ScalarSyntax *x, const ConfigKey *k, const char *s, ScalarValue *ret) {
        return config_parse_cpuset(s, &ret->cpuset.mask, &ret->cpuset.size, &ret->cpuset.list);
}

static void cpuset_store(void *field, ScalarValue *val) {
        ResourceConfig *rc = field;
        free(rc->cpuset);
        free(rc->cpuset_mask);
        rc->cpuset = val->cpuset.list;
        rc->cpuset_mask = val->cpuset.mask;
        rc->cpuset_mask_size = val->cpuset.size;
        rc->cpuset_set = true;
}

static const char *const network_mode_names[] = {
        [NETWORK_MODE_BRIDGE] = "bridge",
        [NETWORK_MODE_NONE] = "none",
        [NETWORK_MODE_HOST] = "host",
};
static const char *const pull_names[] = {
        [IMAGE_PULL_MISSING] = "missing",
        [IMAGE_PULL_ALWAYS] = "always",
        [IMAGE_PULL_NEVER] = "never",
};
static const char *const auto_update_names[] = {
        [AUTO_UPDATE_DISABLED] = "disabled",
        [AUTO_UPDATE_REGISTRY] = "registry",
};
static const char *const on_failure_names[] = {
        [HEALTH_ON_FAILURE_IGNORE] = "ignore",
        [HEALTH_ON_FAILURE_EXIT] = "exit",
};
static const char *const mount_type_names[] = {
        [MOUNT_TYPE_BIND] = "bind",
        [MOUNT_TYPE_TMPFS] = "tmpfs",
        [MOUNT_TYPE_VOLUME] = "volume",
};

/* A string form, an integer form or both, copied into a field of type t */
#define VALUE_SYNTAX(w, s, i, t)                                                                            \
        { .what = w, .from_string = s, .from_integer = i, .size = sizeof(t) }
/* Strings that pass c, malloc'ed (as c normalised them) into a char * field */
#define STRING_SYNTAX(c, w)                                                                                 \
        { .what = w, .from_string = string_from_string, .store = string_store, .check = c }
/* One of the strings of n; its index into an int field */
#define ENUM_SYNTAX(n)                                                                                      \
        {                                                                                                   \
                .what = "value", .from_string = enum_from_string, .size = sizeof(int), .names = n,          \
                .n_names = ELEMENTSOF(n)                                                                    \
        }

const ScalarSyntax size_syntax = VALUE_SYNTAX("size", size_from_string, size_from_integer, uint64_t);
const ScalarSyntax timespan_syntax =
        VALUE_SYNTAX("time span", timespan_from_string, timespan_from_integer, uint64_t);
const ScalarSyntax signal_syntax = VALUE_SYNTAX("signal", signal_from_string, signal_from_integer, int);
const ScalarSyntax cpu_quota_syntax = VALUE_SYNTAX("CPU quota", cpu_quota_from_string, NULL, uint64_t);
const ScalarSyntax u64_syntax = VALUE_SYNTAX("value", NULL, uint_from_integer, uint64_t);
const ScalarSyntax unsigned_syntax = VALUE_SYNTAX("value", NULL, unsigned_from_integer, unsigned);
const ScalarSyntax u64_or_infinity_syntax = {
        .what = "value",
        .from_string = infinity_from_string,
        .from_integer = uint_from_integer,
        .expected = "an integer or \"infinity\"",
        .size = sizeof(uint64_t),
};
const ScalarSyntax rlimit_syntax = {
        .what = "limit",
        .from_string = rlimit_from_string,
        .from_integer = rlimit_from_integer,
        .expected = "an integer, \"infinity\" or \"SOFT:HARD\"",
        .size = sizeof(ConfigRlimit),
};
const ScalarSyntax oom_score_adj_syntax = VALUE_SYNTAX("value", NULL, oom_score_adj_from_integer, int);
const ScalarSyntax ipv4_syntax = VALUE_SYNTAX("IPv4 address", ipv4_from_string, NULL, struct in_addr);
const ScalarSyntax port_syntax = VALUE_SYNTAX("port spec", port_from_string, NULL, PortMap);
const ScalarSyntax subnet_syntax = { .what = "subnet",
                                     .from_string = subnet_from_string,
                                     .store = subnet_store };
const ScalarSyntax cpuset_syntax = { .what = "cpuset",
                                     .from_string = cpuset_from_string,
                                     .store = cpuset_store };
const ScalarSyntax network_mode_syntax = ENUM_SYNTAX(network_mode_names);
const ScalarSyntax on_failure_syntax = ENUM_SYNTAX(on_failure_names);
const ScalarSyntax pull_syntax = ENUM_SYNTAX(pull_names);
const ScalarSyntax auto_update_syntax = ENUM_SYNTAX(auto_update_names);
const ScalarSyntax mount_type_syntax = ENUM_SYNTAX(mount_type_names);
const ScalarSyntax nonempty_syntax = STRING_SYNTAX(check_nonempty, "value");
const ScalarSyntax abs_path_syntax = STRING_SYNTAX(check_abs_path, "path");
const ScalarSyntax image_syntax = STRING_SYNTAX(check_image, "image reference");
const ScalarSyntax hostname_syntax = STRING_SYNTAX(check_hostname, "hostname");
const ScalarSyntax user_syntax = STRING_SYNTAX(check_user, "user");
const ScalarSyntax slice_syntax = STRING_SYNTAX(check_slice, "slice name");
const ScalarSyntax ifname_syntax = STRING_SYNTAX(check_ifname, "name");
const ScalarSyntax nft_chain_syntax = STRING_SYNTAX(check_nft_chain, "nftables chain");
const ScalarSyntax seccomp_syntax = STRING_SYNTAX(check_seccomp, "seccomp setting");
const ScalarSyntax ipv4_string_syntax = STRING_SYNTAX(check_ipv4, "IPv4 address");
const ScalarSyntax host_entry_syntax = STRING_SYNTAX(check_host_entry, "hosts entry");
const ScalarSyntax device_syntax = STRING_SYNTAX(check_device, "device");
const ScalarSyntax cap_syntax = STRING_SYNTAX(check_cap, "capability");
const ScalarSyntax cap_or_all_syntax = STRING_SYNTAX(check_cap_or_all, "capability");

/* What a value of another type is told to be, for a syntax with an integer form */
static const char *integer_expected(const ScalarSyntax *x) {
        if (x->expected)
                return x->expected;
        return x->from_string ? "a string or an integer" : "an integer";
}

/* Converts v by syntax x: 1 with *ret set, 0 when reported, < 0 on OOM */
static int scalar_convert(ParseCtx *ctx, const ConfigKey *k, const ScalarSyntax *x, const char *key_path,
                          const TomlValue *v, ScalarValue *ret) {
        const char *s;
        int r;

        if (x->from_integer && toml_value_type(v) == TOML_INTEGER) {
                int64_t i = toml_value_integer(v);
                r = x->from_integer(k, i, ret);
                if (r < 0)
                        return report(ctx, k, key_path, v, "%s %s %" PRIi64,
                                      r == -ERANGE ? "out of range" : "invalid", x->what, i);
                return 1;
        }
        if (!x->from_string || (x->from_integer && toml_value_type(v) != TOML_STRING))
                return wrong_type(ctx, k, key_path, v, integer_expected(x));
        s = get_string(ctx, k, key_path, v, &r);
        if (!s)
                return r;
        r = x->from_string(x, k, s, ret);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return bad_value(ctx, k, key_path, v, x->what, s, r);
        return 1;
}

static void set_flag(const ConfigKey *k, void *base_field) {
        /* set_offset is relative to the same base as offset */
        if (k->set_offset >= 0)
                *(bool *) ((uint8_t *) base_field - k->offset + (size_t) k->set_offset) = true;
}

/* The parser of every key with a ScalarSyntax */
int parse_scalar(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v, void *data) {
        ScalarValue val = {};
        int r = scalar_convert(ctx, k, k->syntax, key_path, v, &val);
        if (r <= 0)
                return r;
        if (k->syntax->store)
                k->syntax->store(data, &val);
        else
                memcpy(data, &val, k->syntax->size);
        set_flag(k, data);
        return 1;
}

/* ---- other parsers ---- */

typedef int (*ElementAdd)(ParseCtx *ctx, const TomlValue *e, ScalarValue *val, void *userdata);

/* An array of values of k->syntax, each passed to add() (which takes over what val owns, also when it
 * fails); k->max != 0 marks "must not be empty". 1 when all were good, 0 when reported, < 0 on OOM. */
static int convert_array(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v,
                         ElementAdd add, void *userdata) {
        bool bad = false;
        int r;

        if (toml_value_type(v) != TOML_ARRAY)
                return wrong_type(ctx, k, key_path, v, "an array of strings");
        if (k->max > 0 && toml_array_size(v) == 0)
                return report(ctx, k, key_path, v, "must not be empty");
        for (size_t i = 0; i < toml_array_size(v); i++) {
                const TomlValue *e = toml_array_get(v, i);
                _cleanup_free_ char *p = strprintf("%s[%zu]", key_path, i);
                ScalarValue val = {};

                if (!p)
                        return -ENOMEM;
                r = scalar_convert(ctx, k, k->syntax, p, e, &val);
                if (r > 0)
                        r = add(ctx, e, &val, userdata);
                if (r < 0)
                        return r;
                bad = bad || r == 0;
        }
        return !bad;
}

static int strv_add(ParseCtx *ctx, const TomlValue *e, ScalarValue *val, void *userdata) {
        int r = strv_consume(userdata, val->str);
        if (r < 0) {
                free(val->str);
                return r;
        }
        return 1;
}

/* An array of strings of k->syntax, replaced whole */
int parse_strv(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v, void *data) {
        _cleanup_strv_free_ char **l = new0(char *, 1);
        int r;

        if (!l)
                return -ENOMEM;
        r = convert_array(ctx, k, key_path, v, strv_add, &l);
        if (r <= 0)
                return r;
        strv_free(*(char ***) data);
        *(char ***) data = TAKE_PTR(l);
        set_flag(k, data);
        return 1;
}

int parse_bool(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v, void *data) {
        if (toml_value_type(v) != TOML_BOOL)
                return wrong_type(ctx, k, key_path, v, "a boolean");
        *(bool *) data = toml_value_bool(v);
        set_flag(k, data);
        return 1;
}

int parse_user_namespace(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v,
                         void *data) {
        if (toml_value_type(v) == TOML_BOOL && !toml_value_bool(v)) {
                *(bool *) data = false;
                return 1;
        }
        if (toml_value_type(v) == TOML_STRING) {
                int r;
                const char *s = get_string(ctx, k, key_path, v, &r);
                if (!s)
                        return r;
                if (streq(s, "auto")) {
                        *(bool *) data = true;
                        return 1;
                }
                return bad_value(ctx, k, key_path, v, "value", s, -EINVAL);
        }
        if (toml_value_type(v) == TOML_BOOL)
                return report(ctx, k, key_path, v, "invalid value true");
        return wrong_type(ctx, k, key_path, v, "false or a string");
}

/* a port spec, with its position */
static int port_add(ParseCtx *ctx, const TomlValue *e, ScalarValue *val, void *userdata) {
        NetworkConfig *l = userdata;
        PortMap *n = realloc(l->ports, sizeof(PortMap) * (l->n_ports + 1));
        TomlPos pos = toml_value_pos(e);

        if (!n)
                return -ENOMEM;
        l->ports = n;
        n[l->n_ports] = val->port;
        n[l->n_ports++].origin = (ConfigOrigin){ .file = ctx->file, .line = pos.line, .column = pos.column };
        return 1;
}

/* data = NetworkConfig: ports + n_ports; array replaced whole */
int parse_ports(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v, void *data) {
        NetworkConfig *nc = data, l = { .ports = new0(PortMap, 1) };
        int r;

        if (!l.ports)
                return -ENOMEM;
        r = convert_array(ctx, k, key_path, v, port_add, &l);
        if (r <= 0) {
                free(l.ports);
                return r;
        }
        free(nc->ports);
        nc->ports = l.ports;
        nc->n_ports = l.n_ports;
        return 1;
}

static const ConfigKey env_name_key = {
        .accepted = "letters, digits and '_', not starting with a digit",
};

typedef struct TableEntry {
        const char *name; /* NAME, cut at a NUL it contains (then strlen(name) != name_len) */
        size_t name_len;
        TomlPos pos; /* of NAME */
        const TomlValue *value;
        const char *path; /* "key_path.NAME" */
} TableEntry;

typedef int (*EntryParser)(ParseCtx *ctx, const ConfigKey *k, const TableEntry *e, void *userdata);

/* A table of NAME = value entries ([env], [network.NAME]): f() for each entry, which reports what is wrong
 * with it and returns < 0 only on OOM */
static int parse_entries(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v,
                         EntryParser f, void *userdata) {
        int r;

        if (toml_value_type(v) != TOML_TABLE)
                return wrong_type(ctx, k, key_path, v, "a table");
        for (size_t i = 0; i < toml_table_size(v); i++) {
                TableEntry e = { .name_len = toml_table_key_len(v, i), .value = toml_table_value(v, i) };
                e.name = toml_table_key(v, i, &e.pos);
                _cleanup_free_ char *p = strjoin(key_path, ".", e.name);
                if (!p)
                        return -ENOMEM;
                e.path = p;
                r = f(ctx, k, &e, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* NAME = "value" in [env]: merged into ContainerConfig.env, replacing an earlier NAME */
static int env_entry(ParseCtx *ctx, const ConfigKey *k, const TableEntry *e, void *userdata) {
        ContainerConfig *c = userdata;
        _cleanup_free_ char *entry = NULL;
        size_t nl = strlen(e->name);
        const char *s;
        int r;

        if (check_env_name(e->name, NULL) < 0 || nl != e->name_len)
                return bad_value(ctx, &env_name_key, e->path, e->value, "environment variable name", e->name,
                                 -EINVAL);
        s = get_string(ctx, k, e->path, e->value, &r);
        if (!s)
                return r;
        entry = strjoin(e->name, "=", s);
        if (!entry)
                return -ENOMEM;
        STRV_FOREACH (x, c->env)
                if (strneq(*x, e->name, nl) && (*x)[nl] == '=') {
                        free(*x);
                        *x = TAKE_PTR(entry);
                        break;
                }
        if (entry) {
                r = strv_consume(&c->env, entry);
                if (r < 0)
                        return r;
                entry = NULL;
        }
        return origin_table_set(ctx->origins, e->path, ctx->file, e->pos.line, e->pos.column);
}

int parse_env(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v, void *data) {
        return parse_entries(ctx, k, key_path, v, env_entry, data);
}

/* Applies table e (a [[mount]], a [network.NAME]) to base with an origin table of its own, returned in
 * *ret_origins: key paths in problems are shown under pfx ("mount[0]."), origins are relative to e */
static int apply_sub_table(ParseCtx *ctx, const ConfigKey *keys, size_t n_keys, void *base, const char *pfx,
                           const TomlValue *e, OriginTable **ret_origins) {
        _cleanup_(origin_table_freep) OriginTable *o = new0(OriginTable, 1);
        int r;

        if (!o)
                return -ENOMEM;
        ParseCtx sub = { .diag = ctx->diag, .origins = o, .file = ctx->file, .prefix = pfx };
        r = config_apply_table(&sub, keys, n_keys, base, "", e);
        if (r < 0)
                return r;
        *ret_origins = TAKE_PTR(o);
        return 0;
}

/* Adds the origins of a sub-table's keys to ctx->origins, under prefix */
static int add_origins(ParseCtx *ctx, const char *prefix, const OriginTable *sub) {
        int r;

        for (size_t i = 0; i < sub->n_entries; i++) {
                _cleanup_free_ char *key = strjoin(prefix, sub->entries[i].key);
                if (!key)
                        return -ENOMEM;
                r = origin_table_set(ctx->origins, key, ctx->file, sub->entries[i].origin.line,
                                     sub->entries[i].origin.column);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void mount_spec_done(MountSpec *m) {
        free(m->source);
        free(m->target);
        *m = (MountSpec){};
}

/* Checks one [[mount]] after its keys were applied; reports with the element's position */
static int mount_check(ParseCtx *ctx, const MountSpec *m, const char *p, const TomlValue *e) {
        _cleanup_free_ char *tp = strjoin(p, ".target"), *sp = strjoin(p, ".source"),
                            *zp = strjoin(p, ".size");
        ParseCtx c = *ctx;
        int r = 0;

        if (!tp || !sp || !zp)
                return -ENOMEM;
        c.prefix = "";
        /* point at the offending key when it was written, else at the [[mount]] */
        const TomlValue *sv = toml_table_get(e, "source") ?: e, *zv = toml_table_get(e, "size") ?: e;
        const TomlValue *tv = toml_table_get(e, "target") ?: e;
        if (!m->target)
                r = report(&c, NULL, tp, tv, "missing (an absolute path inside the container)");
        else if (streq(m->target, "/"))
                r = report(&c, NULL, tp, tv, "cannot mount over '/' (an absolute path other than /)");
        else
                for (const char *const *k = (const char *const[]){ "/proc", "/sys", "/dev", NULL }; *k;
                     k++) {
                        const char *rest = startswith(m->target, *k);
                        /* a mount there would replace what cbox mounts, or unmask a masked path */
                        if (rest && IN_SET(rest[0], '\0', '/')) {
                                r = report(
                                        &c, NULL, tp, tv,
                                        "cannot mount on or below '%s' (cbox mounts it for the container)",
                                        *k);
                                break;
                        }
                }
        if (r < 0)
                return r;
        switch (m->type) {
        case MOUNT_TYPE_BIND:
                if (!m->source)
                        r = report(&c, NULL, sp, sv, "missing (bind mounts need an absolute host path)");
                else if (!config_path_is_valid_absolute(m->source))
                        r = report(&c, NULL, sp, sv,
                                   "invalid path '%s' (bind mounts need an absolute host path)", m->source);
                if (r >= 0 && m->size > 0)
                        r = report(&c, NULL, zp, zv, "only tmpfs mounts have a size");
                break;
        case MOUNT_TYPE_VOLUME:
                if (!m->source)
                        r = report(&c, NULL, sp, sv, "missing (volume mounts need a volume name)");
                else if (!container_name_is_valid(m->source))
                        r = report(&c, NULL, sp, sv,
                                   "invalid volume name '%s' (letters, digits, '_', '.', '-', up to 64, not "
                                   "starting with '.' or '-')",
                                   m->source);
                if (r >= 0 && m->size > 0)
                        r = report(&c, NULL, zp, zv, "only tmpfs mounts have a size");
                break;
        case MOUNT_TYPE_TMPFS:
                if (m->source)
                        r = report(&c, NULL, sp, sv, "tmpfs mounts have no source");
                break;
        }
        return r;
}

/* [[mount]]: entries are appended in file order; an entry from a later file with the target of an
 * earlier file's entry replaces it in place; two entries with one target in one file are an error. */
int parse_mounts(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v, void *data) {
        ContainerConfig *c = data;
        int r;

        if (toml_value_type(v) != TOML_ARRAY)
                return wrong_type(ctx, k, key_path, v, "an array of tables ([[mount]])");
        for (size_t i = 0; i < toml_array_size(v); i++) {
                const TomlValue *e = toml_array_get(v, i);
                _cleanup_(origin_table_freep) OriginTable *tmp = NULL;
                _cleanup_free_ char *p = strprintf("%s[%zu]", key_path, i), *pfx = NULL;
                MountSpec m = { .type = MOUNT_TYPE_BIND };
                size_t before = ctx->diag->n_problems, j;
                TomlPos pos;

                if (!p)
                        return -ENOMEM;
                if (toml_value_type(e) != TOML_TABLE) {
                        r = wrong_type(ctx, k, p, e, "a table");
                        if (r < 0)
                                return r;
                        continue;
                }
                pfx = strjoin(p, ".");
                if (!pfx)
                        return -ENOMEM;
                r = apply_sub_table(ctx, k->table->keys, k->table->n_keys, &m, pfx, e, &tmp);
                if (r >= 0)
                        r = mount_check(ctx, &m, p, e);
                if (r < 0 || ctx->diag->n_problems > before) {
                        mount_spec_done(&m);
                        if (r < 0)
                                return r;
                        continue;
                }
                pos = toml_value_pos(e);
                m.origin = (ConfigOrigin){ .file = ctx->file, .line = pos.line, .column = pos.column };

                for (j = 0; j < c->n_mounts; j++)
                        if (streq(c->mounts[j].target, m.target))
                                break;
                if (j < c->n_mounts && c->mounts[j].origin.file == ctx->file) {
                        _cleanup_free_ char *tp = strjoin(p, ".target");
                        ParseCtx pc = *ctx;
                        pc.prefix = "";
                        unsigned line = c->mounts[j].origin.line;
                        mount_spec_done(&m);
                        if (!tp)
                                return -ENOMEM;
                        r = report(
                                &pc, NULL, tp, toml_table_get(e, "target") ?: e,
                                "target '%s' is already mounted by the [[mount]] at line %u (one mount per "
                                "target)",
                                c->mounts[j].target, line);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (j == c->n_mounts) {
                        MountSpec *n = realloc(c->mounts, sizeof(MountSpec) * (c->n_mounts + 1));
                        if (!n) {
                                mount_spec_done(&m);
                                return -ENOMEM;
                        }
                        c->mounts = n;
                        c->n_mounts++;
                } else
                        mount_spec_done(&c->mounts[j]);
                c->mounts[j] = m;

                _cleanup_free_ char *opfx = strprintf("mount[%zu].", j);
                if (!opfx)
                        return -ENOMEM;
                origin_table_remove_prefix(ctx->origins, opfx);
                r = add_origins(ctx, opfx, tmp);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The entry called name, appended if new; NULL on OOM */
static void *named_entry(GlobalConfig *g, const ConfigTable *t, const char *name) {
        uint8_t **array = (uint8_t **) ((uint8_t *) g + t->array_offset), *e;
        size_t *n = (size_t *) ((uint8_t *) g + t->count_offset);

        for (size_t j = 0; j < *n; j++)
                if (streq(*(char **) (*array + j * t->size), name))
                        return *array + j * t->size;
        e = realloc(*array, t->size * (*n + 1));
        if (!e)
                return NULL;
        *array = e;
        e += t->size * *n;
        memcpy(e, t->init, t->size);
        *(char **) e = strdup(name);
        if (!*(char **) e)
                return NULL;
        (*n)++;
        return e;
}

/* A [network.NAME] or [registry."HOST"] table: merged key by key into the named entry */
static int named_table_entry(ParseCtx *ctx, const ConfigKey *k, const TableEntry *e, void *userdata) {
        const ConfigTable *t = k->table;
        _cleanup_(origin_table_freep) OriginTable *sub = NULL;
        _cleanup_free_ char *pfx = NULL;
        void *base;
        int r;

        if (toml_value_type(e->value) != TOML_TABLE)
                return wrong_type(ctx, k, e->path, e->value, "a table");
        if (k->syntax->check(e->name, NULL) < 0 || strlen(e->name) != e->name_len)
                return bad_value(ctx, k, e->path, e->value, t->what, e->name, -EINVAL);
        base = named_entry(userdata, t, e->name);
        pfx = strjoin(e->path, ".");
        if (!base || !pfx)
                return -ENOMEM;
        r = origin_table_set(ctx->origins, e->path, ctx->file, e->pos.line, e->pos.column);
        if (r < 0)
                return r;
        r = apply_sub_table(ctx, t->keys, t->n_keys, base, pfx, e->value, &sub);
        if (r < 0)
                return r;
        return add_origins(ctx, pfx, sub);
}

int parse_named_tables(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v,
                       void *data) {
        return parse_entries(ctx, k, key_path, v, named_table_entry, data);
}

/* ---- [defaults]: a view of the container keys ---- */

int config_apply_view(ParseCtx *ctx, const ConfigTable *t, void *base, const TomlValue *table) {
        _cleanup_free_ ConfigKey *keys = new (ConfigKey, t->n_keys);
        size_t n = 0;

        if (!keys)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_keys; i++)
                if (t->filter(t->keys[i].path))
                        keys[n++] = t->keys[i];
        return config_apply_table(ctx, keys, n, base, "", table);
}

/* [defaults]: checked now against a scratch container so that problems name the conf.d file, kept for
 * the loader, which applies it to each container before the container's own file */
int parse_defaults(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v, void *data) {
        GlobalConfig *g = data;
        GlobalPrivate *priv = g->priv;
        _cleanup_(container_config_freep) ContainerConfig *scratch = NULL;
        size_t before = ctx->diag->n_problems;
        GlobalDefaults *d;
        int r;

        if (toml_value_type(v) != TOML_TABLE)
                return wrong_type(ctx, k, key_path, v, "a table");
        scratch = container_config_new();
        if (!scratch)
                return -ENOMEM;
        ParseCtx sub = {
                .diag = ctx->diag, .origins = scratch->origins, .file = ctx->file, .prefix = "defaults."
        };
        r = config_apply_view(&sub, k->table, scratch, v);
        if (r < 0)
                return r;
        if (ctx->diag->n_problems > before || !priv)
                return 0;
        d = realloc(priv->defaults, sizeof(GlobalDefaults) * (priv->n_defaults + 1));
        if (!d)
                return -ENOMEM;
        priv->defaults = d;
        d[priv->n_defaults++] = (GlobalDefaults){ .file = ctx->file, .table = v };
        return 0;
}

/* ---- applying a table ---- */

static size_t edit_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        size_t prev[64], cur[64];

        if (la >= 63 || lb >= 63)
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                prev[j] = j;
        for (size_t i = 1; i <= la; i++) {
                cur[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
                        size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
                        cur[j] = del < ins ? (del < sub ? del : sub) : (ins < sub ? ins : sub);
                }
                memcpy(prev, cur, sizeof(size_t) * (lb + 1));
        }
        return prev[lb];
}

/* The keys directly below table path `rel` ("" = the root), for "known keys" hints */
static char *known_keys(const ConfigKey *keys, size_t n_keys, const char *rel, const char *typo,
                        char **ret_suggestion) {
        Buffer b = {};
        size_t rl = strlen(rel), best = SIZE_MAX;
        const char *best_name = NULL;

        for (size_t i = 0; i < n_keys; i++) {
                const char *p = keys[i].path, *rest, *dot;
                size_t len;
                bool dup = false;

                if (rl > 0 && !(strneq(p, rel, rl) && p[rl] == '.'))
                        continue;
                rest = p + (rl > 0 ? rl + 1 : 0);
                dot = strchr(rest, '.');
                len = dot ? (size_t) (dot - rest) : strlen(rest);
                for (size_t j = 0; j < i; j++) {
                        const char *q = keys[j].path;
                        if (rl > 0 && !(strneq(q, rel, rl) && q[rl] == '.'))
                                continue;
                        q += rl > 0 ? rl + 1 : 0;
                        if (strneq(q, rest, len) && (q[len] == '.' || q[len] == 0))
                                dup = true;
                }
                if (dup)
                        continue;
                _cleanup_free_ char *name = strndup(rest, len);
                if (!name || buffer_printf(&b, "%s%s", b.size ? ", " : "", name) < 0) {
                        buffer_done(&b);
                        return NULL;
                }
                size_t d = edit_distance(typo, name);
                if (d < best) {
                        best = d;
                        best_name = rest;
                        free(*ret_suggestion);
                        *ret_suggestion = strdup(name);
                }
        }
        if (!best_name || best > MAX((size_t) 2, strlen(typo) / 3))
                *ret_suggestion = mfree(*ret_suggestion);
        return b.data ?: strdup("");
}

static int unknown_key(ParseCtx *ctx, const ConfigKey *keys, size_t n_keys, const char *rel,
                       const char *name, const char *full, TomlPos kp) {
        _cleanup_free_ char *sugg = NULL, *path = display_path(ctx, full);
        _cleanup_free_ char *known = known_keys(keys, n_keys, rel, name, &sugg);

        if (!path || !known)
                return -ENOMEM;
        if (sugg)
                return config_diag_add(ctx->diag, ctx->file, kp.line, kp.column, path,
                                       "unknown key (did you mean '%s'? known keys%s%s%s: %s)", sugg,
                                       *rel ? " in [" : "", rel, *rel ? "]" : "", known);
        return config_diag_add(ctx->diag, ctx->file, kp.line, kp.column, path,
                               "unknown key (known keys%s%s%s: %s)", *rel ? " in [" : "", rel,
                               *rel ? "]" : "", known);
}

int config_apply_table(ParseCtx *ctx, const ConfigKey *keys, size_t n_keys, void *base,
                       const char *key_prefix, const TomlValue *table) {
        int r;

        for (size_t i = 0; i < toml_table_size(table); i++) {
                TomlPos kp;
                const char *name = toml_table_key(table, i, &kp);
                const TomlValue *v = toml_table_value(table, i);
                _cleanup_free_ char *full = *key_prefix ? strjoin(key_prefix, ".", name) : strdup(name);
                const ConfigKey *k = NULL;
                bool group = false;
                size_t fl;

                if (!full)
                        return -ENOMEM;
                /* a quoted key with a '.' or a NUL is one key that no table entry names, not a path */
                if (strlen(name) != toml_table_key_len(table, i)) {
                        _cleanup_free_ char *path = display_path(ctx, full);
                        if (!path)
                                return -ENOMEM;
                        r = config_diag_add(ctx->diag, ctx->file, kp.line, kp.column, path,
                                            "unknown key: it contains a NUL character");
                        if (r < 0)
                                return r;
                        continue;
                }
                if (strchr(name, '.')) {
                        r = unknown_key(ctx, keys, n_keys, key_prefix, name, full, kp);
                        if (r < 0)
                                return r;
                        continue;
                }
                fl = strlen(full);
                for (size_t j = 0; j < n_keys; j++) {
                        if (streq(keys[j].path, full)) {
                                k = &keys[j];
                                break;
                        }
                        if (strneq(keys[j].path, full, fl) && keys[j].path[fl] == '.')
                                group = true;
                }
                if (k) {
                        r = k->parse(ctx, k, full, v, FIELD(base, k));
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                /* relative to the table: callers applying a sub-table re-prefix them */
                                r = origin_table_set(ctx->origins, full, ctx->file, kp.line, kp.column);
                                if (r < 0)
                                        return r;
                        }
                        continue;
                }
                if (group) {
                        if (toml_value_type(v) != TOML_TABLE) {
                                _cleanup_free_ char *path = display_path(ctx, full);
                                TomlPos vp = toml_value_pos(v);
                                if (!path)
                                        return -ENOMEM;
                                r = config_diag_add(ctx->diag, ctx->file, vp.line, vp.column, path,
                                                    "expected a table, got %s",
                                                    type_with_article(toml_value_type(v)));
                        } else
                                r = config_apply_table(ctx, keys, n_keys, base, full, v);
                        if (r < 0)
                                return r;
                        continue;
                }
                r = unknown_key(ctx, keys, n_keys, key_prefix, name, full, kp);
                if (r < 0)
                        return r;
        }
        return 0;
}
