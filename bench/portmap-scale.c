/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-portmap-scale [REPEATS] [N...] — time to publish one container's 32 port maps when N maps
 * already exist, through cbox's nft module (map elements, one batch) and through the rule-per-port
 * approach (one DNAT rule per published port in one nat chain, what netavark and Docker do), also
 * 32 rules in one batch. Each N runs in a fresh private network namespace, so nothing of the host's
 * ruleset is read or touched. Prints one line per (approach, N): median, min, max in ms.
 * Needs CAP_NET_ADMIN (root); exits 77 when it cannot create a network namespace. */

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macros.h"
#include "nft.h"
#include "string-util.h"

#define NEW_PORTS 32
#define FILL_CHUNK 1000 /* maps per owner when filling */
#define RULE_CHUNK 100  /* rules per fill batch (a batch must fit the socket's send buffer) */
#define TABLE "ruleperport"
#define CHAIN "dnat"

static double now_ms(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double) t.tv_sec * 1e3 + (double) t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

/* host ports for the N existing maps: 1024.. (N ≤ 30000); the new 32 come after them */
static uint16_t fill_port(unsigned i) {
        return (uint16_t) (1024 + i);
}

/* ---- rule-per-port through libnftnl, one batch per call ---- */

typedef struct Nl {
        struct mnl_socket *sock;
        uint32_t seq, portid;
        char *buf;
        size_t bufsz;
} Nl;

static void nl_done(Nl *nl) {
        if (nl->sock)
                mnl_socket_close(nl->sock);
        free(nl->buf);
}

static int nl_open(Nl *nl) {
        nl->sock = mnl_socket_open(NETLINK_NETFILTER);
        if (!nl->sock)
                return -errno;
        if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0)
                return -errno;
        nl->portid = mnl_socket_get_portid(nl->sock);
        nl->seq = (uint32_t) time(NULL);
        nl->bufsz = 4 << 20;
        nl->buf = malloc(nl->bufsz);
        return nl->buf ? 0 : -ENOMEM;
}

/* sends the batch and reads every ack (each message carries NLM_F_ACK) */
static int nl_send_batch(Nl *nl, struct mnl_nlmsg_batch *b, unsigned nmsgs) {
        static char rbuf[1 << 16];
        int r = 0;

        if (mnl_socket_sendto(nl->sock, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0)
                return -errno;
        for (unsigned got = 0; got < nmsgs;) {
                ssize_t n = mnl_socket_recvfrom(nl->sock, rbuf, sizeof(rbuf));
                if (n < 0)
                        return -errno;
                for (struct nlmsghdr *h = (struct nlmsghdr *) rbuf; mnl_nlmsg_ok(h, (int) n);
                     h = mnl_nlmsg_next(h, (int *) &n)) {
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
                                if (e->error < 0 && r == 0)
                                        r = e->error;
                                got++;
                        }
                }
                if (r < 0)
                        return r;
        }
        return r;
}

static void add_expr(struct nftnl_rule *rule, struct nftnl_expr *e) {
        nftnl_rule_add_expr(rule, e);
}

/* tcp dport PORT dnat ip to ADDR:80 */
static struct nftnl_rule *dnat_rule(uint16_t port, uint32_t addr_be) {
        struct nftnl_rule *rule = nftnl_rule_alloc();
        struct nftnl_expr *e;
        uint8_t proto = IPPROTO_TCP;
        uint16_t dport = htons(port), to = htons(80);

        nftnl_rule_set_u32(rule, NFTNL_RULE_FAMILY, NFPROTO_INET);
        nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, TABLE);
        nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, CHAIN);

        e = nftnl_expr_alloc("meta");
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_L4PROTO);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
        add_expr(rule, e);
        e = nftnl_expr_alloc("cmp");
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &proto, sizeof(proto));
        add_expr(rule, e);
        e = nftnl_expr_alloc("payload");
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 2);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 2);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
        add_expr(rule, e);
        e = nftnl_expr_alloc("cmp");
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &dport, sizeof(dport));
        add_expr(rule, e);
        e = nftnl_expr_alloc("immediate");
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
        nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &addr_be, sizeof(addr_be));
        add_expr(rule, e);
        e = nftnl_expr_alloc("immediate");
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_2);
        nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &to, sizeof(to));
        add_expr(rule, e);
        e = nftnl_expr_alloc("nat");
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
        add_expr(rule, e);
        return rule;
}

