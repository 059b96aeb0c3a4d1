/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Parses the input as a TOML document and walks the whole tree through the public accessors, so
 * every value is read once (type, position, payload). */

#include <stdio.h>

#include "macros.h"
#include "toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned walk(const TomlValue *v, unsigned depth) {
        TomlPos pos = toml_value_pos(v);
        unsigned sum = pos.line + pos.column;

        /* the parser's depth limit is what keeps this recursion bounded */
        if (depth > TOML_MAX_DEPTH + 1)
                abort();
        if (pos.line == 0 || pos.column == 0)
                abort();

        switch (toml_value_type(v)) {
        case TOML_STRING: {
                size_t len;
                const char *s = toml_value_string(v, &len);
                if (s[len] != '\0' || len > TOML_MAX_STRING_LENGTH)
                        abort();
                sum += len;
                break;
        }
        case TOML_INTEGER:
                sum += (unsigned) toml_value_integer(v);
                break;
        case TOML_FLOAT:
                sum += toml_value_float(v) > 0;
                break;
        case TOML_BOOL:
                sum += toml_value_bool(v);
                break;
        case TOML_DATETIME:
        case TOML_DATETIME_LOCAL:
        case TOML_DATE_LOCAL:
        case TOML_TIME_LOCAL: {
                const TomlDateTime *dt = toml_value_datetime(v);
                if ((dt->has_date && (dt->month < 1 || dt->month > 12 || dt->day < 1 || dt->day > 31)) ||
                    (dt->has_time && (dt->hour > 23 || dt->minute > 59 || dt->second > 60)) ||
                    dt->nanosecond > 999999999)
                        abort();
                sum += (unsigned) dt->year;
                break;
        }
        case TOML_ARRAY:
                for (size_t i = 0; i < toml_array_size(v); i++)
                        sum += walk(toml_array_get(v, i), depth + 1);
                if (toml_array_get(v, toml_array_size(v)))
                        abort();
                break;
        case TOML_TABLE:
                for (size_t i = 0; i < toml_table_size(v); i++) {
                        TomlPos kp;
                        const char *k = toml_table_key(v, i, &kp);
                        const TomlValue *e = toml_table_value(v, i);
                        if (!k || !e || kp.line == 0 || kp.column == 0)
                                abort();
                        /* lookups find the entry (unless the key has a NUL, which a C string cannot name) */
                        if (strlen(k) == toml_table_key_len(v, i) && toml_table_get(v, k) != e)
                                abort();
                        sum += walk(e, depth + 1);
                }
                break;
        default:
                abort();
        }
        return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(toml_value_freep) TomlValue *root = NULL;
        TomlError error = {};
        int r;

        r = toml_parse((const char *) data, size, &root, &error);
        if (r < 0) {
                /* every failure says where and why */
                if (!IN_SET(r, -EBADMSG, -E2BIG, -ENOMEM) || !error.message || error.pos.line == 0 ||
                    error.pos.column == 0)
                        abort();
                toml_error_done(&error);
                return 0;
        }
        if (error.message)
                abort();
        (void) walk(root, 0);
        return 0;
}
