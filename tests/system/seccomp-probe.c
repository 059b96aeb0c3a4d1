/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* seccomp-probe [mkdir PATH] — a static probe for test-60-seccomp, run inside a busybox container:
 * tries the system calls a container escape or kernel attack starts with and prints one
 * "name=RESULT" line each, RESULT being OK or the errno name (EPERM, ENOSYS, …). Every call is made
 * with valid arguments, so without a filter it succeeds or fails for a reason of the kernel's own.
 * With "mkdir PATH" it only tries mkdir(PATH). */
#include <errno.h>
#include <linux/io_uring.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static const char *errno_name(int e) {
        switch (e) {
        case 0:
                return "OK";
        case EPERM:
                return "EPERM";
        case ENOSYS:
                return "ENOSYS";
        case EACCES:
                return "EACCES";
        case EINVAL:
                return "EINVAL";
        case EAFNOSUPPORT:
                return "EAFNOSUPPORT";
        case ENODEV:
                return "ENODEV";
        case ENOMEM:
                return "ENOMEM";
        case EBADF:
                return "EBADF";
        case ENOSPC:
                return "ENOSPC";
        case EEXIST:
                return "EEXIST";
        default:
                return "OTHER";
        }
}

static void report(const char *name, long r) {
        printf("%s=%s\n", name, r < 0 ? errno_name(errno) : "OK");
}

/* a raw clone (fork-like, child exits at once) with flags */
static long try_clone(unsigned long flags) {
        long r = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
        if (r == 0)
                _exit(0);
        if (r > 0)
                (void) waitpid((pid_t) r, NULL, 0);
        return r;
}

static long try_clone3(void) {
        struct clone_args a = { .exit_signal = SIGCHLD };
        long r = syscall(SYS_clone3, &a, sizeof(a));
        if (r == 0)
                _exit(0);
        if (r > 0)
                (void) waitpid((pid_t) r, NULL, 0);
        return r;
}

int main(int argc, char *argv[]) {
        long r;

        if (argc == 3 && strcmp(argv[1], "mkdir") == 0) {
                report("mkdir", mkdir(argv[2], 0755));
                return 0;
        }

        struct io_uring_params p = {};
        r = syscall(SYS_io_uring_setup, 4, &p);
        report("io_uring_setup", r);
        if (r >= 0)
                close((int) r);

        r = personality(ADDR_NO_RANDOMIZE);
        report("personality_addr_no_randomize", r);
        if (r >= 0)
                (void) personality(PER_LINUX);
        report("personality_query", personality(0xffffffff));

        int pidfd = (int) syscall(SYS_pidfd_open, getpid(), 0);
        report("pidfd_open", pidfd);
        r = syscall(SYS_pidfd_getfd, pidfd, 1, 0);
        report("pidfd_getfd", r);
        if (r >= 0)
                close((int) r);

        r = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        report("socket_vsock", r);
        if (r >= 0)
                close((int) r);

        report("clone_newuser", try_clone(CLONE_NEWUSER));
        report("clone_newns", try_clone(CLONE_NEWNS));
        report("clone_plain", try_clone(0));
        report("clone3", try_clone3());
        report("unshare_newns", syscall(SYS_unshare, CLONE_NEWNS));

        /* a number above every system call there is */
        report("syscall_1000", syscall(1000, 0, 0, 0));

        /* a normal network socket: a UDP datagram to itself over lo */
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        char buf[8] = {};
        int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        r = u < 0                                                                   ? -1
                : bind(u, (struct sockaddr *) &sa, sizeof(sa)) < 0                  ? -1
                : getsockname(u, (struct sockaddr *) &sa, &len) < 0                 ? -1
                : sendto(u, "ping", 4, 0, (struct sockaddr *) &sa, sizeof(sa)) != 4 ? -1
                : recv(u, buf, sizeof(buf) - 1, 0) != 4 || strcmp(buf, "ping") != 0 ? -1
                                                                                    : 0;
        report("udp_loopback", r);

        fflush(stdout);
        return 0;
}
