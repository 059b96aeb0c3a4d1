/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* TOML 1.0.0 parser: a recursive-descent scanner over the raw bytes that builds the value tree
 * directly. The whole document is checked up front for valid UTF-8 and for control characters
 * (none is allowed anywhere except tab, LF and CR LF), so the scanner itself can treat every byte
 * it meets as a well-formed character and never sees a NUL inside the document: reading past the
 * end yields '\0', which no rule accepts. */

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "alloc-util.h"
#include "macros.h"
#include "string-util.h"
#include "toml.h"

enum {
        /* tables */
        TABLE_EXPLICIT = 1 << 0, /* defined by a [header] or as an element of [[header]] */
        TABLE_IMPLICIT = 1 << 1, /* created as a parent of a [header], not defined yet */
        TABLE_DOTTED = 1 << 2,   /* created and defined by a dotted key */
        TABLE_FROZEN = 1 << 3,   /* an inline table or a table inside one: immutable */
        /* arrays */
        ARRAY_OF_TABLES = 1 << 4, /* created by [[header]]; every other array is static */
};

typedef struct TomlEntry {
        char *key;
        size_t key_len;
        TomlPos key_pos;
        TomlValue *value;
} TomlEntry;

struct TomlValue {
        TomlType type;
        unsigned flags;
        unsigned depth; /* containers: nesting level, the root table is 0 */
        TomlPos pos;
        union {
                struct {
                        char *data;
                        size_t len;
                } string;
                int64_t integer;
                double flt;
                bool boolean;
                TomlDateTime datetime;
                struct {
                        TomlValue **items;
                        size_t n, allocated;
                } array;
                struct {
                        TomlEntry *entries;
                        size_t n, allocated;
                        size_t *index; /* open addressing hash of entry index + 1, 0 = empty slot */
                        size_t index_size;
                } table;
        };
};

/* Tables with more entries than this get a hash index; smaller ones are scanned. */
#define TABLE_INDEX_MIN 8U

typedef struct KeyPart {
        char *s;
        size_t len;
        TomlPos pos;
} KeyPart;

typedef struct Key {
        KeyPart *parts;
        size_t n, allocated;
} Key;

typedef struct Parser {
        const char *p, *end;
        unsigned line;
        const char *line_start;
        /* column cache for the current line: col_ref is at column col_ref_col */
        const char *col_ref;
        unsigned col_ref_col;
        TomlError *error;
        TomlValue *root;
        TomlValue *current; /* the table keyvals go into */
} Parser;

void toml_error_done(TomlError *e) {
        if (!e)
                return;
        e->message = mfree(e->message);
}

static const char *const toml_type_table[_TOML_TYPE_MAX] = {
        [TOML_STRING] = "string",         [TOML_INTEGER] = "integer",
        [TOML_FLOAT] = "float",           [TOML_BOOL] = "bool",
        [TOML_DATETIME] = "datetime",     [TOML_DATETIME_LOCAL] = "datetime-local",
        [TOML_DATE_LOCAL] = "date-local", [TOML_TIME_LOCAL] = "time-local",
        [TOML_ARRAY] = "array",           [TOML_TABLE] = "table",
};

DEFINE_STRING_TABLE_TO_STRING(toml_type, TomlType, _TOML_TYPE_MAX);

/* ---- values ---------------------------------------------------------------------------------- */

static TomlValue *value_new(TomlType type, TomlPos pos) {
        TomlValue *v = new0(TomlValue, 1);
        if (!v)
                return NULL;
        v->type = type;
        v->pos = pos;
        return v;
}

TomlValue *toml_value_free(TomlValue *v) {
        if (!v)
                return NULL;
        switch (v->type) {
        case TOML_STRING:
                free(v->string.data);
                break;
        case TOML_ARRAY:
                for (size_t i = 0; i < v->array.n; i++)
                        toml_value_free(v->array.items[i]);
                free(v->array.items);
                break;
        case TOML_TABLE:
                for (size_t i = 0; i < v->table.n; i++) {
                        free(v->table.entries[i].key);
                        toml_value_free(v->table.entries[i].value);
                }
                free(v->table.entries);
                free(v->table.index);
                break;
        default:
                break;
        }
        return mfree(v);
}

static uint64_t key_hash(const char *s, size_t len) {
        uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */
        for (size_t i = 0; i < len; i++) {
                h ^= (unsigned char) s[i];
                h *= UINT64_C(1099511628211);
        }
        return h;
}

static bool entry_matches(const TomlEntry *e, const char *key, size_t len) {
        return e->key_len == len && memcmp(e->key, key, len) == 0;
}

static void index_insert(size_t *index, size_t size, const TomlEntry *e, size_t i) {
        size_t mask = size - 1;
        for (size_t slot = key_hash(e->key, e->key_len) & mask;; slot = (slot + 1) & mask)
                if (index[slot] == 0) {
                        index[slot] = i + 1;
                        return;
                }
}

static int table_reindex(TomlValue *t, size_t want) {
        size_t size = 16;
        while (size < want * 2)
                size *= 2;
        size_t *index = new0(size_t, size);
        if (!index)
                return -ENOMEM;
        for (size_t i = 0; i < t->table.n; i++)
                index_insert(index, size, &t->table.entries[i], i);
        free(t->table.index);
        t->table.index = index;
        t->table.index_size = size;
        return 0;
}

static TomlEntry *table_find(const TomlValue *t, const char *key, size_t len) {
        assert(t && t->type == TOML_TABLE);
        if (t->table.index) {
                size_t mask = t->table.index_size - 1;
                for (size_t slot = key_hash(key, len) & mask;; slot = (slot + 1) & mask) {
                        size_t i = t->table.index[slot];
                        if (i == 0)
                                return NULL;
                        if (entry_matches(&t->table.entries[i - 1], key, len))
                                return &t->table.entries[i - 1];
                }
        }
        for (size_t i = 0; i < t->table.n; i++)
                if (entry_matches(&t->table.entries[i], key, len))
                        return &t->table.entries[i];
        return NULL;
}

