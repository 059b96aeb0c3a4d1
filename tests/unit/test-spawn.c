/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* spawn/ on the real kernel: a busybox rootfs in a tmpdir, a container in new namespaces with an
 * overlay, cbox-init as PID 1 and a shell payload reporting what it sees. Needs root and
 * busybox-static. */

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <linux/magic.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cbox-build.h"
#include "fd-util.h"
#include "fileio.h"
#include "rootfs.h"
#include "seccomp-profile.h"
#include "spawn.h"
#include "string-util.h"
#include "tests.h"

#define CBOX_INIT CBOX_BUILD_ROOT "/src/init/cbox-init"
#define BUSYBOX "/bin/busybox"

static char *tmp, *lower, *upper, *work, *root;

static void write_at(const char *dir, const char *name, const char *content) {
        _cleanup_free_ char *p = strjoin(dir, "/", name);
        ASSERT_NOT_NULL(p);
        ASSERT_OK(write_file_atomic(p, content, strlen(content), 0644));
}

static void copy_file(const char *from, const char *to, mode_t mode) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        ASSERT_OK(read_full_file(from, &data, &size, 64 * 1024 * 1024));
        ASSERT_OK(write_file_atomic(to, data, size, mode));
}

static void setup_tree(void) {
        char t[] = "/tmp/test-spawn-XXXXXX";
        static const char *const applets[] = { "sh",   "cat",  "echo",    "hostname", "mount", "ls",
                                               "id",   "head", "wc",      "ps",       "sleep", "grep",
                                               "tr",   "test", "mkdir",   "pwd",      "read",  "env",
                                               "true", "kill", "readlink" };

        if (geteuid() != 0)
                TEST_SKIP("needs root for namespaces");
        if (access(BUSYBOX, X_OK) < 0)
                TEST_SKIP("needs %s (busybox-static)", BUSYBOX);
        if (access(CBOX_INIT, X_OK) < 0)
                TEST_SKIP("%s not built", CBOX_INIT);

        ASSERT_NOT_NULL(mkdtemp(t));
        tmp = strdup(t);
        lower = strjoin(tmp, "/lower");
        upper = strjoin(tmp, "/upper");
        work = strjoin(tmp, "/work");
        root = strjoin(tmp, "/root");
        const char *dirs[] = { "/lower/bin", "/lower/etc", "/lower/proc", "/lower/sys",
                               "/lower/dev", "/lower/tmp", "/lower/mnt",  "/lower/home/app",
                               "/upper",     "/work",      "/root" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *p = strjoin(tmp, dirs[i]);
                ASSERT_OK(mkdir_p(p, 0755));
        }
        _cleanup_free_ char *bb = strjoin(lower, "/bin/busybox");
        copy_file(BUSYBOX, bb, 0755);
        for (size_t i = 0; i < ELEMENTSOF(applets); i++) {
                _cleanup_free_ char *l = strjoin(lower, "/bin/", applets[i]);
                ASSERT_OK(RET_NERRNO(symlink("busybox", l)));
        }
        write_at(lower, "etc/passwd",
                 "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n");
        write_at(lower, "selfexe.sh", "#!/proc/self/exe\n");
        _cleanup_free_ char *selfexe = strjoin(lower, "/selfexe.sh");
        ASSERT_OK(RET_NERRNO(chmod(selfexe, 0755)));
        write_at(lower, "etc/group",
                 "root:x:0:\napp:x:1000:\nextra:x:2000:someone,app\nother:x:3000:someone\n");
}

static void cleanup_tree(void) {
        ASSERT_OK(rm_rf_at(AT_FDCWD, tmp));
        tmp = mfree(tmp);
        lower = mfree(lower);
        upper = mfree(upper);
        work = mfree(work);
        root = mfree(root);
}

static int setup_rootfs(void *userdata, char *msg, size_t msg_size) {
        const char *lowers[] = { lower };
        RootfsParams p = {
                .target = root,
                .lower_dirs = lowers,
                .n_lower_dirs = 1,
                .upper_dir = upper,
                .work_dir = work,
                .new_netns = true,
                .mount_cgroup = true,
        };
        return rootfs_setup(&p, msg, msg_size);
}

static int fail_setup(void *userdata, char *msg, size_t msg_size) {
        snprintf(msg, msg_size, "mount /proc");
        return -EACCES;
}

typedef struct Run {
        int exit_code;
        char *output;
        int release_error;
        ErrorMessage err;
} Run;

/* extra settings for the next run() */
static char **run_cap_add;
static bool run_seccomp;
static const SeccompProgram *run_seccomp_program;
static const SpawnRlimit *run_rlimits;
static size_t run_n_rlimits;
static bool run_oom_set;
static int run_oom;
/* the running container's init, for during() */
static pid_t run_pid;
/* the cbox-init to run instead of CBOX_INIT */
static const char *run_init;
/* a user namespace for the next run() */
static uint32_t run_userns_start, run_userns_count;

static void run_done(Run *r) {
        free(r->output);
        error_message_done(&r->err);
}

/* Runs script as the payload of a container; before letting it finish (it reads a line from stdin
 * first when it contains "read go"), calls during() */
static void run(const char *script, const char *user, const char *workdir, SpawnChildSetup setup, Run *ret,
                void (*during)(void)) {
        _cleanup_close_pair_ int out[2] = { -EBADF, -EBADF }, in[2] = { -EBADF, -EBADF };
        _cleanup_close_ int exec_fd = -EBADF;
        char *argv[] = { (char *) "cbox-init", (char *) "--",   (char *) "/bin/sh",
                         (char *) "-c",        (char *) script, NULL };
        char *env[] = { (char *) "FOO=bar", NULL };
        SpawnChild c = SPAWN_CHILD_NULL;
        int status;

        *ret = (Run){};
        ASSERT_OK(RET_NERRNO(pipe2(out, O_CLOEXEC)));
        ASSERT_OK(RET_NERRNO(pipe2(in, O_CLOEXEC)));
        ASSERT_OK(spawn_open_executable(run_init ?: CBOX_INIT, &exec_fd));

        SpawnParams p = {
                .process = {
                        .argv = argv,
                        .env = env,
                        .user = user,
                        .workdir = workdir,
                        .stdin_fd = in[0],
                        .stdout_fd = out[1],
                        .stderr_fd = -EBADF,
                        .cap_add = run_cap_add,
                        .seccomp = run_seccomp,
                        .seccomp_program = run_seccomp_program,
                        .rlimits = run_rlimits,
                        .n_rlimits = run_n_rlimits,
                        .oom_score_adj_set = run_oom_set,
                        .oom_score_adj = run_oom,
                },
                .hostname = "cbox-test",
                .child_setup = setup,
                .exec_fd = exec_fd,
                .userns_start = run_userns_start,
                .userns_count = run_userns_count,
        };
        ASSERT_OK(spawn_container(&p, &c));
        ASSERT_TRUE(c.pid > 0);
        ASSERT_TRUE(c.pidfd >= 0);
        out[1] = safe_close(out[1]);
        in[0] = safe_close(in[0]);

        ret->release_error = spawn_child_release(&c, &ret->err);
        if (ret->release_error >= 0) {
                run_pid = c.pid;
                if (during)
                        during();
                ASSERT_OK(loop_write(in[1], "go\n", 3));
                in[1] = safe_close(in[1]);
                ASSERT_OK(read_full_fd(out[0], &ret->output, NULL, 1024 * 1024));
                ASSERT_EQ(waitpid(c.pid, &status, 0), c.pid);
                ret->exit_code = spawn_wait_status_to_exit(status);
        }
        spawn_child_done(&c);
}

