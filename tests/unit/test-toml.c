/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <math.h>

#include "string-util.h"
#include "tests.h"
#include "toml.h"

static TomlValue *parse_ok(const char *s) {
        TomlValue *root = NULL;
        TomlError e = {};
        int r = toml_parse(s, strlen(s), &root, &e);
        if (r < 0)
                TEST_FAIL("parse of <<%s>> failed: %d %u:%u: %s", s, r, e.pos.line, e.pos.column,
                          strna(e.message));
        ASSERT_NOT_NULL(root);
        ASSERT_NULL(e.message);
        return root;
}

/* Expects failure r at line:column with a message that contains msg */
static void parse_fail_n(const char *s, size_t n, int r, unsigned line, unsigned column, const char *msg) {
        TomlValue *root = NULL;
        TomlError e = {};
        int k = toml_parse(s, n, &root, &e);
        if (k != r || !e.message || e.pos.line != line || e.pos.column != column ||
            (msg && !strstr(e.message, msg)))
                TEST_FAIL("parse of <<%s>>: expected %d at %u:%u containing \"%s\", got %d at %u:%u: %s", s,
                          r, line, column, strna(msg), k, e.pos.line, e.pos.column, strna(e.message));
        ASSERT_NULL(root);
        toml_error_done(&e);
        ASSERT_NULL(e.message);
}

static void parse_fail(const char *s, int r, unsigned line, unsigned column, const char *msg) {
        parse_fail_n(s, strlen(s), r, line, column, msg);
}

static const TomlValue *get(const TomlValue *t, const char *key, TomlType type) {
        const TomlValue *v = toml_table_get(t, key);
        if (!v)
                TEST_FAIL("key '%s' missing", key);
        if (toml_value_type(v) != type)
                TEST_FAIL("key '%s' is %s, expected %s", key, toml_type_to_string(toml_value_type(v)),
                          toml_type_to_string(type));
        return v;
}

#define ASSERT_POS(p, l, c)                                                                                 \
        do {                                                                                                \
                TomlPos _p = (p);                                                                           \
                if (_p.line != (l) || _p.column != (c))                                                     \
                        TEST_FAIL("%s: expected %u:%u, got %u:%u", #p, (unsigned) (l), (unsigned) (c),      \
                                  _p.line, _p.column);                                                      \
        } while (0)

TEST(type_names) {
        ASSERT_STREQ(toml_type_to_string(TOML_STRING), "string");
        ASSERT_STREQ(toml_type_to_string(TOML_INTEGER), "integer");
        ASSERT_STREQ(toml_type_to_string(TOML_FLOAT), "float");
        ASSERT_STREQ(toml_type_to_string(TOML_BOOL), "bool");
        ASSERT_STREQ(toml_type_to_string(TOML_DATETIME), "datetime");
        ASSERT_STREQ(toml_type_to_string(TOML_DATETIME_LOCAL), "datetime-local");
        ASSERT_STREQ(toml_type_to_string(TOML_DATE_LOCAL), "date-local");
        ASSERT_STREQ(toml_type_to_string(TOML_TIME_LOCAL), "time-local");
        ASSERT_STREQ(toml_type_to_string(TOML_ARRAY), "array");
        ASSERT_STREQ(toml_type_to_string(TOML_TABLE), "table");
        ASSERT_NULL(toml_type_to_string(_TOML_TYPE_MAX));
}

TEST(empty) {
        _cleanup_(toml_value_freep) TomlValue *a = parse_ok("");
        _cleanup_(toml_value_freep) TomlValue *b = parse_ok("\xef\xbb\xbf# only a comment\r\n\n  \t\n");
        TomlValue *c = NULL;
        ASSERT_EQ(toml_value_type(a), TOML_TABLE);
        ASSERT_EQ(toml_table_size(a), 0);
        ASSERT_EQ(toml_table_size(b), 0);
        ASSERT_NULL(toml_table_get(a, "x"));
        ASSERT_NULL(toml_table_key(a, 0, NULL));
        ASSERT_NULL(toml_table_value(a, 0));
        ASSERT_OK(toml_parse(NULL, 0, &c, NULL));
        ASSERT_EQ(toml_table_size(c), 0);
        toml_value_free(c);
        ASSERT_NULL(toml_value_free(NULL));
}

