/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "fileio.h"
#include "netlink-internal.h"
#include "netlink.h"
#include "nlmsg-util.h"
#include "string-util.h"

/* Enough for any single rtnetlink message the kernel sends us (dump batches are <= 32 KiB when the
 * receive buffer allows it; MSG_TRUNC is detected and reported). */
#define NL_RECV_BUFFER (64U * 1024U)
#define NL_DUMP_RETRIES 5
/* Our requests carry at most a few short names and addresses. */
#define NL_REQ_BUFFER(name) char name[4096] __attribute__((aligned(8))) = {}

struct Netlink {
        struct mnl_socket *sock;
        uint32_t portid;
        uint32_t seq;
        char *buf; /* NL_RECV_BUFFER */
};

void netlink_error_done(NetlinkError *e) {
        error_message_done(e);
}

#define nl_error_set error_message_set
#define nl_error_setf error_message_setf

Netlink *netlink_free(Netlink *nl) {
        if (!nl)
                return NULL;
        if (nl->sock)
                (void) mnl_socket_close(nl->sock);
        free(nl->buf);
        free(nl);
        return NULL;
}

static int netlink_setup(struct mnl_socket *sock, Netlink **ret) {
        _cleanup_netlink_free_ Netlink *nl = NULL;
        int one = 1;

        nl = new0(Netlink, 1);
        if (!nl) {
                (void) mnl_socket_close(sock);
                return -ENOMEM;
        }
        nl->sock = sock;
        nl->buf = malloc(NL_RECV_BUFFER);
        if (!nl->buf)
                return -ENOMEM;

        /* Extended acks carry the kernel's reason; capped acks don't echo our request back. */
        if (mnl_socket_setsockopt(sock, NETLINK_EXT_ACK, &one, sizeof(one)) < 0)
                return -errno;
        (void) mnl_socket_setsockopt(sock, NETLINK_CAP_ACK, &one, sizeof(one));
        if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0)
                return -errno;
        nl->portid = mnl_socket_get_portid(sock);
        /* Start from a time-derived number so replies to a previous socket can't be mistaken. */
        nl->seq = (uint32_t) time(NULL);
        *ret = TAKE_PTR(nl);
        return 0;
}

int netlink_open(Netlink **ret) {
        struct mnl_socket *sock;

        if (!ret)
                return -EINVAL;
        sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!sock)
                return -errno;
        return netlink_setup(sock, ret);
}

/* The calling thread enters the namespace for the socket() call only and returns to its own right
 * after (two setns() calls, a few microseconds). A short-lived thread of its own for it (what this
 * did before) had to be scheduled first: up to 6.7 ms on a busy host, measured with perf sched.
 * Not getting back would leave the caller acting on the container's network as if it were the
 * host's, which nothing can recover from, so that aborts: setns() into the namespace the thread
 * came from can only fail when the kernel cannot allocate an nsproxy (a fatal signal pending). */
int netlink_open_in_netns(int netns_fd, Netlink **ret) {
        _cleanup_close_ int self_fd = -EBADF;
        struct mnl_socket *sock;
        int r;

        if (netns_fd < 0 || !ret)
                return -EINVAL;
        self_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self_fd < 0)
                return -errno;
        if (setns(netns_fd, CLONE_NEWNET) < 0)
                return -errno;
        sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        r = sock ? 0 : -errno;
        if (setns(self_fd, CLONE_NEWNET) < 0)
                abort();
        if (r < 0)
                return r;
        return netlink_setup(sock, ret);
}

/* Parses NLMSG_ERROR: returns its error (0 for an ack) and stores the extended-ack text. */
static int nl_parse_error(const struct nlmsghdr *nlh, NetlinkError *err) {
        const char *msg;
        int r;

        r = nlmsg_parse_error(nlh, &msg);
        return r == 0 ? 0 : nl_error_set(err, r, msg);
}

/* Receives one datagram from the kernel. */
static ssize_t nl_recv(Netlink *nl) {
        return nlmsg_recv(mnl_socket_get_fd(nl->sock), nl->buf, NL_RECV_BUFFER, 0);
}

/* Processes one datagram of replies to the request (seq, portid). Returns 1 when the exchange is
 * complete (its result in st->result), 0 when more datagrams are expected. */
