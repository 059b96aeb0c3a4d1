/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Built-in defaults of the models and the validation pass over a merged model: what needs several keys at
 * once, reported at the origin of the key it is about. */
#include <arpa/inet.h>

#include "config-internal.h"
#include "config-values.h"

int global_config_defaults(GlobalConfig *g) {
        NetworkDef *n;

        g->storage_root = strdup(CONFIG_DEFAULT_STORAGE_ROOT);
        g->run_root = strdup(CONFIG_DEFAULT_RUN_ROOT);
        g->default_network = strdup("cbox0");
        g->default_slice = strdup("machine.slice");
        n = new0(NetworkDef, 1);
        if (!g->storage_root || !g->run_root || !g->default_network || !g->default_slice || !n)
                return free(n), -ENOMEM;
        g->networks = n;
        g->n_networks = 1;
        n->name = strdup("cbox0");
        n->bridge = strdup("cbox0");
        if (!n->name || !n->bridge)
                return -ENOMEM;
        n->subnet.s_addr = htonl(0x0a580000); /* 10.88.0.0/16 */
        n->prefixlen = 16;
        n->gateway.s_addr = htonl(0x0a580001);
        n->masquerade = true;
        return 0;
}

static int origin_problem(ConfigDiag *diag, const OriginTable *o, const char *key, const char *fallback_file,
                          const char *fmt, ...) _printf_(5, 6);
static int origin_problem(ConfigDiag *diag, const OriginTable *o, const char *key, const char *fallback_file,
                          const char *fmt, ...) {
        const ConfigOrigin *org = origin_table_get(o, key);
        va_list ap;
        int r;

        va_start(ap, fmt);
        if (org && org->file)
                r = config_diag_addv(diag, org->file, org->line, org->column, key, NULL, fmt, ap);
        else
                r = config_diag_addv(diag, fallback_file, !!fallback_file, !!fallback_file, key, NULL, fmt,
                                     ap);
        va_end(ap);
        return r;
}

static int format_origin(const OriginTable *o, const char *key, char **ret) {
        const ConfigOrigin *org = origin_table_get(o, key);
        *ret = org && org->file ? strprintf("%s:%u", org->file, org->line) : strdup("built-in defaults");
        return *ret ? 0 : -ENOMEM;
}

