/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "fileio.h"
#include "state.h"
#include "string-util.h"
#include "tests.h"

static char *make_tmpdir(void) {
        char t[] = "/tmp/test-state-XXXXXX";
        ASSERT_NOT_NULL(mkdtemp(t));
        return strdup(t);
}

/* strjoin into a small ring the test never frees by hand (for one-off paths in assertions) */
#define strjoina(...) ring_keep(strjoin(__VA_ARGS__))
static const char *ring_keep(char *s) {
        static char *ring[16];
        static size_t i;
        ASSERT_NOT_NULL(s);
        free(ring[i % ELEMENTSOF(ring)]);
        ring[i++ % ELEMENTSOF(ring)] = s;
        return s;
}

static void rm_tmpdir(const char *p) {
        ASSERT_OK(rm_rf_at(AT_FDCWD, p));
}

TEST(name_validity) {
        ASSERT_TRUE(container_name_is_valid("web"));
        ASSERT_TRUE(container_name_is_valid("a.b_c-1"));
        ASSERT_FALSE(container_name_is_valid(""));
        ASSERT_FALSE(container_name_is_valid(NULL));
        ASSERT_FALSE(container_name_is_valid(".hidden"));
        ASSERT_FALSE(container_name_is_valid("-x"));
        ASSERT_FALSE(container_name_is_valid("a/b"));
        ASSERT_FALSE(container_name_is_valid(".."));
        ASSERT_FALSE(container_name_is_valid(
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 65 */
        ASSERT_FALSE(container_name_is_valid("caf\xc3\xa9")); /* ASCII only, whatever the locale */
        ASSERT_FALSE(container_name_is_valid("a b"));
        /* the one rule: names like state/'s own files are container names too */
        ASSERT_TRUE(container_name_is_valid("ipam"));
        ASSERT_TRUE(container_name_is_valid("x.lock"));
}

/* Names that spell cbox's internal entries do not reach them: a container named like each of them
 * gets its own dir below containers/ and its own lock below locks/, and removing it removes nothing
 * else. */
TEST(internal_names_are_containers) {
        _cleanup_free_ char *root = make_tmpdir(), *ipam = NULL, *lease = NULL;
        const char *names[] = { "ipam", "locks", "containers", "x.lock", "web.toml.d", "web.toml", "state" };
        _cleanup_strv_free_ char **listed = NULL;
        _cleanup_close_ int wfd = -EBADF;

        /* a lease file of ipam/ and the lock and state of a container "x" */
        ASSERT_OK(state_ipam_dir(root, &ipam));
        ASSERT_STREQ(ipam, strjoina(root, "/ipam"));
        lease = strjoin(ipam, "/cbox0/leases");
        ASSERT_OK(mkdir_p(strjoina(ipam, "/cbox0"), 0755));
        ASSERT_OK(write_file_atomic(lease, "x", 1, 0644));
        ASSERT_OK(state_dir_open(root, "x", true, &wfd));
        {
                ContainerState s = { .name = (char *) "x" };
                ASSERT_OK(state_save(wfd, &s));
        }

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_close_ int fd = -EBADF, lock = -EBADF, xlock = -EBADF;
                _cleanup_free_ char *p = NULL;
                ContainerState s = { .name = (char *) names[i] };

                ASSERT_OK(state_dir_path(root, names[i], &p));
                ASSERT_STREQ(p, strjoina(root, "/containers/", names[i]));
                ASSERT_OK(state_lock(root, names[i], false, &lock));
                /* "x.lock" locked does not lock "x", and the other way round */
                ASSERT_OK(state_lock(root, "x", false, &xlock));
                xlock = state_unlock(root, "x", xlock, false);
                ASSERT_OK(state_dir_open(root, names[i], true, &fd));
                ASSERT_OK(state_save(fd, &s));
                ASSERT_TRUE(state_dir_exists(root, names[i]));
                ASSERT_OK(state_dir_remove(root, names[i]));
                ASSERT_FALSE(state_dir_exists(root, names[i]));
                lock = state_unlock(root, names[i], lock, true);
                /* the leases and the other container are untouched */
                ASSERT_OK(RET_NERRNO(access(lease, F_OK)));
                ASSERT_TRUE(state_dir_exists(root, "x"));
                ASSERT_OK(RET_NERRNO(access(strjoina(root, "/locks"), F_OK)));
        }
        ASSERT_OK(state_list(root, &listed));
        ASSERT_EQ(strv_length(listed), 1);
        ASSERT_STREQ(listed[0], "x");
        {
                _cleanup_free_ char *sp = state_path(root, "x", "root");
                ASSERT_STREQ(sp, strjoina(root, "/containers/x/root"));
                ASSERT_NULL(state_path(root, "../x", NULL));
        }
        rm_tmpdir(root);
}

TEST(mode_strings) {
        ASSERT_STREQ(state_mode_to_string(STATE_MODE_DETACHED), "detached");
        ASSERT_STREQ(state_mode_to_string(STATE_MODE_FOREGROUND), "foreground");
        ASSERT_EQ(state_mode_from_string("foreground"), STATE_MODE_FOREGROUND);
        ASSERT_TRUE(state_mode_from_string("bogus") < 0);
        ASSERT_NULL(state_mode_to_string(_STATE_MODE_MAX));
}

TEST(save_load_roundtrip) {
        _cleanup_free_ char *root = make_tmpdir();
        _cleanup_(container_state_freep) ContainerState *l = NULL;
        _cleanup_close_ int fd = -EBADF;
        ContainerState s = {
                .name = (char *) "web",
                .unit = (char *) "cbox-web.scope",
                .machine = (char *) "web",
                .config_path = (char *) "/etc/cbox/we\nird\\name.toml",
                .config_digest = (char *) "abcdef0123",
                .rootfs = (char *) "/srv/rootfs",
                .upper_dir = (char *) "/var/lib/cbox/containers/web/upper",
                .work_dir = (char *) "/var/lib/cbox/containers/web/work",
                .network = (char *) "cbox0",
                .address = (char *) "10.88.0.2",
                .host_ifname = (char *) "vb-web",
                .leader_pid = 4242,
                .leader_start_time = 987654321ULL,
                .start_time_usec = 1700000000123456ULL,
                .mode = STATE_MODE_FOREGROUND,
                .stopped = true,
        };

        ASSERT_ERROR(state_dir_open(root, "web", false, &fd), ENOENT);
        ASSERT_OK(state_dir_open(root, "web", true, &fd));
        ASSERT_ERROR(state_load(fd, &l), ENOENT);
        ASSERT_OK(state_save(fd, &s));
        ASSERT_OK(state_load(fd, &l));
        ASSERT_STREQ(l->name, "web");
        ASSERT_STREQ(l->unit, "cbox-web.scope");
        ASSERT_STREQ(l->machine, "web");
        ASSERT_STREQ(l->config_path, "/etc/cbox/we\nird\\name.toml");
        ASSERT_STREQ(l->config_digest, "abcdef0123");
        ASSERT_STREQ(l->rootfs, "/srv/rootfs");
        ASSERT_STREQ(l->upper_dir, "/var/lib/cbox/containers/web/upper");
        ASSERT_STREQ(l->work_dir, "/var/lib/cbox/containers/web/work");
        ASSERT_STREQ(l->network, "cbox0");
        ASSERT_STREQ(l->address, "10.88.0.2");
        ASSERT_STREQ(l->host_ifname, "vb-web");
        ASSERT_EQ(l->leader_pid, 4242);
        ASSERT_EQ_U64(l->leader_start_time, 987654321ULL);
        ASSERT_EQ_U64(l->start_time_usec, 1700000000123456ULL);
        ASSERT_EQ(l->mode, STATE_MODE_FOREGROUND);
        ASSERT_TRUE(l->stopped);
        ASSERT_FALSE(l->exit_set);

        /* no temp files left behind by the atomic write */
        {
                _cleanup_strv_free_ char **names = NULL;
                ASSERT_OK(state_list(root, &names));
                ASSERT_EQ(strv_length(names), 1);
                ASSERT_STREQ(names[0], "web");
        }

        fd = safe_close(fd);
        ASSERT_OK(state_dir_remove(root, "web"));
        ASSERT_OK(state_dir_remove(root, "web")); /* idempotent */
        ASSERT_ERROR(state_load_by_name(root, "web", &l), ENOENT);
        rm_tmpdir(root);
}

TEST(load_rejects_garbage) {
        _cleanup_free_ char *root = make_tmpdir();
        _cleanup_(container_state_freep) ContainerState *l = NULL;
        _cleanup_close_ int fd = -EBADF;
        static const char *const bad[] = {
                "no equals sign\n",
                "UNIT=x\n", /* no NAME */
                "NAME=a\nLEADER_PID=abc\n",
                "NAME=a\nLEADER_PID=-5\n",
                "NAME=a\nMODE=sideways\n",
                "NAME=a\nCONFIG_PATH=bad\\qescape\n",
                "NAME=a\nSTART_TIME=99999999999999999999999\n",
        };

        ASSERT_OK(state_dir_open(root, "x", true, &fd));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ASSERT_OK(write_file_atomic_at(fd, "state", bad[i], strlen(bad[i]), 0644));
                if (state_load(fd, &l) != -EBADMSG && state_load(fd, &l) != -ERANGE)
                        TEST_FAIL("state file %zu accepted: %s", i, bad[i]);
        }
        /* unknown keys from a newer version are fine */
        ASSERT_OK(write_file_atomic_at(fd, "state", "NAME=a\nFUTURE_KEY=1\n", 21, 0644));
        ASSERT_OK(state_load(fd, &l));
        ASSERT_STREQ(l->name, "a");
        rm_tmpdir(root);
}