int netlink_process_replies(const void *buf, size_t size, uint32_t seq, uint32_t portid, bool dump,
                            nl_msg_cb cb, void *userdata, NetlinkReplyState *st, NetlinkError *err) {
        const struct nlmsghdr *h;
        int len;

        if (size > INT32_MAX)
                return st->result = nl_error_set(err, -EBADMSG, "oversized netlink reply"), 1;
        len = (int) size;
        for (h = buf; nlmsg_valid(h, len); h = mnl_nlmsg_next(h, &len)) {
                if (h->nlmsg_seq != seq || h->nlmsg_pid != portid)
                        continue; /* stale reply to an earlier request (e.g. interrupted) */
                if (h->nlmsg_flags & NLM_F_DUMP_INTR)
                        st->interrupted = true;
                if (h->nlmsg_type == NLMSG_ERROR) {
                        int r = nl_parse_error(h, err);
                        if (r < 0) {
                                st->result = r;
                                return 1;
                        }
                        if (dump)
                                continue; /* an ack within a dump ends nothing */
                        st->result = st->cb_error < 0 ? nl_error_set(err, st->cb_error, NULL) : 0;
                        return 1;
                }
                if (h->nlmsg_type == NLMSG_DONE) {
                        int e = 0;
                        if (!dump)
                                continue;
                        if (h->nlmsg_len >= mnl_nlmsg_size(sizeof(int)))
                                memcpy(&e, mnl_nlmsg_get_payload(h), sizeof(e));
                        if (e < 0 && e >= -4095)
                                st->result = nl_error_set(err, e, "dump failed");
                        else if (st->interrupted)
                                st->result = nl_error_set(err, -EAGAIN, "dump interrupted");
                        else
                                st->result = st->cb_error < 0 ? nl_error_set(err, st->cb_error, NULL) : 0;
                        return 1;
                }
                if (h->nlmsg_type < NLMSG_MIN_TYPE)
                        continue; /* NOOP, OVERRUN */
                if (cb && st->cb_error >= 0) {
                        int r = cb(h, userdata);
                        if (r < 0)
                                st->cb_error = r;
                }
        }
        if (len != 0) {
                st->result = nl_error_set(err, -EBADMSG, "malformed netlink reply");
                return 1;
        }
        return 0;
}

/* Sends nlh (NLM_F_REQUEST|NLM_F_ACK and a fresh sequence number are added) and processes replies
 * until the ack (or NLMSG_DONE for dumps). Data messages go to cb. Returns the kernel's error. */
static int nl_call_full(Netlink *nl, struct nlmsghdr *nlh, bool dump, nl_msg_cb cb, void *userdata,
                        NetlinkError *err) {
        NetlinkReplyState st = {};

        nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
        nlh->nlmsg_seq = ++nl->seq;
        if (nl->seq == 0)
                nlh->nlmsg_seq = ++nl->seq;

        if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
                return nl_error_set(err, negative_errno(), NULL);

        for (;;) {
                ssize_t n = nl_recv(nl);
                if (n < 0)
                        return nl_error_set(err, (int) n, "failed to receive netlink reply");
                if (netlink_process_replies(nl->buf, (size_t) n, nlh->nlmsg_seq, nl->portid, dump, cb,
                                            userdata, &st, err) > 0)
                        return st.result;
        }
}

/* NLM_F_DUMP shares bits with NLM_F_EXCL/NLM_F_ACK_TLVS, so whether a request is a dump is explicit. */
static int nl_call(Netlink *nl, struct nlmsghdr *nlh, nl_msg_cb cb, void *userdata, NetlinkError *err) {
        return nl_call_full(nl, nlh, false, cb, userdata, err);
}

/* Runs a dump, restarting it (after reset_cb) when the kernel reports it was interrupted. */
static int nl_dump(Netlink *nl, struct nlmsghdr *nlh, nl_msg_cb cb, void (*reset_cb)(void *userdata),
                   void *userdata, NetlinkError *err) {
        int r = -EAGAIN;

        for (unsigned i = 0; i < NL_DUMP_RETRIES; i++) {
                nlh->nlmsg_flags |= NLM_F_DUMP;
                r = nl_call_full(nl, nlh, true, cb, userdata, err);
                if (r != -EAGAIN)
                        return r;
                if (reset_cb)
                        reset_cb(userdata);
        }
        return r;
}

static struct nlmsghdr *nl_msg_new(char *buf, uint16_t type, uint16_t flags) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = flags;
        return nlh;
}

static bool ifname_is_valid(const char *n) {
        size_t l;
        if (isempty(n))
                return false;
        l = strlen(n);
        if (l >= IFNAMSIZ || streq(n, ".") || streq(n, ".."))
                return false;
        for (const char *p = n; *p; p++)
                if ((unsigned char) *p <= ' ' || *p == '/' || *p == ':' || *p == 0x7f)
                        return false;
        return true;
}

/* ---- links ---- */

typedef struct LinkInfo {
        int ifindex;
        unsigned flags;
        int master;
        char *name;
        char *kind;
        char *alias; /* IFLA_IFALIAS, NULL when none */
} LinkInfo;

static void link_info_done(LinkInfo *l) {
        free(l->name);
        free(l->kind);
        free(l->alias);
        *l = (LinkInfo){};
}

static int linkinfo_attr_cb(const struct nlattr *a, void *data) {
        const struct nlattr **tb = data;
        unsigned t = mnl_attr_get_type(a);
        if (t == IFLA_INFO_KIND) {
                if (mnl_attr_validate(a, MNL_TYPE_STRING) < 0)
                        return MNL_CB_ERROR;
                tb[t] = a;
        }
        return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *a, void *data) {
        const struct nlattr **tb = data;
        unsigned t = mnl_attr_get_type(a);
        switch (t) {
        case IFLA_IFNAME:
        case IFLA_IFALIAS:
                if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
                        return MNL_CB_ERROR;
                break;
        case IFLA_MASTER:
                if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
                        return MNL_CB_ERROR;
                break;
        case IFLA_LINKINFO:
                if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
                        return MNL_CB_ERROR;
                break;
        default:
                return MNL_CB_OK;
        }
        tb[t] = a;
        return MNL_CB_OK;
}

