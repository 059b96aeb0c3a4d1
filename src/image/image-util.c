/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <archive.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>

#include "archive-dl.h"
#include "image-internal.h"
#include "string-util.h"

int image_error_set(ImageError *e, int r, const char *object, const char *fmt, ...) {
        if (!e)
                return r;
        /* The first (innermost) reason wins: callers up the stack only add what is missing */
        if (object && !e->object)
                e->object = strdup(object);
        if (fmt && !e->message) {
                va_list ap;
                va_start(ap, fmt);
                (void) error_message_setv(e, r, fmt, ap);
                va_end(ap);
        }
        return r;
}

void image_limits_fill(ImageLimits *l, const ImageLimits *from) {
        *l = from ? *from : (ImageLimits){};
        if (l->max_layer_bytes == 0)
                l->max_layer_bytes = IMAGE_DEFAULT_MAX_LAYER_BYTES;
        if (l->max_file_bytes == 0)
                l->max_file_bytes = IMAGE_DEFAULT_MAX_FILE_BYTES;
        if (l->max_entries == 0)
                l->max_entries = IMAGE_DEFAULT_MAX_ENTRIES;
        if (l->max_path_length == 0)
                l->max_path_length = IMAGE_DEFAULT_MAX_PATH_LENGTH;
        if (l->max_path_depth == 0)
                l->max_path_depth = IMAGE_DEFAULT_MAX_PATH_DEPTH;
        if (l->max_expand_ratio == 0)
                l->max_expand_ratio = IMAGE_DEFAULT_MAX_EXPAND_RATIO;
        if (l->max_json_bytes == 0)
                l->max_json_bytes = IMAGE_DEFAULT_MAX_JSON_BYTES;
}

int image_archive_support_filters(struct archive *a) {
        /* Only what libarchive decodes in-process. Not sym_archive_read_support_filter_all(): for formats it
         * was built without (lrzip, lzop, grzip, …) it would run an external program on untrusted input. A
         * filter registered with ARCHIVE_WARN is such a program fallback: refuse to run that way. */
        if (sym_archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
            sym_archive_read_support_filter_xz(a) != ARCHIVE_OK ||
            sym_archive_read_support_filter_zstd(a) != ARCHIVE_OK)
                return -EOPNOTSUPP;
        return 0;
}

int sha256_new(EVP_MD_CTX **ret) {
        EVP_MD_CTX *ctx;
        int r;

        r = image_dlopen_crypto(NULL);
        if (r < 0)
                return r;
        ctx = sym_EVP_MD_CTX_new();
        if (!ctx)
                return -ENOMEM;
        if (sym_EVP_DigestInit_ex(ctx, sym_EVP_sha256(), NULL) != 1) {
                sym_EVP_MD_CTX_free(ctx);
                return -EIO;
        }
        *ret = ctx;
        return 0;
}

int sha256_update(EVP_MD_CTX *ctx, const void *p, size_t n) {
        if (n == 0)
                return 0;
        return sym_EVP_DigestUpdate(ctx, p, n) == 1 ? 0 : -EIO;
}

int sha256_final_digest(EVP_MD_CTX *ctx, char **ret) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        static const char hex[] = "0123456789abcdef";

        if (sym_EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != 32)
                return -EIO;
        char *s = malloc(strlen(DIGEST_PREFIX) + SHA256_HEX_LEN + 1);
        if (!s)
                return -ENOMEM;
        char *p = stpcpy(s, DIGEST_PREFIX);
        for (unsigned i = 0; i < len; i++) {
                *p++ = hex[md[i] >> 4];
                *p++ = hex[md[i] & 15];
        }
        *p = 0;
        *ret = s;
        return 0;
}

bool hex64_is_valid(const char *s) {
        if (!s)
                return false;
        size_t i;
        for (i = 0; s[i]; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return i == SHA256_HEX_LEN;
}

bool digest_is_valid(const char *digest) {
        const char *h = digest ? startswith(digest, DIGEST_PREFIX) : NULL;
        return h && hex64_is_valid(h);
}

const char *digest_hex(const char *digest) {
        return digest + strlen(DIGEST_PREFIX);
}

int json_parse_bounded(const char *data, size_t size, size_t max, json_object **ret, ImageError *error,
                       const char *what) {
        if (size > max)
                return image_error_set(error, -EFBIG, what, "JSON document larger than %zu bytes", max);
        if (size > INT32_MAX)
                return -EFBIG;

        struct json_tokener *tok = json_tokener_new_ex(IMAGE_JSON_MAX_DEPTH);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        json_object *o = json_tokener_parse_ex(tok, data, (int) size);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        size_t consumed = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!o || jerr != json_tokener_success) {
                json_object_put(o);
                return image_error_set(error, -EBADMSG, what, "invalid JSON: %s",
                                       jerr == json_tokener_continue ? "unexpected end of document"
                                                                     : json_tokener_error_desc(jerr));
        }
        /* Trailing whitespace is fine, trailing garbage is not */
        for (size_t i = consumed; i < size; i++)
                if (!strchr(" \t\r\n", data[i])) {
                        json_object_put(o);
                        return image_error_set(error, -EBADMSG, what, "trailing data after JSON document");
                }
        *ret = o;
        return 0;
}

