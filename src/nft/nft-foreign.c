/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The administrator's forward chains (see nft.h): found by one dump of every chain, read and never
 * changed, except the chain conf.d's forward_accept_chain names, where cbox keeps its two accept
 * rules per bridge at the head, each marked by its comment. */

#include <arpa/inet.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <unistd.h>

#include "nft-internal.h"
#include "nft.h"
#include "string-util.h"

#define COMMENT_FROM "cbox: accept from "
#define COMMENT_TO "cbox: accept to "
#define OUR_TABLE "cbox"

static const char *family_name(uint32_t f) {
        return f == NFPROTO_IPV4 ? "ip" : f == NFPROTO_INET ? "inet" : NULL;
}

static bool name_ok(const char *s, size_t n) {
        if (n == 0 || n >= NFT_NAME_MAXLEN)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                      (s[i] >= '0' && s[i] <= '9') || strchr("_-.", s[i])))
                        return false;
        return true;
}

int nft_chain_ref_parse(const char *s, NftChainRef *ret) {
        const char *t, *c;
        NftChainRef ref = {};

        if (!s)
                return -EINVAL;
        t = strchr(s, ' ');
        if (!t)
                return -EINVAL;
        if ((size_t) (t - s) == 2 && strneq(s, "ip", 2))
                ref.family = NFPROTO_IPV4;
        else if ((size_t) (t - s) == 4 && strneq(s, "inet", 4))
                ref.family = NFPROTO_INET;
        else
                return -EINVAL;
        t++;
        c = strchr(t, ' ');
        if (!c || !name_ok(t, (size_t) (c - t)) || !name_ok(c + 1, strlen(c + 1)))
                return -EINVAL;
        memcpy(ref.table, t, (size_t) (c - t));
        strcpy(ref.chain, c + 1);
        *ret = ref;
        return 0;
}

static bool ref_equal(const NftChainRef *a, uint32_t family, const char *table, const char *chain) {
        return a && a->family == family && streq(a->table, table) && streq(a->chain, chain);
}

/* ---- reading ---- */

typedef struct ChainList {
        NftChainRef *v;
        bool *policy_drop;
        size_t n;
} ChainList;

static void chain_list_done(ChainList *l) {
        free(l->v);
        free(l->policy_drop);
        *l = (ChainList){};
}

/* collects the base chains on the forward hook of ip and inet tables other than ours */
static int chain_cb(const struct nlmsghdr *nlh, void *userdata) {
        ChainList *l = userdata;
        struct nftnl_chain *c = nftnl_chain_alloc();
        int r = 0;

        if (!c)
                return -ENOMEM;
        if (nftnl_chain_nlmsg_parse(nlh, c) < 0) {
                r = -EBADMSG;
                goto finish;
        }
        uint32_t family = nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY);
        const char *table = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE);
        const char *name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
        if (!family_name(family) || !table || !name || !nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM) ||
            nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM) != NF_INET_FORWARD ||
            (family == NFPROTO_INET && streq(table, OUR_TABLE)) || strlen(table) >= NFT_NAME_MAXLEN ||
            strlen(name) >= NFT_NAME_MAXLEN)
                goto finish;
        NftChainRef *v = reallocarray(l->v, l->n + 1, sizeof(*v));
        if (!v) {
                r = -ENOMEM;
                goto finish;
        }
        l->v = v;
        bool *d = reallocarray(l->policy_drop, l->n + 1, sizeof(*d));
        if (!d) {
                r = -ENOMEM;
                goto finish;
        }
        l->policy_drop = d;
        v[l->n] = (NftChainRef){ .family = family };
        strcpy(v[l->n].table, table);
        strcpy(v[l->n].chain, name);
        d[l->n] = nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) &&
                nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_DROP;
        l->n++;
finish:
        nftnl_chain_free(c);
        return r;
}

static int forward_chains(Nfnl *n, ChainList *l, NftError *err) {
        char buf[4096] __attribute__((aligned(8))) = {};
        struct nlmsghdr *nlh =
                nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, NLM_F_DUMP, nfnl_next_seq(n));
        return nfnl_query(n, nlh, true, chain_cb, l, err);
}

/* An unconditional drop: only counters, logging and a drop verdict or a reject, as `drop`,
 * `counter drop` or firewalld's final `reject with icmpx admin-prohibited` */
