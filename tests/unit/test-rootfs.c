/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* rootfs_setup() on the real kernel: a new mount+pid+net namespace, an overlay of two lowers and an
 * upper, and checks from inside (in C, no image needed). Needs root. */

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fd-util.h"
#include "fileio.h"
#include "rootfs.h"
#include "string-util.h"
#include "tests.h"

static char *tmp;

static void make_tree(void) {
        char t[] = "/tmp/test-rootfs-XXXXXX";

        if (geteuid() != 0)
                TEST_SKIP("needs root for mount namespaces");

        ASSERT_NOT_NULL(mkdtemp(t));
        tmp = strdup(t);
        ASSERT_NOT_NULL(tmp);
        /* lower2 (bottom) has /etc/os-release and a /data symlink escaping to the host's /tmp;
         * lower1 (top) overrides /etc/os-release */
        const char *dirs[] = { "lower1/etc",  "lower2/etc", "lower2/mnt", "lower2/tmp",
                               "lower2/proc", "lower2/sys", "lower2/dev", "upper",
                               "work",        "root",       "bindsrc" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *p = strjoin(tmp, "/", dirs[i]);
                ASSERT_OK(mkdir_p(p, 0755));
        }
        _cleanup_free_ char *a = strjoin(tmp, "/lower1/etc/os-release"),
                            *b = strjoin(tmp, "/lower2/etc/os-release"),
                            *c = strjoin(tmp, "/lower2/etc/hostname"), *l = strjoin(tmp, "/lower2/escape"),
                            *s = strjoin(tmp, "/bindsrc/file");
        ASSERT_OK(write_file_atomic(a, "top\n", 4, 0644));
        ASSERT_OK(write_file_atomic(b, "bottom\n", 7, 0644));
        ASSERT_OK(write_file_atomic(c, "lowerhost\n", 10, 0644));
        ASSERT_OK(write_file_atomic(s, "bound\n", 6, 0644));
        /* a symlink pointing to the host's /tmp: a mount target through it must stay inside */
        ASSERT_OK(RET_NERRNO(symlink("/tmp", l)));
}

static void cleanup_tree(void) {
        ASSERT_OK(rm_rf_at(AT_FDCWD, tmp));
        tmp = mfree(tmp);
}

#define CHECK(expr)                                                                                         \
        do {                                                                                                \
                if (!(expr)) {                                                                              \
                        fprintf(stderr, "inside: %s:%d: check failed: %s (%m)\n", __FILE__, __LINE__,       \
                                #expr);                                                                     \
                        _exit(10);                                                                          \
                }                                                                                           \
        } while (0)

static bool mountinfo_has(const char *needle) {
        _cleanup_free_ char *mi = NULL;
        ASSERT_OK(read_full_file("/proc/self/mountinfo", &mi, NULL, 16 * 1024 * 1024));
        return strstr(mi, needle) != NULL;
}

/* Runs rootfs_setup in a new mount+pid(+net) namespace, then fn inside; returns fn's exit code.
 * While the inside waits on a pipe, checks that the host does not see the overlay. */
static int run_inside_userns(const RootfsParams *p, int userns_fd, int (*fn)(void), char *msg,
                             size_t msg_size);

static int run_inside(const RootfsParams *p, int (*fn)(void), char *msg, size_t msg_size) {
        return run_inside_userns(p, -EBADF, fn, msg, msg_size);
}

/* The same in the user namespace userns_fd (>= 0) */
static int run_inside_userns(const RootfsParams *p, int userns_fd, int (*fn)(void), char *msg,
                             size_t msg_size) {
        _cleanup_close_pair_ int go[2] = { -EBADF, -EBADF }, ready[2] = { -EBADF, -EBADF },
                                 msgp[2] = { -EBADF, -EBADF };
        int status;
        char c;

        ASSERT_OK(RET_NERRNO(pipe2(go, O_CLOEXEC)));
        ASSERT_OK(RET_NERRNO(pipe2(ready, O_CLOEXEC)));
        ASSERT_OK(RET_NERRNO(pipe2(msgp, O_CLOEXEC)));

        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                /* still the host's uid 0 in there, as spawn/'s child is: rootfs_setup() becomes
                 * root of the namespace itself */
                if (userns_fd >= 0 && setns(userns_fd, CLONE_NEWUSER) < 0)
                        _exit(25);
                if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC) < 0)
                        _exit(20);
                pid_t inner = fork();
                if (inner < 0)
                        _exit(21);
                if (inner > 0) {
                        int st;
                        if (waitpid(inner, &st, 0) < 0)
                                _exit(22);
                        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 23);
                }
                /* PID 1 of the new pid namespace */
                char m[512] = {};
                int r = rootfs_setup(p, m, sizeof(m));
                if (r < 0) {
                        (void) loop_write(msgp[1], m, strlen(m));
                        _exit(100 + (-r & 0x7f));
                }
                (void) loop_write(ready[1], "R", 1);
                if (read(go[0], &c, 1) != 1)
                        _exit(24);
                _exit(fn());
        }

        ready[1] = safe_close(ready[1]);
        msgp[1] = safe_close(msgp[1]);
        if (read(ready[0], &c, 1) == 1) {
                /* set up inside: the host's mount table is untouched */
                ASSERT_FALSE(mountinfo_has(tmp));
                ASSERT_OK(loop_write(go[1], "G", 1));
        }
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        if (msg) {
                ssize_t n = read(msgp[0], msg, msg_size - 1);
                msg[n > 0 ? n : 0] = '\0';
                if (n > 0)
                        fprintf(stderr, "rootfs_setup: %s\n", msg);
        }
        ASSERT_FALSE(mountinfo_has(tmp));
        return WEXITSTATUS(status);
}

