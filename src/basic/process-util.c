/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd-util.h"
#include "fileio.h"
#include "macros.h"
#include "process-util.h"
#include "string-util.h"

int pidfd_open_fd(pid_t pid) {
        return RET_NERRNO((int) syscall(SYS_pidfd_open, pid, 0));
}

int pidfd_signal(int pidfd, int sig) {
        return RET_NERRNO((int) syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0));
}

int proc_read_stat(pid_t pid, char *ret_state, uint64_t *ret_start_time) {
        _cleanup_free_ char *p = NULL, *data = NULL;
        unsigned long long v;
        char *s;
        int r;

        if (pid <= 0)
                return -EINVAL;
        p = strprintf("/proc/%d/stat", (int) pid);
        if (!p)
                return -ENOMEM;
        r = read_full_file(p, &data, NULL, 16384);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        /* comm may contain spaces and parentheses: fields resume after the last ')' */
        s = strrchr(data, ')');
        if (!s)
                return -EBADMSG;
        s++;
        s += strspn(s, " ");
        if (ret_state)
                *ret_state = *s;
        /* after ')' come field 3 (state) … field 22 (starttime): skip 19 fields */
        for (int i = 0; i < 19; i++) {
                s += strspn(s, " ");
                s += strcspn(s, " ");
        }
        if (sscanf(s, " %llu", &v) != 1)
                return -EBADMSG;
        if (ret_start_time)
                *ret_start_time = (uint64_t) v;
        return 0;
}

int proc_get_start_time(pid_t pid, uint64_t *ret) {
        return proc_read_stat(pid, NULL, ret);
}

int pidfd_open_pinned(pid_t pid, uint64_t start_time, int *ret) {
        uint64_t t;
        int fd, r;

        fd = pidfd_open_fd(pid);
        if (fd < 0)
                return fd;
        r = proc_get_start_time(pid, &t);
        if (r < 0 || t != start_time) {
                safe_close(fd);
                return -ESRCH;
        }
        *ret = fd;
        return 0;
}

int userns_become_root(void) {
        if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
                return -errno;
        return 0;
}
