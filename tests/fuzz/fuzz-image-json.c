/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The image module's parsers of the JSON a registry or an image archive hands us, fed with JSON
 * seeds (fuzz-image-tar feeds the same parsers, but from a corpus of tarballs): the image config,
 * the manifest (OCI and Docker schema 2), and the index / manifest list with its platform pick.
 * Whatever parses must hold its invariants: valid digests, as many layer digests as layers, a picked
 * manifest digest that is valid. */

#include <stdlib.h>

#include "image-internal.h"
#include "macros.h"
#include "string-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_config(const uint8_t *data, size_t size) {
        ImageConfig *c = NULL;
        ImageError e = {};

        if (image_config_parse((const char *) data, size, &c, &e) >= 0) {
                STRV_FOREACH (d, c->diff_ids)
                        if (!digest_is_valid(*d))
                                abort();
                image_config_free(c);
        }
        image_error_done(&e);
}

static void fuzz_manifest(const uint8_t *data, size_t size) {
        ImageManifest *m = NULL;
        ImageError e = {};

        if (image_manifest_parse((const char *) data, size, &m, &e) >= 0) {
                if (!digest_is_valid(m->config_digest) || strv_length(m->layer_digests) != m->n_layers)
                        abort();
                STRV_FOREACH (d, m->layer_digests)
                        if (!digest_is_valid(*d))
                                abort();
                image_manifest_free(m);
        }
        image_error_done(&e);
}

static void fuzz_index(const uint8_t *data, size_t size) {
        json_object *o = NULL;
        char *digest = NULL;
        ImageError e = {};

        if (json_parse_bounded((const char *) data, size, 4U << 20, &o, &e, "index") >= 0) {
                if (image_json_is_index(o) && image_index_pick_platform(o, &digest, &e) >= 0) {
                        if (!digest_is_valid(digest))
                                abort();
                        free(digest);
                }
                json_object_put(o);
        }
        image_error_done(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        fuzz_config(data, size);
        fuzz_manifest(data, size);
        fuzz_index(data, size);
        return 0;
}
