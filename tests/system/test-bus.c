/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* System test of src/bus and src/journal against a real systemd (PID 1, cgroup v2), machined and journald.
 * Runs in the test VM (tests/system/test-bus.sh). Skips (77) where there is no systemd as PID 1. */

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "fd-util.h"
#include "fileio.h"
#include "journal.h"
#include "string-util.h"
#include "tests.h"

static sd_bus *bus;

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void setup(void) {
        if (!bus_systemd_booted())
                TEST_SKIP("no systemd as PID 1 (/run/systemd/system missing)");
        if (!bus) {
                int r = bus_open_system(&bus);
                if (r < 0)
                        TEST_SKIP("no system bus: %s", strerror(-r));
        }
}

static char *unique_name(const char *what) {
        char *s = strprintf("t%d-%s", (int) getpid(), what);
        ASSERT_NOT_NULL(s);
        return s;
}

/* A child that blocks until told to go (a byte on the pipe), then runs fn and exits with its result.
 * Results it writes to out_fd (the write end given to fn) reach the parent. */
typedef struct Child {
        pid_t pid;
        int go_fd;  /* parent writes here to release the child */
        int res_fd; /* parent reads the child's results here */
} Child;

static Child child_spawn(int (*fn)(int out_fd)) {
        int go[2], res[2];
        Child c;

        ASSERT_OK(RET_NERRNO(pipe2(go, O_CLOEXEC)));
        ASSERT_OK(RET_NERRNO(pipe2(res, O_CLOEXEC)));
        c.pid = fork();
        ASSERT_TRUE(c.pid >= 0);
        if (c.pid == 0) {
                char b;
                close(go[1]);
                close(res[0]);
                if (read(go[0], &b, 1) != 1)
                        _exit(100);
                _exit(fn(res[1]));
        }
        close(go[0]);
        close(res[1]);
        c.go_fd = go[1];
        c.res_fd = res[0];
        return c;
}

static void child_go(Child *c) {
        ASSERT_EQ(write(c->go_fd, "x", 1), 1);
}

static int child_wait(Child *c) {
        int status;

        ASSERT_EQ(waitpid(c->pid, &status, 0), c->pid);
        safe_close(c->go_fd);
        safe_close(c->res_fd);
        return status;
}

static char *pid_cgroup(pid_t pid) {
        _cleanup_free_ char *path = strprintf("/proc/%d/cgroup", (int) pid), *line = NULL;
        char *s;

        ASSERT_OK(read_one_line_file(path, &line));
        s = startswith(line, "0::");
        ASSERT_NOT_NULL(s);
        return strdup(s);
}

static void assert_cgroup_attr(const char *cg, const char *attr, const char *expected) {
        _cleanup_free_ char *path = strjoin("/sys/fs/cgroup", cg, "/", attr), *v = NULL;

        ASSERT_NOT_NULL(path);
        ASSERT_OK(read_one_line_file(path, &v));
        ASSERT_STREQ(v, expected);
}

