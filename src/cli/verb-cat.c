/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <string.h>

#include "cli-util.h"
#include "config.h"
#include "log.h"
#include "verbs.h"

static void print_problems(const ConfigDiag *d) {
        _cleanup_free_ char *s = config_diag_format(d);
        if (s)
                fputs(s, stderr);
}

static const char help[] = "cbox cat [--json] FILE|NAME\n\n"
                           "Print the effective configuration (the file merged with its drop-ins "
                           "and the\n"
                           "defaults) as TOML, each value annotated with the file and line it "
                           "came from.\n"
                           "--json prints the merged model with its origins.\n";

VERB(cat, 11, "cat [--json] FILE|NAME       Show the effective configuration and its sources") {
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(container_config_freep) ContainerConfig *cc = NULL;
        _cleanup_free_ char *out = NULL;
        ConfigDiag d = {};
        int r;

        r = verb_parse_args(argc, argv,
                            &(const VerbArgs){ .name = "cat",
                                               .help = help,
                                               .json = true,
                                               .min_operands = 1,
                                               .max_operands = 1,
                                               .usage = "expected exactly one FILE or NAME" });
        if (r != VERB_GO_ON)
                return r;
        bool json = arg_json;

        r = global_config_load(&g, &d);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                print_problems(&d);
                config_diag_done(&d);
                return 1;
        }
        r = container_config_load(argv[optind], g, &cc, &d);
        if (r == -ENOMEM) {
                config_diag_done(&d);
                return log_oom();
        }
        if (r < 0) {
                if (d.n_problems > 0)
                        print_problems(&d);
                else if (r == -ENOENT && strchr(argv[optind], '/'))
                        log_error("%s: no such file", argv[optind]);
                else if (r == -ENOENT)
                        log_error(
                                "%s: no such container file (looked for NAME.toml in /etc/cbox, /run/cbox, "
                                "/usr/lib/cbox)",
                                argv[optind]);
                else
                        log_error_errno(r, "%s: cannot load: %m", argv[optind]);
                config_diag_done(&d);
                return 1;
        }
        config_diag_done(&d);

        out = json ? container_config_format_json(cc) : container_config_format_toml(cc);
        if (!out)
                return log_oom();
        fputs(out, stdout);
        if (json)
                fputc('\n', stdout);
        return 0;
}