/* one batch: optionally the table and its nat chain, then rules for ports [first, first+n) */
static int rules_add(Nl *nl, bool skeleton, unsigned first, unsigned n, uint16_t (*port_of)(unsigned)) {
        struct mnl_nlmsg_batch *b = mnl_nlmsg_batch_start(nl->buf, nl->bufsz);
        uint32_t addr = inet_addr("10.88.0.2");
        unsigned nmsgs = 0;
        struct nlmsghdr *h;
        int r;

        nftnl_batch_begin(mnl_nlmsg_batch_current(b), nl->seq++);
        mnl_nlmsg_batch_next(b);
        if (skeleton) {
                struct nftnl_table *t = nftnl_table_alloc();
                nftnl_table_set_str(t, NFTNL_TABLE_NAME, TABLE);
                h = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_NEWTABLE, NFPROTO_INET,
                                          NLM_F_CREATE | NLM_F_ACK, nl->seq++);
                nftnl_table_nlmsg_build_payload(h, t);
                nftnl_table_free(t);
                mnl_nlmsg_batch_next(b);
                nmsgs++;

                struct nftnl_chain *c = nftnl_chain_alloc();
                nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, TABLE);
                nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, CHAIN);
                nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "nat");
                nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_PRE_ROUTING);
                nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, -100);
                h = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_NEWCHAIN, NFPROTO_INET,
                                          NLM_F_CREATE | NLM_F_ACK, nl->seq++);
                nftnl_chain_nlmsg_build_payload(h, c);
                nftnl_chain_free(c);
                mnl_nlmsg_batch_next(b);
                nmsgs++;
        }
        for (unsigned i = first; i < first + n; i++) {
                struct nftnl_rule *rule = dnat_rule(port_of(i), addr);
                h = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_NEWRULE, NFPROTO_INET,
                                          NLM_F_APPEND | NLM_F_CREATE | NLM_F_ACK, nl->seq++);
                nftnl_rule_nlmsg_build_payload(h, rule);
                nftnl_rule_free(rule);
                if (!mnl_nlmsg_batch_next(b)) {
                        mnl_nlmsg_batch_stop(b);
                        return -ENOBUFS;
                }
                nmsgs++;
        }
        nftnl_batch_end(mnl_nlmsg_batch_current(b), nl->seq++);
        mnl_nlmsg_batch_next(b);
        r = nl_send_batch(nl, b, nmsgs);
        mnl_nlmsg_batch_stop(b);
        return r;
}

static unsigned new_base;
static uint16_t new_port(unsigned i) {
        return (uint16_t) (new_base + i);
}

/* ---- the two measurements, each in a fresh network namespace ---- */

static int measure_cbox(unsigned n_existing, unsigned repeats, double *out) {
        static NftPortMap ports[FILL_CHUNK];
        struct in_addr ca = { .s_addr = inet_addr("10.88.0.2") };
        NftError err = {};
        int r;

        if (unshare(CLONE_NEWNET) < 0)
                return -errno;
        r = nft_table_ensure(&err);
        if (r < 0)
                goto fail;
        for (unsigned done = 0; done < n_existing; done += FILL_CHUNK) {
                unsigned n = MIN(FILL_CHUNK, n_existing - done);
                _cleanup_free_ char *owner = strprintf("fill%u", done);
                for (unsigned k = 0; k < n; k++)
                        ports[k] = (NftPortMap){ .host_port = fill_port(done + k),
                                                 .host_port_end = fill_port(done + k),
                                                 .container_port = 80,
                                                 .container_port_end = 80,
                                                 .protocol = IPPROTO_TCP };
                r = nft_ports_add(owner, &ca, ports, n, &err);
                if (r < 0)
                        goto fail;
        }
        /* warm-up, then the measured repeats; each container's 32 ports are removed again (not timed)
         * so that every repeat sees exactly n_existing maps */
        for (unsigned i = 0; i <= repeats; i++) {
                for (unsigned k = 0; k < NEW_PORTS; k++) {
                        uint16_t p = (uint16_t) (40000 + k);
                        ports[k] = (NftPortMap){ .host_port = p,
                                                 .host_port_end = p,
                                                 .container_port = 80,
                                                 .container_port_end = 80,
                                                 .protocol = IPPROTO_TCP };
                }
                double t = now_ms();
                r = nft_ports_add("bench", &ca, ports, NEW_PORTS, &err);
                t = now_ms() - t;
                if (r < 0)
                        goto fail;
                if (i > 0)
                        out[i - 1] = t;
                r = nft_ports_remove_owner("bench", &err);
                if (r < 0)
                        goto fail;
        }
        if (getenv("BENCH_PHASES")) {
                /* where the time of one add goes: the duplicate check's read of the three maps */
                NftPortEntry *list = NULL;
                size_t nlist = 0;
                double t = now_ms();
                r = nft_ports_list(&list, &nlist, &err);
                t = now_ms() - t;
                if (r < 0)
                        goto fail;
                fprintf(stderr, "phase: reading the maps (%zu elements) takes %.3f ms\n", nlist, t);
                nft_port_entry_array_free(list, nlist);
        }
        return 0;
fail:
        fprintf(stderr, "cbox nft: %s (%s)\n", strerror(-r), err.message ?: "-");
        nft_error_done(&err);
        return r;
}

