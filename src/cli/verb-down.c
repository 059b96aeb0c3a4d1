/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli-util.h"
#include "container.h"
#include "verbs.h"

enum { ARG_VOLUMES = 0x100 };

static int down_option(int c, const char *arg, void *userdata) {
        if (c != ARG_VOLUMES)
                return EXIT_USAGE;
        *(bool *) userdata = true;
        return 0;
}

static int down_one(const GlobalConfig *g, const char *name, void *userdata) {
        return container_down(g, name, *(bool *) userdata);
}

static const char help[] = "cbox down [--volumes] NAME…\n\n"
                           "Stop the container's unit (stop_signal, stop_timeout, then "
                           "SIGKILL) and release\n"
                           "everything: unit, machined registration, state. Works on exited "
                           "containers too.\n"
                           "  --volumes  also delete the container's writable layer "
                           "(upper/work dirs)\n";

VERB(down, 21, "down [--volumes] NAME…      Stop and remove containers") {
        static const struct option options[] = {
                { "volumes", no_argument, NULL, ARG_VOLUMES },
                {},
        };
        bool volumes = false;
        return verb_run_names(argc, argv,
                              &(const VerbArgs){ .name = "down",
                                                 .help = help,
                                                 .options = options,
                                                 .on_option = down_option,
                                                 .userdata = &volumes,
                                                 VERB_ARGS_NAMES },
                              down_one, &volumes);
}
