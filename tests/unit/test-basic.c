/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errmsg.h"
#include "fd-util.h"
#include "fileio.h"
#include "sha256.h"
#include "string-util.h"
#include "tests.h"

TEST(strv) {
        _cleanup_strv_free_ char **l = NULL;
        ASSERT_OK(strv_extend(&l, "a"));
        ASSERT_OK(strv_extend(&l, "bc"));
        ASSERT_EQ(strv_length(l), 2);
        ASSERT_TRUE(strv_contains(l, "bc"));
        ASSERT_FALSE(strv_contains(l, "b"));
        _cleanup_free_ char *j = strv_join(l, ", ");
        ASSERT_STREQ(j, "a, bc");
        _cleanup_strv_free_ char **c = strv_copy(l);
        ASSERT_STREQ(c[1], "bc");
        ASSERT_NULL(c[2]);
}

TEST(strjoin) {
        _cleanup_free_ char *s = strjoin("/run", "/cbox/", "x");
        ASSERT_STREQ(s, "/run/cbox/x");
}

TEST(take) {
        _cleanup_close_ int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        int g = TAKE_FD(fd);
        ASSERT_EQ(fd, -EBADF);
        ASSERT_TRUE(g >= 0);
        safe_close(g);
}

TEST(utf8) {
        ASSERT_TRUE(utf8_is_valid_n("h\xc3\xa9llo", 6));
        ASSERT_FALSE(utf8_is_valid_n("\xc0\x80", 2));         /* overlong NUL */
        ASSERT_FALSE(utf8_is_valid_n("\xed\xa0\x80", 3));     /* surrogate */
        ASSERT_FALSE(utf8_is_valid_n("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
        ASSERT_FALSE(utf8_is_valid_n("\xe2\x82", 2));         /* truncated */
        char b[4];
        ASSERT_EQ(utf8_encode(0x20ac, b), 3);
        ASSERT_TRUE(memcmp(b, "\xe2\x82\xac", 3) == 0);
        ASSERT_EQ(utf8_encode(0xd800, b), 0);
}

TEST(fileio) {
        char tmpl[] = "/tmp/test-basic-XXXXXX";
        ASSERT_NOT_NULL(mkdtemp(tmpl));
        _cleanup_free_ char *p = strjoin(tmpl, "/a/b/c");
        ASSERT_OK(mkdir_p(p, 0755));
        _cleanup_free_ char *f = strjoin(p, "/file");
        ASSERT_OK(write_file_atomic(f, "hello\nworld", 11, 0640));
        struct stat st;
        ASSERT_OK(stat(f, &st));
        ASSERT_EQ(st.st_mode & 07777, 0640);
        _cleanup_free_ char *c = NULL;
        size_t n;
        ASSERT_OK(read_full_file(f, &c, &n, 1024));
        ASSERT_EQ(n, 11);
        ASSERT_STREQ(c, "hello\nworld");
        ASSERT_ERROR(read_full_file(f, &c, &n, 4), EFBIG);
        _cleanup_free_ char *line = NULL;
        ASSERT_OK(read_one_line_file(f, &line));
        ASSERT_STREQ(line, "hello");
        ASSERT_OK(rm_rf_at(AT_FDCWD, tmpl));
        ASSERT_TRUE(access(tmpl, F_OK) < 0 && errno == ENOENT);
}

TEST(sha256) {
        /* NIST FIPS 180-4 example vectors */
        static const struct {
                const char *msg;
                const char *hex;
        } v[] = {
                { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
                { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
                { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
        };
        uint8_t d[SHA256_DIGEST_SIZE];
        char hex[SHA256_DIGEST_SIZE * 2 + 1];

        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                sha256_direct(v[i].msg, strlen(v[i].msg), d);
                sha256_to_hex(d, hex);
                ASSERT_STREQ(hex, v[i].hex);
        }

        /* 1,000,000 x 'a', fed in odd-sized pieces to cross block boundaries */
        _cleanup_free_ char *a = malloc(1000000);
        ASSERT_NOT_NULL(a);
        memset(a, 'a', 1000000);
        sha256_direct(a, 1000000, d);
        sha256_to_hex(d, hex);
        ASSERT_STREQ(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

        Sha256Ctx ctx;
        sha256_init_ctx(&ctx);
        for (size_t off = 0, k = 1; off < 1000000; off += k, k = k % 97 + 1)
                sha256_process_bytes(&ctx, a + off, k < 1000000 - off ? k : 1000000 - off);
        sha256_finish_ctx(&ctx, d);
        sha256_to_hex(d, hex);
        ASSERT_STREQ(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(errmsg) {
        ErrorMessage e = {};
        ASSERT_EQ(error_message_set(&e, -ENOENT, "gone"), -ENOENT);
        ASSERT_EQ(e.error, -ENOENT);
        ASSERT_STREQ(e.message, "gone");
        ASSERT_EQ(error_message_setf(&e, -EEXIST, "link '%s' exists", "vb-x"), -EEXIST); /* replaces */
        ASSERT_STREQ(e.message, "link 'vb-x' exists");
        ASSERT_EQ(error_message_set(&e, -EIO, NULL), -EIO);
        ASSERT_NULL(e.message);
        ASSERT_EQ(error_message_set(NULL, -EPERM, "nobody listens"), -EPERM);
        ASSERT_EQ(error_message_setf(NULL, -EPERM, "%d", 1), -EPERM);
        error_message_setf(&e, -EINVAL, "x");
        /* the object (an archive entry, a file) is the caller's to set; the setters leave it alone */
        e.object = strdup("etc/passwd");
        ASSERT_NOT_NULL(e.object);
        ASSERT_EQ(error_message_setf(&e, -EPERM, "%s", "refused"), -EPERM);
        ASSERT_STREQ(e.object, "etc/passwd");
        ASSERT_STREQ(e.message, "refused");
        error_message_done(&e);
        ASSERT_EQ(e.error, 0);
        ASSERT_NULL(e.message);
        ASSERT_NULL(e.object);
        error_message_done(&e);
        error_message_done(NULL);
}

static int setv_twice(ErrorMessage *e, int error, const char *fmt, ...) _printf_(3, 4);
static int setv_twice(ErrorMessage *e, int error, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = error_message_setv(e, error, fmt, ap);
        va_end(ap);
        return r;
}

TEST(errmsg_setv) {
        ErrorMessage e = {};
        ASSERT_EQ(setv_twice(&e, -EBADMSG, "layer %u of %s", 3u, "web"), -EBADMSG);
        ASSERT_EQ(e.error, -EBADMSG);
        ASSERT_STREQ(e.message, "layer 3 of web");
        ASSERT_EQ(setv_twice(&e, -EIO, "%s", "again"), -EIO); /* replaces */
        ASSERT_EQ(e.error, -EIO);
        ASSERT_STREQ(e.message, "again");
        ASSERT_EQ(setv_twice(NULL, -ENOSPC, "%d", 1), -ENOSPC);
        error_message_done(&e);
}

TEST(lease_owner) {
        char long_owner[LEASE_OWNER_MAX + 2];

        ASSERT_TRUE(lease_owner_is_valid("web"));
        ASSERT_TRUE(lease_owner_is_valid("a.b_c-1:x"));
        ASSERT_FALSE(lease_owner_is_valid(NULL));
        ASSERT_FALSE(lease_owner_is_valid(""));
        ASSERT_FALSE(lease_owner_is_valid("a b"));
        ASSERT_FALSE(lease_owner_is_valid("a\nb"));
        ASSERT_FALSE(lease_owner_is_valid("a\x7f"));
        memset(long_owner, 'x', sizeof(long_owner) - 1);
        long_owner[sizeof(long_owner) - 1] = 0;
        ASSERT_FALSE(lease_owner_is_valid(long_owner));
        long_owner[LEASE_OWNER_MAX] = 0;
        ASSERT_TRUE(lease_owner_is_valid(long_owner));
}

TEST_MAIN()
