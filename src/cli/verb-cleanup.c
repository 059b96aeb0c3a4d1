/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli-util.h"
#include "container.h"
#include "verbs.h"

static int cleanup_one(const GlobalConfig *g, const char *name, void *userdata) {
        return container_cleanup(g, name);
}

static const char help[] = "cbox cleanup NAME\n\n"
                           "Release the network of a container whose payload has ended: "
                           "published ports,\n"
                           "veth and address lease; its state stays for 'list --all'. Run by\n"
                           "cbox-NAME-cleanup.service when the container's scope goes away; "
                           "a no-op\n"
                           "while the container runs or another verb is working on it.\n";

VERB(cleanup, 90, "cleanup NAME                Release what an exited container holds (run by systemd)") {
        return verb_run_names(argc, argv,
                              &(const VerbArgs){ .name = "cleanup",
                                                 .help = help,
                                                 .min_operands = 1,
                                                 .max_operands = 1,
                                                 .usage = "expected exactly one NAME" },
                              cleanup_one, NULL);
}
