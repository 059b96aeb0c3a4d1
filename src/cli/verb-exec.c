/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>

#include "container.h"
#include "log.h"
#include "string-util.h"
#include "verbs.h"

VERB(exec, 33, "exec [-t] [-u USER] [-e K=V] [-w DIR] NAME -- CMD…   Run a command in a container") {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },          { "tty", no_argument, NULL, 't' },
                { "user", required_argument, NULL, 'u' },    { "env", required_argument, NULL, 'e' },
                { "workdir", required_argument, NULL, 'w' }, {},
        };
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_strv_free_ char **env = NULL;
        ExecOptions o = {};
        int c, r;

        /* '+': options end at NAME, so CMD's own options are left alone */
        while ((c = getopt_long(argc, argv, "+htu:e:w:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("cbox exec [-t] [-u USER] [-e K=V] [-w DIR] NAME [--] CMD [ARGS…]\n\n"
                               "Run CMD in the running container NAME: all its namespaces, its cgroup, its\n"
                               "capability set; exits with CMD's status.\n"
                               "  -t --tty          allocate a pseudo terminal in the container (relayed "
                               "to this\n"
                               "                    one); without, CMD inherits stdio. Either way it runs "
                               "in a\n"
                               "                    session of its own: this terminal is never its "
                               "controlling one\n"
                               "  -u --user=USER    user[:group] (name or number) instead of the "
                               "container's\n"
                               "  -e --env=K=V      extra environment (repeatable)\n"
                               "  -w --workdir=DIR  working directory in the container\n");
                        return 0;
                case 't':
                        o.tty = true;
                        break;
                case 'u':
                        o.user = optarg;
                        break;
                case 'e':
                        if (!strchr(optarg, '=') || optarg[0] == '=') {
                                log_error("exec: -e expects KEY=VALUE, got '%s'.", optarg);
                                return EXIT_USAGE;
                        }
                        if (strv_extend(&env, optarg) < 0)
                                return log_oom();
                        break;
                case 'w':
                        if (optarg[0] != '/') {
                                log_error("exec: -w expects an absolute path, got '%s'.", optarg);
                                return EXIT_USAGE;
                        }
                        o.workdir = optarg;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind >= argc) {
                log_error("exec: expected NAME and a command.");
                return EXIT_USAGE;
        }
        const char *name = argv[optind++];
        if (optind < argc && streq(argv[optind], "--"))
                optind++;
        if (optind >= argc) {
                log_error("exec: expected a command after NAME.");
                return EXIT_USAGE;
        }
        o.argv = argv + optind;
        o.env = env;

        if (container_load_global(&g) < 0)
                return 1;
        r = container_exec(g, name, &o);
        return r < 0 ? 1 : r;
}
