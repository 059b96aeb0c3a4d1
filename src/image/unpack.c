/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unpacking one layer tarball into a directory, safely.
 *
 * Every entry is created relative to the layer's directory fd: the parent directories are walked one
 * component at a time with O_NOFOLLOW|O_DIRECTORY, so an entry can never be created through a symlink
 * (whether the symlink came from the same archive or not), and names are checked before any syscall:
 * absolute paths and ".." components are refused (OCI layer paths are relative; we do not "strip and
 * continue" like GNU tar, because an image that needs that is broken or hostile). Hardlink targets go
 * through the same walk; a target that is not in the layer is looked up in the lower layers of the same
 * image (nearest first, with overlayfs' rules: a whiteout or a non-directory hides what is below it, an
 * opaque directory hides the lower directories of its name), fd-relative with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) one component at a time, and the file found
 * is copied (a reflink where the file system can) into this layer: a layer directory is never linked to
 * another one.
 *
 * The tar stream is read through two libarchive readers: the outer one only decompresses (gzip, xz, zstd
 * or none, in-process; "raw" format), the inner one parses tar from the outer one's output, so the
 * uncompressed stream can be hashed on the way (the layer's diff_id) in a single pass.
 *
 * OCI whiteouts are converted to overlayfs form: ".wh.NAME" → a 0/0 character device NAME (or, where
 * mknod is not permitted, an empty file with trusted.overlay.whiteout and its parent marked with
 * trusted.overlay.opaque=x); ".wh..wh..opq" → trusted.overlay.opaque=y on the directory. A whiteout only
 * ever hides the lower layers (OCI image spec, "Whiteouts"), whatever the order of the entries: when this
 * layer has NAME too (before or after ".wh.NAME"), NAME stays, and if it is a directory it becomes opaque
 * (the lower directory's content is what the whiteout removed); an opaque marker never removes its
 * siblings. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "alloc-util.h"
#include "fd-util.h"
#include "fileio.h"
#include "archive-dl.h"
#include "image-internal.h"
#include "string-util.h"

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"
#define READ_BLOCK (128 * 1024)
#define PROGRESS_STEP (UINT64_C(1) << 20)

typedef struct DirTime {
        char *path;
        struct timespec ts[2];
} DirTime;

typedef struct Unpacker {
        int root_fd;
        const int *lower_fds; /* the image's layers below this one, nearest first (borrowed) */
        size_t n_lowers;
        ImageLimits limits;
        ImageError *error;
        ImageImportStats *stats;

        struct archive *outer;
        EVP_MD_CTX *hash;
        uint64_t uncompressed;
        char *buf;
        int outer_error; /* the errno behind a failed outer read, to pass through the inner reader */

        uint64_t bytes;
        uint64_t entries;

        DirTime *dirs;
        size_t n_dirs, allocated_dirs;

        char *current_entry; /* for errors found while reading (or skipping) its data */

        ImageProgressFn progress; /* called every PROGRESS_STEP uncompressed bytes */
        void *userdata;
        const char *label;
        uint64_t progress_next;

        /* cache of the last parent directory walked */
        char *cache_path;
        int cache_fd;
} Unpacker;

static void unpacker_done(Unpacker *u) {
        for (size_t i = 0; i < u->n_dirs; i++)
                free(u->dirs[i].path);
        free(u->dirs);
        free(u->cache_path);
        u->cache_fd = safe_close(u->cache_fd);
        free(u->buf);
        free(u->current_entry);
}

static void cache_drop(Unpacker *u) {
        u->cache_path = mfree(u->cache_path);
        u->cache_fd = safe_close(u->cache_fd);
}

/* Normalizes an entry path: drops "." components, leading "./" and duplicate or trailing slashes.
 * Refuses absolute paths, "..", and paths over the limits. "" is the layer's root. */
static int normalize_path(Unpacker *u, const char *path, char **ret) {
        _cleanup_free_ char *out = NULL;
        size_t len, depth = 0, n = 0;

        if (!path || !*path)
                return image_error_set(u->error, -EBADMSG, path, "empty path in archive");
        len = strlen(path);
        if (len > u->limits.max_path_length)
                return image_error_set(u->error, -ENAMETOOLONG, path, "path longer than %" PRIu64 " bytes",
                                       u->limits.max_path_length);
        if (path[0] == '/')
                return image_error_set(u->error, -EPERM, path, "absolute path in layer archive");

        out = malloc(len + 1);
        if (!out)
                return -ENOMEM;
        for (const char *p = path; *p;) {
                const char *e = strchrnul(p, '/');
                size_t l = (size_t) (e - p);
                if (l == 2 && p[0] == '.' && p[1] == '.')
                        return image_error_set(u->error, -EPERM, path, "path escapes the layer ('..')");
                if (l > 0 && !(l == 1 && p[0] == '.')) {
                        if (l > 255)
                                return image_error_set(u->error, -ENAMETOOLONG, path,
                                                       "path component longer than 255 bytes");
                        if (++depth > u->limits.max_path_depth)
                                return image_error_set(u->error, -ENAMETOOLONG, path,
                                                       "path deeper than %" PRIu64 " components",
                                                       u->limits.max_path_depth);
                        if (n > 0)
                                out[n++] = '/';
                        memcpy(out + n, p, l);
                        n += l;
                }
                p = *e ? e + 1 : e;
        }
        out[n] = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

static bool stat_is_whiteout(const struct stat *st) {
        return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* A whiteout this unpacker made: a 0/0 character device, or (no mknod) an empty regular file with
 * trusted.overlay.whiteout (never from the archive: trusted.* xattrs are dropped) */
static bool is_whiteout_at(int dfd, const char *name, const struct stat *st) {
        if (stat_is_whiteout(st))
                return true;
        if (!S_ISREG(st->st_mode) || st->st_size != 0)
                return false;
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        char v;
        return fd >= 0 && fgetxattr(fd, "trusted.overlay.whiteout", &v, sizeof(v)) >= 0;
}

static int set_dir_xattr(Unpacker *u, int dfd, const char *name, const char *xattr, const char *value,
                         const char *entry);

/* Opens the directory "dir" (normalized, "" = root) below the layer root without following any symlink,
 * creating missing components (0755, root-owned, like tar) if create is set. Returns an owned O_PATH fd. */
static int open_dir(Unpacker *u, const char *dir, bool create, const char *entry) {
        _cleanup_close_ int fd = -EBADF;

        if (u->cache_path && streq(u->cache_path, dir))
                return RET_NERRNO(fcntl(u->cache_fd, F_DUPFD_CLOEXEC, 3));

        fd = fcntl(u->root_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        for (const char *p = dir; *p;) {
                const char *e = strchrnul(p, '/');
                _cleanup_free_ char *comp = strndup(p, (size_t) (e - p));
                if (!comp)
                        return -ENOMEM;
                int nfd = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (nfd < 0 && errno == ENOENT && create) {
                        if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST)
                                return image_error_set(u->error, -errno, entry,
                                                       "cannot create directory '%s'", comp);
                        nfd = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                }
                if (nfd < 0 && errno == ENOTDIR && create) {
                        /* "a/.wh.b" then "a/b/c": this layer's a/b is a directory after all, and the
                         * whiteout still hides the lower layers' a/b: an opaque directory */
                        struct stat st;
                        if (fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) >= 0 &&
                            is_whiteout_at(fd, comp, &st)) {
                                if (unlinkat(fd, comp, 0) < 0 || mkdirat(fd, comp, 0755) < 0)
                                        return image_error_set(u->error, -errno, entry,
                                                               "cannot create directory '%s'", comp);
                                int r = set_dir_xattr(u, fd, comp, "trusted.overlay.opaque", "y", entry);
                                if (r < 0)
                                        return r;
                                nfd = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        } else
                                errno = ENOTDIR;
                }
                if (nfd < 0) {
                        if (IN_SET(errno, ENOTDIR, ELOOP))
                                return image_error_set(u->error, -EPERM, entry,
                                                       "path goes through a symlink or non-directory ('%s')",
                                                       comp);
                        return image_error_set(u->error, -errno, entry, "cannot open directory '%s'", comp);
                }
                safe_close(fd);
                fd = nfd;
                p = *e ? e + 1 : e;
        }

        cache_drop(u);
        u->cache_path = strdup(dir);
        if (u->cache_path) {
                u->cache_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (u->cache_fd < 0)
                        u->cache_path = mfree(u->cache_path);
        }
        return TAKE_FD(fd);
}

/* Splits normalized "a/b/c" into the parent dir fd ("a/b") and the last component ("c") */
static int open_parent(Unpacker *u, const char *path, bool create, const char *entry,
                       const char **ret_name) {
        const char *slash = strrchr(path, '/');
        if (!slash) {
                *ret_name = path;
                return open_dir(u, "", create, entry);
        }
        _cleanup_free_ char *dir = strndup(path, (size_t) (slash - path));
        if (!dir)
                return -ENOMEM;
        *ret_name = slash + 1;
        return open_dir(u, dir, create, entry);
}

/* Removes what is at dfd/name so a new entry can take its place (tar semantics: the last entry wins). A
 * directory stays when the new entry is a directory too. *ret_was_whiteout (optional) says whether what
 * was removed was a whiteout of this layer: a directory that replaces one must hide the lower layers'. */
static int make_room_whiteout(Unpacker *u, int dfd, const char *name, bool new_is_dir, const char *entry,
                              bool *ret_was_whiteout) {
        struct stat st;

        if (ret_was_whiteout)
                *ret_was_whiteout = false;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : image_error_set(u->error, -errno, entry, "cannot stat");
        if (S_ISDIR(st.st_mode)) {
                if (new_is_dir)
                        return 1;
                cache_drop(u);
                int r = rm_rf_at(dfd, name);
                return r < 0 ? image_error_set(u->error, r, entry, "cannot replace directory") : 0;
        }
        if (ret_was_whiteout)
                *ret_was_whiteout = is_whiteout_at(dfd, name, &st);
        if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
                return image_error_set(u->error, -errno, entry, "cannot replace existing entry");
        return 0;
}

static int make_room(Unpacker *u, int dfd, const char *name, bool new_is_dir, const char *entry) {
        return make_room_whiteout(u, dfd, name, new_is_dir, entry, NULL);
}

static bool xattr_allowed(const char *name) {
        /* Only user.* and file capabilities. Not trusted.overlay.* nor user.overlay.* (overlayfs reads the
         * latter with "userxattr"): an image must not forge redirects, metacopy, opaque or whiteout markers;
         * not user.containers.* (containers-storage's override_stat: fake owners and modes); not the rest of
         * trusted.* and security.* (SELinux labels, IMA/EVM: the host's business, not the image's) */
        if (startswith(name, "user."))
                return !startswith(name, "user.overlay.") && !startswith(name, "user.containers.");
        return streq(name, "security.capability");
}

static int apply_xattrs(Unpacker *u, struct archive_entry *e, int fd, const char *entry) {
        const char *name;
        const void *value;
        size_t size;

        sym_archive_entry_xattr_reset(e);
        while (sym_archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
                if (!name || !xattr_allowed(name))
                        continue;
                if (fsetxattr(fd, name, value, size, 0) < 0)
                        return image_error_set(u->error, -errno, entry, "cannot set xattr '%s'", name);
        }
        return 0;
}

static void entry_times(struct archive_entry *e, struct timespec ts[2]) {
        ts[1] = (struct timespec){ .tv_sec = sym_archive_entry_mtime(e),
                                   .tv_nsec = sym_archive_entry_mtime_nsec(e) };
        if (sym_archive_entry_atime_is_set(e))
                ts[0] = (struct timespec){ .tv_sec = sym_archive_entry_atime(e),
                                           .tv_nsec = sym_archive_entry_atime_nsec(e) };
        else
                ts[0] = ts[1];
        if (ts[0].tv_nsec < 0 || ts[0].tv_nsec >= 1000000000)
                ts[0].tv_nsec = 0;
        if (ts[1].tv_nsec < 0 || ts[1].tv_nsec >= 1000000000)
                ts[1].tv_nsec = 0;
}

/* Ownership, then mode (chown clears setuid), then xattrs, on an fd of the new object */
static int apply_meta_fd(Unpacker *u, struct archive_entry *e, int fd, const char *entry) {
        if (fchown(fd, (uid_t) sym_archive_entry_uid(e), (gid_t) sym_archive_entry_gid(e)) < 0)
                return image_error_set(u->error, -errno, entry, "cannot set owner");
        if (fchmod(fd, sym_archive_entry_perm(e) & 07777) < 0)
                return image_error_set(u->error, -errno, entry, "cannot set mode");
        return apply_xattrs(u, e, fd, entry);
}

static int defer_dir_time(Unpacker *u, const char *path, struct archive_entry *e) {
        if (GREEDY_REALLOC(u->dirs, u->allocated_dirs, u->n_dirs + 1, 64) < 0)
                return -ENOMEM;
        DirTime *d = &u->dirs[u->n_dirs];
        d->path = strdup(path);
        if (!d->path)
                return -ENOMEM;
        entry_times(e, d->ts);
        u->n_dirs++;
        return 0;
}

/* Bounds a regular file's declared size (sparse files declare their full size) */
static int check_size(Unpacker *u, struct archive_entry *e, const char *entry, int64_t *ret) {
        int64_t declared = sym_archive_entry_size_is_set(e) ? sym_archive_entry_size(e) : 0;

        if (declared < 0)
                return image_error_set(u->error, -EBADMSG, entry, "negative file size");
        if ((uint64_t) declared > u->limits.max_file_bytes)
                return image_error_set(u->error, -EFBIG, entry,
                                       "file of %" PRId64 " bytes exceeds the limit of %" PRIu64 " bytes",
                                       declared, u->limits.max_file_bytes);
        if (u->bytes + (uint64_t) declared > u->limits.max_layer_bytes)
                return image_error_set(u->error, -EFBIG, entry,
                                       "layer exceeds the limit of %" PRIu64 " bytes",
                                       u->limits.max_layer_bytes);
        *ret = declared;
        return 0;
}

static int extract_regular(Unpacker *u, struct archive *a, struct archive_entry *e, int dfd,
                           const char *name, const char *entry) {
        _cleanup_close_ int fd = -EBADF;
        int64_t declared = 0;
        uint64_t written = 0;
        int r;

        r = check_size(u, e, entry, &declared);
        if (r < 0)
                return r;

        r = make_room(u, dfd, name, false, entry);
        if (r < 0)
                return r;
        fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return image_error_set(u->error, -errno, entry, "cannot create file");

        for (;;) {
                const void *buf;
                size_t size;
                la_int64_t offset;

                r = sym_archive_read_data_block(a, &buf, &size, &offset);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return image_error_set(u->error, u->outer_error ?: -EBADMSG, entry,
                                               "cannot read file data: %s",
                                               sym_archive_error_string(a) ?: "corrupt");
                if (offset < 0 || (uint64_t) offset + size > (uint64_t) declared)
                        return image_error_set(u->error, -EBADMSG, entry,
                                               "file data beyond its declared size");
                written += size;
                for (size_t done = 0; done < size;) {
                        ssize_t k =
                                pwrite(fd, (const char *) buf + done, size - done, offset + (off_t) done);
                        if (k < 0) {
                                if (errno == EINTR)
                                        continue;
                                return image_error_set(u->error, -errno, entry, "cannot write file");
                        }
                        done += (size_t) k;
                }
        }
        /* Sparse files may end in a hole */
        if (ftruncate(fd, declared) < 0)
                return image_error_set(u->error, -errno, entry, "cannot size file");
        u->bytes += (uint64_t) declared;
        if (u->stats)
                u->stats->unpacked_bytes += written;

        r = apply_meta_fd(u, e, fd, entry);
        if (r < 0)
                return r;
        struct timespec ts[2];
        entry_times(e, ts);
        if (futimens(fd, ts) < 0)
                return image_error_set(u->error, -errno, entry, "cannot set times");
        return 0;
}

static int extract_dir(Unpacker *u, struct archive_entry *e, const char *path, int dfd, const char *name,
                       const char *entry) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (isempty(path))
                fd = openat(u->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        else {
                bool was_whiteout;
                r = make_room_whiteout(u, dfd, name, true, entry, &was_whiteout);
                if (r < 0)
                        return r;
                if (r == 0 && mkdirat(dfd, name, 0700) < 0)
                        return image_error_set(u->error, -errno, entry, "cannot create directory");
                /* ".wh.NAME" came first: it still hides the lower layers' NAME, so this one is opaque */
                if (was_whiteout) {
                        r = set_dir_xattr(u, dfd, name, "trusted.overlay.opaque", "y", entry);
                        if (r < 0)
                                return r;
                }
                fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0)
                return image_error_set(u->error, -errno, entry, "cannot open directory");
        r = apply_meta_fd(u, e, fd, entry);
        if (r < 0)
                return r;
        /* Directory times last: creating children changes them */
        return defer_dir_time(u, path, e);
}

static int extract_symlink(Unpacker *u, struct archive_entry *e, int dfd, const char *name,
                           const char *entry) {
        const char *target = sym_archive_entry_symlink(e);
        int r;

        /* The target is stored verbatim: it is only ever resolved inside the container's root */
        if (isempty(target))
                return image_error_set(u->error, -EBADMSG, entry, "symlink without target");
        if (strlen(target) > u->limits.max_path_length)
                return image_error_set(u->error, -ENAMETOOLONG, entry, "symlink target too long");
        r = make_room(u, dfd, name, false, entry);
        if (r < 0)
                return r;
        if (symlinkat(target, dfd, name) < 0)
                return image_error_set(u->error, -errno, entry, "cannot create symlink");
        if (fchownat(dfd, name, (uid_t) sym_archive_entry_uid(e), (gid_t) sym_archive_entry_gid(e),
                     AT_SYMLINK_NOFOLLOW) < 0)
                return image_error_set(u->error, -errno, entry, "cannot set owner");
        struct timespec ts[2];
        entry_times(e, ts);
        if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return image_error_set(u->error, -errno, entry, "cannot set times");
        return 0;
}

static int normalize_link_target(Unpacker *u, struct archive_entry *e, const char *entry, char **ret) {
        ImageError *saved = u->error, terr = {};
        int r;

        u->error = &terr;
        r = normalize_path(u, sym_archive_entry_hardlink(e), ret);
        u->error = saved;
        if (r < 0) {
                r = image_error_set(u->error, r, entry, "hardlink target '%s' refused: %s",
                                    sym_archive_entry_hardlink(e), strna(terr.message));
                error_message_done(&terr);
        }
        return r;
}

static int openat2_beneath(int dfd, const char *name, int flags) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_NOFOLLOW | O_CLOEXEC),
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        int fd = (int) syscall(SYS_openat2, dfd, name, &how, sizeof(how));
        return fd < 0 ? -errno : fd;
}

static bool dir_is_opaque(int dir_fd) {
        _cleanup_close_ int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char v[2];
        return fd >= 0 && fgetxattr(fd, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y';
}

/* Finds normalized path in the lower layers as overlayfs would show it (nearest layer first; a whiteout
 * or a non-directory on the way hides the layers below, so does an opaque directory for its subtree).
 * Returns 0 with an O_PATH fd of the parent directory and the stat of the object, -ENOENT if no lower layer
 * shows it. Never follows a symlink: every component is opened with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) from the layer's own directory fd. */
static int lower_lookup(Unpacker *u, const char *path, int *ret_parent_fd, struct stat *ret_st) {
        bool opaque = false;

        for (size_t i = 0; i < u->n_lowers && !opaque; i++) {
                _cleanup_close_ int dfd = fcntl(u->lower_fds[i], F_DUPFD_CLOEXEC, 3);
                if (dfd < 0)
                        return -errno;
                for (const char *p = path;;) {
                        const char *e = strchrnul(p, '/');
                        bool last = !*e;
                        _cleanup_free_ char *comp = strndup(p, (size_t) (e - p));
                        struct stat st;
                        if (!comp)
                                return -ENOMEM;
                        _cleanup_close_ int fd = openat2_beneath(dfd, comp, O_PATH);
                        if (fd == -ENOENT)
                                break; /* not in this layer: below, unless an opaque directory hides it */
                        if (fd == -ELOOP || fd == -EXDEV)
                                return -ENOENT; /* a symlink (or mount) on the way: not followed */
                        if (fd < 0)
                                return fd;
                        if (fstat(fd, &st) < 0)
                                return -errno;
                        if (stat_is_whiteout(&st) || is_whiteout_at(dfd, comp, &st))
                                return -ENOENT;
                        if (last) {
                                *ret_parent_fd = TAKE_FD(dfd);
                                *ret_st = st;
                                return 0;
                        }
                        if (!S_ISDIR(st.st_mode))
                                return -ENOENT; /* a file where the path needs a directory hides the rest */
                        if (dir_is_opaque(fd))
                                opaque = true;
                        safe_close(dfd);
                        dfd = TAKE_FD(fd);
                        p = e + 1;
                }
        }
        return -ENOENT;
}

static int copy_xattrs(Unpacker *u, int from_fd, int to_fd, const char *entry) {
        ssize_t n = flistxattr(from_fd, NULL, 0);
        if (n < 0)
                return IN_SET(errno, EOPNOTSUPP, ENOTSUP) ? 0 : -errno;
        if (n == 0)
                return 0;
        _cleanup_free_ char *names = malloc((size_t) n);
        if (!names)
                return -ENOMEM;
        n = flistxattr(from_fd, names, (size_t) n);
        if (n < 0)
                return -errno; /* changed under us: the layer is ours and immutable, so a real error */
        for (const char *x = names; x < names + n; x += strlen(x) + 1) {
                if (!xattr_allowed(x))
                        continue;
                ssize_t k = fgetxattr(from_fd, x, NULL, 0);
                _cleanup_free_ char *value = k >= 0 ? malloc((size_t) k + 1) : NULL;
                if (k >= 0 && !value)
                        return -ENOMEM;
                if (k >= 0)
                        k = fgetxattr(from_fd, x, value, (size_t) k);
                if (k < 0)
                        return image_error_set(u->error, -errno, entry, "cannot read xattr '%s'", x);
                if (fsetxattr(to_fd, x, value, (size_t) k, 0) < 0)
                        return image_error_set(u->error, -errno, entry, "cannot set xattr '%s'", x);
        }
        return 0;
}

/* Materializes a lower layer's object at dfd/name: a copy (reflink where possible) of a regular file, the
 * same symlink, device node or fifo; owner, mode, allowed xattrs and times of the original */
static int copy_from_lower(Unpacker *u, int src_dfd, const char *src_name, const struct stat *st, int dfd,
                           const char *name, const char *entry) {
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        int r;

        r = make_room(u, dfd, name, false, entry);
        if (r < 0)
                return r;

        if (S_ISREG(st->st_mode)) {
                _cleanup_close_ int from = -EBADF, to = -EBADF;
                if ((uint64_t) st->st_size > u->limits.max_file_bytes ||
                    u->bytes + (uint64_t) st->st_size > u->limits.max_layer_bytes)
                        return image_error_set(u->error, -EFBIG, entry,
                                               "copy of the lower layer's file exceeds the layer limits");
                from = openat(src_dfd, src_name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
                if (from < 0)
                        return image_error_set(u->error, -errno, entry,
                                               "cannot open the lower layer's file");
                to = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (to < 0)
                        return image_error_set(u->error, -errno, entry, "cannot create file");
                if (ioctl(to, FICLONE, from) < 0) {
                        for (off_t done = 0; done < st->st_size;) {
                                ssize_t k = copy_file_range(from, NULL, to, NULL,
                                                            (size_t) (st->st_size - done), 0);
                                if (k < 0 && errno == EINTR)
                                        continue;
                                if (k < 0)
                                        return image_error_set(u->error, -errno, entry,
                                                               "cannot copy the lower layer's file");
                                if (k == 0)
                                        return image_error_set(u->error, -EIO, entry,
                                                               "lower layer's file shrank while copied");
                                done += k;
                        }
                }
                u->bytes += (uint64_t) st->st_size;
                if (fchown(to, st->st_uid, st->st_gid) < 0 || fchmod(to, st->st_mode & 07777) < 0)
                        return image_error_set(u->error, -errno, entry, "cannot set owner or mode");
                r = copy_xattrs(u, from, to, entry);
                if (r < 0)
                        return r;
                if (futimens(to, ts) < 0)
                        return image_error_set(u->error, -errno, entry, "cannot set times");
                return 0;
        }

        if (S_ISLNK(st->st_mode)) {
                /* st_size is the target's length; unpacking bounded it by max_path_length */
                if ((uint64_t) st->st_size > u->limits.max_path_length)
                        return image_error_set(u->error, -ENAMETOOLONG, entry, "symlink target too long");
                _cleanup_free_ char *target = malloc((size_t) st->st_size + 1);
                if (!target)
                        return -ENOMEM;
                ssize_t k = readlinkat(src_dfd, src_name, target, (size_t) st->st_size + 1);
                if (k < 0)
                        return image_error_set(u->error, -errno, entry,
                                               "cannot read the lower layer's symlink");
                if (k > st->st_size)
                        return image_error_set(u->error, -EIO, entry, "lower layer's symlink changed");
                target[k] = 0;
                if (symlinkat(target, dfd, name) < 0)
                        return image_error_set(u->error, -errno, entry, "cannot create symlink");
        } else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) || S_ISFIFO(st->st_mode)) {
                if (mknodat(dfd, name, (st->st_mode & S_IFMT) | 0600, st->st_rdev) < 0)
                        return image_error_set(u->error, -errno, entry, "cannot create device node or fifo");
                if (fchmodat(dfd, name, st->st_mode & 07777, 0) < 0)
                        return image_error_set(u->error, -errno, entry, "cannot set mode");
        } else
                return image_error_set(u->error, -EPERM, entry, "hardlink to a lower layer's socket");
        if (fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                return image_error_set(u->error, -errno, entry, "cannot set owner");
        if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return image_error_set(u->error, -errno, entry, "cannot set times");
        return 0;
}

static int extract_hardlink(Unpacker *u, struct archive_entry *e, const char *path, int dfd,
                            const char *name, const char *entry) {
        _cleanup_free_ char *target = NULL;
        _cleanup_close_ int tfd = -EBADF;
        const char *tname;
        struct stat st;
        int r;

        r = normalize_link_target(u, e, entry, &target);
        if (r < 0)
                return r;
        if (isempty(target))
                return image_error_set(u->error, -EPERM, entry, "hardlink to the layer root");
        if (streq(target, path))
                return 0;

        /* In this layer? (An error of the walk other than "missing" — through a symlink — is final.) */
        ImageError *saved = u->error, terr = {};
        u->error = &terr;
        tfd = open_parent(u, target, false, entry, &tname);
        u->error = saved;
        if (tfd >= 0 && fstatat(tfd, tname, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno != ENOENT) {
                        error_message_done(&terr);
                        return image_error_set(u->error, -errno, entry, "cannot stat hardlink target '%s'",
                                               target);
                }
                tfd = safe_close(tfd);
                tfd = -ENOENT;
        }
        if (tfd < 0 && tfd != -ENOENT) {
                r = image_error_set(u->error, tfd, entry, "hardlink target '%s' refused: %s", target,
                                    strna(terr.message));
                error_message_done(&terr);
                return r;
        }
        error_message_done(&terr);

        if (tfd < 0) {
                /* Not in this layer: a file of a lower layer (containers-storage accepts these), copied */
                _cleanup_close_ int lfd = -EBADF;
                const char *lname = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
                r = lower_lookup(u, target, &lfd, &st);
                if (r == -ENOENT)
                        return image_error_set(u->error, -EPERM, entry,
                                               "hardlink target '%s' is in no layer of the image", target);
                if (r < 0)
                        return image_error_set(u->error, r, entry, "cannot look up hardlink target '%s'",
                                               target);
                if (S_ISDIR(st.st_mode))
                        return image_error_set(u->error, -EPERM, entry, "hardlink to a directory");
                return copy_from_lower(u, lfd, lname, &st, dfd, name, entry);
        }

        if (S_ISDIR(st.st_mode))
                return image_error_set(u->error, -EPERM, entry, "hardlink to a directory");
        if (is_whiteout_at(tfd, tname, &st))
                return image_error_set(u->error, -EPERM, entry, "hardlink target '%s' is a whiteout",
                                       target);
        r = make_room(u, dfd, name, false, entry);
        if (r < 0)
                return r;
        /* Without AT_SYMLINK_FOLLOW a symlink target is linked itself, never followed */
        if (linkat(tfd, tname, dfd, name, 0) < 0)
                return image_error_set(u->error, -errno, entry, "cannot create hardlink");
        return 0;
}

static int extract_node(Unpacker *u, struct archive_entry *e, int dfd, const char *name, const char *entry) {
        mode_t type = sym_archive_entry_filetype(e);
        dev_t dev = type == AE_IFIFO
                ? 0
                : makedev(sym_archive_entry_rdevmajor(e), sym_archive_entry_rdevminor(e));
        int r;

        r = make_room(u, dfd, name, false, entry);
        if (r < 0)
                return r;
        if (mknodat(dfd, name, type | 0600, dev) < 0)
                return image_error_set(u->error, -errno, entry, "cannot create device node or fifo");
        if (fchownat(dfd, name, (uid_t) sym_archive_entry_uid(e), (gid_t) sym_archive_entry_gid(e),
                     AT_SYMLINK_NOFOLLOW) < 0)
                return image_error_set(u->error, -errno, entry, "cannot set owner");
        /* Not a symlink (just created it in our private directory), so following is harmless */
        if (fchmodat(dfd, name, sym_archive_entry_perm(e) & 07777, 0) < 0)
                return image_error_set(u->error, -errno, entry, "cannot set mode");
        struct timespec ts[2];
        entry_times(e, ts);
        if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return image_error_set(u->error, -errno, entry, "cannot set times");
        return 0;
}

static int set_dir_xattr(Unpacker *u, int dfd, const char *name, const char *xattr, const char *value,
                         const char *entry) {
        _cleanup_close_ int fd =
                openat(dfd, isempty(name) ? "." : name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return image_error_set(u->error, -errno, entry, "cannot open directory");
        if (fsetxattr(fd, xattr, value, strlen(value), 0) < 0)
                return image_error_set(u->error, -errno, entry, "cannot set %s", xattr);
        return 0;
}

static int extract_whiteout(Unpacker *u, const char *path, int dfd, const char *name, const char *entry) {
        const char *victim = name + strlen(WHITEOUT_PREFIX);

        if (streq(name, WHITEOUT_OPAQUE)) {
                /* dfd is the directory the marker is in: opaque hides only the lower layers */
                const char *slash = strrchr(path, '/');
                if (!slash)
                        return set_dir_xattr(u, u->root_fd, "", "trusted.overlay.opaque", "y", entry);
                return set_dir_xattr(u, dfd, ".", "trusted.overlay.opaque", "y", entry);
        }
        if (startswith(name, WHITEOUT_PREFIX WHITEOUT_PREFIX))
                return 0; /* other AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): not content */
        if (isempty(victim) || streq(victim, ".") || streq(victim, ".."))
                return image_error_set(u->error, -EPERM, entry, "invalid whiteout name");

        /* Only the lower layers' victim is hidden: this layer's own entry of that name stays (a directory
         * becomes opaque, a non-directory hides what is below it anyway; a whiteout is there already) */
        struct stat st;
        if (fstatat(dfd, victim, &st, AT_SYMLINK_NOFOLLOW) >= 0) {
                if (S_ISDIR(st.st_mode))
                        return set_dir_xattr(u, dfd, victim, "trusted.overlay.opaque", "y", entry);
                return 0;
        }
        if (errno != ENOENT)
                return image_error_set(u->error, -errno, entry, "cannot stat");
        if (mknodat(dfd, victim, S_IFCHR | 0, makedev(0, 0)) >= 0)
                return 0;
        if (!IN_SET(errno, EPERM, EOPNOTSUPP))
                return image_error_set(u->error, -errno, entry, "cannot create whiteout");

        /* No mknod here (e.g. a user namespace): overlayfs (6.7+) also takes an empty file marked with
         * trusted.overlay.whiteout inside a directory marked trusted.overlay.opaque=x */
        _cleanup_close_ int fd =
                openat(dfd, victim, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0);
        if (fd < 0)
                return image_error_set(u->error, -errno, entry, "cannot create whiteout");
        if (fsetxattr(fd, "trusted.overlay.whiteout", "y", 1, 0) < 0)
                return image_error_set(u->error, -errno, entry,
                                       "cannot create whiteout (no mknod, no xattr)");
        _cleanup_close_ int pfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char cur[2];
        if (pfd < 0)
                return -errno;
        /* Keep a "y" (real opaque) if the directory already has it */
        if (fgetxattr(pfd, "trusted.overlay.opaque", cur, sizeof(cur)) < 0 &&
            fsetxattr(pfd, "trusted.overlay.opaque", "x", 1, 0) < 0)
                return image_error_set(u->error, -errno, entry, "cannot mark directory for xattr whiteouts");
        return 0;
}

static int extract_entry(Unpacker *u, struct archive *a, struct archive_entry *e) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int dfd = -EBADF;
        const char *entry = sym_archive_entry_pathname(e), *name = NULL;
        mode_t type = sym_archive_entry_filetype(e);
        int r;

        (void) free_and_strdup(&u->current_entry, entry);
        if (++u->entries > u->limits.max_entries)
                return image_error_set(u->error, -E2BIG, entry, "more than %" PRIu64 " entries in the layer",
                                       u->limits.max_entries);
        if (u->stats)
                u->stats->unpacked_entries++;

        r = normalize_path(u, entry, &path);
        if (r < 0)
                return r;

        if (u->root_fd < 0) {
                /* Dry run: validate and bound, create nothing */
                _cleanup_free_ char *target = NULL;
                int64_t declared;
                if (sym_archive_entry_hardlink(e))
                        return normalize_link_target(u, e, entry, &target);
                if (type != AE_IFREG)
                        return 0;
                r = check_size(u, e, entry, &declared);
                if (r < 0)
                        return r;
                u->bytes += (uint64_t) declared;
                return 0;
        }

        if (isempty(path)) {
                /* The layer root itself ("./"): only its metadata */
                if (sym_archive_entry_hardlink(e) || type != AE_IFDIR)
                        return image_error_set(u->error, -EPERM, entry,
                                               "the layer root must be a directory");
                return extract_dir(u, e, path, -EBADF, NULL, entry);
        }

        dfd = open_parent(u, path, true, entry, &name);
        if (dfd < 0)
                return dfd;

        if (startswith(name, WHITEOUT_PREFIX))
                return extract_whiteout(u, path, dfd, name, entry);
        if (sym_archive_entry_hardlink(e))
                return extract_hardlink(u, e, path, dfd, name, entry);

        switch (type) {
        case AE_IFREG:
                return extract_regular(u, a, e, dfd, name, entry);
        case AE_IFDIR:
                return extract_dir(u, e, path, dfd, name, entry);
        case AE_IFLNK:
                return extract_symlink(u, e, dfd, name, entry);
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO:
                return extract_node(u, e, dfd, name, entry);
        case AE_IFSOCK:
                return 0; /* sockets are not content */
        default:
                return image_error_set(u->error, -EBADMSG, entry, "unsupported entry type 0%o",
                                       (unsigned) type);
        }
}

static int apply_dir_times(Unpacker *u) {
        /* Deepest last-created first does not matter: setting a directory's times does not touch its parent
         */
        for (size_t i = u->n_dirs; i > 0; i--) {
                DirTime *d = &u->dirs[i - 1];
                _cleanup_close_ int dfd = -EBADF;
                const char *name;

                if (isempty(d->path)) {
                        if (futimens(u->root_fd, d->ts) < 0)
                                return -errno;
                        continue;
                }
                dfd = open_parent(u, d->path, false, d->path, &name);
                if (dfd < 0)
                        continue; /* replaced by a later entry */
                if (utimensat(dfd, name, d->ts, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
                        return image_error_set(u->error, -errno, d->path, "cannot set times");
        }
        return 0;
}

/* The inner (tar) reader pulls decompressed bytes from the outer reader, hashing them on the way */
static la_ssize_t inner_read(struct archive *a, void *userdata, const void **ret_buf) {
        Unpacker *u = userdata;

        la_ssize_t n = sym_archive_read_data(u->outer, u->buf, READ_BLOCK);
        if (n < 0) {
                /* Say it here: the tar reader replaces the message with its own ("truncated") */
                u->outer_error =
                        image_error_set(u->error, -EBADMSG, u->current_entry, "corrupt archive: %s",
                                        sym_archive_error_string(u->outer) ?: "decompression failed");
                sym_archive_set_error(a, EIO, "%s",
                                      sym_archive_error_string(u->outer) ?: "decompression failed");
                return -1;
        }
        if (n > 0) {
                if (sha256_update(u->hash, u->buf, (size_t) n) < 0) {
                        sym_archive_set_error(a, EIO, "hashing failed");
                        return -1;
                }
                u->uncompressed += (uint64_t) n;
                if (u->progress && u->uncompressed >= u->progress_next) {
                        u->progress(u->label, u->uncompressed, 0, u->userdata);
                        u->progress_next = u->uncompressed + PROGRESS_STEP;
                }
                /* Decompression bombs: a stream that inflates absurdly is refused early */
                int64_t raw = sym_archive_filter_bytes(u->outer, -1);
                if (u->uncompressed > IMAGE_EXPAND_RATIO_THRESHOLD && raw > 0 &&
                    u->uncompressed / (uint64_t) raw > u->limits.max_expand_ratio) {
                        u->outer_error =
                                image_error_set(u->error, -EFBIG, u->current_entry,
                                                "decompressed stream expands more than %" PRIu64 "x",
                                                u->limits.max_expand_ratio);
                        sym_archive_set_error(a, EFBIG, "decompressed stream expands more than %" PRIu64 "x",
                                              u->limits.max_expand_ratio);
                        return -1;
                }
        }
        *ret_buf = u->buf;
        return n;
}

int image_unpack_layer(int fd, int dir_fd, const ImageLimits *limits, char **ret_diff_id,
                       ImageImportStats *stats, ImageError *error) {
        return unpack_layer_progress(fd, dir_fd, NULL, 0, limits, ret_diff_id, stats, NULL, NULL, NULL,
                                     error);
}

int image_unpack_layer_above(int fd, int dir_fd, const int *lower_fds, size_t n_lowers,
                             const ImageLimits *limits, char **ret_diff_id, ImageError *error) {
        return unpack_layer_progress(fd, dir_fd, lower_fds, n_lowers, limits, ret_diff_id, NULL, NULL, NULL,
                                     NULL, error);
}

int unpack_layer_progress(int fd, int dir_fd, const int *lower_fds, size_t n_lowers,
                          const ImageLimits *limits, char **ret_diff_id, ImageImportStats *stats,
                          ImageProgressFn progress, void *userdata, const char *label, ImageError *error) {
        _cleanup_(sym_EVP_MD_CTX_freep) EVP_MD_CTX *hash = NULL;
        struct archive *outer = NULL, *inner = NULL;
        struct archive_entry *e;
        Unpacker u = {
                .root_fd = dir_fd,
                .lower_fds = lower_fds,
                .n_lowers = n_lowers,
                .error = error,
                .stats = stats,
                .cache_fd = -EBADF,
                .progress = progress,
                .userdata = userdata,
                .label = label,
        };
        int r;

        r = image_dlopen_archive(error);
        if (r < 0)
                return r;
        image_limits_fill(&u.limits, limits);
        r = sha256_new(&hash);
        if (r < 0)
                return r;
        u.hash = hash;
        u.buf = malloc(READ_BLOCK);
        if (!u.buf)
                return -ENOMEM;

        /* The layer root defaults to 0755 root:root unless the archive has a "./" entry */
        if (dir_fd >= 0 && fchmod(dir_fd, 0755) < 0) {
                r = -errno;
                goto finish;
        }

        outer = sym_archive_read_new();
        inner = sym_archive_read_new();
        if (!outer || !inner) {
                r = -ENOMEM;
                goto finish;
        }
        u.outer = outer;
        if (image_archive_support_filters(outer) < 0 ||
            sym_archive_read_support_format_raw(outer) != ARCHIVE_OK ||
            sym_archive_read_support_format_tar(inner) != ARCHIVE_OK) {
                r = -EOPNOTSUPP;
                goto finish;
        }
        if (sym_archive_read_open_fd(outer, fd, READ_BLOCK) != ARCHIVE_OK) {
                r = image_error_set(error, -EBADMSG, NULL, "cannot open archive: %s",
                                    sym_archive_error_string(outer) ?: "unknown error");
                goto finish;
        }
        r = sym_archive_read_next_header(outer, &e);
        if (r != ARCHIVE_OK) {
                r = image_error_set(error, -EBADMSG, NULL, "cannot read archive: %s",
                                    r == ARCHIVE_EOF ? "empty" : sym_archive_error_string(outer) ?: "unknown error");
                goto finish;
        }
        if (sym_archive_read_open(inner, &u, NULL, inner_read, NULL) != ARCHIVE_OK) {
                r = image_error_set(error, u.outer_error ?: -EBADMSG, NULL, "cannot open tar stream: %s",
                                    sym_archive_error_string(inner) ?: "unknown error");
                goto finish;
        }

        for (;;) {
                r = sym_archive_read_next_header(inner, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN) {
                        r = image_error_set(error, u.outer_error ?: -EBADMSG, NULL, "corrupt tar stream: %s",
                                            sym_archive_error_string(inner) ?: "unknown error");
                        goto finish;
                }
                r = extract_entry(&u, inner, e);
                if (r < 0)
                        goto finish;
        }

        /* Hash whatever follows the end-of-archive marker (block padding) too: the diff_id covers the whole
         * uncompressed stream */
        for (;;) {
                const void *buf;
                la_ssize_t n = inner_read(inner, &u, &buf);
                if (n < 0) {
                        r = image_error_set(error, u.outer_error ?: -EBADMSG, NULL, "corrupt archive: %s",
                                            sym_archive_error_string(inner) ?: "unknown error");
                        goto finish;
                }
                if (n == 0)
                        break;
        }

        r = apply_dir_times(&u);
        if (r < 0)
                goto finish;

        if (ret_diff_id) {
                r = sha256_final_digest(hash, ret_diff_id);
                if (r < 0)
                        goto finish;
        }
        r = 0;
finish:
        if (inner)
                sym_archive_read_free(inner);
        if (outer)
                sym_archive_read_free(outer);
        unpacker_done(&u);
        return r;
}
