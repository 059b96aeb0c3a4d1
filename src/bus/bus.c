/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "cpu-set.h"
#include "fileio.h"
#include "string-util.h"
#include "time-util.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT_IFACE "org.freedesktop.systemd1.Unit"
#define MACHINED_DEST "org.freedesktop.machine1"
#define MACHINED_PATH "/org/freedesktop/machine1"
#define MACHINED_MANAGER "org.freedesktop.machine1.Manager"
#define MACHINED_MACHINE_IFACE "org.freedesktop.machine1.Machine"

/* systemd's unit names are at most 255 characters */
#define UNIT_NAME_MAX 255

/* sd-bus.h provides sd_bus_message_unrefp(), sd_bus_slot_unrefp() */
#define _cleanup_bus_message_ _cleanup_(sd_bus_message_unrefp)
#define _cleanup_bus_error_ _cleanup_(sd_bus_error_free)

void bus_error_done(BusError *e) {
        if (!e)
                return;
        free(e->name);
        free(e->message);
        free(e->job_result);
        free(e->unit_result);
        *e = BUS_ERROR_NULL;
}

/* The errno for a D-Bus error. libsystemd maps only the standard org.freedesktop.DBus.Error.* names;
 * systemd's and machined's own names are mapped here. */
static int bus_errno(const sd_bus_error *e, int r) {
        static const struct {
                const char *name;
                int error;
        } table[] = {
                { "org.freedesktop.systemd1.NoSuchUnit", ENOENT },
                { "org.freedesktop.systemd1.UnitExists", EEXIST },
                { "org.freedesktop.systemd1.LoadFailed", ENOENT },
                { "org.freedesktop.systemd1.NoSuchJob", ENOENT },
                { "org.freedesktop.systemd1.JobFailed", EIO },
                { "org.freedesktop.systemd1.UnitMasked", ERFKILL },
                { "org.freedesktop.systemd1.TransactionIsDestructive", EDEADLK },
                { "org.freedesktop.systemd1.NoSuchProcess", ESRCH },
                { "org.freedesktop.systemd1.NoUnitForPID", ESRCH },
                { "org.freedesktop.machine1.NoSuchMachine", ENOENT },
                { "org.freedesktop.machine1.MachineExists", EEXIST },
                { "org.freedesktop.DBus.Error.InvalidArgs", EINVAL },
                { "org.freedesktop.DBus.Error.AccessDenied", EACCES },
                { "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", EACCES },
                { "org.freedesktop.DBus.Error.ServiceUnknown", EHOSTDOWN },
                { "org.freedesktop.DBus.Error.NameHasNoOwner", EHOSTDOWN },
        };

        if (!e || !sd_bus_error_is_set(e))
                return r < 0 ? r : -EIO;
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(e->name, table[i].name))
                        return -table[i].error;
        if (startswith(e->name, "org.freedesktop.DBus.Error.Spawn."))
                return -EHOSTDOWN; /* bus activation of the service failed */
        return r < 0 ? r : -EIO;
}

/* Fills error (if non-NULL) from a D-Bus error; returns the mapped errno. */
static int bus_error_set(BusError *error, const sd_bus_error *e, int r) {
        r = bus_errno(e, r);
        if (!error)
                return r;
        bus_error_done(error);
        if (e && sd_bus_error_is_set(e)) {
                error->name = e->name ? strdup(e->name) : NULL;
                error->message = strdup(e->message ?: e->name);
        } else
                error->message = strdup(strerror(-r));
        return r;
}

static int bus_error_setf(BusError *error, int r, const char *fmt, ...) _printf_(3, 4);
static int bus_error_setf(BusError *error, int r, const char *fmt, ...) {
        va_list ap;

        if (!error)
                return r;
        bus_error_done(error);
        va_start(ap, fmt);
        if (vasprintf(&error->message, fmt, ap) < 0)
                error->message = NULL;
        va_end(ap);
        return r;
}

/* Where a method lives: systemd's and machined's managers, or any object */
typedef struct BusLocator {
        const char *destination, *path, *interface;
} BusLocator;

static const BusLocator systemd_manager = { SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER };
static const BusLocator machined_manager = { MACHINED_DEST, MACHINED_PATH, MACHINED_MANAGER };

/* sd_bus_call_method(); a D-Bus error is mapped to -errno and put in error (if non-NULL) */
static int call_method(sd_bus *bus, const BusLocator *l, const char *member, sd_bus_message **reply,
                       BusError *error, const char *types, ...) {
        _cleanup_bus_error_ sd_bus_error e = SD_BUS_ERROR_NULL;
        va_list ap;
        int r;

        va_start(ap, types);
        r = sd_bus_call_methodv(bus, l->destination, l->path, l->interface, member, &e, reply, types, ap);
        va_end(ap);
        if (r < 0)
                return bus_error_set(error, &e, r);
        return 0;
}

/* sd_bus_call() of a message built by the caller, errors as in call_method() */
static int call_message(sd_bus *bus, sd_bus_message *m, sd_bus_message **reply, BusError *error) {
        _cleanup_bus_error_ sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call(bus, m, 0, &e, reply);
        if (r < 0)
                return bus_error_set(error, &e, r);
        return 0;
}

