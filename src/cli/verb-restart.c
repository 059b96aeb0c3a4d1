/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>

#include "container.h"
#include "log.h"
#include "verbs.h"

VERB(restart, 24, "restart NAME…               Stop and start containers") {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        UpOptions o = { .quiet = arg_quiet };
        bool failed = false;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("cbox restart NAME…\n\n"
                               "cbox stop, then cbox start (the file is read again).\n");
                        return 0;
                default:
                        return EXIT_USAGE;
                }
        if (optind >= argc) {
                log_error("restart: expected at least one NAME.");
                return EXIT_USAGE;
        }
        if (container_load_global(&g) < 0)
                return 1;
        for (int i = optind; i < argc; i++)
                if (container_stop(g, argv[i]) < 0 || container_start(g, argv[i], &o) < 0)
                        failed = true;
        return failed ? 1 : 0;
}
