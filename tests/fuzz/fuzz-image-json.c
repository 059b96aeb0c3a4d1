/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The image module's parsers of the JSON a registry or an image archive hands us, fed with JSON
 * seeds (fuzz-image-tar feeds the same parsers, but from a corpus of tarballs): the image config,
 * the manifest (OCI and Docker schema 2), and the index / manifest list with its platform pick.
 * Whatever parses must hold its invariants: valid digests, as many layer digests as layers, a picked
 * manifest digest that is valid. */

#include "fuzz-image-checks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
        error_message_done(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        fuzz_image_config(data, size);
        fuzz_image_manifest(data, size);
        fuzz_index(data, size);
        return 0;
}
