/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between the config-*.c files; not for other modules. */

#include <stdarg.h>
#include <stddef.h>

#include "config.h"
#include "string-util.h"
#include "toml.h"

/* ---- config-diag.c ---- */

/* Where each value of a merged configuration came from, keyed by its key path ("resources.memory_max",
 * "env.FOO", "mount[0].target", "network.cbox0.subnet"). Also owns the file names ConfigOrigin.file
 * points to. */
typedef struct OriginEntry {
        char *key;
        ConfigOrigin origin;
} OriginEntry;

typedef struct OriginTable {
        char **files; /* every file read, in order */
        OriginEntry *entries;
        size_t n_entries;
} OriginTable;

OriginTable *origin_table_free(OriginTable *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(OriginTable *, origin_table_free);
/* Returns the table's copy of path (stable until the table is freed), adding it if new; NULL on OOM */
const char *origin_table_intern_file(OriginTable *t, const char *path);
int origin_table_set(OriginTable *t, const char *key, const char *file, unsigned line, unsigned column);
const ConfigOrigin *origin_table_get(const OriginTable *t, const char *key);
/* Drops every entry whose key starts with prefix */
void origin_table_remove_prefix(OriginTable *t, const char *prefix);

/* ---- config-diag.c: problems and origins; every other config-*.c file reports to it ---- */

int config_diag_add(ConfigDiag *d, const char *file, unsigned line, unsigned column, const char *key_path,
                    const char *fmt, ...) _printf_(6, 7);
/* Adds "<message> (<accepted>)", or "<message>" when accepted is NULL */
int config_diag_addv(ConfigDiag *d, const char *file, unsigned line, unsigned column, const char *key_path,
                     const char *accepted, const char *fmt, va_list ap) _printf_(7, 0);
bool config_diag_has_key(const ConfigDiag *d, const char *key_path);

/* ---- config-parse.c: syntaxes, parsers and the table walker ---- */

/* State while applying one file's value tree to a model */
typedef struct ParseCtx {
        ConfigDiag *diag;
        OriginTable *origins;
        const char *file;   /* interned in origins */
        const char *prefix; /* display prefix for key paths, e.g. "mount[2]." or "" */
} ParseCtx;

typedef struct ConfigKey ConfigKey;
typedef struct ConfigTable ConfigTable;
/* How parse_scalar() reads one TOML value into one field (config-parse.c) */
typedef struct ScalarSyntax ScalarSyntax;
/* Parses v for key k into data (the field at k->offset). Bad values are reported to ctx->diag and
 * return 0 (keep going); < 0 only for OOM. Returns 1 when the value was accepted. */
typedef int (*ConfigParser)(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v,
                            void *data);
/* Formats the field for `cbox cat` as a TOML value; NULL with *ret_unset = true when not set */
typedef char *(*ConfigFormatter)(const ConfigKey *k, const void *data, bool *ret_unset);

struct ConfigKey {
        const char *path; /* relative to the table being applied: "resources.memory_max", "image" */
        ConfigParser parse;
        ConfigFormatter format;
        size_t offset;
        ssize_t set_offset; /* a bool "*_set" flag to raise, or -1 */
        uint64_t min, max;  /* integers: the range; sizes, time spans: max != 0 allows "infinity";
                             * arrays: max != 0 refuses [] */
        const char *accepted;
        const ScalarSyntax *syntax; /* parse_scalar(), each element of parse_strv() and parse_ports(),
                                     * format_enum(); parse_named_tables(): the check of NAME */
        const ConfigTable *table;   /* the compound parsers: the keys of their tables */
};

/* The keys of the tables below a compound key, for its parser: [[mount]] (parse_mounts()), [defaults]
 * (parse_defaults(): the container keys that filter accepts), [network.NAME] and [registry."HOST"]
 * (parse_named_tables()). The rows are in config-keys.c, so that the parsers need not know them. */
struct ConfigTable {
        const ConfigKey *keys;
        size_t n_keys;
        bool (*filter)(const char *path); /* config_apply_view(): the keys it applies */
        /* parse_named_tables(): an array of GlobalConfig whose entries start with their char *name */
        const char *what;                  /* of NAME, for problems */
        size_t array_offset, count_offset; /* of the array and of its length in GlobalConfig */
        size_t size;                       /* of an entry */
        const void *init;                  /* a new entry, before its keys */
};

/* Applies a table (the root of a document, a [[mount]] element, a [network.NAME] table) to base
 * through keys. key_prefix is prepended to key paths relative to the table for lookup in keys. */
int config_apply_table(ParseCtx *ctx, const ConfigKey *keys, size_t n_keys, void *base,
                       const char *key_prefix, const TomlValue *table);
/* Applies a table through the keys of t that t->filter accepts */
int config_apply_view(ParseCtx *ctx, const ConfigTable *t, void *base, const TomlValue *table);

/* The parsers of the key tables */
int parse_scalar(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v, void *data);
int parse_strv(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v, void *data);
int parse_bool(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v, void *data);
int parse_user_namespace(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v,
                         void *data);
int parse_ports(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v, void *data);
int parse_env(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v, void *data);
int parse_mounts(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v, void *data);
int parse_named_tables(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v,
                       void *data);
int parse_defaults(ParseCtx *ctx, const ConfigKey *k, const char *key_path, const TomlValue *v, void *data);

/* The syntaxes of scalar values (and of each element of an array) */
extern const ScalarSyntax size_syntax, timespan_syntax, signal_syntax, cpu_quota_syntax, u64_syntax,
        unsigned_syntax, u64_or_infinity_syntax, rlimit_syntax, oom_score_adj_syntax, ipv4_syntax,
        port_syntax, subnet_syntax, cpuset_syntax, network_mode_syntax, on_failure_syntax, pull_syntax,
        auto_update_syntax, mount_type_syntax, nonempty_syntax, abs_path_syntax, image_syntax,
        hostname_syntax, user_syntax, slice_syntax, ifname_syntax, nft_chain_syntax, seccomp_syntax,
        ipv4_string_syntax, host_entry_syntax, device_syntax, cap_syntax, cap_or_all_syntax;

/* The name of a value of an enum syntax; NULL if out of range or not an enum */
const char *scalar_syntax_name(const ScalarSyntax *x, int value);
/* 0 if s is a valid hostname, else -EINVAL (ret unused) */
int check_hostname(const char *s, char **ret);

/* ---- config-keys.c: the key tables ---- */

/* Sentences of what is accepted, shared by rows and the validation pass */
#define A_PATH "an absolute path"
#define A_SIZE "a size: a number with optional K, M, G or T suffix (base 1024), or an integer of bytes"
#define A_SIZE_INF A_SIZE ", or \"infinity\""
#define A_TIME "a time span such as \"10s\", \"1min 30s\", \"500ms\", or an integer of seconds"
#define A_ARGV "a non-empty array of strings"

extern const ConfigKey container_keys[];
extern const size_t container_keys_count;
extern const ConfigKey global_keys[];
extern const size_t global_keys_count;
extern const ConfigKey mount_keys[];
extern const size_t mount_keys_count;
/* [defaults]: the container keys a conf.d file may set for every container */
extern const ConfigTable defaults_table;

/* [defaults] tables of conf.d files: container keys that apply to every container before its own
 * file. The parsed trees stay alive with the GlobalConfig. */
typedef struct GlobalDefaults {
        const char *file;
        const TomlValue *table;
} GlobalDefaults;

typedef struct GlobalPrivate {
        TomlValue **roots;
        size_t n_roots;
        GlobalDefaults *defaults;
        size_t n_defaults;
} GlobalPrivate;

/* ---- config-model.c ---- */

/* An empty container model with an empty origin table; NULL on OOM */
ContainerConfig *container_config_new(void);

/* ---- config-validate.c: built-in defaults and the validation pass ---- */

int container_config_defaults(ContainerConfig *c, const GlobalConfig *g);
int global_config_defaults(GlobalConfig *g);
/* Cross-field checks on the merged model; problems go to diag */
int container_config_validate(ContainerConfig *c, const GlobalConfig *g, ConfigDiag *diag);
int global_config_validate(GlobalConfig *g, ConfigDiag *diag);

/* ---- config-formatters.c ---- */

/* The formatters of the key tables */
char *format_string(const ConfigKey *k, const void *data, bool *ret_unset);
char *format_strv(const ConfigKey *k, const void *data, bool *ret_unset);
char *format_bool(const ConfigKey *k, const void *data, bool *ret_unset);
char *format_size(const ConfigKey *k, const void *data, bool *ret_unset);
char *format_timespan(const ConfigKey *k, const void *data, bool *ret_unset);
char *format_signal(const ConfigKey *k, const void *data, bool *ret_unset);
char *format_cpu_quota(const ConfigKey *k, const void *data, bool *ret_unset);
char *format_u64(const ConfigKey *k, const void *data, bool *ret_unset);
char *format_int(const ConfigKey *k, const void *data, bool *ret_unset);
char *format_rlimit(const ConfigKey *k, const void *data, bool *ret_unset);
char *format_unsigned(const ConfigKey *k, const void *data, bool *ret_unset);
char *format_cpuset(const ConfigKey *k, const void *data, bool *ret_unset);
char *format_enum(const ConfigKey *k, const void *data, bool *ret_unset);
char *format_user_namespace(const ConfigKey *k, const void *data, bool *ret_unset);
char *format_ipv4(const ConfigKey *k, const void *data, bool *ret_unset);
char *format_ports(const ConfigKey *k, const void *data, bool *ret_unset);

/* TOML output helpers (config-formatters.c) */
int toml_quote_string(Buffer *b, const char *s);
char *toml_quote(const char *s);
char *toml_format_strv(char *const *l);
