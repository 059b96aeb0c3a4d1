/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The image config and manifest parsers with the invariants a parse must keep, for every fuzzer that
 * feeds them (fuzz-image-tar from tarballs, fuzz-image-json from JSON seeds). */

#include <stdlib.h>

#include "image-internal.h"
#include "macros.h"
#include "string-util.h"

static inline void fuzz_image_config(const uint8_t *data, size_t size) {
        ImageConfig *c = NULL;
        ImageError e = {};

        if (image_config_parse((const char *) data, size, &c, &e) >= 0) {
                STRV_FOREACH (d, c->diff_ids)
                        if (!digest_is_valid(*d))
                                abort();
                image_config_free(c);
        }
        error_message_done(&e);
}

static inline void fuzz_image_manifest(const uint8_t *data, size_t size) {
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
        error_message_done(&e);
}