int bus_open_system(sd_bus **ret) {
        sd_bus *bus = NULL;
        int r;

        assert(ret);

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return r;
        *ret = bus;
        return 0;
}

bool bus_systemd_booted(void) {
        struct stat st;

        return lstat("/run/systemd/system", &st) >= 0 && S_ISDIR(st.st_mode);
}

static bool unit_char_ok(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                IN_SET(c, ':', '-', '_', '.', '\\');
}

int bus_scope_name(const char *name, char **ret) {
        char *s;

        assert(ret);

        if (isempty(name))
                return -EINVAL;
        for (const char *p = name; *p; p++)
                if (!unit_char_ok(*p))
                        return -EINVAL;
        s = strjoin("cbox-", name, ".scope");
        if (!s)
                return -ENOMEM;
        if (strlen(s) > UNIT_NAME_MAX) {
                free(s);
                return -EINVAL;
        }
        *ret = s;
        return 0;
}

/* The type-specific interface that carries Result and the cgroup properties */
static const char *unit_type_interface(const char *unit) {
        const char *dot = strrchr(unit, '.');

        if (!dot)
                return NULL;
        if (streq(dot, ".scope"))
                return "org.freedesktop.systemd1.Scope";
        if (streq(dot, ".service"))
                return "org.freedesktop.systemd1.Service";
        if (streq(dot, ".slice"))
                return "org.freedesktop.systemd1.Slice";
        return NULL;
}

/* GetUnit: the object path of a loaded unit; -ENOENT if not loaded */
static int get_unit_path(sd_bus *bus, const char *unit, char **ret) {
        _cleanup_bus_message_ sd_bus_message *reply = NULL;
        const char *path;
        char *p;
        int r;

        r = call_method(bus, &systemd_manager, "GetUnit", &reply, NULL, "s", unit);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        p = strdup(path);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int bus_unit_exists(sd_bus *bus, const char *unit) {
        _cleanup_free_ char *path = NULL;
        int r;

        assert(bus);
        assert(unit);

        r = get_unit_path(bus, unit, &path);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        return 1;
}

static int get_string_property(sd_bus *bus, const char *path, const char *iface, const char *member,
                               char **ret) {
        _cleanup_bus_error_ sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_get_property_string(bus, SYSTEMD_DEST, path, iface, member, &e, ret);
        if (r < 0)
                return bus_errno(&e, r);
        return 0;
}

int bus_unit_description(sd_bus *bus, const char *unit, char **ret) {
        _cleanup_free_ char *path = NULL;
        int r;

        assert(bus);
        assert(unit);
        assert(ret);

        r = get_unit_path(bus, unit, &path);
        if (r < 0)
                return r;
        return get_string_property(bus, path, SYSTEMD_UNIT_IFACE, "Description", ret);
}

int bus_unit_state(sd_bus *bus, const char *unit, char **ret_active_state, char **ret_sub_state) {
        _cleanup_free_ char *path = NULL, *active = NULL, *sub = NULL;
        int r;

        assert(bus);
        assert(unit);

        r = get_unit_path(bus, unit, &path);
        if (r < 0)
                return r;
        if (ret_active_state) {
                r = get_string_property(bus, path, SYSTEMD_UNIT_IFACE, "ActiveState", &active);
                if (r < 0)
                        return r;
        }
        if (ret_sub_state) {
                r = get_string_property(bus, path, SYSTEMD_UNIT_IFACE, "SubState", &sub);
                if (r < 0)
                        return r;
        }
        if (ret_active_state)
                *ret_active_state = TAKE_PTR(active);
        if (ret_sub_state)
                *ret_sub_state = TAKE_PTR(sub);
        return 0;
}

/* Waiting for a job: the JobRemoved match is installed before the call that creates the job; the signal
 * is queued by sd_bus_call() and dispatched by sd_bus_process() once the job path is known. */
typedef struct JobWaiter {
        char *job;
        char *result;
        bool removed;
        int error;
} JobWaiter;

static void job_waiter_done(JobWaiter *w) {
        free(w->job);
        free(w->result);
        *w = (JobWaiter){};
}

static int match_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        JobWaiter *w = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0; /* not ours to judge */
        if (!w->job || !streq(path, w->job))
                return 0;
        w->removed = true;
        w->result = strdup(result);
        if (!w->result)
                w->error = -ENOMEM;
        return 0;
}

static int job_waiter_install(sd_bus *bus, JobWaiter *w, sd_bus_slot **ret_slot) {
        return sd_bus_match_signal(bus, ret_slot, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "JobRemoved",
                                   match_job_removed, w);
}

static int job_waiter_set_job(JobWaiter *w, sd_bus_message *reply) {
        const char *path;
        int r;

        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        w->job = strdup(path);
        return w->job ? 0 : -ENOMEM;
}

