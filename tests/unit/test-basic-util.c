/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* basic/'s helpers that modules used to write for themselves: clocks, pidfds and /proc/PID/stat,
 * /proc/PID/cgroup, CPU lists, opendir_at(), netlink messages, UTF-8 decoding */
#include <dirent.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc-util.h"
#include "cgroup-util.h"
#include "cpu-set.h"
#include "fd-util.h"
#include "fileio.h"
#include "nlmsg-util.h"
#include "process-util.h"
#include "string-util.h"
#include "tests.h"
#include "time-util.h"

TEST(clocks) {
        struct timespec ts;
        uint64_t a = now_monotonic_usec(), b;

        ASSERT_OK(clock_gettime(CLOCK_MONOTONIC, &ts));
        b = now_monotonic_usec();
        ASSERT_TRUE(a <= b);
        ASSERT_TRUE((uint64_t) ts.tv_sec * USEC_PER_SEC >= a / USEC_PER_SEC * USEC_PER_SEC);
        ASSERT_TRUE((uint64_t) ts.tv_sec <= b / USEC_PER_SEC);
        (void) usleep(20000);
        ASSERT_TRUE(now_monotonic_usec() - b >= 20000);

        uint64_t r = now_realtime_usec();
        time_t t = time(NULL);
        ASSERT_TRUE(r / USEC_PER_SEC + 1 >= (uint64_t) t && r / USEC_PER_SEC <= (uint64_t) t);
        ASSERT_TRUE(now_usec(CLOCK_REALTIME) >= r);
}

TEST(proc_stat_and_pidfd) {
        uint64_t start, again;
        char state = 0;
        int fd;

        ASSERT_OK(proc_read_stat(getpid(), &state, &start));
        ASSERT_EQ(state, 'R');
        ASSERT_OK(proc_get_start_time(getpid(), &again));
        ASSERT_EQ_U64(again, start);
        ASSERT_ERROR(proc_read_stat(0, NULL, NULL), EINVAL);

        /* a child: its own start time pins it, another one is refused */
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                pause();
                _exit(0);
        }
        ASSERT_OK(proc_get_start_time(pid, &start));
        ASSERT_ERROR(pidfd_open_pinned(pid, start + 1, &fd), ESRCH);
        ASSERT_OK(pidfd_open_pinned(pid, start, &fd));
        ASSERT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        ASSERT_OK(pidfd_signal(fd, 0));
        ASSERT_OK(pidfd_signal(fd, SIGKILL));
        int status;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        /* reaped: the pidfd still names it, and it is gone */
        ASSERT_ERROR(pidfd_signal(fd, 0), ESRCH);
        ASSERT_ERROR(proc_read_stat(pid, NULL, NULL), ESRCH);
        ASSERT_ERROR(pidfd_open_pinned(pid, start, &fd), ESRCH);
        safe_close(fd);
        ASSERT_ERROR(pidfd_signal(-1, 0), EBADF);
}

