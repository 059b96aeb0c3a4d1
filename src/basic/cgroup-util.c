/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "cgroup-util.h"
#include "fileio.h"
#include "macros.h"
#include "string-util.h"

int cgroup_path_from_proc_file(const char *file, char **ret) {
        _cleanup_free_ char *data = NULL;
        int r;

        r = read_full_file(file, &data, NULL, 64 * 1024);
        if (r < 0)
                return r;
        for (char *line = data, *next; line && *line; line = next) {
                const char *v;
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                v = startswith(line, "0::");
                if (v) {
                        char *c = strjoin("/sys/fs/cgroup", streq(v, "/") ? "" : v);
                        if (!c)
                                return -ENOMEM;
                        *ret = c;
                        return 0;
                }
        }
        return -ENOMEDIUM;
}

int cgroup_path_of_pid(pid_t pid, char **ret) {
        _cleanup_free_ char *p = NULL;

        if (pid <= 0)
                return -EINVAL;
        p = strprintf("/proc/%d/cgroup", (int) pid);
        if (!p)
                return -ENOMEM;
        return cgroup_path_from_proc_file(p, ret);
}
