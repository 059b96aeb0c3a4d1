/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "init.h"

int init_build_argv(const InitOptions *o, char *const *payload, char ***ret) {
        return -EOPNOTSUPP;
}

int init_parse_exit_record(const char *text, int *ret_status, uint64_t *ret_usec) {
        return -EOPNOTSUPP;
}

int init_main(int argc, char *argv[]) {
        return INIT_EXIT_FAILURE;
}