static int check_inside(void) {
        _cleanup_free_ char *s = NULL;
        struct stat st;
        int fd;

        CHECK(getpid() == 1);
        /* the top layer wins */
        CHECK(read_one_line_file("/etc/os-release", &s) >= 0 && streq(s, "top"));
        s = mfree(s);
        CHECK(read_one_line_file("/etc/hostname", &s) >= 0 && streq(s, "lowerhost"));
        s = mfree(s);
        /* a fresh /proc of our pid namespace */
        CHECK(read_one_line_file("/proc/1/comm", &s) >= 0);
        s = mfree(s);
        CHECK(access("/proc/2", F_OK) < 0);
        /* /dev/null: a node we created on our tmpfs, not the host's */
        CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
              minor(st.st_rdev) == 3 && (st.st_mode & 0777) == 0666);
        CHECK(stat("/dev/urandom", &st) == 0 && S_ISCHR(st.st_mode));
        CHECK(access("/dev/sda", F_OK) < 0);
        CHECK(readlink("/dev/ptmx", (char[32]){}, 32) == 8);
        CHECK(stat("/dev/pts/ptmx", &st) == 0 && S_ISCHR(st.st_mode));
        fd = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        CHECK(fd >= 0);
        close(fd);
        CHECK(stat("/dev/shm", &st) == 0 && (st.st_mode & 07777) == 01777);
        /* masked: files read empty (/proc/kcore, /proc/keys, …), directories are empty */
        unsigned n_masked = 0;
        for (const char *const *m = rootfs_masked_paths; *m; m++) {
                if (stat(*m, &st) < 0)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_closedir_ DIR *d = opendir(*m);
                        struct dirent *de;
                        CHECK(d);
                        while ((de = readdir(d)))
                                CHECK(de->d_name[0] == '.');
                } else {
                        CHECK(S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3);
                        CHECK(read_full_file(*m, &s, NULL, 1024) >= 0 && s[0] == '\0');
                        s = mfree(s);
                }
                n_masked++;
        }
        CHECK(n_masked >= 3);
        /* read-only /proc/sys, even for root */
        CHECK(write_string_file("/proc/sys/kernel/hostname", "x") == -EROFS);
        if (access("/proc/sysrq-trigger", F_OK) == 0)
                CHECK(write_string_file("/proc/sysrq-trigger", "h") == -EROFS);
        /* /sys is read-only */
        CHECK(mkdir("/sys/x", 0755) < 0 && errno == EROFS);
        /* writes land in the upper dir */
        CHECK(write_file_atomic("/etc/written", "w\n", 2, 0644) >= 0);
        /* the [[mount]] entries */
        CHECK(read_one_line_file("/bind/file", &s) >= 0 && streq(s, "bound"));
        s = mfree(s);
        CHECK(write_file_atomic("/bind/x", "x", 1, 0644) == -EROFS);
        /* the tmpfs through the symlink /escape → /tmp landed inside the root */
        struct statfs sfs;
        CHECK(statfs("/tmp/cbox-test-escape", &sfs) == 0 && sfs.f_type == TMPFS_MAGIC);
        CHECK(write_file_atomic("/tmp/cbox-test-escape/f", "x", 1, 0644) >= 0);
        /* the old root is gone */
        CHECK(access(tmp, F_OK) < 0);
        return 0;
}

static int check_read_only(void) {
        CHECK(write_file_atomic("/etc/x", "x", 1, 0644) == -EROFS);
        /* /dev and the tmpfs mounts keep their own flags */
        CHECK(write_file_atomic("/dev/shm/x", "x", 1, 0644) >= 0);
        return 0;
}

