/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* rootfs/: assembles a container's root file system and pivots into it.
 *
 * rootfs_setup() runs in the container's child process, after it has entered its own (new) mount
 * namespace; rootfs_make_idmapped_root() in a helper process's private mount namespace. Nothing is
 * ever mounted in the host's namespace, so a crash leaks no mount. The host's /proc/self/mountinfo
 * never shows the overlay.
 *
 * Depends on basic/ only. No logging: functions return -errno and describe the failed step in a
 * caller-provided message buffer ("mount overlay at '/run/cbox/web/root'"), suitable for the spawn
 * sync channel.
 *
 * CONTRACT: fields may be added to the structs (zero-initialise them: zero = the default); nothing
 * is renamed or removed. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macros.h"

/* Lower layers are limited so that the classic "lowerdir=a:b:..." option of short fd names
 * (/proc/self/fd/N, the mount(2) fallback for kernels before 6.8) fits in one page */
#define ROOTFS_LOWER_DIRS_MAX 128

/* How the overlay of several layers is made. AUTO: the new mount API with one "lowerdir+" per layer
 * (Linux 6.8+), else mount(2) with the options in one data page and every layer named by a short
 * /proc/self/fd/N link (any kernel: 6.1's fsconfig() takes at most 256 bytes a value, fewer than
 * three store paths). The others force one way (tests prove both on every kernel). */
typedef enum RootfsOverlayApi {
        ROOTFS_OVERLAY_AUTO,
        ROOTFS_OVERLAY_LOWERDIR_PLUS,
        ROOTFS_OVERLAY_DATA_PAGE,
} RootfsOverlayApi;

typedef enum RootfsMountType {
        ROOTFS_MOUNT_BIND,
        ROOTFS_MOUNT_TMPFS,
} RootfsMountType;

/* One [[mount]] entry. Targets are resolved inside the new root (RESOLVE_IN_ROOT: a symlink in the
 * image can never make a mount land outside it); missing mount points are created (a directory,
 * or an empty file when a bind's source is not a directory). */
typedef struct RootfsMount {
        RootfsMountType type;
        const char *source; /* bind: absolute host path (opened before pivot_root); tmpfs: ignored */
        const char *target; /* absolute path inside the container */
        bool read_only;
        bool non_recursive; /* bind: false (default) = MS_REC, submounts of the source come along */
        bool allow_suid;    /* false (default): nosuid */
        bool allow_dev;     /* false (default): nodev */
        uint64_t size;      /* tmpfs: bytes, 0 = kernel default (half of RAM) */
        mode_t mode;        /* tmpfs: mode of the root dir, 0 = 0755 */
        /* bind of a file: a symlink at the target (e.g. an image's dangling /etc/resolv.conf ->
         * ../run/systemd/resolve/stub-resolv.conf) is replaced by an empty file in the writable root
         * instead of followed */
        bool replace_symlink;
} RootfsMount;

