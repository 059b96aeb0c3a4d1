/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Private to container/ */

#include <sys/types.h>

#include "bus.h"
#include "config.h"
#include "seccomp-profile.h"
#include "image.h"
#include "spawn.h"
#include "state.h"
#include "uidpool.h"

/* The pool of host uids and gids that user_namespace = "auto" leases ranges of 65536 from: above
 * every normal user and the 16-bit ids (systemd's dynamic users and nspawn's ranges live in
 * 0x0000ef00..0x6fffffff too, but cbox's blocks start at 0x80000) */
#define CONTAINER_UIDPOOL_START 0x80000U
#define CONTAINER_UIDPOOL_COUNT (0x70000000U - 0x80000U)

/* Leases name's range (the one it holds: no write), for as long as its storage exists. Logs. */
int container_userns_acquire(const GlobalConfig *g, const char *name, UidRange *ret);
/* Forgets name's range (its storage is gone). Best effort, logs. */
void container_userns_forget(const GlobalConfig *g, const char *name);
/* The range name holds or is kept for (what its upper directory's files are owned by): 1 with it, 0 when
 * it has none, -errno. No logging. */
int container_userns_range(const GlobalConfig *g, const char *name, UidRange *ret);
/* What exec and health checks enter (SpawnExecParams.namespaces): the namespaces of leader that are not
 * ours, the user namespace first */
uint64_t container_enter_namespaces(pid_t leader);

typedef struct ContainerNet {
        char *network;     /* bridge mode: network name; NULL for none/host */
        char *address;     /* dotted IPv4 */
        char *host_ifname; /* host end of the veth pair */
} ContainerNet;

void container_net_done(ContainerNet *n);

/* Refuses, before anything is created, what would make container_net_setup() fail: an unknown network,
 * a static address outside the subnet or leased to another container, a host port published by another
 * container. Logs the reason naming the key and where it was set. */
int container_net_check(const GlobalConfig *g, const ContainerConfig *c);

/* Sets up the container's network for its mode; leader is its (waiting) PID 1. Logs; on failure
 * everything done is undone. */
int container_net_setup(const GlobalConfig *g, const ContainerConfig *c, pid_t leader, ContainerNet *ret);

/* The network container_net_setup() will use for c (NULL unless bridged), for the state up writes
 * before the setup. Logs. */
int container_net_plan(const GlobalConfig *g, const ContainerConfig *c, char **ret_network);

/* The same for a container whose state is gone: its ports, its veth (by name) and its lease on every
 * network defined. */
void container_net_release_owner(const GlobalConfig *g, const char *name);

/* Releases ports, veth and lease of name (best effort, each part may be gone already). network NULL:
 * nothing to do. host_ifname NULL: the veth whose alias names the container, if any. */
void container_net_release(const GlobalConfig *g, const char *name, const char *network,
                           const char *host_ifname);

/* Loads the profile file security.seccomp names (nothing for "default" and "unconfined"; ret may be
 * NULL). A broken profile is logged as "FILE: security.seccomp: 'PROFILE': JSON.PATH: what is
 * wrong"; with warn, skipped system call names are logged as warnings. */
int container_seccomp_check(const ContainerConfig *c, SeccompProfile **ret, bool warn);

/* The filter for c's processes (c NULL: the default profile and capabilities), compiled for its
 * capabilities or read from <run_root>/seccomp; an empty program for "unconfined". Logs. */
int container_seccomp_program(const GlobalConfig *g, const ContainerConfig *c, SeccompProgram *ret);
/* What every process of a container gets besides its command: the payload, `cbox exec` and [health]
 * (as `docker exec` does: the image's User, WorkingDir and Env unless the file or the command line
 * says otherwise), and the resource limits of the file. */
typedef struct ContainerProcess {
        const char *user;    /* borrowed from the config or the image config; NULL = root */
        const char *workdir; /* borrowed; NULL = "/" */
        char **env;          /* owned: the image's Env < env_files < [env] */
        SpawnRlimit rlimits[2];
} ContainerProcess;

/* Fills p from c and the image config ic (may be NULL; image names it in messages). The image's
 * WorkingDir, User and Env are held to the rules of the file's workdir, user and [env] keys. Logs. */
