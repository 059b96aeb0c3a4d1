/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cbox network list|inspect: read-only views of the networks defined in conf.d, straight from the
 * leaf modules (config for the definitions, netlink for the bridge, ipam for the leases, nft for the
 * published ports). Nothing here changes anything. */
#include <arpa/inet.h>
#include <getopt.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <unistd.h>

#include "container.h"
#include "ipam.h"
#include "log.h"
#include "netlink.h"
#include "state.h"
#include "nft.h"
#include "string-util.h"
#include "verbs.h"

typedef struct NetworkView {
        const NetworkDef *def;
        bool is_default;
        bool bridge_exists;
        IpamLease *leases;
        size_t n_leases;
        NftPortEntry *ports; /* only those whose container address is in the subnet */
        size_t n_ports;
} NetworkView;

static void network_view_done(NetworkView *v) {
        ipam_lease_array_free(v->leases, v->n_leases);
        nft_port_entry_array_free(v->ports, v->n_ports);
        *v = (NetworkView){};
}

static const char *bridge_of(const NetworkDef *d) {
        return d->bridge ?: d->name;
}

static uint32_t mask_of(unsigned prefixlen) {
        return prefixlen == 0 ? 0 : UINT32_MAX << (32 - prefixlen);
}

static bool in_subnet(const NetworkDef *d, struct in_addr a) {
        uint32_t m = mask_of(d->prefixlen);
        return (ntohl(a.s_addr) & m) == (ntohl(d->subnet.s_addr) & m);
}

static const char *proto_name(uint8_t p) {
        return p == IPPROTO_TCP ? "tcp" : p == IPPROTO_UDP ? "udp" : "?";
}

/* nft_ports_list, retried when a dump was interrupted by a concurrent change */
static int ports_list(NftPortEntry **ret, size_t *ret_n) {
        NftError fe = {};
        int r;

        for (unsigned i = 0;; i++) {
                nft_error_done(&fe);
                r = nft_ports_list(ret, ret_n, &fe);
                if (r != -EAGAIN || i >= 32)
                        break;
                (void) usleep(1000U * (1U + MIN(i, 8U)));
        }
        if (r < 0)
                log_error_errno(r, "Failed to list the published ports: %s", fe.message ?: strerror(-r));
        nft_error_done(&fe);
        return r;
}

static int network_view_load(const GlobalConfig *g, const NetworkDef *d, Netlink *nl, bool details,
                             const NftPortEntry *all, size_t n_all, NetworkView *ret) {
        _cleanup_(network_view_done) NetworkView v = {
                .def = d,
                .is_default = streq_ptr(d->name, g->default_network ?: "cbox0"),
        };
        int r;

        v.bridge_exists = nl && netlink_link_ifindex(nl, bridge_of(d), NULL) > 0;

        if (details) {
                _cleanup_free_ char *dir = NULL, *nd = NULL;
                (void) state_ipam_dir(global_config_run_root(g), &dir);
                IpamNetwork in = {
                        .run_dir = dir,
                        .name = d->name,
                        .subnet = d->subnet,
                        .prefixlen = d->prefixlen,
                        .gateway = d->gateway,
                };
                if (!dir)
                        return log_oom();
                nd = strjoin(dir, "/", d->name);
                if (!nd)
                        return log_oom();
                /* no lease was ever taken: nothing to read (and nothing to create for a read) */
                if (access(nd, F_OK) >= 0) {
                        r = ipam_list(&in, &v.leases, &v.n_leases);
                        if (r < 0)
                                return log_error_errno(r, "%s: cannot read the address leases: %m", d->name);
                }

                for (size_t i = 0; i < n_all; i++) {
                        if (!in_subnet(d, all[i].container_address))
                                continue;
                        NftPortEntry *p = reallocarray(v.ports, v.n_ports + 1, sizeof(NftPortEntry));
                        if (!p)
                                return log_oom();
                        v.ports = p;
                        p[v.n_ports] = all[i];
                        p[v.n_ports].owner = NULL;
                        if (all[i].owner && !(p[v.n_ports].owner = strdup(all[i].owner)))
                                return log_oom();
                        v.n_ports++;
                }
        }
        *ret = v;
        v = (NetworkView){};
        return 0;
}

static json_object *json_addr(struct in_addr a) {
        char buf[INET_ADDRSTRLEN];
        return json_object_new_string(inet_ntop(AF_INET, &a, buf, sizeof(buf)) ?: "?");
}

