/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cbox up: UpContext, its undo stack, and up_run() as one function per phase (src/container/README.md). */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "bus.h"
#include "cbox-build.h"
#include "container-internal.h"
#include "container-storage.h"
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
        /* security.user_namespace: its range (count 0: none), and the root made for it, handed over at
         * the release */
        UidRange userns;
        int root_mount_fd;

        /* what the state file records, written at every step (up_save_state) */
        char *digest, *config_abs;
        char *planned_network; /* the network the setup will use */
        uint64_t start_time;
        bool unit_recorded;
} UpContext;

static void up_context_done(UpContext *u) {
        u->store_lock_fd = safe_close(u->store_lock_fd);
        u->root_mount_fd = safe_close(u->root_mount_fd);
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
        if (!container_unit_is_delegated(u->bus, own_unit)) {
                /* e.g. systemd-run or a service of the user's own without Delegate=yes: its cgroup is not
                 * ours to split, so the container gets its own scope as from a shell */
                log_debug("%s: %s has no Delegate=yes, using a scope of its own", u->name, own_unit);
                return 0;
        }

        r = container_own_cgroup_path(&cg);
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
                container_log_bus_error(r, u->name, "failed to set the limits on its service", &e);
                bus_error_done(&e);
                return r;
        }
        free(u->unit);
        u->unit = TAKE_PTR(own_unit);
        u->in_service = true;
        return 1;
}

static void up_undo(UpContext *u) {
        BusError e = BUS_ERROR_NULL;

        if (u->started_companion)
                container_stop_companion(u->bus, u->name);
        if (u->net_set_up)
                container_net_release(u->g, u->name, u->net.network, u->net.host_ifname);
        if (u->registered_machine) {
                (void) bus_machine_terminate(u->bus, u->name, &e);
                bus_error_done(&e);
        }
        if (u->child.pidfd >= 0) {
                (void) container_pidfd_send(u->child.pidfd, SIGKILL);
                (void) waitpid(u->child.pid, NULL, 0);
        }
        if (u->payload_cgroup)
                container_cgroup_remove(u->payload_cgroup);
        if (u->started_unit) {
                (void) bus_stop_unit(u->bus, u->unit, &e);
                bus_error_done(&e);
                (void) bus_reset_failed_unit(u->bus, u->unit, &e);
                bus_error_done(&e);
        }
        u->state_fd = safe_close(u->state_fd);
        /* a range stays held while the storage its files are in does */
        if (u->userns.count > 0 && u->created_storage_dir)
                container_userns_forget(u->g, u->name);
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
        int r;

        r = container_storage_prepare(u->g, u->name, u->c->read_only, &u->storage_dir, &u->upper, &u->work,
                                      &u->created_storage_dir);
        if (r < 0)
                return r;
        if (u->image_ref && !u->created_storage_dir)
                warn_if_image_moved(u);
        if (u->image_ref)
                return container_write_image_file(u->name, u->storage_dir, u->image_ref, u->image_digest);
        return 0;
}

/* security.user_namespace: the name's range, and the upper's root owned by the range's root (the
 * root of the container is the upper's root directory) */
