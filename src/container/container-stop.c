/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* down, stop, start, kill, gc's reclaim and cleanup: the verbs on a container that exists, each under
 * its lock. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "bus.h"
#include "container-internal.h"
#include "container-service.h"
#include "container.h"
#include "fault.h"
#include "fd-util.h"
#include "fileio.h"
#include "log.h"
#include "string-util.h"

/* ---------------------------------------------------------------------------------------------- */
/* down / stop / start / kill */

static int lock_known_full(const GlobalConfig *g, const char *name, bool log_unknown, int *ret_lock,
                           ContainerState **ret_state) {
        _cleanup_(container_state_freep) ContainerState *s = NULL;
        int lock_fd = -EBADF, r;

        if (!container_name_is_valid(name))
                return log_error_errno(EINVAL, "'%s' is not a valid container name", name);
        r = state_lock(global_config_run_root(g), name, true, &lock_fd);
        if (r < 0)
                return log_error_errno(r, "%s: cannot lock: %m", name);
        r = state_load_by_name(global_config_run_root(g), name, &s);
        if (r < 0) {
                (void) state_unlock(global_config_run_root(g), name, lock_fd, r == -ENOENT);
                if (r == -ENOENT)
                        return log_unknown ? log_error_errno(r, "%s: no such container", name) : r;
                return log_error_errno(r, "%s: cannot read its state: %m", name);
        }
        *ret_lock = lock_fd;
        *ret_state = TAKE_PTR(s);
        return 0;
}

static int lock_known(const GlobalConfig *g, const char *name, int *ret_lock, ContainerState **ret_state) {
        return lock_known_full(g, name, true, ret_lock, ret_state);
}

/* What down and stop release of a container they hold the lock of: through the bus when systemd runs
 * (without it, the leader is killed directly). Logs. */
static int release_known(const GlobalConfig *g, const char *name, const ContainerState *s) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (bus_systemd_booted()) {
                r = container_open_bus(&bus, name);
                if (r < 0)
                        return r;
        }
        return container_release_runtime(g, bus, name, s);
}

int container_down(const GlobalConfig *g, const char *name, bool volumes) {
        _cleanup_(container_state_freep) ContainerState *s = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int lock_fd = -EBADF, r;

        r = lock_known_full(g, name, false, &lock_fd, &s);
        FAULT_POINT("down.locked");
        if (r == -ENOENT && bus_systemd_booted()) {
                /* no state, but maybe a scope a killed cbox left running (container_stop_orphan_unit);
                 * checked under NAME's lock again (lock_known dropped it), so no up of NAME is half-way */
                int q = state_lock(global_config_run_root(g), name, true, &lock_fd);
                if (q >= 0 && !state_dir_exists(global_config_run_root(g), name)) {
                        q = container_open_bus(&bus, name);
                        if (q >= 0)
                                q = container_stop_orphan_unit(bus, name);
                        if (q > 0)
                                container_net_release_owner(g, name);
                }
                lock_fd = state_unlock(global_config_run_root(g), name, lock_fd, true);
                if (q < 0)
                        return log_error_errno(q, "%s: cannot look for a unit left behind: %m", name);
                if (q > 0 && !volumes)
                        return 0;
        }
        if (r == -ENOENT && !volumes)
                return log_error_errno(r, "%s: no such container", name);
        if (r == -ENOENT && volumes) {
                /* nothing runs, but there may be a storage dir left from a down without --volumes */
                _cleanup_free_ char *sd = NULL;
                if (state_container_storage_path(global_config_storage_root(g), name, &sd) >= 0 &&
                    access(sd, F_OK) >= 0) {
                        r = rm_rf_at(AT_FDCWD, sd);
                        if (r < 0)
                                return log_error_errno(r, "%s: cannot remove '%s': %m", name, sd);
                        container_userns_forget(g, name);
                        return 0;
                }
                return log_error_errno(r, "%s: no such container", name);
        }
        if (r < 0)
                return r;

        r = release_known(g, name, s);
        if (r < 0)
                goto finish;
        FAULT_POINT("down.released");
        r = state_dir_remove(global_config_run_root(g), name);
        if (r < 0) {
                log_error_errno(r, "%s: cannot remove its state dir: %m", name);
                goto finish;
        }
        FAULT_POINT("down.state-removed");
        if (volumes) {
                _cleanup_free_ char *sd = NULL;
                r = state_container_storage_path(global_config_storage_root(g), name, &sd);
                if (r >= 0)
                        r = rm_rf_at(AT_FDCWD, sd);
                if (r < 0 && r != -ENOENT) {
                        log_error_errno(r, "%s: cannot remove its storage: %m", name);
                        goto finish;
                }
                container_userns_forget(g, name); /* nothing is owned by its range any more */
                r = 0;
        }
finish:
        (void) state_unlock(global_config_run_root(g), name, lock_fd, r >= 0);
        return r;
}

