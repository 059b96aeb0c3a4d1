/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* placeholder until config/ lands */
#include "log.h"
#include "verbs.h"
int verb_verify(int argc, char *argv[]) {
        return log_error_errno(EOPNOTSUPP, "verify: not implemented yet");
}
