/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "fileio.h"
#include "ipam.h"
#include "string-util.h"

#define IPAM_MAGIC "CBOXIPM1"
#define IPAM_LEASES_MAX (64U * 1024U * 1024U)

/* On-disk header of the "bitmap" file, followed by one bit per address of the subnet. */
typedef struct IpamHeader {
        char magic[8];
        uint32_t network; /* host byte order */
        uint32_t prefixlen;
        uint32_t cursor; /* host index of the last allocation */
        uint32_t reserved;
} IpamHeader;

typedef struct IpamState {
        int dir_fd;
        int lock_fd;
        uint32_t network, size; /* host order network address; number of addresses */
        uint32_t gateway;       /* index */
        IpamHeader header;
        bool keep_bitmap; /* the bitmap file belongs to an older configuration: don't rewrite it */
        uint8_t *bitmap;
        IpamLease *leases;
        size_t n_leases;
} IpamState;

void ipam_lease_array_free(IpamLease *l, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(l[i].owner);
        free(l);
}

static void ipam_state_done(IpamState *s) {
        /* closing the lock fd releases the flock */
        s->dir_fd = safe_close(s->dir_fd);
        s->lock_fd = safe_close(s->lock_fd);
        s->bitmap = mfree(s->bitmap);
        ipam_lease_array_free(s->leases, s->n_leases);
        s->leases = NULL;
        s->n_leases = 0;
}

static bool name_is_valid(const char *n) {
        if (isempty(n) || streq(n, ".") || streq(n, "..") || strlen(n) > 64)
                return false;
        for (const char *p = n; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      IN_SET(*p, '-', '_', '.')))
                        return false;
        return true;
}

static bool bit_get(const uint8_t *b, uint32_t i) {
        return b[i / 8] & (1U << (i % 8));
}

static void bit_set(uint8_t *b, uint32_t i, bool v) {
        if (v)
                b[i / 8] |= (uint8_t) (1U << (i % 8));
        else
                b[i / 8] &= (uint8_t) ~(1U << (i % 8));
}

static size_t bitmap_bytes(uint32_t size) {
        return (size + 7) / 8;
}

static bool index_is_reserved(const IpamState *s, uint32_t i) {
        return i == 0 || i == s->size - 1 || i == s->gateway;
}

/* salvage: skip the lines that do not parse instead of failing with -EBADMSG (ipam_rebuild) */
static int leases_parse(IpamState *s, const char *text, bool salvage) {
        const char *p = text;

        while (*p) {
                const char *eol = strchrnul(p, '\n');
                _cleanup_free_ char *line = strndup(p, (size_t) (eol - p));
                struct in_addr a;
                char *sp;

                if (!line)
                        return -ENOMEM;
                p = *eol ? eol + 1 : eol;
                if (isempty(line))
                        continue;
                sp = strchr(line, ' ');
                if (sp)
                        *sp = 0;
                if (!sp || inet_pton(AF_INET, line, &a) != 1 || !lease_owner_is_valid(sp + 1)) {
                        if (salvage)
                                continue;
                        return -EBADMSG;
                }

                IpamLease *n = realloc(s->leases, (s->n_leases + 1) * sizeof(IpamLease));
                if (!n)
                        return -ENOMEM;
                s->leases = n;
                s->leases[s->n_leases].address = a;
                s->leases[s->n_leases].owner = strdup(sp + 1);
                if (!s->leases[s->n_leases].owner)
                        return -ENOMEM;
                s->n_leases++;
        }
        return 0;
}

/* tolerant: for release and list, a network reconfigured while leases exist is not an error; the
 * stale bitmap file is then left as it is (only the leases file changes), so allocation keeps
 * refusing with -EBUSY until the last old lease is gone. */
