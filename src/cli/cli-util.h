/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "image.h"

/* Refuses (logged, -ESTALE) when ref now points at another manifest than digest */
int check_same_image(ImageStore *store, const char *name, const char *ref, const char *digest);

/* Runs fn(g, name, arg) holding NAME's lock, so that down --volumes cannot remove its storage meanwhile;
 * the lock file goes afterwards when no state dir is left beside it (a downed container), as down does.
 * Returns fn's result (a lock failure is logged). */
int with_container_lock(const GlobalConfig *g, const char *name,
                        int (*fn)(const GlobalConfig *g, const char *name, const char *arg),
                        const char *arg);

/* "1.5M" style, base 1024 */
void format_bytes(uint64_t b, char *buf, size_t n);
