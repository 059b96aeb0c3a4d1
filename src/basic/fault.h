/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Fault injection for tests: FAULT_POINT("verb.step") marks the moment right after a step of a verb.
 * In a build with -Dfault-injection=true, the process SIGKILLs itself there when $CBOX_FAULT_AT names
 * that point, as a crash (or the OOM killer, or a power cut for what is in /run) would stop it; the
 * system test test-41-fault-walk then checks that the next command repairs what it left.
 *
 * Every point is collected at compile time: its name goes into the ELF section "cbox_fault_points",
 * which fault_points_list() walks (cbox --list-fault-points), so a new FAULT_POINT() is covered by the
 * walk without editing the test. In a normal build FAULT_POINT() is empty: no getenv, no section. */

#include <stdbool.h>
#include <stddef.h>

#include "cbox-build.h"

/* The names compiled in, *ret[0..n) with n returned (unsorted, maybe with
 * duplicates when one step is marked in two places). 0 points in a build without fault injection. */
size_t fault_points_list(const char *const **ret);

/* Kills the process with SIGKILL if $CBOX_FAULT_AT is name. */
void fault_point_hit(const char *name);

#if CBOX_FAULT_INJECTION
#  define FAULT_POINT_CAT_(a, b) a##b
#  define FAULT_POINT_CAT(a, b) FAULT_POINT_CAT_(a, b)
#  define FAULT_POINT(n)                                                                            \
        do {                                                                                        \
                static const char *const FAULT_POINT_CAT(fault_point_, __LINE__)                    \
                        __attribute__((section("cbox_fault_points"), used, aligned(sizeof(void *)))) = \
                                (n);                                                                \
                fault_point_hit(n);                                                                 \
        } while (0)
#else
#  define FAULT_POINT(n) \
        do {           \
        } while (0)
#endif
