/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Networking of a container, composed from netlink/, ipam/ and nft/:
 *   bridge:  a lease from the network's IPAM (static address reserved, else the next free one), the
 *            bridge ensured with the gateway address, ip_forward and route_localnet for that bridge,
 *            a veth pair whose peer is created directly in the container's namespace as eth0 with
 *            the address and a default route, the subnet in the `inet cbox` sets, and the published
 *            ports as map elements owned by the container, in one batch.
 *   none:    only "lo", brought up.
 *   host:    nothing (no network namespace of its own).
 * Release undoes the bridge steps for one container by name (each step tolerates "already gone").
 * It does not delete the host end of the veth: the container's network namespace is going away (its
 * processes are dead or being killed), and the kernel deletes the pair with it, in its own cleanup
 * work; an RTM_DELLINK would make cbox wait for an RCU barrier (18-35 ms measured, most of what
 * bridge networking added to a start-to-exit). Release sets the host end down and renames it to
 * "vbx-<ifindex>" instead (0.2 ms): the bridge port forwards nothing, the container's name is free
 * for its next veth at once, and a pair whose namespace someone else still holds (nsenter, a bind
 * mount) stays isolated until that ends or `cbox gc` deletes it. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "config-values.h"
#include "container-internal.h"
#include "container.h"
#include "fd-util.h"
#include "fileio.h"
#include "ipam.h"
#include "log.h"
#include "netlink.h"
#include "nft.h"
#include "string-util.h"
#include "toml.h"

/* the name of a retired host end: "vbx-" + its ifindex (see container_net_release) */
#define VETH_RETIRED_PREFIX "vbx-"

/* Ownership of links: the host end of a container's veth carries the alias "cbox:NAME" from its
 * creation on. Release, the retire path, a re-up's cleanup of a leftover and gc touch a link only
 * when its alias names the container in question: a link that merely has cbox's naming pattern (a
 * look-alike of someone else's, or another container's veth whose hashed name collides) is left
 * alone. Its name is chosen at up (netlink_veth_name() attempts, first one free or ours) and
 * recorded in the state (HOST_IFNAME), so release never recomputes it. */
#define VETH_OWNER_PREFIX "cbox:"
#define VETH_NAME_ATTEMPTS 16U

static char *veth_owner(const char *name) {
        return strjoin(VETH_OWNER_PREFIX, name);
}

/* the container a link's alias names, NULL if none of ours */
static const char *veth_owner_of(const char *alias) {
        const char *o = alias ? startswith(alias, VETH_OWNER_PREFIX) : NULL;
        return o && container_name_is_valid(o) ? o : NULL;
}

void container_net_done(ContainerNet *n) {
        n->network = mfree(n->network);
        n->address = mfree(n->address);
        n->host_ifname = mfree(n->host_ifname);
}

static int ipam_network(const GlobalConfig *g, const NetworkDef *nd, char **ret_dir, IpamNetwork *ret) {
        char *dir = NULL;
        int r;

        r = state_ipam_dir(global_config_run_root(g), &dir);
        if (r < 0)
                return r;
        r = mkdir_p(dir, 0755);
        if (r < 0) {
                free(dir);
                return r;
        }
        *ret = (IpamNetwork){
                .run_dir = dir,
                .name = nd->name,
                .subnet = nd->subnet,
                .prefixlen = nd->prefixlen,
                .gateway = nd->gateway,
        };
        *ret_dir = dir;
        return 0;
}

/* A leases file that does not parse (-EBADMSG) would block every allocation on the network for good:
 * rebuilt from its lines that still parse plus the address each container's state records on it
 * (ipam_rebuild()). Returns 0 when rebuilt, so that the caller retries once; logs. */
static int ipam_rebuild_from_states(const GlobalConfig *g, const IpamNetwork *in, const char *who) {
        _cleanup_strv_free_ char **names = NULL;
        IpamLease *known = NULL;
        size_t n = 0;
        int r;

        log_warning("%s: the address leases of network '%s' cannot be read, rebuilding them from the "
                    "containers' state",
                    who, in->name);
        r = state_list(global_config_run_root(g), &names);
        if (r < 0)
                return log_error_errno(r, "%s: cannot list the containers: %m", who);
        STRV_FOREACH (name, names) {
                _cleanup_(container_state_freep) ContainerState *s = NULL;
                struct in_addr a;

                if (state_load_by_name(global_config_run_root(g), *name, &s) < 0 ||
                    !streq_ptr(s->network, in->name) || !s->address ||
                    inet_pton(AF_INET, s->address, &a) != 1)
                        continue;
                IpamLease *k = realloc(known, (n + 1) * sizeof(IpamLease));
                if (!k) {
                        ipam_lease_array_free(known, n);
                        return log_oom();
                }
                known = k;
                known[n] = (IpamLease){ .address = a, .owner = TAKE_PTR(s->name) };
                n++;
        }
        r = ipam_rebuild(in, known, n);
        ipam_lease_array_free(known, n);
        if (r < 0)
                return log_error_errno(r, "%s: cannot rebuild the address leases of network '%s': %m", who,
                                       in->name);
        log_info("%s: network '%s' has %d lease(s) again", who, in->name, r);
        return 0;
}

static void log_nl(int r, const char *name, const char *what, const NetlinkError *e) {
        if (e->message)
                log_error_errno(r, "%s: %s: %s", name, what, e->message);
        else
                log_error_errno(r, "%s: %s: %m", name, what);
}

