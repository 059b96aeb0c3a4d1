/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>

#include "nlmsg-util.h"

ssize_t nlmsg_recv(int fd, void *buf, size_t size, int flags) {
        struct sockaddr_nl addr = {};
        struct iovec iov = { .iov_base = buf, .iov_len = size };
        struct msghdr mh = {
                .msg_name = &addr, .msg_namelen = sizeof(addr), .msg_iov = &iov, .msg_iovlen = 1
        };
        ssize_t n;

        for (;;) {
                n = recvmsg(fd, &mh, flags);
                if (n >= 0)
                        break;
                if (errno != EINTR)
                        return -errno;
        }
        if (mh.msg_flags & MSG_TRUNC)
                return -ENOBUFS;
        if (mh.msg_namelen != sizeof(addr) || addr.nl_pid != 0)
                return -EPROTO; /* not from the kernel */
        return n;
}

bool nlmsg_valid(const struct nlmsghdr *h, int len) {
        return len >= (int) sizeof(struct nlmsghdr) && h->nlmsg_len >= sizeof(struct nlmsghdr) &&
                h->nlmsg_len <= (unsigned) len && NLMSG_ALIGN(h->nlmsg_len) <= (unsigned) len;
}

/* The NLMSGERR_ATTR_MSG string among the attributes in [start, end), NULL if none is valid */
static const char *ext_ack_message(const uint8_t *start, const uint8_t *end) {
        const char *msg = NULL;

        for (const uint8_t *p = start; end - p >= (ptrdiff_t) NLA_HDRLEN;) {
                const struct nlattr *a = (const struct nlattr *) p;
                size_t len = a->nla_len;

                if (len < NLA_HDRLEN || len > (size_t) (end - p))
                        break;
                /* a NUL-terminated string: at least the NUL, and the NUL last */
                if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG && len > NLA_HDRLEN &&
                    p[len - 1] == '\0')
                        msg = (const char *) p + NLA_HDRLEN;
                if ((size_t) (end - p) < NLA_ALIGN(len))
                        break;
                p += NLA_ALIGN(len);
        }
        return msg;
}

int nlmsg_parse_error(const struct nlmsghdr *nlh, const char **ret_msg) {
        const struct nlmsgerr *e = NLMSG_DATA(nlh);
        size_t offset;

        *ret_msg = NULL;
        if (nlh->nlmsg_len < NLMSG_SPACE(sizeof(struct nlmsgerr))) {
                *ret_msg = "truncated netlink error message";
                return -EBADMSG;
        }
        if (e->error == 0)
                return 0;
        if (e->error > 0 || e->error < -4095) {
                *ret_msg = "invalid errno in netlink error message";
                return -EBADMSG;
        }
        if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
                return e->error;
        /* the TLVs follow the header of the failed request, or the whole request unless it was capped */
        offset = NLMSG_HDRLEN + sizeof(struct nlmsgerr);
        if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
                if (e->msg.nlmsg_len < sizeof(struct nlmsghdr))
                        return e->error;
                offset += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
        }
        if (offset <= nlh->nlmsg_len)
                *ret_msg = ext_ack_message((const uint8_t *) nlh + NLMSG_ALIGN(offset),
                                           (const uint8_t *) nlh + nlh->nlmsg_len);
        return e->error;
}