typedef struct RootfsParams {
        /* The directory the root is assembled on (must exist; a host path such as
         * /run/cbox/NAME/root). It becomes "/" of the container. */
        const char *target;

        /* Image layers, TOP FIRST (lower_dirs[0] is the highest layer). At least one.
         * - upper_dir and work_dir set: overlayfs (lowers + upper) at target; writes land in upper.
         * - upper_dir NULL and one lower: a read-only recursive bind of the lower at target.
         * - upper_dir NULL and several lowers: a read-only overlay of the lowers. */
        const char *const *lower_dirs;
        size_t n_lower_dirs;
        const char *upper_dir; /* same file system as work_dir; NULL = no writable layer */
        const char *work_dir;
        RootfsOverlayApi overlay_api; /* 0 = AUTO */

        const RootfsMount *mounts; /* [[mount]] entries, applied in order after /proc, /sys, /dev */
        size_t n_mounts;

        /* true: the container has its own network namespace, so a fresh sysfs is mounted (ro);
         * false: a read-only bind of the host's /sys, not recursive (no host cgroupfs, debugfs,
         * securityfs… below it). */
        bool new_netns;
        /* Remount "/" read-only at the end (binds and tmpfs mounts keep their own flags). */
        bool read_only;
        /* Do not mask /proc and /sys paths nor make /proc/sys read-only (debugging only) */
        bool no_mask;

        /* Mount cgroup2 read-only at /sys/fs/cgroup. Call after the cgroup namespace exists (spawn/
         * creates it right after the release, before child_setup), so the container sees only its
         * own subtree, rooted at its unit's cgroup. */
        bool mount_cgroup;

        /* Extra device nodes (security.devices): host paths below /dev/, each the host's node bound
         * read-only onto an empty file at the same path in the container's /dev (no mknod: that would
         * need the device policy's 'm'; read-only: the host's node cannot be chmod'ed from inside) */
        const char *const *devices;
        size_t n_devices;

        uint64_t dev_size; /* size of the /dev tmpfs, 0 = 4 MiB */
        uint64_t shm_size; /* size of the /dev/shm tmpfs, 0 = 64 MiB (Docker's default) */

        /* The container runs in a user namespace of its own (issue 16), and rootfs_setup() is
         * called as the host's uid 0 in it: the binds' sources and the target are opened first (the
         * owner's permissions get through root's 0700 directories), then it becomes root of the
         * namespace (setgroups/setresgid/setresuid 0) for the rest, so what it creates belongs to the
         * range. The device nodes of /dev are binds of the host's (mknod is refused there). */
        bool userns;
        /* > 0: the root, made by rootfs_make_idmapped_root() in the parent and handed over, is
         * attached at target instead of assembling the layers here (the fd is closed) */
        int root_mount_fd;
} RootfsParams;

/* For a container in a user namespace, in the caller's (the host's) user namespace and mount
 * namespace, before the container's process is released: its root as a detached mount, for
 * RootfsParams.root_mount_fd. Each layer is a detached clone of itself idmapped to userns_fd
 * (MOUNT_ATTR_IDMAP), so the image's owners 0, 1000, … show as the range's first uid, +1000, …
 * and nothing is chowned or copied; the overlay of those and the upper directory (not idmapped:
 * what the container writes is owned by its range on disk) is made here, in the host's user
 * namespace, because overlayfs mounted inside a user namespace cannot read the trusted.overlay.*
 * whiteouts and opaque markers of the store. A forked helper does it in a private mount namespace
 * (before 6.15 overlayfs takes only attached layers); nothing shows in the host's.
 *
 * Up to ROOTFS_LOWER_DIRS_MAX layers on every kernel; upper_dir and work_dir must be set, and the
 * upper's root should be owned by the range's root (the root of the container is the upper's).
 * Returns 0 with *ret_fd, or -errno with msg as rootfs_setup(). */
int rootfs_make_idmapped_root(const RootfsParams *p, int userns_fd, int *ret_fd, char *msg, size_t msg_size);

/* The whole sequence, in the child's new mount namespace:
 *   "/" MS_REC|MS_SLAVE (nothing propagates back to the host), the root at p->target (nodev), /proc (fresh
 *   procfs: call this after clone(CLONE_NEWPID), in the new pid namespace), /sys (ro), /dev (tmpfs
 *   mode 755 nosuid noexec nodev; null zero full random urandom tty by mknod, each node a bind of itself
 *   so that /dev itself can be nodev; p->devices bound from the host; fd stdin stdout stderr core ptmx
 *   symlinks), /dev/pts (devpts newinstance, ptmxmode=0666, gid=5, mode=620), /dev/shm,
 *   /dev/mqueue, the masked paths (files: a bind of our /dev/null; dirs: an empty ro tmpfs),
 *   read-only /proc/sys /proc/sysrq-trigger /proc/irq /proc/bus, the [[mount]] entries (binds
 *   nosuid,nodev unless allowed; none may land on /proc, /sys or /dev, even through a symlink),
 *   optionally a read-only "/", then pivot_root(".", ".") + umount2(".", MNT_DETACH) + chdir("/").
 *
 * Returns 0 or -errno; on failure, msg (if not NULL) receives a NUL-terminated description of the
 * step that failed, without the errno text (the caller appends it). */
int rootfs_setup(const RootfsParams *p, char *msg, size_t msg_size);

/* The paths masked by rootfs_setup() (NULL-terminated), for tests and `cbox status` */
extern const char *const rootfs_masked_paths[];
/* The paths made read-only by rootfs_setup() (NULL-terminated) */
extern const char *const rootfs_readonly_paths[];
