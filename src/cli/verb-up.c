/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "container.h"
#include "log.h"
#include "verbs.h"

VERB(up, 20, "up [--foreground] [--replace] FILE|NAME   Create and start a container") {
        enum { ARG_FOREGROUND = 0x100, ARG_REPLACE };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "foreground", no_argument, NULL, ARG_FOREGROUND },
                { "replace", no_argument, NULL, ARG_REPLACE },
                { "quiet", no_argument, NULL, 'q' },
                {},
        };
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(container_config_freep) ContainerConfig *cc = NULL;
        UpOptions o = { .quiet = arg_quiet };
        int c, r;

        while ((c = getopt_long(argc, argv, "hq", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("cbox up [--foreground] [--replace] [-q] FILE|NAME\n\n"
                               "Validate the container file, then run it in cbox-NAME.scope.\n"
                               "Detached (default): prints NAME once the payload runs; output goes to the "
                               "journal.\n"
                               "  --foreground  stay attached: signals are forwarded, exit with the "
                               "payload's "
                               "status\n"
                               "                (what cbox@.service runs). On a terminal (stdin a tty) the "
                               "payload\n"
                               "                gets a pty of the container's own, relayed to this one; "
                               "otherwise\n"
                               "                it inherits stdio. Either way it runs in a session of its "
                               "own and\n"
                               "                this terminal is never its controlling terminal.\n"
                               "  --replace     replace a running container whose file changed\n"
                               "An identical running container is left alone (exit 0). [health] checks "
                               "run only\n"
                               "with --foreground. Not yet supported: user namespaces.\n");
                        return 0;
                case ARG_FOREGROUND:
                        o.foreground = true;
                        break;
                case ARG_REPLACE:
                        o.replace = true;
                        break;
                case 'q':
                        o.quiet = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        /* like `exec -t`, but implied: a terminal on stdin gets the container a terminal of its own */
        o.tty = o.foreground && isatty(STDIN_FILENO);
        if (argc - optind != 1) {
                log_error("up: expected exactly one FILE or NAME.");
                return EXIT_USAGE;
        }

        r = container_load_global(&g);
        if (r < 0)
                return 1;
        r = container_load_config(argv[optind], g, &cc);
        if (r < 0)
                return 1;
        r = container_up(g, cc, &o);
        if (r < 0)
                return 1;
        return o.foreground ? r : 0;
}
