/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli-util.h"
#include "container.h"
#include "verbs.h"

static int stop_one(const GlobalConfig *g, const char *name, void *userdata) {
        return container_stop(g, name);
}

static const char help[] = "cbox stop NAME…\n\n"
                           "Stop the container's unit: systemd sends stop_signal, waits "
                           "stop_timeout, then\n"
                           "SIGKILLs what is left. The container stays known ('list --all' "
                           "shows it\n"
                           "stopped); 'cbox start' runs it again, 'cbox down' removes it.\n";

VERB(stop, 23, "stop NAME…                  Stop containers, keeping their state") {
        return verb_run_names(argc, argv, &(const VerbArgs){ .name = "stop", .help = help, VERB_ARGS_NAMES },
                              stop_one, NULL);
}
