/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Directory trees back to tar: a container's overlay upper directory becomes a new OCI layer (whiteouts
 * converted back: a 0:0 character device or trusted.overlay.whiteout file → ".wh.NAME", an opaque
 * directory → "DIR/.wh..wh..opq"), and any tree (a mounted merged view) becomes a flat tarball for export.
 * The walk is fd-relative and never follows symlinks; entries are sorted so the same tree gives the same
 * tar (and so the same diff_id). */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fault.h"
#include "alloc-util.h"
#include "fd-util.h"
#include "fileio.h"
#include "archive-dl.h"
#include "image-internal.h"
#include "store.h"
#include "string-util.h"

#define MAX_DEPTH 256

typedef struct Inode {
        dev_t dev;
        ino_t ino;
        char *path;
} Inode;

typedef struct Writer {
        struct archive *a;
        bool overlay_upper;
        char *const *exclude; /* paths relative to the tree's top left out */
        ImageIdRange ids;     /* owners in [start, start + count) are written as owner - start */
        ImageError *error;
        Inode *inodes;
        size_t n_inodes, allocated;
        char *buf;
} Writer;

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int list_dir(int dfd, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        DIR *d;
        int r = opendir_at(dfd, ".", 0, &d);
        if (r < 0)
                return r;
        for (struct dirent *de; (de = readdir(d));) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (strv_extend(&l, de->d_name) < 0) {
                        closedir(d);
                        return -ENOMEM;
                }
        }
        closedir(d);
        if (l)
                qsort(l, strv_length(l), sizeof(char *), name_cmp);
        *ret = TAKE_PTR(l);
        return 0;
}

static int write_header(Writer *w, struct archive_entry *e, const char *path) {
        if (sym_archive_write_header(w->a, e) < ARCHIVE_WARN)
                return image_error_set(w->error, -EIO, path, "cannot write tar header: %s",
                                       sym_archive_error_string(w->a) ?: "unknown error");
        return 0;
}

static int add_xattrs(Writer *w, struct archive_entry *e, int fd) {
        char names[4096];
        ssize_t n = flistxattr(fd, names, sizeof(names));
        if (n < 0)
                return IN_SET(errno, ENOTSUP, ERANGE) ? 0 : -errno;
        for (char *p = names; p < names + n; p += strlen(p) + 1) {
                if (!startswith(p, "user.") && !streq(p, "security.capability"))
                        continue;
                char value[4096];
                ssize_t k = fgetxattr(fd, p, value, sizeof(value));
                if (k >= 0)
                        sym_archive_entry_xattr_add_entry(e, p, value, (size_t) k);
        }
        return 0;
}

static bool has_xattr_value(int fd, const char *name, const char *want) {
        char v[8];
        ssize_t k = fgetxattr(fd, name, v, sizeof(v));
        return k == (ssize_t) strlen(want) && memcmp(v, want, (size_t) k) == 0;
}

/* An empty regular file entry named path (0644, st's mtime): a whiteout or an opaque marker */
static int write_empty_file(Writer *w, const char *path, const struct stat *st) {
        struct archive_entry *e;
        int r;

        if (!path)
                return -ENOMEM;
        e = sym_archive_entry_new();
        if (!e)
                return -ENOMEM;
        sym_archive_entry_set_pathname(e, path);
        sym_archive_entry_set_filetype(e, AE_IFREG);
        sym_archive_entry_set_perm(e, 0644);
        sym_archive_entry_set_size(e, 0);
        sym_archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
        r = write_header(w, e, path);
        sym_archive_entry_free(e);
        return r;
}

static int write_whiteout(Writer *w, const char *dir, const char *name, const struct stat *st) {
        _cleanup_free_ char *p = dir ? strjoin(dir, "/.wh.", name) : strjoin(".wh.", name);
        return write_empty_file(w, p, st);
}

static int walk(Writer *w, int dfd, const char *rel, unsigned depth);

/* The path an earlier entry gave st's inode (then *ret_target is it), or NULL after recording path as
 * the inode's first name */
