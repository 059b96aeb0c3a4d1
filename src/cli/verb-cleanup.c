/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>

#include "container.h"
#include "log.h"
#include "verbs.h"

VERB(cleanup, 90, "cleanup NAME                Release what an exited container holds (run by systemd)") {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("cbox cleanup NAME\n\n"
                               "Release the network of a container whose payload has ended: published "
                               "ports,\n"
                               "veth and address lease; its state stays for 'list --all'. Run by\n"
                               "cbox-NAME-cleanup.service when the container's scope goes away; a no-op\n"
                               "while the container runs or another verb is working on it.\n");
                        return 0;
                default:
                        return EXIT_USAGE;
                }
        if (argc - optind != 1) {
                log_error("cleanup: expected exactly one NAME.");
                return EXIT_USAGE;
        }
        if (container_load_global(&g) < 0)
                return 1;
        return container_cleanup(g, argv[optind]) < 0 ? 1 : 0;
}