/* A bus call that fills error: on failure the test fails with error's message */
#define ASSERT_BUS_OK(expr, error)                                                                          \
        do {                                                                                                \
                int _r = (expr);                                                                            \
                if (_r < 0)                                                                                 \
                        TEST_FAIL("%s: %s: %s", #expr, strerror(-_r), strna((error)->message));             \
        } while (0)

/* Starts the scope p->unit with a new child running fn as its process (p->pids points to c->pid). Returns
 * how long bus_start_scope() took, in ms. */
static uint64_t start_scope_child(BusScopeParams *p, Child *c, int (*fn)(int out_fd)) {
        BusError error = BUS_ERROR_NULL;
        uint64_t t0;

        *c = child_spawn(fn);
        p->pids = &c->pid;
        p->n_pids = 1;
        t0 = now_ms();
        ASSERT_BUS_OK(bus_start_scope(bus, p, &error), &error);
        bus_error_done(&error);
        return now_ms() - t0;
}

static void wait_unit_gone(const char *unit) {
        for (int i = 0; i < 100; i++) {
                int r = bus_unit_exists(bus, unit);
                ASSERT_OK(r);
                if (r == 0) {
                        if (i > 0)
                                fprintf(stderr, "%s was collected after %d polls\n", unit, i);
                        return;
                }
                usleep(100 * 1000);
        }
        TEST_FAIL("unit %s still loaded", unit);
}

/* Polls every poll_ms until machined has forgotten the machine; returns how long that took */
static int wait_machine_gone(const char *name, int poll_ms) {
        int i;

        for (i = 0; i < 100 && bus_machine_exists(bus, name, NULL) > 0; i++)
                usleep(poll_ms * 1000);
        ASSERT_EQ(bus_machine_exists(bus, name, NULL), 0);
        return i * poll_ms;
}

/* In the scope: fork until the kernel refuses (pids.max), then a 100M hog under a 32M limit */
static int limits_payload(int out_fd) {
        pid_t kids[64];
        int n = 0, fork_errno = 0, status;

        for (; n < (int) ELEMENTSOF(kids); n++) {
                pid_t p = fork();
                if (p < 0) {
                        fork_errno = errno;
                        break;
                }
                if (p == 0) {
                        pause();
                        _exit(0);
                }
                kids[n] = p;
        }
        for (int i = 0; i < n; i++) {
                kill(kids[i], SIGKILL);
                waitpid(kids[i], NULL, 0);
        }

        pid_t hog = fork();
        if (hog == 0) {
                size_t size = 100u << 20;
                char *p = malloc(size);
                if (!p)
                        _exit(2);
                for (size_t i = 0; i < size; i += 4096)
                        p[i] = 1;
                _exit(0); /* survived: the limit did not hold */
        }
        if (hog < 0 || waitpid(hog, &status, 0) != hog)
                status = -1;

        int res[3] = { n, fork_errno, status };
        if (write(out_fd, res, sizeof res) != sizeof res)
                return 1;
        pause(); /* stay until the scope is stopped */
        return 0;
}

TEST(scope_limits_enforced) {
        _cleanup_free_ char *name = unique_name("limits"), *unit = NULL, *cg = NULL;
        _cleanup_(bus_scope_limits_done) BusScopeLimits l = {};
        BusError error = BUS_ERROR_NULL;
        const uint8_t cpu0[] = { 0x01 };
        int res[3];

        setup();
        ASSERT_OK(bus_scope_name(name, &unit));

        Child c;
        BusScopeParams p = {
                .unit = unit,
                .description = "cbox test scope",
                .kill_signal = SIGTERM,
                .stop_timeout_set = true,
                .stop_timeout_usec = 2 * USEC_PER_SEC,
                .limits.set[UNIT_LIMIT_MEMORY_MAX] = true,
                .limits.value[UNIT_LIMIT_MEMORY_MAX] = 32u << 20,
                .limits.set[UNIT_LIMIT_MEMORY_SWAP_MAX] = true,
                .limits.value[UNIT_LIMIT_MEMORY_SWAP_MAX] = 0,
                .limits.set[UNIT_LIMIT_TASKS_MAX] = true,
                .limits.value[UNIT_LIMIT_TASKS_MAX] = 10,
                .limits.set[UNIT_LIMIT_CPU_QUOTA] = true,
                .limits.value[UNIT_LIMIT_CPU_QUOTA] = 500000,
                .allowed_cpus_set = true,
                .allowed_cpus = cpu0,
                .allowed_cpus_size = sizeof cpu0,
                .limits.set[UNIT_LIMIT_CPU_WEIGHT] = true,
                .limits.value[UNIT_LIMIT_CPU_WEIGHT] = 50,
                .limits.set[UNIT_LIMIT_IO_WEIGHT] = true,
                .limits.value[UNIT_LIMIT_IO_WEIGHT] = 200,
        };
        fprintf(stderr, "bus_start_scope with all limits: %" PRIu64 " ms\n",
                start_scope_child(&p, &c, limits_payload));

        cg = pid_cgroup(c.pid);
        fprintf(stderr, "child %d in %s\n", (int) c.pid, cg);
        ASSERT_TRUE(strstr(cg, unit) != NULL);
        ASSERT_TRUE(startswith(cg, "/machine.slice/"));

        assert_cgroup_attr(cg, "memory.max", "33554432");
        assert_cgroup_attr(cg, "memory.swap.max", "0");
        assert_cgroup_attr(cg, "pids.max", "10");
        assert_cgroup_attr(cg, "cpu.max", "50000 100000");
        assert_cgroup_attr(cg, "cpuset.cpus.effective", "0");
        assert_cgroup_attr(cg, "cpu.weight", "50");

        /* Read back through systemd, as `cbox status` does */
        ASSERT_OK(bus_read_scope_limits(bus, unit, &l));
        ASSERT_STREQ(l.active_state, "active");
        ASSERT_STREQ(l.control_group, cg);
        ASSERT_STREQ(l.slice, "machine.slice");
        ASSERT_EQ_U64(l.limits[UNIT_LIMIT_MEMORY_MAX], 33554432);
        ASSERT_EQ_U64(l.limits[UNIT_LIMIT_MEMORY_SWAP_MAX], 0);
        ASSERT_EQ_U64(l.limits[UNIT_LIMIT_TASKS_MAX], 10);
        ASSERT_EQ_U64(l.limits[UNIT_LIMIT_CPU_QUOTA], 500000);
        ASSERT_EQ_U64(l.limits[UNIT_LIMIT_CPU_WEIGHT], 50);
        ASSERT_EQ_U64(l.limits[UNIT_LIMIT_IO_WEIGHT], 200);
        ASSERT_EQ_U64(l.limits[UNIT_LIMIT_MEMORY_HIGH], UINT64_MAX);
        ASSERT_TRUE(l.allowed_cpus_size >= 1 && l.allowed_cpus[0] == 0x01);
        ASSERT_TRUE(l.tasks_current >= 1 && l.tasks_current != UINT64_MAX);

        /* Device policy: closed + the standard list, visible as DevicePolicy on the unit */
        {
                _cleanup_free_ char *state = NULL, *sub = NULL;
                ASSERT_OK(bus_unit_state(bus, unit, &state, &sub));
                ASSERT_STREQ(state, "active");
                ASSERT_STREQ(sub, "running");
        }

        child_go(&c);
        ASSERT_EQ(read(c.res_fd, res, sizeof res), (ssize_t) sizeof res);
        fprintf(stderr, "forks before failure: %d (errno %s); hog status 0x%x\n", res[0], strerror(res[1]),
                res[2]);
        /* the child is task 1, 9 more make 10 = TasksMax; the 11th task cannot be created */
        ASSERT_EQ(res[0], 9);
        ASSERT_EQ(res[1], EAGAIN);
        ASSERT_TRUE(WIFSIGNALED(res[2]) && WTERMSIG(res[2]) == SIGKILL);
        {
                _cleanup_free_ char *path = strjoin("/sys/fs/cgroup", cg, "/memory.events"), *ev = NULL;
                ASSERT_OK(read_full_file(path, &ev, NULL, 4096));
                char *k = strstr(ev, "oom_kill ");
                ASSERT_NOT_NULL(k);
                ASSERT_TRUE(atoi(k + 9) >= 1);
        }

        /* cbox update: new limits on the running scope, runtime only */
        {
                _cleanup_free_ char *u = NULL, *self = NULL;
                BusScopeParams upd = { .limits.set[UNIT_LIMIT_MEMORY_MAX] = true,
                                       .limits.value[UNIT_LIMIT_MEMORY_MAX] = 64u << 20,
                                       .limits.set[UNIT_LIMIT_TASKS_MAX] = true,
                                       .limits.value[UNIT_LIMIT_TASKS_MAX] = 20,
                                       .kill_signal = SIGKILL /* ignored */ };
                ASSERT_BUS_OK(bus_set_unit_limits(bus, unit, &upd, true, &error), &error);
                assert_cgroup_attr(cg, "memory.max", "67108864");
                assert_cgroup_attr(cg, "pids.max", "20");
                BusScopeParams none = {};
                ASSERT_OK(bus_set_unit_limits(bus, unit, &none, true, &error));
                ASSERT_ERROR(bus_set_unit_limits(bus, "cbox-no-such-unit-4711.scope", &upd, true, &error),
                             ENOENT);

                ASSERT_OK(bus_unit_by_pid(bus, c.pid, &u));
                ASSERT_STREQ(u, unit);
                ASSERT_OK(bus_unit_by_pid(bus, getpid(), &self));
                fprintf(stderr, "the test runs in %s\n", self);
                ASSERT_TRUE(strcmp(self, unit) != 0);
        }

        /* Stop: SIGTERM (the payload's pause() dies of it), job waited for */
        uint64_t t0 = now_ms();
        int r = bus_stop_unit(bus, unit, &error);
        ASSERT_BUS_OK(r, &error);
        fprintf(stderr, "bus_stop_unit: %" PRIu64 " ms\n", now_ms() - t0);
        ASSERT_EQ(r, 1);
        int status = child_wait(&c);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
        wait_unit_gone(unit); /* CollectMode=inactive-or-failed */
        ASSERT_EQ(bus_stop_unit(bus, unit, &error), 0);
        ASSERT_ERROR(bus_kill_unit(bus, unit, NULL, SIGTERM, &error), ENOENT);
        bus_error_done(&error);
}

static int ignore_term_payload(int out_fd) {
        signal(SIGTERM, SIG_IGN);
        for (;;)
                pause();
        return 0;
}

TEST(failed_leftover_is_reset) {
        _cleanup_free_ char *name = unique_name("leftover"), *unit = NULL, *state = NULL, *res = NULL;
        BusError error = BUS_ERROR_NULL;
        int r;

        setup();
        ASSERT_OK(bus_scope_name(name, &unit));
        Child c;
        BusScopeParams p = {
                .unit = unit,
                .collect_mode = "inactive", /* keep the failed unit around */
                .stop_timeout_set = true,
                .stop_timeout_usec = 300 * USEC_PER_MSEC,
        };
        start_scope_child(&p, &c, ignore_term_payload);
        child_go(&c);
        usleep(100 * 1000); /* let it install SIG_IGN */

        /* A running unit of that name: refused */
        Child c2 = child_spawn(ignore_term_payload);
        p.pids = &c2.pid;
        ASSERT_ERROR(bus_start_scope(bus, &p, &error), EEXIST);
        fprintf(stderr, "second start while active: %s\n", strna(error.message));

        /* SIGTERM ignored → SIGKILL after 300ms → the scope fails with result "timeout" */
        r = bus_stop_unit(bus, unit, &error);
        fprintf(stderr, "stop: %d %s\n", r, strna(error.message));
        int status = child_wait(&c);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        ASSERT_OK(bus_unit_state(bus, unit, &state, NULL));
        fprintf(stderr, "state after stop timeout: %s\n", state);
        ASSERT_STREQ(state, "failed");
        {
                _cleanup_(bus_scope_limits_done) BusScopeLimits l = {};
                ASSERT_OK(bus_read_scope_limits(bus, unit, &l));
                fprintf(stderr, "result: %s\n", strna(l.result));
                ASSERT_STREQ(l.result, "timeout");
        }

        /* Same name again: ResetFailedUnit, then it starts */
        p.collect_mode = NULL;
        ASSERT_BUS_OK(bus_start_scope(bus, &p, &error), &error);
        free(state);
        state = NULL;
        ASSERT_OK(bus_unit_state(bus, unit, &state, NULL));
        ASSERT_STREQ(state, "active");

        ASSERT_OK(bus_kill_unit(bus, unit, "all", SIGKILL, &error));
        status = child_wait(&c2);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        wait_unit_gone(unit);
        bus_error_done(&error);
}

static int exit_payload(int out_fd) {
        return 0;
}

TEST(bad_slice_reports_systemd_reason) {
        _cleanup_free_ char *name = unique_name("badslice"), *unit = NULL;
        BusError error = BUS_ERROR_NULL;

        setup();
        ASSERT_OK(bus_scope_name(name, &unit));
        Child c = child_spawn(exit_payload);
        BusScopeParams p = {
                .unit = unit,
                .slice = "not-a-slice.service",
                .pids = &c.pid,
                .n_pids = 1,
        };
        int r = bus_start_scope(bus, &p, &error);
        fprintf(stderr, "bad slice: r=%d name=%s message=%s\n", r, strna(error.name), strna(error.message));
        ASSERT_TRUE(r < 0);
        ASSERT_EQ(r, -EINVAL);
        ASSERT_NOT_NULL(error.name);
        ASSERT_NOT_NULL(error.message);
        ASSERT_TRUE(strstr(error.message, "slice") || strstr(error.message, "Slice"));
        ASSERT_EQ(bus_unit_exists(bus, unit), 0);
        child_go(&c);
        child_wait(&c);
        bus_error_done(&error);
}

TEST(scope_without_pids_fails_with_reason) {
        _cleanup_free_ char *name = unique_name("nopids"), *unit = NULL;
        BusError error = BUS_ERROR_NULL;

        setup();
        ASSERT_OK(bus_scope_name(name, &unit));
        BusScopeParams p = { .unit = unit };
        int r = bus_start_scope(bus, &p, &error);
        fprintf(stderr, "scope without PIDs: r=%d name=%s job=%s unit=%s message=%s\n", r, strna(error.name),
                strna(error.job_result), strna(error.unit_result), strna(error.message));
        ASSERT_EQ(r, -EINVAL); /* refused before systemd's misleading "failed to load properly" ENOENT */
        ASSERT_NOT_NULL(error.message);
        ASSERT_EQ(bus_unit_exists(bus, unit), 0);
        bus_error_done(&error);
}

static int sleep_payload(int out_fd) {
        for (;;)
                pause();
        return 0;
}

TEST(machined_register_terminate) {
        _cleanup_free_ char *name = unique_name("machine"), *unit = NULL, *munit = NULL;
        BusError error = BUS_ERROR_NULL;

        setup();
        ASSERT_OK(bus_scope_name(name, &unit));
        Child c;
        BusScopeParams p = { .unit = unit };
        start_scope_child(&p, &c, sleep_payload);
        child_go(&c);

        BusMachineParams m = { .name = name, .leader = c.pid, .root_directory = "/" };
        uint64_t t0 = now_ms();
        ASSERT_BUS_OK(bus_machine_register(bus, &m, &error), &error);
        fprintf(stderr, "bus_machine_register: %" PRIu64 " ms\n", now_ms() - t0);
        ASSERT_EQ(bus_machine_exists(bus, name, &munit), 1);
        fprintf(stderr, "machine %s → unit %s\n", name, munit);
        ASSERT_STREQ(munit, unit); /* machined adopted our scope */
        ASSERT_ERROR(bus_machine_register(bus, &m, &error), EEXIST);

        ASSERT_OK(bus_machine_terminate(bus, name, &error));
        int status = child_wait(&c);
        ASSERT_TRUE(WIFSIGNALED(status));
        wait_machine_gone(name, 100);
        wait_unit_gone(unit);
        ASSERT_ERROR(bus_machine_terminate(bus, name, &error), ENOENT);

        /* cbox down stops the scope itself: machined drops the registration on its own */
        Child c2;
        start_scope_child(&p, &c2, sleep_payload);
        child_go(&c2);
        m.leader = c2.pid;
        ASSERT_OK(bus_machine_register(bus, &m, &error));
        ASSERT_EQ(bus_machine_exists(bus, name, NULL), 1);
        ASSERT_EQ(bus_stop_unit(bus, unit, &error), 1);
        child_wait(&c2);
        fprintf(stderr, "machine gone %d ms after the scope stopped\n", wait_machine_gone(name, 50));
        bus_error_done(&error);
}

/* In the scope: the standard device list is open, anything else is closed */
static int devices_payload(int out_fd) {
        int res[3] = {}, fd;

        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        res[0] = fd >= 0 ? 0 : errno;
        safe_close(fd);
        fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        res[1] = fd >= 0 ? 0 : errno;
        safe_close(fd);
        fd = open("/dev/kmsg", O_RDONLY | O_CLOEXEC); /* char 1:11, not in the list */
        res[2] = fd >= 0 ? 0 : errno;
        safe_close(fd);
        if (write(out_fd, res, sizeof res) != sizeof res)
                return 1;
        for (;;)
                pause();
        return 0;
}

TEST(device_policy_and_kill_signal) {
        _cleanup_free_ char *name = unique_name("devices"), *unit = NULL;
        BusError error = BUS_ERROR_NULL;
        int res[3];

        setup();
        ASSERT_OK(bus_scope_name(name, &unit));
        Child c;
        BusScopeParams p = { .unit = unit, .kill_signal = SIGINT };
        start_scope_child(&p, &c, devices_payload);
        child_go(&c);
        ASSERT_EQ(read(c.res_fd, res, sizeof res), (ssize_t) sizeof res);
        fprintf(stderr, "open /dev/null: %s, /dev/urandom: %s, /dev/kmsg: %s\n", strerror(res[0]),
                strerror(res[1]), strerror(res[2]));
        ASSERT_EQ(res[0], 0);
        ASSERT_EQ(res[1], 0);
        ASSERT_EQ(res[2], EPERM);

        ASSERT_EQ(bus_stop_unit(bus, unit, &error), 1);
        ASSERT_EQ(bus_unit_exists(bus, unit), 0); /* collected before systemd handles our next call */
        int status = child_wait(&c);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT); /* KillSignal= */
        wait_unit_gone(unit);
        bus_error_done(&error);
}

