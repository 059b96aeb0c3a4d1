/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sched.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fd-util.h"
#include "process-util.h"
#include "rootfs.h"
#include "string-util.h"

/* Like Docker/crun: files are hidden behind /dev/null, directories behind an empty read-only tmpfs */
const char *const rootfs_masked_paths[] = {
        "/proc/acpi",          "/proc/asound",
        "/proc/interrupts",    "/proc/kallsyms",
        "/proc/kcore",         "/proc/keys",
        "/proc/latency_stats", "/proc/sched_debug",
        "/proc/scsi",          "/proc/timer_list",
        "/proc/timer_stats",   "/sys/devices/virtual/powercap",
        "/sys/firmware",       NULL,
};

const char *const rootfs_readonly_paths[] = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

static const struct {
        const char *name;
        unsigned major, minor;
} dev_nodes[] = {
        { "null", 1, 3 },   { "zero", 1, 5 },    { "full", 1, 7 },
        { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

static const struct {
        const char *name, *target;
} dev_links[] = {
        { "fd", "/proc/self/fd" },       { "stdin", "/proc/self/fd/0" }, { "stdout", "/proc/self/fd/1" },
        { "stderr", "/proc/self/fd/2" }, { "ptmx", "pts/ptmx" },         { "core", "/proc/kcore" },
};

typedef struct Ctx {
        char *msg;
        size_t msg_size;
} Ctx;

static int fail(Ctx *c, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(Ctx *c, int r, const char *fmt, ...) {
        va_list ap;

        if (c->msg && c->msg_size > 0) {
                va_start(ap, fmt);
                (void) vsnprintf(c->msg, c->msg_size, fmt, ap);
                va_end(ap);
        }
        return r;
}

/* Appends the kernel's fs_context messages ("e overlay: ...") to the message, best effort */
static void append_fs_log(Ctx *c, int fsfd) {
        char buf[256];
        size_t l;

        if (fsfd < 0 || !c->msg || c->msg_size == 0)
                return;
        for (;;) {
                ssize_t k = read(fsfd, buf, sizeof(buf) - 1);
                if (k <= 0)
                        break;
                buf[k] = '\0';
                if (buf[k - 1] == '\n')
                        buf[k - 1] = '\0';
                l = strlen(c->msg);
                (void) snprintf(c->msg + l, c->msg_size - l, " (%s)",
                                buf[0] && buf[1] == ' ' ? buf + 2 : buf);
        }
}

static int open_in_root(int root_fd, const char *path, int flags) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        int fd = (int) syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
        return fd < 0 ? -errno : fd;
}

/* Creates path below root_fd (all components resolved inside the root), the last one as a
 * directory or, with !dir, an empty file. Existing components are fine. */
static int mkdir_p_in_root(int root_fd, const char *path, bool dir) {
        _cleanup_free_ char *p = strdup(path);
        char *s;
        int r;

        if (!p)
                return -ENOMEM;

        s = p;
        while (*s == '/')
                s++;
        if (!*s)
                return 0;

        for (;;) {
                char *slash = strchr(s, '/');
                bool last;
                _cleanup_close_ int fd = -EBADF, parent = -EBADF;

                if (slash)
                        *slash = '\0';
                last = !slash || !slash[strspn(slash + 1, "/") + 1];

                fd = open_in_root(root_fd, p, O_PATH);
                if (fd == -ENOENT) {
                        char *base = strrchr(p, '/');
                        const char *name = base ? base + 1 : p;

                        if (base)
                                *base = '\0';
                        parent = base ? open_in_root(root_fd, *p ? p : "/", O_PATH | O_DIRECTORY)
                                      : open_in_root(root_fd, "/", O_PATH | O_DIRECTORY);
                        if (base)
                                *base = '/';
                        if (parent < 0)
                                return parent;

                        if (!last || dir)
                                r = RET_NERRNO(mkdirat(parent, name, 0755));
                        else {
                                int f = openat(parent, name,
                                               O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                                r = f < 0 ? -errno : 0;
                                (void) safe_close(f);
                        }
                        if (r < 0 && r != -EEXIST)
                                return r;
                } else if (fd < 0)
                        return fd;

                if (!slash)
                        return 0;
                *slash = '/';
                s = slash + 1;
                while (*s == '/')
                        s++;
                if (!*s)
                        return 0;
        }
}

/* fsopen() + fsconfig() + fsmount(): returns a detached mount fd, or -errno with the failure in ctx */
static int fs_make(Ctx *c, const char *fstype, const char *const *opts, unsigned attr, const char *what) {
        _cleanup_close_ int fsfd = -EBADF;
        int mfd, r;

        fsfd = fsopen(fstype, FSOPEN_CLOEXEC);
        if (fsfd < 0)
                return fail(c, -errno, "create %s file system for %s", fstype, what);

        for (const char *const *o = opts; o && o[0]; o += 2) {
                if (o[1])
                        r = fsconfig(fsfd, FSCONFIG_SET_STRING, o[0], o[1], 0);
                else
                        r = fsconfig(fsfd, FSCONFIG_SET_FLAG, o[0], NULL, 0);
                if (r < 0) {
                        r = fail(c, -errno, "set %s option '%s' for %s", fstype, o[0], what);
                        append_fs_log(c, fsfd);
                        return r;
                }
        }
        if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
                r = fail(c, -errno, "mount %s at '%s'", fstype, what);
                append_fs_log(c, fsfd);
                return r;
        }

        mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attr);
        if (mfd < 0)
                return fail(c, -errno, "mount %s at '%s'", fstype, what);
        return mfd;
}

static int attach(Ctx *c, int mfd, int target_fd, const char *what) {
        if (move_mount(mfd, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return fail(c, -errno, "attach mount at '%s'", what);
        return 0;
}

/* Mounts a new file system at path inside the root (the mount point must exist) */
static int mount_fs_in_root(Ctx *c, int root_fd, const char *path, const char *fstype,
                            const char *const *opts, unsigned attr) {
        _cleanup_close_ int target = -EBADF, mfd = -EBADF;

        target = open_in_root(root_fd, path, O_PATH | O_DIRECTORY);
        if (target < 0)
                return fail(c, target, "open mount point '%s'", path);
        mfd = fs_make(c, fstype, opts, attr, path);
        if (mfd < 0)
                return mfd;
        return attach(c, mfd, target, path);
}

static int setattr_fd(int fd, bool recursive, uint64_t set) {
        struct mount_attr a = { .attr_set = set };
        return RET_NERRNO(
                mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof(a)));
}

/* A bind of source (opened by from_fd/from_path) onto target_fd, with the MOUNT_ATTR_* flags attr */
static int bind_fd_attr(Ctx *c, int from_fd, const char *from_path, int target_fd, bool recursive,
                        uint64_t attr, const char *what) {
        _cleanup_close_ int mfd = -EBADF;
        int r;

        mfd = open_tree(from_fd, from_path,
                        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0) |
                                (isempty(from_path) ? AT_EMPTY_PATH : 0));
        if (mfd < 0)
                return fail(c, -errno, "clone mount for '%s'", what);
        if (attr != 0) {
                r = setattr_fd(mfd, recursive, attr);
                if (r < 0)
                        return fail(c, r,
                                    (attr & MOUNT_ATTR_RDONLY) ? "make '%s' read-only"
                                                               : "set the mount flags of '%s'",
                                    what);
        }
        return attach(c, mfd, target_fd, what);
}

static int bind_fd(Ctx *c, int from_fd, const char *from_path, int target_fd, bool recursive, bool read_only,
                   const char *what) {
        return bind_fd_attr(c, from_fd, from_path, target_fd, recursive, read_only ? MOUNT_ATTR_RDONLY : 0,
                            what);
}

static int check_layer_path(const char *p) {
        if (isempty(p) || p[0] != '/' || strpbrk(p, ":,\\\n"))
                return -EINVAL;
        return 0;
}

/* Every layer, and the upper and work directories when set, can be named in overlay options */
static int check_layer_paths(Ctx *c, const RootfsParams *p) {
        for (size_t i = 0; i < p->n_lower_dirs; i++)
                if (check_layer_path(p->lower_dirs[i]) < 0)
                        return fail(c, -EINVAL, "use layer '%s' (an absolute path without ':' ',' '\\')",
                                    strna(p->lower_dirs[i]));
        if (p->upper_dir && (check_layer_path(p->upper_dir) < 0 || check_layer_path(p->work_dir) < 0))
                return fail(c, -EINVAL,
                            "use upper/work directory '%s' (an absolute path without ':' ',' '\\')",
                            p->upper_dir);
        return 0;
}

/* The kernel copies each fsconfig() string value into a buffer of at most 256 bytes (strndup_user),
 * so "lowerdir=a:b:c" of three store paths is already too long. Kernels since 6.8 take one layer per
 * "lowerdir+" call; before that, the only way past 256 bytes is the classic mount(2) data page. */
#define FSCONFIG_STRING_MAX 256

/* The new mount API, one "lowerdir+" per layer: a detached mount, or -errno (-EINVAL where the
 * kernel does not know lowerdir+, which on 6.1's legacy fs_context shows only at CMD_CREATE) */
static int overlay_make_lowerdir_plus(Ctx *c, const RootfsParams *p) {
        _cleanup_close_ int fsfd = -EBADF;
        int mfd, r;

        fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
        if (fsfd < 0)
                return fail(c, -errno, "create overlay file system for %s", p->target);
        for (size_t i = 0; i < p->n_lower_dirs; i++)
                if (strlen(p->lower_dirs[i]) >= FSCONFIG_STRING_MAX ||
                    fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", p->lower_dirs[i], 0) < 0) {
                        r = fail(c, strlen(p->lower_dirs[i]) >= FSCONFIG_STRING_MAX ? -ENAMETOOLONG : -errno,
                                 "set overlay option 'lowerdir+' for %s", p->target);
                        append_fs_log(c, fsfd);
                        return r;
                }
        if (p->upper_dir &&
            (fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir", p->upper_dir, 0) < 0 ||
             fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", p->work_dir, 0) < 0)) {
                r = fail(c, -errno, "set overlay upper/work directory for %s", p->target);
                append_fs_log(c, fsfd);
                return r;
        }
        if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
                r = fail(c, -errno, "mount overlay at '%s'", p->target);
                append_fs_log(c, fsfd);
                return r;
        }
        mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
        if (mfd < 0)
                return fail(c, -errno, "mount overlay at '%s'", p->target);
        return mfd;
}

/* Before 6.8: mount(2) with the options in one data page (at most 4095 bytes). Each layer is named
 * by a short /proc/self/fd/N path of an O_PATH fd opened here (18 bytes, where a store path is ~90),
 * so ROOTFS_LOWER_DIRS_MAX layers fit the page whatever the store's path. overlayfs resolves the
 * names (following these magic links, as kern_path() does) while the mount is made, so the fds are
 * not needed once it returns. */
static int overlay_mount_data_page(Ctx *c, const RootfsParams *p, int target) {
        _cleanup_free_ int *fds = NULL;
        _cleanup_free_ char *data = NULL, *where = NULL;
        Buffer b = {};
        int r = 0;

        fds = new (int, p->n_lower_dirs);
        if (!fds)
                return fail(c, -ENOMEM, "set up the root");
        for (size_t i = 0; i < p->n_lower_dirs; i++)
                fds[i] = -EBADF;

        for (size_t i = 0; i < p->n_lower_dirs && r >= 0; i++) {
                char name[sizeof(":/proc/self/fd/") + 12];

                fds[i] = open(p->lower_dirs[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (fds[i] < 0) {
                        r = fail(c, -errno, "open overlay layer '%s'", p->lower_dirs[i]);
                        break;
                }
                (void) snprintf(name, sizeof(name), "%s/proc/self/fd/%d", i > 0 ? ":" : "", fds[i]);
                if (buffer_append(&b, name, strlen(name)) < 0)
                        r = fail(c, -ENOMEM, "set up the root");
        }
        if (r >= 0 && p->upper_dir) {
                _cleanup_free_ char *uw = strjoin(",upperdir=", p->upper_dir, ",workdir=", p->work_dir);
                if (!uw || buffer_append(&b, uw, strlen(uw)) < 0)
                        r = fail(c, -ENOMEM, "set up the root");
        }
        if (r >= 0 && buffer_append(&b, "", 1) < 0)
                r = fail(c, -ENOMEM, "set up the root");
        if (r >= 0 && b.size + strlen("lowerdir=") > 4096)
                r = fail(c, -E2BIG, "set up the root: the overlay options of %zu layers exceed a page",
                         p->n_lower_dirs);
        if (r >= 0) {
                data = strjoin("lowerdir=", b.data);
                where = strprintf("/proc/self/fd/%d", target);
                if (!data || !where)
                        r = fail(c, -ENOMEM, "set up the root");
        }
        if (r >= 0 && mount("overlay", where, "overlay", 0, data) < 0)
                r = fail(c, -errno, "mount overlay of %zu layers at '%s'", p->n_lower_dirs, p->target);

        buffer_done(&b);
        for (size_t i = 0; i < p->n_lower_dirs; i++)
                (void) safe_close(fds[i]);
        return r;
}

static int mount_root(Ctx *c, const RootfsParams *p) {
        _cleanup_close_ int mfd = -EBADF, target = -EBADF;
        int r;

        if (p->n_lower_dirs == 0 || !p->lower_dirs)
                return fail(c, -EINVAL, "set up the root: no image layer");
        if (p->n_lower_dirs > ROOTFS_LOWER_DIRS_MAX)
                return fail(c, -E2BIG, "set up the root: %zu layers (at most %d)", p->n_lower_dirs,
                            ROOTFS_LOWER_DIRS_MAX);
        if (!p->upper_dir != !p->work_dir)
                return fail(c, -EINVAL, "set up the root: upper and work directories go together");

        target = open(p->target, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (target < 0)
                return fail(c, -errno, "open root directory '%s'", p->target);

        if (p->root_mount_fd > 0) {
                mfd = p->root_mount_fd;
                return attach(c, mfd, target, p->target);
        }

        if (!p->upper_dir && p->n_lower_dirs == 1) {
                r = bind_fd(c, AT_FDCWD, p->lower_dirs[0], target, true, true, p->lower_dirs[0]);
                return r;
        }

        r = check_layer_paths(c, p);
        if (r < 0)
                return r;

        if (p->overlay_api != ROOTFS_OVERLAY_DATA_PAGE) {
                mfd = overlay_make_lowerdir_plus(c, p);
                if (mfd >= 0)
                        return attach(c, mfd, target, p->target);
                /* Any other failure would fail the same way below, with the name of the layer where
                 * opening it fails; only lowerdir+ itself is specific to this path */
                if (mfd != -EINVAL || p->overlay_api == ROOTFS_OVERLAY_LOWERDIR_PLUS)
                        return mfd;
        }
        return overlay_mount_data_page(c, p, target);
}

/* A detached clone of the layer at path, read-only and idmapped to userns_fd */
static int idmapped_layer(Ctx *c, const char *path, int userns_fd) {
        struct mount_attr a = {
                .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY,
                .userns_fd = (uint64_t) userns_fd,
        };
        _cleanup_close_ int fd = -EBADF;

        fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (fd < 0)
                return fail(c, -errno, "clone layer '%s'", path);
        if (mount_setattr(fd, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
                return fail(c, -errno, "idmap layer '%s' to the user namespace", path);
        return TAKE_FD(fd);
}

static int check_idmapped_root_params(Ctx *c, const RootfsParams *p) {
        if (p->n_lower_dirs == 0 || !p->lower_dirs || p->n_lower_dirs > ROOTFS_LOWER_DIRS_MAX)
                return fail(c, p->n_lower_dirs == 0 ? -EINVAL : -E2BIG,
                            "set up the root: %zu layers (1 to %d)", p->n_lower_dirs, ROOTFS_LOWER_DIRS_MAX);
        if (!p->upper_dir || !p->work_dir)
                return fail(c, -EINVAL,
                            "set up the root: a user namespace needs upper and work directories");
        return check_layer_paths(c, p);
}

/* In a private mount namespace of a forked helper (so nothing shows in the host's), with the target
 * as scratch space: a tmpfs on it, each layer's idmapped clone attached at "0", "1", … there, and the
 * overlay of those mounted at "r" with mount(2) and the options in one page. The layers must be
 * attached: before 6.15 overlayfs refuses a detached mount as a layer (clone_private_mount() wants
 * the caller's namespace), and the short relative names fit ROOTFS_LOWER_DIRS_MAX layers in a page
 * on every kernel (fsconfig() takes 256 bytes a value). Returns a detached clone of the overlay. */
static int idmapped_root_in_private_ns(Ctx *c, const RootfsParams *p, int userns_fd) {
        _cleanup_close_ int scratch = -EBADF, target = -EBADF;
        _cleanup_free_ char *data = NULL;
        Buffer b = {};
        int r = 0;

        if (unshare(CLONE_NEWNS) < 0)
                return fail(c, -errno, "create a mount namespace for the root");
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return fail(c, -errno, "make '/' private");
        target = open(p->target, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (target < 0)
                return fail(c, -errno, "open root directory '%s'", p->target);
        const char *opts[] = { "mode", "700", NULL };
        scratch = fs_make(c, "tmpfs", opts, 0, p->target);
        if (scratch < 0)
                return scratch;
        r = attach(c, scratch, target, p->target);
        if (r < 0)
                return r;
        if (chdir(p->target) < 0)
                return fail(c, -errno, "change to '%s'", p->target);

        for (size_t i = 0; i < p->n_lower_dirs && r >= 0; i++) {
                char name[sizeof("lowerdir=") + 24];
                _cleanup_close_ int fd = -EBADF;

                (void) snprintf(name, sizeof(name), "%zu", i);
                if (mkdir(name, 0700) < 0)
                        return fail(c, -errno, "create a mount point for layer '%s'", p->lower_dirs[i]);
                fd = idmapped_layer(c, p->lower_dirs[i], userns_fd);
                if (fd < 0)
                        return fd;
                if (move_mount(fd, "", AT_FDCWD, name, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                        return fail(c, -errno, "attach layer '%s'", p->lower_dirs[i]);
                (void) snprintf(name, sizeof(name), "%s%zu", i > 0 ? ":" : "lowerdir=", i);
                if (buffer_append(&b, name, strlen(name)) < 0)
                        r = fail(c, -ENOMEM, "set up the root");
        }
        if (r >= 0) {
                data = strjoin(",upperdir=", p->upper_dir, ",workdir=", p->work_dir);
                if (!data || buffer_append(&b, data, strlen(data) + 1) < 0)
                        r = fail(c, -ENOMEM, "set up the root");
        }
        if (r >= 0 && b.size > 4096)
                r = fail(c, -E2BIG, "set up the root: the overlay options of %zu layers exceed a page",
                         p->n_lower_dirs);
        if (r >= 0 && mkdir("r", 0700) < 0)
                r = fail(c, -errno, "create the overlay's mount point");
        if (r >= 0 && mount("overlay", "r", "overlay", 0, b.data) < 0)
                r = fail(c, -errno, "mount overlay of %zu idmapped layers for '%s'", p->n_lower_dirs,
                         p->target);
        buffer_done(&b);
        if (r < 0)
                return r;
        r = open_tree(AT_FDCWD, "r", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (r < 0)
                return fail(c, -errno, "clone the overlay for '%s'", p->target);
        return r;
}

int rootfs_make_idmapped_root(const RootfsParams *p, int userns_fd, int *ret_fd, char *msg,
                              size_t msg_size) {
        _cleanup_close_pair_ int sp[2] = { -EBADF, -EBADF };
        Ctx c = { .msg = msg, .msg_size = msg_size };
        char report[512] = {};
        int r, fd = -EBADF, status;

        assert(p);
        assert(ret_fd);

        if (msg && msg_size > 0)
                msg[0] = '\0';
        r = check_idmapped_root_params(&c, p);
        if (r < 0)
                return r;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return fail(&c, -errno, "set up the root");

        pid_t pid = fork();
        if (pid < 0)
                return fail(&c, -errno, "set up the root");
        if (pid == 0) {
                Ctx hc = { .msg = report + sizeof(int), .msg_size = sizeof(report) - sizeof(int) };
                r = idmapped_root_in_private_ns(&hc, p, userns_fd);
                if (r >= 0)
                        _exit(fd_send(sp[1], "R", 1, r, MSG_NOSIGNAL) < 0 ? 2 : 0);
                memcpy(report, &r, sizeof(int));
                (void) send(sp[1], report, sizeof(int) + strlen(report + sizeof(int)), MSG_NOSIGNAL);
                _exit(1);
        }
        sp[1] = safe_close(sp[1]);

        ssize_t n = fd_recv(sp[0], report, sizeof(report) - 1, &fd, MSG_CMSG_CLOEXEC);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (n > 0 && fd >= 0) {
                *ret_fd = fd;
                return 0;
        }
        safe_close(fd);
        if (n < (ssize_t) sizeof(int))
                return fail(&c, -EPROTO, "set up the root: its helper process died");
        memcpy(&r, report, sizeof(int));
        report[n] = '\0';
        return fail(&c, r < 0 ? r : -EPROTO, "%s", report + sizeof(int));
}

/* security.devices: the host's node at path, bound read-only onto an empty file at the same path in the
 * container's /dev. Not mknod: that needs the device policy's 'm', which "PATH:r" or ":rw" does not grant
 * (the payload runs under its policy already). Read-only: the container can read and write the device as
 * its policy allows, but chmod, chown or a timestamp on the host's node fail with EROFS. */
static int make_extra_device(Ctx *c, int root_fd, const char *path) {
        _cleanup_close_ int src = -EBADF, target = -EBADF;
        struct stat st;
        int r;

        if (!startswith(path, "/dev/") || strstr(path, "/../") || strstr(path, "/./"))
                return fail(c, -EINVAL, "set up device '%s': not below /dev/", path);
        src = open(path, O_PATH | O_CLOEXEC);
        if (src < 0)
                return fail(c, -errno, "open device '%s'", path);
        if (fstat(src, &st) < 0)
                return fail(c, -errno, "stat device '%s'", path);
        if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
                return fail(c, -ENODEV, "set up device '%s': not a device node", path);
        r = mkdir_p_in_root(root_fd, path, false);
        if (r < 0)
                return fail(c, r, "create '%s'", path);
        target = open_in_root(root_fd, path, O_PATH | O_NOFOLLOW);
        if (target < 0)
                return fail(c, target, "open '%s'", path);
        return bind_fd_attr(c, src, "", target, false,
                            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, path);
}

static int setup_dev_rest(Ctx *c, int root_fd, int dev, const char *shm_size);

/* In a user namespace mknod is refused and a tmpfs is nodev by itself: the basic nodes are binds of
 * the host's, like the extra devices */
static int setup_dev_userns(Ctx *c, const RootfsParams *p, int root_fd, int dev, const char *shm_size) {
        int r;

        for (size_t i = 0; i < ELEMENTSOF(dev_nodes); i++) {
                _cleanup_free_ char *path = strjoin("/dev/", dev_nodes[i].name);
                if (!path)
                        return fail(c, -ENOMEM, "set up /dev");
                r = make_extra_device(c, root_fd, path);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < p->n_devices; i++) {
                r = make_extra_device(c, root_fd, p->devices[i]);
                if (r < 0)
                        return r;
        }
        return setup_dev_rest(c, root_fd, dev, shm_size);
}

static int setup_dev(Ctx *c, const RootfsParams *p, int root_fd) {
        _cleanup_close_ int dev = -EBADF;
        _cleanup_free_ char *size = NULL, *shm_size = NULL;
        int r;

        r = mkdir_p_in_root(root_fd, "/dev", true);
        if (r < 0)
                return fail(c, r, "create mount point '/dev'");

        size = strprintf("%" PRIu64, p->dev_size ?: 4U * 1024U * 1024U);
        shm_size = strprintf("%" PRIu64, p->shm_size ?: 64U * 1024U * 1024U);
        if (!size || !shm_size)
                return fail(c, -ENOMEM, "set up /dev");

        const char *opts[] = { "mode", "755", "size", size, NULL };
        r = mount_fs_in_root(c, root_fd, "/dev", "tmpfs", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        if (r < 0)
                return r;

        dev = open_in_root(root_fd, "/dev", O_PATH | O_DIRECTORY);
        if (dev < 0)
                return fail(c, dev, "open '/dev'");

        if (p->userns)
                return setup_dev_userns(c, p, root_fd, dev, shm_size);

        for (size_t i = 0; i < ELEMENTSOF(dev_nodes); i++) {
                if (mknodat(dev, dev_nodes[i].name, S_IFCHR | 0666,
                            makedev(dev_nodes[i].major, dev_nodes[i].minor)) < 0)
                        return fail(c, -errno, "create device node '/dev/%s'", dev_nodes[i].name);
                /* umask */
                if (fchmodat(dev, dev_nodes[i].name, 0666, 0) < 0)
                        return fail(c, -errno, "chmod '/dev/%s'", dev_nodes[i].name);
        }
        for (size_t i = 0; i < p->n_devices; i++) {
                r = make_extra_device(c, root_fd, p->devices[i]);
                if (r < 0)
                        return r;
        }
        /* Every node a mount of its own, then /dev itself nodev: a node the container makes there with
         * CAP_MKNOD cannot be opened, whatever the device cgroup says */
        for (size_t i = 0; i < ELEMENTSOF(dev_nodes); i++) {
                _cleanup_close_ int node = openat(dev, dev_nodes[i].name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (node < 0)
                        return fail(c, -errno, "open '/dev/%s'", dev_nodes[i].name);
                r = bind_fd(c, node, "", node, false, false, dev_nodes[i].name);
                if (r < 0)
                        return r;
        }
        r = setattr_fd(dev, false, MOUNT_ATTR_NODEV);
        if (r < 0)
                return fail(c, r, "make '/dev' nodev");
        return setup_dev_rest(c, root_fd, dev, shm_size);
}

/* /dev's symlinks, pts, shm and mqueue */
static int setup_dev_rest(Ctx *c, int root_fd, int dev, const char *shm_size) {
        int r;

        for (size_t i = 0; i < ELEMENTSOF(dev_links); i++)
                if (symlinkat(dev_links[i].target, dev, dev_links[i].name) < 0)
                        return fail(c, -errno, "create symlink '/dev/%s'", dev_links[i].name);
        for (const char *const *d = (const char *const[]){ "pts", "shm", "mqueue", NULL }; *d; d++)
                if (mkdirat(dev, *d, 0755) < 0)
                        return fail(c, -errno, "create '/dev/%s'", *d);

        const char *pts_opts[] = {
                "newinstance", NULL, "ptmxmode", "0666", "mode", "620", "gid", "5", NULL
        };
        r = mount_fs_in_root(c, root_fd, "/dev/pts", "devpts", pts_opts,
                             MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        if (r < 0)
                return r;

        const char *shm_opts[] = { "mode", "1777", "size", shm_size, NULL };
        r = mount_fs_in_root(c, root_fd, "/dev/shm", "tmpfs", shm_opts,
                             MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (r < 0)
                return r;

        r = mount_fs_in_root(c, root_fd, "/dev/mqueue", "mqueue", NULL,
                             MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (r == -ENODEV) /* kernel without POSIX message queues */
                r = 0;
        return r;
}

static int setup_sys(Ctx *c, const RootfsParams *p, int root_fd) {
        _cleanup_close_ int target = -EBADF;
        int r;

        r = mkdir_p_in_root(root_fd, "/sys", true);
        if (r < 0)
                return fail(c, r, "create mount point '/sys'");

        if (p->new_netns)
                return mount_fs_in_root(c, root_fd, "/sys", "sysfs", NULL,
                                        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                                MOUNT_ATTR_NOEXEC);

        target = open_in_root(root_fd, "/sys", O_PATH | O_DIRECTORY);
        if (target < 0)
                return fail(c, target, "open '/sys'");
        /* not recursive: the host's cgroupfs, debugfs, securityfs, … stay behind */
        return bind_fd(c, AT_FDCWD, "/sys", target, false, true, "/sys");
}

static int setup_cgroup(Ctx *c, int root_fd) {
        _cleanup_close_ int target = -EBADF, mfd = -EBADF;

        /* /sys/fs/cgroup exists in every sysfs; the sysfs is read-only, so no mkdir here */
        target = open_in_root(root_fd, "/sys/fs/cgroup", O_PATH | O_DIRECTORY);
        if (target < 0)
                return fail(c, target, "open '/sys/fs/cgroup'");
        mfd = fs_make(c, "cgroup2", NULL,
                      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                      "/sys/fs/cgroup");
        if (mfd < 0)
                return mfd;
        return attach(c, mfd, target, "/sys/fs/cgroup");
}

static int setup_masks(Ctx *c, int root_fd) {
        for (const char *const *m = rootfs_masked_paths; *m; m++) {
                _cleanup_close_ int fd = -EBADF;
                struct stat st;
                int r;

                fd = open_in_root(root_fd, *m, O_PATH | O_NOFOLLOW);
                if (fd == -ENOENT)
                        continue;
                if (fd < 0)
                        return fail(c, fd, "open masked path '%s'", *m);
                if (fstat(fd, &st) < 0)
                        return fail(c, -errno, "stat masked path '%s'", *m);

                if (S_ISDIR(st.st_mode)) {
                        const char *opts[] = { "size", "0", "mode", "555", NULL };
                        _cleanup_close_ int mfd = fs_make(c, "tmpfs", opts,
                                                          MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                                                                  MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                                                          *m);
                        if (mfd < 0)
                                return mfd;
                        r = attach(c, mfd, fd, *m);
                } else {
                        _cleanup_close_ int null = open_in_root(root_fd, "/dev/null", O_PATH);
                        if (null < 0)
                                return fail(c, null, "open '/dev/null'");
                        r = bind_fd(c, null, "", fd, false, true, *m);
                }
                if (r < 0)
                        return r;
        }

        for (const char *const *m = rootfs_readonly_paths; *m; m++) {
                _cleanup_close_ int fd = open_in_root(root_fd, *m, O_PATH | O_NOFOLLOW);
                int r;

                if (fd == -ENOENT)
                        continue;
                if (fd < 0)
                        return fail(c, fd, "open read-only path '%s'", *m);
                r = bind_fd(c, fd, "", fd, true, true, *m);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* If the last component of path (below root_fd) is a symlink, replaces it by an empty 0644 file, as podman
 * does for the /etc files it provides: the link is never followed (wherever it points: a file of the root, a
 * dangling ../run/… or /../../host-file), the parent is resolved inside the root, and the change lands in
 * the overlay's upper directory. -EROFS on a read-only root. */
static int replace_symlink_in_root(int root_fd, const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        _cleanup_close_ int parent = -EBADF, f = -EBADF;
        struct stat st;

        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (!slash || isempty(slash + 1))
                return -EINVAL;
        const char *name = path + (slash - dir) + 1;
        *slash = '\0';
        parent = open_in_root(root_fd, isempty(dir) ? "/" : dir, O_PATH | O_DIRECTORY);
        if (parent == -ENOENT)
                return 0; /* no parent: nothing to replace, mkdir_p_in_root() makes it */
        if (parent < 0)
                return parent;
        if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISLNK(st.st_mode))
                return 0;
        if (unlinkat(parent, name, 0) < 0)
                return -errno;
        f = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        return f < 0 ? -errno : 0;
}

/* The path of fd as the kernel names it (readlink of /proc/self/fd/N), in a malloc'ed buffer */
static int fd_get_path(int fd, char **ret) {
        char link[sizeof("/proc/self/fd/") + 12];

        (void) snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        for (size_t size = 256; size <= 65536; size *= 2) {
                _cleanup_free_ char *buf = malloc(size);
                ssize_t n;

                if (!buf)
                        return -ENOMEM;
                n = readlink(link, buf, size);
                if (n < 0)
                        return -errno;
                if ((size_t) n < size) {
                        buf[n] = '\0';
                        *ret = TAKE_PTR(buf);
                        return 0;
                }
        }
        return -ENAMETOOLONG;
}

/* A [[mount]] never lands on /proc, /sys or /dev (nor below them, where it could unmask a masked path, or
 * replace a device node), also when a symlink in the image leads there: verify refuses the paths, this
 * the places where the mount point resolved to (its path below the root, and its file system type) */
static int check_mount_point(Ctx *c, int root_fd, int target_fd, const char *what) {
        _cleanup_free_ char *root = NULL, *target = NULL;
        struct statfs sfs;
        const char *rest;
        int r;

        if (fstatfs(target_fd, &sfs) < 0)
                return fail(c, -errno, "stat mount point '%s'", what);
        if (IN_SET((long) sfs.f_type, (long) PROC_SUPER_MAGIC, (long) SYSFS_MAGIC, (long) DEVPTS_SUPER_MAGIC,
                   (long) CGROUP2_SUPER_MAGIC))
                return fail(c, -EPERM, "mount at '%s': it resolves into /proc, /sys or /dev", what);

        r = fd_get_path(root_fd, &root);
        if (r >= 0)
                r = fd_get_path(target_fd, &target);
        if (r < 0)
                return fail(c, r, "find where mount point '%s' is", what);
        /* resolved with RESOLVE_IN_ROOT, so below the root; the root itself is refused by config/ */
        rest = streq(root, "/") ? target : startswith(target, root);
        if (!rest || !IN_SET(rest[0], '\0', '/'))
                return fail(c, -EPERM, "mount at '%s': it resolves outside the root ('%s')", what, target);
        for (const char *const *k = (const char *const[]){ "/proc", "/sys", "/dev", NULL }; *k; k++) {
                const char *below = startswith(rest, *k);
                if (below && IN_SET(below[0], '\0', '/'))
                        return fail(c, -EPERM, "mount at '%s': it resolves to '%s', in %s", what, rest, *k);
        }
        return 0;
}

/* The source of a bind, O_PATH */
static int open_bind_source(Ctx *c, const RootfsMount *m) {
        int fd;

        if (isempty(m->source) || m->source[0] != '/')
                return fail(c, -EINVAL, "bind '%s': the source must be an absolute path", strna(m->source));
        fd = open(m->source, O_PATH | O_CLOEXEC);
        if (fd < 0)
                return fail(c, -errno, "open bind source '%s'", m->source);
        return fd;
}

/* src: the bind's source opened already (taken), or -EBADF to open it here */
static int setup_user_mount(Ctx *c, int root_fd, const RootfsMount *m, int src_fd) {
        _cleanup_close_ int target = -EBADF, src = src_fd;
        bool dir = true;
        int r;

        if (isempty(m->target) || m->target[0] != '/')
                return fail(c, -EINVAL, "mount at '%s': the target must be an absolute path",
                            strna(m->target));

        if (m->type == ROOTFS_MOUNT_BIND) {
                struct stat st;

                if (src < 0)
                        src = open_bind_source(c, m);
                if (src < 0)
                        return src;
                if (fstat(src, &st) < 0)
                        return fail(c, -errno, "stat bind source '%s'", m->source);
                dir = S_ISDIR(st.st_mode);
        }

        if (m->replace_symlink && !dir) {
                r = replace_symlink_in_root(root_fd, m->target);
                if (r < 0)
                        return fail(c, r, "replace the symlink at '%s'", m->target);
        }
        r = mkdir_p_in_root(root_fd, m->target, dir);
        if (r < 0)
                return fail(c, r, "create mount point '%s'", m->target);
        target = open_in_root(root_fd, m->target, O_PATH);
        if (target < 0)
                return fail(c, target, "open mount point '%s'", m->target);
        r = check_mount_point(c, root_fd, target, m->target);
        if (r < 0)
                return r;

        uint64_t attr = (m->read_only ? MOUNT_ATTR_RDONLY : 0) | (m->allow_suid ? 0 : MOUNT_ATTR_NOSUID) |
                (m->allow_dev ? 0 : MOUNT_ATTR_NODEV);
        if (m->type == ROOTFS_MOUNT_BIND)
                return bind_fd_attr(c, src, "", target, !m->non_recursive, attr, m->target);

        if (m->type == ROOTFS_MOUNT_TMPFS) {
                _cleanup_free_ char *size = NULL, *mode = NULL;
                _cleanup_close_ int mfd = -EBADF;

                mode = strprintf("%o", (unsigned) (m->mode ?: 0755));
                size = m->size > 0 ? strprintf("%" PRIu64, m->size) : NULL;
                if (!mode || (m->size > 0 && !size))
                        return fail(c, -ENOMEM, "mount tmpfs at '%s'", m->target);
                const char *opts[] = { "mode", mode, size ? "size" : NULL, size, NULL };
                mfd = fs_make(c, "tmpfs", opts, (unsigned) attr, m->target);
                if (mfd < 0)
                        return mfd;
                return attach(c, mfd, target, m->target);
        }

        return fail(c, -EINVAL, "mount at '%s': unknown mount type", m->target);
}

/* In a user namespace: the binds' sources opened while we are still the host's uid 0 (not mapped in
 * the namespace, but the owner of root's 0700 directories on the way to them, such as the state
 * dir); the rest of the setup runs as root of the namespace, so that what it creates belongs to the
 * range (a tmpfs of the namespace takes no unmapped owner at all) */
static int open_bind_sources(Ctx *c, const RootfsParams *p, int **ret) {
        int *fds = new (int, p->n_mounts ?: 1);

        if (!fds)
                return fail(c, -ENOMEM, "set up the mounts");
        for (size_t i = 0; i < p->n_mounts; i++)
                fds[i] = -EBADF;
        *ret = fds;
        for (size_t i = 0; i < p->n_mounts; i++)
                if (p->mounts[i].type == ROOTFS_MOUNT_BIND) {
                        fds[i] = open_bind_source(c, &p->mounts[i]);
                        if (fds[i] < 0)
                                return fds[i];
                }
        return 0;
}

static int setup_in_root(Ctx *c, const RootfsParams *p, int root_fd, int *src_fds);

int rootfs_setup(const RootfsParams *p, char *msg, size_t msg_size) {
        Ctx c = { .msg = msg, .msg_size = msg_size };
        _cleanup_close_ int root_fd = -EBADF;
        _cleanup_free_ int *src_fds = NULL;
        int r;

        assert(p);

        if (msg && msg_size > 0)
                msg[0] = '\0';
        if (isempty(p->target) || p->target[0] != '/')
                return fail(&c, -EINVAL, "set up the root: the target must be an absolute path");

        /* Nothing we do from here on may propagate to the host */
        if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                return fail(&c, -errno, "make '/' a recursive slave mount");

        if (p->userns) {
                r = open_bind_sources(&c, p, &src_fds);
                if (r < 0)
                        goto finish;
        }

        r = mount_root(&c, p);
        if (r < 0)
                goto finish;

        /* Opened after the root was mounted on it: this is the new root */
        root_fd = open(p->target, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0) {
                r = fail(&c, -errno, "open root '%s'", p->target);
                goto finish;
        }
        if (p->userns) {
                r = userns_become_root();
                if (r < 0) {
                        r = fail(&c, r, "become root of the user namespace");
                        goto finish;
                }
        }
        r = setup_in_root(&c, p, root_fd, src_fds);
finish:
        for (size_t i = 0; src_fds && i < p->n_mounts; i++)
                safe_close(src_fds[i]);
        return r;
}

/* Everything after the root is mounted, as rootfs_setup() says; src_fds (taken, may be NULL) are
 * the binds' sources opened already */
static int setup_in_root(Ctx *c, const RootfsParams *p, int root_fd, int *src_fds) {
        int r;

        /* no device node in the image or made by the container works (its devices are in /dev) */
        r = setattr_fd(root_fd, false, MOUNT_ATTR_NODEV);
        if (r < 0)
                return fail(c, r, "make the root nodev");

        r = mkdir_p_in_root(root_fd, "/proc", true);
        if (r < 0)
                return fail(c, r, "create mount point '/proc'");
        r = mount_fs_in_root(c, root_fd, "/proc", "proc", NULL,
                             MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (r < 0)
                return r;

        r = setup_sys(c, p, root_fd);
        if (r < 0)
                return r;

        if (p->mount_cgroup) {
                r = setup_cgroup(c, root_fd);
                if (r < 0)
                        return r;
        }

        r = setup_dev(c, p, root_fd);
        if (r < 0)
                return r;

        if (!p->no_mask) {
                r = setup_masks(c, root_fd);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < p->n_mounts; i++) {
                int src = src_fds ? src_fds[i] : -EBADF;
                if (src_fds)
                        src_fds[i] = -EBADF; /* taken */
                r = setup_user_mount(c, root_fd, &p->mounts[i], src);
                if (r < 0)
                        return r;
        }

        if (p->read_only) {
                r = setattr_fd(root_fd, false, MOUNT_ATTR_RDONLY);
                if (r < 0)
                        return fail(c, r, "make the root read-only");
        }

        if (fchdir(root_fd) < 0)
                return fail(c, -errno, "change to the root '%s'", p->target);
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return fail(c, -errno, "pivot_root to '%s'", p->target);
        if (umount2(".", MNT_DETACH) < 0)
                return fail(c, -errno, "detach the old root");
        if (chdir("/") < 0)
                return fail(c, -errno, "change to '/'");

        return 0;
}
