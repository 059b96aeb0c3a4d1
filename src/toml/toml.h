/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* TOML 1.0.0 parser → immutable value tree with source positions. Knows no cbox keys.
 * Depends on basic/ only. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum TomlType {
        TOML_STRING,
        TOML_INTEGER,
        TOML_FLOAT,
        TOML_BOOL,
        TOML_DATETIME,       /* offset date-time */
        TOML_DATETIME_LOCAL, /* local date-time */
        TOML_DATE_LOCAL,
        TOML_TIME_LOCAL,
        TOML_ARRAY,
        TOML_TABLE,
        _TOML_TYPE_MAX,
} TomlType;

typedef struct TomlPos {
        unsigned line;   /* 1-based */
        unsigned column; /* 1-based, in characters (code points) */
} TomlPos;

typedef struct TomlDateTime {
        int year, month, day;     /* valid when has_date */
        int hour, minute, second; /* valid when has_time */
        uint32_t nanosecond;      /* fraction, truncated to ns */
        int offset_minutes;       /* valid when has_offset; 0 with has_offset = "Z" */
        bool has_date, has_time, has_offset;
} TomlDateTime;

typedef struct TomlValue TomlValue;

/* Limits; a document beyond them is rejected with -E2BIG and a clear message. Depth counts nested
 * containers: the root table is level 0, `a = [[1]]` puts the inner array at level 2, `[a.b]` puts b at
 * level 2; a table or array at level TOML_MAX_DEPTH + 1 is rejected. The string limit is in bytes, after
 * escape processing, and applies to keys too. */
#define TOML_MAX_DOCUMENT_SIZE (16U * 1024U * 1024U)
#define TOML_MAX_DEPTH 128U
#define TOML_MAX_STRING_LENGTH (4U * 1024U * 1024U)

typedef struct TomlError {
        TomlPos pos;   /* where the problem is */
        char *message; /* malloc'ed, e.g. "invalid escape sequence '\\q'"; free with toml_error_done() */
} TomlError;
void toml_error_done(TomlError *e);

/* Parses a whole document (raw bytes; a leading UTF-8 BOM is skipped). On success *ret is the root
 * table. On failure returns -EBADMSG (syntax/semantic error), -E2BIG (a limit) or -ENOMEM, and fills
 * *ret_error (if non-NULL) with position and message. *ret and *ret_error are left untouched when not
 * set. data need not be NUL-terminated. Newlines inside multi-line strings are kept as written (LF or
 * CR LF). Thread-safe: no global state besides a lazily created "C" locale for strtod_l(). */
int toml_parse(const char *data, size_t size, TomlValue **ret, TomlError *ret_error);

TomlValue *toml_value_free(TomlValue *v);
static inline void toml_value_freep(TomlValue **v) {
        if (*v)
                toml_value_free(*v);
}

TomlType toml_value_type(const TomlValue *v);
const char *toml_type_to_string(TomlType t); /* "string", "integer", …, "table" */
TomlPos toml_value_pos(const TomlValue *v);  /* where the value starts */

/* Leaves. Accessors assert the type. Strings are NUL-terminated and may contain embedded NULs
 * (\u0000): check the length when that matters. */
const char *toml_value_string(const TomlValue *v, size_t *ret_len);
int64_t toml_value_integer(const TomlValue *v);
double toml_value_float(const TomlValue *v);
bool toml_value_bool(const TomlValue *v);
const TomlDateTime *toml_value_datetime(const TomlValue *v); /* all four date/time types */

/* Arrays */
size_t toml_array_size(const TomlValue *v);
const TomlValue *toml_array_get(const TomlValue *v, size_t i);

/* Tables (keys in document order). key_pos is where the key was written (for a dotted or
 * [header] key, the last component's position in the first place it was defined). */
size_t toml_table_size(const TomlValue *v);
const char *toml_table_key(const TomlValue *v, size_t i, TomlPos *ret_key_pos);
const TomlValue *toml_table_value(const TomlValue *v, size_t i);
const TomlValue *toml_table_get(const TomlValue *v, const char *key); /* NULL if absent */

/* Additions beyond the first contract. */
/* Length of key i, which may contain NULs (a quoted key with \u0000) */
size_t toml_table_key_len(const TomlValue *v, size_t i);
/* Like toml_table_get(), also returning where the key was written */
const TomlValue *toml_table_get_full(const TomlValue *v, const char *key, TomlPos *ret_key_pos);