TEST(companion_runs_exec_stop_when_scope_empties) {
        _cleanup_free_ char *name = unique_name("companion"), *unit = NULL, *service = NULL, *flag = NULL;
        BusError error = BUS_ERROR_NULL;
        struct stat st;

        setup();
        ASSERT_OK(bus_scope_name(name, &unit));
        service = strjoin("cbox-", name, "-cleanup.service");
        flag = strjoin("/run/", name, ".cleaned");
        ASSERT_NOT_NULL(service);
        ASSERT_NOT_NULL(flag);
        (void) unlink(flag);

        Child c;
        BusScopeParams p = { .unit = unit };
        start_scope_child(&p, &c, sleep_payload);
        child_go(&c);

        char *const stop[] = { (char *) "/usr/bin/touch", flag, NULL };
        BusCompanionParams cp = {
                .unit = service, .bound_to = unit, .description = "cbox test cleanup", .exec_stop = stop
        };
        ASSERT_BUS_OK(bus_start_companion(bus, &cp, &error), &error);
        {
                _cleanup_free_ char *state = NULL;
                ASSERT_OK(bus_unit_state(bus, service, &state, NULL));
                ASSERT_STREQ(state, "active");
        }
        ASSERT_TRUE(stat(flag, &st) < 0);

        /* The payload exits by itself (no cbox process around): the companion's ExecStop runs */
        ASSERT_OK(RET_NERRNO(kill(c.pid, SIGKILL)));
        child_wait(&c);
        int i;
        for (i = 0; i < 100 && stat(flag, &st) < 0; i++)
                usleep(100 * 1000);
        fprintf(stderr, "cleanup ran after ~%d ms\n", i * 100);
        ASSERT_OK(RET_NERRNO(stat(flag, &st)));
        wait_unit_gone(service);
        wait_unit_gone(unit);
        (void) unlink(flag);
        bus_error_done(&error);
}

