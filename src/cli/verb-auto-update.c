/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>

#include "container-autoupdate.h"
#include "container.h"
#include "log.h"
#include "string-util.h"
#include "verbs.h"

static json_object *string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static int print_json(const AutoUpdateReport *l, size_t n) {
        json_object *a = json_object_new_array();

        if (!a)
                return log_oom();
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_new_object();
                if (!o) {
                        json_object_put(a);
                        return log_oom();
                }
                json_object_object_add(o, "container", string_or_null(l[i].container));
                json_object_object_add(o, "unit", string_or_null(l[i].unit));
                json_object_object_add(o, "image", string_or_null(l[i].image));
                json_object_object_add(o, "previous", string_or_null(l[i].previous));
                json_object_object_add(o, "current", string_or_null(l[i].current));
                json_object_object_add(o, "action",
                                       string_or_null(auto_update_action_to_string(l[i].action)));
                json_object_object_add(o, "error", string_or_null(l[i].error));
                json_object_array_add(a, o);
        }
        puts(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(a);
        return 0;
}

static void print_table(const AutoUpdateReport *l, size_t n) {
        printf("%-20s %-30s %-19s %-19s %-12s %s\n", "CONTAINER", "IMAGE", "PREVIOUS", "CURRENT", "ACTION",
               "ERROR");
        /* digests as "sha256:" and their first 12 hex digits */
        for (size_t i = 0; i < n; i++)
                printf("%-20s %-30s %-19.19s %-19.19s %-12s %s\n", l[i].container, strna(l[i].image),
                       l[i].previous ?: "-", l[i].current ?: "-", auto_update_action_to_string(l[i].action),
                       l[i].error ?: "-");
}

VERB_NAMED(auto_update, "auto-update", 91,
           "auto-update [--dry-run] [--json]   Follow the registry tag of opted-in cbox@ services") {
        enum { ARG_JSON = 0x100, ARG_DRY_RUN };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "json", no_argument, NULL, ARG_JSON },
                {},
        };
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        AutoUpdateReport *l = NULL;
        bool dry_run = false, json = arg_json, bad = false;
        size_t n = 0;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("cbox auto-update [--dry-run] [--json]\n\n"
                               "For every active cbox@NAME.service whose file says auto_update = "
                               "\"registry\": ask\n"
                               "the registry for the digest of the image's tag; when it moved, pull it "
                               "and restart\n"
                               "the unit, and when that does not become ready (the start fails, or "
                               "[health] does\n"
                               "not pass within its start period and retries) put the previous image "
                               "back under\n"
                               "the tag and restart again. Run daily by cbox-auto-update.timer.\n\n"
                               "  --dry-run   Only report what would be updated: no pull, no tag, no "
                               "restart\n"
                               "  --json      An array of {container, unit, image, previous, current, "
                               "action, error}\n\n"
                               "Actions: unchanged, would-update, updated, rolled-back, failed. Exit "
                               "status 1 when\n"
                               "any container was rolled back or failed.\n");
                        return 0;
                case ARG_DRY_RUN:
                        dry_run = true;
                        break;
                case ARG_JSON:
                        json = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind != argc) {
                log_error("auto-update: unexpected argument '%s'.", argv[optind]);
                return EXIT_USAGE;
        }
        if (container_load_global(&g) < 0)
                return 1;
        r = container_auto_update(g, dry_run, &l, &n);
        if (r < 0)
                return 1;

        if (json)
                r = print_json(l, n);
        else
                print_table(l, n);
        for (size_t i = 0; i < n; i++)
                bad = bad || l[i].action == AUTO_UPDATE_ROLLED_BACK || l[i].action == AUTO_UPDATE_FAILED;
        auto_update_report_array_free(l, n);
        return r < 0 || bad ? 1 : 0;
}