int container_process_init(ContainerProcess *p, const char *name, const ContainerConfig *c,
                           const ImageConfig *ic, const char *image);
void container_process_done(ContainerProcess *p);
/* user, workdir, env, rlimits, oom_score_adj of sp from p and c (p must outlive sp) */
void container_process_apply(const ContainerProcess *p, const ContainerConfig *c, SpawnProcess *sp);

/* cbox-init as spawn_open_executable() opens it (a read-only detached mount or a sealed memfd): what
 * every process that enters a container execs first. Logs. */
int container_open_init(const char *name, int *ret_fd);

/* The options image_pull() gets with the registry settings of conf.d ([registry."HOST"]): ret points
 * into *ret_regs (free it after the pull). -ENOMEM. */
int container_pull_options(const GlobalConfig *g, ImagePullOptions *ret, ImageRegistry **ret_regs);

/* ---- container.c: the read side ---- */

/* A pidfd of pid when its start time is still start_time (the process recorded), else -ESRCH */
int container_pidfd_open_checked(pid_t pid, uint64_t start_time, int *ret);
int container_pidfd_send(int pidfd, int sig);

/* The cgroup directory of cbox itself, under /sys/fs/cgroup (-ENOMEDIUM: no unified hierarchy) */
int container_own_cgroup_path(char **ret);

/* ---- container-exec.c ---- */

/* cbox's default filter unless the file says "unconfined" (c NULL: the default) */
bool container_want_seccomp(const ContainerConfig *c);

/* ---- container-unit.c: the container's systemd side ---- */

/* Connects *bus to the system bus unless it is connected already. Logs naming name. */
int container_open_bus(sd_bus **bus, const char *name);
/* "NAME: WHAT: <the bus error's message, else %m>" */
void container_log_bus_error(int r, const char *name, const char *what, const BusError *e);

/* Starts cbox-NAME-cleanup.service, bound to unit, which runs `cbox cleanup NAME` when unit goes away
 * (no_wait: its start job is not waited for). A companion of an earlier container of that name that
 * is still stopping is waited for first. Logs. */
int container_start_companion(sd_bus *bus, const char *name, const char *unit, bool no_wait);
/* Stops cbox-NAME-cleanup.service and resets it (best effort; bus NULL: nothing) */
void container_stop_companion(sd_bus *bus, const char *name);

/* Stops a cbox-NAME.scope that no state names when it is cbox's (its Description). 1 = stopped, 0 = none
 * or not ours, -errno (logged). */
int container_stop_orphan_unit(sd_bus *bus, const char *name);

/* Stops s's unit, drops its machine, releases its network, kills a leader without a unit. With
 * wait_companion, the cleanup companion is stopped too. Returns the first hard failure (logged). */
int container_release_runtime_full(const GlobalConfig *g, sd_bus *bus, const char *name,
                                   const ContainerState *s, bool wait_companion);
int container_release_runtime(const GlobalConfig *g, sd_bus *bus, const char *name, const ContainerState *s);

/* rmdir of a cgroup whose processes may still be on their way out (path NULL: nothing) */
void container_cgroup_remove(const char *path);
/* Whether systemd delegated the service's cgroup (Delegate=yes) */
bool container_unit_is_delegated(sd_bus *bus, const char *unit);

/* The [resources] of c as the limit properties of a unit (scope, service, update) */
void container_fill_limits(const ContainerConfig *c, BusScopeParams *p);
/* Whether "section.key" is one of the [resources] keys container_fill_limits() sends */
bool container_is_limit_key(const char *key);

/* ---- container-foreground.c ---- */

/* Forwards signals to init until it exits (child's pid and pidfd are reset then), with [health] running
 * meanwhile; returns its exit code (1 when [health] stopped it). Logs. */
int container_wait_foreground(const char *name, const ContainerConfig *c, SpawnChild *child,
                              const ContainerProcess *process, int state_fd, const SeccompProgram *seccomp);
/* After the foreground payload exited, under NAME's lock: releases what is left and removes the state dir
 * *state_fd names (closed), unless a down removed it meanwhile. Returns code. */
int container_finish_foreground(const GlobalConfig *g, sd_bus *bus, const char *name, int *state_fd,
                                const char *payload_cgroup, bool in_service, int code);
