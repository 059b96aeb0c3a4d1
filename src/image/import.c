/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Importers: OCI layout directory, oci-archive, docker-archive, plain rootfs tarball.
 *
 * Archives are read twice with libarchive: a first pass over the headers decides what the archive is, a
 * second pass copies its members into the blob store (hashing on the way; members named by digest are
 * verified against their name). After that, all formats go the same way: a manifest (synthesized for
 * docker-archive and rootfs tarballs) names a config and layer blobs; each layer is unpacked once per
 * diff_id; the index gets NAME:TAG → manifest digest. Nothing from an archive is written anywhere but into
 * blobs (by digest) and layers (through the safe unpacker). */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "fd-util.h"
#include "fileio.h"
#include "archive-dl.h"
#include "image-internal.h"
#include "store.h"
#include "string-util.h"
#include "time-util.h"

#define MEDIA_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MEDIA_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"

typedef enum SourceKind {
        SOURCE_OCI_DIR,
        SOURCE_OCI_ARCHIVE,
        SOURCE_DOCKER_ARCHIVE,
        SOURCE_IMAGE_ARCHIVE, /* one of the two above, until all of it was read */
        SOURCE_ROOTFS,
} SourceKind;

typedef struct Source {
        SourceKind kind;
        const char *path;
        int dir_fd; /* SOURCE_OCI_DIR */

        /* archive members copied into the store: name → digest; links: name → target name */
        char **member_names, **member_digests;
        char **link_names, **link_targets;

        char *index_json, *manifest_json;
        size_t index_json_size, manifest_json_size;
        bool has_oci_layout;
} Source;

static bool endswith(const char *s, const char *suffix) {
        size_t l = strlen(s), k = strlen(suffix);
        return l >= k && streq(s + l - k, suffix);
}

static void source_done(Source *src) {
        src->dir_fd = safe_close(src->dir_fd);
        strv_free(src->member_names);
        strv_free(src->member_digests);
        strv_free(src->link_names);
        strv_free(src->link_targets);
        free(src->index_json);
        free(src->manifest_json);
}

/* Archive member names, relative: "./a//b" → "a/b". NULL for names with ".." or empty ones. */
static char *member_name(const char *p) {
        if (!p)
                return NULL;
        while (*p == '/' || (p[0] == '.' && p[1] == '/'))
                p += (*p == '/') ? 1 : 2;
        _cleanup_free_ char *s = strdup(p);
        if (!s)
                return NULL;
        char *w = s;
        for (const char *r = s; *r; r++) {
                if (*r == '/' && (w == s || w[-1] == '/'))
                        continue;
                *w++ = *r;
        }
        while (w > s && w[-1] == '/')
                w--;
        *w = 0;
        if (!*s || streq(s, "..") || startswith(s, "../") || strstr(s, "/../") ||
            (strlen(s) >= 3 && streq(s + strlen(s) - 3, "/..")))
                return NULL;
        return TAKE_PTR(s);
}

static const char *source_member_digest(Source *src, const char *name) {
        _cleanup_free_ char *n = member_name(name);
        if (!n)
                return NULL;
        for (unsigned hops = 0; hops < 8; hops++) {
                size_t i = 0;
                STRV_FOREACH (m, src->member_names) {
                        if (streq(*m, n))
                                return src->member_digests[i];
                        i++;
                }
                /* Docker (before 25) links identical layers: "<id>/layer.tar -> ../<id2>/layer.tar" */
                bool found = false;
                i = 0;
                STRV_FOREACH (l, src->link_names) {
                        if (streq(*l, n)) {
                                char *t = strdup(src->link_targets[i]);
                                if (!t)
                                        return NULL;
                                free(n);
                                n = t;
                                found = true;
                                break;
                        }
                        i++;
                }
                if (!found)
                        return NULL;
        }
        return NULL;
}

static struct archive *archive_open_path(const char *path, ImageError *error) {
        struct archive *a;

        if (image_dlopen_archive(error) < 0)
                return NULL;
        a = sym_archive_read_new();
        if (!a)
                return NULL;
        if (image_archive_support_filters(a) < 0 || sym_archive_read_support_format_tar(a) != ARCHIVE_OK ||
            sym_archive_read_open_filename(a, path, 128 * 1024) != ARCHIVE_OK) {
                (void) image_error_set(error, -EBADMSG, path, "not a readable archive: %s",
                                       sym_archive_error_string(a) ?: "unknown error");
                sym_archive_read_free(a);
                return NULL;
        }
        return a;
}

/* true for names only image archives have: OCI layout files, docker's manifest.json and repositories,
 * blobs/…, and the "<64 hex>/…", "<64 hex>.json", "<64 hex>.tar" of docker save and skopeo */
static bool image_archive_name(const char *n) {
        if (streq(n, "index.json") || streq(n, "oci-layout") || streq(n, "manifest.json") ||
            streq(n, "repositories") || streq(n, "blobs") || startswith(n, "blobs/"))
                return true;
        size_t l = strspn(n, "0123456789abcdef");
        return l == 64 && IN_SET(n[64], 0, '/', '.');
}

/* Pass 1: an image archive (oci-archive, docker-archive) or a rootfs tarball? Looks at the first few
 * headers only, and stops before skipping over anything large, so a rootfs tarball (or a bomb) is not
 * decompressed twice just to find out. Which image archive it is, pass 2 tells. */
