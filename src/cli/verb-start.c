/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli-util.h"
#include "container.h"
#include "verbs.h"

static int start_one(const GlobalConfig *g, const char *name, void *userdata) {
        return container_start(g, name, &(const UpOptions){ .quiet = arg_quiet });
}

static const char help[] = "cbox start NAME…\n\n"
                           "Run a known container (stopped, or exited by itself) again, "
                           "detached, from the\n"
                           "file it was created from.\n";

VERB(start, 22, "start NAME…                 Start stopped or exited containers again") {
        return verb_run_names(argc, argv,
                              &(const VerbArgs){ .name = "start", .help = help, VERB_ARGS_NAMES }, start_one,
                              NULL);
}
