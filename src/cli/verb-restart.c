/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli-util.h"
#include "container.h"
#include "verbs.h"

static int restart_one(const GlobalConfig *g, const char *name, void *userdata) {
        int r = container_stop(g, name);
        return r < 0 ? r : container_start(g, name, &(const UpOptions){ .quiet = arg_quiet });
}

static const char help[] = "cbox restart NAME…\n\n"
                           "cbox stop, then cbox start (the file is read again).\n";

VERB(restart, 24, "restart NAME…               Stop and start containers") {
        return verb_run_names(argc, argv,
                              &(const VerbArgs){ .name = "restart", .help = help, VERB_ARGS_NAMES },
                              restart_one, NULL);
}
