/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fd-util.h"

int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

static int fd_update_flag(int fd, int get, int set, int flag, bool on) {
        int flags = fcntl(fd, get);
        if (flags < 0)
                return -errno;
        int nflags = on ? (flags | flag) : (flags & ~flag);
        if (nflags == flags)
                return 0;
        if (fcntl(fd, set, nflags) < 0)
                return -errno;
        return 0;
}

int fd_set_cloexec(int fd, bool cloexec) {
        return fd_update_flag(fd, F_GETFD, F_SETFD, FD_CLOEXEC, cloexec);
}

int fd_set_nonblock(int fd, bool nonblock) {
        return fd_update_flag(fd, F_GETFL, F_SETFL, O_NONBLOCK, nonblock);
}

int loop_write(int fd, const void *buf, size_t size) {
        const char *p = buf;
        while (size > 0) {
                ssize_t k = write(fd, p, size);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO;
                p += k;
                size -= (size_t) k;
        }
        return 0;
}

ssize_t loop_read(int fd, void *buf, size_t size) {
        char *p = buf;
        size_t n = 0;
        while (n < size) {
                ssize_t k = read(fd, p + n, size - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return n > 0 ? (ssize_t) n : -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        return (ssize_t) n;
}

int opendir_at(int dfd, const char *path, int flags, DIR **ret) {
        DIR *d;
        int fd;

        fd = openat(dfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | flags);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -errno;
        }
        *ret = d;
        return 0;
}

/* Room for one SCM_RIGHTS fd */
typedef union FdControl {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
} FdControl;

static struct msghdr fd_msghdr(struct iovec *iov, FdControl *u) {
        return (struct msghdr){
                .msg_iov = iov,
                .msg_iovlen = 1,
                .msg_control = u->buf,
                .msg_controllen = sizeof(u->buf),
        };
}

int fd_send(int sock, const void *data, size_t size, int fd, int flags) {
        struct iovec iov = { .iov_base = (void *) data, .iov_len = size };
        FdControl u = {};
        struct msghdr mh = fd_msghdr(&iov, &u);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

        if (fd < 0) {
                mh.msg_control = NULL;
                mh.msg_controllen = 0;
                return RET_NERRNO(sendmsg(sock, &mh, flags));
        }
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
        return RET_NERRNO(sendmsg(sock, &mh, flags));
}

ssize_t fd_recv(int sock, void *buf, size_t size, int *ret_fd, int flags) {
        struct iovec iov = { .iov_base = buf, .iov_len = size };
        FdControl u = {};
        struct msghdr mh = fd_msghdr(&iov, &u);
        ssize_t n;

        *ret_fd = -EBADF;
        do
                n = recvmsg(sock, &mh, flags);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
                    cm->cmsg_len == CMSG_LEN(sizeof(int)))
                        memcpy(ret_fd, CMSG_DATA(cm), sizeof(int));
        return n;
}
