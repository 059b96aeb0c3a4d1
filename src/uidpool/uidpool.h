/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Ranges of host uids and gids for user namespaces (issue 16): blocks of UIDPOOL_BLOCK ids leased per
 * owner (a container name) from a pool [start, start + count) that conf.d sets, persisted in one
 * directory and guarded by flock() on the file "lock" there, so concurrent cbox processes never hand out
 * overlapping ranges. The directory belongs under the storage root, not /run: a container's upper layer
 * keeps the host uids of its range on disk, so its lease must outlive a reboot. Nothing here logs.
 *
 * Stable per owner: a released range stays remembered for its last owner ("kept"), and the owner gets
 * it back while nobody else holds it. Another owner takes a kept block only when no block of the pool is
 * free of both held and kept ranges. A new owner starts its search at a block chosen by a hash of its
 * name. Host uid 0 is never part of a range.
 *
 * File "leases": one line per range, "held START COUNT OWNER" or "kept START COUNT OWNER" (decimal),
 * replaced atomically. At most one line per owner. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macros.h"

#define UIDPOOL_BLOCK 65536U

typedef struct UidRange {
        uint32_t start; /* first host id; never 0 */
        uint32_t count; /* ids from start, start + count - 1 ≤ UINT32_MAX - 1 */
} UidRange;

typedef struct UidPool {
        const char *dir;       /* where "lock" and "leases" live; created (0700) when missing */
        uint32_t start, count; /* the pool: start > 0, count ≥ UIDPOOL_BLOCK (whole blocks are used) */
} UidPool;

typedef struct UidLease {
        UidRange range;
        char *owner;
        bool held; /* false: kept for owner after a release */
} UidLease;

void uidpool_lease_array_free(UidLease *l, size_t n);

/* True when start and count describe a range (count > 0, host uid 0 and (uid_t) -1 outside it). */
bool uid_range_is_valid(const UidRange *r);
/* True when the two ranges share an id. */
bool uid_range_overlaps(const UidRange *a, const UidRange *b);

/* A block of the pool for owner: the block it holds; else the one kept for it, when nobody holds an id
 * of it; else a block free of held and kept ranges; else one free of held ranges (the kept entries it
 * overlaps are forgotten). A range owner held or kept that is not a block of this pool (an explicit
 * one, or a pool moved in conf.d) is forgotten. -ENOSPC when every block is held, -EINVAL for a bad pool
 * or owner, -EBADMSG when "leases" does not parse. */
int uidpool_acquire(const UidPool *p, const char *owner, UidRange *ret);

/* An explicit range for owner (inside the pool or not): -EBUSY when another owner holds an id of it;
 * kept ranges of other owners that overlap it are forgotten (an explicit range wins over a memory).
 * Whatever owner had before is replaced. -EINVAL for an invalid range. */
int uidpool_reserve(const UidPool *p, const char *owner, const UidRange *r);

/* The range owner holds is kept for it from now on. Returns 1, or 0 when owner held none. */
int uidpool_release(const UidPool *p, const char *owner);

/* Forgets owner's range, held or kept (its storage is gone). Returns 1, or 0 when it had none. */
int uidpool_forget(const UidPool *p, const char *owner);

/* Every range, sorted by start. */
int uidpool_list(const UidPool *p, UidLease **ret, size_t *ret_n);
