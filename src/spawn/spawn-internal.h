/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between spawn.c (containers) and spawn-exec.c (cbox exec). Not a public API. */

#include "spawn.h"

/* clone3(CLONE_PIDFD, optionally CLONE_INTO_CGROUP) with a clone() + pidfd_open() fallback.
 * Returns 0 in the child, the pid in the parent (with *ret_pidfd set), -1 with errno on failure. */
pid_t spawn_clone(uint64_t flags, int cgroup_fd, int *ret_pidfd);

/* Child side: sends err to the parent over sync_fd (if >= 0) and _exit()s */
_noreturn_ void spawn_child_fail(int sync_fd, const SpawnError *err);
/* Child side: default dispositions for all signals, nothing blocked */
void spawn_child_reset_signals(void);
/* Child side: dup2() the configured stdio fds to 0, 1, 2 */
int spawn_child_stdio(const SpawnProcess *p, SpawnError *err);
/* Child side, after the root is in place: user, groups, capabilities, no_new_privs, workdir;
 * returns the environment to exec with */
int spawn_child_credentials(const SpawnProcess *p, bool tty, char ***ret_env, SpawnError *err);
/* Child side: every fd above 2 except keep[] becomes O_CLOEXEC; keep[] loses O_CLOEXEC */
int spawn_child_close_fds(const int *keep, size_t n_keep, SpawnError *err);
/* Child side: every fd above 2 except keep[] is closed (before anything is resolved in the
 * container, so no fd of the host is reachable through /proc/self/fd) */
int spawn_child_close_other_fds(const int *keep, size_t n_keep, SpawnError *err);
