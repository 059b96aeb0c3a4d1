/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* rtnetlink reply processing: message walking, sequence/portid matching, NLMSG_ERROR with extended
 * acks, NLMSG_DONE, NLM_F_DUMP_INTR, and the link and address dump parsers. Seeds are datagrams
 * recorded from a real kernel. */

#include <stddef.h>
#include <stdint.h>

#include "netlink-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 1024 * 1024)
                return 0;
        (void) netlink_fuzz_replies(data, size);
        return 0;
}
