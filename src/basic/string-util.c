/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "string-util.h"

char **strv_free(char **l) {
        STRV_FOREACH (s, l)
                free(*s);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;
        if (l)
                while (l[n])
                        n++;
        return n;
}

int strv_consume(char ***l, char *value) {
        size_t n = strv_length(*l);
        char **c = realloc(*l, sizeof(char *) * (n + 2));
        if (!c)
                return -ENOMEM;
        c[n] = value;
        c[n + 1] = NULL;
        *l = c;
        return 0;
}

int strv_extend(char ***l, const char *value) {
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        int r = strv_consume(l, v);
        if (r < 0)
                free(v);
        return r;
}

char **strv_copy(char *const *l) {
        size_t n = strv_length(l);
        char **c = new0(char *, n + 1);
        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                c[i] = strdup(l[i]);
                if (!c[i])
                        return strv_free(c);
        }
        return c;
}

bool strv_contains(char *const *l, const char *s) {
        for (size_t i = 0; l && l[i]; i++)
                if (streq(l[i], s))
                        return true;
        return false;
}

char *strv_join(char *const *l, const char *separator) {
        Buffer b = {};
        size_t seplen = strlen(separator);
        for (size_t i = 0; l && l[i]; i++) {
                if ((i > 0 && buffer_append(&b, separator, seplen) < 0) ||
                    buffer_append(&b, l[i], strlen(l[i])) < 0) {
                        buffer_done(&b);
                        return NULL;
                }
        }
        if (!b.data)
                return strdup("");
        return b.data;
}

int strv_ensure(char ***l) {
        if (!*l) {
                *l = new0(char *, 1);
                if (!*l)
                        return -ENOMEM;
        }
        return 0;
}

char *strprintf(const char *fmt, ...) {
        va_list ap;
        char *s;
        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

char *strjoin_real(const char *x, ...) {
        va_list ap;
        Buffer b = {};
        va_start(ap, x);
        for (const char *s = x; s; s = va_arg(ap, const char *))
                if (buffer_append(&b, s, strlen(s)) < 0) {
                        va_end(ap);
                        buffer_done(&b);
                        return NULL;
                }
        va_end(ap);
        if (!b.data)
                return strdup("");
        return b.data;
}

int free_and_strdup(char **p, const char *s) {
        char *c = NULL;
        if (s) {
                c = strdup(s);
                if (!c)
                        return -ENOMEM;
        }
        free(*p);
        *p = c;
        return 0;
}

int buffer_append(Buffer *b, const void *data, size_t size) {
        if (size > SIZE_MAX - b->size - 1)
                return -ENOMEM;
        if (b->size + size + 1 > b->allocated) {
                size_t a = MAX(b->allocated * 2, b->size + size + 1);
                a = MAX(a, (size_t) 64);
                char *n = realloc(b->data, a);
                if (!n)
                        return -ENOMEM;
                b->data = n;
                b->allocated = a;
        }
        if (size > 0)
                memcpy(b->data + b->size, data, size);
        b->size += size;
        b->data[b->size] = 0;
        return 0;
}

int buffer_printf(Buffer *b, const char *fmt, ...) {
        va_list ap;
        char *s;
        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        r = buffer_append(b, s, (size_t) r);
        free(s);
        return r;
}

void buffer_done(Buffer *b) {
        b->data = mfree(b->data);
        b->size = b->allocated = 0;
}

size_t utf8_decode(const char *str, size_t len, uint32_t *ret) {
        const unsigned char *s = (const unsigned char *) str;
        unsigned char c;
        uint32_t cp;
        size_t n;

        if (len == 0)
                return 0;
        c = s[0];
        if (c < 0x80) {
                *ret = c;
                return 1;
        } else if ((c & 0xe0) == 0xc0) {
                n = 2;
                cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
                n = 3;
                cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
                n = 4;
                cp = c & 0x07;
        } else
                return 0;
        if (len < n)
                return 0;
        for (size_t k = 1; k < n; k++) {
                if ((s[k] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[k] & 0x3f);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret = cp;
        return n;
}

bool utf8_is_valid_n(const char *str, size_t len) {
        size_t i = 0;
        while (i < len) {
                uint32_t cp;
                size_t n = utf8_decode(str + i, len - i, &cp);
                if (n == 0)
                        return false;
                i += n;
        }
        return true;
}

size_t utf8_encode(uint32_t c, char out[4]) {
        if (c < 0x80) {
                out[0] = (char) c;
                return 1;
        }
        if (c < 0x800) {
                out[0] = (char) (0xc0 | (c >> 6));
                out[1] = (char) (0x80 | (c & 0x3f));
                return 2;
        }
        if (c >= 0xd800 && c <= 0xdfff)
                return 0;
        if (c < 0x10000) {
                out[0] = (char) (0xe0 | (c >> 12));
                out[1] = (char) (0x80 | ((c >> 6) & 0x3f));
                out[2] = (char) (0x80 | (c & 0x3f));
                return 3;
        }
        if (c <= 0x10ffff) {
                out[0] = (char) (0xf0 | (c >> 18));
                out[1] = (char) (0x80 | ((c >> 12) & 0x3f));
                out[2] = (char) (0x80 | ((c >> 6) & 0x3f));
                out[3] = (char) (0x80 | (c & 0x3f));
                return 4;
        }
        return 0;
}

bool container_name_is_valid(const char *s) {
        size_t n;

        if (!s)
                return false;
        n = strlen(s);
        if (n == 0 || n > CONTAINER_NAME_MAX || s[0] == '.' || s[0] == '-')
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '_' || *p == '.' || *p == '-'))
                        return false;
        return true;
}

bool lease_owner_is_valid(const char *o) {
        if (isempty(o) || strlen(o) > LEASE_OWNER_MAX)
                return false;
        for (const char *p = o; *p; p++)
                if ((unsigned char) *p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}
