/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "rootfs.h"

const char *const rootfs_masked_paths[] = {
        "/proc/acpi",
        "/proc/asound",
        "/proc/interrupts",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/sys/firmware",
        "/sys/devices/virtual/powercap",
        NULL,
};

const char *const rootfs_readonly_paths[] = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

int rootfs_setup(const RootfsParams *p, char *msg, size_t msg_size) {
        return -EOPNOTSUPP;
}
