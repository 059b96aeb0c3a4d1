/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container's systemd side, used by up, down/stop and update: the bus, its unit and companion, the
 * release of what a container holds at runtime, the payload cgroup under a service, and the limits of
 * [resources] as unit properties. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "bus.h"
#include "container-internal.h"
#include "container.h"
#include "fd-util.h"
#include "log.h"
#include "string-util.h"

int container_open_bus(sd_bus **bus, const char *name) {
        int r;

        if (*bus)
                return 0;
        if (!bus_systemd_booted())
                return log_error_errno(EHOSTDOWN,
                                       "%s: systemd is not running as PID 1; cbox needs it for "
                                       "the container's unit",
                                       name);
        r = bus_open_system(bus);
        if (r < 0)
                return log_error_errno(r, "%s: failed to connect to the system bus: %m", name);
        return 0;
}

void container_log_bus_error(int r, const char *name, const char *what, const BusError *e) {
        if (e->message)
                log_error_errno(r, "%s: %s: %s", name, what, e->message);
        else
                log_error_errno(r, "%s: %s: %m", name, what);
}

static char *companion_name(const char *name) {
        return strprintf("cbox-%s-cleanup.service", name);
}

void container_stop_companion(sd_bus *bus, const char *name) {
        _cleanup_free_ char *unit = companion_name(name);
        BusError e = BUS_ERROR_NULL;

        if (!bus || !unit)
                return;
        (void) bus_stop_unit(bus, unit, &e);
        bus_error_done(&e);
        (void) bus_reset_failed_unit(bus, unit, &e);
        bus_error_done(&e);
}

/* A detached payload that exits by itself leaves no cbox process behind to release its network, nor does a
 * foreground one whose cbox was killed: a companion service bound to the scope runs `cbox cleanup NAME`
 * when the scope goes away. */
int container_start_companion(sd_bus *bus, const char *name, const char *unit, bool no_wait) {
        _cleanup_free_ char *self = realpath("/proc/self/exe", NULL), *cunit = companion_name(name);
        BusError e = BUS_ERROR_NULL;
        int r;

        if (!self || !cunit)
                return log_oom();
        char *stop_argv[] = { self, (char *) "cleanup", (char *) name, NULL };
        BusCompanionParams cp = {
                .unit = cunit,
                .bound_to = unit,
                .description = "cbox network cleanup",
                .exec_stop = stop_argv,
        };
        /* Foreground: the start job is not waited for (the payload is not released before systemd
         * has queued it, and it is ordered and bound to the scope; what it is for only matters once
         * this cbox is gone). */
        cp.no_wait = no_wait;
        r = bus_start_companion(bus, &cp, &e);
        if (r == -EEXIST) {
                /* the companion of an earlier container of this name, still stopping (a
                 * foreground cbox does not wait for it at exit): its `cbox cleanup` finds our lock
                 * taken and does nothing; wait for its end, then start ours */
                bus_error_done(&e);
                container_stop_companion(bus, name);
                r = bus_start_companion(bus, &cp, &e);
        }
        if (r < 0) {
                container_log_bus_error(r, name, "failed to start its cleanup companion", &e);
                bus_error_done(&e);
                return r;
        }
        return 0;
}

/* A unit cbox-NAME.scope that no state names (cbox was killed between StartTransientUnit and writing the
 * unit into the state, or the state was lost) is cbox's when it carries the Description cbox gives it in
 * the same StartTransientUnit call that creates it ("cbox container NAME"): set atomically with the unit,
 * so there is no window in which a unit of ours lacks it, and a unit someone else made under that name
 * does not have it. Stops such a unit (and its companion). 1 = an orphan was stopped, 0 = none (no unit,
 * or not ours: left alone), -errno (logged). */
int container_stop_orphan_unit(sd_bus *bus, const char *name) {
        _cleanup_free_ char *unit = NULL, *descr = NULL, *want = NULL;
        BusError e = BUS_ERROR_NULL;
        int r;

        if (!bus)
                return 0;
        r = bus_scope_name(name, &unit);
        if (r < 0)
                return 0;
        r = bus_unit_description(bus, unit, &descr);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the description of %s: %m", name, unit);
        want = strprintf("cbox container %s", name);
        if (!want)
                return log_oom();
        if (!streq(descr, want)) {
                log_debug("%s: %s is described as '%s', not ours", name, unit, descr);
                return 0;
        }
        log_info("%s: stopping %s, left running by a cbox that was killed", name, unit);
        r = bus_stop_unit(bus, unit, &e);
        if (r < 0 && r != -ENOENT) {
                container_log_bus_error(r, name, "failed to stop its orphaned unit", &e);
                bus_error_done(&e);
                return r;
        }
        bus_error_done(&e);
        (void) bus_reset_failed_unit(bus, unit, &e);
        bus_error_done(&e);
        container_stop_companion(bus, name);
        return 1;
}

