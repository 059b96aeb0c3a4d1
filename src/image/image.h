/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* image/ — the content-addressed image store and its importers.
 *
 * Layout under the storage root (default /var/lib/cbox):
 *   blobs/sha256/<hex>          every blob (manifest, config, layer), verified by digest on the way in
 *   blobs/sha256/.tmp-*         blobs being written (hashed while copied, renamed when verified)
 *   layers/<diff_id hex>/       an unpacked layer: the directory itself is the layer's root, usable as an
 *                               overlayfs lowerdir (OCI whiteouts already converted to overlay form)
 *   layers/.tmp-*               layers being unpacked (flock'ed by the importer; image_gc() removes stale
 *                               ones); a layer only ever appears under its final name complete
 *   images.json                 the index: { "images": { "NAME:TAG": { "manifest": "sha256:…", … } } },
 *                               replaced atomically (temp + fsync + rename) under images.lock
 *   containers/<name>/image     written by container/: the NAME:TAG a container uses on the first line,
 *                               optionally its manifest digest ("sha256:…", from image_manifest_digest())
 *                               on the second. image_remove() refuses to remove an image named in any of
 *                               them; image_gc() keeps the layers of every manifest digest named there
 *                               (so a running container survives a re-import of its tag plus gc)
 *
 * All functions return -errno. Where errno cannot carry the reason (which archive entry was refused and
 * why, which digest mismatched), they fill an ImageError if one is passed. Nothing here logs. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "errmsg.h"

#define IMAGE_STORE_DEFAULT_ROOT "/var/lib/cbox"

typedef struct ImageStore ImageStore;

/* Diagnostics errno cannot carry: .object, the archive entry / file / reference the error is about, and
 * .message, a human-readable reason, e.g. "path escapes the layer ('..')"; both may be NULL. Free with
 * error_message_done(). */
typedef ErrorMessage ImageError;

/* Bounds against hostile archives (tar/zip bombs). Zero fields mean "the default". */
typedef struct ImageLimits {
        uint64_t max_layer_bytes;  /* total declared file bytes per layer; default 8 GiB */
        uint64_t max_file_bytes;   /* one regular file; default 4 GiB */
        uint64_t max_entries;      /* entries per layer; default 500000 */
        uint64_t max_path_length;  /* bytes in one entry path; default 4095 */
        uint64_t max_path_depth;   /* components in one entry path; default 256 */
        uint64_t max_expand_ratio; /* decompressed/compressed, checked past 256 MiB; default 200 */
        uint64_t max_json_bytes;   /* manifest/config/index JSON documents; default 4 MiB */
} ImageLimits;

/* Opens (creating the directories if needed, mode 0700 for the root) a store. root NULL → the default. */
int image_store_open(const char *root, ImageStore **ret);
ImageStore *image_store_free(ImageStore *s);
static inline void image_store_freep(ImageStore **s) {
        if (*s)
                image_store_free(*s);
}
const char *image_store_root(const ImageStore *s);
/* NULL resets to the defaults. */
void image_store_set_limits(ImageStore *s, const ImageLimits *limits);

/* "busybox" → "busybox:latest"; "localhost:5000/a/b:1.0" keeps its registry and tag. Rejects names with
 * characters outside [a-z0-9._/-] (and ':' for a registry port), tags outside [A-Za-z0-9_.-]{1,128}, and
 * digest references (-EOPNOTSUPP): what names an image cbox makes (import, commit) is a tag. */
int image_ref_normalize(const char *ref, char **ret);

/* Also takes NAME[:TAG]@sha256:<64 hex> → "NAME@sha256:<hex>" (the digest names the content, a tag
 * beside it is dropped, as docker does). Such a name gets into the store only by `image pull`, which
 * verified the manifest against the digest; containers, inspect and rm resolve it like a tag. */
int image_ref_normalize_any(const char *ref, char **ret);

/* Image config fields that feed container defaults. Arrays are NULL-terminated strvs, NULL when unset. */
typedef struct ImageConfig {
        char **env; /* "K=V" */
        char **entrypoint;
        char **cmd;
        char *working_dir;
        char *user;
        char **exposed_ports; /* "80/tcp", sorted */
        char *architecture;
        char *os;
        char **diff_ids; /* "sha256:<hex>", bottom layer first */
} ImageConfig;
ImageConfig *image_config_free(ImageConfig *c);
static inline void image_config_freep(ImageConfig **c) {
        if (*c)
                image_config_free(*c);
}
/* Parses an OCI/Docker image config document (also used by the fuzzer). */
int image_config_parse(const char *json, size_t size, ImageConfig **ret, ImageError *error);

/* A shared lock on the store that image_gc() waits for (it takes the lock exclusively; imports share
 * it). A container's up holds it from image_resolve() until containers/NAME/image names the manifest it
 * resolved, so that no gc removes those layers in between. Returns the lock fd (close it to release). */
int image_store_lock_use(ImageStore *s);

