/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dlfcn.h>
#include <errno.h>

#include "crypto-dl.h"
#include "image-internal.h"
#include "macros.h"

#define X(f) typeof(f) *sym_##f = NULL;
CRYPTO_SYMBOLS(X)
#undef X

int image_dlopen_crypto(ImageError *error) {
        static void *dl = NULL;
        const struct {
                const char *name;
                void **sym;
        } t[] = {
#define X(f) { #f, (void **) &sym_##f },
                CRYPTO_SYMBOLS(X)
#undef X
        };
        void *h;

        if (dl)
                return 0;
        h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_NODELETE);
        if (!h)
                return image_error_set(error, -EOPNOTSUPP, "libcrypto.so.3",
                                       "image digests need OpenSSL's libcrypto (install libssl3): %s",
                                       dlerror());
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                *t[i].sym = dlsym(h, t[i].name);
                if (!*t[i].sym)
                        return image_error_set(error, -EOPNOTSUPP, "libcrypto.so.3", "libcrypto lacks %s",
                                               t[i].name);
        }
        dl = h;
        return 0;
}
