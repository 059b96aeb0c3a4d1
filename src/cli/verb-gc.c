/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cbox gc — remove what cbox keeps on disk that nothing needs any more.
 *
 * 0. container_net_gc(): published ports, address leases and veths of containers that are gone (see
 *    container.h).
 * 1. Container storage <storage_root>/containers/NAME of a container that no longer exists (no state dir
 *    under <run_root>) whose writable layer holds nothing the container wrote — only directories and
 *    the empty etc/resolv.conf, etc/hosts and etc/hostname cbox creates as mount points
 * (container_upper_is_pristine()): nothing is lost, and the "image" file in it would otherwise keep that
 * image from `image rm` and gc forever. Checked and removed under the container's lock (taken non-blocking:
 * a busy name is skipped), so an `up` of the same name cannot race with it. Storage whose upper dir holds
 * anything else (files, symlinks, whiteouts, opaque dirs) is user data: kept, and listed with the command
 * that drops it
 * (`cbox down --volumes NAME`).
 * 2. image_gc(): stale temporaries of killed imports, then every layer and blob no image in the index
 *    and no container (containers/NAME/image) references.
 *
 * Bytes freed: the allocated size (st_blocks) of blobs/, layers/ and the removed container dirs, before
 * minus after. Not touched: named volumes (<storage_root>/volumes, data by definition), state of existing
 * containers, anything outside the storage root. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "container.h"
#include "fault.h"
#include "fd-util.h"
#include "fileio.h"
#include "image.h"
#include "log.h"
#include "state.h"
#include "string-util.h"
#include "cli-util.h"
#include "verbs.h"

/* Allocated bytes below dir_fd (not crossing mount points, never following symlinks). Best effort:
 * what cannot be read counts 0. */