typedef struct DropScan {
        char *const *bridges;
        bool other, drops;
        bool bridge_match, accepts; /* this rule: matches iifname/oifname of one of bridges; accepts */
        bool bridge_accepted;       /* some rule of the chain so far: both */
} DropScan;

static bool is_bridge_name(char *const *bridges, const void *data, uint32_t len) {
        STRV_FOREACH (b, (char **) bridges) {
                size_t l = strlen(*b);
                if (len > l && len <= IFNAMSIZ && memcmp(data, *b, l) == 0 &&
                    memchr(data, '\0', len) == (const char *) data + l)
                        return true;
        }
        return false;
}

static int expr_scan_cb(struct nftnl_expr *e, void *userdata) {
        DropScan *d = userdata;
        const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
        uint32_t len = 0;
        int64_t verdict = -1000; /* none (NF_DROP is 0) */

        if (streq_ptr(name, "immediate") && nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG) == NFT_REG_VERDICT)
                verdict = (int32_t) nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);
        if (streq_ptr(name, "cmp") && nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) == NFT_CMP_EQ) {
                const void *data = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);
                if (data && is_bridge_name(d->bridges, data, len))
                        d->bridge_match = true;
        }
        if (verdict == NF_ACCEPT)
                d->accepts = true;
        if (streq_ptr(name, "counter") || streq_ptr(name, "log"))
                return MNL_CB_OK;
        if (streq_ptr(name, "reject") || verdict == NF_DROP)
                d->drops = true;
        else
                d->other = true;
        return MNL_CB_OK;
}

/* Rules of one chain (or of every chain: chain NULL), each parsed, to cb */
typedef int (*rule_cb)(struct nftnl_rule *r, void *userdata);

typedef struct RuleDump {
        rule_cb cb;
        void *userdata;
} RuleDump;

static int rule_msg_cb(const struct nlmsghdr *nlh, void *userdata) {
        RuleDump *d = userdata;
        struct nftnl_rule *r = nftnl_rule_alloc();
        int k;

        if (!r)
                return -ENOMEM;
        k = nftnl_rule_nlmsg_parse(nlh, r) < 0 ? -EBADMSG : d->cb(r, d->userdata);
        nftnl_rule_free(r);
        return k;
}

static int dump_rules(Nfnl *n, const NftChainRef *chain, rule_cb cb, void *userdata, NftError *err) {
        char buf[4096] __attribute__((aligned(8))) = {};
        RuleDump d = { cb, userdata };
        struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE,
                                                     chain ? (uint16_t) chain->family : NFPROTO_UNSPEC,
                                                     NLM_F_DUMP, nfnl_next_seq(n));
        if (chain) {
                struct nftnl_rule *r = nftnl_rule_alloc();
                if (!r)
                        return err_set(err, -ENOMEM, NULL);
                nftnl_rule_set_str(r, NFTNL_RULE_TABLE, chain->table);
                nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain->chain);
                nftnl_rule_nlmsg_build_payload(nlh, r);
                nftnl_rule_free(r);
        }
        return nfnl_query(n, nlh, true, rule_msg_cb, &d, err);
}

/* The dump comes in chain order: the last rule's scan survives; that a rule accepted traffic of one
 * of the bridges (by interface name: the administrator's own rule, or ours) is remembered */
static int last_rule_cb(struct nftnl_rule *r, void *userdata) {
        DropScan *d = userdata;
        *d = (DropScan){ .bridges = d->bridges, .bridge_accepted = d->bridge_accepted };
        (void) nftnl_expr_foreach(r, expr_scan_cb, d);
        if (d->bridge_match && d->accepts)
                d->bridge_accepted = true;
        return 0;
}

