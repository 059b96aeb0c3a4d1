/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "ipam.h"
#include "string-util.h"
#include "tests.h"

static char *tmpdir(void) {
        char *t = strdup("/tmp/test-ipam.XXXXXX");
        ASSERT_NOT_NULL(t);
        ASSERT_NOT_NULL(mkdtemp(t));
        return t;
}

static void rmtree(char *d) {
        ASSERT_OK(rm_rf_at(AT_FDCWD, d));
        free(d);
}

static struct in_addr A(const char *s) {
        struct in_addr a;
        ASSERT_EQ(inet_pton(AF_INET, s, &a), 1);
        return a;
}

static const char *
S(struct in_addr a, char buf[static INET_ADDRSTRLEN]) {
        return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

TEST(exhaustion_slash30) {
        char *d = tmpdir(), b[INET_ADDRSTRLEN];
        IpamNetwork net = { .run_dir = d, .name = "n30", .subnet = A("10.99.0.0"), .prefixlen = 30 };
        struct in_addr a;

        /* /30: .0 network, .1 gateway, .3 broadcast → only .2 */
        ASSERT_OK(ipam_allocate(&net, "c1", &a));
        ASSERT_STREQ(S(a, b), "10.99.0.2");
        ASSERT_ERROR(ipam_allocate(&net, "c2", &a), ENOSPC);
        ASSERT_OK(ipam_release(&net, &a));
        ASSERT_ERROR(ipam_release(&net, &a), ENOENT);
        ASSERT_OK(ipam_allocate(&net, "c2", &a));
        ASSERT_STREQ(S(a, b), "10.99.0.2");
        rmtree(d);
}

TEST(gateway_elsewhere) {
        char *d = tmpdir(), b[INET_ADDRSTRLEN];
        IpamNetwork net = { .run_dir = d,
                            .name = "g",
                            .subnet = A("10.99.0.0"),
                            .prefixlen = 29,
                            .gateway = A("10.99.0.2") };
        struct in_addr a;
        /* .1 .3 .4 .5 .6 usable, .2 gateway */
        const char *want[] = { "10.99.0.1", "10.99.0.3", "10.99.0.4", "10.99.0.5", "10.99.0.6" };
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                ASSERT_OK(ipam_allocate(&net, "c", &a));
                ASSERT_STREQ(S(a, b), want[i]);
        }
        ASSERT_ERROR(ipam_allocate(&net, "c", &a), ENOSPC);
        ASSERT_EQ(ipam_release_owner(&net, "c"), 5);
        ASSERT_EQ(ipam_release_owner(&net, "c"), 0);
        rmtree(d);
}

