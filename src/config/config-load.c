/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Finding configuration files, drop-ins and conf.d, parsing them in order and merging them into one model
 * (through the key tables of config-keys.c, the walker of config-parse.c), then the validation pass of
 * config-validate.c. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cbox-build.h"
#include "config-internal.h"
#include "config-values.h"
#include "fd-util.h"
#include "fileio.h"

const char *config_root(void) {
        const char *e = secure_getenv("CBOX_CONFIG_ROOT");
        return e ?: "";
}

/* ---- files ---- */

static bool endswith_toml(const char *s) {
        size_t n = strlen(s);
        return n > 5 && streq(s + n - 5, ".toml");
}

/* Reads and parses one file. Returns 0 with *ret set, or a negative errno after reporting the problem
 * (-EBADMSG for syntax errors) — except -ENOMEM, which is not reported. */
static int load_file(const char *path, TomlValue **ret, ConfigDiag *diag) {
        _cleanup_free_ char *data = NULL;
        TomlError err = {};
        size_t size;
        int r;

        r = read_full_file(path, &data, &size, TOML_MAX_DOCUMENT_SIZE);
        if (r == -ENOMEM)
                return r;
        if (r == -EFBIG) {
                int k = config_diag_add(diag, path, 0, 0, NULL, "file is larger than %u bytes",
                                        TOML_MAX_DOCUMENT_SIZE);
                return k < 0 ? k : r;
        }
        if (r < 0) {
                int k = config_diag_add(diag, path, 0, 0, NULL, "cannot read file: %s", strerror(-r));
                return k < 0 ? k : r;
        }
        r = toml_parse(data, size, ret, &err);
        if (r == -ENOMEM) {
                toml_error_done(&err);
                return r;
        }
        if (r < 0) {
                int k = config_diag_add(diag, path, err.pos.line, err.pos.column, NULL,
                                        "TOML syntax error: %s", err.message ?: strerror(-r));
                toml_error_done(&err);
                return k < 0 ? k : -EBADMSG;
        }
        return 0;
}

/* A symlink to /dev/null (or an empty regular file) masks a same-named file of lower priority */
static bool is_masked(const char *path) {
        struct stat st;
        if (stat(path, &st) < 0)
                return false;
        return S_ISCHR(st.st_mode) || (S_ISREG(st.st_mode) && st.st_size == 0);
}

static int name_compare(const void *a, const void *b) {
        const char *x = *(const char *const *) a, *y = *(const char *const *) b;
        return strcmp(strrchr(x, '/') + 1, strrchr(y, '/') + 1);
}

/* *.toml files of dirs (highest priority first): one per file name (the first directory's wins),
 * ordered by file name, masked ones dropped */
static int list_dropins(char **dirs, char ***ret) {
        _cleanup_strv_free_ char **files = NULL;
        size_t n;
        int r;

        files = new0(char *, 1);
        if (!files)
                return -ENOMEM;
        STRV_FOREACH (d, dirs) {
                _cleanup_closedir_ DIR *dir = opendir(*d);
                struct dirent *de;

                if (!dir) {
                        if (errno == ENOENT || errno == ENOTDIR)
                                continue;
                        return -errno;
                }
                while ((errno = 0, de = readdir(dir))) {
                        bool dup = false;
                        if (de->d_name[0] == '.' || !endswith_toml(de->d_name))
                                continue;
                        STRV_FOREACH (f, files)
                                if (streq(strrchr(*f, '/') + 1, de->d_name))
                                        dup = true;
                        if (dup)
                                continue;
                        r = strv_consume(&files, strjoin(*d, "/", de->d_name));
                        if (r < 0)
                                return r;
                        if (!files[strv_length(files) - 1])
                                return -ENOMEM;
                }
                if (errno != 0)
                        return -errno;
        }
        n = strv_length(files);
        qsort(files, n, sizeof(char *), name_compare);
        /* drop masked entries */
        size_t j = 0;
        for (size_t i = 0; i < n; i++) {
                if (is_masked(files[i])) {
                        free(files[i]);
                        continue;
                }
                files[j++] = files[i];
        }
        files[j] = NULL;
        *ret = TAKE_PTR(files);
        return 0;
}

