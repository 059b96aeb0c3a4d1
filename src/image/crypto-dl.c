/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "crypto-dl.h"
#include "image-internal.h"
#include "macros.h"

#define X(f) typeof(f) *sym_##f = NULL;
CRYPTO_SYMBOLS(X)
#undef X

int image_dlopen_crypto(ImageError *error) {
        static void *dl = NULL;
        static const ImageDlSymbol t[] = {
#define X(f) IMAGE_DL_SYMBOL(f),
                CRYPTO_SYMBOLS(X)
#undef X
        };
        return image_dlopen(&dl, "libcrypto.so.3", "libcrypto",
                            "image digests need OpenSSL's libcrypto (install libssl3)", t, ELEMENTSOF(t),
                            error);
}