static const char *field(const char *output, const char *key) {
        static char value[256];
        _cleanup_free_ char *k = strjoin("\n", key, "=");
        _cleanup_free_ char *o = strjoin("\n", output);
        const char *p = strstr(o, k);

        if (!p)
                return NULL;
        p += strlen(k);
        size_t n = strcspn(p, "\n");
        snprintf(value, sizeof(value), "%.*s", (int) n, p);
        return value;
}

static bool host_mountinfo_mentions_tmp(void) {
        _cleanup_free_ char *mi = NULL;
        ASSERT_OK(read_full_file("/proc/self/mountinfo", &mi, NULL, 16 * 1024 * 1024));
        return strstr(mi, tmp) != NULL;
}

static void check_host_while_running(void) {
        ASSERT_FALSE(host_mountinfo_mentions_tmp());
}

TEST(container) {
        Run r;
        _cleanup_free_ char *written = NULL, *lower_written = NULL, *capeff = NULL;

        setup_tree();
        run("read x; echo pid=$$; echo init=$(head -c 9 /proc/1/cmdline); echo host=$(hostname); "
            "read _ _ _ _ _ sid _ </proc/self/stat; echo sid=$sid; "
            "test -c /dev/null && echo null=chr; echo keys=$(cat /proc/keys | wc -c); "
            "(echo x > /proc/sys/kernel/hostname) 2>/dev/null; echo sysw=$?; "
            "mount -t tmpfs x /mnt 2>/dev/null; echo mount=$?; "
            "echo data > /written; echo write=$?; echo uid=$(id -u); echo cg=$(grep -vc ':/$' "
            "/proc/self/cgroup); "
            "test -f /sys/fs/cgroup/cgroup.procs && echo cgfs=yes; mkdir /sys/fs/cgroup/x 2>/dev/null; echo "
            "cgw=$?; "
            "while read k v; do case $k in CapEff:) echo capeff=$v;; NoNewPrivs:) echo nnp=$v;; esac; done "
            "</proc/self/status; "
            "echo env=$container:$FOO:$HOME:$PATH; echo cwd=$(pwd); echo nproc=$(ls /proc | grep -c "
            "'^[0-9]'); "
            "exit 3",
            NULL, NULL, setup_rootfs, &r, check_host_while_running);
        ASSERT_OK(r.release_error);
        fprintf(stderr, "%s", r.output);
        ASSERT_EQ(r.exit_code, 3);
        ASSERT_STREQ(field(r.output, "pid"), "2");
        /* in init's session (init called setsid()), not in the caller's, whose leader is outside */
        ASSERT_STREQ(field(r.output, "sid"), "1");
        ASSERT_STREQ(field(r.output, "init"), "cbox-init");
        ASSERT_STREQ(field(r.output, "host"), "cbox-test");
        ASSERT_STREQ(field(r.output, "null"), "chr");
        ASSERT_STREQ(field(r.output, "keys"), "0");
        ASSERT_STREQ(field(r.output, "sysw"), "1");
        ASSERT_STREQ(field(r.output, "mount"), "1");
        ASSERT_STREQ(field(r.output, "write"), "0");
        ASSERT_STREQ(field(r.output, "uid"), "0");
        /* its own cgroup namespace, rooted where it runs */
        ASSERT_STREQ(field(r.output, "cg"), "0");
        ASSERT_STREQ(field(r.output, "cgfs"), "yes");
        ASSERT_STREQ(field(r.output, "cgw"), "1");
        capeff = strprintf("%016llx", (unsigned long long) capability_default_set());
        ASSERT_STREQ(field(r.output, "capeff"), capeff);
        ASSERT_STREQ(field(r.output, "nnp"), "1");
        ASSERT_STREQ(field(r.output, "env"),
                     "cbox:bar:/root:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        ASSERT_STREQ(field(r.output, "cwd"), "/");
        /* init, the shell, its subshell, ls and grep: nothing of the host */
        ASSERT_TRUE(atoi(field(r.output, "nproc")) <= 5);

        written = strjoin(upper, "/written");
        lower_written = strjoin(lower, "/written");
        ASSERT_OK(RET_NERRNO(access(written, F_OK)));
        ASSERT_TRUE(access(lower_written, F_OK) < 0);
        ASSERT_FALSE(host_mountinfo_mentions_tmp());
        run_done(&r);
        cleanup_tree();
}

/* ---- spawn_open_executable() ---- */

/* A copy of cbox-init that only this test executes: the tests running beside this one execute
 * CBOX_INIT, and while anything executes a file, opening it for writing fails with ETXTBSY before
 * the mount's EROFS is checked. In the build tree, which is not noexec. */
static char *own_init;

static void own_init_make(void) {
        _cleanup_free_ char *data = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t size;

        own_init = strdup(CBOX_BUILD_ROOT "/tests/unit/test-spawn-init-XXXXXX");
        ASSERT_NOT_NULL(own_init);
        fd = mkostemp(own_init, O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(read_full_file(CBOX_INIT, &data, &size, 64 * 1024 * 1024));
        ASSERT_OK(loop_write(fd, data, size));
        ASSERT_OK(RET_NERRNO(fchmod(fd, 0755)));
}

static void own_init_remove(void) {
        ASSERT_OK(RET_NERRNO(unlink(own_init)));
        own_init = mfree(own_init);
}

/* Whether this kernel lets us make a read-only detached bind mount (what the MOUNT kind needs),
 * found independently of spawn/: then spawn_open_executable() must not settle for less */
static bool detached_mount_works(void) {
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
        _cleanup_close_ int fd = open_tree(AT_FDCWD, own_init, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);

        if (fd < 0) {
                fprintf(stderr, "open_tree(): %m, expecting a fallback\n");
                return false;
        }
        if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
                fprintf(stderr, "mount_setattr(): %m, expecting a fallback\n");
                return false;
        }
        return true;
}

static uint64_t mount_id(int dirfd, const char *path, int flags) {
        struct statx sx = {};
        ASSERT_OK(RET_NERRNO(statx(dirfd, path, flags, STATX_MNT_ID, &sx)));
        ASSERT_TRUE(sx.stx_mask & STATX_MNT_ID);
        return sx.stx_mnt_id;
}

/* What the container could do with the fd (through /proc/1/exe): open it for writing, write.
 * The write puts back the ELF magic's first byte, so that a failing test leaves the file as it
 * was. */
static int reopen_for_writing(int fd, int *ret_write_error) {
        _cleanup_free_ char *p = strprintf("/proc/self/fd/%d", fd);
        _cleanup_close_ int w = open(p, O_WRONLY | O_CLOEXEC);

        if (w < 0)
                return -errno;
        *ret_write_error = pwrite(w, "\x7f", 1, 0) < 0 ? errno : 0;
        return 0;
}

/* execveat()s fd as cbox-init running `read x; exit 7` outside any namespace; while it waits,
 * returns its /proc/PID/maps; then lets it finish and checks that it ran */
static char *exec_fd_and_read_maps(int fd) {
        _cleanup_close_pair_ int in[2] = { -EBADF, -EBADF }, report[2] = { -EBADF, -EBADF };
        char *argv[] = { (char *) "cbox-init",      (char *) "--", (char *) "/bin/sh", (char *) "-c",
                         (char *) "read x; exit 7", NULL };
        char *env[] = { (char *) "PATH=/usr/bin:/bin", NULL };
        char *maps = NULL;
        int status, e = 0;

        ASSERT_OK(RET_NERRNO(pipe2(in, O_CLOEXEC)));
        ASSERT_OK(RET_NERRNO(pipe2(report, O_CLOEXEC)));
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                if (dup2(in[0], 0) < 0)
                        _exit(90);
                syscall(SYS_execveat, fd, "", argv, env, AT_EMPTY_PATH);
                e = errno;
                (void) write(report[1], &e, sizeof(e));
                _exit(91);
        }
        report[1] = safe_close(report[1]);
        in[0] = safe_close(in[0]);
        /* EOF: the exec happened (report is O_CLOEXEC) */
        ASSERT_EQ(read(report[0], &e, sizeof(e)), 0);

        _cleanup_free_ char *p = strprintf("/proc/%d/maps", (int) pid);
        ASSERT_OK(read_full_file(p, &maps, NULL, 1024 * 1024));
        ASSERT_OK(loop_write(in[1], "\n", 1));
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 7);
        return maps;
}

