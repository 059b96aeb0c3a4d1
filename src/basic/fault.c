/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"

#if CBOX_FAULT_INJECTION
/* the linker defines these for a section whose name is a C identifier; weak: a binary without any
 * FAULT_POINT() has no such section */
extern const char *const __start_cbox_fault_points[] __attribute__((weak));
extern const char *const __stop_cbox_fault_points[] __attribute__((weak));

size_t fault_points_list(const char *const **ret) {
        if (!__start_cbox_fault_points || !__stop_cbox_fault_points) {
                *ret = NULL;
                return 0;
        }
        *ret = __start_cbox_fault_points;
        return (size_t) (__stop_cbox_fault_points - __start_cbox_fault_points);
}

void fault_point_hit(const char *name) {
        const char *at = getenv("CBOX_FAULT_AT");

        if (at && strcmp(at, name) == 0)
                (void) raise(SIGKILL);
}
#else
size_t fault_points_list(const char *const **ret) {
        *ret = NULL;
        return 0;
}

void fault_point_hit(const char *name) {
        (void) name;
}
#endif