TEST(scalars) {
        _cleanup_(toml_value_freep) TomlValue *root = parse_ok("s = \"a\\tb\\u00e9\\U0001F600\"\n"
                                                               "l = 'C:\\path'\n"
                                                               "i = -9223372036854775808\n"
                                                               "j = 9_223_372_036_854_775_807\n"
                                                               "h = 0xDEAD_beef\n"
                                                               "o = 0o755\n"
                                                               "b = 0b1010\n"
                                                               "f = 6.626e-34\n"
                                                               "g = -0.0\n"
                                                               "pi = +inf\n"
                                                               "ni = -inf\n"
                                                               "n = nan\n"
                                                               "t = true\n"
                                                               "u = false\n");
        size_t len;
        ASSERT_STREQ(toml_value_string(get(root, "s", TOML_STRING), &len), "a\tb\xc3\xa9\xf0\x9f\x98\x80");
        ASSERT_EQ(len, 9);
        ASSERT_STREQ(toml_value_string(get(root, "l", TOML_STRING), NULL), "C:\\path");
        ASSERT_EQ(toml_value_integer(get(root, "i", TOML_INTEGER)), INT64_MIN);
        ASSERT_EQ(toml_value_integer(get(root, "j", TOML_INTEGER)), INT64_MAX);
        ASSERT_EQ(toml_value_integer(get(root, "h", TOML_INTEGER)), 0xdeadbeef);
        ASSERT_EQ(toml_value_integer(get(root, "o", TOML_INTEGER)), 0755);
        ASSERT_EQ(toml_value_integer(get(root, "b", TOML_INTEGER)), 10);
        ASSERT_TRUE(toml_value_float(get(root, "f", TOML_FLOAT)) == 6.626e-34);
        double g = toml_value_float(get(root, "g", TOML_FLOAT));
        ASSERT_TRUE(g == 0.0 && signbit(g));
        ASSERT_TRUE(isinf(toml_value_float(get(root, "pi", TOML_FLOAT))) &&
                    toml_value_float(get(root, "pi", TOML_FLOAT)) > 0);
        ASSERT_TRUE(isinf(toml_value_float(get(root, "ni", TOML_FLOAT))) &&
                    toml_value_float(get(root, "ni", TOML_FLOAT)) < 0);
        ASSERT_TRUE(isnan(toml_value_float(get(root, "n", TOML_FLOAT))));
        ASSERT_TRUE(toml_value_bool(get(root, "t", TOML_BOOL)));
        ASSERT_FALSE(toml_value_bool(get(root, "u", TOML_BOOL)));
}

TEST(multiline_strings) {
        _cleanup_(toml_value_freep) TomlValue *root = parse_ok("a = \"\"\"\nline1\r\nline2\"\"\"\n"
                                                               "b = \"\"\"one \\\n     \\\n   two\"\"\"\n"
                                                               "c = \"\"\"\"\"quoted\"\"\"\"\"\n"
                                                               "d = '''\n\\n is raw'''\n"
                                                               "e = ''''x'''''\n");
        ASSERT_STREQ(toml_value_string(get(root, "a", TOML_STRING), NULL), "line1\r\nline2");
        ASSERT_STREQ(toml_value_string(get(root, "b", TOML_STRING), NULL), "one two");
        ASSERT_STREQ(toml_value_string(get(root, "c", TOML_STRING), NULL), "\"\"quoted\"\"");
        ASSERT_STREQ(toml_value_string(get(root, "d", TOML_STRING), NULL), "\\n is raw");
        ASSERT_STREQ(toml_value_string(get(root, "e", TOML_STRING), NULL), "'x''");
}

TEST(embedded_nul) {
        _cleanup_(toml_value_freep) TomlValue *root =
                parse_ok("s = \"a\\u0000b\"\n\"k\\u0000x\" = 1\n\"k\\u0000y\" = 2\n");
        size_t len;
        const char *s = toml_value_string(get(root, "s", TOML_STRING), &len);
        ASSERT_EQ(len, 3);
        ASSERT_TRUE(memcmp(s, "a\0b", 4) == 0);
        /* two keys that differ only after the NUL are different keys */
        ASSERT_EQ(toml_table_size(root), 3);
        ASSERT_EQ(toml_table_key_len(root, 1), 3);
        ASSERT_TRUE(memcmp(toml_table_key(root, 1, NULL), "k\0x", 4) == 0);
        ASSERT_TRUE(memcmp(toml_table_key(root, 2, NULL), "k\0y", 4) == 0);
        ASSERT_EQ(toml_table_key_len(root, 3), 0);
        /* a raw NUL byte in the document is not */
        parse_fail_n("a = 1\nb = \"x\0\"\n", 15, -EBADMSG, 2, 7, "control character");
}

