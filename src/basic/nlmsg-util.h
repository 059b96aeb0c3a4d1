/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What netlink/ (rtnetlink) and nft/ (nfnetlink) share, on linux/netlink.h alone. */

/* Receives one datagram into buf, retrying on EINTR (flags: MSG_DONTWAIT or 0). -ENOBUFS when it did
 * not fit, -EPROTO when it did not come from the kernel. Returns its size. */
ssize_t nlmsg_recv(int fd, void *buf, size_t size, int flags);

/* Whether the message at h lies within the len bytes left, its padding included. libmnl's
 * mnl_nlmsg_ok() compares nlmsg_len as a signed int, so a length >= 2^31 passes there; here it does
 * not. And libmnl walks a message's attributes up to NLMSG_ALIGN(nlmsg_len), so a last message whose
 * padding is missing would let an attribute (and a string in it) run past the buffer: the kernel
 * always sends the padding, so a message without it is malformed. */
bool nlmsg_valid(const struct nlmsghdr *h, int len);

/* An NLMSG_ERROR message: returns its error (0 for an ack) and points *ret_msg at the kernel's
 * extended-ack text (NLMSGERR_ATTR_MSG), NULL when it sent none. A truncated message or an errno out
 * of range gives -EBADMSG, with *ret_msg saying which. */
int nlmsg_parse_error(const struct nlmsghdr *nlh, const char **ret_msg);
