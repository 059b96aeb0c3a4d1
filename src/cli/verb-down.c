/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>

#include "container.h"
#include "log.h"
#include "verbs.h"

VERB(down, 21, "down [--volumes] NAME…      Stop and remove containers") {
        enum { ARG_VOLUMES = 0x100 };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "volumes", no_argument, NULL, ARG_VOLUMES },
                {},
        };
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        bool volumes = false, failed = false;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("cbox down [--volumes] NAME…\n\n"
                               "Stop the container's unit (stop_signal, stop_timeout, then SIGKILL) and "
                               "release\n"
                               "everything: unit, machined registration, state. Works on exited containers "
                               "too.\n"
                               "  --volumes  also delete the container's writable layer (upper/work "
                               "dirs)\n");
                        return 0;
                case ARG_VOLUMES:
                        volumes = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind >= argc) {
                log_error("down: expected at least one NAME.");
                return EXIT_USAGE;
        }
        if (container_load_global(&g) < 0)
                return 1;
        for (int i = optind; i < argc; i++)
                if (container_down(g, argv[i], volumes) < 0)
                        failed = true;
        return failed ? 1 : 0;
}
