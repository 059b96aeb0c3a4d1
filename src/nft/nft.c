/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <net/if.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "nft-internal.h"
#include "nft.h"
#include "nlmsg-util.h"
#include "string-util.h"
#include "time-util.h"

#define TABLE "cbox"
#define FAMILY NFPROTO_INET
#define CHAIN_PUBLISHED "published"
#define SET_SUBNETS "subnets"
#define SET_MASQ "masqueraded"
#define SET_BRIDGES "bridges"
#define CHAIN_LOCALNET "localnet"
#define MAP_PORTS "ports"
#define MAP_RANGES "portranges"
#define MAP_ADDRPORTS "addrports"

#define ELEMS_PER_MSG 256U
#define PORT_ELEMS_MAX 65536U
#define OWNER_MAX 200U
/* libnftnl writes a message without bounds checks: one element (key, key end, data, flags and the
 * owner comment with their attribute headers) takes < 128 + OWNER_MAX bytes. */
_Static_assert(4096 + ELEMS_PER_MSG * (128 + OWNER_MAX) <= MSG_MAX, "MSG_MAX too small for ELEMS_PER_MSG");

/* nft's datatype ids, so that `nft list` shows the maps with their proper types */
enum {
        TYPE_IPADDR = 7,
        TYPE_INET_PROTOCOL = 12,
        TYPE_INET_SERVICE = 13,
        TYPE_IFNAME = 41,
        TYPE_BITS = 6,
};

enum { SET_ID_SUBNETS = 1, SET_ID_PORTS, SET_ID_RANGES, SET_ID_ADDRPORTS, SET_ID_MASQ, SET_ID_BRIDGES };

typedef enum PortMapKind { KIND_PORTS, KIND_RANGES, KIND_ADDRPORTS, _KIND_MAX } PortMapKind;

static const char *const kind_map[_KIND_MAX] = {
        [KIND_PORTS] = MAP_PORTS,
        [KIND_RANGES] = MAP_RANGES,
        [KIND_ADDRPORTS] = MAP_ADDRPORTS,
};

/* The chains and how many rules each one holds in an intact skeleton. */
static const struct {
        const char *name;
        const char *type; /* NULL: regular chain */
        unsigned hook;
        int prio;
        unsigned n_rules;
} chains[] = {
        { CHAIN_PUBLISHED, NULL, 0, 0, 3 },
        { "prerouting", "nat", NF_INET_PRE_ROUTING, -100, 1 },
        { "output", "nat", NF_INET_LOCAL_OUT, -100, 1 },
        { "postrouting", "nat", NF_INET_POST_ROUTING, 100, 3 },
        { "forward", "filter", NF_INET_FORWARD, 0, 2 },
        /* raw priority: before conntrack and before the dnat of published ports */
        { CHAIN_LOCALNET, "filter", NF_INET_PRE_ROUTING, -300, 1 },
};

/* ---- errors ---- */

void nft_error_done(NftError *e) {
        error_message_done(e);
}

void nft_port_entry_array_free(NftPortEntry *e, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(e[i].owner);
        free(e);
}

/* ---- retries ----
 * Every operation here is optimistic: a dump interrupted by a concurrent commit (-EAGAIN) or a batch
 * refused because the ruleset generation moved since its checks (-ERESTART) commits nothing and is
 * tried again, until a deadline rather than a count: each round one of the contenders commits, so
 * any number of concurrent cbox commands converge, however slow the machine (50 parallel `up`s
 * under TCG in the VM suite). Callers never retry themselves. */

void retry_start(Retry *t) {
        *t = (Retry){ .deadline_usec = now_monotonic_usec() + NFT_RETRY_USEC };
}

/* A short pause growing with the attempt (up to 10 ms), jittered by pid so that processes forked
 * together do not retry in lockstep; false once the deadline has passed. */
bool retry_next(Retry *t) {
        if (now_monotonic_usec() >= t->deadline_usec)
                return false;
        uint32_t x = ((uint32_t) getpid() * 2654435761U) ^ (t->attempt * 40503U);
        useconds_t max = 200U * MIN(t->attempt + 1, 50U);
        t->attempt++;
        (void) usleep(50 + x % max);
        return true;
}

/* ---- socket ---- */

void nfnl_done(Nfnl *n) {
        if (n->sock)
                (void) mnl_socket_close(n->sock);
        free(n->buf);
        *n = (Nfnl){};
}

int nfnl_open(Nfnl *n) {
        int one = 1;

        *n = (Nfnl){};
        n->buf = malloc(RECV_BUFFER);
        if (!n->buf)
                return -ENOMEM;
        n->sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!n->sock)
                return negative_errno();
        if (mnl_socket_setsockopt(n->sock, NETLINK_EXT_ACK, &one, sizeof(one)) < 0)
                return negative_errno();
        (void) mnl_socket_setsockopt(n->sock, NETLINK_CAP_ACK, &one, sizeof(one));
        if (mnl_socket_bind(n->sock, 0, MNL_SOCKET_AUTOPID) < 0)
                return negative_errno();
        n->portid = mnl_socket_get_portid(n->sock);
        n->seq = (uint32_t) time(NULL);
        return 0;
}

uint32_t nfnl_next_seq(Nfnl *n) {
        if (++n->seq == 0)
                ++n->seq;
        return n->seq;
}

/* Returns the error carried by an NLMSG_ERROR (0 = ack), extended-ack text in *ret_msg. */
static int parse_error(const struct nlmsghdr *nlh, const char **ret_msg) {
        const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *a;
        unsigned offset;

        *ret_msg = NULL;
        if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nlmsgerr)))
                return -EBADMSG;
        if (e->error == 0)
                return 0;
        if (e->error > 0 || e->error < -4095)
                return -EBADMSG;
        if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
                offset = sizeof(struct nlmsgerr);
                if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
                        offset += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
                if (offset + sizeof(struct nlmsghdr) <= nlh->nlmsg_len)
                        mnl_attr_for_each(a, nlh, offset) {
                                if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
                                    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
                                        *ret_msg = mnl_attr_get_str(a);
                        }
        }
        return e->error;
}

static ssize_t nfnl_recv(Nfnl *n, bool nonblock) {
        return nlmsg_recv(mnl_socket_get_fd(n->sock), n->buf, RECV_BUFFER, nonblock ? MSG_DONTWAIT : 0);
}

/* A single (non-batched) request, typically a GET or a dump. */
int nfnl_query(Nfnl *n, struct nlmsghdr *nlh, bool dump, msg_cb cb, void *userdata, NftError *err) {
        int cb_error = 0;

        nlh->nlmsg_flags |= NLM_F_ACK;
        nlh->nlmsg_seq = nfnl_next_seq(n);
        if (mnl_socket_sendto(n->sock, nlh, nlh->nlmsg_len) < 0)
                return err_set(err, negative_errno(), NULL);

        for (;;) {
                ssize_t k = nfnl_recv(n, false);
                const struct nlmsghdr *h;
                int len;

                if (k < 0)
                        return err_set(err, (int) k, "failed to receive nf_tables reply");
                len = (int) k;
                for (h = (const struct nlmsghdr *) n->buf; nlmsg_valid(h, len);
                     h = mnl_nlmsg_next(h, &len)) {
                        if (h->nlmsg_seq != nlh->nlmsg_seq || h->nlmsg_pid != n->portid)
                                continue;
                        if (h->nlmsg_flags & NLM_F_DUMP_INTR)
                                return err_set(err, -EAGAIN, "nf_tables dump interrupted");
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const char *msg;
                                int r = parse_error(h, &msg);
                                if (r < 0)
                                        return err_set(err, r, msg);
                                if (dump)
                                        continue;
                                return cb_error < 0 ? err_set(err, cb_error, NULL) : 0;
                        }
                        if (h->nlmsg_type == NLMSG_DONE) {
                                if (!dump)
                                        continue;
                                return cb_error < 0 ? err_set(err, cb_error, "malformed nf_tables dump") : 0;
                        }
                        if (h->nlmsg_type < NLMSG_MIN_TYPE)
                                continue;
                        if (cb && cb_error >= 0) {
                                int r = cb(h, userdata);
                                if (r < 0)
                                        cb_error = r;
                        }
                }
                if (len != 0)
                        return err_set(err, -EBADMSG, "malformed nf_tables reply");
        }
}

/* ---- batch ---- */

void batch_done(Batch *b) {
        free(b->data);
        strv_free(b->what);
        *b = (Batch){};
}

int batch_reserve(Batch *b, size_t n, char **ret) {
        if (b->size + n > b->allocated) {
                size_t a = MAX(b->allocated * 2, b->size + n);
                char *d = realloc(b->data, a);
                if (!d)
                        return -ENOMEM;
                b->data = d;
                b->allocated = a;
        }
        memset(b->data + b->size, 0, n);
        *ret = b->data + b->size;
        return 0;
}

int batch_commit(Batch *b, struct nlmsghdr *nlh, const char *what) {
        /* a canary: the static bound above must keep every message inside its reservation */
        assert(nlh->nlmsg_len <= MSG_MAX);
        b->size += NLMSG_ALIGN(nlh->nlmsg_len);
        return strv_extend(&b->what, what);
}

