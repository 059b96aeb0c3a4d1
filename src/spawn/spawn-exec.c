/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* `cbox exec`: a helper child (A) enters the container's namespaces with setns(pidfd) and, with -t,
 * opens a pty in the container's own devpts and hands the master to us; it then clones the real
 * process (B) into the container's pid namespace (and cgroup, CLONE_INTO_CGROUP), waits for it and
 * exits with its status. Errors travel back over a SOCK_SEQPACKET channel, as for containers. */

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "fd-util.h"
#include "spawn-internal.h"
#include "string-util.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

static void set_error(SpawnError *err, int r, const char *what, const char *arg) {
        err->error = abs(r);
        (void) snprintf(err->message, sizeof(err->message), "%s%s%s%s", what, arg ? " '" : "", strempty(arg),
                        arg ? "'" : "");
}

static int send_fd(int sock, int fd) {
        char c = 'T';
        struct iovec iov = { .iov_base = &c, .iov_len = 1 };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } u = {};
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = u.buf,
                .msg_controllen = sizeof(u.buf),
        };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
        return RET_NERRNO(sendmsg(sock, &mh, MSG_NOSIGNAL));
}

/* Receives either a SpawnError (returns its -errno, err filled) or an fd (returns 0, *ret_fd), or
 * EOF (returns 0, *ret_fd = -EBADF) */
static int recv_report(int sock, int *ret_fd, SpawnError *err) {
        SpawnError e = {};
        struct iovec iov = { .iov_base = &e, .iov_len = sizeof(e) };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } u = {};
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = u.buf,
                .msg_controllen = sizeof(u.buf),
        };
        ssize_t n;

        *ret_fd = -EBADF;
        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
                        memcpy(ret_fd, CMSG_DATA(cm), sizeof(int));
        if (n == 0 || *ret_fd >= 0)
                return 0;
        if (n != (ssize_t) sizeof(e) || e.error <= 0) {
                set_error(err, EPROTO, "start the process (garbled report)", NULL);
                return -EPROTO;
        }
        e.message[sizeof(e.message) - 1] = '\0';
        *err = e;
        return -e.error;
}

/* The command's path, searched in the container's PATH by us (glibc's execvpe would look at our own
 * PATH): an executable regular file, or -ENOENT (-EACCES when only unexecutable ones were found) */
static int resolve_command(const char *name, char **env, char **ret) {
        const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        int r = -ENOENT;

        if (strchr(name, '/')) {
                if (access(name, X_OK) < 0)
                        return -errno;
                *ret = strdup(name);
                return *ret ? 0 : -ENOMEM;
        }
        STRV_FOREACH (e, env) {
                const char *v = startswith(*e, "PATH=");
                if (v)
                        path = v;
        }
        for (const char *p = path; *p;) {
                size_t n = strcspn(p, ":");
                _cleanup_free_ char *full = strprintf("%.*s/%s", (int) n, p, name);
                struct stat st;

                if (!full)
                        return -ENOMEM;
                if (n > 0 && stat(full, &st) >= 0 && S_ISREG(st.st_mode)) {
                        if (access(full, X_OK) >= 0) {
                                *ret = TAKE_PTR(full);
                                return 0;
                        }
                        r = -errno; /* remember EACCES and friends, keep looking */
                }
                p += n;
                if (*p == ':')
                        p++;
        }
        return r;
}

/* Exec's the command through cbox-init's read-only copy ("cbox-init --exec PATH -- ARGV…", see
 * init.h), so that this process is never cbox's own binary once it can be seen from inside; the
 * O_CLOEXEC sync socket closes with this exec */
static int exec_command(const SpawnExecParams *p, const char *path, char **env) {
        _cleanup_free_ char **argv = NULL;
        size_t n = strv_length(p->process.argv), k = 0;

        if (p->exec_fd < 0) {
                execve(path, p->process.argv, env);
                return -errno;
        }
        argv = new (char *, n + 5);
        if (!argv)
                return -ENOMEM;
        argv[k++] = (char *) "cbox-init";
        argv[k++] = (char *) "--exec";
        argv[k++] = (char *) path;
        argv[k++] = (char *) "--";
        for (size_t i = 0; i < n; i++)
                argv[k++] = p->process.argv[i];
        argv[k] = NULL;
        syscall(SYS_execveat, p->exec_fd, "", argv, env, AT_EMPTY_PATH);
        return -errno;
}