TEST(datetimes) {
        _cleanup_(toml_value_freep) TomlValue *root =
                parse_ok("odt = 1979-05-27T07:32:00.999999999999-07:30\n"
                         "z = 2000-02-29 23:59:60z\n"
                         "ldt = 1979-05-27t00:32:00.5\n"
                         "ld = 1979-05-27\n"
                         "lt = 07:32:01.001\n");
        const TomlDateTime *dt = toml_value_datetime(get(root, "odt", TOML_DATETIME));
        ASSERT_TRUE(dt->has_date && dt->has_time && dt->has_offset);
        ASSERT_EQ(dt->year, 1979);
        ASSERT_EQ(dt->month, 5);
        ASSERT_EQ(dt->day, 27);
        ASSERT_EQ(dt->hour, 7);
        ASSERT_EQ(dt->minute, 32);
        ASSERT_EQ(dt->second, 0);
        ASSERT_EQ(dt->nanosecond, 999999999);
        ASSERT_EQ(dt->offset_minutes, -(7 * 60 + 30));

        dt = toml_value_datetime(get(root, "z", TOML_DATETIME));
        ASSERT_TRUE(dt->has_offset);
        ASSERT_EQ(dt->offset_minutes, 0);
        ASSERT_EQ(dt->second, 60);

        dt = toml_value_datetime(get(root, "ldt", TOML_DATETIME_LOCAL));
        ASSERT_TRUE(dt->has_date && dt->has_time && !dt->has_offset);
        ASSERT_EQ(dt->nanosecond, 500000000);

        dt = toml_value_datetime(get(root, "ld", TOML_DATE_LOCAL));
        ASSERT_TRUE(dt->has_date && !dt->has_time && !dt->has_offset);

        dt = toml_value_datetime(get(root, "lt", TOML_TIME_LOCAL));
        ASSERT_TRUE(!dt->has_date && dt->has_time && !dt->has_offset);
        ASSERT_EQ(dt->second, 1);
        ASSERT_EQ(dt->nanosecond, 1000000);

        parse_fail("d = 1900-02-29\n", -EBADMSG, 1, 5, "no such day");
        parse_fail("d = 2023-04-31\n", -EBADMSG, 1, 5, "no such day");
        parse_fail("t = 12:60:00\n", -EBADMSG, 1, 5, "out of range");
        parse_fail("t = 12:00\n", -EBADMSG, 1, 5, "HH:MM:SS");
        parse_fail("t = 2020-01-01T00:00:00+24:00\n", -EBADMSG, 1, 24, "offset");
        parse_fail("t = 2020-01-01T00:00:00.\n", -EBADMSG, 1, 25, "digits");
}