/* genid (optional): the ruleset generation our checks were made against; the kernel refuses the
 * whole batch with -ERESTART when anything was committed since (optimistic concurrency). */
int batch_begin_at(Batch *b, Nfnl *n, const uint32_t *genid) {
        struct nlmsghdr *nlh;
        char *p;
        int r = batch_reserve(b, MSG_MAX, &p);
        if (r < 0)
                return r;
        b->seq_begin = nfnl_next_seq(n);
        nlh = nftnl_batch_begin(p, b->seq_begin);
        if (genid)
                mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(*genid));
        return batch_commit(b, nlh, "batch begin");
}

int batch_begin(Batch *b, Nfnl *n) {
        return batch_begin_at(b, n, NULL);
}

static int gen_cb(const struct nlmsghdr *nlh, void *userdata) {
        struct nftnl_gen *g = nftnl_gen_alloc();
        int r = 0;

        if (!g)
                return -ENOMEM;
        if (nftnl_gen_nlmsg_parse(nlh, g) < 0 || !nftnl_gen_is_set(g, NFTNL_GEN_ID))
                r = -EBADMSG;
        else
                *(uint32_t *) userdata = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
        nftnl_gen_free(g);
        return r;
}

/* The current ruleset generation. */
int get_genid(Nfnl *n, uint32_t *ret, NftError *err) {
        char buf[4096] __attribute__((aligned(8))) = {};
        struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, 0, 0);
        return nfnl_query(n, nlh, false, gen_cb, ret, err);
}

/* Starts a message of the batch; finish it with batch_commit(). */
static int batch_msg(Batch *b, Nfnl *n, uint16_t type, uint16_t flags, struct nlmsghdr **ret) {
        char *p;
        int r = batch_reserve(b, MSG_MAX, &p);
        if (r < 0)
                return r;
        *ret = nftnl_nlmsg_build_hdr(p, type, FAMILY, flags | NLM_F_ACK, nfnl_next_seq(n));
        return 0;
}

/* Sends the batch and reads every reply. nfnetlink processes a batch synchronously inside
 * sendmsg(), so all replies are queued when it returns; the first error wins. */
int batch_send(Batch *b, Nfnl *n, NftError *err) {
        char *p;
        int r, first_error = 0;
        const char *first_what = NULL;
        _cleanup_free_ char *first_msg = NULL;
        int fd = mnl_socket_get_fd(n->sock);

        r = batch_reserve(b, MSG_MAX, &p);
        if (r < 0)
                return err_set(err, r, NULL);
        r = batch_commit(b, nftnl_batch_end(p, nfnl_next_seq(n)), "batch end");
        if (r < 0)
                return err_set(err, r, NULL);

        if (b->size + 4096 > 200 * 1024) {
                int sz = (int) MIN(b->size + 4096, (size_t) INT32_MAX);
                if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
                        (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
        }
        if (mnl_socket_sendto(n->sock, b->data, b->size) < 0)
                return err_set(err, negative_errno(), "failed to send nf_tables batch");

        for (;;) {
                ssize_t k = nfnl_recv(n, true);
                const struct nlmsghdr *h;
                int len;

                if (k == -EAGAIN || k == -EWOULDBLOCK)
                        break;
                if (k < 0)
                        return err_set(err, (int) k, "failed to receive nf_tables batch replies");
                len = (int) k;
                for (h = (const struct nlmsghdr *) n->buf; nlmsg_valid(h, len);
                     h = mnl_nlmsg_next(h, &len)) {
                        const char *msg;
                        if (h->nlmsg_pid != n->portid || h->nlmsg_type != NLMSG_ERROR)
                                continue;
                        r = parse_error(h, &msg);
                        if (r < 0 && first_error == 0) {
                                uint32_t i = h->nlmsg_seq - b->seq_begin;
                                first_error = r;
                                first_what = i < strv_length(b->what) ? b->what[i] : "batch";
                                first_msg = msg ? strdup(msg) : NULL;
                        }
                }
        }
        if (first_error < 0)
                return err_setf(err, first_error, "%s: %s", first_what, first_msg ?: strerror(-first_error));
        return 0;
}

/* ---- objects ---- */

static int add_table(Batch *b, Nfnl *n) {
        struct nlmsghdr *nlh;
        struct nftnl_table *t = nftnl_table_alloc();
        int r;

        if (!t)
                return -ENOMEM;
        nftnl_table_set_str(t, NFTNL_TABLE_NAME, TABLE);
        nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, FAMILY);
        r = batch_msg(b, n, NFT_MSG_NEWTABLE, NLM_F_CREATE, &nlh);
        if (r >= 0) {
                nftnl_table_nlmsg_build_payload(nlh, t);
                r = batch_commit(b, nlh, "create table inet " TABLE);
        }
        nftnl_table_free(t);
        return r;
}

static int add_chains(Batch *b, Nfnl *n) {
        for (size_t i = 0; i < ELEMENTSOF(chains); i++) {
                struct nlmsghdr *nlh;
                struct nftnl_chain *c = nftnl_chain_alloc();
                int r;

                if (!c)
                        return -ENOMEM;
                nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, TABLE);
                nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, FAMILY);
                nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, chains[i].name);
                if (chains[i].type) {
                        nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, chains[i].type);
                        nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, chains[i].hook);
                        nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, chains[i].prio);
                        nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
                }
                r = batch_msg(b, n, NFT_MSG_NEWCHAIN, NLM_F_CREATE, &nlh);
                if (r >= 0) {
                        nftnl_chain_nlmsg_build_payload(nlh, c);
                        r = batch_commit(b, nlh, "create chain");
                }
                nftnl_chain_free(c);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A set object naming one of our sets (table, family, name): for requests about it */
static struct nftnl_set *our_set_new(const char *name) {
        struct nftnl_set *s = nftnl_set_alloc();
        if (!s)
                return NULL;
        nftnl_set_set_str(s, NFTNL_SET_TABLE, TABLE);
        nftnl_set_set_str(s, NFTNL_SET_NAME, name);
        nftnl_set_set_u32(s, NFTNL_SET_FAMILY, FAMILY);
        return s;
}

static int add_set(Batch *b, Nfnl *n, const char *name, uint32_t id, uint32_t flags, uint32_t key_type,
                   uint32_t key_len, uint32_t data_type, uint32_t data_len, const uint8_t *fields,
                   size_t n_fields) {
        struct nlmsghdr *nlh;
        struct nftnl_set *s = our_set_new(name);
        int r;

        if (!s)
                return -ENOMEM;
        nftnl_set_set_u32(s, NFTNL_SET_ID, id);
        nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
        if (flags & NFT_SET_MAP) {
                nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, data_type);
                nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, data_len);
        }
        if (n_fields > 0)
                nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, fields, (uint32_t) n_fields);
        if (key_type == TYPE_IFNAME) {
                /* strings are in host order: tell `nft list` (it shows "" otherwise; matching is alike) */
                struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(64);
                if (!u || !nftnl_udata_put_u32(u, NFTNL_UDATA_SET_KEYBYTEORDER, 1 /* host endian */)) {
                        nftnl_udata_buf_free(u);
                        nftnl_set_free(s);
                        return -ENOMEM;
                }
                nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u));
                nftnl_udata_buf_free(u);
        }
        r = batch_msg(b, n, NFT_MSG_NEWSET, NLM_F_CREATE, &nlh);
        if (r >= 0) {
                nftnl_set_nlmsg_build_payload(nlh, s);
                r = batch_commit(b, nlh, "create set");
        }
        nftnl_set_free(s);
        return r;
}

static int add_sets(Batch *b, Nfnl *n) {
        static const uint8_t proto_port[] = { 1, 2 };
        const uint32_t t_proto_port = (TYPE_INET_PROTOCOL << TYPE_BITS) | TYPE_INET_SERVICE;
        const uint32_t t_addr_port = (TYPE_IPADDR << TYPE_BITS) | TYPE_INET_SERVICE;
        const uint32_t t_addr_proto_port =
                (((TYPE_IPADDR << TYPE_BITS) | TYPE_INET_PROTOCOL) << TYPE_BITS) | TYPE_INET_SERVICE;
        int r;

        r = add_set(b, n, SET_SUBNETS, SET_ID_SUBNETS, NFT_SET_INTERVAL, TYPE_IPADDR, 4, 0, 0, NULL, 0);
        if (r < 0)
                return r;
        r = add_set(b, n, SET_MASQ, SET_ID_MASQ, NFT_SET_INTERVAL, TYPE_IPADDR, 4, 0, 0, NULL, 0);
        if (r < 0)
                return r;
        r = add_set(b, n, SET_BRIDGES, SET_ID_BRIDGES, 0, TYPE_IFNAME, IFNAMSIZ, 0, 0, NULL, 0);
        if (r < 0)
                return r;
        r = add_set(b, n, MAP_PORTS, SET_ID_PORTS, NFT_SET_MAP, t_proto_port, 8, t_addr_port, 8, NULL, 0);
        if (r < 0)
                return r;
        r = add_set(b, n, MAP_RANGES, SET_ID_RANGES, NFT_SET_MAP | NFT_SET_INTERVAL | NFT_SET_CONCAT,
                    t_proto_port, 8, TYPE_IPADDR, 4, proto_port, ELEMENTSOF(proto_port));
        if (r < 0)
                return r;
        return add_set(b, n, MAP_ADDRPORTS, SET_ID_ADDRPORTS, NFT_SET_MAP, t_addr_proto_port, 12,
                       t_addr_port, 8, NULL, 0);
}