static int hardlink_target(Writer *w, const struct stat *st, const char *path, const char **ret_target) {
        for (size_t i = 0; i < w->n_inodes; i++)
                if (w->inodes[i].dev == st->st_dev && w->inodes[i].ino == st->st_ino) {
                        *ret_target = w->inodes[i].path;
                        return 0;
                }
        if (GREEDY_REALLOC(w->inodes, w->allocated, w->n_inodes + 1, 16) < 0)
                return -ENOMEM;
        w->inodes[w->n_inodes++] = (Inode){ .dev = st->st_dev, .ino = st->st_ino, .path = strdup(path) };
        *ret_target = NULL;
        return 0;
}

/* A user namespace's range back to the image's ids: what its uid 0 wrote is owned by uid 0 again */
static uint32_t unshift_id(const Writer *w, uint32_t id) {
        if (id >= w->ids.start && id - w->ids.start < w->ids.count)
                return id - w->ids.start;
        return id;
}

/* Fills e for name (fd open if it is a file or directory) and writes its header. Returns 1 when it was
 * written as a hard link to an earlier entry (nothing follows), 0 when its data or children follow. */
static int write_entry(Writer *w, struct archive_entry *e, int dfd, const char *name, int fd,
                       const struct stat *st, const char *path) {
        int r;

        sym_archive_entry_set_pathname(e, path);
        sym_archive_entry_set_mode(e, st->st_mode);
        sym_archive_entry_set_uid(e, unshift_id(w, st->st_uid));
        sym_archive_entry_set_gid(e, unshift_id(w, st->st_gid));
        sym_archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);

        if (S_ISREG(st->st_mode) && st->st_nlink > 1) {
                const char *target;
                r = hardlink_target(w, st, path, &target);
                if (r < 0)
                        return r;
                if (target) {
                        sym_archive_entry_set_hardlink(e, target);
                        sym_archive_entry_set_size(e, 0);
                        r = write_header(w, e, path);
                        return r < 0 ? r : 1;
                }
        }

        if (S_ISLNK(st->st_mode)) {
                char target[4096];
                ssize_t k = readlinkat(dfd, name, target, sizeof(target) - 1);
                if (k < 0)
                        return image_error_set(w->error, -errno, path, "cannot read symlink");
                target[k] = 0;
                sym_archive_entry_set_symlink(e, target);
        } else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
                sym_archive_entry_set_rdevmajor(e, major(st->st_rdev));
                sym_archive_entry_set_rdevminor(e, minor(st->st_rdev));
        } else if (S_ISREG(st->st_mode))
                sym_archive_entry_set_size(e, st->st_size);
        if (fd >= 0) {
                r = add_xattrs(w, e, fd);
                if (r < 0)
                        return image_error_set(w->error, r, path, "cannot read xattrs");
        }
        return write_header(w, e, path);
}

/* The file's st_size bytes from fd; it must not shrink meanwhile */
static int write_file_data(Writer *w, int fd, const struct stat *st, const char *path) {
        off_t left = st->st_size;

        while (left > 0) {
                ssize_t k = read(fd, w->buf, (size_t) MIN(left, (off_t) (128 * 1024)));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return image_error_set(w->error, k < 0 ? -errno : -EIO, path,
                                               "file changed while being read");
                if (sym_archive_write_data(w->a, w->buf, (size_t) k) != k)
                        return image_error_set(w->error, -EIO, path, "cannot write tar data: %s",
                                               sym_archive_error_string(w->a) ?: "unknown error");
                left -= k;
        }
        return 0;
}

/* An overlay-opaque directory becomes PATH/.wh..wh..opq, an empty file */
static int write_opaque_marker(Writer *w, const struct stat *st, const char *path) {
        _cleanup_free_ char *opq = strjoin(path, "/.wh..wh..opq");
        return write_empty_file(w, opq, st);
}

