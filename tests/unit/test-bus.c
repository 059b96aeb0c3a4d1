/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of src/bus. The pure helpers run everywhere; what needs systemd (PID 1 on the system bus) skips
 * with exit 77 on a host without it. The scope/limit/machined behaviour is proven in the VM by
 * tests/system/test-bus. (The harness runs tests in reverse definition order here: the systemd test is
 * defined first so that it runs last.) */

#include <signal.h>
#include <stdio.h>

#include "bus.h"
#include "tests.h"

TEST(systemd_queries) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(bus_scope_limits_done) BusScopeLimits l = {};
        _cleanup_free_ char *state = NULL, *sub = NULL;
        BusError error = BUS_ERROR_NULL;
        int r;

        if (!bus_systemd_booted())
                TEST_SKIP("no systemd as PID 1 (/run/systemd/system missing)");
        r = bus_open_system(&bus);
        if (r < 0)
                TEST_FAIL("systemd is PID 1 but the system bus cannot be opened: %s", strerror(-r));

        ASSERT_EQ(bus_unit_exists(bus, "init.scope"), 1);
        ASSERT_EQ(bus_unit_exists(bus, "cbox-does-not-exist-4711.scope"), 0);
        ASSERT_ERROR(bus_unit_state(bus, "cbox-does-not-exist-4711.scope", &state, NULL), ENOENT);
        ASSERT_OK(bus_unit_state(bus, "init.scope", &state, &sub));
        ASSERT_STREQ(state, "active");
        ASSERT_STREQ(sub, "running");

        ASSERT_OK(bus_read_scope_limits(bus, "init.scope", &l));
        ASSERT_STREQ(l.control_group, "/init.scope");
        ASSERT_STREQ(l.active_state, "active");
        ASSERT_EQ_U64(l.memory_max, UINT64_MAX);

        ASSERT_EQ(bus_stop_unit(bus, "cbox-does-not-exist-4711.scope", &error), 0);
        ASSERT_ERROR(bus_reset_failed_unit(bus, "cbox-does-not-exist-4711.scope", &error), ENOENT);
        ASSERT_NOT_NULL(error.name); /* systemd's own error name, mapped to ENOENT here */
        fprintf(stderr, "reset-failed of an unknown unit: %s: %s\n", error.name, error.message);
        ASSERT_ERROR(bus_set_unit_limits(bus, "cbox-does-not-exist-4711.scope",
                                         &(BusScopeParams){ .tasks_max_set = true, .tasks_max = 5 }, true,
                                         &error),
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
