/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cbox image import|pull|push|list|inspect|tag|rm|gc — the image store from the command line */
#include <getopt.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "container.h"
#include "image.h"
#include "log.h"
#include "string-util.h"
#include "time-util.h"
#include "cli-util.h"
#include "verbs.h"

static const char *arg_image_root = NULL;
static const char *arg_ca_file = NULL;
static const char *arg_auth_file = NULL;
static char **arg_insecure = NULL;

static void image_help(void) {
        printf("cbox image [--root=DIR] [--json] COMMAND …\n\n"
               "Commands:\n"
               "  import PATH [NAME:TAG]   Import an OCI layout dir, oci-archive, docker-archive or rootfs "
               "tarball\n"
               "  pull REF                 Pull HOST[:PORT]/REPO:TAG from a registry (v2)\n"
               "  push REF [DEST]          Push an image to a registry (v2) as HOST[:PORT]/REPO:TAG "
               "(default: "
               "REF)\n"
               "  list                     List images\n"
               "  inspect NAME:TAG         Show an image as JSON (digest, layers, config)\n"
               "  tag SRC NAME:TAG         Name the image SRC also NAME:TAG (replacing what it named)\n"
               "  rm NAME:TAG…             Remove images (refused while a container uses one)\n"
               "  gc                       Remove unreferenced layers, blobs and stale temporaries\n\n"
               "Options:\n"
               "     --root=DIR   Storage root (default: storage_root of conf.d, " IMAGE_STORE_DEFAULT_ROOT
               ")\n"
               "     --json       JSON output (import, pull, push, list)\n"
               "     --ca-file=PEM                 CA bundle for registries (pull, push; default: the "
               "registry's ca_file in conf.d)\n"
               "     --insecure-registry=HOST:PORT Plain HTTP to this registry (pull, push; repeatable; "
               "also "
               "insecure = true in conf.d)\n"
               "     --auth-file=FILE              Registry credentials (pull, push; default: the "
               "registry's "
               "auth_file in conf.d, else " IMAGE_DEFAULT_AUTH_FILE ",\n"
               "                                   podman's auth.json, docker's config.json)\n"
               "  -q --quiet       No progress or summary lines\n");
}

/* Logs a failure once, with the entry and reason from the ImageError when there is one */
static int log_image_error(int r, const char *what, const char *object, const ImageError *e) {
        if (e->object && e->message)
                return log_error_errno(r, "Failed to %s '%s': %s: %s", what, object, e->object, e->message);
        if (e->message)
                return log_error_errno(r, "Failed to %s '%s': %s", what, object, e->message);
        if (e->object)
                return log_error_errno(r, "Failed to %s '%s': %s: %m", what, object, e->object);
        return log_error_errno(r, "Failed to %s '%s': %m", what, object);
}

typedef struct Progress {
        bool tty;
        char *last; /* label of the last plain line printed */
        uint64_t start_usec, drawn_usec;
} Progress;

/* On a TTY one line redrawn in place (label, bytes, rate); otherwise one plain line per label */
static void progress(const char *what, uint64_t done, uint64_t total, void *userdata) {
        Progress *p = userdata;
        if (arg_quiet)
                return;
        if (!what) {
                if (p->tty)
                        fputs("\r\033[K", stderr);
                p->last = mfree(p->last);
                return;
        }
        bool new_label = !streq_ptr(p->last, what);
        uint64_t now = now_monotonic_usec();
        if (new_label) {
                (void) free_and_strdup(&p->last, what);
                p->start_usec = now;
        }
        if (!p->tty) {
                if (new_label)
                        fprintf(stderr, "%s\n", what);
                return;
        }
        /* redrawn at most 10 times a second, and at each new label */
        if (!new_label && now - p->drawn_usec < USEC_PER_SEC / 10)
                return;
        p->drawn_usec = now;
        char d[32] = "", t[32] = "", rate[32] = "";
        uint64_t el = now - p->start_usec;
        if (done > 0 && el >= USEC_PER_SEC / 10) {
                format_bytes(done, d, sizeof(d));
                if (total > 0)
                        format_bytes(total, t, sizeof(t));
                format_bytes((uint64_t) ((double) done * USEC_PER_SEC / (double) el), rate, sizeof(rate));
                fprintf(stderr, "\r\033[K%s %s%s%s %s/s", what, d, total > 0 ? "/" : "", t, rate);
        } else if (done > 0) {
                format_bytes(done, d, sizeof(d));
                fprintf(stderr, "\r\033[K%s %s", what, d);
        } else
                fprintf(stderr, "\r\033[K%s", what);
}

static void print_stats(const char *ref, const ImageImportStats *st, const char *verb);

