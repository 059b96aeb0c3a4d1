/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* nftables over libnftnl + libmnl. cbox owns exactly one table, `inet cbox`, and never touches any
 * other. Skeleton (created idempotently, re-created after someone flushed it):
 *
 *   set subnets      { type ipv4_addr; flags interval }                  container subnets
 *   set masqueraded  { type ipv4_addr; flags interval }                  those with masquerade = true
 *   set bridges      { type ifname }                                     cbox's bridges
 *   map ports        { type inet_proto . inet_service : ipv4_addr . inet_service }
 *   map portranges   { type inet_proto . inet_service : ipv4_addr; flags interval }
 *                                                      same-numbered ranges, e.g. 8000-8010:8000-8010
 *   map addrports    { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service }
 *                                                      binds to one host address, e.g. 127.0.0.1:5353:53/udp
 *   chain dnat       (regular) dnat via addrports, then ports, then portranges
 *   chain prerouting (nat, dstnat) fib daddr type local → jump dnat
 *   chain output     (nat, dstnat) fib daddr type local → jump dnat        (localhost:PORT works)
 *   chain postrouting (nat, srcnat)
 *        ct status dnat, ip saddr 127.0.0.0/8           → masquerade      (localhost → container)
 *        ct status dnat, ip saddr/daddr @subnets        → masquerade      (hairpin)
 *        ip saddr @masqueraded, ip daddr != @subnets     → masquerade      (outbound)
 *   chain forward    (filter, policy accept) ip saddr @subnets accept, ip daddr @subnets accept
 *   chain localnet   (filter, prerouting, priority raw -300)
 *        iifname @bridges ip daddr 127.0.0.0/8 drop  (CVE-2020-8558: route_localnet on a bridge lets a
 *        container's frame to 127.0.0.1 via the gateway's MAC reach the host's loopback services; this
 *        runs before conntrack and before the dnat of published ports. localhost:PORT from the host
 *        still works: that traffic enters on lo, and the container's replies come back to the
 *        gateway address — masqueraded — and become 127.0.0.1 only after this hook.)
 *
 * Every change is one batch (NFNL_MSG_BATCH_BEGIN … END). Before each change the rules of our
 * table are counted (a dump of `inet cbox` rules only, ~10 objects): when the table is missing or
 * damaged ("nft flush ruleset", "nft flush table"), the same batch re-declares table, chains and
 * sets and flushes and re-adds our rules, so the next change repairs everything atomically; when
 * intact, the batch carries only the change (re-declaring base chains would cost ~8 ms). Published
 * ports are map elements (never one rule per port); each element carries its owner (the container
 * name) as its comment, so removal deletes exactly that owner's elements. Duplicate checks read the
 * elements of the three port maps (not the ruleset): ~0.7 µs per published port.
 * Functions return -errno; the kernel's extended-ack message (or our reason) goes to NftError.
 * Concurrency without locks: a change that depends on what was read (duplicate check, removal
 * by owner) sends its batch with the ruleset generation it read (NFNL_BATCH_GENID); if anything was
 * committed in between, the kernel refuses the batch (-ERESTART) and the operation re-reads and
 * retries (jittered backoff until a 30 s deadline, then -EBUSY; a dump interrupted by a concurrent
 * commit, -EAGAIN, likewise: callers never retry). So concurrent `cbox up`s publishing
 * clashing ports end with exactly one winner, even across the maps (any address vs 127.0.0.1).
 * Nothing here logs. */

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "errmsg.h"
#include "macros.h"

typedef ErrorMessage NftError; /* -errno, and the kernel's extended-ack text or our own reason */

void nft_error_done(NftError *e);

/* One published port or port range, already parsed and validated by config/ (same shape as
 * config's PortMap). */
typedef struct NftPortMap {
        struct in_addr host_address;                 /* INADDR_ANY: every local address */
        uint16_t host_port, host_port_end;           /* inclusive; equal for a single port */
        uint16_t container_port, container_port_end; /* same length as the host range */
        uint8_t protocol;                            /* IPPROTO_TCP or IPPROTO_UDP */
} NftPortMap;

/* One element as found in the maps (ranges of the portranges map come back as one entry;
 * expanded ranges come back one entry per port). */
typedef struct NftPortEntry {
        struct in_addr host_address; /* INADDR_ANY for the ports/portranges maps */
        uint16_t host_port, host_port_end;
        uint8_t protocol;
        struct in_addr container_address;
        uint16_t container_port; /* for portranges: equal to host_port (same-numbered range) */
        char *owner;             /* comment of the element; NULL if none */
} NftPortEntry;

