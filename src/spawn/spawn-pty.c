/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The container's own pty: opened by the child inside the container's devpts, its master handed to
 * the parent over the sync channel (SCM_RIGHTS), and relayed by the parent to the caller's terminal.
 * Shared by `cbox exec -t` (spawn-exec.c) and `cbox up --foreground` on a terminal (spawn.c for the
 * child side, container/ for the relay, which it runs in its own event loop). */

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "fd-util.h"
#include "spawn-internal.h"
#include "string-util.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int spawn_open_pty(int *ret_master, int *ret_slave) {
        _cleanup_close_ int master = -EBADF;
        int slave;

        /* the devpts mounted at /dev/pts of the root we are in (the container's, after pivot_root or
         * setns): never the host's, so nothing of the host's terminals is reachable through it */
        master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                return -errno;
        if (unlockpt(master) < 0)
                return -errno;
        /* the peer by the master, not by a name looked up in a /dev/pts the container controls */
        slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return -errno;
        *ret_master = TAKE_FD(master);
        *ret_slave = slave;
        return 0;
}

static void copy_winsize(int from, int to) {
        struct winsize ws;
        if (ioctl(from, TIOCGWINSZ, &ws) >= 0)
                (void) ioctl(to, TIOCSWINSZ, &ws);
}

int spawn_child_take_pty(int slave, int size_from) {
        /* the caller's window size, before anything runs on the pty (the relay copies it again, and on
         * every SIGWINCH, but only once the process runs) */
        if (size_from >= 0 && isatty(size_from))
                copy_winsize(size_from, slave);

        /* we are a session leader without a terminal (setsid() came first): the pty becomes ours, and
         * our children's, and stdio */
        if (ioctl(slave, TIOCSCTTY, 0) < 0)
                return -errno;
        for (int i = 0; i < 3; i++)
                if (dup2(slave, i) < 0)
                        return -errno;
        return 0;
}

int spawn_send_fd(int sock, int fd) {
        char c = 'T';
        return fd_send(sock, &c, 1, fd, MSG_NOSIGNAL);
}

int spawn_recv_report(int sock, int *ret_fd, SpawnWireError *err) {
        SpawnWireError e = {};
        ssize_t n;

        n = fd_recv(sock, &e, sizeof(e), ret_fd, MSG_CMSG_CLOEXEC);
        if (n < 0)
                return (int) n; /* err untouched: nothing was reported */
        if (n == 0 || *ret_fd >= 0)
                return 0;
        if (n != (ssize_t) sizeof(e) || e.error <= 0) {
                if (err)
                        *err = (SpawnWireError){ .error = EPROTO,
                                                 .message = "start the process (garbled report)" };
                return -EPROTO;
        }
        e.message[sizeof(e.message) - 1] = '\0';
        if (err)
                *err = e;
        return -e.error;
}

/* ---- the parent's relay ---- */

int spawn_pty_relay_start(SpawnPtyRelay *r, int master, int in_fd, int out_fd) {
        assert(r);
        assert(master >= 0);

        *r = (SpawnPtyRelay){ .master = master, .in_fd = in_fd, .out_fd = out_fd, .in_open = in_fd >= 0 };
        (void) fd_set_nonblock(master, true);
        if (in_fd >= 0 && isatty(in_fd)) {
                copy_winsize(in_fd, master);
                if (tcgetattr(in_fd, &r->saved) >= 0) {
                        struct termios raw = r->saved;
                        cfmakeraw(&raw);
                        r->restore = tcsetattr(in_fd, TCSANOW, &raw) >= 0;
                }
        }
        return 0;
}

void spawn_pty_relay_pollfds(const SpawnPtyRelay *r, struct pollfd pf[static 2]) {
        pf[0] = (struct pollfd){ .fd = r->master, .events = POLLIN };
        pf[1] = (struct pollfd){ .fd = r->in_open ? r->in_fd : -1, .events = POLLIN };
}

/* one read of the master to out_fd: 1 = copied something, 0 = nothing there (EAGAIN), -EIO etc. =
 * every holder of the peer is gone (the process and whatever it left exited) */
static int relay_master(SpawnPtyRelay *r) {
        char buf[4096];
        ssize_t k = read(r->master, buf, sizeof(buf));

        if (k > 0) {
                if (r->out_fd >= 0)
                        (void) loop_write(r->out_fd, buf, (size_t) k);
                return 1;
        }
        if (k < 0 && IN_SET(errno, EAGAIN, EINTR))
                return 0;
        return k == 0 ? -EIO : -errno;
}

int spawn_pty_relay_dispatch(SpawnPtyRelay *r, const struct pollfd pf[static 2]) {
        int ret = 0;

        if (r->master < 0)
                return -EBADF;
        if (pf[0].revents) {
                int k = relay_master(r);
                if (k < 0)
                        ret = k;
        }
        if (pf[1].revents) {
                char buf[4096];
                ssize_t k = read(r->in_fd, buf, sizeof(buf));
                if (k > 0)
                        /* the master is non-blocking: what does not fit while the process reads none of
                         * its input (the pty's buffer is full) is dropped, as when typing ahead into a
                         * terminal nobody reads, rather than stopping the relay of its output */
                        (void) loop_write(r->master, buf, (size_t) k);
                else if (k == 0 || !IN_SET(errno, EAGAIN, EINTR)) {
                        r->in_open = false;
                        (void) loop_write(r->master, "\x04", 1); /* EOF for a canonical-mode reader */
                }
        }
        return ret;
}

void spawn_pty_relay_winch(SpawnPtyRelay *r) {
        /* the kernel sends SIGWINCH to the pty's foreground process group when the size changes */
        if (r->master >= 0 && r->in_fd >= 0)
                copy_winsize(r->in_fd, r->master);
}

void spawn_pty_relay_drain(SpawnPtyRelay *r) {
        /* the process is gone: what it wrote last is in the master's buffer; the pty may still have
         * other holders (whatever it started), so do not wait for EIO */
        while (r->master >= 0 && relay_master(r) > 0)
                ;
}

void spawn_pty_relay_done(SpawnPtyRelay *r) {
        if (!r)
                return;
        if (r->restore) {
                (void) tcsetattr(r->in_fd, TCSADRAIN, &r->saved);
                r->restore = false;
        }
        r->master = safe_close(r->master);
}