/* "FILE:LINE: KEY" for an error message, or just KEY for a built-in default */
static char *key_where(const ContainerConfig *c, const ConfigOrigin *o, const char *key) {
        if (!o || !o->file)
                o = container_config_origin(c, key);
        if (o && o->file)
                return strprintf("%s:%u: %s", o->file, o->line, key);
        return strdup(key);
}

static void port_map_to_nft(const PortMap *p, NftPortMap *ret) {
        *ret = (NftPortMap){
                .host_address = p->host_address,
                .host_port = p->host_port,
                .host_port_end = p->host_port_end,
                .container_port = p->container_port,
                .container_port_end = p->container_port_end,
                .protocol = p->protocol,
        };
}

/* nft/ retries its optimistic changes itself, until a deadline (nft-internal.h): none here */
static int subnet_add(const NetworkDef *nd, NftError *fe) {
        return nft_subnet_add(&nd->subnet, nd->prefixlen, nd->masquerade, nd->bridge ?: nd->name, fe);
}

int container_net_check(const GlobalConfig *g, const ContainerConfig *c) {
        _cleanup_free_ char *ipam_dir = NULL;
        _cleanup_free_ NftPortMap *pm = NULL;
        const NetworkDef *nd;
        const char *netname;
        NftError fe = {};
        IpamNetwork in;
        int r;

        if (c->network.mode != NETWORK_MODE_BRIDGE)
                return 0;

        /* config validation refuses these already; the conf.d may have changed since */
        netname = c->network.network ?: g->default_network;
        nd = global_config_find_network(g, netname);
        if (!nd) {
                _cleanup_free_ char *k = key_where(c, NULL, "network.network");
                return log_error_errno(ENOENT, "%s: %s: no network '%s' is defined in conf.d", c->name,
                                       k ?: "network.network", strna(netname));
        }

        if (c->network.address_set) {
                _cleanup_free_ char *k = key_where(c, NULL, "network.address");
                char abuf[INET_ADDRSTRLEN], sbuf[INET_ADDRSTRLEN];
                uint32_t mask = UINT32_MAX << (32 - nd->prefixlen);
                uint32_t a = ntohl(c->network.address.s_addr), net = ntohl(nd->subnet.s_addr) & mask;
                IpamLease *leases = NULL;
                size_t n_leases = 0;

                (void) inet_ntop(AF_INET, &c->network.address, abuf, sizeof(abuf));
                (void) inet_ntop(AF_INET, &nd->subnet, sbuf, sizeof(sbuf));
                if ((a & mask) != net || a == net || a == (net | ~mask) ||
                    c->network.address.s_addr == nd->gateway.s_addr)
                        return log_error_errno(EADDRNOTAVAIL,
                                               "%s: %s: %s is not a host address of network '%s' (%s/%u, "
                                               "gateway and broadcast excluded)",
                                               c->name, k ?: "network.address", abuf, nd->name, sbuf,
                                               nd->prefixlen);

                r = ipam_network(g, nd, &ipam_dir, &in);
                if (r >= 0)
                        r = ipam_list(&in, &leases, &n_leases);
                if (r < 0)
                        return log_error_errno(r, "%s: cannot read the address leases of '%s': %m", c->name,
                                               nd->name);
                for (size_t i = 0; i < n_leases; i++)
                        if (leases[i].address.s_addr == c->network.address.s_addr &&
                            !streq_ptr(leases[i].owner, c->name)) {
                                log_error("%s: %s: %s is leased to container '%s'", c->name,
                                          k ?: "network.address", abuf, strna(leases[i].owner));
                                ipam_lease_array_free(leases, n_leases);
                                return -EADDRINUSE;
                        }
                ipam_lease_array_free(leases, n_leases);
        }

        if (c->network.n_ports == 0)
                return 0;
        pm = new0(NftPortMap, c->network.n_ports);
        if (!pm)
                return log_oom();
        for (size_t i = 0; i < c->network.n_ports; i++)
                port_map_to_nft(c->network.ports + i, pm + i);
        r = nft_ports_check(c->name, pm, c->network.n_ports, &fe);
        if (r == -EADDRINUSE) {
                /* name the entry: check them one by one (only on this error path) */
                for (size_t i = 0; i < c->network.n_ports; i++) {
                        NftError fe1 = {};
                        if (nft_ports_check(c->name, pm + i, 1, &fe1) == -EADDRINUSE) {
                                _cleanup_free_ char *key = strprintf("network.ports[%zu]", i);
                                _cleanup_free_ char *k =
                                        key ? key_where(c, &c->network.ports[i].origin, key) : NULL;
                                log_error("%s: %s: %s", c->name, k ?: "network.ports",
                                          fe1.message ?: strerror(EADDRINUSE));
                                nft_error_done(&fe1);
                                nft_error_done(&fe);
                                return -EADDRINUSE;
                        }
                        nft_error_done(&fe1);
                }
        }
        if (r < 0) {
                _cleanup_free_ char *k = key_where(c, NULL, "network.ports");
                log_error_errno(r, "%s: %s: %s", c->name, k ?: "network.ports", fe.message ?: strerror(-r));
                nft_error_done(&fe);
                return r;
        }
        nft_error_done(&fe);
        return 0;
}

