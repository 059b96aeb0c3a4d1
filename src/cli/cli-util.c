/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small helpers several verbs share (kept out of main.c so each verb stays one file). */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli-util.h"
#include "container.h"
#include "log.h"
#include "macros.h"
#include "verbs.h"

int verb_parse_args(int argc, char *argv[], const VerbArgs *a) {
        enum { ARG_JSON = 0x7f00 };
        const char *own = a->short_options ?: "";
        bool in_order = own[0] == '+';
        struct option opts[32];
        char short_opts[32];
        size_t n = 0;
        int c, r;

        opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
        if (a->quiet)
                opts[n++] = (struct option){ "quiet", no_argument, NULL, 'q' };
        if (a->json)
                opts[n++] = (struct option){ "json", no_argument, NULL, ARG_JSON };
        for (const struct option *o = a->options; o && o->name; o++) {
                assert(n + 1 < ELEMENTSOF(opts));
                opts[n++] = *o;
        }
        opts[n] = (struct option){};
        r = snprintf(short_opts, sizeof(short_opts), "%sh%s%s", in_order ? "+" : "", a->quiet ? "q" : "",
                     own + in_order);
        assert(r > 0 && (size_t) r < sizeof(short_opts));

        while ((c = getopt_long(argc, argv, short_opts, opts, NULL)) >= 0) {
                if (c == 'h') {
                        fputs(a->help, stdout);
                        return 0;
                }
                if (c == '?')
                        return EXIT_USAGE;
                if (c == 'q' && a->quiet)
                        arg_quiet = true;
                else if (c == ARG_JSON && a->json)
                        arg_json = true;
                else {
                        r = a->on_option ? a->on_option(c, optarg, a->userdata) : EXIT_USAGE;
                        if (r != 0)
                                return r;
                }
        }
        int n_operands = argc - optind;
        if (n_operands < a->min_operands || (a->max_operands >= 0 && n_operands > a->max_operands)) {
                log_error("%s: %s.", a->name, a->usage);
                return EXIT_USAGE;
        }
        return VERB_GO_ON;
}

int verb_for_each_name(int argc, char *argv[],
                       int (*fn)(const GlobalConfig *g, const char *name, void *userdata), void *userdata) {
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        bool failed = false;

        if (container_load_global(&g) < 0)
                return 1;
        for (int i = optind; i < argc; i++)
                if (fn(g, argv[i], userdata) < 0)
                        failed = true;
        return failed ? 1 : 0;
}

int verb_run_names(int argc, char *argv[], const VerbArgs *a,
                   int (*fn)(const GlobalConfig *g, const char *name, void *userdata), void *userdata) {
        int r = verb_parse_args(argc, argv, a);
        return r != VERB_GO_ON ? r : verb_for_each_name(argc, argv, fn, userdata);
}

void format_bytes(uint64_t b, char *buf, size_t n) {
        static const char *const units[] = { "B", "K", "M", "G", "T" };
        double v = (double) b;
        size_t u = 0;
        while (v >= 1024 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024;
                u++;
        }
        if (u == 0)
                snprintf(buf, n, "%" PRIu64 "B", b);
        else
                snprintf(buf, n, "%.1f%s", v, units[u]);
}