static int archive_detect(Source *src, ImageError *error) {
        struct archive *a;
        struct archive_entry *e;
        int r;

        r = image_dlopen_archive(error);
        if (r < 0)
                return r;
        a = archive_open_path(src->path, error);
        if (!a)
                return image_error_set(error, -EBADMSG, src->path, "not a readable archive");
        src->kind = SOURCE_ROOTFS;
        for (unsigned i = 0; i < 16; i++) {
                r = sym_archive_read_next_header(a, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN) {
                        /* Not even one header: not an archive. A later error is the unpacker's to report,
                         * with the entry it happened in. */
                        if (i == 0) {
                                r = image_error_set(error, -EBADMSG, src->path, "not a readable archive: %s",
                                                    sym_archive_error_string(a) ?: "unknown error");
                                sym_archive_read_free(a);
                                return r;
                        }
                        break;
                }
                _cleanup_free_ char *n = member_name(sym_archive_entry_pathname(e));
                if (n && image_archive_name(n)) {
                        src->kind = SOURCE_IMAGE_ARCHIVE;
                        break;
                }
                if (sym_archive_entry_size(e) > (1 << 20))
                        break;
        }
        sym_archive_read_free(a);
        return 0;
}

static int read_member(struct archive *a, struct archive_entry *e, size_t max, char **ret, size_t *ret_size,
                       const char *name, ImageError *error) {
        int64_t size = sym_archive_entry_size(e);
        if (size < 0 || (uint64_t) size > max)
                return image_error_set(error, -EFBIG, name, "archive member too large");
        _cleanup_free_ char *buf = malloc((size_t) size + 1);
        if (!buf)
                return -ENOMEM;
        la_ssize_t n = sym_archive_read_data(a, buf, (size_t) size);
        if (n != (la_ssize_t) size)
                return image_error_set(error, -EBADMSG, name, "cannot read archive member: %s",
                                       sym_archive_error_string(a) ?: "short read");
        buf[size] = 0;
        free(*ret);
        *ret = TAKE_PTR(buf);
        *ret_size = (size_t) size;
        return 0;
}

/* The next block of the archive's current member, which must continue at done (a blob has no holes):
 * 1 with the block, 0 at the member's end */
static int read_member_block(struct archive *a, uint64_t done, const char *name, const void **ret_buf,
                             size_t *ret_size, ImageError *error) {
        la_int64_t offset;
        int r;

        r = sym_archive_read_data_block(a, ret_buf, ret_size, &offset);
        if (r == ARCHIVE_EOF)
                return 0;
        if (r < ARCHIVE_WARN)
                return image_error_set(error, -EBADMSG, name, "cannot read archive member: %s",
                                       sym_archive_error_string(a) ?: "corrupt");
        if ((uint64_t) offset != done)
                return image_error_set(error, -EBADMSG, name, "sparse archive members are not blobs");
        return 1;
}

static int ingest_member(ImageStore *s, struct archive *a, const char *expected, char **ret_digest,
                         ImageImportStats *stats, const char *name, ImageError *error) {
        _cleanup_(blob_writer_done) BlobWriter w = { .fd = -EBADF };
        int r;

        if (expected && blob_exists(s, expected)) {
                *ret_digest = strdup(expected);
                return *ret_digest ? 0 : -ENOMEM;
        }
        r = blob_writer_begin(s, &w);
        if (r < 0)
                return r;
        for (;;) {
                const void *buf;
                size_t size;
                r = read_member_block(a, w.size, name, &buf, &size, error);
                if (r <= 0) {
                        if (r < 0)
                                return r;
                        break;
                }
                r = blob_writer_write(&w, buf, size);
                if (r < 0)
                        return r;
        }
        r = blob_writer_commit(&w, expected, ret_digest, error);
        if (r < 0)
                return image_error_set(error, r, name, NULL);
        if (stats)
                stats->blob_bytes += w.size;
        return 0;
}

static la_ssize_t gzip_write_cb(struct archive *a, void *userdata, const void *buf, size_t n) {
        int r = blob_writer_write(userdata, buf, n);
        if (r < 0) {
                sym_archive_set_error(a, -r, "cannot write blob");
                return -1;
        }
        return (la_ssize_t) n;
}

/* A docker-archive layer (an uncompressed tar, not under blobs/) goes into the store gzip-compressed: the
 * store keeps its unpacked tree anyway, and an uncompressed copy beside it would double what the layer
 * costs. Level 1 and no timestamp: fast, and the same member always gives the same blob (and so the same
 * synthesized manifest). The unpacker checks the config's diff_id against the decompressed stream. */
static bool magic_is_compressed(const void *p, size_t n) {
        const uint8_t *m = p;
        return n >= 4 &&
                ((m[0] == 0x1f && m[1] == 0x8b) ||                                 /* gzip */
                 (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) || /* zstd */
                 (m[0] == 0xfd && m[1] == '7' && m[2] == 'z' && m[3] == 'X'));     /* xz */
}