/* Every bridge of conf.d's networks, for the accept rules of the administrator's forward chain */
static char **network_bridges(const GlobalConfig *g) {
        char **l = NULL;
        for (size_t i = 0; i < g->n_networks; i++)
                if (strv_extend(&l, g->networks[i].bridge ?: g->networks[i].name) < 0)
                        return strv_free(l);
        return l ?: new0(char *, 1);
}

/* The administrator's forward chains (nft.h). With forward_accept_chain (the opt-in), keep cbox's
 * accept rules for every bridge there; then warn of every other chain that drops the containers'
 * forwarded traffic. Never fails its caller: the firewall is the administrator's; a container whose
 * forwarded traffic is dropped still runs, and the warning says why and what to set. prune (network
 * reload, gc): also delete cbox's rules where they are no longer wanted. */
static void container_net_check_forward(const GlobalConfig *g, const char *who, bool prune) {
        _cleanup_strv_free_ char **bridges = network_bridges(g), **blockers = NULL;
        NftChainRef ref;
        bool have_ref = false;
        NftError fe = {};
        int r;

        if (!bridges) {
                (void) log_oom();
                return;
        }
        if (g->forward_accept_chain) {
                have_ref = nft_chain_ref_parse(g->forward_accept_chain, &ref) >= 0;
                if (!have_ref)
                        log_warning("%s: forward_accept_chain '%s' is not \"ip|inet TABLE CHAIN\"", who,
                                    g->forward_accept_chain);
        }
        if (have_ref || prune) {
                r = nft_forward_accept_sync(have_ref ? &ref : NULL, bridges, prune, &fe);
                if (r < 0)
                        log_warning(
                                "%s: forward_accept_chain '%s': cannot keep cbox's accept rules there: %s",
                                who, strna(g->forward_accept_chain), fe.message ?: strerror(-r));
                nft_error_done(&fe);
        }
        r = nft_forward_blockers(have_ref ? &ref : NULL, bridges, &blockers, &fe);
        if (r < 0)
                log_debug("%s: cannot read the forward chains: %s", who, fe.message ?: strerror(-r));
        nft_error_done(&fe);
        STRV_FOREACH (b, blockers) {
                const char *paren = strstr(*b, " (");
                log_warning(
                        "%s: nftables chain %s drops forwarded traffic it does not accept: the containers' "
                        "outbound traffic and their published ports reached from other hosts are dropped "
                        "there. Accept cbox's bridges in it, or let cbox do so with forward_accept_chain = "
                        "\"%.*s\" in /etc/cbox/conf.d/ (cbox.toml(5))",
                        who, *b, paren ? (int) (paren - *b) : (int) strlen(*b), *b);
        }
}

int container_net_plan(const GlobalConfig *g, const ContainerConfig *c, char **ret_network) {
        _cleanup_free_ char *network = NULL;

        if (c->network.mode == NETWORK_MODE_HOST || c->network.mode == NETWORK_MODE_NONE) {
                *ret_network = NULL;
                return 0;
        }
        const NetworkDef *nd = global_config_find_network(g, c->network.network ?: g->default_network);
        if (nd) { /* unknown: container_net_setup() says so */
                network = strdup(nd->name);
                if (!network)
                        return log_oom();
        }
        *ret_network = TAKE_PTR(network);
        return 0;
}

/* 1. the address. We hold NAME's lock: a lease owned by NAME is a leftover of a crashed run. Logs. */
static int net_lease_address(const GlobalConfig *g, const ContainerConfig *c, const NetworkDef *nd,
                             IpamNetwork *in, struct in_addr *ret) {
        struct in_addr addr;
        char abuf[INET_ADDRSTRLEN];
        int r;

        r = ipam_release_owner(in, c->name);
        for (unsigned attempt = 0;; attempt++) {
                if (r != -EBADMSG) {
                        if (c->network.address_set) {
                                addr = c->network.address;
                                r = ipam_reserve(in, c->name, &addr);
                        } else
                                r = ipam_allocate(in, c->name, &addr);
                }
                if (r != -EBADMSG || attempt > 0)
                        break;
                r = ipam_rebuild_from_states(g, in, c->name);
                if (r < 0)
                        return r;
                r = ipam_release_owner(in, c->name);
        }
        if (r == -EADDRINUSE) {
                _cleanup_free_ char *k = key_where(c, NULL, "network.address");
                return log_error_errno(r, "%s: %s: %s is leased to another container", c->name,
                                       k ?: "network.address",
                                       inet_ntop(AF_INET, &c->network.address, abuf, sizeof(abuf)));
        }
        if (r < 0)
                return log_error_errno(r, "%s: cannot lease an address on '%s': %m", c->name, nd->name);
        *ret = addr;
        return 0;
}

/* The first candidate name that is free, or taken by a leftover of a crashed run of this very container
 * (its alias says so; we hold NAME's lock), which is deleted. A link of that name that is not ours
 * (another container's whose hashed name collides, anyone's look-alike) is left alone: the next
 * candidate. NLM_F_EXCL settles a race with a concurrent up. Logs. */
