/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Private to container/ */

#include <sys/types.h>

#include "config.h"
#include "seccomp-profile.h"

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

/* Releases ports, veth and lease of name (best effort, each part may be gone already). network NULL:
 * nothing to do. */
void container_net_release(const GlobalConfig *g, const char *name, const char *network,
                           const char *host_ifname);

/* Loads the profile file security.seccomp names (nothing for "default" and "unconfined"; ret may be
 * NULL). A broken profile is logged as "FILE: security.seccomp: 'PROFILE': JSON.PATH: what is
 * wrong"; with warn, skipped system call names are logged as warnings. */
int container_seccomp_check(const ContainerConfig *c, SeccompProfile **ret, bool warn);

/* The filter for c's processes (c NULL: the default profile and capabilities), compiled for its
 * capabilities or read from <run_root>/seccomp; an empty program for "unconfined". Logs. */
int container_seccomp_program(const GlobalConfig *g, const ContainerConfig *c, SeccompProgram *ret);