TEST(static_reserve) {
        char *d = tmpdir(), b[INET_ADDRSTRLEN];
        IpamNetwork net = { .run_dir = d, .name = "cbox0", .subnet = A("10.88.0.0"), .prefixlen = 16 };
        struct in_addr a, s = A("10.88.0.2"), out = A("10.89.0.2");
        IpamLease *l = NULL;
        size_t n = 0;

        ASSERT_OK(ipam_reserve(&net, "web", &s));
        ASSERT_OK(ipam_reserve(&net, "web", &s)); /* same owner: fine */
        ASSERT_ERROR(ipam_reserve(&net, "db", &s), EADDRINUSE);
        ASSERT_ERROR(ipam_reserve(&net, "db", &out), EADDRNOTAVAIL);
        a = A("10.88.0.1");
        ASSERT_ERROR(ipam_reserve(&net, "db", &a), EADDRNOTAVAIL); /* gateway */
        a = A("10.88.255.255");
        ASSERT_ERROR(ipam_reserve(&net, "db", &a), EADDRNOTAVAIL); /* broadcast */
        a = A("10.88.0.0");
        ASSERT_ERROR(ipam_reserve(&net, "db", &a), EADDRNOTAVAIL); /* network */
        ASSERT_ERROR(ipam_reserve(&net, "bad owner", &s), EINVAL);

        /* dynamic allocation skips the static one */
        ASSERT_OK(ipam_allocate(&net, "db", &a));
        ASSERT_STREQ(S(a, b), "10.88.0.3");

        ASSERT_OK(ipam_list(&net, &l, &n));
        ASSERT_EQ(n, 2);
        ASSERT_STREQ(S(l[0].address, b), "10.88.0.2");
        ASSERT_STREQ(l[0].owner, "web");
        ASSERT_STREQ(l[1].owner, "db");
        ipam_lease_array_free(l, n);

        /* released by name */
        ASSERT_EQ(ipam_release_owner(&net, "web"), 1);
        ASSERT_OK(ipam_list(&net, &l, &n));
        ASSERT_EQ(n, 1);
        ASSERT_STREQ(l[0].owner, "db");
        ipam_lease_array_free(l, n);

        /* reconfiguring the subnet while leases exist is refused */
        IpamNetwork other = net;
        other.subnet = A("10.77.0.0");
        ASSERT_ERROR(ipam_allocate(&other, "x", &a), EBUSY);
        ASSERT_ERROR(ipam_reserve(&other, "x", &a), EBUSY);
        /* ...but listing and releasing through the new configuration work (cleanup after a change) */
        ASSERT_OK(ipam_list(&other, &l, &n));
        ASSERT_EQ(n, 1);
        ipam_lease_array_free(l, n);
        ASSERT_EQ(ipam_release_owner(&other, "db"), 1);
        ASSERT_EQ(ipam_release_owner(&net, "db"), 0);
        ASSERT_OK(ipam_allocate(&other, "x", &a));
        ASSERT_STREQ(S(a, b), "10.77.0.2");
        rmtree(d);
}

TEST(crash_recovery) {
        /* a stale bitmap (crash between the two writes) is rebuilt from the leases file */
        char *d = tmpdir(), b[INET_ADDRSTRLEN];
        IpamNetwork net = { .run_dir = d, .name = "n", .subnet = A("10.99.0.0"), .prefixlen = 24 };
        struct in_addr a;
        _cleanup_free_ char *p = strjoin(d, "/n/leases");

        ASSERT_OK(ipam_allocate(&net, "c1", &a));
        ASSERT_OK(write_file_atomic(p, "10.99.0.3 c9\n10.99.0.2 c1\n", 26, 0600));
        ASSERT_OK(ipam_allocate(&net, "c2", &a));
        ASSERT_STREQ(S(a, b), "10.99.0.4");
        ASSERT_EQ(ipam_release_owner(&net, "c9"), 1);
        rmtree(d);
}

TEST(damaged_bitmap) {
        /* a damaged bitmap file (bad magic, wrong size) is rebuilt from the leases */
        char *d = tmpdir(), b[INET_ADDRSTRLEN];
        IpamNetwork net = { .run_dir = d, .name = "n", .subnet = A("10.99.0.0"), .prefixlen = 24 };
        struct in_addr a;
        _cleanup_free_ char *p = strjoin(d, "/n/bitmap");

        ASSERT_OK(ipam_allocate(&net, "c1", &a));
        ASSERT_STREQ(S(a, b), "10.99.0.2");
        ASSERT_OK(write_file_atomic(p, "garbage", 7, 0600));
        ASSERT_OK(ipam_allocate(&net, "c2", &a));
        ASSERT_STREQ(S(a, b), "10.99.0.3");
        /* our header, a truncated bitmap */
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        ASSERT_OK(read_full_file(p, &data, &size, 1024 * 1024));
        ASSERT_TRUE(size > 30);
        ASSERT_OK(write_file_atomic(p, data, 30, 0600));
        ASSERT_OK(ipam_allocate(&net, "c3", &a));
        ASSERT_STREQ(S(a, b), "10.99.0.4");
        rmtree(d);
}