static int net_create_veth(Netlink *nl, const ContainerConfig *c, const NetworkDef *nd, int netns_fd,
                           const char *owner, char **ret_host_ifname) {
        NetlinkError ne = {};
        int r;

        for (unsigned i = 0;; i++) {
                _cleanup_free_ char *name = NULL;

                netlink_error_done(&ne);
                r = i < VETH_NAME_ATTEMPTS ? netlink_veth_name(c->name, i, &name) : -EEXIST;
                if (r < 0) {
                        log_error_errno(r, "%s: cannot name its veth (%u names taken): %m", c->name, i);
                        break;
                }
                r = netlink_link_delete_owned(nl, name, owner, NULL);
                if (r == -EPERM) {
                        log_debug("%s: link '%s' is not ours, trying another name", c->name, name);
                        continue;
                }
                r = netlink_veth_create(nl, name, nd->bridge ?: nd->name, netns_fd, "eth0", owner, &ne);
                if (r == -EEXIST)
                        continue;
                if (r < 0) {
                        log_nl(r, c->name, "cannot create its veth pair", &ne);
                        break;
                }
                *ret_host_ifname = TAKE_PTR(name);
                break;
        }
        netlink_error_done(&ne);
        return r;
}

/* The bridge with the gateway address and forwarding, the veth pair (n->host_ifname once it exists),
 * eth0 configured in the container. Logs. */
static int net_setup_links(Netlink *nl, const ContainerConfig *c, const NetworkDef *nd, int netns_fd,
                           const char *owner, const struct in_addr *addr, ContainerNet *n) {
        NetlinkError ne = {};
        int r;

        r = netlink_bridge_ensure(nl, nd->bridge ?: nd->name, &nd->gateway, nd->prefixlen, &ne);
        if (r < 0) {
                log_nl(r, c->name, "cannot set up the bridge", &ne);
                goto finish;
        }
        r = netlink_sysctl_ip_forward();
        if (r >= 0)
                r = netlink_sysctl_route_localnet(nd->bridge ?: nd->name);
        if (r < 0) {
                log_error_errno(r, "%s: cannot enable forwarding: %m", c->name);
                goto finish;
        }
        r = net_create_veth(nl, c, nd, netns_fd, owner, &n->host_ifname);
        if (r < 0)
                goto finish;
        r = netlink_container_configure(netns_fd, "eth0", addr, nd->prefixlen, &nd->gateway, &ne);
        if (r < 0)
                log_nl(r, c->name, "cannot configure eth0 in the container", &ne);
finish:
        netlink_error_done(&ne);
        return r;
}

/* 2. nftables: the subnet, then this container's ports in one batch. No nft_table_ensure() first: every
 * change of nft/ (nft_subnet_add() too) counts the table's rules and re-declares a missing or damaged
 * skeleton in its own batch; a separate ensure cost a socket, a dump and an empty batch more (~0.25 ms).
 * Logs. */
static int net_setup_nft(const GlobalConfig *g, const ContainerConfig *c, const NetworkDef *nd,
                         const struct in_addr *addr) {
        NftError fe = {};
        int r;

        r = subnet_add(nd, &fe);
        if (r < 0) {
                log_error_errno(r, "%s: cannot set up nftables: %s", c->name, fe.message ?: strerror(-r));
                goto finish;
        }
        container_net_check_forward(g, c->name, false);
        if (c->network.n_ports > 0) {
                _cleanup_free_ NftPortMap *pm = new0(NftPortMap, c->network.n_ports);
                if (!pm) {
                        r = log_oom();
                        goto finish;
                }
                for (size_t i = 0; i < c->network.n_ports; i++)
                        port_map_to_nft(c->network.ports + i, pm + i);
                (void) nft_ports_remove_owner(c->name, NULL); /* leftovers of a crashed run */
                r = nft_ports_add(c->name, addr, pm, c->network.n_ports, &fe);
                if (r < 0) {
                        /* lost a race with another up publishing the same port after our check */
                        _cleanup_free_ char *k = key_where(c, NULL, "network.ports");
                        log_error_errno(r, "%s: %s: %s", c->name, k ?: "network.ports",
                                        fe.message ?: strerror(-r));
                        goto finish;
                }
        }
finish:
        nft_error_done(&fe);
        return r;
}

int container_net_setup(const GlobalConfig *g, const ContainerConfig *c, pid_t leader, ContainerNet *ret) {
        _cleanup_(container_net_done) ContainerNet n = {};
        _cleanup_free_ char *ipam_dir = NULL, *nspath = NULL, *owner = NULL;
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        _cleanup_close_ int netns_fd = -EBADF;
        NetlinkError ne = {};
        IpamNetwork in;
        struct in_addr addr;
        char abuf[INET_ADDRSTRLEN];
        int r;

        if (c->network.mode == NETWORK_MODE_HOST) {
                *ret = (ContainerNet){};
                return 0;
        }

        nspath = strprintf("/proc/%d/ns/net", (int) leader);
        if (!nspath)
                return log_oom();
        netns_fd = open(nspath, O_RDONLY | O_CLOEXEC);
        if (netns_fd < 0)
                return log_error_errno(errno, "%s: cannot open its network namespace: %m", c->name);

        if (c->network.mode == NETWORK_MODE_NONE) {
                r = netlink_loopback_up(netns_fd, &ne);
                if (r < 0)
                        log_nl(r, c->name, "cannot bring up lo", &ne);
                netlink_error_done(&ne);
                *ret = (ContainerNet){};
                return r < 0 ? r : 0;
        }

        const char *netname = c->network.network ?: g->default_network;
        const NetworkDef *nd = global_config_find_network(g, netname);
        if (!nd)
                return log_error_errno(ENOENT, "%s: network.network: no network '%s' is defined in conf.d",
                                       c->name, strna(netname));
        r = ipam_network(g, nd, &ipam_dir, &in);
        if (r < 0)
                return log_error_errno(r, "%s: cannot prepare address leases: %m", c->name);

        n.network = strdup(nd->name);
        if (!n.network)
                return log_oom();

        r = net_lease_address(g, c, nd, &in, &addr);
        if (r < 0)
                return r;
        n.address = strdup(inet_ntop(AF_INET, &addr, abuf, sizeof(abuf)) ?: "");
        if (!n.address)
                return log_oom();
        owner = veth_owner(c->name);
        if (!owner)
                return log_oom();

        /* from here on a failure must release what was done */
        r = netlink_open(&nl);
        if (r < 0) {
                log_error_errno(r, "%s: cannot open rtnetlink: %m", c->name);
                goto fail;
        }
        r = net_setup_links(nl, c, nd, netns_fd, owner, &addr, &n);
        if (r < 0)
                goto fail;
        r = net_setup_nft(g, c, nd, &addr);
        if (r < 0)
                goto fail;
        *ret = n;
        n = (ContainerNet){};
        return 0;

fail:
        container_net_release(g, c->name, n.network, n.host_ifname);
        return r;
}

