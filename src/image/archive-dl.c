/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "archive-dl.h"
#include "image-internal.h"
#include "macros.h"

#define X(f) typeof(f) *sym_##f = NULL;
ARCHIVE_SYMBOLS(X)
#undef X

int image_dlopen_archive(ImageError *error) {
        static void *dl = NULL;
        static const ImageDlSymbol t[] = {
#define X(f) IMAGE_DL_SYMBOL(f),
                ARCHIVE_SYMBOLS(X)
#undef X
        };
        return image_dlopen(&dl, "libarchive.so.13", "libarchive",
                            "reading and writing images needs libarchive (install libarchive13)", t,
                            ELEMENTSOF(t), error);
}