static int gzip_begin(struct archive **ret, BlobWriter *w, const char *name, ImageError *error) {
        struct archive *a = sym_archive_write_new();
        struct archive_entry *e = sym_archive_entry_new();
        int r = 0;

        if (!a || !e) {
                r = -ENOMEM;
                goto finish;
        }
        /* ARCHIVE_WARN from add_filter_gzip means an external gzip program: never */
        if (sym_archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
            sym_archive_write_set_filter_option(a, "gzip", "compression-level", "1") != ARCHIVE_OK ||
            sym_archive_write_set_filter_option(a, "gzip", "timestamp", NULL) != ARCHIVE_OK ||
            sym_archive_write_set_format_raw(a) != ARCHIVE_OK ||
            sym_archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
            sym_archive_write_open2(a, w, NULL, gzip_write_cb, NULL, NULL) != ARCHIVE_OK) {
                r = image_error_set(error, -EOPNOTSUPP, name, "cannot compress layer: %s",
                                    sym_archive_error_string(a) ?: "libarchive without zlib");
                goto finish;
        }
        sym_archive_entry_set_filetype(e, AE_IFREG);
        sym_archive_entry_set_pathname(e, "layer.tar");
        if (sym_archive_write_header(a, e) != ARCHIVE_OK) {
                r = image_error_set(error, -EIO, name, "cannot compress layer: %s",
                                    sym_archive_error_string(a) ?: "unknown error");
                goto finish;
        }
        *ret = TAKE_PTR(a);
finish:
        if (e)
                sym_archive_entry_free(e);
        if (a)
                sym_archive_write_free(a);
        return r;
}

/* A docker-archive layer (an uncompressed tar, not under blobs/) goes into the store gzip-compressed: the
 * store keeps its unpacked tree anyway, and an uncompressed copy beside it would double what the layer
 * costs. Level 1 and no timestamp: fast, and the same member always gives the same blob (and so the same
 * synthesized manifest). A member compressed already is kept as it is. The unpacker checks the config's
 * diff_id against the decompressed stream. */
static int ingest_member_gzip(ImageStore *s, struct archive *in, char **ret_digest, ImageImportStats *stats,
                              const char *name, ImageError *error) {
        _cleanup_(blob_writer_done) BlobWriter w = { .fd = -EBADF };
        struct archive *a = NULL;
        uint64_t done = 0;
        int r;

        r = blob_writer_begin(s, &w);
        if (r < 0)
                return r;
        for (;;) {
                const void *buf;
                size_t size;
                r = read_member_block(in, done, name, &buf, &size, error);
                if (r < 0)
                        goto finish;
                if (r == 0)
                        break;
                if (done == 0 && !magic_is_compressed(buf, size)) {
                        r = gzip_begin(&a, &w, name, error);
                        if (r < 0)
                                goto finish;
                }
                done += size;
                if (!a) {
                        r = blob_writer_write(&w, buf, size);
                        if (r < 0)
                                goto finish;
                } else if (sym_archive_write_data(a, buf, size) != (la_ssize_t) size) {
                        r = image_error_set(error, -EIO, name, "cannot compress layer: %s",
                                            sym_archive_error_string(a) ?: "short write");
                        goto finish;
                }
        }
        if (a && sym_archive_write_close(a) != ARCHIVE_OK) {
                r = image_error_set(error, -EIO, name, "cannot compress layer: %s",
                                    sym_archive_error_string(a) ?: "unknown error");
                goto finish;
        }
        r = blob_writer_commit(&w, NULL, ret_digest, error);
        if (r < 0) {
                (void) image_error_set(error, r, name, NULL);
                goto finish;
        }
        if (stats)
                stats->blob_bytes += w.size;
        r = 0;
finish:
        if (a)
                sym_archive_write_free(a);
        return r;
}

/* Pass 2: copy the members that matter into the store */
static int archive_ingest(ImageStore *s, Source *src, ImageImportStats *stats, ImageError *error) {
        struct archive *a = archive_open_path(src->path, error);
        struct archive_entry *e;
        int r = 0;

        if (!a)
                return image_error_set(error, -EBADMSG, src->path, "not a readable archive");
        for (;;) {
                r = sym_archive_read_next_header(a, &e);
                if (r == ARCHIVE_EOF) {
                        r = 0;
                        break;
                }
                if (r < ARCHIVE_WARN) {
                        r = image_error_set(error, -EBADMSG, src->path, "corrupt archive: %s",
                                            sym_archive_error_string(a) ?: "unknown error");
                        break;
                }
                _cleanup_free_ char *n = member_name(sym_archive_entry_pathname(e));
                if (!n)
                        continue;
                mode_t type = sym_archive_entry_filetype(e);
                const char *hl = sym_archive_entry_hardlink(e);

                if (hl || type == AE_IFLNK) {
                        /* Symlink targets are relative to the link's directory, hardlink targets to the root
                         */
                        _cleanup_free_ char *t = NULL;
                        if (hl)
                                t = member_name(hl);
                        else {
                                const char *target = sym_archive_entry_symlink(e);
                                _cleanup_free_ char *dir = strdup(n);
                                if (!dir || !target) {
                                        r = -ENOMEM;
                                        break;
                                }
                                char *slash = strrchr(dir, '/');
                                if (slash)
                                        *slash = 0;
                                _cleanup_free_ char *joined = target[0] == '/' ? strdup(target)
                                        : slash                                ? strjoin(dir, "/", target)
                                                                               : strdup(target);
                                /* resolve "x/../y" lexically */
                                if (joined) {
                                        _cleanup_strv_free_ char **parts = NULL;
                                        for (char *p = joined, *sv = NULL, *tok;
                                             (tok = strtok_r(p, "/", &sv)); p = NULL) {
                                                if (streq(tok, "."))
                                                        continue;
                                                if (streq(tok, "..")) {
                                                        size_t k = strv_length(parts);
                                                        if (k > 0)
                                                                parts[k - 1] = mfree(parts[k - 1]);
                                                        continue;
                                                }
                                                if (strv_extend(&parts, tok) < 0)
                                                        break;
                                        }
                                        t = parts ? strv_join(parts, "/") : NULL;
                                }
                        }
                        if (t &&
                            (strv_extend(&src->link_names, n) < 0 ||
                             strv_extend(&src->link_targets, t) < 0)) {
                                r = -ENOMEM;
                                break;
                        }
                        continue;
                }
                if (type != AE_IFREG)
                        continue;

                if (streq(n, "index.json")) {
                        r = read_member(a, e, s->limits.max_json_bytes, &src->index_json,
                                        &src->index_json_size, n, error);
                        if (r < 0)
                                break;
                        continue;
                }
                if (streq(n, "manifest.json")) {
                        r = read_member(a, e, s->limits.max_json_bytes, &src->manifest_json,
                                        &src->manifest_json_size, n, error);
                        if (r < 0)
                                break;
                        continue;
                }
                if (streq(n, "oci-layout")) {
                        src->has_oci_layout = true;
                        continue;
                }

                _cleanup_free_ char *expected = NULL, *digest = NULL;
                const char *h = startswith(n, "blobs/sha256/");
                if (h && hex64_is_valid(h)) {
                        expected = strjoin(DIGEST_PREFIX, h);
                        if (!expected) {
                                r = -ENOMEM;
                                break;
                        }
                } else if (!(endswith(n, ".tar") || endswith(n, ".json") || endswith(n, ".tar.gz")))
                        continue;
                if (!expected && endswith(n, ".tar"))
                        r = ingest_member_gzip(s, a, &digest, stats, n, error);
                else
                        r = ingest_member(s, a, expected, &digest, stats, n, error);
                if (r < 0)
                        break;
                if (strv_extend(&src->member_names, n) < 0 ||
                    strv_consume(&src->member_digests, TAKE_PTR(digest)) < 0) {
                        r = -ENOMEM;
                        break;
                }
        }
        sym_archive_read_free(a);
        return r;
}

