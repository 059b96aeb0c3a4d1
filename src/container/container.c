/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "bus.h"
#include "cbox-build.h"
#include "container-health.h"
#include "container-internal.h"
#include "container-service.h"
#include "container-update.h"
#include "container.h"
#include "fault.h"
#include "fd-util.h"
#include "fileio.h"
#include "image.h"
#include "init.h"
#include "journal.h"
#include "log.h"
#include "rootfs.h"
#include "spawn.h"
#include "string-util.h"

static const char *const container_status_table[_CONTAINER_STATUS_MAX] = {
        [CONTAINER_RUNNING] = "running",   [CONTAINER_EXITED] = "exited",
        [CONTAINER_STOPPED] = "stopped",   [CONTAINER_DEAD] = "dead",
        [CONTAINER_STARTING] = "starting", [CONTAINER_INTERRUPTED] = "interrupted",
};

const char *container_status_to_string(ContainerStatus s) {
        if (s < 0 || s >= _CONTAINER_STATUS_MAX)
                return NULL;
        return container_status_table[s];
}

/* cbox's default filter unless the file says "unconfined" */
static bool want_seccomp(const ContainerConfig *c) {
        return !c || !streq_ptr(c->security.seccomp, "unconfined");
}

static int pidfd_open_checked(pid_t pid, uint64_t start_time, int *ret) {
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

static int pidfd_send(int pidfd, int sig) {
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

        if (!state_name_is_valid(name))
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

/* The unified-hierarchy cgroup directory ("0::/path" line) of a /proc/PID/cgroup file, under
 * /sys/fs/cgroup. -ENOMEDIUM when there is no unified hierarchy. */
static int cgroup_path_from_file(const char *file, char **ret) {
        _cleanup_free_ char *data = NULL;
        int r;

        r = read_full_file(file, &data, NULL, 64 * 1024);
        if (r < 0)
                return r;
        for (char *line = data, *next; line && *line; line = next) {
                char *v;
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                v = startswith(line, "0::");
                if (v) {
                        char *c = strjoin("/sys/fs/cgroup", streq(v, "/") ? "" : v);
                        if (!c)
                                return -ENOMEM;
                        *ret = c;
                        return 0;
                }
        }
        return -ENOMEDIUM;
}

int container_cgroup_path(const ContainerInfo *i, char **ret) {
        _cleanup_free_ char *p = NULL;
        int r;

        if (!i || !i->state || i->status != CONTAINER_RUNNING)
                return -ESRCH;
        p = strprintf("/proc/%d/cgroup", (int) i->state->leader_pid);
        if (!p)
                return -ENOMEM;
        r = cgroup_path_from_file(p, ret);
        return r == -ENOENT ? -ESRCH : r;
}

/* ---------------------------------------------------------------------------------------------- */
/* helpers for up */

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

/* Sets KEY=VALUE in l, replacing an entry of the same key */
static int env_set(char ***l, const char *kv) {
        const char *eq = strchr(kv, '=');
        size_t k;

        if (!eq || eq == kv)
                return -EINVAL;
        k = (size_t) (eq - kv) + 1;
        STRV_FOREACH (i, *l)
                if (strneq(*i, kv, k)) {
                        char *d = strdup(kv);
                        if (!d)
                                return -ENOMEM;
                        free(*i);
                        *i = d;
                        return 0;
                }
        return strv_extend(l, kv);
}

/* KEY=VALUE lines; blank lines and lines starting with '#' are skipped, "export " is allowed */
static int env_file_load(const char *path, char ***l) {
        _cleanup_free_ char *data = NULL;
        int r;

        r = read_full_file(path, &data, NULL, 1024 * 1024);
        if (r < 0)
                return r;
        for (char *line = data, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                line += strspn(line, " \t");
                if (!*line || *line == '#')
                        continue;
                line = startswith(line, "export ") ?: line;
                if (!strchr(line, '=') || *line == '=')
                        return -EBADMSG;
                r = env_set(l, line);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* what every process of the container gets */

int container_process_init(ContainerProcess *p, const char *name, const ContainerConfig *c,
                           const ImageConfig *ic, const char *image) {
        _cleanup_strv_free_ char **env = NULL;
        const char *iu = ic && !isempty(ic->user) ? ic->user : NULL;
        const char *iw = ic && !isempty(ic->working_dir) ? ic->working_dir : NULL;
        int r;

        assert(p && c);

        /* an image is data from wherever it was pulled: the same rules as for the file's keys */
        if (iw && !c->workdir && !config_workdir_is_valid(iw))
                return log_error_errno(EINVAL, "%s: image '%s': WorkingDir '%s' is not an absolute path",
                                       name, strna(image), iw);
        if (iu && !c->user && !config_user_is_valid(iu))
                return log_error_errno(EINVAL,
                                       "%s: image '%s': User '%s' is not \"name\", \"uid\", \"uid:gid\" or "
                                       "\"name:group\"",
                                       name, strna(image), iu);
        if (ic)
                STRV_FOREACH (e, ic->env) {
                        if (!config_env_assignment_is_valid(*e))
                                return log_error_errno(
                                        EINVAL,
                                        "%s: image '%s': Env entry '%s' is not NAME=VALUE with "
                                        "a NAME of letters, digits and '_'",
                                        name, strna(image), *e);
                        r = env_set(&env, *e);
                        if (r < 0)
                                return log_oom();
                }
        STRV_FOREACH (f, c->env_files) {
                r = env_file_load(*f, &env);
                if (r < 0)
                        return log_error_errno(r, "%s: env_files: cannot load '%s': %m", name, *f);
        }
        STRV_FOREACH (e, c->env)
                if (env_set(&env, *e) < 0)
                        return log_oom();
        if (!env) {
                env = new0(char *, 1);
                if (!env)
                        return log_oom();
        }

        *p = (ContainerProcess){
                .user = c->user ?: iu,
                .workdir = c->workdir ?: iw,
                .env = TAKE_PTR(env),
                .rlimits = {
                        { RLIMIT_NOFILE, c->resources.nofile.soft, c->resources.nofile.hard,
                          !c->resources.nofile_set },
                        { RLIMIT_NPROC, c->resources.nproc.soft, c->resources.nproc.hard,
                          !c->resources.nproc_set },
                },
        };
        return 0;
}

void container_process_done(ContainerProcess *p) {
        if (!p)
                return;
        p->env = strv_free(p->env);
}

void container_process_apply(const ContainerProcess *p, const ContainerConfig *c, SpawnProcess *sp) {
        sp->user = p->user;
        sp->workdir = p->workdir;
        sp->env = p->env;
        sp->rlimits = p->rlimits;
        sp->n_rlimits = ELEMENTSOF(p->rlimits);
        sp->oom_score_adj_set = true;
        sp->oom_score_adj = c->resources.oom_score_adj;
        sp->oom_score_adj_best_effort = !c->resources.oom_score_adj_set;
}

int container_open_init(const char *name, int *ret_fd) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = container_find_init(&path);
        if (r < 0)
                return log_error_errno(r,
                                       "%s: cannot find cbox-init (set $CBOX_INIT or install it to %s): %m",
                                       name, CBOX_LIBEXECDIR);
        r = spawn_open_executable(path, ret_fd);
        if (r < 0)
                return log_error_errno(r, "%s: cannot open '%s': %m", name, path);
        return 0;
}

static int open_bus(sd_bus **bus, const char *name) {
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

static void log_bus_error(int r, const char *name, const char *what, const BusError *e) {
        if (e->message)
                log_error_errno(r, "%s: %s: %s", name, what, e->message);
        else
                log_error_errno(r, "%s: %s: %m", name, what);
}

static char *companion_name(const char *name) {
        return strprintf("cbox-%s-cleanup.service", name);
}

static void stop_companion(sd_bus *bus, const char *name) {
        _cleanup_free_ char *unit = companion_name(name);
        BusError e = BUS_ERROR_NULL;

        if (!bus || !unit)
                return;
        (void) bus_stop_unit(bus, unit, &e);
        bus_error_done(&e);
        (void) bus_reset_failed_unit(bus, unit, &e);
        bus_error_done(&e);
}

/* A unit cbox-NAME.scope that no state names (cbox was killed between StartTransientUnit and writing the
 * unit into the state, or the state was lost) is cbox's when it carries the Description cbox gives it in
 * the same StartTransientUnit call that creates it ("cbox container NAME"): set atomically with the unit,
 * so there is no window in which a unit of ours lacks it, and a unit someone else made under that name
 * does not have it. Stops such a unit (and its companion). 1 = an orphan was stopped, 0 = none (no unit,
 * or not ours: left alone), -errno (logged). */
static int stop_orphan_unit(sd_bus *bus, const char *name) {
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
                log_bus_error(r, name, "failed to stop its orphaned unit", &e);
                bus_error_done(&e);
                return r;
        }
        bus_error_done(&e);
        (void) bus_reset_failed_unit(bus, unit, &e);
        bus_error_done(&e);
        stop_companion(bus, name);
        return 1;
}

/* Stops the unit, drops a machined registration that outlived it, makes sure the leader is gone.
 * Best effort for the parts that may already be gone; returns the first hard failure. With
 * wait_companion false, the cleanup companion is left to the scope's end (BindsTo=): its stop job runs
 * after the scope's, execs `cbox cleanup`, which finds the lock held or the state gone and does nothing;
 * a next up of the name waits for its end before starting its own. */
static int release_runtime_full(const GlobalConfig *g, sd_bus *bus, const char *name,
                                const ContainerState *s, bool wait_companion) {
        BusError e = BUS_ERROR_NULL;
        int r, ret = 0;

        if (bus && s && s->unit) {
                r = bus_stop_unit(bus, s->unit, &e);
                if (r < 0 && r != -ENOENT) {
                        log_bus_error(r, name, "failed to stop its unit", &e);
                        ret = r;
                }
                bus_error_done(&e);
                r = bus_reset_failed_unit(bus, s->unit, &e);
                if (r < 0 && r != -ENOENT)
                        log_debug_errno(r, "%s: reset-failed of %s: %m", name, s->unit);
                bus_error_done(&e);
        } else if (bus && s && s->starting) {
                /* killed between StartTransientUnit and recording the unit */
                r = stop_orphan_unit(bus, name);
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
                        stop_companion(bus, name);
        }
        /* No unit (never got one, or no systemd): kill the leader ourselves; the pid namespace dies with it
         */
        if (s && s->leader_pid > 0 && state_leader_alive(s)) {
                _cleanup_close_ int pidfd = -EBADF;
                if (pidfd_open_checked(s->leader_pid, s->leader_start_time, &pidfd) >= 0) {
                        (void) pidfd_send(pidfd, SIGKILL);
                        struct pollfd p = { .fd = pidfd, .events = POLLIN };
                        (void) poll(&p, 1, 5000);
                }
        }
        return ret;
}

static int release_runtime(const GlobalConfig *g, sd_bus *bus, const char *name, const ContainerState *s) {
        return release_runtime_full(g, bus, name, s, true);
}

/* ---------------------------------------------------------------------------------------------- */
/* up */

typedef struct UpContext {
        const GlobalConfig *g;
        const ContainerConfig *c;
        const UpOptions *o;
        const char *name;

        sd_bus *bus;
        char *unit;
        char *storage_dir, *upper, *work, *root_dir;
        char **lowers;
        ImageConfig *image_config;
        char *image_ref;
        char *image_digest;       /* the manifest the lowers came from */
        ContainerProcess process; /* user, workdir, env, limits of the payload and [health] */

        int state_fd;
        int store_lock_fd; /* image_store_lock_use() from resolving the image until the image file names it
                            */

        /* the undo stack, as what was done so far (undone in reverse order) */
        bool created_state_dir;
        bool created_storage_dir;
        SpawnChild child;
        bool started_unit;
        bool registered_machine;
        ContainerNet net;
        bool net_set_up;
        bool started_companion;
        /* foreground under a service with Delegate=yes (cbox@NAME.service): the payload lives in
         * <service cgroup>/payload and the limits are set on the service */
        bool in_service;
        char *payload_cgroup;
        bool write_etc_files;
        bool write_hostname_file;
        SeccompProgram seccomp; /* empty when unconfined */

        /* what the state file records, written at every step (up_save_state) */
        char *digest, *config_abs;
        char *planned_network; /* the network the setup will use */
        uint64_t start_time;
        bool unit_recorded;
} UpContext;

static void up_context_done(UpContext *u) {
        u->store_lock_fd = safe_close(u->store_lock_fd);
        seccomp_program_done(&u->seccomp);
        free(u->unit);
        free(u->storage_dir);
        free(u->upper);
        free(u->work);
        free(u->root_dir);
        strv_free(u->lowers);
        if (u->image_config)
                image_config_free(u->image_config);
        free(u->image_ref);
        free(u->image_digest);
        container_process_done(&u->process);
        u->state_fd = safe_close(u->state_fd);
        spawn_child_done(&u->child);
        container_net_done(&u->net);
        free(u->payload_cgroup);
        free(u->digest);
        free(u->config_abs);
        free(u->planned_network);
        if (u->bus)
                u->bus = sd_bus_flush_close_unref(u->bus);
}

static int own_cgroup_path(char **ret) {
        return cgroup_path_from_file("/proc/self/cgroup", ret);
}

/* rmdir of a cgroup whose processes may still be on their way out */
static void cgroup_remove(const char *path) {
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
static bool unit_is_delegated(sd_bus *bus, const char *unit) {
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

/* Foreground under a systemd service (cbox@NAME.service, Delegate=yes): instead of a scope of its own,
 * the payload goes to a sub-cgroup of the service, and the limits are set on the service at runtime.
 * Returns 1 when that was done, 0 when cbox does not run under a service. */
static int up_join_service(UpContext *u, const BusScopeParams *bp) {
        _cleanup_free_ char *own_unit = NULL, *cg = NULL, *procs = NULL;
        BusError e = BUS_ERROR_NULL;
        char pid[32];
        size_t l;
        int r;

        if (!u->o->foreground || !getenv("INVOCATION_ID"))
                return 0;
        if (bus_unit_by_pid(u->bus, getpid(), &own_unit) < 0)
                return 0;
        l = strlen(own_unit);
        if (l < 8 || !streq(own_unit + l - 8, ".service"))
                return 0;
        if (!unit_is_delegated(u->bus, own_unit)) {
                /* e.g. systemd-run or a service of the user's own without Delegate=yes: its cgroup is not
                 * ours to split, so the container gets its own scope as from a shell */
                log_debug("%s: %s has no Delegate=yes, using a scope of its own", u->name, own_unit);
                return 0;
        }

        r = own_cgroup_path(&cg);
        if (r < 0)
                return log_error_errno(r, "%s: cannot find the cgroup of %s: %m", u->name, own_unit);
        u->payload_cgroup = strjoin(cg, "/payload");
        procs = strjoin(cg, "/payload/cgroup.procs");
        if (!u->payload_cgroup || !procs)
                return log_oom();
        if (mkdir(u->payload_cgroup, 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "%s: cannot create '%s' (is %s Delegate=yes?): %m", u->name,
                                       u->payload_cgroup, own_unit);
        (void) snprintf(pid, sizeof(pid), "%d", (int) u->child.pid);
        r = write_string_file(procs, pid);
        if (r < 0)
                return log_error_errno(r, "%s: cannot move the container into '%s': %m", u->name,
                                       u->payload_cgroup);
        r = bus_set_unit_limits(u->bus, own_unit, bp, true, &e);
        if (r < 0) {
                log_bus_error(r, u->name, "failed to set the limits on its service", &e);
                bus_error_done(&e);
                return r;
        }
        free(u->unit);
        u->unit = TAKE_PTR(own_unit);
        u->in_service = true;
        return 1;
}

const char *const container_bound_etc_files[] = { "/etc/resolv.conf", "/etc/hosts", "/etc/hostname", NULL };
enum { BOUND_RESOLV_CONF, BOUND_HOSTS, BOUND_HOSTNAME };

/* "etc" + "hosts" names one of container_bound_etc_files */
static bool is_bound_etc_file(const char *dir, const char *name) {
        for (const char *const *f = container_bound_etc_files; *f; f++) {
                const char *slash = strrchr(*f, '/');
                if (streq(slash + 1, name) && strlen(dir) == (size_t) (slash - *f - 1) &&
                    strneq(*f + 1, dir, strlen(dir)))
                        return true;
        }
        return false;
}

/* Whether the tree below dir_fd (path: its path relative to the upper dir, "" for the top) holds only
 * what cbox itself makes in a writable layer: directories (mount points of [[mount]] targets, parents)
 * that are not opaque, and the empty etc/resolv.conf, etc/hosts and etc/hostname rootfs/ creates to
 * bind the container's own over when the image has none. Anything else — a file, a symlink, a whiteout, an
 * opaque directory (a deletion) — is something the container wrote. 1 = only cbox's, 0 = user data, -errno.
 */
static int tree_is_cbox_only(int dir_fd, const char *path, unsigned depth) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        char x[8];
        int r;

        if (depth > 64 || fgetxattr(dir_fd, "trusted.overlay.opaque", x, sizeof(x)) >= 0) {
                safe_close(dir_fd);
                return 0;
        }
        d = fdopendir(dir_fd);
        if (!d) {
                r = -errno;
                safe_close(dir_fd);
                return r;
        }
        while ((de = readdir(d))) {
                struct stat st;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_free_ char *sub = strjoin(path, *path ? "/" : "", de->d_name);
                        int fd = openat(dirfd(d), de->d_name,
                                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (!sub) {
                                safe_close(fd);
                                return -ENOMEM;
                        }
                        if (fd < 0)
                                return -errno;
                        r = tree_is_cbox_only(fd, sub, depth + 1);
                        if (r <= 0)
                                return r;
                        continue;
                }
                if (S_ISREG(st.st_mode) && st.st_size == 0 && is_bound_etc_file(path, de->d_name)) {
                        _cleanup_close_ int fd =
                                openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd < 0)
                                return -errno;
                        if (fgetxattr(fd, "trusted.overlay.whiteout", x, sizeof(x)) >= 0)
                                return 0;
                        continue;
                }
                return 0;
        }
        return 1;
}

int container_upper_is_pristine(const char *upper) {
        int fd = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 1 : -errno;
        return tree_is_cbox_only(fd, "", 0);
}

/* Whether the image (top layer first) shows a regular file at /etc/NAME: the first layer with an entry
 * there decides; a symlink (never followed: it is the image's, and may point anywhere on the host) is not
 * one */
static bool image_has_etc_file(UpContext *u, const char *name) {
        for (size_t i = 0; u->lowers && u->lowers[i]; i++) {
                _cleanup_close_ int layer = open(u->lowers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
                _cleanup_close_ int etc = layer < 0
                        ? -EBADF
                        : openat(layer, "etc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                struct stat st;
                if (etc >= 0 && fstatat(etc, name, &st, AT_SYMLINK_NOFOLLOW) >= 0)
                        return S_ISREG(st.st_mode);
                if (layer >= 0 && fstatat(layer, "etc", &st, AT_SYMLINK_NOFOLLOW) >= 0 &&
                    !S_ISDIR(st.st_mode))
                        return false; /* etc itself is a symlink or file in this layer: it hides the rest */
        }
        return false;
}

/* A read-only root without an upper layer cannot get the mount points created (nor an image's symlink
 * there replaced): only when they are files already */
static bool want_etc_files(UpContext *u) {
        return !u->c->read_only || (image_has_etc_file(u, "resolv.conf") && image_has_etc_file(u, "hosts"));
}

/* /etc/hostname likewise: on a read-only root only when an image layer has the file */
static bool want_hostname_file(UpContext *u) {
        return !u->c->read_only || image_has_etc_file(u, "hostname");
}

static int write_etc_files(UpContext *u) {
        const ContainerConfig *c = u->c;
        const char *hostname = c->hostname ?: u->name;
        _cleanup_(buffer_done) Buffer resolv = {}, hosts = {};
        int r;

        if (c->network.dns)
                STRV_FOREACH (d, c->network.dns) {
                        r = buffer_printf(&resolv, "nameserver %s\n", *d);
                        if (r < 0)
                                return r;
                }
        else {
                /* the host's upstream servers: systemd-resolved's list when it runs (its 127.0.0.53 stub is
                 * not reachable from another network namespace), else /etc/resolv.conf without loopback
                 * nameservers */
                _cleanup_free_ char *host = NULL;
                if (read_full_file("/run/systemd/resolve/resolv.conf", &host, NULL, 64 * 1024) < 0)
                        (void) read_full_file("/etc/resolv.conf", &host, NULL, 64 * 1024);
                for (char *line = host, *next; line && *line; line = next) {
                        next = strchr(line, '\n');
                        if (next)
                                *next++ = 0;
                        if (c->network.mode != NETWORK_MODE_HOST && startswith(line, "nameserver 127."))
                                continue;
                        r = buffer_printf(&resolv, "%s\n", line);
                        if (r < 0)
                                return r;
                }
        }

        r = buffer_printf(&hosts,
                          "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n",
                          u->net.address ?: "127.0.1.1", hostname);
        if (r < 0)
                return r;
        STRV_FOREACH (h, c->network.hosts) {
                const char *colon = strchr(*h, ':');
                if (!colon)
                        continue;
                r = buffer_printf(&hosts, "%s\t%.*s\n", colon + 1, (int) (colon - *h), *h);
                if (r < 0)
                        return r;
        }

        r = write_file_atomic_at(u->state_fd, "resolv.conf", resolv.data ?: "", resolv.size, 0644);
        if (r < 0)
                return r;
        r = write_file_atomic_at(u->state_fd, "hosts", hosts.data, hosts.size, 0644);
        if (r < 0)
                return r;
        if (u->write_hostname_file) {
                _cleanup_free_ char *hn = strjoin(hostname, "\n");
                if (!hn)
                        return -ENOMEM;
                r = write_file_atomic_at(u->state_fd, "hostname", hn, strlen(hn), 0644);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void up_undo(UpContext *u) {
        BusError e = BUS_ERROR_NULL;

        if (u->started_companion)
                stop_companion(u->bus, u->name);
        if (u->net_set_up)
                container_net_release(u->g, u->name, u->net.network, u->net.host_ifname);
        if (u->registered_machine) {
                (void) bus_machine_terminate(u->bus, u->name, &e);
                bus_error_done(&e);
        }
        if (u->child.pidfd >= 0) {
                (void) pidfd_send(u->child.pidfd, SIGKILL);
                (void) waitpid(u->child.pid, NULL, 0);
        }
        if (u->payload_cgroup)
                cgroup_remove(u->payload_cgroup);
        if (u->started_unit) {
                (void) bus_stop_unit(u->bus, u->unit, &e);
                bus_error_done(&e);
                (void) bus_reset_failed_unit(u->bus, u->unit, &e);
                bus_error_done(&e);
        }
        u->state_fd = safe_close(u->state_fd);
        if (u->created_state_dir)
                (void) state_dir_remove(global_config_run_root(u->g), u->name);
        if (u->created_storage_dir)
                (void) rm_rf_at(AT_FDCWD, u->storage_dir);
}

int container_pull_options(const GlobalConfig *g, ImagePullOptions *ret, ImageRegistry **ret_regs) {
        _cleanup_free_ ImageRegistry *regs = NULL;
        ImagePullOptions opts = {};

        if (g && g->n_registries > 0) {
                regs = new0(ImageRegistry, g->n_registries);
                if (!regs)
                        return -ENOMEM;
                for (size_t i = 0; i < g->n_registries; i++)
                        regs[i] = (ImageRegistry){ .name = g->registries[i].name,
                                                   .insecure = g->registries[i].insecure,
                                                   .ca_file = g->registries[i].ca_file,
                                                   .auth_file = g->registries[i].auth_file };
                opts.registries = regs;
                opts.n_registries = g->n_registries;
        }
        *ret = opts;
        *ret_regs = TAKE_PTR(regs);
        return 0;
}

/* Pulls u->image_ref into the store with the registry settings of conf.d (the file's pull key said so) */
static int up_pull_image(UpContext *u, ImageStore *store) {
        _cleanup_free_ ImageRegistry *regs = NULL;
        ImagePullOptions opts;
        ImageError e = {};
        int r;

        if (container_pull_options(u->g, &opts, &regs) < 0)
                return log_oom();
        r = image_pull(store, u->image_ref, &opts, NULL, NULL, NULL, NULL, &e);
        if (r < 0) {
                if (e.object && e.message)
                        log_error_errno(r, "%s: cannot pull image '%s': %s: %s", u->name, u->image_ref,
                                        e.object, e.message);
                else if (e.message)
                        log_error_errno(r, "%s: cannot pull image '%s': %s", u->name, u->image_ref,
                                        e.message);
                else
                        log_error_errno(r, "%s: cannot pull image '%s': %m", u->name, u->image_ref);
                error_message_done(&e);
                return r;
        }
        return 0;
}

static int up_resolve_lowers(UpContext *u) {
        const ContainerConfig *c = u->c;
        int r;

        if (c->rootfs) {
                struct stat st;
                if (stat(c->rootfs, &st) < 0)
                        return log_error_errno(errno, "%s: rootfs '%s': %m", u->name, c->rootfs);
                if (!S_ISDIR(st.st_mode))
                        return log_error_errno(ENOTDIR, "%s: rootfs '%s' is not a directory", u->name,
                                               c->rootfs);
                r = strv_extend(&u->lowers, c->rootfs);
                if (r < 0)
                        return log_oom();
                return 0;
        }
        if (c->image) {
                _cleanup_(image_store_freep) ImageStore *store = NULL;

                r = image_store_open(global_config_storage_root(u->g), &store);
                if (r < 0)
                        return log_error_errno(r, "%s: cannot open the image store in '%s': %m", u->name,
                                               global_config_storage_root(u->g));
                r = image_ref_normalize_any(c->image, &u->image_ref);
                if (r < 0)
                        return log_error_errno(r, "%s: image: invalid reference '%s'", u->name, c->image);
                /* held until up_prepare_storage() has written what this resolves into the image file,
                 * which keeps its layers from gc from then on */
                u->store_lock_fd = image_store_lock_use(store);
                if (u->store_lock_fd < 0)
                        return log_error_errno(u->store_lock_fd, "%s: cannot lock the image store: %m",
                                               u->name);
                if (c->pull == IMAGE_PULL_ALWAYS) {
                        r = up_pull_image(u, store);
                        if (r < 0)
                                return r;
                }
                r = image_resolve(store, u->image_ref, &u->lowers, &u->image_config, &u->image_digest);
                if (r == -ENOENT && c->pull == IMAGE_PULL_MISSING) {
                        r = up_pull_image(u, store);
                        if (r < 0)
                                return r;
                        r = image_resolve(store, u->image_ref, &u->lowers, &u->image_config,
                                          &u->image_digest);
                }
                if (r == -ENOENT && c->pull == IMAGE_PULL_NEVER)
                        return log_error_errno(r,
                                               "%s: image '%s' is not in the store and the file says pull = "
                                               "\"never\" (see 'cbox image pull' and 'cbox image import')",
                                               u->name, u->image_ref);
                FAULT_POINT("up.image-resolved");
                if (r == -ENOENT)
                        return log_error_errno(r, "%s: image '%s' is not in the store after its pull",
                                               u->name, u->image_ref);
                if (r < 0)
                        return log_error_errno(r, "%s: cannot resolve image '%s': %m", u->name,
                                               u->image_ref);
                if (strv_length(u->lowers) == 0 || strv_length(u->lowers) > ROOTFS_LOWER_DIRS_MAX)
                        return log_error_errno(EINVAL, "%s: image '%s' has %zu layers", u->name,
                                               u->image_ref, strv_length(u->lowers));
                return 0;
        }
        return log_error_errno(EINVAL, "%s: neither rootfs nor image is set", u->name);
}

/* <storage_root>/containers/NAME/image: line 1 the image ref, optional line 2 the manifest digest the
 * container was started from (see image.h). *ret_digest is NULL when there is no second line. */
int container_read_image_file(const char *path, char **ret_ref, char **ret_digest) {
        _cleanup_free_ char *data = NULL, *ref = NULL, *digest = NULL;
        char *nl;
        int r;

        r = read_full_file(path, &data, NULL, 4096);
        if (r < 0)
                return r;
        nl = strchr(data, '\n');
        ref = nl ? strndup(data, (size_t) (nl - data)) : strdup(data);
        if (!ref)
                return -ENOMEM;
        if (nl && startswith(nl + 1, "sha256:")) {
                size_t n = strcspn(nl + 1, "\n");
                digest = strndup(nl + 1, n);
                if (!digest)
                        return -ENOMEM;
        }
        *ret_ref = TAKE_PTR(ref);
        *ret_digest = TAKE_PTR(digest);
        return 0;
}

/* A writable layer kept from an earlier run (down without --volumes, stop, exit) is a diff against the
 * layers it ran on then; when the image's name points at another manifest now, say that its changes are
 * laid over other layers (the image is what the file names: it is taken, as a restart is expected to) */
static void warn_if_image_moved(UpContext *u) {
        _cleanup_free_ char *f = strjoin(u->storage_dir, "/image"), *ref = NULL, *old = NULL;

        if (!f || container_read_image_file(f, &ref, &old) < 0 || !old || streq_ptr(old, u->image_digest))
                return;
        if (container_upper_is_pristine(u->upper) != 0)
                return;
        log_warning("%s: its writable layer holds changes made on image %.19s, and '%s' is %.19s now: they "
                    "are laid over the new image (to start afresh instead: cbox down --volumes %s)",
                    u->name, old, u->image_ref, strna(u->image_digest), u->name);
}

static int up_prepare_storage(UpContext *u) {
        struct stat st;
        int r;

        r = state_container_storage_path(global_config_storage_root(u->g), u->name, &u->storage_dir);
        if (r < 0)
                return log_error_errno(r, "%s: invalid storage path: %m", u->name);
        if (stat(u->storage_dir, &st) < 0) {
                if (errno != ENOENT)
                        return log_error_errno(errno, "%s: cannot access '%s': %m", u->name, u->storage_dir);
                u->created_storage_dir = true;
        }
        u->upper = strjoin(u->storage_dir, "/upper");
        u->work = strjoin(u->storage_dir, "/work");
        if (!u->upper || !u->work)
                return log_oom();
        if (u->c->read_only)
                r = mkdir_p(u->storage_dir, 0700);
        else {
                r = mkdir_p(u->upper, 0755);
                if (r >= 0)
                        r = mkdir_p(u->work, 0700);
        }
        if (r < 0)
                return log_error_errno(r, "%s: cannot create '%s': %m", u->name, u->storage_dir);
        if (u->image_ref && !u->created_storage_dir)
                warn_if_image_moved(u);
        if (u->image_ref) {
                /* image/ keeps images in use: first line the ref, second the manifest the layers came from
                 * (gc keeps those even after the ref moves on; commit and export check it) */
                _cleanup_free_ char *f = strjoin(u->storage_dir, "/image"),
                                    *data = strjoin(u->image_ref, "\n", u->image_digest, "\n");
                _cleanup_free_ char *old = NULL;
                if (!f || !data)
                        return log_oom();
                /* unchanged on a restart of the same image: no write, no fsync (3-8 ms an up) */
                if (read_full_file(f, &old, NULL, 4096) >= 0 && streq(old, data))
                        return 0;
                r = write_file_atomic(f, data, strlen(data), 0644);
                if (r < 0)
                        return log_error_errno(r, "%s: cannot write '%s': %m", u->name, f);
        }
        return 0;
}

typedef struct ChildSetup {
        RootfsParams rootfs;
} ChildSetup;

static int child_setup(void *userdata, char *msg, size_t msg_size) {
        ChildSetup *cs = userdata;
        return rootfs_setup(&cs->rootfs, msg, msg_size);
}

static int build_payload(UpContext *u, char ***ret) {
        const ContainerConfig *c = u->c;
        const ImageConfig *ic = u->image_config;
        _cleanup_strv_free_ char **argv = NULL;
        char **ep, **cmd;

        ep = c->entrypoint_set ? c->entrypoint : (ic ? ic->entrypoint : NULL);
        /* Docker's rule: an entrypoint given in the file drops the image's Cmd */
        cmd = c->command_set ? c->command : (c->entrypoint_set ? NULL : (ic ? ic->cmd : NULL));
        STRV_FOREACH (a, ep)
                if (strv_extend(&argv, *a) < 0)
                        return -ENOMEM;
        STRV_FOREACH (a, cmd)
                if (strv_extend(&argv, *a) < 0)
                        return -ENOMEM;
        if (strv_length(argv) == 0)
                return -ENOEXEC;
        *ret = TAKE_PTR(argv);
        return 0;
}

/* Foreground: forward signals to init until it exits; returns its exit code. With [health], run the
 * checks meanwhile: READY=1 after the first pass, and with on_failure = "exit" an unhealthy container is
 * stopped (stop_signal, stop_timeout, SIGKILL) and cbox exits with 1 (so a unit's Restart= acts). */
static int wait_foreground(UpContext *u) {
        static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT, SIGWINCH };
        const ContainerConfig *c = u->c;
        _cleanup_close_ int sfd = -EBADF;
        HealthCheck h = { .runner_pidfd = -EBADF, .cgroup_fd = -EBADF, .exec_fd = -EBADF };
        /* on a terminal: the container's pty, relayed here, next to the signals (SIGWINCH resizes it) */
        _cleanup_(spawn_pty_relay_done) SpawnPtyRelay relay = SPAWN_PTY_RELAY_NULL;
        bool health = c->health.enabled, health_stop = false;
        uint64_t kill_at = 0;
        sigset_t mask, old;
        int status = 0, r;

        sigemptyset(&mask);
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                sigaddset(&mask, sigs[i]);
        if (sigprocmask(SIG_BLOCK, &mask, &old) < 0)
                return log_error_errno(errno, "%s: sigprocmask: %m", u->name);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0)
                return log_error_errno(errno, "%s: signalfd: %m", u->name);
        if (u->child.pty_master >= 0)
                (void) spawn_pty_relay_start(&relay, TAKE_FD(u->child.pty_master), STDIN_FILENO,
                                             STDOUT_FILENO);
        if (health) {
                r = health_init(&h, u->name, c, &u->process, u->state_fd, u->child.pidfd, u->child.pid);
                h.seccomp_program = u->seccomp.insns ? &u->seccomp : NULL;
                if (r < 0) {
                        log_warning_errno(r, "%s: cannot set up its health check, running without: %m",
                                          u->name);
                        health = false;
                        if (getenv("NOTIFY_SOCKET"))
                                (void) sd_notify(0, "READY=1");
                }
        }

        for (;;) {
                struct pollfd p[5] = {
                        { .fd = u->child.pidfd, .events = POLLIN },
                        { .fd = sfd, .events = POLLIN },
                        { .fd = health ? health_fd(&h) : -1, .events = POLLIN },
                        { .fd = -1 },
                        { .fd = -1 },
                };
                if (relay.master >= 0)
                        spawn_pty_relay_pollfds(&relay, p + 3);
                int timeout = health ? health_timeout_ms(&h) : -1;
                if (kill_at > 0) {
                        uint64_t n = now_realtime_usec();
                        int t = n >= kill_at ? 0
                                             : (int) MIN((kill_at - n + 999) / 1000, (uint64_t) INT32_MAX);
                        timeout = timeout < 0 ? t : MIN(timeout, t);
                }
                if (poll(p, ELEMENTSOF(p), timeout) < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(errno, "%s: poll: %m", u->name);
                }
                if (relay.master >= 0 && spawn_pty_relay_dispatch(&relay, p + 3) < 0)
                        spawn_pty_relay_done(&relay); /* nobody holds the pty any more */
                if (p[1].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
                                if (si.ssi_signo == SIGWINCH && relay.master >= 0) {
                                        spawn_pty_relay_winch(&relay);
                                        continue;
                                }
                                log_debug("%s: forwarding signal %u", u->name, si.ssi_signo);
                                if (IN_SET((int) si.ssi_signo, SIGTERM, SIGINT) && getenv("NOTIFY_SOCKET"))
                                        (void) sd_notify(0, "STOPPING=1");
                                (void) pidfd_send(u->child.pidfd, (int) si.ssi_signo);
                        }
                }
                if (p[0].revents & (POLLIN | POLLHUP)) {
                        pid_t pid = waitpid(u->child.pid, &status, 0);
                        if (pid < 0 && errno == EINTR)
                                continue;
                        if (pid < 0)
                                return log_error_errno(errno, "%s: waitpid: %m", u->name);
                        break;
                }
                if (kill_at > 0 && now_realtime_usec() >= kill_at) {
                        log_warning("%s: still running after stop_timeout, killing it", u->name);
                        (void) pidfd_send(u->child.pidfd, SIGKILL);
                        kill_at = 0;
                }
                if (health && !health_stop) {
                        r = health_process(&h);
                        if (r == HEALTH_EVENT_FIRST_PASS && getenv("NOTIFY_SOCKET"))
                                (void) sd_notifyf(0, "READY=1\nSTATUS=Container %s running, healthy",
                                                  u->name);
                        else if (r == HEALTH_EVENT_UNHEALTHY &&
                                 c->health.on_failure == HEALTH_ON_FAILURE_EXIT) {
                                log_error("%s: unhealthy, stopping it (on_failure = \"exit\")", u->name);
                                if (getenv("NOTIFY_SOCKET"))
                                        (void) sd_notifyf(0, "STOPPING=1\nSTATUS=Container %s unhealthy",
                                                          u->name);
                                health_stop = true;
                                health_done(&h);
                                (void) pidfd_send(u->child.pidfd,
                                                  c->stop_signal > 0 ? c->stop_signal : SIGTERM);
                                kill_at = now_realtime_usec() + c->stop_timeout_usec;
                        } else if (r < 0)
                                log_debug_errno(r, "%s: health check: %m", u->name);
                }
        }
        health_done(&h);
        spawn_pty_relay_drain(&relay);
        spawn_pty_relay_done(&relay);
        (void) sigprocmask(SIG_SETMASK, &old, NULL);
        u->child.pid = 0;
        u->child.pidfd = safe_close(u->child.pidfd);
        r = spawn_wait_status_to_exit(status);
        return health_stop ? 1 : r;
}

/* The state file as far as up got: written right after the state dir is created (starting, holding
 * nothing yet) and again as each part is acquired, so that whenever cbox dies the state names everything
 * there is to release: list --all shows it "starting", down releases it, gc reclaims it. A part is
 * recorded once acquired (the unit: once started, up to then stop_orphan_unit() recognises it), except
 * the network, recorded before its setup: its release goes by owner name (ports, lease) and the veth's
 * alias (cbox:NAME) when its name is not recorded yet. */
static int up_save_state(UpContext *u, bool starting) {
        const ContainerConfig *c = u->c;
        ContainerState st = {
                .name = (char *) u->name,
                .unit = u->unit_recorded ? u->unit : NULL,
                .machine = u->registered_machine ? (char *) u->name : NULL,
                .config_path = u->config_abs ?: c->path,
                .config_digest = u->digest,
                .rootfs = u->image_ref ?: c->rootfs,
                .upper_dir = c->read_only ? NULL : u->upper,
                .work_dir = c->read_only ? NULL : u->work,
                .network = u->net.network ?: u->planned_network,
                .address = u->net.address,
                .host_ifname = u->net.host_ifname,
                .leader_pid = u->child.pid,
                .leader_start_time = u->start_time,
                .start_time_usec = now_realtime_usec(),
                .mode = u->o->foreground ? STATE_MODE_FOREGROUND : STATE_MODE_DETACHED,
                .starting = starting,
        };
        int r;

        r = state_save(u->state_fd, &st);
        if (r < 0)
                return log_error_errno(r, "%s: cannot write its state: %m", u->name);
        return 0;
}

static int up_run(UpContext *u) {
        const ContainerConfig *c = u->c;
        _cleanup_strv_free_ char **payload = NULL, **init_argv = NULL;
        _cleanup_free_ char *init_path = NULL;
        _cleanup_close_ int exec_fd = -EBADF, exit_fd = -EBADF, journal_fd = -EBADF, out_fd = -EBADF,
                            null_fd = -EBADF;
        const char *lowers[ROOTFS_LOWER_DIRS_MAX];
        _cleanup_free_ RootfsMount *mounts = NULL;
        BusError e = BUS_ERROR_NULL;
        _cleanup_(error_message_done) ErrorMessage se = {};
        int keep[2], n_keep = 0, r;

        r = container_verify(c);
        if (r < 0)
                return r;
        if (c->health.enabled && !u->o->foreground)
                log_warning("%s: [health] checks run only in the foreground (cbox up --foreground, "
                            "cbox@.service); ignored for a detached container",
                            u->name);

        /* a broken profile file is refused before anything is created (`cbox verify` says the same) */
        r = container_seccomp_program(u->g, c, &u->seccomp);
        if (r < 0)
                return r;

        r = bus_scope_name(u->name, &u->unit);
        if (r < 0)
                return log_error_errno(r, "%s: cannot make a unit name: %m", u->name);
        u->digest = container_config_digest(c);
        if (!u->digest)
                return log_oom();
        /* start/exec re-read the file later, from any directory */
        u->config_abs = c->path ? realpath(c->path, NULL) : NULL;

        /* a port clash, a static address in use: refused before anything is created */
        r = container_net_check(u->g, c);
        if (r < 0)
                return r;

        r = up_resolve_lowers(u);
        if (r < 0)
                return r;
        r = build_payload(u, &payload);
        if (r == -ENOEXEC)
                return log_error_errno(EINVAL, "%s: command: nothing to run (no command in the file%s)",
                                       u->name, u->image_config ? " nor in the image" : "");
        if (r < 0)
                return log_oom();
        r = container_process_init(&u->process, u->name, c, u->image_config, u->image_ref);
        if (r < 0)
                return r;

        r = container_find_init(&init_path);
        if (r < 0)
                return log_error_errno(r,
                                       "%s: cannot find cbox-init (set $CBOX_INIT or install it to %s): %m",
                                       u->name, CBOX_LIBEXECDIR);
        r = spawn_open_executable(init_path, &exec_fd);
        if (r < 0)
                return log_error_errno(r, "%s: cannot open '%s': %m", u->name, init_path);

        r = open_bus(&u->bus, u->name);
        if (r < 0)
                return r;

        r = up_prepare_storage(u);
        if (r < 0)
                return r;
        u->store_lock_fd = safe_close(u->store_lock_fd); /* the image file keeps the layers now */
        FAULT_POINT("up.storage");

        /* state dir, the mount point of the root (only ever mounted on in the child's namespace) */
        r = state_dir_open(global_config_run_root(u->g), u->name, true, &u->state_fd);
        if (r < 0)
                return log_error_errno(r, "%s: cannot create state dir in '%s': %m", u->name,
                                       global_config_run_root(u->g));
        u->created_state_dir = true;
        r = up_save_state(u, true);
        if (r < 0)
                return r;
        FAULT_POINT("up.state-dir");
        if (mkdirat(u->state_fd, "root", 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "%s: cannot create the root mount point: %m", u->name);
        u->root_dir = state_path(global_config_run_root(u->g), u->name, "root");
        if (!u->root_dir)
                return log_oom();
        (void) state_remove_exit_file(u->state_fd);
        r = state_open_exit_file(u->state_fd, &exit_fd);
        if (r < 0)
                return log_error_errno(r, "%s: cannot create the exit file: %m", u->name);
        keep[n_keep++] = exit_fd;

        if (!u->o->foreground) {
                null_fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
                if (null_fd < 0)
                        return log_error_errno(errno, "%s: cannot open /dev/null: %m", u->name);
                journal_fd = journal_native_socket_open();
                if (journal_fd < 0)
                        log_warning_errno(journal_fd,
                                          "%s: cannot connect to journald, output is discarded: %m",
                                          u->name);
                else
                        keep[n_keep++] = journal_fd;
                /* init's own messages (e.g. "payload not found") go to the journal as well */
                out_fd = journal_stream_open(u->name, LOG_INFO, false);
                if (out_fd < 0)
                        out_fd = safe_close(out_fd);
        }

        InitOptions io = {
                .exit_fd = exit_fd,
                .journal_fd = journal_fd,
                .name = u->name,
        };
        r = init_build_argv(&io, payload, &init_argv);
        if (r < 0)
                return log_error_errno(r, "%s: cannot build the init command line: %m", u->name);

        /* rootfs parameters: copied into the child by clone, used there */
        size_t n_lowers = strv_length(u->lowers);
        for (size_t i = 0; i < n_lowers; i++)
                lowers[i] = u->lowers[i];
        mounts = new0(RootfsMount, c->n_mounts + 3);
        if (!mounts)
                return log_oom();
        _cleanup_strv_free_ char **volume_paths = NULL;
        for (size_t i = 0; i < c->n_mounts; i++) {
                const MountSpec *m = c->mounts + i;
                mounts[i] = (RootfsMount){
                        .type = m->type == MOUNT_TYPE_TMPFS ? ROOTFS_MOUNT_TMPFS : ROOTFS_MOUNT_BIND,
                        .source = m->source,
                        .target = m->target,
                        .read_only = m->read_only,
                        .allow_suid = m->suid,
                        .allow_dev = m->dev,
                        .size = m->size,
                };
                if (m->type == MOUNT_TYPE_VOLUME) {
                        char *vp = strprintf("%s/volumes/%s", global_config_storage_root(u->g), m->source);
                        if (!vp || strv_consume(&volume_paths, vp) < 0)
                                return log_oom();
                        r = mkdir_p(vp, 0755);
                        if (r < 0)
                                return log_error_errno(r, "%s: mount[%zu]: cannot create volume '%s': %m",
                                                       u->name, i, vp);
                        mounts[i].source = vp;
                }
        }
        /* /etc/resolv.conf, /etc/hosts and /etc/hostname of the container: files of ours bound over the
         * image's (written once the address is known, before the child is released and mounts them) */
        size_t n_mounts = c->n_mounts;
        _cleanup_free_ char *resolv_path = NULL, *hosts_path = NULL, *hostname_path = NULL;
        if (c->network.mode != NETWORK_MODE_HOST && want_etc_files(u)) {
                resolv_path = state_path(global_config_run_root(u->g), u->name, "resolv.conf");
                hosts_path = state_path(global_config_run_root(u->g), u->name, "hosts");
                if (!resolv_path || !hosts_path)
                        return log_oom();
                mounts[n_mounts++] = (RootfsMount){ .type = ROOTFS_MOUNT_BIND,
                                                    .source = resolv_path,
                                                    .target = container_bound_etc_files[BOUND_RESOLV_CONF],
                                                    .read_only = true,
                                                    .replace_symlink = true };
                mounts[n_mounts++] = (RootfsMount){ .type = ROOTFS_MOUNT_BIND,
                                                    .source = hosts_path,
                                                    .target = container_bound_etc_files[BOUND_HOSTS],
                                                    .read_only = true,
                                                    .replace_symlink = true };
                u->write_etc_files = true;
                if (want_hostname_file(u)) {
                        hostname_path = state_path(global_config_run_root(u->g), u->name, "hostname");
                        if (!hostname_path)
                                return log_oom();
                        mounts[n_mounts++] =
                                (RootfsMount){ .type = ROOTFS_MOUNT_BIND,
                                               .source = hostname_path,
                                               .target = container_bound_etc_files[BOUND_HOSTNAME],
                                               .read_only = true,
                                               .replace_symlink = true };
                        u->write_hostname_file = true;
                }
        }
        /* security.devices: the nodes, without their ":rwm" (that is for the device policy) */
        _cleanup_strv_free_ char **devices = NULL;
        STRV_FOREACH (d, c->security.devices) {
                const char *colon = strrchr(*d, ':');
                char *node = colon ? strndup(*d, (size_t) (colon - *d)) : strdup(*d);
                if (!node)
                        return log_oom();
                if (strv_consume(&devices, node) < 0) {
                        free(node);
                        return log_oom();
                }
        }
        ChildSetup cs = {
                .rootfs = {
                        .target = u->root_dir,
                        .devices = (const char *const *) devices,
                        .n_devices = strv_length(devices),
                        .lower_dirs = lowers,
                        .n_lower_dirs = n_lowers,
                        .upper_dir = c->read_only ? NULL : u->upper,
                        .work_dir = c->read_only ? NULL : u->work,
                        .mounts = mounts,
                        .n_mounts = n_mounts,
                        .new_netns = c->network.mode != NETWORK_MODE_HOST,
                        .read_only = c->read_only,
                        .mount_cgroup = true,
                },
        };
        uint64_t ns = SPAWN_NAMESPACES_DEFAULT;
        if (c->network.mode == NETWORK_MODE_HOST)
                ns &= ~(uint64_t) CLONE_NEWNET;

        SpawnParams sp = {
                .process = {
                        .argv = init_argv,
                        .cap_add = c->security.capabilities_add,
                        .cap_drop = c->security.capabilities_drop,
                        .allow_new_privileges = !c->security.no_new_privileges,
                        .seccomp = want_seccomp(c),
                        .seccomp_program = u->seccomp.insns ? &u->seccomp : NULL,
                        .stdin_fd = u->o->foreground ? -EBADF : null_fd,
                        .stdout_fd = u->o->foreground ? -EBADF : (out_fd >= 0 ? out_fd : null_fd),
                        .stderr_fd = u->o->foreground ? -EBADF : (out_fd >= 0 ? out_fd : null_fd),
                },
                .namespaces = ns,
                .hostname = c->hostname ?: u->name,
                .child_setup = child_setup,
                .userdata = &cs,
                .exec_fd = exec_fd,
                .keep_fds = keep,
                .n_keep_fds = (size_t) n_keep,
                .tty = u->o->foreground && u->o->tty,
        };
        container_process_apply(&u->process, c, &sp.process);
        r = spawn_container(&sp, &u->child);
        if (r < 0)
                return log_error_errno(r, "%s: failed to spawn the container: %m", u->name);
        r = proc_get_start_time(u->child.pid, &u->start_time);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the start time of pid %d: %m", u->name,
                                       (int) u->child.pid);
        r = up_save_state(u, true);
        if (r < 0)
                return r;
        FAULT_POINT("up.spawn");

        /* the unit, with every limit; the child waits meanwhile */
        BusScopeParams bp = {
                .unit = u->unit,
                .slice = c->slice ?: u->g->default_slice,
                .pids = &u->child.pid,
                .n_pids = 1,
                .kill_signal = c->stop_signal,
                .stop_timeout_set = true,
                .stop_timeout_usec = c->stop_timeout_usec,
                .extra_devices = c->security.devices,
                /* under a service (cbox@ or any other with Delegate=yes): on the service, whose cgroup
                 * holds the payload's, as for the limits */
                .set_device_policy = true,
        };
        _cleanup_free_ char *descr = strprintf("cbox container %s", u->name);
        bp.description = descr;
        container_fill_limits(c, &bp);
        r = up_join_service(u, &bp);
        if (r < 0)
                return r;
        if (r == 0) {
                r = bus_start_scope(u->bus, &bp, &e);
                /* a scope of ours that a killed cbox left running without a state naming it */
                if (r == -EEXIST && stop_orphan_unit(u->bus, u->name) > 0) {
                        bus_error_done(&e);
                        r = bus_start_scope(u->bus, &bp, &e);
                }
        }
        FAULT_POINT("up.unit-started");
        if (r == -EEXIST) {
                log_error_errno(r, "%s: unit %s is already active (not started by this cbox?)", u->name,
                                u->unit);
                bus_error_done(&e);
                return r;
        }
        if (r < 0) {
                log_bus_error(r, u->name, "failed to start its unit", &e);
                bus_error_done(&e);
                return r;
        }
        u->started_unit = !u->in_service;
        u->unit_recorded = true;
        r = up_save_state(u, true);
        if (r < 0)
                return r;
        FAULT_POINT("up.unit");

        BusMachineParams mp = {
                .name = u->name,
                .leader = u->child.pid,
                .class = "container",
                .service = "cbox",
        };
        r = bus_machine_register(u->bus, &mp, &e);
        /* a registration of an earlier run may linger for a moment after its unit went away */
        for (int i = 0; r == -EEXIST && i < 40; i++) {
                bus_error_done(&e);
                (void) usleep(50 * 1000);
                r = bus_machine_register(u->bus, &mp, &e);
        }
        if (r == -EHOSTDOWN)
                log_debug("%s: machined is not available, not registering", u->name);
        else if (r < 0)
                log_warning("%s: cannot register with machined, ignoring: %s", u->name,
                            e.message ?: strerror(-r));
        else
                u->registered_machine = true;
        bus_error_done(&e);
        FAULT_POINT("up.machine");

        r = container_net_plan(u->g, c, &u->planned_network);
        if (r < 0)
                return r;
        r = up_save_state(u, true);
        if (r < 0)
                return r;
        FAULT_POINT("up.network-planned");
        r = container_net_setup(u->g, c, u->child.pid, &u->net);
        if (r < 0)
                return r;
        u->net_set_up = true;
        r = up_save_state(u, true);
        if (r < 0)
                return r;
        FAULT_POINT("up.network");

        if (u->write_etc_files) {
                r = write_etc_files(u);
                if (r < 0)
                        return log_error_errno(
                                r, "%s: cannot write its /etc/resolv.conf, /etc/hosts and /etc/hostname: %m",
                                u->name);
        }

        /* A detached payload that exits by itself leaves no cbox process behind to release its network,
         * nor does a foreground one whose cbox was killed: a companion service bound to the scope runs
         * `cbox cleanup NAME` when the scope goes away. Under cbox@NAME.service, its ExecStopPost= does. */
        if (u->net.network && !u->in_service) {
                _cleanup_free_ char *self = realpath("/proc/self/exe", NULL),
                                    *cunit = companion_name(u->name);
                if (!self || !cunit)
                        return log_oom();
                char *stop_argv[] = { self, (char *) "cleanup", (char *) u->name, NULL };
                BusCompanionParams cp = {
                        .unit = cunit,
                        .bound_to = u->unit,
                        .description = "cbox network cleanup",
                        .exec_stop = stop_argv,
                };
                /* Foreground: the start job is not waited for (the payload is not released before systemd
                 * has queued it, and it is ordered and bound to the scope; what it is for only matters once
                 * this cbox is gone). */
                cp.no_wait = u->o->foreground;
                r = bus_start_companion(u->bus, &cp, &e);
                if (r == -EEXIST) {
                        /* the companion of an earlier container of this name, still stopping (a
                         * foreground cbox does not wait for it at exit): its `cbox cleanup` finds our lock
                         * taken and does nothing; wait for its end, then start ours */
                        bus_error_done(&e);
                        stop_companion(u->bus, u->name);
                        r = bus_start_companion(u->bus, &cp, &e);
                }
                if (r < 0) {
                        log_bus_error(r, u->name, "failed to start its cleanup companion", &e);
                        bus_error_done(&e);
                        return r;
                }
                u->started_companion = true;
                FAULT_POINT("up.companion");
        }

        r = container_config_record(u->state_fd, c); /* for cbox update */
        if (r < 0)
                log_warning_errno(r, "%s: cannot record its configuration: %m", u->name);
        FAULT_POINT("up.config-recorded");

        r = spawn_child_release(&u->child, &se);
        if (r < 0) {
                if (se.error != 0)
                        log_error_errno(r, "%s: container setup failed: %s: %m", u->name, se.message);
                else
                        log_error_errno(r, "%s: container setup failed: %m", u->name);
                u->child.pidfd = safe_close(u->child.pidfd); /* reaped by spawn_child_release() */
                return r;
        }
        FAULT_POINT("up.released");
        /* the payload runs: up is done (start_time_usec now counts the uptime) */
        r = up_save_state(u, false);
        if (r < 0)
                return r;
        FAULT_POINT("up.running");
        /* with [health], READY=1 waits for the first passing check (wait_foreground) */
        if (u->o->foreground && getenv("NOTIFY_SOCKET"))
                (void) sd_notifyf(0, "%sSTATUS=Container %s running%s\nMAINPID=%d",
                                  c->health.enabled ? "" : "READY=1\n", u->name,
                                  c->health.enabled ? ", health check starting" : "", (int) getpid());
        return 0;
}

/* Existing state of the same name: leave a running identical one alone, refuse or replace a changed one,
 * clean up a dead one. Returns 1 when nothing more is to be done (the running container is identical). */
static int up_check_existing(UpContext *u) {
        _cleanup_(container_info_done) ContainerInfo i = {};
        _cleanup_free_ char *digest = NULL;
        int r;

        r = container_get_info(u->g, u->name, &i);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                log_warning_errno(r, "%s: unreadable state, replacing it: %m", u->name);
        else if (i.status == CONTAINER_RUNNING) {
                digest = container_config_digest(u->c);
                if (!digest)
                        return log_oom();
                if (streq_ptr(digest, i.state->config_digest) && !u->o->foreground)
                        return 1;
                if (streq_ptr(digest, i.state->config_digest))
                        return log_error_errno(EEXIST, "%s: already running (started detached)", u->name);
                if (!u->o->replace)
                        return log_error_errno(
                                EEXIST,
                                "%s: running with a different configuration; use --replace to "
                                "replace it, or 'cbox down %s' first",
                                u->name, u->name);
                log_info("%s: configuration changed, replacing the running container", u->name);
        }

        r = open_bus(&u->bus, u->name);
        if (r < 0)
                return r;
        r = release_runtime(u->g, u->bus, u->name, i.state);
        if (r < 0)
                return r;
        r = state_dir_remove(global_config_run_root(u->g), u->name);
        if (r < 0)
                return log_error_errno(r, "%s: cannot remove the old state: %m", u->name);
        return 0;
}

/* Whether <run_root>/containers/NAME is still the state dir this up created (a down meanwhile removes it,
 * and a new up of the same name makes another one). */
static bool up_state_dir_is_ours(UpContext *u) {
        _cleanup_free_ char *p = state_path(global_config_run_root(u->g), u->name, NULL);
        struct stat a, b;

        return p && fstat(u->state_fd, &a) >= 0 && stat(p, &b) >= 0 && a.st_dev == b.st_dev &&
                a.st_ino == b.st_ino;
}

static int up_finish_foreground(UpContext *u, int code) {
        _cleanup_(container_state_freep) ContainerState *s = NULL;

        FAULT_POINT("up.foreground-exited");
        if (!up_state_dir_is_ours(u)) {
                /* downed meanwhile (which released everything), maybe up again: not ours to touch */
                if (u->payload_cgroup)
                        cgroup_remove(u->payload_cgroup);
                return code;
        }

        /* down-like: the scope is empty now (systemd collects it), drop what is left */
        if (state_load(u->state_fd, &s) >= 0) {
                if (u->in_service) {
                        /* the unit is our own service (and machined's machine follows it): it ends with us
                         */
                        s->unit = mfree(s->unit);
                        s->machine = mfree(s->machine);
                }
                (void) release_runtime_full(u->g, u->bus, u->name, s, false);
        }
        if (u->payload_cgroup)
                cgroup_remove(u->payload_cgroup);
        u->state_fd = safe_close(u->state_fd);
        (void) state_dir_remove(global_config_run_root(u->g), u->name);
        return code;
}

int container_up(const GlobalConfig *g, const ContainerConfig *c, const UpOptions *o) {
        _cleanup_(up_context_done) UpContext u = {
                .g = g,
                .c = c,
                .o = o,
                .name = c->name,
                .state_fd = -EBADF,
                .store_lock_fd = -EBADF,
                .child = SPAWN_CHILD_NULL,
        };
        int lock_fd = -EBADF, r;

        r = state_lock(global_config_run_root(g), c->name, true, &lock_fd);
        if (r < 0)
                return log_error_errno(r, "%s: cannot lock '%s/locks/%s': %m", c->name,
                                       global_config_run_root(g), c->name);

        r = up_check_existing(&u);
        if (r > 0) {
                (void) state_unlock(global_config_run_root(g), c->name, lock_fd, false);
                if (!o->quiet)
                        printf("%s\n", c->name);
                return 0;
        }
        if (r >= 0)
                r = up_run(&u);
        if (r < 0) {
                up_undo(&u);
                (void) state_unlock(global_config_run_root(g), c->name, lock_fd, true);
                return r;
        }

        if (!o->foreground) {
                (void) state_unlock(global_config_run_root(g), c->name, lock_fd, false);
                if (!o->quiet)
                        printf("%s\n", c->name);
                return 0;
        }

        /* Foreground: others may stop/kill/exec us meanwhile, so do not hold the lock while waiting */
        lock_fd = state_unlock(global_config_run_root(g), c->name, lock_fd, false);
        int code = wait_foreground(&u);
        if (code < 0)
                return code;
        /* Not blocking: a `cbox down` holding the lock may be stopping our own service, waiting for us to
         * exit; it releases everything itself then. */
        r = state_lock(global_config_run_root(g), c->name, false, &lock_fd);
        if (r == -EBUSY) {
                if (u.payload_cgroup)
                        cgroup_remove(u.payload_cgroup);
                return code;
        }
        if (r < 0)
                return log_error_errno(r, "%s: cannot lock: %m", c->name);
        r = up_finish_foreground(&u, code);
        (void) state_unlock(global_config_run_root(g), c->name, lock_fd, true);
        return r;
}

/* ---------------------------------------------------------------------------------------------- */
/* down / stop / start / kill */

static int lock_known_full(const GlobalConfig *g, const char *name, bool log_unknown, int *ret_lock,
                           ContainerState **ret_state) {
        _cleanup_(container_state_freep) ContainerState *s = NULL;
        int lock_fd = -EBADF, r;

        if (!state_name_is_valid(name))
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

int container_down(const GlobalConfig *g, const char *name, bool volumes) {
        _cleanup_(container_state_freep) ContainerState *s = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int lock_fd = -EBADF, r;

        r = lock_known_full(g, name, false, &lock_fd, &s);
        FAULT_POINT("down.locked");
        if (r == -ENOENT && bus_systemd_booted()) {
                /* no state, but maybe a scope a killed cbox left running (stop_orphan_unit); checked
                 * under NAME's lock again (lock_known dropped it), so no up of NAME is half-way */
                int q = state_lock(global_config_run_root(g), name, true, &lock_fd);
                if (q >= 0 && !state_dir_exists(global_config_run_root(g), name)) {
                        q = open_bus(&bus, name);
                        if (q >= 0)
                                q = stop_orphan_unit(bus, name);
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
                        return 0;
                }
                return log_error_errno(r, "%s: no such container", name);
        }
        if (r < 0)
                return r;

        if (bus_systemd_booted()) {
                r = open_bus(&bus, name);
                if (r < 0)
                        goto finish;
        }
        r = release_runtime(g, bus, name, s);
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
                r = stop_orphan_unit(bus, name);
                if (r > 0)
                        container_net_release_owner(g, name);
        } else if (r < 0) {
                log_warning_errno(r, "%s: cannot read its state, ignoring: %m", name);
                r = 0;
        } else if (s->starting) {
                log_info("%s: releasing what a killed 'cbox up' left", name);
                r = release_runtime(g, bus, name, s);
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
                if (state_name_is_valid(de->d_name) && !strv_contains(*names, de->d_name) &&
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
        if (bus_systemd_booted() && open_bus(&bus, "gc") < 0)
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
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        int lock_fd = -EBADF, r;

        /* run by cbox@NAME.service: the unit stops it, and the cbox in it releases everything */
        if (state_name_is_valid(name) && container_is_service(g, name) > 0)
                return container_service_stop(name);

        r = lock_known(g, name, &lock_fd, &s);
        if (r < 0)
                return r;
        FAULT_POINT("stop.locked");
        if (bus_systemd_booted()) {
                r = open_bus(&bus, name);
                if (r < 0)
                        goto finish;
        }
        r = release_runtime(g, bus, name, s);
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
        if (state_name_is_valid(name) && container_is_service(g, name) > 0) {
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
                r = pidfd_open_checked(i.state->leader_pid, i.state->leader_start_time, &pidfd);
                if (r < 0)
                        return log_error_errno(r, "%s: its init is gone: %m", name);
                r = pidfd_send(pidfd, sig);
                if (r < 0)
                        return log_error_errno(r, "%s: cannot signal its init: %m", name);
                return 0;
        }

        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        BusError e = BUS_ERROR_NULL;
        r = open_bus(&bus, name);
        if (r < 0)
                return r;
        r = bus_kill_unit(bus, i.state->unit, "all", sig, &e);
        if (r < 0)
                log_bus_error(r, name, "failed to signal its unit", &e);
        bus_error_done(&e);
        return r;
}

/* ---------------------------------------------------------------------------------------------- */
/* exec */

int container_exec(const GlobalConfig *g, const char *name, const ExecOptions *o) {
        _cleanup_(container_info_done) ContainerInfo i = {};
        _cleanup_(container_config_freep) ContainerConfig *c = NULL;
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *cg = NULL;
        _cleanup_close_ int pidfd = -EBADF, cgfd = -EBADF, exec_fd = -EBADF;
        _cleanup_(seccomp_program_done) SeccompProgram sprog = {};
        _cleanup_(image_config_freep) ImageConfig *ic = NULL;
        _cleanup_(container_process_done) ContainerProcess cp = {};
        _cleanup_(error_message_done) ErrorMessage se = {};
        int status = 0, r;

        r = container_get_info_logged(g, name, true, &i);
        if (r < 0)
                return r;

        r = pidfd_open_checked(i.state->leader_pid, i.state->leader_start_time, &pidfd);
        if (r < 0)
                return log_error_errno(r, "%s: its init is gone: %m", name);
        r = container_cgroup_path(&i, &cg);
        if (r >= 0) {
                cgfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (cgfd < 0)
                        log_debug_errno(errno, "%s: cannot open cgroup '%s': %m", name, cg);
        }

        /* as the container's own processes run (docker exec): the file's user, workdir and
         * environment, else the image's, and its limits (the file may have changed meanwhile; the
         * image is looked up by its reference again) */
        if (i.state->config_path) {
                ConfigDiag d = {};
                r = container_config_load(i.state->config_path, g, &c, &d);
                config_diag_done(&d);
                if (r < 0)
                        log_warning_errno(
                                r, "%s: cannot load '%s', running as root without its environment: %m", name,
                                i.state->config_path);
        }
        if (c && c->image) {
                _cleanup_(image_store_freep) ImageStore *store = NULL;
                _cleanup_free_ char *ref = NULL;

                r = image_store_open(global_config_storage_root(g), &store);
                if (r >= 0)
                        r = image_ref_normalize_any(c->image, &ref);
                if (r >= 0)
                        r = image_resolve(store, ref, NULL, &ic, NULL);
                if (r < 0)
                        log_warning_errno(r, "%s: cannot read the config of image '%s', ignoring: %m", name,
                                          c->image);
        }
        if (c) {
                r = container_process_init(&cp, name, c, ic, c->image);
                if (r < 0)
                        return r;
        }
        STRV_FOREACH (e, cp.env) {
                r = env_set(&env, *e);
                if (r < 0)
                        return log_oom();
        }
        STRV_FOREACH (e, o->env) {
                r = env_set(&env, *e);
                if (r == -EINVAL)
                        return log_error_errno(r, "%s: invalid environment assignment '%s'", name, *e);
                if (r < 0)
                        return log_oom();
        }
        r = container_open_init(name, &exec_fd);
        if (r < 0)
                return r;

        if (want_seccomp(c)) {
                r = container_seccomp_program(g, c, &sprog);
                if (r < 0)
                        return r;
        }

        bool nnp = c ? c->security.no_new_privileges : true;
        SpawnExecParams p = {
                .process = {
                        .argv = o->argv,
                        .cap_add = c ? c->security.capabilities_add : NULL,
                        .cap_drop = c ? c->security.capabilities_drop : NULL,
                        .allow_new_privileges = !nnp,
                        .seccomp = want_seccomp(c),
                        .seccomp_program = sprog.insns ? &sprog : NULL,
                        .stdin_fd = -EBADF,
                        .stdout_fd = -EBADF,
                        .stderr_fd = -EBADF,
                },
                .leader_pidfd = pidfd,
                .cgroup_fd = cgfd,
                .exec_fd = exec_fd,
                .tty = o->tty,
        };
        if (c)
                container_process_apply(&cp, c, &p.process);
        p.process.env = env;
        if (o->user)
                p.process.user = o->user;
        if (o->workdir)
                p.process.workdir = o->workdir;
        r = spawn_exec_in(&p, &status, &se);
        if (r < 0) {
                if (se.error != 0)
                        return log_error_errno(r, "%s: exec %s: %s: %m", name, o->argv[0], se.message);
                return log_error_errno(r, "%s: exec %s: %m", name, o->argv[0]);
        }
        return status;
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

/* ---------------------------------------------------------------------------------------------- */
/* cleanup (run by the companion unit when the scope of a detached container goes away) */

int container_cleanup(const GlobalConfig *g, const char *name) {
        _cleanup_(container_state_freep) ContainerState *s = NULL;
        _cleanup_free_ char *service = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        int lock_fd = -EBADF, r;

        if (!state_name_is_valid(name))
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