static int up_acquire_userns(UpContext *u) {
        int r;

        if (!u->c->security.user_namespace)
                return 0;
        r = container_userns_acquire(u->g, u->name, &u->userns);
        if (r < 0)
                return r;
        if (chown(u->upper, u->userns.start, u->userns.start) < 0)
                return log_error_errno(errno, "%s: cannot give '%s' to uid %u: %m", u->name, u->upper,
                                       u->userns.start);
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

/* The state file as far as up got: written right after the state dir is created (starting, holding
 * nothing yet) and again as each part is acquired, so that whenever cbox dies the state names everything
 * there is to release: list --all shows it "starting", down releases it, gc reclaims it. A part is
 * recorded once acquired (the unit: once started, up to then container_stop_orphan_unit() recognises it),
 * except the network, recorded before its setup: its release goes by owner name (ports, lease) and the
 * veth's alias (cbox:NAME) when its name is not recorded yet. */
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

/* What the spawn takes from the steps before it (fds, command lines, the rootfs parameters), held until
 * up_run() returns */
typedef struct UpLaunch {
        char **payload, **init_argv;
        int exec_fd, exit_fd, journal_fd, out_fd, null_fd;
        int keep[2], n_keep;
        const char *lowers[ROOTFS_LOWER_DIRS_MAX];
        size_t n_lowers;
        RootfsMount *mounts;
        size_t n_mounts;
        char **volume_paths, **devices;
        char *resolv_path, *hosts_path, *hostname_path;
} UpLaunch;

static void up_launch_done(UpLaunch *l) {
        strv_free(l->payload);
        strv_free(l->init_argv);
        safe_close(l->exec_fd);
        safe_close(l->exit_fd);
        safe_close(l->journal_fd);
        safe_close(l->out_fd);
        safe_close(l->null_fd);
        free(l->mounts);
        strv_free(l->volume_paths);
        strv_free(l->devices);
        free(l->resolv_path);
        free(l->hosts_path);
        free(l->hostname_path);
}

/* Refuses, before anything is created, what would fail later; names what the state records */
static int up_check(UpContext *u) {
        const ContainerConfig *c = u->c;
        int r;

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
        return container_net_check(u->g, c);
}

/* The lowers, the payload's command line and process, cbox-init opened */
static int up_prepare_payload(UpContext *u, UpLaunch *l) {
        int r;

        r = up_resolve_lowers(u);
        if (r < 0)
                return r;
        r = build_payload(u, &l->payload);
        if (r == -ENOEXEC)
                return log_error_errno(EINVAL, "%s: command: nothing to run (no command in the file%s)",
                                       u->name, u->image_config ? " nor in the image" : "");
        if (r < 0)
                return log_oom();
        r = container_process_init(&u->process, u->name, u->c, u->image_config, u->image_ref);
        if (r < 0)
                return r;
        return container_open_init(u->name, &l->exec_fd);
}

/* The state dir (starting), the mount point of the root (only ever mounted on in the child's namespace)
 * and the exit file init writes */
static int up_make_state_dir(UpContext *u, UpLaunch *l) {
        int r;

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
        r = state_open_exit_file(u->state_fd, &l->exit_fd);
        if (r < 0)
                return log_error_errno(r, "%s: cannot create the exit file: %m", u->name);
        l->keep[l->n_keep++] = l->exit_fd;
        return 0;
}

/* Detached: /dev/null, a native journal socket for --journal-fd and a journal stream as init's stdio.
 * Then init's command line. */
static int up_build_init(UpContext *u, UpLaunch *l) {
        int r;

        if (!u->o->foreground) {
                l->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
                if (l->null_fd < 0)
                        return log_error_errno(errno, "%s: cannot open /dev/null: %m", u->name);
                l->journal_fd = journal_native_socket_open();
                if (l->journal_fd < 0)
                        log_warning_errno(l->journal_fd,
                                          "%s: cannot connect to journald, output is discarded: %m",
                                          u->name);
                else
                        l->keep[l->n_keep++] = l->journal_fd;
                /* init's own messages (e.g. "payload not found") go to the journal as well */
                l->out_fd = journal_stream_open(u->name, LOG_INFO, false);
                if (l->out_fd < 0)
                        l->out_fd = safe_close(l->out_fd);
        }

        InitOptions io = {
                .exit_fd = l->exit_fd,
                .journal_fd = l->journal_fd,
                .name = u->name,
        };
        r = init_build_argv(&io, l->payload, &l->init_argv);
        if (r < 0)
                return log_error_errno(r, "%s: cannot build the init command line: %m", u->name);
        return 0;
}

/* /etc/resolv.conf, /etc/hosts and /etc/hostname of the container: files of ours bound over the image's
 * (written once the address is known, before the child is released and mounts them) */
static int up_plan_etc_mounts(UpContext *u, UpLaunch *l) {
        const ContainerConfig *c = u->c;

        if (c->network.mode == NETWORK_MODE_HOST || !container_want_etc_files(c, u->lowers))
                return 0;
        l->resolv_path = state_path(global_config_run_root(u->g), u->name, "resolv.conf");
        l->hosts_path = state_path(global_config_run_root(u->g), u->name, "hosts");
        if (!l->resolv_path || !l->hosts_path)
                return log_oom();
        l->mounts[l->n_mounts++] = (RootfsMount){ .type = ROOTFS_MOUNT_BIND,
                                                  .source = l->resolv_path,
                                                  .target = container_bound_etc_files[BOUND_RESOLV_CONF],
                                                  .read_only = true,
                                                  .replace_symlink = true };
        l->mounts[l->n_mounts++] = (RootfsMount){ .type = ROOTFS_MOUNT_BIND,
                                                  .source = l->hosts_path,
                                                  .target = container_bound_etc_files[BOUND_HOSTS],
                                                  .read_only = true,
                                                  .replace_symlink = true };
        u->write_etc_files = true;
        if (container_want_hostname_file(c, u->lowers)) {
                l->hostname_path = state_path(global_config_run_root(u->g), u->name, "hostname");
                if (!l->hostname_path)
                        return log_oom();
                l->mounts[l->n_mounts++] =
                        (RootfsMount){ .type = ROOTFS_MOUNT_BIND,
                                       .source = l->hostname_path,
                                       .target = container_bound_etc_files[BOUND_HOSTNAME],
                                       .read_only = true,
                                       .replace_symlink = true };
                u->write_hostname_file = true;
        }
        return 0;
}

/* The rootfs parameters (copied into the child by clone, used there): the lowers, the [[mount]]s with
 * their volumes created, the /etc files, the device nodes */
static int up_plan_mounts(UpContext *u, UpLaunch *l) {
        const ContainerConfig *c = u->c;
        int r;

        l->n_lowers = strv_length(u->lowers);
        for (size_t i = 0; i < l->n_lowers; i++)
                l->lowers[i] = u->lowers[i];
        l->mounts = new0(RootfsMount, c->n_mounts + 3);
        if (!l->mounts)
                return log_oom();
        for (size_t i = 0; i < c->n_mounts; i++) {
                const MountSpec *m = c->mounts + i;
                l->mounts[i] = (RootfsMount){
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
                        if (!vp || strv_consume(&l->volume_paths, vp) < 0)
                                return log_oom();
                        bool created = access(vp, F_OK) < 0 && errno == ENOENT;
                        r = mkdir_p(vp, 0755);
                        if (r < 0)
                                return log_error_errno(r, "%s: mount[%zu]: cannot create volume '%s': %m",
                                                       u->name, i, vp);
                        /* a volume made for a container in a user namespace is its root's (binds are
                         * not idmapped: one that exists keeps its owner) */
                        if (created && u->userns.count > 0 &&
                            chown(vp, u->userns.start, u->userns.start) < 0)
                                return log_error_errno(
                                        errno, "%s: mount[%zu]: cannot give volume '%s' to uid %u: %m",
                                        u->name, i, vp, u->userns.start);
                        l->mounts[i].source = vp;
                }
        }
        l->n_mounts = c->n_mounts;
        r = up_plan_etc_mounts(u, l);
        if (r < 0)
                return r;
        /* security.devices: the nodes, without their ":rwm" (that is for the device policy) */
        STRV_FOREACH (d, c->security.devices) {
                const char *colon = strrchr(*d, ':');
                char *node = colon ? strndup(*d, (size_t) (colon - *d)) : strdup(*d);
                if (!node)
                        return log_oom();
                if (strv_consume(&l->devices, node) < 0) {
                        free(node);
                        return log_oom();
                }
        }
        return 0;
}

/* The root for the child's user namespace, made here in the host's (rootfs_make_idmapped_root) */
static int up_make_userns_root(UpContext *u, const RootfsParams *rp) {
        _cleanup_close_ int userns_fd = -EBADF;
        char path[64], msg[512];
        int r;

        (void) snprintf(path, sizeof(path), "/proc/%d/ns/user", (int) u->child.pid);
        userns_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (userns_fd < 0)
                return log_error_errno(errno, "%s: cannot open %s: %m", u->name, path);
        r = rootfs_make_idmapped_root(rp, userns_fd, &u->root_mount_fd, msg, sizeof(msg));
        if (r < 0)
                return log_error_errno(r, "%s: container setup failed: %s: %m", u->name, msg);
        return 0;
}

/* spawn_container(): the child waits until up_release() */
static int up_spawn(UpContext *u, UpLaunch *l) {
        const ContainerConfig *c = u->c;
        int r;

        ChildSetup cs = {
                .rootfs = {
                        .target = u->root_dir,
                        .devices = (const char *const *) l->devices,
                        .n_devices = strv_length(l->devices),
                        .lower_dirs = l->lowers,
                        .n_lower_dirs = l->n_lowers,
                        .upper_dir = c->read_only ? NULL : u->upper,
                        .work_dir = c->read_only ? NULL : u->work,
                        .mounts = l->mounts,
                        .n_mounts = l->n_mounts,
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
                        .argv = l->init_argv,
                        .cap_add = c->security.capabilities_add,
                        .cap_drop = c->security.capabilities_drop,
                        .allow_new_privileges = !c->security.no_new_privileges,
                        .seccomp = container_want_seccomp(c),
                        .seccomp_program = u->seccomp.insns ? &u->seccomp : NULL,
                        .stdin_fd = u->o->foreground ? -EBADF : l->null_fd,
                        .stdout_fd = u->o->foreground ? -EBADF : (l->out_fd >= 0 ? l->out_fd : l->null_fd),
                        .stderr_fd = u->o->foreground ? -EBADF : (l->out_fd >= 0 ? l->out_fd : l->null_fd),
                },
                .namespaces = ns,
                .hostname = c->hostname ?: u->name,
                .child_setup = child_setup,
                .userdata = &cs,
                .exec_fd = l->exec_fd,
                .keep_fds = l->keep,
                .n_keep_fds = (size_t) l->n_keep,
                .tty = u->o->foreground && u->o->tty,
        };
        if (u->userns.count > 0) {
                sp.userns_start = u->userns.start;
                sp.userns_count = u->userns.count;
                sp.release_fd = &cs.rootfs.root_mount_fd; /* the child's copy of cs, set at the "go" */
                cs.rootfs.userns = true;
        }
        container_process_apply(&u->process, c, &sp.process);
        r = spawn_container(&sp, &u->child);
        if (r < 0)
                return log_error_errno(r, "%s: failed to spawn the container: %m", u->name);
        if (u->userns.count > 0) {
                r = up_make_userns_root(u, &cs.rootfs);
                if (r < 0)
                        return r;
        }
        r = proc_get_start_time(u->child.pid, &u->start_time);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the start time of pid %d: %m", u->name,
                                       (int) u->child.pid);
        r = up_save_state(u, true);
        if (r < 0)
                return r;
        FAULT_POINT("up.spawn");
        return 0;
}