/* Whether maps has a mapping of the inode st */
static bool maps_has_inode(const char *maps, const struct stat *st) {
        _cleanup_free_ char *dev = strprintf(" %02x:%02x %llu ", major(st->st_dev), minor(st->st_dev),
                                             (unsigned long long) st->st_ino);
        return strstr(maps, dev) != NULL;
}

/* Not even CAP_SYS_ADMIN (we are root) can make the mount writable again: it is in no namespace,
 * so it can neither be changed nor cloned */
static void check_mount_final(int fd) {
        struct mount_attr clr = { .attr_clr = MOUNT_ATTR_RDONLY };
        int tree;

        ASSERT_TRUE(mount_setattr(fd, "", AT_EMPTY_PATH, &clr, sizeof(clr)) < 0);
        ASSERT_EQ(errno, EINVAL);
        tree = open_tree(fd, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree >= 0)
                safe_close(tree);
        ASSERT_TRUE(tree < 0);
        ASSERT_EQ(errno, EINVAL);
}

static void check_executable(int fd, SpawnExecutableKind kind) {
        _cleanup_free_ char *fdpath = strprintf("/proc/self/fd/%d", fd), *maps = NULL;
        struct stat orig, st;
        struct statvfs sv;
        char link[256] = {};
        int werr = -1;

        ASSERT_OK(RET_NERRNO(stat(own_init, &orig)));
        ASSERT_OK(RET_NERRNO(fstat(fd, &st)));
        ASSERT_TRUE(S_ISREG(st.st_mode));
        ASSERT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        maps = exec_fd_and_read_maps(fd);

        switch (kind) {
        case SPAWN_EXECUTABLE_MOUNT:
                /* the file's own inode and so its page cache: what every container's init maps */
                ASSERT_EQ(st.st_dev, orig.st_dev);
                ASSERT_EQ(st.st_ino, orig.st_ino);
                ASSERT_TRUE(maps_has_inode(maps, &orig));
                /* …in a mount of its own, not the host's */
                ASSERT_TRUE(mount_id(fd, "", AT_EMPTY_PATH) != mount_id(AT_FDCWD, own_init, 0));
                ASSERT_OK(RET_NERRNO(fstatvfs(fd, &sv)));
                ASSERT_EQ(sv.f_flag & (ST_RDONLY | ST_NOSUID | ST_NODEV), ST_RDONLY | ST_NOSUID | ST_NODEV);
                /* no write gets through */
                ASSERT_ERROR(reopen_for_writing(fd, &werr), EROFS);
                ASSERT_TRUE(open(fdpath, O_RDWR | O_CLOEXEC) < 0 && errno == EROFS);
                ASSERT_TRUE(truncate(fdpath, 0) < 0 && errno == EROFS);
                check_mount_final(fd);
                break;
        case SPAWN_EXECUTABLE_MEMFD:
                ASSERT_TRUE(readlink(fdpath, link, sizeof(link) - 1) > 0);
                ASSERT_TRUE(startswith(link, "/memfd:cbox-init"));
                ASSERT_TRUE(st.st_ino != orig.st_ino || st.st_dev != orig.st_dev);
                ASSERT_EQ(st.st_size, orig.st_size);
                ASSERT_TRUE(strstr(maps, "/memfd:cbox-init") != NULL);
                ASSERT_FALSE(maps_has_inode(maps, &orig));
                /* a memfd opens for writing, the seals refuse the write itself */
                ASSERT_OK(reopen_for_writing(fd, &werr));
                ASSERT_EQ(werr, EPERM);
                ASSERT_EQ(fcntl(fd, F_GET_SEALS) &
                                  (F_SEAL_WRITE | F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW),
                          F_SEAL_WRITE | F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW);
                ASSERT_TRUE(ftruncate(fd, 0) < 0 && errno == EPERM);
                break;
        case SPAWN_EXECUTABLE_FILE:
                ASSERT_EQ(st.st_ino, orig.st_ino);
                ASSERT_TRUE(maps_has_inode(maps, &orig));
                ASSERT_EQ(mount_id(fd, "", AT_EMPTY_PATH), mount_id(AT_FDCWD, own_init, 0));
                break;
        }
}

static const char *const kind_names[] = {
        [SPAWN_EXECUTABLE_MOUNT] = "read-only detached mount",
        [SPAWN_EXECUTABLE_MEMFD] = "sealed memfd",
        [SPAWN_EXECUTABLE_FILE] = "the file",
};

