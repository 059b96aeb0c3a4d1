/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The effective configuration as TOML (annotated with origins, for `cbox cat`), as JSON, and its digest. */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <stdio.h>

#include "config-internal.h"
#include "config-values.h"
#include "sha256.h"

/* ---- TOML ---- */

static int emit_line(Buffer *b, const OriginTable *o, const char *okey, const char *name, const char *value,
                     bool annotate) {
        int r = buffer_printf(b, "%s = %s", name, value);
        if (r < 0 || !annotate)
                return r < 0 ? r : buffer_append(b, "\n", 1);
        const ConfigOrigin *org = origin_table_get(o, okey);
        if (org && org->file)
                return buffer_printf(b, "  # from %s:%u\n", org->file, org->line);
        return buffer_printf(b, "  # default\n");
}

/* Emits the keys of `section` ("" = top level) from a key table; returns the number printed */
static int emit_keys(Buffer *b, const ConfigKey *keys, size_t n_keys, const void *base, const OriginTable *o,
                     const char *section, const char *okey_prefix, const char *header, bool annotate) {
        size_t sl = strlen(section);
        int n = 0, r;

        for (size_t i = 0; i < n_keys; i++) {
                const ConfigKey *k = &keys[i];
                const char *name;
                bool unset = false;

                if (!k->format)
                        continue;
                if (sl == 0) {
                        if (strchr(k->path, '.'))
                                continue;
                        name = k->path;
                } else {
                        if (!strneq(k->path, section, sl) || k->path[sl] != '.')
                                continue;
                        name = k->path + sl + 1;
                }
                _cleanup_free_ char *v = k->format(k, (const uint8_t *) base + k->offset, &unset);
                if (unset)
                        continue;
                if (!v)
                        return -ENOMEM;
                if (n == 0 && header) {
                        r = buffer_printf(b, "\n%s\n", header);
                        if (r < 0)
                                return r;
                }
                _cleanup_free_ char *okey = strjoin(okey_prefix, k->path);
                if (!okey)
                        return -ENOMEM;
                r = emit_line(b, o, okey, name, v, annotate);
                if (r < 0)
                        return r;
                n++;
        }
        return n;
}

