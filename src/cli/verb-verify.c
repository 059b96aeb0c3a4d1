/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "cli-util.h"
#include "container.h"
#include "log.h"
#include "verbs.h"

static void print_problems(const ConfigDiag *d) {
        _cleanup_free_ char *s = config_diag_format(d);
        if (!s) {
                (void) log_oom();
                return;
        }
        fputs(s, stderr);
}

static bool endswith_toml(const char *s) {
        size_t n = strlen(s);
        return n > 5 && streq(s + n - 5, ".toml");
}

/* A file in a directory called conf.d is a global settings file; anything else a container */
static bool is_global_file(const char *arg) {
        const char *slash = strrchr(arg, '/');
        if (!slash)
                return false;
        size_t n = (size_t) (slash - arg);
        return n >= 6 && strneq(slash - 6, "conf.d", 6) && (n == 6 || slash[-7] == '/');
}

/* A drop-in (DIR/NAME.toml.d/FILE.toml) is checked in context: as part of DIR/NAME.toml when that exists,
 * else of the container NAME. Returns what to load (malloc'ed), or NULL when arg is no drop-in. */
static char *dropin_owner(const char *arg) {
        _cleanup_free_ char *dir = NULL;
        const char *slash = strrchr(arg, '/'), *base;
        size_t n;

        if (!slash || !endswith_toml(slash + 1))
                return NULL;
        dir = strndup(arg, (size_t) (slash - arg));
        if (!dir)
                return NULL;
        n = strlen(dir);
        if (n < strlen(".toml.d") + 1 || !streq(dir + n - strlen(".toml.d"), ".toml.d"))
                return NULL;
        dir[n - 2] = 0; /* DIR/NAME.toml */
        if (access(dir, F_OK) >= 0)
                return TAKE_PTR(dir);
        base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
        return strndup(base, strlen(base) - strlen(".toml"));
}

static const char help[] = "cbox verify [-q] FILE|NAME…\n\n"
                           "Parse, merge drop-ins and validate. Prints FILE: OK, or one line per "
                           "problem:\n"
                           "FILE:LINE:COLUMN: KEY.PATH: what is wrong (what is accepted). Files in "
                           "a conf.d/\n"
                           "directory are checked as global settings; a drop-in "
                           "NAME.toml.d/FILE.toml as\n"
                           "part of its container. What up refuses beyond the file is refused too: "
                           "a\n"
                           "security.seccomp profile that does not load, unsupported keys.\n";

VERB(verify, 10, "verify [-q] FILE|NAME…       Check container files and their drop-ins") {
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        ConfigDiag gd = {};
        bool failed = false;
        int r;

        r = verb_parse_args(argc, argv,
                            &(const VerbArgs){ .name = "verify",
                                               .help = help,
                                               .quiet = true,
                                               .min_operands = 1,
                                               .max_operands = -1,
                                               .usage = "expected at least one FILE or NAME" });
        if (r != VERB_GO_ON)
                return r;
        bool quiet = arg_quiet;

        r = global_config_load(&g, &gd);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                print_problems(&gd);
                failed = true;
        }
        config_diag_done(&gd);

        for (int i = optind; i < argc; i++) {
                _cleanup_(container_config_freep) ContainerConfig *cc = NULL;
                _cleanup_free_ char *owner = dropin_owner(argv[i]);
                ConfigDiag d = {};
                const char *shown = argv[i];

                if (is_global_file(argv[i]))
                        r = global_config_verify_file(argv[i], &d);
                else {
                        r = container_config_load(owner ?: argv[i], g, &cc, &d);
                        if (r >= 0)
                                shown = cc->path;
                        /* what up would refuse beyond the file: a seccomp profile that does not
                         * parse, unsupported keys (logged by container_verify) */
                        if (r >= 0 && container_verify(cc) < 0) {
                                failed = true;
                                config_diag_done(&d);
                                continue;
                        }
                }
                if (r == -ENOMEM) {
                        config_diag_done(&d);
                        return log_oom();
                }
                if (r < 0 && d.n_problems == 0) {
                        if (r == -ENOENT && strchr(argv[i], '/'))
                                log_error("%s: no such file", argv[i]);
                        else if (r == -ENOENT)
                                log_error("%s: no such container file (looked for NAME.toml in /etc/cbox, "
                                          "/run/cbox, /usr/lib/cbox)",
                                          argv[i]);
                        else
                                log_error_errno(r, "%s: cannot load: %m", argv[i]);
                        failed = true;
                } else if (r < 0) {
                        print_problems(&d);
                        failed = true;
                } else if (!quiet)
                        printf("%s: OK\n", shown);
                config_diag_done(&d);
        }
        return failed ? 1 : 0;
}