TEST(open_executable) {
        _cleanup_close_ int fd = -EBADF, fd2 = -EBADF;
        SpawnExecutableKind kind, kind2, expected;
        struct stat a, b;

        setup_tree();
        own_init_make();
        expected = detached_mount_works() ? SPAWN_EXECUTABLE_MOUNT : SPAWN_EXECUTABLE_MEMFD;
        ASSERT_OK(spawn_open_executable_full(own_init, SPAWN_EXECUTABLE_MOUNT, &fd, &kind));
        fprintf(stderr, "cbox-init runs from: %s\n", kind_names[kind]);
        ASSERT_EQ(kind, expected);
        check_executable(fd, kind);

        /* a second container's init: the same inode again when shared, never the same fd */
        ASSERT_OK(spawn_open_executable_full(own_init, SPAWN_EXECUTABLE_MOUNT, &fd2, &kind2));
        ASSERT_EQ(kind2, kind);
        ASSERT_OK(RET_NERRNO(fstat(fd, &a)));
        ASSERT_OK(RET_NERRNO(fstat(fd2, &b)));
        ASSERT_EQ(a.st_ino == b.st_ino && a.st_dev == b.st_dev, kind == SPAWN_EXECUTABLE_MOUNT);
        fd2 = safe_close(fd2);

        /* the public call is the same thing */
        ASSERT_OK(spawn_open_executable(own_init, &fd2));
        check_executable(fd2, kind);
        fd2 = safe_close(fd2);

        /* the fallbacks, forced */
        int noexec = 0;
        _cleanup_free_ char *v = NULL;
        if (read_one_line_file("/proc/sys/vm/memfd_noexec", &v) >= 0)
                noexec = atoi(v);
        fd = safe_close(fd);
        ASSERT_OK(spawn_open_executable_full(own_init, SPAWN_EXECUTABLE_MEMFD, &fd, &kind));
        ASSERT_EQ(kind, noexec >= 2 ? SPAWN_EXECUTABLE_FILE : SPAWN_EXECUTABLE_MEMFD);
        check_executable(fd, kind);
        fd = safe_close(fd);
        ASSERT_OK(spawn_open_executable_full(own_init, SPAWN_EXECUTABLE_FILE, &fd, &kind));
        ASSERT_EQ(kind, SPAWN_EXECUTABLE_FILE);
        check_executable(fd, kind);

        /* not a regular file */
        ASSERT_ERROR(spawn_open_executable(tmp, &fd2), EACCES);
        ASSERT_ERROR(spawn_open_executable("/nonexistent/cbox-init", &fd2), ENOENT);
        own_init_remove();
        cleanup_tree();
}

/* CVE-2019-5736: something that got hold of /proc/1/exe (here: us, root on the host, so
 * non-dumpable init does not stop it) keeps it and reopens it for writing after init is gone */
static int held_exe = -EBADF;
static void hold_init_exe(void) {
        _cleanup_free_ char *p = strprintf("/proc/%d/exe", (int) run_pid);
        held_exe = open(p, O_PATH | O_CLOEXEC);
        ASSERT_TRUE(held_exe >= 0);
}

TEST(init_exe_not_writable) {
        struct stat orig, st;
        int werr = -1;
        Run r;

        setup_tree();
        own_init_make();
        bool mount = detached_mount_works();
        ASSERT_OK(RET_NERRNO(stat(own_init, &orig)));
        run_init = own_init;
        run("read x; exit 0", NULL, NULL, setup_rootfs, &r, hold_init_exe);
        run_init = NULL;
        ASSERT_OK(r.release_error);
        ASSERT_EQ(r.exit_code, 0);
        run_done(&r);

        /* init is gone: nothing executes the file any more (no ETXTBSY) */
        ASSERT_OK(RET_NERRNO(fstat(held_exe, &st)));
        if (mount) {
                ASSERT_EQ(st.st_ino, orig.st_ino);
                ASSERT_ERROR(reopen_for_writing(held_exe, &werr), EROFS);
                check_mount_final(held_exe);
        } else {
                ASSERT_TRUE(st.st_ino != orig.st_ino);
                ASSERT_OK(reopen_for_writing(held_exe, &werr));
                ASSERT_EQ(werr, EPERM);
        }
        held_exe = safe_close(held_exe);
        /* the host's binary is as it was */
        ASSERT_OK(RET_NERRNO(stat(own_init, &st)));
        ASSERT_EQ(st.st_size, orig.st_size);
        ASSERT_EQ(st.st_mtim.tv_sec, orig.st_mtim.tv_sec);
        ASSERT_EQ(st.st_mtim.tv_nsec, orig.st_mtim.tv_nsec);
        own_init_remove();
        cleanup_tree();
}

TEST(user_and_workdir) {
        Run r;

        setup_tree();
        run("read x; echo uid=$(id -u); echo gid=$(id -g); echo groups=$(id -G); echo home=$HOME; "
            "echo cwd=$(pwd); while read k v; do case $k in CapEff:) echo capeff=$v;; esac; done "
            "</proc/self/status",
            "app", "/home/app", setup_rootfs, &r, NULL);
        ASSERT_OK(r.release_error);
        ASSERT_EQ(r.exit_code, 0);
        ASSERT_STREQ(field(r.output, "uid"), "1000");
        ASSERT_STREQ(field(r.output, "gid"), "1000");
        ASSERT_STREQ(field(r.output, "groups"), "1000 2000");
        ASSERT_STREQ(field(r.output, "home"), "/home/app");
        ASSERT_STREQ(field(r.output, "cwd"), "/home/app");
        ASSERT_STREQ(field(r.output, "capeff"), "0000000000000000");
        run_done(&r);

        run("read x; echo uid=$(id -u):$(id -g)", "4242:77", NULL, setup_rootfs, &r, NULL);
        ASSERT_OK(r.release_error);
        ASSERT_STREQ(field(r.output, "uid"), "4242:77");
        run_done(&r);
        cleanup_tree();
}

/* SpawnParams.tty: the container's own pty is init's controlling terminal and the payload's stdio
 * (in the foreground process group), its master comes back from spawn_child_release() and
 * SpawnPtyRelay carries our input to it and its output back */
TEST(container_tty) {
        _cleanup_close_pair_ int out[2] = { -EBADF, -EBADF }, in[2] = { -EBADF, -EBADF };
        _cleanup_close_ int exec_fd = -EBADF;
        _cleanup_free_ char *o = NULL;
        char *argv[] = { (char *) "cbox-init",
                         (char *) "--",
                         (char *) "/bin/sh",
                         (char *) "-c",
                         (char *) "read line; read _ _ _ _ pgrp sid tty _ </proc/self/stat; echo got=$line; "
                                  "echo sid=$sid; echo pgrp=$pgrp; echo ttynr=$tty; "
                                  "test -t 0 && test -t 1 && test -t 2 && echo isatty=yes; "
                                  "echo fd0=$(readlink /proc/self/fd/0); exit 3",
                         NULL };
        SpawnChild c = SPAWN_CHILD_NULL;
        SpawnPtyRelay relay = SPAWN_PTY_RELAY_NULL;
        _cleanup_(error_message_done) ErrorMessage err = {};
        int status = 0;

        setup_tree();
        ASSERT_OK(RET_NERRNO(pipe2(out, O_CLOEXEC)));
        ASSERT_OK(RET_NERRNO(pipe2(in, O_CLOEXEC)));
        ASSERT_OK(spawn_open_executable(CBOX_INIT, &exec_fd));
        SpawnParams p = {
                .process = { .argv = argv, .stdin_fd = -EBADF, .stdout_fd = -EBADF, .stderr_fd = -EBADF },
                .hostname = "cbox-test",
                .child_setup = setup_rootfs,
                .exec_fd = exec_fd,
                .tty = true,
        };
        ASSERT_OK(spawn_container(&p, &c));
        ASSERT_OK(spawn_child_release(&c, &err));
        ASSERT_TRUE(c.pty_master >= 0);
        ASSERT_TRUE(isatty(c.pty_master));

        ASSERT_OK(spawn_pty_relay_start(&relay, TAKE_FD(c.pty_master), in[0], out[1]));
        ASSERT_OK(loop_write(in[1], "hello\n", 6));
        in[1] = safe_close(in[1]);
        for (;;) {
                struct pollfd pf[3] = { [2] = { .fd = c.pidfd, .events = POLLIN } };
                spawn_pty_relay_pollfds(&relay, pf);
                ASSERT_OK(RET_NERRNO(poll(pf, ELEMENTSOF(pf), -1)));
                if (relay.master >= 0 && spawn_pty_relay_dispatch(&relay, pf) < 0)
                        spawn_pty_relay_done(&relay);
                if (pf[2].revents)
                        break;
        }
        ASSERT_EQ(waitpid(c.pid, &status, 0), c.pid);
        spawn_pty_relay_drain(&relay);
        spawn_pty_relay_done(&relay);
        ASSERT_TRUE(relay.master < 0);
        out[1] = safe_close(out[1]);
        ASSERT_OK(read_full_fd(out[0], &o, NULL, 1024 * 1024));
        for (char *q = o, *w = o;; q++) /* the pty's \r\n */
                if (*q != '\r' && !(*w++ = *q))
                        break;
        fprintf(stderr, "container on a pty: %s", o);
        ASSERT_EQ(spawn_wait_status_to_exit(status), 3);
        ASSERT_STREQ(field(o, "got"), "hello");
        ASSERT_STREQ(field(o, "sid"), "1");  /* init is the session leader, */
        ASSERT_STREQ(field(o, "pgrp"), "2"); /* the payload the foreground group */
        ASSERT_TRUE(field(o, "ttynr") && !streq(field(o, "ttynr"), "0"));
        ASSERT_STREQ(field(o, "isatty"), "yes");
        ASSERT_STREQ(field(o, "fd0"), "/dev/pts/0"); /* the container's own devpts */
        spawn_child_done(&c);
        cleanup_tree();
}

