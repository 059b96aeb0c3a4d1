/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>

#include "container.h"
#include "log.h"
#include "verbs.h"

VERB(stop, 23, "stop NAME…                  Stop containers, keeping their state") {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        bool failed = false;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("cbox stop NAME…\n\n"
                               "Stop the container's unit: systemd sends stop_signal, waits stop_timeout, "
                               "then\n"
                               "SIGKILLs what is left. The container stays known ('list --all' shows it\n"
                               "stopped); 'cbox start' runs it again, 'cbox down' removes it.\n");
                        return 0;
                default:
                        return EXIT_USAGE;
                }
        if (optind >= argc) {
                log_error("stop: expected at least one NAME.");
                return EXIT_USAGE;
        }
        if (container_load_global(&g) < 0)
                return 1;
        for (int i = optind; i < argc; i++)
                if (container_stop(g, argv[i]) < 0)
                        failed = true;
        return failed ? 1 : 0;
}
