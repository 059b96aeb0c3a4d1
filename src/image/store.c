/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The store: blobs, unpacked layers and the index (see image.h for the layout). */
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "fd-util.h"
#include "fileio.h"
#include "image-internal.h"
#include "store.h"
#include "string-util.h"

#define INDEX_FILE "images.json"
#define INDEX_LOCK "images.lock"
#define STORE_LOCK "store.lock"
#define TMP_PREFIX ".tmp-"

int image_store_open(const char *root, ImageStore **ret) {
        _cleanup_(image_store_freep) ImageStore *s = NULL;
        int r;

        if (!root)
                root = IMAGE_STORE_DEFAULT_ROOT;
        if (root[0] != '/')
                return -EINVAL;

        s = new0(ImageStore, 1);
        if (!s)
                return -ENOMEM;
        s->root_fd = s->blobs_fd = s->layers_fd = -EBADF;
        image_limits_fill(&s->limits, NULL);
        s->root = strdup(root);
        if (!s->root)
                return -ENOMEM;

        r = mkdir_p(root, 0700);
        if (r < 0)
                return r;
        s->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->root_fd < 0)
                return -errno;
        static const char *const dirs[] = { "blobs", "blobs/sha256", "layers" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (mkdirat(s->root_fd, dirs[i], 0700) < 0 && errno != EEXIST)
                        return -errno;
        s->blobs_fd = openat(s->root_fd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s->blobs_fd < 0)
                return -errno;
        s->layers_fd = openat(s->root_fd, "layers", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s->layers_fd < 0)
                return -errno;

        *ret = TAKE_PTR(s);
        return 0;
}

ImageStore *image_store_free(ImageStore *s) {
        if (!s)
                return NULL;
        safe_close(s->root_fd);
        safe_close(s->blobs_fd);
        safe_close(s->layers_fd);
        free(s->root);
        return mfree(s);
}

const char *image_store_root(const ImageStore *s) {
        return s->root;
}

void image_store_set_limits(ImageStore *s, const ImageLimits *limits) {
        image_limits_fill(&s->limits, limits);
}