static int write_one(Writer *w, int dfd, const char *rel, const char *name, unsigned depth) {
        _cleanup_free_ char *path = rel ? strjoin(rel, "/", name) : strdup(name);
        struct archive_entry *e = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        if (!path)
                return -ENOMEM;
        if (strv_contains(w->exclude, path))
                return 0;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return image_error_set(w->error, -errno, path, "cannot stat");

        if (w->overlay_upper && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
                return write_whiteout(w, rel, name, &st);
        if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
                fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (fd < 0)
                        return image_error_set(w->error, -errno, path, "cannot open");
                if (w->overlay_upper && S_ISREG(st.st_mode) && st.st_size == 0 &&
                    fgetxattr(fd, "trusted.overlay.whiteout", NULL, 0) >= 0)
                        return write_whiteout(w, rel, name, &st);
        }
        if (S_ISSOCK(st.st_mode))
                return 0;

        e = sym_archive_entry_new();
        if (!e)
                return -ENOMEM;
        r = write_entry(w, e, dfd, name, fd, &st, path);
        sym_archive_entry_free(e);
        if (r != 0)
                return MIN(r, 0);

        if (S_ISREG(st.st_mode))
                return write_file_data(w, fd, &st, path);
        if (S_ISDIR(st.st_mode)) {
                if (w->overlay_upper && has_xattr_value(fd, "trusted.overlay.opaque", "y")) {
                        r = write_opaque_marker(w, &st, path);
                        if (r < 0)
                                return r;
                }
                return walk(w, fd, path, depth + 1);
        }
        return 0;
}

static int walk(Writer *w, int dfd, const char *rel, unsigned depth) {
        _cleanup_strv_free_ char **names = NULL;
        int r;

        if (depth > MAX_DEPTH)
                return image_error_set(w->error, -ELOOP, rel, "directory tree deeper than %u", MAX_DEPTH);
        r = list_dir(dfd, &names);
        if (r < 0)
                return image_error_set(w->error, r, rel ?: ".", "cannot list directory");
        STRV_FOREACH (n, names) {
                r = write_one(w, dfd, rel, *n, depth);
                if (r < 0)
                        return r;
        }
        return 0;
}

static la_ssize_t blob_write_cb(struct archive *a, void *userdata, const void *buf, size_t n) {
        BlobWriter *bw = userdata;
        int r = blob_writer_write(bw, buf, n);
        if (r < 0) {
                sym_archive_set_error(a, -r, "cannot write blob");
                return -1;
        }
        return (la_ssize_t) n;
}

static int tree_to_tar(int dir_fd, bool overlay_upper, char *const *exclude, const ImageIdRange *ids,
                       int out_fd, BlobWriter *bw, ImageError *error) {
        Writer w = { .overlay_upper = overlay_upper,
                     .exclude = exclude,
                     .ids = ids ? *ids : (ImageIdRange){},
                     .error = error };
        int r;

        r = image_dlopen_archive(error);
        if (r < 0)
                return r;
        w.buf = malloc(128 * 1024);
        w.a = sym_archive_write_new();
        if (!w.buf || !w.a) {
                r = -ENOMEM;
                goto finish;
        }
        if (sym_archive_write_set_format_pax_restricted(w.a) != ARCHIVE_OK ||
            sym_archive_write_add_filter_none(w.a) != ARCHIVE_OK) {
                r = -EOPNOTSUPP;
                goto finish;
        }
        if ((bw ? sym_archive_write_open2(w.a, bw, NULL, blob_write_cb, NULL, NULL)
                : sym_archive_write_open_fd(w.a, out_fd)) != ARCHIVE_OK) {
                r = image_error_set(error, -EIO, NULL, "cannot start tar: %s",
                                    sym_archive_error_string(w.a) ?: "unknown error");
                goto finish;
        }
        r = walk(&w, dir_fd, NULL, 0);
        if (r >= 0 && sym_archive_write_close(w.a) != ARCHIVE_OK)
                r = image_error_set(error, -EIO, NULL, "cannot finish tar: %s",
                                    sym_archive_error_string(w.a) ?: "unknown error");
finish:
        if (w.a)
                sym_archive_write_free(w.a);
        for (size_t i = 0; i < w.n_inodes; i++)
                free(w.inodes[i].path);
        free(w.inodes);
        free(w.buf);
        return r;
}

int image_export_tree(int dir_fd, int out_fd, ImageError *error) {
        return image_export_tree_ids(dir_fd, out_fd, NULL, error);
}

int image_export_tree_ids(int dir_fd, int out_fd, const ImageIdRange *ids, ImageError *error) {
        return tree_to_tar(dir_fd, false, NULL, ids, out_fd, NULL, error);
}