static int link_parse(const struct nlmsghdr *nlh, LinkInfo *ret) {
        const struct nlattr *tb[IFLA_MAX + 1] = {}, *ti[IFLA_INFO_MAX + 1] = {};
        const struct ifinfomsg *ifi;
        LinkInfo l = {};

        if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct ifinfomsg)))
                return -EBADMSG;
        ifi = mnl_nlmsg_get_payload(nlh);
        if (mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, tb) < 0 || !tb[IFLA_IFNAME] ||
            ifi->ifi_index <= 0)
                return -EBADMSG;
        if (tb[IFLA_LINKINFO] && mnl_attr_parse_nested(tb[IFLA_LINKINFO], linkinfo_attr_cb, ti) < 0)
                return -EBADMSG;

        l.ifindex = ifi->ifi_index;
        l.flags = ifi->ifi_flags;
        if (tb[IFLA_MASTER])
                l.master = (int) mnl_attr_get_u32(tb[IFLA_MASTER]);
        l.name = strdup(mnl_attr_get_str(tb[IFLA_IFNAME]));
        if (ti[IFLA_INFO_KIND])
                l.kind = strndup(mnl_attr_get_payload(ti[IFLA_INFO_KIND]),
                                 mnl_attr_get_payload_len(ti[IFLA_INFO_KIND]));
        if (tb[IFLA_IFALIAS] && !isempty(mnl_attr_get_str(tb[IFLA_IFALIAS])))
                l.alias = strdup(mnl_attr_get_str(tb[IFLA_IFALIAS]));
        if (!l.name || (ti[IFLA_INFO_KIND] && !l.kind) ||
            (tb[IFLA_IFALIAS] && !isempty(mnl_attr_get_str(tb[IFLA_IFALIAS])) && !l.alias)) {
                link_info_done(&l);
                return -ENOMEM;
        }
        *ret = l;
        return 0;
}

static int link_get_cb(const struct nlmsghdr *nlh, void *userdata) {
        LinkInfo *l = userdata;
        link_info_done(l);
        return link_parse(nlh, l);
}

static int link_get(Netlink *nl, const char *ifname, LinkInfo *ret, NetlinkError *err) {
        NL_REQ_BUFFER(buf);
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;
        LinkInfo l = {};
        int r;

        if (!nl || !ifname_is_valid(ifname))
                return nl_error_set(err, -EINVAL, "invalid interface name");
        nlh = nl_msg_new(buf, RTM_GETLINK, 0);
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
        mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        r = nl_call(nl, nlh, link_get_cb, &l, err);
        if (r < 0) {
                link_info_done(&l);
                return r;
        }
        if (l.ifindex <= 0)
                return nl_error_set(err, -EBADMSG, "no link in reply");
        *ret = l;
        return 0;
}

int netlink_link_ifindex(Netlink *nl, const char *ifname, NetlinkError *err) {
        LinkInfo l = {};
        int r = link_get(nl, ifname, &l, err);
        if (r < 0)
                return r;
        r = l.ifindex;
        link_info_done(&l);
        return r;
}

static int link_set_flags(Netlink *nl, int ifindex, unsigned flags, unsigned change, NetlinkError *err) {
        NL_REQ_BUFFER(buf);
        struct nlmsghdr *nlh = nl_msg_new(buf, RTM_NEWLINK, 0);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        ifi->ifi_flags = flags;
        ifi->ifi_change = change;
        return nl_call(nl, nlh, NULL, NULL, err);
}

int netlink_link_set_up(Netlink *nl, const char *ifname, bool up, NetlinkError *err) {
        int ifindex = netlink_link_ifindex(nl, ifname, err);
        if (ifindex < 0)
                return ifindex;
        return link_set_flags(nl, ifindex, up ? IFF_UP : 0, IFF_UP, err);
}

int netlink_link_delete(Netlink *nl, const char *ifname, NetlinkError *err) {
        NL_REQ_BUFFER(buf);
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;

        if (!nl || !ifname_is_valid(ifname))
                return nl_error_set(err, -EINVAL, "invalid interface name");
        nlh = nl_msg_new(buf, RTM_DELLINK, 0);
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
        return nl_call(nl, nlh, NULL, NULL, err);
}

static int link_delete_ifindex(Netlink *nl, int ifindex, NetlinkError *err) {
        NL_REQ_BUFFER(buf);
        struct nlmsghdr *nlh = nl_msg_new(buf, RTM_DELLINK, 0);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        return nl_call(nl, nlh, NULL, NULL, err);
}

/* The link named ifname, when its alias is `owner`: its ifindex; -EPERM (with a reason) when it carries
 * another alias or none, -ENODEV when there is no such link. */