/* Parses and applies one file; problems are reported and counted, only OOM fails */
static int apply_file(const char *path, OriginTable *origins, const ConfigKey *keys, size_t n_keys,
                      void *base, ConfigDiag *diag, bool *syntax_error, GlobalPrivate *keep) {
        _cleanup_(toml_value_freep) TomlValue *root = NULL;
        const char *f;
        int r;

        f = origin_table_intern_file(origins, path);
        if (!f)
                return -ENOMEM;
        r = load_file(path, &root, diag);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                *syntax_error = true;
                return 0;
        }
        if (keep) {
                /* the tree outlives this call: [defaults] tables point into it */
                TomlValue **l = realloc(keep->roots, sizeof(TomlValue *) * (keep->n_roots + 1));
                if (!l)
                        return -ENOMEM;
                keep->roots = l;
                l[keep->n_roots++] = root;
        }
        ParseCtx ctx = { .diag = diag, .origins = origins, .file = f, .prefix = "" };
        r = config_apply_table(&ctx, keys, n_keys, base, "", root);
        if (keep)
                root = NULL;
        return r;
}

static size_t file_rank(char **files, const char *f) {
        size_t i = 0;
        if (!f)
                return SIZE_MAX;
        STRV_FOREACH (x, files) {
                if (streq(*x, f))
                        return i;
                i++;
        }
        return SIZE_MAX - 1;
}

/* Orders the problems from index `from` by file (in the order the files were read), line and column;
 * stable, so problems at one position keep the order they were found in */
static void sort_problems(ConfigDiag *d, size_t from, char **files) {
        for (size_t i = from + 1; i < d->n_problems; i++) {
                ConfigProblem p = d->problems[i];
                size_t rp = file_rank(files, p.file), j = i;
                while (j > from) {
                        const ConfigProblem *q = &d->problems[j - 1];
                        size_t rq = file_rank(files, q->file);
                        if (rq < rp ||
                            (rq == rp && (q->line < p.line || (q->line == p.line && q->column <= p.column))))
                                break;
                        d->problems[j] = *q;
                        j--;
                }
                d->problems[j] = p;
        }
}

/* ---- global ---- */

static int global_config_load_files(char **files, GlobalConfig **ret, ConfigDiag *diag) {
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        size_t before = diag->n_problems;
        bool syntax = false;
        int r;

        g = new0(GlobalConfig, 1);
        if (!g)
                return -ENOMEM;
        g->origins = new0(OriginTable, 1);
        g->priv = new0(GlobalPrivate, 1);
        if (!g->origins || !g->priv)
                return -ENOMEM;
        r = global_config_defaults(g);
        if (r < 0)
                return r;
        STRV_FOREACH (f, files) {
                r = apply_file(*f, g->origins, global_keys, global_keys_count, g, diag, &syntax, g->priv);
                if (r < 0)
                        return r;
        }
        g->files = strv_copy(files);
        if (!g->files)
                return -ENOMEM;
        if (!syntax) {
                r = global_config_validate(g, diag);
                if (r < 0)
                        return r;
        }
        if (diag->n_problems > before) {
                sort_problems(diag, before, ((OriginTable *) g->origins)->files);
                return -EINVAL;
        }
        if (ret)
                *ret = TAKE_PTR(g);
        return 0;
}

/* Where container files and conf.d are looked for, most important first: /etc, /run, then the vendor
 * directories — /usr/lib/cbox, and first the one of this build's prefix when that is another (a source
 * install under /usr/local puts its conf.d in /usr/local/lib/cbox). */
static const char *const search_dirs[] = { "/etc/cbox", "/run/cbox", CBOX_VENDOR_DIR, "/usr/lib/cbox" };

static bool search_dir_is_duplicate(size_t i) {
        for (size_t j = 0; j < i; j++)
                if (streq(search_dirs[j], search_dirs[i]))
                        return true;
        return false;
}

int global_config_load(GlobalConfig **ret, ConfigDiag *diag) {
        _cleanup_strv_free_ char **dirs = NULL, **files = NULL;
        const char *root = config_root();
        int r;

        /* /run/cbox is the run root: no conf.d there */
        for (size_t i = 0; i < ELEMENTSOF(search_dirs); i++)
                if (!streq(search_dirs[i], "/run/cbox") && !search_dir_is_duplicate(i) &&
                    strv_consume(&dirs, strjoin(root, search_dirs[i], "/conf.d")) < 0)
                        return -ENOMEM;
        r = list_dropins(dirs, &files);
        if (r < 0)
                return r;
        return global_config_load_files(files, ret, diag);
}

int global_config_verify_file(const char *path, ConfigDiag *diag) {
        char *files[] = { (char *) path, NULL };
        if (access(path, F_OK) < 0)
                return -errno;
        return global_config_load_files(files, NULL, diag);
}

/* ---- container ---- */

/* A name container_name_is_valid() refuses: the NAME given, or the one of the file (NAME.toml) */
static int invalid_name(ConfigDiag *diag, const char *file, const char *name) {
        return config_diag_add(
                diag, file, 0, 0, NULL,
                "invalid container name '%s'%s (letters, digits, '_', '.', '-', up to 64, not "
                "starting with '.' or '-')",
                name, file ? " from the file name" : "");
}