static int check_sys_bind(void) {
        _cleanup_closedir_ DIR *d = opendir("/sys/fs/cgroup");
        struct dirent *de;

        /* the host's /sys without what is mounted below it (cgroupfs here) */
        CHECK(d);
        while ((de = readdir(d)))
                CHECK(de->d_name[0] == '.');
        CHECK(access("/sys/kernel", F_OK) == 0);
        CHECK(mkdir("/sys/x", 0755) < 0 && errno == EROFS);
        return 0;
}

static int check_nothing(void) {
        return 0;
}

/* ---- a user namespace (issue 16) ---- */

#define USERNS_START 0x7e000000U

/* A process parked in a new user namespace that maps 0..65535 to USERNS_START..; its namespace's fd */
static pid_t userns_make(int *ret_fd) {
        _cleanup_close_pair_ int p[2] = { -EBADF, -EBADF };
        char c, map[64], path[64];

        ASSERT_OK(RET_NERRNO(pipe2(p, O_CLOEXEC)));
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                /* gone with the test, also when an assertion aborts it */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || unshare(CLONE_NEWUSER) < 0)
                        _exit(1);
                (void) loop_write(p[1], "U", 1);
                pause();
                _exit(0);
        }
        ASSERT_EQ(read(p[0], &c, 1), 1);
        snprintf(map, sizeof(map), "0 %u 65536\n", USERNS_START);
        snprintf(path, sizeof(path), "/proc/%d/uid_map", (int) pid);
        ASSERT_OK(write_string_file(path, map));
        snprintf(path, sizeof(path), "/proc/%d/gid_map", (int) pid);
        ASSERT_OK(write_string_file(path, map));
        snprintf(path, sizeof(path), "/proc/%d/ns/user", (int) pid);
        *ret_fd = open(path, O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(*ret_fd >= 0);
        return pid;
}