/* Stops the unit, drops a machined registration that outlived it, makes sure the leader is gone.
 * Best effort for the parts that may already be gone; returns the first hard failure. With
 * wait_companion false, the cleanup companion is left to the scope's end (BindsTo=): its stop job runs
 * after the scope's, execs `cbox cleanup`, which finds the lock held or the state gone and does nothing;
 * a next up of the name waits for its end before starting its own. */
int container_release_runtime_full(const GlobalConfig *g, sd_bus *bus, const char *name,
                                   const ContainerState *s, bool wait_companion) {
        BusError e = BUS_ERROR_NULL;
        int r, ret = 0;

        if (bus && s && s->unit) {
                r = bus_stop_unit(bus, s->unit, &e);
                if (r < 0 && r != -ENOENT) {
                        container_log_bus_error(r, name, "failed to stop its unit", &e);
                        ret = r;
                }
                bus_error_done(&e);
                r = bus_reset_failed_unit(bus, s->unit, &e);
                if (r < 0 && r != -ENOENT)
                        log_debug_errno(r, "%s: reset-failed of %s: %m", name, s->unit);
                bus_error_done(&e);
        } else if (bus && s && s->starting) {
                /* killed between StartTransientUnit and recording the unit */
                r = container_stop_orphan_unit(bus, name);
                if (r < 0)
                        ret = r;
        }
        if (bus && s && s->machine) {
                /* machined forgets a machine shortly after its unit went away; wait for that, so that after
                 * down nothing is listed and a next up of the same name can register again. The unit is
                 * stopped and we hold NAME's lock: a registration still there is stale. */
                for (int i = 0; i < 40; i++) {
                        r = bus_machine_exists(bus, s->machine, NULL);
                        if (r <= 0)
                                break;
                        if (i == 10) {
                                r = bus_machine_terminate(bus, s->machine, &e);
                                if (r < 0 && !IN_SET(r, -ENOENT, -EHOSTDOWN))
                                        log_warning_errno(
                                                r,
                                                "%s: failed to terminate machine registration, ignoring: %m",
                                                name);
                                bus_error_done(&e);
                        }
                        (void) usleep(50 * 1000);
                }
        }
        /* network state lives outside the container's namespaces: ports, veth, lease */
        if (s && s->network) {
                container_net_release(g, name, s->network, s->host_ifname);
                /* its cleanup runs `cbox cleanup`, which finds our lock taken and leaves it to us */
                if (wait_companion)
                        container_stop_companion(bus, name);
        }
        /* No unit (never got one, or no systemd): kill the leader ourselves; the pid namespace dies with it
         */
        if (s && s->leader_pid > 0 && state_leader_alive(s)) {
                _cleanup_close_ int pidfd = -EBADF;
                if (container_pidfd_open_checked(s->leader_pid, s->leader_start_time, &pidfd) >= 0) {
                        (void) container_pidfd_send(pidfd, SIGKILL);
                        struct pollfd p = { .fd = pidfd, .events = POLLIN };
                        (void) poll(&p, 1, 5000);
                }
        }
        return ret;
}

int container_release_runtime(const GlobalConfig *g, sd_bus *bus, const char *name,
                              const ContainerState *s) {
        return container_release_runtime_full(g, bus, name, s, true);
}

/* rmdir of a cgroup whose processes may still be on their way out */
void container_cgroup_remove(const char *path) {
        for (int i = 0; path && i < 50; i++) {
                if (rmdir(path) >= 0 || errno == ENOENT)
                        return;
                if (errno != EBUSY)
                        break;
                (void) usleep(20 * 1000);
        }
        if (path)
                log_debug_errno(errno, "cannot remove cgroup '%s': %m", path);
}

/* Whether systemd delegated the service's cgroup (Delegate=yes): only then may cbox create sub-cgroups in
 * it. */
bool container_unit_is_delegated(sd_bus *bus, const char *unit) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        int delegate = 0;

        if (sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, &path) < 0)
                return false;
        if (sd_bus_get_property_trivial(bus, "org.freedesktop.systemd1", path,
                                        "org.freedesktop.systemd1.Service", "Delegate", &error, 'b',
                                        &delegate) < 0)
                return false;
        return delegate;
}

/* The [resources] keys that change on the running unit: those of basic/unit-limits.h and the cpuset.
 * bus_set_unit_limits() sends all of them each time, those the file does not set with their reset value
 * (infinity, systemd's default), so a key removed from the file stops applying too. */
bool container_is_limit_key(const char *key) {
        UNIT_LIMIT_FOREACH(i)
        if (streq(key, unit_limit_info[i].key))
                return true;
        return streq(key, "resources.cpuset");
}

void container_fill_limits(const ContainerConfig *c, BusScopeParams *p) {
        const ResourceConfig *rc = &c->resources;

        p->limits = rc->limits;
        p->allowed_cpus_set = rc->cpuset_set;
        p->allowed_cpus = rc->cpuset_mask;
        p->allowed_cpus_size = rc->cpuset_mask_size;
}
