/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of src/journal. Argument checks run everywhere; the round trip through journald needs a running
 * journald and skips (77) without one. The container-facing behaviour (-n, -f, scope streams) is proven in
 * the VM by tests/system/test-bus. (The harness runs tests in reverse definition order here: the journald
 * test is defined first so that it runs last.) */

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "fd-util.h"
#include "journal-native.h"
#include "journal.h"
#include "string-util.h"
#include "tests.h"

static int count_cb(const JournalEntry *e, void *userdata) {
        unsigned *n = userdata;

        ASSERT_NOT_NULL(e->message);
        ASSERT_NOT_NULL(e->cursor);
        (*n)++;
        return 0;
}

static int find_cb(const JournalEntry *e, void *userdata) {
        const char *want = userdata;

        return streq(e->message, want) ? 1 : 0;
}

static int found_stream;

static int find_stream_cb(const JournalEntry *e, void *userdata) {
        const char *want = userdata;

        if (!streq(e->message, want))
                return 0;
        ASSERT_STREQ(e->stream, "stderr");
        ASSERT_EQ(e->message_size, strlen(want));
        found_stream++;
        return 1;
}

static int fail_cb(const JournalEntry *e, void *userdata) {
        return -ENOTRECOVERABLE;
}

TEST(journald_round_trip) {
        _cleanup_free_ char *name = strprintf("unit%d", (int) getpid()), *field = NULL;
        struct stat st;
        unsigned n = 0;

        if (stat("/run/systemd/journal/socket", &st) < 0)
                TEST_SKIP("no journald (/run/systemd/journal/socket missing)");

        field = strjoin("CBOX_CONTAINER=", name);
        ASSERT_OK(sd_journal_send("MESSAGE=hello from the unit test", field, "CBOX_STREAM=stdout", NULL));
        JournalReadParams p = {
                .container = name,
                .n_lines = JOURNAL_ALL_LINES,
                .follow = true,
                .timeout_usec = 10 * USEC_PER_SEC,
        };
        ASSERT_OK(journal_read(&p, find_cb, (void *) "hello from the unit test"));
        p.follow = false;
        ASSERT_OK(journal_read(&p, count_cb, &n));
        ASSERT_EQ(n, 1);
        ASSERT_ERROR(journal_read(&p, fail_cb, NULL), ENOTRECOVERABLE);

        /* following stops when stop_fd becomes readable */
        int pfd[2];
        ASSERT_OK(RET_NERRNO(pipe(pfd)));
        ASSERT_EQ(write(pfd[1], "x", 1), 1);
        p.follow = true;
        p.n_lines = 0;
        p.timeout_usec = 0;
        p.stop_fd = pfd[0];
        n = 0;
        ASSERT_OK(journal_read(&p, count_cb, &n));
        ASSERT_EQ(n, 0);
        safe_close(pfd[0]);
        safe_close(pfd[1]);

        /* what cbox-init does: native entries over the socket from journal_native_socket_open() */
        {
                _cleanup_(buffer_done) Buffer b = {};
                int sfd = journal_native_socket_open();
                ASSERT_OK(sfd);
                ASSERT_OK(journal_native_append_string(&b, "MESSAGE", "relayed\nwith a newline"));
                ASSERT_OK(journal_native_append_string(&b, "CBOX_CONTAINER", name));
                ASSERT_OK(journal_native_append_string(&b, "CBOX_STREAM", "stderr"));
                ASSERT_OK(journal_native_send(sfd, &b));
                safe_close(sfd);
                p.stop_fd = 0;
                p.n_lines = JOURNAL_ALL_LINES;
                p.timeout_usec = 10 * USEC_PER_SEC;
                ASSERT_OK(journal_read(&p, find_stream_cb, (void *) "relayed\nwith a newline"));
                ASSERT_EQ(found_stream, 1);
        }

        int fd = journal_stream_open("cbox-unit-test", LOG_INFO, false);
        ASSERT_OK(fd);
        ASSERT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        safe_close(fd);
}

TEST(no_entries_for_unknown_container) {
        unsigned n = 0;
        JournalReadParams p = {
                .container = "cbox-unit-test-never-logged",
                .n_lines = JOURNAL_ALL_LINES,
        };

        /* Works with or without journal files: nothing matches */
        ASSERT_OK(journal_read(&p, count_cb, &n));
        ASSERT_EQ(n, 0);
        p.n_lines = 5;
        ASSERT_OK(journal_read(&p, count_cb, &n));
        ASSERT_EQ(n, 0);
        /* following with a timeout returns after it */
        p.follow = true;
        p.timeout_usec = 200 * USEC_PER_MSEC;
        ASSERT_OK(journal_read(&p, count_cb, &n));
        ASSERT_EQ(n, 0);
}

TEST(arguments) {
        JournalReadParams p = {};
        unsigned n = 0;

        ASSERT_ERROR(journal_read(NULL, count_cb, &n), EINVAL);
        ASSERT_ERROR(journal_read(&p, count_cb, &n), EINVAL);
        p.container = "";
        ASSERT_ERROR(journal_read(&p, count_cb, &n), EINVAL);
        p.container = "x";
        ASSERT_ERROR(journal_read(&p, NULL, &n), EINVAL);
        ASSERT_ERROR(journal_stream_open("", LOG_INFO, false), EINVAL);
        ASSERT_ERROR(journal_stream_open(NULL, LOG_INFO, false), EINVAL);
        ASSERT_ERROR(journal_stream_open("x", 8, false), EINVAL);
}

TEST_MAIN();