static json_object *view_to_json(const NetworkView *v, bool details) {
        const NetworkDef *d = v->def;
        char sbuf[INET_ADDRSTRLEN + 4];
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        (void) inet_ntop(AF_INET, &d->subnet, sbuf, INET_ADDRSTRLEN);
        (void) snprintf(sbuf + strlen(sbuf), sizeof(sbuf) - strlen(sbuf), "/%u", d->prefixlen);
        json_object_object_add(o, "name", json_object_new_string(d->name));
        json_object_object_add(o, "bridge", json_object_new_string(bridge_of(d)));
        json_object_object_add(o, "subnet", json_object_new_string(sbuf));
        json_object_object_add(o, "gateway", json_addr(d->gateway));
        json_object_object_add(o, "masquerade", json_object_new_boolean(d->masquerade));
        json_object_object_add(o, "default", json_object_new_boolean(v->is_default));
        json_object_object_add(o, "bridge_exists", json_object_new_boolean(v->bridge_exists));
        if (!details)
                return o;

        json_object *leases = json_object_new_array();
        for (size_t i = 0; leases && i < v->n_leases; i++) {
                json_object *l = json_object_new_object();
                if (!l)
                        break;
                json_object_object_add(l, "address", json_addr(v->leases[i].address));
                json_object_object_add(
                        l, "owner", v->leases[i].owner ? json_object_new_string(v->leases[i].owner) : NULL);
                json_object_array_add(leases, l);
        }
        json_object_object_add(o, "leases", leases);

        json_object *ports = json_object_new_array();
        for (size_t i = 0; ports && i < v->n_ports; i++) {
                const NftPortEntry *p = v->ports + i;
                json_object *e = json_object_new_object();
                if (!e)
                        break;
                json_object_object_add(e, "protocol", json_object_new_string(proto_name(p->protocol)));
                json_object_object_add(e, "host_address", json_addr(p->host_address));
                json_object_object_add(e, "host_port", json_object_new_int(p->host_port));
                json_object_object_add(e, "host_port_end", json_object_new_int(p->host_port_end));
                json_object_object_add(e, "container_address", json_addr(p->container_address));
                json_object_object_add(e, "container_port", json_object_new_int(p->container_port));
                json_object_object_add(
                        e, "container_port_end",
                        json_object_new_int(p->container_port + (p->host_port_end - p->host_port)));
                json_object_object_add(e, "owner", p->owner ? json_object_new_string(p->owner) : NULL);
                json_object_array_add(ports, e);
        }
        json_object_object_add(o, "ports", ports);
        return o;
}

static void print_ports_text(const NetworkView *v) {
        printf("Ports:");
        if (v->n_ports == 0)
                printf("      -\n");
        else
                printf("\n");
        for (size_t i = 0; i < v->n_ports; i++) {
                const NftPortEntry *p = v->ports + i;
                char h[INET_ADDRSTRLEN], c[INET_ADDRSTRLEN], hp[16], cp[16];
                unsigned len = p->host_port_end - p->host_port;

                (void) inet_ntop(AF_INET, &p->host_address, h, sizeof(h));
                (void) inet_ntop(AF_INET, &p->container_address, c, sizeof(c));
                if (len)
                        (void) snprintf(hp, sizeof(hp), "%u-%u", p->host_port, p->host_port_end);
                else
                        (void) snprintf(hp, sizeof(hp), "%u", p->host_port);
                if (len)
                        (void) snprintf(cp, sizeof(cp), "%u-%u", p->container_port, p->container_port + len);
                else
                        (void) snprintf(cp, sizeof(cp), "%u", p->container_port);
                printf("  %s %s:%s -> %s:%s (%s)\n", proto_name(p->protocol),
                       p->host_address.s_addr == INADDR_ANY ? "*" : h, hp, c, cp, strna(p->owner));
        }
}

static void print_text(const NetworkView *v, bool details) {
        const NetworkDef *d = v->def;
        char s[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN];

        (void) inet_ntop(AF_INET, &d->subnet, s, sizeof(s));
        (void) inet_ntop(AF_INET, &d->gateway, gw, sizeof(gw));
        if (!details) {
                char sub[INET_ADDRSTRLEN + 4];
                (void) snprintf(sub, sizeof(sub), "%s/%u", s, d->prefixlen);
                printf("%-16s %-16s %-19s %-15s %-10s %-7s%s\n", d->name, bridge_of(d), sub, gw,
                       d->masquerade ? "yes" : "no", v->bridge_exists ? "present" : "absent",
                       v->is_default ? " (default)" : "");
                return;
        }
        printf("Name:       %s%s\n", d->name, v->is_default ? " (default)" : "");
        printf("Bridge:     %s (%s)\n", bridge_of(d), v->bridge_exists ? "exists" : "not created yet");
        printf("Subnet:     %s/%u\n", s, d->prefixlen);
        printf("Gateway:    %s\n", gw);
        printf("Masquerade: %s\n", d->masquerade ? "yes" : "no");
        printf("Leases:");
        printf(v->n_leases == 0 ? "     -\n" : "\n");
        for (size_t i = 0; i < v->n_leases; i++) {
                char a[INET_ADDRSTRLEN];
                (void) inet_ntop(AF_INET, &v->leases[i].address, a, sizeof(a));
                printf("  %-15s %s\n", a, strna(v->leases[i].owner));
        }
        print_ports_text(v);
}