static int link_owned(Netlink *nl, const char *ifname, const char *owner, NetlinkError *err) {
        LinkInfo l = {};
        int r;

        if (isempty(owner))
                return nl_error_set(err, -EINVAL, "no owner to check");
        r = link_get(nl, ifname, &l, err);
        if (r < 0)
                return r;
        if (!streq_ptr(l.alias, owner))
                r = nl_error_setf(err, -EPERM, "link '%s' is not '%s' (its alias is '%s')", ifname, owner,
                                  strna(l.alias));
        else
                r = l.ifindex;
        link_info_done(&l);
        return r;
}

int netlink_link_delete_owned(Netlink *nl, const char *ifname, const char *owner, NetlinkError *err) {
        int ifindex = link_owned(nl, ifname, owner, err);
        if (ifindex < 0)
                return ifindex;
        return link_delete_ifindex(nl, ifindex, err);
}

int netlink_link_delete_ifindex(Netlink *nl, int ifindex, NetlinkError *err) {
        if (!nl || ifindex <= 0)
                return nl_error_set(err, -EINVAL, "invalid ifindex");
        return link_delete_ifindex(nl, ifindex, err);
}

void netlink_link_done(NetlinkLink *l) {
        if (!l)
                return;
        free(l->name);
        free(l->kind);
        free(l->alias);
        *l = (NetlinkLink){};
}

void netlink_link_array_free(NetlinkLink *l, size_t n) {
        for (size_t i = 0; i < n; i++)
                netlink_link_done(l + i);
        free(l);
}

int netlink_link_get(Netlink *nl, const char *ifname, NetlinkLink *ret, NetlinkError *err) {
        LinkInfo l = {};
        int r;

        if (!ret)
                return nl_error_set(err, -EINVAL, "no result");
        r = link_get(nl, ifname, &l, err);
        if (r < 0)
                return r;
        *ret = (NetlinkLink){ .ifindex = l.ifindex,
                              .flags = l.flags,
                              .master = l.master,
                              .name = TAKE_PTR(l.name),
                              .kind = TAKE_PTR(l.kind),
                              .alias = TAKE_PTR(l.alias) };
        link_info_done(&l);
        return 0;
}

int netlink_link_retire(Netlink *nl, const char *ifname, const char *prefix, const char *owner,
                        NetlinkError *err) {
        NL_REQ_BUFFER(buf);
        char newname[IFNAMSIZ];
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;
        int ifindex, r;

        if (!nl || !ifname_is_valid(ifname) || isempty(prefix))
                return nl_error_set(err, -EINVAL, "invalid interface name or prefix");
        ifindex = owner ? link_owned(nl, ifname, owner, err) : netlink_link_ifindex(nl, ifname, err);
        if (ifindex < 0)
                return ifindex;
        r = snprintf(newname, sizeof(newname), "%s%d", prefix, ifindex);
        if (r < 0 || (size_t) r >= sizeof(newname) || !ifname_is_valid(newname))
                return nl_error_setf(err, -EINVAL, "'%s' + ifindex %d is no valid interface name", prefix,
                                     ifindex);

        /* down first: the kernel refuses to rename a link that is up (EBUSY) */
        r = link_set_flags(nl, ifindex, 0, IFF_UP, err);
        if (r < 0)
                return r;
        nlh = nl_msg_new(buf, RTM_NEWLINK, 0);
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, newname);
        r = nl_call(nl, nlh, NULL, NULL, err);
        return r < 0 ? r : ifindex;
}

static int link_list_cb(const struct nlmsghdr *nlh, void *userdata) {
        char ***l = userdata;
        LinkInfo li = {};
        int r = link_parse(nlh, &li);
        if (r < 0)
                return r;
        r = strv_consume(l, TAKE_PTR(li.name));
        link_info_done(&li);
        return r;
}

static void link_list_reset(void *userdata) {
        char ***l = userdata;
        *l = strv_free(*l);
}

typedef struct LinkArray {
        NetlinkLink *links;
        size_t n;
} LinkArray;

static int link_dump_cb(const struct nlmsghdr *nlh, void *userdata) {
        LinkArray *a = userdata;
        LinkInfo li = {};
        NetlinkLink *n;
        int r = link_parse(nlh, &li);

        if (r < 0)
                return r;
        n = reallocarray(a->links, a->n + 1, sizeof(NetlinkLink));
        if (!n) {
                link_info_done(&li);
                return -ENOMEM;
        }
        a->links = n;
        a->links[a->n++] = (NetlinkLink){ .ifindex = li.ifindex,
                                          .flags = li.flags,
                                          .master = li.master,
                                          .name = TAKE_PTR(li.name),
                                          .kind = TAKE_PTR(li.kind),
                                          .alias = TAKE_PTR(li.alias) };
        link_info_done(&li);
        return 0;
}

static void link_dump_reset(void *userdata) {
        LinkArray *a = userdata;
        netlink_link_array_free(a->links, a->n);
        *a = (LinkArray){};
}

