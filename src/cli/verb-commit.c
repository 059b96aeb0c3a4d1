/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cbox commit NAME IMAGE:TAG — a container's writable layer as a new image on top of its base image
 * (container_commit(), container/container-storage.c).
 *
 * What is committed: <storage_root>/containers/NAME/upper, the overlay upper dir, which outlives the
 * container (down without --volumes keeps it), so a running, stopped, exited or downed container can be
 * committed. The base is the image named on the first line of <storage_root>/containers/NAME/image; when
 * a second line records the manifest digest the container was started from and the tag now names another
 * image (re-imported since), the commit is refused: the upper dir is a diff against the old layers.
 *
 * A container run from `rootfs = "/dir"` has no base image and is refused: the dir is a host directory
 * cbox does not own (it may have changed since the container started, it may be huge, and silently
 * copying it into the store would make an image that is not what the container ran on). Import it
 * explicitly (`tar -C DIR -c . | …`, then `cbox image import`) and run the container from that image.
 *
 * Left out: the empty files cbox creates in the upper dir as mount points for the /etc/resolv.conf,
 * /etc/hosts and /etc/hostname it binds over (when the image has none of its own): they are cbox's, and
 * committed they would hide those of whatever image is later put below. What the payload writes to those
 * paths goes to cbox's files, never to the upper dir, so nothing of the payload's is lost.
 *
 * A running container is committed while it writes: the walk sees each file as it is at that moment,
 * not a consistent snapshot of the whole tree. Stop it first for a consistent image. */
#include <stdio.h>

#include "cli-util.h"
#include "container.h"
#include "image.h"
#include "log.h"
#include "state.h"
#include "string-util.h"
#include "verbs.h"

static int do_commit(const GlobalConfig *g, const char *name, const char *new_ref) {
        _cleanup_(container_commit_result_done) ContainerCommitResult res = {};
        int r;

        r = container_commit(g, name, new_ref, arg_quiet, &res);
        if (r < 0)
                return r;
        if (arg_json)
                printf("{\"container\":\"%s\",\"ref\":\"%s\",\"base\":\"%s\",\"manifest\":\"%s\"}\n", name,
                       res.ref, res.base, strempty(res.manifest));
        else if (!arg_quiet)
                printf("Committed %s as %s (on %s, %s)\n", name, res.ref, res.base, strna(res.manifest));
        return 0;
}

static const char help[] = "cbox commit [-q] [--json] NAME IMAGE:TAG\n\n"
                           "Store the container's writable layer (its overlay upper dir, with "
                           "deletions as OCI\n"
                           "whiteouts) as a new layer on top of the image it runs from, under "
                           "IMAGE:TAG.\n"
                           "Works on running, stopped and downed containers whose writable "
                           "layer was kept.\n"
                           "A running container is not snapshotted consistently: stop it first "
                           "for that.\n"
                           "Containers run from a rootfs directory have no base image and are "
                           "refused.\n";

VERB(commit, 51, "commit NAME IMAGE:TAG       Store a container's changes as a new image") {
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        int r = verb_parse_args(argc, argv,
                                &(const VerbArgs){ .name = "commit",
                                                   .help = help,
                                                   .quiet = true,
                                                   .json = true,
                                                   .min_operands = 2,
                                                   .max_operands = 2,
                                                   .usage = "expected NAME IMAGE:TAG" });
        if (r != VERB_GO_ON)
                return r;
        const char *name = argv[optind], *new_ref = argv[optind + 1];
        if (!container_name_is_valid(name)) {
                log_error("commit: '%s' is not a valid container name.", name);
                return EXIT_USAGE;
        }
        _cleanup_free_ char *norm = NULL;
        if (image_ref_normalize(new_ref, &norm) < 0) {
                log_error("commit: '%s' is not a valid image reference (NAME[:TAG]).", new_ref);
                return EXIT_USAGE;
        }
        if (container_load_global(&g) < 0)
                return 1;
        return do_commit(g, name, norm);
}