TEST(rebuild) {
        /* a leases file that does not parse blocks allocation until ipam_rebuild(): its good lines are
         * kept, the known leases added, and a known lease wins over the file's owner of that address */
        char *d = tmpdir(), b[INET_ADDRSTRLEN];
        IpamNetwork net = { .run_dir = d, .name = "n", .subnet = A("10.99.0.0"), .prefixlen = 24 };
        struct in_addr a;
        _cleanup_free_ char *p = strjoin(d, "/n/leases");
        const char *bad = "10.99.0.2 c1\n10.99.0.x c2\nno-space\n10.99.0.5 stale\n\x01\x02\n";
        IpamLease known[] = {
                { .address = A("10.99.0.3"), .owner = (char *) "c2" },
                { .address = A("10.99.0.5"), .owner = (char *) "c5" },
                { .address = A("10.99.0.1"), .owner = (char *) "gw" },        /* the gateway: ignored */
                { .address = A("10.98.0.9"), .owner = (char *) "elsewhere" }, /* not in the subnet */
        };

        ASSERT_OK(ipam_allocate(&net, "c1", &a));
        ASSERT_OK(write_file_atomic(p, bad, strlen(bad), 0600));
        ASSERT_ERROR(ipam_allocate(&net, "c9", &a), EBADMSG);
        ASSERT_EQ(ipam_rebuild(&net, known, ELEMENTSOF(known)), 3);

        IpamLease *l = NULL;
        size_t n = 0;
        ASSERT_OK(ipam_list(&net, &l, &n));
        ASSERT_EQ(n, 3U);
        ASSERT_STREQ(S(l[0].address, b), "10.99.0.2");
        ASSERT_STREQ(l[0].owner, "c1");
        ASSERT_STREQ(S(l[1].address, b), "10.99.0.3");
        ASSERT_STREQ(l[1].owner, "c2");
        ASSERT_STREQ(S(l[2].address, b), "10.99.0.5");
        ASSERT_STREQ(l[2].owner, "c5");
        ipam_lease_array_free(l, n);

        ASSERT_OK(ipam_allocate(&net, "c9", &a));
        ASSERT_STREQ(S(a, b), "10.99.0.4");
        /* idempotent: nothing to salvage, nothing changes */
        ASSERT_EQ(ipam_rebuild(&net, NULL, 0), 4);
        rmtree(d);
}

TEST(concurrency) {
        /* 8 processes allocate 30 addresses each at the same time: all 240 distinct */
        enum { P = 8, N = 30 };
        char *d = tmpdir();
        IpamNetwork net = { .run_dir = d, .name = "par", .subnet = A("10.66.0.0"), .prefixlen = 16 };
        int pipefd[2];
        bool seen[65536] = {};

        ASSERT_OK(pipe(pipefd));
        for (int p = 0; p < P; p++) {
                pid_t pid = fork();
                ASSERT_TRUE(pid >= 0);
                if (pid == 0) {
                        char owner[32];
                        snprintf(owner, sizeof(owner), "proc%d", p);
                        for (int i = 0; i < N; i++) {
                                struct in_addr a;
                                if (ipam_allocate(&net, owner, &a) < 0)
                                        _exit(1);
                                if (write(pipefd[1], &a, sizeof(a)) != sizeof(a))
                                        _exit(1);
                        }
                        _exit(0);
                }
        }
        close(pipefd[1]);
        for (int p = 0; p < P; p++) {
                int st;
                ASSERT_TRUE(wait(&st) > 0);
                ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        struct in_addr a;
        int count = 0;
        while (read(pipefd[0], &a, sizeof(a)) == sizeof(a)) {
                uint32_t i = ntohl(a.s_addr) & 0xffff;
                ASSERT_FALSE(seen[i]);
                seen[i] = true;
                count++;
        }
        close(pipefd[0]);
        ASSERT_EQ(count, P * N);

        IpamLease *l = NULL;
        size_t n = 0;
        ASSERT_OK(ipam_list(&net, &l, &n));
        ASSERT_EQ(n, P * N);
        ipam_lease_array_free(l, n);
        rmtree(d);
}

TEST_MAIN();
