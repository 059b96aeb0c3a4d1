/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Replays inputs through a fuzzer's LLVMFuzzerTestOneInput() without libFuzzer: each argument is a
 * file or a directory whose regular files (sorted by name) are run one by one. Exit 0 when all ran,
 * 77 when an argument does not exist (no corpus to replay), 1 on an I/O error. A crash is a crash. */

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fd-util.h"
#include "fileio.h"
#include "macros.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Corpus files are small; anything bigger is a mistake in the corpus */
#define FUZZ_INPUT_MAX (64U * 1024U * 1024U)

static int run_file(int dirfd, const char *path, const char *display) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        r = read_full_file_at(dirfd, path, &data, &size, FUZZ_INPUT_MAX);
        if (r < 0) {
                fprintf(stderr, "Failed to read '%s': %s\n", display, strerror(-r));
                return r;
        }
        /* an exact-size copy so that reads past the end trip ASan */
        _cleanup_free_ uint8_t *copy = malloc(size ?: 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, data, size);
        (void) LLVMFuzzerTestOneInput(copy, size);
        return 0;
}

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int run_dir(const char *path, unsigned *n) {
        _cleanup_closedir_ DIR *d = opendir(path);
        char **names = NULL;
        size_t n_names = 0;
        int r = 0;

        if (!d) {
                fprintf(stderr, "Failed to open '%s': %m\n", path);
                return -errno;
        }
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                char **l = reallocarray(names, n_names + 1, sizeof(char *));
                if (!l) {
                        r = -ENOMEM;
                        goto finish;
                }
                names = l;
                names[n_names] = strdup(de->d_name);
                if (!names[n_names]) {
                        r = -ENOMEM;
                        goto finish;
                }
                n_names++;
        }
        if (n_names > 0)
                qsort(names, n_names, sizeof(char *), name_cmp);
        for (size_t i = 0; i < n_names; i++) {
                struct stat st;
                if (fstatat(dirfd(d), names[i], &st, 0) < 0 || !S_ISREG(st.st_mode))
                        continue;
                fprintf(stderr, "%s/%s\n", path, names[i]);
                r = run_file(dirfd(d), names[i], names[i]);
                if (r < 0)
                        goto finish;
                (*n)++;
        }
finish:
        for (size_t i = 0; i < n_names; i++)
                free(names[i]);
        free(names);
        return r;
}

int main(int argc, char *argv[]) {
        unsigned n = 0;

        if (LLVMFuzzerInitialize)
                (void) LLVMFuzzerInitialize(&argc, &argv);

        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "SKIP: '%s' does not exist: %m\n", argv[i]);
                        return 77;
                }
                int r = S_ISDIR(st.st_mode) ? run_dir(argv[i], &n) : run_file(AT_FDCWD, argv[i], argv[i]);
                if (r < 0)
                        return 1;
                if (!S_ISDIR(st.st_mode))
                        n++;
        }
        fprintf(stderr, "%u input(s) replayed\n", n);
        return 0;
}
