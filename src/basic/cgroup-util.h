/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

/* The unified-hierarchy cgroup directory of a /proc/PID/cgroup file (its "0::/path" line) as a path
 * under /sys/fs/cgroup ("0::/" gives "/sys/fs/cgroup"). -ENOMEDIUM when the file has no such line
 * (no unified hierarchy); the file's own error (-ENOENT, …) when it cannot be read. */
int cgroup_path_from_proc_file(const char *file, char **ret);
/* The same for /proc/PID/cgroup */
int cgroup_path_of_pid(pid_t pid, char **ret);
