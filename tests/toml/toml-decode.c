/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Reads one TOML document on stdin and prints it as toml-test's tagged JSON on stdout (see
 * ../shared/toml-test/README.md). Exit 0 on a valid document, 1 with a message on stderr otherwise. */

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "fd-util.h"
#include "fileio.h"
#include "string-util.h"
#include "toml.h"

static int json_string(Buffer *b, const char *s, size_t len) {
        int r = buffer_append(b, "\"", 1);
        for (size_t i = 0; r >= 0 && i < len; i++) {
                unsigned char c = s[i];
                if (c == '"' || c == '\\') {
                        char e[2] = { '\\', (char) c };
                        r = buffer_append(b, e, 2);
                } else if (c < 0x20 || c == 0x7f)
                        r = buffer_printf(b, "\\u%04x", c);
                else
                        r = buffer_append(b, &s[i], 1);
        }
        if (r >= 0)
                r = buffer_append(b, "\"", 1);
        return r;
}

static int format_float(double d, char *buf, size_t size) {
        if (isnan(d))
                return snprintf(buf, size, "nan");
        if (isinf(d))
                return snprintf(buf, size, d < 0 ? "-inf" : "inf");
        /* the shortest spelling that reads back as the same double */
        for (int prec = 1; prec <= 17; prec++) {
                snprintf(buf, size, "%.*g", prec, d);
                if (strtod(buf, NULL) == d)
                        break;
        }
        return 0;
}

static int format_datetime(TomlType t, const TomlDateTime *dt, Buffer *b) {
        int r = 0;
        if (dt->has_date)
                r = buffer_printf(b, "%04d-%02d-%02d", dt->year, dt->month, dt->day);
        if (r >= 0 && dt->has_date && dt->has_time)
                r = buffer_append(b, "T", 1);
        if (r >= 0 && dt->has_time) {
                r = buffer_printf(b, "%02d:%02d:%02d", dt->hour, dt->minute, dt->second);
                if (r >= 0 && dt->nanosecond > 0) {
                        char frac[16];
                        snprintf(frac, sizeof(frac), "%09u", (unsigned) dt->nanosecond);
                        for (size_t n = strlen(frac); n > 0 && frac[n - 1] == '0'; n--)
                                frac[n - 1] = '\0';
                        r = buffer_printf(b, ".%s", frac);
                }
        }
        if (r >= 0 && dt->has_offset) {
                if (dt->offset_minutes == 0)
                        r = buffer_append(b, "Z", 1);
                else {
                        int m = abs(dt->offset_minutes);
                        r = buffer_printf(b, "%c%02d:%02d", dt->offset_minutes < 0 ? '-' : '+', m / 60,
                                          m % 60);
                }
        }
        return r;
}

static int encode(const TomlValue *v, Buffer *b) {
        TomlType t = toml_value_type(v);
        char tmp[64];
        int r;

        switch (t) {
        case TOML_TABLE:
                r = buffer_append(b, "{", 1);
                for (size_t i = 0; r >= 0 && i < toml_table_size(v); i++) {
                        const char *k = toml_table_key(v, i, NULL);
                        if (i > 0)
                                r = buffer_append(b, ",", 1);
                        if (r >= 0)
                                r = json_string(b, k, toml_table_key_len(v, i));
                        if (r >= 0)
                                r = buffer_append(b, ":", 1);
                        if (r >= 0)
                                r = encode(toml_table_value(v, i), b);
                }
                return r < 0 ? r : buffer_append(b, "}", 1);
        case TOML_ARRAY:
                r = buffer_append(b, "[", 1);
                for (size_t i = 0; r >= 0 && i < toml_array_size(v); i++) {
                        if (i > 0)
                                r = buffer_append(b, ",", 1);
                        if (r >= 0)
                                r = encode(toml_array_get(v, i), b);
                }
                return r < 0 ? r : buffer_append(b, "]", 1);
        default:
                break;
        }

        r = buffer_printf(b, "{\"type\":\"%s\",\"value\":", toml_type_to_string(t));
        if (r < 0)
                return r;
        switch (t) {
        case TOML_STRING: {
                size_t len;
                const char *s = toml_value_string(v, &len);
                r = json_string(b, s, len);
                break;
        }
        case TOML_INTEGER:
                r = buffer_printf(b, "\"%" PRIi64 "\"", toml_value_integer(v));
                break;
        case TOML_FLOAT:
                format_float(toml_value_float(v), tmp, sizeof(tmp));
                r = buffer_printf(b, "\"%s\"", tmp);
                break;
        case TOML_BOOL:
                r = buffer_printf(b, "\"%s\"", toml_value_bool(v) ? "true" : "false");
                break;
        default:
                r = buffer_append(b, "\"", 1);
                if (r >= 0)
                        r = format_datetime(t, toml_value_datetime(v), b);
                if (r >= 0)
                        r = buffer_append(b, "\"", 1);
                break;
        }
        return r < 0 ? r : buffer_append(b, "}", 1);
}

int main(int argc, char *argv[]) {
        _cleanup_free_ char *data = NULL;
        _cleanup_(toml_value_freep) TomlValue *root = NULL;
        TomlError error = {};
        Buffer out = {};
        size_t size;
        int r;

        r = read_full_fd(STDIN_FILENO, &data, &size, TOML_MAX_DOCUMENT_SIZE + 1);
        if (r < 0) {
                fprintf(stderr, "Failed to read standard input: %s\n", strerror(-r));
                return 1;
        }
        r = toml_parse(data, size, &root, &error);
        if (r < 0) {
                fprintf(stderr, "<stdin>:%u:%u: %s\n", error.pos.line, error.pos.column,
                        error.message ?: strerror(-r));
                toml_error_done(&error);
                return 1;
        }
        r = encode(root, &out);
        if (r >= 0)
                r = buffer_append(&out, "\n", 1);
        if (r >= 0)
                r = loop_write(STDOUT_FILENO, out.data, out.size);
        buffer_done(&out);
        if (r < 0) {
                fprintf(stderr, "Failed to write output: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