int nft_forward_blockers(const NftChainRef *skip, char *const *bridges, char ***ret, NftError *err) {
        _cleanup_(nfnl_done) Nfnl n = {};
        _cleanup_(chain_list_done) ChainList l = {};
        _cleanup_strv_free_ char **out = NULL;
        int r;

        r = nfnl_open(&n);
        if (r < 0)
                return err_set(err, r, "failed to open an nf_tables netlink socket");
        r = forward_chains(&n, &l, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l.n; i++) {
                const NftChainRef *c = &l.v[i];
                const char *why = NULL;
                DropScan d = { .bridges = bridges };

                if (ref_equal(skip, c->family, c->table, c->chain))
                        continue;
                r = dump_rules(&n, c, last_rule_cb, &d, err);
                if (r == -ENOENT)
                        continue; /* gone since */
                if (r < 0)
                        return r;
                if (d.bridge_accepted)
                        continue;
                if (l.policy_drop[i])
                        why = "policy drop";
                else if (d.drops && !d.other)
                        why = "its last rule drops everything";
                if (!why)
                        continue;
                char *line = strprintf("%s %s %s (%s)", family_name(c->family), c->table, c->chain, why);
                if (!line || strv_consume(&out, line) < 0) {
                        free(line);
                        return err_set(err, -ENOMEM, NULL);
                }
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* ---- our accept rules ---- */

typedef struct OurRule {
        NftChainRef where;
        uint64_t handle;
        bool from; /* iifname (from the bridge) or oifname (to it) */
        char bridge[IFNAMSIZ];
} OurRule;

typedef struct OurRules {
        OurRule *v;
        size_t n;
} OurRules;

static int comment_cb(const struct nftnl_udata *attr, void *data) {
        if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT) {
                const char *s = nftnl_udata_get(attr);
                uint8_t len = nftnl_udata_len(attr);
                if (len > 0 && s[len - 1] == '\0')
                        *(const char **) data = s;
        }
        return MNL_CB_OK;
}

static int our_rule_cb(struct nftnl_rule *r, void *userdata) {
        OurRules *l = userdata;
        const char *comment = NULL, *b;
        uint32_t len = 0;
        const void *u = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
        const char *table = nftnl_rule_get_str(r, NFTNL_RULE_TABLE);
        const char *chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
        OurRule o = {};

        if (!u || !table || !chain || nftnl_udata_parse(u, len, comment_cb, &comment) < 0 || !comment)
                return 0;
        if ((b = startswith(comment, COMMENT_FROM)))
                o.from = true;
        else if (!(b = startswith(comment, COMMENT_TO)))
                return 0;
        if (strlen(b) >= IFNAMSIZ || strlen(table) >= NFT_NAME_MAXLEN || strlen(chain) >= NFT_NAME_MAXLEN)
                return 0;
        o.where.family = nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY);
        strcpy(o.where.table, table);
        strcpy(o.where.chain, chain);
        o.handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
        strcpy(o.bridge, b);
        OurRule *v = reallocarray(l->v, l->n + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        l->v = v;
        l->v[l->n++] = o;
        return 0;
}

static int batch_rule(Batch *b, Nfnl *n, uint16_t type, uint16_t flags, struct nftnl_rule *r,
                      const char *what) {
        struct nlmsghdr *nlh;
        char *p;
        int k = batch_reserve(b, MSG_MAX, &p);
        if (k < 0)
                return k;
        nlh = nftnl_nlmsg_build_hdr(p, type, (uint16_t) nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY),
                                    flags | NLM_F_ACK, nfnl_next_seq(n));
        nftnl_rule_nlmsg_build_payload(nlh, r);
        return batch_commit(b, nlh, what);
}

static int add_accept(Batch *b, Nfnl *n, const NftChainRef *c, const char *bridge, bool from) {
        _cleanup_free_ char *comment = strjoin(from ? COMMENT_FROM : COMMENT_TO, bridge);
        char name[IFNAMSIZ] = {};
        struct nftnl_rule *r = nftnl_rule_alloc();
        struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(128);
        int k = -ENOMEM;

        if (!r || !u || !comment || !nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, comment))
                goto finish;
        strncpy(name, bridge, IFNAMSIZ - 1);
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, c->family);
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, c->table);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, c->chain);
        nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u));
        if (!e_meta(r, from ? NFT_META_IIFNAME : NFT_META_OIFNAME, NFT_REG_1) ||
            !e_cmp(r, NFT_REG_1, NFT_CMP_EQ, name, IFNAMSIZ) || !e_verdict(r, NF_ACCEPT, NULL))
                goto finish;
        /* no NLM_F_APPEND: at the head of the chain, before the administrator's own drop */
        k = batch_rule(b, n, NFT_MSG_NEWRULE, NLM_F_CREATE, r,
                       from ? "insert iifname accept" : "insert oifname accept");