/* Start jobs of scopes and oneshot companions finish within milliseconds; a start job still queued after
 * this long means systemd is wedged, and `cbox up` must not hang on it. Stop jobs are bounded by the unit's
 * own TimeoutStopUSec + SIGKILL, so they are waited for without a limit (as systemctl does). */
#define START_JOB_TIMEOUT_USEC (90 * USEC_PER_SEC)

/* Dispatches the bus until the job is removed; -ETIMEDOUT after timeout_usec (0 = no limit) */
static int job_waiter_wait(sd_bus *bus, JobWaiter *w, uint64_t timeout_usec) {
        uint64_t deadline = timeout_usec > 0 ? now_monotonic_usec() + timeout_usec : UINT64_MAX;
        int r;

        while (!w->removed) {
                uint64_t n;

                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                n = now_monotonic_usec();
                if (n >= deadline)
                        return -ETIMEDOUT;
                r = sd_bus_wait(bus, deadline == UINT64_MAX ? UINT64_MAX : deadline - n);
                if (r < 0 && r != -EINTR)
                        return r;
        }
        return w->error;
}

/* After a job ended with something other than "done": fill error with the job result and the unit's
 * Result (best effort: a collected unit has none any more). */
static int job_failed(sd_bus *bus, const char *unit, const char *verb, const char *job_result,
                      BusError *error) {
        _cleanup_free_ char *path = NULL, *result = NULL;
        const char *iface;

        if (!error)
                return -EIO;

        iface = unit_type_interface(unit);
        if (iface && get_unit_path(bus, unit, &path) >= 0)
                (void) get_string_property(bus, path, iface, "Result", &result);

        bus_error_done(error);
        if (result)
                error->message = strprintf("Job to %s %s finished with result '%s' (unit result '%s')", verb,
                                           unit, job_result, result);
        else
                error->message = strprintf("Job to %s %s finished with result '%s'", verb, unit, job_result);
        error->job_result = strdup(job_result);
        error->unit_result = TAKE_PTR(result);
        return -EIO;
}

/* Waits for the job reply names (timeout_usec 0: no limit); verb ("start", …) names it in errors */
static int job_waiter_finish(sd_bus *bus, JobWaiter *w, sd_bus_message *reply, const char *unit,
                             const char *verb, uint64_t timeout_usec, BusError *error) {
        int r;

        r = job_waiter_set_job(w, reply);
        if (r < 0)
                return r;
        r = job_waiter_wait(bus, w, timeout_usec);
        if (r < 0)
                return bus_error_setf(error, r, "Failed to wait for the %s job of %s: %s", verb, unit,
                                      strerror(-r));
        if (!streq(w->result, "done"))
                return job_failed(bus, unit, verb, w->result, error);
        return 0;
}

/* Opens the (sv) of one property and, inside it, the variant of type contents: the caller appends the value
 * and closes both with close_containers(m, 2). */
static int open_property(sd_bus_message *m, const char *name, const char *contents) {
        int r;

        r = sd_bus_message_open_container(m, 'r', "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", name);
        if (r < 0)
                return r;
        return sd_bus_message_open_container(m, 'v', contents);
}

/* A property whose value is an array (contents "a(ss)"…), left open inside the array */
static int open_array_property(sd_bus_message *m, const char *name, const char *contents) {
        int r;

        r = open_property(m, name, contents);
        if (r < 0)
                return r;
        return sd_bus_message_open_container(m, 'a', contents + 1);
}

static int close_containers(sd_bus_message *m, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                int r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int append_strv_property(sd_bus_message *m, const char *name, char *const *l) {
        int r;

        r = open_property(m, name, "as");
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(m, (char **) l);
        if (r < 0)
                return r;
        return close_containers(m, 2);
}

static int append_bytes_property(sd_bus_message *m, const char *name, const void *data, size_t size) {
        int r;

        r = open_property(m, name, "ay");
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', data, size);
        if (r < 0)
                return r;
        return close_containers(m, 2);
}

static int append_pids_property(sd_bus_message *m, const pid_t *pids, size_t n) {
        _cleanup_free_ uint32_t *a = NULL;
        int r;

        a = new (uint32_t, n);
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (pids[i] <= 0)
                        return -EINVAL;
                a[i] = (uint32_t) pids[i];
        }

        r = open_property(m, "PIDs", "au");
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'u', a, n * sizeof(uint32_t));
        if (r < 0)
                return r;
        return close_containers(m, 2);
}

/* ExecStart=/ExecStop= as a(sasb): path, argv, ignore-failure */
static int append_exec_property(sd_bus_message *m, const char *name, char *const *argv) {
        int r;

        if (!argv || !argv[0] || argv[0][0] != '/')
                return -EINVAL;

        r = open_array_property(m, name, "a(sasb)");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'r', "sasb");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", argv[0]);
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(m, (char **) argv);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "b", 0);
        if (r < 0)
                return r;
        return close_containers(m, 4);
}

/* The device nodes every container gets (as systemd-nspawn allows them), all rwm: init creates the nodes
 * with mknod in the container's tmpfs /dev, inside the scope. */
