/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "fileio.h"
#include "string-util.h"

int read_full_fd(int fd, char **ret, size_t *ret_size, size_t max_size) {
        Buffer b = {};
        char tmp[65536];
        int r;

        for (;;) {
                ssize_t k = read(fd, tmp, sizeof(tmp));
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto fail;
                }
                if (k == 0)
                        break;
                if (b.size + (size_t) k > max_size) {
                        r = -EFBIG;
                        goto fail;
                }
                r = buffer_append(&b, tmp, (size_t) k);
                if (r < 0)
                        goto fail;
        }
        if (!b.data) {
                b.data = strdup("");
                if (!b.data)
                        return -ENOMEM;
        }
        if (ret_size)
                *ret_size = b.size;
        *ret = b.data;
        return 0;
fail:
        buffer_done(&b);
        return r;
}

int read_full_file_at(int dirfd, const char *path, char **ret, size_t *ret_size, size_t max_size) {
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_full_fd(fd, ret, ret_size, max_size);
}

int read_full_file(const char *path, char **ret, size_t *ret_size, size_t max_size) {
        return read_full_file_at(AT_FDCWD, path, ret, ret_size, max_size);
}

int write_file_atomic_at(int dirfd, const char *path, const void *data, size_t size, mode_t mode) {
        _cleanup_free_ char *tmp =
                strprintf("%s.tmp.%d.%lx", path, (int) getpid(), (unsigned long) random());
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!tmp)
                return -ENOMEM;
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return -errno;
        r = loop_write(fd, data, size);
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(dirfd, tmp, dirfd, path) < 0)
                r = -errno;
        if (r < 0)
                (void) unlinkat(dirfd, tmp, 0);
        return r;
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode) {
        return write_file_atomic_at(AT_FDCWD, path, data, size, mode);
}

int write_string_file(const char *path, const char *s) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        ssize_t k = write(fd, s, strlen(s));
        if (k < 0)
                return -errno;
        if ((size_t) k != strlen(s))
                return -EIO;
        return 0;
}

int read_one_line_file(const char *path, char **ret) {
        _cleanup_free_ char *buf = NULL;
        int r = read_full_file(path, &buf, NULL, 1 << 20);
        if (r < 0)
                return r;
        buf[strcspn(buf, "\n")] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int rm_rf_children(int fd, dev_t dev) {
        _cleanup_closedir_ DIR *d = fdopendir(fd);
        int r = 0;
        if (!d) {
                safe_close(fd);
                return -errno;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                struct stat st;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno != ENOENT && r == 0)
                                r = -errno;
                        continue;
                }
                if (S_ISDIR(st.st_mode)) {
                        if (st.st_dev != dev) { /* never cross into another mount */
                                if (r == 0)
                                        r = -EBUSY;
                                continue;
                        }
                        int cfd = openat(dirfd(d), de->d_name,
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (cfd < 0) {
                                if (r == 0)
                                        r = -errno;
                                continue;
                        }
                        int q = rm_rf_children(cfd, dev);
                        if (q < 0 && r == 0)
                                r = q;
                        if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
                                r = -errno;
                } else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT && r == 0)
                        r = -errno;
        }
        return r;
}

int rm_rf_at(int dirfd, const char *path) {
        struct stat st;
        if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return RET_NERRNO(unlinkat(dirfd, path, 0)) < 0 && errno != ENOENT ? -errno : 0;
        int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = rm_rf_children(fd, st.st_dev);
        if (unlinkat(dirfd, path, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
                r = -errno;
        return r;
}