TEST(tables_and_order) {
        _cleanup_(toml_value_freep) TomlValue *root =
                parse_ok("z = 1\n"
                         "a.b.c = 2\n"
                         "a.b.d = 3\n"
                         "[t]\n"
                         "x = { y = 1, q.r = [1, 'two', 3.0, [], {}] }\n"
                         "[[arr]]\n"
                         "n = 1\n"
                         "[[arr]]\n"
                         "[arr.sub]\n"
                         "n = 2\n"
                         "[x.y.z]\n"
                         "[x]\n");
        ASSERT_EQ(toml_table_size(root), 5);
        ASSERT_STREQ(toml_table_key(root, 0, NULL), "z");
        ASSERT_STREQ(toml_table_key(root, 1, NULL), "a");
        ASSERT_STREQ(toml_table_key(root, 2, NULL), "t");
        ASSERT_STREQ(toml_table_key(root, 3, NULL), "arr");
        ASSERT_STREQ(toml_table_key(root, 4, NULL), "x");
        ASSERT_TRUE(toml_table_value(root, 0) == toml_table_get(root, "z"));

        const TomlValue *b = get(get(root, "a", TOML_TABLE), "b", TOML_TABLE);
        ASSERT_EQ(toml_value_integer(get(b, "c", TOML_INTEGER)), 2);
        ASSERT_EQ(toml_value_integer(get(b, "d", TOML_INTEGER)), 3);

        const TomlValue *q =
                get(get(get(get(root, "t", TOML_TABLE), "x", TOML_TABLE), "q", TOML_TABLE), "r", TOML_ARRAY);
        ASSERT_EQ(toml_array_size(q), 5);
        ASSERT_EQ(toml_value_type(toml_array_get(q, 1)), TOML_STRING);
        ASSERT_EQ(toml_value_type(toml_array_get(q, 2)), TOML_FLOAT);
        ASSERT_EQ(toml_array_size(toml_array_get(q, 3)), 0);
        ASSERT_EQ(toml_table_size(toml_array_get(q, 4)), 0);
        ASSERT_NULL(toml_array_get(q, 5));

        const TomlValue *arr = get(root, "arr", TOML_ARRAY);
        ASSERT_EQ(toml_array_size(arr), 2);
        ASSERT_EQ(toml_value_integer(get(toml_array_get(arr, 0), "n", TOML_INTEGER)), 1);
        ASSERT_EQ(toml_value_integer(get(get(toml_array_get(arr, 1), "sub", TOML_TABLE), "n", TOML_INTEGER)),
                  2);
}

TEST(big_table) {
        /* enough keys to use the hash index; lookups and duplicate detection must still work */
        Buffer b = {};
        for (unsigned i = 0; i < 5000; i++)
                ASSERT_OK(buffer_printf(&b, "k%u = %u\n", i, i));
        ASSERT_OK(buffer_append(&b, "", 1));
        _cleanup_(toml_value_freep) TomlValue *root = parse_ok(b.data);
        ASSERT_EQ(toml_table_size(root), 5000);
        for (unsigned i = 0; i < 5000; i++) {
                char k[16];
                snprintf(k, sizeof(k), "k%u", i);
                ASSERT_EQ(toml_value_integer(get(root, k, TOML_INTEGER)), i);
                ASSERT_STREQ(toml_table_key(root, i, NULL), k);
        }
        ASSERT_NULL(toml_table_get(root, "k5000"));
        b.size--;
        ASSERT_OK(buffer_append(&b, "k4321 = 0\n", 11));
        parse_fail(b.data, -EBADMSG, 5001, 1, "duplicate key 'k4321'");
        buffer_done(&b);
}

TEST(positions) {
        /* columns count characters, not bytes: "é" and "€" are one column each */
        _cleanup_(toml_value_freep) TomlValue *root = parse_ok("# comment\n"
                                                               "  key = \"val\"\n"
                                                               "\"é€\" = 'x'   \t# c\n"
                                                               "[ tbl . 'sub' ]\n"
                                                               "  a.b  =  [ 1,\n"
                                                               "    2 ]\n"
                                                               "[[aot]]\n");
        TomlPos kp;
        const TomlValue *v = toml_table_get_full(root, "key", &kp);
        ASSERT_NOT_NULL(v);
        ASSERT_POS(kp, 2, 3);
        ASSERT_POS(toml_value_pos(v), 2, 9);

        ASSERT_STREQ(toml_table_key(root, 1, &kp), "é€");
        ASSERT_POS(kp, 3, 1);
        ASSERT_POS(toml_value_pos(toml_table_value(root, 1)), 3, 8);
}