/* The [defaults] tables of conf.d, in the order of their files, before the container's own file */
static int apply_global_defaults(const GlobalConfig *g, ContainerConfig *c, ConfigDiag *diag) {
        const GlobalPrivate *priv = g ? g->priv : NULL;
        int r;

        if (!priv)
                return 0;
        for (size_t i = 0; i < priv->n_defaults; i++) {
                const char *f = origin_table_intern_file(c->origins, priv->defaults[i].file);
                if (!f)
                        return -ENOMEM;
                ParseCtx ctx = { .diag = diag, .origins = c->origins, .file = f, .prefix = "defaults." };
                r = config_apply_view(&ctx, &defaults_table, c, priv->defaults[i].table);
                if (r < 0)
                        return r;
        }
        return 0;
}

int container_config_load(const char *name_or_path, const GlobalConfig *g, ContainerConfig **ret,
                          ConfigDiag *diag) {
        _cleanup_(container_config_freep) ContainerConfig *c = NULL;
        _cleanup_strv_free_ char **dirs = NULL, **dropins = NULL;
        _cleanup_free_ char *path = NULL, *name = NULL;
        const char *root = config_root(), *base;
        size_t before = diag->n_problems;
        bool syntax = false;
        int r;

        if (!name_or_path || !*name_or_path)
                return -EINVAL;
        if (strchr(name_or_path, '/') || endswith_toml(name_or_path)) {
                struct stat st;
                path = strdup(name_or_path);
                if (!path)
                        return -ENOMEM;
                if (stat(path, &st) < 0)
                        return -errno;
                if (S_ISDIR(st.st_mode))
                        return -EISDIR;
                base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
                if (!endswith_toml(base)) {
                        r = config_diag_add(diag, path, 0, 0, NULL,
                                            "container file names end in \".toml\" (NAME.toml)");
                        return r < 0 ? r : -EINVAL;
                }
                name = strndup(base, strlen(base) - 5);
                if (!name)
                        return -ENOMEM;
                /* drop-ins beside the file come first (highest priority) */
                if (strv_consume(&dirs, strjoin(path, ".d")) < 0 || !dirs[0])
                        return -ENOMEM;
        } else {
                name = strdup(name_or_path);
                if (!name)
                        return -ENOMEM;
                if (!container_name_is_valid(name)) {
                        r = invalid_name(diag, NULL, name);
                        return r < 0 ? r : -EINVAL;
                }
                for (size_t i = 0; i < ELEMENTSOF(search_dirs) && !path; i++) {
                        _cleanup_free_ char *p = strjoin(root, search_dirs[i], "/", name, ".toml");
                        if (!p)
                                return -ENOMEM;
                        if (access(p, F_OK) >= 0)
                                path = TAKE_PTR(p);
                        else if (errno != ENOENT)
                                return -errno;
                }
                if (!path)
                        return -ENOENT;
        }
        for (size_t i = 0; i < ELEMENTSOF(search_dirs); i++) {
                char *d = strjoin(root, search_dirs[i], "/", name, ".toml.d");
                if (!d)
                        return -ENOMEM;
                if (strv_contains(dirs, d)) {
                        free(d);
                        continue;
                }
                r = strv_consume(&dirs, d);
                if (r < 0) {
                        free(d);
                        return r;
                }
        }

        c = container_config_new();
        if (!c)
                return -ENOMEM;
        c->name = strdup(name);
        c->path = strdup(path);
        if (!c->name || !c->path)
                return -ENOMEM;
        r = container_config_defaults(c, g);
        if (r < 0)
                return r;

        if (!container_name_is_valid(name)) {
                r = invalid_name(diag, path, name);
                if (r < 0)
                        return r;
        }

        r = apply_global_defaults(g, c, diag);
        if (r < 0)
                return r;
        r = apply_file(path, c->origins, container_keys, container_keys_count, c, diag, &syntax, NULL);
        if (r < 0)
                return r;
        r = list_dropins(dirs, &dropins);
        if (r < 0)
                return r;
        STRV_FOREACH (f, dropins) {
                r = apply_file(*f, c->origins, container_keys, container_keys_count, c, diag, &syntax, NULL);
                if (r < 0)
                        return r;
        }
        c->dropins = TAKE_PTR(dropins);

        if (!syntax) {
                r = container_config_validate(c, g, diag);
                if (r < 0)
                        return r;
        }
        if (diag->n_problems > before) {
                sort_problems(diag, before, ((OriginTable *) c->origins)->files);
                return -EINVAL;
        }
        *ret = TAKE_PTR(c);
        return 0;
}
