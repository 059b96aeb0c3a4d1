/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>

#include "container.h"
#include "log.h"
#include "verbs.h"

VERB(start, 22, "start NAME…                 Start stopped or exited containers again") {
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
                        printf("cbox start NAME…\n\n"
                               "Run a known container (stopped, or exited by itself) again, detached, from "
                               "the\n"
                               "file it was created from.\n");
                        return 0;
                default:
                        return EXIT_USAGE;
                }
        if (optind >= argc) {
                log_error("start: expected at least one NAME.");
                return EXIT_USAGE;
        }
        if (container_load_global(&g) < 0)
                return 1;
        for (int i = optind; i < argc; i++)
                if (container_start(g, argv[i], &o) < 0)
                        failed = true;
        return failed ? 1 : 0;
}
