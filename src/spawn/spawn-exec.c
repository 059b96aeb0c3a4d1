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

static void set_error(SpawnWireError *err, int r, const char *what, const char *arg) {
        err->error = abs(r);
        (void) snprintf(err->message, sizeof(err->message), "%s%s%s%s", what, arg ? " '" : "", strempty(arg),
                        arg ? "'" : "");
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
        SpawnWireError err = {};
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

        /* A session of its own, with -t or without: the caller's terminal is never its controlling
         * terminal, so /dev/tty does not open and TIOCSTI (the ctty, or CAP_SYS_ADMIN) cannot type
         * into the caller's shell. With -t the container's pty becomes it. */
        if (setsid() < 0) {
                set_error(&err, -errno, "create a session", NULL);
                spawn_child_fail(sync_fd, &err);
        }
        if (tty_slave >= 0) {
                r = spawn_child_take_pty(tty_slave,
                                         p->process.stdin_fd >= 0 ? p->process.stdin_fd : STDIN_FILENO);
                if (r < 0) {
                        set_error(&err, r, "make the pty the controlling terminal and stdio", NULL);
                        spawn_child_fail(sync_fd, &err);
                }
        } else if (spawn_child_stdio(&p->process, &err) < 0)
                spawn_child_fail(sync_fd, &err);

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
        SpawnWireError err = {};
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
                int r = spawn_open_pty(&master, &slave);
                if (r < 0) {
                        set_error(&err, r, "open a pty in", "/dev/pts/ptmx");
                        spawn_child_fail(sync_fd, &err);
                }
                if (spawn_send_fd(sync_fd, master) < 0)
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

/* Relays until the process is gone and the pty drained. SIGWINCH resizes the pty; SIGTERM, SIGINT,
 * SIGHUP or SIGQUIT sent to cbox (a ^C typed is a byte for the pty, not a signal) hang the pty up,
 * which sends SIGHUP to the process's session, instead of ending cbox with the terminal raw. */
static void relay(int master, int in_fd, int out_fd, int child_pidfd) {
        static const int sigs[] = { SIGWINCH, SIGTERM, SIGINT, SIGHUP, SIGQUIT };
        _cleanup_(spawn_pty_relay_done) SpawnPtyRelay r = SPAWN_PTY_RELAY_NULL;
        _cleanup_close_ int sfd = -EBADF;
        sigset_t mask, old;
        bool child_gone = false;

        sigemptyset(&mask);
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                sigaddset(&mask, sigs[i]);
        (void) sigprocmask(SIG_BLOCK, &mask, &old);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

        (void) spawn_pty_relay_start(&r, master, in_fd, out_fd);
        while (!child_gone) {
                struct pollfd pf[4] = {
                        [2] = { .fd = sfd, .events = POLLIN },
                        [3] = { .fd = child_pidfd, .events = POLLIN },
                };

                spawn_pty_relay_pollfds(&r, pf);
                if (poll(pf, ELEMENTSOF(pf), -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (spawn_pty_relay_dispatch(&r, pf) < 0)
                        break; /* EIO: every holder of the peer is gone */
                if (sfd >= 0 && pf[2].revents) {
                        struct signalfd_siginfo si;
                        bool hangup = false;
                        while (read(sfd, &si, sizeof(si)) == (ssize_t) sizeof(si))
                                if (si.ssi_signo == SIGWINCH)
                                        spawn_pty_relay_winch(&r);
                                else
                                        hangup = true;
                        if (hangup)
                                break;
                }
                if (pf[3].revents)
                        child_gone = true;
        }
        if (child_gone)
                spawn_pty_relay_drain(&r);
        spawn_pty_relay_done(&r);
        (void) sigprocmask(SIG_SETMASK, &old, NULL);
}

int spawn_exec_in(const SpawnExecParams *p, int *ret_status, ErrorMessage *err) {
        _cleanup_close_pair_ int sp[2] = { -EBADF, -EBADF };
        _cleanup_close_ int pidfd = -EBADF, master = -EBADF;
        SpawnWireError e = {};
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
        r = spawn_recv_report(sp[0], &fd, &e);
        if (r >= 0 && fd >= 0) {
                master = fd;
                r = spawn_recv_report(sp[0], &fd, &e);
                if (fd >= 0)
                        (void) safe_close(fd);
        }
        if (r < 0 && e.error == 0)
                set_error(&e, r, "wait for the process", NULL);
        if (r >= 0 && master >= 0)
                relay(TAKE_FD(master), p->process.stdin_fd >= 0 ? p->process.stdin_fd : STDIN_FILENO,
                      p->process.stdout_fd >= 0 ? p->process.stdout_fd : STDOUT_FILENO, pidfd);

        for (;;) {
                if (waitid((idtype_t) P_PIDFD, (id_t) pidfd, &si, WEXITED) >= 0)
                        break;
                if (errno != EINTR) {
                        r = r < 0 ? r : -errno;
                        break;
                }
        }
        if (r < 0)
                return spawn_wire_error_pass(&e, r, err);

        *ret_status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
        return 0;
}