TEST(positions_nested) {
        _cleanup_(toml_value_freep) TomlValue *root = parse_ok("[ tbl . 'sub' ]\n"
                                                               "  a.b  =  [ 1,\n"
                                                               "    2 ]\n"
                                                               "[[aot]]\n"
                                                               "m = \"\"\"\n"
                                                               "x\"\"\"   \n"
                                                               "n = 1979-05-27 # é\n"
                                                               "\"é\" = 'ü'\n");
        TomlPos kp;
        const TomlValue *tbl = toml_table_get_full(root, "tbl", &kp);
        ASSERT_POS(kp, 1, 3);
        ASSERT_POS(toml_value_pos(tbl), 1, 3);
        const TomlValue *sub = toml_table_get_full(tbl, "sub", &kp);
        ASSERT_POS(kp, 1, 9);
        ASSERT_POS(toml_value_pos(sub), 1, 9);
        const TomlValue *a = toml_table_get_full(sub, "a", &kp);
        ASSERT_POS(kp, 2, 3);
        const TomlValue *arr = toml_table_get_full(a, "b", &kp);
        ASSERT_POS(kp, 2, 5);
        ASSERT_POS(toml_value_pos(arr), 2, 11);
        ASSERT_POS(toml_value_pos(toml_array_get(arr, 0)), 2, 13);
        ASSERT_POS(toml_value_pos(toml_array_get(arr, 1)), 3, 5);

        const TomlValue *aot = get(root, "aot", TOML_ARRAY);
        const TomlValue *el = toml_array_get(aot, 0);
        ASSERT_POS(toml_value_pos(el), 4, 3);
        const TomlValue *m = toml_table_get_full(el, "m", &kp);
        ASSERT_POS(kp, 5, 1);
        ASSERT_POS(toml_value_pos(m), 5, 5);
        ASSERT_STREQ(toml_value_string(m, NULL), "x");
        const TomlValue *n = toml_table_get_full(el, "n", &kp);
        ASSERT_POS(kp, 7, 1);
        ASSERT_POS(toml_value_pos(n), 7, 5);
        const TomlValue *u = toml_table_get_full(el, "é", &kp);
        ASSERT_POS(kp, 8, 1);
        ASSERT_POS(toml_value_pos(u), 8, 7);
}

TEST(error_messages) {
        parse_fail("a = 1\nb 2\n", -EBADMSG, 2, 3, "expected '=' after key");
        parse_fail("a\n", -EBADMSG, 1, 2, "expected '=' after key");
        parse_fail("a = 1\n  a = 2\n", -EBADMSG, 2, 3, "duplicate key 'a'");
        parse_fail("[t]\nx.y = 1\nx . 'y' = 2\n", -EBADMSG, 3, 5, "duplicate key 'x.y'");
        parse_fail("s = \"ab\\qc\"\n", -EBADMSG, 1, 8, "invalid escape sequence '\\q'");
        parse_fail("s = \"\\u12\"\n", -EBADMSG, 1, 6, "hexadecimal digits");
        parse_fail("s = \"\\uDFFF\"\n", -EBADMSG, 1, 6, "not a Unicode scalar value");
        parse_fail("s = \"\\U00110000\"\n", -EBADMSG, 1, 6, "not a Unicode scalar value");
        parse_fail("s = \"abc\n", -EBADMSG, 1, 5, "unterminated string");
        parse_fail("\n\ns = \"\"\"abc\n\n", -EBADMSG, 3, 5, "unterminated string");
        parse_fail("s = '''a''''''\n", -EBADMSG, 1, 14, "too many quotes");
        parse_fail("s = \"\"\"a \\ b\"\"\"\n", -EBADMSG, 1, 10, "invalid escape");
        parse_fail("a = \n", -EBADMSG, 1, 5, "expected a value");
        parse_fail("a = 1 2\n", -EBADMSG, 1, 7, "expected newline after value");
        parse_fail("[a] b = 1\n", -EBADMSG, 1, 5, "expected newline after table header");
        parse_fail("a = [1 2]\n", -EBADMSG, 1, 8, "expected ',' or ']'");
        parse_fail("a = [1,\n", -EBADMSG, 2, 1, "expected a value");
        parse_fail("a = {b = 1,}\n", -EBADMSG, 1, 12, "trailing comma");
        parse_fail("a = {b = 1\n}\n", -EBADMSG, 1, 11, "same line");
        parse_fail("a = {\nb = 1}\n", -EBADMSG, 1, 6, "newlines are not allowed");
        parse_fail("a = {b = 1,\nc = 1}\n", -EBADMSG, 1, 12, "newlines are not allowed");
        parse_fail("€ = 1\n", -EBADMSG, 1, 1, "bare key");
        parse_fail("a = tru\n", -EBADMSG, 1, 5, "invalid value");
        parse_fail("a = 1__0\n", -EBADMSG, 1, 5, "invalid number");
        parse_fail("a = 01\n", -EBADMSG, 1, 5, "leading zeros");
        parse_fail("a = 1.\n", -EBADMSG, 1, 5, "decimal point");
        parse_fail("a = 1e\n", -EBADMSG, 1, 5, "exponent");
        parse_fail("a = +0x10\n", -EBADMSG, 1, 5, "invalid number");
        parse_fail("a = 0x1g\n", -EBADMSG, 1, 5, "hexadecimal");
        parse_fail("a = 9223372036854775808\n", -EBADMSG, 1, 5, "out of range");
        parse_fail("a = -9223372036854775809\n", -EBADMSG, 1, 5, "out of range");
        parse_fail("a = 0x8000000000000000\n", -EBADMSG, 1, 5, "out of range");
        parse_fail("a = 1e400\n", -EBADMSG, 1, 5, "out of range");
        parse_fail("\"\"\"k\"\"\" = 1\n", -EBADMSG, 1, 1, "multi-line");
        parse_fail("[a]]\n", -EBADMSG, 1, 4, "expected newline");
        parse_fail("[[a]\n", -EBADMSG, 1, 4, "']]'");
        parse_fail("[a\n", -EBADMSG, 1, 3, "']'");
        parse_fail("[]\n", -EBADMSG, 1, 2, "key");
        parse_fail("a = {b = 1", -EBADMSG, 1, 11, "expected '}'");
        parse_fail("a = [1", -EBADMSG, 1, 7, "unterminated array");
        parse_fail("a = 1\n\n  'q\\' = 2 x", -EBADMSG, 3, 12, "found 'x'");

        /* user text in messages is escaped and shortened */
        _cleanup_free_ char *long_key = malloc(300);
        ASSERT_NOT_NULL(long_key);
        memset(long_key, 'k', 300);
        memcpy(long_key, "\"\\t'", 4);
        memcpy(long_key + 100, "\" = 1\n", 6);
        memcpy(long_key + 106, long_key, 106);
        long_key[212] = 0;
        parse_fail(long_key, -EBADMSG, 2, 1, "duplicate key '\\x09\\x27kkk");
        parse_fail(long_key, -EBADMSG, 2, 1, "kkk...'");
}

