/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "string-util.h"
#include "tests.h"
#include "uidpool.h"

#define BLOCK UIDPOOL_BLOCK

static char *tmpdir(void) {
        char *t = strdup("/tmp/test-uidpool.XXXXXX");
        ASSERT_NOT_NULL(t);
        ASSERT_NOT_NULL(mkdtemp(t));
        return t;
}

static void rmtree(char *d) {
        ASSERT_OK(rm_rf_at(AT_FDCWD, d));
        free(d);
}

static char *leases_text(const char *d) {
        _cleanup_free_ char *p = strprintf("%s/leases", d);
        char *t = NULL;
        ASSERT_OK(read_full_file(p, &t, NULL, 1 << 20));
        return t;
}

TEST(distinct_stable_and_in_the_pool) {
        char *d = tmpdir();
        UidPool p = { .dir = d, .start = 0x80000, .count = 64 * BLOCK };
        UidRange a, b, a2;

        ASSERT_OK(uidpool_acquire(&p, "web", &a));
        ASSERT_OK(uidpool_acquire(&p, "db", &b));
        ASSERT_EQ(a.count, BLOCK);
        ASSERT_EQ(b.count, BLOCK);
        ASSERT_TRUE(a.start >= p.start && a.start + a.count <= p.start + p.count);
        ASSERT_TRUE(b.start >= p.start && b.start + b.count <= p.start + p.count);
        ASSERT_EQ((a.start - p.start) % BLOCK, 0U);
        ASSERT_FALSE(uid_range_overlaps(&a, &b));
        /* asking again while held: the same; after a release: the same again */
        ASSERT_OK(uidpool_acquire(&p, "web", &a2));
        ASSERT_EQ(a2.start, a.start);
        ASSERT_EQ(uidpool_release(&p, "web"), 1);
        ASSERT_EQ(uidpool_release(&p, "web"), 0);
        ASSERT_OK(uidpool_acquire(&p, "web", &a2));
        ASSERT_EQ(a2.start, a.start);
        rmtree(d);
}

TEST(kept_ranges_go_last) {
        char *d = tmpdir();
        UidPool p = { .dir = d, .start = 100000, .count = 2 * BLOCK + 17 }; /* two whole blocks */
        UidRange a, b, c;

        ASSERT_OK(uidpool_acquire(&p, "a", &a));
        ASSERT_EQ(uidpool_release(&p, "a"), 1);
        /* b gets the block a did not have, whatever its hash says */
        ASSERT_OK(uidpool_acquire(&p, "b", &b));
        ASSERT_FALSE(uid_range_overlaps(&a, &b));
        /* c: no block is free of held and kept ranges, so it takes a's memory */
        ASSERT_OK(uidpool_acquire(&p, "c", &c));
        ASSERT_EQ(c.start, a.start);
        /* and a, asking again, finds the pool full */
        ASSERT_EQ(uidpool_acquire(&p, "a", &a), -ENOSPC);
        ASSERT_EQ(uidpool_forget(&p, "b"), 1);
        ASSERT_OK(uidpool_acquire(&p, "a", &a));
        ASSERT_EQ(a.start, b.start);
        rmtree(d);
}

TEST(explicit_ranges) {
        char *d = tmpdir();
        UidPool p = { .dir = d, .start = 0x80000, .count = 4 * BLOCK };
        UidRange x = { 0x80000, 2 * BLOCK }, y = { 0x80000 + BLOCK, 10 }, zero = { 0, BLOCK }, a, b, c;
        UidRange top = { UINT32_MAX - 10, 11 }, fine = { 1000000000, 5 };

        ASSERT_EQ(uidpool_reserve(&p, "x", &zero), -EINVAL);
        ASSERT_EQ(uidpool_reserve(&p, "x", &top), -EINVAL); /* would contain (uid_t) -1 */
        ASSERT_OK(uidpool_reserve(&p, "x", &x));
        ASSERT_OK(uidpool_reserve(&p, "x", &x)); /* the same again: fine */
        ASSERT_EQ(uidpool_reserve(&p, "y", &y), -EBUSY);
        ASSERT_OK(uidpool_reserve(&p, "y", &fine)); /* outside the pool: fine */
        /* auto owners get only the two blocks x does not cover */
        ASSERT_OK(uidpool_acquire(&p, "a", &a));
        ASSERT_OK(uidpool_acquire(&p, "b", &b));
        ASSERT_FALSE(uid_range_overlaps(&a, &x));
        ASSERT_FALSE(uid_range_overlaps(&b, &x));
        ASSERT_FALSE(uid_range_overlaps(&a, &b));
        ASSERT_EQ(uidpool_acquire(&p, "c", &a), -ENOSPC);
        /* a kept range gives way to an explicit one */
        ASSERT_EQ(uidpool_release(&p, "a"), 1);
        ASSERT_OK(uidpool_reserve(&p, "z", &a));
        ASSERT_EQ(uidpool_acquire(&p, "a", &c), -ENOSPC); /* its memory went to z */
        ASSERT_EQ(uidpool_forget(&p, "b"), 1);
        ASSERT_OK(uidpool_acquire(&p, "a", &c));
        ASSERT_EQ(c.start, b.start);
        rmtree(d);
}

