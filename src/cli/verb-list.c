/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>

#include "cli-util.h"
#include "container.h"
#include "log.h"
#include "verbs.h"

static void format_span(uint64_t usec, char *buf, size_t size) {
        uint64_t s = usec / USEC_PER_SEC;

        if (s < 60)
                (void) snprintf(buf, size, "%" PRIu64 "s", s);
        else if (s < 3600)
                (void) snprintf(buf, size, "%" PRIu64 "min %" PRIu64 "s", s / 60, s % 60);
        else if (s < 86400)
                (void) snprintf(buf, size, "%" PRIu64 "h %" PRIu64 "min", s / 3600, (s % 3600) / 60);
        else
                (void) snprintf(buf, size, "%" PRIu64 "d %" PRIu64 "h", s / 86400, (s % 86400) / 3600);
}

static int print_json(const ContainerInfo *l, size_t n) {
        json_object *a = json_object_new_array();

        if (!a)
                return log_oom();
        for (size_t i = 0; i < n; i++) {
                const ContainerState *s = l[i].state;
                json_object *o = json_object_new_object();
                if (!o) {
                        json_object_put(a);
                        return log_oom();
                }
                json_object_object_add(o, "name", json_object_new_string(s->name));
                json_object_object_add(o, "state",
                                       json_object_new_string(container_status_to_string(l[i].status)));
                json_object_object_add(o, "unit", s->unit ? json_object_new_string(s->unit) : NULL);
                json_object_object_add(o, "leader",
                                       l[i].status == CONTAINER_RUNNING ? json_object_new_int(s->leader_pid)
                                                                        : NULL);
                json_object_object_add(o, "exit_code",
                                       s->exit_set ? json_object_new_int(s->exit_status) : NULL);
                json_object_object_add(o, "exit_time_usec",
                                       s->exit_set ? json_object_new_uint64(s->exit_time_usec) : NULL);
                json_object_object_add(o, "start_time_usec", json_object_new_uint64(s->start_time_usec));
                json_object_object_add(
                        o, "uptime_usec",
                        l[i].status == CONTAINER_RUNNING ? json_object_new_uint64(l[i].uptime_usec) : NULL);
                json_object_object_add(o, "network", s->network ? json_object_new_string(s->network) : NULL);
                json_object_object_add(o, "address", s->address ? json_object_new_string(s->address) : NULL);
                json_object_object_add(o, "health",
                                       l[i].health ? json_object_new_string(l[i].health) : NULL);
                json_object_object_add(o, "mode",
                                       json_object_new_string(state_mode_to_string(s->mode) ?: "?"));
                json_object_object_add(o, "config",
                                       s->config_path ? json_object_new_string(s->config_path) : NULL);
                json_object_object_add(o, "rootfs", s->rootfs ? json_object_new_string(s->rootfs) : NULL);
                /* last: scripts match the fields before it in order */
                uint32_t ustart, ucount;
                json_object *ur = NULL;
                if (l[i].status == CONTAINER_RUNNING &&
                    container_user_range(s->leader_pid, &ustart, &ucount) > 0) {
                        ur = json_object_new_object();
                        if (ur) {
                                json_object_object_add(ur, "start", json_object_new_int64(ustart));
                                json_object_object_add(ur, "count", json_object_new_int64(ucount));
                        }
                }
                json_object_object_add(o, "user_range", ur);
                json_object_array_add(a, o);
        }
        puts(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(a);
        return 0;
}

static int list_option(int c, const char *arg, void *userdata) {
        if (c != 'a')
                return EXIT_USAGE;
        *(bool *) userdata = true;
        return 0;
}

static const char help[] = "cbox list [--all] [--json]\n\n"
                           "Running containers; --all adds exited and stopped ones with their "
                           "exit code.\n"
                           "--json: an array of objects with name, state, unit, leader, user_range ({start, "
                           "count} of host uids, "
                           "null without a user namespace), "
                           "exit_code, …\n";

VERB(list, 30, "list [--all] [--json]       List containers") {
        static const struct option options[] = {
                { "all", no_argument, NULL, 'a' },
                {},
        };
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        ContainerInfo *l = NULL;
        bool all = false;
        size_t n = 0;
        int r;

        r = verb_parse_args(argc, argv,
                            &(const VerbArgs){ .name = "list",
                                               .help = help,
                                               .short_options = "a",
                                               .options = options,
                                               .on_option = list_option,
                                               .userdata = &all,
                                               .json = true,
                                               .max_operands = -1 });
        if (r != VERB_GO_ON)
                return r;
        bool json = arg_json;
        if (optind != argc) {
                log_error("list: unexpected argument '%s'.", argv[optind]);
                return EXIT_USAGE;
        }
        if (container_load_global(&g) < 0)
                return 1;
        r = container_list(g, all, &l, &n);
        if (r < 0)
                return 1;

        if (json)
                r = print_json(l, n);
        else {
                printf("%-20s %-8s %-26s %-8s %-5s %-15s %-12s %s\n", "NAME", "STATE", "UNIT", "LEADER",
                       "EXIT", "ADDRESS", "UPTIME", "HEALTH");
                for (size_t i = 0; i < n; i++) {
                        const ContainerState *s = l[i].state;
                        char leader[16] = "-", ex[16] = "-", up[32] = "-";
                        if (l[i].status == CONTAINER_RUNNING) {
                                (void) snprintf(leader, sizeof(leader), "%d", (int) s->leader_pid);
                                format_span(l[i].uptime_usec, up, sizeof(up));
                        }
                        if (s->exit_set)
                                (void) snprintf(ex, sizeof(ex), "%d", s->exit_status);
                        printf("%-20s %-8s %-26s %-8s %-5s %-15s %-12s %s\n", s->name,
                               container_status_to_string(l[i].status), strna(s->unit), leader, ex,
                               l[i].status == CONTAINER_RUNNING && s->address ? s->address : "-", up,
                               l[i].health ?: "-");
                }
        }
        for (size_t i = 0; i < n; i++)
                container_info_done(&l[i]);
        free(l);
        return r < 0 ? 1 : 0;
}
