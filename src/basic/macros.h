/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _noreturn_ __attribute__((noreturn))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _pure_ __attribute__((pure))
#define _const_ __attribute__((const))
#define _malloc_ __attribute__((malloc))
#define _warn_unused_result_ __attribute__((warn_unused_result))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))
#define _fallthrough_ __attribute__((fallthrough))
#define _public_ __attribute__((visibility("default")))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define MAX(a, b)                                                                                           \
        __extension__({                                                                                     \
                const __typeof__(a) _a = (a);                                                               \
                const __typeof__(b) _b = (b);                                                               \
                _a > _b ? _a : _b;                                                                          \
        })
#define MIN(a, b)                                                                                           \
        __extension__({                                                                                     \
                const __typeof__(a) _a = (a);                                                               \
                const __typeof__(b) _b = (b);                                                               \
                _a < _b ? _a : _b;                                                                          \
        })

/* Move ownership out of a variable that is under _cleanup_. */
#define TAKE_GENERIC(var, type, nullvalue)                                                                  \
        __extension__({                                                                                     \
                type *_pvar_ = &(var);                                                                      \
                type _var_ = *_pvar_;                                                                       \
                type _nullvalue_ = nullvalue;                                                               \
                *_pvar_ = _nullvalue_;                                                                      \
                _var_;                                                                                      \
        })
#define TAKE_PTR_TYPE(ptr, type) TAKE_GENERIC(ptr, type, NULL)
#define TAKE_PTR(ptr) TAKE_PTR_TYPE(ptr, __typeof__(ptr))
#define TAKE_FD(fd) TAKE_GENERIC(fd, int, -EBADF)

/* Define foop(type **p) { foo(*p); } usable with _cleanup_(foop). foo must accept NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                             \
        static inline void func##p(type *p) {                                                               \
                if (*p)                                                                                     \
                        func(*p);                                                                           \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

/* clang-format takes "new" for the C++ keyword */
/* clang-format off */
#define new(t, n) ((t *) malloc_multiply(sizeof(t), (n)))
#define new0(t, n) ((t *) calloc((n) ?: 1, sizeof(t)))
/* clang-format on */

static inline void *malloc_multiply(size_t size, size_t n) {
        if (size > 0 && n > SIZE_MAX / size)
                return NULL;
        return malloc(size * n ?: 1);
}

#define streq(a, b) (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)
static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}
static inline bool isempty(const char *s) {
        return !s || !*s;
}
static inline const char *strempty(const char *s) {
        return s ?: "";
}
static inline const char *strna(const char *s) {
        return s ?: "n/a";
}

/* Returns a pointer past the prefix, or NULL. */
static inline char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        if (strncmp(s, prefix, l) != 0)
                return NULL;
        return (char *) s + l;
}

#define RET_NERRNO(expr)                                                                                    \
        __extension__({                                                                                     \
                long _r_ = (long) (expr);                                                                   \
                _r_ < 0 ? -errno : (int) _r_;                                                               \
        })

/* Negative errno from the current errno, never 0 */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

#define ERRNO_IS_NOT_SUPPORTED(r) IN_SET(abs(r), EOPNOTSUPP, ENOTTY, ENOSYS, EAFNOSUPPORT, EPFNOSUPPORT)

#define IN_SET(x, first, ...)                                                                               \
        __extension__({                                                                                     \
                bool _found = false;                                                                        \
                const __typeof__(first) _set[] = { first, __VA_ARGS__ };                                    \
                for (size_t _i = 0; _i < ELEMENTSOF(_set); _i++)                                            \
                        if (_set[_i] == (x)) {                                                              \
                                _found = true;                                                              \
                                break;                                                                      \
                        }                                                                                   \
                _found;                                                                                     \
        })

#define STRV_FOREACH(s, l) for (char **s = (l); s && *s; s++)

#define USEC_PER_SEC ((uint64_t) 1000000ULL)
#define USEC_PER_MSEC ((uint64_t) 1000ULL)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)
#define USEC_INFINITY ((uint64_t) UINT64_MAX)

/* name_to_string() and name_from_string() over a table of strings indexed by the enum type, name_table[]
 * with max entries (its _FOO_MAX); entries may be NULL. _to_string() of a value out of range is NULL,
 * _from_string() of an unknown or NULL string is invalid. */
#define DEFINE_STRING_TABLE_TO_STRING(name, type, max)                                                      \
        const char *name##_to_string(type v) {                                                              \
                if ((unsigned long) (long) (v) >= (unsigned long) (max))                                    \
                        return NULL;                                                                        \
                return name##_table[v];                                                                     \
        }
#define DEFINE_STRING_TABLE_FROM_STRING(name, type, max, invalid)                                           \
        type name##_from_string(const char *s) {                                                            \
                if (!s)                                                                                     \
                        return (invalid);                                                                   \
                for (long _i = 0; _i < (long) (max); _i++)                                                  \
                        if (name##_table[_i] && streq(name##_table[_i], s))                                 \
                                return (type) _i;                                                           \
                return (invalid);                                                                           \
        }
#define DEFINE_STRING_TABLE_LOOKUP(name, type, max, invalid)                                                \
        DEFINE_STRING_TABLE_TO_STRING(name, type, max)                                                      \
        DEFINE_STRING_TABLE_FROM_STRING(name, type, max, invalid)
