/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading the store: resolve, list, inspect; and removing from it: rm, gc. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc-util.h"
#include "fd-util.h"
#include "fileio.h"
#include "image-internal.h"
#include "store.h"
#include "string-util.h"

typedef struct Loaded {
        char *ref;
        char *manifest_digest;
        uint64_t created_usec;
        ImageManifest *manifest;
        ImageConfig *config;
} Loaded;

static void loaded_done(Loaded *l) {
        free(l->ref);
        free(l->manifest_digest);
        image_manifest_free(l->manifest);
        image_config_free(l->config);
}

static int manifest_for_ref(ImageStore *s, const char *ref, char **ret_ref, char **ret_digest,
                            uint64_t *ret_created) {
        _cleanup_(json_object_putp) json_object *index = NULL;
        _cleanup_free_ char *norm = NULL;
        json_object *e, *v;
        int r;

        r = image_ref_normalize_any(ref, &norm);
        if (r < 0)
                return r;
        r = index_load(s, &index);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(json_get_object(index, "images"), norm, &e))
                return -ENOENT;
        const char *d = json_get_string(e, "manifest");
        if (!digest_is_valid(d))
                return -EBADMSG;
        if (ret_created)
                *ret_created = json_object_object_get_ex(e, "created_usec", &v)
                        ? (uint64_t) json_object_get_int64(v)
                        : 0;
        *ret_digest = strdup(d);
        if (!*ret_digest)
                return -ENOMEM;
        if (ret_ref)
                *ret_ref = TAKE_PTR(norm);
        return 0;
}

static int load_image(ImageStore *s, const char *ref, Loaded *ret) {
        _cleanup_(loaded_done) Loaded l = {};
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        r = manifest_for_ref(s, ref, &l.ref, &l.manifest_digest, &l.created_usec);
        if (r < 0)
                return r;
        r = blob_read(s, l.manifest_digest, &data, &size);
        if (r < 0)
                return r == -ENOENT ? -EUCLEAN : r;
        r = image_manifest_parse(data, size, &l.manifest, NULL);
        if (r < 0)
                return r;
        data = mfree(data);
        r = blob_read(s, l.manifest->config_digest, &data, &size);
        if (r < 0)
                return r == -ENOENT ? -EUCLEAN : r;
        r = image_config_parse(data, size, &l.config, NULL);
        if (r < 0)
                return r;
        if (strv_length(l.config->diff_ids) != l.manifest->n_layers)
                return -EBADMSG;
        *ret = l;
        l = (Loaded){};
        return 0;
}

int image_manifest_digest(ImageStore *s, const char *ref, char **ret) {
        return manifest_for_ref(s, ref, NULL, ret, NULL);
}

int image_resolve(ImageStore *s, const char *ref, char ***ret_layers, ImageConfig **ret_config,
                  char **ret_manifest_digest) {
        _cleanup_(loaded_done) Loaded l = {};
        _cleanup_strv_free_ char **layers = NULL;
        int r;

        r = load_image(s, ref, &l);
        if (r < 0)
                return r;
        size_t n = strv_length(l.config->diff_ids);
        /* Top first: overlayfs takes the uppermost lower directory first */
        for (size_t i = n; i > 0; i--) {
                const char *d = l.config->diff_ids[i - 1];
                if (!layer_exists(s, d))
                        return -EUCLEAN;
                char *p = strjoin(s->root, "/layers/", digest_hex(d));
                if (!p || strv_consume(&layers, p) < 0)
                        return -ENOMEM;
        }
        if (strv_ensure(&layers) < 0)
                return -ENOMEM;
        if (ret_layers)
                *ret_layers = TAKE_PTR(layers);
        if (ret_config)
                *ret_config = TAKE_PTR(l.config);
        if (ret_manifest_digest)
                *ret_manifest_digest = TAKE_PTR(l.manifest_digest);
        return 0;
}

void image_info_array_free(ImageInfo *a, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(a[i].ref);
                free(a[i].manifest);
                free(a[i].config);
        }
        free(a);
}

static int info_cmp(const void *a, const void *b) {
        return strcmp(((const ImageInfo *) a)->ref, ((const ImageInfo *) b)->ref);
}