/* cbox-init's read-only copy that exec'd processes run from until they exec the command */
static int exec_init_fd = -EBADF;

static void exec_run(const SpawnChild *c, char **argv, const char *user, bool tty, int *ret_status,
                     char **ret_out, ErrorMessage *err, int *ret_r) {
        _cleanup_close_pair_ int out[2] = { -EBADF, -EBADF }, in[2] = { -EBADF, -EBADF };
        SpawnExecParams p = {
                .process = {
                        .argv = argv,
                        .user = user,
                        .stdin_fd = -EBADF,
                        .stdout_fd = -EBADF,
                        .stderr_fd = -EBADF,
                },
                .leader_pidfd = c->pidfd,
                .cgroup_fd = -EBADF,
                .exec_fd = exec_init_fd,
                .tty = tty,
        };

        ASSERT_OK(RET_NERRNO(pipe2(out, O_CLOEXEC)));
        ASSERT_OK(RET_NERRNO(pipe2(in, O_CLOEXEC)));
        p.process.stdin_fd = in[0];
        p.process.stdout_fd = out[1];
        in[1] = safe_close(in[1]); /* stdin: EOF */
        *ret_r = spawn_exec_in(&p, ret_status, err);
        out[1] = safe_close(out[1]);
        ASSERT_OK(read_full_fd(out[0], ret_out, NULL, 1024 * 1024));
}

static SpawnChild exec_target;

/* With cgroup v2 (the VM): the process lands in the given cgroup (CLONE_INTO_CGROUP) — a child
 * cgroup of our own, removed afterwards */
