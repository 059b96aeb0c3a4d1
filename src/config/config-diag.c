/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every other config-*.c file reports to and records in: the problems of a load (ConfigDiag) and the
 * origin of every value (OriginTable). */
#include <stdarg.h>
#include <stdio.h>

#include "config-internal.h"

/* ---- problems ---- */

void config_diag_done(ConfigDiag *d) {
        if (!d)
                return;
        for (size_t i = 0; i < d->n_problems; i++) {
                free(d->problems[i].file);
                free(d->problems[i].key_path);
                free(d->problems[i].message);
        }
        free(d->problems);
        *d = (ConfigDiag){};
}

/* "<message> (<accepted>)", or "<message>" without accepted */
int config_diag_addv(ConfigDiag *d, const char *file, unsigned line, unsigned column, const char *key_path,
                     const char *accepted, const char *fmt, va_list ap) {
        ConfigProblem p = { .line = line, .column = column };
        ConfigProblem *n;

        if (vasprintf(&p.message, fmt, ap) < 0)
                return -ENOMEM;
        if (accepted) {
                char *m = strprintf("%s (%s)", p.message, accepted);
                free(p.message);
                p.message = m;
                if (!m)
                        return -ENOMEM;
        }
        if ((file && !(p.file = strdup(file))) || (key_path && !(p.key_path = strdup(key_path))))
                goto oom;
        n = realloc(d->problems, sizeof(ConfigProblem) * (d->n_problems + 1));
        if (!n)
                goto oom;
        d->problems = n;
        d->problems[d->n_problems++] = p;
        return 0;
oom:
        free(p.file);
        free(p.key_path);
        free(p.message);
        return -ENOMEM;
}

int config_diag_add(ConfigDiag *d, const char *file, unsigned line, unsigned column, const char *key_path,
                    const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = config_diag_addv(d, file, line, column, key_path, NULL, fmt, ap);
        va_end(ap);
        return r;
}

bool config_diag_has_key(const ConfigDiag *d, const char *key_path) {
        for (size_t i = 0; i < d->n_problems; i++)
                if (streq_ptr(d->problems[i].key_path, key_path))
                        return true;
        return false;
}

char *config_diag_format(const ConfigDiag *d) {
        Buffer b = {};
        for (size_t i = 0; i < d->n_problems; i++) {
                const ConfigProblem *p = &d->problems[i];
                int r = 0;
                if (p->file)
                        r = buffer_printf(&b, "%s:%u:%u: ", p->file, p->line, p->column);
                if (r >= 0 && p->key_path)
                        r = buffer_printf(&b, "%s: ", p->key_path);
                if (r >= 0)
                        r = buffer_printf(&b, "%s\n", p->message);
                if (r < 0) {
                        buffer_done(&b);
                        return NULL;
                }
        }
        return b.data ?: strdup("");
}

/* ---- origins ---- */

OriginTable *origin_table_free(OriginTable *t) {
        if (!t)
                return NULL;
        strv_free(t->files);
        for (size_t i = 0; i < t->n_entries; i++)
                free(t->entries[i].key);
        free(t->entries);
        free(t);
        return NULL;
}

const char *origin_table_intern_file(OriginTable *t, const char *path) {
        STRV_FOREACH (f, t->files)
                if (streq(*f, path))
                        return *f;
        if (strv_extend(&t->files, path) < 0)
                return NULL;
        return t->files[strv_length(t->files) - 1];
}

int origin_table_set(OriginTable *t, const char *key, const char *file, unsigned line, unsigned column) {
        ConfigOrigin o = { .file = file, .line = line, .column = column };
        OriginEntry *n;
        char *k;

        for (size_t i = 0; i < t->n_entries; i++)
                if (streq(t->entries[i].key, key)) {
                        t->entries[i].origin = o;
                        return 0;
                }
        k = strdup(key);
        if (!k)
                return -ENOMEM;
        n = realloc(t->entries, sizeof(OriginEntry) * (t->n_entries + 1));
        if (!n) {
                free(k);
                return -ENOMEM;
        }
        t->entries = n;
        t->entries[t->n_entries++] = (OriginEntry){ .key = k, .origin = o };
        return 0;
}

const ConfigOrigin *origin_table_get(const OriginTable *t, const char *key) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_entries; i++)
                if (streq(t->entries[i].key, key))
                        return &t->entries[i].origin;
        return NULL;
}

void origin_table_remove_prefix(OriginTable *t, const char *prefix) {
        size_t j = 0;
        for (size_t i = 0; i < t->n_entries; i++) {
                if (startswith(t->entries[i].key, prefix)) {
                        free(t->entries[i].key);
                        continue;
                }
                t->entries[j++] = t->entries[i];
        }
        t->n_entries = j;
}
