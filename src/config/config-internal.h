/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between the config-*.c files; not for other modules. */

#include <stdarg.h>
#include <stddef.h>

#include "config.h"
#include "string-util.h"
#include "toml.h"

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

int config_diag_add(ConfigDiag *d, const char *file, unsigned line, unsigned column, const char *key_path,
                    const char *fmt, ...) _printf_(6, 7);
bool config_diag_has_key(const ConfigDiag *d, const char *key_path);

/* State while applying one file's value tree to a model */
typedef struct ParseCtx {
        ConfigDiag *diag;
        OriginTable *origins;
        const char *file;   /* interned in origins */
        const char *prefix; /* display prefix for key paths, e.g. "mount[2]." or "" */
} ParseCtx;

typedef struct ConfigKey ConfigKey;
/* How parse_scalar() reads one TOML value into one field (config-schema.c) */
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
                                     * format_enum() */
};

/* Applies a table (the root of a document, a [[mount]] element, a [network.NAME] table) to base
 * through keys. key_prefix is prepended to key paths relative to the table for lookup in keys. */
int config_apply_table(ParseCtx *ctx, const ConfigKey *keys, size_t n_keys, void *base,
                       const char *key_prefix, const TomlValue *table);

extern const ConfigKey container_keys[];
extern const size_t container_keys_count;
extern const ConfigKey global_keys[];
extern const size_t global_keys_count;
extern const ConfigKey mount_keys[];
extern const size_t mount_keys_count;

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

int config_apply_global_defaults(const GlobalConfig *g, ContainerConfig *c, ConfigDiag *diag);

int container_config_defaults(ContainerConfig *c, const GlobalConfig *g);
int global_config_defaults(GlobalConfig *g);
/* Cross-field checks on the merged model; problems go to diag */
int container_config_validate(ContainerConfig *c, const GlobalConfig *g, ConfigDiag *diag);
int global_config_validate(GlobalConfig *g, ConfigDiag *diag);

/* The name of a value of an enum syntax; NULL if out of range or not an enum */
const char *scalar_syntax_name(const ScalarSyntax *x, int value);

/* The formatters of the key tables (config-format.c) */
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

/* TOML output helpers (config-format.c) */
int toml_quote_string(Buffer *b, const char *s);
char *toml_format_strv(char *const *l);