static const char *const standard_devices[] = {
        "/dev/null", "/dev/zero", "/dev/full",    "/dev/random", "/dev/urandom",
        "/dev/tty",  "/dev/ptmx", "/dev/net/tun", "char-pts",
};

static bool perms_valid(const char *s) {
        if (isempty(s) || strlen(s) > 3)
                return false;
        return strspn(s, "rwm") == strlen(s);
}

static int append_device_allow(sd_bus_message *m, char *const *extra, bool reset) {
        int r;

        if (reset) { /* an empty list drops every entry the unit has (from its file, or an earlier run) */
                r = open_array_property(m, "DeviceAllow", "a(ss)");
                if (r < 0)
                        return r;
                r = close_containers(m, 3);
                if (r < 0)
                        return r;
        }
        r = open_array_property(m, "DeviceAllow", "a(ss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(standard_devices); i++) {
                r = sd_bus_message_append(m, "(ss)", standard_devices[i], "rwm");
                if (r < 0)
                        return r;
        }
        STRV_FOREACH (d, (char **) extra) {
                _cleanup_free_ char *path = NULL;
                const char *colon = strrchr(*d, ':'), *perms = "rwm";

                if (colon && perms_valid(colon + 1)) {
                        path = strndup(*d, colon - *d);
                        perms = colon + 1;
                } else
                        path = strdup(*d);
                if (!path)
                        return -ENOMEM;
                if (!startswith(path, "/dev/") && !startswith(path, "char-") && !startswith(path, "block-"))
                        return -EINVAL;
                r = sd_bus_message_append(m, "(ss)", path, perms);
                if (r < 0)
                        return r;
        }
        return close_containers(m, 3);
}

/* The limits of type "t" go in the order of basic/unit-limits.h, which is that of the names of the drop-ins
 * systemd writes for them at runtime (50-AllowedCPUs.conf, which append_limit_properties() sends first, then
 * 50-CPUQuota.conf, …, 50-TasksMax.conf): systemd 252 appends a new drop-in to the unit's list, and a list
 * out of order makes the unit read NeedDaemonReload=yes ("… changed on disk. Run 'systemctl
 * daemon-reload'") until the next reload; sorted, the first SetUnitProperties keeps it sorted (checked in
 * the VM). bus_set_unit_limits() sends every one of them. */

/* AllowedCPUs, then the limits of p->limits, those that are set */
/* With devices, also DeviceAllow (emptied first, so that the list replaces the unit's) and
 * DevicePolicy=closed, where their drop-ins 50-DeviceAllow.conf and 50-DevicePolicy.conf go in name order:
 * after 50-CPUWeight.conf, before 50-IOWeight.conf */
