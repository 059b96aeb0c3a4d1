/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The read side of containers: status, info, list, the leader's pidfd and cgroup, finding cbox-init, and
 * loading the files for the verbs. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cbox-build.h"
#include "container-health.h"
#include "container-internal.h"
#include "container.h"
#include "fd-util.h"
#include "cgroup-util.h"
#include "fileio.h"
#include "log.h"
#include "string-util.h"

static const char *const container_status_table[_CONTAINER_STATUS_MAX] = {
        [CONTAINER_RUNNING] = "running",   [CONTAINER_EXITED] = "exited",
        [CONTAINER_STOPPED] = "stopped",   [CONTAINER_DEAD] = "dead",
        [CONTAINER_STARTING] = "starting", [CONTAINER_INTERRUPTED] = "interrupted",
};

DEFINE_STRING_TABLE_TO_STRING(container_status, ContainerStatus, _CONTAINER_STATUS_MAX);

int container_pidfd_open_checked(pid_t pid, uint64_t start_time, int *ret) {
        uint64_t t;
        int fd, r;

        fd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0)
                return -errno;
        /* the pidfd pins the process: if the start time still matches now, it is the one we recorded */
        r = proc_get_start_time(pid, &t);
        if (r < 0 || t != start_time) {
                safe_close(fd);
                return -ESRCH;
        }
        *ret = fd;
        return 0;
}

int container_pidfd_send(int pidfd, int sig) {
        return RET_NERRNO(syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0));
}

/* ---------------------------------------------------------------------------------------------- */
/* info / list */

void container_info_done(ContainerInfo *i) {
        if (!i)
                return;
        i->state = container_state_free(i->state);
}

static void info_from_state(ContainerState *s, ContainerInfo *ret) {
        uint64_t now = now_realtime_usec();

        *ret = (ContainerInfo){ .state = s };
        if (s->starting)
                ret->status = CONTAINER_STARTING;
        else if (state_leader_alive(s) && !s->exit_set) {
                ret->status = CONTAINER_RUNNING;
                ret->uptime_usec = now > s->start_time_usec ? now - s->start_time_usec : 0;
        } else if (s->stopped)
                ret->status = CONTAINER_STOPPED;
        else if (s->exit_set)
                ret->status = CONTAINER_EXITED;
        else
                ret->status = CONTAINER_DEAD;
}

int container_get_info(const GlobalConfig *g, const char *name, ContainerInfo *ret) {
        ContainerState *s = NULL;
        int r;

        if (!container_name_is_valid(name))
                return -EINVAL;
        r = state_load_by_name(global_config_run_root(g), name, &s);
        if (r < 0)
                return r;
        if (s->starting && state_lock_held(global_config_run_root(g), name) == 0) {
                /* Starting without an up at work: it was killed. Read again, and the lock again: an up
                 * that finished (or began) meanwhile is seen as such. */
                ContainerState *again = NULL;
                r = state_load_by_name(global_config_run_root(g), name, &again);
                if (r < 0) {
                        container_state_free(s);
                        return r;
                }
                container_state_free(s);
                s = again;
                info_from_state(s, ret);
                if (s->starting && state_lock_held(global_config_run_root(g), name) == 0)
                        ret->status = CONTAINER_INTERRUPTED;
        } else
                info_from_state(s, ret);
        if (ret->status == CONTAINER_RUNNING) {
                _cleanup_close_ int dir_fd = -EBADF;
                if (state_dir_open(global_config_run_root(g), name, false, &dir_fd) >= 0) {
                        HealthStatus h = health_read_status(dir_fd);
                        ret->health = h == HEALTH_NONE ? NULL : health_status_to_string(h);
                }
        }
        return 0;
}

int container_get_info_logged(const GlobalConfig *g, const char *name, bool want_running,
                              ContainerInfo *ret) {
        int r = container_get_info(g, name, ret);
        if (r == -ENOENT)
                return log_error_errno(r, "%s: no such container", name);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read its state: %m", name);
        if (want_running && ret->status != CONTAINER_RUNNING) {
                container_info_done(ret);
                return log_error_errno(ESRCH, "%s: not running", name);
        }
        return 0;
}

