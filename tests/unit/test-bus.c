/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of src/bus. The pure helpers run everywhere; what needs systemd (PID 1 on the system bus) skips
 * with exit 77 on a host without it. The scope/limit/machined behaviour is proven in the VM by
 * tests/system/test-bus. (The harness runs tests in reverse definition order here: the systemd test is
 * defined first so that it runs last.) */

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "fileio.h"
#include "string-util.h"
#include "tests.h"

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* The system bus, or a skip where systemd is not PID 1 */
static sd_bus *open_bus(void) {
        sd_bus *bus = NULL;
        int r;

        if (!bus_systemd_booted())
                TEST_SKIP("no systemd as PID 1 (/run/systemd/system missing)");
        r = bus_open_system(&bus);
        if (r < 0)
                TEST_FAIL("systemd is PID 1 but the system bus cannot be opened: %s", strerror(-r));
        return bus;
}

static char *cgroup_attr(const char *cg, const char *attr) {
        _cleanup_free_ char *path = strjoin("/sys/fs/cgroup", cg, "/", attr);
        char *v = NULL;

        ASSERT_NOT_NULL(path);
        ASSERT_OK(read_one_line_file(path, &v));
        return v;
}

static void assert_cgroup_attr(const char *cg, const char *attr, const char *expected) {
        _cleanup_free_ char *v = cgroup_attr(cg, attr);

        fprintf(stderr, "%s: %s\n", attr, v);
        ASSERT_STREQ(v, expected);
}

/* bus_set_unit_limits(runtime) that must succeed; returns how long it took, in µs */
static uint64_t set_unit_limits(sd_bus *bus, const char *unit, const BusScopeParams *p) {
        BusError error = BUS_ERROR_NULL;
        uint64_t t0 = now_usec();
        int r;

        r = bus_set_unit_limits(bus, unit, p, true, &error);
        if (r < 0)
                TEST_FAIL("bus_set_unit_limits: %s: %s", strerror(-r), strna(error.message));
        bus_error_done(&error);
        return now_usec() - t0;
}

/* bus_set_unit_limits() leaves the unit with exactly the limits given: set every limit on a running scope,
 * then none, and every property and cgroup file is back to what an unlimited unit has. The same call with
 * only some limits set changes the others back too. */