static int ipam_state_open_full(const IpamNetwork *net, bool tolerant, bool salvage, IpamState *s) {
        _cleanup_free_ char *dir = NULL, *text = NULL, *bm = NULL;
        size_t bm_size = 0;
        uint32_t mask;
        int r;

        *s = (IpamState){ .dir_fd = -EBADF, .lock_fd = -EBADF };

        if (!net || isempty(net->run_dir) || !name_is_valid(net->name) || net->prefixlen < 8 ||
            net->prefixlen > 30)
                return -EINVAL;

        mask = UINT32_MAX << (32 - net->prefixlen);
        s->network = ntohl(net->subnet.s_addr) & mask;
        s->size = UINT32_C(1) << (32 - net->prefixlen);
        if (net->gateway.s_addr == INADDR_ANY)
                s->gateway = 1;
        else {
                uint32_t g = ntohl(net->gateway.s_addr);
                if ((g & mask) != s->network)
                        return -EINVAL;
                s->gateway = g - s->network;
        }

        dir = strjoin(net->run_dir, "/", net->name);
        if (!dir)
                return -ENOMEM;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        s->dir_fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (s->dir_fd < 0)
                return -errno;
        s->lock_fd = openat(s->dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (s->lock_fd < 0)
                return -errno;
        if (flock(s->lock_fd, LOCK_EX) < 0)
                return -errno;

        r = read_full_file_at(s->dir_fd, "leases", &text, NULL, IPAM_LEASES_MAX);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r >= 0) {
                r = leases_parse(s, text, salvage);
                if (r < 0)
                        return r;
        }

        r = read_full_file_at(s->dir_fd, "bitmap", &bm, &bm_size,
                              sizeof(IpamHeader) + bitmap_bytes(1U << 24));
        if (r < 0 && r != -ENOENT)
                return r;
        if (r >= 0 && bm_size >= sizeof(IpamHeader)) {
                IpamHeader h;
                memcpy(&h, bm, sizeof(h));
                if (memcmp(h.magic, IPAM_MAGIC, 8) != 0 ||
                    (h.network == s->network && h.prefixlen == net->prefixlen &&
                     bm_size != sizeof(IpamHeader) + bitmap_bytes(s->size))) {
                        /* a damaged bitmap: the leases file is authoritative, rebuilt from it below */
                } else if (h.network != s->network || h.prefixlen != net->prefixlen) {
                        /* The network was reconfigured. Fine if nothing is leased, else refuse. */
                        if (s->n_leases > 0) {
                                if (!tolerant)
                                        return -EBUSY;
                                s->keep_bitmap = true;
                        }
                } else {
                        s->header = h;
                        s->bitmap = (uint8_t *) TAKE_PTR(bm);
                        memmove(s->bitmap, s->bitmap + sizeof(IpamHeader), bitmap_bytes(s->size));
                        return 0;
                }
        }

        /* Fresh (or reinitialized) state: rebuild the bitmap from the leases that fit. */
        memcpy(s->header.magic, IPAM_MAGIC, 8);
        s->header.network = s->network;
        s->header.prefixlen = net->prefixlen;
        s->header.cursor = 0;
        s->bitmap = calloc(1, bitmap_bytes(s->size));
        if (!s->bitmap)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_leases; i++) {
                uint32_t a = ntohl(s->leases[i].address.s_addr);
                if ((a & mask) == s->network)
                        bit_set(s->bitmap, a - s->network, true);
        }
        return 0;
}

static int ipam_state_open(const IpamNetwork *net, bool tolerant, IpamState *s) {
        return ipam_state_open_full(net, tolerant, false, s);
}

