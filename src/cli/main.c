/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbox-build.h"
#include "fault.h"
#include "log.h"
#include "verbs.h"

bool arg_json = false;
bool arg_quiet = false;

static int verb_compare(const void *a, const void *b) {
        const Verb *x = *(const Verb *const *) a, *y = *(const Verb *const *) b;
        return x->order != y->order ? (x->order < y->order ? -1 : 1) : strcmp(x->name, y->name);
}

/* The verbs' order numbers in tens name their group in --help */
static const char *const verb_groups[] = {
        [1] = "Container files", [2] = "Running containers", [3] = "Looking at containers",
        [5] = "Images",          [6] = "Networks",           [9] = "Run by systemd",
};

/* "usage  description" (two or more spaces between): the usage padded to one column, the description
 * after it, or on the next line when the usage is too long for the column */
static void print_synopsis(const char *synopsis) {
        enum { COLUMN = 32 };
        const char *gap = strstr(synopsis, "  ");
        if (!gap) {
                printf("  %s\n", synopsis);
                return;
        }
        int ulen = (int) (gap - synopsis), width = 0;
        const char *desc = gap + strspn(gap, " ");
        for (int i = 0; i < ulen; i++) /* columns: UTF-8 continuation bytes take none ("…") */
                width += ((unsigned char) synopsis[i] & 0xC0) != 0x80;
        if (width <= COLUMN - 2)
                printf("  %.*s%*s%s\n", ulen, synopsis, COLUMN - width, "", desc);
        else
                printf("  %.*s\n  %*s%s\n", ulen, synopsis, COLUMN, "", desc);
}

static void help(void) {
        printf("cbox [OPTIONS…] VERB [ARGS…]\n\n"
               "Declarative containers for systemd hosts.\n\n"
               "Verbs:\n");
        size_t n = (size_t) (__stop_cbox_verbs - __start_cbox_verbs);
        _cleanup_free_ const Verb **sorted = new (const Verb *, n);
        if (sorted) {
                unsigned group = UINT_MAX;
                for (size_t i = 0; i < n; i++)
                        sorted[i] = __start_cbox_verbs + i;
                qsort(sorted, n, sizeof(sorted[0]), verb_compare);
                for (size_t i = 0; i < n; i++) {
                        unsigned g = sorted[i]->order / 10;
                        if (g != group && g < ELEMENTSOF(verb_groups) && verb_groups[g])
                                printf(" %s:\n", verb_groups[g]);
                        group = g;
                        print_synopsis(sorted[i]->synopsis);
                }
        }
        printf("\nOptions:\n"
               "  -h --help       Show this help\n"
               "     --version    Show the version\n"
               "     --json       JSON output where a verb supports it\n"
               "  -q --quiet      Suppress informational output\n");
        if (FAULT_INJECTION_ENABLED)
                printf("     --list-fault-points\n"
                       "                  List the steps $CBOX_FAULT_AT kills this test build at\n");
        printf("\nExit status: 0 success, 1 failure, 2 usage error.\n"
               "See cbox(1) and cbox.toml(5).\n");
}

int main(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_JSON, ARG_LIST_FAULT_POINTS };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
#ifdef CBOX_FAULT_INJECTION
                /* tests only (src/basic/fault.h): every FAULT_POINT() compiled in */
                { "list-fault-points", no_argument, NULL, ARG_LIST_FAULT_POINTS },
#endif
                { "json", no_argument, NULL, ARG_JSON },
                { "quiet", no_argument, NULL, 'q' },
                {},
        };
        int c;

        log_parse_environment();
        log_set_prefix("cbox");

        /* '+' stops at the verb: everything after it is the verb's */
        while ((c = getopt_long(argc, argv, "+hq", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("cbox %s\n", CBOX_VERSION);
                        return 0;
                case ARG_JSON:
                        arg_json = true;
                        break;
#ifdef CBOX_FAULT_INJECTION
                case ARG_LIST_FAULT_POINTS: {
                        const char *const *p;
                        size_t n = fault_points_list(&p);
                        for (size_t i = 0; i < n; i++)
                                printf("%s\n", p[i]);
                        return 0;
                }
#endif
                case 'q':
                        arg_quiet = true;
                        break;
                default:
                        return EXIT_USAGE;
                }

        if (optind >= argc) {
                log_error("Missing verb. See 'cbox --help'.");
                return EXIT_USAGE;
        }

        const char *name = argv[optind];
        for (const Verb *v = __start_cbox_verbs; v < __stop_cbox_verbs; v++) {
                if (!streq(v->name, name))
                        continue;

                int vargc = argc - optind;
                char **vargv = argv + optind;
                optind = 0; /* reset getopt_long for the verb's own options */
                int r = v->fn(vargc, vargv);
                if (r < 0)
                        return 1;
                return r;
        }
        log_error("Unknown verb '%s'. See 'cbox --help'.", name);
        return EXIT_USAGE;
}
