/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "container-health.h"
#include "fd-util.h"
#include "fileio.h"
#include "log.h"
#include "macros.h"
#include "spawn.h"
#include "string-util.h"
#include "time-util.h"

static const char *const health_status_table[_HEALTH_STATUS_MAX] = {
        [HEALTH_NONE] = "none",
        [HEALTH_STARTING] = "starting",
        [HEALTH_HEALTHY] = "healthy",
        [HEALTH_UNHEALTHY] = "unhealthy",
};

DEFINE_STRING_TABLE_TO_STRING(health_status, HealthStatus, _HEALTH_STATUS_MAX);

static void health_save(HealthCheck *h) {
        char buf[128];
        int n = snprintf(buf, sizeof(buf), "STATUS=%s\nFAILURES=%u\nCHECKED_USEC=%" PRIu64 "\n",
                         health_status_to_string(h->status), h->failures, now_realtime_usec());
        if (n > 0 && h->state_dir_fd >= 0)
                (void) write_file_atomic_at(h->state_dir_fd, "health", buf, (size_t) n, 0644);
}

/* "/sys/fs/cgroup/…" of pid, from the "0::/…" line of /proc/PID/cgroup */
static int pid_cgroup_path(pid_t pid, char **ret) {
        _cleanup_free_ char *s = NULL;
        char p[64];
        const char *l;
        int r;

        (void) snprintf(p, sizeof(p), "/proc/%d/cgroup", (int) pid);
        r = read_full_file(p, &s, NULL, 64 * 1024);
        if (r < 0)
                return r;
        l = strstr(s, "0::/");
        if (!l || (l != s && l[-1] != '\n'))
                return -ENOMEDIUM;
        l += 3;
        *ret = strndup(l, strcspn(l, "\n"));
        if (!*ret)
                return -ENOMEM;
        char *full = strjoin("/sys/fs/cgroup", *ret);
        free(*ret);
        *ret = full;
        return full ? 0 : -ENOMEM;
}

int health_init(HealthCheck *h, const char *name, const ContainerConfig *c, const ContainerProcess *process,
                int state_dir_fd, int leader_pidfd, pid_t leader) {
        _cleanup_free_ char *leader_cgroup = NULL;
        uint64_t first;
        int r;

        assert(h && c && c->health.enabled && process);
        *h = (HealthCheck){
                .c = c,
                .name = name,
                .state_dir_fd = state_dir_fd,
                .leader_pidfd = leader_pidfd,
                .namespaces = container_enter_namespaces(leader),
                .cgroup_fd = -EBADF,
                .process = process,
                .exec_fd = -EBADF,
                .runner_pidfd = -EBADF,
                .status = HEALTH_STARTING,
        };
        /* the check runs from cbox-init's read-only copy, never from our binary (spawn.h) */
        r = container_open_init(name, &h->exec_fd);
        if (r < 0)
                return r;
        /* the check joins the leader's cgroup (it counts against the container's limits) */
        if (pid_cgroup_path(leader, &leader_cgroup) >= 0) {
                h->cgroup_fd = open(leader_cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (h->cgroup_fd < 0) {
                        r = -errno;
                        h->exec_fd = safe_close(h->exec_fd);
                        return r;
                }
        }
        h->started_usec = now_monotonic_usec();
        first = MIN(c->health.interval_usec, USEC_PER_SEC);
        h->next_usec = h->started_usec + first;
        health_save(h);
        return 0;
}

static void runner_kill(HealthCheck *h) {
        if (h->runner > 0) {
                (void) kill(-h->runner, SIGKILL); /* runner, exec helper, the command */
                (void) waitpid(h->runner, NULL, 0);
        }
        h->runner = 0;
        h->runner_pidfd = safe_close(h->runner_pidfd);
}

void health_done(HealthCheck *h) {
        if (!h)
                return;
        runner_kill(h);
        h->cgroup_fd = safe_close(h->cgroup_fd);
        h->exec_fd = safe_close(h->exec_fd);
}

int health_fd(const HealthCheck *h) {
        return h->runner_pidfd;
}

int health_timeout_ms(const HealthCheck *h) {
        uint64_t now = now_monotonic_usec(), when = h->runner > 0 ? h->deadline_usec : h->next_usec;
        if (when <= now)
                return 0;
        return (int) MIN((when - now + 999) / 1000, (uint64_t) INT32_MAX);
}

/* In the runner (its own process group): run the command in the container, exit with its status */
_noreturn_ static void runner_main(HealthCheck *h) {
        const ContainerConfig *c = h->c;
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC), status = 0;
        _cleanup_(error_message_done) ErrorMessage se = {};
        SpawnExecParams p = {
                .process = {
                        .argv = c->health.command,
                        .cap_add = c->security.capabilities_add,
                        .cap_drop = c->security.capabilities_drop,
                        .allow_new_privileges = !c->security.no_new_privileges,
                        .seccomp = !streq_ptr(c->security.seccomp, "unconfined"),
                        .seccomp_program = h->seccomp_program,
                        .stdin_fd = devnull,
                        .stdout_fd = devnull,
                        .stderr_fd = devnull,
                },
                .leader_pidfd = h->leader_pidfd,
                .namespaces = h->namespaces,
                .cgroup_fd = h->cgroup_fd,
                .exec_fd = h->exec_fd,
        };
        /* as the payload runs: the image's user, workdir and env unless the file says otherwise */
        container_process_apply(h->process, c, &p.process);
        if (spawn_exec_in(&p, &status, &se) < 0)
                _exit(127);
        _exit(status & 0xff);
}