TEST(set_unit_limits_resets_unset) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = open_bus();
        _cleanup_free_ char *name = NULL, *unit = NULL, *cg = NULL, *parent_cpus = NULL,
                            *default_pids_max = NULL;
        BusError error = BUS_ERROR_NULL;
        uint64_t default_tasks_max;
        const uint8_t cpu0[] = { 0x01 };
        pid_t pid;
        int r, status;

        if (geteuid() != 0)
                TEST_SKIP("starting a scope in machine.slice needs root");
        ASSERT_OK(sd_bus_get_property_trivial(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                              "org.freedesktop.systemd1.Manager", "DefaultTasksMax", NULL,
                                              't', &default_tasks_max));
        fprintf(stderr, "DefaultTasksMax=%" PRIu64 "\n", default_tasks_max);
        /* pids.max of a unit without TasksMax */
        default_pids_max = strprintf("%" PRIu64, default_tasks_max);
        ASSERT_NOT_NULL(default_pids_max);

        name = strprintf("t%d-reset", (int) getpid());
        ASSERT_NOT_NULL(name);
        ASSERT_OK(bus_scope_name(name, &unit));
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                pause();
                _exit(0);
        }
        BusScopeParams p = {
                .unit = unit,
                .pids = &pid,
                .n_pids = 1,
                .collect_mode = "inactive-or-failed",
        };
        r = bus_start_scope(bus, &p, &error);
        if (r < 0) {
                kill(pid, SIGKILL);
                TEST_FAIL("bus_start_scope: %s: %s", strerror(-r), strna(error.message));
        }
        {
                _cleanup_(bus_scope_limits_done) BusScopeLimits l = {};
                ASSERT_OK(bus_read_scope_limits(bus, unit, &l));
                cg = strdup(l.control_group);
                ASSERT_NOT_NULL(cg);
                /* a fresh scope: what "not set" reads as */
                ASSERT_EQ_U64(l.limits[UNIT_LIMIT_TASKS_MAX], default_tasks_max);
                ASSERT_EQ_U64(l.limits[UNIT_LIMIT_MEMORY_MAX], UINT64_MAX);
        }
        {
                _cleanup_free_ char *parent = strdup(cg);
                ASSERT_NOT_NULL(parent);
                *strrchr(parent, '/') = '\0';
                parent_cpus = cgroup_attr(parent, "cpuset.cpus.effective");
        }

        BusScopeParams all = {
                .limits.set[UNIT_LIMIT_MEMORY_MAX] = true,
                .limits.value[UNIT_LIMIT_MEMORY_MAX] = 64u << 20,
                .limits.set[UNIT_LIMIT_MEMORY_HIGH] = true,
                .limits.value[UNIT_LIMIT_MEMORY_HIGH] = 60u << 20,
                .limits.set[UNIT_LIMIT_MEMORY_SWAP_MAX] = true,
                .limits.value[UNIT_LIMIT_MEMORY_SWAP_MAX] = 0,
                .limits.set[UNIT_LIMIT_CPU_QUOTA] = true,
                .limits.value[UNIT_LIMIT_CPU_QUOTA] = 500000,
                .limits.set[UNIT_LIMIT_CPU_WEIGHT] = true,
                .limits.value[UNIT_LIMIT_CPU_WEIGHT] = 50,
                .allowed_cpus_set = true,
                .allowed_cpus = cpu0,
                .allowed_cpus_size = sizeof cpu0,
                .limits.set[UNIT_LIMIT_TASKS_MAX] = true,
                .limits.value[UNIT_LIMIT_TASKS_MAX] = 10,
                .limits.set[UNIT_LIMIT_IO_WEIGHT] = true,
                .limits.value[UNIT_LIMIT_IO_WEIGHT] = 200,
        };
        fprintf(stderr, "bus_set_unit_limits with every limit set: %" PRIu64 " us\n",
                set_unit_limits(bus, unit, &all));
        assert_cgroup_attr(cg, "memory.max", "67108864");
        assert_cgroup_attr(cg, "memory.high", "62914560");
        assert_cgroup_attr(cg, "memory.swap.max", "0");
        assert_cgroup_attr(cg, "cpu.max", "50000 100000");
        assert_cgroup_attr(cg, "cpu.weight", "50");
        assert_cgroup_attr(cg, "pids.max", "10");
        assert_cgroup_attr(cg, "cpuset.cpus.effective", "0");

        /* only memory_max left: everything else goes back */
        BusScopeParams some = { .limits.set[UNIT_LIMIT_MEMORY_MAX] = true,
                                .limits.value[UNIT_LIMIT_MEMORY_MAX] = 32u << 20 };
        set_unit_limits(bus, unit, &some);
        assert_cgroup_attr(cg, "memory.max", "33554432");
        assert_cgroup_attr(cg, "memory.high", "max");
        assert_cgroup_attr(cg, "cpu.max", "max 100000");
        assert_cgroup_attr(cg, "pids.max", default_pids_max);
        assert_cgroup_attr(cg, "cpuset.cpus.effective", parent_cpus);

        /* none: every limit back to "not set" (three calls: DefaultTasksMax, the limits, AllowedCPUs=[]) */
        fprintf(stderr, "bus_set_unit_limits resetting every limit: %" PRIu64 " us\n",
                set_unit_limits(bus, unit, &(BusScopeParams){}));
        {
                _cleanup_(bus_scope_limits_done) BusScopeLimits l = {};

                ASSERT_OK(bus_read_scope_limits(bus, unit, &l));
                ASSERT_EQ_U64(l.limits[UNIT_LIMIT_MEMORY_MAX], UINT64_MAX);
                ASSERT_EQ_U64(l.limits[UNIT_LIMIT_MEMORY_HIGH], UINT64_MAX);
                ASSERT_EQ_U64(l.limits[UNIT_LIMIT_MEMORY_SWAP_MAX], UINT64_MAX);
                ASSERT_EQ_U64(l.limits[UNIT_LIMIT_CPU_QUOTA], UINT64_MAX);
                ASSERT_EQ_U64(l.limits[UNIT_LIMIT_CPU_WEIGHT], UINT64_MAX);
                ASSERT_EQ_U64(l.limits[UNIT_LIMIT_IO_WEIGHT], UINT64_MAX);
                ASSERT_EQ_U64(l.limits[UNIT_LIMIT_TASKS_MAX], default_tasks_max);
                ASSERT_EQ(l.allowed_cpus_size, 0);

                assert_cgroup_attr(cg, "memory.max", "max");
                assert_cgroup_attr(cg, "memory.high", "max");
                assert_cgroup_attr(cg, "memory.swap.max", "max");
                assert_cgroup_attr(cg, "cpu.max", "max 100000");
                assert_cgroup_attr(cg, "cpu.weight", "100");
                assert_cgroup_attr(cg, "pids.max", default_pids_max);
                /* the earlier cpuset no longer restricts: the scope may use every CPU its slice has */
                assert_cgroup_attr(cg, "cpuset.cpus.effective", parent_cpus);
        }

        ASSERT_EQ(bus_stop_unit(bus, unit, &error), 1);
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        bus_error_done(&error);
}