/* expression helpers; each returns false on OOM */
bool e_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg) {
        struct nftnl_expr *e = nftnl_expr_alloc("meta");
        if (!e)
                return false;
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
        nftnl_rule_add_expr(r, e);
        return true;
}

bool e_cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *data, uint32_t len) {
        struct nftnl_expr *e = nftnl_expr_alloc("cmp");
        if (!e)
                return false;
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
        nftnl_rule_add_expr(r, e);
        return true;
}

static bool e_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len, uint32_t dreg) {
        struct nftnl_expr *e = nftnl_expr_alloc("payload");
        if (!e)
                return false;
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
        nftnl_rule_add_expr(r, e);
        return true;
}

static bool e_lookup(struct nftnl_rule *r, uint32_t sreg, int32_t dreg, const char *set, uint32_t set_id,
                     bool inv) {
        struct nftnl_expr *e = nftnl_expr_alloc("lookup");
        if (!e)
                return false;
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
        if (dreg >= 0)
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, (uint32_t) dreg);
        nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
        if (inv)
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
        nftnl_rule_add_expr(r, e);
        return true;
}

static bool e_dnat(struct nftnl_rule *r, uint32_t reg_addr, int32_t reg_proto) {
        struct nftnl_expr *e = nftnl_expr_alloc("nat");
        if (!e)
                return false;
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, reg_addr);
        if (reg_proto >= 0)
                nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, (uint32_t) reg_proto);
        nftnl_rule_add_expr(r, e);
        return true;
}

static bool e_simple(struct nftnl_rule *r, const char *name) {
        struct nftnl_expr *e = nftnl_expr_alloc(name);
        if (!e)
                return false;
        nftnl_rule_add_expr(r, e);
        return true;
}

bool e_verdict(struct nftnl_rule *r, int verdict, const char *chain) {
        struct nftnl_expr *e = nftnl_expr_alloc("immediate");
        if (!e)
                return false;
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t) verdict);
        if (chain)
                nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
        nftnl_rule_add_expr(r, e);
        return true;
}

static bool e_ipv4(struct nftnl_rule *r) {
        uint8_t v4 = NFPROTO_IPV4;
        return e_meta(r, NFT_META_NFPROTO, NFT_REG_1) && e_cmp(r, NFT_REG_1, NFT_CMP_EQ, &v4, 1);
}

static bool e_fib_local(struct nftnl_rule *r) {
        uint32_t local = RTN_LOCAL;
        struct nftnl_expr *e = nftnl_expr_alloc("fib");
        if (!e)
                return false;
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
        nftnl_rule_add_expr(r, e);
        return e_cmp(r, NFT_REG_1, NFT_CMP_EQ, &local, sizeof(local));
}

static bool e_ct_dnat(struct nftnl_rule *r) {
        uint32_t mask = IPS_DST_NAT, zero = 0;
        struct nftnl_expr *e = nftnl_expr_alloc("ct");
        if (!e)
                return false;
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATUS);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
        nftnl_rule_add_expr(r, e);
        e = nftnl_expr_alloc("bitwise");
        if (!e)
                return false;
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(uint32_t));
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero));
        nftnl_rule_add_expr(r, e);
        return e_cmp(r, NFT_REG_1, NFT_CMP_NEQ, &zero, sizeof(zero));
}

#define IP_SADDR 12
#define IP_DADDR 16
static bool e_ip_in_set(struct nftnl_rule *r, uint32_t offset, const char *set, uint32_t set_id, bool inv) {
        return e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, offset, 4, NFT_REG_1) &&
                e_lookup(r, NFT_REG_1, -1, set, set_id, inv);
}

static bool e_ip_in_subnets(struct nftnl_rule *r, uint32_t offset, bool inv) {
        return e_ip_in_set(r, offset, SET_SUBNETS, SET_ID_SUBNETS, inv);
}

/* `meta l4proto . th dport` into REG32_00 . REG32_01 */
static bool e_proto_port(struct nftnl_rule *r, uint32_t reg) {
        return e_meta(r, NFT_META_L4PROTO, reg) && e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg + 1);
}

typedef enum RuleId {
        RULE_DNAT_ADDRPORTS,
        RULE_DNAT_PORTS,
        RULE_DNAT_RANGES,
        RULE_PREROUTING,
        RULE_OUTPUT,
        RULE_MASQ_LOCALHOST,
        RULE_MASQ_HAIRPIN,
        RULE_MASQ_OUTBOUND,
        RULE_FWD_SADDR,
        RULE_FWD_DADDR,
        RULE_LOCALNET_DROP,
        _RULE_MAX,
} RuleId;

static const char *const rule_chain[_RULE_MAX] = {
        [RULE_DNAT_ADDRPORTS] = CHAIN_PUBLISHED,
        [RULE_DNAT_PORTS] = CHAIN_PUBLISHED,
        [RULE_DNAT_RANGES] = CHAIN_PUBLISHED,
        [RULE_PREROUTING] = "prerouting",
        [RULE_OUTPUT] = "output",
        [RULE_MASQ_LOCALHOST] = "postrouting",
        [RULE_MASQ_HAIRPIN] = "postrouting",
        [RULE_MASQ_OUTBOUND] = "postrouting",
        [RULE_FWD_SADDR] = "forward",
        [RULE_FWD_DADDR] = "forward",
        [RULE_LOCALNET_DROP] = CHAIN_LOCALNET,
};

/* ip daddr & 255.0.0.0 == 127.0.0.0 (or saddr: offset) */
static bool e_ip_loopback(struct nftnl_rule *r, uint32_t offset) {
        uint32_t lo_net = htonl(0x7f000000), lo_mask = htonl(0xff000000), zero = 0;
        struct nftnl_expr *e;

        if (!e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, offset, 4, NFT_REG_1))
                return false;
        e = nftnl_expr_alloc("bitwise");
        if (!e)
                return false;
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &lo_mask, 4);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
        nftnl_rule_add_expr(r, e);
        return e_cmp(r, NFT_REG_1, NFT_CMP_EQ, &lo_net, 4);
}

static bool rule_build(struct nftnl_rule *r, RuleId id) {
        switch (id) {
        case RULE_DNAT_ADDRPORTS: /* dnat ip to ip daddr . meta l4proto . th dport map @addrports */
                return e_ipv4(r) && e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, IP_DADDR, 4, NFT_REG_1) &&
                        e_proto_port(r, NFT_REG32_01) &&
                        e_lookup(r, NFT_REG_1, NFT_REG_1, MAP_ADDRPORTS, SET_ID_ADDRPORTS, false) &&
                        e_dnat(r, NFT_REG_1, NFT_REG32_01);
        case RULE_DNAT_PORTS: /* dnat ip to meta l4proto . th dport map @ports */
                return e_ipv4(r) && e_proto_port(r, NFT_REG32_00) &&
                        e_lookup(r, NFT_REG_1, NFT_REG_1, MAP_PORTS, SET_ID_PORTS, false) &&
                        e_dnat(r, NFT_REG_1, NFT_REG32_01);
        case RULE_DNAT_RANGES: /* dnat ip to meta l4proto . th dport map @portranges (port kept) */
                return e_ipv4(r) && e_proto_port(r, NFT_REG32_00) &&
                        e_lookup(r, NFT_REG_1, NFT_REG_1, MAP_RANGES, SET_ID_RANGES, false) &&
                        e_dnat(r, NFT_REG_1, -1);
        case RULE_PREROUTING:
        case RULE_OUTPUT: /* meta nfproto ipv4 fib daddr type local jump published */
                return e_ipv4(r) && e_fib_local(r) && e_verdict(r, NFT_JUMP, CHAIN_PUBLISHED);
        case RULE_MASQ_LOCALHOST: /* ct status dnat ip saddr 127.0.0.0/8 masquerade */
                return e_ipv4(r) && e_ct_dnat(r) && e_ip_loopback(r, IP_SADDR) && e_simple(r, "masq");
        case RULE_MASQ_HAIRPIN: /* ct status dnat ip saddr @subnets ip daddr @subnets masquerade */
                return e_ipv4(r) && e_ct_dnat(r) && e_ip_in_subnets(r, IP_SADDR, false) &&
                        e_ip_in_subnets(r, IP_DADDR, false) && e_simple(r, "masq");
        case RULE_MASQ_OUTBOUND: /* ip saddr @masquerade ip daddr != @subnets masquerade */
                return e_ipv4(r) && e_ip_in_set(r, IP_SADDR, SET_MASQ, SET_ID_MASQ, false) &&
                        e_ip_in_subnets(r, IP_DADDR, true) && e_simple(r, "masq");
        case RULE_FWD_SADDR:
                return e_ipv4(r) && e_ip_in_subnets(r, IP_SADDR, false) && e_verdict(r, NF_ACCEPT, NULL);
        case RULE_FWD_DADDR:
                return e_ipv4(r) && e_ip_in_subnets(r, IP_DADDR, false) && e_verdict(r, NF_ACCEPT, NULL);
        case RULE_LOCALNET_DROP: /* meta iifname @bridges ip daddr 127.0.0.0/8 drop */
                return e_meta(r, NFT_META_IIFNAME, NFT_REG_1) &&
                        e_lookup(r, NFT_REG_1, -1, SET_BRIDGES, SET_ID_BRIDGES, false) && e_ipv4(r) &&
                        e_ip_loopback(r, IP_DADDR) && e_verdict(r, NF_DROP, NULL);
        default:
                return false;
        }
}

