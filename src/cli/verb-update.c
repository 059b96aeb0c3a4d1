/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>

#include "container.h"
#include "log.h"
#include "string-util.h"
#include "verbs.h"

VERB(update, 26, "update NAME…                Apply changed [resources] of the file to running containers") {
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
                        printf("cbox update NAME…\n\n"
                               "Re-read the container's file and drop-ins and apply the changed "
                               "[resources]\n"
                               "keys to its running unit at runtime (no restart). Changes of any other "
                               "key\n"
                               "are named and not applied: 'systemctl restart cbox@NAME' or 'cbox up\n"
                               "--replace' applies them. Exit status 0 when everything was applied, 3 "
                               "when\n"
                               "some change needs a restart.\n");
                        return 0;
                default:
                        return EXIT_USAGE;
                }
        if (optind >= argc) {
                log_error("update: expected at least one NAME.");
                return EXIT_USAGE;
        }
        if (container_load_global(&g) < 0)
                return 1;

        bool restart = false;
        for (int i = optind; i < argc; i++) {
                _cleanup_(update_result_done) UpdateResult r = {};
                if (container_update(g, argv[i], &r) < 0) {
                        failed = true;
                        continue;
                }
                STRV_FOREACH (l, r.applied)
                        if (!arg_quiet)
                                printf("%s: applied %s\n", argv[i], *l);
                STRV_FOREACH (l, r.need_restart) {
                        printf("%s: needs a restart: %s\n", argv[i], *l);
                        restart = true;
                }
                if (!r.applied && !r.need_restart && !arg_quiet)
                        printf("%s: unchanged\n", argv[i]);
        }
        return failed ? 1 : restart ? 3 : 0;
}