static int format_toml(const ContainerConfig *c, bool annotate, char **ret) {
        static const struct {
                const char *section, *header;
        } sections[] = {
                { "resources", "[resources]" },
                { "network", "[network]" },
                { "security", "[security]" },
                { "health", "[health]" },
        };
        const OriginTable *o = c->origins;
        Buffer b = {};
        int r;

        if (annotate) {
                /* every file that contributed: conf.d [defaults], the file, its drop-ins */
                r = 0;
                STRV_FOREACH (f, o->files)
                        if (r >= 0)
                                r = buffer_printf(&b, "# %s\n", *f);
                if (r >= 0)
                        r = buffer_printf(&b, "# effective configuration of '%s'\n\n", c->name);
                if (r < 0)
                        goto fail;
        }
        r = emit_keys(&b, container_keys, container_keys_count, c, o, "", "", NULL, annotate);
        if (r < 0)
                goto fail;

        if (c->env) {
                r = buffer_printf(&b, "\n[env]\n");
                STRV_FOREACH (e, c->env) {
                        const char *eq = strchr(*e, '=');
                        _cleanup_free_ char *name = strndup(*e, (size_t) (eq - *e)), *v = toml_quote(eq + 1),
                                            *okey = strjoin("env.", name ?: "");
                        if (!name || !v || !okey) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        r = emit_line(&b, o, okey, name, v, annotate);
                        if (r < 0)
                                goto fail;
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(sections); i++) {
                if (streq(sections[i].section, "health") && !c->health.enabled)
                        continue;
                r = emit_keys(&b, container_keys, container_keys_count, c, o, sections[i].section, "",
                              sections[i].header, annotate);
                if (r < 0)
                        goto fail;
        }
        for (size_t i = 0; i < c->n_mounts; i++) {
                _cleanup_free_ char *pfx = strprintf("mount[%zu].", i);
                if (!pfx) {
                        r = -ENOMEM;
                        goto fail;
                }
                if (annotate && c->mounts[i].origin.file)
                        r = buffer_printf(&b, "\n[[mount]]  # from %s:%u\n", c->mounts[i].origin.file,
                                          c->mounts[i].origin.line);
                else
                        r = buffer_printf(&b, "\n[[mount]]\n");
                if (r < 0)
                        goto fail;
                r = emit_keys(&b, mount_keys, mount_keys_count, &c->mounts[i], o, "", pfx, NULL, annotate);
                if (r < 0)
                        goto fail;
        }
        if (buffer_append(&b, "", 1) < 0) {
                r = -ENOMEM;
                goto fail;
        }
        *ret = b.data;
        return 0;
fail:
        buffer_done(&b);
        return r;
}

char *container_config_format_toml(const ContainerConfig *c) {
        char *s = NULL;
        return format_toml(c, true, &s) < 0 ? NULL : s;
}

/* ---- JSON: the same document as a tree, plus the files and origins ---- */

static json_object *toml_to_json(const TomlValue *v) {
        json_object *j = NULL;
        switch (toml_value_type(v)) {
        case TOML_STRING: {
                size_t len;
                const char *s = toml_value_string(v, &len);
                return json_object_new_string_len(s, (int) len);
        }
        case TOML_INTEGER:
                return json_object_new_int64(toml_value_integer(v));
        case TOML_BOOL:
                return json_object_new_boolean(toml_value_bool(v));
        case TOML_FLOAT:
                return json_object_new_double(toml_value_float(v));
        case TOML_ARRAY:
                j = json_object_new_array();
                for (size_t i = 0; j && i < toml_array_size(v); i++) {
                        json_object *e = toml_to_json(toml_array_get(v, i));
                        if (!e || json_object_array_add(j, e) < 0) {
                                json_object_put(e);
                                json_object_put(j);
                                return NULL;
                        }
                }
                return j;
        case TOML_TABLE:
                j = json_object_new_object();
                for (size_t i = 0; j && i < toml_table_size(v); i++) {
                        json_object *e = toml_to_json(toml_table_value(v, i));
                        if (!e || json_object_object_add(j, toml_table_key(v, i, NULL), e) < 0) {
                                json_object_put(e);
                                json_object_put(j);
                                return NULL;
                        }
                }
                return j;
        default:
                return NULL; /* we never emit dates */
        }
}

static json_object *origin_to_json(const ConfigOrigin *o) {
        json_object *j = json_object_new_object();
        if (!j)
                return NULL;
        if (json_object_object_add(j, "file", o->file ? json_object_new_string(o->file) : NULL) < 0 ||
            json_object_object_add(j, "line", json_object_new_int64(o->line)) < 0 ||
            json_object_object_add(j, "column", json_object_new_int64(o->column)) < 0) {
                json_object_put(j);
                return NULL;
        }
        return j;
}

char *container_config_format_json(const ContainerConfig *c) {
        _cleanup_free_ char *doc = NULL;
        _cleanup_(toml_value_freep) TomlValue *root = NULL;
        const OriginTable *o = c->origins;
        json_object *top = NULL, *cfg, *files, *origins;
        char *ret = NULL;

        if (format_toml(c, false, &doc) < 0)
                return NULL;
        if (toml_parse(doc, strlen(doc), &root, NULL) < 0)
                return NULL;
        top = json_object_new_object();
        cfg = toml_to_json(root);
        files = json_object_new_array();
        origins = json_object_new_object();
        if (!top || json_object_object_add(top, "name", json_object_new_string(c->name)) < 0 ||
            json_object_object_add(top, "path", json_object_new_string(c->path)) < 0 ||
            json_object_object_add(top, "files", files) < 0 ||
            json_object_object_add(top, "config", cfg) < 0 ||
            json_object_object_add(top, "origins", origins) < 0)
                goto finish;
        if (!files || !cfg || !origins)
                goto finish;
        STRV_FOREACH (f, o->files)
                if (json_object_array_add(files, json_object_new_string(*f)) < 0)
                        goto finish;
        for (size_t i = 0; i < o->n_entries; i++)
                if (json_object_object_add(origins, o->entries[i].key,
                                           origin_to_json(&o->entries[i].origin)) < 0)
                        goto finish;
        ret = strdup(json_object_to_json_string_ext(
                top, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
finish:
        json_object_put(top);
        return ret;
}

char *container_config_digest(const ContainerConfig *c) {
        _cleanup_free_ char *doc = NULL, *named = NULL;
        uint8_t d[SHA256_DIGEST_SIZE];
        char *hex;

        if (format_toml(c, false, &doc) < 0)
                return NULL;
        named = strjoin("# ", c->name, "\n", doc);
        if (!named)
                return NULL;
        /* Our own SHA-256: OpenSSL 3's first EVP call initialises its provider machinery (~14 ms, and
         * reads openssl.cnf) on every `cbox up`, for a digest of a few hundred bytes. */
        sha256_direct(named, strlen(named), d);
        hex = new (char, SHA256_DIGEST_SIZE * 2 + 1);
        if (!hex)
                return NULL;
        sha256_to_hex(d, hex);
        return hex;
}
