/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Fault injection for tests: FAULT_POINT("verb.step") marks the moment right after a step of a verb.
 * Compiled with CBOX_FAULT_INJECTION defined (meson -Dfault-injection=true for the whole build, or the
 * test-only executable tests/system/cbox-fault that every build with the VM suite makes), the process
 * SIGKILLs itself there when $CBOX_FAULT_AT names that point, as a crash (or the OOM killer) would stop
 * it; the system test test-41-fault-walk then checks that the next command repairs what it left.
 * $CBOX_FAULT_STOP stops it there instead (SIGSTOP), for tests of races (test-43-image-race).
 *
 * Every point is collected at compile time: its name goes into the ELF section "cbox_fault_points",
 * which fault_points_list() walks (cbox --list-fault-points), so a new FAULT_POINT() is covered by the
 * walk without editing the test. Without CBOX_FAULT_INJECTION, FAULT_POINT() is empty: no getenv, no
 * section, and the production binary behaves as if there were none. Header-only, so that the test
 * executable compiling the modules' sources again needs no second copy of a library. */

#include <stddef.h>

#ifdef CBOX_FAULT_INJECTION
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* the linker defines these for a section whose name is a C identifier; weak: a binary without any
 * FAULT_POINT() has no such section */
extern const char *const __start_cbox_fault_points[] __attribute__((weak));
extern const char *const __stop_cbox_fault_points[] __attribute__((weak));

/* The names compiled in, *ret[0..n) with n returned (unsorted, maybe with duplicates when one step is
 * marked in two places). */
static inline size_t fault_points_list(const char *const **ret) {
        if (!__start_cbox_fault_points || !__stop_cbox_fault_points) {
                *ret = NULL;
                return 0;
        }
        *ret = __start_cbox_fault_points;
        return (size_t) (__stop_cbox_fault_points - __start_cbox_fault_points);
}

/* Kills the process with SIGKILL if $CBOX_FAULT_AT is name; stops it with SIGSTOP (until a SIGCONT)
 * if $CBOX_FAULT_STOP is, so that a test can run another command in exactly that window. */
static inline void fault_point_hit(const char *name) {
        const char *at = getenv("CBOX_FAULT_AT"), *stop = getenv("CBOX_FAULT_STOP");

        if (at && strcmp(at, name) == 0)
                (void) raise(SIGKILL);
        if (stop && strcmp(stop, name) == 0)
                (void) raise(SIGSTOP);
}

#define FAULT_POINT_CAT_(a, b) a##b
#define FAULT_POINT_CAT(a, b) FAULT_POINT_CAT_(a, b)
#define FAULT_POINT(n)                                                                                      \
        do {                                                                                                \
                static const char *const FAULT_POINT_CAT(fault_point_, __LINE__)                            \
                        __attribute__((section("cbox_fault_points"), used, aligned(sizeof(void *)))) = (n); \
                fault_point_hit(n);                                                                         \
        } while (0)
#define FAULT_INJECTION_ENABLED 1
#else
#define FAULT_POINT(n)                                                                                      \
        do {                                                                                                \
        } while (0)
#define FAULT_INJECTION_ENABLED 0
#endif