typedef struct Found {
        const char *want;
        int seen;
        char *stream;
        uint64_t ts;
        char **messages;
        char **cursors;
} Found;

static int find_cb(const JournalEntry *e, void *userdata) {
        Found *f = userdata;

        ASSERT_OK(strv_extend(&f->messages, e->message));
        ASSERT_OK(strv_extend(&f->cursors, e->cursor));
        if (f->want && streq(e->message, f->want)) {
                f->seen++;
                free(f->stream);
                f->stream = e->stream ? strdup(e->stream) : NULL;
                f->ts = e->realtime_usec;
                return 1;
        }
        return 0;
}

static void found_done(Found *f) {
        free(f->stream);
        strv_free(f->messages);
        strv_free(f->cursors);
}

/* Forgets the entries seen so far (not want, seen, stream, ts) */
static void found_forget_entries(Found *f) {
        f->messages = strv_free(f->messages);
        f->cursors = strv_free(f->cursors);
}

TEST(journal_read_container_entries) {
        _cleanup_free_ char *name = unique_name("journal"), *f1 = NULL, *f2 = NULL;
        _cleanup_(found_done) Found f = { .want = "third line" };

        setup();
        f1 = strjoin("CBOX_CONTAINER=", name);
        f2 = strjoin("SYSLOG_IDENTIFIER=", name);
        ASSERT_OK(sd_journal_send("MESSAGE=first line", f1, f2, "CBOX_STREAM=stdout", NULL));
        ASSERT_OK(sd_journal_send("MESSAGE=second line", f1, f2, "CBOX_STREAM=stderr", NULL));
        ASSERT_OK(sd_journal_send("MESSAGE=third line", f1, f2, "CBOX_STREAM=stdout", NULL));
        ASSERT_OK(sd_journal_send("MESSAGE=someone else", "CBOX_CONTAINER=other", NULL));

        /* journald stores asynchronously: follow until the last one shows up */
        JournalReadParams p = {
                .container = name,
                .n_lines = JOURNAL_ALL_LINES,
                .follow = true,
                .timeout_usec = 10 * USEC_PER_SEC,
        };
        ASSERT_OK(journal_read(&p, find_cb, &f));
        ASSERT_EQ(f.seen, 1);
        ASSERT_STREQ(f.stream, "stdout");
        ASSERT_EQ(strv_length(f.messages), 3);
        ASSERT_STREQ(f.messages[0], "first line");
        ASSERT_STREQ(f.messages[1], "second line");
        ASSERT_TRUE(f.ts > 0);

        /* -n 2: the last two */
        found_forget_entries(&f);
        f.want = NULL;
        p.follow = false;
        p.n_lines = 2;
        ASSERT_OK(journal_read(&p, find_cb, &f));
        ASSERT_EQ(strv_length(f.messages), 2);
        ASSERT_STREQ(f.messages[0], "second line");
        ASSERT_STREQ(f.messages[1], "third line");

        /* after a cursor: what follows it (cbox logs resuming) */
        {
                _cleanup_free_ char *cur = strdup(f.cursors[0]); /* the cursor of "second line" */
                ASSERT_NOT_NULL(cur);
                found_forget_entries(&f);
                p.after_cursor = cur;
                ASSERT_OK(journal_read(&p, find_cb, &f));
                ASSERT_EQ(strv_length(f.messages), 1);
                ASSERT_STREQ(f.messages[0], "third line");
                p.after_cursor = NULL;
        }

        /* -n 0 -f: only what comes later */
        found_forget_entries(&f);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                usleep(500 * 1000);
                _exit(sd_journal_send("MESSAGE=later line", f1, f2, "CBOX_STREAM=stderr", NULL) < 0);
        }
        f.want = "later line";
        f.seen = 0;
        p.n_lines = 0;
        p.follow = true;
        ASSERT_OK(journal_read(&p, find_cb, &f));
        ASSERT_EQ(waitpid(pid, NULL, 0), pid);
        ASSERT_EQ(f.seen, 1);
        ASSERT_EQ(strv_length(f.messages), 1);
        ASSERT_STREQ(f.stream, "stderr");
}