static int measure_rules(unsigned n_existing, unsigned repeats, double *out) {
        _cleanup_(nl_done) Nl nl = {};
        int r;

        if (unshare(CLONE_NEWNET) < 0)
                return -errno;
        r = nl_open(&nl);
        if (r < 0)
                return r;
        r = rules_add(&nl, true, 0, 0, fill_port);
        for (unsigned done = 0; r >= 0 && done < n_existing; done += RULE_CHUNK)
                r = rules_add(&nl, false, done, MIN(RULE_CHUNK, n_existing - done), fill_port);
        /* rules cannot be removed by owner without their handles: each repeat adds 32 more, so repeat
         * i sees n_existing + 32·i rules (the warm-up included) */
        for (unsigned i = 0; r >= 0 && i <= repeats; i++) {
                new_base = 40000 + i * NEW_PORTS;
                double t = now_ms();
                r = rules_add(&nl, false, 0, NEW_PORTS, new_port);
                t = now_ms() - t;
                if (i > 0)
                        out[i - 1] = t;
        }
        if (r < 0)
                fprintf(stderr, "rule-per-port: %s\n", strerror(-r));
        return r;
}

static void report(const char *what, unsigned n, double *v, unsigned k) {
        qsort(v, k, sizeof(double), cmp_double);
        double med = k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
        printf("%s\t%u\t%.3f\t%.3f\t%.3f\n", what, n, med, v[0], v[k - 1]);
        fflush(stdout);
}

int main(int argc, char *argv[]) {
        unsigned repeats = argc > 1 ? (unsigned) atoi(argv[1]) : 10;
        unsigned def[] = { 0, 100, 1000, 10000 };
        unsigned nsizes = argc > 2 ? (unsigned) argc - 2 : ELEMENTSOF(def);
        int r;

        if (repeats < 1 || repeats > 1000) {
                fprintf(stderr, "usage: %s [REPEATS] [N...]\n", argv[0]);
                return 2;
        }
        _cleanup_free_ double *v = calloc(repeats, sizeof(double));
        if (!v)
                return 1;
        if (unshare(CLONE_NEWNET) < 0) {
                fprintf(stderr, "bench-portmap-scale: unshare(CLONE_NEWNET): %s — skipping\n",
                        strerror(errno));
                return 77;
        }
        printf("approach\texisting\tmedian_ms\tmin_ms\tmax_ms\n");
        for (unsigned s = 0; s < nsizes; s++) {
                unsigned n = argc > 2 ? (unsigned) atoi(argv[2 + s]) : def[s];
                if (n > 30000) {
                        fprintf(stderr, "N ≤ 30000\n");
                        return 2;
                }
                r = measure_cbox(n, repeats, v);
                if (r < 0)
                        return 1;
                report("cbox-maps", n, v, repeats);
                if (getenv("BENCH_ONLY_CBOX"))
                        continue;
                r = measure_rules(n, repeats, v);
                if (r < 0)
                        return 1;
                report("rule-per-port", n, v, repeats);
        }
        return 0;
}