static void exec_into_cgroup(void) {
        _cleanup_free_ char *own = NULL, *dir = NULL, *o = NULL;
        _cleanup_close_ int cgfd = -EBADF, out_fd = -EBADF;
        struct statfs sfs;
        _cleanup_(error_message_done) ErrorMessage err = {};
        int status, r;

        if (statfs("/sys/fs/cgroup", &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
                fprintf(stderr, "exec_into_cgroup: no cgroup v2 here, not tested\n");
                return;
        }
        ASSERT_OK(read_one_line_file("/proc/self/cgroup", &own));
        ASSERT_TRUE(startswith(own, "0::/"));
        dir = strjoin("/sys/fs/cgroup", own + 3, "/cbox-test-exec");
        ASSERT_OK(RET_NERRNO(mkdir(dir, 0755)));
        cgfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(cgfd >= 0);

        char *a[] = { (char *) "cat", (char *) "/proc/self/cgroup", NULL };
        _cleanup_close_pair_ int out[2] = { -EBADF, -EBADF };
        ASSERT_OK(RET_NERRNO(pipe2(out, O_CLOEXEC)));
        SpawnExecParams p = {
                .process = { .argv = a, .stdin_fd = -EBADF, .stdout_fd = out[1], .stderr_fd = -EBADF },
                .leader_pidfd = exec_target.pidfd,
                .cgroup_fd = cgfd,
                .exec_fd = exec_init_fd,
        };
        r = spawn_exec_in(&p, &status, &err);
        out[1] = safe_close(out[1]);
        ASSERT_OK(read_full_fd(out[0], &o, NULL, 4096));
        (void) rmdir(dir);
        ASSERT_OK(r);
        fprintf(stderr, "exec in cgroup: %s", o);
        ASSERT_EQ(status, 0);
        /* relative to the container's cgroup namespace, rooted at our cgroup */
        ASSERT_STREQ(o, "0::/cbox-test-exec\n");
}

static void exec_while_running(void) {
        _cleanup_free_ char *o = NULL;
        _cleanup_(error_message_done) ErrorMessage err = {};
        int status, r;

        char *a1[] = {
                (char *) "sh", (char *) "-c",
                (char *) "echo host=$(hostname); echo init=$(head -c 9 /proc/1/cmdline); echo pid1=$(cat "
                         "/proc/1/comm | wc -l); echo uid=$(id -u); echo env=$container; "
                         "test -c /dev/null && echo null=chr; exit 5",
                NULL
        };
        exec_run(&exec_target, a1, NULL, false, &status, &o, &err, &r);
        ASSERT_OK(r);
        fprintf(stderr, "exec: %s", o);
        ASSERT_EQ(status, 5);
        ASSERT_STREQ(field(o, "host"), "cbox-test");
        ASSERT_STREQ(field(o, "init"), "cbox-init");
        ASSERT_STREQ(field(o, "uid"), "0");
        ASSERT_STREQ(field(o, "env"), "cbox");
        ASSERT_STREQ(field(o, "null"), "chr");
        o = mfree(o);

        char *a2[] = { (char *) "id", (char *) "-u", NULL };
        exec_run(&exec_target, a2, "app", false, &status, &o, &err, &r);
        ASSERT_OK(r);
        ASSERT_EQ(status, 0);
        ASSERT_STREQ(o, "1000\n");
        o = mfree(o);

        char *a3[] = { (char *) "no-such-command", NULL };
        exec_run(&exec_target, a3, NULL, false, &status, &o, &err, &r);
        ASSERT_EQ(r, -ENOENT);
        ASSERT_STREQ(err.message, "execute 'no-such-command'");
        o = mfree(o);

        char *a4[] = { (char *) "sh", (char *) "-c",
                       (char *) "test -t 0 && test -t 1 && echo tty=yes; exit 4", NULL };
        exec_run(&exec_target, a4, NULL, true, &status, &o, &err, &r);
        ASSERT_OK(r);
        fprintf(stderr, "exec -t: %s", o);
        ASSERT_EQ(status, 4);
        ASSERT_TRUE(strstr(o, "tty=yes") != NULL);
        o = mfree(o);

        /* the CVE-2019-5736 shape: a command whose interpreter is /proc/self/exe runs what the
         * process ran just before, and that is cbox-init's read-only copy (its usage error, 125),
         * never the binary that called spawn_exec_in() */
        char *a6[] = { (char *) "/selfexe.sh", NULL };
        exec_run(&exec_target, a6, NULL, false, &status, &o, &err, &r);
        ASSERT_OK(r);
        ASSERT_EQ(status, 125);
        o = mfree(o);

        char *a7[] = { (char *) "sh", (char *) "-c",
                       (char *) "while read k v; do case $k in CapInh:|CapAmb:) echo $k$v;; esac; done "
                                "</proc/self/status",
                       NULL };
        exec_run(&exec_target, a7, NULL, false, &status, &o, &err, &r);
        ASSERT_OK(r);
        ASSERT_STREQ(o, "CapInh:0000000000000000\nCapAmb:0000000000000000\n");
        o = mfree(o);

        char *a5[] = { (char *) "sh", (char *) "-c", (char *) "kill -9 $$", NULL };
        exec_run(&exec_target, a5, NULL, false, &status, &o, &err, &r);
        ASSERT_OK(r);
        ASSERT_EQ(status, 137);
        o = mfree(o);

        /* what running from cbox-init's copy costs: one more exec per process */
        for (int pass = 0; pass < 2; pass++) {
                struct timespec a, b;
                int saved = exec_init_fd;
                char *t[] = { (char *) "true", NULL };

                if (pass == 1)
                        exec_init_fd = -EBADF;
                clock_gettime(CLOCK_MONOTONIC, &a);
                for (int i = 0; i < 20; i++) {
                        exec_run(&exec_target, t, NULL, false, &status, &o, &err, &r);
                        ASSERT_OK(r);
                        ASSERT_EQ(status, 0);
                        o = mfree(o);
                }
                clock_gettime(CLOCK_MONOTONIC, &b);
                exec_init_fd = saved;
                fprintf(stderr, "exec of true %s: %.2f ms on average\n",
                        pass == 0 ? "through cbox-init's copy" : "directly (the old way)",
                        ((double) (b.tv_sec - a.tv_sec) * 1e3 + (double) (b.tv_nsec - a.tv_nsec) / 1e6) /
                                20);
        }

        exec_into_cgroup();
}

TEST(exec_in) {
        _cleanup_close_pair_ int in[2] = { -EBADF, -EBADF };
        _cleanup_close_ int exec_fd = -EBADF;
        char *argv[] = { (char *) "cbox-init", (char *) "--",     (char *) "/bin/sh",
                         (char *) "-c",        (char *) "read x", NULL };
        _cleanup_(error_message_done) ErrorMessage err = {};
        int status;

        setup_tree();
        ASSERT_OK(RET_NERRNO(pipe2(in, O_CLOEXEC)));
        ASSERT_OK(spawn_open_executable(CBOX_INIT, &exec_fd));
        SpawnParams p = {
                .process = { .argv = argv, .stdin_fd = in[0], .stdout_fd = -EBADF, .stderr_fd = -EBADF },
                .hostname = "cbox-test",
                .child_setup = setup_rootfs,
                .exec_fd = exec_fd,
        };
        exec_target = SPAWN_CHILD_NULL;
        ASSERT_OK(spawn_open_executable(CBOX_INIT, &exec_init_fd));
        ASSERT_OK(spawn_container(&p, &exec_target));
        in[0] = safe_close(in[0]);
        ASSERT_OK(spawn_child_release(&exec_target, &err));

        exec_while_running();

        ASSERT_OK(loop_write(in[1], "\n", 1));
        in[1] = safe_close(in[1]);
        ASSERT_EQ(waitpid(exec_target.pid, &status, 0), exec_target.pid);
        ASSERT_EQ(spawn_wait_status_to_exit(status), 0);
        spawn_child_done(&exec_target);
        exec_init_fd = safe_close(exec_init_fd);
        cleanup_tree();
}

TEST(setup_errors_reported) {
        Run r;

        setup_tree();
        run("true", NULL, NULL, fail_setup, &r, NULL);
        ASSERT_EQ(r.release_error, -EACCES);
        ASSERT_EQ(r.err.error, -EACCES);
        ASSERT_STREQ(r.err.message, "mount /proc");
        run_done(&r);

        run("true", "nosuchuser", NULL, setup_rootfs, &r, NULL);
        ASSERT_EQ(r.release_error, -ESRCH);
        ASSERT_STREQ(r.err.message, "resolve user 'nosuchuser'");
        run_done(&r);

        run("true", NULL, "/nonexistent", setup_rootfs, &r, NULL);
        ASSERT_EQ(r.release_error, -ENOENT);
        ASSERT_STREQ(r.err.message, "change to working directory '/nonexistent'");
        run_done(&r);

        ASSERT_FALSE(host_mountinfo_mentions_tmp());
        cleanup_tree();
}

/* ---- user namespaces ---- */

#define USERNS_START 0x7f000000U
#define USERNS_COUNT 65536U

static char *host_uid_seen;

static void read_host_uid(void) {
        _cleanup_free_ char *path = strprintf("/proc/%d/status", (int) run_pid), *status = NULL;
        ASSERT_OK(read_full_file(path, &status, NULL, 64 * 1024));
        const char *u = strstr(status, "\nUid:");
        ASSERT_NOT_NULL(u);
        host_uid_seen = strndup(u + 6, strcspn(u + 6, "\n"));
}

/* Root of a user namespace is the range's first host uid: the maps say so, what it creates is owned
 * by the range on the host, and with the capabilities that override file permissions it still
 * cannot read a root-owned 0600 file of the host. Control: the same script without a user
 * namespace reads the file. No rootfs: the payload runs the host's /bin/sh, whose files are owned
 * by an unmapped uid (nobody) and world-executable. */
TEST(user_namespace) {
        /* what overrides file permissions (this VM's root lacks CAP_SYS_RESOURCE, so not "ALL") */
        char *all[] = { (char *) "DAC_OVERRIDE", (char *) "DAC_READ_SEARCH", (char *) "FOWNER",
                        (char *) "CHOWN",        (char *) "SYS_ADMIN",       NULL };
        _cleanup_free_ char *secret = NULL, *shared = NULL, *made = NULL, *script = NULL;
        struct stat st;
        Run r;

        setup_tree();
        secret = strjoin(tmp, "/secret");
        shared = strjoin(tmp, "/shared");
        made = strjoin(shared, "/made");
        ASSERT_OK(write_file_atomic(secret, "hidden\n", 7, 0600));
        ASSERT_OK(mkdir_p(shared, 0755));
        ASSERT_OK(RET_NERRNO(chown(shared, USERNS_START, USERNS_START)));
        ASSERT_OK(RET_NERRNO(chmod(tmp, 0755)));
        script = strprintf(
                "read x; echo uid=$(id -u):$(id -g); read a b c </proc/self/uid_map; echo uidmap=$a:$b:$c; "
                "read a b c </proc/self/gid_map; echo gidmap=$a:$b:$c; echo groups=$(id -G); "
                "cat %s >/dev/null 2>&1; echo read=$?; "
                "echo x > %s; echo made=$?",
                secret, made);

        run_cap_add = all;
        run(script, NULL, NULL, NULL, &r, read_host_uid);
        if (r.release_error < 0)
                fprintf(stderr, "%s\n", r.err.message);
        ASSERT_OK(r.release_error);
        ASSERT_STREQ(field(r.output, "read"), "0"); /* the control: root of the host reads it */
        run_done(&r);
        host_uid_seen = mfree(host_uid_seen);
        ASSERT_OK(RET_NERRNO(unlink(made)));

        run_userns_start = USERNS_START;
        run_userns_count = USERNS_COUNT;
        run(script, NULL, NULL, NULL, &r, read_host_uid);
        run_userns_start = run_userns_count = 0;
        run_cap_add = NULL;
        ASSERT_OK(r.release_error);
        fprintf(stderr, "%s", r.output);
        ASSERT_STREQ(field(r.output, "uid"), "0:0");
        ASSERT_STREQ(field(r.output, "uidmap"), "0:2130706432:65536");
        ASSERT_STREQ(field(r.output, "gidmap"), "0:2130706432:65536");
        ASSERT_STREQ(field(r.output, "groups"), "0");
        ASSERT_STREQ(field(r.output, "read"), "1");
        ASSERT_STREQ(field(r.output, "made"), "0");
        ASSERT_STREQ(host_uid_seen, "2130706432\t2130706432\t2130706432\t2130706432");
        ASSERT_OK(RET_NERRNO(stat(made, &st)));
        ASSERT_EQ(st.st_uid, USERNS_START);
        ASSERT_EQ(st.st_gid, USERNS_START);
        host_uid_seen = mfree(host_uid_seen);
        run_done(&r);
        cleanup_tree();
}

TEST(seccomp) {
        char *sys_admin[] = { (char *) "CAP_SYS_ADMIN", NULL };
        const char *script =
                "read x; mount -t tmpfs x /mnt 2>/dev/null; echo mount=$?; "
                "mkdir /made 2>/dev/null; echo mkdir=$?; "
                "while read k v; do case $k in Seccomp:) echo seccomp=$v;; esac; done </proc/self/status";
        static const char deny_mkdir[] =
                "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],"
                "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13}]}";
        _cleanup_(seccomp_profile_freep) SeccompProfile *prof = NULL;
        SeccompProgram prog = {};
        Run r;

        setup_tree();

        /* the default profile, compiled in the child: the default capabilities cannot mount
         * (the filter and the missing capability both say no) */
        run_seccomp = true;
        run(script, NULL, NULL, setup_rootfs, &r, NULL);
        ASSERT_OK(r.release_error);
        ASSERT_STREQ(field(r.output, "seccomp"), "2");
        ASSERT_STREQ(field(r.output, "mount"), "1");
        ASSERT_STREQ(field(r.output, "mkdir"), "0");
        run_done(&r);

        /* with CAP_SYS_ADMIN the default profile allows mount, as Docker's does */
        run_cap_add = sys_admin;
        run(script, NULL, NULL, setup_rootfs, &r, NULL);
        ASSERT_OK(r.release_error);
        ASSERT_STREQ(field(r.output, "seccomp"), "2");
        ASSERT_STREQ(field(r.output, "mount"), "0");
        run_done(&r);
        run_cap_add = NULL;

        /* a program compiled by the caller from a profile file: mkdir denied */
        ASSERT_OK(seccomp_profile_parse(deny_mkdir, strlen(deny_mkdir), &prof, NULL, NULL));
        ASSERT_OK(seccomp_program_build(prof, capability_default_set(), NULL, &prog, NULL));
        run_seccomp_program = &prog;
        run(script, NULL, NULL, setup_rootfs, &r, NULL);
        ASSERT_OK(r.release_error);
        ASSERT_STREQ(field(r.output, "seccomp"), "2");
        ASSERT_STREQ(field(r.output, "mkdir"), "1");
        run_done(&r);
        run_seccomp_program = NULL;
        seccomp_program_done(&prog);

        run_seccomp = false;
        run(script, NULL, NULL, setup_rootfs, &r, NULL);
        ASSERT_OK(r.release_error);
        ASSERT_STREQ(field(r.output, "seccomp"), "0");
        run_done(&r);

        cleanup_tree();
}

/* Kernels without clone3 (or filters that hide it): the clone() + pidfd_open() fallback */
TEST(clone_fallback) {
        Run r;
        int status;

        setup_tree();
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
                if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) < 0 ||
                    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0 || seccomp_load(ctx) < 0)
                        _exit(90);
                run("read x; echo pid=$$", NULL, NULL, setup_rootfs, &r, NULL);
                if (r.release_error < 0 || !streq_ptr(field(r.output, "pid"), "2"))
                        _exit(91);
                _exit(r.exit_code);
        }
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 0);
        cleanup_tree();
}

