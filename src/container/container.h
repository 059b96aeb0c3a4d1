/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* container/: the only module that composes the leaf modules into actions with side effects.
 *
 * up:   lock <run_root>/locks/NAME → compare with an existing container (same digest + running = no-op,
 *       changed = -EEXIST unless replace) → resolve the lower layers (rootfs dir or image store) →
 *       upper/work under <storage_root>/containers/NAME → state dir + exit file → open cbox-init →
 *       spawn (child waits) → StartTransientUnit cbox-NAME.scope with every limit → RegisterMachine
 *       (optional) → write state → release the child. Every step pushes its undo; a failure runs the
 *       undo stack backwards, so a failed up leaves nothing on the host.
 * down: stop the scope (KillSignal=stop_signal, TimeoutStopUSec=stop_timeout, then SIGKILL — systemd
 *       does it), drop a machined registration that outlived it, remove the state dir (and with
 *       volumes the upper/work dirs).
 *
 * Logs once, at this boundary: every error returned has been logged already (naming the container).
 *
 * Where cbox-init comes from: $CBOX_INIT, else cbox-init in the build tree beside the running cbox
 * (<builddir>/src/init/cbox-init next to <builddir>/src/cli/cbox), else CBOX_LIBEXECDIR/cbox-init. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "macros.h"
#include "state.h"

typedef enum ContainerStatus {
        CONTAINER_RUNNING,
        CONTAINER_EXITED,      /* the payload ended by itself (exit code known) */
        CONTAINER_STOPPED,     /* stopped on request, state kept */
        CONTAINER_DEAD,        /* leader gone without an exit record (killed hard) */
        CONTAINER_STARTING,    /* up is acquiring its parts (it holds the name's lock) */
        CONTAINER_INTERRUPTED, /* an up was killed acquiring them (no one holds the lock): down or gc
                                * releases what it left */
        _CONTAINER_STATUS_MAX,
} ContainerStatus;

const char *container_status_to_string(ContainerStatus s);

/* The files cbox binds over inside a container: its own /etc/resolv.conf, /etc/hosts, /etc/hostname.
 * When the image lacks one, the empty mount point for it lands in the container's upper layer: commit
 * leaves those out (they are cbox's, not the payload's). NULL-terminated, absolute paths. */
extern const char *const container_bound_etc_files[];

/* <storage_root>/containers/NAME/image, which up writes: line 1 the image ref, line 2 the manifest digest
 * its layers came from (absent in files of older versions: *ret_digest NULL). */
int container_read_image_file(const char *path, char **ret_ref, char **ret_digest);

/* Whether a writable layer (an overlay upper dir) holds only what cbox itself makes there: directories
 * that are not opaque (mount points of [[mount]] targets, their parents) and the empty mount points of
 * container_bound_etc_files. Anything else — a file, a symlink, a whiteout, an opaque directory — is
 * something the container wrote. 1 = pristine (or missing), 0 = it holds changes, -errno. */
int container_upper_is_pristine(const char *upper);

typedef struct UpOptions {
        bool foreground; /* stay, forward signals, exit with the payload's code */
        bool replace;    /* a running container with another config is replaced (down + up) */
        bool quiet;      /* do not print the name on success */
        /* with foreground: the payload gets a pty of the container's own as its controlling terminal,
         * relayed to cbox's stdin/stdout (raw mode, window size); for when stdin is a terminal */
        bool tty;
} UpOptions;

/* Runs the container. Returns < 0 on failure (logged). Detached: 0 once the payload runs (or it was
 * running unchanged). Foreground: the payload's exit code (>= 0), everything released afterwards. */
int container_up(const GlobalConfig *g, const ContainerConfig *c, const UpOptions *o);

/* What up refuses beyond what the file's own validation catches, for `cbox verify` (up calls it
 * too): security.user_namespace (not supported yet), a security.seccomp profile file that cannot be
 * read or parsed (errors name the file, the JSON path and where the key was set; skipped system
 * call names are warnings). Logs each problem; returns the first error. */
int container_verify(const ContainerConfig *c);

/* Stops and removes NAME (volumes: its upper/work too). -ENOENT (logged) when unknown. */
int container_down(const GlobalConfig *g, const char *name, bool volumes);

