/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>

#include "macros.h"

/* NULL-terminated string vectors ("strv"). All functions accept NULL as the empty vector. */
char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)
size_t strv_length(char *const *l);
/* Appends a copy of value; returns 0 or -ENOMEM */
int strv_extend(char ***l, const char *value);
/* Appends value itself, taking ownership on success */
int strv_consume(char ***l, char *value);
char **strv_copy(char *const *l);
/* Makes a NULL *l the empty vector (where "none" differs from "not set"); 0 or -ENOMEM */
int strv_ensure(char ***l);
bool strv_contains(char *const *l, const char *s);
/* Joins with separator; NULL on OOM */
char *strv_join(char *const *l, const char *separator);

/* malloc'ed printf; NULL on OOM */
char *strprintf(const char *fmt, ...) _printf_(1, 2);
/* Concatenate NULL-terminated list of strings; NULL on OOM */
char *strjoin_real(const char *x, ...);
#define strjoin(a, ...) strjoin_real((a), __VA_ARGS__, NULL)

/* Replaces *p with a copy of s (or NULL); returns 0 or -ENOMEM */
int free_and_strdup(char **p, const char *s);

/* A growable byte buffer */
typedef struct Buffer {
        char *data;
        size_t size;
        size_t allocated;
} Buffer;
int buffer_append(Buffer *b, const void *data, size_t size);
int buffer_printf(Buffer *b, const char *fmt, ...) _printf_(2, 3);
void buffer_done(Buffer *b);

/* Decodes the UTF-8 sequence at the start of s (len bytes left) into *ret: returns its length, 0 when
 * it is not valid (truncated, overlong, a surrogate, above U+10FFFF) or len is 0 */
size_t utf8_decode(const char *s, size_t len, uint32_t *ret);
/* True if s is valid UTF-8 of len bytes (no overlongs, no surrogates, <= U+10FFFF) */
bool utf8_is_valid_n(const char *s, size_t len);
/* Encodes code point c to out (4 bytes room); returns bytes written, 0 if c is invalid */
size_t utf8_encode(uint32_t c, char out[4]);

/* The one rule for container names, shared by config/ (file names, volume names) and state/ (every
 * path, lock, unit, machine and link name built from one): 1..64 ASCII characters of [A-Za-z0-9_.-],
 * not starting with '.' or '-'. Names are only ever joined below directories that hold nothing else
 * (<run_root>/containers/, <run_root>/locks/, <storage_root>/containers/), so no name can reach
 * cbox's own state whatever it spells: no reserved words. */
#define CONTAINER_NAME_MAX 64U
bool container_name_is_valid(const char *s);

/* The owner field of a lease line (ipam/, uidpool/): 1 to 255 bytes, none of them a space or a control
 * character, so that "ITEM OWNER" lines split at the first space. */
#define LEASE_OWNER_MAX 255U
bool lease_owner_is_valid(const char *o);