static GlobalConfig *arg_global = NULL; /* conf.d: storage_root, [registry."HOST"] */

static int open_store(ImageStore **ret) {
        const char *root = arg_image_root ?: global_config_storage_root(arg_global);
        int r = image_store_open(root, ret);
        if (r < 0)
                return log_error_errno(r, "Failed to open image store '%s': %m", root);
        return 0;
}

static int do_import(int argc, char *argv[]) {
        _cleanup_(image_store_freep) ImageStore *s = NULL;
        _cleanup_free_ char *ref = NULL;
        ImageError e = {};
        ImageImportStats st = {};
        Progress p = { .tty = isatty(STDERR_FILENO) };
        int r;

        r = open_store(&s);
        if (r < 0)
                return r;
        r = image_import(s, argv[1], argc > 2 ? argv[2] : NULL, progress, &p, &st, &ref, &e);
        progress(NULL, 0, 0, &p);
        if (r < 0) {
                r = log_image_error(r, "import", argv[1], &e);
                error_message_done(&e);
                return r;
        }
        print_stats(ref, &st, "Imported");
        return 0;
}

static void print_stats(const char *ref, const ImageImportStats *st, const char *verb) {
        char buf[32], dl[32];
        format_bytes(st->unpacked_bytes, buf, sizeof(buf));
        format_bytes(st->blob_bytes, dl, sizeof(dl));
        if (arg_json)
                printf("{\"ref\":\"%s\",\"layers\":%u,\"layers_unpacked\":%u,\"layers_reused\":%u,"
                       "\"blob_bytes\":%" PRIu64 ",\"unpacked_bytes\":%" PRIu64
                       ",\"unpacked_entries\":%" PRIu64 "}\n",
                       ref, st->layers, st->layers_unpacked, st->layers_reused, st->blob_bytes,
                       st->unpacked_bytes, st->unpacked_entries);
        else if (!arg_quiet)
                printf("%s %s: %u layer(s), %u unpacked, %u already present, %s stored, %s unpacked\n", verb,
                       ref, st->layers, st->layers_unpacked, st->layers_reused, dl, buf);
}

/* The registry settings: the options', then conf.d's [registry."HOST"] (*ret_regs: what opts points at) */
static int registry_options(ImagePullOptions *opts, ImageRegistry **ret_regs) {
        *opts = (ImagePullOptions){
                .ca_file = arg_ca_file,
                .insecure_registries = arg_insecure,
                .auth_file = arg_auth_file,
        };
        *ret_regs = NULL;
        if (arg_global && arg_global->n_registries > 0) {
                ImageRegistry *regs = new0(ImageRegistry, arg_global->n_registries);
                if (!regs)
                        return log_oom();
                for (size_t i = 0; i < arg_global->n_registries; i++)
                        regs[i] = (ImageRegistry){ .name = arg_global->registries[i].name,
                                                   .insecure = arg_global->registries[i].insecure,
                                                   .ca_file = arg_global->registries[i].ca_file,
                                                   .auth_file = arg_global->registries[i].auth_file };
                opts->registries = regs;
                opts->n_registries = arg_global->n_registries;
                *ret_regs = regs;
        }
        return 0;
}

static int do_pull(int argc, char *argv[]) {
        _cleanup_(image_store_freep) ImageStore *s = NULL;
        _cleanup_free_ char *ref = NULL;
        ImageError e = {};
        ImageImportStats st = {};
        Progress p = { .tty = isatty(STDERR_FILENO) };
        _cleanup_free_ ImageRegistry *regs = NULL;
        ImagePullOptions opts;
        int r;

        r = registry_options(&opts, &regs);
        if (r < 0)
                return r;
        r = open_store(&s);
        if (r < 0)
                return r;
        r = image_pull(s, argv[1], &opts, progress, &p, &st, &ref, &e);
        progress(NULL, 0, 0, &p);
        if (r < 0) {
                r = log_image_error(r, "pull", argv[1], &e);
                error_message_done(&e);
                return r;
        }
        print_stats(ref, &st, "Pulled");
        return 0;
}