/* cbox logs -f of a container that has not logged anything yet */
TEST(journal_follow_fresh_container) {
        const uint64_t lines[] = { 0, 10, JOURNAL_ALL_LINES };

        setup();
        for (size_t k = 0; k < ELEMENTSOF(lines); k++) {
                _cleanup_free_ char *what = strprintf("fresh%zu", k), *name = unique_name(what), *f1 = NULL;
                _cleanup_(found_done) Found f = { .want = "first ever line" };

                f1 = strjoin("CBOX_CONTAINER=", name);
                ASSERT_NOT_NULL(f1);
                pid_t pid = fork();
                ASSERT_TRUE(pid >= 0);
                if (pid == 0) {
                        usleep(500 * 1000);
                        _exit(sd_journal_send("MESSAGE=first ever line", f1, NULL) < 0);
                }
                JournalReadParams p = {
                        .container = name,
                        .n_lines = lines[k],
                        .follow = true,
                        .timeout_usec = 10 * USEC_PER_SEC,
                };
                ASSERT_OK(journal_read(&p, find_cb, &f));
                ASSERT_EQ(waitpid(pid, NULL, 0), pid);
                fprintf(stderr, "-n %" PRIu64 " -f on a fresh container: %d entr%s\n", lines[k], f.seen,
                        f.seen == 1 ? "y" : "ies");
                ASSERT_EQ(f.seen, 1);
                ASSERT_EQ(strv_length(f.messages), 1);
        }
}