/* Stops NAME but keeps its state (list --all shows it stopped). */
int container_stop(const GlobalConfig *g, const char *name);

/* up of a known, not running container from the file it was started from. */
int container_start(const GlobalConfig *g, const char *name, const UpOptions *o);

/* Sends sig. The signals cbox-init forwards (TERM INT HUP USR1 USR2 QUIT WINCH) go to the container's
 * init, which passes them to the payload (so it gets them once); any other signal (KILL, STOP, CONT,
 * …) goes to every process of the scope via systemd's KillUnit. */
int container_kill(const GlobalConfig *g, const char *name, int sig);

/* Releases the network of a container whose payload has ended (ports, veth, lease), keeping its state
 * for list --all. Run by the companion unit cbox-NAME-cleanup.service (ExecStop=cbox cleanup NAME)
 * bound to the scope; a no-op when another verb holds the lock or the container still runs. */
int container_cleanup(const GlobalConfig *g, const char *name);

/* For `cbox gc`, before container_net_gc(): what killed cbox commands left. A state still marked starting
 * whose lock nobody holds (its up was killed) is released and removed as by down; a scope cbox-NAME.scope
 * of ours (Description "cbox container NAME") that no state names, for every NAME with storage under
 * <storage_root>/containers, is stopped. Returns how many were reclaimed, or the last error (logged). */
int container_reclaim(const GlobalConfig *g);

typedef struct ContainerNetGcStats {
        unsigned owners;         /* containers whose leftovers were released */
        unsigned ports_removed;  /* map elements */
        unsigned leases_removed; /* address leases */
        unsigned links_removed;  /* host-side veths */
} ContainerNetGcStats;

/* Reconciles network state with the containers that exist (for `cbox gc`): the published ports (map
 * elements of `inet cbox`), address leases (of the networks in conf.d) and the veths marked with the
 * alias "cbox:NAME" (whatever their name) of an owner cbox knows (an element's comment, a lease, a
 * containers/NAME dir, a veth's mark) of every owner with no state dir under run_root, no scope,
 * cbox@NAME.service or machine systemd still runs, and nobody holding its lock are removed. Touches nothing
 * else: no other table, lease file or link. Logs; returns the last error, 0 otherwise, and fills ret (may be
 * NULL) with what was removed. */
int container_net_gc(const GlobalConfig *g, ContainerNetGcStats *ret);

typedef struct ContainerNetReloadStats {
        unsigned networks;   /* subnets whose rules were declared again */
        unsigned containers; /* running containers whose ports were published again */
        unsigned ports;      /* their port maps */
        unsigned busy;       /* skipped: another cbox command held the container's lock */
} ContainerNetReloadStats;

/* Puts `inet cbox` back as cbox's state says it must be (`cbox network reload`, and
 * cbox-network-reload.service after nftables.service (re)loaded a ruleset that flushed it): the table's
 * skeleton and the rules of each network that a running container uses, then each running
 * container's port maps, as recorded at its up (each under its lock, taken non-blocking: a busy one
 * is left to the verb that holds it). Idempotent; touches no other table. Logs; returns the last
 * error, 0 otherwise. */
int container_net_reload(const GlobalConfig *g, ContainerNetReloadStats *ret);

/* Whether systemd still runs something of NAME (its scope or cbox@NAME.service active, or machined
 * knowing the machine), whatever its state dir says. No systemd: false. For gc, which must never drop
 * what a running container uses even when its state dir was lost. */
bool container_unit_active(const char *name);

/* cbox commit NAME REF (container-storage.c): the writable layer as a new image on its base image, under
 * the container's lock. With !quiet, warns that a running container is not snapshotted consistently.
 * Returns 0 or -errno (logged). */
typedef struct ContainerCommitResult {
        char *ref;      /* the new image's normalised reference */
        char *base;     /* the image it was committed onto */
        char *manifest; /* the new manifest digest; NULL if it cannot be read back */
} ContainerCommitResult;
void container_commit_result_done(ContainerCommitResult *r);
int container_commit(const GlobalConfig *g, const char *name, const char *new_ref, bool quiet,
                     ContainerCommitResult *ret);

