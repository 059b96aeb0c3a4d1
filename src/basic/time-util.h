/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <time.h>

/* The time of clock in microseconds */
uint64_t now_usec(clockid_t clock);

/* For deadlines and intervals: never jumps */
static inline uint64_t now_monotonic_usec(void) {
        return now_usec(CLOCK_MONOTONIC);
}

/* For timestamps stored or shown (state files, exit records, image index) */
static inline uint64_t now_realtime_usec(void) {
        return now_usec(CLOCK_REALTIME);
}