int store_lock(ImageStore *s, const char *name, int op) {
        _cleanup_close_ int fd = openat(s->root_fd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        while (flock(fd, op) < 0)
                if (errno != EINTR)
                        return -errno;
        return TAKE_FD(fd);
}

int tmp_name(char **ret) {
        uint64_t rnd;
        if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
                rnd = ((uint64_t) getpid() << 32) ^ (uint64_t) time(NULL) ^ (uint64_t) random();
        *ret = strprintf(TMP_PREFIX "%d-%016" PRIx64, (int) getpid(), rnd);
        return *ret ? 0 : -ENOMEM;
}

/* ---- blobs ---- */

bool blob_exists(ImageStore *s, const char *digest) {
        return digest_is_valid(digest) &&
                faccessat(s->blobs_fd, digest_hex(digest), F_OK, AT_SYMLINK_NOFOLLOW) >= 0;
}

int blob_open(ImageStore *s, const char *digest) {
        if (!digest_is_valid(digest))
                return -EINVAL;
        return RET_NERRNO(openat(s->blobs_fd, digest_hex(digest), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
}

int blob_read(ImageStore *s, const char *digest, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = blob_open(s, digest);
        if (fd < 0)
                return fd;
        return read_full_fd(fd, ret, ret_size, s->limits.max_json_bytes);
}

int blob_size(ImageStore *s, const char *digest, uint64_t *ret) {
        struct stat st;
        if (!digest_is_valid(digest))
                return -EINVAL;
        if (fstatat(s->blobs_fd, digest_hex(digest), &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        *ret = (uint64_t) st.st_size;
        return 0;
}

void blob_writer_done(BlobWriter *w) {
        w->fd = safe_close(w->fd);
        if (w->tmp) {
                (void) unlinkat(w->s->blobs_fd, w->tmp, 0);
                w->tmp = mfree(w->tmp);
        }
        if (w->hash) {
                sym_EVP_MD_CTX_free(w->hash);
                w->hash = NULL;
        }
}

int blob_writer_begin(ImageStore *s, BlobWriter *w) {
        int r;

        *w = (BlobWriter){ .s = s, .fd = -EBADF };
        r = sha256_new(&w->hash);
        if (r < 0)
                return r;
        /* An unnamed file: a killed import leaves nothing behind */
        w->fd = openat(s->blobs_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
        if (w->fd >= 0)
                return 0;
        if (!IN_SET(errno, EOPNOTSUPP, EISDIR, EINVAL)) {
                r = -errno;
                blob_writer_done(w);
                return r;
        }
        /* No O_TMPFILE on this file system: a named temporary, locked so gc knows it is in use */
        r = tmp_name(&w->tmp);
        if (r >= 0) {
                w->fd = openat(s->blobs_fd, w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                               0644);
                if (w->fd < 0)
                        r = -errno;
                else if (flock(w->fd, LOCK_EX | LOCK_NB) < 0)
                        r = -errno;
        }
        if (r < 0) {
                blob_writer_done(w);
                return r;
        }
        return 0;
}

int blob_writer_write(BlobWriter *w, const void *p, size_t n) {
        int r = sha256_update(w->hash, p, n);
        if (r < 0)
                return r;
        r = loop_write(w->fd, p, n);
        if (r < 0)
                return r;
        w->size += n;
        return 0;
}

int blob_writer_commit(BlobWriter *w, const char *expected, char **ret_digest, ImageError *error) {
        _cleanup_free_ char *digest = NULL;
        int r;

        r = sha256_final_digest(w->hash, &digest);
        if (r < 0)
                return r;
        if (expected && !streq(expected, digest))
                return image_error_set(error, -EBADMSG, expected, "digest mismatch: expected %s, got %s",
                                       expected, digest);
        if (fsync(w->fd) < 0)
                return -errno;
        if (w->tmp) {
                if (renameat(w->s->blobs_fd, w->tmp, w->s->blobs_fd, digest_hex(digest)) < 0)
                        return -errno;
                w->tmp = mfree(w->tmp);
        } else {
                _cleanup_free_ char *proc = strprintf("/proc/self/fd/%d", w->fd);
                if (!proc)
                        return -ENOMEM;
                if (linkat(AT_FDCWD, proc, w->s->blobs_fd, digest_hex(digest), AT_SYMLINK_FOLLOW) < 0 &&
                    errno != EEXIST)
                        return -errno;
        }
        (void) fsync(w->s->blobs_fd);
        if (ret_digest)
                *ret_digest = TAKE_PTR(digest);
        return 0;
}

int blob_ingest_fd(ImageStore *s, int fd, const char *expected, char **ret_digest, uint64_t *ret_bytes,
                   ImageError *error) {
        _cleanup_(blob_writer_done) BlobWriter w = { .fd = -EBADF };
        _cleanup_free_ char *buf = NULL;
        int r;

        if (expected && blob_exists(s, expected)) {
                if (ret_digest) {
                        *ret_digest = strdup(expected);
                        if (!*ret_digest)
                                return -ENOMEM;
                }
                if (ret_bytes)
                        *ret_bytes = 0;
                return 0;
        }

        r = blob_writer_begin(s, &w);
        if (r < 0)
                return r;
        buf = malloc(128 * 1024);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf, 128 * 1024);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                r = blob_writer_write(&w, buf, (size_t) n);
                if (r < 0)
                        return r;
        }
        r = blob_writer_commit(&w, expected, ret_digest, error);
        if (r < 0)
                return r;
        if (ret_bytes)
                *ret_bytes = w.size;
        return 0;
}

int blob_ingest_data(ImageStore *s, const void *data, size_t size, char **ret_digest) {
        _cleanup_(blob_writer_done) BlobWriter w = { .fd = -EBADF };
        int r = blob_writer_begin(s, &w);
        if (r < 0)
                return r;
        r = blob_writer_write(&w, data, size);
        if (r < 0)
                return r;
        return blob_writer_commit(&w, NULL, ret_digest, NULL);
}

/* ---- layers ---- */

bool layer_exists(ImageStore *s, const char *diff_id) {
        struct stat st;
        return digest_is_valid(diff_id) &&
                fstatat(s->layers_fd, digest_hex(diff_id), &st, AT_SYMLINK_NOFOLLOW) >= 0 &&
                S_ISDIR(st.st_mode);
}

/* Unpacks a blob into layers/.tmp-*, checks its diff_id against expected (if given), and renames it into
 * place. Returns 1 if the layer was already present (someone else won the race), 0 if unpacked. */
int layer_unpack(ImageStore *s, const char *blob_digest, const char *expected, char **ret_diff_id,
                 ImageImportStats *stats, ImageProgressFn progress, void *userdata, const char *label,
                 ImageError *error) {
        return layer_unpack_above(s, blob_digest, expected, NULL, 0, ret_diff_id, stats, progress, userdata,
                                  label, error);
}

int layer_unpack_above(ImageStore *s, const char *blob_digest, const char *expected, const int *lower_fds,
                       size_t n_lowers, char **ret_diff_id, ImageImportStats *stats,
                       ImageProgressFn progress, void *userdata, const char *label, ImageError *error) {
        _cleanup_free_ char *tmp = NULL, *diff_id = NULL;
        _cleanup_close_ int dfd = -EBADF, bfd = -EBADF;
        int r;

        if (expected && layer_exists(s, expected))
                return 1;

        bfd = blob_open(s, blob_digest);
        if (bfd < 0)
                return image_error_set(error, bfd, blob_digest, "layer blob missing from the store");

        r = tmp_name(&tmp);
        if (r < 0)
                return r;
        if (mkdirat(s->layers_fd, tmp, 0700) < 0)
                return -errno;
        dfd = openat(s->layers_fd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0) {
                r = -errno;
                goto fail;
        }
        /* Held until we are done: image_gc() skips temporaries that are locked */
        if (flock(dfd, LOCK_EX | LOCK_NB) < 0) {
                r = -errno;
                goto fail;
        }

        r = unpack_layer_progress(bfd, dfd, lower_fds, n_lowers, &s->limits, &diff_id, stats, progress,
                                  userdata, label, error);
        if (r < 0) {
                (void) image_error_set(error, r, blob_digest, NULL);
                goto fail;
        }
        if (expected && !streq(expected, diff_id)) {
                r = image_error_set(error, -EBADMSG, blob_digest,
                                    "layer diff_id mismatch: expected %s, got %s", expected, diff_id);
                goto fail;
        }
        if (syncfs(dfd) < 0) {
                r = -errno;
                goto fail;
        }
        /* shared by import, pull and commit; the fault walk reaches it by import */
        FAULT_POINT("store.layer-unpacked");
        if (renameat(s->layers_fd, tmp, s->layers_fd, digest_hex(diff_id)) < 0) {
                if (!IN_SET(errno, EEXIST, ENOTEMPTY)) {
                        r = -errno;
                        goto fail;
                }
                (void) rm_rf_at(s->layers_fd, tmp);
                r = 1;
        } else
                r = 0;
        (void) fsync(s->layers_fd);
        if (ret_diff_id)
                *ret_diff_id = TAKE_PTR(diff_id);
        return r;

fail:
        (void) rm_rf_at(s->layers_fd, tmp);
        return r;
}

/* ---- the index ---- */

int index_load(ImageStore *s, json_object **ret) {
        _cleanup_free_ char *data = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        size_t size;
        int r;

        r = read_full_file_at(s->root_fd, INDEX_FILE, &data, &size, 64 << 20);
        if (r == -ENOENT) {
                o = json_object_new_object();
                if (!o)
                        return -ENOMEM;
        } else if (r < 0)
                return r;
        else {
                r = json_parse_bounded(data, size, 64 << 20, &o, NULL, INDEX_FILE);
                if (r < 0)
                        return r;
                if (!json_object_is_type(o, json_type_object))
                        return -EBADMSG;
        }
        if (!json_get_object(o, "images")) {
                json_object *images = json_object_new_object();
                if (!images || json_object_object_add(o, "images", images) < 0) {
                        json_object_put(images);
                        return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(o);
        return 0;
}

int index_save(ImageStore *s, json_object *o) {
        const char *text =
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                return -ENOMEM;
        _cleanup_free_ char *data = strjoin(text, "\n");
        if (!data)
                return -ENOMEM;
        int r = write_file_atomic_at(s->root_fd, INDEX_FILE, data, strlen(data), 0600);
        if (r < 0)
                return r;
        (void) fsync(s->root_fd);
        return 0;
}

int index_lock(ImageStore *s) {
        return store_lock(s, INDEX_LOCK, LOCK_EX);
}

int index_lock_load(ImageStore *s, int *ret_lock, json_object **ret_index) {
        _cleanup_close_ int lock = -EBADF;
        int r;

        lock = index_lock(s);
        if (lock < 0)
                return lock;
        r = index_load(s, ret_index);
        if (r < 0)
                return r;
        *ret_lock = TAKE_FD(lock);
        return 0;
}

int store_lock_shared(ImageStore *s) {
        return store_lock(s, STORE_LOCK, LOCK_SH);
}

int image_store_lock_use(ImageStore *s) {
        return store_lock_shared(s);
}

int store_lock_exclusive(ImageStore *s) {
        return store_lock(s, STORE_LOCK, LOCK_EX);
}

/* Removes stale temporaries (those no live importer holds a lock on) in one directory */
int remove_stale_tmps(int dfd, unsigned *count) {
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_at(dfd, ".", 0, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!startswith(de->d_name, TMP_PREFIX))
                        continue;
                _cleanup_close_ int tfd =
                        openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
                if (tfd < 0)
                        continue;
                if (flock(tfd, LOCK_EX | LOCK_NB) < 0)
                        continue; /* in use */
                if (rm_rf_at(dfd, de->d_name) >= 0 && count)
                        (*count)++;
        }
        return 0;
}
