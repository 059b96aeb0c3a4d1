/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <dirent.h>
#include <stdio.h>

#include "macros.h"

/* Closes fd if it is >= 0 and returns -EBADF, for "fd = safe_close(fd);". Keeps errno. */
int safe_close(int fd);

static inline void closep(int *fd) {
        (void) safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void close_pairp(int (*p)[2]) {
        (*p)[0] = safe_close((*p)[0]);
        (*p)[1] = safe_close((*p)[1]);
}
#define _cleanup_close_pair_ _cleanup_(close_pairp)

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}
#define _cleanup_closedir_ _cleanup_(closedirp)

int fd_set_cloexec(int fd, bool cloexec);
int fd_set_nonblock(int fd, bool nonblock);

/* write() all of buf, retrying on EINTR and short writes */
int loop_write(int fd, const void *buf, size_t size);
/* read() up to size bytes, retrying on EINTR and short reads; returns the number read */
ssize_t loop_read(int fd, void *buf, size_t size);

/* The directory path (relative to dfd; "." for dfd itself) as a DIR stream of its own: openat() with
 * O_RDONLY|O_DIRECTORY|O_CLOEXEC|flags, then fdopendir(). dfd stays open and untouched. -errno. */
int opendir_at(int dfd, const char *path, int flags, DIR **ret);

/* One message of size bytes on a unix socket with fd attached (SCM_RIGHTS; fd < 0: none); flags for
 * sendmsg() (MSG_NOSIGNAL…). -errno. */
int fd_send(int sock, const void *data, size_t size, int fd, int flags);
/* Receives one message of up to size bytes, retrying on EINTR (flags for recvmsg(): MSG_CMSG_CLOEXEC…).
 * *ret_fd is the single fd that came with it, -EBADF if none. Returns the bytes received or -errno. */
ssize_t fd_recv(int sock, void *buf, size_t size, int *ret_fd, int flags);