TEST(exit_file) {
        _cleanup_free_ char *root = make_tmpdir();
        _cleanup_(container_state_freep) ContainerState *l = NULL;
        _cleanup_close_ int fd = -EBADF, efd = -EBADF;
        ContainerState s = { .name = (char *) "job" };
        uint64_t t;
        int st;

        ASSERT_OK(state_dir_open(root, "job", true, &fd));
        ASSERT_OK(state_save(fd, &s));
        ASSERT_ERROR(state_read_exit(fd, &st, &t), ENOENT);

        /* opened before spawn, still empty while running */
        ASSERT_OK(state_open_exit_file(fd, &efd));
        ASSERT_ERROR(state_read_exit(fd, &st, &t), ENODATA);
        ASSERT_OK(state_load(fd, &l));
        ASSERT_FALSE(l->exit_set);
        l = container_state_free(l);

        ASSERT_OK(loop_write(efd, "EXIT_STATUS=3\n", 14));
        ASSERT_OK(state_read_exit(fd, &st, &t));
        ASSERT_EQ(st, 3);
        ASSERT_TRUE(t > 0); /* mtime */
        ASSERT_OK(state_load(fd, &l));
        ASSERT_TRUE(l->exit_set);
        ASSERT_EQ(l->exit_status, 3);
        l = container_state_free(l);

        ASSERT_OK(write_file_atomic_at(fd, "exit", "EXIT_STATUS=137\nEXIT_TIME=42\n", 29, 0644));
        ASSERT_OK(state_read_exit(fd, &st, &t));
        ASSERT_EQ(st, 137);
        ASSERT_EQ_U64(t, 42);

        ASSERT_OK(write_file_atomic_at(fd, "exit", "0\n", 2, 0644));
        ASSERT_OK(state_read_exit(fd, &st, &t));
        ASSERT_EQ(st, 0);

        ASSERT_OK(write_file_atomic_at(fd, "exit", "EXIT_STATUS=x\n", 14, 0644));
        ASSERT_ERROR(state_read_exit(fd, &st, &t), EBADMSG);

        ASSERT_OK(state_remove_exit_file(fd));
        ASSERT_OK(state_remove_exit_file(fd));
        ASSERT_ERROR(state_read_exit(fd, &st, &t), ENOENT);
        rm_tmpdir(root);
}