TEST(redefinitions) {
        parse_fail("[a]\nx = 1\n[a]\n", -EBADMSG, 3, 2, "table 'a' is already defined");
        parse_fail("[a.b]\n[a]\n[a]\n", -EBADMSG, 3, 2, "already defined");
        parse_fail("[[a]]\n[a]\n", -EBADMSG, 2, 2, "array of tables");
        parse_fail("[a]\n[[a]]\n", -EBADMSG, 2, 3, "not an array of tables");
        parse_fail("a = []\n[[a]]\n", -EBADMSG, 2, 3, "static array");
        parse_fail("a = [{}]\n[a.b]\n", -EBADMSG, 2, 2, "static array");
        parse_fail("a = {}\n[a]\n", -EBADMSG, 2, 2, "inline table");
        parse_fail("a = {}\n[a.b]\n", -EBADMSG, 2, 2, "inline table");
        parse_fail("a = {b = {}}\n[[a.b]]\n", -EBADMSG, 2, 3, "inline table");
        parse_fail("a = {}\na.b = 1\n", -EBADMSG, 2, 1, "inline table");
        parse_fail("a = {b = 1, b.c = 2}\n", -EBADMSG, 1, 13, "'b'");
        parse_fail("a = {b.c = 1, b = 2}\n", -EBADMSG, 1, 15, "duplicate key 'b'");
        parse_fail("a.b = 1\n[a]\n", -EBADMSG, 2, 2, "already defined");
        parse_fail("a.b.c = 1\n[a.b]\n", -EBADMSG, 2, 4, "already defined");
        parse_fail("a.b = 1\na.b.c = 2\n", -EBADMSG, 2, 3, "integer");
        parse_fail("a.b = 1\na = 2\n", -EBADMSG, 2, 1, "duplicate key 'a'");
        parse_fail("[a.b.c]\n[a]\nb.c.d = 1\n", -EBADMSG, 3, 1, "defined by a table header");
        parse_fail("[[a.b]]\n[a]\nb.c = 1\n", -EBADMSG, 3, 1, "array");
        parse_fail("x = 1\n[x.y]\n", -EBADMSG, 2, 2, "not a table");
        parse_fail("x = 1\n[x]\n", -EBADMSG, 2, 2, "key 'x' is already defined as integer");
        parse_fail("x = 1\n[[x]]\n", -EBADMSG, 2, 3, "not an array of tables");

        /* and what is allowed */
        TomlValue *v = parse_ok("[a.b.c]\n[a]\nd = 1\n[a.b]\ne = 2\n");
        toml_value_free(v);
        v = parse_ok("[f]\napple.color = 'red'\n[f.apple.texture]\nsmooth = true\n[[f.apple.seeds]]\n");
        toml_value_free(v);
        v = parse_ok("a.b = 1\na.c.d = 2\na.c.e = 3\n[a.x]\n");
        toml_value_free(v);
        v = parse_ok("[[a]]\n[a.b]\n[[a]]\n[a.b]\n[[a.c]]\n");
        toml_value_free(v);
}

