/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "cli-util.h"
#include "container.h"
#include "string-util.h"
#include "verbs.h"

/* userdata: whether some change needs a restart */
static int update_one(const GlobalConfig *g, const char *name, void *userdata) {
        _cleanup_(update_result_done) UpdateResult r = {};
        int q;

        q = container_update(g, name, &r);
        if (q < 0)
                return q;
        STRV_FOREACH (l, r.applied)
                if (!arg_quiet)
                        printf("%s: applied %s\n", name, *l);
        STRV_FOREACH (l, r.need_restart) {
                printf("%s: needs a restart: %s\n", name, *l);
                *(bool *) userdata = true;
        }
        if (!r.applied && !r.need_restart && !arg_quiet)
                printf("%s: unchanged\n", name);
        return 0;
}

static const char help[] = "cbox update NAME…\n\n"
                           "Re-read the container's file and drop-ins and apply the changed "
                           "[resources]\n"
                           "keys to its running unit at runtime (no restart). Changes of any "
                           "other key\n"
                           "are named and not applied: 'systemctl restart cbox@NAME' or 'cbox "
                           "up\n"
                           "--replace' applies them. Exit status 0 when everything was "
                           "applied, 3 when\n"
                           "some change needs a restart.\n";

VERB(update, 26, "update NAME…                Apply changed [resources] of the file to running containers") {
        bool restart = false;
        int r = verb_run_names(argc, argv,
                               &(const VerbArgs){ .name = "update", .help = help, VERB_ARGS_NAMES },
                               update_one, &restart);
        return r != 0 ? r : restart ? 3 : 0;
}
