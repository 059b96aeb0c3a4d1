/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Private to container/ */

#include <sys/types.h>

#include "config.h"
#include "seccomp-profile.h"
#include "image.h"
#include "spawn.h"

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