static int check_userns_inside(void) {
        _cleanup_free_ char *s = NULL;
        struct stat st;
        int fd;

        CHECK(getuid() == 0);
        /* the image's files (host uid 0 on disk) are root's in here, and so is the root */
        CHECK(read_one_line_file("/etc/os-release", &s) >= 0 && streq(s, "top"));
        CHECK(stat("/etc/os-release", &st) == 0 && st.st_uid == 0 && st.st_gid == 0);
        CHECK(stat("/etc/hostname", &st) == 0 && st.st_uid == 0);
        CHECK(stat("/", &st) == 0 && st.st_uid == 0);
        CHECK(write_file_atomic("/etc/written", "w\n", 2, 0644) >= 0);
        CHECK(mkdir("/made", 0755) == 0);
        /* the host's nodes, usable */
        fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        CHECK(fd >= 0 && write(fd, "x", 1) == 1);
        close(fd);
        CHECK(stat("/dev/zero", &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1);
        /* no device of its own */
        CHECK(mknod("/dev/sda", S_IFBLK | 0600, makedev(8, 0)) < 0 && errno == EPERM);
        CHECK(stat("/dev/pts/ptmx", &st) == 0 && S_ISCHR(st.st_mode));
        /* the store's whiteout and opaque directory still hide what is below them */
        CHECK(access("/etc/gone", F_OK) < 0 && errno == ENOENT);
        CHECK(access("/opq/below", F_OK) < 0 && errno == ENOENT);
        CHECK(access("/opq/above", F_OK) == 0);
        CHECK(access(tmp, F_OK) < 0);
        return 0;
}

/* The root made in the host's namespaces for a user namespace: the image stays owned by host uid 0
 * on disk and shows as the container's root inside, what the container writes is owned by the
 * range on the host, and /dev works without mknod */
TEST(idmapped_root_in_userns) {
        _cleanup_free_ char *l1 = NULL, *l2 = NULL, *up = NULL, *wk = NULL, *root = NULL, *w = NULL,
                            *m = NULL, *lf = NULL;
        _cleanup_close_ int userns_fd = -EBADF;
        const char *lowers[2];
        char msg[512];
        struct stat st;
        int mfd = -EBADF, r;

        make_tree();
        l1 = strjoin(tmp, "/lower1");
        l2 = strjoin(tmp, "/lower2");
        up = strjoin(tmp, "/upper");
        wk = strjoin(tmp, "/work");
        root = strjoin(tmp, "/root");
        lowers[0] = l1;
        lowers[1] = l2;
        ASSERT_OK(RET_NERRNO(chown(up, USERNS_START, USERNS_START)));
        ASSERT_OK(RET_NERRNO(chmod(tmp, 0755)));
        /* as the store has them: a 0:0 whiteout of /etc/gone and an opaque /opq over the lower's */
        _cleanup_free_ char *gone_low = strjoin(l2, "/etc/gone"), *gone = strjoin(l1, "/etc/gone"),
                            *opq_low = strjoin(l2, "/opq"), *opq = strjoin(l1, "/opq"),
                            *below = strjoin(l2, "/opq/below"), *above = strjoin(l1, "/opq/above");
        ASSERT_OK(write_file_atomic(gone_low, "x", 1, 0644));
        ASSERT_OK(RET_NERRNO(mknod(gone, S_IFCHR | 0600, makedev(0, 0))));
        ASSERT_OK(mkdir_p(opq_low, 0755));
        ASSERT_OK(mkdir_p(opq, 0755));
        ASSERT_OK(write_file_atomic(below, "x", 1, 0644));
        ASSERT_OK(write_file_atomic(above, "x", 1, 0644));
        ASSERT_OK(RET_NERRNO(setxattr(opq, "trusted.overlay.opaque", "y", 1, 0)));

        pid_t holder = userns_make(&userns_fd);
        RootfsParams p = {
                .target = root,
                .lower_dirs = lowers,
                .n_lower_dirs = 2,
                .upper_dir = up,
                .work_dir = wk,
                .new_netns = true,
                .userns = true,
        };
        r = rootfs_make_idmapped_root(&p, userns_fd, &mfd, msg, sizeof(msg));
        if (r == -EINVAL && strstr(msg, "idmap layer")) {
                (void) kill(holder, SIGKILL);
                (void) waitpid(holder, NULL, 0);
                cleanup_tree();
                TEST_SKIP("%s cannot be idmapped: %s", tmp, msg);
        }
        if (r < 0)
                fprintf(stderr, "rootfs_make_idmapped_root: %s\n", msg);
        ASSERT_OK(r);
        /* nothing attached in the host's namespace */
        ASSERT_FALSE(mountinfo_has(tmp));
        p.root_mount_fd = mfd;
        ASSERT_EQ(run_inside_userns(&p, userns_fd, check_userns_inside, msg, sizeof(msg)), 0);
        safe_close(mfd);
        (void) kill(holder, SIGKILL);
        ASSERT_EQ(waitpid(holder, NULL, 0), holder);

        w = strjoin(up, "/etc/written");
        m = strjoin(up, "/made");
        lf = strjoin(l2, "/etc/hostname");
        ASSERT_OK(RET_NERRNO(stat(w, &st)));
        ASSERT_EQ(st.st_uid, USERNS_START);
        ASSERT_EQ(st.st_gid, USERNS_START);
        ASSERT_OK(RET_NERRNO(stat(m, &st)));
        ASSERT_EQ(st.st_uid, USERNS_START);
        ASSERT_OK(RET_NERRNO(stat(lf, &st)));
        ASSERT_EQ(st.st_uid, 0U);
        cleanup_tree();
}

static int check_userns_many(void) {
        CHECK(access("/layer-0", F_OK) == 0);
        CHECK(access("/layer-127", F_OK) == 0);
        return 0;
}

/* ROOTFS_LOWER_DIRS_MAX idmapped layers, on every kernel (6.1's fsconfig() values hold ~14) */
TEST(idmapped_root_many_layers) {
        _cleanup_free_ char *up = NULL, *wk = NULL, *root = NULL;
        _cleanup_close_ int userns_fd = -EBADF;
        char *lowers[ROOTFS_LOWER_DIRS_MAX];
        char msg[512];
        int mfd = -EBADF;

        make_tree();
        up = strjoin(tmp, "/upper");
        wk = strjoin(tmp, "/work");
        root = strjoin(tmp, "/root");
        ASSERT_OK(RET_NERRNO(chown(up, USERNS_START, USERNS_START)));
        ASSERT_OK(RET_NERRNO(chmod(tmp, 0755)));
        for (size_t i = 0; i < ROOTFS_LOWER_DIRS_MAX; i++) {
                lowers[i] = strprintf("%s/many%zu", tmp, i);
                _cleanup_free_ char *f = strprintf("%s/layer-%zu", lowers[i], i);
                ASSERT_OK(mkdir_p(lowers[i], 0755));
                ASSERT_OK(write_file_atomic(f, "x", 1, 0644));
        }
        /* what rootfs_setup() needs in the root: the bottom layer has the mount points */
        for (const char *const *d = (const char *const[]){ "proc", "sys", "dev", NULL }; *d; d++) {
                _cleanup_free_ char *m = strprintf("%s/%s", lowers[ROOTFS_LOWER_DIRS_MAX - 1], *d);
                ASSERT_OK(mkdir_p(m, 0755));
        }

        pid_t holder = userns_make(&userns_fd);
        RootfsParams p = {
                .target = root,
                .lower_dirs = (const char *const *) lowers,
                .n_lower_dirs = ROOTFS_LOWER_DIRS_MAX,
                .upper_dir = up,
                .work_dir = wk,
                .new_netns = true,
                .userns = true,
        };
        int r = rootfs_make_idmapped_root(&p, userns_fd, &mfd, msg, sizeof(msg));
        if (r < 0)
                fprintf(stderr, "rootfs_make_idmapped_root: %s\n", msg);
        ASSERT_OK(r);
        p.root_mount_fd = mfd;
        ASSERT_EQ(run_inside_userns(&p, userns_fd, check_userns_many, msg, sizeof(msg)), 0);
        safe_close(mfd);
        (void) kill(holder, SIGKILL);
        ASSERT_EQ(waitpid(holder, NULL, 0), holder);
        for (size_t i = 0; i < ROOTFS_LOWER_DIRS_MAX; i++)
                free(lowers[i]);
        cleanup_tree();
}

TEST(overlay_and_inside) {
        _cleanup_free_ char *l1 = NULL, *l2 = NULL, *up = NULL, *wk = NULL, *root = NULL, *src = NULL,
                            *w = NULL, *w2 = NULL;
        make_tree();
        l1 = strjoin(tmp, "/lower1");
        l2 = strjoin(tmp, "/lower2");
        up = strjoin(tmp, "/upper");
        wk = strjoin(tmp, "/work");
        root = strjoin(tmp, "/root");
        src = strjoin(tmp, "/bindsrc");
        const char *lowers[] = { l1, l2 };
        RootfsMount mounts[] = {
                { .type = ROOTFS_MOUNT_BIND, .source = src, .target = "/bind", .read_only = true },
                { .type = ROOTFS_MOUNT_TMPFS, .target = "/escape/cbox-test-escape", .size = 1024 * 1024 },
        };
        RootfsParams p = {
                .target = root,
                .lower_dirs = lowers,
                .n_lower_dirs = 2,
                .upper_dir = up,
                .work_dir = wk,
                .mounts = mounts,
                .n_mounts = ELEMENTSOF(mounts),
                .new_netns = true,
        };
        char msg[512];

        (void) unlink("/tmp/cbox-test-escape");
        ASSERT_EQ(run_inside(&p, check_inside, msg, sizeof(msg)), 0);
        /* the write is in the upper dir, not in a lower */
        w = strjoin(up, "/etc/written");
        ASSERT_OK(RET_NERRNO(access(w, F_OK)));
        w2 = strjoin(l2, "/etc/written");
        ASSERT_TRUE(access(w2, F_OK) < 0);
        ASSERT_TRUE(access("/tmp/cbox-test-escape", F_OK) < 0);

        /* no new network namespace: a bind of the host's /sys */
        p.new_netns = false;
        ASSERT_EQ(run_inside(&p, check_sys_bind, msg, sizeof(msg)), 0);
        p.new_netns = true;

        /* read-only root: no upper writes */
        p.read_only = true;
        p.mounts = NULL;
        p.n_mounts = 0;
        ASSERT_EQ(run_inside(&p, check_read_only, msg, sizeof(msg)), 0);

        /* a single lower without upper: a read-only bind */
        p.read_only = false;
        const char *single[] = { l2 };
        p.lower_dirs = single;
        p.n_lower_dirs = 1;
        p.upper_dir = p.work_dir = NULL;
        ASSERT_EQ(run_inside(&p, check_read_only, msg, sizeof(msg)), 0);

        cleanup_tree();
}

/* Image layers as the store names them (64 hex digits below a long root), so that three of them
 * already pass the 256 bytes one fsconfig() value may have */
static size_t n_layers;

static int check_layers(void) {
        _cleanup_free_ char *s = NULL;

        for (size_t i = 0; i < n_layers; i++) {
                _cleanup_free_ char *f = strprintf("/l%zu", i), *v = NULL;
                CHECK(f && read_one_line_file(f, &v) >= 0);
                CHECK(v && (size_t) atoi(v) == i);
        }
        /* every layer writes /top: the highest (lower_dirs[0]) wins */
        CHECK(read_one_line_file("/top", &s) >= 0 && streq(s, "0"));
        CHECK(write_file_atomic("/written", "x\n", 2, 0644) >= 0);
        return 0;
}

static void many_layers(size_t n, RootfsOverlayApi api) {
        _cleanup_free_ char *root = strjoin(tmp, "/root"), *up = strjoin(tmp, "/upper"),
                            *wk = strjoin(tmp, "/work"), *w = NULL;
        _cleanup_free_ const char **lowers = new0(const char *, n);
        char msg[512];
        int r;

        ASSERT_NOT_NULL(lowers);
        for (size_t i = 0; i < n; i++) {
                char hex[65];
                (void) snprintf(hex, sizeof(hex), "%064llx", (unsigned long long) i * 0x9e3779b97f4a7c15ULL);
                _cleanup_free_ char *d = strjoin(tmp, "/var/lib/cbox-test-store/layers/", hex);
                _cleanup_free_ char *f = strprintf("%s/l%zu", d, i), *v = strprintf("%zu\n", i),
                                    *t = strjoin(d, "/top");
                ASSERT_NOT_NULL(d);
                ASSERT_OK(mkdir_p(d, 0755));
                ASSERT_OK(write_file_atomic(f, v, strlen(v), 0644));
                ASSERT_OK(write_file_atomic(t, v, strlen(v), 0644));
                lowers[i] = TAKE_PTR(d);
        }
        n_layers = n;
        RootfsParams p = {
                .target = root,
                .lower_dirs = lowers,
                .n_lower_dirs = n,
                .upper_dir = up,
                .work_dir = wk,
                .new_netns = true,
                .overlay_api = api,
        };
        r = run_inside(&p, check_layers, msg, sizeof(msg));
        for (size_t i = 0; i < n; i++)
                free((char *) lowers[i]);
        if (api == ROOTFS_OVERLAY_LOWERDIR_PLUS && r == 100 + EINVAL) {
                fprintf(stderr, "%zu layers: this kernel has no lowerdir+ (%s)\n", n, msg);
                return;
        }
        fprintf(stderr, "%zu layers through %s: %s\n", n,
                api == ROOTFS_OVERLAY_DATA_PAGE      ? "the data page"
                        : api == ROOTFS_OVERLAY_AUTO ? "auto"
                                                     : "lowerdir+",
                r == 0 ? "ok" : msg);
        ASSERT_EQ(r, 0);
        w = strjoin(up, "/written");
        ASSERT_OK(RET_NERRNO(access(w, F_OK)));
        ASSERT_OK(RET_NERRNO(unlink(w)));
}

TEST(many_layers) {
        static const size_t counts[] = { 1, 3, 24, ROOTFS_LOWER_DIRS_MAX };

        make_tree();
        for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
                many_layers(counts[i], ROOTFS_OVERLAY_AUTO);
                many_layers(counts[i], ROOTFS_OVERLAY_DATA_PAGE);
                many_layers(counts[i], ROOTFS_OVERLAY_LOWERDIR_PLUS);
        }
        cleanup_tree();
}

