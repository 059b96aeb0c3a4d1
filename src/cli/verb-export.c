/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cbox export NAME FILE.tar|- — a container's flattened root file system as one tar.
 *
 * The merged view is the container's writable layer (<storage_root>/containers/NAME/upper) over its
 * lowers (the image's layers, or the rootfs dir). It is assembled as a read-only overlay in a child that
 * first unshares its mount namespace: fsopen/fsconfig/fsmount give a detached mount that is never
 * attached anywhere, so the host's mount table never sees it, and it goes with the child. The upper dir
 * is given to overlayfs as the topmost *lower* layer (read-only, no work dir), which works while the
 * container itself has it mounted as its upper; its whiteouts and opaque dirs hide what they hide.
 *
 * The lowers: those of the running container's image (state), or for a downed container the image named
 * in <storage_root>/containers/NAME/image, resolved now (refused when a recorded manifest digest on its
 * second line no longer matches the tag). FILE is written atomically (a temporary file
 * beside it, renamed when complete); "-" writes to stdout (refused on a terminal). Like commit, export
 * of a running container is not a consistent snapshot. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container.h"
#include "fd-util.h"
#include "fileio.h"
#include "image.h"
#include "log.h"
#include "state.h"
#include "string-util.h"
#include "cli-util.h"
#include "verbs.h"

/* The layers of the merged view, top first: the upper dir (if any), then the lowers */
static int collect_layers(const GlobalConfig *g, const char *name, char ***ret) {
        _cleanup_(container_info_done) ContainerInfo info = {};
        _cleanup_strv_free_ char **layers = NULL, **lowers = NULL;
        _cleanup_free_ char *sd = NULL, *upper = NULL, *image_file = NULL, *ref = NULL, *digest = NULL;
        bool have_state;
        struct stat st;
        int r;

        r = container_get_info(g, name, &info);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "%s: cannot read its state: %m", name);
        have_state = r >= 0;

        r = state_container_storage_path(global_config_storage_root(g), name, &sd);
        if (r < 0)
                return log_error_errno(r, "%s: invalid storage path: %m", name);
        image_file = strjoin(sd, "/image");
        if (!image_file)
                return log_oom();

        if (have_state)
                upper = info.state->upper_dir ? strdup(info.state->upper_dir) : NULL;
        else
                upper = strjoin(sd, "/upper");
        if ((have_state && info.state->upper_dir && !upper) || (!have_state && !upper))
                return log_oom();
        if (upper && stat(upper, &st) < 0) {
                if (errno == ENOENT && !have_state)
                        return log_error_errno(ENOENT, "%s: no such container (no state, no '%s')", name,
                                               sd);
                return log_error_errno(errno, "%s: cannot access its writable layer '%s': %m", name, upper);
        }
        if (upper && !S_ISDIR(st.st_mode))
                return log_error_errno(ENOTDIR, "%s: '%s' is not a directory", name, upper);
        if (upper && strv_extend(&layers, upper) < 0)
                return log_oom();

        if (have_state && info.state->rootfs && info.state->rootfs[0] == '/') {
                if (strv_extend(&layers, info.state->rootfs) < 0)
                        return log_oom();
                *ret = TAKE_PTR(layers);
                return 0;
        }

        r = container_read_image_file(image_file, &ref, &digest);
        if (r == -ENOENT)
                return log_error_errno(r,
                                       "%s: nothing says what it runs on (no state and no '%s'): start it "
                                       "again to export it",
                                       name, image_file);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read '%s': %m", name, image_file);

        _cleanup_(image_store_freep) ImageStore *store = NULL;
        r = image_store_open(global_config_storage_root(g), &store);
        if (r < 0)
                return log_error_errno(r, "Failed to open the image store '%s': %m",
                                       global_config_storage_root(g));
        r = check_same_image(store, name, ref, digest);
        if (r < 0)
                return r;
        r = image_resolve(store, ref, &lowers, NULL, NULL);
        if (r == -ENOENT)
                return log_error_errno(r, "%s: its image '%s' is not in the store any more", name, ref);
        if (r < 0)
                return log_error_errno(r, "%s: cannot resolve its image '%s': %m", name, ref);
        STRV_FOREACH (l, lowers)
                if (strv_extend(&layers, *l) < 0)
                        return log_oom();
        *ret = TAKE_PTR(layers);
        return 0;
}