static int ipam_state_save(IpamState *s) {
        _cleanup_free_ uint8_t *buf = NULL;
        Buffer b = {};
        size_t n = sizeof(IpamHeader) + bitmap_bytes(s->size);
        int r;

        buf = malloc(n);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, &s->header, sizeof(IpamHeader));
        memcpy(buf + sizeof(IpamHeader), s->bitmap, bitmap_bytes(s->size));

        for (size_t i = 0; i < s->n_leases; i++) {
                char a[INET_ADDRSTRLEN];
                if (!inet_ntop(AF_INET, &s->leases[i].address, a, sizeof(a)))
                        return -errno;
                r = buffer_printf(&b, "%s %s\n", a, s->leases[i].owner);
                if (r < 0) {
                        buffer_done(&b);
                        return r;
                }
        }
        /* The leases file is written first and is authoritative: after a crash between the two
         * writes the bitmap is stale, and ipam_state_check() rebuilds it from the leases. */
        r = write_file_atomic_at(s->dir_fd, "leases", b.data ?: "", b.size, 0600);
        buffer_done(&b);
        if (r < 0)
                return r;
        if (s->keep_bitmap)
                return 0;
        return write_file_atomic_at(s->dir_fd, "bitmap", buf, n, 0600);
}

/* Makes the bitmap agree with the leases (the leases file is written first, so it wins). */
static void ipam_state_check(IpamState *s) {
        uint32_t mask = s->size - 1;
        memset(s->bitmap, 0, bitmap_bytes(s->size));
        for (size_t i = 0; i < s->n_leases; i++) {
                uint32_t a = ntohl(s->leases[i].address.s_addr);
                if ((a & ~mask) == s->network)
                        bit_set(s->bitmap, a & mask, true);
        }
}

static int lease_add(IpamState *s, uint32_t index, const char *owner) {
        IpamLease *n = realloc(s->leases, (s->n_leases + 1) * sizeof(IpamLease));
        if (!n)
                return -ENOMEM;
        s->leases = n;
        n[s->n_leases].owner = strdup(owner);
        if (!n[s->n_leases].owner)
                return -ENOMEM;
        n[s->n_leases].address.s_addr = htonl(s->network + index);
        s->n_leases++;
        bit_set(s->bitmap, index, true);
        return 0;
}

static ssize_t lease_find(const IpamState *s, uint32_t addr_host) {
        for (size_t i = 0; i < s->n_leases; i++)
                if (ntohl(s->leases[i].address.s_addr) == addr_host)
                        return (ssize_t) i;
        return -1;
}

static void lease_remove_at(IpamState *s, size_t i) {
        uint32_t a = ntohl(s->leases[i].address.s_addr);
        if ((a & ~(s->size - 1)) == s->network)
                bit_set(s->bitmap, a - s->network, false);
        free(s->leases[i].owner);
        memmove(s->leases + i, s->leases + i + 1, (s->n_leases - i - 1) * sizeof(IpamLease));
        s->n_leases--;
}

int ipam_allocate(const IpamNetwork *net, const char *owner, struct in_addr *ret) {
        _cleanup_(ipam_state_done) IpamState s = { .dir_fd = -EBADF, .lock_fd = -EBADF };
        int r;

        if (!lease_owner_is_valid(owner) || !ret)
                return -EINVAL;
        r = ipam_state_open(net, false, &s);
        if (r < 0)
                return r;
        ipam_state_check(&s);

        for (uint32_t k = 1; k <= s.size; k++) {
                uint32_t i = (s.header.cursor + k) % s.size;
                if (index_is_reserved(&s, i) || bit_get(s.bitmap, i))
                        continue;
                r = lease_add(&s, i, owner);
                if (r < 0)
                        return r;
                s.header.cursor = i;
                r = ipam_state_save(&s);
                if (r < 0)
                        return r;
                ret->s_addr = htonl(s.network + i);
                return 0;
        }
        return -ENOSPC;
}

int ipam_reserve(const IpamNetwork *net, const char *owner, const struct in_addr *address) {
        _cleanup_(ipam_state_done) IpamState s = { .dir_fd = -EBADF, .lock_fd = -EBADF };
        uint32_t a;
        ssize_t j;
        int r;

        if (!lease_owner_is_valid(owner) || !address)
                return -EINVAL;
        r = ipam_state_open(net, false, &s);
        if (r < 0)
                return r;
        ipam_state_check(&s);

        a = ntohl(address->s_addr);
        if ((a & ~(s.size - 1)) != s.network || index_is_reserved(&s, a - s.network))
                return -EADDRNOTAVAIL;
        j = lease_find(&s, a);
        if (j >= 0)
                return streq(s.leases[j].owner, owner) ? 0 : -EADDRINUSE;

        r = lease_add(&s, a - s.network, owner);
        if (r < 0)
                return r;
        return ipam_state_save(&s);
}

