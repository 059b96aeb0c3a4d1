/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* [health] checks of a foreground container (cbox up --foreground, e.g. under cbox@NAME.service).
 *
 * The check runs inside the container (its namespaces, cgroup, user, env, capabilities, seccomp, like
 * `cbox exec`), from a runner process that leads its own process group: on timeout the whole group
 * (runner, exec helper and the command inside the container) gets SIGKILL. The caller's wait loop polls
 * health_fd() with health_timeout_ms() and calls health_process(); no thread, no timer unit.
 *
 * Schedule: the first check runs min(interval, 1s) after start, then one every interval. Failures within
 * start_period do not count. Status: starting → healthy after a pass; retries consecutive counted
 * failures → unhealthy; a pass → healthy again. The status is written to <run_root>/NAME/health
 * (STATUS=, FAILURES=, CHECKED_USEC=) for list/status. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "container-internal.h"
#include "spawn.h"

typedef enum HealthStatus {
        HEALTH_NONE, /* no [health] */
        HEALTH_STARTING,
        HEALTH_HEALTHY,
        HEALTH_UNHEALTHY,
        _HEALTH_STATUS_MAX,
} HealthStatus;

const char *health_status_to_string(HealthStatus s);

typedef struct HealthCheck {
        const ContainerConfig *c; /* borrowed: command, env, user, workdir, security, [health] */
        const char *name;         /* borrowed */
        int state_dir_fd;         /* borrowed: <run_root>/NAME */
        int leader_pidfd;         /* borrowed */
        uint64_t namespaces;      /* what a check enters (container_enter_namespaces()) */
        int cgroup_fd;            /* owned: the leader's cgroup, -EBADF = stay in ours */
        const SeccompProgram *seccomp_program; /* borrowed, may be NULL (spawn compiles the default) */
        const ContainerProcess *process;       /* borrowed: user, workdir, env, limits (the payload's) */
        int exec_fd; /* owned: cbox-init's read-only copy (container_open_init()) */

        HealthStatus status;
        unsigned failures; /* consecutive counted failures */
        uint64_t started_usec, next_usec, deadline_usec;
        pid_t runner;
        int runner_pidfd; /* >= 0 while a check runs */
        bool passed_once;
} HealthCheck;

/* Events from health_process() */
enum {
        HEALTH_EVENT_NONE = 0,
        HEALTH_EVENT_FIRST_PASS = 1, /* the first passing check (→ READY=1) */
        HEALTH_EVENT_UNHEALTHY = 2,  /* just became unhealthy */
};

/* Prepares h for c (which must have health.enabled) and writes STATUS=starting. The checks join the
 * cgroup of leader (the container's init). Returns 0 or -errno (not logged). */
int health_init(HealthCheck *h, const char *name, const ContainerConfig *c, const ContainerProcess *process,
                int state_dir_fd, int leader_pidfd, pid_t leader);
void health_done(HealthCheck *h);

/* The fd to poll for POLLIN (the running check's pidfd) or -EBADF, and the poll timeout in ms until
 * the next thing to do (start a check or kill one that timed out). */
int health_fd(const HealthCheck *h);
int health_timeout_ms(const HealthCheck *h);

/* Starts a check that is due, reaps a finished one, kills one past its timeout. Returns an event
 * (≥ 0) or -errno; logs the result of checks that fail (at info) and status changes. */
int health_process(HealthCheck *h);

/* The STATUS= of NAME's health file; HEALTH_NONE when there is none. */
HealthStatus health_read_status(int state_dir_fd);