TEST(encoding) {
        TomlValue *c = parse_ok("a = 1\r\nb = \"\"\"x\r\ny\"\"\"\r\n");
        ASSERT_STREQ(toml_value_string(toml_table_get(c, "b"), NULL), "x\r\ny");
        toml_value_free(c);
        toml_value_free(parse_ok("a = 1\r\n"));
        parse_fail("a = 1\rb = 2\n", -EBADMSG, 1, 6, "carriage return");
        parse_fail("a = 1 # \x7f\n", -EBADMSG, 1, 9, "control character");
        parse_fail("a = 'x\x01'\n", -EBADMSG, 1, 7, "control character");
        parse_fail("a = \"\xc0\xaf\"\n", -EBADMSG, 1, 6, "invalid UTF-8");         /* overlong '/' */
        parse_fail("a = \"\xed\xa0\x80\"\n", -EBADMSG, 1, 6, "invalid UTF-8");     /* surrogate */
        parse_fail("a = \"\xf4\x90\x80\x80\"\n", -EBADMSG, 1, 6, "invalid UTF-8"); /* > U+10FFFF */
        parse_fail("é = 'é\xff'\n", -EBADMSG, 1, 7, "invalid UTF-8");
        parse_fail("a = 'x\xe2\x82'", -EBADMSG, 1, 7, "invalid UTF-8"); /* truncated at the end */
        parse_fail("\xef\xbb\xbf\xef\xbb\xbf", -EBADMSG, 1, 1, "bare key");
        /* C1 controls and other non-ASCII are fine in strings and comments */
        TomlValue *v = parse_ok("a = \"\xc2\x85\" # \xc2\x9f \xf0\x9f\x98\x80\n");
        toml_value_free(v);
}

