/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small helpers several verbs share (kept out of main.c so each verb stays one file). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-util.h"
#include "fileio.h"
#include "log.h"
#include "macros.h"
#include "state.h"
#include "string-util.h"

/* Refuses when REF now points at another manifest than the one the container was started from */
int check_same_image(ImageStore *store, const char *name, const char *ref, const char *digest) {
        _cleanup_free_ char *now = NULL;

        if (!digest)
                return 0;
        if (image_manifest_digest(store, ref, &now) < 0 || !streq(now, digest))
                return log_error_errno(ESTALE,
                                       "%s: image '%s' now is %s, not %s the container was started from: "
                                       "start it again first",
                                       name, ref, strna(now), digest);
        return 0;
}

int with_container_lock(const GlobalConfig *g, const char *name,
                        int (*fn)(const GlobalConfig *g, const char *name, const char *arg),
                        const char *arg) {
        int lock_fd = -EBADF, r;

        r = state_lock(global_config_run_root(g), name, true, &lock_fd);
        if (r < 0)
                return log_error_errno(r, "%s: cannot lock: %m", name);
        r = fn(g, name, arg);
        (void) state_unlock(global_config_run_root(g), name, lock_fd,
                            !state_dir_exists(global_config_run_root(g), name));
        return r;
}

void format_bytes(uint64_t b, char *buf, size_t n) {
        static const char *const units[] = { "B", "K", "M", "G", "T" };
        double v = (double) b;
        size_t u = 0;
        while (v >= 1024 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024;
                u++;
        }
        if (u == 0)
                snprintf(buf, n, "%" PRIu64 "B", b);
        else
                snprintf(buf, n, "%.1f%s", v, units[u]);
}
