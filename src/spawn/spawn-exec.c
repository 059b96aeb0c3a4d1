/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "spawn-internal.h"

int spawn_exec_in(const SpawnExecParams *p, int *ret_status, SpawnError *err) {
        return -EOPNOTSUPP;
}