TEST(cgroup_path) {
        char tmpl[] = "/tmp/test-basic-util-XXXXXX";
        ASSERT_NOT_NULL(mkdtemp(tmpl));
        _cleanup_free_ char *f = strjoin(tmpl, "/cgroup"), *p = NULL;

        /* a hybrid host: v1 lines before the unified one */
        static const char hybrid[] = "12:cpu,cpuacct:/x\n1:name=systemd:/user.slice\n0::/user.slice/a b\n";
        ASSERT_OK(write_file_atomic(f, hybrid, strlen(hybrid), 0644));
        ASSERT_OK(cgroup_path_from_proc_file(f, &p));
        ASSERT_STREQ(p, "/sys/fs/cgroup/user.slice/a b");
        p = mfree(p);

        ASSERT_OK(write_file_atomic(f, "0::/\n", 5, 0644));
        ASSERT_OK(cgroup_path_from_proc_file(f, &p));
        ASSERT_STREQ(p, "/sys/fs/cgroup");
        p = mfree(p);

        /* "10::/x" is not the unified line, nor is a v1 line mentioning 0:: */
        static const char v1[] = "10::/x\n2:name=a0::/y\n";
        ASSERT_OK(write_file_atomic(f, v1, strlen(v1), 0644));
        ASSERT_ERROR(cgroup_path_from_proc_file(f, &p), ENOMEDIUM);
        ASSERT_NULL(p);

        ASSERT_OK(rm_rf_at(AT_FDCWD, tmpl));
        ASSERT_ERROR(cgroup_path_from_proc_file(f, &p), ENOENT);

        /* our own: on a cgroup2 host below /sys/fs/cgroup */
        int r = cgroup_path_of_pid(getpid(), &p);
        if (r != -ENOMEDIUM) {
                ASSERT_OK(r);
                ASSERT_NOT_NULL(startswith(p, "/sys/fs/cgroup"));
        }
        ASSERT_ERROR(cgroup_path_of_pid(0, &p), EINVAL);
}