/* The name of the (not retired) host end whose alias is owner: 0 and *ret, or -ENODEV when none. */
static int veth_find_owned(Netlink *nl, const char *owner, char **ret) {
        NetlinkLink *links = NULL;
        size_t n = 0;
        int r;

        r = netlink_link_dump(nl, &links, &n, NULL);
        if (r < 0)
                return r;
        r = -ENODEV;
        for (size_t i = 0; i < n; i++)
                if (streq_ptr(links[i].alias, owner) && links[i].name &&
                    !startswith(links[i].name, VETH_RETIRED_PREFIX)) {
                        *ret = TAKE_PTR(links[i].name);
                        r = 0;
                        break;
                }
        netlink_link_array_free(links, n);
        return r;
}

void container_net_release(const GlobalConfig *g, const char *name, const char *network,
                           const char *host_ifname) {
        _cleanup_free_ char *ipam_dir = NULL;
        const NetworkDef *nd;
        IpamNetwork in;
        int r;

        if (!network)
                return;
        r = nft_ports_remove_owner(name, NULL);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "%s: cannot remove its published ports: %m", name);
        {
                _cleanup_(netlink_freep) Netlink *nl = NULL;
                _cleanup_free_ char *owner = veth_owner(name), *found = NULL;
                if (owner && netlink_open(&nl) >= 0 && !host_ifname) {
                        /* not recorded (up was killed while creating it): the link its alias names */
                        (void) veth_find_owned(nl, owner, &found);
                        host_ifname = found;
                }
                if (owner && nl && host_ifname) {
                        r = netlink_link_retire(nl, host_ifname, VETH_RETIRED_PREFIX, owner, NULL);
                        if (r == -EPERM)
                                log_warning("%s: link '%s' is not its veth (not marked '%s'), left alone",
                                            name, host_ifname, owner);
                        else if (r < 0 && r != -ENODEV) {
                                log_debug_errno(r, "%s: cannot retire veth '%s', deleting it: %m", name,
                                                host_ifname);
                                r = netlink_link_delete_owned(nl, host_ifname, owner, NULL);
                        }
                        if (r < 0 && r != -ENODEV && r != -EPERM)
                                log_warning_errno(r, "%s: cannot delete veth '%s', ignoring: %m", name,
                                                  host_ifname);
                }
        }
        nd = global_config_find_network(g, network);
        if (!nd) {
                log_warning("%s: network '%s' is no longer defined, its lease stays until 'cbox gc'", name,
                            network);
                return;
        }
        if (ipam_network(g, nd, &ipam_dir, &in) >= 0) {
                r = ipam_release_owner(&in, name);
                if (r == -EBADMSG && ipam_rebuild_from_states(g, &in, name) >= 0)
                        r = ipam_release_owner(&in, name);
                if (r < 0)
                        log_warning_errno(r, "%s: cannot release its address lease, ignoring: %m", name);
        }
}

void container_net_release_owner(const GlobalConfig *g, const char *name) {
        /* the veth goes by its alias: found with the first network, gone for the others */
        for (size_t i = 0; i < g->n_networks; i++)
                container_net_release(g, name, g->networks[i].name, NULL);
}

static int owners_add(char ***owners, const char *name) {
        /* only what cbox itself names: valid container names */
        if (!name || !container_name_is_valid(name) || strv_contains(*owners, name))
                return 0;
        return strv_extend(owners, name);
}

/* Whether systemd still runs something of name although its state dir is gone: its scope (or
 * cbox@NAME.service) active, or machined still knowing the machine. No bus (no systemd): false. */
static bool leader_running(sd_bus *bus, const char *name) {
        _cleanup_free_ char *scope = NULL, *service = NULL;

        if (!bus)
                return false;
        if (bus_scope_name(name, &scope) < 0)
                return false;
        service = strjoin("cbox@", name, ".service");
        const char *units[] = { scope, service };
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                _cleanup_free_ char *active = NULL;
                if (units[i] && bus_unit_state(bus, units[i], &active, NULL) >= 0 && active &&
                    !streq(active, "inactive") && !streq(active, "failed"))
                        return true;
        }
        return bus_machine_exists(bus, name, NULL) > 0;
}

