/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* The pidfd_open() and pidfd_send_signal() system calls (glibc may not wrap them), as -errno. The pidfd
 * is close-on-exec. */
int pidfd_open_fd(pid_t pid);
int pidfd_signal(int pidfd, int sig);

/* Field 3 (state, 'R', 'S', 'Z', …) and field 22 (starttime, clock ticks since boot) of /proc/PID/stat;
 * either out-param may be NULL. -ESRCH when there is no such process. */
int proc_read_stat(pid_t pid, char *ret_state, uint64_t *ret_start_time);
int proc_get_start_time(pid_t pid, uint64_t *ret);

/* A pidfd for pid if it is still the process that started at start_time (a pid recorded earlier may
 * have been reused): the pidfd pins the process, so the start time read after opening it is its own.
 * -ESRCH when the process is gone or is another one. */
int pidfd_open_pinned(pid_t pid, uint64_t start_time, int *ret);

/* In a user namespace entered or created with the host's uid (which is not mapped there): uid and gid 0
 * of the namespace, without the host's supplementary groups, so that what is created from then on
 * belongs to its range. -errno. */
int userns_become_root(void);