int netlink_link_dump(Netlink *nl, NetlinkLink **ret, size_t *ret_n, NetlinkError *err) {
        NL_REQ_BUFFER(buf);
        LinkArray a = {};
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;
        int r;

        if (!nl || !ret || !ret_n)
                return -EINVAL;
        nlh = nl_msg_new(buf, RTM_GETLINK, 0);
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        r = nl_dump(nl, nlh, link_dump_cb, link_dump_reset, &a, err);
        if (r < 0) {
                link_dump_reset(&a);
                return r;
        }
        *ret = a.links;
        *ret_n = a.n;
        return 0;
}

int netlink_link_list(Netlink *nl, char ***ret, NetlinkError *err) {
        NL_REQ_BUFFER(buf);
        _cleanup_strv_free_ char **l = NULL;
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;
        int r;

        if (!nl || !ret)
                return -EINVAL;
        nlh = nl_msg_new(buf, RTM_GETLINK, 0);
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        r = nl_dump(nl, nlh, link_list_cb, link_list_reset, &l, err);
        if (r < 0)
                return r;
        r = strv_ensure(&l);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

/* ---- addresses ---- */

typedef struct AddrList {
        int ifindex;
        struct in_addr *addrs;
        unsigned char *prefixlens;
        size_t n;
} AddrList;

static int addr_attr_cb(const struct nlattr *a, void *data) {
        const struct nlattr **tb = data;
        unsigned t = mnl_attr_get_type(a);
        if (t == IFA_LOCAL || t == IFA_ADDRESS) {
                if (mnl_attr_validate2(a, MNL_TYPE_BINARY, sizeof(struct in_addr)) < 0)
                        return MNL_CB_ERROR;
                tb[t] = a;
        }
        return MNL_CB_OK;
}

static int addr_list_cb(const struct nlmsghdr *nlh, void *userdata) {
        AddrList *l = userdata;
        const struct nlattr *tb[IFA_MAX + 1] = {};
        const struct ifaddrmsg *ifa;
        const struct nlattr *a;

        if (nlh->nlmsg_type != RTM_NEWADDR || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifa)))
                return -EBADMSG;
        ifa = mnl_nlmsg_get_payload(nlh);
        if (ifa->ifa_family != AF_INET || (int) ifa->ifa_index != l->ifindex)
                return 0;
        if (mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb) < 0 || ifa->ifa_prefixlen > 32)
                return -EBADMSG;
        a = tb[IFA_LOCAL] ?: tb[IFA_ADDRESS];
        if (!a)
                return -EBADMSG;

        struct in_addr *na = realloc(l->addrs, (l->n + 1) * sizeof(struct in_addr));
        if (!na)
                return -ENOMEM;
        l->addrs = na;
        unsigned char *np = realloc(l->prefixlens, l->n + 1);
        if (!np)
                return -ENOMEM;
        l->prefixlens = np;
        memcpy(&l->addrs[l->n], mnl_attr_get_payload(a), sizeof(struct in_addr));
        l->prefixlens[l->n] = ifa->ifa_prefixlen;
        l->n++;
        return 0;
}

static void addr_list_reset(void *userdata) {
        AddrList *l = userdata;
        l->addrs = mfree(l->addrs);
        l->prefixlens = mfree(l->prefixlens);
        l->n = 0;
}

static int addr_list(Netlink *nl, int ifindex, AddrList *l, NetlinkError *err) {
        NL_REQ_BUFFER(buf);
        struct nlmsghdr *nlh = nl_msg_new(buf, RTM_GETADDR, 0);
        struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
        int r;

        ifa->ifa_family = AF_INET;
        *l = (AddrList){ .ifindex = ifindex };
        r = nl_dump(nl, nlh, addr_list_cb, addr_list_reset, l, err);
        if (r < 0)
                addr_list_reset(l);
        return r;
}