TEST(limits_depth) {
        Buffer b = {};
        TomlValue *v;
        TomlError e = {};

        /* 128 nested arrays are fine, 129 are not */
        ASSERT_OK(buffer_append(&b, "a = ", 4));
        for (unsigned i = 0; i < 128; i++)
                ASSERT_OK(buffer_append(&b, "[", 1));
        for (unsigned i = 0; i < 128; i++)
                ASSERT_OK(buffer_append(&b, "]", 1));
        ASSERT_OK(toml_parse(b.data, b.size, &v, NULL));
        toml_value_free(v);
        buffer_done(&b);

        ASSERT_OK(buffer_append(&b, "a = ", 4));
        for (unsigned i = 0; i < 129; i++)
                ASSERT_OK(buffer_append(&b, "[", 1));
        for (unsigned i = 0; i < 129; i++)
                ASSERT_OK(buffer_append(&b, "]", 1));
        ASSERT_ERROR(toml_parse(b.data, b.size, &v, &e), E2BIG);
        ASSERT_TRUE(strstr(e.message, "nesting too deep"));
        ASSERT_EQ(e.pos.line, 1);
        ASSERT_EQ(e.pos.column, 5 + 128);
        toml_error_done(&e);
        buffer_done(&b);

        /* inline tables too, and a huge nesting does not overflow the stack */
        for (unsigned i = 0; i < 100000; i++)
                ASSERT_OK(buffer_append(&b, "a={", 3));
        ASSERT_ERROR(toml_parse(b.data, b.size, &v, &e), E2BIG);
        ASSERT_EQ(e.pos.column, 3 * 128 + 3);
        toml_error_done(&e);
        buffer_done(&b);

        /* table headers: [k1.k2...k128] is fine, 129 parts are not */
        ASSERT_OK(buffer_append(&b, "[k", 2));
        for (unsigned i = 1; i < 128; i++)
                ASSERT_OK(buffer_append(&b, ".k", 2));
        ASSERT_OK(buffer_append(&b, "]\n", 2));
        ASSERT_OK(toml_parse(b.data, b.size, &v, NULL));
        toml_value_free(v);
        b.size -= 2;
        ASSERT_OK(buffer_append(&b, ".k]\n", 4));
        ASSERT_ERROR(toml_parse(b.data, b.size, &v, &e), E2BIG);
        toml_error_done(&e);
        buffer_done(&b);

        /* an array of tables element is one level below its array */
        ASSERT_OK(buffer_append(&b, "[[k", 3));
        for (unsigned i = 1; i < 127; i++)
                ASSERT_OK(buffer_append(&b, ".k", 2));
        ASSERT_OK(buffer_append(&b, "]]\n", 3));
        ASSERT_OK(toml_parse(b.data, b.size, &v, NULL));
        toml_value_free(v);
        b.size -= 3;
        ASSERT_OK(buffer_append(&b, ".k]]\n", 5));
        ASSERT_ERROR(toml_parse(b.data, b.size, &v, &e), E2BIG);
        toml_error_done(&e);
        buffer_done(&b);

        /* dotted keys */
        ASSERT_OK(buffer_append(&b, "k", 1));
        for (unsigned i = 1; i < 129; i++)
                ASSERT_OK(buffer_append(&b, ".k", 2));
        ASSERT_OK(buffer_append(&b, " = 1\n", 5));
        ASSERT_OK(toml_parse(b.data, b.size, &v, NULL));
        toml_value_free(v);
        b.size -= 5;
        ASSERT_OK(buffer_append(&b, ".k = 1\n", 7));
        ASSERT_ERROR(toml_parse(b.data, b.size, &v, &e), E2BIG);
        toml_error_done(&e);
        buffer_done(&b);
}

TEST(limits_size) {
        size_t n = TOML_MAX_DOCUMENT_SIZE + 1;
        _cleanup_free_ char *big = malloc(n);
        TomlValue *v;
        TomlError e = {};

        ASSERT_NOT_NULL(big);
        memset(big, '\n', n);
        ASSERT_ERROR(toml_parse(big, n, &v, &e), E2BIG);
        ASSERT_TRUE(strstr(e.message, "document too large"));
        toml_error_done(&e);
        ASSERT_OK(toml_parse(big, n - 1, &v, NULL));
        toml_value_free(v);

        /* a string one byte over the limit, and one exactly at it */
        size_t len = TOML_MAX_STRING_LENGTH + 1;
        memcpy(big, "s = '", 5);
        memset(big + 5, 'x', len);
        memcpy(big + 5 + len, "'\n", 2);
        ASSERT_ERROR(toml_parse(big, 5 + len + 2, &v, &e), E2BIG);
        ASSERT_TRUE(strstr(e.message, "string too long"));
        toml_error_done(&e);
        memcpy(big + 5 + len - 1, "'\n", 2);
        ASSERT_OK(toml_parse(big, 5 + len + 1, &v, NULL));
        size_t got;
        toml_value_string(toml_table_get(v, "s"), &got);
        ASSERT_EQ(got, TOML_MAX_STRING_LENGTH);
        toml_value_free(v);

        /* escapes count after processing */
        memcpy(big, "s = \"", 5);
        for (size_t i = 0; i < TOML_MAX_STRING_LENGTH / 3 + 1; i++)
                memcpy(big + 5 + i * 6, "\\u20AC", 6); /* 3 bytes each */
        size_t end = 5 + (TOML_MAX_STRING_LENGTH / 3 + 1) * 6;
        memcpy(big + end, "\"\n", 2);
        ASSERT_ERROR(toml_parse(big, end + 2, &v, &e), E2BIG);
        toml_error_done(&e);
}

TEST(no_error_struct) {
        TomlValue *v = (TomlValue *) 0x1;
        ASSERT_ERROR(toml_parse("a = ", 4, &v, NULL), EBADMSG);
        ASSERT_TRUE(v == (TomlValue *) 0x1); /* untouched on failure */
        toml_error_done(NULL);
}

TEST_MAIN()
