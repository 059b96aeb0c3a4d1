/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cbox gc — remove what cbox keeps on disk that nothing needs any more.
 *
 * 0. container_net_gc(): published ports, address leases and veths of containers that are gone (see
 *    container.h).
 * 1. container_storage_gc() (container-storage.c): container storage <storage_root>/containers/NAME of a
 *    container that no longer exists (no state dir
 *    under <run_root>) whose writable layer holds nothing the container wrote — only directories and
 *    the empty etc/resolv.conf, etc/hosts and etc/hostname cbox creates as mount points
 * (container_upper_is_pristine()): nothing is lost, and the "image" file in it would otherwise keep that
 * image from `image rm` and gc forever. Checked and removed under the container's lock (taken non-blocking:
 * a busy name is skipped), so an `up` of the same name cannot race with it. Storage whose upper dir holds
 * anything else (files, symlinks, whiteouts, opaque dirs) is user data: kept, and listed with the command
 * that drops it
 * (`cbox down --volumes NAME`).
 * 2. container_image_gc(), image_gc(): stale temporaries of killed imports, then every layer and blob no
 * image in the index and no container (containers/NAME/image) references.
 *
 * Bytes freed: the allocated size (st_blocks) of blobs/, layers/ and the removed container dirs, before
 * minus after. Not touched: named volumes (<storage_root>/volumes, data by definition), state of existing
 * containers, anything outside the storage root. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "container.h"
#include "fault.h"
#include "log.h"
#include "string-util.h"
#include "cli-util.h"
#include "verbs.h"

static void print_storage_items(const ContainerStorageGc *t) {
        for (size_t i = 0; i < t->n_items; i++) {
                const ContainerStorageGcItem *it = &t->items[i];
                if (it->removed)
                        printf("Removed %s (no such container, nothing written in its writable layer%s%s)\n",
                               it->path, it->image ? "; released image " : "", strempty(it->image));
                else
                        printf("Kept %s: its writable layer holds changes%s%s ('cbox down --volumes %s' "
                               "drops it)\n",
                               it->path, it->image ? "; it keeps image " : "", strempty(it->image),
                               it->name);
        }
}

static const char help[] = "cbox gc [-q] [--json]\n\n"
                           "Remove what cbox keeps that nothing uses any more:\n"
                           "  - published ports, address leases and veths of containers that are "
                           "gone;\n"
                           "  - the storage (containers/NAME) of removed containers whose writable "
                           "layer holds\n"
                           "    nothing they wrote (only directories and cbox's empty mount points "
                           "for\n"
                           "    /etc/resolv.conf, /etc/hosts and /etc/hostname); one that holds "
                           "changes is kept and listed\n"
                           "    ('cbox down --volumes NAME' drops it);\n"
                           "  - stale temporaries of interrupted imports;\n"
                           "  - layers and blobs no image and no container references.\n"
                           "Named volumes are never touched. Prints what was removed and the bytes "
                           "freed.\n";

VERB(gc, 53, "gc                          Remove unused layers, blobs and storage of removed containers") {
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(container_storage_gc_done) ContainerStorageGc t = {};
        ContainerImageGc st = {};
        ContainerNetGcStats ns = {};
        int r, ret = 0;

        r = verb_parse_args(argc, argv,
                            &(const VerbArgs){ .name = "gc",
                                               .help = help,
                                               .quiet = true,
                                               .json = true,
                                               .usage = "no arguments expected" });
        if (r != VERB_GO_ON)
                return r;
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
        bool have_storage = access(root, F_OK) >= 0 || errno != ENOENT;
        if (have_storage) {
                r = container_storage_gc(g, &t);
                if (r < 0)
                        ret = r;
        }
        if (!arg_quiet && !arg_json)
                print_storage_items(&t);
        if (have_storage) {
                r = container_image_gc(g, &st);
                if (r < 0)
                        return r;
        } else if (!arg_quiet && !arg_json)
                printf("No storage: '%s' does not exist\n", root);
        uint64_t freed = t.bytes + st.bytes;

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