static int reclaim_one(const GlobalConfig *g, sd_bus *bus, const char *name) {
        _cleanup_(container_state_freep) ContainerState *s = NULL;
        int lock_fd = -EBADF, r;

        /* A short holder (the companion's `cbox cleanup` after a killed up, a down finishing) is waited
         * for, up to 5 s, so that what gc leaves does not depend on who got the lock first; a verb at work
         * for longer (an up pulling, a stop waiting for its payload) is skipped */
        for (unsigned i = 0;; i++) {
                r = state_lock(global_config_run_root(g), name, false, &lock_fd);
                if (r != -EBUSY || i >= 100)
                        break;
                (void) usleep(50 * 1000);
        }
        if (r == -EBUSY)
                return 0; /* a verb is at work on it */
        if (r < 0)
                return log_error_errno(r, "%s: cannot lock: %m", name);
        r = state_load_by_name(global_config_run_root(g), name, &s);
        if (r == -ENOENT) {
                r = container_stop_orphan_unit(bus, name);
                if (r > 0)
                        container_net_release_owner(g, name);
        } else if (r < 0) {
                log_warning_errno(r, "%s: cannot read its state, ignoring: %m", name);
                r = 0;
        } else if (s->starting) {
                log_info("%s: releasing what a killed 'cbox up' left", name);
                r = container_release_runtime(g, bus, name, s);
                if (r >= 0)
                        r = state_dir_remove(global_config_run_root(g), name);
                if (r < 0)
                        log_error_errno(r, "%s: cannot release it: %m", name);
                else
                        r = 1;
        } else
                r = 0;
        FAULT_POINT("gc.reclaimed");
        /* the lock file goes with the state dir: a name that has only storage keeps none */
        (void) state_unlock(global_config_run_root(g), name, lock_fd,
                            !state_dir_exists(global_config_run_root(g), name));
        return r;
}

/* Adds the valid container names among the entries of ROOT/SUB to *names (a missing dir adds none) */
static int add_names_in(const char *root, const char *sub, char ***names) {
        _cleanup_free_ char *dir = strjoin(root, sub);
        _cleanup_closedir_ DIR *d = NULL;

        if (!dir)
                return -ENOMEM;
        d = opendir(dir);
        for (struct dirent *de; d && (de = readdir(d));)
                if (container_name_is_valid(de->d_name) && !strv_contains(*names, de->d_name) &&
                    strv_extend(names, de->d_name) < 0)
                        return -ENOMEM;
        return 0;
}

int container_reclaim(const GlobalConfig *g) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_strv_free_ char **names = NULL;
        int n = 0, r, ret = 0;

        r = state_list(global_config_run_root(g), &names);
        if (r < 0)
                return log_error_errno(r, "Failed to list containers in '%s': %m",
                                       global_config_run_root(g));
        /* names with storage, and a lock file an up killed before it made the state dir left (its unlock
         * removes it) */
        if (add_names_in(global_config_storage_root(g), "/containers", &names) < 0 ||
            add_names_in(global_config_run_root(g), "/locks", &names) < 0)
                return log_oom();
        if (bus_systemd_booted() && container_open_bus(&bus, "gc") < 0)
                bus = NULL;
        STRV_FOREACH (name, names) {
                r = reclaim_one(g, bus, *name);
                if (r < 0)
                        ret = r;
                else
                        n += r;
        }
        return ret < 0 ? ret : n;
}

int container_stop(const GlobalConfig *g, const char *name) {
        _cleanup_(container_state_freep) ContainerState *s = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        int lock_fd = -EBADF, r;

        /* run by cbox@NAME.service: the unit stops it, and the cbox in it releases everything */
        if (container_name_is_valid(name) && container_is_service(g, name) > 0)
                return container_service_stop(name);

        r = lock_known(g, name, &lock_fd, &s);
        if (r < 0)
                return r;
        FAULT_POINT("stop.locked");
        r = release_known(g, name, s);
        if (r < 0)
                goto finish;
        FAULT_POINT("stop.released");
        r = state_dir_open(global_config_run_root(g), name, false, &dir_fd);
        if (r >= 0) {
                container_state_free(s);
                s = NULL;
                r = state_load(dir_fd, &s); /* picks up the exit file init wrote meanwhile */
        }
        if (r >= 0) {
                s->stopped = true;
                if (!s->exit_set) {
                        /* init was SIGKILLed (stop_timeout ran out) before it could write its record */
                        s->exit_set = true;
                        s->exit_status = 128 + SIGKILL;
                        s->exit_time_usec = now_realtime_usec();
                }
                r = state_save(dir_fd, s);
        }
        if (r < 0)
                log_error_errno(r, "%s: cannot update its state: %m", name);
        else
                FAULT_POINT("stop.saved");
finish:
        (void) state_unlock(global_config_run_root(g), name, lock_fd, false);
        return r;
}

