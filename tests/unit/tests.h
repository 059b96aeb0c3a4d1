/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A tiny test harness: TEST(name) { ... } functions run by TEST_MAIN(); ASSERT_* print file:line and
 * abort the test binary. Exit 77 = skip (the whole binary), with a reason on stderr. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_TEST_SKIP 77

typedef struct TestCase {
        const char *name;
        void (*fn)(void);
} TestCase;

#define TEST(n)                                                                                             \
        static void test_##n(void);                                                                         \
        static const TestCase test_case_##n __attribute__((used, section("cbox_tests"), aligned(8))) = {    \
                .name = #n,                                                                                 \
                .fn = test_##n,                                                                             \
        };                                                                                                  \
        static void test_##n(void)

extern const TestCase __start_cbox_tests[];
extern const TestCase __stop_cbox_tests[];

#define TEST_MAIN()                                                                                         \
        int main(int argc, char *argv[]) {                                                                  \
                unsigned n = 0;                                                                             \
                for (const TestCase *t = __start_cbox_tests; t < __stop_cbox_tests; t++) {                  \
                        if (argc > 1 && strcmp(argv[1], t->name) != 0)                                      \
                                continue;                                                                   \
                        fprintf(stderr, "/* %s */\n", t->name);                                             \
                        t->fn();                                                                            \
                        n++;                                                                                \
                }                                                                                           \
                fprintf(stderr, "%u test(s) passed\n", n);                                                  \
                return n > 0 ? 0 : 1;                                                                       \
        }

#define TEST_FAIL(...)                                                                                      \
        do {                                                                                                \
                fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                             \
                fprintf(stderr, __VA_ARGS__);                                                               \
                fputc('\n', stderr);                                                                        \
                abort();                                                                                    \
        } while (0)

#define TEST_SKIP(...)                                                                                      \
        do {                                                                                                \
                fprintf(stderr, "SKIP: ");                                                                  \
                fprintf(stderr, __VA_ARGS__);                                                               \
                fputc('\n', stderr);                                                                        \
                exit(EXIT_TEST_SKIP);                                                                       \
        } while (0)

#define ASSERT_TRUE(expr)                                                                                   \
        do {                                                                                                \
                if (!(expr))                                                                                \
                        TEST_FAIL("Assertion failed: %s", #expr);                                           \
        } while (0)
#define ASSERT_FALSE(expr) ASSERT_TRUE(!(expr))
#define ASSERT_NULL(expr) ASSERT_TRUE((expr) == NULL)
#define ASSERT_NOT_NULL(expr) ASSERT_TRUE((expr) != NULL)

#define ASSERT_OK(expr)                                                                                     \
        do {                                                                                                \
                long long _r = (long long) (expr);                                                          \
                if (_r < 0)                                                                                 \
                        TEST_FAIL("%s failed: %s (%lld)", #expr, strerror((int) -_r), _r);                  \
        } while (0)

#define ASSERT_ERROR(expr, err)                                                                             \
        do {                                                                                                \
                long long _r = (long long) (expr);                                                          \
                if (_r != -(long long) (err))                                                               \
                        TEST_FAIL("%s: expected -%s, got %lld", #expr, #err, _r);                           \
        } while (0)

#define ASSERT_EQ(a, b)                                                                                     \
        do {                                                                                                \
                long long _a = (long long) (a), _b = (long long) (b);                                       \
                if (_a != _b)                                                                               \
                        TEST_FAIL("Expected %s == %s, got %lld != %lld", #a, #b, _a, _b);                   \
        } while (0)

#define ASSERT_EQ_U64(a, b)                                                                                 \
        do {                                                                                                \
                unsigned long long _a = (unsigned long long) (a), _b = (unsigned long long) (b);            \
                if (_a != _b)                                                                               \
                        TEST_FAIL("Expected %s == %s, got %llu != %llu", #a, #b, _a, _b);                   \
        } while (0)

#define ASSERT_STREQ(a, b)                                                                                  \
        do {                                                                                                \
                const char *_a = (a), *_b = (b);                                                            \
                if (!_a || !_b || strcmp(_a, _b) != 0)                                                      \
                        TEST_FAIL("Expected %s == %s, got \"%s\" != \"%s\"", #a, #b, _a ?: "(null)",        \
                                  _b ?: "(null)");                                                          \
        } while (0)