/* Adds key → value; takes ownership of both on success only. The key must not exist yet. */
static int table_add(TomlValue *t, char *key, size_t key_len, TomlPos key_pos, TomlValue *value) {
        assert(t && t->type == TOML_TABLE);
        if (GREEDY_REALLOC(t->table.entries, t->table.allocated, t->table.n + 1, 4) < 0)
                return -ENOMEM;
        size_t i = t->table.n;
        t->table.entries[i] = (TomlEntry){
                .key = key,
                .key_len = key_len,
                .key_pos = key_pos,
                .value = value,
        };
        if (i + 1 > TABLE_INDEX_MIN && (i + 1) * 2 > t->table.index_size) {
                t->table.n++; /* the index is built over all entries, the new one included */
                int r = table_reindex(t, i + 1);
                if (r < 0) {
                        t->table.n--;
                        return r;
                }
                return 0;
        }
        if (t->table.index)
                index_insert(t->table.index, t->table.index_size, &t->table.entries[i], i);
        t->table.n++;
        return 0;
}

static int array_append(TomlValue *a, TomlValue *v) {
        assert(a && a->type == TOML_ARRAY);
        if (GREEDY_REALLOC(a->array.items, a->array.allocated, a->array.n + 1, 4) < 0)
                return -ENOMEM;
        a->array.items[a->array.n++] = v;
        return 0;
}

static void table_freeze(TomlValue *t) {
        t->flags |= TABLE_FROZEN;
        for (size_t i = 0; i < t->table.n; i++) {
                TomlValue *v = t->table.entries[i].value;
                if (v->type == TOML_TABLE && !(v->flags & TABLE_FROZEN))
                        table_freeze(v);
        }
}

/* ---- positions and errors -------------------------------------------------------------------- */

static unsigned count_chars(const char *from, const char *to) {
        unsigned n = 0;
        for (const char *c = from; c < to; c++)
                if (((unsigned char) *c & 0xc0) != 0x80)
                        n++;
        return n;
}

/* Position of a pointer on the current line. */
static TomlPos pos_at(Parser *P, const char *at) {
        if (at < P->line_start)
                at = P->line_start;
        if (P->col_ref < P->line_start || at < P->col_ref) {
                P->col_ref = P->line_start;
                P->col_ref_col = 1;
        }
        P->col_ref_col += count_chars(P->col_ref, at);
        P->col_ref = at;
        return (TomlPos){ .line = P->line, .column = P->col_ref_col };
}

static TomlPos pos_here(Parser *P) {
        return pos_at(P, P->p);
}

_printf_(4, 0) static int fail_pos_va(Parser *P, TomlPos pos, int r, const char *fmt, va_list ap) {
        if (P->error && !P->error->message) {
                char *m = NULL;
                if (vasprintf(&m, fmt, ap) < 0)
                        m = NULL;
                P->error->pos = pos;
                P->error->message = m;
        }
        return r;
}

_printf_(4, 5) static int fail_pos(Parser *P, TomlPos pos, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        r = fail_pos_va(P, pos, r, fmt, ap);
        va_end(ap);
        return r;
}

_printf_(4, 5) static int fail_at(Parser *P, const char *at, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        r = fail_pos_va(P, pos_at(P, at), r, fmt, ap);
        va_end(ap);
        return r;
}

#define fail(P, ...) fail_at((P), (P)->p, -EBADMSG, __VA_ARGS__)
#define fail_oom(P) fail_at((P), (P)->p, -ENOMEM, "out of memory")

/* A printable rendering of user text for messages: at most 64 characters, control characters and
 * quotes escaped. Never NULL. */
static char *display_text(const char *s, size_t len) {
        Buffer b = {};
        size_t shown = 0;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = s[i];
                char tmp[8];
                int r;
                if (shown >= 64) {
                        r = buffer_append(&b, "...", 3);
                        if (r < 0)
                                break;
                        break;
                }
                if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') {
                        snprintf(tmp, sizeof(tmp), "\\x%02x", c);
                        r = buffer_append(&b, tmp, strlen(tmp));
                } else
                        r = buffer_append(&b, &s[i], 1);
                if (r < 0)
                        break;
                if ((c & 0xc0) != 0x80)
                        shown++;
        }
        if (!b.data || buffer_append(&b, "", 0) < 0) {
                buffer_done(&b);
                return strdup("") ?: (char *) "";
        }
        return b.data;
}

/* The dotted path of key parts 0..upto, for messages */
static char *display_key(const Key *k, size_t upto) {
        Buffer b = {};
        for (size_t i = 0; i <= upto && i < k->n; i++) {
                _cleanup_free_ char *d = display_text(k->parts[i].s, k->parts[i].len);
                if ((i > 0 && buffer_append(&b, ".", 1) < 0) || buffer_append(&b, d, strlen(d)) < 0)
                        break;
        }
        if (!b.data)
                return strdup("");
        return b.data;
}

/* ---- input checks ---------------------------------------------------------------------------- */

static int check_input(Parser *P) {
        const unsigned char *s = (const unsigned char *) P->p, *end = (const unsigned char *) P->end;
        unsigned line = 1;
        const unsigned char *line_start = s;

        while (s < end) {
                uint32_t cp;
                size_t n = utf8_decode((const char *) s, (size_t) (end - s), &cp);
                const char *problem = NULL;

                if (n == 0)
                        problem = "invalid UTF-8";
                else if (cp == '\r' && (s + 1 >= end || s[1] != '\n'))
                        problem = "carriage return not followed by a line feed";
                else if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0x7f)
                        problem = "control character not allowed";
                if (problem) {
                        TomlPos pos = {
                                .line = line,
                                .column = 1 + count_chars((const char *) line_start, (const char *) s),
                        };
                        if (n == 0)
                                return fail_pos(P, pos, -EBADMSG, "%s (byte 0x%02x)", problem, s[0]);
                        return fail_pos(P, pos, -EBADMSG, "%s (U+%04X)", problem, (unsigned) cp);
                }
                s += n;
                if (cp == '\n') {
                        line++;
                        line_start = s;
                }
        }
        return 0;
}

/* The character at P->p for messages: 'x' for printable ASCII, else U+XXXX */
static const char *describe_char(const Parser *P, char buf[static 16]) {
        uint32_t cp = 0;
        if (P->p >= P->end)
                return "end of file";
        if ((unsigned char) *P->p > 0x20 && (unsigned char) *P->p < 0x7f)
                snprintf(buf, 16, "'%c'", *P->p);
        else if (utf8_decode(P->p, (size_t) (P->end - P->p), &cp) > 0)
                snprintf(buf, 16, "U+%04X", (unsigned) cp);
        else
                snprintf(buf, 16, "byte 0x%02x", (unsigned char) *P->p);
        return buf;
}

/* ---- scanning -------------------------------------------------------------------------------- */