/* Adds an IPv4 address; an identical existing one is fine. */
static int addr_add(Netlink *nl, int ifindex, const struct in_addr *address, unsigned prefixlen,
                    NetlinkError *err) {
        NL_REQ_BUFFER(buf);
        struct nlmsghdr *nlh = nl_msg_new(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
        struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
        int r;

        ifa->ifa_family = AF_INET;
        ifa->ifa_prefixlen = (unsigned char) prefixlen;
        ifa->ifa_scope = RT_SCOPE_UNIVERSE;
        ifa->ifa_index = (unsigned) ifindex;
        mnl_attr_put(nlh, IFA_LOCAL, sizeof(*address), address);
        mnl_attr_put(nlh, IFA_ADDRESS, sizeof(*address), address);
        if (prefixlen < 31) {
                struct in_addr brd = { .s_addr = address->s_addr | htonl(UINT32_MAX >> prefixlen) };
                mnl_attr_put(nlh, IFA_BROADCAST, sizeof(brd), &brd);
        }
        r = nl_call(nl, nlh, NULL, NULL, err);
        if (r == -EEXIST) {
                netlink_error_done(err);
                return 0;
        }
        return r;
}

static uint32_t fnv1a(const char *s) {
        uint32_t h = 2166136261U;
        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * 16777619U;
        return h;
}

/* A stable, locally administered unicast MAC derived from the bridge name. */
static void bridge_mac(const char *name, uint8_t mac[static 6]) {
        uint32_t h = fnv1a(name);
        mac[0] = 0x02; /* locally administered, unicast */
        mac[1] = 0xcb;
        mac[2] = (uint8_t) (h >> 24);
        mac[3] = (uint8_t) (h >> 16);
        mac[4] = (uint8_t) (h >> 8);
        mac[5] = (uint8_t) h;
}

int netlink_bridge_ensure(Netlink *nl, const char *name, const struct in_addr *address, unsigned prefixlen,
                          NetlinkError *err) {
        _cleanup_(addr_list_reset) AddrList al = {};
        LinkInfo l = {};
        bool changed = false, have = false;
        char a1[INET_ADDRSTRLEN];
        int r;

        if (!nl || !ifname_is_valid(name) || !address || prefixlen < 1 || prefixlen > 30)
                return nl_error_set(err, -EINVAL, "invalid bridge name or address");

        r = link_get(nl, name, &l, err);
        if (r == -ENODEV) {
                NL_REQ_BUFFER(buf);
                struct nlmsghdr *nlh = nl_msg_new(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
                struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
                struct nlattr *li;

                netlink_error_done(err);
                ifi->ifi_family = AF_UNSPEC;
                mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
                /* A fixed MAC: otherwise the bridge takes the lowest MAC of its ports, and it changes
                 * (stale ARP entries in every container) whenever containers come and go. */
                uint8_t mac[6];
                bridge_mac(name, mac);
                mnl_attr_put(nlh, IFLA_ADDRESS, sizeof(mac), mac);
                li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
                mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
                mnl_attr_nest_end(nlh, li);
                r = nl_call(nl, nlh, NULL, NULL, err);
                if (r < 0 && r != -EEXIST) /* EEXIST: created concurrently, check it below */
                        return r;
                netlink_error_done(err);
                changed = r >= 0;
                r = link_get(nl, name, &l, err);
        }
        if (r < 0)
                return r;
        if (!streq_ptr(l.kind, "bridge")) {
                r = nl_error_setf(err, -EEXIST, "link '%s' exists and is not a bridge (kind %s)", name,
                                  strna(l.kind));
                link_info_done(&l);
                return r;
        }

        r = addr_list(nl, l.ifindex, &al, err);
        if (r < 0)
                goto finish;
        for (size_t i = 0; i < al.n; i++) {
                if (al.addrs[i].s_addr == address->s_addr && al.prefixlens[i] == prefixlen)
                        have = true;
                else {
                        r = nl_error_setf(
                                err, -EEXIST, "bridge '%s' already carries a different address %s/%u", name,
                                inet_ntop(AF_INET, &al.addrs[i], a1, sizeof(a1)) ?: "?", al.prefixlens[i]);
                        goto finish;
                }
        }
        if (!have) {
                r = addr_add(nl, l.ifindex, address, prefixlen, err);
                if (r < 0)
                        goto finish;
                changed = true;
        }
        if (!(l.flags & IFF_UP)) {
                r = link_set_flags(nl, l.ifindex, IFF_UP, IFF_UP, err);
                if (r < 0)
                        goto finish;
                changed = true;
        }
        r = changed;
finish:
        link_info_done(&l);
        return r;
}

static bool br_netfilter_active(void) {
        _cleanup_free_ char *v = NULL;
        return read_one_line_file("/proc/sys/net/bridge/bridge-nf-call-iptables", &v) >= 0 && streq(v, "1");
}

/* Hairpin mode on a bridge port: with br_netfilter loaded, a container reaching its own published
 * port is DNAT'd at bridge level and must go back out the port it came in on. Set as the port's
 * slave data on a link found by name (`ip link set NAME type bridge_slave hairpin on`): an
 * RTM_GETLINK for its ifindex would first run the link's pending link-watch event (its carrier went
 * off at creation), which for a link that is up waits for an expedited RCU grace period. */
static int bridge_port_hairpin(Netlink *nl, const char *ifname, NetlinkError *err) {
        NL_REQ_BUFFER(buf);
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;
        struct nlattr *li, *sd;

        nlh = nl_msg_new(buf, RTM_NEWLINK, 0);
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
        li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        sd = mnl_attr_nest_start(nlh, IFLA_INFO_SLAVE_DATA);
        mnl_attr_put_u8(nlh, IFLA_BRPORT_MODE, 1);
        mnl_attr_nest_end(nlh, sd);
        mnl_attr_nest_end(nlh, li);
        return nl_call(nl, nlh, NULL, NULL, err);
}

static int link_set_alias(Netlink *nl, const char *ifname, const char *alias, NetlinkError *err) {
        NL_REQ_BUFFER(buf);
        struct nlmsghdr *nlh = nl_msg_new(buf, RTM_NEWLINK, 0);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
        mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias);
        return nl_call(nl, nlh, NULL, NULL, err);
}

int netlink_veth_create(Netlink *nl, const char *host_ifname, const char *bridge, int netns_fd,
                        const char *peer_ifname, const char *alias, NetlinkError *err) {
        NL_REQ_BUFFER(buf);
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi, *peer;
        struct nlattr *li, *data, *pi;
        int master, r;

        if (!nl || !ifname_is_valid(host_ifname) || !ifname_is_valid(peer_ifname) || netns_fd < 0 ||
            (alias && (isempty(alias) || strlen(alias) >= IFALIASZ)))
                return nl_error_set(err, -EINVAL, "invalid veth parameters");
        master = netlink_link_ifindex(nl, bridge, err);
        if (master < 0)
                return master == -ENODEV ? nl_error_setf(err, -ENODEV, "bridge '%s' does not exist", bridge)
                                         : master;

        nlh = nl_msg_new(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_flags = IFF_UP;
        ifi->ifi_change = IFF_UP;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, host_ifname);
        /* One queue each way on both ends, as the kernel's default leaves them in use (veth allocates
         * one per possible CPU and then sets the real numbers to 1, each end waiting for an expedited
         * RCU grace period in netif_set_real_num_tx_queues(): 0.1-65 ms under load, measured). */
        mnl_attr_put_u32(nlh, IFLA_NUM_TX_QUEUES, 1);
        mnl_attr_put_u32(nlh, IFLA_NUM_RX_QUEUES, 1);
        mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t) master);
        li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
        data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
        pi = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
        /* the peer's own ifinfomsg, then its attributes: created straight in the container netns */
        peer = mnl_nlmsg_put_extra_header(nlh, sizeof(*peer));
        peer->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_ifname);
        mnl_attr_put_u32(nlh, IFLA_NUM_TX_QUEUES, 1);
        mnl_attr_put_u32(nlh, IFLA_NUM_RX_QUEUES, 1);
        mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t) netns_fd);
        mnl_attr_nest_end(nlh, pi);
        mnl_attr_nest_end(nlh, data);
        mnl_attr_nest_end(nlh, li);

        r = nl_call(nl, nlh, NULL, NULL, err);
        if (r == -EEXIST && err && !err->message)
                return nl_error_setf(err, r, "link '%s' (or '%s' in the container) exists already",
                                     host_ifname, peer_ifname);
        /* br_add_if() finds no free port number (BR_MAX_PORTS); the kernel has removed the new pair */
        if (r == -EXFULL && err && !err->message)
                return nl_error_setf(err, r, "bridge '%s' is full: a Linux bridge takes at most 1023 ports",
                                     bridge);
        if (r < 0)
                return r;
        /* The owner, for every later delete or retire to check (the kernel ignores IFLA_IFALIAS in the
         * RTM_NEWLINK that creates a link, so it is a second request). Until it is set the link has no
         * alias, which no owner check accepts: a concurrent cbox leaves it alone. */
        if (alias) {
                r = link_set_alias(nl, host_ifname, alias, err);
                if (r < 0) {
                        (void) netlink_link_delete(nl, host_ifname, NULL);
                        return r;
                }
        }
        /* Only needed (and only enabled) when br_netfilter hands bridged frames to the IP hooks:
         * hairpin also reflects the container's own broadcasts, which fails IPv6 DAD inside. */
        if (!br_netfilter_active())
                return 0;
        return bridge_port_hairpin(nl, host_ifname, err);
}

