/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdio.h>
#include <time.h>
#include <systemd/sd-journal.h>

#include "fd-util.h"
#include "journal.h"
#include "string-util.h"
#include "time-util.h"

/* sd-journal.h provides sd_journal_closep() */

/* The value of field in the current entry as a malloc'ed NUL-terminated string; NULL with 0 when the
 * entry has no such field. */
static int get_field(sd_journal *j, const char *field, char **ret, size_t *ret_size) {
        const void *data;
        size_t len, flen = strlen(field);
        char *v;
        int r;

        r = sd_journal_get_data(j, field, &data, &len);
        if (r == -ENOENT) {
                *ret = NULL;
                if (ret_size)
                        *ret_size = 0;
                return 0;
        }
        if (r < 0)
                return r;
        if (len < flen + 1 || memcmp(data, field, flen) != 0 || ((const char *) data)[flen] != '=')
                return -EBADMSG;
        v = strndup((const char *) data + flen + 1, len - flen - 1);
        if (!v)
                return -ENOMEM;
        *ret = v;
        if (ret_size)
                *ret_size = strlen(v);
        return 0;
}

static int emit_entry(sd_journal *j, journal_entry_cb_t cb, void *userdata) {
        _cleanup_free_ char *message = NULL, *stream = NULL, *identifier = NULL, *priority = NULL,
                            *pid = NULL, *cursor = NULL;
        JournalEntry e = { .priority = -1 };
        int r;

        r = sd_journal_get_realtime_usec(j, &e.realtime_usec);
        if (r < 0)
                return r;
        r = get_field(j, "MESSAGE", &message, &e.message_size);
        if (r < 0)
                return r;
        r = get_field(j, JOURNAL_FIELD_STREAM, &stream, NULL);
        if (r < 0)
                return r;
        r = get_field(j, "SYSLOG_IDENTIFIER", &identifier, NULL);
        if (r < 0)
                return r;
        r = get_field(j, "PRIORITY", &priority, NULL);
        if (r < 0)
                return r;
        r = get_field(j, "_PID", &pid, NULL);
        if (r < 0)
                return r;
        r = sd_journal_get_cursor(j, &cursor);
        if (r < 0)
                return r;

        if (priority && priority[0] >= '0' && priority[0] <= '7' && priority[1] == 0)
                e.priority = priority[0] - '0';
        if (pid) {
                char *end;
                long v;

                errno = 0;
                v = strtol(pid, &end, 10);
                if (errno == 0 && *end == 0 && v > 0 && v <= INT32_MAX)
                        e.pid = (pid_t) v;
        }
        e.message = message ?: "";
        e.stream = stream;
        e.identifier = identifier;
        e.cursor = cursor;
        return cb(&e, userdata);
}

/* Calls cb for the current entry and every following one; returns > 0 if the callback asked to stop */
static int emit_until_end(sd_journal *j, journal_entry_cb_t cb, void *userdata) {
        int r;

        for (;;) {
                r = sd_journal_next(j);
                if (r < 0)
                        return r;
                if (r == 0)
                        return 0;
                r = emit_entry(j, cb, userdata);
                if (r != 0)
                        return r;
        }
}

static int add_matches(sd_journal *j, const JournalReadParams *p) {
        _cleanup_free_ char *m1 = NULL, *m2 = NULL;
        int r;

        m1 = strjoin(JOURNAL_FIELD_CONTAINER "=", p->container);
        if (!m1)
                return -ENOMEM;
        r = sd_journal_add_match(j, m1, 0);
        if (r < 0)
                return r;

        if (p->unit && p->unit[0] == 0)
                return 0;
        if (p->unit)
                m2 = strjoin("_SYSTEMD_UNIT=", p->unit);
        else
                m2 = strjoin("_SYSTEMD_UNIT=cbox-", p->container, ".scope");
        if (!m2)
                return -ENOMEM;
        r = sd_journal_add_disjunction(j);
        if (r < 0)
                return r;
        return sd_journal_add_match(j, m2, 0);
}

/* Positions j so that the next sd_journal_next() returns the first entry to show. Returns > 0 if the
 * callback asked to stop while showing the backlog. */
