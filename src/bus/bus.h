/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* sd-bus client for systemd (transient scopes, unit queries, jobs) and systemd-machined.
 * Layer 1: depends on basic/ and libsystemd only. Does not log (debug aside): every function returns
 * 0/positive on success and -errno on failure, and where errno cannot carry the reason it fills a BusError
 * with the D-Bus error name and a human-readable string made of systemd's own message.
 *
 * Unit model (see README.md in this directory for the reasoning):
 *  - A detached container runs in the transient scope "cbox-NAME.scope" created by StartTransientUnit
 *    with Delegate=yes, every resource property that is set, DevicePolicy=closed plus the standard
 *    container DeviceAllow list, KillSignal=/TimeoutStopUSec=/SendSIGKILL=yes.
 *  - The scope is registered with machined with RegisterMachine (machined adopts the leader's existing
 *    unit), not CreateMachine: CreateMachine would name the unit machine-NAME.scope and accept only a
 *    limited property set.
 *  - CollectMode defaults to inactive-or-failed so an exited or failed scope does not linger. systemd then
 *    forgets it, and a scope has no main process whose exit status systemd would keep anyway: the payload's
 *    exit status and time must be recorded by cbox itself under /run/cbox/NAME (by the container's init
 *    or the cleanup companion) for `cbox list --all`.
 *
 * CONTRACT: the container module codes against this header. Additions only; no renames. */

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "macros.h"
#include "unit-limits.h"

/* Why a call failed, beyond the errno. All fields may be NULL. Initialise with BUS_ERROR_NULL: every call
 * taking a BusError first empties it, and fills it on failure when there is more to say than the errno
 * (message NULL after a failure = the errno alone is the reason, e.g. -ENOMEM). error may be NULL
 * everywhere. Free with bus_error_done(). */
typedef struct BusError {
        char *name;       /* D-Bus error name, e.g. "org.freedesktop.systemd1.NoSuchUnit" */
        char *message;    /* human string: systemd's message, or "job for X finished with result 'failed'
                           * (unit result 'resources')" */
        char *job_result; /* the JobRemoved result when a job did not end "done": failed, timeout,
                             dependency… */
        char *unit_result; /* the unit's Result property after a failed job: resources, timeout, oom-kill… */
} BusError;
#define BUS_ERROR_NULL ((BusError){})
void bus_error_done(BusError *e);

/* Opens a connection to the system bus (sd_bus_open_system). Returns sd-bus's -errno unchanged
 * (typically -ENOENT or -ECONNREFUSED when there is no system bus). Free with sd_bus_flush_close_unref()
 * (or _cleanup_(sd_bus_flush_close_unrefp)). */
int bus_open_system(sd_bus **ret);

/* True if the host runs systemd as PID 1 (/run/systemd/system exists), the precondition for every unit
 * call here. */
bool bus_systemd_booted(void);

/* "cbox-NAME.scope" for a container name; -EINVAL if name is empty or makes no valid unit name,
 * -ENOMEM. */
int bus_scope_name(const char *name, char **ret);

/* Parameters of a transient scope. Zero-initialise and fill what is needed: every resource limit is sent
 * only when its *_set flag is true. UINT64_MAX means "infinity" for the memory and task limits. */
typedef struct BusScopeParams {
        const char *unit;        /* required: "cbox-NAME.scope" */
        const char *slice;       /* NULL → "machine.slice" */
        const char *description; /* NULL → none */
        const pid_t *pids;       /* required, ≥ 1: processes to move into the scope (systemd 252: PIDs, not
                                  * PIDFDs) */
        size_t n_pids;
        const char *collect_mode; /* NULL → "inactive-or-failed"; "inactive" keeps failed scopes (tests) */

        int kill_signal;            /* KillSignal=; 0 → not sent (systemd's default SIGTERM) */
        bool stop_timeout_set;      /* TimeoutStopUSec= */
        uint64_t stop_timeout_usec; /* USEC_INFINITY = no timeout */
        /* Delegate=yes and SendSIGKILL=yes are always sent. */

        UnitLimits limits; /* each one sent only when limits.set[i] */
        bool allowed_cpus_set;
        const uint8_t *allowed_cpus; /* AllowedCPUs bitmask, bit n of byte n/8 = CPU n */
        size_t allowed_cpus_size;

        /* DevicePolicy=closed with the standard container list (/dev/null, /dev/zero, /dev/full,
         * /dev/random, /dev/urandom, /dev/tty, /dev/ptmx, /dev/net/tun rwm and char-pts rwm) unless
         * device_policy_open is set (then neither DevicePolicy nor DeviceAllow is sent). */
        bool device_policy_open;
        char *const *extra_devices; /* NULL-terminated "/dev/fuse" or "/dev/fuse:rwm" (default rwm) */
        /* bus_set_unit_limits() only: also send the device policy above (DeviceAllow emptied first, so the
         * list replaces what the unit had). For a service cbox runs under, whose cgroup holds the payload's:
         * systemd attaches its BPF_CGROUP_DEVICE program to the service's cgroup with BPF_F_ALLOW_MULTI, so
         * it applies to every sub-cgroup too. */
        bool set_device_policy;
} BusScopeParams;