/* Resolves NAME:TAG (normalized with image_ref_normalize) to the absolute paths of its unpacked layer
 * directories, TOP FIRST (the order overlayfs wants in lowerdir=), and its config. Either out-param may be
 * NULL. -ENOENT if no such image; -EUCLEAN if a layer directory the image needs is missing.
 * ret_manifest_digest (may be NULL) gets the manifest digest those came from: what a container records on
 * line 2 of containers/<name>/image, so that gc keeps its layers after NAME:TAG moves on. */
int image_resolve(ImageStore *s, const char *ref, char ***ret_layers, ImageConfig **ret_config,
                  char **ret_manifest_digest);

/* The manifest digest ("sha256:<hex>") NAME:TAG points at now; -ENOENT if none. */
int image_manifest_digest(ImageStore *s, const char *ref, char **ret);

typedef struct ImageImportStats {
        unsigned layers;          /* layers in the image */
        unsigned layers_unpacked; /* layers unpacked by this import */
        unsigned layers_reused;   /* layers already present in the store */
        uint64_t blob_bytes;      /* bytes written into blobs/ by this import */
        uint64_t unpacked_bytes;  /* file bytes written into layers/ by this import */
        uint64_t unpacked_entries;
} ImageImportStats;

/* Progress callback for long work (may be NULL): a label ("Unpacking layer 1/3 sha256:…", "Downloading
 * sha256:…"), and for downloads bytes so far and total (0 when unknown or not about bytes). A NULL label
 * means "done". */
typedef void (*ImageProgressFn)(const char *what, uint64_t done, uint64_t total, void *userdata);

/* Imports PATH: an OCI image layout directory, an oci-archive, a docker-archive (`docker save`, old and new
 * layouts) or a plain rootfs tarball (any of none/gzip/xz/zstd), detected by content. ref may be NULL to
 * take the name from the source (OCI ref.name annotation, docker RepoTags, file name of a rootfs tar).
 * On success *ret_ref (if non-NULL) is the normalized NAME:TAG that now points at the image. */
int image_import(ImageStore *s, const char *path, const char *ref, ImageProgressFn progress, void *userdata,
                 ImageImportStats *ret_stats, char **ret_ref, ImageError *error);

/* Registry pull and push (registry v2 over HTTPS, or plain HTTP for the registries listed as insecure). */
#define IMAGE_DEFAULT_AUTH_FILE "/etc/cbox/auth.json"

/* Settings of one registry (conf.d's [registry."HOST[:PORT]"]); the options' own fields win over them */
typedef struct ImageRegistry {
        const char *name; /* "HOST[:PORT]" as in the reference */
        bool insecure;
        const char *ca_file;
        const char *auth_file;
} ImageRegistry;

typedef struct ImagePullOptions {
        const char *ca_file;        /* PEM CA bundle to verify registries with (instead of the system's) */
        char **insecure_registries; /* "HOST[:PORT]" to talk plain HTTP to; never implied */
        const char *auth_file;      /* credentials, docker's format: {"auths":{"HOST[:PORT]":{"auth":
                                     * "base64(user:pass)"} or {"username":…,"password":…}}}; may be absent.
                                     * NULL: the registry's auth_file, else IMAGE_DEFAULT_AUTH_FILE */
        unsigned retries; /* attempts for transient failures (connect, timeout, 429, 5xx); 0 → 3 */
        const ImageRegistry *registries;
        size_t n_registries;
} ImagePullOptions;

/* Pulls REF ("HOST[:PORT]/REPO:TAG"; a name without a registry host means Docker Hub, library/ for
 * single-component names) into the store under that same NAME:TAG. Blobs are verified while streaming. */
int image_pull(ImageStore *s, const char *ref, const ImagePullOptions *opts, ImageProgressFn progress,
               void *userdata, ImageImportStats *ret_stats, char **ret_ref, ImageError *error);

/* The manifest digest ("sha256:<hex>") REF's tag names at its registry now: for an index, the digest of
 * the manifest image_pull() would pick for this host's platform, i.e. what image_manifest_digest() gives
 * after a pull of REF. Asks for the manifest only (same options, auth and bounds as image_pull()); writes
 * nothing to the store. -EOPNOTSUPP for a reference by digest. */
int image_remote_digest(ImageStore *s, const char *ref, const ImagePullOptions *opts, char **ret,
                        ImageError *error);

/* Registry push, with the settings of pull (CA, insecure, credentials) */
typedef struct ImagePushStats {
        unsigned blobs;          /* the config and the layers */
        unsigned blobs_uploaded; /* sent */
        unsigned blobs_present;  /* the registry had them already (HEAD): not sent */
        uint64_t bytes_uploaded;
} ImagePushStats;

/* Pushes the image ref names in the store to dest ("HOST[:PORT]/REPO:TAG"; NULL: ref, which must then name
 * its registry host) as it is stored: the manifest's bytes and media type, its config and layer blobs, so
 * the registry's manifest digest is the store's; blobs the registry has already are not sent. *ret_digest:
 * the manifest digest, which the registry confirmed (Docker-Content-Digest). The store is only read. */