TEST(systemd_queries) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = open_bus();
        _cleanup_(bus_scope_limits_done) BusScopeLimits l = {};
        _cleanup_free_ char *state = NULL, *sub = NULL;
        BusError error = BUS_ERROR_NULL;
        int r;

        ASSERT_EQ(bus_unit_exists(bus, "init.scope"), 1);
        ASSERT_EQ(bus_unit_exists(bus, "cbox-does-not-exist-4711.scope"), 0);
        ASSERT_ERROR(bus_unit_state(bus, "cbox-does-not-exist-4711.scope", &state, NULL), ENOENT);
        ASSERT_OK(bus_unit_state(bus, "init.scope", &state, &sub));
        ASSERT_STREQ(state, "active");
        ASSERT_STREQ(sub, "running");

        ASSERT_OK(bus_read_scope_limits(bus, "init.scope", &l));
        ASSERT_STREQ(l.control_group, "/init.scope");
        ASSERT_STREQ(l.active_state, "active");
        ASSERT_EQ_U64(l.limits[UNIT_LIMIT_MEMORY_MAX], UINT64_MAX);

        ASSERT_EQ(bus_stop_unit(bus, "cbox-does-not-exist-4711.scope", &error), 0);
        ASSERT_ERROR(bus_reset_failed_unit(bus, "cbox-does-not-exist-4711.scope", &error), ENOENT);
        ASSERT_NOT_NULL(error.name); /* systemd's own error name, mapped to ENOENT here */
        fprintf(stderr, "reset-failed of an unknown unit: %s: %s\n", error.name, error.message);
        ASSERT_ERROR(bus_set_unit_limits(bus, "cbox-does-not-exist-4711.scope",
                                         &(BusScopeParams){ .limits.set[UNIT_LIMIT_TASKS_MAX] = true,
                                                            .limits.value[UNIT_LIMIT_TASKS_MAX] = 5 },
                                         true, &error),
                     ENOENT);
        {
                _cleanup_free_ char *u = NULL;
                ASSERT_OK(bus_unit_by_pid(bus, 1, &u));
                ASSERT_STREQ(u, "init.scope");
                ASSERT_ERROR(bus_unit_by_pid(bus, 0, &u), EINVAL);
        }
        ASSERT_ERROR(bus_kill_unit(bus, "cbox-does-not-exist-4711.scope", NULL, SIGTERM, &error), ENOENT);
        ASSERT_ERROR(bus_kill_unit(bus, "init.scope", NULL, 0, &error), EINVAL);

        /* Parameter checks happen before anything is sent */
        BusScopeParams p = { .unit = "cbox-x.service" };
        ASSERT_ERROR(bus_start_scope(bus, &p, &error), EINVAL);
        ASSERT_NOT_NULL(error.message);
        const pid_t pid1 = 1; /* should validation let a message through, systemd refuses to move PID 1 */
        BusScopeParams p2 = { .unit = "cbox-x.scope", .pids = &pid1, .n_pids = 1, .allowed_cpus_set = true };
        ASSERT_ERROR(bus_start_scope(bus, &p2, &error), EINVAL);
        const char *const bad_dev[] = { "/etc/passwd", NULL };
        BusScopeParams p3 = {
                .unit = "cbox-x.scope", .pids = &pid1, .n_pids = 1, .extra_devices = (char *const *) bad_dev
        };
        ASSERT_ERROR(bus_start_scope(bus, &p3, &error), EINVAL);
        BusScopeParams p4 = { .unit = "cbox-x.scope" };
        ASSERT_ERROR(bus_start_scope(bus, &p4, &error), EINVAL);
        ASSERT_EQ(bus_unit_exists(bus, "cbox-x.scope"), 0);

        r = bus_machine_exists(bus, "cbox-does-not-exist-4711", NULL);
        ASSERT_TRUE(r == 0 || r == -EHOSTDOWN);
        bus_error_done(&error);
}

TEST(scope_name) {
        _cleanup_free_ char *s = NULL;
        char *t = NULL;

        ASSERT_OK(bus_scope_name("web", &s));
        ASSERT_STREQ(s, "cbox-web.scope");
        ASSERT_ERROR(bus_scope_name("", &t), EINVAL);
        ASSERT_ERROR(bus_scope_name(NULL, &t), EINVAL);
        ASSERT_ERROR(bus_scope_name("a/b", &t), EINVAL);
        ASSERT_ERROR(bus_scope_name("a b", &t), EINVAL);
        ASSERT_NULL(t);

        char longname[300];
        memset(longname, 'a', sizeof longname - 1);
        longname[sizeof longname - 1] = 0;
        ASSERT_ERROR(bus_scope_name(longname, &t), EINVAL);
        longname[255 - strlen("cbox-.scope")] = 0;
        ASSERT_OK(bus_scope_name(longname, &t));
        ASSERT_EQ(strlen(t), 255);
        free(t);
}

TEST(error_done) {
        BusError e = BUS_ERROR_NULL;

        bus_error_done(&e);
        bus_error_done(NULL);
        e.message = strdup("x");
        e.name = strdup("y");
        bus_error_done(&e);
        ASSERT_NULL(e.message);
        ASSERT_NULL(e.name);
}

TEST_MAIN();