TEST(explicit_then_auto_forgets_the_explicit_range) {
        char *d = tmpdir();
        UidPool p = { .dir = d, .start = 0x80000, .count = 4 * BLOCK };
        UidRange x = { 2000000000, BLOCK }, a;
        _cleanup_free_ char *t = NULL;

        ASSERT_OK(uidpool_reserve(&p, "web", &x));
        ASSERT_OK(uidpool_acquire(&p, "web", &a));
        ASSERT_TRUE(a.start >= p.start && a.start < p.start + p.count);
        t = leases_text(d);
        ASSERT_NULL(strstr(t, "2000000000"));
        rmtree(d);
}

TEST(bad_files_and_arguments) {
        char *d = tmpdir();
        UidPool p = { .dir = d, .start = 0x80000, .count = 4 * BLOCK },
                small = { .dir = d, .start = 1, .count = 10 };
        _cleanup_free_ char *path = strprintf("%s/leases", d);
        UidRange a;
        UidLease *l;
        size_t n;
        static const char *const bad[] = {
                "held 524288 65536\n",                        /* no owner */
                "held 524288 65536 a b\n",                    /* two owners */
                "gone 524288 65536 a\n",                      /* unknown kind */
                "held 0 65536 a\n",                           /* host uid 0 */
                "held -5 65536 a\n",                          /* sign */
                "held 524288 0x10000 a\n",                    /* not decimal */
                "held 4294967295 1 a\n",                      /* (uid_t) -1 */
                "held 524288 65536 a\nkept 655360 65536 a\n", /* one line per owner */
        };

        ASSERT_EQ(uidpool_acquire(&small, "a", &a), -EINVAL);
        ASSERT_EQ(uidpool_acquire(&p, "bad owner", &a), -EINVAL);
        ASSERT_EQ(uidpool_acquire(&p, "", &a), -EINVAL);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ASSERT_OK(write_file_atomic(path, bad[i], strlen(bad[i]), 0600));
                ASSERT_EQ(uidpool_acquire(&p, "new", &a), -EBADMSG);
                ASSERT_EQ(uidpool_list(&p, &l, &n), -EBADMSG);
        }
        ASSERT_OK(write_file_atomic(path, "kept 589824 65536 web\n\nheld 524288 65536 db\n", 45, 0600));
        ASSERT_OK(uidpool_list(&p, &l, &n));
        ASSERT_EQ(n, 2U);
        ASSERT_STREQ(l[0].owner, "db");
        ASSERT_TRUE(l[0].held);
        ASSERT_EQ(l[1].range.start, 589824U);
        ASSERT_FALSE(l[1].held);
        uidpool_lease_array_free(l, n);
        ASSERT_OK(uidpool_acquire(&p, "web", &a));
        ASSERT_EQ(a.start, 589824U);
        rmtree(d);
}

/* Real processes racing for the lock: every one gets a block of its own */
TEST(concurrent_acquires) {
        enum { N = 24 };
        char *d = tmpdir();
        UidPool p = { .dir = d, .start = 0x80000, .count = N * BLOCK };
        UidLease *l;
        size_t n;

        for (int i = 0; i < N; i++) {
                pid_t pid = fork();
                ASSERT_TRUE(pid >= 0);
                if (pid == 0) {
                        char owner[16];
                        UidRange r;
                        snprintf(owner, sizeof(owner), "c%d", i);
                        _exit(uidpool_acquire(&p, owner, &r) < 0);
                }
        }
        for (int i = 0; i < N; i++) {
                int st;
                ASSERT_TRUE(wait(&st) > 0);
                ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        ASSERT_OK(uidpool_list(&p, &l, &n));
        ASSERT_EQ(n, (size_t) N);
        for (size_t i = 1; i < n; i++)
                ASSERT_FALSE(uid_range_overlaps(&l[i - 1].range, &l[i].range));
        uidpool_lease_array_free(l, n);
        rmtree(d);
}

TEST_MAIN()