/* Flushes our chains and adds the rules: in one transaction, so two cbox processes repairing the
 * skeleton at once still end with exactly one copy of each rule. */
static int add_rules(Batch *b, Nfnl *n) {
        int r;

        for (size_t i = 0; i < ELEMENTSOF(chains); i++) {
                struct nlmsghdr *nlh;
                struct nftnl_rule *ru = nftnl_rule_alloc();
                if (!ru)
                        return -ENOMEM;
                nftnl_rule_set_str(ru, NFTNL_RULE_TABLE, TABLE);
                nftnl_rule_set_str(ru, NFTNL_RULE_CHAIN, chains[i].name);
                nftnl_rule_set_u32(ru, NFTNL_RULE_FAMILY, FAMILY);
                r = batch_msg(b, n, NFT_MSG_DELRULE, 0, &nlh);
                if (r >= 0) {
                        nftnl_rule_nlmsg_build_payload(nlh, ru);
                        r = batch_commit(b, nlh, "flush chain");
                }
                nftnl_rule_free(ru);
                if (r < 0)
                        return r;
        }

        for (RuleId id = 0; id < _RULE_MAX; id++) {
                struct nlmsghdr *nlh;
                struct nftnl_rule *ru = nftnl_rule_alloc();
                if (!ru)
                        return -ENOMEM;
                nftnl_rule_set_str(ru, NFTNL_RULE_TABLE, TABLE);
                nftnl_rule_set_str(ru, NFTNL_RULE_CHAIN, rule_chain[id]);
                nftnl_rule_set_u32(ru, NFTNL_RULE_FAMILY, FAMILY);
                if (!rule_build(ru, id)) {
                        nftnl_rule_free(ru);
                        return -ENOMEM;
                }
                r = batch_msg(b, n, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, &nlh);
                if (r >= 0) {
                        nftnl_rule_nlmsg_build_payload(nlh, ru);
                        r = batch_commit(b, nlh, "add rule");
                }
                nftnl_rule_free(ru);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- skeleton check ---- */

typedef struct RuleCount {
        unsigned per_chain[ELEMENTSOF(chains)];
        unsigned other;
} RuleCount;

static int rule_count_cb(const struct nlmsghdr *nlh, void *userdata) {
        RuleCount *c = userdata;
        struct nftnl_rule *r = nftnl_rule_alloc();
        const char *chain;

        if (!r)
                return -ENOMEM;
        if (nftnl_rule_nlmsg_parse(nlh, r) < 0) {
                nftnl_rule_free(r);
                return -EBADMSG;
        }
        chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
        for (size_t i = 0; i < ELEMENTSOF(chains); i++)
                if (streq_ptr(chain, chains[i].name) &&
                    streq_ptr(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), TABLE)) {
                        c->per_chain[i]++;
                        nftnl_rule_free(r);
                        return 0;
                }
        c->other++;
        nftnl_rule_free(r);
        return 0;
}

/* True if the table exists with every chain holding its rules. */
static int skeleton_intact(Nfnl *n, NftError *err) {
        char buf[4096] __attribute__((aligned(8))) = {};
        struct nlmsghdr *nlh;
        struct nftnl_rule *r = nftnl_rule_alloc();
        RuleCount c = {};
        int k;

        if (!r)
                return -ENOMEM;
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, TABLE);
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, FAMILY);
        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, FAMILY, NLM_F_DUMP, 0);
        nftnl_rule_nlmsg_build_payload(nlh, r);
        nftnl_rule_free(r);

        k = nfnl_query(n, nlh, true, rule_count_cb, &c, err);
        if (k == -ENOENT) {
                nft_error_done(err);
                return false;
        }
        if (k < 0)
                return k;
        for (size_t i = 0; i < ELEMENTSOF(chains); i++)
                if (c.per_chain[i] != chains[i].n_rules)
                        return false;
        return true;
}

/* Starts a change: BATCH_BEGIN, the idempotent declarations, and the rules when damaged. */
static int batch_start_change(Batch *b, Nfnl *n, bool force, const uint32_t *genid, NftError *err) {
        int intact = false, r;

        /* An intact skeleton (every chain holds its rules, which pin the sets) needs no
         * declarations: re-declaring base chains costs the kernel ~8 ms per batch. */
        if (!force) {
                intact = skeleton_intact(n, err);
                if (intact < 0)
                        return intact;
        }
        r = batch_begin_at(b, n, genid);
        if (r >= 0 && !intact)
                r = add_table(b, n);
        if (r >= 0 && !intact)
                r = add_chains(b, n);
        if (r >= 0 && !intact)
                r = add_sets(b, n);
        if (r >= 0 && !intact)
                r = add_rules(b, n);
        return r < 0 ? err_set(err, r, NULL) : 0;
}

typedef int (*change_cb)(Batch *b, Nfnl *n, void *userdata);

/* One change: the skeleton when needed, then what cb appends, in one batch. If the table vanished
 * between our check and the commit (-ENOENT), the change is retried once with the full skeleton. */
static int send_change(Nfnl *n, change_cb cb, void *userdata, const uint32_t *genid, NftError *err) {
        Retry t;
        int r = 0;

        retry_start(&t);
        for (unsigned attempt = 0; attempt < 2; attempt++) {
                _cleanup_(batch_done) Batch b = {};

                nft_error_done(err);
                r = batch_start_change(&b, n, attempt > 0, genid, err);
                if (r == -EAGAIN && retry_next(&t)) { /* the rule count's dump was interrupted */
                        attempt--;
                        continue;
                }
                if (r < 0)
                        return r;
                if (cb) {
                        r = cb(&b, n, userdata);
                        if (r < 0)
                                return err_set(err, r, NULL);
                }
                r = batch_send(&b, n, err);
                if (r != -ENOENT)
                        break;
        }
        return r;
}

int nft_table_ensure(NftError *err) {
        _cleanup_(nfnl_done) Nfnl n = {};
        int r;

        r = nfnl_open(&n);
        if (r < 0)
                return err_set(err, r, "failed to open an nf_tables netlink socket");
        return send_change(&n, NULL, NULL, NULL, err);
}

int nft_table_delete(NftError *err) {
        _cleanup_(nfnl_done) Nfnl n = {};
        _cleanup_(batch_done) Batch b = {};
        struct nftnl_table *t;
        struct nlmsghdr *nlh;
        int r;

        r = nfnl_open(&n);
        if (r < 0)
                return err_set(err, r, "failed to open an nf_tables netlink socket");
        t = nftnl_table_alloc();
        if (!t)
                return err_set(err, -ENOMEM, NULL);
        nftnl_table_set_str(t, NFTNL_TABLE_NAME, TABLE);
        nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, FAMILY);
        r = batch_begin(&b, &n);
        if (r >= 0)
                r = batch_msg(&b, &n, NFT_MSG_DELTABLE, 0, &nlh);
        if (r >= 0) {
                nftnl_table_nlmsg_build_payload(nlh, t);
                r = batch_commit(&b, nlh, "delete table inet " TABLE);
        }
        nftnl_table_free(t);
        if (r < 0)
                return err_set(err, r, NULL);
        return batch_send(&b, &n, err);
}

/* ---- elements ---- */

/* One element in our own terms. */
typedef struct Elem {
        PortMapKind kind;
        struct in_addr haddr; /* KIND_ADDRPORTS */
        uint8_t proto;
        uint16_t lo, hi; /* host port range (hi == lo except KIND_RANGES) */
        struct in_addr daddr;
        uint16_t dport; /* unused for KIND_RANGES */
        char *owner;
} Elem;

typedef struct ElemList {
        Elem *e;
        size_t n;
} ElemList;

static void elem_list_done(ElemList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->e[i].owner);
        free(l->e);
        *l = (ElemList){};
}

static int elem_list_add(ElemList *l, const Elem *e) {
        Elem *ne = realloc(l->e, (l->n + 1) * sizeof(Elem));
        if (!ne)
                return -ENOMEM;
        l->e = ne;
        l->e[l->n] = *e;
        if (e->owner) {
                l->e[l->n].owner = strdup(e->owner);
                if (!l->e[l->n].owner)
                        return -ENOMEM;
        }
        l->n++;
        return 0;
}

