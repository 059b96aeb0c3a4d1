/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cli-util.h"
#include "container.h"
#include "fd-util.h"
#include "journal.h"
#include "log.h"
#include "state.h"
#include "verbs.h"

static int print_entry(const JournalEntry *e, void *userdata) {
        bool *with_time = userdata;

        if (*with_time) {
                char ts[32];
                time_t t = (time_t) (e->realtime_usec / USEC_PER_SEC);
                struct tm tm;
                if (localtime_r(&t, &tm) && strftime(ts, sizeof(ts), "%b %d %H:%M:%S", &tm) > 0)
                        printf("%s ", ts);
        }
        fwrite(e->message, 1, e->message_size, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        return 0;
}

typedef struct LogsOptions {
        uint64_t n_lines;
        bool follow, with_time;
} LogsOptions;

static int logs_option(int c, const char *arg, void *userdata) {
        LogsOptions *o = userdata;
        char *end;

        switch (c) {
        case 'f':
                o->follow = true;
                return 0;
        case 'n': {
                unsigned long long v = strtoull(arg, &end, 10);
                if (!*arg || *end || arg[0] == '-') {
                        log_error("logs: invalid line count '%s'.", arg);
                        return EXIT_USAGE;
                }
                o->n_lines = v;
                return 0;
        }
        case 't':
                o->with_time = true;
                return 0;
        default:
                return EXIT_USAGE;
        }
}

static const char help[] = "cbox logs [-f] [-n N] [-t] NAME\n\n"
                           "The container's stdout/stderr from the journal (CBOX_CONTAINER=NAME "
                           "or its unit).\n"
                           "  -f --follow      keep printing new lines until interrupted\n"
                           "  -n --lines=N     only the last N lines\n"
                           "  -t --timestamps  prefix each line with its time\n";

VERB(logs, 32, "logs [-f] [-n N] NAME       Show a container's output from the journal") {
        static const struct option options[] = {
                { "follow", no_argument, NULL, 'f' },
                { "lines", required_argument, NULL, 'n' },
                { "timestamps", no_argument, NULL, 't' },
                {},
        };
        _cleanup_close_ int sfd = -EBADF;
        LogsOptions o = { .n_lines = JOURNAL_ALL_LINES };
        int r;

        r = verb_parse_args(argc, argv,
                            &(const VerbArgs){ .name = "logs",
                                               .help = help,
                                               .short_options = "fn:t",
                                               .options = options,
                                               .on_option = logs_option,
                                               .userdata = &o,
                                               .min_operands = 1,
                                               .max_operands = 1,
                                               .usage = "expected exactly one NAME" });
        if (r != VERB_GO_ON)
                return r;
        uint64_t n_lines = o.n_lines;
        bool follow = o.follow, with_time = o.with_time;
        if (!container_name_is_valid(argv[optind])) {
                log_error("logs: '%s' is not a valid container name.", argv[optind]);
                return EXIT_USAGE;
        }

        if (follow) {
                sigset_t mask;
                sigemptyset(&mask);
                sigaddset(&mask, SIGINT);
                sigaddset(&mask, SIGTERM);
                (void) sigprocmask(SIG_BLOCK, &mask, NULL);
                sfd = signalfd(-1, &mask, SFD_CLOEXEC);
                if (sfd < 0)
                        return log_error_errno(errno, "logs: signalfd: %m");
        }
        /* a container run under a service (cbox@NAME.service) logs to that unit's journal stream */
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(container_info_done) ContainerInfo info = {};
        const char *unit = NULL;
        if (container_load_global(&g) >= 0 && container_get_info(g, argv[optind], &info) >= 0 &&
            info.state->unit && info.state->mode == STATE_MODE_FOREGROUND)
                unit = info.state->unit;

        JournalReadParams p = {
                .container = argv[optind],
                .unit = unit,
                .n_lines = n_lines,
                .follow = follow,
                .stop_fd = sfd > 0 ? sfd : 0,
        };
        r = journal_read(&p, print_entry, &with_time);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the journal: %m", argv[optind]);
        return 0;
}