bool container_unit_active(const char *name) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;

        if (!bus_systemd_booted() || bus_open_system(&bus) < 0)
                return false;
        return leader_running(bus, name);
}

/* 1 when name's network state may be collected: no state dir, no unit or machine of it that systemd
 * still runs, and nobody holds its lock (an up in progress creates the state dir under the lock before
 * it leases anything). On 1, *ret_lock_fd holds the lock until the caller is done. */
static int net_gc_owner_gone(const GlobalConfig *g, sd_bus *bus, const char *name, int *ret_lock_fd) {
        const char *rr = global_config_run_root(g);
        int lock_fd = -EBADF, fd, r;

        r = state_dir_open(rr, name, false, &fd);
        if (r >= 0) {
                safe_close(fd);
                return 0;
        }
        if (r != -ENOENT)
                return r;
        if (leader_running(bus, name))
                return 0;
        r = state_lock(rr, name, false, &lock_fd);
        if (r == -EBUSY)
                return 0;
        if (r < 0)
                return r;
        r = state_dir_open(rr, name, false, &fd); /* re-check under the lock */
        if (r >= 0) {
                safe_close(fd);
                (void) state_unlock(rr, name, lock_fd, false);
                return 0;
        }
        if (r != -ENOENT) {
                (void) state_unlock(rr, name, lock_fd, false);
                return r;
        }
        *ret_lock_fd = lock_fd;
        return 1;
}

/* nf_tables is not there (module missing, no privilege): nothing of ours can be in it either */
static bool no_nftables(int r) {
        return IN_SET(r, -EPERM, -EACCES, -EPROTONOSUPPORT, -EAFNOSUPPORT, -EOPNOTSUPP);
}

/* a network nobody ever leased from has no directory: gc neither reads nor creates one */
static bool lease_dir_exists(const GlobalConfig *g, const NetworkDef *nd) {
        _cleanup_free_ char *d = NULL, *p = NULL;
        if (state_ipam_dir(global_config_run_root(g), &d) < 0)
                return false;
        p = strjoin(d, "/", nd->name);
        return p && access(p, F_OK) >= 0;
}

static bool is_retired_name(const char *n) {
        const char *p = startswith(n, VETH_RETIRED_PREFIX);
        if (isempty(p))
                return false;
        for (; *p; p++)
                if (*p < '0' || *p > '9')
                        return false;
        return true;
}

/* Retired host ends (container_net_release) still there: the pair's namespace is held by something
 * else than the container. Only veths named so, marked as a container's (alias) and enslaved to the
 * bridge of a network of ours. */
static int gc_retired_veths(const GlobalConfig *g, Netlink *nl, const NetlinkLink *links, size_t n_links,
                            ContainerNetGcStats *st) {
        int ret_r = 0, r;

        for (size_t i = 0; i < n_links; i++) {
                const NetlinkLink *li = links + i;
                bool ours = false;

                if (!is_retired_name(li->name) || !veth_owner_of(li->alias))
                        continue;
                for (size_t k = 0; k < g->n_networks && li->master > 0 && streq_ptr(li->kind, "veth"); k++) {
                        const NetworkDef *nd = g->networks + k;
                        if (netlink_link_ifindex(nl, nd->bridge ?: nd->name, NULL) == li->master)
                                ours = true;
                }
                if (!ours)
                        continue;
                r = netlink_link_delete_ifindex(nl, li->ifindex, NULL);
                if (r >= 0) {
                        st->links_removed++;
                        log_debug("gc: deleted retired veth '%s'", li->name);
                } else if (r != -ENODEV) {
                        log_error_errno(r, "gc: cannot delete retired veth '%s': %m", li->name);
                        ret_r = r;
                }
        }
        return ret_r;
}

/* The owners the maps of `inet cbox` know of (element comments), also in *port_owners. No nftables here:
 * *nft_ok false. Logs. */
static int gc_owners_from_ports(char ***owners, char ***port_owners, bool *nft_ok) {
        NftPortEntry *pe = NULL;
        size_t n_pe = 0;
        NftError fe = {};
        int r;

        r = nft_ports_list(&pe, &n_pe, &fe);
        if (r < 0 && no_nftables(r)) {
                log_debug_errno(r, "gc: no nftables here, no published ports to collect: %m");
                *nft_ok = false;
        } else if (r < 0) {
                log_error_errno(r, "gc: cannot list the published ports: %s", fe.message ?: strerror(-r));
                nft_error_done(&fe);
                return r;
        }
        nft_error_done(&fe);
        for (size_t i = 0; i < n_pe; i++)
                if (owners_add(owners, pe[i].owner) < 0 || owners_add(port_owners, pe[i].owner) < 0) {
                        nft_port_entry_array_free(pe, n_pe);
                        return log_oom();
                }
        nft_port_entry_array_free(pe, n_pe);
        return 0;
}

/* The owners of the leases of conf.d's networks. An unreadable network is logged, left out and its error
 * returned in *ret_r; -ENOMEM (logged) is returned. */
