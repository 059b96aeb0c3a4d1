/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cbox-build.h"
#include "fd-util.h"
#include "fileio.h"
#include "init.h"
#include "journal-native.h"
#include "string-util.h"
#include "tests.h"

#define CBOX_INIT CBOX_BUILD_ROOT "/src/init/cbox-init"

static void require_root(void) {
        if (geteuid() != 0)
                TEST_SKIP("needs root for a new pid namespace");
        if (access(CBOX_INIT, X_OK) < 0)
                TEST_SKIP("%s not built", CBOX_INIT);
}

/* Starts cbox-init as PID 1 of a new pid namespace with argv; stdout of init goes to out_fd if >= 0.
 * keep_fd stays open. Returns the host pid. */
static pid_t start_init(char **argv, int out_fd, int keep_fd) {
        pid_t pid = (pid_t) syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL);
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                if (out_fd >= 0)
                        (void) dup2(out_fd, STDOUT_FILENO);
                if (keep_fd >= 0)
                        (void) fd_set_cloexec(keep_fd, false);
                execv(CBOX_INIT, argv);
                _exit(99);
        }
        return pid;
}

static int wait_exit(pid_t pid) {
        int status;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        return WEXITSTATUS(status);
}

static int run_sh(const char *script) {
        char *argv[] = { (char *) "cbox-init", (char *) "--",   (char *) "/bin/sh",
                         (char *) "-c",        (char *) script, NULL };
        return wait_exit(start_init(argv, -EBADF, -EBADF));
}

TEST(exit_codes) {
        require_root();
        ASSERT_EQ(run_sh("exit 0"), 0);
        ASSERT_EQ(run_sh("exit 3"), 3);
        ASSERT_EQ(run_sh("kill -KILL $$"), 137);
        ASSERT_EQ(run_sh("kill -TERM $$"), 128 + SIGTERM);
        /* the payload is PID 2 */
        ASSERT_EQ(run_sh("test $$ = 2"), 0);

        char *argv[] = { (char *) "cbox-init", (char *) "--", (char *) "no-such-binary-xyz", NULL };
        ASSERT_EQ(wait_exit(start_init(argv, -EBADF, -EBADF)), INIT_EXIT_NOT_FOUND);
        char *argv2[] = { (char *) "cbox-init", (char *) "--", (char *) "/etc", NULL };
        ASSERT_EQ(wait_exit(start_init(argv2, -EBADF, -EBADF)), INIT_EXIT_NOT_EXECUTABLE);
        char *argv3[] = { (char *) "cbox-init", NULL };
        ASSERT_EQ(wait_exit(start_init(argv3, -EBADF, -EBADF)), INIT_EXIT_FAILURE);
}

TEST(sigterm_forwarded) {
        _cleanup_close_pair_ int p[2] = { -EBADF, -EBADF };
        char buf[16] = {};
        char *argv[] = { (char *) "cbox-init",
                         (char *) "--",
                         (char *) "/bin/sh",
                         (char *) "-c",
                         (char *) "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done",
                         NULL };

        require_root();
        ASSERT_OK(RET_NERRNO(pipe2(p, O_CLOEXEC)));
        pid_t pid = start_init(argv, p[1], -EBADF);
        p[1] = safe_close(p[1]);
        ASSERT_TRUE(read(p[0], buf, sizeof(buf) - 1) > 0);
        ASSERT_STREQ(buf, "ready\n");
        ASSERT_OK(RET_NERRNO(kill(pid, SIGTERM)));
        ASSERT_EQ(wait_exit(pid), 42);
}

static unsigned count_zombie_children(pid_t parent) {
        _cleanup_closedir_ DIR *d = opendir("/proc");
        struct dirent *de;
        unsigned n = 0;

        ASSERT_NOT_NULL(d);
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL, *stat = NULL;
                char state;
                int ppid;

                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue;
                path = strprintf("/proc/%s/stat", de->d_name);
                ASSERT_NOT_NULL(path);
                if (read_one_line_file(path, &stat) < 0)
                        continue;
                const char *e = strrchr(stat, ')');
                if (!e || sscanf(e + 1, " %c %d", &state, &ppid) != 2)
                        continue;
                if (ppid == parent && state == 'Z')
                        n++;
        }
        return n;
}

