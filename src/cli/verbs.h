/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* Global options (set in main.c only) */
extern bool arg_json;
extern bool arg_quiet;

/* Exit codes: 0 ok, 1 failure, 2 usage. Verbs return an exit code (>= 0) or -errno (→ 1). */
#define EXIT_USAGE 2

typedef struct Verb {
        const char *name;
        int (*fn)(int argc, char *argv[]);
        const char *synopsis; /* "NAME ARGS…    One line of help" */
        int order;            /* position in --help, lowest first */
} Verb;

/* Each verb-NAME.c registers itself with one VERB(); main.c finds them in the "cbox_verbs" section, so
 * adding a verb touches only its own file (and the list in meson.build). argv[0] is the verb name;
 * getopt_long's state is reset before the call. */
#define VERB(n, ord, syn) VERB_NAMED(n, #n, ord, syn)
/* The same for a verb whose name is no C identifier ("auto-update") */
#define VERB_NAMED(n, nm, ord, syn)                                                                         \
        static int verb_##n(int argc, char *argv[]);                                                        \
        static const Verb verb_entry_##n __attribute__((used, section("cbox_verbs"), aligned(8))) = {       \
                .name = nm,                                                                                 \
                .fn = verb_##n,                                                                             \
                .synopsis = syn,                                                                            \
                .order = ord,                                                                               \
        };                                                                                                  \
        static int verb_##n(int argc, char *argv[])

extern const Verb __start_cbox_verbs[];
extern const Verb __stop_cbox_verbs[];