/* Not a benchmark, a sanity bound: spawn → release → payload exit, averaged over 10 */
TEST(start_time) {
        struct timespec a, b;
        Run r;

        setup_tree();
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int i = 0; i < 10; i++) {
                run("read x", NULL, NULL, setup_rootfs, &r, NULL);
                ASSERT_OK(r.release_error);
                ASSERT_EQ(r.exit_code, 0);
                run_done(&r);
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ms = ((double) (b.tv_sec - a.tv_sec) * 1e3 + (double) (b.tv_nsec - a.tv_nsec) / 1e6) / 10;
        fprintf(stderr, "container start to payload exit: %.1f ms on average\n", ms);
        ASSERT_TRUE(ms < 2000);
        cleanup_tree();
}

/* runc CVE-2024-21626: a host directory open in cbox while the child starts is no way out. The fd is
 * closed before anything is resolved in the container, and /proc/self/fd/N is a magic link that
 * the workdir's resolution refuses anyway. Control: the same directory by its path in the
 * container works. */
TEST(workdir_through_fd) {
        _cleanup_close_ int host_dir = -EBADF;
        _cleanup_free_ char *wd = NULL;
        Run r;

        setup_tree();
        host_dir = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(host_dir >= 0);
        for (int n = 3; n <= 32; n++) {
                wd = mfree(wd);
                wd = strprintf("/proc/self/fd/%d", n);
                run("read x; pwd; ls ../../..", NULL, wd, setup_rootfs, &r, NULL);
                ASSERT_TRUE(r.release_error < 0);
                ASSERT_TRUE(strstr(r.err.message, "working directory") != NULL);
                if (n == 32)
                        fprintf(stderr, "last refusal: %s: %s\n", r.err.message, strerror(-r.err.error));
                run_done(&r);
        }

        /* a magic link that exists: refused as one (ELOOP), not followed */
        run("read x; pwd", NULL, "/proc/self/cwd", setup_rootfs, &r, NULL);
        ASSERT_EQ(r.release_error, -ELOOP);
        run_done(&r);

        /* a symlink in the image that points at /proc/self/fd/N: refused the same way */
        _cleanup_free_ char *l = strjoin(lower, "/fdlink");
        _cleanup_free_ char *target = strprintf("/proc/self/fd/%d", host_dir);
        ASSERT_OK(RET_NERRNO(symlink(target, l)));
        run("read x; pwd", NULL, "/fdlink", setup_rootfs, &r, NULL);
        ASSERT_TRUE(r.release_error < 0);
        run_done(&r);

        run("read x; echo cwd=$(pwd); echo up=$(cd ../../..; pwd)", NULL, "/home/app", setup_rootfs, &r,
            NULL);
        ASSERT_OK(r.release_error);
        ASSERT_STREQ(field(r.output, "cwd"), "/home/app");
        ASSERT_STREQ(field(r.output, "up"), "/");
        run_done(&r);
        cleanup_tree();
}