/* Makes sure the blob is in the store (copying it from an OCI layout directory, verified) */
static int source_get_blob(ImageStore *s, Source *src, const char *digest, ImageImportStats *stats,
                           ImageError *error) {
        if (!digest_is_valid(digest))
                return image_error_set(error, -EBADMSG, digest, "invalid digest");
        if (blob_exists(s, digest))
                return 0;
        if (src->kind != SOURCE_OCI_DIR)
                return image_error_set(error, -ENOENT, digest, "blob missing from the archive");

        _cleanup_free_ char *p = strjoin("blobs/sha256/", digest_hex(digest));
        if (!p)
                return -ENOMEM;
        _cleanup_close_ int fd = openat(src->dir_fd, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return image_error_set(error, -errno, p, "blob missing from the image layout");
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return image_error_set(error, -EBADMSG, p, "blob is not a regular file");
        uint64_t bytes = 0;
        int r = blob_ingest_fd(s, fd, digest, NULL, &bytes, error);
        if (r < 0)
                return image_error_set(error, r, p, NULL);
        if (stats)
                stats->blob_bytes += bytes;
        return 0;
}

static char *ref_from_docker_name(const char *n) {
        const char *p = startswith(n, "docker.io/library/") ?: startswith(n, "docker.io/") ?: n;
        char *r = NULL;
        if (image_ref_normalize(p, &r) < 0)
                return NULL;
        return r;
}

/* "busybox.tar.gz" → "busybox:latest"; NULL if nothing usable is left */
static char *ref_from_path(const char *path) {
        _cleanup_free_ char *copy = strdup(path), *name = NULL;
        if (!copy)
                return NULL;
        size_t l = strlen(copy);
        while (l > 1 && copy[l - 1] == '/')
                copy[--l] = 0;
        const char *base = strrchr(copy, '/') ? strrchr(copy, '/') + 1 : copy;
        name = strdup(base);
        if (!name)
                return NULL;
        static const char *const suffixes[] = {
                ".tar.gz", ".tar.xz", ".tar.zst", ".tar.bz2", ".tgz", ".txz",
                ".tzst",   ".tar",    ".gz",      ".xz",      ".zst", ".oci"
        };
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
                if (endswith(name, suffixes[i])) {
                        name[strlen(name) - strlen(suffixes[i])] = 0;
                        break;
                }
        for (char *p = name; *p; p++) {
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char) (*p - 'A' + 'a');
                else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                           IN_SET(*p, '.', '_', '-')))
                        *p = '-';
        }
        char *r = NULL;
        if (isempty(name) || image_ref_normalize(name, &r) < 0)
                return NULL;
        return r;
}

