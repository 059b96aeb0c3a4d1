/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Feeds the input to the image module's parsers of untrusted data: the layer unpacker (any compression,
 * tar, whiteouts, links, limits) into a scratch directory that is checked and removed afterwards, the
 * image config and manifest JSON parsers, and the reference normalizer. Escapes are crashes: after each
 * input, a sentinel directory next to the scratch directory must still be empty. */

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "fileio.h"
#include "fuzz-image-checks.h"
#include "image-internal.h"
#include "macros.h"
#include "string-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *base = NULL;     /* <base>/layer: the unpack target; <base>/sentinel: must stay empty */
static int lower_fd = -EBADF; /* <base>/lower: a layer below the input, for hardlinks to a lower layer */

static void cleanup(void) {
        if (base)
                (void) rm_rf_at(AT_FDCWD, base);
}

static void setup(void) {
        if (base)
                return;
        base = strdup("/tmp/fuzz-image-XXXXXX");
        if (!base || !mkdtemp(base))
                abort();
        _cleanup_free_ char *sentinel = strjoin(base, "/sentinel");
        if (!sentinel || mkdir(sentinel, 0700) < 0)
                abort();
        /* the lower layer: a file, a directory, and symlinks out of it (to the sentinel, absolute and
         * relative) that a hardlink must never go through */
        _cleanup_free_ char *lower = strjoin(base, "/lower");
        if (!lower || mkdir(lower, 0755) < 0)
                abort();
        lower_fd = open(lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (lower_fd < 0 || mkdirat(lower_fd, "bin", 0755) < 0 || mkdirat(lower_fd, "etc", 0755) < 0 ||
            write_file_atomic_at(lower_fd, "bin/sh", "#!", 2, 0755) < 0 ||
            symlinkat(sentinel, lower_fd, "abs") < 0 || symlinkat("../sentinel", lower_fd, "rel") < 0)
                abort();
        atexit(cleanup);
}

static void check_sentinel(void) {
        _cleanup_free_ char *sentinel = strjoin(base, "/sentinel");
        _cleanup_closedir_ DIR *d = opendir(sentinel);
        if (!d)
                abort();
        for (struct dirent *de; (de = readdir(d));)
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        abort(); /* something escaped the layer directory */
}

static void fuzz_unpack(const uint8_t *data, size_t size) {
        /* small limits: the fuzzer should explore structure, not fill the disk */
        const ImageLimits limits = {
                .max_layer_bytes = 16 << 20,
                .max_file_bytes = 4 << 20,
                .max_entries = 4096,
                .max_expand_ratio = 1000,
        };
        _cleanup_close_ int fd = memfd_create("fuzz-layer", MFD_CLOEXEC);
        _cleanup_free_ char *layer = strjoin(base, "/layer"), *diff_id = NULL;
        ImageError e = {};

        if (fd < 0 || !layer || loop_write(fd, data, size) < 0 || lseek(fd, 0, SEEK_SET) < 0)
                abort();
        if (mkdir(layer, 0700) < 0)
                abort();
        _cleanup_close_ int dfd = open(layer, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                abort();

        int r = image_unpack_layer_above(fd, dfd, &lower_fd, 1, &limits, &diff_id, &e);
        if (r >= 0 && !digest_is_valid(diff_id))
                abort();
        error_message_done(&e);

        /* the dry run agrees with the real run on the diff_id */
        if (r >= 0 && lseek(fd, 0, SEEK_SET) == 0) {
                _cleanup_free_ char *dry = NULL;
                if (image_unpack_layer(fd, -EBADF, &limits, &dry, NULL, &e) >= 0 && !streq(dry, diff_id))
                        abort();
                error_message_done(&e);
        }

        (void) rm_rf_at(AT_FDCWD, layer);
        check_sentinel();
}

static void fuzz_ref(const uint8_t *data, size_t size) {
        _cleanup_free_ char *s = strndup((const char *) data, MIN(size, (size_t) 300)), *n = NULL,
                            *n2 = NULL;
        if (!s)
                return;
        _cleanup_free_ char *a = NULL, *a2 = NULL;
        /* the digest-accepting form: idempotent too, and a superset of the tag-only one */
        if (image_ref_normalize_any(s, &a) >= 0 && (image_ref_normalize_any(a, &a2) < 0 || !streq(a, a2)))
                abort();
        if (image_ref_normalize(s, &n) < 0)
                return;
        /* normalizing is idempotent */
        if (image_ref_normalize(n, &n2) < 0 || !streq(n, n2))
                abort();
        if (!a || !streq(a, n))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        setup();
        fuzz_unpack(data, size);
        fuzz_image_config(data, size);
        fuzz_image_manifest(data, size);
        fuzz_ref(data, size);
        return 0;
}
