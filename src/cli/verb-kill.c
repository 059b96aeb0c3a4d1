/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "container.h"
#include "log.h"
#include "verbs.h"

/* "TERM", "SIGTERM", "sigterm" or a number */
static int parse_signal(const char *s) {
        char *end;
        long n;

        n = strtol(s, &end, 10);
        if (*s && !*end)
                return n > 0 && n < NSIG ? (int) n : -EINVAL;
        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (int i = 1; i < NSIG; i++) {
                const char *a = sigabbrev_np(i);
                if (a && strcasecmp(a, s) == 0)
                        return i;
        }
        return -EINVAL;
}

VERB(kill, 25, "kill [-s SIGNAL] NAME…      Send a signal to containers") {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "signal", required_argument, NULL, 's' },
                {},
        };
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        int sig = SIGTERM, c;
        bool failed = false;

        while ((c = getopt_long(argc, argv, "hs:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("cbox kill [-s SIGNAL] NAME…\n\n"
                               "Send SIGNAL (default TERM; a name like TERM/SIGTERM or a number).\n"
                               "TERM INT HUP USR1 USR2 QUIT WINCH go to the container's init, which "
                               "forwards\n"
                               "them to the payload (so it receives them once); any other signal (KILL, "
                               "STOP,\n"
                               "CONT, …) goes to every process of the container's unit (systemd "
                               "KillUnit).\n");
                        return 0;
                case 's':
                        sig = parse_signal(optarg);
                        if (sig < 0) {
                                log_error("kill: unknown signal '%s'.", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind >= argc) {
                log_error("kill: expected at least one NAME.");
                return EXIT_USAGE;
        }
        if (container_load_global(&g) < 0)
                return 1;
        for (int i = optind; i < argc; i++)
                if (container_kill(g, argv[i], sig) < 0)
                        failed = true;
        return failed ? 1 : 0;
}
