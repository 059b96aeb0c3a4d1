/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <unistd.h>

#include "cli-util.h"
#include "container.h"
#include "fd-util.h"
#include "fileio.h"
#include "log.h"
#include "string-util.h"
#include "verbs.h"

static int cmp_pid(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
        return x < y ? -1 : x > y;
}

/* cgroup.procs of dir and every cgroup below it */
static int collect(int dir_fd, pid_t **pids, size_t *n, unsigned depth) {
        _cleanup_free_ char *procs = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        int r;

        if (depth > 64)
                return -ELOOP;
        r = read_full_file_at(dir_fd, "cgroup.procs", &procs, NULL, 16 * 1024 * 1024);
        if (r < 0)
                return r;
        for (char *line = procs, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                long v = strtol(line, NULL, 10);
                if (v <= 0)
                        continue;
                pid_t *np = realloc(*pids, (*n + 1) * sizeof(pid_t));
                if (!np)
                        return -ENOMEM;
                *pids = np;
                (*pids)[(*n)++] = (pid_t) v;
        }
        r = opendir_at(dir_fd, ".", 0, &d);
        if (r < 0)
                return r;
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                _cleanup_close_ int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (sub < 0)
                        continue;
                r = collect(sub, pids, n, depth + 1);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        return 0;
}

/* From /proc/PID/status: the pid in the innermost namespace (last NSpid field) and the real uid */
static void proc_status(pid_t pid, char **ret_nspid, uid_t *ret_uid) {
        _cleanup_free_ char *p = strprintf("/proc/%d/status", (int) pid), *data = NULL;

        *ret_nspid = NULL;
        *ret_uid = (uid_t) -1;
        if (!p || read_full_file(p, &data, NULL, 1024 * 1024) < 0)
                return;
        for (char *line = data, *next; line && *line; line = next) {
                char *v;
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if ((v = startswith(line, "NSpid:"))) {
                        char *last = strrchr(v, '\t') ?: strrchr(v, ' ') ?: v;
                        *ret_nspid = strdup(last + strspn(last, " \t"));
                } else if ((v = startswith(line, "Uid:")))
                        *ret_uid = (uid_t) strtoul(v, NULL, 10);
        }
}

static char *proc_cmdline(pid_t pid) {
        _cleanup_free_ char *p = strprintf("/proc/%d/cmdline", (int) pid), *data = NULL;
        size_t size = 0;

        if (!p || read_full_file(p, &data, &size, 64 * 1024) < 0)
                return NULL;
        if (size == 0) {
                /* kernel thread or zombie: [comm] */
                free(p);
                p = strprintf("/proc/%d/comm", (int) pid);
                free(data);
                data = NULL;
                if (!p || read_one_line_file(p, &data) < 0)
                        return NULL;
                return strjoin("[", data, "]");
        }
        for (size_t i = 0; i + 1 < size; i++)
                if (data[i] == 0)
                        data[i] = ' ';
        return TAKE_PTR(data);
}

static const char help[] = "cbox top NAME\n\n"
                           "The processes in the container's cgroup: host PID, PID in the "
                           "container, user\n"
                           "(as the host's passwd names the uid) and command line.\n";

VERB(top, 34, "top NAME                    Processes of a container") {
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(container_info_done) ContainerInfo i = {};
        _cleanup_free_ char *cg = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        _cleanup_close_ int cg_fd = -EBADF;
        size_t n = 0;
        int r;

        r = verb_parse_args(argc, argv,
                            &(const VerbArgs){ .name = "top",
                                               .help = help,
                                               .min_operands = 1,
                                               .max_operands = 1,
                                               .usage = "expected exactly one NAME" });
        if (r != VERB_GO_ON)
                return r;
        const char *name = argv[optind];
        if (container_load_global(&g) < 0)
                return 1;
        r = container_get_info_logged(g, name, true, &i);
        if (r < 0)
                return r;
        r = container_cgroup_path(&i, &cg);
        if (r < 0)
                return log_error_errno(r, "%s: cannot find its cgroup: %m", name);
        cg_fd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cg_fd < 0)
                return log_error_errno(errno, "%s: cannot open '%s': %m", name, cg);
        r = collect(cg_fd, &pids, &n, 0);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the processes of '%s': %m", name, cg);
        qsort(pids, n, sizeof(pid_t), cmp_pid);

        printf("%-8s %-8s %-10s %s\n", "PID", "CPID", "USER", "COMMAND");
        for (size_t k = 0; k < n; k++) {
                _cleanup_free_ char *nspid = NULL, *cmd = NULL;
                char ubuf[16];
                uid_t uid;
                const char *user;

                proc_status(pids[k], &nspid, &uid);
                cmd = proc_cmdline(pids[k]);
                if (!cmd && !nspid)
                        continue; /* gone meanwhile */
                struct passwd *pw = uid != (uid_t) -1 ? getpwuid(uid) : NULL;
                if (pw)
                        user = pw->pw_name;
                else {
                        (void) snprintf(ubuf, sizeof(ubuf), "%d", (int) uid);
                        user = ubuf;
                }
                printf("%-8d %-8s %-10s %s\n", (int) pids[k], strna(nspid), user, strna(cmd));
        }
        return 0;
}
