/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <unistd.h>

#include "cli-util.h"
#include "container.h"
#include "log.h"
#include "verbs.h"

enum { ARG_FOREGROUND = 0x100, ARG_REPLACE };

static int up_option(int c, const char *arg, void *userdata) {
        UpOptions *o = userdata;

        if (c == ARG_FOREGROUND)
                o->foreground = true;
        else if (c == ARG_REPLACE)
                o->replace = true;
        else
                return EXIT_USAGE;
        return 0;
}

static const char help[] = "cbox up [--foreground] [--replace] [-q] FILE|NAME\n\n"
                           "Validate the container file, then run it in cbox-NAME.scope.\n"
                           "Detached (default): prints NAME once the payload runs; output goes to the "
                           "journal.\n"
                           "  --foreground  stay attached: signals are forwarded, exit with the payload's "
                           "status\n"
                           "                (what cbox@.service runs). On a terminal (stdin a tty) the "
                           "payload\n"
                           "                gets a pty of the container's own, relayed to this one; "
                           "otherwise\n"
                           "                it inherits stdio. Either way it runs in a session of its own "
                           "and\n"
                           "                this terminal is never its controlling terminal.\n"
                           "  --replace     replace a running container whose file changed\n"
                           "An identical running container is left alone (exit 0). [health] checks run "
                           "only\n"
                           "with --foreground. Not yet supported: user namespaces.\n";

VERB(up, 20, "up [--foreground] [--replace] FILE|NAME   Create and start a container") {
        static const struct option options[] = {
                { "foreground", no_argument, NULL, ARG_FOREGROUND },
                { "replace", no_argument, NULL, ARG_REPLACE },
                {},
        };
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(container_config_freep) ContainerConfig *cc = NULL;
        UpOptions o = {};
        int r;

        r = verb_parse_args(argc, argv,
                            &(const VerbArgs){ .name = "up",
                                               .help = help,
                                               .options = options,
                                               .on_option = up_option,
                                               .userdata = &o,
                                               .quiet = true,
                                               .min_operands = 1,
                                               .max_operands = 1,
                                               .usage = "expected exactly one FILE or NAME" });
        if (r != VERB_GO_ON)
                return r;
        o.quiet = arg_quiet;
        /* like `exec -t`, but implied: a terminal on stdin gets the container a terminal of its own */
        o.tty = o.foreground && isatty(STDIN_FILENO);

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