static uint64_t disk_usage_fd(int dir_fd, dev_t dev) {
        _cleanup_closedir_ DIR *d = NULL;
        uint64_t sum = 0;
        struct dirent *de;

        d = fdopendir(dir_fd);
        if (!d) {
                safe_close(dir_fd);
                return 0;
        }
        while ((de = readdir(d))) {
                struct stat st;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
                        continue;
                sum += (uint64_t) st.st_blocks * 512;
                if (S_ISDIR(st.st_mode)) {
                        int fd = openat(dirfd(d), de->d_name,
                                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
                        if (fd >= 0)
                                sum += disk_usage_fd(fd, dev);
                }
        }
        return sum;
}

static uint64_t disk_usage(const char *root, const char *sub) {
        _cleanup_free_ char *p = strjoin(root, "/", sub);
        struct stat st;
        int fd;

        if (!p)
                return 0;
        fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return 0;
        if (fstat(fd, &st) < 0) {
                safe_close(fd);
                return 0;
        }
        return (uint64_t) st.st_blocks * 512 + disk_usage_fd(fd, st.st_dev);
}

typedef struct GcTotals {
        unsigned containers_removed;
        unsigned containers_kept;
        uint64_t bytes_containers;
} GcTotals;

/* One containers/NAME entry. Returns 1 if removed, 0 if kept/skipped, -errno (logged) */
static int gc_container(const GlobalConfig *g, const char *cdir, const char *name, GcTotals *t) {
        _cleanup_free_ char *sd = NULL, *upper = NULL, *image = NULL, *ref = NULL;
        int lock_fd = -EBADF, fd, r;
        bool gone = false;

        r = state_lock(global_config_run_root(g), name, false, &lock_fd);
        if (r == -EBUSY) {
                log_debug("%s: busy, skipped", name);
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "%s: cannot lock: %m", name);

        r = state_dir_open(global_config_run_root(g), name, false, &fd);
        if (r >= 0) {
                safe_close(fd);
                r = 0; /* the container exists: its storage is in use */
                goto finish;
        }
        if (r != -ENOENT) {
                r = log_error_errno(r, "%s: cannot open its state dir: %m", name);
                goto finish;
        }
        if (container_unit_active(name)) {
                r = 0; /* its state dir was lost, but systemd still runs it: its storage is in use */
                goto finish;
        }
        gone = true;

        sd = strjoin(cdir, "/", name);
        upper = strjoin(sd, "/upper");
        image = strjoin(sd, "/image");
        if (!sd || !upper || !image) {
                r = log_oom();
                goto finish;
        }
        r = container_upper_is_pristine(upper);
        if (r < 0) {
                r = log_error_errno(r, "%s: cannot read '%s': %m", name, upper);
                goto finish;
        }
        if (r == 0) {
                (void) read_one_line_file(image, &ref);
                t->containers_kept++;
                if (!arg_quiet && !arg_json)
                        printf("Kept %s: its writable layer holds changes%s%s ('cbox down --volumes %s' "
                               "drops it)\n",
                               sd, ref ? "; it keeps image " : "", strempty(ref), name);
                r = 0;
                goto finish;
        }

        (void) read_one_line_file(image, &ref);
        uint64_t bytes = disk_usage(cdir, name);
        r = rm_rf_at(AT_FDCWD, sd);
        if (r < 0) {
                r = log_error_errno(r, "%s: cannot remove '%s': %m", name, sd);
                goto finish;
        }
        t->containers_removed++;
        t->bytes_containers += bytes;
        if (!arg_quiet && !arg_json)
                printf("Removed %s (no such container, nothing written in its writable layer%s%s)\n", sd,
                       ref ? "; released image " : "", strempty(ref));
        r = 1;
finish:
        (void) state_unlock(global_config_run_root(g), name, lock_fd, gone);
        return r;
}

static int gc_containers(const GlobalConfig *g, GcTotals *t) {
        _cleanup_free_ char *cdir = strjoin(global_config_storage_root(g), "/containers");
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_strv_free_ char **names = NULL;
        struct dirent *de;
        int r, ret = 0;

        if (!cdir)
                return log_oom();
        d = opendir(cdir);
        if (!d) {
                if (errno == ENOENT)
                        return 0;
                return log_error_errno(errno, "Failed to open '%s': %m", cdir);
        }
        while ((de = readdir(d))) {
                if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
                        continue;
                /* only what cbox itself names: valid container names (no dot files, no temporaries) */
                if (!state_name_is_valid(de->d_name))
                        continue;
                if (strv_extend(&names, de->d_name) < 0)
                        return log_oom();
        }
        STRV_FOREACH (n, names) {
                r = gc_container(g, cdir, *n, t);
                if (r < 0)
                        ret = r;
        }
        return ret;
}

VERB(gc, 53, "gc                          Remove unused layers, blobs and storage of removed containers") {
        enum { ARG_JSON = 0x100 };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "quiet", no_argument, NULL, 'q' },
                { "json", no_argument, NULL, ARG_JSON },
                {},
        };
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(image_store_freep) ImageStore *store = NULL;
        GcTotals t = {};
        ImageGcStats st = {};
        ContainerNetGcStats ns = {};
        int c, r, ret = 0;

        while ((c = getopt_long(argc, argv, "hq", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("cbox gc [-q] [--json]\n\n"
                               "Remove what cbox keeps that nothing uses any more:\n"
                               "  - published ports, address leases and veths of containers that are "
                               "gone;\n"
                               "  - the storage (containers/NAME) of removed containers whose writable "
                               "layer holds\n"
                               "    nothing they wrote (only directories and cbox's empty mount points "
                               "for\n"
                               "    /etc/resolv.conf, /etc/hosts and /etc/hostname); one that holds changes "
                               "is kept and "
                               "listed\n"
                               "    ('cbox down --volumes NAME' drops it);\n"
                               "  - stale temporaries of interrupted imports;\n"
                               "  - layers and blobs no image and no container references.\n"
                               "Named volumes are never touched. Prints what was removed and the bytes "
                               "freed.\n");
                        return 0;
                case 'q':
                        arg_quiet = true;
                        break;
                case ARG_JSON:
                        arg_json = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind != argc) {
                log_error("gc: no arguments expected.");
                return EXIT_USAGE;
        }
        if (container_load_global(&g) < 0)
                return 1;

        /* what killed commands left: states of an up that never finished, scopes no state names */
        r = container_reclaim(g);
        if (r < 0)
                ret = r;
        else if (r > 0 && !arg_quiet && !arg_json)
                printf("Released %d container(s) left behind by a killed cbox\n", r);
        FAULT_POINT("gc.containers-reclaimed");

        /* network leftovers of containers that are gone (published ports, leases, veths); before the
         * storage step, which would drop the containers/NAME dirs it learns owners from */
        r = container_net_gc(g, &ns);
        if (r < 0)
                ret = r;
        FAULT_POINT("gc.network");

        /* containers next (removing their storage releases the images they kept), then the image store;
         * both only when the storage root exists */
        const char *root = global_config_storage_root(g);
        uint64_t before = 0, after = 0;
        if (access(root, F_OK) >= 0 || errno != ENOENT) {
                r = gc_containers(g, &t);
                if (r < 0)
                        ret = r;

                r = image_store_open(root, &store);
                if (r < 0)
                        return log_error_errno(r, "Failed to open the image store '%s': %m", root);
                before = disk_usage(root, "blobs") + disk_usage(root, "layers");
                r = image_gc(store, &st);
                if (r < 0)
                        return log_error_errno(r, "Failed to collect garbage in the image store '%s': %m",
                                               root);
                after = disk_usage(root, "blobs") + disk_usage(root, "layers");
        } else if (!arg_quiet && !arg_json)
                printf("No storage: '%s' does not exist\n", root);
        uint64_t freed = t.bytes_containers + (before > after ? before - after : 0);

        if (arg_json)
                printf("{\"containers_removed\":%u,\"containers_kept\":%u,\"layers_removed\":%u,"
                       "\"blobs_removed\":%u,\"temporaries_removed\":%u,\"bytes_freed\":%" PRIu64
                       ",\"ports_removed\":%u,\"leases_removed\":%u,\"links_removed\":%u}\n",
                       t.containers_removed, t.containers_kept, st.layers_removed, st.blobs_removed,
                       st.tmps_removed, freed, ns.ports_removed, ns.leases_removed, ns.links_removed);
        else if (!arg_quiet) {
                char buf[32];
                if (ns.owners > 0)
                        printf("Released the network of %u container(s) that are gone: %u published "
                               "port(s), "
                               "%u lease(s), %u veth(s)\n",
                               ns.owners, ns.ports_removed, ns.leases_removed, ns.links_removed);
                format_bytes(freed, buf, sizeof(buf));
                printf("Removed %u container dir(s), %u layer(s), %u blob(s), %u stale temporar%s; freed %s "
                       "(%" PRIu64 " bytes)\n",
                       t.containers_removed, st.layers_removed, st.blobs_removed, st.tmps_removed,
                       st.tmps_removed == 1 ? "y" : "ies", buf, freed);
        }
        return ret;
}