static int gc_owners_from_leases(const GlobalConfig *g, char ***owners, int *ret_r) {
        int r;

        for (size_t k = 0; k < g->n_networks; k++) {
                _cleanup_free_ char *ipam_dir = NULL;
                IpamLease *l = NULL;
                size_t n_l = 0;
                IpamNetwork in;

                if (!lease_dir_exists(g, g->networks + k))
                        continue;
                r = ipam_network(g, g->networks + k, &ipam_dir, &in);
                if (r >= 0)
                        r = ipam_list(&in, &l, &n_l);
                if (r < 0) {
                        log_error_errno(r, "gc: cannot read the address leases of '%s': %m",
                                        g->networks[k].name);
                        *ret_r = r;
                        continue;
                }
                for (size_t i = 0; i < n_l; i++)
                        if (owners_add(owners, l[i].owner) < 0) {
                                ipam_lease_array_free(l, n_l);
                                return log_oom();
                        }
                ipam_lease_array_free(l, n_l);
        }
        return 0;
}

/* The containers with a storage dir */
static int gc_owners_from_storage(const GlobalConfig *g, char ***owners) {
        _cleanup_free_ char *cdir = strjoin(global_config_storage_root(g), "/containers");
        _cleanup_closedir_ DIR *d = cdir ? opendir(cdir) : NULL;
        struct dirent *de;

        if (!cdir)
                return log_oom();
        while (d && (de = readdir(d)))
                if (owners_add(owners, de->d_name) < 0)
                        return log_oom();
        return 0;
}

/* Releases the network state of owner o, which is gone: its ports (in_ports: seen in the maps), the veths
 * marked as its own, its leases. Counts into *st; returns the last failure (logged), else 0. */
static int gc_release_owner(const GlobalConfig *g, Netlink *nl, const NetlinkLink *links, size_t n_links,
                            const char *o, bool in_ports, ContainerNetGcStats *st) {
        bool any = false;
        int r, ret_r = 0;

        /* only owners seen in the maps: no needless batch (nor a table created) for the others */
        r = in_ports ? nft_ports_remove_owner(o, NULL) : 0;
        if (r > 0) {
                st->ports_removed += r;
                any = true;
        } else if (r < 0 && r != -ENOENT) {
                log_error_errno(r, "gc: %s: cannot remove its published ports: %m", o);
                ret_r = r;
        }

        /* its veths: those marked as its own, whatever their name (a look-alike is not) */
        for (size_t i = 0; i < n_links; i++) {
                if (!streq_ptr(links[i].kind, "veth") || !streq_ptr(veth_owner_of(links[i].alias), o))
                        continue;
                r = netlink_link_delete_ifindex(nl, links[i].ifindex, NULL);
                if (r >= 0) {
                        st->links_removed++;
                        any = true;
                } else if (r != -ENODEV) {
                        log_error_errno(r, "gc: %s: cannot delete veth '%s': %m", o, links[i].name);
                        ret_r = r;
                }
        }

        for (size_t k = 0; k < g->n_networks; k++) {
                _cleanup_free_ char *ipam_dir = NULL;
                IpamNetwork in;

                if (!lease_dir_exists(g, g->networks + k))
                        continue;
                r = ipam_network(g, g->networks + k, &ipam_dir, &in);
                if (r >= 0)
                        r = ipam_release_owner(&in, o);
                if (r > 0) {
                        st->leases_removed += r;
                        any = true;
                } else if (r < 0) {
                        log_error_errno(r, "gc: %s: cannot release its lease on '%s': %m", o,
                                        g->networks[k].name);
                        ret_r = r;
                }
        }
        if (any) {
                st->owners++;
                log_debug("gc: %s: released the network state of a container that is gone", o);
        }
        return ret_r;
}

int container_net_gc(const GlobalConfig *g, ContainerNetGcStats *ret) {
        const char *rr = global_config_run_root(g);
        _cleanup_strv_free_ char **owners = NULL, **port_owners = NULL;
        NetlinkLink *links = NULL;
        size_t n_links = 0;
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        ContainerNetGcStats st = {};
        bool nft_ok = true;
        int r, ret_r = 0;

        /* the owners cbox knows of: element comments, lease owners, containers with storage */
        r = gc_owners_from_ports(&owners, &port_owners, &nft_ok);
        if (r < 0)
                return r;
        r = gc_owners_from_leases(g, &owners, &ret_r);
        if (r < 0)
                return r;
        r = gc_owners_from_storage(g, &owners);
        if (r < 0)
                return r;

        r = netlink_open(&nl);
        if (r >= 0)
                r = netlink_link_dump(nl, &links, &n_links, NULL);
        if (r < 0) {
                log_error_errno(r, "gc: cannot list network links: %m");
                return r;
        }
        /* veths marked as a container's name owners too (e.g. one whose container left nothing else) */
        for (size_t i = 0; i < n_links; i++)
                if (streq_ptr(links[i].kind, "veth") && veth_owner_of(links[i].alias) &&
                    owners_add(&owners, veth_owner_of(links[i].alias)) < 0) {
                        netlink_link_array_free(links, n_links);
                        return log_oom();
                }
        r = gc_retired_veths(g, nl, links, n_links, &st);
        if (r < 0)
                ret_r = r;
        if (strv_length(owners) == 0)
                goto done;
        if (bus_systemd_booted() && bus_open_system(&bus) < 0)
                bus = NULL; /* then only the state dir and the lock tell */

        STRV_FOREACH (o, owners) {
                int lock_fd = -EBADF;

                r = net_gc_owner_gone(g, bus, *o, &lock_fd);
                if (r < 0) {
                        log_error_errno(r, "gc: %s: cannot check its state: %m", *o);
                        ret_r = r;
                        continue;
                }
                if (r == 0)
                        continue;
                r = gc_release_owner(g, nl, links, n_links, *o, nft_ok && strv_contains(port_owners, *o),
                                     &st);
                if (r < 0)
                        ret_r = r;
                /* the lock file: remove only the one this gc created (no storage dir either) */
                (void) state_unlock(rr, *o, lock_fd, true);
        }

done:
        netlink_link_array_free(links, n_links);
        if (ret)
                *ret = st;
        return ret_r;
}