TEST(orphans_reaped) {
        _cleanup_close_pair_ int p[2] = { -EBADF, -EBADF };
        char buf[16] = {};
        char *argv[] = { (char *) "cbox-init",
                         (char *) "--",
                         (char *) "/bin/sh",
                         (char *) "-c",
                         (char *) "i=0; while [ $i -lt 100 ]; do (sleep 0.1 &); i=$((i+1)); done; "
                                  "echo ready; sleep 2; exit 7",
                         NULL };

        require_root();
        ASSERT_OK(RET_NERRNO(pipe2(p, O_CLOEXEC)));
        pid_t pid = start_init(argv, p[1], -EBADF);
        p[1] = safe_close(p[1]);
        ASSERT_TRUE(read(p[0], buf, sizeof(buf) - 1) > 0);
        /* the 100 orphans (re-parented to init) have exited by now */
        (void) usleep(600 * 1000);
        ASSERT_EQ(count_zombie_children(pid), 0);
        ASSERT_EQ(wait_exit(pid), 7);
}

TEST(leftovers_killed_and_exit_record) {
        _cleanup_close_ int fd = memfd_create("exit", MFD_CLOEXEC);
        _cleanup_free_ char *fdstr = NULL, *text = NULL;
        struct timespec ts;
        uint64_t before, usec;
        int status;

        require_root();
        ASSERT_TRUE(fd >= 0);
        fdstr = strprintf("%d", fd);
        char *argv[] = { (char *) "cbox-init",
                         (char *) "--exit-fd",
                         fdstr,
                         (char *) "--",
                         (char *) "/bin/sh",
                         (char *) "-c",
                         (char *) "sleep 1000 & exit 5",
                         NULL };

        clock_gettime(CLOCK_REALTIME, &ts);
        before = (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
        /* returns in well under the sleep: the orphaned sleep is killed, not waited for */
        ASSERT_EQ(wait_exit(start_init(argv, -EBADF, fd)), 5);
        clock_gettime(CLOCK_REALTIME, &ts);
        ASSERT_TRUE((uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000 - before <
                    10 * USEC_PER_SEC);

        ASSERT_OK(RET_NERRNO(lseek(fd, 0, SEEK_SET)));
        ASSERT_OK(read_full_fd(fd, &text, NULL, 4096));
        ASSERT_OK(init_parse_exit_record(text, &status, &usec));
        ASSERT_EQ(status, 5);
        ASSERT_TRUE(usec >= before);
}

TEST(exit_record_parse) {
        int status;
        uint64_t usec;

        ASSERT_OK(init_parse_exit_record("EXIT_STATUS=137\nEXIT_TIME=1700000000000000\n", &status, &usec));
        ASSERT_EQ(status, 137);
        ASSERT_EQ_U64(usec, 1700000000000000ULL);
        ASSERT_ERROR(init_parse_exit_record("", &status, NULL), ENODATA);
        ASSERT_ERROR(init_parse_exit_record("EXIT_STATUS=1\n", &status, NULL), EBADMSG);
        ASSERT_ERROR(init_parse_exit_record("EXIT_STATUS=256\nEXIT_TIME=1\n", &status, NULL), EBADMSG);
        ASSERT_ERROR(init_parse_exit_record("EXIT_STATUS=x\nEXIT_TIME=1\n", &status, NULL), EBADMSG);
        ASSERT_ERROR(init_parse_exit_record("FOO=1\n", &status, NULL), EBADMSG);
}

TEST(build_argv) {
        _cleanup_strv_free_ char **l = NULL;
        char *payload[] = { (char *) "echo", (char *) "hi", NULL };
        InitOptions o = { .exit_fd = 5, .journal_fd = 7, .name = "web" };

        ASSERT_OK(init_build_argv(&o, payload, &l));
        _cleanup_free_ char *j = strv_join(l, " ");
        ASSERT_STREQ(j, "cbox-init --exit-fd 5 --journal-fd 7 --name web -- echo hi");
        o.name = NULL;
        ASSERT_ERROR(init_build_argv(&o, payload, &l), EINVAL);
}

typedef struct Fields {
        char *message, *priority, *ident, *container, *stream;
} Fields;

static int collect(const char *name, size_t name_len, const void *value, size_t size, void *userdata) {
        Fields *f = userdata;
        char **t = NULL;
        _cleanup_free_ char *n = strndup(name, name_len);

        if (streq(n, "MESSAGE"))
                t = &f->message;
        else if (streq(n, "PRIORITY"))
                t = &f->priority;
        else if (streq(n, "SYSLOG_IDENTIFIER"))
                t = &f->ident;
        else if (streq(n, "CBOX_CONTAINER"))
                t = &f->container;
        else if (streq(n, "CBOX_STREAM"))
                t = &f->stream;
        if (t) {
                free(*t);
                *t = strndup(value, size);
        }
        return 0;
}

static void fields_done(Fields *f) {
        free(f->message);
        free(f->priority);
        free(f->ident);
        free(f->container);
        free(f->stream);
        *f = (Fields){};
}

TEST(journal_relay) {
        _cleanup_close_pair_ int sp[2] = { -EBADF, -EBADF };
        _cleanup_free_ char *fdstr = NULL, *big = NULL;
        unsigned n_out = 0, n_err = 0, n_big = 0;
        bool saw_hello = false, saw_world = false, saw_oops = false, saw_tail = false;

        require_root();
        ASSERT_OK(RET_NERRNO(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp)));
        int sz = 1024 * 1024;
        (void) setsockopt(sp[0], SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
        fdstr = strprintf("%d", sp[1]);
        /* a 20000-byte line is cut at INIT_LINE_MAX; a last line without newline still arrives */
        char *argv[] = { (char *) "cbox-init",
                         (char *) "--journal-fd",
                         fdstr,
                         (char *) "--name",
                         (char *) "web",
                         (char *) "--",
                         (char *) "/bin/sh",
                         (char *) "-c",
                         (char *) "echo hello; echo world; echo oops >&2; "
                                  "i=0; s=x; while [ $i -lt 15 ]; do s=$s$s; i=$((i+1)); done; echo $s; "
                                  "printf tail",
                         NULL };

        pid_t pid = start_init(argv, -EBADF, sp[1]);
        sp[1] = safe_close(sp[1]);
        ASSERT_EQ(wait_exit(pid), 0);

        big = malloc(64 * 1024);
        ASSERT_NOT_NULL(big);
        for (;;) {
                ssize_t k = recv(sp[0], big, 64 * 1024, MSG_DONTWAIT);
                if (k < 0)
                        break;
                Fields f = {};
                ASSERT_OK(journal_native_parse(big, (size_t) k, collect, &f));
                ASSERT_STREQ(f.ident, "web");
                ASSERT_STREQ(f.container, "web");
                ASSERT_NOT_NULL(f.message);
                if (streq(f.stream, "stdout")) {
                        ASSERT_STREQ(f.priority, "6");
                        n_out++;
                } else {
                        ASSERT_STREQ(f.stream, "stderr");
                        ASSERT_STREQ(f.priority, "3");
                        n_err++;
                }
                saw_hello |= streq(f.message, "hello");
                saw_world |= streq(f.message, "world");
                saw_oops |= streq(f.message, "oops");
                saw_tail |= streq(f.message, "tail");
                if (strlen(f.message) >= 1000) {
                        ASSERT_TRUE(strlen(f.message) <= INIT_LINE_MAX);
                        n_big++;
                }
                fields_done(&f);
        }
        ASSERT_TRUE(saw_hello && saw_world && saw_oops && saw_tail);
        ASSERT_EQ(n_err, 1);
        ASSERT_EQ(n_big, 2); /* 32768 bytes = 16384 + 16384 */
        ASSERT_EQ(n_out, 5);
}

/* With a real journald (the VM): the entries arrive with the container's fields */
TEST(journal_real) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *fdstr = NULL, *name = NULL, *cmd = NULL, *out = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/run/systemd/journal/socket" };
        size_t n = 0;

        require_root();
        if (access(sa.sun_path, W_OK) < 0 || access("/usr/bin/journalctl", X_OK) < 0) {
                /* not TEST_SKIP: that would skip the whole binary */
                fprintf(stderr, "journal_real: no journald here, not tested\n");
                return;
        }
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(RET_NERRNO(connect(fd, (struct sockaddr *) &sa, sizeof(sa))));
        fdstr = strprintf("%d", fd);
        name = strprintf("cbox-test-%d", (int) getpid());
        char *argv[] = { (char *) "cbox-init",
                         (char *) "--journal-fd",
                         fdstr,
                         (char *) "--name",
                         name,
                         (char *) "--",
                         (char *) "/bin/sh",
                         (char *) "-c",
                         (char *) "echo to-stdout; echo to-stderr >&2",
                         NULL };
        ASSERT_EQ(wait_exit(start_init(argv, -EBADF, fd)), 0);

        cmd = strprintf("journalctl --sync; sleep 0.5; journalctl -q -o export CBOX_CONTAINER=%s", name);
        FILE *f = popen(cmd, "r");
        ASSERT_NOT_NULL(f);
        out = malloc(65536);
        ASSERT_NOT_NULL(out);
        n = fread(out, 1, 65535, f);
        out[n] = '\0';
        pclose(f);
        /* the export format has binary fields: search all n bytes */
#define HAS(s) (memmem(out, n, (s), strlen(s)) != NULL)
        ASSERT_TRUE(HAS("MESSAGE=to-stdout\n"));
        ASSERT_TRUE(HAS("MESSAGE=to-stderr\n"));
        ASSERT_TRUE(HAS("CBOX_STREAM=stderr\n"));
        ASSERT_TRUE(HAS("CBOX_STREAM=stdout\n"));
        ASSERT_TRUE(HAS("PRIORITY=3\n"));
        _cleanup_free_ char *ident = strprintf("SYSLOG_IDENTIFIER=%s\n", name);
        ASSERT_TRUE(HAS(ident));
#undef HAS
}

static int collect_one(const char *name, size_t name_len, const void *value, size_t size, void *userdata) {
        Buffer *b = userdata;
        ASSERT_OK(buffer_append(b, name, name_len));
        ASSERT_OK(buffer_append(b, "|", 1));
        ASSERT_OK(buffer_append(b, value, size));
        ASSERT_OK(buffer_append(b, "|", 1));
        return 0;
}

TEST(journal_native_roundtrip) {
        Buffer b = {}, out = {};
        static const char bin[] = { 'a', '\n', 0, 'b', '=', '\n' };

        ASSERT_OK(journal_native_append_string(&b, "MESSAGE", "plain"));
        ASSERT_OK(journal_native_append(&b, "BINARY", bin, sizeof(bin)));
        ASSERT_OK(journal_native_append_string(&b, "EMPTY", ""));
        ASSERT_OK(journal_native_append_string(&b, "MULTI", "line1\nline2"));
        ASSERT_ERROR(journal_native_append_string(&b, "lower", "x"), EINVAL);
        ASSERT_ERROR(journal_native_append_string(&b, "_TRUSTED", "x"), EINVAL);
        ASSERT_ERROR(journal_native_append_string(&b, "", "x"), EINVAL);

        /* the binary-safe form: NAME\n + le64 length + value + \n */
        ASSERT_TRUE(memmem(b.data, b.size, "MULTI\n\x0b\0\0\0\0\0\0\0line1\nline2\n", 26) != NULL);

        ASSERT_OK(journal_native_parse(b.data, b.size, collect_one, &out));
        ASSERT_EQ(out.size,
                  strlen("MESSAGE|plain|BINARY|") + sizeof(bin) + strlen("|EMPTY||MULTI|line1\nline2|"));
        ASSERT_TRUE(memcmp(out.data, "MESSAGE|plain|BINARY|", 21) == 0);
        ASSERT_TRUE(memcmp(out.data + 21, bin, sizeof(bin)) == 0);

        /* truncations never crash and are refused */
        for (size_t n = 1; n < b.size; n++) {
                Buffer junk = {};
                int r = journal_native_parse(b.data, n, collect_one, &junk);
                ASSERT_TRUE(r == 0 || r == -EBADMSG);
                buffer_done(&junk);
        }
        ASSERT_ERROR(journal_native_parse("BINARY\n\xff\xff\xff\xff\xff\xff\xff\xff"
                                          "abc\n",
                                          20, collect_one, &out),
                     EBADMSG);

        buffer_done(&b);
        buffer_done(&out);
}

TEST_MAIN();