/* Creates the transient scope and waits for its start job. Subscribes to JobRemoved before the call, so
 * the job's end cannot be missed. A unit of the same name that exists but is failed or inactive (a
 * leftover) is reset with ResetFailedUnit and the start retried once.
 * Returns 0 on success;
 *   -EEXIST  a unit of that name is active (error->message says so);
 *   -EINVAL  systemd refused a property (bad slice name, bad value): error->name/message are systemd's;
 *   -EIO     the job ended with a result other than "done": error->job_result, unit_result, message;
 *   -ETIMEDOUT the start job did not finish within 90 s (systemd wedged);
 *   other -errno from sd-bus (no bus, permission, …). */
int bus_start_scope(sd_bus *bus, const BusScopeParams *p, BusError *error);

/* StopUnit(unit, "replace") and waits for the job. The scope's KillSignal, TimeoutStopUSec and
 * SendSIGKILL apply. Returns 1 if a stop job ran, 0 if the unit was not loaded (nothing to stop),
 * -EIO with error filled when the stop job failed, or -errno. When it returns 1 the scope's processes
 * are gone, and a unit with CollectMode=inactive-or-failed (the default here) is already unloaded:
 * systemd collects it before it handles the caller's next request (checked on 252 in the VM). */
int bus_stop_unit(sd_bus *bus, const char *unit, BusError *error);

/* RestartUnit(unit, "replace") and waits for the job: for a Type=notify service it ends when the new main
 * process sent READY=1 ("done") or the start failed. Returns 0 when the job is done (the unit may still
 * fail later: read its state), -EIO with error filled (job_result, unit_result) when it ended otherwise,
 * -ETIMEDOUT when it had not ended after timeout_usec (0 = no limit; the job is left queued: a later job
 * with "replace" supersedes it), or -errno. */
int bus_restart_unit(sd_bus *bus, const char *unit, uint64_t timeout_usec, BusError *error);

/* KillUnit(unit, whom, signo): whom is "all", "main" or "control" (NULL → "all"). For a scope "all" is
 * the meaningful one. Returns 0, -ENOENT if the unit is not loaded, or -errno with error filled. */
int bus_kill_unit(sd_bus *bus, const char *unit, const char *whom, int signo, BusError *error);

/* ResetFailedUnit(unit). Returns 0, -ENOENT if not loaded, or -errno with error filled. */
int bus_reset_failed_unit(sd_bus *bus, const char *unit, BusError *error);

/* Returns 1 if systemd has the unit loaded (GetUnit succeeds), 0 if not, or -errno. */
int bus_unit_exists(sd_bus *bus, const char *unit);

/* ActiveState ("active", "failed", "inactive", …) and SubState ("running", "dead", …) of a unit. Either
 * out-param may be NULL. Returns 0, -ENOENT if the unit is not loaded, or -errno. */
int bus_unit_state(sd_bus *bus, const char *unit, char **ret_active_state, char **ret_sub_state);

/* The unit's Description (what StartTransientUnit was given). Returns 0, -ENOENT if the unit is not
 * loaded, or -errno. */
int bus_unit_description(sd_bus *bus, const char *unit, char **ret);

/* What systemd has in effect for a scope, for `cbox status`. UINT64_MAX means infinity / not set, as
 * systemd reports it (CPUQuotaPerSecUSec UINT64_MAX = no quota; CPUWeight/IOWeight UINT64_MAX = default). */
typedef struct BusScopeLimits {
        char *active_state, *sub_state;
        char *result;        /* Result property: success, resources, timeout, oom-kill, … */
        char *control_group; /* "/machine.slice/cbox-web.scope", relative to /sys/fs/cgroup */
        char *slice;
        uint64_t limits[_UNIT_LIMIT_MAX]; /* by basic/unit-limits.h's UnitLimit */
        uint8_t *allowed_cpus;            /* bitmask as set; NULL/0 when not set */
        size_t allowed_cpus_size;
        uint64_t memory_current; /* current usage; UINT64_MAX if unknown */
        uint64_t tasks_current;  /* UINT64_MAX if unknown */
} BusScopeLimits;
void bus_scope_limits_done(BusScopeLimits *l);

/* Reads the properties above from the unit. Returns 0, -ENOENT if not loaded, or -errno. */
int bus_read_scope_limits(sd_bus *bus, const char *unit, BusScopeLimits *ret);

/* machined registration of a running container whose leader is already in its scope. */
typedef struct BusMachineParams {
        const char *name;           /* machine name = container name */
        pid_t leader;               /* the container's PID 1 as seen from the host */
        const char *root_directory; /* absolute host path or NULL/"" (the rootfs lives in the container's
                                     * private mount namespace, so often unknown to the host) */
        const char *class;          /* NULL → "container" */
        const char *service;        /* NULL → "cbox" */
        const uint8_t *id;          /* 16 bytes machine id or NULL (all zero) */
} BusMachineParams;