/* OCI: choose the manifest from index.json. want is the normalized NAME:TAG the user gave (or NULL). */
static int oci_pick(ImageStore *s, Source *src, const char *want, char **ret_manifest, char **ret_ref,
                    ImageImportStats *stats, ImageError *error) {
        _cleanup_(json_object_putp) json_object *index = NULL;
        _cleanup_free_ char *digest = NULL, *ref = NULL;
        int r;

        if (!src->index_json)
                return image_error_set(error, -EBADMSG, "index.json", "OCI layout without index.json");
        r = json_parse_bounded(src->index_json, src->index_json_size, s->limits.max_json_bytes, &index,
                               error, "index.json");
        if (r < 0)
                return r;
        json_object *manifests = json_get_array(index, "manifests");
        size_t n = manifests ? json_object_array_length(manifests) : 0;
        if (n == 0)
                return image_error_set(error, -EBADMSG, "index.json", "image index lists no manifests");

        const char *want_tag = want ? strrchr(want, ':') + 1 : NULL;
        json_object *chosen = NULL;
        for (size_t i = 0; i < n && want; i++) {
                json_object *m = json_object_array_get_idx(manifests, i);
                json_object *ann = json_get_object(m, "annotations");
                const char *rn = json_get_string(ann, "org.opencontainers.image.ref.name");
                const char *cn = json_get_string(ann, "io.containerd.image.name");
                _cleanup_free_ char *full = NULL;
                if (cn)
                        full = ref_from_docker_name(cn);
                else if (rn && (strchr(rn, ':') || strchr(rn, '/')))
                        full = ref_from_docker_name(rn);
                if ((full && streq(full, want)) || (!full && rn && streq(rn, want_tag))) {
                        chosen = m;
                        break;
                }
        }
        if (!chosen) {
                if (n > 1)
                        return image_error_set(error, -ENOENT, want ?: "index.json",
                                               want ? "no image of that name in the index (%zu images)"
                                                    : "the index lists %zu images: name one with NAME:TAG",
                                               n);
                chosen = json_object_array_get_idx(manifests, 0);
        }

        /* Name: the user's, else the annotations, else the file name with the annotation's tag */
        json_object *ann = json_get_object(chosen, "annotations");
        const char *rn = json_get_string(ann, "org.opencontainers.image.ref.name");
        const char *cn = json_get_string(ann, "io.containerd.image.name");
        if (want)
                ref = strdup(want);
        else if (cn)
                ref = ref_from_docker_name(cn);
        else if (rn && (strchr(rn, ':') || strchr(rn, '/')))
                ref = ref_from_docker_name(rn);
        else {
                _cleanup_free_ char *base = ref_from_path(src->path);
                if (base && rn) {
                        *strrchr(base, ':') = 0;
                        _cleanup_free_ char *j = strjoin(base, ":", rn);
                        if (j)
                                (void) image_ref_normalize(j, &ref);
                } else
                        ref = TAKE_PTR(base);
        }
        if (!ref)
                return image_error_set(error, -EINVAL, src->path,
                                       "cannot derive an image name: give NAME:TAG");

        const char *d = json_get_string(chosen, "digest");
        if (!digest_is_valid(d))
                return image_error_set(error, -EBADMSG, "index.json",
                                       "manifest descriptor without a valid digest");
        digest = strdup(d);
        if (!digest)
                return -ENOMEM;

        /* Follow nested indexes (multi-platform images) to the manifest for this host */
        for (unsigned depth = 0;; depth++) {
                _cleanup_free_ char *data = NULL;
                _cleanup_(json_object_putp) json_object *o = NULL;
                size_t size;

                if (depth > 4)
                        return image_error_set(error, -ELOOP, digest, "image indexes nested too deep");
                r = source_get_blob(s, src, digest, stats, error);
                if (r < 0)
                        return r;
                r = blob_read(s, digest, &data, &size);
                if (r < 0)
                        return image_error_set(error, r, digest, "cannot read manifest");
                r = json_parse_bounded(data, size, s->limits.max_json_bytes, &o, error, digest);
                if (r < 0)
                        return r;
                if (!image_json_is_index(o))
                        break;
                free(digest);
                digest = NULL;
                r = image_index_pick_platform(o, &digest, error);
                if (r < 0)
                        return r;
        }

        *ret_manifest = TAKE_PTR(digest);
        *ret_ref = TAKE_PTR(ref);
        return 0;
}

static const char *layer_media_type(ImageStore *s, const char *digest) {
        _cleanup_close_ int fd = blob_open(s, digest);
        uint8_t m[4] = {};
        if (fd < 0 || pread(fd, m, sizeof(m), 0) != sizeof(m))
                return MEDIA_OCI_LAYER;
        if (m[0] == 0x1f && m[1] == 0x8b)
                return MEDIA_OCI_LAYER "+gzip";
        if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
                return MEDIA_OCI_LAYER "+zstd";
        return MEDIA_OCI_LAYER;
}