int image_push(ImageStore *s, const char *ref, const char *dest, const ImagePullOptions *opts,
               ImageProgressFn progress, void *userdata, ImagePushStats *ret_stats, char **ret_dest,
               char **ret_digest, ImageError *error);

typedef struct ImageInfo {
        char *ref;             /* NAME:TAG */
        char *manifest;        /* sha256:<hex> */
        char *config;          /* sha256:<hex> */
        uint64_t size;         /* sum of the layer blob sizes */
        uint64_t created_usec; /* when imported */
        unsigned n_layers;
        uint64_t disk_bytes; /* image_list_disk_usage(): allocated bytes of its blobs (manifest, config,
                              * layers) and unpacked layer trees; a layer shared by images counts in each */
} ImageInfo;
void image_info_array_free(ImageInfo *a, size_t n);

/* All images in the index, sorted by ref. */
int image_list(ImageStore *s, ImageInfo **ret, size_t *ret_n);
/* Fills disk_bytes of each (walks each distinct layer tree once) */
int image_list_disk_usage(ImageStore *s, ImageInfo *a, size_t n);

/* A JSON document describing NAME:TAG: {"ref","manifest","config","layers":[{"digest","diff_id","path",
 * "size"}],"image_config":{…}} as a NUL-terminated string. */
int image_inspect_json(ImageStore *s, const char *ref, char **ret_json);

/* Removes NAME:TAG from the index. -EBUSY (error->object = the container) while a container uses it.
 * Blobs and layers are left for image_gc(). */
int image_remove(ImageStore *s, const char *ref, ImageError *error);

/* Names the image src (NAME:TAG or NAME@sha256:…) also dst (NAME:TAG), replacing what dst named: one
 * index entry more, nothing copied. -ENOENT when src is not in the store. dst may be NAME@sha256:HEX when
 * HEX is src's manifest digest (-EINVAL otherwise): auto-update keeps the image it replaces so. */
int image_tag(ImageStore *s, const char *src, const char *dst, ImageError *error);

/* Commits a container's overlay upper directory as a new layer on top of base_ref, stored as new_ref
 * (base config kept, diff_ids and history extended). Overlay whiteouts (0:0 char devices, files with
 * trusted.overlay.whiteout) become ".wh.NAME", opaque directories get ".wh..wh..opq". exclude (may be
 * NULL): paths relative to upper_dir ("etc/hosts") left out of the layer. */
int image_commit(ImageStore *s, const char *upper_dir, const char *base_ref, const char *new_ref,
                 char *const *exclude, char **ret_ref, ImageError *error);

/* Host ids that a user namespace's 0.. are: files owned by start + N are written as owned by N (what
 * container root wrote in its upper directory goes back into the image as root's) */
typedef struct ImageIdRange {
        uint32_t start, count;
} ImageIdRange;

/* image_commit() of the upper directory of a container in a user namespace (ids may be NULL) */
int image_commit_ids(ImageStore *s, const char *upper_dir, const char *base_ref, const char *new_ref,
                     char *const *exclude, const ImageIdRange *ids, char **ret_ref, ImageError *error);

/* Writes the tree below dir_fd (e.g. a container's mounted merged view) to out_fd as one uncompressed tar:
 * numeric owners, modes, mtimes, hardlinks, symlinks, devices, user.* and security.capability xattrs.
 * Symlinks are never followed; entries come sorted (same tree → same bytes). */
int image_export_tree(int dir_fd, int out_fd, ImageError *error);
/* The same with the owners of ids (may be NULL) shifted back, as image_commit_ids() */
int image_export_tree_ids(int dir_fd, int out_fd, const ImageIdRange *ids, ImageError *error);

/* Removes stale temporaries and every blob and layer no image in the index references. */
typedef struct ImageGcStats {
        unsigned tmps_removed;
        unsigned layers_removed;
        unsigned blobs_removed;
} ImageGcStats;
int image_gc(ImageStore *s, ImageGcStats *ret_stats);

/* Lower level, for tests and fuzzers: unpacks one layer archive read from fd (any of none/gzip/xz/zstd,
 * detected) into the existing empty directory dir_fd, converting whiteouts and refusing escapes.
 * ret_diff_id (optional) gets "sha256:<hex>" of the uncompressed tar stream. dir_fd < 0 is a dry run:
 * the stream is parsed, hashed and checked against the limits and path rules, nothing is created. */
int image_unpack_layer(int fd, int dir_fd, const ImageLimits *limits, char **ret_diff_id,
                       ImageImportStats *stats, ImageError *error);
/* The same for a layer above others: lower_fds are the directories of the image's layers below it,
 * nearest first. A hardlink whose target is not in this layer is resolved in them (as overlayfs shows
 * them, never through a symlink) and copied in. */
int image_unpack_layer_above(int fd, int dir_fd, const int *lower_fds, size_t n_lowers,
                             const ImageLimits *limits, char **ret_diff_id, ImageError *error);
