/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "container-internal.h"
#include "container-service.h"
#include "container.h"
#include "log.h"
#include "string-util.h"
#include "time-util.h"

/* TimeoutStartSec of the unit is 5 min; give systemd a little longer to report the failure itself */
#define START_WAIT_USEC (330 * USEC_PER_SEC)

char *container_service_unit(const char *name) {
        return strprintf("cbox@%s.service", name);
}

/* Whether systemd has a unit file for the template (cbox@.service installed): LoadUnit + LoadState */
static bool service_installed(const char *unit) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *state = NULL;
        const char *path;

        if (!bus_systemd_booted() || bus_open_system(&bus) < 0)
                return false;
        if (sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "LoadUnit", NULL, &reply, "s",
                               unit) < 0 ||
            sd_bus_message_read(reply, "o", &path) < 0)
                return false;
        if (sd_bus_get_property_string(bus, "org.freedesktop.systemd1", path,
                                       "org.freedesktop.systemd1.Unit", "LoadState", NULL, &state) < 0)
                return false;
        return streq(state, "loaded");
}

int container_is_service(const GlobalConfig *g, const char *name) {
        _cleanup_(container_info_done) ContainerInfo i = {};
        _cleanup_free_ char *unit = container_service_unit(name), *file = NULL;
        int r;

        if (!unit)
                return -ENOMEM;
        r = container_get_info(g, name, &i);
        if (r >= 0 && streq_ptr(i.state->unit, unit))
                return 1;
        if (r >= 0 && i.status == CONTAINER_RUNNING)
                return 0; /* run detached (its own scope), even though a file is in /etc/cbox */
        file = strjoin(config_root(), "/etc/cbox/", name, ".toml");
        if (!file)
                return -ENOMEM;
        if (access(file, F_OK) < 0)
                return 0;
        return service_installed(unit);
}

int container_service_start(const char *name) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *unit = container_service_unit(name);
        const char *job;
        uint64_t deadline;
        int r;

        if (!unit)
                return log_oom();
        if (!bus_systemd_booted())
                return log_error_errno(EHOSTDOWN, "%s: systemd is not running as PID 1", name);
        r = bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "%s: failed to connect to the system bus: %m", name);

        /* a failed unit reads "failed" until the new job starts it: clear that first */
        (void) bus_reset_failed_unit(bus, unit, NULL);
        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "StartUnit", &error, &reply, "ss", unit,
                               "replace");
        if (r < 0)
                return log_error_errno(r, "%s: failed to start %s: %s", name, unit,
                                       error.message ?: strerror(-r));

        r = sd_bus_message_read(reply, "o", &job);
        if (r < 0)
                return log_error_errno(r, "%s: bad reply to StartUnit: %m", name);

        /* the start job of a Type=notify unit ends with READY=1 or the unit's failure */
        deadline = now_monotonic_usec() + START_WAIT_USEC;
        for (;;) {
                uint32_t id;
                if (sd_bus_get_property_trivial(bus, "org.freedesktop.systemd1", job,
                                                "org.freedesktop.systemd1.Job", "Id", NULL, 'u', &id) < 0)
                        break; /* the job is gone */
                if (now_monotonic_usec() > deadline)
                        return log_error_errno(ETIMEDOUT, "%s: the start job of %s did not finish", name,
                                               unit);
                (void) usleep(100 * 1000);
        }

        _cleanup_free_ char *active = NULL;
        r = bus_unit_state(bus, unit, &active, NULL);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the state of %s: %m", name, unit);
        if (streq(active, "active"))
                return 0;
        BusScopeLimits l = {};
        (void) bus_read_scope_limits(bus, unit, &l);
        log_error("%s: %s is %s (result '%s'); see 'systemctl status %s'", name, unit, active,
                  strna(l.result), unit);
        bus_scope_limits_done(&l);
        return -EIO;
}

int container_service_stop(const char *name) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *unit = container_service_unit(name);
        BusError e = BUS_ERROR_NULL;
        int r;

        if (!unit)
                return log_oom();
        if (!bus_systemd_booted())
                return log_error_errno(EHOSTDOWN, "%s: systemd is not running as PID 1", name);
        r = bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "%s: failed to connect to the system bus: %m", name);
        r = bus_stop_unit(bus, unit, &e);
        if (r < 0) {
                container_log_bus_error(r, name, "failed to stop its service", &e);
                bus_error_done(&e);
                return r;
        }
        return 0;
}