void nft_port_entry_array_free(NftPortEntry *e, size_t n);

/* Creates the table and its skeleton if missing or damaged (idempotent; one batch). */
int nft_table_ensure(NftError *err);
/* Deletes the whole `inet cbox` table (for tests and "cbox gc" when no network is left).
 * -ENOENT if it did not exist. */
int nft_table_delete(NftError *err);

/* Adds a container subnet (e.g. 10.88.0.0/16) to @subnets (hairpin, forward accept) and, when
 * masquerade is true, to @masqueraded (outbound traffic from it is masqueraded); with masquerade false
 * it is taken out of @masqueraded if present. bridge (may be NULL) is added to @bridges: traffic to
 * 127.0.0.0/8 arriving on it is dropped. Idempotent; one batch. */
int nft_subnet_add(const struct in_addr *subnet, unsigned prefixlen, bool masquerade, const char *bridge,
                   NftError *err);
/* Removes a subnet from both sets (one batch); -ENOENT when it was not in @subnets. */
int nft_subnet_remove(const struct in_addr *subnet, unsigned prefixlen, NftError *err);

/* Publishes n port maps of owner to container_address in one atomic batch. Refused with
 * -EADDRINUSE (err names the port and its current owner) before anything is created when any
 * host port (for the same protocol, overlapping ranges, any vs. specific host address) is taken.
 * Ranges whose host and container numbers match become one interval element; shifted ranges are
 * expanded into one element per port (at most 65535, still one batch). */
int nft_ports_add(const char *owner, const struct in_addr *container_address, const NftPortMap *ports,
                  size_t n, NftError *err);

/* The duplicate check of nft_ports_add() alone, creating nothing: validates the port maps and
 * refuses (-EADDRINUSE, err names port and owner) host ports published by others. Elements of
 * `owner` itself (leftovers of a crashed run) are not counted. Lets container/ refuse a clash before
 * it leases an address or creates a veth. */
int nft_ports_check(const char *owner, const NftPortMap *ports, size_t n, NftError *err);

/* Deletes exactly the elements whose owner is `owner` (one batch). Returns how many were removed. */
int nft_ports_remove_owner(const char *owner, NftError *err);

/* Lists all published ports (the three maps). Missing table → 0 entries. */
int nft_ports_list(NftPortEntry **ret, size_t *ret_n, NftError *err);

/* ---- the administrator's forward chains (nft-foreign.c) ----
 * A packet forwarded through the host must be accepted by every base chain on the forward hook, not
 * only by ours: a chain of the administrator's with policy drop (hardened hosts, iptables-nft under
 * Docker) or ending in a drop or reject (firewalld) silently drops the containers' outbound traffic
 * and the published ports reached from other hosts. cbox reads every table to say so, and changes
 * another table only in the one chain conf.d's forward_accept_chain names (the administrator's
 * opt-in): there it keeps, at the head of the chain, `iifname BRIDGE accept` and
 * `oifname BRIDGE accept` for each of its bridges, each with the comment "cbox: accept from BRIDGE"
 * or "cbox: accept to BRIDGE", the mark by which it finds and deletes them again. */

typedef struct NftChainRef {
        uint32_t family; /* NFPROTO_IPV4 ("ip") or NFPROTO_INET ("inet") */
        char table[256], chain[256];
} NftChainRef;

/* "FAMILY TABLE CHAIN" with FAMILY ip or inet and names of [A-Za-z0-9_.-] → ret; else -EINVAL. */
int nft_chain_ref_parse(const char *s, NftChainRef *ret);

/* The base chains on the forward hook of ip and inet tables other than `inet cbox` that drop what
 * they do not accept (policy drop, or a last rule that only counts, logs and drops or rejects) and
 * have no rule that accepts by the interface name of one of bridges, each as
 * "FAMILY TABLE CHAIN (why)"; skip (may be NULL) is left out. *ret NULL when there is none. */
int nft_forward_blockers(const NftChainRef *skip, char *const *bridges, char ***ret, NftError *err);

/* Makes the accept rules of bridges exist in chain (NULL: nowhere). prune false: reads chain alone
 * and adds what is missing (cheap, for up); prune true: reads every table and also deletes cbox's
 * rules elsewhere, for other bridges, and duplicates (network reload, gc: an opt-in withdrawn or
 * moved). One batch against the ruleset generation read, retried when another change got in first.
 * Returns the number of rules added and deleted; -ENOENT (err names it) when chain does not exist. */
int nft_forward_accept_sync(const NftChainRef *chain, char *const *bridges, bool prune, NftError *err);