TEST(cpu_set) {
        _cleanup_free_ uint8_t *m = NULL;
        size_t n;

        ASSERT_OK(cpu_set_parse("0-3,5", 8191, &m, &n));
        ASSERT_EQ(n, 1);
        ASSERT_EQ(m[0], 0x2f);
        m = mfree(m);

        /* trimmed to the highest CPU; overlapping ranges and any order */
        ASSERT_OK(cpu_set_parse("9,8-9,0", 8191, &m, &n));
        ASSERT_EQ(n, 2);
        ASSERT_EQ(m[0], 0x01);
        ASSERT_EQ(m[1], 0x03);
        _cleanup_free_ char *s = cpu_set_format(m, n);
        ASSERT_STREQ(s, "0,8-9");
        m = mfree(m);

        ASSERT_OK(cpu_set_parse("8191", 8191, &m, &n));
        ASSERT_EQ(n, 1024);
        ASSERT_EQ(m[1023], 0x80);
        m = mfree(m);

        ASSERT_ERROR(cpu_set_parse("8192", 8191, &m, &n), ERANGE);
        ASSERT_ERROR(cpu_set_parse("0-99999999999", 8191, &m, &n), ERANGE);
        static const char *const bad[] = { "",   "-1", "1-",    "01", "3-1", "a",  "1,,2",
                                           "1,", ",1", "1-2-3", " 1", "1 ",  "+1", "0x1" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ASSERT_ERROR(cpu_set_parse(bad[i], 8191, &m, &n), EINVAL);
        ASSERT_ERROR(cpu_set_parse(NULL, 8191, &m, &n), EINVAL);
        ASSERT_NULL(m);

        /* what the kernel writes to /sys/devices/system/cpu/possible */
        _cleanup_free_ char *line = NULL;
        if (read_one_line_file("/sys/devices/system/cpu/possible", &line) >= 0) {
                ASSERT_OK(cpu_set_parse(line, 65535, &m, &n));
                _cleanup_free_ char *f = cpu_set_format(m, n);
                ASSERT_STREQ(f, line);
        }

        uint8_t mixed[] = { 0xb7, 0x00, 0x80 };
        _cleanup_free_ char *t = cpu_set_format(mixed, sizeof(mixed));
        ASSERT_STREQ(t, "0-2,4-5,7,23");
        uint8_t none[] = { 0x00 };
        _cleanup_free_ char *e = cpu_set_format(none, sizeof(none));
        ASSERT_STREQ(e, "");
}

TEST(opendir_at) {
        char tmpl[] = "/tmp/test-basic-util-XXXXXX";
        ASSERT_NOT_NULL(mkdtemp(tmpl));
        _cleanup_close_ int dfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(dfd >= 0);
        ASSERT_OK(mkdirat(dfd, "sub", 0755));
        ASSERT_OK(write_file_atomic_at(dfd, "sub/f", "x", 1, 0644));
        ASSERT_OK(symlinkat("sub", dfd, "link"));

        DIR *d = NULL;
        unsigned n = 0;
        ASSERT_OK(opendir_at(dfd, "sub", 0, &d));
        for (struct dirent *de; (de = readdir(d));)
                n += streq(de->d_name, "f");
        ASSERT_EQ(n, 1);
        ASSERT_TRUE(dirfd(d) != dfd);
        ASSERT_TRUE(fcntl(dirfd(d), F_GETFD) & FD_CLOEXEC);
        closedir(d);

        /* "." reads dfd's own directory through a new fd: dfd stays open and at its place */
        n = 0;
        ASSERT_OK(opendir_at(dfd, ".", 0, &d));
        for (struct dirent *de; (de = readdir(d));)
                n += streq(de->d_name, "sub") || streq(de->d_name, "link");
        closedir(d);
        ASSERT_EQ(n, 2);
        ASSERT_OK(fcntl(dfd, F_GETFD));

        ASSERT_OK(opendir_at(dfd, "link", 0, &d));
        closedir(d);
        d = NULL;
        ASSERT_TRUE(opendir_at(dfd, "link", O_NOFOLLOW, &d) < 0);
        ASSERT_ERROR(opendir_at(dfd, "sub/f", 0, &d), ENOTDIR);
        ASSERT_ERROR(opendir_at(dfd, "none", 0, &d), ENOENT);
        ASSERT_NULL(d);
        ASSERT_OK(rm_rf_at(AT_FDCWD, tmpl));
}

/* An NLMSG_ERROR for a failed request of req_len bytes, with an NLMSGERR_ATTR_MSG when msg is set */
static size_t build_error(uint8_t *buf, int error, uint32_t req_len, bool capped, const char *msg) {
        struct nlmsghdr *h = (struct nlmsghdr *) buf;
        struct nlmsgerr *e = NLMSG_DATA(h);
        size_t len = NLMSG_HDRLEN + sizeof(*e) + (capped ? 0 : req_len - sizeof(struct nlmsghdr));

        memset(buf, 0, 512);
        h->nlmsg_type = NLMSG_ERROR;
        h->nlmsg_flags = capped ? NLM_F_CAPPED : 0;
        e->error = error;
        e->msg.nlmsg_len = req_len;
        if (msg) {
                struct nlattr *a = (struct nlattr *) (buf + NLMSG_ALIGN(len));
                h->nlmsg_flags |= NLM_F_ACK_TLVS;
                a->nla_type = NLMSGERR_ATTR_MSG;
                a->nla_len = (uint16_t) (NLA_HDRLEN + strlen(msg) + 1);
                memcpy((uint8_t *) a + NLA_HDRLEN, msg, strlen(msg) + 1);
                len = NLMSG_ALIGN(len) + a->nla_len;
        }
        h->nlmsg_len = (uint32_t) len;
        return len;
}

TEST(nlmsg_parse_error) {
        _Alignas(struct nlmsghdr) uint8_t buf[512];
        const char *msg;

        build_error(buf, 0, 32, true, NULL);
        ASSERT_EQ(nlmsg_parse_error((struct nlmsghdr *) buf, &msg), 0);
        ASSERT_NULL(msg);

        build_error(buf, -EEXIST, 40, false, "File exists here");
        ASSERT_ERROR(nlmsg_parse_error((struct nlmsghdr *) buf, &msg), EEXIST);
        ASSERT_STREQ(msg, "File exists here");
        build_error(buf, -EINVAL, 40, true, "capped");
        ASSERT_ERROR(nlmsg_parse_error((struct nlmsghdr *) buf, &msg), EINVAL);
        ASSERT_STREQ(msg, "capped");

        /* an attribute that is no NUL-terminated string, or runs past the message, is no text */
        build_error(buf, -EINVAL, 16, false, "abc");
        struct nlmsghdr *h = (struct nlmsghdr *) buf;
        buf[h->nlmsg_len - 1] = 'x';
        ASSERT_ERROR(nlmsg_parse_error(h, &msg), EINVAL);
        ASSERT_NULL(msg);
        build_error(buf, -EINVAL, 16, false, "abc");
        h->nlmsg_len -= 2;
        ASSERT_ERROR(nlmsg_parse_error(h, &msg), EINVAL);
        ASSERT_NULL(msg);
        /* a request length past the message leaves no room for TLVs */
        build_error(buf, -EPERM, 16, false, "abc");
        ((struct nlmsgerr *) NLMSG_DATA(h))->msg.nlmsg_len = 4096;
        ASSERT_ERROR(nlmsg_parse_error(h, &msg), EPERM);
        ASSERT_NULL(msg);

        build_error(buf, 5, 16, true, NULL);
        ASSERT_ERROR(nlmsg_parse_error(h, &msg), EBADMSG);
        ASSERT_STREQ(msg, "invalid errno in netlink error message");
        build_error(buf, -5000, 16, true, NULL);
        ASSERT_ERROR(nlmsg_parse_error(h, &msg), EBADMSG);
        build_error(buf, -EPERM, 16, true, NULL);
        h->nlmsg_len = NLMSG_HDRLEN + 4;
        ASSERT_ERROR(nlmsg_parse_error(h, &msg), EBADMSG);
        ASSERT_STREQ(msg, "truncated netlink error message");
}

TEST(nlmsg_valid) {
        _Alignas(struct nlmsghdr) uint8_t buf[64] = {};
        struct nlmsghdr *h = (struct nlmsghdr *) buf;

        h->nlmsg_len = 32;
        ASSERT_TRUE(nlmsg_valid(h, 64));
        ASSERT_TRUE(nlmsg_valid(h, 32));
        ASSERT_FALSE(nlmsg_valid(h, 31));
        ASSERT_FALSE(nlmsg_valid(h, 15));
        h->nlmsg_len = 8;
        ASSERT_FALSE(nlmsg_valid(h, 64));
        h->nlmsg_len = 0x80000010U; /* negative as an int: libmnl's check would let it through */
        ASSERT_FALSE(nlmsg_valid(h, 64));
        h->nlmsg_len = 0xFFFFFFFFU; /* its NLMSG_ALIGN() wraps to 0 */
        ASSERT_FALSE(nlmsg_valid(h, 64));
        h->nlmsg_len = 30; /* the last message, its padding missing: attributes are parsed to 32 */
        ASSERT_FALSE(nlmsg_valid(h, 30));
        ASSERT_FALSE(nlmsg_valid(h, 31));
        ASSERT_TRUE(nlmsg_valid(h, 32));
}

/* A request the kernel refuses (RTM_GETLINK of an ifindex that cannot exist), answered for real */
TEST(nlmsg_recv) {
        _cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        struct {
                struct nlmsghdr h;
                struct ifinfomsg i;
        } req = {
                .h = { .nlmsg_len = sizeof(req),
                       .nlmsg_type = RTM_GETLINK,
                       .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK,
                       .nlmsg_seq = 7 },
                .i = { .ifi_family = AF_UNSPEC, .ifi_index = 0x7ffffff0 },
        };
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        _Alignas(struct nlmsghdr) uint8_t buf[8192];
        const char *msg;
        int one = 1;

        if (fd < 0)
                TEST_SKIP("no rtnetlink socket: %m");
        (void) setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
        ASSERT_TRUE(sendto(fd, &req, sizeof(req), 0, (struct sockaddr *) &kernel, sizeof(kernel)) > 0);
        ssize_t n = nlmsg_recv(fd, buf, sizeof(buf), 0);
        ASSERT_TRUE(n > 0);
        const struct nlmsghdr *h = (const struct nlmsghdr *) buf;
        ASSERT_TRUE(nlmsg_valid(h, (int) n));
        ASSERT_EQ(h->nlmsg_type, NLMSG_ERROR);
        ASSERT_EQ(h->nlmsg_seq, 7);
        ASSERT_ERROR(nlmsg_parse_error(h, &msg), ENODEV);

        /* nothing queued: MSG_DONTWAIT returns at once */
        ASSERT_ERROR(nlmsg_recv(fd, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
        /* a reply that does not fit the buffer is refused, not cut */
        ASSERT_TRUE(sendto(fd, &req, sizeof(req), 0, (struct sockaddr *) &kernel, sizeof(kernel)) > 0);
        ASSERT_ERROR(nlmsg_recv(fd, buf, 8, 0), ENOBUFS);
}

TEST(utf8_decode) {
        uint32_t c = 0;
        ASSERT_EQ(utf8_decode("A", 1, &c), 1);
        ASSERT_EQ(c, 'A');
        ASSERT_EQ(utf8_decode("\xc3\xa9x", 3, &c), 2);
        ASSERT_EQ(c, 0xe9);
        ASSERT_EQ(utf8_decode("\xe2\x82\xac", 3, &c), 3);
        ASSERT_EQ(c, 0x20ac);
        ASSERT_EQ(utf8_decode("\xf4\x8f\xbf\xbf", 4, &c), 4);
        ASSERT_EQ(c, 0x10ffff);
        c = 1;
        ASSERT_EQ(utf8_decode("\xc0\xaf", 2, &c), 0);         /* overlong */
        ASSERT_EQ(utf8_decode("\xed\xa0\x80", 3, &c), 0);     /* surrogate */
        ASSERT_EQ(utf8_decode("\xf4\x90\x80\x80", 4, &c), 0); /* > U+10FFFF */
        ASSERT_EQ(utf8_decode("\xe2\x82\xac", 2, &c), 0);     /* truncated by len */
        ASSERT_EQ(utf8_decode("\x80", 1, &c), 0);             /* continuation first */
        ASSERT_EQ(utf8_decode("\xf8\x88\x80\x80\x80", 5, &c), 0);
        ASSERT_EQ(utf8_decode("A", 0, &c), 0);
        ASSERT_EQ(c, 1); /* untouched on failure */
}

TEST(greedy_realloc) {
        _cleanup_free_ uint64_t *a = NULL;
        size_t allocated = 0, n = 0;

        /* grows to the minimum first, then doubles; each element survives the moves */
        for (uint64_t v = 0; v < 100; v++) {
                size_t before = allocated;
                ASSERT_OK(GREEDY_REALLOC(a, allocated, n + 1, 16));
                if (n < before)
                        ASSERT_EQ(allocated, before);
                a[n++] = v * v;
        }
        ASSERT_EQ(allocated, 128);
        for (uint64_t v = 0; v < 100; v++)
                ASSERT_EQ_U64(a[v], v * v);

        /* room already there: nothing moves; a need beyond twice the size is met at once */
        uint64_t *p = a;
        ASSERT_OK(GREEDY_REALLOC(a, allocated, 128, 16));
        ASSERT_TRUE(a == p);
        ASSERT_OK(GREEDY_REALLOC(a, allocated, 1000, 16));
        ASSERT_EQ(allocated, 1000);
        ASSERT_EQ_U64(a[99], 99 * 99);

        /* an impossible size fails and leaves the array as it was */
        p = a;
        ASSERT_ERROR(GREEDY_REALLOC(a, allocated, SIZE_MAX / 4, 16), ENOMEM);
        ASSERT_TRUE(a == p);
        ASSERT_EQ(allocated, 1000);
}

typedef enum Colour {
        COLOUR_RED,
        COLOUR_GREEN,
        COLOUR_UNNAMED,
        COLOUR_BLUE,
        _COLOUR_MAX,
        _COLOUR_INVALID = -EINVAL,
} Colour;

static const char *const colour_table[_COLOUR_MAX] = {
        [COLOUR_RED] = "red",
        [COLOUR_GREEN] = "green",
        [COLOUR_BLUE] = "blue",
};

static const char *colour_to_string(Colour c);
static Colour colour_from_string(const char *s);
static DEFINE_STRING_TABLE_LOOKUP(colour, Colour, _COLOUR_MAX, _COLOUR_INVALID);

TEST(string_table) {
        ASSERT_STREQ(colour_to_string(COLOUR_RED), "red");
        ASSERT_STREQ(colour_to_string(COLOUR_BLUE), "blue");
        ASSERT_NULL(colour_to_string(COLOUR_UNNAMED)); /* a gap in the table */
        ASSERT_NULL(colour_to_string(_COLOUR_MAX));
        ASSERT_NULL(colour_to_string((Colour) -1));
        ASSERT_EQ(colour_from_string("green"), COLOUR_GREEN);
        ASSERT_EQ(colour_from_string("blue"), COLOUR_BLUE);
        ASSERT_EQ(colour_from_string("Blue"), _COLOUR_INVALID);
        ASSERT_EQ(colour_from_string(""), _COLOUR_INVALID);
        ASSERT_EQ(colour_from_string(NULL), _COLOUR_INVALID);
}

TEST(strv_ensure) {
        _cleanup_strv_free_ char **l = NULL;

        ASSERT_OK(strv_ensure(&l));
        ASSERT_NOT_NULL(l);
        ASSERT_NULL(l[0]);
        ASSERT_OK(strv_extend(&l, "a"));
        char **p = l;
        ASSERT_OK(strv_ensure(&l)); /* a vector already there stays as it is */
        ASSERT_TRUE(l == p);
        ASSERT_STREQ(l[0], "a");
}

TEST(fd_send_recv) {
        _cleanup_close_pair_ int sp[2] = { -EBADF, -EBADF };
        _cleanup_close_ int got = -EBADF;
        char buf[16] = {};
        struct stat a, b;

        ASSERT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp));
        _cleanup_close_ int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);

        /* the fd arrives as a new fd for the same file, close-on-exec when asked */
        ASSERT_OK(fd_send(sp[0], "hello", 5, fd, MSG_NOSIGNAL));
        ASSERT_EQ(fd_recv(sp[1], buf, sizeof(buf), &got, MSG_CMSG_CLOEXEC), 5);
        ASSERT_STREQ(buf, "hello");
        ASSERT_TRUE(got >= 0 && got != fd);
        ASSERT_TRUE(fcntl(got, F_GETFD) & FD_CLOEXEC);
        ASSERT_OK(fstat(fd, &a));
        ASSERT_OK(fstat(got, &b));
        ASSERT_TRUE(a.st_dev == b.st_dev && a.st_ino == b.st_ino);

        /* a message without one (sent by fd_send with fd < 0, or plainly): -EBADF; a closed peer: 0
         * bytes */
        int none = 0;
        ASSERT_OK(fd_send(sp[0], "y", 1, -EBADF, MSG_NOSIGNAL));
        ASSERT_EQ(fd_recv(sp[1], buf, sizeof(buf), &none, 0), 1);
        ASSERT_EQ(buf[0], 'y');
        ASSERT_EQ(none, -EBADF);
        ASSERT_EQ(send(sp[0], "x", 1, MSG_NOSIGNAL), 1);
        ASSERT_EQ(fd_recv(sp[1], buf, sizeof(buf), &none, 0), 1);
        ASSERT_EQ(none, -EBADF);
        sp[0] = safe_close(sp[0]);
        ASSERT_EQ(fd_recv(sp[1], buf, sizeof(buf), &none, 0), 0);
        ASSERT_ERROR(fd_send(sp[1], "x", 1, fd, MSG_NOSIGNAL), EPIPE);
        ASSERT_ERROR(fd_send(-1, "x", 1, fd, 0), EBADF);
}

TEST_MAIN()
