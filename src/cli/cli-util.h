/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* What verb_parse_args() returns when the verb goes on (optind is then its first operand) */
#define VERB_GO_ON (-1)

/* The command line every verb has: -h/--help, -q/--quiet and --json where the verb takes them, its own
 * options, then its operands. */
typedef struct VerbArgs {
        const char *name;          /* the verb: usage errors begin with it */
        const char *help;          /* what -h/--help prints (then the verb returns 0) */
        const char *short_options; /* the verb's own, e.g. "s:"; a leading '+' stops at the first operand */
        const struct option *options; /* the verb's own long options, {}-terminated; may be NULL */
        int (*on_option)(int c, const char *arg,
                         void *userdata); /* each of its own: 0, or EXIT_USAGE (logged) */
        void *userdata;
        bool quiet;                     /* takes -q/--quiet, which sets arg_quiet */
        bool json;                      /* takes --json, which sets arg_json */
        int min_operands, max_operands; /* max_operands < 0: any number */
        const char *usage; /* the usage error when the operands do not fit: "expected at least one NAME" */
} VerbArgs;

/* Parses argv as a describes. Returns VERB_GO_ON, or the exit code the verb returns at once (0 after the
 * help, EXIT_USAGE after a usage error, logged). */
int verb_parse_args(int argc, char *argv[], const VerbArgs *a);

/* For the NAME… verbs: loads the global configuration and calls fn(g, name, userdata) for every operand
 * from optind on, each logging its own failure. Returns 1 if the configuration or any call failed, else 0.
 */
int verb_for_each_name(int argc, char *argv[],
                       int (*fn)(const GlobalConfig *g, const char *name, void *userdata), void *userdata);

/* The operands of the NAME… verbs, for a VerbArgs literal */
#define VERB_ARGS_NAMES .min_operands = 1, .max_operands = -1, .usage = "expected at least one NAME"

/* verb_parse_args(argc, argv, a), then, when the verb goes on, verb_for_each_name(argc, argv, fn, userdata):
 * the whole body of a NAME… verb. Returns the exit code. */
int verb_run_names(int argc, char *argv[], const VerbArgs *a,
                   int (*fn)(const GlobalConfig *g, const char *name, void *userdata), void *userdata);

/* "1.5M" style, base 1024 */
void format_bytes(uint64_t b, char *buf, size_t n);