int image_commit(ImageStore *s, const char *upper_dir, const char *base_ref, const char *new_ref,
                 char *const *exclude, char **ret_ref, ImageError *error) {
        return image_commit_ids(s, upper_dir, base_ref, new_ref, exclude, NULL, ret_ref, error);
}

int image_commit_ids(ImageStore *s, const char *upper_dir, const char *base_ref, const char *new_ref,
                     char *const *exclude, const ImageIdRange *owners, char **ret_ref, ImageError *error) {
        _cleanup_(blob_writer_done) BlobWriter bw = { .fd = -EBADF };
        _cleanup_(json_object_putp) json_object *config = NULL;
        _cleanup_(image_manifest_freep) ImageManifest *m = NULL;
        _cleanup_free_ char *norm = NULL, *base_manifest = NULL, *data = NULL, *diff_id = NULL,
                            *config_digest = NULL, *manifest = NULL;
        _cleanup_strv_free_ char **layers = NULL;
        _cleanup_close_ int dfd = -EBADF, lock = -EBADF;
        size_t size;
        int r;

        r = image_ref_normalize(new_ref, &norm);
        if (r < 0)
                return image_error_set(error, r, new_ref, "invalid image reference");
        r = image_manifest_digest(s, base_ref, &base_manifest);
        if (r < 0)
                return image_error_set(error, r, base_ref, "no such base image");
        dfd = open(upper_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return image_error_set(error, -errno, upper_dir, "cannot open");

        lock = store_lock_shared(s);
        if (lock < 0)
                return lock;

        /* The base image: its manifest's layers, its config document to extend */
        r = blob_read(s, base_manifest, &data, &size);
        if (r < 0)
                return image_error_set(error, r, base_manifest, "cannot read base manifest");
        r = image_manifest_parse(data, size, &m, error);
        if (r < 0)
                return r;
        data = mfree(data);
        r = blob_read(s, m->config_digest, &data, &size);
        if (r < 0)
                return image_error_set(error, r, m->config_digest, "cannot read base config");
        r = json_parse_bounded(data, size, s->limits.max_json_bytes, &config, error, "base config");
        if (r < 0)
                return r;

        /* The new layer, uncompressed: its blob digest is its diff_id */
        r = blob_writer_begin(s, &bw);
        if (r < 0)
                return r;
        r = tree_to_tar(dfd, true, exclude, owners, -EBADF, &bw, error);
        if (r < 0)
                return r;
        r = blob_writer_commit(&bw, NULL, &diff_id, error);
        if (r < 0)
                return r;
        FAULT_POINT("commit.blob");
        r = layer_unpack(s, diff_id, diff_id, NULL, NULL, NULL, NULL, NULL, error);
        if (r < 0)
                return r;
        FAULT_POINT("commit.layer");

        /* Config: diff_ids + history appended, everything else kept */
        json_object *rootfs = json_get_object(config, "rootfs");
        json_object *ids = json_get_array(rootfs, "diff_ids");
        if (!ids)
                return image_error_set(error, -EBADMSG, m->config_digest,
                                       "base config without rootfs.diff_ids");
        json_object_array_add(ids, json_object_new_string(diff_id));
        json_object *hist = json_get_array(config, "history");
        if (hist) {
                json_object *h = json_object_new_object();
                json_object_object_add(h, "created_by", json_object_new_string("cbox commit"));
                json_object_array_add(hist, h);
        }
        const char *text = json_object_to_json_string_ext(
                config, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                return -ENOMEM;
        r = blob_ingest_data(s, text, strlen(text), &config_digest);
        if (r < 0)
                return r;

        layers = strv_copy(m->layer_digests);
        if ((!layers && m->layer_digests) || strv_extend(&layers, diff_id) < 0)
                return -ENOMEM;
        r = synthesize_manifest(s, config_digest, layers, &manifest);
        if (r < 0)
                return r;
        FAULT_POINT("commit.manifest");
        r = store_import_manifest(s, manifest, norm, NULL, NULL, &(ImageImportStats){}, error);
        if (r < 0)
                return r;
        FAULT_POINT("commit.indexed");
        if (ret_ref)
                *ret_ref = TAKE_PTR(norm);
        return 0;
}