int image_list(ImageStore *s, ImageInfo **ret, size_t *ret_n) {
        _cleanup_(json_object_putp) json_object *index = NULL;
        ImageInfo *a = NULL;
        size_t n = 0;
        int r;

        r = index_load(s, &index);
        if (r < 0)
                return r;
        json_object *images = json_get_object(index, "images");
        size_t total = (size_t) json_object_object_length(images);
        a = new0(ImageInfo, total);
        if (!a)
                return -ENOMEM;
        json_object_object_foreach(images, key, val) {
                json_object *v;
                ImageInfo *i = &a[n++];
                i->ref = strdup(key);
                i->manifest = strdup(strempty(json_get_string(val, "manifest")));
                i->config = strdup(strempty(json_get_string(val, "config")));
                if (!i->ref || !i->manifest || !i->config) {
                        image_info_array_free(a, n);
                        return -ENOMEM;
                }
                if (json_object_object_get_ex(val, "size", &v))
                        i->size = (uint64_t) json_object_get_int64(v);
                if (json_object_object_get_ex(val, "created_usec", &v))
                        i->created_usec = (uint64_t) json_object_get_int64(v);
                if (json_object_object_get_ex(val, "layers", &v))
                        i->n_layers = (unsigned) json_object_get_int(v);
        }
        qsort(a, n, sizeof(ImageInfo), info_cmp);
        *ret = a;
        *ret_n = n;
        return 0;
}

/* ---- disk usage ---- */

typedef struct Linked {
        ino_t ino;
        uint64_t bytes;
} Linked;

typedef struct Usage {
        uint64_t bytes;
        Linked *linked; /* inodes with more than one link: counted once, at the end */
        size_t n_linked, allocated;
} Usage;

static int linked_cmp(const void *a, const void *b) {
        ino_t x = ((const Linked *) a)->ino, y = ((const Linked *) b)->ino;
        return x < y ? -1 : x > y;
}

/* Allocated bytes of everything below dfd (never following a symlink; depth bounded like unpacking) */
static int tree_usage(int dfd, unsigned depth, Usage *u) {
        if (depth > IMAGE_DEFAULT_MAX_PATH_DEPTH + 1)
                return -ELOOP;
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_at(dfd, ".", 0, &d);
        if (r < 0)
                return r;
        for (struct dirent *de; (errno = 0, de = readdir(d));) {
                struct stat st;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return -errno;
                }
                uint64_t bytes = (uint64_t) st.st_blocks * 512;
                if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
                        if (GREEDY_REALLOC(u->linked, u->allocated, u->n_linked + 1, 64) < 0)
                                return -ENOMEM;
                        u->linked[u->n_linked++] = (Linked){ .ino = st.st_ino, .bytes = bytes };
                        continue;
                }
                u->bytes += bytes;
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub =
                                openat(dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0)
                                return -errno;
                        r = tree_usage(sub, depth + 1, u);
                        if (r < 0)
                                return r;
                }
        }
        return errno > 0 ? -errno : 0;
}