/* In the child: the merged view as an open directory fd (a detached read-only overlay, or the only
 * layer itself), or -errno with a description in msg */
static int open_merged(char **layers, char *msg, size_t msg_size) {
        _cleanup_close_ int fsfd = -EBADF, mfd = -EBADF;
        _cleanup_free_ char *lowerdir = NULL;
        int fd;

        if (strv_length(layers) == 1) {
                fd = open(layers[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0) {
                        snprintf(msg, msg_size, "open '%s'", layers[0]);
                        return -errno;
                }
                return fd;
        }
        STRV_FOREACH (l, layers)
                if (strpbrk(*l, ":,\\")) {
                        snprintf(msg, msg_size, "use '%s' as an overlay layer (it contains ':' ',' or '\\')",
                                 *l);
                        return -EINVAL;
                }
        lowerdir = strv_join(layers, ":");
        if (!lowerdir)
                return -ENOMEM;
        if (strlen(lowerdir) > 4000) {
                snprintf(msg, msg_size, "mount the layers: their paths are too long for one overlay option");
                return -E2BIG;
        }

        fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
        if (fsfd < 0) {
                snprintf(msg, msg_size, "create an overlay file system");
                return -errno;
        }
        /* index=off: the upper dir may be in use as the running container's upper; with the index on the
         * kernel refuses a second mount using it (as a lower here), without it it only warns */
        if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir", lowerdir, 0) < 0 ||
            fsconfig(fsfd, FSCONFIG_SET_STRING, "index", "off", 0) < 0 ||
            fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
                int r = -errno;
                char klog[256] = "";
                ssize_t n = read(fsfd, klog, sizeof(klog) - 1);
                klog[n > 0 ? n : 0] = 0;
                snprintf(msg, msg_size, "mount overlay of %s%s%s", lowerdir, n > 0 ? ": " : "", klog);
                return r;
        }
        mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
        if (mfd < 0) {
                snprintf(msg, msg_size, "mount overlay of %s", lowerdir);
                return -errno;
        }
        /* fsmount gives an O_PATH fd; reading the directory needs a real open */
        fd = openat(mfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                snprintf(msg, msg_size, "open the merged view");
                return -errno;
        }
        return fd;
}

_noreturn_ static void child(char **layers, int out_fd, int err_fd) {
        char msg[512] = "";
        ImageError e = {};
        int dfd, r;

        /* a reader that goes away (export NAME - | head) is a write error, not a silent death */
        (void) signal(SIGPIPE, SIG_IGN);
        if (unshare(CLONE_NEWNS) < 0) {
                r = -errno;
                snprintf(msg, sizeof(msg), "unshare the mount namespace");
                goto fail;
        }
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                r = -errno;
                snprintf(msg, sizeof(msg), "make the mount namespace private");
                goto fail;
        }
        dfd = open_merged(layers, msg, sizeof(msg));
        if (dfd < 0) {
                r = dfd;
                goto fail;
        }
        r = image_export_tree(dfd, out_fd, &e);
        if (r < 0) {
                snprintf(msg, sizeof(msg), "write the tar%s%s%s%s", e.entry ? ": " : "", strempty(e.entry),
                         e.message ? ": " : "", strempty(e.message));
                goto fail;
        }
        _exit(EXIT_SUCCESS);
fail:
        /* errno as 4 bytes, then the message */
        (void) loop_write(err_fd, &r, sizeof(r));
        (void) loop_write(err_fd, msg, strlen(msg));
        _exit(EXIT_FAILURE);
}