int global_config_validate(GlobalConfig *g, ConfigDiag *diag) {
        const OriginTable *o = g->origins;
        int r;

        for (size_t i = 0; i < g->n_networks; i++) {
                NetworkDef *n = &g->networks[i];
                _cleanup_free_ char *sk = strjoin("network.", n->name, ".subnet"),
                                    *gk = strjoin("network.", n->name, ".gateway");
                uint32_t net, bcast, gw;

                if (!sk || !gk)
                        return -ENOMEM;
                if (!n->bridge) {
                        n->bridge = strdup(n->name);
                        if (!n->bridge)
                                return -ENOMEM;
                }
                if (n->prefixlen == 0) {
                        _cleanup_free_ char *k = strjoin("network.", n->name);
                        if (!k)
                                return -ENOMEM;
                        r = origin_problem(diag, o, k, NULL,
                                           "no subnet (an IPv4 subnet like \"10.88.0.0/16\")");
                        if (r < 0)
                                return r;
                        continue;
                }
                net = ntohl(n->subnet.s_addr);
                bcast = net | ((1U << (32 - n->prefixlen)) - 1);
                if (n->gateway.s_addr == 0)
                        n->gateway.s_addr = htonl(net + 1);
                gw = ntohl(n->gateway.s_addr);
                if (!ipv4_in_subnet(n->gateway, n->subnet, n->prefixlen) || gw == net || gw == bcast) {
                        char a[INET_ADDRSTRLEN];
                        r = origin_problem(
                                diag, o, gk, NULL,
                                "gateway %s is not a host address of the subnet (an IPv4 address inside "
                                "the subnet)",
                                inet_ntop(AF_INET, &n->gateway, a, sizeof(a)) ?: "?");
                        if (r < 0)
                                return r;
                }
                for (size_t j = 0; j < i; j++) {
                        const NetworkDef *m = &g->networks[j];
                        if (m->prefixlen > 0 &&
                            (ipv4_in_subnet(n->subnet, m->subnet, MIN(n->prefixlen, m->prefixlen)))) {
                                r = origin_problem(
                                        diag, o, sk, NULL,
                                        "subnet overlaps the subnet of network '%s' (networks must not "
                                        "overlap)",
                                        m->name);
                                if (r < 0)
                                        return r;
                        }
                        if (m->bridge && streq(m->bridge, n->bridge)) {
                                _cleanup_free_ char *bk = strjoin("network.", n->name, ".bridge");
                                if (!bk)
                                        return -ENOMEM;
                                r = origin_problem(
                                        diag, o, bk, NULL,
                                        "bridge '%s' is already used by network '%s' (one bridge per "
                                        "network)",
                                        n->bridge, m->name);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        if (!global_config_find_network(g, g->default_network)) {
                r = origin_problem(diag, o, "default_network", NULL,
                                   "unknown network '%s' (a network defined in [network.NAME])",
                                   g->default_network);
                if (r < 0)
                        return r;
        }
        return 0;
}

int container_config_defaults(ContainerConfig *c, const GlobalConfig *g) {
        c->stop_signal = SIGTERM;
        c->stop_timeout_usec = 10 * USEC_PER_SEC;
        c->slice = strdup(g && g->default_slice ? g->default_slice : "machine.slice");
        c->network.mode = NETWORK_MODE_BRIDGE;
        c->network.network = strdup(g && g->default_network ? g->default_network : "cbox0");
        c->security.no_new_privileges = true;
        c->security.seccomp = strdup("default");
        c->resources.nofile = (ConfigRlimit){ CONFIG_DEFAULT_NOFILE_SOFT, CONFIG_DEFAULT_NOFILE_HARD };
        c->resources.nproc = (ConfigRlimit){ UINT64_MAX, UINT64_MAX };
        c->resources.oom_score_adj = 0;
        c->health.interval_usec = 30 * USEC_PER_SEC;
        c->health.timeout_usec = 30 * USEC_PER_SEC;
        c->health.retries = 3;
        c->health.on_failure = HEALTH_ON_FAILURE_IGNORE;
        if (!c->slice || !c->network.network || !c->security.seccomp)
                return -ENOMEM;

        /* values taken from conf.d keep their origin there */
        static const struct {
                const char *global_key, *container_key;
        } inherited[] = {
                { "default_network", "network.network" },
                { "default_slice", "slice" },
        };
        for (size_t i = 0; g && c->origins && i < ELEMENTSOF(inherited); i++) {
                const ConfigOrigin *o = origin_table_get(g->origins, inherited[i].global_key);
                const char *f;
                int r;

                if (!o || !o->file)
                        continue;
                f = origin_table_intern_file(c->origins, o->file);
                if (!f)
                        return -ENOMEM;
                r = origin_table_set(c->origins, inherited[i].container_key, f, o->line, o->column);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int env_compare(const void *a, const void *b) {
        const char *x = *(const char *const *) a, *y = *(const char *const *) b;
        size_t lx = strcspn(x, "="), ly = strcspn(y, "=");
        int c = strncmp(x, y, MIN(lx, ly));
        return c != 0 ? c : (lx > ly) - (lx < ly);
}

/* Values the model derives from others once merged: env in name order, the hostname from the container
 * name, whether there is a health check */
static int derive_values(ContainerConfig *c) {
        if (c->env)
                qsort(c->env, strv_length(c->env), sizeof(char *), env_compare);

        if (!c->hostname) {
                /* the container name, with '_' (not allowed in hostnames) as '-' */
                _cleanup_free_ char *h = strdup(c->name);
                if (!h)
                        return -ENOMEM;
                for (char *p = h; *p; p++)
                        if (*p == '_')
                                *p = '-';
                if (check_hostname(h, NULL) >= 0)
                        c->hostname = TAKE_PTR(h);
        }

        /* [health] keys without a command are reported by check_health() */
        c->health.enabled = c->health.command != NULL;
        return 0;
}

/* Exactly one of image and rootfs; auto_update needs an image by tag */
static int check_root(const ContainerConfig *c, ConfigDiag *diag) {
        const OriginTable *o = c->origins;
        int r;

        if (c->image && c->rootfs) {
                _cleanup_free_ char *w = NULL;
                r = format_origin(o, "image", &w);
                if (r < 0)
                        return r;
                r = origin_problem(diag, o, "rootfs", c->path,
                                   "both 'image' (set at %s) and 'rootfs' are set (exactly one of them)", w);
                if (r < 0)
                        return r;
        } else if (!c->image && !c->rootfs && !config_diag_has_key(diag, "image") &&
                   !config_diag_has_key(diag, "rootfs")) {
                r = config_diag_add(
                        diag, c->path, 1, 1, "image",
                        "neither 'image' nor 'rootfs' is set (exactly one of them: a store image "
                        "\"NAME:TAG\" or an absolute path to a root directory)");
                if (r < 0)
                        return r;
        }

        /* the tag is what auto-update follows: a root directory or a digest has none */
        if (c->auto_update == AUTO_UPDATE_REGISTRY && (c->rootfs || (c->image && strchr(c->image, '@')))) {
                r = origin_problem(diag, o, "auto_update", c->path,
                                   "auto_update = \"registry\" follows the tag of 'image' on its registry: "
                                   "it needs an image by tag (\"HOST/REPO:TAG\"), not %s",
                                   c->rootfs ? "a rootfs" : "a digest");
                if (r < 0)
                        return r;
        }
        return 0;
}

/* network.network names a network of conf.d in bridge mode; ports and a static address need that mode.
 * *ret_net: the network, or NULL */
static int check_network_mode(const ContainerConfig *c, const GlobalConfig *g, ConfigDiag *diag,
                              const NetworkDef **ret_net) {
        const OriginTable *o = c->origins;
        int r;

        *ret_net = NULL;
        if (c->network.mode == NETWORK_MODE_BRIDGE) {
                *ret_net = global_config_find_network(g, c->network.network);
                if (!*ret_net && g) {
                        Buffer b = {};
                        for (size_t i = 0; i < g->n_networks; i++)
                                if (buffer_printf(&b, "%s%s", i ? ", " : "", g->networks[i].name) < 0) {
                                        buffer_done(&b);
                                        return -ENOMEM;
                                }
                        r = origin_problem(diag, o, "network.network", c->path,
                                           "unknown network '%s' (networks defined in conf.d: %s)",
                                           c->network.network, b.data ?: "none");
                        buffer_done(&b);
                        if (r < 0)
                                return r;
                }
                return 0;
        }

        const char *mode = scalar_syntax_name(&network_mode_syntax, c->network.mode);
        if (c->network.n_ports > 0) {
                r = origin_problem(diag, o, "network.ports", c->path,
                                   "ports are published only in network mode \"bridge\", not \"%s\"", mode);
                if (r < 0)
                        return r;
        }
        if (c->network.address_set) {
                r = origin_problem(diag, o, "network.address", c->path,
                                   "a static address needs network mode \"bridge\", not \"%s\"", mode);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A static address is a free host address of the network's subnet */
static int check_address(const ContainerConfig *c, const NetworkDef *net, ConfigDiag *diag) {
        const OriginTable *o = c->origins;
        uint32_t a = ntohl(c->network.address.s_addr), n = ntohl(net->subnet.s_addr);
        uint32_t bcast = n | ((1U << (32 - net->prefixlen)) - 1);
        char as[INET_ADDRSTRLEN], ns[INET_ADDRSTRLEN];

        (void) inet_ntop(AF_INET, &c->network.address, as, sizeof(as));
        (void) inet_ntop(AF_INET, &net->subnet, ns, sizeof(ns));
        if (!ipv4_in_subnet(c->network.address, net->subnet, net->prefixlen))
                return origin_problem(diag, o, "network.address", c->path,
                                      "address %s is outside the subnet %s/%u of network '%s' (an IPv4 "
                                      "address inside the network's subnet)",
                                      as, ns, net->prefixlen, net->name);
        if (a == n || a == bcast || c->network.address.s_addr == net->gateway.s_addr)
                return origin_problem(diag, o, "network.address", c->path,
                                      "address %s is the network, broadcast or gateway address of network "
                                      "'%s' (a free host address inside %s/%u)",
                                      as, net->name, ns, net->prefixlen);
        return 0;
}

/* Each host port and protocol once: a port map is reported at the first earlier one it clashes with */
static int check_ports(const ContainerConfig *c, ConfigDiag *diag) {
        int r;

        for (size_t i = 0; i < c->network.n_ports; i++)
                for (size_t j = 0; j < i; j++)
                        if (port_map_conflicts(&c->network.ports[i], &c->network.ports[j])) {
                                const PortMap *p = &c->network.ports[i];
                                _cleanup_free_ char *s = config_format_port_spec(p),
                                                    *key = strprintf("network.ports[%zu]", i);
                                if (!s || !key)
                                        return -ENOMEM;
                                r = config_diag_add(
                                        diag, p->origin.file, p->origin.line, p->origin.column, key,
                                        "host port of '%s' is already published by network.ports[%zu] "
                                        "(each host port and protocol once)",
                                        s, j);
                                if (r < 0)
                                        return r;
                                break;
                        }
        return 0;
}

/* [health] keys without a command; a check needs time to run and between runs */
static int check_health(const ContainerConfig *c, ConfigDiag *diag) {
        const OriginTable *o = c->origins;
        int r;

        if (c->health.enabled && c->health.interval_usec == 0) {
                r = origin_problem(diag, o, "health.interval", c->path, "must be above 0 (" A_TIME ")");
                if (r < 0)
                        return r;
        }
        if (c->health.enabled && c->health.timeout_usec == 0) {
                r = origin_problem(diag, o, "health.timeout", c->path, "must be above 0 (" A_TIME ")");
                if (r < 0)
                        return r;
        }
        if (!c->health.enabled)
                for (size_t i = 0; i < o->n_entries; i++)
                        if (startswith(o->entries[i].key, "health.")) {
                                r = config_diag_add(diag, o->entries[i].origin.file,
                                                    o->entries[i].origin.line, o->entries[i].origin.column,
                                                    "health.command",
                                                    "missing: [health] needs a command (" A_ARGV ")");
                                if (r < 0)
                                        return r;
                                break;
                        }
        return 0;
}

int container_config_validate(ContainerConfig *c, const GlobalConfig *g, ConfigDiag *diag) {
        const NetworkDef *net;
        int r;

        r = derive_values(c);
        if (r < 0)
                return r;
        r = check_root(c, diag);
        if (r < 0)
                return r;
        r = check_network_mode(c, g, diag, &net);
        if (r < 0)
                return r;
        if (net && c->network.address_set) {
                r = check_address(c, net, diag);
                if (r < 0)
                        return r;
        }
        r = check_ports(c, diag);
        if (r < 0)
                return r;
        return check_health(c, diag);
}
