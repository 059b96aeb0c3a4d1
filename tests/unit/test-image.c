/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* image/: references, config parsing, the safe unpacker (whiteouts, metadata, hostile entries) and the
 * store (import twice, digest mismatch, rm, gc). Archives are written with libarchive into memfds. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fd-util.h"
#include "fileio.h"
#include "image-internal.h"
#include "string-util.h"
#include "tests.h"

typedef struct TarEntry {
        const char *path;
        mode_t type; /* AE_IF*; 0 = hardlink */
        mode_t perm;
        const char *data; /* regular files */
        const char *link; /* symlink target or hardlink target */
        int64_t size;     /* declared size if > 0 and data == NULL (data is not written: truncated) */
        uid_t uid;
        gid_t gid;
        unsigned rmajor, rminor;
        const char *xattr; /* "name=value" */
        time_t mtime;
} TarEntry;

/* A lone ustar header declaring size bytes (base-256 size field, as GNU tar writes past 8 GiB), then the
 * end: a "sparse bomb" or a truncated archive, without writing gigabytes of padding */
static int make_header_only(const char *path, int64_t size) {
        uint8_t h[512 * 3] = {};
        unsigned sum = 0;
        int fd = memfd_create("header", MFD_CLOEXEC);

        ASSERT_TRUE(fd >= 0 && strlen(path) < 100);
        memcpy(h, path, strlen(path));
        memcpy(h + 100, "0000644", 8);
        memcpy(h + 108, "0000000", 8);
        memcpy(h + 116, "0000000", 8);
        h[124] = 0x80;
        for (int i = 0; i < 8; i++)
                h[135 - i] = (uint8_t) ((uint64_t) size >> (8 * i));
        memcpy(h + 136, "00000000000", 12);
        h[156] = '0';
        memcpy(h + 257, "ustar", 6);
        memcpy(h + 263, "00", 2);
        memset(h + 148, ' ', 8);
        for (int i = 0; i < 512; i++)
                sum += h[i];
        snprintf((char *) h + 148, 8, "%06o", sum);
        ASSERT_OK(loop_write(fd, h, sizeof(h)));
        ASSERT_TRUE(lseek(fd, 0, SEEK_SET) == 0);
        return fd;
}

static int make_tar(const TarEntry *entries, size_t n, const char *filter) {
        int fd = memfd_create("layer", MFD_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        struct archive *a = archive_write_new();
        ASSERT_NOT_NULL(a);
        ASSERT_EQ(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        if (filter)
                ASSERT_EQ(archive_write_add_filter_by_name(a, filter), ARCHIVE_OK);
        ASSERT_EQ(archive_write_set_bytes_per_block(a, 0),
                  ARCHIVE_OK); /* unblocked: see the truncation below */
        ASSERT_EQ(archive_write_open_fd(a, fd), ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                const TarEntry *t = &entries[i];
                struct archive_entry *e = archive_entry_new();
                archive_entry_set_pathname(e, t->path);
                archive_entry_set_uid(e, t->uid);
                archive_entry_set_gid(e, t->gid);
                archive_entry_set_mtime(e, t->mtime ?: 1000000000, 0);
                if (t->type == 0) {
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_perm(e, 0644);
                        archive_entry_set_hardlink(e, t->link);
                        archive_entry_set_size(e, 0);
                } else {
                        archive_entry_set_filetype(e, t->type);
                        archive_entry_set_perm(e, t->perm ?: (t->type == AE_IFDIR ? 0755 : 0644));
                        if (t->type == AE_IFLNK)
                                archive_entry_set_symlink(e, t->link);
                        if (t->type == AE_IFCHR || t->type == AE_IFBLK) {
                                archive_entry_set_rdevmajor(e, t->rmajor);
                                archive_entry_set_rdevminor(e, t->rminor);
                        }
                        if (t->type == AE_IFREG)
                                archive_entry_set_size(e, t->data ? (int64_t) strlen(t->data) : t->size);
                }
                if (t->xattr) {
                        const char *eq = strchr(t->xattr, '=');
                        char *name = strndup(t->xattr, (size_t) (eq - t->xattr));
                        archive_entry_xattr_add_entry(e, name, eq + 1, strlen(eq + 1));
                        free(name);
                }
                ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK);
                if (t->type == AE_IFREG && !t->data && t->size > 0) {
                        /* declared but absent data: the archive ends after this header (see below) */
                        archive_entry_free(e);
                        archive_write_free(a);
                        safe_close(fd);
                        return make_header_only(t->path, t->size);
                }
                if (t->type == AE_IFREG && t->data)
                        ASSERT_EQ(archive_write_data(a, t->data, strlen(t->data)),
                                  (la_ssize_t) strlen(t->data));
                archive_entry_free(e);
        }
        ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        ASSERT_TRUE(lseek(fd, 0, SEEK_SET) == 0);
        return fd;
}

static char *mkdtemp_dir(void) {
        char *p = strdup("/tmp/test-image-XXXXXX");
        ASSERT_NOT_NULL(p);
        ASSERT_NOT_NULL(mkdtemp(p));
        return p;
}

static void rm_dir(char *p) {
        if (p) {
                (void) rm_rf_at(AT_FDCWD, p);
                free(p);
        }
}

static void require_root(void) {
        if (geteuid() != 0)
                TEST_SKIP("needs root (mknod, chown, trusted.* xattrs)");
}

/* Unpacks entries into a fresh directory; returns r and the dir fd in *ret_fd */
static int unpack(const TarEntry *entries, size_t n, const char *filter, const ImageLimits *lim,
                  char **ret_dir, int *ret_fd, ImageError *err) {
        _cleanup_close_ int fd = make_tar(entries, n, filter);
        char *dir = mkdtemp_dir();
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(dfd >= 0);
        int r = image_unpack_layer(fd, dfd, lim, NULL, NULL, err);
        *ret_dir = dir;
        *ret_fd = dfd;
        return r;
}

TEST(ref_normalize) {
        char *s = NULL;
        ASSERT_OK(image_ref_normalize("busybox", &s));
        ASSERT_STREQ(s, "busybox:latest");
        free(s);
        ASSERT_OK(image_ref_normalize("localhost:5000/a/b:1.0", &s));
        ASSERT_STREQ(s, "localhost:5000/a/b:1.0");
        free(s);
        ASSERT_OK(image_ref_normalize("localhost:5000/a", &s));
        ASSERT_STREQ(s, "localhost:5000/a:latest");
        free(s);
        ASSERT_ERROR(image_ref_normalize("Busybox", &s), EINVAL);
        ASSERT_ERROR(image_ref_normalize("a/../b", &s), EINVAL);
        ASSERT_ERROR(image_ref_normalize("a:", &s), EINVAL);
        ASSERT_ERROR(image_ref_normalize("a:b c", &s), EINVAL);
        ASSERT_ERROR(image_ref_normalize("", &s), EINVAL);
        ASSERT_ERROR(image_ref_normalize("/abs", &s), EINVAL);

        /* digest references: only where asked for; the tag beside a digest is dropped */
#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        ASSERT_ERROR(image_ref_normalize("busybox@sha256:" D64, &s), EOPNOTSUPP);
        ASSERT_OK(image_ref_normalize_any("busybox@sha256:" D64, &s));
        ASSERT_STREQ(s, "busybox@sha256:" D64);
        free(s);
        ASSERT_OK(image_ref_normalize_any("localhost:5000/a/b:1.0@sha256:" D64, &s));
        ASSERT_STREQ(s, "localhost:5000/a/b@sha256:" D64);
        free(s);
        ASSERT_OK(image_ref_normalize_any("localhost:5000/a:7", &s));
        ASSERT_STREQ(s, "localhost:5000/a:7");
        free(s);
        ASSERT_ERROR(image_ref_normalize_any("busybox@sha256:" D64 "0", &s), EINVAL);
        ASSERT_ERROR(image_ref_normalize_any("busybox@sha256:0123", &s), EINVAL);
        ASSERT_ERROR(image_ref_normalize_any("busybox@sha512:" D64, &s), EINVAL);
        ASSERT_ERROR(image_ref_normalize_any("busybox@sha256:" D64 "@sha256:" D64, &s), EINVAL);
        ASSERT_ERROR(image_ref_normalize_any("@sha256:" D64, &s), EINVAL);
        ASSERT_ERROR(image_ref_normalize_any("busybox@SHA256:" D64, &s), EINVAL);
#undef D64
}

TEST(config_parse) {
        static const char json[] =
                "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/bin\",\"A=b\"],"
                "\"Entrypoint\":[\"/init\"],\"Cmd\":[\"sh\",\"-c\",\"x\"],\"WorkingDir\":\"/"
                "srv\",\"User\":\"1000:1000\","
                "\"ExposedPorts\":{\"8080/tcp\":{},\"53/"
                "udp\":{}}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":["
                "\"sha256:0000000000000000000000000000000000000000000000000000000000000000\"]}}";
        ImageConfig *c = NULL;
        ImageError e = {};

        ASSERT_OK(image_config_parse(json, strlen(json), &c, &e));
        ASSERT_EQ(strv_length(c->env), 2);
        ASSERT_STREQ(c->entrypoint[0], "/init");
        ASSERT_STREQ(c->cmd[2], "x");
        ASSERT_STREQ(c->working_dir, "/srv");
        ASSERT_STREQ(c->user, "1000:1000");
        ASSERT_STREQ(c->exposed_ports[0], "53/udp");
        ASSERT_STREQ(c->exposed_ports[1], "8080/tcp");
        ASSERT_EQ(strv_length(c->diff_ids), 1);
        image_config_free(c);

        static const char null_cfg[] = "{\"config\":null,\"rootfs\":{\"diff_ids\":[]}}";
        ASSERT_OK(image_config_parse(null_cfg, strlen(null_cfg), &c, &e));
        ASSERT_NULL(c->cmd);
        image_config_free(c);

        static const char bad[] = "{\"config\":{\"Cmd\":[1]}}";
        ASSERT_ERROR(image_config_parse(bad, strlen(bad), &c, &e), EBADMSG);
        ASSERT_NOT_NULL(e.message);
        error_message_done(&e);
        static const char trunc[] = "{\"config\":{";
        ASSERT_ERROR(image_config_parse(trunc, strlen(trunc), &c, &e), EBADMSG);
        error_message_done(&e);
        static const char baddiff[] = "{\"rootfs\":{\"diff_ids\":[\"md5:00\"]}}";
        ASSERT_ERROR(image_config_parse(baddiff, strlen(baddiff), &c, &e), EBADMSG);
        error_message_done(&e);
}

/* layers a registry does not serve (foreign, non-distributable, with urls) or cbox cannot unpack
 * (encrypted) are refused by name; the usual tar, gzip and zstd layers of OCI and Docker pass */
TEST(manifest_layer_media_types) {
#define D0 "sha256:0000000000000000000000000000000000000000000000000000000000000000"
#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define MANIFEST(layer)                                                                                     \
        "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D0 "\",\"size\":2},\"layers\":[" layer "]}"
        static const char *const ok[] = {
                MANIFEST("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D1
                         "\",\"size\":1}"),
                MANIFEST("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"" D1
                         "\",\"size\":1}"),
                MANIFEST("{\"mediaType\":\"application/"
                         "vnd.docker.image.rootfs.diff.tar.gzip\",\"digest\":\"" D1 "\",\"size\":1}"),
                MANIFEST("{\"digest\":\"" D1 "\",\"size\":1}"),
        };
        static const char *const refused[][2] = {
                { MANIFEST("{\"mediaType\":\"application/"
                           "vnd.docker.image.rootfs.foreign.diff.tar.gzip\",\"digest\":\"" D1
                           "\",\"size\":1,\"urls\":[\"https://example.invalid/l\"]}"),
                  "foreign, non-distributable" },
                { MANIFEST("{\"mediaType\":\"application/"
                           "vnd.oci.image.layer.nondistributable.v1.tar+gzip\",\"digest\":\"" D1
                           "\",\"size\":1}"),
                  "foreign, non-distributable" },
                { MANIFEST("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D1
                           "\",\"size\":1,\"urls\":[\"https://example.invalid/l\"]}"),
                  "lists urls" },
                { MANIFEST("{\"mediaType\":\"application/"
                           "vnd.oci.image.layer.v1.tar+gzip+encrypted\",\"digest\":\"" D1 "\",\"size\":1}"),
                  "is encrypted" },
        };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                ImageManifest *m = NULL;
                ImageError e = {};
                ASSERT_OK(image_manifest_parse(ok[i], strlen(ok[i]), &m, &e));
                ASSERT_EQ(m->n_layers, 1);
                image_manifest_free(m);
        }
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                ImageManifest *m = NULL;
                ImageError e = {};
                ASSERT_ERROR(image_manifest_parse(refused[i][0], strlen(refused[i][0]), &m, &e),
                             EMEDIUMTYPE);
                ASSERT_NOT_NULL(e.message);
                ASSERT_NOT_NULL(strstr(e.message, refused[i][1]));
                ASSERT_NOT_NULL(strstr(e.message, D1));
                error_message_done(&e);
        }
#undef MANIFEST
#undef D1
#undef D0
}