static _noreturn_ void exec_child_b(const SpawnExecParams *p, int sync_fd, int tty_slave) {
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *path = NULL;
        SpawnError err = {};
        int r;

        /* In the container's pid namespace from now on, and still cbox's binary until the exec:
         * nobody in there may open our /proc/PID/exe, mem, fds (inherited from A; made sure) */
        (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        spawn_child_reset_signals();

        if (p->cgroup_fd >= 0 && ((p->namespaces ?: SPAWN_NAMESPACES_DEFAULT) & CLONE_NEWCGROUP) &&
            setns(p->leader_pidfd, CLONE_NEWCGROUP) < 0) {
                set_error(&err, -errno, "enter the container's cgroup namespace", NULL);
                spawn_child_fail(sync_fd, &err);
        }

        if (tty_slave >= 0) {
                if (setsid() < 0 || ioctl(tty_slave, TIOCSCTTY, 0) < 0) {
                        set_error(&err, -errno, "make the pty the controlling terminal", NULL);
                        spawn_child_fail(sync_fd, &err);
                }
                for (int i = 0; i < 3; i++)
                        if (dup2(tty_slave, i) < 0) {
                                set_error(&err, -errno, "set up the pty as stdio", NULL);
                                spawn_child_fail(sync_fd, &err);
                        }
        } else if (setsid() < 0 || spawn_child_stdio(&p->process, &err) < 0) {
                /* without -t: a session of its own too, never the caller's controlling terminal */
                if (err.error == 0)
                        set_error(&err, -errno, "create a session", NULL);
                spawn_child_fail(sync_fd, &err);
        }

        /* Of cbox's fds (the leader's pidfd, the cgroup's, whatever the caller had open) nothing
         * stays while we resolve names in the container or run there */
        const int keep[] = { sync_fd, p->exec_fd };
        if (spawn_child_close_other_fds(keep, ELEMENTSOF(keep), &err) < 0)
                spawn_child_fail(sync_fd, &err);

        if (spawn_child_credentials(&p->process, p->tty, &env, &err) < 0)
                spawn_child_fail(sync_fd, &err);
        if (spawn_child_close_fds(NULL, 0, &err) < 0)
                spawn_child_fail(sync_fd, &err);

        r = resolve_command(p->process.argv[0], env, &path);
        if (r >= 0)
                r = exec_command(p, path, env);
        set_error(&err, r, "execute", p->process.argv[0]);
        spawn_child_fail(sync_fd, &err);
}

static _noreturn_ void exec_child_a(const SpawnExecParams *p, int sync_fd) {
        _cleanup_close_ int master = -EBADF, slave = -EBADF;
        SpawnError err = {};
        int pidfd = -EBADF, status;
        pid_t pid;

        /* cbox's binary, about to enter the container: not dumpable (B inherits it) */
        (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

        /* CLONE_INTO_CGROUP needs both our cgroup and the target below our cgroup namespace's root: enter
         * the container's cgroup namespace only from inside its cgroup (in exec_child_b) */
        uint64_t ns = p->namespaces ?: SPAWN_NAMESPACES_DEFAULT;
        if (p->cgroup_fd >= 0)
                ns &= ~(uint64_t) CLONE_NEWCGROUP;
        if (setns(p->leader_pidfd, (int) ns) < 0) {
                set_error(&err, -errno, "enter the container's namespaces", NULL);
                spawn_child_fail(sync_fd, &err);
        }

        if (p->tty) {
                /* the container's own devpts: our root is the container's now */
                master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
                if (master < 0) {
                        set_error(&err, -errno, "open", "/dev/pts/ptmx");
                        spawn_child_fail(sync_fd, &err);
                }
                if (unlockpt(master) < 0) {
                        set_error(&err, -errno, "unlock the pty", NULL);
                        spawn_child_fail(sync_fd, &err);
                }
                slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
                if (slave < 0) {
                        set_error(&err, -errno, "open the pty peer", NULL);
                        spawn_child_fail(sync_fd, &err);
                }
                if (send_fd(sync_fd, master) < 0)
                        _exit(EXIT_FAILURE);
                master = safe_close(master);
        }

        pid = spawn_clone(0, p->cgroup_fd, &pidfd);
        if (pid < 0) {
                set_error(&err, -errno,
                          p->cgroup_fd >= 0 ? "start the process in the container's cgroup"
                                            : "start the process",
                          NULL);
                spawn_child_fail(sync_fd, &err);
        }
        if (pid == 0)
                exec_child_b(p, sync_fd, slave);

        slave = safe_close(slave);
        sync_fd = safe_close(sync_fd); /* B holds the channel until it execs */
        for (;;) {
                if (waitpid(pid, &status, 0) == pid)
                        break;
                if (errno != EINTR)
                        _exit(EXIT_FAILURE);
        }
        _exit(spawn_wait_status_to_exit(status));
}

/* ---- the parent's pty relay ---- */

static void copy_winsize(int from, int to) {
        struct winsize ws;
        if (ioctl(from, TIOCGWINSZ, &ws) >= 0)
                (void) ioctl(to, TIOCSWINSZ, &ws);
}

static int relay(int master, int in_fd, int out_fd, int child_pidfd) {
        struct termios saved, raw;
        bool restore = false, in_open = true, child_gone = false;
        _cleanup_close_ int sfd = -EBADF;
        sigset_t mask, old;
        char buf[4096];

        if (isatty(in_fd)) {
                copy_winsize(in_fd, master);
                if (tcgetattr(in_fd, &saved) >= 0) {
                        raw = saved;
                        cfmakeraw(&raw);
                        restore = tcsetattr(in_fd, TCSANOW, &raw) >= 0;
                }
        }
        sigemptyset(&mask);
        sigaddset(&mask, SIGWINCH);
        (void) sigprocmask(SIG_BLOCK, &mask, &old);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

        (void) fd_set_nonblock(master, true);
        for (;;) {
                struct pollfd pf[4] = {
                        { .fd = master, .events = POLLIN },
                        { .fd = in_open ? in_fd : -1, .events = POLLIN },
                        { .fd = sfd, .events = POLLIN },
                        { .fd = child_gone ? -1 : child_pidfd, .events = POLLIN },
                };

                if (poll(pf, ELEMENTSOF(pf), child_gone ? 100 : -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (pf[0].revents) {
                        ssize_t k = read(master, buf, sizeof(buf));
                        if (k > 0)
                                (void) loop_write(out_fd, buf, (size_t) k);
                        else if (k == 0 || (errno != EAGAIN && errno != EINTR))
                                break; /* EIO: every holder of the peer is gone */
                }
                if (pf[1].revents) {
                        ssize_t k = read(in_fd, buf, sizeof(buf));
                        if (k > 0)
                                (void) loop_write(master, buf, (size_t) k);
                        else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
                                in_open = false;
                                (void) loop_write(master, "\x04", 1); /* EOF for a canonical-mode reader */
                        }
                }
                if (sfd >= 0 && pf[2].revents) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) > 0)
                                ;
                        copy_winsize(in_fd, master);
                }
                if (pf[3].revents)
                        child_gone = true;
                else if (child_gone && !pf[0].revents)
                        break; /* the process is gone and the pty is drained */
        }

        (void) sigprocmask(SIG_SETMASK, &old, NULL);
        if (restore)
                (void) tcsetattr(in_fd, TCSADRAIN, &saved);
        return 0;
}

