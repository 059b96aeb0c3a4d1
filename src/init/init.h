/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* init/: cbox-init, the container's PID 1. A static executable (nothing needed in the image),
 * opened by the parent before pivot_root (spawn_open_executable()) and exec'd by spawn/.
 *
 * Command line (built with init_build_argv()):
 *   cbox-init [--exit-fd N] [--journal-fd N] [--name NAME] -- PAYLOAD [ARGS...]
 *
 * As PID 1 it:
 *   - starts PAYLOAD as PID 2 (fork + execvp: PATH search in the container, environment passed
 *     through unchanged), with PR_SET_DUMPABLE 0 for itself;
 *   - reaps every zombie (orphans are re-parented to it);
 *   - forwards SIGTERM SIGINT SIGHUP SIGUSR1 SIGUSR2 SIGQUIT SIGWINCH to the payload;
 *   - when the payload is gone: SIGKILLs every remaining process of the pid namespace (orphaned
 *     grandchildren; like `docker stop`, the container is its payload) and reaps them, writes
 *     "EXIT_STATUS=N\nEXIT_TIME=USEC\n" (CLOCK_REALTIME µs) to --exit-fd, and exits with the
 *     payload's code (128+signal when it was killed by a signal);
 *   - with --journal-fd (an AF_UNIX SOCK_DGRAM socket connected to /run/systemd/journal/socket,
 *     connected by the parent before pivot_root) and --name: gives the payload pipes as stdout and
 *     stderr and relays each line as a native journal entry: MESSAGE, PRIORITY (6 stdout, 3
 *     stderr), SYSLOG_IDENTIFIER=NAME, CBOX_CONTAINER=NAME, CBOX_STREAM=stdout|stderr. Lines are
 *     cut at INIT_LINE_MAX bytes. Without --journal-fd the payload inherits init's stdio
 *     (foreground mode).
 * Exit codes of its own: 127 payload not found, 126 not executable, 125 other init failure.
 *
 *   cbox-init --exec PATH -- ARGV0 [ARGS...]
 * is no init: it sets PR_SET_DUMPABLE 0 and execv(PATH, ARGV) in place. spawn/ uses it for `cbox
 * exec` and [health] (spawn_exec_in()): the process that entered the container exec's cbox-init's
 * read-only copy first, so no process in the container ever runs cbox's own binary (runc
 * CVE-2019-5736); spawn/ builds this command line itself (it does not include this header).
 *
 * Depends on basic/ only. The library part (this header) is linked by container/ and tests; the
 * executable is built from the same sources without sanitizers. */

#include <stdbool.h>
#include <stdint.h>

#include "macros.h"

#define INIT_LINE_MAX (16U * 1024U)

/* The exit codes cbox-init uses when it cannot start the payload */
#define INIT_EXIT_NOT_FOUND 127
#define INIT_EXIT_NOT_EXECUTABLE 126
#define INIT_EXIT_FAILURE 125

typedef struct InitOptions {
        int exit_fd;      /* -EBADF = none */
        int journal_fd;   /* -EBADF = none (foreground: payload inherits stdio) */
        const char *name; /* container name; required with journal_fd */
} InitOptions;

/* argv for cbox-init: {"cbox-init", options..., "--", payload...}. payload must not be empty. */
int init_build_argv(const InitOptions *o, char *const *payload, char ***ret);

/* Parses what cbox-init wrote to its exit fd. ret_usec may be NULL. -EBADMSG when malformed,
 * -ENODATA when empty (init has not finished, or was killed before it could write). */
int init_parse_exit_record(const char *text, int *ret_status, uint64_t *ret_usec);

/* The whole program; main() of cbox-init. Returns its exit code. */
int init_main(int argc, char *argv[]);
