/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* rtnetlink over libmnl: the cbox bridge, per-container veth pairs, addresses and routes inside a
 * container's network namespace, and the two sysctls cbox owns.
 *
 * Every request carries NLM_F_ACK, the socket has NETLINK_EXT_ACK enabled, sequence numbers rise,
 * the sender portid of every reply is checked, and dumps are validated attribute by attribute and
 * restarted when the kernel flags NLM_F_DUMP_INTR. Functions return 0 (or a documented positive
 * value) on success and -errno on failure; where the kernel explained the failure with an extended
 * ack, the message lands in the NetlinkError out-struct (if one is passed). Nothing here logs. */

#include <netinet/in.h>
#include <stdint.h>

#include "errmsg.h"
#include "macros.h"

/* error: -errno of the request that failed (0: none); message: the kernel's extended-ack text or our own
 * reason, NULL when none */
typedef ErrorMessage NetlinkError;

/* Frees the message and zeroes the struct; safe on a zeroed struct. */
void netlink_error_done(NetlinkError *e);

typedef struct Netlink Netlink;

/* A NETLINK_ROUTE socket in the caller's current network namespace. */
int netlink_open(Netlink **ret);
/* A NETLINK_ROUTE socket created inside the network namespace netns_fd refers to (an
 * open("/proc/PID/ns/net") fd). The calling thread setns()es into the namespace for the socket()
 * call only and returns to its own namespace before this returns (it aborts if it cannot: see
 * netlink.c). */
int netlink_open_in_netns(int netns_fd, Netlink **ret);
Netlink *netlink_free(Netlink *nl);
DEFINE_TRIVIAL_CLEANUP_FUNC(Netlink *, netlink_free);
#define _cleanup_netlink_free_ _cleanup_(netlink_freep)

/* Looks up a link by name. Returns the ifindex (> 0), or -ENODEV when no such link exists. */
int netlink_link_ifindex(Netlink *nl, const char *ifname, NetlinkError *err);

/* Sets a link up (or down). -ENODEV when missing. */
int netlink_link_set_up(Netlink *nl, const char *ifname, bool up, NetlinkError *err);

/* Deletes a link (for a veth pair, deleting one end deletes both). Returns 0 when it was deleted,
 * -ENODEV when it did not exist (callers undoing a half-done setup may treat that as success). */
int netlink_link_delete(Netlink *nl, const char *ifname, NetlinkError *err);
/* Ownership: cbox marks every link it creates for a container with an alias (IFLA_IFALIAS) naming the
 * container, and deletes or retires a link only when that alias matches — a link that merely has
 * cbox's naming pattern is someone else's. netlink_link_delete_owned() deletes ifname only when its
 * alias is `owner`: -EPERM (reason in err) when it carries another alias or none, -ENODEV when there
 * is no such link. The deletion is by the ifindex that was checked. */
int netlink_link_delete_owned(Netlink *nl, const char *ifname, const char *owner, NetlinkError *err);
/* Deletes the link with this ifindex (one found by netlink_link_dump(), its owner checked). */
int netlink_link_delete_ifindex(Netlink *nl, int ifindex, NetlinkError *err);

/* Takes a link out of use at once without deleting it: sets it down (a bridge port that is down
 * forwards nothing, and the veth peer loses its carrier) and renames it to "<prefix><ifindex>", so
 * that its name is free again. Meant for the host end of a veth whose peer's namespace is going
 * away: the kernel deletes the pair with that namespace, in its own cleanup work, whereas an
 * RTM_DELLINK makes the caller wait for an RCU barrier (rcu_barrier() in netdev_run_todo(),
 * 18-35 ms measured on 6.18) while setting a link down and renaming it cost two expedited grace
 * periods at most. prefix and the decimal ifindex must fit in IFNAMSIZ - 1 characters. Returns the
 * ifindex (> 0), or -ENODEV when there is no such link; after any other failure the link may be
 * down but still has its name. With owner non-NULL, only a link whose alias is owner is retired
 * (-EPERM otherwise, see netlink_link_delete_owned()); the alias stays with the retired link. */
int netlink_link_retire(Netlink *nl, const char *ifname, const char *prefix, const char *owner,
                        NetlinkError *err);

/* Name, kind (IFLA_INFO_KIND, e.g. "veth", "bridge"; NULL for a link without one), alias
 * (IFLA_IFALIAS; NULL when none), flags (IFF_*) and the ifindex of the master (0: none) of a link.
 * -ENODEV when there is no such link. */
