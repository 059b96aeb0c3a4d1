/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "fileio.h"
#include "string-util.h"
#include "uidpool.h"

#define LEASES_FILE_MAX (16U * 1024U * 1024U)

typedef struct PoolState {
        int dir_fd, lock_fd;
        UidLease *leases;
        size_t n;
} PoolState;

/* What occupies a block of the pool */
enum { BLOCK_FREE, BLOCK_KEPT, BLOCK_HELD };

void uidpool_lease_array_free(UidLease *l, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(l[i].owner);
        free(l);
}

static void pool_state_done(PoolState *s) {
        /* closing the lock fd releases the flock */
        s->dir_fd = safe_close(s->dir_fd);
        s->lock_fd = safe_close(s->lock_fd);
        uidpool_lease_array_free(s->leases, s->n);
        s->leases = NULL;
        s->n = 0;
}

bool uid_range_is_valid(const UidRange *r) {
        return r->start > 0 && r->count > 0 && r->count <= UINT32_MAX - r->start;
}

bool uid_range_overlaps(const UidRange *a, const UidRange *b) {
        uint64_t a_end = (uint64_t) a->start + a->count, b_end = (uint64_t) b->start + b->count;
        return a->start < b_end && b->start < a_end;
}

static bool pool_is_valid(const UidPool *p) {
        UidRange r = { p->start, p->count };
        return p->dir && uid_range_is_valid(&r) && p->count >= UIDPOOL_BLOCK;
}

static int parse_u32(const char *s, uint32_t *ret) {
        char *end;
        unsigned long long v;

        if (!(s[0] >= '0' && s[0] <= '9'))
                return -EBADMSG;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end || v > UINT32_MAX)
                return -EBADMSG;
        *ret = (uint32_t) v;
        return 0;
}

/* "held|kept START COUNT OWNER" */
static int lease_parse(char *line, UidLease *ret) {
        char *w[4], *save = NULL;
        size_t n = 0;
        UidLease l = {};

        for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
                if (n == ELEMENTSOF(w))
                        return -EBADMSG;
                w[n++] = t;
        }
        if (n != ELEMENTSOF(w))
                return -EBADMSG;
        if (streq(w[0], "held"))
                l.held = true;
        else if (!streq(w[0], "kept"))
                return -EBADMSG;
        if (parse_u32(w[1], &l.range.start) < 0 || parse_u32(w[2], &l.range.count) < 0 ||
            !uid_range_is_valid(&l.range) || !lease_owner_is_valid(w[3]))
                return -EBADMSG;
        l.owner = strdup(w[3]);
        if (!l.owner)
                return -ENOMEM;
        *ret = l;
        return 0;
}

static ssize_t find_owner(const PoolState *s, const char *owner) {
        for (size_t i = 0; i < s->n; i++)
                if (streq(s->leases[i].owner, owner))
                        return (ssize_t) i;
        return -1;
}

static int leases_parse(PoolState *s, const char *text) {
        for (const char *p = text; *p;) {
                const char *eol = strchrnul(p, '\n');
                _cleanup_free_ char *line = strndup(p, (size_t) (eol - p));
                UidLease l;
                int r;

                if (!line)
                        return -ENOMEM;
                p = *eol ? eol + 1 : eol;
                if (isempty(line))
                        continue;
                r = lease_parse(line, &l);
                if (r < 0)
                        return r;
                if (find_owner(s, l.owner) >= 0) { /* one line per owner */
                        free(l.owner);
                        return -EBADMSG;
                }
                UidLease *a = reallocarray(s->leases, s->n + 1, sizeof(UidLease));
                if (!a) {
                        free(l.owner);
                        return -ENOMEM;
                }
                s->leases = a;
                s->leases[s->n++] = l;
        }
        return 0;
}