/* The unit, with every limit (the child waits meanwhile): cbox-NAME.scope, or the service cbox runs under
 * (up_join_service) */
static int up_start_unit(UpContext *u) {
        const ContainerConfig *c = u->c;
        BusError e = BUS_ERROR_NULL;
        int r;

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
                if (r == -EEXIST && container_stop_orphan_unit(u->bus, u->name) > 0) {
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
                container_log_bus_error(r, u->name, "failed to start its unit", &e);
                bus_error_done(&e);
                return r;
        }
        u->started_unit = !u->in_service;
        u->unit_recorded = true;
        r = up_save_state(u, true);
        if (r < 0)
                return r;
        FAULT_POINT("up.unit");
        return 0;
}

/* RegisterMachine, optional: machined may be missing, a failure is a warning */
static void up_register_machine(UpContext *u) {
        BusError e = BUS_ERROR_NULL;
        int r;

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
}

/* The network (recorded in the state before its setup), then the /etc files that name its address */
static int up_setup_network(UpContext *u) {
        const ContainerConfig *c = u->c;
        int r;

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
                r = container_write_etc_files(u->state_fd, u->name, c, u->net.address,
                                              u->write_hostname_file);
                if (r < 0)
                        return log_error_errno(
                                r, "%s: cannot write its /etc/resolv.conf, /etc/hosts and /etc/hostname: %m",
                                u->name);
        }
        return 0;
}