const char *json_get_string(json_object *o, const char *key) {
        json_object *v;
        if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
            !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

json_object *json_get_object(json_object *o, const char *key) {
        json_object *v;
        if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
            !json_object_is_type(v, json_type_object))
                return NULL;
        return v;
}

json_object *json_get_array(json_object *o, const char *key) {
        json_object *v;
        if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
            !json_object_is_type(v, json_type_array))
                return NULL;
        return v;
}

int json_strv(json_object *a, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;

        if (!a || json_object_is_type(a, json_type_null)) {
                *ret = NULL;
                return 0;
        }
        if (!json_object_is_type(a, json_type_array))
                return -EBADMSG;
        size_t n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(a, i);
                if (!json_object_is_type(v, json_type_string))
                        return -EBADMSG;
                int r = strv_extend(&l, json_object_get_string(v));
                if (r < 0)
                        return r;
        }
        /* An empty array is "set, empty" (e.g. Entrypoint: [] resets it) */
        if (strv_ensure(&l) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

const char *image_host_arch(void) {
#if defined(__x86_64__)
        return "amd64";
#elif defined(__aarch64__)
        return "arm64";
#elif defined(__i386__)
        return "386";
#elif defined(__arm__)
        return "arm";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        return "ppc64le";
#elif defined(__s390x__)
        return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
        return "riscv64";
#else
        return "unknown";
#endif
}

/* ---- image config ---- */

ImageConfig *image_config_free(ImageConfig *c) {
        if (!c)
                return NULL;
        strv_free(c->env);
        strv_free(c->entrypoint);
        strv_free(c->cmd);
        free(c->working_dir);
        free(c->user);
        strv_free(c->exposed_ports);
        free(c->architecture);
        free(c->os);
        strv_free(c->diff_ids);
        return mfree(c);
}

static int strdup_or_null(const char *s, char **ret) {
        if (!s || !*s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int image_config_parse(const char *json, size_t size, ImageConfig **ret, ImageError *error) {
        _cleanup_(json_object_putp) json_object *root = NULL;
        _cleanup_(image_config_freep) ImageConfig *c = NULL;
        int r;

        r = json_parse_bounded(json, size, IMAGE_DEFAULT_MAX_JSON_BYTES, &root, error, "image config");
        if (r < 0)
                return r;
        if (!json_object_is_type(root, json_type_object))
                return image_error_set(error, -EBADMSG, "image config", "not a JSON object");

        c = new0(ImageConfig, 1);
        if (!c)
                return -ENOMEM;

        if (strdup_or_null(json_get_string(root, "architecture"), &c->architecture) < 0 ||
            strdup_or_null(json_get_string(root, "os"), &c->os) < 0)
                return -ENOMEM;

        /* Docker writes "config": null for scratch images without any settings */
        json_object *cfg = json_get_object(root, "config");
        if (cfg) {
                json_object *v;
                static const struct {
                        const char *key;
                        size_t offset;
                } arrays[] = {
                        { "Env", offsetof(ImageConfig, env) },
                        { "Entrypoint", offsetof(ImageConfig, entrypoint) },
                        { "Cmd", offsetof(ImageConfig, cmd) },
                };
                for (size_t i = 0; i < ELEMENTSOF(arrays); i++) {
                        if (!json_object_object_get_ex(cfg, arrays[i].key, &v))
                                continue;
                        r = json_strv(v, (char ***) ((uint8_t *) c + arrays[i].offset));
                        if (r == -EBADMSG)
                                return image_error_set(error, r, arrays[i].key,
                                                       "image config: '%s' is not an array of strings",
                                                       arrays[i].key);
                        if (r < 0)
                                return r;
                }
                if (strdup_or_null(json_get_string(cfg, "WorkingDir"), &c->working_dir) < 0 ||
                    strdup_or_null(json_get_string(cfg, "User"), &c->user) < 0)
                        return -ENOMEM;

                json_object *ports = json_get_object(cfg, "ExposedPorts");
                if (ports) {
                        json_object_object_foreach(ports, key, val) {
                                (void) val;
                                r = strv_extend(&c->exposed_ports, key);
                                if (r < 0)
                                        return r;
                        }
                        if (c->exposed_ports)
                                qsort(c->exposed_ports, strv_length(c->exposed_ports), sizeof(char *),
                                      cmp_str);
                }
        }

        json_object *rootfs = json_get_object(root, "rootfs");
        if (rootfs) {
                r = json_strv(json_get_array(rootfs, "diff_ids"), &c->diff_ids);
                if (r == -EBADMSG)
                        return image_error_set(error, r, "rootfs.diff_ids",
                                               "image config: diff_ids is not an array of strings");
                if (r < 0)
                        return r;
                STRV_FOREACH (d, c->diff_ids)
                        if (!digest_is_valid(*d))
                                return image_error_set(
                                        error, -EBADMSG, *d,
                                        "image config: invalid diff_id (only sha256 is supported)");
        }

        *ret = TAKE_PTR(c);
        return 0;
}

/* ---- manifests and indexes ---- */

ImageManifest *image_manifest_free(ImageManifest *m) {
        if (!m)
                return NULL;
        free(m->config_digest);
        strv_free(m->layer_digests);
        free(m->layer_sizes);
        return mfree(m);
}

bool image_json_is_index(json_object *o) {
        const char *mt = json_get_string(o, "mediaType");
        if (mt &&
            (streq(mt, "application/vnd.oci.image.index.v1+json") ||
             streq(mt, "application/vnd.docker.distribution.manifest.list.v2+json")))
                return true;
        /* OCI allows omitting mediaType: an index has "manifests", a manifest has "layers" */
        return !mt && json_get_array(o, "manifests") && !json_get_array(o, "layers");
}

/* A layer whose content a registry does not serve or cbox cannot unpack, refused by name: foreign
 * (Docker's Windows base layers) and non-distributable layers (OCI), whose blob lives at the "urls" of
 * the descriptor, outside the registry (cbox fetches nothing from elsewhere), and encrypted layers
 * (ocicrypt). Any other media type is left to the unpacker, which detects the compression by content. */
static int check_layer_media_type(json_object *l, size_t i, const char *digest, ImageError *error) {
        const char *mt = json_get_string(l, "mediaType");

        if (mt && (strstr(mt, ".foreign.") || strstr(mt, ".nondistributable.")))
                return image_error_set(
                        error, -EMEDIUMTYPE, "manifest",
                        "layer %zu (%s) is a foreign, non-distributable layer (%s): its content "
                        "is not in the registry, and cbox does not fetch layers from elsewhere",
                        i, digest, mt);
        if (json_get_array(l, "urls"))
                return image_error_set(
                        error, -EMEDIUMTYPE, "manifest",
                        "layer %zu (%s) lists urls to fetch it from outside the registry, which "
                        "cbox does not do",
                        i, digest);
        if (mt && strstr(mt, "+encrypted"))
                return image_error_set(error, -EMEDIUMTYPE, "manifest",
                                       "layer %zu (%s) is encrypted (%s), which cbox does not support", i,
                                       digest, mt);
        return 0;
}

int image_manifest_parse(const char *json, size_t size, ImageManifest **ret, ImageError *error) {
        _cleanup_(json_object_putp) json_object *root = NULL;
        _cleanup_(image_manifest_freep) ImageManifest *m = NULL;
        int r;

        r = json_parse_bounded(json, size, IMAGE_DEFAULT_MAX_JSON_BYTES, &root, error, "manifest");
        if (r < 0)
                return r;
        if (!json_object_is_type(root, json_type_object))
                return image_error_set(error, -EBADMSG, "manifest", "not a JSON object");
        if (image_json_is_index(root))
                return image_error_set(error, -EMEDIUMTYPE, "manifest", "expected a manifest, got an index");

        const char *cd = json_get_string(json_get_object(root, "config"), "digest");
        if (!digest_is_valid(cd))
                return image_error_set(error, -EBADMSG, "manifest", "missing or invalid config digest");
        json_object *layers = json_get_array(root, "layers");
        if (!layers)
                return image_error_set(error, -EBADMSG, "manifest", "missing layers");

        m = new0(ImageManifest, 1);
        if (!m)
                return -ENOMEM;
        m->config_digest = strdup(cd);
        if (!m->config_digest)
                return -ENOMEM;
        m->n_layers = json_object_array_length(layers);
        if (m->n_layers > 1024)
                return image_error_set(error, -E2BIG, "manifest", "too many layers (%zu)", m->n_layers);
        m->layer_sizes = new0(uint64_t, m->n_layers);
        if (!m->layer_sizes)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_layers; i++) {
                json_object *l = json_object_array_get_idx(layers, i), *sz;
                const char *d = json_get_string(l, "digest");
                if (!digest_is_valid(d))
                        return image_error_set(error, -EBADMSG, "manifest",
                                               "layer %zu: missing or invalid digest", i);
                r = check_layer_media_type(l, i, d, error);
                if (r < 0)
                        return r;
                r = strv_extend(&m->layer_digests, d);
                if (r < 0)
                        return r;
                if (json_object_object_get_ex(l, "size", &sz) && json_object_is_type(sz, json_type_int))
                        m->layer_sizes[i] = (uint64_t) MAX(json_object_get_int64(sz), (int64_t) 0);
        }

        *ret = TAKE_PTR(m);
        return 0;
}

int image_index_pick_platform(json_object *index, char **ret_digest, ImageError *error) {
        json_object *manifests = json_get_array(index, "manifests");
        const char *only = NULL, *best = NULL;
        size_t n;

        if (!manifests || (n = json_object_array_length(manifests)) == 0)
                return image_error_set(error, -EBADMSG, "index", "image index lists no manifests");
        for (size_t i = 0; i < n; i++) {
                json_object *m = json_object_array_get_idx(manifests, i);
                const char *d = json_get_string(m, "digest");
                if (!digest_is_valid(d))
                        continue;
                json_object *p = json_get_object(m, "platform");
                if (!p) {
                        if (!only)
                                only = d;
                        continue;
                }
                if (streq_ptr(json_get_string(p, "os"), "linux") &&
                    streq_ptr(json_get_string(p, "architecture"), image_host_arch()) && !best)
                        best = d;
        }
        if (!best && n == 1)
                best = only;
        if (!best)
                return image_error_set(error, -ENOENT, "index",
                                       "no manifest for linux/%s in the image index", image_host_arch());
        *ret_digest = strdup(best);
        return *ret_digest ? 0 : -ENOMEM;
}

int image_dlopen(void **handle, const char *soname, const char *lib, const char *need,
                 const ImageDlSymbol *syms, size_t n, ImageError *error) {
        void *h;

        if (*handle)
                return 0;
        h = dlopen(soname, RTLD_NOW | RTLD_NODELETE);
        if (!h)
                return image_error_set(error, -EOPNOTSUPP, soname, "%s: %s", need, dlerror());
        for (size_t i = 0; i < n; i++) {
                *syms[i].sym = dlsym(h, syms[i].name);
                if (!*syms[i].sym) {
                        (void) dlclose(h);
                        return image_error_set(error, -EOPNOTSUPP, soname, "%s lacks %s", lib, syms[i].name);
                }
        }
        *handle = h;
        return 0;
}

/* ---- references ---- */

static bool name_char_ok(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || IN_SET(c, '.', '_', '-', '/');
}

static bool tag_char_ok(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                IN_SET(c, '.', '_', '-');
}

static int ref_normalize(const char *ref, bool allow_digest, char **ret) {
        _cleanup_free_ char *name = NULL, *head = NULL;
        const char *tag = "latest", *digest = NULL, *at;

        if (isempty(ref) || strlen(ref) > 255)
                return -EINVAL;
        at = strchr(ref, '@');
        if (at) {
                if (!allow_digest)
                        return -EOPNOTSUPP; /* NAME@sha256:… is for pull; cbox names images by tag */
                digest = at + 1;
                if (!digest_is_valid(digest))
                        return -EINVAL;
                head = strndup(ref, (size_t) (at - ref));
                if (!head)
                        return -ENOMEM;
                ref = head;
        }

        /* The tag is after the last ':' that follows the last '/' (a ':' before it is a registry port) */
        const char *slash = strrchr(ref, '/');
        const char *colon = strrchr(slash ?: ref, ':');
        if (colon) {
                tag = colon + 1;
                name = strndup(ref, (size_t) (colon - ref));
        } else
                name = strdup(ref);
        if (!name)
                return -ENOMEM;

        if (isempty(name) || isempty(tag) || strlen(tag) > 128)
                return -EINVAL;
        for (const char *p = tag; *p; p++)
                if (!tag_char_ok(*p))
                        return -EINVAL;
        /* Name: components separated by '/', none empty, none "." or ".."; the first may carry a port */
        const char *first_slash = strchr(name, '/');
        for (const char *p = name; *p; p++) {
                if (*p == ':' && first_slash && p < first_slash)
                        continue;
                if (!name_char_ok(*p))
                        return -EINVAL;
        }
        if (name[0] == '/' || name[strlen(name) - 1] == '/' || strstr(name, "//"))
                return -EINVAL;
        for (const char *p = name; p;) {
                const char *e = strchr(p, '/');
                size_t l = e ? (size_t) (e - p) : strlen(p);
                if ((l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
                        return -EINVAL;
                p = e ? e + 1 : NULL;
        }

        /* The result must pass again: bound it, not just the input (":latest" may have been added) */
        if (strlen(name) + 1 + strlen(digest ?: tag) > 255)
                return -EINVAL;
        char *s = digest ? strjoin(name, "@", digest) : strjoin(name, ":", tag);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int image_ref_normalize(const char *ref, char **ret) {
        return ref_normalize(ref, false, ret);
}

int image_ref_normalize_any(const char *ref, char **ret) {
        return ref_normalize(ref, true, ret);
}