/* Bytes an unpacked layer takes: its tree, each multiply-linked inode once */
static int layer_usage(ImageStore *s, const char *diff_id, uint64_t *ret) {
        _cleanup_close_ int fd = -EBADF;
        Usage u = {};
        struct stat st;
        int r;

        if (!digest_is_valid(diff_id))
                return -EBADMSG;
        fd = openat(s->layers_fd, digest_hex(diff_id), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        u.bytes = (uint64_t) st.st_blocks * 512;
        r = tree_usage(fd, 0, &u);
        if (r >= 0) {
                if (u.n_linked > 0)
                        qsort(u.linked, u.n_linked, sizeof(Linked), linked_cmp);
                for (size_t i = 0; i < u.n_linked; i++)
                        if (i == 0 || u.linked[i].ino != u.linked[i - 1].ino)
                                u.bytes += u.linked[i].bytes;
                *ret = u.bytes;
        }
        free(u.linked);
        return r;
}

static uint64_t blob_usage(ImageStore *s, const char *digest) {
        struct stat st;
        if (!digest_is_valid(digest) ||
            fstatat(s->blobs_fd, digest_hex(digest), &st, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        return (uint64_t) st.st_blocks * 512;
}

int image_list_disk_usage(ImageStore *s, ImageInfo *a, size_t n) {
        _cleanup_strv_free_ char **seen = NULL; /* diff_ids walked, with their bytes in seen_bytes */
        _cleanup_free_ uint64_t *seen_bytes = NULL;
        size_t n_seen = 0;
        int r;

        for (size_t i = 0; i < n; i++) {
                _cleanup_(loaded_done) Loaded l = {};
                uint64_t total = 0;

                r = load_image(s, a[i].ref, &l);
                if (r < 0)
                        return r;
                total += blob_usage(s, l.manifest_digest) + blob_usage(s, l.manifest->config_digest);
                for (size_t k = 0; k < l.manifest->n_layers; k++)
                        total += blob_usage(s, l.manifest->layer_digests[k]);
                STRV_FOREACH (d, l.config->diff_ids) {
                        size_t j = 0;
                        while (j < n_seen && !streq(seen[j], *d))
                                j++;
                        if (j == n_seen) {
                                uint64_t b = 0;
                                r = layer_usage(s, *d, &b);
                                if (r < 0 && r != -ENOENT)
                                        return r;
                                uint64_t *nb = reallocarray(seen_bytes, n_seen + 1, sizeof(uint64_t));
                                if (!nb)
                                        return -ENOMEM;
                                seen_bytes = nb;
                                if (strv_extend(&seen, *d) < 0)
                                        return -ENOMEM;
                                seen_bytes[n_seen++] = b;
                        }
                        total += seen_bytes[j];
                }
                a[i].disk_bytes = total;
        }
        return 0;
}

static int json_add_strv(json_object *o, const char *key, char **l) {
        if (!l)
                return 0;
        json_object *a = json_object_new_array();
        if (!a)
                return -ENOMEM;
        STRV_FOREACH (x, l)
                json_object_array_add(a, json_object_new_string(*x));
        return json_object_object_add(o, key, a) < 0 ? -ENOMEM : 0;
}

int image_inspect_json(ImageStore *s, const char *ref, char **ret_json) {
        _cleanup_(loaded_done) Loaded l = {};
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        r = load_image(s, ref, &l);
        if (r < 0)
                return r;

        json_object_object_add(o, "ref", json_object_new_string(l.ref));
        json_object_object_add(o, "manifest", json_object_new_string(l.manifest_digest));
        json_object_object_add(o, "config", json_object_new_string(l.manifest->config_digest));
        json_object_object_add(o, "created_usec", json_object_new_int64((int64_t) l.created_usec));
        json_object *layers = json_object_new_array();
        uint64_t total = 0;
        for (size_t i = 0; i < l.manifest->n_layers; i++) {
                json_object *e = json_object_new_object();
                const char *d = l.config->diff_ids[i];
                uint64_t size = 0;
                (void) blob_size(s, l.manifest->layer_digests[i], &size);
                total += size;
                _cleanup_free_ char *path = strjoin(s->root, "/layers/", digest_hex(d));
                json_object_object_add(e, "digest", json_object_new_string(l.manifest->layer_digests[i]));
                json_object_object_add(e, "diff_id", json_object_new_string(d));
                json_object_object_add(e, "size", json_object_new_int64((int64_t) size));
                json_object_object_add(e, "path", path ? json_object_new_string(path) : NULL);
                json_object_object_add(e, "present", json_object_new_boolean(layer_exists(s, d)));
                json_object_array_add(layers, e);
        }
        json_object_object_add(o, "size", json_object_new_int64((int64_t) total));
        json_object_object_add(o, "layers", layers);

        json_object *c = json_object_new_object();
        json_object_object_add(c, "architecture", json_object_new_string(strempty(l.config->architecture)));
        json_object_object_add(c, "os", json_object_new_string(strempty(l.config->os)));
        (void) json_add_strv(c, "Env", l.config->env);
        (void) json_add_strv(c, "Entrypoint", l.config->entrypoint);
        (void) json_add_strv(c, "Cmd", l.config->cmd);
        if (l.config->working_dir)
                json_object_object_add(c, "WorkingDir", json_object_new_string(l.config->working_dir));
        if (l.config->user)
                json_object_object_add(c, "User", json_object_new_string(l.config->user));
        (void) json_add_strv(c, "ExposedPorts", l.config->exposed_ports);
        json_object_object_add(o, "image_config", c);

        const char *text =
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                return -ENOMEM;
        *ret_json = strdup(text);
        return *ret_json ? 0 : -ENOMEM;
}

/* Calls fn for every line of every <root>/containers/<name>/image file */
static int for_each_container_image(ImageStore *s,
                                    int (*fn)(const char *container, const char *line, void *ud), void *ud) {
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_at(s->root_fd, "containers", O_NOFOLLOW, &d);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *p = strjoin(de->d_name, "/image"), *data = NULL;
                if (!p)
                        return -ENOMEM;
                if (read_full_file_at(dirfd(d), p, &data, NULL, 64 * 1024) < 0)
                        continue;
                for (char *line = data, *sv = NULL, *tok; (tok = strtok_r(line, "\n", &sv)); line = NULL) {
                        r = fn(de->d_name, tok, ud);
                        if (r != 0)
                                return r;
                }
        }
        return 0;
}

typedef struct UseCheck {
        const char *ref;
        const char *manifest;
        char *container; /* the first container naming ref, else the first running its manifest */
        bool by_name;
} UseCheck;

/* A container uses the image when its image file names ref (line 1) or runs ref's manifest (line 2) */
static int check_use(const char *container, const char *line, void *ud) {
        UseCheck *u = ud;
        _cleanup_free_ char *norm = NULL;
        bool by_name = image_ref_normalize_any(line, &norm) >= 0 && streq(norm, u->ref);
        if (!by_name && !streq_ptr(line, u->manifest))
                return 0;
        if (by_name || !u->container) {
                free(u->container);
                u->container = strdup(container);
                if (!u->container)
                        return -ENOMEM;
        }
        u->by_name = by_name;
        return by_name; /* a name match settles it; a manifest match may yet be one */
}

int image_remove(ImageStore *s, const char *ref, ImageError *error) {
        _cleanup_(json_object_putp) json_object *index = NULL;
        _cleanup_free_ char *norm = NULL;
        _cleanup_close_ int lock = -EBADF;
        json_object *e;
        int r;

        r = image_ref_normalize_any(ref, &norm);
        if (r < 0)
                return image_error_set(error, r, ref, "invalid image reference");
        r = index_lock_load(s, &lock, &index);
        if (r < 0)
                return r;
        json_object *images = json_get_object(index, "images");
        if (!json_object_object_get_ex(images, norm, &e))
                return image_error_set(error, -ENOENT, norm, "no such image");

        UseCheck u = { .ref = norm, .manifest = json_get_string(e, "manifest") };
        r = for_each_container_image(s, check_use, &u);
        if (r < 0) {
                free(u.container);
                return r;
        }
        /* A container running this manifest under another name (or under this name before it was
         * re-pointed) keeps its layers through any other name of the same manifest left in the index */
        if (u.container && !u.by_name) {
                json_object_object_foreach(images, key, val) {
                        if (!streq(key, norm) && streq_ptr(json_get_string(val, "manifest"), u.manifest)) {
                                u.container = mfree(u.container);
                                break;
                        }
                }
        }
        if (u.container) {
                r = image_error_set(error, -EBUSY, u.container, "image '%s' is used by container '%s'", norm,
                                    u.container);
                free(u.container);
                return r;
        }

        json_object_object_del(images, norm);
        return index_save(s, index);
}

int image_tag(ImageStore *s, const char *src, const char *dst, ImageError *error) {
        _cleanup_(json_object_putp) json_object *index = NULL;
        _cleanup_free_ char *from = NULL, *to = NULL;
        _cleanup_close_ int lock = -EBADF;
        json_object *e, *copy = NULL;
        int r;

        r = image_ref_normalize_any(src, &from);
        if (r < 0)
                return image_error_set(error, r, src, "invalid image reference");
        r = image_ref_normalize_any(dst, &to);
        if (r < 0)
                return image_error_set(error, r, dst, "invalid image name (NAME:TAG or NAME@sha256:HEX)");
        r = index_lock_load(s, &lock, &index);
        if (r < 0)
                return r;
        json_object *images = json_get_object(index, "images");
        if (!json_object_object_get_ex(images, from, &e))
                return image_error_set(error, -ENOENT, from, "no such image");
        if (streq(from, to))
                return 0;
        /* a name by digest only for the manifest of that digest (as a pull by digest verified it) */
        const char *at = strchr(to, '@');
        if (at && !streq_ptr(json_get_string(e, "manifest"), at + 1))
                return image_error_set(error, -EINVAL, dst, "'%s' is manifest %s, not this digest", from,
                                       strna(json_get_string(e, "manifest")));
        /* the same manifest, config and layers: nothing in the store is copied; a container that runs
         * an image dst named before keeps its layers by the manifest digest it recorded (image_gc()) */
        if (json_object_deep_copy(e, &copy, NULL) < 0 || !copy)
                return -ENOMEM;
        if (json_object_object_add(images, to, copy) < 0) {
                json_object_put(copy);
                return -ENOMEM;
        }
        return index_save(s, index);
}

/* ---- gc ---- */

typedef struct Keep {
        char **blobs; /* hex */
        char **layers;
        char **manifests; /* digests named by containers */
} Keep;

static int keep_container_digest(const char *container, const char *line, void *ud) {
        Keep *k = ud;
        if (digest_is_valid(line) && strv_extend(&k->manifests, line) < 0)
                return -ENOMEM;
        return 0;
}

static int keep_manifest(ImageStore *s, Keep *k, const char *digest) {
        _cleanup_(image_manifest_freep) ImageManifest *m = NULL;
        _cleanup_(image_config_freep) ImageConfig *c = NULL;
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        if (!digest_is_valid(digest))
                return 0;
        if (strv_extend(&k->blobs, digest_hex(digest)) < 0)
                return -ENOMEM;
        if (blob_read(s, digest, &data, &size) < 0 || image_manifest_parse(data, size, &m, NULL) < 0)
                return 0;
        if (strv_extend(&k->blobs, digest_hex(m->config_digest)) < 0)
                return -ENOMEM;
        STRV_FOREACH (l, m->layer_digests)
                if (strv_extend(&k->blobs, digest_hex(*l)) < 0)
                        return -ENOMEM;
        data = mfree(data);
        r = blob_read(s, m->config_digest, &data, &size);
        if (r < 0 || image_config_parse(data, size, &c, NULL) < 0)
                return 0;
        STRV_FOREACH (d, c->diff_ids)
                if (strv_extend(&k->layers, digest_hex(*d)) < 0)
                        return -ENOMEM;
        return 0;
}

static int sweep(int dfd, char **keep, unsigned *count) {
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_at(dfd, ".", 0, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!hex64_is_valid(de->d_name) || strv_contains(keep, de->d_name))
                        continue;
                int q = rm_rf_at(dfd, de->d_name);
                if (q < 0 && r == 0)
                        r = q;
                else if (q >= 0)
                        (*count)++;
        }
        return r;
}

int image_gc(ImageStore *s, ImageGcStats *ret_stats) {
        _cleanup_(json_object_putp) json_object *index = NULL;
        _cleanup_close_ int lock = -EBADF, ilock = -EBADF;
        ImageGcStats st = {};
        Keep k = {};
        int r;

        /* Exclusive: waits for running imports (they hold it shared) */
        lock = store_lock_exclusive(s);
        if (lock < 0)
                return lock;
        ilock = index_lock(s);
        if (ilock < 0)
                return ilock;

        (void) remove_stale_tmps(s->layers_fd, &st.tmps_removed);
        (void) remove_stale_tmps(s->blobs_fd, &st.tmps_removed);

        r = index_load(s, &index);
        if (r < 0)
                goto finish;
        json_object_object_foreach(json_get_object(index, "images"), key, val) {
                (void) key;
                r = keep_manifest(s, &k, json_get_string(val, "manifest"));
                if (r < 0)
                        goto finish;
        }
        r = for_each_container_image(s, keep_container_digest, &k);
        if (r < 0)
                goto finish;
        STRV_FOREACH (m, k.manifests) {
                r = keep_manifest(s, &k, *m);
                if (r < 0)
                        goto finish;
        }

        r = sweep(s->layers_fd, k.layers, &st.layers_removed);
        if (r >= 0)
                r = sweep(s->blobs_fd, k.blobs, &st.blobs_removed);
        if (r >= 0 && ret_stats)
                *ret_stats = st;
finish:
        strv_free(k.blobs);
        strv_free(k.layers);
        strv_free(k.manifests);
        return r < 0 ? r : 0;
}