/* cbox export NAME: the merged root file system as one tar, under the container's lock. Once it knows what
 * to export, it calls open_output(userdata) for the fd to write to (>= 0, still the caller's; < 0: an
 * error the callback logged, returned as it is). Returns 0 or -errno (logged). */
int container_export(const GlobalConfig *g, const char *name, int (*open_output)(void *userdata),
                     void *userdata);

/* The storage step of `cbox gc`: containers/NAME of containers that are gone, removed when their writable
 * layer holds nothing they wrote, kept (and listed) otherwise; busy names skipped. Errors are logged, the
 * walk goes on, and the last is returned. */
typedef struct ContainerStorageGcItem {
        char *name, *path;
        char *image; /* the image it kept or released, from its image file; may be NULL */
        bool removed;
} ContainerStorageGcItem;
typedef struct ContainerStorageGc {
        unsigned containers_removed, containers_kept;
        uint64_t bytes; /* allocated bytes of the removed dirs */
        ContainerStorageGcItem *items;
        size_t n_items;
} ContainerStorageGc;
void container_storage_gc_done(ContainerStorageGc *s);
int container_storage_gc(const GlobalConfig *g, ContainerStorageGc *ret);

/* The image step of `cbox gc`: image_gc() of the store, with the allocated bytes of blobs/ and layers/
 * it freed. Returns 0 or -errno (logged). */
typedef struct ContainerImageGc {
        unsigned layers_removed, blobs_removed, tmps_removed;
        uint64_t bytes;
} ContainerImageGc;
int container_image_gc(const GlobalConfig *g, ContainerImageGc *ret);

/* cbox update NAME (container-update.c): re-reads the file NAME was started from and applies what changed
 * in [resources] to the running unit. Returns 0 (result filled) or -errno (logged). */
typedef struct UpdateResult {
        char **applied;      /* "memory_max: \"128M\" → \"256M\"" for each [resources] key changed live */
        char **need_restart; /* "network.ports: … → …" for each other changed key (not applied) */
} UpdateResult;
void update_result_done(UpdateResult *r);
int container_update(const GlobalConfig *g, const char *name, UpdateResult *ret);

typedef struct ContainerInfo {
        ContainerState *state;
        ContainerStatus status;
        uint64_t uptime_usec; /* running: now − start time */
        const char *health;   /* running with [health] (foreground/service): "starting", "healthy",
                               * "unhealthy"; else NULL. Static string. */
} ContainerInfo;
void container_info_done(ContainerInfo *i);

/* What state says about NAME, with the running/exited decision made (leader pid + start time). No
 * locking, no logging: -ENOENT when unknown. */
int container_get_info(const GlobalConfig *g, const char *name, ContainerInfo *ret);

/* The range of host uids a running container's uid 0.. are (security.user_namespace), from its
 * leader's uid_map: 1 with start and count, 0 when it has no user namespace of its own, -errno when
 * the map cannot be read */
int container_user_range(pid_t leader, uint32_t *ret_start, uint32_t *ret_count);

/* The same for a verb that needs the container: logs "no such container" or why its state cannot be read,
 * and with want_running also "not running" (-ESRCH). */
int container_get_info_logged(const GlobalConfig *g, const char *name, bool want_running,
                              ContainerInfo *ret);

/* All containers (sorted by name); running only unless all. */
int container_list(const GlobalConfig *g, bool all, ContainerInfo **ret, size_t *ret_n);

typedef struct ExecOptions {
        char **argv;
        char **env; /* extra "K=V", on top of the container's env */
        const char *user;
        const char *workdir;
        bool tty;
} ExecOptions;

/* Runs argv inside running NAME; returns its exit code (>= 0) or -errno (logged). */
int container_exec(const GlobalConfig *g, const char *name, const ExecOptions *o);

/* The cgroup directory of running NAME under /sys/fs/cgroup (from its leader's /proc/PID/cgroup). */
int container_cgroup_path(const ContainerInfo *i, char **ret);

/* Where cbox-init is (see above) */
int container_find_init(char **ret);

/* Load the global configuration / a container file, printing problems as `cbox verify` does (one
 * "file:line:col: key.path: message" line each) or logging the error. */
int container_load_global(GlobalConfig **ret);
int container_load_config(const char *name_or_path, const GlobalConfig *g, ContainerConfig **ret);