static void key_put_proto_port(uint8_t *k, uint8_t proto, uint16_t port) {
        uint16_t be = htons(port);
        k[0] = proto;
        memcpy(k + 4, &be, 2);
}

static int elem_to_nftnl(const Elem *e, struct nftnl_set_elem **ret) {
        uint8_t key[12] = {}, key_end[12] = {}, data[8] = {};
        uint32_t klen = 8, dlen = 8;
        uint16_t dport = htons(e->dport);
        struct nftnl_set_elem *se = nftnl_set_elem_alloc();

        if (!se)
                return -ENOMEM;
        switch (e->kind) {
        case KIND_PORTS:
                key_put_proto_port(key, e->proto, e->lo);
                memcpy(data, &e->daddr, 4);
                memcpy(data + 4, &dport, 2);
                break;
        case KIND_RANGES:
                key_put_proto_port(key, e->proto, e->lo);
                key_put_proto_port(key_end, e->proto, e->hi);
                memcpy(data, &e->daddr, 4);
                dlen = 4;
                nftnl_set_elem_set(se, NFTNL_SET_ELEM_KEY_END, key_end, klen);
                break;
        case KIND_ADDRPORTS:
                memcpy(key, &e->haddr, 4);
                key_put_proto_port(key + 4, e->proto, e->lo);
                klen = 12;
                memcpy(data, &e->daddr, 4);
                memcpy(data + 4, &dport, 2);
                break;
        default:
                nftnl_set_elem_free(se);
                return -EINVAL;
        }
        nftnl_set_elem_set(se, NFTNL_SET_ELEM_KEY, key, klen);
        nftnl_set_elem_set(se, NFTNL_SET_ELEM_DATA, data, dlen);
        if (e->owner) {
                struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(OWNER_MAX + 8);
                if (!u || !nftnl_udata_put_strz(u, NFTNL_UDATA_SET_ELEM_COMMENT, e->owner)) {
                        nftnl_udata_buf_free(u);
                        nftnl_set_elem_free(se);
                        return -ENOMEM;
                }
                nftnl_set_elem_set(se, NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(u),
                                   nftnl_udata_buf_len(u));
                nftnl_udata_buf_free(u);
        }
        *ret = se;
        return 0;
}

/* Appends NEWSETELEM/DELSETELEM messages for the elements of one kind, ELEMS_PER_MSG per message. */
static int batch_elems(Batch *b, Nfnl *n, uint16_t type, PortMapKind kind, const ElemList *l) {
        size_t i = 0;

        for (;;) {
                struct nftnl_set *s;
                struct nlmsghdr *nlh;
                unsigned cnt = 0;
                int r;

                while (i < l->n && l->e[i].kind != kind)
                        i++;
                if (i >= l->n)
                        return 0;
                s = our_set_new(kind_map[kind]);
                if (!s)
                        return -ENOMEM;
                for (; i < l->n && cnt < ELEMS_PER_MSG; i++) {
                        struct nftnl_set_elem *se;
                        if (l->e[i].kind != kind)
                                continue;
                        r = elem_to_nftnl(&l->e[i], &se);
                        if (r < 0) {
                                nftnl_set_free(s);
                                return r;
                        }
                        nftnl_set_elem_add(s, se);
                        cnt++;
                }
                r = batch_msg(b, n, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE | NLM_F_EXCL : 0, &nlh);
                if (r >= 0) {
                        nftnl_set_elems_nlmsg_build_payload(nlh, s);
                        r = batch_commit(b, nlh,
                                         type == NFT_MSG_NEWSETELEM ? "add elements to map"
                                                                    : "delete elements from map");
                }
                nftnl_set_free(s);
                if (r < 0)
                        return r;
        }
}

static int udata_comment_cb(const struct nftnl_udata *attr, void *data) {
        const struct nftnl_udata **tb = data;
        if (nftnl_udata_type(attr) == NFTNL_UDATA_SET_ELEM_COMMENT)
                tb[0] = attr;
        return 0;
}

typedef struct DumpCtx {
        PortMapKind kind;
        ElemList *list;
} DumpCtx;

static int elem_from_nftnl(PortMapKind kind, struct nftnl_set_elem *se, Elem *e) {
        const uint8_t *key, *key_end = NULL, *data;
        uint32_t klen = 0, kelen = 0, dlen = 0, ulen = 0;
        const void *ud;
        uint16_t p;

        *e = (Elem){ .kind = kind };
        key = nftnl_set_elem_get(se, NFTNL_SET_ELEM_KEY, &klen);
        data = nftnl_set_elem_get(se, NFTNL_SET_ELEM_DATA, &dlen);
        if (kind == KIND_RANGES)
                key_end = nftnl_set_elem_get(se, NFTNL_SET_ELEM_KEY_END, &kelen);
        if (!key || !data)
                return -EBADMSG;
        if (kind == KIND_ADDRPORTS) {
                if (klen != 12 || dlen < 6)
                        return -EBADMSG;
                memcpy(&e->haddr, key, 4);
                key += 4;
        } else if (klen != 8 || dlen < 4 || (kind == KIND_PORTS && dlen < 6) ||
                   (kind == KIND_RANGES && (!key_end || kelen != 8)))
                return -EBADMSG;
        e->proto = key[0];
        memcpy(&p, key + 4, 2);
        e->lo = e->hi = ntohs(p);
        if (key_end) {
                memcpy(&p, key_end + 4, 2);
                e->hi = ntohs(p);
        }
        memcpy(&e->daddr, data, 4);
        if (kind != KIND_RANGES) {
                memcpy(&p, data + 4, 2);
                e->dport = ntohs(p);
        } else
                e->dport = e->lo;

        ud = nftnl_set_elem_get(se, NFTNL_SET_ELEM_USERDATA, &ulen);
        if (ud && ulen > 0) {
                const struct nftnl_udata *tb[1] = {};
                if (nftnl_udata_parse(ud, ulen, udata_comment_cb, tb) >= 0 && tb[0] &&
                    nftnl_udata_len(tb[0]) > 0) {
                        e->owner = strndup(nftnl_udata_get(tb[0]), nftnl_udata_len(tb[0]));
                        if (!e->owner)
                                return -ENOMEM;
                }
        }
        return 0;
}

static int elem_dump_one(struct nftnl_set_elem *se, void *userdata) {
        DumpCtx *ctx = userdata;
        Elem e;
        int r = elem_from_nftnl(ctx->kind, se, &e);
        if (r < 0)
                return r;
        r = elem_list_add(ctx->list, &e);
        free(e.owner);
        return r;
}

/* Calls fn for each element in a NEWSETELEM message */
static int foreach_elem_in_msg(const struct nlmsghdr *nlh,
                               int (*fn)(struct nftnl_set_elem *se, void *userdata), void *userdata) {
        struct nftnl_set *s = nftnl_set_alloc();
        int r;

        if (!s)
                return -ENOMEM;
        if (nftnl_set_elems_nlmsg_parse(nlh, s) < 0) {
                nftnl_set_free(s);
                return -EBADMSG;
        }
        r = nftnl_set_elem_foreach(s, fn, userdata);
        nftnl_set_free(s);
        return r < 0 ? -EBADMSG : 0;
}

static int elem_dump_cb(const struct nlmsghdr *nlh, void *userdata) {
        return foreach_elem_in_msg(nlh, elem_dump_one, userdata);
}

/* Dumps the elements of our set `name` into cb. -ENOENT (err cleared) when the table or set is missing. */
static int dump_set_elems(Nfnl *n, const char *name, msg_cb cb, void *userdata, NftError *err) {
        char buf[4096] __attribute__((aligned(8))) = {};
        struct nftnl_set *s = our_set_new(name);
        struct nlmsghdr *nlh;
        int r;

        if (!s)
                return err_set(err, -ENOMEM, NULL);
        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, FAMILY, NLM_F_DUMP, 0);
        nftnl_set_elems_nlmsg_build_payload(nlh, s);
        nftnl_set_free(s);
        r = nfnl_query(n, nlh, true, cb, userdata, err);
        if (r == -ENOENT)
                nft_error_done(err);
        return r;
}

/* Reads the elements of our three maps, except those in the skip mask (1 << kind). A missing table
 * or map yields nothing. */
