/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* security.user_namespace = "auto" (issue 16): each container's range of host uids and gids, leased
 * from the pool in <storage_root>/uidpool under its name (uidpool/) and held for as long as its
 * storage (upper directory, volumes made for it) exists: down keeps it, down --volumes and gc's
 * removal of the storage forget it. Not released to "kept" at every down: the flip and its undo at
 * the next up would each rewrite the pool file with an fsync (5.6 ms here), for a difference that
 * only shows when all of the pool's 28,664 blocks are taken. */

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container-internal.h"
#include "container.h"
#include "fileio.h"
#include "log.h"
#include "string-util.h"
#include "uidpool.h"

static int pool_of(const GlobalConfig *g, char **ret_dir, UidPool *ret) {
        char *dir = strjoin(global_config_storage_root(g), "/uidpool");
        if (!dir)
                return -ENOMEM;
        *ret_dir = dir;
        *ret = (UidPool){ .dir = dir, .start = CONTAINER_UIDPOOL_START, .count = CONTAINER_UIDPOOL_COUNT };
        return 0;
}

int container_userns_acquire(const GlobalConfig *g, const char *name, UidRange *ret) {
        _cleanup_free_ char *dir = NULL;
        UidPool p;
        int r;

        r = pool_of(g, &dir, &p);
        if (r < 0)
                return log_oom();
        r = uidpool_acquire(&p, name, ret);
        if (r == -ENOSPC)
                return log_error_errno(r,
                                       "%s: every range of uids in the pool is taken (%u containers "
                                       "with user_namespace = \"auto\"): %m",
                                       name, CONTAINER_UIDPOOL_COUNT / UIDPOOL_BLOCK);
        if (r < 0)
                return log_error_errno(r, "%s: cannot lease a range of uids in '%s': %m", name, dir);
        return 0;
}

void container_userns_forget(const GlobalConfig *g, const char *name) {
        _cleanup_free_ char *dir = NULL;
        UidPool p;
        int r;

        if (pool_of(g, &dir, &p) < 0) {
                (void) log_oom();
                return;
        }
        r = uidpool_forget(&p, name);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "%s: cannot forget its range of uids in '%s', ignoring: %m", name, dir);
}

/* The namespaces of leader that are not ours: SPAWN_NAMESPACES_DEFAULT's and the user namespace. The
 * net namespace of a container on the host's network is ours; in a user namespace, setns() could
 * not enter it again (nothing there is CAP_SYS_ADMIN over the host's). */
uint64_t container_enter_namespaces(pid_t leader) {
        static const struct {
                uint64_t flag;
                const char *name;
        } kinds[] = {
                { CLONE_NEWPID, "pid" },   { CLONE_NEWNS, "mnt" },        { CLONE_NEWUTS, "uts" },
                { CLONE_NEWIPC, "ipc" },   { CLONE_NEWCGROUP, "cgroup" }, { CLONE_NEWNET, "net" },
                { CLONE_NEWUSER, "user" },
        };
        uint64_t ns = 0;

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                char theirs[64], ours[64];
                struct stat a, b;

                (void) snprintf(theirs, sizeof(theirs), "/proc/%d/ns/%s", (int) leader, kinds[i].name);
                (void) snprintf(ours, sizeof(ours), "/proc/self/ns/%s", kinds[i].name);
                if (stat(theirs, &a) < 0 || stat(ours, &b) < 0) {
                        /* cannot tell: what the container was made with, as before user namespaces */
                        if (kinds[i].flag & SPAWN_NAMESPACES_DEFAULT)
                                ns |= kinds[i].flag;
                        continue;
                }
                if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
                        ns |= kinds[i].flag;
        }
        return ns;
}

int container_user_range(pid_t leader, uint32_t *ret_start, uint32_t *ret_count) {
        _cleanup_free_ char *line = NULL;
        unsigned long inside, start, count;
        char path[64];
        int r;

        (void) snprintf(path, sizeof(path), "/proc/%d/uid_map", (int) leader);
        r = read_one_line_file(path, &line);
        if (r < 0)
                return r;
        if (sscanf(line, "%lu %lu %lu", &inside, &start, &count) != 3)
                return -EBADMSG;
        if (inside != 0 || start == 0 || count == 0 || start > UINT32_MAX || count > UINT32_MAX)
                return 0; /* the host's identity map (0 0 4294967295) */
        *ret_start = (uint32_t) start;
        *ret_count = (uint32_t) count;
        return 1;
}

int container_userns_range(const GlobalConfig *g, const char *name, UidRange *ret) {
        _cleanup_free_ char *dir = NULL;
        UidLease *l = NULL;
        size_t n = 0;
        UidPool p;
        int r;

        if (pool_of(g, &dir, &p) < 0)
                return -ENOMEM;
        if (access(dir, F_OK) < 0)
                return 0; /* no container ever had a range */
        r = uidpool_list(&p, &l, &n);
        if (r < 0)
                return r;
        r = 0;
        for (size_t i = 0; i < n; i++)
                if (streq(l[i].owner, name)) {
                        *ret = l[i].range;
                        r = 1;
                        break;
                }
        uidpool_lease_array_free(l, n);
        return r;
}