static int check_start(HealthCheck *h) {
        sigset_t all, old;
        pid_t pid;

        /* no signal handler of the caller runs in the runner: block all while forking */
        sigfillset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, &old);
        pid = fork();
        if (pid == 0) {
                (void) setpgid(0, 0);
                (void) sigprocmask(SIG_SETMASK, &(sigset_t){}, NULL);
                runner_main(h);
        }
        (void) sigprocmask(SIG_SETMASK, &old, NULL);
        if (pid < 0)
                return -errno;
        (void) setpgid(pid, pid); /* no race with the first kill(-pid) */
        h->runner = pid;
        h->runner_pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (h->runner_pidfd < 0) {
                int r = -errno;
                runner_kill(h);
                return r;
        }
        h->deadline_usec = now_monotonic_usec() + h->c->health.timeout_usec;
        return 0;
}

static int check_result(HealthCheck *h, bool passed, const char *why) {
        const HealthConfig *hc = &h->c->health;
        HealthStatus before = h->status;
        int event = HEALTH_EVENT_NONE;

        if (passed) {
                h->failures = 0;
                h->status = HEALTH_HEALTHY;
                if (!h->passed_once) {
                        h->passed_once = true;
                        event = HEALTH_EVENT_FIRST_PASS;
                }
        } else if (now_monotonic_usec() - h->started_usec < hc->start_period_usec &&
                   h->status == HEALTH_STARTING) {
                log_info("%s: health check failed (%s), within start_period", h->name, why);
        } else {
                h->failures++;
                log_info("%s: health check failed (%s), %u of %u", h->name, why, h->failures, hc->retries);
                if (h->failures >= hc->retries && h->status != HEALTH_UNHEALTHY) {
                        h->status = HEALTH_UNHEALTHY;
                        event = HEALTH_EVENT_UNHEALTHY;
                }
        }
        if (h->status != before)
                log_notice("%s: %s", h->name, health_status_to_string(h->status));
        health_save(h);
        return event;
}

int health_process(HealthCheck *h) {
        uint64_t now = now_monotonic_usec();
        int r;

        if (h->runner > 0) {
                siginfo_t si = {};
                if (waitid(P_PID, (id_t) h->runner, &si, WEXITED | WNOHANG) < 0)
                        return -errno;
                if (si.si_pid == 0) {
                        if (now < h->deadline_usec)
                                return HEALTH_EVENT_NONE;
                        runner_kill(h);
                        h->next_usec = now + h->c->health.interval_usec;
                        return check_result(h, false, "timed out");
                }
                h->runner = 0;
                h->runner_pidfd = safe_close(h->runner_pidfd);
                h->next_usec = now + h->c->health.interval_usec;
                if (si.si_code == CLD_EXITED && si.si_status == 0)
                        return check_result(h, true, NULL);

                char why[64];
                if (si.si_code == CLD_EXITED && si.si_status == 127)
                        (void) snprintf(why, sizeof(why), "exit status 127: not found or not started");
                else if (si.si_code == CLD_EXITED)
                        (void) snprintf(why, sizeof(why), "exit status %d", si.si_status);
                else
                        (void) snprintf(why, sizeof(why), "killed by signal %d", si.si_status);
                return check_result(h, false, why);
        }
        if (now < h->next_usec)
                return HEALTH_EVENT_NONE;
        r = check_start(h);
        if (r < 0) {
                h->next_usec = now + h->c->health.interval_usec;
                log_warning_errno(r, "%s: cannot start the health check: %m", h->name);
                return check_result(h, false, "not started");
        }
        return HEALTH_EVENT_NONE;
}

HealthStatus health_read_status(int state_dir_fd) {
        _cleanup_free_ char *s = NULL;
        const char *v;

        if (read_full_file_at(state_dir_fd, "health", &s, NULL, 4096) < 0)
                return HEALTH_NONE;
        v = startswith(s, "STATUS=");
        if (!v)
                return HEALTH_NONE;
        for (HealthStatus i = HEALTH_STARTING; i < _HEALTH_STATUS_MAX; i++) {
                size_t l = strlen(health_status_table[i]);
                if (strncmp(v, health_status_table[i], l) == 0 && IN_SET(v[l], '\n', '\0'))
                        return i;
        }
        return HEALTH_NONE;
}