finish:
        nftnl_udata_buf_free(u);
        nftnl_rule_free(r);
        return k;
}

static int delete_rule(Batch *b, Nfnl *n, const OurRule *o) {
        struct nftnl_rule *r = nftnl_rule_alloc();
        int k;

        if (!r)
                return -ENOMEM;
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, o->where.family);
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, o->where.table);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, o->where.chain);
        nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, o->handle);
        k = batch_rule(b, n, NFT_MSG_DELRULE, 0, r, "delete cbox's accept rule");
        nftnl_rule_free(r);
        return k;
}

static bool have_rule(const OurRules *l, const NftChainRef *c, const char *bridge, bool from) {
        for (size_t i = 0; i < l->n; i++)
                if (l->v[i].from == from && streq(l->v[i].bridge, bridge) &&
                    ref_equal(c, l->v[i].where.family, l->v[i].where.table, l->v[i].where.chain))
                        return true;
        return false;
}

/* One attempt: read (our rules in chain, or everywhere when pruning), then one batch made against
 * the generation read, so that two cbox commands never insert the same rule twice */
static int sync_once(Nfnl *n, const NftChainRef *chain, char *const *bridges, bool prune, unsigned *changes,
                     NftError *err) {
        _cleanup_(batch_done) Batch b = {};
        OurRules l = {};
        uint32_t genid;
        unsigned k = 0;
        int r;

        r = get_genid(n, &genid, err);
        if (r < 0)
                return r;
        r = dump_rules(n, prune ? NULL : chain, our_rule_cb, &l, err);
        if (r == -ENOENT && chain)
                r = err_setf(err, r, "no chain %s %s %s", family_name(chain->family), chain->table,
                             chain->chain);
        if (r < 0)
                goto finish;
        r = batch_begin_at(&b, n, &genid);
        for (size_t i = 0; r >= 0 && prune && i < l.n; i++) {
                const OurRule *o = &l.v[i];
                bool keep = ref_equal(chain, o->where.family, o->where.table, o->where.chain) &&
                        strv_contains(bridges, o->bridge);
                /* and a duplicate of an earlier rule kept: one of each */
                for (size_t j = 0; keep && j < i; j++)
                        if (l.v[j].from == o->from && streq(l.v[j].bridge, o->bridge) &&
                            ref_equal(&o->where, l.v[j].where.family, l.v[j].where.table,
                                      l.v[j].where.chain))
                                keep = false;
                if (!keep) {
                        r = delete_rule(&b, n, o);
                        k++;
                }
        }
        STRV_FOREACH (br, chain ? (char **) bridges : NULL)
                for (int from = 0; r >= 0 && from < 2; from++)
                        if (!have_rule(&l, chain, *br, from)) {
                                r = add_accept(&b, n, chain, *br, from);
                                k++;
                        }
        if (r < 0) {
                r = err_set(err, r, NULL);
                goto finish;
        }
        if (k > 0)
                r = batch_send(&b, n, err);
        if (r == -ENOENT && chain) /* a dump of a missing chain is merely empty */
                r = err_setf(err, r, "no chain %s %s %s", family_name(chain->family), chain->table,
                             chain->chain);
        if (r >= 0)
                *changes = k;
finish:
        free(l.v);
        return r;
}

int nft_forward_accept_sync(const NftChainRef *chain, char *const *bridges, bool prune, NftError *err) {
        _cleanup_(nfnl_done) Nfnl n = {};
        unsigned changes = 0;
        int r;

        STRV_FOREACH (br, (char **) bridges)
                if (strlen(*br) >= IFNAMSIZ)
                        return err_setf(err, -EINVAL, "bridge name '%s' too long", *br);
        r = nfnl_open(&n);
        if (r < 0)
                return err_set(err, r, "failed to open an nf_tables netlink socket");
        Retry t;
        retry_start(&t);
        do {
                nft_error_done(err);
                r = sync_once(&n, chain, bridges, prune, &changes, err);
        } while (IN_SET(r, -ERESTART, -EAGAIN) && retry_next(&t));
        return r < 0 ? r : (int) changes;
}
