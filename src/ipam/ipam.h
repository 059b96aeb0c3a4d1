/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* IPv4 address leases per network: a bitmap plus an owner table, persisted under
 * <run_dir>/<network>/ (e.g. /run/cbox/ipam/cbox0/) and guarded by flock() on a lock file there, so
 * concurrent cbox processes never hand out the same address. The network address, the gateway and
 * the broadcast address are never handed out. Every lease records its owner (a container name) so
 * leases can be released by name, and crash recovery/gc can list them. Nothing here logs.
 *
 * Files: "lock" (flock target), "bitmap" (header + one bit per host address), "leases" (text,
 * one "ADDRESS OWNER" line per lease). Both data files are replaced atomically. */

#include <netinet/in.h>
#include <stddef.h>

#include "macros.h"

typedef struct IpamNetwork {
        const char *run_dir;    /* directory holding one subdirectory per network, e.g. /run/cbox/ipam */
        const char *name;       /* network name, e.g. "cbox0": [A-Za-z0-9_.-], no "." or ".." */
        struct in_addr subnet;  /* network address (host bits are ignored) */
        unsigned prefixlen;     /* 8..30 */
        struct in_addr gateway; /* never handed out; INADDR_ANY = first host address */
} IpamNetwork;

typedef struct IpamLease {
        struct in_addr address;
        char *owner;
} IpamLease;

void ipam_lease_array_free(IpamLease *l, size_t n);

/* Allocates the next free address (rotating after the last one handed out) for owner.
 * -ENOSPC when the network is full. -EBUSY when the persisted state belongs to a different subnet
 * and still holds leases (the network was reconfigured while in use). */
int ipam_allocate(const IpamNetwork *net, const char *owner, struct in_addr *ret);

/* Reserves a specific (static) address for owner. -EADDRINUSE when another owner holds it (the
 * same owner holding it already is fine, returns 0), -EADDRNOTAVAIL when it is outside the subnet
 * or is the network, gateway or broadcast address. */
int ipam_reserve(const IpamNetwork *net, const char *owner, const struct in_addr *address);

/* Releasing and listing also work when the network was reconfigured while leases exist (so the
 * leases of the old configuration can still be released by owner); allocation and reservation
 * refuse with -EBUSY until the last of them is gone. */

/* Releases one address. -ENOENT when not leased. */
int ipam_release(const IpamNetwork *net, const struct in_addr *address);

/* Releases every lease of owner; returns how many were released (0 is not an error). */
int ipam_release_owner(const IpamNetwork *net, const char *owner);

/* Lists all leases (sorted by address). */
int ipam_list(const IpamNetwork *net, IpamLease **ret, size_t *ret_n);

/* For a network whose "leases" file does not parse (-EBADMSG from the calls above; a damaged bitmap is
 * rebuilt from the leases by every call, silently): rewrites both files from the lines of "leases" that
 * still parse plus known[] (the leases the caller knows of, e.g. from the containers' state; where an
 * address is leased to another owner, known[] wins). Returns the number of leases afterwards. */
int ipam_rebuild(const IpamNetwork *net, const IpamLease *known, size_t n_known);
