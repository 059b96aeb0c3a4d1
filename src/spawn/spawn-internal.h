/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between spawn.c (containers) and spawn-exec.c (cbox exec). Not a public API. */

#include "spawn.h"

/* A setup error as the child reports it over the sync channel (or the parent side of the channel
 * notes it): fixed size and without pointers, so the child sends it as it is. The public API hands it
 * on as an ErrorMessage (spawn_wire_error_pass()). */
typedef struct SpawnWireError {
        int error;         /* positive errno, 0 = none */
        char message[512]; /* the failed step, e.g. "mount proc at '/proc'" (no errno text) */
} SpawnWireError;

/* Hands w on to err (w's errno as -errno and a copy of its step; no message when w has no error) and
 * returns r */
int spawn_wire_error_pass(const SpawnWireError *w, int r, ErrorMessage *err);

/* clone3(CLONE_PIDFD, optionally CLONE_INTO_CGROUP) with a clone() + pidfd_open() fallback.
 * Returns 0 in the child, the pid in the parent (with *ret_pidfd set), -1 with errno on failure. */
pid_t spawn_clone(uint64_t flags, int cgroup_fd, int *ret_pidfd);

/* spawn-pty.c. Opens a pty in the devpts at /dev/pts of the current root (the container's): the
 * master, and the peer by TIOCGPTPEER; both O_NOCTTY | O_CLOEXEC */
int spawn_open_pty(int *ret_master, int *ret_slave);
/* Child side, a session leader without a terminal: slave gets the window size of size_from (the
 * terminal the parent relays, when it is one) and becomes the controlling terminal and 0, 1, 2 */
int spawn_child_take_pty(int slave, int size_from);
/* Sends fd over the sync channel (one byte 'T' + SCM_RIGHTS) */
int spawn_send_fd(int sock, int fd);
/* Receives one report from the sync channel: an fd (returns 0, *ret_fd set), EOF (returns 0,
 * *ret_fd = -EBADF: the process exec'd), or a SpawnWireError (returns its -errno, err filled); a failed
 * recvmsg() returns -errno and leaves err alone */
int spawn_recv_report(int sock, int *ret_fd, SpawnWireError *err);

/* Child side: sends err to the parent over sync_fd (if >= 0) and _exit()s */
_noreturn_ void spawn_child_fail(int sync_fd, const SpawnWireError *err);
/* Child side: default dispositions for all signals, nothing blocked */
void spawn_child_reset_signals(void);
/* Child side: dup2() the configured stdio fds to 0, 1, 2 */
int spawn_child_stdio(const SpawnProcess *p, SpawnWireError *err);
/* Child side, after the root is in place: user, groups, capabilities, no_new_privs, workdir;
 * returns the environment to exec with */
int spawn_child_credentials(const SpawnProcess *p, bool tty, char ***ret_env, SpawnWireError *err);
/* Child side: every fd above 2 except keep[] becomes O_CLOEXEC; keep[] loses O_CLOEXEC */
int spawn_child_close_fds(const int *keep, size_t n_keep, SpawnWireError *err);
/* Child side: every fd above 2 except keep[] is closed (before anything is resolved in the
 * container, so no fd of the host is reachable through /proc/self/fd) */
int spawn_child_close_other_fds(const int *keep, size_t n_keep, SpawnWireError *err);
