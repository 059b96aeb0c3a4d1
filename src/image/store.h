/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Internal: the store's pieces, used by the importers (import.c) and the queries (query.c). */

#include "image-internal.h"

struct ImageStore {
        char *root;
        int root_fd;
        int blobs_fd;  /* blobs/sha256 */
        int layers_fd; /* layers */
        ImageLimits limits;
};

/* A "<prefix>-<pid>-<random>" name for temporaries */
int tmp_name(char **ret);
/* Opens and flocks <root>/name; returns the fd holding the lock */
int store_lock(ImageStore *s, const char *name, int op);
int store_lock_shared(ImageStore *s);    /* held by importers */
int store_lock_exclusive(ImageStore *s); /* held by gc */
int index_lock(ImageStore *s);           /* held around index read-modify-write */
int remove_stale_tmps(int dfd, unsigned *count);

/* Blobs: hashed while written, verified against expected (if given), linked in under their digest */
typedef struct BlobWriter {
        ImageStore *s;
        int fd;
        char *tmp; /* named temporary when O_TMPFILE is not available */
        EVP_MD_CTX *hash;
        uint64_t size;
} BlobWriter;
int blob_writer_begin(ImageStore *s, BlobWriter *w);
int blob_writer_write(BlobWriter *w, const void *p, size_t n);
int blob_writer_commit(BlobWriter *w, const char *expected, char **ret_digest, ImageError *error);
void blob_writer_done(BlobWriter *w);

bool blob_exists(ImageStore *s, const char *digest);
int blob_open(ImageStore *s, const char *digest);
int blob_read(ImageStore *s, const char *digest, char **ret, size_t *ret_size);
int blob_size(ImageStore *s, const char *digest, uint64_t *ret);
int blob_ingest_fd(ImageStore *s, int fd, const char *expected, char **ret_digest, uint64_t *ret_bytes,
                   ImageError *error);
int blob_ingest_data(ImageStore *s, const void *data, size_t size, char **ret_digest);

bool layer_exists(ImageStore *s, const char *diff_id);
int layer_unpack(ImageStore *s, const char *blob_digest, const char *expected, char **ret_diff_id,
                 ImageImportStats *stats, ImageProgressFn progress, void *userdata, const char *label,
                 ImageError *error);
/* lower_fds: the directories of the image's layers below this one, nearest first (for hardlinks to them) */
int layer_unpack_above(ImageStore *s, const char *blob_digest, const char *expected, const int *lower_fds,
                       size_t n_lowers, char **ret_diff_id, ImageImportStats *stats,
                       ImageProgressFn progress, void *userdata, const char *label, ImageError *error);

int index_load(ImageStore *s, json_object **ret);
/* index_lock() and then index_load(): the lock in *ret_lock, held until the caller closes it */
int index_lock_load(ImageStore *s, int *ret_lock, json_object **ret_index);
int index_save(ImageStore *s, json_object *o);

/* With the manifest, config and layer blobs in the store: unpack the missing layers, point ref at it */
int store_import_manifest(ImageStore *s, const char *manifest_digest, const char *ref,
                          ImageProgressFn progress, void *userdata, ImageImportStats *stats,
                          ImageError *error);

/* Writes an OCI manifest for a config and layer blobs (bottom first) already in the store */
int synthesize_manifest(ImageStore *s, const char *config_digest, char **layers, char **ret);