/* The ports a running container was started with: the "network.ports = [...]" line of the
 * configuration recorded in its state dir at up (container_config_record()), parsed as TOML. The
 * file may have changed since; what runs is what counts. No line: no ports. */
static int recorded_ports(const GlobalConfig *g, const char *name, NftPortMap **ret, size_t *ret_n) {
        _cleanup_close_ int dir_fd = -EBADF;
        _cleanup_free_ char *rec = NULL, *doc = NULL;
        _cleanup_free_ NftPortMap *pm = NULL;
        TomlValue *v = NULL;
        const char *line;
        int r;

        r = state_dir_open(global_config_run_root(g), name, false, &dir_fd);
        if (r < 0)
                return r;
        r = read_full_file_at(dir_fd, "config", &rec, NULL, 1024 * 1024);
        if (r < 0)
                return r;
        for (line = rec; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
                if (startswith(line, "network.ports = "))
                        break;
        if (!line) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        doc = strndup(line + strlen("network."), strcspn(line, "\n") - strlen("network."));
        if (!doc)
                return -ENOMEM;
        r = toml_parse(doc, strlen(doc), &v, NULL);
        if (r < 0)
                return -EBADMSG;
        const TomlValue *a = toml_table_get(v, "ports");
        size_t n = a ? toml_array_size(a) : 0;
        pm = new0(NftPortMap, n);
        if (!pm) {
                toml_value_free(v);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n && r >= 0; i++) {
                const char *s = toml_value_string(toml_array_get(a, i), NULL);
                PortMap p;
                r = s ? config_parse_port_spec(s, &p) : -EBADMSG;
                if (r >= 0)
                        port_map_to_nft(&p, pm + i);
        }
        toml_value_free(v);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(pm);
        *ret_n = n;
        return 0;
}

/* One running container's elements, under its lock (taken non-blocking: a verb that holds it sets up
 * or releases the network itself) */
static int reload_container(const GlobalConfig *g, const ContainerState *s, ContainerNetReloadStats *st) {
        _cleanup_free_ NftPortMap *pm = NULL;
        struct in_addr addr;
        NftError fe = {};
        size_t n = 0;
        int lock_fd = -EBADF, r;

        if (inet_pton(AF_INET, s->address, &addr) != 1)
                return log_error_errno(EBADMSG, "%s: its state holds no valid address ('%s')", s->name,
                                       s->address);
        r = state_lock(global_config_run_root(g), s->name, false, &lock_fd);
        if (r == -EBUSY) {
                st->busy++;
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "%s: cannot lock: %m", s->name);
        r = recorded_ports(g, s->name, &pm, &n);
        if (r < 0) {
                log_error_errno(r, "%s: cannot read the ports it was started with: %m", s->name);
                goto finish;
        }
        (void) nft_ports_remove_owner(s->name, NULL);
        if (n > 0) {
                r = nft_ports_add(s->name, &addr, pm, n, &fe);
                if (r < 0) {
                        log_error_errno(r, "%s: cannot publish its ports again: %s", s->name,
                                        fe.message ?: strerror(-r));
                        goto finish;
                }
                st->ports += (unsigned) n;
        }
        st->containers++;
finish:
        nft_error_done(&fe);
        (void) state_unlock(global_config_run_root(g), s->name, lock_fd, false);
        return r;
}

int container_net_reload(const GlobalConfig *g, ContainerNetReloadStats *ret) {
        ContainerInfo *l = NULL;
        ContainerNetReloadStats st = {};
        _cleanup_strv_free_ char **done = NULL;
        size_t n = 0;
        int r, ret_r = 0;

        r = container_list(g, false, &l, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to list the containers: %m");
        for (size_t i = 0; i < n; i++) {
                const ContainerState *s = l[i].state;
                if (l[i].status != CONTAINER_RUNNING || !s->network || !s->address)
                        continue;
                const NetworkDef *nd = global_config_find_network(g, s->network);
                if (!nd) {
                        log_warning("%s: its network '%s' is no longer in conf.d, skipped", s->name,
                                    s->network);
                        continue;
                }
                /* the subnet's masquerade and forward rules (and the table's skeleton) once a network */
                if (!strv_contains(done, nd->name)) {
                        NftError fe = {};
                        r = subnet_add(nd, &fe);
                        if (r < 0)
                                ret_r = log_error_errno(r, "Failed to set up nftables for network '%s': %s",
                                                        nd->name, fe.message ?: strerror(-r));
                        nft_error_done(&fe);
                        if (r < 0)
                                continue;
                        if (strv_extend(&done, nd->name) < 0) {
                                ret_r = log_oom();
                                break;
                        }
                        st.networks++;
                }
                r = reload_container(g, s, &st);
                if (r < 0)
                        ret_r = r;
        }
        for (size_t i = 0; i < n; i++)
                container_info_done(&l[i]);
        free(l);
        /* also applies a forward_accept_chain set, moved or withdrawn since */
        container_net_check_forward(g, "network reload", true);
        if (ret)
                *ret = st;
        return ret_r;
}
