/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cbox export NAME FILE.tar|- — a container's flattened root file system as one tar: container_export()
 * (container/container-storage.c) assembles the merged view in a mount namespace of its own, under the
 * container's lock. FILE is written atomically (a temporary file beside it, renamed when complete); "-"
 * writes to stdout (refused on a terminal). Like commit, export of a running container is not a
 * consistent snapshot. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli-util.h"
#include "container.h"
#include "fd-util.h"
#include "log.h"
#include "state.h"
#include "string-util.h"
#include "verbs.h"

typedef struct ExportOutput {
        const char *name, *path;
        char *tmp; /* the temporary file beside path, once made */
        int fd;
} ExportOutput;

static int open_stdout(void *userdata) {
        if (isatty(STDOUT_FILENO))
                return log_error_errno(ENOTTY, "export: refusing to write a tar to a terminal");
        return STDOUT_FILENO;
}

/* A temporary file beside the target, with the mode a new file gets */
static int open_temporary(void *userdata) {
        ExportOutput *o = userdata;

        o->tmp = strjoin(o->path, ".XXXXXX");
        if (!o->tmp)
                return log_oom();
        o->fd = mkostemp(o->tmp, O_CLOEXEC);
        if (o->fd < 0) {
                int r = log_error_errno(errno, "%s: cannot create a temporary file beside '%s': %m", o->name,
                                        o->path);
                o->tmp = mfree(o->tmp);
                return r;
        }
        mode_t um = umask(0);
        umask(um);
        if (fchmod(o->fd, 0666 & ~um) < 0)
                return log_error_errno(errno, "%s: cannot set the mode of '%s': %m", o->name, o->tmp);
        return o->fd;
}

static int do_export(const GlobalConfig *g, const char *name, const char *path) {
        ExportOutput o = { .name = name, .path = path, .fd = -EBADF };
        int r;

        if (streq(path, "-"))
                return container_export(g, name, open_stdout, NULL);

        r = container_export(g, name, open_temporary, &o);
        if (r < 0)
                goto fail;
        if (fsync(o.fd) < 0) {
                r = log_error_errno(errno, "%s: cannot write '%s': %m", name, o.tmp);
                goto fail;
        }
        if (rename(o.tmp, path) < 0) {
                r = log_error_errno(errno, "%s: cannot rename '%s' to '%s': %m", name, o.tmp, path);
                goto fail;
        }
        if (!arg_quiet) {
                struct stat st;
                if (fstat(o.fd, &st) >= 0)
                        fprintf(stderr, "Exported %s to %s (%lld bytes)\n", name, path,
                                (long long) st.st_size);
        }
        r = 0;
fail:
        if (r < 0 && o.tmp)
                (void) unlink(o.tmp);
        free(o.tmp);
        safe_close(o.fd);
        return r;
}

static const char help[] = "cbox export [-q] NAME FILE.tar|-\n\n"
                           "Write the container's merged root file system (its writable layer "
                           "over its image's\n"
                           "layers or rootfs dir) as one uncompressed tar: numeric owners, "
                           "modes, hardlinks,\n"
                           "symlinks, devices, xattrs. FILE is replaced atomically; '-' is "
                           "stdout. Mounts of\n"
                           "the container ([[mount]], /proc, /dev) are not part of it. A "
                           "running container is\n"
                           "not snapshotted consistently: stop it first for that.\n";

VERB(export, 52, "export NAME FILE.tar|-      Write a container's flattened root file system as a tar") {
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        int r = verb_parse_args(argc, argv,
                                &(const VerbArgs){ .name = "export",
                                                   .help = help,
                                                   .quiet = true,
                                                   .min_operands = 2,
                                                   .max_operands = 2,
                                                   .usage = "expected NAME FILE.tar (or - for stdout)" });
        if (r != VERB_GO_ON)
                return r;
        const char *name = argv[optind], *path = argv[optind + 1];
        if (!container_name_is_valid(name)) {
                log_error("export: '%s' is not a valid container name.", name);
                return EXIT_USAGE;
        }
        if (container_load_global(&g) < 0)
                return 1;
        return do_export(g, name, path);
}
