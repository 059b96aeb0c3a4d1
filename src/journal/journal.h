/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* journald: the reader behind `cbox logs` and stream fds for payload output.
 * Layer 1: depends on basic/ and libsystemd only. Does not log; returns -errno.
 *
 * A container's lines are journal entries either
 *  - sent by the container's init over the native protocol with SYSLOG_IDENTIFIER=NAME,
 *    CBOX_CONTAINER=NAME and CBOX_STREAM=stdout|stderr, or
 *  - logged by anything else running in the unit (_SYSTEMD_UNIT=cbox-NAME.scope, e.g. a stream fd
 *    from journal_stream_open()).
 * journal_read() matches both (a disjunction) so `cbox logs NAME` shows all of them.
 *
 * CONTRACT: cli/ and container/ code against this header. Additions only; no renames. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macros.h"

/* Journal field names cbox sets on container output. */
#define JOURNAL_FIELD_CONTAINER "CBOX_CONTAINER"
#define JOURNAL_FIELD_STREAM "CBOX_STREAM"

/* One entry handed to the callback. Pointers are valid only during the callback. */
typedef struct JournalEntry {
        uint64_t realtime_usec; /* __REALTIME_TIMESTAMP, µs since the epoch */
        const char *message;    /* MESSAGE, NUL-terminated (a binary message is cut at its first NUL);
                                 * "" if the entry has none */
        size_t message_size;    /* length of message */
        const char *stream;     /* CBOX_STREAM ("stdout", "stderr") or NULL when not set */
        const char *identifier; /* SYSLOG_IDENTIFIER or NULL */
        int priority;           /* PRIORITY 0..7, or -1 when not set */
        pid_t pid;              /* _PID, or 0 when not set */
        const char *cursor;     /* the entry's cursor, to resume after it */
} JournalEntry;

/* Called once per entry, oldest first. Return 0 to continue, > 0 to stop reading (journal_read() then
 * returns 0), < 0 to abort (journal_read() returns that value). */
typedef int (*journal_entry_cb_t)(const JournalEntry *entry, void *userdata);

#define JOURNAL_ALL_LINES UINT64_MAX

typedef struct JournalReadParams {
        const char *container; /* required: NAME; matches CBOX_CONTAINER=NAME */
        const char *unit; /* NULL → also matches _SYSTEMD_UNIT=cbox-NAME.scope; "" → no unit match */
        uint64_t n_lines; /* the last N entries; JOURNAL_ALL_LINES for all; 0 shows none (with follow:
                           * only new entries) */
        const char *after_cursor; /* if set, start after this cursor instead (n_lines ignored) */
        bool follow;              /* after the backlog, wait for new entries (sd_journal_wait) until the
                                   * callback returns non-zero, stop_fd becomes readable, or an error */
        int stop_fd;              /* with follow: when > 0, becoming readable stops following (e.g. a
                                   * signalfd or pipe). 0 = none, so a zero-initialised struct is safe */
        uint64_t timeout_usec;    /* with follow: return 0 after this long without a stop; 0 = forever */
} JournalReadParams;

/* Opens the local journal (system and runtime files, plus per-user files so entries of a container
 * running as a non-root uid are found too), adds the matches, shows the
 * backlog through cb, and follows if asked. Returns 0, or the callback's negative value, or -errno
 * (-ENOENT/-EPERM when the journal cannot be opened). */
int journal_read(const JournalReadParams *p, journal_entry_cb_t cb, void *userdata);

/* A stream fd connected to journald (sd_journal_stream_fd): whatever is written to it becomes entries
 * with SYSLOG_IDENTIFIER=identifier and the given default priority (LOG_INFO, …). With level_prefix,
 * lines may start with "<N>" to set their priority. The fd has O_CLOEXEC set: dup2() it onto the child's
 * stdout/stderr (dup2 clears the flag on the copy). Returns the fd or -errno. */
int journal_stream_open(const char *identifier, int priority, bool level_prefix);

/* journald's native-protocol socket, for cbox-init's --journal-fd: an AF_UNIX SOCK_DGRAM socket
 * (SOCK_CLOEXEC) connected to /run/systemd/journal/socket. Open it on the host side before the child
 * pivots into its rootfs (the container cannot see the host's /run) and pass it down; journald takes
 * _PID/_SYSTEMD_UNIT of each datagram from the sender's credentials, i.e. the container's init in its
 * scope. Returns the fd, -ENOENT/-ECONNREFUSED when journald does not run, or -errno. */
int journal_native_socket_open(void);