/* In the scope: a journal stream, as a detached container's stdout */
static int stream_payload(int out_fd) {
        int fd = journal_stream_open("cbox-stream-test", LOG_INFO, false);
        if (fd < 0)
                return 1;
        if (dprintf(fd, "line from the scope\n") < 0)
                return 2;
        /* Stay alive: journald resolves the writer's unit from its pid when it handles the line, so a
         * writer that has exited by then loses _SYSTEMD_UNIT (one reason init relays with explicit
         * CBOX_CONTAINER fields instead). */
        for (;;)
                pause();
        return 0;
}

TEST(journal_reads_scope_stream) {
        _cleanup_free_ char *name = unique_name("stream"), *unit = NULL;
        _cleanup_(found_done) Found f = { .want = "line from the scope" };
        BusError error = BUS_ERROR_NULL;

        setup();
        ASSERT_OK(bus_scope_name(name, &unit));
        Child c;
        BusScopeParams p = { .unit = unit };
        start_scope_child(&p, &c, stream_payload);
        child_go(&c);

        JournalReadParams jp = {
                .container = name,
                .n_lines = JOURNAL_ALL_LINES,
                .follow = true,
                .timeout_usec = 10 * USEC_PER_SEC,
        };
        ASSERT_OK(journal_read(&jp, find_cb, &f));
        ASSERT_EQ(f.seen, 1);
        ASSERT_NULL(f.stream); /* a plain stream entry carries no CBOX_STREAM */
        ASSERT_EQ(bus_stop_unit(bus, unit, &error), 1);
        child_wait(&c);
        bus_error_done(&error);
}

TEST_MAIN();