int container_start(const GlobalConfig *g, const char *name, const UpOptions *o) {
        _cleanup_(container_info_done) ContainerInfo i = {};
        _cleanup_(container_config_freep) ContainerConfig *c = NULL;
        int r;

        /* a container with /etc/cbox/NAME.toml (or run by its unit) starts through cbox@NAME.service */
        if (container_name_is_valid(name) && container_is_service(g, name) > 0) {
                r = container_service_start(name);
                if (r >= 0 && !o->quiet)
                        printf("%s\n", name);
                return r;
        }

        r = container_get_info(g, name, &i);
        if (r == -ENOENT)
                return log_error_errno(r, "%s: no such container (use 'cbox up FILE' to create it)", name);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read its state: %m", name);
        if (i.status == CONTAINER_RUNNING) {
                if (!o->quiet)
                        printf("%s\n", name);
                return 0;
        }
        if (!i.state->config_path)
                return log_error_errno(EINVAL, "%s: its state names no container file", name);
        r = container_load_config(i.state->config_path, g, &c);
        if (r < 0)
                return r;
        if (!streq(c->name, name))
                return log_error_errno(EINVAL, "%s: '%s' now describes container '%s'", name,
                                       i.state->config_path, c->name);
        FAULT_POINT("start.loaded"); /* then up's own steps */
        UpOptions uo = *o;
        uo.replace = true; /* the stopped one is replaced by what the file says now */
        return container_up(g, c, &uo);
}

int container_kill(const GlobalConfig *g, const char *name, int sig) {
        _cleanup_(container_info_done) ContainerInfo i = {};
        _cleanup_close_ int pidfd = -EBADF;
        int r;

        r = container_get_info_logged(g, name, true, &i);
        if (r < 0)
                return r;

        if (IN_SET(sig, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT, SIGWINCH)) {
                r = container_pidfd_open_checked(i.state->leader_pid, i.state->leader_start_time, &pidfd);
                if (r < 0)
                        return log_error_errno(r, "%s: its init is gone: %m", name);
                r = container_pidfd_send(pidfd, sig);
                if (r < 0)
                        return log_error_errno(r, "%s: cannot signal its init: %m", name);
                return 0;
        }

        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        BusError e = BUS_ERROR_NULL;
        r = container_open_bus(&bus, name);
        if (r < 0)
                return r;
        r = bus_kill_unit(bus, i.state->unit, "all", sig, &e);
        if (r < 0)
                container_log_bus_error(r, name, "failed to signal its unit", &e);
        bus_error_done(&e);
        return r;
}

/* ---------------------------------------------------------------------------------------------- */
/* cleanup (run by the companion unit when the scope of a detached container goes away) */

int container_cleanup(const GlobalConfig *g, const char *name) {
        _cleanup_(container_state_freep) ContainerState *s = NULL;
        _cleanup_free_ char *service = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        int lock_fd = -EBADF, r;

        if (!container_name_is_valid(name))
                return log_error_errno(EINVAL, "'%s' is not a valid container name", name);
        /* up/down/stop hold the lock while they release things themselves: nothing to do then */
        r = state_lock(global_config_run_root(g), name, false, &lock_fd);
        if (r == -EBUSY)
                return 0;
        if (r < 0)
                return log_error_errno(r, "%s: cannot lock: %m", name);
        FAULT_POINT("cleanup.locked");
        r = state_dir_open(global_config_run_root(g), name, false, &dir_fd);
        if (r >= 0)
                r = state_load(dir_fd, &s);
        if (r == -ENOENT) {
                r = 0;
                goto finish;
        }
        if (r < 0) {
                log_error_errno(r, "%s: cannot read its state: %m", name);
                goto finish;
        }
        if (state_leader_alive(s) && !s->exit_set) {
                r = 0; /* running (the companion was stopped for another reason) */
                goto finish;
        }
        container_net_release(g, name, s->network, s->host_ifname);
        s->network = mfree(s->network);
        s->host_ifname = mfree(s->host_ifname);
        FAULT_POINT("cleanup.released");

        /* ExecStopPost= of cbox@NAME.service after cbox itself was killed: the unit is done, so is the
         * container (its processes died with the unit's cgroup); nothing is kept, as after a clean stop */
        service = container_service_unit(name);
        if (service && streq_ptr(s->unit, service)) {
                dir_fd = safe_close(dir_fd);
                r = state_dir_remove(global_config_run_root(g), name);
                if (r < 0)
                        log_error_errno(r, "%s: cannot remove its state: %m", name);
                (void) state_unlock(global_config_run_root(g), name, lock_fd, true);
                return r;
        }
        r = state_save(dir_fd, s);
        if (r < 0)
                log_error_errno(r, "%s: cannot update its state: %m", name);
        else
                FAULT_POINT("cleanup.saved");
finish:
        /* the lock file goes with the state dir: none is left for a name that has no state */
        (void) state_unlock(global_config_run_root(g), name, lock_fd,
                            !state_dir_exists(global_config_run_root(g), name));
        return r;
}
