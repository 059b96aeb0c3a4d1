/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Internals of netlink/, exposed for its unit test and fuzzer only. */

#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netlink.h"

typedef int (*nl_msg_cb)(const struct nlmsghdr *nlh, void *userdata);

typedef struct NetlinkReplyState {
        bool interrupted; /* a message carried NLM_F_DUMP_INTR */
        int cb_error;     /* first error returned by the callback */
        int result;       /* valid once netlink_process_replies() returned 1 */
} NetlinkReplyState;

/* Validates and dispatches one received datagram of replies to the request (seq, portid): data
 * messages go to cb, NLMSG_ERROR (with its extended ack) and NLMSG_DONE end the exchange.
 * Returns 1 when the exchange is complete (result in st->result), 0 when more is expected. */
int netlink_process_replies(const void *buf, size_t size, uint32_t seq, uint32_t portid, bool dump,
                            nl_msg_cb cb, void *userdata, NetlinkReplyState *st, NetlinkError *err);

/* Feeds arbitrary bytes through the reply processing and the link/address dump parsers. */
int netlink_fuzz_replies(const void *data, size_t size);