/* RegisterMachine: machined adopts the leader's unit (our cbox-NAME.scope).
 * Returns 0; -EHOSTDOWN if machined is not available (ServiceUnknown, not activatable): the caller
 * treats this as non-fatal; -EEXIST if a machine of that name is registered; or -errno with error
 * filled. */
int bus_machine_register(sd_bus *bus, const BusMachineParams *p, BusError *error);

/* TerminateMachine(name): machined kills the machine's unit. For our containers prefer stopping the
 * scope (bus_stop_unit), after which machined drops the registration by itself; this is for cleanup of a
 * registration that outlived its container. Returns 0, -ENOENT if no such machine, -EHOSTDOWN if
 * machined is absent, or -errno with error filled. */
int bus_machine_terminate(sd_bus *bus, const char *name, BusError *error);

/* Returns 1 if machined knows a machine of that name (GetMachine), 0 if not, -EHOSTDOWN if machined is
 * absent, or -errno. If ret_unit is non-NULL and the machine exists, the unit machined tracks for it is
 * returned there. */
int bus_machine_exists(sd_bus *bus, const char *name, char **ret_unit);

/* A transient companion service bound to a container's scope, which runs a cleanup command once the
 * scope's last process has exited, without any resident cbox process: Type=oneshot, RemainAfterExit=yes,
 * BindsTo= and Before= the scope, ExecStop= the cleanup (checked on systemd 252: PartOf= does not fire
 * when a scope empties, BindsTo= does; Before= orders the companion's stop after the scope's, so a stop
 * job of the scope completes without waiting for the cleanup command). Started in the scope's
 * slice-independent default (system.slice) unless slice is set. */
typedef struct BusCompanionParams {
        const char *unit;         /* required, e.g. "cbox-NAME-cleanup.service" */
        const char *bound_to;     /* required: the scope, e.g. "cbox-NAME.scope" */
        const char *description;  /* NULL → none */
        const char *slice;        /* NULL → systemd's default */
        char *const *exec_start;  /* argv (absolute path first) run at start, or NULL for none */
        char *const *exec_stop;   /* required: argv (absolute path first) run when the scope goes away */
        const char *collect_mode; /* NULL → "inactive-or-failed" */
        bool no_wait;             /* return once systemd queued the start job, without waiting for it */
} BusCompanionParams;

/* Starts the companion service and waits for its start job (unless no_wait), like bus_start_scope()
 * (including the ResetFailedUnit retry for a leftover). Same return values; -EEXIST also when a companion
 * of that name is still active or stopping. */
int bus_start_companion(sd_bus *bus, const BusCompanionParams *p, BusError *error);

/* SetUnitProperties(unit, runtime, …) with EVERY resource limit cbox manages (MemoryMax, MemoryHigh,
 * MemorySwapMax, CPUQuotaPerSecUSec, CPUWeight, AllowedCPUs, TasksMax, IOWeight): those whose *_set flag is
 * true with p's value, the others with the value that means "not set", so the unit ends up with exactly
 * p's limits whatever an earlier call left (systemd keeps runtime properties in drop-ins under
 * /run/systemd/system.control/UNIT.d/ until reboot, across stops and starts of the unit). Reset values
 * (checked on systemd 252 by reading back the property and the cgroup file): MemoryMax/MemoryHigh/
 * MemorySwapMax, CPUQuotaPerSecUSec, CPUWeight, IOWeight UINT64_MAX (infinity, "max", no quota, weight
 * unset = default 100); TasksMax the manager's DefaultTasksMax (what a unit gets when nothing sets it;
 * UINT64_MAX would be infinity); AllowedCPUs every possible CPU and then, in a second call, the empty set
 * (systemd 252 does not write an empty set to cpuset.cpus, so the empty set alone would leave an earlier
 * cpuset in force). With p->set_device_policy (and not device_policy_open) also DevicePolicy=closed and
 * DeviceAllow= (the unit's list replaced by the standard one plus extra_devices), then DevicePolicy is
 * read back: -EIO unless it is "closed"; once this returns the unit's device program is attached. Every
 * other field of p is ignored.
 * For `cbox update NAME` on a running scope or service, and for applying a container's limits to its
 * cbox@NAME.service under the template unit (that unit's own TasksMax= is therefore always overridden).
 * runtime=true keeps the change until reboot only (what cbox wants: the container file stays the source
 * of truth). Returns 0, -ENOENT if the unit is not loaded, -EINVAL for a refused value (error has
 * systemd's message), or -errno. */
int bus_set_unit_limits(sd_bus *bus, const char *unit, const BusScopeParams *p, bool runtime,
                        BusError *error);

/* GetUnitByPID: the unit a process belongs to (e.g. "cbox@web.service" for cbox running under the
 * template unit). Returns 0, -ESRCH/-ENOENT if the process is not in any unit, or -errno. */
int bus_unit_by_pid(sd_bus *bus, pid_t pid, char **ret_unit);