TEST(list) {
        _cleanup_free_ char *root = make_tmpdir(), *missing = NULL;
        _cleanup_strv_free_ char **names = NULL;
        const char *order[] = { "zeta", "alpha", "mid" };

        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                _cleanup_close_ int fd = -EBADF;
                ContainerState s = { .name = (char *) order[i] };
                ASSERT_OK(state_dir_open(root, order[i], true, &fd));
                ASSERT_OK(state_save(fd, &s));
        }
        /* a dir without state file (e.g. half-created) and a non-dir are not listed */
        {
                _cleanup_close_ int fd = -EBADF;
                ASSERT_OK(state_dir_open(root, "empty", true, &fd));
                _cleanup_free_ char *f = strjoin(root, "/containers/file");
                ASSERT_OK(write_file_atomic(f, "x", 1, 0644));
        }
        ASSERT_OK(state_list(root, &names));
        ASSERT_EQ(strv_length(names), 3);
        ASSERT_STREQ(names[0], "alpha");
        ASSERT_STREQ(names[1], "mid");
        ASSERT_STREQ(names[2], "zeta");
        names = strv_free(names);

        missing = strjoin(root, "/does-not-exist");
        ASSERT_OK(state_list(missing, &names));
        ASSERT_EQ(strv_length(names), 0);
        rm_tmpdir(root);
}