static char at(const Parser *P, size_t i) {
        return (size_t) (P->end - P->p) > i ? P->p[i] : '\0';
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_bare_key_char(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-';
}

/* At a newline (LF or CR LF)? Returns its length. */
static size_t newline_len(const Parser *P) {
        if (at(P, 0) == '\n')
                return 1;
        if (at(P, 0) == '\r' && at(P, 1) == '\n')
                return 2;
        return 0;
}

static void consume_newline(Parser *P, size_t len) {
        P->p += len;
        P->line++;
        P->line_start = P->p;
        P->col_ref = P->p;
        P->col_ref_col = 1;
}

static void skip_ws(Parser *P) {
        while (P->p < P->end && (*P->p == ' ' || *P->p == '\t'))
                P->p++;
}

static void skip_comment(Parser *P) {
        if (at(P, 0) != '#')
                return;
        while (P->p < P->end && *P->p != '\n' && *P->p != '\r')
                P->p++;
}

/* Whitespace, comments and newlines, as allowed inside arrays */
static void skip_ws_comments_newlines(Parser *P) {
        for (;;) {
                size_t n;
                skip_ws(P);
                skip_comment(P);
                n = newline_len(P);
                if (n == 0)
                        return;
                consume_newline(P, n);
        }
}

/* After a keyval or header: whitespace, an optional comment, then a newline or the end. */
static int expect_line_end(Parser *P, const char *what) {
        size_t n;
        skip_ws(P);
        skip_comment(P);
        if (P->p >= P->end)
                return 0;
        n = newline_len(P);
        if (n == 0)
                return fail(P, "expected newline after %s, found %s", what, describe_char(P, (char[16]){}));
        consume_newline(P, n);
        return 0;
}

/* ---- strings --------------------------------------------------------------------------------- */

static int buf_add(Parser *P, Buffer *b, const char *s, size_t len) {
        if (b->size + len > TOML_MAX_STRING_LENGTH)
                return fail_at(P, P->p, -E2BIG, "string too long (limit %u bytes)", TOML_MAX_STRING_LENGTH);
        if (buffer_append(b, s, len) < 0)
                return fail_oom(P);
        return 0;
}

static int hex_value(char c) {
        if (is_digit(c))
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* At a backslash inside a basic string. */
static int parse_escape(Parser *P, Buffer *b, bool multiline) {
        const char *start = P->p;
        char c = at(P, 1);
        const char *simple;

        switch (c) {
        case 'b':
                simple = "\b";
                break;
        case 't':
                simple = "\t";
                break;
        case 'n':
                simple = "\n";
                break;
        case 'f':
                simple = "\f";
                break;
        case 'r':
                simple = "\r";
                break;
        case '"':
                simple = "\"";
                break;
        case '\\':
                simple = "\\";
                break;
        case 'u':
        case 'U': {
                unsigned digits = c == 'u' ? 4 : 8;
                uint32_t cp = 0;
                char out[4];
                size_t n;
                for (unsigned i = 0; i < digits; i++) {
                        int h = hex_value(at(P, 2 + i));
                        if (h < 0)
                                return fail_at(P, start, -EBADMSG,
                                               "invalid unicode escape: '\\%c' needs %u hexadecimal digits",
                                               c, digits);
                        cp = (cp << 4) | (uint32_t) h;
                }
                n = utf8_encode(cp, out);
                if (n == 0)
                        return fail_at(P, start, -EBADMSG,
                                       "invalid unicode escape '\\%c%0*X': not a Unicode scalar value", c,
                                       (int) digits, (unsigned) cp);
                P->p += 2 + digits;
                return buf_add(P, b, out, n);
        }
        default:
                if (multiline && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
                        /* line ending backslash: only whitespace may follow it on its line */
                        P->p++;
                        skip_ws(P);
                        if (newline_len(P) == 0)
                                return fail_at(P, start, -EBADMSG,
                                               "invalid escape sequence: '\\' followed by whitespace must "
                                               "end the line");
                        for (;;) {
                                size_t n = newline_len(P);
                                if (n > 0)
                                        consume_newline(P, n);
                                else if (at(P, 0) == ' ' || at(P, 0) == '\t')
                                        P->p++;
                                else
                                        return 0;
                        }
                }
                if (c > 0x20 && c < 0x7f)
                        return fail_at(P, start, -EBADMSG, "invalid escape sequence '\\%c'", c);
                return fail_at(P, start, -EBADMSG, "invalid escape sequence");
        }
        P->p += 2;
        return buf_add(P, b, simple, 1);
}

/* At the opening quote of any of the four string kinds. Returns a malloc'ed NUL-terminated string and
 * its length (which may contain NULs). */
static int parse_string(Parser *P, bool allow_multiline, char **ret, size_t *ret_len) {
        TomlPos start_pos = pos_here(P);
        char q = *P->p;
        bool basic = q == '"';
        bool multiline = at(P, 1) == q && at(P, 2) == q;
        Buffer b = {};
        int r;

        assert(IN_SET(q, '"', '\''));

        if (multiline) {
                size_t n;
                if (!allow_multiline)
                        return fail(P, "multi-line strings are not allowed as keys");
                P->p += 3;
                /* a newline right after the opening delimiter is trimmed */
                n = newline_len(P);
                if (n > 0)
                        consume_newline(P, n);
        } else
                P->p++;

        for (;;) {
                const char *run = P->p;
                size_t n;

                /* plain characters, copied in one go */
                while (P->p < P->end && *P->p != q && *P->p != '\n' && *P->p != '\r' &&
                       !(basic && *P->p == '\\'))
                        P->p++;
                if (P->p > run) {
                        r = buf_add(P, &b, run, P->p - run);
                        if (r < 0)
                                goto fail;
                }

                if (P->p >= P->end) {
                        r = fail_pos(P, start_pos, -EBADMSG, "unterminated string");
                        goto fail;
                }
                if (*P->p == q) {
                        if (!multiline) {
                                P->p++;
                                break;
                        }
                        n = 0;
                        while (at(P, n) == q)
                                n++;
                        if (n < 3) {
                                r = buf_add(P, &b, P->p, n);
                                if (r < 0)
                                        goto fail;
                                P->p += n;
                                continue;
                        }
                        /* up to two quotes right before the closing delimiter belong to the string */
                        if (n > 5) {
                                r = fail_at(P, P->p + 5, -EBADMSG,
                                            "too many quotes at the end of a multi-line string");
                                goto fail;
                        }
                        r = buf_add(P, &b, P->p, n - 3);
                        if (r < 0)
                                goto fail;
                        P->p += n;
                        break;
                }
                n = newline_len(P);
                if (n > 0) {
                        if (!multiline) {
                                r = fail_pos(P, start_pos, -EBADMSG,
                                             "unterminated string (newline before the closing quote)");
                                goto fail;
                        }
                        r = buf_add(P, &b, P->p, n); /* kept as written, LF or CR LF */
                        if (r < 0)
                                goto fail;
                        consume_newline(P, n);
                        continue;
                }
                if (*P->p == '\\') {
                        r = parse_escape(P, &b, multiline);
                        if (r < 0)
                                goto fail;
                        continue;
                }
                /* a CR not followed by LF was rejected up front */
                r = fail(P, "unexpected character in string");
                goto fail;
        }

        /* NUL-terminate; the terminator is not part of the length */
        if (buffer_append(&b, "", 1) < 0) {
                r = fail_oom(P);
                goto fail;
        }
        *ret_len = b.size - 1;
        *ret = b.data;
        return 0;

fail:
        buffer_done(&b);
        return r;
}

/* ---- keys ------------------------------------------------------------------------------------ */

static void key_done(Key *k) {
        for (size_t i = 0; i < k->n; i++)
                free(k->parts[i].s);
        k->parts = mfree(k->parts);
        k->n = k->allocated = 0;
}

static int parse_simple_key(Parser *P, KeyPart *ret) {
        TomlPos pos = pos_here(P);
        char c = at(P, 0);
        char *s;
        size_t len;
        int r;

        if (c == '"' || c == '\'') {
                r = parse_string(P, false, &s, &len);
                if (r < 0)
                        return r;
        } else if (is_bare_key_char(c)) {
                const char *start = P->p;
                while (is_bare_key_char(at(P, 0)))
                        P->p++;
                len = P->p - start;
                s = strndup(start, len);
                if (!s)
                        return fail_oom(P);
        } else if (c == '\0' || c == '\n' || c == '\r')
                return fail(P, "expected a key");
        else if (c == '=')
                return fail(P, "expected a key before '='");
        else if ((unsigned char) c >= 0x80)
                return fail(P, "invalid character in bare key (quote keys with non-ASCII characters)");
        else
                return fail(P, "invalid character %s in key", describe_char(P, (char[16]){}));

        *ret = (KeyPart){ .s = s, .len = len, .pos = pos };
        return 0;
}

/* key = simple-key *( ws '.' ws simple-key ), with surrounding whitespace */
static int parse_key(Parser *P, Key *ret) {
        Key k = {};
        int r;

        for (;;) {
                KeyPart part;
                skip_ws(P);
                if (GREEDY_REALLOC(k.parts, k.allocated, k.n + 1, 4) < 0) {
                        r = fail_oom(P);
                        goto fail;
                }
                r = parse_simple_key(P, &part);
                if (r < 0)
                        goto fail;
                k.parts[k.n++] = part;
                skip_ws(P);
                if (at(P, 0) != '.')
                        break;
                P->p++;
                if (k.n > TOML_MAX_DEPTH) {
                        r = fail_at(P, P->p, -E2BIG, "key has too many parts (nesting limit %u)",
                                    TOML_MAX_DEPTH);
                        goto fail;
                }
        }
        *ret = k;
        return 0;
fail:
        key_done(&k);
        return r;
}

/* ---- containers in the tree ------------------------------------------------------------------ */

static int new_container(Parser *P, TomlType type, TomlPos pos, unsigned parent_depth, TomlValue **ret) {
        TomlValue *v;
        if (parent_depth + 1 > TOML_MAX_DEPTH)
                return fail_pos(P, pos, -E2BIG, "nesting too deep (limit %u levels)", TOML_MAX_DEPTH);
        v = value_new(type, pos);
        if (!v)
                return fail_pos(P, pos, -ENOMEM, "out of memory");
        v->depth = parent_depth + 1;
        *ret = v;
        return 0;
}

/* Adds a new table or array under key part i of k into t; takes the key string from k on success. */
static int add_container(Parser *P, TomlValue *t, Key *k, size_t i, TomlType type, unsigned flags,
                         TomlValue **ret) {
        TomlValue *v;
        int r;

        r = new_container(P, type, k->parts[i].pos, t->depth, &v);
        if (r < 0)
                return r;
        v->flags = flags;
        r = table_add(t, k->parts[i].s, k->parts[i].len, k->parts[i].pos, v);
        if (r < 0) {
                toml_value_free(v);
                return fail_pos(P, k->parts[i].pos, r, "out of memory");
        }
        k->parts[i].s = NULL;
        *ret = v;
        return 0;
}

/* Walks the parent parts (all but the last) of a [header] or [[header]] key from the root, creating
 * implicit tables. Returns the table the last part goes into. */
static int header_walk(Parser *P, Key *k, TomlValue **ret) {
        TomlValue *t = P->root;
        int r;

        for (size_t i = 0; i + 1 < k->n; i++) {
                TomlEntry *e = table_find(t, k->parts[i].s, k->parts[i].len);
                if (!e) {
                        r = add_container(P, t, k, i, TOML_TABLE, TABLE_IMPLICIT, &t);
                        if (r < 0)
                                return r;
                        continue;
                }
                TomlValue *v = e->value;
                if (v->type == TOML_TABLE) {
                        if (v->flags & TABLE_FROZEN) {
                                _cleanup_free_ char *d = display_key(k, i);
                                return fail_pos(P, k->parts[i].pos, -EBADMSG,
                                                "cannot extend inline table '%s' with a table header", d);
                        }
                        t = v;
                } else if (v->type == TOML_ARRAY && (v->flags & ARRAY_OF_TABLES)) {
                        assert(v->array.n > 0);
                        t = v->array.items[v->array.n - 1];
                } else {
                        _cleanup_free_ char *d = display_key(k, i);
                        if (v->type == TOML_ARRAY)
                                return fail_pos(P, k->parts[i].pos, -EBADMSG,
                                                "cannot extend static array '%s' with a table header", d);
                        return fail_pos(P, k->parts[i].pos, -EBADMSG,
                                        "key '%s' is already defined as %s, not a table", d,
                                        toml_type_to_string(v->type));
                }
        }
        *ret = t;
        return 0;
}

static int parse_table_header(Parser *P) {
        _cleanup_(key_done) Key k = {};
        bool array = at(P, 1) == '[';
        TomlValue *t = NULL, *v;
        TomlEntry *e;
        KeyPart *last;
        int r;

        P->p += array ? 2 : 1;
        r = parse_key(P, &k);
        if (r < 0)
                return r;
        if (array) {
                if (at(P, 0) != ']' || at(P, 1) != ']')
                        return fail(P, "expected ']]' at the end of an array of tables header");
                P->p += 2;
        } else {
                if (at(P, 0) != ']')
                        return fail(P, "expected ']' at the end of a table header");
                P->p++;
        }

        r = header_walk(P, &k, &t);
        if (r < 0)
                return r;

        last = &k.parts[k.n - 1];
        e = table_find(t, last->s, last->len);
        if (!array) {
                if (!e)
                        return add_container(P, t, &k, k.n - 1, TOML_TABLE, TABLE_EXPLICIT, &P->current);
                v = e->value;
                if (v->type == TOML_TABLE && !(v->flags & (TABLE_EXPLICIT | TABLE_DOTTED | TABLE_FROZEN))) {
                        /* created as the parent of an earlier header: now it gets defined */
                        v->flags = (v->flags & ~TABLE_IMPLICIT) | TABLE_EXPLICIT;
                        P->current = v;
                        return 0;
                }
                _cleanup_free_ char *d = display_key(&k, k.n - 1);
                if (v->type == TOML_TABLE && (v->flags & TABLE_FROZEN))
                        return fail_pos(P, last->pos, -EBADMSG, "cannot redefine inline table '%s'", d);
                if (v->type == TOML_TABLE)
                        return fail_pos(P, last->pos, -EBADMSG, "table '%s' is already defined", d);
                if (v->type == TOML_ARRAY && (v->flags & ARRAY_OF_TABLES))
                        return fail_pos(P, last->pos, -EBADMSG,
                                        "'%s' is already defined as an array of tables", d);
                return fail_pos(P, last->pos, -EBADMSG, "key '%s' is already defined as %s", d,
                                toml_type_to_string(v->type));
        }

        if (!e) {
                r = add_container(P, t, &k, k.n - 1, TOML_ARRAY, ARRAY_OF_TABLES, &v);
                if (r < 0)
                        return r;
        } else {
                v = e->value;
                if (v->type != TOML_ARRAY || !(v->flags & ARRAY_OF_TABLES)) {
                        _cleanup_free_ char *d = display_key(&k, k.n - 1);
                        if (v->type == TOML_ARRAY)
                                return fail_pos(P, last->pos, -EBADMSG, "cannot append to static array '%s'",
                                                d);
                        return fail_pos(P, last->pos, -EBADMSG,
                                        "key '%s' is already defined as %s, not an array of tables", d,
                                        toml_type_to_string(v->type));
                }
        }

        TomlValue *element;
        r = new_container(P, TOML_TABLE, last->pos, v->depth, &element);
        if (r < 0)
                return r;
        element->flags = TABLE_EXPLICIT;
        r = array_append(v, element);
        if (r < 0) {
                toml_value_free(element);
                return fail_pos(P, last->pos, r, "out of memory");
        }
        P->current = element;
        return 0;
}

/* ---- scalar values --------------------------------------------------------------------------- */

static int digits_value(const char *s, unsigned n) {
        int v = 0;
        for (unsigned i = 0; i < n; i++) {
                if (!is_digit(s[i]))
                        return -1;
                v = v * 10 + (s[i] - '0');
        }
        return v;
}

static bool is_leap_year(int y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m) {
        static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

/* HH:MM:SS[.fraction] at P->p */
static int parse_time(Parser *P, TomlDateTime *dt) {
        const char *s = P->p;
        if (at(P, 2) != ':' || at(P, 5) != ':')
                return fail(P, "invalid time (expected HH:MM:SS)");
        dt->hour = digits_value(s, 2);
        dt->minute = digits_value(s + 3, 2);
        dt->second = at(P, 6) && at(P, 7) ? digits_value(s + 6, 2) : -1;
        if (dt->hour < 0 || dt->minute < 0 || dt->second < 0)
                return fail(P, "invalid time (expected HH:MM:SS)");
        if (dt->hour > 23 || dt->minute > 59 || dt->second > 60)
                return fail(P, "invalid time '%.8s' (out of range)", s);
        P->p += 8;
        if (at(P, 0) == '.') {
                unsigned n = 0;
                P->p++;
                if (!is_digit(at(P, 0)))
                        return fail(P, "expected digits after the decimal point of a time");
                dt->nanosecond = 0;
                while (is_digit(at(P, 0))) {
                        if (n < 9) {
                                dt->nanosecond = dt->nanosecond * 10 + (uint32_t) (*P->p - '0');
                                n++;
                        }
                        P->p++;
                }
                for (; n < 9; n++)
                        dt->nanosecond *= 10;
        }
        dt->has_time = true;
        return 0;
}

static int parse_datetime(Parser *P, TomlValue **ret) {
        TomlPos pos = pos_here(P);
        TomlDateTime dt = {};
        TomlType type;
        TomlValue *v;
        int r;

        if (at(P, 2) == ':') {
                r = parse_time(P, &dt);
                if (r < 0)
                        return r;
                type = TOML_TIME_LOCAL;
        } else {
                const char *s = P->p;
                dt.year = digits_value(s, 4);
                dt.month = at(P, 4) == '-' && at(P, 5) && at(P, 6) ? digits_value(s + 5, 2) : -1;
                dt.day = at(P, 7) == '-' && at(P, 8) && at(P, 9) ? digits_value(s + 8, 2) : -1;
                if (dt.year < 0 || dt.month < 0 || dt.day < 0)
                        return fail(P, "invalid date (expected YYYY-MM-DD)");
                if (dt.month < 1 || dt.month > 12 || dt.day < 1 || dt.day > days_in_month(dt.year, dt.month))
                        return fail(P, "invalid date '%.10s' (no such day)", s);
                dt.has_date = true;
                P->p += 10;
                type = TOML_DATE_LOCAL;

                /* a time follows after 'T' or after a space when the next thing looks like a time */
                if (IN_SET(at(P, 0), 'T', 't') ||
                    (at(P, 0) == ' ' && is_digit(at(P, 1)) && is_digit(at(P, 2)) && at(P, 3) == ':')) {
                        P->p++;
                        r = parse_time(P, &dt);
                        if (r < 0)
                                return r;
                        type = TOML_DATETIME_LOCAL;
                        if (IN_SET(at(P, 0), 'Z', 'z')) {
                                P->p++;
                                dt.has_offset = true;
                                type = TOML_DATETIME;
                        } else if (IN_SET(at(P, 0), '+', '-')) {
                                int sign = at(P, 0) == '-' ? -1 : 1;
                                int h = -1, m = -1;
                                if (at(P, 3) == ':' && at(P, 4) && at(P, 5)) {
                                        h = digits_value(P->p + 1, 2);
                                        m = digits_value(P->p + 4, 2);
                                }
                                if (h < 0 || m < 0)
                                        return fail(P, "invalid time offset (expected +HH:MM or -HH:MM)");
                                if (h > 23 || m > 59)
                                        return fail(P, "invalid time offset '%.6s' (out of range)", P->p);
                                dt.offset_minutes = sign * (h * 60 + m);
                                dt.has_offset = true;
                                P->p += 6;
                                type = TOML_DATETIME;
                        }
                }
        }

        v = value_new(type, pos);
        if (!v)
                return fail_oom(P);
        v->datetime = dt;
        *ret = v;
        return 0;
}

/* digits in base with single underscores between them; returns the number of characters or -1 */
static ssize_t digit_run(const char *s, size_t n, unsigned base) {
        size_t i = 0;
        for (;;) {
                int d = i < n ? hex_value(s[i]) : -1;
                if (d < 0 || (unsigned) d >= base)
                        return -1;
                while (i < n) {
                        d = hex_value(s[i]);
                        if (d < 0 || (unsigned) d >= base)
                                break;
                        i++;
                }
                if (i < n && s[i] == '_') {
                        i++;
                        continue; /* a digit must follow */
                }
                return (ssize_t) i;
        }
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void) {
        c_locale = newlocale(LC_ALL_MASK, "C", (locale_t) 0);
}

/* The text of a number for messages: at most its first 64 bytes */
#define NUMBER_TEXT(s, n) (int) MIN((n), (size_t) 64), (s)

/* "inf" and "nan" after the sign, if that is all there is */
static bool parse_special_float(const char *s, size_t n, bool neg, double *ret) {
        if (n != 3 || (memcmp(s, "inf", 3) != 0 && memcmp(s, "nan", 3) != 0))
                return false;
        if (s[0] == 'i')
                *ret = neg ? -INFINITY : INFINITY;
        else
                *ret = neg ? -NAN : NAN;
        return true;
}

/* "0x…", "0o…", "0b…" (no sign): digits of the base with single underscores between them */
static int parse_based_integer(Parser *P, const char *s, size_t n, int64_t *ret) {
        unsigned base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
        uint64_t u = 0;
        ssize_t k;

        k = digit_run(s + 2, n - 2, base);
        if (k < 0 || (size_t) k != n - 2)
                return fail(P, "invalid %s integer '%.*s'",
                            base == 16          ? "hexadecimal"
                                    : base == 8 ? "octal"
                                                : "binary",
                            NUMBER_TEXT(s, n));
        for (size_t j = 2; j < n; j++) {
                if (s[j] == '_')
                        continue;
                uint64_t d = (uint64_t) hex_value(s[j]);
                if (u > ((uint64_t) INT64_MAX - d) / base)
                        return fail(P, "integer '%.*s' out of range (64-bit signed)", NUMBER_TEXT(s, n));
                u = u * base + d;
        }
        *ret = (int64_t) u;
        return 0;
}

/* Checks the decimal syntax from int_start (after the sign): integer part, optional fraction, optional
 * exponent. Returns whether it is a float. */
static int scan_decimal(Parser *P, const char *s, size_t n, size_t int_start, bool *ret_is_float) {
        size_t i = int_start;
        bool is_float = false;
        ssize_t k;

        k = digit_run(s + i, n - i, 10);
        if (k < 0)
                return fail(P, "invalid number '%.*s'", NUMBER_TEXT(s, n));
        i += k;
        if (s[int_start] == '0' && k > 1)
                return fail(P, "invalid number '%.*s': leading zeros are not allowed", NUMBER_TEXT(s, n));
        if (i < n && s[i] == '.') {
                i++;
                k = digit_run(s + i, n - i, 10);
                if (k < 0)
                        return fail(P, "invalid float '%.*s': digits must follow the decimal point",
                                    NUMBER_TEXT(s, n));
                i += k;
                is_float = true;
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < n && (s[i] == '+' || s[i] == '-'))
                        i++;
                k = digit_run(s + i, n - i, 10);
                if (k < 0)
                        return fail(P, "invalid float '%.*s': bad exponent", NUMBER_TEXT(s, n));
                i += k;
                is_float = true;
        }
        if (i != n)
                return fail(P, "invalid number '%.*s'", NUMBER_TEXT(s, n));
        *ret_is_float = is_float;
        return 0;
}

/* A checked decimal float, underscores dropped, converted in the C locale */
static int parse_decimal_float(Parser *P, const char *s, size_t n, double *ret) {
        _cleanup_free_ char *clean = new (char, n + 1);
        size_t m = 0;
        char *end;
        double d;

        if (!clean)
                return fail_oom(P);
        for (size_t j = 0; j < n; j++)
                if (s[j] != '_')
                        clean[m++] = s[j];
        clean[m] = '\0';
        if (pthread_once(&c_locale_once, c_locale_init) != 0 || c_locale == (locale_t) 0)
                return fail_oom(P);
        errno = 0;
        d = strtod_l(clean, &end, c_locale);
        if (end != clean + m)
                return fail(P, "invalid float '%.*s'", NUMBER_TEXT(s, n));
        if (errno == ERANGE && isinf(d))
                return fail(P, "float '%.*s' out of range", NUMBER_TEXT(s, n));
        *ret = d;
        return 0;
}

/* A checked decimal integer whose digits start at int_start; INT64_MIN only with a minus sign */
static int parse_decimal_integer(Parser *P, const char *s, size_t n, size_t int_start, bool neg,
                                 int64_t *ret) {
        uint64_t u = 0, limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;

        for (size_t j = int_start; j < n; j++) {
                if (s[j] == '_')
                        continue;
                uint64_t d = (uint64_t) (s[j] - '0');
                if (u > (limit - d) / 10)
                        return fail(P, "integer '%.*s' out of range (64-bit signed)", NUMBER_TEXT(s, n));
                u = u * 10 + d;
        }
        *ret = neg ? (int64_t) (0 - u) : (int64_t) u;
        return 0;
}

static int parse_number(Parser *P, TomlValue **ret) {
        TomlPos pos = pos_here(P);
        const char *s = P->p, *e = P->p;
        size_t n, i = 0;
        bool neg = false, is_float = false;
        int64_t integer = 0;
        double flt = 0;
        TomlValue *v;
        int r;

        while (e < P->end && (is_bare_key_char(*e) || *e == '+' || *e == '.'))
                e++;
        n = e - s;

        if (s[0] == '+' || s[0] == '-') {
                neg = s[0] == '-';
                i++;
        }

        if (parse_special_float(s + i, n - i, neg, &flt))
                is_float = true;
        else if (i == 0 && n > 2 && s[0] == '0' && IN_SET(s[1], 'x', 'o', 'b')) {
                r = parse_based_integer(P, s, n, &integer);
                if (r < 0)
                        return r;
        } else {
                r = scan_decimal(P, s, n, i, &is_float);
                if (r < 0)
                        return r;
                r = is_float ? parse_decimal_float(P, s, n, &flt)
                             : parse_decimal_integer(P, s, n, i, neg, &integer);
                if (r < 0)
                        return r;
        }

        v = value_new(is_float ? TOML_FLOAT : TOML_INTEGER, pos);
        if (!v)
                return fail_oom(P);
        if (is_float)
                v->flt = flt;
        else
                v->integer = integer;
        P->p = e;
        *ret = v;
        return 0;
}

/* ---- compound values ------------------------------------------------------------------------- */

static int parse_value(Parser *P, unsigned parent_depth, TomlValue **ret);
static int parse_keyval(Parser *P, TomlValue *table);

static int parse_array(Parser *P, unsigned parent_depth, TomlValue **ret) {
        _cleanup_(toml_value_freep) TomlValue *a = NULL;
        int r;

        r = new_container(P, TOML_ARRAY, pos_here(P), parent_depth, &a);
        if (r < 0)
                return r;
        P->p++;
        for (;;) {
                TomlValue *v;
                skip_ws_comments_newlines(P);
                if (at(P, 0) == ']')
                        break;
                r = parse_value(P, a->depth, &v);
                if (r < 0)
                        return r;
                r = array_append(a, v);
                if (r < 0) {
                        toml_value_free(v);
                        return fail_oom(P);
                }
                skip_ws_comments_newlines(P);
                if (at(P, 0) == ',') {
                        P->p++;
                        continue;
                }
                if (at(P, 0) == ']')
                        break;
                if (P->p >= P->end)
                        return fail(P, "unterminated array (expected ']')");
                return fail(P, "expected ',' or ']' after an array element, found %s",
                            describe_char(P, (char[16]){}));
        }
        P->p++;
        *ret = TAKE_PTR(a);
        return 0;
}

static int parse_inline_table(Parser *P, unsigned parent_depth, TomlValue **ret) {
        _cleanup_(toml_value_freep) TomlValue *t = NULL;
        int r;

        r = new_container(P, TOML_TABLE, pos_here(P), parent_depth, &t);
        if (r < 0)
                return r;
        P->p++;
        skip_ws(P);
        if (at(P, 0) != '}')
                for (;;) {
                        if (newline_len(P) > 0)
                                return fail(P, "newlines are not allowed inside an inline table");
                        r = parse_keyval(P, t);
                        if (r < 0)
                                return r;
                        skip_ws(P);
                        if (at(P, 0) == ',') {
                                P->p++;
                                skip_ws(P);
                                if (at(P, 0) == '}')
                                        return fail(P, "trailing comma not allowed in inline table");
                                continue;
                        }
                        if (at(P, 0) == '}')
                                break;
                        if (P->p >= P->end || newline_len(P) > 0)
                                return fail(P, "expected '}' to close the inline table on the same line");
                        return fail(P, "expected ',' or '}' in inline table, found %s",
                                    describe_char(P, (char[16]){}));
                }
        P->p++;
        table_freeze(t);
        *ret = TAKE_PTR(t);
        return 0;
}

static int parse_value(Parser *P, unsigned parent_depth, TomlValue **ret) {
        char c = at(P, 0);
        TomlValue *v;
        int r;

        switch (c) {
        case '"':
        case '\'': {
                TomlPos pos = pos_here(P);
                char *s;
                size_t len;
                r = parse_string(P, true, &s, &len);
                if (r < 0)
                        return r;
                v = value_new(TOML_STRING, pos);
                if (!v) {
                        free(s);
                        return fail_oom(P);
                }
                v->string.data = s;
                v->string.len = len;
                *ret = v;
                return 0;
        }
        case '[':
                return parse_array(P, parent_depth, ret);
        case '{':
                return parse_inline_table(P, parent_depth, ret);
        case 't':
        case 'f': {
                bool b = c == 't';
                const char *word = b ? "true" : "false";
                size_t len = strlen(word);
                if ((size_t) (P->end - P->p) < len || memcmp(P->p, word, len) != 0 ||
                    is_bare_key_char(at(P, len)))
                        return fail(P,
                                    "invalid value (expected true, false, a number, a string, a date, an "
                                    "array or an inline table)");
                v = value_new(TOML_BOOL, pos_here(P));
                if (!v)
                        return fail_oom(P);
                v->boolean = b;
                P->p += len;
                *ret = v;
                return 0;
        }
        case '+':
        case '-':
        case 'i':
        case 'n':
                return parse_number(P, ret);
        default:
                if (is_digit(c)) {
                        if ((is_digit(at(P, 1)) && is_digit(at(P, 2)) && is_digit(at(P, 3)) &&
                             at(P, 4) == '-') ||
                            (is_digit(at(P, 1)) && at(P, 2) == ':'))
                                return parse_datetime(P, ret);
                        return parse_number(P, ret);
                }
                if (c == '\0' || c == '\n' || c == '\r' || c == '#' || c == ',' || c == ']' || c == '}')
                        return fail(P, "expected a value");
                return fail(P,
                            "invalid value (expected true, false, a number, a string, a date, an array or "
                            "an inline table)");
        }
}

/* key = value into table (the current [table] or an inline table being built) */
static int parse_keyval(Parser *P, TomlValue *table) {
        _cleanup_(key_done) Key k = {};
        TomlValue *t = table, *v;
        KeyPart *last;
        int r;

        r = parse_key(P, &k);
        if (r < 0)
                return r;
        if (at(P, 0) != '=') {
                if (P->p >= P->end || newline_len(P) > 0)
                        return fail(P, "expected '=' after key");
                return fail(P, "expected '=' after key, found %s", describe_char(P, (char[16]){}));
        }
        P->p++;
        skip_ws(P);

        /* dotted keys create tables, and may only go on through tables created that way */
        for (size_t i = 0; i + 1 < k.n; i++) {
                TomlEntry *e = table_find(t, k.parts[i].s, k.parts[i].len);
                if (!e) {
                        r = add_container(P, t, &k, i, TOML_TABLE, TABLE_DOTTED, &t);
                        if (r < 0)
                                return r;
                        continue;
                }
                v = e->value;
                if (v->type == TOML_TABLE && (v->flags & TABLE_DOTTED) && !(v->flags & TABLE_FROZEN)) {
                        t = v;
                        continue;
                }
                _cleanup_free_ char *d = display_key(&k, i);
                if (v->type == TOML_TABLE && (v->flags & TABLE_FROZEN))
                        return fail_pos(P, k.parts[i].pos, -EBADMSG, "cannot extend inline table '%s'", d);
                if (v->type == TOML_TABLE)
                        return fail_pos(P, k.parts[i].pos, -EBADMSG,
                                        "cannot add keys to table '%s' with dotted keys here: it is defined "
                                        "by a table header",
                                        d);
                return fail_pos(P, k.parts[i].pos, -EBADMSG,
                                "key '%s' is already defined as %s, not a table", d,
                                toml_type_to_string(v->type));
        }

        last = &k.parts[k.n - 1];
        if (table_find(t, last->s, last->len)) {
                _cleanup_free_ char *d = display_key(&k, k.n - 1);
                return fail_pos(P, last->pos, -EBADMSG, "duplicate key '%s'", d);
        }

        r = parse_value(P, t->depth, &v);
        if (r < 0)
                return r;
        r = table_add(t, last->s, last->len, last->pos, v);
        if (r < 0) {
                toml_value_free(v);
                return fail_oom(P);
        }
        last->s = NULL;
        return 0;
}

/* ---- document -------------------------------------------------------------------------------- */

static int parse_document(Parser *P) {
        int r;

        for (;;) {
                size_t n;
                skip_ws(P);
                skip_comment(P);
                if (P->p >= P->end)
                        return 0;
                n = newline_len(P);
                if (n > 0) {
                        consume_newline(P, n);
                        continue;
                }
                if (*P->p == '[') {
                        r = parse_table_header(P);
                        if (r < 0)
                                return r;
                        r = expect_line_end(P, "table header");
                } else {
                        r = parse_keyval(P, P->current);
                        if (r < 0)
                                return r;
                        r = expect_line_end(P, "value");
                }
                if (r < 0)
                        return r;
        }
}

int toml_parse(const char *data, size_t size, TomlValue **ret, TomlError *ret_error) {
        _cleanup_(toml_value_freep) TomlValue *root = NULL;
        TomlError error = {};
        Parser P = {
                .p = data,
                .end = data + size,
                .line = 1,
                .line_start = data,
                .col_ref = data,
                .col_ref_col = 1,
                .error = &error,
        };
        int r;

        assert(data || size == 0);
        assert(ret);

        if (!data)
                P.p = P.end = P.line_start = P.col_ref = "";

        if (size > TOML_MAX_DOCUMENT_SIZE) {
                r = fail_pos(&P, (TomlPos){ 1, 1 }, -E2BIG, "document too large (%zu bytes, limit %u bytes)",
                             size, TOML_MAX_DOCUMENT_SIZE);
                goto finish;
        }
        if (size >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
                P.p += 3;
                P.line_start = P.col_ref = P.p;
        }
        r = check_input(&P);
        if (r < 0)
                goto finish;

        root = value_new(TOML_TABLE, (TomlPos){ 1, 1 });
        if (!root) {
                r = fail_pos(&P, (TomlPos){ 1, 1 }, -ENOMEM, "out of memory");
                goto finish;
        }
        root->flags = TABLE_EXPLICIT;
        P.root = P.current = root;
        r = parse_document(&P);
        if (r < 0)
                goto finish;

        *ret = TAKE_PTR(root);
        return 0;

finish:
        if (ret_error)
                *ret_error = error;
        else
                toml_error_done(&error);
        return r;
}

/* ---- accessors ------------------------------------------------------------------------------- */

TomlType toml_value_type(const TomlValue *v) {
        assert(v);
        return v->type;
}

TomlPos toml_value_pos(const TomlValue *v) {
        assert(v);
        return v->pos;
}

const char *toml_value_string(const TomlValue *v, size_t *ret_len) {
        assert(v && v->type == TOML_STRING);
        if (ret_len)
                *ret_len = v->string.len;
        return v->string.data;
}

int64_t toml_value_integer(const TomlValue *v) {
        assert(v && v->type == TOML_INTEGER);
        return v->integer;
}

double toml_value_float(const TomlValue *v) {
        assert(v && v->type == TOML_FLOAT);
        return v->flt;
}

bool toml_value_bool(const TomlValue *v) {
        assert(v && v->type == TOML_BOOL);
        return v->boolean;
}

const TomlDateTime *toml_value_datetime(const TomlValue *v) {
        assert(v && v->type >= TOML_DATETIME && v->type <= TOML_TIME_LOCAL);
        return &v->datetime;
}

size_t toml_array_size(const TomlValue *v) {
        assert(v && v->type == TOML_ARRAY);
        return v->array.n;
}

const TomlValue *toml_array_get(const TomlValue *v, size_t i) {
        assert(v && v->type == TOML_ARRAY);
        if (i >= v->array.n)
                return NULL;
        return v->array.items[i];
}

size_t toml_table_size(const TomlValue *v) {
        assert(v && v->type == TOML_TABLE);
        return v->table.n;
}

const char *toml_table_key(const TomlValue *v, size_t i, TomlPos *ret_key_pos) {
        assert(v && v->type == TOML_TABLE);
        if (i >= v->table.n)
                return NULL;
        if (ret_key_pos)
                *ret_key_pos = v->table.entries[i].key_pos;
        return v->table.entries[i].key;
}

size_t toml_table_key_len(const TomlValue *v, size_t i) {
        assert(v && v->type == TOML_TABLE);
        if (i >= v->table.n)
                return 0;
        return v->table.entries[i].key_len;
}

const TomlValue *toml_table_value(const TomlValue *v, size_t i) {
        assert(v && v->type == TOML_TABLE);
        if (i >= v->table.n)
                return NULL;
        return v->table.entries[i].value;
}

const TomlValue *toml_table_get_full(const TomlValue *v, const char *key, TomlPos *ret_key_pos) {
        const TomlEntry *e;
        assert(v && v->type == TOML_TABLE);
        assert(key);
        e = table_find(v, key, strlen(key));
        if (!e)
                return NULL;
        if (ret_key_pos)
                *ret_key_pos = e->key_pos;
        return e->value;
}

const TomlValue *toml_table_get(const TomlValue *v, const char *key) {
        return toml_table_get_full(v, key, NULL);
}
