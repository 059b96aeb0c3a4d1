/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libcrypto, dlopen()ed on first use instead of linked, as libarchive (archive-dl.h): image/ only
 * hashes blobs with it, and linked it cost ~4,200 symbol relocations on every `cbox` start.
 * sha256_new() and image_pull() load it; every other call works on what those made. */

#include <openssl/evp.h>

#include "image.h"

#define CRYPTO_SYMBOLS(X)                                                                                   \
        X(EVP_MD_CTX_new)                                                                                   \
        X(EVP_DigestInit_ex)                                                                                \
        X(EVP_DigestUpdate)                                                                                 \
        X(EVP_DigestFinal_ex)                                                                               \
        X(EVP_MD_CTX_free)                                                                                  \
        X(EVP_sha256)                                                                                       \
        X(EVP_EncodeBlock)

#define X(f) extern typeof(f) *sym_##f;
CRYPTO_SYMBOLS(X)
#undef X

/* 0, or -EOPNOTSUPP (error filled, if given) when libcrypto.so.3 or one of its functions is missing */
int image_dlopen_crypto(ImageError *error);