static int do_push(int argc, char *argv[]) {
        _cleanup_(image_store_freep) ImageStore *s = NULL;
        _cleanup_free_ char *dest = NULL, *digest = NULL;
        _cleanup_free_ ImageRegistry *regs = NULL;
        ImageError e = {};
        ImagePushStats st = {};
        Progress p = { .tty = isatty(STDERR_FILENO) };
        ImagePullOptions opts;
        int r;

        r = registry_options(&opts, &regs);
        if (r < 0)
                return r;
        r = open_store(&s);
        if (r < 0)
                return r;
        r = image_push(s, argv[1], argc > 2 ? argv[2] : NULL, &opts, progress, &p, &st, &dest, &digest, &e);
        progress(NULL, 0, 0, &p);
        if (r < 0) {
                r = log_image_error(r, "push", argc > 2 ? argv[2] : argv[1], &e);
                error_message_done(&e);
                return r;
        }
        char up[32];
        format_bytes(st.bytes_uploaded, up, sizeof(up));
        if (arg_json)
                printf("{\"ref\":\"%s\",\"manifest\":\"%s\",\"blobs\":%u,\"blobs_uploaded\":%u,"
                       "\"blobs_present\":%u,\"bytes_uploaded\":%" PRIu64 "}\n",
                       dest, digest, st.blobs, st.blobs_uploaded, st.blobs_present, st.bytes_uploaded);
        else if (!arg_quiet)
                printf("Pushed %s to %s: %s, %u blob(s) uploaded (%s), %u already present\n", argv[1], dest,
                       digest, st.blobs_uploaded, up, st.blobs_present);
        return 0;
}

