/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* SHA-256 (FIPS 180-4), for small digests on cbox's hot path (the configuration digest) where
 * OpenSSL 3's first-use initialisation would cost more than the hashing. image/ keeps OpenSSL for
 * large blobs. */

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32

typedef struct Sha256Ctx {
        uint32_t h[8];
        uint64_t length; /* bytes hashed so far */
        uint8_t buf[64];
        size_t n_buf;
} Sha256Ctx;

void sha256_init_ctx(Sha256Ctx *ctx);
void sha256_process_bytes(Sha256Ctx *ctx, const void *data, size_t size);
void sha256_finish_ctx(Sha256Ctx *ctx, uint8_t ret[static SHA256_DIGEST_SIZE]);

/* One-shot helpers */
void sha256_direct(const void *data, size_t size, uint8_t ret[static SHA256_DIGEST_SIZE]);
/* Writes 64 lower-case hex digits and a NUL into ret */
void sha256_to_hex(const uint8_t d[static SHA256_DIGEST_SIZE], char ret[static SHA256_DIGEST_SIZE * 2 + 1]);