static int append_limit_properties(sd_bus_message *m, const BusScopeParams *p, bool devices) {
        int r;

        if (p->allowed_cpus_set) {
                if (!p->allowed_cpus || p->allowed_cpus_size == 0)
                        return -EINVAL;
                r = append_bytes_property(m, "AllowedCPUs", p->allowed_cpus, p->allowed_cpus_size);
                if (r < 0)
                        return r;
        }
        UNIT_LIMIT_FOREACH(i) {
                if (devices && i == UNIT_LIMIT_IO_WEIGHT) {
                        r = append_device_allow(m, p->extra_devices, true);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_append(m, "(sv)", "DevicePolicy", "s", "closed");
                        if (r < 0)
                                return r;
                }
                if (!p->limits.set[i])
                        continue;
                r = sd_bus_message_append(m, "(sv)", unit_limit_info[i].property, "t", p->limits.value[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int append_scope_properties(sd_bus_message *m, const void *userdata) {
        const BusScopeParams *p = userdata;
        int r;

        r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)", "Slice", "s", p->slice ?: "machine.slice",
                                  "Delegate", "b", 1, "SendSIGKILL", "b", 1, "CollectMode", "s",
                                  p->collect_mode ?: "inactive-or-failed");
        if (r < 0)
                return r;
        if (p->description) {
                r = sd_bus_message_append(m, "(sv)", "Description", "s", p->description);
                if (r < 0)
                        return r;
        }
        if (p->n_pids > 0) {
                r = append_pids_property(m, p->pids, p->n_pids);
                if (r < 0)
                        return r;
        }
        if (p->kill_signal > 0) {
                r = sd_bus_message_append(m, "(sv)", "KillSignal", "i", (int32_t) p->kill_signal);
                if (r < 0)
                        return r;
        }
        if (p->stop_timeout_set) {
                r = sd_bus_message_append(m, "(sv)", "TimeoutStopUSec", "t", p->stop_timeout_usec);
                if (r < 0)
                        return r;
        }
        r = append_limit_properties(m, p, false);
        if (r < 0)
                return r;
        if (!p->device_policy_open) {
                r = sd_bus_message_append(m, "(sv)", "DevicePolicy", "s", "closed");
                if (r < 0)
                        return r;
                r = append_device_allow(m, p->extra_devices, false);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int append_companion_properties(sd_bus_message *m, const void *userdata) {
        const BusCompanionParams *p = userdata;
        char *const deps[] = { (char *) p->bound_to, NULL };
        int r;

        r = sd_bus_message_append(m, "(sv)(sv)(sv)", "Type", "s", "oneshot", "RemainAfterExit", "b", 1,
                                  "CollectMode", "s", p->collect_mode ?: "inactive-or-failed");
        if (r < 0)
                return r;
        r = append_strv_property(m, "BindsTo", deps);
        if (r < 0)
                return r;
        /* Before=, not After=: a stop of the scope (StopUnit, or systemctl stop) runs its stop job first and
         * the companion's ExecStop= after it, once the payload is gone; and the caller's wait for the
         * scope's stop job does not include the exec of the cleanup command */
        r = append_strv_property(m, "Before", deps);
        if (r < 0)
                return r;
        if (p->description) {
                r = sd_bus_message_append(m, "(sv)", "Description", "s", p->description);
                if (r < 0)
                        return r;
        }
        if (p->slice) {
                r = sd_bus_message_append(m, "(sv)", "Slice", "s", p->slice);
                if (r < 0)
                        return r;
        }
        if (p->exec_start) {
                r = append_exec_property(m, "ExecStart", p->exec_start);
                if (r < 0)
                        return r;
        }
        return append_exec_property(m, "ExecStop", p->exec_stop);
}

typedef int (*append_props_t)(sd_bus_message *m, const void *userdata);

/* One StartTransientUnit call and, if wait, the wait for its job. Returns -EEXIST untouched (the caller
 * decides about ResetFailedUnit), -EINVAL for message building errors (bad parameters). */
static int start_transient_once(sd_bus *bus, const char *unit, append_props_t append, const void *userdata,
                                bool wait, BusError *error) {
        _cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_(job_waiter_done) JobWaiter w = {};
        int r;

        if (wait) {
                r = job_waiter_install(bus, &w, &slot);
                if (r < 0)
                        return r;
        }

        r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "StartTransientUnit");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ss", unit, "fail");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r < 0)
                return r;
        r = append(m, userdata);
        if (r < 0)
                return bus_error_setf(error, r, "Invalid properties for %s: %s", unit, strerror(-r));
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "a(sa(sv))", 0); /* no auxiliary units */
        if (r < 0)
                return r;

        r = call_message(bus, m, &reply, error);
        if (r < 0 || !wait)
                return r;
        return job_waiter_finish(bus, &w, reply, unit, "start", START_JOB_TIMEOUT_USEC, error);
}

static int start_transient(sd_bus *bus, const char *unit, append_props_t append, const void *userdata,
                           bool wait, BusError *error) {
        _cleanup_free_ char *active = NULL;
        int r;

        r = start_transient_once(bus, unit, append, userdata, wait, error);
        if (r != -EEXIST)
                return r;

        /* A unit of that name exists. Running: refuse. A leftover (failed, or inactive but not yet
         * collected): reset it and retry once. */
        r = bus_unit_state(bus, unit, &active, NULL);
        if (r == -ENOENT) /* collected meanwhile */
                return start_transient_once(bus, unit, append, userdata, wait, error);
        if (r < 0)
                return bus_error_setf(error, r, "Unit %s exists and its state cannot be read: %s", unit,
                                      strerror(-r));
        if (!IN_SET(active ? active[0] : 0, 'f', 'i') ||
            !(streq(active, "failed") || streq(active, "inactive")))
                return bus_error_setf(error, -EEXIST, "Unit %s already exists and is %s", unit, active);

        r = bus_reset_failed_unit(bus, unit, error);
        if (r < 0 && r != -ENOENT)
                return r;
        return start_transient_once(bus, unit, append, userdata, wait, error);
}

/* True if unit is a unit name of that type, e.g. "cbox-web.scope" for ".scope" */
static bool unit_is_type(const char *unit, const char *suffix) {
        const char *dot;

        if (isempty(unit))
                return false;
        dot = strrchr(unit, '.');
        return dot && streq(dot, suffix);
}

int bus_start_scope(sd_bus *bus, const BusScopeParams *p, BusError *error) {
        bus_error_done(error);
        assert(bus);
        assert(p);

        if (!unit_is_type(p->unit, ".scope"))
                return bus_error_setf(error, -EINVAL, "Invalid scope name '%s'", strempty(p->unit));
        /* systemd 252 refuses an empty scope only at load time, with an -ENOENT that reads like "no such
         * unit"; say it plainly here. */
        if (p->n_pids == 0 || !p->pids)
                return bus_error_setf(error, -EINVAL, "A scope needs at least one process");
        return start_transient(bus, p->unit, append_scope_properties, p, true, error);
}

int bus_start_companion(sd_bus *bus, const BusCompanionParams *p, BusError *error) {
        bus_error_done(error);
        assert(bus);
        assert(p);

        if (!unit_is_type(p->unit, ".service"))
                return bus_error_setf(error, -EINVAL, "Invalid service name '%s'", strempty(p->unit));
        if (isempty(p->bound_to) || !p->exec_stop)
                return bus_error_setf(error, -EINVAL, "A companion needs a unit to bind to and an ExecStop");
        return start_transient(bus, p->unit, append_companion_properties, p, !p->no_wait, error);
}

int bus_stop_unit(sd_bus *bus, const char *unit, BusError *error) {
        _cleanup_bus_message_ sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_(job_waiter_done) JobWaiter w = {};
        int r;

        bus_error_done(error);
        assert(bus);
        assert(unit);

        /* StopUnit would load an unknown unit just to stop it; ask first. */
        r = bus_unit_exists(bus, unit);
        if (r < 0)
                return bus_error_setf(error, r, "Failed to look up %s: %s", unit, strerror(-r));
        if (r == 0)
                return 0;

        r = job_waiter_install(bus, &w, &slot);
        if (r < 0)
                return r;
        r = call_method(bus, &systemd_manager, "StopUnit", &reply, error, "ss", unit, "replace");
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = job_waiter_finish(bus, &w, reply, unit, "stop", 0, error);
        return r < 0 ? r : 1;
}

int bus_restart_unit(sd_bus *bus, const char *unit, uint64_t timeout_usec, BusError *error) {
        _cleanup_bus_message_ sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_(job_waiter_done) JobWaiter w = {};
        int r;

        bus_error_done(error);
        assert(bus);
        assert(unit);

        r = job_waiter_install(bus, &w, &slot);
        if (r < 0)
                return r;
        r = call_method(bus, &systemd_manager, "RestartUnit", &reply, error, "ss", unit, "replace");
        if (r < 0)
                return r;
        return job_waiter_finish(bus, &w, reply, unit, "restart", timeout_usec, error);
}

int bus_kill_unit(sd_bus *bus, const char *unit, const char *whom, int signo, BusError *error) {
        int r;

        bus_error_done(error);
        assert(bus);
        assert(unit);

        if (signo <= 0 || signo >= _NSIG)
                return -EINVAL;
        r = bus_unit_exists(bus, unit);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return call_method(bus, &systemd_manager, "KillUnit", NULL, error, "ssi", unit, whom ?: "all",
                           (int32_t) signo);
}

int bus_reset_failed_unit(sd_bus *bus, const char *unit, BusError *error) {
        bus_error_done(error);
        assert(bus);
        assert(unit);

        return call_method(bus, &systemd_manager, "ResetFailedUnit", NULL, error, "s", unit);
}

void bus_scope_limits_done(BusScopeLimits *l) {
        if (!l)
                return;
        free(l->active_state);
        free(l->sub_state);
        free(l->result);
        free(l->control_group);
        free(l->slice);
        free(l->allowed_cpus);
        *l = (BusScopeLimits){};
}

static int read_variant_string(sd_bus_message *m, char **ret) {
        const char *s;
        char *c;
        int r;

        r = sd_bus_message_read(m, "v", "s", &s);
        if (r < 0)
                return r;
        c = strdup(s);
        if (!c)
                return -ENOMEM;
        free(*ret);
        *ret = c;
        return 0;
}

/* Parses the a{sv} of a GetAll reply into l, skipping what we do not want */
static int parse_limits(sd_bus_message *m, BusScopeLimits *l) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        for (;;) {
                const char *name;
                bool handled = false;

                r = sd_bus_message_enter_container(m, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return r;

                UNIT_LIMIT_FOREACH(i)
                if (streq(name, unit_limit_info[i].property)) {
                        r = sd_bus_message_read(m, "v", "t", &l->limits[i]);
                        if (r < 0)
                                return r;
                        handled = true;
                        break;
                }

                if (handled)
                        ;
                else if (streq(name, "MemoryCurrent"))
                        r = sd_bus_message_read(m, "v", "t", &l->memory_current);
                else if (streq(name, "TasksCurrent"))
                        r = sd_bus_message_read(m, "v", "t", &l->tasks_current);
                else if (streq(name, "ActiveState"))
                        r = read_variant_string(m, &l->active_state);
                else if (streq(name, "SubState"))
                        r = read_variant_string(m, &l->sub_state);
                else if (streq(name, "Result"))
                        r = read_variant_string(m, &l->result);
                else if (streq(name, "ControlGroup"))
                        r = read_variant_string(m, &l->control_group);
                else if (streq(name, "Slice"))
                        r = read_variant_string(m, &l->slice);
                else if (streq(name, "AllowedCPUs")) {
                        const void *data;
                        size_t size;

                        r = sd_bus_message_enter_container(m, 'v', "ay");
                        if (r < 0)
                                return r;
                        r = sd_bus_message_read_array(m, 'y', &data, &size);
                        if (r < 0)
                                return r;
                        free(l->allowed_cpus);
                        l->allowed_cpus = NULL;
                        l->allowed_cpus_size = 0;
                        if (size > 0) {
                                l->allowed_cpus = malloc(size);
                                if (!l->allowed_cpus)
                                        return -ENOMEM;
                                memcpy(l->allowed_cpus, data, size);
                                l->allowed_cpus_size = size;
                        }
                        r = sd_bus_message_exit_container(m);
                } else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;

                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_exit_container(m);
}

static int get_all(sd_bus *bus, const char *path, const char *iface, BusScopeLimits *l) {
        _cleanup_bus_message_ sd_bus_message *reply = NULL;
        int r;

        r = call_method(bus, &(const BusLocator){ SYSTEMD_DEST, path, "org.freedesktop.DBus.Properties" },
                        "GetAll", &reply, NULL, "s", iface);
        if (r < 0)
                return r;
        return parse_limits(reply, l);
}

int bus_read_scope_limits(sd_bus *bus, const char *unit, BusScopeLimits *ret) {
        _cleanup_(bus_scope_limits_done) BusScopeLimits l = {
                .memory_current = UINT64_MAX,
                .tasks_current = UINT64_MAX,
        };
        _cleanup_free_ char *path = NULL;
        const char *iface;
        int r;

        assert(bus);
        assert(unit);
        assert(ret);

        UNIT_LIMIT_FOREACH(i)
        l.limits[i] = UINT64_MAX;
        iface = unit_type_interface(unit);
        if (!iface)
                return -EINVAL;
        r = get_unit_path(bus, unit, &path);
        if (r < 0)
                return r;
        r = get_all(bus, path, SYSTEMD_UNIT_IFACE, &l);
        if (r < 0)
                return r;
        r = get_all(bus, path, iface, &l);
        if (r < 0)
                return r;
        *ret = l;
        l = (BusScopeLimits){};
        return 0;
}

int bus_machine_register(sd_bus *bus, const BusMachineParams *p, BusError *error) {
        _cleanup_bus_message_ sd_bus_message *m = NULL;
        static const uint8_t zero_id[16] = {};
        int r;

        bus_error_done(error);
        assert(bus);
        assert(p);

        if (isempty(p->name) || p->leader <= 1)
                return -EINVAL;

        r = sd_bus_message_new_method_call(bus, &m, MACHINED_DEST, MACHINED_PATH, MACHINED_MANAGER,
                                           "RegisterMachine");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", p->name);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', p->id ?: zero_id, 16);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ssus", p->service ?: "cbox", p->class ?: "container",
                                  (uint32_t) p->leader, strempty(p->root_directory));
        if (r < 0)
                return r;
        return call_message(bus, m, NULL, error);
}

int bus_machine_terminate(sd_bus *bus, const char *name, BusError *error) {
        bus_error_done(error);
        assert(bus);
        assert(name);

        return call_method(bus, &machined_manager, "TerminateMachine", NULL, error, "s", name);
}

int bus_machine_exists(sd_bus *bus, const char *name, char **ret_unit) {
        _cleanup_bus_error_ sd_bus_error e2 = SD_BUS_ERROR_NULL;
        _cleanup_bus_message_ sd_bus_message *reply = NULL;
        const char *path;
        int r;

        assert(bus);
        assert(name);

        r = call_method(bus, &machined_manager, "GetMachine", &reply, NULL, "s", name);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (ret_unit) {
                r = sd_bus_message_read(reply, "o", &path);
                if (r < 0)
                        return r;
                r = sd_bus_get_property_string(bus, MACHINED_DEST, path, MACHINED_MACHINE_IFACE, "Unit", &e2,
                                               ret_unit);
                if (r < 0)
                        return bus_errno(&e2, r);
        }
        return 1;
}

/* Manager.DefaultTasksMax: the TasksMax a service or scope gets when nothing sets it (systemd resolves its
 * percentage of the kernel's limit; 15% of min(pid_max, threads-max) by default) */
static int get_default_tasks_max(sd_bus *bus, uint64_t *ret, BusError *error) {
        _cleanup_bus_error_ sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_get_property_trivial(bus, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "DefaultTasksMax",
                                        &e, 't', ret);
        if (r < 0)
                return bus_error_set(error, &e, r);
        return 0;
}

/* Every CPU the kernel may ever bring online (/sys/devices/system/cpu/possible: "0-1", "0-3,8-11") as
 * an AllowedCPUs bitmask. -ENOENT/-EINVAL/-ERANGE/-ENOMEM when it cannot be read or parsed. */
static int possible_cpus_mask(uint8_t **ret, size_t *ret_size) {
        _cleanup_free_ char *line = NULL;
        int r;

        r = read_one_line_file("/sys/devices/system/cpu/possible", &line);
        if (r < 0)
                return r;
        return cpu_set_parse(line, 65535 /* more than the kernel's NR_CPUS can be */, ret, ret_size);
}

/* One SetUnitProperties call with the limits of p that are set, plus AllowedCPUs=[] if empty_cpus */
static int set_unit_properties(sd_bus *bus, const char *unit, const BusScopeParams *p, bool empty_cpus,
                               bool runtime, BusError *error) {
        _cleanup_bus_message_ sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "SetUnitProperties");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "sb", unit, runtime);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r < 0)
                return r;
        if (empty_cpus) { /* first, as in append_limit_properties() */
                r = append_bytes_property(m, "AllowedCPUs", NULL, 0);
                if (r < 0)
                        return r;
        }
        r = append_limit_properties(m, p, p->set_device_policy && !p->device_policy_open);
        if (r < 0)
                return bus_error_setf(error, r, "Invalid limits for %s: %s", unit, strerror(-r));
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return call_message(bus, m, NULL, error);
}