static json_object *descriptor_new(const char *media_type, const char *digest, uint64_t size) {
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        if (json_object_object_add(o, "mediaType", json_object_new_string(media_type)) < 0 ||
            json_object_object_add(o, "digest", json_object_new_string(digest)) < 0 ||
            json_object_object_add(o, "size", json_object_new_int64((int64_t) size)) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

/* Writes an OCI manifest for a config and layer blobs already in the store; returns its digest */
int synthesize_manifest(ImageStore *s, const char *config_digest, char **layers, char **ret) {
        _cleanup_(json_object_putp) json_object *m = json_object_new_object();
        json_object *arr = json_object_new_array();
        uint64_t size = 0;
        int r;

        if (!m || !arr) {
                json_object_put(arr);
                return -ENOMEM;
        }
        json_object_object_add(m, "layers", arr);
        json_object_object_add(m, "schemaVersion", json_object_new_int(2));
        json_object_object_add(m, "mediaType", json_object_new_string(MEDIA_OCI_MANIFEST));
        r = blob_size(s, config_digest, &size);
        if (r < 0)
                return r;
        json_object *c = descriptor_new(MEDIA_OCI_CONFIG, config_digest, size);
        if (!c)
                return -ENOMEM;
        json_object_object_add(m, "config", c);
        STRV_FOREACH (l, layers) {
                r = blob_size(s, *l, &size);
                if (r < 0)
                        return r;
                json_object *d = descriptor_new(layer_media_type(s, *l), *l, size);
                if (!d || json_object_array_add(arr, d) < 0) {
                        json_object_put(d);
                        return -ENOMEM;
                }
        }
        const char *text =
                json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                return -ENOMEM;
        return blob_ingest_data(s, text, strlen(text), ret);
}

static int docker_pick(ImageStore *s, Source *src, const char *want, char **ret_manifest, char **ret_ref,
                       ImageError *error) {
        _cleanup_(json_object_putp) json_object *arr = NULL;
        _cleanup_strv_free_ char **layers = NULL;
        _cleanup_free_ char *ref = NULL;
        json_object *chosen = NULL;
        int r;

        if (!src->manifest_json)
                return image_error_set(error, -EBADMSG, "manifest.json",
                                       "docker archive without manifest.json");
        r = json_parse_bounded(src->manifest_json, src->manifest_json_size, s->limits.max_json_bytes, &arr,
                               error, "manifest.json");
        if (r < 0)
                return r;
        if (!json_object_is_type(arr, json_type_array) || json_object_array_length(arr) == 0)
                return image_error_set(error, -EBADMSG, "manifest.json", "expected a non-empty array");
        size_t n = json_object_array_length(arr);

        for (size_t i = 0; i < n && want; i++) {
                json_object *m = json_object_array_get_idx(arr, i);
                json_object *tags = json_get_array(m, "RepoTags");
                for (size_t k = 0; tags && k < json_object_array_length(tags) && !chosen; k++) {
                        json_object *t = json_object_array_get_idx(tags, k);
                        if (!json_object_is_type(t, json_type_string))
                                continue;
                        _cleanup_free_ char *norm = ref_from_docker_name(json_object_get_string(t));
                        if (norm && streq(norm, want))
                                chosen = m;
                }
        }
        if (!chosen) {
                if (n > 1)
                        return image_error_set(error, -ENOENT, want ?: "manifest.json",
                                               want ? "no image of that name in the archive (%zu images)"
                                                    : "the archive holds %zu images: name one with NAME:TAG",
                                               n);
                chosen = json_object_array_get_idx(arr, 0);
        }

        if (want)
                ref = strdup(want);
        else {
                json_object *tags = json_get_array(chosen, "RepoTags");
                json_object *t = tags && json_object_array_length(tags) > 0
                        ? json_object_array_get_idx(tags, 0)
                        : NULL;
                if (t && json_object_is_type(t, json_type_string))
                        ref = ref_from_docker_name(json_object_get_string(t));
                if (!ref)
                        ref = ref_from_path(src->path);
        }
        if (!ref)
                return image_error_set(error, -EINVAL, src->path,
                                       "cannot derive an image name: give NAME:TAG");

        const char *config = json_get_string(chosen, "Config");
        const char *config_digest = config ? source_member_digest(src, config) : NULL;
        if (!config_digest)
                return image_error_set(error, -EBADMSG, config ?: "manifest.json",
                                       "config missing from the archive");
        json_object *ls = json_get_array(chosen, "Layers");
        if (!ls)
                return image_error_set(error, -EBADMSG, "manifest.json", "no Layers");
        for (size_t i = 0; i < json_object_array_length(ls); i++) {
                json_object *l = json_object_array_get_idx(ls, i);
                const char *ln = json_object_is_type(l, json_type_string) ? json_object_get_string(l) : NULL;
                const char *d = ln ? source_member_digest(src, ln) : NULL;
                if (!d)
                        return image_error_set(error, -EBADMSG, ln ?: "manifest.json",
                                               "layer missing from the archive");
                if (strv_extend(&layers, d) < 0)
                        return -ENOMEM;
        }

        r = synthesize_manifest(s, config_digest, layers, ret_manifest);
        if (r < 0)
                return r;
        *ret_ref = TAKE_PTR(ref);
        return 0;
}

/* The directory fds of an image's layers, top first */
typedef struct LayerFds {
        int *fds;
        size_t n;
} LayerFds;

static void layer_fds_done(LayerFds *l) {
        for (size_t i = 0; i < l->n; i++)
                safe_close(l->fds[i]);
        free(l->fds);
}

/* With manifest (and so config and layer blobs) in place: unpack what is missing */
static int import_manifest(ImageStore *s, Source *src, const char *manifest_digest, ImageProgressFn progress,
                           void *userdata, ImageImportStats *stats, char **ret_config, uint64_t *ret_size,
                           unsigned *ret_layers, ImageError *error) {
        _cleanup_(layer_fds_done) LayerFds lowers = {};
        _cleanup_(image_manifest_freep) ImageManifest *m = NULL;
        _cleanup_(image_config_freep) ImageConfig *c = NULL;
        _cleanup_free_ char *data = NULL;
        size_t size;
        uint64_t total = 0;
        int r;

        r = source_get_blob(s, src, manifest_digest, stats, error);
        if (r < 0)
                return r;
        r = blob_read(s, manifest_digest, &data, &size);
        if (r < 0)
                return image_error_set(error, r, manifest_digest, "cannot read manifest");
        r = image_manifest_parse(data, size, &m, error);
        if (r < 0)
                return image_error_set(error, r, manifest_digest, NULL);
        data = mfree(data);

        r = source_get_blob(s, src, m->config_digest, stats, error);
        if (r < 0)
                return r;
        r = blob_read(s, m->config_digest, &data, &size);
        if (r < 0)
                return image_error_set(error, r, m->config_digest, "cannot read image config");
        r = image_config_parse(data, size, &c, error);
        if (r < 0)
                return image_error_set(error, r, m->config_digest, NULL);
        if (strv_length(c->diff_ids) != m->n_layers)
                return image_error_set(error, -EBADMSG, m->config_digest,
                                       "config lists %zu diff_ids for %zu layers", strv_length(c->diff_ids),
                                       m->n_layers);

        /* The layers unpacked so far, layer j at fds[n - 1 - j], so that layer i's lowers (nearest first)
         * start at fds[n - i]: a layer may hardlink to their files */
        lowers.fds = new0(int, m->n_layers);
        if (!lowers.fds)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_layers; i++)
                lowers.fds[i] = -EBADF;
        lowers.n = m->n_layers;

        stats->layers = (unsigned) m->n_layers;
        for (size_t i = 0; i < m->n_layers; i++) {
                const char *blob = m->layer_digests[i], *diff_id = c->diff_ids[i];
                uint64_t bsize = 0;

                _cleanup_free_ char *label = strprintf("Layer %zu/%zu %.19s", i + 1, m->n_layers, diff_id);
                if (!label)
                        return -ENOMEM;
                if (progress)
                        progress(label, 0, 0, userdata);
                if (layer_exists(s, diff_id)) {
                        /* Already unpacked: the blob is still kept (verified) for export and push */
                        if (src->kind == SOURCE_OCI_DIR && !blob_exists(s, blob))
                                (void) source_get_blob(s, src, blob, stats, NULL);
                        stats->layers_reused++;
                        if (blob_size(s, blob, &bsize) >= 0)
                                total += bsize;
                } else {
                        r = source_get_blob(s, src, blob, stats, error);
                        if (r < 0)
                                return r;
                        r = layer_unpack_above(s, blob, diff_id, lowers.fds + (m->n_layers - i), i, NULL,
                                               stats, progress, userdata, label, error);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                stats->layers_reused++;
                        else
                                stats->layers_unpacked++;
                        if (blob_size(s, blob, &bsize) >= 0)
                                total += bsize;
                }
                lowers.fds[m->n_layers - i - 1] = openat(s->layers_fd, digest_hex(diff_id),
                                                         O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (lowers.fds[m->n_layers - i - 1] < 0)
                        return image_error_set(error, -errno, diff_id, "cannot open the unpacked layer");
        }
        if (progress)
                progress(NULL, 0, 0, userdata);

        *ret_config = TAKE_PTR(m->config_digest);
        *ret_size = total;
        *ret_layers = (unsigned) m->n_layers;
        return 0;
}

static int import_rootfs(ImageStore *s, Source *src, char **ret_manifest, bool *ret_fresh,
                         ImageProgressFn progress, void *userdata, ImageImportStats *stats,
                         ImageError *error) {
        _cleanup_free_ char *blob = NULL, *diff_id = NULL, *config = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint64_t bytes = 0;
        int r;

        fd = open(src->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return image_error_set(error, -errno, src->path, "cannot open");
        r = blob_ingest_fd(s, fd, NULL, &blob, &bytes, error);
        if (r < 0)
                return image_error_set(error, r, src->path, NULL);
        stats->blob_bytes += bytes;
        FAULT_POINT("import.blob");
        /* A dry run first (hash, limits, path rules: cheap, writes nothing), then unpack only if that
         * layer is not in the store yet */
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        r = unpack_layer_progress(fd, -EBADF, NULL, 0, &s->limits, &diff_id, NULL, progress, userdata,
                                  "Checking the rootfs tarball", error);
        if (r < 0)
                return image_error_set(error, r, src->path, NULL);
        r = layer_unpack(s, blob, diff_id, NULL, stats, progress, userdata, "Unpacking the rootfs tarball",
                         error);
        if (r < 0)
                return image_error_set(error, r, src->path, NULL);
        *ret_fresh = r == 0;

        /* No timestamps: importing the same tarball twice yields the same config and manifest */
        _cleanup_free_ char *json =
                strprintf("{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":{},"
                          "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]},"
                          "\"history\":[{\"created_by\":\"cbox image import (rootfs tarball)\"}]}",
                          image_host_arch(), diff_id);
        if (!json)
                return -ENOMEM;
        r = blob_ingest_data(s, json, strlen(json), &config);
        if (r < 0)
                return r;
        char *layers[] = { blob, NULL };
        return synthesize_manifest(s, config, layers, ret_manifest);
}

static int index_add(ImageStore *s, const char *ref, const char *manifest, const char *config, uint64_t size,
                     unsigned n_layers) {
        _cleanup_close_ int lock = -EBADF;
        _cleanup_(json_object_putp) json_object *index = NULL;
        int r;

        r = index_lock_load(s, &lock, &index);
        if (r < 0)
                return r;
        json_object *e = json_object_new_object();
        if (!e)
                return -ENOMEM;
        json_object_object_add(e, "manifest", json_object_new_string(manifest));
        json_object_object_add(e, "config", json_object_new_string(config));
        json_object_object_add(e, "size", json_object_new_int64((int64_t) size));
        json_object_object_add(e, "layers", json_object_new_int((int) n_layers));
        json_object_object_add(e, "created_usec", json_object_new_int64((int64_t) now_realtime_usec()));
        if (json_object_object_add(json_get_object(index, "images"), ref, e) < 0) {
                json_object_put(e);
                return -ENOMEM;
        }
        return index_save(s, index);
}

int image_import(ImageStore *s, const char *path, const char *ref, ImageProgressFn progress, void *userdata,
                 ImageImportStats *ret_stats, char **ret_ref, ImageError *error) {
        _cleanup_(source_done) Source src = { .path = path, .dir_fd = -EBADF };
        _cleanup_free_ char *want = NULL, *manifest = NULL, *name = NULL, *config = NULL;
        _cleanup_close_ int lock = -EBADF;
        ImageImportStats stats = {};
        struct stat st;
        uint64_t size = 0;
        unsigned n_layers = 0;
        bool fresh = false;
        int r;

        if (ref) {
                r = image_ref_normalize(ref, &want);
                if (r == -EOPNOTSUPP)
                        return image_error_set(error, -EINVAL, ref,
                                               "a digest names what a registry holds (image pull): name an "
                                               "import NAME:TAG");
                if (r < 0)
                        return image_error_set(error, r, ref, "invalid image reference (NAME[:TAG])");
        }
        if (stat(path, &st) < 0)
                return image_error_set(error, -errno, path, "cannot access");

        /* Shared: imports run in parallel, gc waits for them */
        lock = store_lock_shared(s);
        if (lock < 0)
                return lock;
        (void) remove_stale_tmps(s->layers_fd, NULL);

        if (S_ISDIR(st.st_mode)) {
                src.kind = SOURCE_OCI_DIR;
                src.dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (src.dir_fd < 0)
                        return image_error_set(error, -errno, path, "cannot open");
                if (faccessat(src.dir_fd, "oci-layout", F_OK, 0) < 0)
                        return image_error_set(error, -EMEDIUMTYPE, path,
                                               "directory is not an OCI image layout (no oci-layout file)");
                r = read_full_file_at(src.dir_fd, "index.json", &src.index_json, &src.index_json_size,
                                      s->limits.max_json_bytes);
                if (r < 0)
                        return image_error_set(error, r, "index.json",
                                               "cannot read the layout's index.json");
        } else if (S_ISREG(st.st_mode)) {
                r = archive_detect(&src, error);
                if (r < 0)
                        return r;
                if (src.kind == SOURCE_IMAGE_ARCHIVE) {
                        r = archive_ingest(s, &src, &stats, error);
                        if (r < 0)
                                return r;
                        /* Docker 25+ writes both: the OCI side is the complete one */
                        if (src.has_oci_layout && src.index_json)
                                src.kind = SOURCE_OCI_ARCHIVE;
                        else if (src.manifest_json)
                                src.kind = SOURCE_DOCKER_ARCHIVE;
                        else
                                return image_error_set(
                                        error, -EMEDIUMTYPE, path,
                                        "image archive with neither oci-layout + index.json nor "
                                        "manifest.json");
                }
        } else
                return image_error_set(error, -EMEDIUMTYPE, path, "neither a directory nor a regular file");

        switch (src.kind) {
        case SOURCE_OCI_DIR:
        case SOURCE_OCI_ARCHIVE:
                r = oci_pick(s, &src, want, &manifest, &name, &stats, error);
                break;
        case SOURCE_DOCKER_ARCHIVE:
                r = docker_pick(s, &src, want, &manifest, &name, error);
                break;
        case SOURCE_ROOTFS:
                name = want ? strdup(want) : ref_from_path(path);
                if (!name)
                        return image_error_set(error, -EINVAL, path,
                                               "cannot derive an image name: give NAME:TAG");
                r = import_rootfs(s, &src, &manifest, &fresh, progress, userdata, &stats, error);
                break;
        default:
                r = -EINVAL;
        }
        if (r < 0)
                return r;
        FAULT_POINT("import.manifest");

        r = import_manifest(s, &src, manifest, progress, userdata, &stats, &config, &size, &n_layers, error);
        if (r < 0)
                return r;
        FAULT_POINT("import.layers");
        if (fresh) {
                /* import_rootfs() unpacked it (its diff_id was unknown until then) */
                stats.layers_reused--;
                stats.layers_unpacked++;
        }
        r = index_add(s, name, manifest, config, size, n_layers);
        if (r < 0)
                return r;
        FAULT_POINT("import.indexed");

        if (ret_stats)
                *ret_stats = stats;
        if (ret_ref)
                *ret_ref = TAKE_PTR(name);
        return 0;
}

int store_import_manifest(ImageStore *s, const char *manifest_digest, const char *ref,
                          ImageProgressFn progress, void *userdata, ImageImportStats *stats,
                          ImageError *error) {
        _cleanup_(source_done) Source src = { .kind = SOURCE_IMAGE_ARCHIVE, .dir_fd = -EBADF };
        _cleanup_free_ char *config = NULL;
        uint64_t size = 0;
        unsigned n_layers = 0;
        int r;

        r = import_manifest(s, &src, manifest_digest, progress, userdata, stats, &config, &size, &n_layers,
                            error);
        if (r < 0)
                return r;
        FAULT_POINT("pull.layers"); /* its layers unpacked, not named yet (commit passes here too) */
        return index_add(s, ref, manifest_digest, config, size, n_layers);
}
