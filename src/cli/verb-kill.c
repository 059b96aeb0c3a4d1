/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <string.h>
#include <strings.h>

#include "cli-util.h"
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

static int kill_option(int c, const char *arg, void *userdata) {
        int sig;

        if (c != 's')
                return EXIT_USAGE;
        sig = parse_signal(arg);
        if (sig < 0) {
                log_error("kill: unknown signal '%s'.", arg);
                return EXIT_USAGE;
        }
        *(int *) userdata = sig;
        return 0;
}

static int kill_one(const GlobalConfig *g, const char *name, void *userdata) {
        return container_kill(g, name, *(int *) userdata);
}

static const char help[] = "cbox kill [-s SIGNAL] NAME…\n\n"
                           "Send SIGNAL (default TERM; a name like TERM/SIGTERM or a "
                           "number).\n"
                           "TERM INT HUP USR1 USR2 QUIT WINCH go to the container's init, "
                           "which forwards\n"
                           "them to the payload (so it receives them once); any other signal "
                           "(KILL, STOP,\n"
                           "CONT, …) goes to every process of the container's unit (systemd "
                           "KillUnit).\n";

VERB(kill, 25, "kill [-s SIGNAL] NAME…      Send a signal to containers") {
        static const struct option options[] = {
                { "signal", required_argument, NULL, 's' },
                {},
        };
        int sig = SIGTERM;
        return verb_run_names(argc, argv,
                              &(const VerbArgs){ .name = "kill",
                                                 .help = help,
                                                 .short_options = "s:",
                                                 .options = options,
                                                 .on_option = kill_option,
                                                 .userdata = &sig,
                                                 VERB_ARGS_NAMES },
                              kill_one, &sig);
}