/* The device policy read back: a round trip after the SetUnitProperties that set it, and systemd realizes
 * the unit's cgroup (attaches its BPF_CGROUP_DEVICE program) before it reads the next request, so once
 * this returns the policy is in force for the unit's cgroup and every cgroup below it */
static int check_device_policy(sd_bus *bus, const char *unit, BusError *error) {
        _cleanup_free_ char *path = NULL, *policy = NULL;
        const char *iface = unit_type_interface(unit);
        int r;

        if (!iface)
                return bus_error_setf(error, -EINVAL, "Cannot read the device policy of %s", unit);
        r = get_unit_path(bus, unit, &path);
        if (r >= 0)
                r = get_string_property(bus, path, iface, "DevicePolicy", &policy);
        if (r < 0)
                return bus_error_setf(error, r, "Cannot read the device policy of %s: %s", unit,
                                      strerror(-r));
        if (!streq(policy, "closed"))
                return bus_error_setf(error, -EIO, "The device policy of %s is '%s', not 'closed'", unit,
                                      policy);
        return 0;
}

static int set_unit_properties_reset_cpus(sd_bus *bus, const char *unit, BusScopeParams *q, bool runtime,
                                          BusError *error) {
        _cleanup_free_ uint8_t *all_cpus = NULL;
        size_t all_cpus_size = 0;
        int r;

        /* AllowedCPUs=[] alone does not undo a cpuset.cpus systemd wrote before: systemd 252 writes
         * cpuset.cpus only for a non-empty set, and a delegated unit keeps the cpuset controller. So first
         * every possible CPU (written, and then equal to no restriction: the effective set is the parent's),
         * then the empty set, so that the property reads "not set" again. systemd realizes the cgroup
         * before it reads the next request. */
        if (possible_cpus_mask(&all_cpus, &all_cpus_size) >= 0) {
                q->allowed_cpus_set = true;
                q->allowed_cpus = all_cpus;
                q->allowed_cpus_size = all_cpus_size;
        }
        r = set_unit_properties(bus, unit, q, !q->allowed_cpus_set, runtime, error);
        if (r < 0 || !q->allowed_cpus_set)
                return r;
        return set_unit_properties(bus, unit, &(BusScopeParams){}, true, runtime, error);
}