int spawn_exec_in(const SpawnExecParams *p, int *ret_status, SpawnError *err) {
        _cleanup_close_pair_ int sp[2] = { -EBADF, -EBADF };
        _cleanup_close_ int pidfd = -EBADF, master = -EBADF;
        SpawnError e = {};
        siginfo_t si = {};
        pid_t pid;
        int r, fd;

        assert(p);
        assert(ret_status);

        if (p->leader_pidfd < 0 || !p->process.argv || !p->process.argv[0])
                return -EINVAL;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return -errno;

        pid = spawn_clone(0, -EBADF, &pidfd);
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                sp[0] = safe_close(sp[0]);
                exec_child_a(p, sp[1]);
        }
        sp[1] = safe_close(sp[1]);

        /* First report: the pty master (with -t), an error, or EOF (B exec'd) */
        r = recv_report(sp[0], &fd, &e);
        if (r >= 0 && fd >= 0) {
                master = fd;
                r = recv_report(sp[0], &fd, &e);
                if (fd >= 0)
                        (void) safe_close(fd);
        }
        if (r >= 0 && master >= 0)
                (void) relay(master, p->process.stdin_fd >= 0 ? p->process.stdin_fd : STDIN_FILENO,
                             p->process.stdout_fd >= 0 ? p->process.stdout_fd : STDOUT_FILENO, pidfd);

        for (;;) {
                if (waitid((idtype_t) P_PIDFD, (id_t) pidfd, &si, WEXITED) >= 0)
                        break;
                if (errno != EINTR) {
                        r = r < 0 ? r : -errno;
                        break;
                }
        }
        if (r < 0) {
                if (err)
                        *err = e;
                return r;
        }

        *ret_status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
        return 0;
}
