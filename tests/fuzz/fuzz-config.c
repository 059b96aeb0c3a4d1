/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Loads the input as a container file (and, when it contains a line "#---", the part before it as a
 * conf.d file) through the whole config pipeline: parse, key tables, merge, validation, cat as TOML and
 * JSON, digest. Invariants: a failure always comes with at least one problem, each with a message; a
 * success formats, and the formatted TOML loads again into a configuration with the same digest. */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "macros.h"
#include "string-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char *root = NULL, *conf_d_file = NULL, *file = NULL, *copy = NULL;

static void cleanup(void) {
        if (root)
                (void) rm_rf_at(AT_FDCWD, root);
        free(root);
        free(conf_d_file);
        free(file);
        free(copy);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char t[] = "/tmp/fuzz-config-XXXXXX";
        if (!mkdtemp(t))
                abort();
        root = strdup(t);
        conf_d_file = strjoin(t, "/etc/cbox/conf.d/50-fuzz.toml");
        file = strjoin(t, "/etc/cbox/fuzz.toml");
        copy = strjoin(t, "/etc/cbox/copy.toml");
        if (!root || !conf_d_file || !file || !copy)
                abort();
        _cleanup_free_ char *d = strjoin(t, "/etc/cbox/conf.d");
        if (!d || mkdir_p(d, 0755) < 0)
                abort();
        if (setenv("CBOX_CONFIG_ROOT", root, 1) < 0)
                abort();
        atexit(cleanup);
        return 0;
}

static void check_failure(int r, const ConfigDiag *d) {
        if (r == -ENOMEM)
                return;
        if (r != -EINVAL || d->n_problems == 0)
                abort();
        for (size_t i = 0; i < d->n_problems; i++)
                if (!d->problems[i].message)
                        abort();
        _cleanup_free_ char *s = config_diag_format(d);
        if (!s)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(container_config_freep) ContainerConfig *c = NULL, *c2 = NULL;
        ConfigDiag d = {};
        const uint8_t *sep = NULL;
        int r;

        if (!root)
                (void) LLVMFuzzerInitialize(NULL, NULL);
        if (size > 256 * 1024)
                return 0;

        for (size_t i = 0; i + 5 <= size; i++)
                if (memcmp(data + i, "#---\n", 5) == 0 && (i == 0 || data[i - 1] == '\n')) {
                        sep = data + i;
                        break;
                }
        (void) unlink(conf_d_file);
        if (sep) {
                if (write_file_atomic(conf_d_file, data, (size_t) (sep - data), 0644) < 0)
                        abort();
                size -= (size_t) (sep + 5 - data);
                data = sep + 5;
        }
        if (write_file_atomic(file, data, size, 0644) < 0)
                abort();

        r = global_config_load(&g, &d);
        if (r < 0) {
                check_failure(r, &d);
                config_diag_done(&d);
                return 0;
        }
        r = container_config_load("fuzz", g, &c, &d);
        if (r < 0) {
                check_failure(r, &d);
                config_diag_done(&d);
                return 0;
        }
        if (d.n_problems != 0)
                abort();

        _cleanup_free_ char *t = container_config_format_toml(c), *j = container_config_format_json(c),
                            *h = container_config_digest(c);
        if (!t || !j || !h)
                abort();

        /* what cat prints is a container file describing the same configuration */
        if (write_file_atomic(copy, t, strlen(t), 0644) < 0)
                abort();
        r = container_config_load(copy, g, &c2, &d);
        if (r < 0) {
                _cleanup_free_ char *s = config_diag_format(&d);
                fprintf(stderr, "cat output does not load:\n%s\n%s", t, strna(s));
                abort();
        }
        free(c2->name);
        c2->name = strdup(c->name);
        if (!c2->name)
                abort();
        _cleanup_free_ char *h2 = container_config_digest(c2);
        if (!h2 || !streq(h, h2)) {
                _cleanup_free_ char *t2 = container_config_format_toml(c2);
                fprintf(stderr, "round trip changed the configuration:\n%s\n---\n%s", t, strna(t2));
                abort();
        }
        config_diag_done(&d);
        return 0;
}