static int route_add_default(Netlink *nl, int ifindex, const struct in_addr *gateway, NetlinkError *err) {
        NL_REQ_BUFFER(buf);
        struct nlmsghdr *nlh = nl_msg_new(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
        struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
        int r;

        rtm->rtm_family = AF_INET;
        rtm->rtm_dst_len = 0;
        rtm->rtm_table = RT_TABLE_MAIN;
        rtm->rtm_protocol = RTPROT_STATIC;
        rtm->rtm_scope = RT_SCOPE_UNIVERSE;
        rtm->rtm_type = RTN_UNICAST;
        mnl_attr_put_u32(nlh, RTA_TABLE, RT_TABLE_MAIN);
        mnl_attr_put(nlh, RTA_GATEWAY, sizeof(*gateway), gateway);
        mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t) ifindex);
        r = nl_call(nl, nlh, NULL, NULL, err);
        if (r == -EEXIST) {
                netlink_error_done(err);
                return 0;
        }
        return r;
}

int netlink_loopback_up(int netns_fd, NetlinkError *err) {
        _cleanup_netlink_free_ Netlink *nl = NULL;
        int r = netlink_open_in_netns(netns_fd, &nl);
        if (r < 0)
                return nl_error_set(err, r, "failed to open a netlink socket in the container namespace");
        return netlink_link_set_up(nl, "lo", true, err);
}

int netlink_container_configure(int netns_fd, const char *ifname, const struct in_addr *address,
                                unsigned prefixlen, const struct in_addr *gateway, NetlinkError *err) {
        _cleanup_netlink_free_ Netlink *nl = NULL;
        int ifindex, r;

        if (!ifname_is_valid(ifname) || !address || prefixlen < 1 || prefixlen > 32)
                return nl_error_set(err, -EINVAL, "invalid interface name or address");
        r = netlink_open_in_netns(netns_fd, &nl);
        if (r < 0)
                return nl_error_set(err, r, "failed to open a netlink socket in the container namespace");
        r = netlink_link_set_up(nl, "lo", true, err);
        if (r < 0)
                return r;
        ifindex = netlink_link_ifindex(nl, ifname, err);
        if (ifindex < 0)
                return ifindex;
        r = addr_add(nl, ifindex, address, prefixlen, err);
        if (r < 0)
                return r;
        r = link_set_flags(nl, ifindex, IFF_UP, IFF_UP, err);
        if (r < 0)
                return r;
        if (gateway)
                return route_add_default(nl, ifindex, gateway, err);
        return 0;
}

