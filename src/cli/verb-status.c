/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "bus.h"
#include "cli-util.h"
#include "container.h"
#include "journal.h"
#include "log.h"
#include "string-util.h"
#include "verbs.h"

static void print_u64(const char *label, uint64_t v, const char *unit_suffix) {
        if (v == UINT64_MAX)
                printf("%16s: infinity\n", label);
        else
                printf("%16s: %" PRIu64 "%s\n", label, v, unit_suffix);
}

/* The unit's limits in the order status has always shown them, AllowedCPUs after CPUWeight */
static void print_limits(const BusScopeLimits *lim) {
        static const UnitLimit order[] = {
                UNIT_LIMIT_MEMORY_MAX, UNIT_LIMIT_MEMORY_HIGH, UNIT_LIMIT_MEMORY_SWAP_MAX,
                UNIT_LIMIT_CPU_QUOTA,  UNIT_LIMIT_CPU_WEIGHT,  UNIT_LIMIT_TASKS_MAX,
                UNIT_LIMIT_IO_WEIGHT,
        };

        for (size_t k = 0; k < ELEMENTSOF(order); k++) {
                UnitLimit i = order[k];
                uint64_t v = lim->limits[i];

                if (i == UNIT_LIMIT_CPU_QUOTA) {
                        if (v == UINT64_MAX)
                                printf("%16s: none\n", "CPUQuota");
                        else
                                printf("%16s: %" PRIu64 "%%\n", "CPUQuota", v / 10000);
                } else
                        print_u64(unit_limit_info[i].property, v, "");

                if (i == UNIT_LIMIT_CPU_WEIGHT && lim->allowed_cpus_size > 0) {
                        printf("%16s:", "AllowedCPUs");
                        for (size_t b = 0; b < lim->allowed_cpus_size * 8; b++)
                                if (lim->allowed_cpus[b / 8] & (1U << (b % 8)))
                                        printf(" %zu", b);
                        printf("\n");
                }
        }
}

static void print_time(const char *label, uint64_t usec) {
        char buf[64];
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;

        if (usec == 0 || !localtime_r(&t, &tm) ||
            strftime(buf, sizeof(buf), "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                return;
        printf("%16s: %s\n", label, buf);
}

static int print_line(const JournalEntry *e, void *userdata) {
        printf("    %.*s\n", (int) e->message_size, e->message);
        return 0;
}

static int status_option(int c, const char *arg, void *userdata) {
        if (c != 'n')
                return EXIT_USAGE;
        *(uint64_t *) userdata = strtoull(arg, NULL, 10);
        return 0;
}

static const char help[] = "cbox status [-n N] NAME\n\n"
                           "State, unit, leader, the limits systemd has in effect, and the last N "
                           "(10)\n"
                           "lines of output.\n";

VERB(status, 31, "status NAME                 State, unit, limits in effect and recent output") {
        static const struct option options[] = {
                { "lines", required_argument, NULL, 'n' },
                {},
        };
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(container_info_done) ContainerInfo i = {};
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        BusScopeLimits lim = {};
        uint64_t n_lines = 10;
        int r;

        r = verb_parse_args(argc, argv,
                            &(const VerbArgs){ .name = "status",
                                               .help = help,
                                               .short_options = "n:",
                                               .options = options,
                                               .on_option = status_option,
                                               .userdata = &n_lines,
                                               .min_operands = 1,
                                               .max_operands = 1,
                                               .usage = "expected exactly one NAME" });
        if (r != VERB_GO_ON)
                return r;
        const char *name = argv[optind];
        if (container_load_global(&g) < 0)
                return 1;
        r = container_get_info_logged(g, name, false, &i);
        if (r < 0)
                return r;

        const ContainerState *s = i.state;
        printf("%s\n", s->name);
        printf("%16s: %s\n", "State", container_status_to_string(i.status));
        if (i.health)
                printf("%16s: %s\n", "Health", i.health);
        printf("%16s: %s\n", "Unit", strna(s->unit));
        if (i.status == CONTAINER_RUNNING)
                printf("%16s: %d (cbox-init)\n", "Leader", (int) s->leader_pid);
        uint32_t ustart, ucount;
        if (i.status == CONTAINER_RUNNING && container_user_range(s->leader_pid, &ustart, &ucount) > 0)
                printf("%16s: 0-%" PRIu32 " are host uids and gids %" PRIu32 "-%" PRIu32 "\n",
                       "User namespace", ucount - 1, ustart, ustart + ucount - 1);
        printf("%16s: %s\n", "Mode", strna(state_mode_to_string(s->mode)));
        print_time("Started", s->start_time_usec);
        if (s->exit_set) {
                printf("%16s: %d\n", "Exit code", s->exit_status);
                print_time("Exited", s->exit_time_usec);
        }
        if (s->address)
                printf("%16s: %s on %s (%s)\n", "Address", s->address, strna(s->network),
                       strna(s->host_ifname));
        printf("%16s: %s\n", "Config", strna(s->config_path));
        printf("%16s: %s\n", "Rootfs", strna(s->rootfs));
        if (s->upper_dir)
                printf("%16s: %s\n", "Upper", s->upper_dir);

        if (i.status == CONTAINER_RUNNING && s->unit && bus_systemd_booted() && bus_open_system(&bus) >= 0 &&
            bus_read_scope_limits(bus, s->unit, &lim) >= 0) {
                printf("%16s: %s (%s)\n", "Unit state", strna(lim.active_state), strna(lim.sub_state));
                printf("%16s: %s\n", "Slice", strna(lim.slice));
                printf("%16s: /sys/fs/cgroup%s\n", "CGroup", strempty(lim.control_group));
                print_limits(&lim);
                print_u64("Memory", lim.memory_current, " bytes");
                print_u64("Tasks", lim.tasks_current, "");
                bus_scope_limits_done(&lim);
        }

        printf("\nRecent output:\n");
        JournalReadParams p = { .container = name, .n_lines = n_lines };
        r = journal_read(&p, print_line, NULL);
        if (r < 0)
                log_warning_errno(r, "%s: cannot read the journal, ignoring: %m", name);
        return 0;
}