int container_list(const GlobalConfig *g, bool all, ContainerInfo **ret, size_t *ret_n) {
        _cleanup_strv_free_ char **names = NULL;
        ContainerInfo *l = NULL;
        size_t n = 0;
        int r;

        r = state_list(global_config_run_root(g), &names);
        if (r < 0)
                return log_error_errno(r, "Failed to list containers in '%s': %m",
                                       global_config_run_root(g));
        l = new0(ContainerInfo, strv_length(names) + 1);
        if (!l)
                return log_oom();
        STRV_FOREACH (name, names) {
                ContainerInfo i;

                r = container_get_info(g, *name, &i);
                if (r == -ENOENT) /* removed meanwhile */
                        continue;
                if (r < 0) {
                        log_warning_errno(r, "%s: cannot read state, ignoring: %m", *name);
                        continue;
                }
                if (!all && i.status != CONTAINER_RUNNING) {
                        container_info_done(&i);
                        continue;
                }
                l[n++] = i;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

int container_cgroup_path(const ContainerInfo *i, char **ret) {
        int r;

        if (!i || !i->state || i->status != CONTAINER_RUNNING || i->state->leader_pid <= 0)
                return -ESRCH;
        r = cgroup_path_of_pid(i->state->leader_pid, ret);
        return r == -ENOENT ? -ESRCH : r;
}

int container_own_cgroup_path(char **ret) {
        return cgroup_path_from_proc_file("/proc/self/cgroup", ret);
}

/* ---------------------------------------------------------------------------------------------- */
/* cbox-init, for up, exec and [health] */

int container_find_init(char **ret) {
        const char *e = getenv("CBOX_INIT");
        _cleanup_free_ char *self = NULL;
        char *p;

        if (!isempty(e)) {
                if (access(e, X_OK) < 0)
                        return -errno;
                p = strdup(e);
                if (!p)
                        return -ENOMEM;
                *ret = p;
                return 0;
        }

        /* The build tree: <builddir>/src/cli/cbox → <builddir>/src/init/cbox-init */
        self = realpath("/proc/self/exe", NULL);
        if (self) {
                char *slash = strrchr(self, '/');
                if (slash) {
                        *slash = 0;
                        p = strjoin(self, "/../init/cbox-init");
                        if (!p)
                                return -ENOMEM;
                        if (access(p, X_OK) >= 0) {
                                *ret = p;
                                return 0;
                        }
                        free(p);
                }
        }

        p = strdup(CBOX_LIBEXECDIR "/cbox-init");
        if (!p)
                return -ENOMEM;
        if (access(p, X_OK) < 0) {
                int r = -errno;
                free(p);
                return r;
        }
        *ret = p;
        return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* configuration, for the verbs */

static void print_problems(const ConfigDiag *d) {
        _cleanup_free_ char *s = config_diag_format(d);
        if (s)
                fputs(s, stderr);
}

int container_load_global(GlobalConfig **ret) {
        ConfigDiag d = {};
        int r;

        r = global_config_load(ret, &d);
        if (r == -ENOMEM)
                r = log_oom();
        else if (r < 0 && d.n_problems > 0)
                print_problems(&d);
        else if (r < 0)
                log_error_errno(r, "Failed to load the global configuration: %m");
        config_diag_done(&d);
        return r;
}

int container_load_config(const char *name_or_path, const GlobalConfig *g, ContainerConfig **ret) {
        ConfigDiag d = {};
        int r;

        r = container_config_load(name_or_path, g, ret, &d);
        if (r == -ENOMEM)
                r = log_oom();
        else if (r < 0 && d.n_problems > 0)
                print_problems(&d); /* the same lines as `cbox verify` */
        else if (r == -ENOENT && strchr(name_or_path, '/'))
                log_error("%s: no such file", name_or_path);
        else if (r == -ENOENT)
                log_error("%s: no such container file (looked for NAME.toml in /etc/cbox, /run/cbox, "
                          "/usr/lib/cbox)",
                          name_or_path);
        else if (r < 0)
                log_error_errno(r, "%s: cannot load: %m", name_or_path);
        config_diag_done(&d);
        return r;
}