/* Locks the pool and reads its leases, for owner (NULL: for no one in particular) */
static int pool_state_open(const UidPool *p, const char *owner, PoolState *s) {
        _cleanup_free_ char *text = NULL;
        int r;

        *s = (PoolState){ .dir_fd = -EBADF, .lock_fd = -EBADF };
        if (!pool_is_valid(p) || (owner && !lease_owner_is_valid(owner)))
                return -EINVAL;
        r = mkdir_p(p->dir, 0700);
        if (r < 0)
                return r;
        s->dir_fd = open(p->dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (s->dir_fd < 0)
                return -errno;
        s->lock_fd = openat(s->dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (s->lock_fd < 0)
                return -errno;
        if (flock(s->lock_fd, LOCK_EX) < 0)
                return -errno;
        r = read_full_file_at(s->dir_fd, "leases", &text, NULL, LEASES_FILE_MAX);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        return leases_parse(s, text);
}

static int lease_cmp(const void *a, const void *b) {
        const UidLease *x = a, *y = b;
        return x->range.start < y->range.start ? -1 : x->range.start > y->range.start;
}

static int pool_state_write(PoolState *s) {
        _cleanup_(buffer_done) Buffer b = {};

        qsort(s->leases, s->n, sizeof(UidLease), lease_cmp);
        for (size_t i = 0; i < s->n; i++)
                if (buffer_printf(&b, "%s %" PRIu32 " %" PRIu32 " %s\n", s->leases[i].held ? "held" : "kept",
                                  s->leases[i].range.start, s->leases[i].range.count,
                                  s->leases[i].owner) < 0)
                        return -ENOMEM;
        return write_file_atomic_at(s->dir_fd, "leases", b.data ?: "", b.size, 0600);
}

static void lease_drop(PoolState *s, size_t i) {
        free(s->leases[i].owner);
        memmove(s->leases + i, s->leases + i + 1, (s->n - i - 1) * sizeof(UidLease));
        s->n--;
}

static int lease_add(PoolState *s, const char *owner, const UidRange *r) {
        UidLease *a = reallocarray(s->leases, s->n + 1, sizeof(UidLease));
        if (!a)
                return -ENOMEM;
        s->leases = a;
        s->leases[s->n] = (UidLease){ .range = *r, .held = true, .owner = strdup(owner) };
        if (!s->leases[s->n].owner)
                return -ENOMEM;
        s->n++;
        return 0;
}

static UidRange block_range(const UidPool *p, uint32_t i) {
        return (UidRange){ p->start + i * UIDPOOL_BLOCK, UIDPOOL_BLOCK };
}

static bool is_block_of(const UidPool *p, const UidRange *r) {
        return r->count == UIDPOOL_BLOCK && r->start >= p->start &&
                (r->start - p->start) % UIDPOOL_BLOCK == 0 &&
                (r->start - p->start) / UIDPOOL_BLOCK < p->count / UIDPOOL_BLOCK;
}

/* What occupies each block of the pool, leaving out the leases of skip_owner */
static int blocks_map(const UidPool *p, const PoolState *s, const char *skip_owner, uint8_t **ret) {
        uint32_t n = p->count / UIDPOOL_BLOCK;
        uint8_t *m = calloc(n, 1);

        if (!m)
                return -ENOMEM;
        for (size_t i = 0; i < s->n; i++) {
                const UidRange *r = &s->leases[i].range;
                uint64_t first, last, end = (uint64_t) r->start + r->count;

                if (streq(s->leases[i].owner, skip_owner) || end <= p->start ||
                    r->start >= (uint64_t) p->start + (uint64_t) n * UIDPOOL_BLOCK)
                        continue;
                first = r->start > p->start ? (r->start - p->start) / UIDPOOL_BLOCK : 0;
                last = MIN((end - 1 - p->start) / UIDPOOL_BLOCK, (uint64_t) n - 1);
                for (uint64_t b = first; b <= last; b++)
                        m[b] = MAX(m[b], (uint8_t) (s->leases[i].held ? BLOCK_HELD : BLOCK_KEPT));
        }
        *ret = m;
        return 0;
}

/* FNV-1a: where an owner starts looking, so that owners spread over the pool */
static uint32_t owner_hash(const char *owner) {
        uint32_t h = 2166136261U;
        for (const char *c = owner; *c; c++)
                h = (h ^ (uint8_t) *c) * 16777619U;
        return h;
}

/* The first block from owner's hash on whose state is at most max */
static int block_find(const UidPool *p, const uint8_t *m, const char *owner, uint8_t max, uint32_t *ret) {
        uint32_t n = p->count / UIDPOOL_BLOCK, h = owner_hash(owner) % n;

        for (uint32_t k = 0; k < n; k++) {
                uint32_t b = (h + k) % n;
                if (m[b] <= max) {
                        *ret = b;
                        return 0;
                }
        }
        return -ENOSPC;
}

/* Forgets the kept ranges of other owners that overlap r */
static void forget_kept_overlapping(PoolState *s, const char *owner, const UidRange *r) {
        for (size_t i = s->n; i-- > 0;)
                if (!s->leases[i].held && !streq(s->leases[i].owner, owner) &&
                    uid_range_overlaps(&s->leases[i].range, r))
                        lease_drop(s, i);
}

static bool held_by_other(const PoolState *s, const char *owner, const UidRange *r) {
        for (size_t i = 0; i < s->n; i++)
                if (s->leases[i].held && !streq(s->leases[i].owner, owner) &&
                    uid_range_overlaps(&s->leases[i].range, r))
                        return true;
        return false;
}

/* owner's own entry, when it is a block of this pool that nobody else holds: taken again */
static int acquire_own(const UidPool *p, PoolState *s, const char *owner, UidRange *ret) {
        ssize_t i = find_owner(s, owner);
        UidLease *l;

        if (i < 0)
                return 0;
        l = &s->leases[i];
        if (!is_block_of(p, &l->range) || held_by_other(s, owner, &l->range)) {
                lease_drop(s, (size_t) i);
                return 0;
        }
        *ret = l->range;
        if (l->held)
                return 1;
        l->held = true;
        return 2;
}

int uidpool_acquire(const UidPool *p, const char *owner, UidRange *ret) {
        _cleanup_(pool_state_done) PoolState s = {};
        _cleanup_free_ uint8_t *m = NULL;
        UidRange r;
        uint32_t b;
        int k;

        k = pool_state_open(p, owner, &s);
        if (k < 0)
                return k;
        k = acquire_own(p, &s, owner, &r);
        if (k == 1) {
                *ret = r;
                return 0;
        }
        if (k == 0) {
                k = blocks_map(p, &s, owner, &m);
                if (k < 0)
                        return k;
                if (block_find(p, m, owner, BLOCK_FREE, &b) < 0 &&
                    block_find(p, m, owner, BLOCK_KEPT, &b) < 0)
                        return -ENOSPC;
                r = block_range(p, b);
                forget_kept_overlapping(&s, owner, &r);
                k = lease_add(&s, owner, &r);
                if (k < 0)
                        return k;
        }
        k = pool_state_write(&s);
        if (k < 0)
                return k;
        *ret = r;
        return 0;
}

int uidpool_reserve(const UidPool *p, const char *owner, const UidRange *r) {
        _cleanup_(pool_state_done) PoolState s = {};
        ssize_t i;
        int k;

        if (!uid_range_is_valid(r))
                return -EINVAL;
        k = pool_state_open(p, owner, &s);
        if (k < 0)
                return k;
        if (held_by_other(&s, owner, r))
                return -EBUSY;
        i = find_owner(&s, owner);
        if (i >= 0 && s.leases[i].held && s.leases[i].range.start == r->start &&
            s.leases[i].range.count == r->count)
                return 0;
        if (i >= 0)
                lease_drop(&s, (size_t) i);
        forget_kept_overlapping(&s, owner, r);
        k = lease_add(&s, owner, r);
        if (k < 0)
                return k;
        return pool_state_write(&s);
}

/* held → kept (keep = true) or the entry gone (keep = false) */
static int owner_change(const UidPool *p, const char *owner, bool keep) {
        _cleanup_(pool_state_done) PoolState s = {};
        ssize_t i;
        int k;

        k = pool_state_open(p, owner, &s);
        if (k < 0)
                return k;
        i = find_owner(&s, owner);
        if (i < 0 || (keep && !s.leases[i].held))
                return 0;
        if (keep)
                s.leases[i].held = false;
        else
                lease_drop(&s, (size_t) i);
        k = pool_state_write(&s);
        return k < 0 ? k : 1;
}

int uidpool_release(const UidPool *p, const char *owner) {
        return owner_change(p, owner, true);
}

int uidpool_forget(const UidPool *p, const char *owner) {
        return owner_change(p, owner, false);
}

int uidpool_list(const UidPool *p, UidLease **ret, size_t *ret_n) {
        _cleanup_(pool_state_done) PoolState s = {};
        int k;

        k = pool_state_open(p, NULL, &s);
        if (k < 0)
                return k;
        qsort(s.leases, s.n, sizeof(UidLease), lease_cmp);
        *ret = TAKE_PTR(s.leases);
        *ret_n = s.n;
        s.n = 0;
        return 0;
}