TEST(unpack_metadata) {
        require_root();
        const TarEntry t[] = {
                { .path = "./", .type = AE_IFDIR, .perm = 0750 },
                { .path = "bin/", .type = AE_IFDIR, .perm = 0755, .mtime = 1234567 },
                { .path = "bin/su", .type = AE_IFREG, .perm = 04755, .data = "#!su", .uid = 0 },
                { .path = "bin/owned",
                  .type = AE_IFREG,
                  .perm = 0640,
                  .data = "x",
                  .uid = 1234,
                  .gid = 5678,
                  .xattr = "user.test=hello" },
                { .path = "bin/sh", .type = AE_IFLNK, .link = "su", .uid = 7, .gid = 8 },
                { .path = "bin/su2", .type = 0, .link = "bin/su" },
                { .path = "dev/null", .type = AE_IFCHR, .perm = 0666, .rmajor = 1, .rminor = 3 },
                { .path = "dev/fifo", .type = AE_IFIFO, .perm = 0600 },
                { .path = "deep/implied/file", .type = AE_IFREG, .data = "implied parents" },
                { .path = "bin/owned",
                  .type = AE_IFREG,
                  .perm = 0600,
                  .data = "replaced",
                  .uid = 1234,
                  .xattr = "trusted.overlay.redirect=/etc" },
        };
        ImageError e = {};
        char *dir = NULL;
        _cleanup_close_ int dfd = -EBADF;
        struct stat st;
        char buf[64];

        ASSERT_OK(unpack(t, ELEMENTSOF(t), "gzip", NULL, &dir, &dfd, &e));
        ASSERT_OK(fstat(dfd, &st));
        ASSERT_EQ(st.st_mode & 07777, 0750);
        ASSERT_OK(fstatat(dfd, "bin/su", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_EQ(st.st_mode & 07777, 04755);
        ASSERT_EQ(st.st_nlink, 2);
        ASSERT_OK(fstatat(dfd, "bin/owned", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_EQ(st.st_uid, 1234);
        ASSERT_EQ(st.st_mode & 07777, 0600);
        ASSERT_EQ(st.st_size, 8);
        /* the archive's trusted.overlay.* xattr is dropped */
        _cleanup_close_ int ofd = openat(dfd, "bin/owned", O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fgetxattr(ofd, "trusted.overlay.redirect", buf, sizeof(buf)) < 0);
        ASSERT_OK(fstatat(dfd, "bin/sh", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_TRUE(S_ISLNK(st.st_mode));
        ASSERT_EQ(st.st_uid, 7);
        ASSERT_EQ(readlinkat(dfd, "bin/sh", buf, sizeof(buf)), 2);
        ASSERT_OK(fstatat(dfd, "bin", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_EQ(st.st_mtime, 1234567);
        ASSERT_OK(fstatat(dfd, "dev/null", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_TRUE(S_ISCHR(st.st_mode));
        ASSERT_EQ(major(st.st_rdev), 1);
        ASSERT_EQ(minor(st.st_rdev), 3);
        ASSERT_OK(fstatat(dfd, "dev/fifo", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_TRUE(S_ISFIFO(st.st_mode));
        ASSERT_OK(fstatat(dfd, "deep/implied", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_EQ(st.st_mode & 07777, 0755);
        rm_dir(dir);

        /* user.* xattrs survive (if the file system has them) */
        const TarEntry x[] = { { .path = "f", .type = AE_IFREG, .data = "x", .xattr = "user.test=hello" } };
        _cleanup_close_ int dfd2 = -EBADF;
        ASSERT_OK(unpack(x, ELEMENTSOF(x), NULL, NULL, &dir, &dfd2, &e));
        _cleanup_close_ int ffd = openat(dfd2, "f", O_RDONLY | O_CLOEXEC);
        ssize_t k = fgetxattr(ffd, "user.test", buf, sizeof(buf));
        if (k >= 0)
                ASSERT_TRUE(k == 5 && memcmp(buf, "hello", 5) == 0);
        rm_dir(dir);
}

TEST(unpack_whiteouts) {
        require_root();
        /* The opaque marker comes after its siblings: they must stay */
        const TarEntry t[] = {
                { .path = "etc/", .type = AE_IFDIR },
                { .path = "etc/.wh.passwd", .type = AE_IFREG, .data = "" },
                { .path = "opq/", .type = AE_IFDIR },
                { .path = "opq/a", .type = AE_IFREG, .data = "a" },
                { .path = "opq/b/", .type = AE_IFDIR },
                { .path = "opq/.wh..wh..opq", .type = AE_IFREG, .data = "" },
                { .path = "opq/c", .type = AE_IFREG, .data = "c" },
                { .path = "gone/.wh.dir", .type = AE_IFREG, .data = "" },
                { .path = ".wh..wh.plnk", .type = AE_IFDIR },
        };
        ImageError e = {};
        char *dir = NULL, buf[8];
        _cleanup_close_ int dfd = -EBADF;
        struct stat st;

        ASSERT_OK(unpack(t, ELEMENTSOF(t), "zstd", NULL, &dir, &dfd, &e));
        ASSERT_OK(fstatat(dfd, "etc/passwd", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_TRUE(S_ISCHR(st.st_mode));
        ASSERT_EQ(st.st_rdev, makedev(0, 0));
        ASSERT_TRUE(faccessat(dfd, "etc/.wh.passwd", F_OK, AT_SYMLINK_NOFOLLOW) < 0);
        ASSERT_OK(fstatat(dfd, "gone/dir", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_TRUE(S_ISCHR(st.st_mode));
        ASSERT_OK(faccessat(dfd, "opq/a", F_OK, AT_SYMLINK_NOFOLLOW));
        ASSERT_OK(faccessat(dfd, "opq/b", F_OK, AT_SYMLINK_NOFOLLOW));
        ASSERT_OK(faccessat(dfd, "opq/c", F_OK, AT_SYMLINK_NOFOLLOW));
        ASSERT_TRUE(faccessat(dfd, "opq/.wh..wh..opq", F_OK, AT_SYMLINK_NOFOLLOW) < 0);
        ASSERT_TRUE(faccessat(dfd, ".wh..wh.plnk", F_OK, AT_SYMLINK_NOFOLLOW) < 0);
        _cleanup_close_ int ofd = openat(dfd, "opq", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_EQ(fgetxattr(ofd, "trusted.overlay.opaque", buf, sizeof(buf)), 1);
        ASSERT_EQ(buf[0], 'y');
        _cleanup_close_ int efd = openat(dfd, "etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(fgetxattr(efd, "trusted.overlay.opaque", buf, sizeof(buf)) < 0);
        rm_dir(dir);
}

/* A whiteout hides the lower layers only: an entry of the same layer stays, whatever the order */
TEST(unpack_whiteout_own_layer) {
        require_root();
        const TarEntry t[] = {
                { .path = "a/f", .type = AE_IFREG, .data = "kept" },
                { .path = ".wh.a", .type = AE_IFREG, .data = "" }, /* after: a stays, opaque */
                { .path = ".wh.b", .type = AE_IFREG, .data = "" }, /* before a file */
                { .path = "b", .type = AE_IFREG, .data = "file" },
                { .path = ".wh.c", .type = AE_IFREG, .data = "" }, /* before a directory */
                { .path = "c/", .type = AE_IFDIR },
                { .path = "d/.wh.e", .type = AE_IFREG, .data = "" }, /* before an implied parent */
                { .path = "d/e/x", .type = AE_IFREG, .data = "x" },
                { .path = "f", .type = AE_IFLNK, .link = "b" }, /* a symlink, then its whiteout */
                { .path = ".wh.f", .type = AE_IFREG, .data = "" },
                { .path = "o/.wh..wh..opq", .type = AE_IFREG, .data = "" }, /* opaque marker first */
                { .path = "o/k", .type = AE_IFREG, .data = "k" },
                { .path = "o/", .type = AE_IFDIR, .perm = 0711 },
                { .path = ".wh.g", .type = AE_IFREG, .data = "" }, /* alone: a whiteout */
                { .path = ".wh.g", .type = AE_IFREG, .data = "" }, /* twice: still one */
        };
        ImageError e = {};
        char *dir = NULL, buf[8];
        _cleanup_close_ int dfd = -EBADF;
        struct stat st;

        ASSERT_OK(unpack(t, ELEMENTSOF(t), NULL, NULL, &dir, &dfd, &e));
        _cleanup_free_ char *data = NULL;
        ASSERT_OK(read_full_file_at(dfd, "a/f", &data, NULL, 100));
        ASSERT_STREQ(data, "kept");
        static const char *const opaque[] = { "a", "c", "d/e", "o" };
        for (size_t i = 0; i < ELEMENTSOF(opaque); i++) {
                _cleanup_close_ int fd =
                        openat(dfd, opaque[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                ASSERT_TRUE(fd >= 0);
                ASSERT_EQ(fgetxattr(fd, "trusted.overlay.opaque", buf, sizeof(buf)), 1);
                ASSERT_EQ(buf[0], 'y');
        }
        ASSERT_OK(fstatat(dfd, "b", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_TRUE(S_ISREG(st.st_mode) && st.st_size == 4);
        ASSERT_OK(fstatat(dfd, "d/e/x", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_OK(fstatat(dfd, "f", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_TRUE(S_ISLNK(st.st_mode));
        ASSERT_OK(fstatat(dfd, "o/k", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_OK(fstatat(dfd, "o", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_EQ(st.st_mode & 07777, 0711);
        ASSERT_OK(fstatat(dfd, "g", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
        rm_dir(dir);
}

/* xattrs that mean something to overlayfs (either namespace), to containers-storage or to the host's
 * security modules never come out of an archive; user.* ones do */
TEST(unpack_xattrs_dropped) {
        require_root();
        const TarEntry t[] = {
                { .path = "d1/", .type = AE_IFDIR, .xattr = "trusted.overlay.opaque=y" },
                { .path = "d2/", .type = AE_IFDIR, .xattr = "user.overlay.opaque=y" },
                { .path = "f1", .type = AE_IFREG, .data = "x", .xattr = "user.overlay.redirect=/etc" },
                { .path = "f2", .type = AE_IFREG, .data = "x", .xattr = "user.overlay.metacopy=" },
                { .path = "f3", .type = AE_IFREG, .data = "x", .xattr = "trusted.overlay.origin=x" },
                { .path = "f4",
                  .type = AE_IFREG,
                  .data = "x",
                  .xattr = "security.selinux=system_u:object_r:shadow_t:s0" },
                { .path = "f5",
                  .type = AE_IFREG,
                  .data = "x",
                  .xattr = "user.containers.override_stat=0:0:4755" },
                { .path = "f6", .type = AE_IFREG, .data = "x", .xattr = "trusted.other=1" },
                { .path = "f7", .type = AE_IFREG, .data = "x", .xattr = "user.overlayish=kept" },
        };
        static const char *const dropped[][2] = {
                { "d1", "trusted.overlay.opaque" },        { "d2", "user.overlay.opaque" },
                { "f1", "user.overlay.redirect" },         { "f2", "user.overlay.metacopy" },
                { "f3", "trusted.overlay.origin" },        { "f4", "security.selinux" },
                { "f5", "user.containers.override_stat" }, { "f6", "trusted.other" },
        };
        ImageError e = {};
        char *dir = NULL, buf[64];
        _cleanup_close_ int dfd = -EBADF;

        ASSERT_OK(unpack(t, ELEMENTSOF(t), NULL, NULL, &dir, &dfd, &e));
        for (size_t i = 0; i < ELEMENTSOF(dropped); i++) {
                _cleanup_close_ int fd = openat(dfd, dropped[i][0], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                ASSERT_TRUE(fd >= 0);
                ssize_t k = fgetxattr(fd, dropped[i][1], buf, sizeof(buf));
                if (k >= 0 && streq(dropped[i][1], "security.selinux"))
                        continue; /* a labelling host gives every file one: not the archive's value */
                if (k >= 0)
                        fprintf(stderr, "  %s kept %s\n", dropped[i][0], dropped[i][1]);
                ASSERT_TRUE(k < 0);
        }
        /* the control: a user.* name that only looks like overlay's is set (where the fs has user xattrs) */
        _cleanup_close_ int fd = openat(dfd, "f7", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        ssize_t k = fgetxattr(fd, "user.overlayish", buf, sizeof(buf));
        if (k >= 0 || errno != EOPNOTSUPP)
                ASSERT_TRUE(k == 4 && memcmp(buf, "kept", 4) == 0);
        rm_dir(dir);
}

static int unpack_above(const TarEntry *entries, size_t n, const int *lowers, size_t n_lowers,
                        char **ret_dir, int *ret_fd, ImageError *err) {
        _cleanup_close_ int fd = make_tar(entries, n, NULL);
        char *dir = mkdtemp_dir();
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(dfd >= 0);
        int r = image_unpack_layer_above(fd, dfd, lowers, n_lowers, NULL, NULL, err);
        *ret_dir = dir;
        *ret_fd = dfd;
        return r;
}

static void expect_refused_above(const TarEntry *t, size_t n, const int *lowers, size_t n_lowers,
                                 const char *entry) {
        ImageError e = {};
        char *dir = NULL;
        _cleanup_close_ int dfd = -EBADF;

        int r = unpack_above(t, n, lowers, n_lowers, &dir, &dfd, &e);
        fprintf(stderr, "  refused as expected: %s: %s (%s)\n", strna(e.object), strna(e.message),
                strerror(-r));
        ASSERT_ERROR(r, EPERM);
        ASSERT_STREQ(e.object, entry);
        error_message_done(&e);
        rm_dir(dir);
}

/* A hardlink to a file of a lower layer is a copy of what overlayfs shows there; nothing else is */
TEST(unpack_hardlink_lower) {
        require_root();
        _cleanup_free_ char *outside = mkdtemp_dir();
        _cleanup_free_ char *victim = strjoin(outside, "/victim");
        ASSERT_OK(write_file_atomic(victim, "host", 4, 0644));
        _cleanup_free_ char *victim_rel = strjoin("../../../../../../..", outside, "/victim");

        const TarEntry l0[] = {
                { .path = "bin/busybox",
                  .type = AE_IFREG,
                  .perm = 04755,
                  .data = "#!busybox",
                  .uid = 5,
                  .gid = 6,
                  .mtime = 1234567 },
                { .path = "bin/x", .type = AE_IFREG, .data = "x", .xattr = "user.test=v" },
                { .path = "lib/sym", .type = AE_IFLNK, .link = "../bin/busybox" },
                { .path = "dev/null", .type = AE_IFCHR, .perm = 0666, .rmajor = 1, .rminor = 3 },
                { .path = "wh/f", .type = AE_IFREG, .data = "whited out above" },
                { .path = "opq/f", .type = AE_IFREG, .data = "hidden by an opaque dir above" },
                { .path = "nd/f", .type = AE_IFREG, .data = "hidden by a file above" },
                { .path = "over/f", .type = AE_IFREG, .data = "lowest" },
                { .path = "dir/", .type = AE_IFDIR },
                { .path = "out", .type = AE_IFLNK, .link = outside },
                { .path = "up", .type = AE_IFLNK, .link = "../../../../../../../../.." },
                { .path = "rel", .type = AE_IFLNK, .link = victim_rel },
        };
        const TarEntry l1[] = {
                { .path = "wh/.wh.f", .type = AE_IFREG, .data = "" },
                { .path = "opq/.wh..wh..opq", .type = AE_IFREG, .data = "" },
                { .path = "opq/g", .type = AE_IFREG, .data = "g" },
                { .path = "nd", .type = AE_IFREG, .data = "a file" },
                { .path = "over/f", .type = AE_IFREG, .data = "nearest" },
        };
        ImageError e = {};
        char *d0 = NULL, *d1 = NULL, *dir = NULL, buf[8];
        _cleanup_close_ int f0 = -EBADF, f1 = -EBADF, dfd = -EBADF;
        struct stat st, lst;

        _cleanup_close_ int t0 = make_tar(l0, ELEMENTSOF(l0), NULL);
        d0 = mkdtemp_dir();
        f0 = open(d0, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_OK(image_unpack_layer(t0, f0, NULL, NULL, NULL, &e));
        int below1[] = { f0 };
        ASSERT_OK(unpack_above(l1, ELEMENTSOF(l1), below1, 1, &d1, &f1, &e));
        int lowers[] = { f1, f0 }; /* nearest first */

        const TarEntry top[] = {
                { .path = "sbin/sh", .type = 0, .link = "bin/busybox" },
                { .path = "bin/x2", .type = 0, .link = "./bin//x" },
                { .path = "lib/sym2", .type = 0, .link = "lib/sym" },
                { .path = "dev/null2", .type = 0, .link = "dev/null" },
                { .path = "over/g", .type = 0, .link = "over/f" },
                { .path = "opq/g2", .type = 0, .link = "opq/g" },
                { .path = "own", .type = AE_IFREG, .data = "own" },
                { .path = "own2", .type = 0, .link = "own" },
        };
        ASSERT_OK(unpack_above(top, ELEMENTSOF(top), lowers, ELEMENTSOF(lowers), &dir, &dfd, &e));
        _cleanup_free_ char *data = NULL;
        ASSERT_OK(read_full_file_at(dfd, "sbin/sh", &data, NULL, 100));
        ASSERT_STREQ(data, "#!busybox");
        ASSERT_OK(fstatat(dfd, "sbin/sh", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_OK(fstatat(f0, "bin/busybox", &lst, AT_SYMLINK_NOFOLLOW));
        ASSERT_TRUE(st.st_ino != lst.st_ino); /* a copy: layers never share inodes */
        ASSERT_EQ(lst.st_nlink, 1);
        ASSERT_EQ(st.st_mode & 07777, 04755);
        ASSERT_EQ(st.st_uid, 5);
        ASSERT_EQ(st.st_gid, 6);
        ASSERT_EQ(st.st_mtime, 1234567);
        _cleanup_close_ int xfd = openat(dfd, "bin/x2", O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(xfd >= 0);
        ssize_t k = fgetxattr(xfd, "user.test", buf, sizeof(buf));
        if (k >= 0 || errno != EOPNOTSUPP)
                ASSERT_TRUE(k == 1 && buf[0] == 'v');
        ASSERT_EQ(readlinkat(dfd, "lib/sym2", buf, sizeof(buf)), 8);
        ASSERT_OK(fstatat(dfd, "dev/null2", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3));
        data = mfree(data);
        ASSERT_OK(read_full_file_at(dfd, "over/g", &data, NULL, 100));
        ASSERT_STREQ(data, "nearest"); /* the nearest layer's file, as overlayfs shows it */
        ASSERT_OK(fstatat(dfd, "own2", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_EQ(st.st_nlink, 2); /* within the layer: still a real hardlink */
        rm_dir(TAKE_PTR(dir));
        dfd = safe_close(dfd);

        /* refused: in no layer, a directory, whited out, hidden by an opaque directory or by a file, through
         * a lower layer's symlink (absolute, relative up, to a host file), escaping */
        const TarEntry none[] = { { .path = "a", .type = 0, .link = "nope" } };
        expect_refused_above(none, 1, lowers, 2, "a");
        const TarEntry isdir[] = { { .path = "a", .type = 0, .link = "dir" } };
        expect_refused_above(isdir, 1, lowers, 2, "a");
        const TarEntry whited[] = { { .path = "a", .type = 0, .link = "wh/f" } };
        expect_refused_above(whited, 1, lowers, 2, "a");
        const TarEntry opaqued[] = { { .path = "a", .type = 0, .link = "opq/f" } };
        expect_refused_above(opaqued, 1, lowers, 2, "a");
        const TarEntry shadowed[] = { { .path = "a", .type = 0, .link = "nd/f" } };
        expect_refused_above(shadowed, 1, lowers, 2, "a");
        const TarEntry via_abs[] = { { .path = "a", .type = 0, .link = "out/victim" } };
        expect_refused_above(via_abs, 1, lowers, 2, "a");
        _cleanup_free_ char *up_victim = strjoin("up", outside, "/victim");
        const TarEntry via_up[] = { { .path = "a", .type = 0, .link = up_victim } };
        expect_refused_above(via_up, 1, lowers, 2, "a");
        const TarEntry via_rel[] = { { .path = "a", .type = 0, .link = "rel" } };
        /* "rel" itself is a symlink of the lower layer: copied as a symlink (never followed) */
        ASSERT_OK(unpack_above(via_rel, 1, lowers, 2, &dir, &dfd, &e));
        ASSERT_OK(fstatat(dfd, "a", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_TRUE(S_ISLNK(st.st_mode));
        rm_dir(TAKE_PTR(dir));
        dfd = safe_close(dfd);
        const TarEntry esc[] = { { .path = "a", .type = 0, .link = "../../victim" } };
        expect_refused_above(esc, 1, lowers, 2, "a");
        /* without the lowers (image_unpack_layer), the same link is refused as before */
        const TarEntry plain[] = { { .path = "a", .type = 0, .link = "bin/busybox" } };
        expect_refused_above(plain, 1, NULL, 0, "a");

        _cleanup_free_ char *kept = NULL;
        ASSERT_OK(read_full_file(victim, &kept, NULL, 100));
        ASSERT_STREQ(kept, "host");
        rm_dir(d0);
        rm_dir(d1);
        rm_dir(TAKE_PTR(outside));
}

static void expect_refused(const TarEntry *t, size_t n, const ImageLimits *lim, int err, const char *entry) {
        ImageError e = {};
        char *dir = NULL;
        _cleanup_close_ int dfd = -EBADF;

        int r = unpack(t, n, NULL, lim, &dir, &dfd, &e);
        fprintf(stderr, "  refused as expected: %s: %s (%s)\n", strna(e.object), strna(e.message),
                strerror(-r));
        ASSERT_ERROR(r, err);
        if (entry)
                ASSERT_STREQ(e.object, entry);
        ASSERT_NOT_NULL(e.message);
        error_message_done(&e);
        rm_dir(dir);
}

TEST(unpack_hostile) {
        require_root();
        _cleanup_free_ char *outside = mkdtemp_dir();
        _cleanup_free_ char *victim = strjoin(outside, "/victim");
        ASSERT_OK(write_file_atomic(victim, "keep", 4, 0644));

        const TarEntry abs[] = { { .path = "/etc/evil", .type = AE_IFREG, .data = "x" } };
        expect_refused(abs, ELEMENTSOF(abs), NULL, EPERM, "/etc/evil");

        const TarEntry dotdot[] = { { .path = "a/../../evil", .type = AE_IFREG, .data = "x" } };
        expect_refused(dotdot, ELEMENTSOF(dotdot), NULL, EPERM, "a/../../evil");

        /* a symlink to outside, then a file through it */
        const TarEntry through[] = {
                { .path = "link", .type = AE_IFLNK, .link = outside },
                { .path = "link/victim", .type = AE_IFREG, .data = "pwned" },
        };
        expect_refused(through, ELEMENTSOF(through), NULL, EPERM, "link/victim");
        const TarEntry through_rel[] = {
                { .path = "link", .type = AE_IFLNK, .link = "../../../../../../../../tmp" },
                { .path = "link/x/evil", .type = AE_IFREG, .data = "pwned" },
        };
        expect_refused(through_rel, ELEMENTSOF(through_rel), NULL, EPERM, "link/x/evil");

        const TarEntry hl_abs[] = { { .path = "passwd", .type = 0, .link = "/etc/passwd" } };
        expect_refused(hl_abs, ELEMENTSOF(hl_abs), NULL, EPERM, "passwd");
        const TarEntry hl_up[] = { { .path = "passwd", .type = 0, .link = "../../../../etc/passwd" } };
        expect_refused(hl_up, ELEMENTSOF(hl_up), NULL, EPERM, "passwd");
        const TarEntry hl_link[] = {
                { .path = "out", .type = AE_IFLNK, .link = outside },
                { .path = "stolen", .type = 0, .link = "out/victim" },
        };
        expect_refused(hl_link, ELEMENTSOF(hl_link), NULL, EPERM, "stolen");

        ImageLimits lim = { .max_entries = 10 };
        TarEntry many[11];
        char names[11][8];
        for (size_t i = 0; i < ELEMENTSOF(many); i++) {
                snprintf(names[i], sizeof(names[i]), "f%zu", i);
                many[i] = (TarEntry){ .path = names[i], .type = AE_IFREG, .data = "" };
        }
        expect_refused(many, ELEMENTSOF(many), &lim, E2BIG, "f10");

        /* a huge file declared in the header, data missing (sparse bomb / truncated) */
        const TarEntry big[] = { { .path = "big", .type = AE_IFREG, .size = INT64_C(10) << 30 } };
        expect_refused(big, ELEMENTSOF(big), NULL, EFBIG, "big");

        char deep[1200] = "";
        for (int i = 0; i < 300; i++)
                strcat(deep, "d/");
        strcat(deep, "f");
        const TarEntry deepe[] = { { .path = deep, .type = AE_IFREG, .data = "x" } };
        expect_refused(deepe, ELEMENTSOF(deepe), NULL, ENAMETOOLONG, deep);

        /* nothing was written outside */
        _cleanup_free_ char *data = NULL;
        ASSERT_OK(read_full_file(victim, &data, NULL, 100));
        ASSERT_STREQ(data, "keep");
        _cleanup_free_ char *evil = strjoin(outside, "/x");
        ASSERT_TRUE(access(evil, F_OK) < 0);
        ASSERT_TRUE(access("/tmp/x/evil", F_OK) < 0);
        ASSERT_TRUE(access("/etc/evil", F_OK) < 0);
        rm_dir(TAKE_PTR(outside));
}

TEST(unpack_truncated) {
        require_root();
        const TarEntry t[] = {
                { .path = "a",
                  .type = AE_IFREG,
                  .data = "0123456789abcdef0123456789abcdef0123456789abcdef" },
                { .path = "b", .type = AE_IFREG, .data = "more data to make the stream a little longer..." },
        };
        _cleanup_close_ int fd = make_tar(t, ELEMENTSOF(t), "gzip");
        struct stat st;
        ASSERT_OK(fstat(fd, &st));
        ASSERT_OK(ftruncate(fd, st.st_size / 2));
        char *dir = mkdtemp_dir();
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ImageError e = {};
        int r = image_unpack_layer(fd, dfd, NULL, NULL, NULL, &e);
        fprintf(stderr, "  truncated gzip: %s (%s)\n", strna(e.message), strerror(-r));
        ASSERT_TRUE(r < 0);
        error_message_done(&e);
        rm_dir(dir);

        /* not an archive at all */
        int gfd = memfd_create("garbage", MFD_CLOEXEC);
        ASSERT_OK(loop_write(gfd, "this is not a tar archive, not at all, no. ", 44));
        ASSERT_OK(lseek(gfd, 0, SEEK_SET));
        dir = mkdtemp_dir();
        _cleanup_close_ int dfd2 = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(image_unpack_layer(gfd, dfd2, NULL, NULL, NULL, &e) < 0);
        error_message_done(&e);
        safe_close(gfd);
        rm_dir(dir);
}

TEST(unpack_diff_id_all_filters) {
        require_root();
        const TarEntry t[] = { { .path = "hello", .type = AE_IFREG, .data = "world" } };
        _cleanup_free_ char *plain = NULL;
        static const char *const filters[] = { NULL, "gzip", "xz", "zstd" };
        for (size_t i = 0; i < ELEMENTSOF(filters); i++) {
                char *dir = NULL, *diff = NULL;
                _cleanup_close_ int fd = make_tar(t, ELEMENTSOF(t), filters[i]);
                _cleanup_close_ int dfd = -EBADF;
                dir = mkdtemp_dir();
                dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                ASSERT_OK(image_unpack_layer(fd, dfd, NULL, &diff, NULL, NULL));
                ASSERT_OK(faccessat(dfd, "hello", F_OK, 0));
                if (!plain)
                        plain = diff;
                else {
                        /* same uncompressed stream → same diff_id */
                        ASSERT_STREQ(diff, plain);
                        free(diff);
                }
                rm_dir(dir);
        }
}

static char *write_tar_file(const char *dir, const char *name, const TarEntry *t, size_t n,
                            const char *filter) {
        _cleanup_close_ int fd = make_tar(t, n, filter);
        char *p = strjoin(dir, "/", name);
        _cleanup_free_ char *data = NULL;
        size_t size;
        ASSERT_OK(read_full_fd(fd, &data, &size, 1 << 20));
        ASSERT_OK(write_file_atomic(p, data, size, 0644));
        return p;
}

static unsigned count_entries(const char *path, const char *prefix) {
        DIR *d = opendir(path);
        unsigned n = 0;
        struct dirent *de;
        if (!d)
                return 0;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..") && startswith(de->d_name, prefix))
                        n++;
        closedir(d);
        return n;
}

TEST(store_rootfs_import) {
        require_root();
        char *tmp = mkdtemp_dir();
        _cleanup_free_ char *root = strjoin(tmp, "/store"), *layers = strjoin(tmp, "/store/layers");
        _cleanup_(image_store_freep) ImageStore *s = NULL;
        const TarEntry t[] = {
                { .path = "bin/", .type = AE_IFDIR },
                { .path = "bin/true", .type = AE_IFREG, .perm = 0755, .data = "#!/bin/sh\n" },
        };
        _cleanup_free_ char *tar = write_tar_file(tmp, "My_Rootfs.tar.xz", t, ELEMENTSOF(t), "xz");
        ImageImportStats st = {};
        ImageError e = {};
        char *ref = NULL;

        ASSERT_OK(image_store_open(root, &s));
        ASSERT_OK(image_import(s, tar, NULL, NULL, NULL, &st, &ref, &e));
        ASSERT_STREQ(ref, "my_rootfs:latest");
        ASSERT_EQ(st.layers, 1);
        ASSERT_EQ(st.layers_unpacked, 1);
        free(ref);

        /* the same tarball again: nothing unpacked */
        st = (ImageImportStats){};
        ASSERT_OK(image_import(s, tar, "other:v1", NULL, NULL, &st, &ref, &e));
        ASSERT_STREQ(ref, "other:v1");
        ASSERT_EQ(st.layers_unpacked, 0);
        ASSERT_EQ(st.layers_reused, 1);
        ASSERT_EQ(st.unpacked_bytes, 0);
        free(ref);

        char **paths = NULL;
        ImageConfig *c = NULL;
        _cleanup_free_ char *resolved_digest = NULL, *index_digest = NULL;
        ASSERT_OK(image_resolve(s, "other:v1", &paths, &c, &resolved_digest));
        ASSERT_OK(image_manifest_digest(s, "other:v1", &index_digest));
        ASSERT_STREQ(resolved_digest, index_digest);
        ASSERT_TRUE(startswith(resolved_digest, "sha256:") != NULL);
        ASSERT_EQ(strv_length(paths), 1);
        ASSERT_TRUE(startswith(paths[0], layers) != NULL);
        _cleanup_free_ char *bin = strjoin(paths[0], "/bin/true");
        ASSERT_OK(access(bin, X_OK));
        ASSERT_STREQ(c->os, "linux");
        strv_free(paths);
        image_config_free(c);
        ASSERT_ERROR(image_resolve(s, "nope:latest", NULL, NULL, NULL), ENOENT);

        ImageInfo *a = NULL;
        size_t n = 0;
        ASSERT_OK(image_list(s, &a, &n));
        ASSERT_EQ(n, 2);
        ASSERT_STREQ(a[0].ref, "my_rootfs:latest");
        ASSERT_STREQ(a[0].manifest, a[1].manifest);
        /* two names of one image: the same blobs and layer, the same cost (at least the layer blob) */
        ASSERT_OK(image_list_disk_usage(s, a, n));
        ASSERT_TRUE(a[0].disk_bytes >= a[0].size && a[0].size > 0);
        ASSERT_EQ(a[0].disk_bytes, a[1].disk_bytes);
        image_info_array_free(a, n);

        _cleanup_free_ char *json = NULL;
        ASSERT_OK(image_inspect_json(s, "my_rootfs", &json));
        ASSERT_TRUE(strstr(json, "\"diff_id\"") != NULL);

        /* a container uses other:v1 → rm refuses */
        _cleanup_free_ char *cdir = strjoin(root, "/containers/web"), *cfile = strjoin(cdir, "/image");
        ASSERT_OK(mkdir_p(cdir, 0700));
        _cleanup_free_ char *used = NULL, *cdata = NULL;
        ASSERT_OK(image_manifest_digest(s, "other:v1", &used));
        cdata = strjoin("other:v1\n", used, "\n");
        ASSERT_OK(write_file_atomic(cfile, cdata, strlen(cdata), 0644));
        ASSERT_ERROR(image_remove(s, "other:v1", &e), EBUSY);
        ASSERT_STREQ(e.object, "web");
        error_message_done(&e);
        /* my_rootfs:latest is the same manifest: removable while other:v1 names it too */
        ASSERT_OK(image_remove(s, "my_rootfs:latest", &e));
        ASSERT_ERROR(image_remove(s, "my_rootfs:latest", &e), ENOENT);
        error_message_done(&e);

        /* gc keeps what other:v1 needs; a stale temporary goes */
        _cleanup_free_ char *stale = strjoin(layers, "/.tmp-1-dead");
        ASSERT_OK(mkdir(stale, 0700));
        ImageGcStats gs = {};
        ASSERT_OK(image_gc(s, &gs));
        ASSERT_EQ(gs.tmps_removed, 1);
        ASSERT_EQ(gs.layers_removed, 0);
        ASSERT_OK(image_resolve(s, "other:v1", NULL, NULL, NULL));

        ASSERT_OK(unlink(cfile));
        ASSERT_OK(image_remove(s, "other:v1", &e));
        ASSERT_OK(image_gc(s, &gs));
        ASSERT_EQ(gs.layers_removed, 1);
        ASSERT_EQ(gs.blobs_removed, 3);
        ASSERT_EQ(count_entries(layers, ""), 0);
        rm_dir(tmp);
}

TEST(store_hostile_rootfs_leaves_nothing) {
        require_root();
        char *tmp = mkdtemp_dir();
        _cleanup_free_ char *root = strjoin(tmp, "/store"), *layers = strjoin(tmp, "/store/layers");
        _cleanup_(image_store_freep) ImageStore *s = NULL;
        const TarEntry t[] = {
                { .path = "ok", .type = AE_IFREG, .data = "fine" },
                { .path = "../escape", .type = AE_IFREG, .data = "x" },
        };
        _cleanup_free_ char *tar = write_tar_file(tmp, "bad.tar", t, ELEMENTSOF(t), NULL);
        ImageError e = {};

        ASSERT_OK(image_store_open(root, &s));
        ASSERT_ERROR(image_import(s, tar, "bad:1", NULL, NULL, NULL, NULL, &e), EPERM);
        ASSERT_STREQ(e.object, "../escape");
        error_message_done(&e);
        ASSERT_EQ(count_entries(layers, ""), 0);
        ASSERT_ERROR(image_resolve(s, "bad:1", NULL, NULL, NULL), ENOENT);
        rm_dir(tmp);
}

/* An OCI layout written by hand: a layer whose blob does not match its digest is refused */
TEST(store_oci_digest_mismatch) {
        require_root();
        char *tmp = mkdtemp_dir();
        _cleanup_free_ char *root = strjoin(tmp, "/store"), *layers = strjoin(tmp, "/store/layers"),
                            *blobs = strjoin(tmp, "/store/blobs/sha256"), *oci = strjoin(tmp, "/oci"),
                            *ob = strjoin(tmp, "/oci/blobs/sha256");
        _cleanup_(image_store_freep) ImageStore *s = NULL;
        ImageError e = {};

        ASSERT_OK(mkdir_p(ob, 0755));
        _cleanup_free_ char *layout = strjoin(oci, "/oci-layout");
        ASSERT_OK(write_file_atomic(layout, "{\"imageLayoutVersion\":\"1.0.0\"}", 30, 0644));
        const char *fake = "1111111111111111111111111111111111111111111111111111111111111111";
        _cleanup_free_ char *lp = strjoin(ob, "/", fake);
        ASSERT_OK(write_file_atomic(lp, "not the right content", 21, 0644));
        ASSERT_OK(image_store_open(root, &s));

        /* The index names a manifest blob whose content is not what its digest says */
        _cleanup_free_ char *index = strprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                                               "\"application/vnd.oci.image.manifest.v1+json\","
                                               "\"digest\":\"sha256:%s\",\"size\":21}]}",
                                               fake);
        _cleanup_free_ char *ip = strjoin(oci, "/index.json");
        ASSERT_OK(write_file_atomic(ip, index, strlen(index), 0644));
        int r = image_import(s, oci, "mm:1", NULL, NULL, NULL, NULL, &e);
        fprintf(stderr, "  digest mismatch: %s: %s\n", strna(e.object), strna(e.message));
        ASSERT_ERROR(r, EBADMSG);
        ASSERT_TRUE(strstr(e.message, "digest mismatch") != NULL);
        error_message_done(&e);
        ASSERT_EQ(count_entries(blobs, ""), 0);
        ASSERT_EQ(count_entries(layers, ""), 0);
        rm_dir(tmp);
}

/* An overlay upper dir committed on top of an image: whiteouts and opaque dirs round-trip through OCI form
 */
TEST(store_commit_and_export) {
        require_root();
        char *tmp = mkdtemp_dir();
        _cleanup_free_ char *root = strjoin(tmp, "/store"), *upper = strjoin(tmp, "/upper");
        _cleanup_(image_store_freep) ImageStore *s = NULL;
        const TarEntry t[] = {
                { .path = "etc/", .type = AE_IFDIR },
                { .path = "etc/gone", .type = AE_IFREG, .data = "bye" },
                { .path = "opq/", .type = AE_IFDIR },
                { .path = "opq/old", .type = AE_IFREG, .data = "old" },
        };
        _cleanup_free_ char *tar = write_tar_file(tmp, "base.tar", t, ELEMENTSOF(t), NULL);
        ImageError e = {};
        char *ref = NULL, buf[8];

        ASSERT_OK(image_store_open(root, &s));
        ASSERT_OK(image_import(s, tar, "base:1", NULL, NULL, NULL, NULL, &e));

        /* what a container leaves in its upper dir */
        _cleanup_free_ char *etc = strjoin(upper, "/etc"), *gone = strjoin(upper, "/etc/gone"),
                            *newf = strjoin(upper, "/etc/new"), *opq = strjoin(upper, "/opq"),
                            *fresh = strjoin(upper, "/opq/fresh");
        ASSERT_OK(mkdir_p(etc, 0755));
        ASSERT_OK(mknod(gone, S_IFCHR | 0, makedev(0, 0)));
        ASSERT_OK(write_file_atomic(newf, "new", 3, 0640));
        ASSERT_OK(mkdir(opq, 0755));
        ASSERT_OK(setxattr(opq, "trusted.overlay.opaque", "y", 1, 0));
        ASSERT_OK(write_file_atomic(fresh, "fresh", 5, 0644));
        /* a mount point the runtime made, which the caller leaves out */
        _cleanup_free_ char *hosts = strjoin(upper, "/etc/hosts");
        ASSERT_OK(write_file_atomic(hosts, "", 0, 0644));
        char *exclude[] = { (char *) "etc/hosts", NULL };

        ASSERT_OK(image_commit(s, upper, "base:1", "committed:1", exclude, &ref, &e));
        ASSERT_STREQ(ref, "committed:1");
        free(ref);

        char **paths = NULL;
        ASSERT_OK(image_resolve(s, "committed:1", &paths, NULL, NULL));
        ASSERT_EQ(strv_length(paths), 2);
        _cleanup_close_ int top = open(paths[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;
        ASSERT_OK(fstatat(top, "etc/gone", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
        ASSERT_OK(fstatat(top, "etc/new", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_EQ(st.st_mode & 07777, 0640);
        ASSERT_ERROR(fstatat(top, "etc/hosts", &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0, ENOENT);
        _cleanup_close_ int ofd = openat(top, "opq", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_EQ(fgetxattr(ofd, "trusted.overlay.opaque", buf, sizeof(buf)), 1);
        ASSERT_OK(faccessat(top, "opq/fresh", F_OK, 0));
        strv_free(paths);

        /* the committed layer is in OCI form: .wh. entries, no device nodes */
        _cleanup_free_ char *json = NULL;
        ASSERT_OK(image_inspect_json(s, "committed:1", &json));
        ASSERT_TRUE(strstr(json, "\"layers\"") != NULL);

        /* export of a tree: a tar with the entries, sorted */
        int out = memfd_create("export", MFD_CLOEXEC);
        _cleanup_close_ int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_OK(image_export_tree(ufd, out, &e));
        ASSERT_OK(lseek(out, 0, SEEK_SET));
        struct archive *a = archive_read_new();
        struct archive_entry *ae;
        archive_read_support_format_tar(a);
        ASSERT_EQ(archive_read_open_fd(a, out, 10240), ARCHIVE_OK);
        _cleanup_strv_free_ char **names = NULL;
        while (archive_read_next_header(a, &ae) == ARCHIVE_OK)
                ASSERT_OK(strv_extend(&names, archive_entry_pathname(ae)));
        archive_read_free(a);
        safe_close(out);
        _cleanup_free_ char *joined = strv_join(names, " ");
        ASSERT_STREQ(joined, "etc/ etc/gone etc/hosts etc/new opq/ opq/fresh");
        rm_dir(tmp);
}

/* Owners in a user namespace's range go back to the image's ids, in commit and export; owners outside it
 * (a file the host put there) stay as they are */
TEST(store_commit_and_export_user_range) {
        require_root();
        char *tmp = mkdtemp_dir();
        _cleanup_free_ char *root = strjoin(tmp, "/store"), *upper = strjoin(tmp, "/upper");
        _cleanup_(image_store_freep) ImageStore *s = NULL;
        const TarEntry t[] = { { .path = "base", .type = AE_IFREG, .data = "b" } };
        _cleanup_free_ char *tar = write_tar_file(tmp, "base.tar", t, ELEMENTSOF(t), NULL);
        const ImageIdRange range = { 0x80000, 65536 };
        ImageError e = {};
        char *ref = NULL;
        struct stat st;

        ASSERT_OK(image_store_open(root, &s));
        ASSERT_OK(image_import(s, tar, "base:1", NULL, NULL, NULL, NULL, &e));
        _cleanup_free_ char *rootf = strjoin(upper, "/by-root"), *app = strjoin(upper, "/by-app"),
                            *host = strjoin(upper, "/by-host");
        ASSERT_OK(mkdir_p(upper, 0755));
        ASSERT_OK(write_file_atomic(rootf, "r", 1, 0644));
        ASSERT_OK(write_file_atomic(app, "a", 1, 0644));
        ASSERT_OK(write_file_atomic(host, "h", 1, 0644));
        ASSERT_OK(RET_NERRNO(chown(upper, range.start, range.start)));
        ASSERT_OK(RET_NERRNO(chown(rootf, range.start, range.start)));
        ASSERT_OK(RET_NERRNO(chown(app, range.start + 1000, range.start + 1000)));
        ASSERT_OK(RET_NERRNO(chown(host, 4242, 4242)));

        ASSERT_OK(image_commit_ids(s, upper, "base:1", "userns:1", NULL, &range, &ref, &e));
        free(ref);
        char **paths = NULL;
        ASSERT_OK(image_resolve(s, "userns:1", &paths, NULL, NULL));
        _cleanup_close_ int top = open(paths[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_OK(fstatat(top, "by-root", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_EQ(st.st_uid, 0U);
        ASSERT_EQ(st.st_gid, 0U);
        ASSERT_OK(fstatat(top, "by-app", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_EQ(st.st_uid, 1000U);
        ASSERT_OK(fstatat(top, "by-host", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_EQ(st.st_uid, 4242U);
        strv_free(paths);

        int out = memfd_create("export", MFD_CLOEXEC);
        _cleanup_close_ int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_OK(image_export_tree_ids(ufd, out, &range, &e));
        ASSERT_OK(lseek(out, 0, SEEK_SET));
        struct archive *a = archive_read_new();
        struct archive_entry *ae;
        archive_read_support_format_tar(a);
        ASSERT_EQ(archive_read_open_fd(a, out, 10240), ARCHIVE_OK);
        _cleanup_strv_free_ char **owners = NULL;
        while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
                char *o =
                        strprintf("%s=%lld", archive_entry_pathname(ae), (long long) archive_entry_uid(ae));
                ASSERT_OK(strv_consume(&owners, o));
        }
        archive_read_free(a);
        safe_close(out);
        _cleanup_free_ char *joined = strv_join(owners, " ");
        ASSERT_STREQ(joined, "by-app=1000 by-host=4242 by-root=0");
        rm_dir(tmp);
}

TEST(auth_challenge_parse) {
        AuthChallenge *c = NULL;
        size_t n = 0;

        /* a comma inside a quoted value stays in it; names and schemes are case-insensitive */
        ASSERT_OK(auth_challenges_parse("BEARER Realm=\"http://x/a,b\",service=\"s\"", &c, &n));
        ASSERT_EQ(n, (size_t) 1);
        ASSERT_STREQ(c[0].scheme, "bearer");
        ASSERT_STREQ(auth_challenge_param(&c[0], "realm"), "http://x/a,b");
        ASSERT_STREQ(auth_challenge_param(&c[0], "SERVICE"), "s");
        ASSERT_NULL(auth_challenge_param(&c[0], "scope"));
        auth_challenges_free(c, n);

        /* several challenges in one header, escapes, a token68, empty list elements, spaces around = */
        ASSERT_OK(auth_challenges_parse("Basic realm=\"r\\\"q\", , Bearer realm = \"https://t/\" , "
                                        "scope=\"repository:a/b:pull,push\", "
                                        "Negotiate abc+/==",
                                        &c, &n));
        ASSERT_EQ(n, (size_t) 3);
        ASSERT_STREQ(c[0].scheme, "basic");
        ASSERT_STREQ(auth_challenge_param(&c[0], "realm"), "r\"q");
        ASSERT_STREQ(c[1].scheme, "bearer");
        ASSERT_STREQ(auth_challenge_param(&c[1], "realm"), "https://t/");
        ASSERT_STREQ(auth_challenge_param(&c[1], "scope"), "repository:a/b:pull,push");
        ASSERT_STREQ(c[2].scheme, "negotiate");
        ASSERT_STREQ(c[2].token68, "abc+/==");
        auth_challenges_free(c, n);

        /* refused: an unterminated quote, a repeated parameter, a control character, nothing */
        ASSERT_ERROR(auth_challenges_parse("Bearer realm=\"http://x", &c, &n), EBADMSG);
        ASSERT_ERROR(auth_challenges_parse("Bearer realm=a, realm=b", &c, &n), EBADMSG);
        ASSERT_ERROR(auth_challenges_parse("Bearer realm=\"a\x01\"", &c, &n), EBADMSG);
        ASSERT_ERROR(auth_challenges_parse(" , ", &c, &n), EBADMSG);
}

TEST(token_response) {
        _cleanup_free_ char *t = NULL, *t2 = NULL;
        ImageError e = {};
        const char *ok = "{\"token\":\"abc.def\"}", *oauth = "{\"access_token\":\"x\"}",
                   *crlf = "{\"token\":\"a\\r\\nX-Evil: 1\"}", *none = "{\"token\":\"\"}";

        ASSERT_OK(token_response_parse(ok, strlen(ok), &t, &e));
        ASSERT_STREQ(t, "abc.def");
        ASSERT_OK(token_response_parse(oauth, strlen(oauth), &t2, &e));
        ASSERT_STREQ(t2, "x");
        ASSERT_ERROR(token_response_parse(crlf, strlen(crlf), &t, &e), EPROTO);
        error_message_done(&e);
        ASSERT_ERROR(token_response_parse(none, strlen(none), &t, &e), EPROTO);
        error_message_done(&e);
}

TEST(redirect_policy) {
        /* https → http is a downgrade, whatever the hosts */
        ASSERT_ERROR(redirect_check("https://reg.example/v2/a/blobs/x", "http://reg.example/x"), EPERM);
        ASSERT_ERROR(redirect_check("HTTPS://reg.example/v2/", "http://cdn.example/x"), EPERM);
        ASSERT_OK(redirect_check("https://reg.example/v2/", "https://cdn.example/x?sig=1"));
        ASSERT_OK(redirect_check("http://reg.example/v2/", "https://cdn.example/x"));
        ASSERT_OK(redirect_check("http://reg.example/v2/", "http://cdn.example/x"));
        /* only http(s), with a host, without userinfo */
        ASSERT_ERROR(redirect_check("https://reg.example/", "file:///etc/shadow"), EPROTONOSUPPORT);
        ASSERT_ERROR(redirect_check("https://reg.example/", "ftp://reg.example/x"), EPROTONOSUPPORT);
        ASSERT_ERROR(redirect_check("https://reg.example/", "https://user:pw@cdn.example/x"), EBADMSG);
        ASSERT_ERROR(redirect_check("https://reg.example/", "https:///x"), EBADMSG);
        ASSERT_ERROR(redirect_check("https://reg.example/", "/relative"), EBADMSG);

        /* origins: scheme, host (no case), port (the default one is the same as none) */
        ASSERT_EQ(url_same_origin("https://Reg.Example/v2/a", "https://reg.example:443/b"), 1);
        ASSERT_EQ(url_same_origin("http://127.0.0.1:5000/v2/", "http://127.0.0.1:5000/x?y#z"), 1);
        ASSERT_EQ(url_same_origin("http://127.0.0.1:5000/v2/", "http://127.0.0.1:5001/v2/"), 0);
        ASSERT_EQ(url_same_origin("https://reg.example/", "http://reg.example/"), 0);
        ASSERT_EQ(url_same_origin("https://reg.example/", "https://cdn.example/"), 0);
        ASSERT_EQ(url_same_origin("https://[::1]:443/", "https://[::1]/"), 1);
        ASSERT_EQ(url_same_origin("https://[::1]:5000/", "https://[::1]/"), 0);

        /* credentials: over TLS, or plain http only to a registry configured insecure */
        ASSERT_TRUE(credentials_allowed("https://auth.example/token", false));
        ASSERT_FALSE(credentials_allowed("http://auth.example/token", false));
        ASSERT_TRUE(credentials_allowed("http://auth.example/token", true));
        ASSERT_FALSE(credentials_allowed("gopher://auth.example/token", true));
}

static void check_resolve(const char *base, const char *ref, const char *want) {
        _cleanup_free_ char *got = NULL;
        ASSERT_OK(url_resolve(base, ref, &got));
        ASSERT_STREQ(got, want);
}

TEST(url_resolve) {
        const char *b = "https://reg.example:5000/v2/a/b/blobs/uploads/";
        _cleanup_free_ char *x = NULL;

        /* what registries send for an upload: absolute, absolute-path, relative, query only */
        check_resolve(b, "https://reg.example:5000/v2/a/b/blobs/uploads/u1?_state=s%3D",
                      "https://reg.example:5000/v2/a/b/blobs/uploads/u1?_state=s%3D");
        check_resolve(b, "/v2/a/b/blobs/uploads/u2?_state=x",
                      "https://reg.example:5000/v2/a/b/blobs/uploads/u2?_state=x");
        check_resolve(b, "u3", "https://reg.example:5000/v2/a/b/blobs/uploads/u3");
        check_resolve(b, "../uploads/./u4", "https://reg.example:5000/v2/a/b/blobs/uploads/u4");
        check_resolve(b, "?q=1", "https://reg.example:5000/v2/a/b/blobs/uploads/?q=1");
        check_resolve(b, "", "https://reg.example:5000/v2/a/b/blobs/uploads/");
        check_resolve(b, "//store.example/up/x", "https://store.example/up/x");
        check_resolve(b, "HTTPS://Store.example/a/../b#frag", "HTTPS://Store.example/b");
        /* RFC 3986 §5.4's examples, from its base */
        const char *r = "http://a/b/c/d;p?q";
        check_resolve(r, "g", "http://a/b/c/g");
        check_resolve(r, "./g", "http://a/b/c/g");
        check_resolve(r, "g/", "http://a/b/c/g/");
        check_resolve(r, "/g", "http://a/g");
        check_resolve(r, "?y", "http://a/b/c/d;p?y");
        check_resolve(r, "g?y", "http://a/b/c/g?y");
        check_resolve(r, "#s", "http://a/b/c/d;p?q");
        check_resolve(r, ".", "http://a/b/c/");
        check_resolve(r, "..", "http://a/b/");
        check_resolve(r, "../g", "http://a/b/g");
        check_resolve(r, "../..", "http://a/");
        check_resolve(r, "../../../g", "http://a/g");
        check_resolve(r, "/./g", "http://a/g");
        check_resolve(r, "g.", "http://a/b/c/g.");
        check_resolve(r, "..g", "http://a/b/c/..g");
        check_resolve(r, "./g/.", "http://a/b/c/g/");
        check_resolve(r, "g/../h", "http://a/b/c/h");
        check_resolve(r, "g;x=1/../y", "http://a/b/c/y");
        check_resolve(r, "g?y/./x", "http://a/b/c/g?y/./x");
        check_resolve("http://a", "g", "http://a/g");

        /* refused: what is no URI reference, other schemes, userinfo, a bad base */
        ASSERT_ERROR(url_resolve(b, "/v2/a b", &x), EBADMSG);
        ASSERT_ERROR(url_resolve(b, "/v2/\r\nX-Evil: 1", &x), EBADMSG);
        ASSERT_ERROR(url_resolve(b, "\\\\evil.example/x", &x), EBADMSG);
        ASSERT_ERROR(url_resolve(b, "/v2/\xc3\xa9", &x), EBADMSG);
        ASSERT_ERROR(url_resolve(b, "file:///etc/passwd", &x), EPROTONOSUPPORT);
        ASSERT_ERROR(url_resolve(b, "javascript:alert(1)", &x), EBADMSG);
        ASSERT_ERROR(url_resolve(b, "//user:pw@store.example/x", &x), EBADMSG);
        ASSERT_ERROR(url_resolve(b, "https://user@store.example/x", &x), EBADMSG);
        ASSERT_ERROR(url_resolve("/relative", "x", &x), EBADMSG);
        ASSERT_NULL(x);
}

TEST_MAIN();