static int check_etc_binds(void) {
        _cleanup_free_ char *s = NULL, *h = NULL;
        struct stat st;

        CHECK(read_full_file("/etc/resolv.conf", &s, NULL, 100) >= 0);
        CHECK(streq(s, "nameserver 192.0.2.53\n"));
        CHECK(read_full_file("/etc/hosts", &h, NULL, 100) >= 0);
        CHECK(streq(h, "127.0.0.1 ours\n"));
        CHECK(lstat("/etc/resolv.conf", &st) == 0 && S_ISREG(st.st_mode));
        /* the links' targets were not created inside either */
        CHECK(access("/run/systemd/resolve/stub-resolv.conf", F_OK) < 0);
        return 0;
}

/* An image's /etc/resolv.conf dangling (systemd's stub link) and /etc/hosts pointing through
 * /etc/../../.. at a host file: with replace_symlink the links are replaced in the upper dir and our
 * files bound there; the host file is never written or bound. The control: without it, the dangling link
 * fails the setup (what `up` did). */
TEST(etc_symlinks_replaced) {
        _cleanup_free_ char *l1 = NULL, *l2 = NULL, *up = NULL, *wk = NULL, *root = NULL, *hostf = NULL,
                            *rs = NULL, *hs = NULL, *link = NULL, *data = NULL, *uresolv = NULL;
        struct stat before, after, st;
        char msg[512];

        make_tree();
        l1 = strjoin(tmp, "/lower1");
        l2 = strjoin(tmp, "/lower2");
        up = strjoin(tmp, "/upper");
        wk = strjoin(tmp, "/work");
        root = strjoin(tmp, "/root");
        hostf = strjoin(tmp, "/host-file");
        rs = strjoin(tmp, "/bindsrc/resolv.conf");
        hs = strjoin(tmp, "/bindsrc/hosts");
        ASSERT_OK(write_file_atomic(hostf, "host, keep\n", 11, 0644));
        ASSERT_OK(write_file_atomic(rs, "nameserver 192.0.2.53\n", 22, 0644));
        ASSERT_OK(write_file_atomic(hs, "127.0.0.1 ours\n", 15, 0644));
        ASSERT_OK(RET_NERRNO(stat(hostf, &before)));
        link = strjoin(l1, "/etc/resolv.conf");
        ASSERT_OK(RET_NERRNO(symlink("../run/systemd/resolve/stub-resolv.conf", link)));
        free(link);
        link = strjoin(l1, "/etc/hosts");
        _cleanup_free_ char *target = strjoin("/etc/../../../../../../..", hostf);
        ASSERT_OK(RET_NERRNO(symlink(target, link)));
        /* control: followed on the host, the hosts link reaches the host file */
        ASSERT_OK(read_full_file(link, &data, NULL, 100));
        ASSERT_STREQ(data, "host, keep\n");

        const char *lowers[] = { l1, l2 };
        RootfsMount mounts[] = {
                { .type = ROOTFS_MOUNT_BIND,
                  .source = rs,
                  .target = "/etc/resolv.conf",
                  .read_only = true,
                  .replace_symlink = true },
                { .type = ROOTFS_MOUNT_BIND,
                  .source = hs,
                  .target = "/etc/hosts",
                  .read_only = true,
                  .replace_symlink = true },
        };
        RootfsParams p = {
                .target = root,
                .lower_dirs = lowers,
                .n_lower_dirs = 2,
                .upper_dir = up,
                .work_dir = wk,
                .mounts = mounts,
                .n_mounts = ELEMENTSOF(mounts),
                .new_netns = true,
        };
        ASSERT_EQ(run_inside(&p, check_etc_binds, msg, sizeof(msg)), 0);
        uresolv = strjoin(up, "/etc/resolv.conf");
        ASSERT_OK(RET_NERRNO(lstat(uresolv, &st)));
        ASSERT_TRUE(S_ISREG(st.st_mode) && st.st_size == 0); /* the empty mount point, in the upper dir */
        ASSERT_OK(RET_NERRNO(lstat(link, &st)));
        ASSERT_TRUE(S_ISLNK(st.st_mode)); /* the layer is untouched */
        ASSERT_OK(RET_NERRNO(stat(hostf, &after)));
        ASSERT_TRUE(after.st_ino == before.st_ino && after.st_size == before.st_size &&
                    after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
                    after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
        data = mfree(data);
        ASSERT_OK(read_full_file(hostf, &data, NULL, 100));
        ASSERT_STREQ(data, "host, keep\n");

        /* control: the same dangling link without replace_symlink, on a fresh upper, fails the setup */
        ASSERT_OK(rm_rf_at(AT_FDCWD, up));
        ASSERT_OK(mkdir_p(up, 0755));
        mounts[0].replace_symlink = mounts[1].replace_symlink = false;
        ASSERT_TRUE(run_inside(&p, check_nothing, msg, sizeof(msg)) != 0);
        ASSERT_TRUE(strstr(msg, "/etc/resolv.conf") != NULL);
        cleanup_tree();
}

TEST(errors_are_reported) {
        _cleanup_free_ char *root = NULL, *up = NULL, *wk = NULL;
        char msg[512];

        make_tree();
        root = strjoin(tmp, "/root");
        up = strjoin(tmp, "/upper");
        wk = strjoin(tmp, "/work");
        const char *missing[] = { "/nonexistent/layer" };
        RootfsParams p = {
                .target = root,
                .lower_dirs = missing,
                .n_lower_dirs = 1,
                .upper_dir = up,
                .work_dir = wk,
        };
        ASSERT_EQ(run_inside(&p, check_nothing, msg, sizeof(msg)), 100 + ENOENT);
        fprintf(stderr, "reported: %s\n", msg);
        /* "set overlay option 'lowerdir'" (6.5+: parsed at fsconfig), "mount overlay" before */
        ASSERT_TRUE(strstr(msg, "overlay") != NULL);

        const char *bad[] = { "/a:b" };
        p.lower_dirs = bad;
        ASSERT_EQ(run_inside(&p, check_nothing, msg, sizeof(msg)), 100 + EINVAL);
        ASSERT_TRUE(strstr(msg, "/a:b") != NULL);

        RootfsMount m = { .type = ROOTFS_MOUNT_BIND, .source = "/nonexistent-src", .target = "/x" };
        const char *ok[] = { "/" };
        p.lower_dirs = ok;
        p.upper_dir = p.work_dir = NULL;
        p.mounts = &m;
        p.n_mounts = 1;
        ASSERT_EQ(run_inside(&p, check_nothing, msg, sizeof(msg)), 100 + ENOENT);
        ASSERT_TRUE(strstr(msg, "/nonexistent-src") != NULL);

        cleanup_tree();
}

/* Device nodes and set-user-ID bits: the root and /dev are nodev (a node made there does not open), the
 * nodes cbox makes and security.devices do; binds are nosuid,nodev unless allow_suid/allow_dev */
static bool src_nodev, have_tun;

static int check_nodes_and_flags(void) {
        struct statvfs sv;
        struct stat st;
        int fd;

        CHECK(statvfs("/bind", &sv) == 0 && (sv.f_flag & ST_NOSUID) && (sv.f_flag & ST_NODEV));
        CHECK(statvfs("/bindsd", &sv) == 0 && !(sv.f_flag & ST_NOSUID) &&
              !(sv.f_flag & ST_NODEV) == !src_nodev);
        /* on the root and in /dev, a node of /dev/null made by the container is refused */
        CHECK(mknod("/mynull", S_IFCHR | 0666, makedev(1, 3)) == 0);
        CHECK(open("/mynull", O_RDONLY | O_CLOEXEC) < 0 && errno == EACCES);
        CHECK(mknod("/dev/mynull", S_IFCHR | 0666, makedev(1, 3)) == 0);
        CHECK(open("/dev/mynull", O_RDONLY | O_CLOEXEC) < 0 && errno == EACCES);
        /* control: the same node on a bind with allow_dev opens, and so does cbox's /dev/null */
        CHECK(mknod("/bindsd/mynull", S_IFCHR | 0666, makedev(1, 3)) == 0);
        fd = open("/bindsd/mynull", O_RDONLY | O_CLOEXEC);
        CHECK(src_nodev ? fd < 0 : fd >= 0);
        safe_close(fd);
        CHECK(unlink("/bindsd/mynull") == 0);
        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        CHECK(fd >= 0);
        safe_close(fd);
        /* security.devices: the host's node, in a directory of its own, usable, its mode not changeable */
        if (have_tun) {
                CHECK(stat("/dev/net/tun", &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 10 &&
                      minor(st.st_rdev) == 200);
                fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
                CHECK(fd >= 0);
                safe_close(fd);
                CHECK(chmod("/dev/net/tun", 0666) < 0 && errno == EROFS);
        }
        return 0;
}

TEST(nodev_nosuid) {
        _cleanup_free_ char *l2 = NULL, *root = NULL, *src = NULL, *up = NULL, *wk = NULL;
        struct statvfs sv;
        char msg[512];

        make_tree();
        l2 = strjoin(tmp, "/lower2");
        root = strjoin(tmp, "/root");
        src = strjoin(tmp, "/bindsrc");
        up = strjoin(tmp, "/upper");
        wk = strjoin(tmp, "/work");
        ASSERT_OK(RET_NERRNO(statvfs(src, &sv)));
        src_nodev = sv.f_flag & ST_NODEV;
        have_tun = access("/dev/net/tun", F_OK) == 0;
        const char *lowers[] = { l2 };
        const char *devices[] = { "/dev/net/tun" };
        RootfsMount mounts[] = {
                { .type = ROOTFS_MOUNT_BIND, .source = src, .target = "/bind" },
                { .type = ROOTFS_MOUNT_BIND,
                  .source = src,
                  .target = "/bindsd",
                  .allow_suid = true,
                  .allow_dev = true },
        };
        RootfsParams p = {
                .target = root,
                .lower_dirs = lowers,
                .n_lower_dirs = 1,
                .upper_dir = up,
                .work_dir = wk,
                .mounts = mounts,
                .n_mounts = ELEMENTSOF(mounts),
                .devices = devices,
                .n_devices = have_tun ? 1 : 0,
                .new_netns = true,
        };
        ASSERT_EQ(run_inside(&p, check_nodes_and_flags, msg, sizeof(msg)), 0);
        cleanup_tree();
}

/* A [[mount]] that an image's symlink leads into /proc, /sys or /dev is refused, and names the place;
 * the control: the same symlink to a plain directory is fine */
TEST(mount_point_through_symlink) {
        _cleanup_free_ char *l2 = NULL, *root = NULL, *src = NULL, *up = NULL, *wk = NULL;
        char msg[512];

        make_tree();
        l2 = strjoin(tmp, "/lower2");
        root = strjoin(tmp, "/root");
        src = strjoin(tmp, "/bindsrc");
        up = strjoin(tmp, "/upper");
        wk = strjoin(tmp, "/work");
        const struct {
                const char *link, *to;
        } links[] = { { "dl", "/dev" }, { "pl", "../proc" }, { "sl", "/sys" }, { "ml", "/mnt" } };
        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                _cleanup_free_ char *l = strjoin(l2, "/", links[i].link);
                ASSERT_OK(RET_NERRNO(symlink(links[i].to, l)));
        }
        const char *lowers[] = { l2 };
        RootfsMount m = { .type = ROOTFS_MOUNT_BIND, .source = src };
        RootfsParams p = {
                .target = root,
                .lower_dirs = lowers,
                .n_lower_dirs = 1,
                .upper_dir = up,
                .work_dir = wk,
                .mounts = &m,
                .n_mounts = 1,
                .new_netns = true,
        };
        const char *refused[] = { "/dl/shm", "/dl/newdir", "/dl", "/pl/sys", "/sl/kernel", "/ml/../dl/pts" };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                m.target = refused[i];
                ASSERT_EQ(run_inside(&p, check_nothing, msg, sizeof(msg)), 100 + EPERM);
                ASSERT_TRUE(strstr(msg, refused[i]) != NULL);
        }
        m.target = "/ml/x";
        ASSERT_EQ(run_inside(&p, check_nothing, msg, sizeof(msg)), 0);
        cleanup_tree();
}

TEST_MAIN();