int ipam_release(const IpamNetwork *net, const struct in_addr *address) {
        _cleanup_(ipam_state_done) IpamState s = { .dir_fd = -EBADF, .lock_fd = -EBADF };
        ssize_t j;
        int r;

        if (!address)
                return -EINVAL;
        r = ipam_state_open(net, true, &s);
        if (r < 0)
                return r;
        ipam_state_check(&s);
        j = lease_find(&s, ntohl(address->s_addr));
        if (j < 0)
                return -ENOENT;
        lease_remove_at(&s, (size_t) j);
        return ipam_state_save(&s);
}

int ipam_release_owner(const IpamNetwork *net, const char *owner) {
        _cleanup_(ipam_state_done) IpamState s = { .dir_fd = -EBADF, .lock_fd = -EBADF };
        int r, n = 0;

        if (!lease_owner_is_valid(owner))
                return -EINVAL;
        r = ipam_state_open(net, true, &s);
        if (r < 0)
                return r;
        ipam_state_check(&s);
        for (size_t i = 0; i < s.n_leases;) {
                if (streq(s.leases[i].owner, owner)) {
                        lease_remove_at(&s, i);
                        n++;
                } else
                        i++;
        }
        if (n == 0)
                return 0;
        r = ipam_state_save(&s);
        return r < 0 ? r : n;
}

static int lease_cmp(const void *a, const void *b) {
        uint32_t x = ntohl(((const IpamLease *) a)->address.s_addr),
                 y = ntohl(((const IpamLease *) b)->address.s_addr);
        return x < y ? -1 : x > y;
}

int ipam_list(const IpamNetwork *net, IpamLease **ret, size_t *ret_n) {
        _cleanup_(ipam_state_done) IpamState s = { .dir_fd = -EBADF, .lock_fd = -EBADF };
        int r;

        if (!ret || !ret_n)
                return -EINVAL;
        r = ipam_state_open(net, true, &s);
        if (r < 0)
                return r;
        if (s.n_leases > 0)
                qsort(s.leases, s.n_leases, sizeof(IpamLease), lease_cmp);
        *ret = TAKE_PTR(s.leases);
        *ret_n = s.n_leases;
        s.n_leases = 0;
        return 0;
}

int ipam_rebuild(const IpamNetwork *net, const IpamLease *known, size_t n_known) {
        _cleanup_(ipam_state_done) IpamState s = { .dir_fd = -EBADF, .lock_fd = -EBADF };
        int r;

        if (n_known > 0 && !known)
                return -EINVAL;
        r = ipam_state_open_full(net, true, true, &s);
        if (r < 0)
                return r;
        ipam_state_check(&s);
        for (size_t k = 0; k < n_known; k++) {
                uint32_t a = ntohl(known[k].address.s_addr);
                ssize_t j;

                if (!lease_owner_is_valid(known[k].owner) || (a & ~(s.size - 1)) != s.network ||
                    index_is_reserved(&s, a - s.network))
                        continue;
                j = lease_find(&s, a);
                if (j >= 0 && streq(s.leases[j].owner, known[k].owner))
                        continue;
                if (j >= 0) /* what the container's state records wins */
                        lease_remove_at(&s, (size_t) j);
                r = lease_add(&s, a - s.network, known[k].owner);
                if (r < 0)
                        return r;
        }
        r = ipam_state_save(&s);
        if (r < 0)
                return r;
        return (int) MIN(s.n_leases, (size_t) INT_MAX);
}