TEST(lock) {
        _cleanup_free_ char *root = make_tmpdir(), *lp = NULL;
        _cleanup_close_ int fd = -EBADF, fd2 = -EBADF;
        struct stat st;
        pid_t pid;
        int status;

        ASSERT_ERROR(state_lock(root, "../evil", false, &fd), EINVAL);
        ASSERT_OK(state_lock(root, "web", false, &fd));
        lp = strjoin(root, "/locks/web");
        ASSERT_OK(RET_NERRNO(stat(lp, &st)));

        /* another process cannot take it without blocking (flock locks are per open file description, so
         * test from a child, which opens its own) */
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                int f = -EBADF;
                _exit(state_lock(root, "web", false, &f) == -EBUSY ? 0 : 1);
        }
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        /* a different name is independent */
        ASSERT_OK(state_lock(root, "other", false, &fd2));
        fd2 = state_unlock(root, "other", fd2, true);
        {
                _cleanup_free_ char *op = strjoin(root, "/locks/other");
                ASSERT_ERROR(RET_NERRNO(access(op, F_OK)), ENOENT);
        }

        /* a blocked locker proceeds once the holder releases and removes the lock file, on a fresh inode */
        int pfd[2];
        ASSERT_OK(RET_NERRNO(pipe2(pfd, O_CLOEXEC)));
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                int f = -EBADF;
                struct stat a, b;
                (void) close(pfd[0]);
                fd = safe_close(fd); /* the inherited copy shares the parent's lock */
                (void) write(pfd[1], "x", 1);
                if (state_lock(root, "web", true, &f) < 0)
                        _exit(2);
                if (fstat(f, &a) < 0 || stat(lp, &b) < 0)
                        _exit(3);
                _exit(a.st_ino == b.st_ino ? 0 : 4);
        }
        (void) close(pfd[1]);
        char c;
        ASSERT_EQ(read(pfd[0], &c, 1), 1);
        (void) close(pfd[0]);
        usleep(100 * 1000);
        fd = state_unlock(root, "web", fd, true);
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 0);

        rm_tmpdir(root);
}

TEST(lock_held) {
        _cleanup_free_ char *root = make_tmpdir();
        int fd = -EBADF;

        ASSERT_ERROR(state_lock_held(root, "../evil"), EINVAL);
        ASSERT_EQ(state_lock_held(root, "web"), 0); /* no lock file */
        ASSERT_OK(state_lock(root, "web", false, &fd));
        ASSERT_EQ(state_lock_held(root, "web"), 1);
        ASSERT_EQ(state_lock_held(root, "other"), 0);
        fd = state_unlock(root, "web", fd, false);
        ASSERT_EQ(state_lock_held(root, "web"), 0); /* the file is there, nobody holds it */
        /* the probe takes nothing: a non-blocking locker gets it right after */
        ASSERT_OK(state_lock(root, "web", false, &fd));
        fd = state_unlock(root, "web", fd, true);
        rm_tmpdir(root);
}

TEST(proc_start_time) {
        uint64_t a, b;
        ContainerState s = { .leader_pid = getpid() };
        pid_t pid;

        ASSERT_OK(proc_get_start_time(getpid(), &a));
        ASSERT_OK(proc_get_start_time(getpid(), &b));
        ASSERT_EQ_U64(a, b);
        ASSERT_ERROR(proc_get_start_time(0, &a), EINVAL);

        s.leader_start_time = a;
        ASSERT_TRUE(state_leader_alive(&s));
        s.leader_start_time = a + 1; /* a recycled pid has another start time */
        ASSERT_FALSE(state_leader_alive(&s));

        /* a zombie is not alive; a reaped pid is gone */
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0)
                _exit(0);
        ASSERT_OK(proc_get_start_time(pid, &a));
        s.leader_pid = pid;
        s.leader_start_time = a;
        {
                siginfo_t si;
                ASSERT_OK(RET_NERRNO(waitid(P_PID, (id_t) pid, &si, WEXITED | WNOWAIT)));
        }
        ASSERT_FALSE(state_leader_alive(&s));
        ASSERT_EQ(waitpid(pid, NULL, 0), pid);
        ASSERT_ERROR(proc_get_start_time(pid, &a), ESRCH);
        ASSERT_FALSE(state_leader_alive(&s));
}

TEST(storage_path) {
        _cleanup_free_ char *p = NULL;
        ASSERT_OK(state_container_storage_path("/var/lib/cbox", "web", &p));
        ASSERT_STREQ(p, "/var/lib/cbox/containers/web");
        ASSERT_ERROR(state_container_storage_path("/var/lib/cbox", "..", &p), EINVAL);
}

TEST_MAIN();