/* CapInh and CapAmb empty for root and others; rlimits and oom_score_adj set as asked */
TEST(caps_and_limits) {
        struct rlimit nproc;
        Run r;

        /* below our own hard limits: raising one needs CAP_SYS_RESOURCE, which a test host's root
         * may lack */
        ASSERT_OK(RET_NERRNO(getrlimit(RLIMIT_NPROC, &nproc)));
        const SpawnRlimit limits[] = {
                { RLIMIT_NOFILE, 1234, 2345 },
                { RLIMIT_NPROC, nproc.rlim_max, nproc.rlim_max },
        };
        _cleanup_free_ char *want_nproc = nproc.rlim_max == RLIM_INFINITY
                ? strdup("unlimited:unlimited")
                : strprintf("%llu:%llu", (unsigned long long) nproc.rlim_max,
                            (unsigned long long) nproc.rlim_max);
        setup_tree();
        run_rlimits = limits;
        run_n_rlimits = ELEMENTSOF(limits);
        run_oom_set = true;
        run_oom = 123;
        run("read x; while read k v; do case $k in CapInh:) echo inh=$v;; CapAmb:) echo amb=$v;; "
            "esac; done </proc/self/status; "
            "while read a b c d e f; do case \"$a $b $c\" in 'Max open files') echo nofile=$d:$e;; "
            "'Max processes '*) echo nproc=$c:$d;; esac; done </proc/self/limits; "
            "echo oom=$(cat /proc/self/oom_score_adj)",
            NULL, NULL, setup_rootfs, &r, NULL);
        ASSERT_OK(r.release_error);
        fprintf(stderr, "%s", r.output);
        ASSERT_STREQ(field(r.output, "inh"), "0000000000000000");
        ASSERT_STREQ(field(r.output, "amb"), "0000000000000000");
        ASSERT_STREQ(field(r.output, "nofile"), "1234:2345");
        ASSERT_STREQ(field(r.output, "nproc"), want_nproc);
        ASSERT_STREQ(field(r.output, "oom"), "123");
        run_done(&r);
        run_rlimits = NULL;
        run_n_rlimits = 0;
        run_oom_set = false;

        run("read x; while read k v; do case $k in CapInh:) echo inh=$v;; CapAmb:) echo amb=$v;; "
            "esac; done </proc/self/status",
            "app", NULL, setup_rootfs, &r, NULL);
        ASSERT_OK(r.release_error);
        ASSERT_STREQ(field(r.output, "inh"), "0000000000000000");
        ASSERT_STREQ(field(r.output, "amb"), "0000000000000000");
        run_done(&r);
        cleanup_tree();
}

TEST(capabilities) {
        uint64_t s;
        char *add[] = { (char *) "NET_ADMIN", (char *) "cap_sys_time", NULL };
        char *drop[] = { (char *) "CAP_CHOWN", NULL };
        char *all[] = { (char *) "ALL", NULL };
        char *bad[] = { (char *) "CAP_NOPE", NULL };

        ASSERT_EQ(capability_from_name("CAP_CHOWN"), 0);
        ASSERT_EQ(capability_from_name("sys_admin"), 21);
        ASSERT_ERROR(capability_from_name("CAP_FOO"), EINVAL);
        ASSERT_STREQ(capability_to_name(12), "CAP_NET_ADMIN");
        ASSERT_NULL(capability_to_name(99));
        ASSERT_EQ(__builtin_popcountll(capability_default_set()), 14);
        /* Docker's default CapEff */
        ASSERT_EQ_U64(capability_default_set(), 0xa80425fbULL);

        ASSERT_OK(capability_compute_set(add, drop, &s));
        ASSERT_EQ_U64(s, (capability_default_set() | (1ULL << 12) | (1ULL << 25)) & ~1ULL);
        ASSERT_OK(capability_compute_set(NULL, all, &s));
        ASSERT_EQ_U64(s, 0);
        ASSERT_OK(capability_compute_set(add, all, &s));
        ASSERT_EQ_U64(s, (1ULL << 12) | (1ULL << 25));
        ASSERT_ERROR(capability_compute_set(bad, NULL, &s), EINVAL);
}

TEST(resolve_user_in_root) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ gid_t *groups = NULL;
        _cleanup_free_ char *home = NULL;
        size_t n;
        uid_t uid;
        gid_t gid;

        setup_tree();
        fd = open(lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(spawn_resolve_user(fd, "app:extra", &uid, &gid, &groups, &n, &home));
        ASSERT_EQ(uid, 1000);
        ASSERT_EQ(gid, 2000);
        ASSERT_STREQ(home, "/home/app");
        ASSERT_EQ(n, 0); /* 2000 is the primary group now */
        home = mfree(home);
        groups = mfree(groups);
        ASSERT_OK(spawn_resolve_user(fd, NULL, &uid, &gid, NULL, NULL, &home));
        ASSERT_EQ(uid, 0);
        ASSERT_STREQ(home, "/root");
        home = mfree(home);
        ASSERT_OK(spawn_resolve_user(fd, "5000", &uid, &gid, NULL, NULL, &home));
        ASSERT_EQ(uid, 5000);
        ASSERT_EQ(gid, 0);
        ASSERT_STREQ(home, "/");
        home = mfree(home);
        ASSERT_ERROR(spawn_resolve_user(fd, "app:nogroup", &uid, &gid, NULL, NULL, NULL), ESRCH);
        ASSERT_ERROR(spawn_resolve_user(fd, ":1", &uid, &gid, NULL, NULL, NULL), EINVAL);

        /* /etc/passwd as a symlink out of the root: resolved inside the root, so not found */
        _cleanup_free_ char *pw = strjoin(lower, "/etc/passwd");
        write_at(tmp, "outside-passwd", "evil:x:666:666::/:/bin/sh\n");
        ASSERT_OK(RET_NERRNO(unlink(pw)));
        ASSERT_OK(RET_NERRNO(symlink("../../outside-passwd", pw)));
        ASSERT_ERROR(spawn_resolve_user(fd, "evil", &uid, &gid, NULL, NULL, NULL), ESRCH);

        /* a FIFO as /etc/passwd: refused, not waited on */
        ASSERT_OK(RET_NERRNO(unlink(pw)));
        ASSERT_OK(RET_NERRNO(mkfifo(pw, 0644)));
        ASSERT_ERROR(spawn_resolve_user(fd, "app", &uid, &gid, NULL, NULL, NULL), EBADFD);
        cleanup_tree();
}

TEST(env) {
        _cleanup_strv_free_ char **e = NULL;
        char *extra[] = { (char *) "PATH=/x", (char *) "A=1", (char *) "A=2", NULL };

        ASSERT_OK(spawn_build_env(extra, "/home/u", true, &e));
        _cleanup_free_ char *j = strv_join(e, " ");
        ASSERT_STREQ(j, "PATH=/x HOME=/home/u container=cbox TERM=xterm A=2");
}

TEST_MAIN();