/* The cleanup companion of a bridged container (container_start_companion()). Under cbox@NAME.service,
 * its ExecStopPost= does that. */
static int up_start_companion(UpContext *u) {
        int r;

        if (!u->net.network || u->in_service)
                return 0;
        r = container_start_companion(u->bus, u->name, u->unit, u->o->foreground);
        if (r < 0)
                return r;
        u->started_companion = true;
        FAULT_POINT("up.companion");
        return 0;
}

/* What the container runs with, for cbox update (a failure is a warning) */
static void up_record(UpContext *u) {
        int r;

        r = container_config_record(u->state_fd, u->c);
        if (r < 0)
                log_warning_errno(r, "%s: cannot record its configuration: %m", u->name);
        FAULT_POINT("up.config-recorded");
}

/* The child goes on: it mounts the rootfs and execs init. Then the state says running. */
static int up_release(UpContext *u) {
        const ContainerConfig *c = u->c;
        _cleanup_(error_message_done) ErrorMessage se = {};
        int r;

        r = spawn_child_release_fd(&u->child, u->root_mount_fd, &se);
        u->root_mount_fd = safe_close(u->root_mount_fd);
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
        /* with [health], READY=1 waits for the first passing check (container_wait_foreground) */
        if (u->o->foreground && getenv("NOTIFY_SOCKET"))
                (void) sd_notifyf(0, "%sSTATUS=Container %s running%s\nMAINPID=%d",
                                  c->health.enabled ? "" : "READY=1\n", u->name,
                                  c->health.enabled ? ", health check starting" : "", (int) getpid());
        return 0;
}

