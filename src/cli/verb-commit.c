/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cbox commit NAME IMAGE:TAG — a container's writable layer as a new image on top of its base image.
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
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container.h"
#include "fileio.h"
#include "image.h"
#include "log.h"
#include "state.h"
#include "string-util.h"
#include "cli-util.h"
#include "verbs.h"

static int log_image_error(int r, const char *what, const ImageError *e) {
        if (e->entry && e->message)
                return log_error_errno(r, "%s: %s: %s", what, e->entry, e->message);
        if (e->message)
                return log_error_errno(r, "%s: %s", what, e->message);
        if (e->entry)
                return log_error_errno(r, "%s: %s: %m", what, e->entry);
        return log_error_errno(r, "%s: %m", what);
}

/* The mount points cbox made in upper (empty regular files at the paths it binds over) */
static int bound_mount_points(const char *upper, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        for (const char *const *f = container_bound_etc_files; *f; f++) {
                _cleanup_free_ char *p = strjoin(upper, *f);
                struct stat st;
                if (!p)
                        return -ENOMEM;
                if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != 0)
                        continue;
                if (strv_extend(&l, *f + 1) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int do_commit(const GlobalConfig *g, const char *name, const char *new_ref) {
        _cleanup_(container_info_done) ContainerInfo info = {};
        _cleanup_(image_store_freep) ImageStore *store = NULL;
        _cleanup_free_ char *sd = NULL, *upper = NULL, *image_file = NULL, *base = NULL, *ref = NULL,
                            *digest = NULL, *base_digest = NULL;
        _cleanup_strv_free_ char **exclude = NULL;
        ImageError e = {};
        bool have_state;
        struct stat st;
        int r;

        r = container_get_info(g, name, &info);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "%s: cannot read its state: %m", name);
        have_state = r >= 0;

        if (have_state && info.state->rootfs && info.state->rootfs[0] == '/')
                return log_error_errno(
                        EINVAL,
                        "%s: runs from the directory '%s', not from an image: there is no base "
                        "image to commit onto. Import the directory as an image (cbox image "
                        "import) and run the container from it.",
                        name, info.state->rootfs);
        if (have_state && !info.state->upper_dir)
                return log_error_errno(EINVAL, "%s: is read-only, it has no writable layer to commit", name);

        r = state_container_storage_path(global_config_storage_root(g), name, &sd);
        if (r < 0)
                return log_error_errno(r, "%s: invalid storage path: %m", name);
        upper = strjoin(sd, "/upper");
        image_file = strjoin(sd, "/image");
        if (!upper || !image_file)
                return log_oom();

        if (stat(upper, &st) < 0) {
                if (errno == ENOENT && !have_state)
                        return log_error_errno(ENOENT, "%s: no such container (no state, no '%s')", name,
                                               sd);
                return log_error_errno(errno, "%s: cannot access its writable layer '%s': %m", name, upper);
        }
        if (!S_ISDIR(st.st_mode))
                return log_error_errno(ENOTDIR, "%s: '%s' is not a directory", name, upper);

        r = container_read_image_file(image_file, &base, &base_digest);
        if (r == -ENOENT)
                return log_error_errno(r,
                                       "%s: has no base image ('%s' is missing): a container run from a "
                                       "rootfs directory cannot be committed",
                                       name, image_file);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read '%s': %m", name, image_file);
        if (isempty(base))
                return log_error_errno(EBADMSG, "%s: '%s' names no image", name, image_file);

        if (have_state && info.status == CONTAINER_RUNNING && !arg_quiet)
                log_warning("%s: is running: files it writes meanwhile may be committed half-written (the "
                            "commit is not a consistent snapshot; stop it first for one).",
                            name);

        r = image_store_open(global_config_storage_root(g), &store);
        if (r < 0)
                return log_error_errno(r, "Failed to open the image store '%s': %m",
                                       global_config_storage_root(g));

        r = check_same_image(store, name, base, base_digest);
        if (r < 0)
                return r;
        r = bound_mount_points(upper, &exclude);
        if (r < 0)
                return log_oom();
        r = image_commit(store, upper, base, new_ref, exclude, &ref, &e);
        if (r < 0) {
                _cleanup_free_ char *what =
                        strprintf("%s: cannot commit onto '%s' as '%s'", name, base, new_ref);
                if (r == -ENOENT && !e.entry && !e.message)
                        r = log_error_errno(r, "%s: base image '%s' is not in the store any more", name,
                                            base);
                else
                        r = log_image_error(r, what ?: name, &e);
                image_error_done(&e);
                return r;
        }
        (void) image_manifest_digest(store, ref, &digest);
        if (arg_json)
                printf("{\"container\":\"%s\",\"ref\":\"%s\",\"base\":\"%s\",\"manifest\":\"%s\"}\n", name,
                       ref, base, strempty(digest));
        else if (!arg_quiet)
                printf("Committed %s as %s (on %s, %s)\n", name, ref, base, strna(digest));
        return 0;
}

VERB(commit, 51, "commit NAME IMAGE:TAG       Store a container's changes as a new image") {
        enum { ARG_JSON = 0x100 };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "quiet", no_argument, NULL, 'q' },
                { "json", no_argument, NULL, ARG_JSON },
                {},
        };
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        int c;

        while ((c = getopt_long(argc, argv, "hq", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("cbox commit [-q] [--json] NAME IMAGE:TAG\n\n"
                               "Store the container's writable layer (its overlay upper dir, with deletions "
                               "as OCI\n"
                               "whiteouts) as a new layer on top of the image it runs from, under "
                               "IMAGE:TAG.\n"
                               "Works on running, stopped and downed containers whose writable layer was "
                               "kept.\n"
                               "A running container is not snapshotted consistently: stop it first for "
                               "that.\n"
                               "Containers run from a rootfs directory have no base image and are "
                               "refused.\n");
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
        if (argc - optind != 2) {
                log_error("commit: expected NAME IMAGE:TAG.");
                return EXIT_USAGE;
        }
        const char *name = argv[optind], *new_ref = argv[optind + 1];
        if (!state_name_is_valid(name)) {
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
        /* locked: down --volumes cannot remove the upper dir while we walk it */
        return with_container_lock(g, name, do_commit, norm);
}