static int network_list(const GlobalConfig *g, bool json) {
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        json_object *a = NULL;

        if (netlink_open(&nl) < 0)
                nl = NULL; /* bridge existence then shows as absent */
        if (json) {
                a = json_object_new_array();
                if (!a)
                        return log_oom();
        } else
                printf("%-16s %-16s %-19s %-15s %-10s %s\n", "NAME", "BRIDGE", "SUBNET", "GATEWAY",
                       "MASQUERADE", "BRIDGE-STATE");
        for (size_t i = 0; i < g->n_networks; i++) {
                _cleanup_(network_view_done) NetworkView v = {};
                int r = network_view_load(g, g->networks + i, nl, false, NULL, 0, &v);
                if (r < 0) {
                        json_object_put(a);
                        return r;
                }
                if (json)
                        json_object_array_add(a, view_to_json(&v, false));
                else
                        print_text(&v, false);
        }
        if (json) {
                puts(json_object_to_json_string_ext(
                        a, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(a);
        }
        return 0;
}

static int network_inspect(const GlobalConfig *g, const char *name, bool json) {
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        _cleanup_(network_view_done) NetworkView v = {};
        NftPortEntry *all = NULL;
        size_t n_all = 0;
        const NetworkDef *d;
        int r;

        d = global_config_find_network(g, name);
        if (!d) {
                log_error("network: no network '%s' is defined in conf.d.", name);
                return -ENOENT;
        }
        if (netlink_open(&nl) < 0)
                nl = NULL;
        r = ports_list(&all, &n_all);
        if (r < 0)
                return r;
        r = network_view_load(g, d, nl, true, all, n_all, &v);
        nft_port_entry_array_free(all, n_all);
        if (r < 0)
                return r;
        if (json) {
                json_object *o = view_to_json(&v, true);
                if (!o)
                        return log_oom();
                puts(json_object_to_json_string_ext(
                        o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else
                print_text(&v, true);
        return 0;
}

static int network_reload(const GlobalConfig *g, bool json) {
        ContainerNetReloadStats st = {};
        int r;

        r = container_net_reload(g, &st);
        if (json)
                printf("{\"networks\": %u, \"containers\": %u, \"ports\": %u, \"busy\": %u}\n", st.networks,
                       st.containers, st.ports, st.busy);
        else if (!arg_quiet)
                printf("Reloaded %u network(s): %u running container(s), %u port map(s)%s\n", st.networks,
                       st.containers, st.ports,
                       st.busy > 0 ? " (some busy containers were left to their verb)" : "");
        return r;
}

VERB(network, 60,
     "network list|inspect NAME|reload  Show networks, leases and ports; rebuild the nft table") {
        enum { ARG_JSON = 0x100 };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "json", no_argument, NULL, ARG_JSON },
                {},
        };
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        bool json = arg_json;
        const char *sub;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("cbox network list [--json]\n"
                               "cbox network inspect NAME [--json]\n"
                               "cbox network reload [--json]\n\n"
                               "list: the networks defined in conf.d with bridge, subnet, gateway, "
                               "masquerade\n"
                               "and whether the bridge exists.\n"
                               "inspect: one network with its address leases (address, owner) and the "
                               "ports\n"
                               "published to its containers (protocol, host address:port, container\n"
                               "address:port, owner).\n"
                               "reload: declare cbox's nftables table again (after a flush of the "
                               "ruleset,\n"
                               "e.g. a restart of nftables.service) with the rules of every network in use "
                               "and\n"
                               "the ports of every running container, as they were published at up.\n");
                        return 0;
                case ARG_JSON:
                        json = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind >= argc) {
                log_error("network: expected 'list', 'inspect NAME' or 'reload'.");
                return EXIT_USAGE;
        }
        sub = argv[optind];
        if (streq(sub, "list") || streq(sub, "reload")) {
                if (optind + 1 != argc) {
                        log_error("network %s: unexpected argument '%s'.", sub, argv[optind + 1]);
                        return EXIT_USAGE;
                }
        } else if (streq(sub, "inspect")) {
                if (optind + 2 != argc) {
                        log_error("network inspect: expected exactly one network name.");
                        return EXIT_USAGE;
                }
        } else {
                log_error("network: unknown command '%s' (expected 'list', 'inspect NAME' or 'reload').",
                          sub);
                return EXIT_USAGE;
        }

        if (container_load_global(&g) < 0)
                return 1;
        if (streq(sub, "list"))
                r = network_list(g, json);
        else if (streq(sub, "reload"))
                r = network_reload(g, json);
        else
                r = network_inspect(g, argv[optind + 1], json);
        return r < 0 ? 1 : 0;
}
