/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* Global options (set in main.c only) */
extern bool arg_json;
extern bool arg_quiet;

/* Exit codes: 0 ok, 1 failure, 2 usage. Verbs return an exit code (>= 0) or -errno (→ 1). */
#define EXIT_USAGE 2

/* Each verb-NAME.c defines one. argv[0] is the verb name; getopt_long state is reset before the call. */
int verb_verify(int argc, char *argv[]);
int verb_cat(int argc, char *argv[]);
