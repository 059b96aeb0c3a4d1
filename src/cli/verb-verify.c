/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* placeholder until config/ lands */
#include "log.h"
#include "verbs.h"

VERB(verify, 10, "verify FILE|NAME…           Check container files and their drop-ins") {
        return log_error_errno(EOPNOTSUPP, "verify: not implemented yet");
}