static int do_list(int argc, char *argv[]) {
        _cleanup_(image_store_freep) ImageStore *s = NULL;
        ImageInfo *a = NULL;
        size_t n = 0;
        int r;

        r = open_store(&s);
        if (r < 0)
                return r;
        r = image_list(s, &a, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to list images: %m");
        r = image_list_disk_usage(s, a, n);
        if (r < 0) {
                image_info_array_free(a, n);
                return log_error_errno(r, "Failed to measure the images' disk usage: %m");
        }

        if (arg_json) {
                printf("[");
                for (size_t i = 0; i < n; i++)
                        printf("%s{\"ref\":\"%s\",\"manifest\":\"%s\",\"config\":\"%s\",\"layers\":%u,"
                               "\"size\":%" PRIu64 ",\"disk\":%" PRIu64 ",\"created_usec\":%" PRIu64 "}",
                               i > 0 ? "," : "", a[i].ref, a[i].manifest, a[i].config, a[i].n_layers,
                               a[i].size, a[i].disk_bytes, a[i].created_usec);
                printf("]\n");
        } else {
                size_t w = strlen("IMAGE");
                for (size_t i = 0; i < n; i++)
                        w = MAX(w, strlen(a[i].ref));
                printf("%-*s  %-12s  %6s  %8s  %8s  %s\n", (int) w, "IMAGE", "ID", "LAYERS", "SIZE", "DISK",
                       "IMPORTED");
                for (size_t i = 0; i < n; i++) {
                        char size[32], disk[32], when[64] = "-";
                        time_t t = (time_t) (a[i].created_usec / 1000000);
                        struct tm tm;
                        format_bytes(a[i].size, size, sizeof(size));
                        format_bytes(a[i].disk_bytes, disk, sizeof(disk));
                        if (a[i].created_usec > 0 && localtime_r(&t, &tm))
                                strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
                        const char *id = startswith(a[i].manifest, "sha256:") ?: a[i].manifest;
                        printf("%-*s  %-12.12s  %6u  %8s  %8s  %s\n", (int) w, a[i].ref, id, a[i].n_layers,
                               size, disk, when);
                }
        }
        image_info_array_free(a, n);
        return 0;
}

static int do_inspect(int argc, char *argv[]) {
        _cleanup_(image_store_freep) ImageStore *s = NULL;
        _cleanup_free_ char *json = NULL;
        int r;

        r = open_store(&s);
        if (r < 0)
                return r;
        r = image_inspect_json(s, argv[1], &json);
        if (r == -ENOENT)
                return log_error_errno(r, "No such image '%s'.", argv[1]);
        if (r < 0)
                return log_error_errno(r, "Failed to inspect image '%s': %m", argv[1]);
        puts(json);
        return 0;
}

static int do_rm(int argc, char *argv[]) {
        _cleanup_(image_store_freep) ImageStore *s = NULL;
        int r, ret = 0;

        r = open_store(&s);
        if (r < 0)
                return r;
        for (int i = 1; i < argc; i++) {
                ImageError e = {};
                r = image_remove(s, argv[i], &e);
                if (r < 0) {
                        if (r == -EBUSY)
                                ret = log_error_errno(
                                        r, "Refusing to remove image '%s': used by container '%s'.", argv[i],
                                        strna(e.object));
                        else if (r == -ENOENT)
                                ret = log_error_errno(r, "No such image '%s'.", argv[i]);
                        else
                                ret = log_image_error(r, "remove image", argv[i], &e);
                        error_message_done(&e);
                        continue;
                }
                if (!arg_quiet)
                        printf("Removed %s\n", argv[i]);
        }
        return ret;
}

static int do_tag(int argc, char *argv[]) {
        _cleanup_(image_store_freep) ImageStore *s = NULL;
        ImageError e = {};
        int r;

        r = open_store(&s);
        if (r < 0)
                return r;
        r = image_tag(s, argv[1], argv[2], &e);
        if (r == -ENOENT)
                r = log_error_errno(r, "No such image '%s'.", argv[1]);
        else if (r < 0)
                r = log_image_error(r, "tag image", argv[1], &e);
        error_message_done(&e);
        if (r < 0)
                return r;
        if (!arg_quiet)
                printf("Tagged %s as %s\n", argv[1], argv[2]);
        return 0;
}

static int do_gc(int argc, char *argv[]) {
        _cleanup_(image_store_freep) ImageStore *s = NULL;
        ImageGcStats st = {};
        int r;

        r = open_store(&s);
        if (r < 0)
                return r;
        r = image_gc(s, &st);
        if (r < 0)
                return log_error_errno(r, "Failed to collect garbage in the image store: %m");
        if (!arg_quiet)
                printf("Removed %u layer(s), %u blob(s), %u stale temporar%s\n", st.layers_removed,
                       st.blobs_removed, st.tmps_removed, st.tmps_removed == 1 ? "y" : "ies");
        return 0;
}

VERB(image, 50,
     "image import|pull|push|list|inspect|tag|rm|gc …  Manage the image store (see 'cbox image --help')") {
        enum { ARG_ROOT = 0x100, ARG_JSON, ARG_CA_FILE, ARG_INSECURE, ARG_AUTH_FILE };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "root", required_argument, NULL, ARG_ROOT },
                { "json", no_argument, NULL, ARG_JSON },
                { "quiet", no_argument, NULL, 'q' },
                { "ca-file", required_argument, NULL, ARG_CA_FILE },
                { "insecure-registry", required_argument, NULL, ARG_INSECURE },
                { "auth-file", required_argument, NULL, ARG_AUTH_FILE },
                {},
        };
        /* argc counts the command's name: min 1 is no arguments */
        static const struct {
                const char *name;
                int (*fn)(int argc, char *argv[]);
                int min, max;
                const char *usage;
        } sub[] = {
                { "import", do_import, 2, 3, "expected PATH [NAME:TAG]" },
                { "pull", do_pull, 2, 2, "expected REF" },
                { "push", do_push, 2, 3, "expected REF [HOST[:PORT]/NAME:TAG]" },
                { "list", do_list, 1, 1, "no arguments expected" },
                { "inspect", do_inspect, 2, 2, "expected NAME:TAG" },
                { "tag", do_tag, 3, 3, "expected SRC NAME:TAG" },
                { "rm", do_rm, 2, INT_MAX, "expected NAME:TAG…" },
                { "gc", do_gc, 1, 1, "no arguments expected" },
        };
        int c;

        /* Options may come anywhere ("image list --json"): getopt permutes them before the arguments */
        while ((c = getopt_long(argc, argv, "hq", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        image_help();
                        return 0;
                case ARG_ROOT:
                        if (optarg[0] != '/') {
                                log_error("--root= needs an absolute path, got '%s'", optarg);
                                return EXIT_USAGE;
                        }
                        arg_image_root = optarg;
                        break;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case 'q':
                        arg_quiet = true;
                        break;
                case ARG_CA_FILE:
                        arg_ca_file = optarg;
                        break;
                case ARG_AUTH_FILE:
                        arg_auth_file = optarg;
                        break;
                case ARG_INSECURE:
                        if (strv_extend(&arg_insecure, optarg) < 0)
                                return log_oom();
                        break;
                default:
                        return EXIT_USAGE;
                }

        if (optind >= argc) {
                log_error("image: missing command. See 'cbox image --help'.");
                return EXIT_USAGE;
        }
        for (size_t i = 0; i < ELEMENTSOF(sub); i++)
                if (streq(argv[optind], sub[i].name)) {
                        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
                        if (container_load_global(&g) < 0)
                                return 1;
                        arg_global = g;
                        if (argc - optind < sub[i].min || argc - optind > sub[i].max) {
                                log_error("image %s: %s", sub[i].name, sub[i].usage);
                                arg_global = NULL;
                                return EXIT_USAGE;
                        }
                        int ret = sub[i].fn(argc - optind, argv + optind);
                        arg_global = NULL;
                        return ret;
                }
        log_error("image: unknown command '%s'. See 'cbox image --help'.", argv[optind]);
        return EXIT_USAGE;
}