/* The phases of up in order (src/container/README.md); each sets what up_undo() reverses */
static int up_run(UpContext *u) {
        _cleanup_(up_launch_done) UpLaunch l = {
                .exec_fd = -EBADF,
                .exit_fd = -EBADF,
                .journal_fd = -EBADF,
                .out_fd = -EBADF,
                .null_fd = -EBADF,
        };
        int r;

        r = up_check(u);
        if (r < 0)
                return r;
        r = up_prepare_payload(u, &l);
        if (r < 0)
                return r;
        r = container_open_bus(&u->bus, u->name);
        if (r < 0)
                return r;
        r = up_prepare_storage(u);
        if (r < 0)
                return r;
        u->store_lock_fd = safe_close(u->store_lock_fd); /* the image file keeps the layers now */
        FAULT_POINT("up.storage");
        r = up_acquire_userns(u);
        if (r < 0)
                return r;
        r = up_make_state_dir(u, &l);
        if (r < 0)
                return r;
        r = up_build_init(u, &l);
        if (r < 0)
                return r;
        r = up_plan_mounts(u, &l);
        if (r < 0)
                return r;
        r = up_spawn(u, &l);
        if (r < 0)
                return r;
        r = up_start_unit(u);
        if (r < 0)
                return r;
        up_register_machine(u);
        r = up_setup_network(u);
        if (r < 0)
                return r;
        r = up_start_companion(u);
        if (r < 0)
                return r;
        up_record(u);
        return up_release(u);
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

        r = container_open_bus(&u->bus, u->name);
        if (r < 0)
                return r;
        r = container_release_runtime(u->g, u->bus, u->name, i.state);
        if (r < 0)
                return r;
        r = state_dir_remove(global_config_run_root(u->g), u->name);
        if (r < 0)
                return log_error_errno(r, "%s: cannot remove the old state: %m", u->name);
        return 0;
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
                .root_mount_fd = -EBADF,
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
        int code = container_wait_foreground(c->name, c, &u.child, &u.process, u.state_fd, &u.seccomp);
        if (code < 0)
                return code;
        /* Not blocking: a `cbox down` holding the lock may be stopping our own service, waiting for us to
         * exit; it releases everything itself then. */
        r = state_lock(global_config_run_root(g), c->name, false, &lock_fd);
        if (r == -EBUSY) {
                if (u.payload_cgroup)
                        container_cgroup_remove(u.payload_cgroup);
                return code;
        }
        if (r < 0)
                return log_error_errno(r, "%s: cannot lock: %m", c->name);
        r = container_finish_foreground(g, u.bus, c->name, &u.state_fd, u.payload_cgroup, u.in_service,
                                        code);
        (void) state_unlock(global_config_run_root(g), c->name, lock_fd, true);
        return r;
}
