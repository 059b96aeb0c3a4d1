/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* placeholder until config/ lands */
#include "log.h"
#include "verbs.h"

VERB(cat, 11, "cat [--json] FILE|NAME       Show the effective configuration and its sources") {
        return log_error_errno(EOPNOTSUPP, "cat: not implemented yet");
}