int bus_set_unit_limits(sd_bus *bus, const char *unit, const BusScopeParams *p, bool runtime,
                        BusError *error) {
        uint64_t default_tasks_max;
        BusScopeParams q;
        int r;

        bus_error_done(error);
        assert(bus);
        assert(unit);
        assert(p);

        /* Every limit, the unset ones with the value that means "not set": an earlier SetUnitProperties
         * (an earlier start of the same service, an earlier update) left its value in a drop-in under
         * /run/systemd/system.control/UNIT.d/ that outlives the unit, and only a new value replaces it. */
        q = (BusScopeParams){
                .allowed_cpus_set = p->allowed_cpus_set,
                .allowed_cpus = p->allowed_cpus,
                .allowed_cpus_size = p->allowed_cpus_size,
                .device_policy_open = p->device_policy_open,
                .extra_devices = p->extra_devices,
                .set_device_policy = p->set_device_policy,
        };
        UNIT_LIMIT_FOREACH(i) {
                q.limits.set[i] = true;
                q.limits.value[i] = p->limits.set[i] ? p->limits.value[i] : UINT64_MAX;
        }
        /* TasksMax=infinity would be no limit at all, not what a unit gets when nothing sets it (asked of
         * the manager only then: one bus round trip less when the file sets tasks_max) */
        if (!p->limits.set[UNIT_LIMIT_TASKS_MAX]) {
                r = get_default_tasks_max(bus, &default_tasks_max, error);
                if (r < 0)
                        return r;
                q.limits.value[UNIT_LIMIT_TASKS_MAX] = default_tasks_max;
        }

        if (p->allowed_cpus_set)
                r = set_unit_properties(bus, unit, &q, false, runtime, error);
        else
                r = set_unit_properties_reset_cpus(bus, unit, &q, runtime, error);
        if (r < 0 || !p->set_device_policy || p->device_policy_open)
                return r;
        return check_device_policy(bus, unit, error);
}

int bus_unit_by_pid(sd_bus *bus, pid_t pid, char **ret_unit) {
        _cleanup_bus_message_ sd_bus_message *reply = NULL;
        const char *path;
        int r;

        assert(bus);
        assert(ret_unit);

        if (pid <= 0)
                return -EINVAL;
        r = call_method(bus, &systemd_manager, "GetUnitByPID", &reply, NULL, "u", (uint32_t) pid);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        return get_string_property(bus, path, SYSTEMD_UNIT_IFACE, "Id", ret_unit);
}