typedef struct NetlinkLink {
        int ifindex;
        unsigned flags;
        int master;
        char *name;
        char *kind;
        char *alias;
} NetlinkLink;
void netlink_link_done(NetlinkLink *l);
void netlink_link_array_free(NetlinkLink *l, size_t n);
int netlink_link_get(Netlink *nl, const char *ifname, NetlinkLink *ret, NetlinkError *err);
/* Every link of the namespace with its details (a validated RTM_GETLINK dump). */
int netlink_link_dump(Netlink *nl, NetlinkLink **ret, size_t *ret_n, NetlinkError *err);

/* All link names in the namespace (a validated RTM_GETLINK dump), NULL-terminated strv. */
int netlink_link_list(Netlink *nl, char ***ret, NetlinkError *err);

/* Ensures bridge `name` exists, carries address/prefixlen (the gateway, e.g. 10.88.0.1/16) and is
 * up. A bridge we create gets a fixed, locally administered MAC derived from its name (02:cb:…), so
 * its MAC does not change as ports come and go. Idempotent: an existing bridge with that address is
 * fine (returns 0; 1 if anything had to be created or changed). An existing link of that name that
 * is not a bridge, or a bridge carrying a different IPv4 address, is refused with -EEXIST and a
 * reason in err (nothing is modified). */
int netlink_bridge_ensure(Netlink *nl, const char *name, const struct in_addr *address, unsigned prefixlen,
                          NetlinkError *err);

/* Creates a veth pair: the host end `host_ifname` enslaved to bridge `bridge` and up, the peer
 * created directly in the network namespace netns_fd (never visible on the host) and named
 * `peer_ifname` (normally "eth0"). -EEXIST if host_ifname exists already, -ENODEV if the bridge
 * does not. The peer is left down; netlink_container_configure() brings it up. When br_netfilter is
 * active in the caller's namespace (bridge-nf-call-iptables = 1) the host end gets hairpin mode:
 * a container reaching its own published port is then DNAT'd at bridge level and must be sent back
 * out of the port it came in on. With alias non-NULL the host end gets it as IFLA_IFALIAS (the owner
 * mark of netlink_link_delete_owned()); when that fails the pair is deleted again. */
int netlink_veth_create(Netlink *nl, const char *host_ifname, const char *bridge, int netns_fd,
                        const char *peer_ifname, const char *alias, NetlinkError *err);

/* Inside the namespace netns_fd: "lo" up; `ifname` gets address/prefixlen and goes up; a default
 * route via gateway (skipped when gateway is NULL). Idempotent (existing address/route are fine). */
int netlink_container_configure(int netns_fd, const char *ifname, const struct in_addr *address,
                                unsigned prefixlen, const struct in_addr *gateway, NetlinkError *err);

/* Brings only "lo" up inside the namespace (network mode "none"). */
int netlink_loopback_up(int netns_fd, NetlinkError *err);

/* Candidate host-side veth names for a container. Attempt 0: "vb-" + the name when it fits (names of
 * up to 11 characters), otherwise "vb-" + its first 6 characters + "-" + 5 hex digits of a hash of
 * the whole name. Attempt N > 0: the hashed form with the hash continued over "#N". Always <
 * IFNAMSIZ; a hashed form (15 characters) is never equal to a short form (at most 14). Hashes of
 * different names can collide, so a name is only a candidate: the caller creates the link with
 * NLM_F_EXCL and the owner alias and moves on to the next attempt when the name is taken by a link
 * that is not this container's; the name chosen is recorded in the container's state. Container
 * names must consist of [A-Za-z0-9_.-] (-EINVAL otherwise). */
int netlink_veth_name(const char *container, unsigned attempt, char **ret);

/* Writes value to /proc/sys/<key> where key is a '/' or '.' separated sysctl name such as
 * "net/ipv4/ip_forward" ("net.ipv4.ip_forward"). Writes only that file, only when the current
 * value differs. Returns 0 if unchanged, 1 if written. Refuses keys with "..", empty components
 * or anything outside net/ (-EINVAL). */
int netlink_sysctl_write(const char *key, const char *value);
/* net.ipv4.ip_forward = 1 */
int netlink_sysctl_ip_forward(void);
/* net.ipv4.conf.<bridge>.route_localnet = 1 (lets DNAT'd 127.0.0.1 traffic leave via the bridge) */
int netlink_sysctl_route_localnet(const char *bridge);