/* Forks the child that writes the tar to out_fd; returns 0 or -errno (logged) */
static int export_to_fd(const char *name, char **layers, int out_fd) {
        _cleanup_close_pair_ int p[2] = { -EBADF, -EBADF };
        char buf[1024];
        size_t have = 0;
        int status, r = 0;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return log_error_errno(errno, "%s: cannot create a pipe: %m", name);
        fflush(stdout);
        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "%s: cannot fork: %m", name);
        if (pid == 0) {
                p[0] = safe_close(p[0]);
                child(layers, out_fd, p[1]);
        }
        p[1] = safe_close(p[1]);
        for (;;) {
                ssize_t n = read(p[0], buf + have, sizeof(buf) - 1 - have);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                have += (size_t) n;
                if (have >= sizeof(buf) - 1)
                        break;
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return log_error_errno(errno, "%s: cannot wait for the export child: %m", name);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (have >= sizeof(int)) {
                memcpy(&r, buf, sizeof(int));
                buf[have] = 0;
                if (r >= 0)
                        r = -EIO;
                return log_error_errno(r, "%s: export failed: cannot %s: %m", name, buf + sizeof(int));
        }
        return log_error_errno(EIO, "%s: the export child died (status 0x%x)", name, (unsigned) status);
}

static int do_export(const GlobalConfig *g, const char *name, const char *path) {
        _cleanup_strv_free_ char **layers = NULL;
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = collect_layers(g, name, &layers);
        if (r < 0)
                return r;

        if (streq(path, "-")) {
                if (isatty(STDOUT_FILENO))
                        return log_error_errno(ENOTTY, "export: refusing to write a tar to a terminal");
                return export_to_fd(name, layers, STDOUT_FILENO);
        }

        tmp = strjoin(path, ".XXXXXX");
        if (!tmp)
                return log_oom();
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "%s: cannot create a temporary file beside '%s': %m", name,
                                       path);
        mode_t um = umask(0);
        umask(um);
        if (fchmod(fd, 0666 & ~um) < 0) {
                r = log_error_errno(errno, "%s: cannot set the mode of '%s': %m", name, tmp);
                goto fail;
        }
        r = export_to_fd(name, layers, fd);
        if (r < 0)
                goto fail;
        if (fsync(fd) < 0) {
                r = log_error_errno(errno, "%s: cannot write '%s': %m", name, tmp);
                goto fail;
        }
        if (rename(tmp, path) < 0) {
                r = log_error_errno(errno, "%s: cannot rename '%s' to '%s': %m", name, tmp, path);
                goto fail;
        }
        if (!arg_quiet) {
                struct stat st;
                if (fstat(fd, &st) >= 0)
                        fprintf(stderr, "Exported %s to %s (%lld bytes)\n", name, path,
                                (long long) st.st_size);
        }
        return 0;
fail:
        (void) unlink(tmp);
        return r;
}

VERB(export, 52, "export NAME FILE.tar|-      Write a container's flattened root file system as a tar") {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "quiet", no_argument, NULL, 'q' },
                {},
        };
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        int c;

        while ((c = getopt_long(argc, argv, "hq", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("cbox export [-q] NAME FILE.tar|-\n\n"
                               "Write the container's merged root file system (its writable layer over "
                               "its image's\n"
                               "layers or rootfs dir) as one uncompressed tar: numeric owners, modes, "
                               "hardlinks,\n"
                               "symlinks, devices, xattrs. FILE is replaced atomically; '-' is stdout. "
                               "Mounts of\n"
                               "the container ([[mount]], /proc, /dev) are not part of it. A running "
                               "container is\n"
                               "not snapshotted consistently: stop it first for that.\n");
                        return 0;
                case 'q':
                        arg_quiet = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (argc - optind != 2) {
                log_error("export: expected NAME FILE.tar (or - for stdout).");
                return EXIT_USAGE;
        }
        const char *name = argv[optind], *path = argv[optind + 1];
        if (!state_name_is_valid(name)) {
                log_error("export: '%s' is not a valid container name.", name);
                return EXIT_USAGE;
        }
        if (container_load_global(&g) < 0)
                return 1;
        /* locked: down --volumes cannot remove the upper dir while we read it */
        return with_container_lock(g, name, do_export, path);
}