static int show_backlog(sd_journal *j, const JournalReadParams *p, journal_entry_cb_t cb, void *userdata) {
        int r;

        if (p->after_cursor) {
                r = sd_journal_seek_cursor(j, p->after_cursor);
                if (r < 0)
                        return r;
                r = sd_journal_next(j);
                if (r < 0)
                        return r;
                if (r > 0 && sd_journal_test_cursor(j, p->after_cursor) <= 0) {
                        /* The cursor's entry is gone (rotated): this one is already new. */
                        r = emit_entry(j, cb, userdata);
                        if (r != 0)
                                return r;
                }
                return emit_until_end(j, cb, userdata);
        }

        if (p->n_lines == JOURNAL_ALL_LINES) {
                r = sd_journal_seek_head(j);
                if (r < 0)
                        return r;
                return emit_until_end(j, cb, userdata);
        }

        r = sd_journal_seek_tail(j);
        if (r < 0)
                return r;
        if (p->n_lines == 0) {
                /* Stand on the last entry so that only newer ones follow. */
                r = sd_journal_previous(j);
                return r < 0 ? r : 0;
        }
        r = sd_journal_previous_skip(j, p->n_lines);
        if (r < 0)
                return r;
        if (r == 0)
                return 0; /* no entries at all */
        r = emit_entry(j, cb, userdata);
        if (r != 0)
                return r;
        return emit_until_end(j, cb, userdata);
}

int journal_read(const JournalReadParams *p, journal_entry_cb_t cb, void *userdata) {
        _cleanup_(sd_journal_closep) sd_journal *j = NULL;
        uint64_t deadline = 0;
        int r;

        if (!p || isempty(p->container) || !cb)
                return -EINVAL;

        r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0)
                return r;
        r = add_matches(j, p);
        if (r < 0)
                return r;

        r = show_backlog(j, p, cb, userdata);
        if (r != 0)
                return r < 0 ? r : 0;
        if (!p->follow)
                return 0;

        if (p->timeout_usec > 0)
                deadline = now_monotonic_usec() + p->timeout_usec;

        for (;;) {
                struct pollfd fds[2];
                uint64_t jt, t = UINT64_MAX;
                int fd, events, timeout_ms;
                nfds_t n = 1;

                r = emit_until_end(j, cb, userdata);
                if (r != 0)
                        return r < 0 ? r : 0;

                fd = sd_journal_get_fd(j);
                if (fd < 0)
                        return fd;
                events = sd_journal_get_events(j);
                if (events < 0)
                        return events;
                r = sd_journal_get_timeout(j, &jt);
                if (r < 0)
                        return r;

                /* sd_journal_get_timeout() returns CLOCK_MONOTONIC µs or UINT64_MAX */
                if (jt != UINT64_MAX)
                        t = jt;
                if (deadline > 0 && deadline < t)
                        t = deadline;
                if (t == UINT64_MAX)
                        timeout_ms = -1;
                else {
                        uint64_t nw = now_monotonic_usec();
                        timeout_ms = t <= nw ? 0
                                             : (int) MIN((t - nw + USEC_PER_MSEC - 1) / USEC_PER_MSEC,
                                                         (uint64_t) INT32_MAX);
                }

                fds[0] = (struct pollfd){ .fd = fd, .events = (short) events };
                if (p->stop_fd > 0) {
                        fds[1] = (struct pollfd){ .fd = p->stop_fd, .events = POLLIN };
                        n = 2;
                }
                r = poll(fds, n, timeout_ms);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 2 && fds[1].revents != 0)
                        return 0;
                if (deadline > 0 && now_monotonic_usec() >= deadline)
                        return 0;

                r = sd_journal_process(j);
                if (r < 0)
                        return r;
        }
}

int journal_stream_open(const char *identifier, int priority, bool level_prefix) {
        int fd, r;

        if (isempty(identifier) || priority < 0 || priority > 7)
                return -EINVAL;

        fd = sd_journal_stream_fd(identifier, priority, level_prefix);
        if (fd < 0)
                return fd;
        r = fd_set_cloexec(fd, true);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        return fd;
}

int journal_native_socket_open(void) {
        static const struct sockaddr_un sa = {
                .sun_family = AF_UNIX,
                .sun_path = "/run/systemd/journal/socket",
        };
        int fd;

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *) &sa, sizeof sa) < 0) {
                int r = -errno;
                safe_close(fd);
                return r;
        }
        return fd;
}