/* ---- names ---- */

int netlink_veth_name(const char *container, unsigned attempt, char **ret) {
        uint32_t h = 2166136261U; /* FNV-1a */
        size_t l;
        char *n;

        if (isempty(container) || !ret)
                return -EINVAL;
        for (const char *p = container; *p; p++) {
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      IN_SET(*p, '-', '_', '.')))
                        return -EINVAL;
                h = (h ^ (uint8_t) *p) * 16777619U;
        }
        /* another candidate: the hash continued over "#<attempt>" */
        if (attempt > 0) {
                char salt[16];
                (void) snprintf(salt, sizeof(salt), "#%u", attempt);
                for (const char *p = salt; *p; p++)
                        h = (h ^ (uint8_t) *p) * 16777619U;
        }
        l = strlen(container);
        if (l <= 11 && attempt == 0)
                n = strjoin("vb-", container);
        else if (l >= 6) /* 15 characters: never equal to the short form (at most 14) of any name */
                n = strprintf("vb-%.6s-%05x", container, (unsigned) (h & 0xfffffU));
        else { /* a short name's later attempt: more hex digits, still 15 characters */
                uint32_t h2 = (h ^ (uint8_t) '!') * 16777619U;
                char hex[17];
                (void) snprintf(hex, sizeof(hex), "%08x%08x", (unsigned) h, (unsigned) h2);
                n = strprintf("vb-%s-%.*s", container, (int) (11 - l), hex);
        }
        if (!n)
                return -ENOMEM;
        *ret = n;
        return 0;
}

/* ---- sysctls ---- */

int netlink_sysctl_write(const char *key, const char *value) {
        _cleanup_free_ char *path = NULL, *cur = NULL;
        bool slash;
        int r;

        if (isempty(key) || !value || strchr(value, '\n'))
                return -EINVAL;
        slash = strchr(key, '/');
        path = strjoin("/proc/sys/", key);
        if (!path)
                return -ENOMEM;
        if (!slash) /* dotted form; a '/' form is needed for names that contain dots */
                for (char *p = path + strlen("/proc/sys/"); *p; p++)
                        if (*p == '.')
                                *p = '/';
        if (!startswith(path, "/proc/sys/net/"))
                return -EINVAL;
        /* no empty, "." or ".." components */
        for (const char *p = path + strlen("/proc/sys/"); *p;) {
                size_t l = strcspn(p, "/");
                if (l == 0 || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
                        return -EINVAL;
                p += l;
                if (*p)
                        p++;
                if (*p == 0 && p[-1] == '/')
                        return -EINVAL;
        }

        r = read_one_line_file(path, &cur);
        if (r < 0)
                return r;
        if (streq(cur, value))
                return 0;
        r = write_string_file(path, value);
        return r < 0 ? r : 1;
}

int netlink_sysctl_ip_forward(void) {
        return netlink_sysctl_write("net/ipv4/ip_forward", "1");
}

int netlink_sysctl_route_localnet(const char *bridge) {
        _cleanup_free_ char *k = NULL;

        if (!ifname_is_valid(bridge) || streq(bridge, "all") || streq(bridge, "default"))
                return -EINVAL;
        k = strjoin("net/ipv4/conf/", bridge, "/route_localnet");
        if (!k)
                return -ENOMEM;
        return netlink_sysctl_write(k, "1");
}

/* ---- fuzzing ---- */

int netlink_fuzz_replies(const void *data, size_t size) {
        const struct nlmsghdr *first = data;
        uint32_t seq = 0, portid = 0;
        _cleanup_strv_free_ char **links = NULL;
        _cleanup_(addr_list_reset) AddrList al = { .ifindex = 1 };
        LinkInfo li = {};
        NetlinkError err = {};
        NetlinkReplyState st;

        /* take seq/portid from the first message so the input decides what matches */
        if (size >= sizeof(struct nlmsghdr)) {
                seq = first->nlmsg_seq;
                portid = first->nlmsg_pid;
        }
        st = (NetlinkReplyState){};
        (void) netlink_process_replies(data, size, seq, portid, true, link_list_cb, &links, &st, &err);
        netlink_error_done(&err);
        st = (NetlinkReplyState){};
        (void) netlink_process_replies(data, size, seq, portid, true, addr_list_cb, &al, &st, &err);
        netlink_error_done(&err);
        st = (NetlinkReplyState){};
        (void) netlink_process_replies(data, size, seq, portid, false, link_get_cb, &li, &st, &err);
        netlink_error_done(&err);
        link_info_done(&li);
        return 0;
}
