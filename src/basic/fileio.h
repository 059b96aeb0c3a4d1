/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

#include "macros.h"

/* Reads a whole file (or stream fd) into a NUL-terminated buffer. Fails with -EFBIG past max_size. */
int read_full_file(const char *path, char **ret, size_t *ret_size, size_t max_size);
int read_full_fd(int fd, char **ret, size_t *ret_size, size_t max_size);
/* Same, relative to a directory fd (AT_FDCWD allowed) */
int read_full_file_at(int dirfd, const char *path, char **ret, size_t *ret_size, size_t max_size);

/* Writes data to path atomically: a temporary file in the same directory, fsync, rename. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);
int write_file_atomic_at(int dirfd, const char *path, const void *data, size_t size, mode_t mode);

/* Writes a short string to an existing file such as a sysfs/procfs/cgroupfs attribute */
int write_string_file(const char *path, const char *s);
/* Reads the first line of a file, without the newline */
int read_one_line_file(const char *path, char **ret);

/* mkdir -p with mode for each created component */
int mkdir_p(const char *path, mode_t mode);
/* rm -rf below dirfd/path, not crossing mount points; never follows symlinks */
int rm_rf_at(int dirfd, const char *path);