static int dump_port_elems(Nfnl *n, ElemList *l, NftError *err, unsigned skip) {
        for (PortMapKind k = 0; k < _KIND_MAX; k++) {
                if (skip & (1U << k))
                        continue;
                DumpCtx ctx = { .kind = k, .list = l };
                size_t before = l->n;
                int r = -EAGAIN;

                for (unsigned attempt = 0; attempt < 5 && r == -EAGAIN; attempt++) {
                        /* restart an interrupted dump from scratch */
                        while (l->n > before)
                                free(l->e[--l->n].owner);
                        r = dump_set_elems(n, kind_map[k], elem_dump_cb, &ctx, err);
                }
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Keys looked up per sendmsg(): each found element comes back in its own NLMSG_GOODSIZE skb, which
 * must fit the socket's receive buffer along with the acks, or the kernel drops the reply. */
#define LOOKUPS_PER_SEND 8U
#define LOOKUP_MSG_MAX 256U
/* Above this many (proto, port) keys to check, one dump of the map is cheaper than the lookups. */
#define LOOKUPS_MAX 4096U

static int key_cmp(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

/* Looks up (proto << 16 | port) keys in the `ports` map and appends the elements found to l: one
 * GETSETELEM per key (the kernel stops a multi-element get at the first missing element), several
 * sent in one sendmsg(), each answered by the element if present and then an ack or ENOENT. */
static int lookup_port_elems(Nfnl *n, const uint32_t *keys, size_t n_keys, ElemList *l, NftError *err) {
        _cleanup_free_ char *buf = malloc(LOOKUPS_PER_SEND * LOOKUP_MSG_MAX);
        DumpCtx ctx = { .kind = KIND_PORTS, .list = l };

        if (!buf)
                return err_set(err, -ENOMEM, NULL);
        for (size_t i = 0; i < n_keys;) {
                uint32_t seqs[LOOKUPS_PER_SEND];
                size_t off = 0, sent = 0, acked = 0;

                for (; i < n_keys && sent < LOOKUPS_PER_SEND; i++, sent++) {
                        struct nlmsghdr *nlh;
                        struct nlattr *list, *elem, *key;
                        uint8_t k[8] = {};

                        seqs[sent] = nfnl_next_seq(n);
                        nlh = nftnl_nlmsg_build_hdr(buf + off, NFT_MSG_GETSETELEM, FAMILY, NLM_F_ACK,
                                                    seqs[sent]);
                        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, TABLE);
                        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, MAP_PORTS);
                        list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
                        elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
                        key = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
                        key_put_proto_port(k, (uint8_t) (keys[i] >> 16), (uint16_t) keys[i]);
                        mnl_attr_put(nlh, NFTA_DATA_VALUE, sizeof(k), k);
                        mnl_attr_nest_end(nlh, key);
                        mnl_attr_nest_end(nlh, elem);
                        mnl_attr_nest_end(nlh, list);
                        assert(nlh->nlmsg_len <= LOOKUP_MSG_MAX);
                        off += NLMSG_ALIGN(nlh->nlmsg_len);
                }
                if (mnl_socket_sendto(n->sock, buf, off) < 0)
                        return err_set(err, negative_errno(), NULL);

                while (acked < sent) {
                        ssize_t k = nfnl_recv(n, false);
                        const struct nlmsghdr *h;
                        int len;

                        if (k < 0)
                                return err_set(err, (int) k, "failed to receive nf_tables reply");
                        len = (int) k;
                        for (h = (const struct nlmsghdr *) n->buf; nlmsg_valid(h, len);
                             h = mnl_nlmsg_next(h, &len)) {
                                bool ours = false;
                                int r;

                                for (size_t j = 0; j < sent && !ours; j++)
                                        ours = h->nlmsg_seq == seqs[j];
                                if (!ours || h->nlmsg_pid != n->portid)
                                        continue;
                                if (h->nlmsg_type == NLMSG_ERROR) {
                                        const char *msg;
                                        r = parse_error(h, &msg);
                                        if (r < 0 && r != -ENOENT) /* ENOENT: no such element (or map) */
                                                return err_set(err, r, msg);
                                        acked++;
                                        continue;
                                }
                                if (h->nlmsg_type < NLMSG_MIN_TYPE)
                                        continue;
                                r = elem_dump_cb(h, &ctx);
                                if (r < 0)
                                        return err_set(err, r, "malformed nf_tables reply");
                        }
                        if (len != 0)
                                return err_set(err, -EBADMSG, "malformed nf_tables reply");
                }
        }
        return 0;
}

static int cmp_u32(uint32_t a, uint32_t b) {
        return a < b ? -1 : a > b;
}

static int elem_cmp(const void *x, const void *y) {
        const Elem *a = x, *b = y;
        int c;
        if ((c = cmp_u32(a->kind, b->kind)) || (c = cmp_u32(a->proto, b->proto)) ||
            (c = cmp_u32(ntohl(a->haddr.s_addr), ntohl(b->haddr.s_addr))) || (c = cmp_u32(a->lo, b->lo)) ||
            (c = cmp_u32(a->hi, b->hi)) || (c = cmp_u32(ntohl(a->daddr.s_addr), ntohl(b->daddr.s_addr))) ||
            (c = cmp_u32(a->dport, b->dport)))
                return c;
        return strcmp(strempty(a->owner), strempty(b->owner));
}

/* Sorted, each element once */
static void elem_list_normalize(ElemList *l) {
        size_t u = 0;
        if (l->n < 2)
                return;
        qsort(l->e, l->n, sizeof(Elem), elem_cmp);
        for (size_t i = 1; i < l->n; i++) {
                if (elem_cmp(&l->e[i], &l->e[u]) == 0) {
                        free(l->e[i].owner);
                        continue;
                }
                l->e[++u] = l->e[i];
        }
        l->n = u + 1;
}

static bool elem_list_equal(const ElemList *a, const ElemList *b) {
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (elem_cmp(&a->e[i], &b->e[i]) != 0)
                        return false;
        return true;
}

/* dump_port_elems() that can be trusted: a dump of a hash map taken while the kernel resizes its
 * rhashtable in the background (after a big insert or delete) may repeat or skip elements without
 * flagging the dump as interrupted (seen on 6.18: ±60 of 20001). Dumps until two in a row agree
 * (sorted, repeats dropped); the result is appended to l, sorted and without repeats. -EAGAIN when the
 * maps never held still (the callers retry the whole operation for that already). */
static int dump_port_elems_stable(Nfnl *n, ElemList *l, NftError *err, unsigned skip) {
        _cleanup_(elem_list_done) ElemList prev = {};
        int r;

        r = dump_port_elems(n, &prev, err, skip);
        if (r < 0)
                return r;
        elem_list_normalize(&prev);
        for (unsigned attempt = 0; attempt < 16; attempt++) {
                _cleanup_(elem_list_done) ElemList cur = {};

                r = dump_port_elems(n, &cur, err, skip);
                if (r < 0)
                        return r;
                elem_list_normalize(&cur);
                if (elem_list_equal(&prev, &cur)) {
                        for (size_t i = 0; i < cur.n; i++) {
                                r = elem_list_add(l, &cur.e[i]);
                                if (r < 0)
                                        return err_set(err, r, NULL);
                        }
                        return 0;
                }
                elem_list_done(&prev);
                prev = cur;
                cur = (ElemList){};
                (void) usleep(1000U << MIN(attempt, 6U)); /* the resize runs from a workqueue */
        }
        return err_set(err, -EAGAIN, "the nf_tables port maps kept changing while being read");
}

/* Reads the existing elements that may clash with mine: the elements of the `ports` map with the
 * (proto, port) keys that mine cover, looked up one by one (O(ports published), where a dump is
 * O(ports in the map)), and all of `portranges` and `addrports`, which hold the rare range and
 * host-address binds. Falls back to dumping everything when mine cover very many ports. */
static int read_clash_candidates(Nfnl *n, const ElemList *mine, ElemList *l, NftError *err) {
        _cleanup_free_ uint32_t *keys = NULL;
        size_t n_keys = 0, total = 0;
        int r;

        for (size_t i = 0; i < mine->n; i++)
                total += (size_t) mine->e[i].hi - mine->e[i].lo + 1;
        if (total > LOOKUPS_MAX)
                return dump_port_elems_stable(n, l, err, 0);

        keys = new (uint32_t, MAX(total, 1U));
        if (!keys)
                return err_set(err, -ENOMEM, NULL);
        for (size_t i = 0; i < mine->n; i++)
                for (uint32_t p = mine->e[i].lo; p <= mine->e[i].hi; p++)
                        keys[n_keys++] = (uint32_t) mine->e[i].proto << 16 | p;
        if (n_keys > 1) {
                size_t u = 1;
                qsort(keys, n_keys, sizeof(uint32_t), key_cmp);
                for (size_t i = 1; i < n_keys; i++)
                        if (keys[i] != keys[u - 1])
                                keys[u++] = keys[i];
                n_keys = u;
        }

        r = dump_port_elems_stable(n, l, err, 1U << KIND_PORTS);
        if (r < 0)
                return r;
        return lookup_port_elems(n, keys, n_keys, l, err);
}

static bool elems_conflict(const Elem *a, const Elem *b) {
        bool a_any = a->kind != KIND_ADDRPORTS, b_any = b->kind != KIND_ADDRPORTS;

        if (a->proto != b->proto || a->hi < b->lo || b->hi < a->lo)
                return false;
        /* a bind to every address clashes with any bind of that port; two specific ones only when equal */
        return a_any || b_any || a->haddr.s_addr == b->haddr.s_addr;
}

static const char *proto_name(uint8_t p) {
        return p == IPPROTO_TCP ? "tcp" : p == IPPROTO_UDP ? "udp" : "?";
}

static int expand_port_maps(const char *owner, const struct in_addr *daddr, const NftPortMap *ports,
                            size_t n, ElemList *l, NftError *err) {
        size_t total = 0;
        int r;

        for (size_t i = 0; i < n; i++) {
                const NftPortMap *p = &ports[i];
                uint16_t hend = p->host_port_end ?: p->host_port,
                         cend = p->container_port_end ?: p->container_port;
                Elem e = { .proto = p->protocol, .daddr = *daddr, .owner = (char *) owner };

                if (!IN_SET(p->protocol, IPPROTO_TCP, IPPROTO_UDP) || p->host_port == 0 ||
                    p->container_port == 0 || hend < p->host_port || cend < p->container_port ||
                    hend - p->host_port != cend - p->container_port)
                        return err_setf(err, -EINVAL, "invalid port map #%zu", i);

                if (p->host_address.s_addr != INADDR_ANY) {
                        e.kind = KIND_ADDRPORTS;
                        e.haddr = p->host_address;
                } else if (hend != p->host_port && p->host_port == p->container_port)
                        e.kind = KIND_RANGES;
                else
                        e.kind = KIND_PORTS;

                if (e.kind == KIND_RANGES) {
                        e.lo = p->host_port;
                        e.hi = hend;
                        e.dport = p->container_port;
                        r = elem_list_add(l, &e);
                        if (r < 0)
                                return err_set(err, r, NULL);
                        total++;
                        continue;
                }
                for (uint32_t port = p->host_port; port <= hend; port++) {
                        if (++total > PORT_ELEMS_MAX)
                                return err_set(err, -E2BIG, "too many published ports");
                        e.lo = e.hi = (uint16_t) port;
                        e.dport = (uint16_t) (p->container_port + (port - p->host_port));
                        r = elem_list_add(l, &e);
                        if (r < 0)
                                return err_set(err, r, NULL);
                }
        }
        return 0;
}

static bool owner_is_valid(const char *o) {
        if (isempty(o) || strlen(o) > OWNER_MAX)
                return false;
        for (const char *p = o; *p; p++)
                if ((unsigned char) *p < ' ' || *p == 0x7f)
                        return false;
        return true;
}

static int conflict_error(const Elem *mine, const Elem *theirs, NftError *err) {
        char a[INET_ADDRSTRLEN] = "*";
        if (mine->kind == KIND_ADDRPORTS)
                (void) inet_ntop(AF_INET, &mine->haddr, a, sizeof(a));
        return err_setf(err, -EADDRINUSE, "host port %s:%u/%s is already published%s%s%s", a, mine->lo,
                        proto_name(mine->proto), theirs ? " by '" : " twice",
                        theirs ? strna(theirs->owner) : "", theirs ? "'" : "");
}

static int add_elems_cb(Batch *b, Nfnl *n, void *userdata) {
        for (PortMapKind k = 0; k < _KIND_MAX; k++) {
                int r = batch_elems(b, n, NFT_MSG_NEWSETELEM, k, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

typedef struct ElemRef {
        const Elem *e;
        bool mine;
} ElemRef;

static int elem_ref_cmp(const void *a, const void *b) {
        const Elem *x = ((const ElemRef *) a)->e, *y = ((const ElemRef *) b)->e;
        if (x->proto != y->proto)
                return x->proto < y->proto ? -1 : 1;
        return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Finds a clash among the new elements or between a new and an existing one (existing elements of
 * skip_owner are ignored). Sorted by protocol and first port, so each element is only compared with
 * those starting inside its own range: O(n log n) for n single ports. */
static int find_conflict(const ElemList *mine, const ElemList *existing, const char *skip_owner,
                         NftError *err) {
        _cleanup_free_ ElemRef *refs = new (ElemRef, mine->n + existing->n);
        size_t n = 0;

        if (!refs)
                return err_set(err, -ENOMEM, NULL);
        for (size_t i = 0; i < mine->n; i++)
                refs[n++] = (ElemRef){ &mine->e[i], true };
        for (size_t i = 0; i < existing->n; i++)
                if (!skip_owner || !streq_ptr(existing->e[i].owner, skip_owner))
                        refs[n++] = (ElemRef){ &existing->e[i], false };
        if (n > 1)
                qsort(refs, n, sizeof(ElemRef), elem_ref_cmp);

        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1;
                     j < n && refs[j].e->proto == refs[i].e->proto && refs[j].e->lo <= refs[i].e->hi; j++) {
                        if (!refs[i].mine && !refs[j].mine)
                                continue;
                        if (!elems_conflict(refs[i].e, refs[j].e))
                                continue;
                        if (refs[i].mine && refs[j].mine)
                                return conflict_error(refs[j].e, NULL, err);
                        return refs[i].mine ? conflict_error(refs[i].e, refs[j].e, err)
                                            : conflict_error(refs[j].e, refs[i].e, err);
                }
        return 0;
}

static int ports_prepare(const char *owner, const struct in_addr *container_address, const NftPortMap *ports,
                         size_t n, const char *skip_owner, Nfnl *nl, ElemList *mine, NftError *err) {
        _cleanup_(elem_list_done) ElemList existing = {};
        int r;

        if (!owner_is_valid(owner) || !container_address || (n > 0 && !ports))
                return err_set(err, -EINVAL, "invalid owner or port maps");
        r = expand_port_maps(owner, container_address, ports, n, mine, err);
        if (r < 0)
                return r;
        r = read_clash_candidates(nl, mine, &existing, err);
        if (r < 0)
                return r;
        return find_conflict(mine, &existing, skip_owner, err);
}

int nft_ports_check(const char *owner, const NftPortMap *ports, size_t n, NftError *err) {
        _cleanup_(nfnl_done) Nfnl nl = {};
        _cleanup_(elem_list_done) ElemList mine = {};
        struct in_addr any = {};
        int r;

        Retry t;

        r = nfnl_open(&nl);
        if (r < 0)
                return err_set(err, r, "failed to open an nf_tables netlink socket");
        retry_start(&t);
        do {
                elem_list_done(&mine);
                nft_error_done(err);
                r = ports_prepare(owner, &any, ports, n, owner, &nl, &mine, err);
        } while (r == -EAGAIN && retry_next(&t));
        return r;
}

int nft_ports_add(const char *owner, const struct in_addr *container_address, const NftPortMap *ports,
                  size_t n, NftError *err) {
        _cleanup_(nfnl_done) Nfnl nl = {};
        int r;

        r = nfnl_open(&nl);
        if (r < 0)
                return err_set(err, r, "failed to open an nf_tables netlink socket");

        /* Check and insert are two steps: the batch carries the ruleset generation the check saw,
         * so a concurrent change (another container publishing a clashing port) makes the kernel
         * refuse it with -ERESTART, and we check again. */
        Retry t;
        retry_start(&t);
        for (;;) {
                _cleanup_(elem_list_done) ElemList mine = {};
                uint32_t genid;

                nft_error_done(err);
                r = get_genid(&nl, &genid, err);
                if (r < 0)
                        return r;
                /* Refuse duplicates before anything is created: among the new ones, then the maps. */
                r = ports_prepare(owner, container_address, ports, n, NULL, &nl, &mine, err);
                if (r == -EAGAIN) { /* a dump interrupted by a concurrent change */
                        if (!retry_next(&t))
                                break;
                        continue;
                }
                if (r < 0)
                        return r;
                r = send_change(&nl, add_elems_cb, &mine, &genid, err);
                if (!IN_SET(r, -ERESTART, -EAGAIN) || !retry_next(&t))
                        break;
        }
        if (IN_SET(r, -ERESTART, -EAGAIN))
                return err_set(err, -EBUSY, "nftables kept changing under us, giving up");
        if (IN_SET(r, -EEXIST, -ENOTEMPTY)) /* should not happen with the generation check */
                return err_setf(err, -EADDRINUSE, "a host port is already published (%s)",
                                strna(err ? err->message : NULL));
        return r;
}

int nft_ports_remove_owner(const char *owner, NftError *err) {
        _cleanup_(nfnl_done) Nfnl nl = {};
        int r;

        if (!owner_is_valid(owner))
                return err_set(err, -EINVAL, "invalid owner");
        r = nfnl_open(&nl);
        if (r < 0)
                return err_set(err, r, "failed to open an nf_tables netlink socket");

        /* dump and delete against one ruleset generation (retried when anything changed between) */
        Retry t;
        retry_start(&t);
        do {
                _cleanup_(batch_done) Batch b = {};
                _cleanup_(elem_list_done) ElemList existing = {}, del = {};
                uint32_t genid;

                nft_error_done(err);
                r = get_genid(&nl, &genid, err);
                if (r < 0)
                        return r;
                r = dump_port_elems_stable(&nl, &existing, err, 0);
                if (r == -EAGAIN)
                        continue;
                if (r < 0)
                        return r;
                for (size_t i = 0; i < existing.n; i++)
                        if (streq_ptr(existing.e[i].owner, owner)) {
                                r = elem_list_add(&del, &existing.e[i]);
                                if (r < 0)
                                        return err_set(err, r, NULL);
                        }
                if (del.n == 0)
                        return 0;

                r = batch_begin_at(&b, &nl, &genid);
                for (PortMapKind k = 0; r >= 0 && k < _KIND_MAX; k++)
                        r = batch_elems(&b, &nl, NFT_MSG_DELSETELEM, k, &del);
                if (r < 0)
                        return err_set(err, r, NULL);
                r = batch_send(&b, &nl, err);
                if (IN_SET(r, -ERESTART, -EAGAIN))
                        continue;
                return r < 0 ? r : (int) MIN(del.n, (size_t) INT32_MAX);
        } while (retry_next(&t));
        return err_set(err, -EBUSY, "nftables kept changing under us, giving up");
}

int nft_ports_list(NftPortEntry **ret, size_t *ret_n, NftError *err) {
        _cleanup_(nfnl_done) Nfnl nl = {};
        _cleanup_(elem_list_done) ElemList existing = {};
        NftPortEntry *out;
        int r;

        if (!ret || !ret_n)
                return err_set(err, -EINVAL, NULL);
        Retry t;

        r = nfnl_open(&nl);
        if (r < 0)
                return err_set(err, r, "failed to open an nf_tables netlink socket");
        retry_start(&t);
        do {
                elem_list_done(&existing);
                nft_error_done(err);
                r = dump_port_elems_stable(&nl, &existing, err, 0);
        } while (r == -EAGAIN && retry_next(&t));
        if (r < 0)
                return r;
        out = new0(NftPortEntry, existing.n);
        if (!out)
                return err_set(err, -ENOMEM, NULL);
        for (size_t i = 0; i < existing.n; i++) {
                const Elem *e = &existing.e[i];
                out[i] = (NftPortEntry){
                        .host_address = e->kind == KIND_ADDRPORTS ? e->haddr : (struct in_addr){},
                        .host_port = e->lo,
                        .host_port_end = e->hi,
                        .protocol = e->proto,
                        .container_address = e->daddr,
                        .container_port = e->dport,
                        .owner = TAKE_PTR(existing.e[i].owner),
                };
        }
        *ret = out;
        *ret_n = existing.n;
        return 0;
}

/* ---- subnets ---- */

typedef struct SubnetChange {
        uint32_t net, end;            /* host order; end is the first address after, 0 when it wraps */
        uint16_t subnets_op, masq_op; /* NFT_MSG_NEWSETELEM, NFT_MSG_DELSETELEM or 0 (leave alone) */
        const char *bridge;           /* added to @bridges; NULL: none */
} SubnetChange;

static int bridge_elem_msg(Batch *b, Nfnl *n, const char *bridge) {
        char key[IFNAMSIZ] = {}; /* meta iifname loads IFNAMSIZ bytes, zero-padded */
        struct nftnl_set_elem *se;
        struct nftnl_set *s;
        struct nlmsghdr *nlh;
        int r;

        if (isempty(bridge) || strlen(bridge) >= IFNAMSIZ)
                return -EINVAL;
        memcpy(key, bridge, strlen(bridge));
        s = our_set_new(SET_BRIDGES);
        if (!s)
                return -ENOMEM;
        se = nftnl_set_elem_alloc();
        if (!se) {
                nftnl_set_free(s);
                return -ENOMEM;
        }
        nftnl_set_elem_set(se, NFTNL_SET_ELEM_KEY, key, sizeof(key));
        nftnl_set_elem_add(s, se);
        r = batch_msg(b, n, NFT_MSG_NEWSETELEM, NLM_F_CREATE, &nlh);
        if (r >= 0) {
                nftnl_set_elems_nlmsg_build_payload(nlh, s);
                r = batch_commit(b, nlh, "add bridge");
        }
        nftnl_set_free(s);
        return r;
}

static int subnet_elems_msg(Batch *b, Nfnl *n, const SubnetChange *c, const char *set, uint16_t type) {
        struct nftnl_set *s;
        struct nlmsghdr *nlh;
        int r;

        s = our_set_new(set);
        if (!s)
                return -ENOMEM;
        /* an interval set holds [start, end) as a start element and an end-flagged element */
        for (int i = 0; i < 2; i++) {
                struct nftnl_set_elem *se;
                uint32_t k = htonl(i == 0 ? c->net : c->end);
                if (i == 1 && c->end == 0)
                        break;
                se = nftnl_set_elem_alloc();
                if (!se) {
                        nftnl_set_free(s);
                        return -ENOMEM;
                }
                nftnl_set_elem_set(se, NFTNL_SET_ELEM_KEY, &k, sizeof(k));
                if (i == 1)
                        nftnl_set_elem_set_u32(se, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
                nftnl_set_elem_add(s, se);
        }
        r = batch_msg(b, n, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0, &nlh);
        if (r >= 0) {
                nftnl_set_elems_nlmsg_build_payload(nlh, s);
                r = batch_commit(b, nlh, type == NFT_MSG_NEWSETELEM ? "add subnet" : "delete subnet");
        }
        nftnl_set_free(s);
        return r;
}

static int subnet_elems_cb(Batch *b, Nfnl *n, void *userdata) {
        const SubnetChange *c = userdata;
        int r = 0;

        if (c->subnets_op != 0)
                r = subnet_elems_msg(b, n, c, SET_SUBNETS, c->subnets_op);
        if (r >= 0 && c->masq_op != 0)
                r = subnet_elems_msg(b, n, c, SET_MASQ, c->masq_op);
        if (r >= 0 && c->bridge)
                r = bridge_elem_msg(b, n, c->bridge);
        return r;
}

typedef struct StartLookup {
        uint32_t key; /* network order */
        bool found;
} StartLookup;

static int start_lookup_one(struct nftnl_set_elem *se, void *userdata) {
        StartLookup *l = userdata;
        uint32_t len = 0, flags = 0;
        const void *k = nftnl_set_elem_get(se, NFTNL_SET_ELEM_KEY, &len);

        if (nftnl_set_elem_is_set(se, NFTNL_SET_ELEM_FLAGS))
                flags = nftnl_set_elem_get_u32(se, NFTNL_SET_ELEM_FLAGS);
        if (k && len == sizeof(uint32_t) && memcmp(k, &l->key, sizeof(uint32_t)) == 0 &&
            !(flags & NFT_SET_ELEM_INTERVAL_END))
                l->found = true;
        return 0;
}

static int start_lookup_cb(const struct nlmsghdr *nlh, void *userdata) {
        return foreach_elem_in_msg(nlh, start_lookup_one, userdata);
}

/* Whether interval set `set` holds an interval starting at net (host order). Missing set: false. */
static int interval_set_has_start(Nfnl *n, const char *set, uint32_t net, NftError *err) {
        StartLookup l = { .key = htonl(net) };
        int r = dump_set_elems(n, set, start_lookup_cb, &l, err);
        if (r == -ENOENT)
                return false;
        return r < 0 ? r : l.found;
}

int nft_subnet_add(const struct in_addr *subnet, unsigned prefixlen, bool masquerade, const char *bridge,
                   NftError *err) {
        _cleanup_(nfnl_done) Nfnl nl = {};
        SubnetChange c = { .subnets_op = NFT_MSG_NEWSETELEM, .bridge = bridge };
        int r;

        if (!subnet || prefixlen < 1 || prefixlen > 32)
                return err_set(err, -EINVAL, "invalid subnet");
        if (bridge && (isempty(bridge) || strlen(bridge) >= IFNAMSIZ))
                return err_set(err, -EINVAL, "invalid bridge name");
        c.net = ntohl(subnet->s_addr) & (UINT32_MAX << (32 - prefixlen));
        c.end = c.net + (UINT32_C(1) << (32 - prefixlen));

        r = nfnl_open(&nl);
        if (r < 0)
                return err_set(err, r, "failed to open an nf_tables netlink socket");
        if (masquerade)
                c.masq_op = NFT_MSG_NEWSETELEM;
        else {
                r = interval_set_has_start(&nl, SET_MASQ, c.net, err);
                if (r < 0)
                        return r;
                if (r > 0)
                        c.masq_op = NFT_MSG_DELSETELEM;
        }
        return send_change(&nl, subnet_elems_cb, &c, NULL, err);
}

int nft_subnet_remove(const struct in_addr *subnet, unsigned prefixlen, NftError *err) {
        _cleanup_(nfnl_done) Nfnl nl = {};
        _cleanup_(batch_done) Batch b = {};
        SubnetChange c = { .subnets_op = NFT_MSG_DELSETELEM };
        int r;

        if (!subnet || prefixlen < 1 || prefixlen > 32)
                return err_set(err, -EINVAL, "invalid subnet");
        c.net = ntohl(subnet->s_addr) & (UINT32_MAX << (32 - prefixlen));
        c.end = c.net + (UINT32_C(1) << (32 - prefixlen));

        r = nfnl_open(&nl);
        if (r < 0)
                return err_set(err, r, "failed to open an nf_tables netlink socket");
        r = interval_set_has_start(&nl, SET_MASQ, c.net, err);
        if (r < 0)
                return r;
        if (r > 0)
                c.masq_op = NFT_MSG_DELSETELEM;

        /* removal never re-creates anything */
        r = batch_begin(&b, &nl);
        if (r >= 0)
                r = subnet_elems_cb(&b, &nl, &c);
        if (r < 0)
                return err_set(err, r, NULL);
        return batch_send(&b, &nl, err);
}
