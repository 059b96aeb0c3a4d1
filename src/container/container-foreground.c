/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* up --foreground: the wait for the payload (signals forwarded to init, the pty relayed, [health]) and
 * what is released after it exited. */
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "container-health.h"
#include "container-internal.h"
#include "container.h"
#include "fault.h"
#include "fd-util.h"
#include "log.h"
#include "spawn.h"
#include "string-util.h"

/* Foreground: forward signals to init until it exits; returns its exit code. With [health], run the
 * checks meanwhile: READY=1 after the first pass, and with on_failure = "exit" an unhealthy container is
 * stopped (stop_signal, stop_timeout, SIGKILL) and cbox exits with 1 (so a unit's Restart= acts). */
int container_wait_foreground(const char *name, const ContainerConfig *c, SpawnChild *child,
                              const ContainerProcess *process, int state_fd, const SeccompProgram *seccomp) {
        static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT, SIGWINCH };
        _cleanup_close_ int sfd = -EBADF;
        HealthCheck h = { .runner_pidfd = -EBADF, .cgroup_fd = -EBADF, .exec_fd = -EBADF };
        /* on a terminal: the container's pty, relayed here, next to the signals (SIGWINCH resizes it) */
        _cleanup_(spawn_pty_relay_done) SpawnPtyRelay relay = SPAWN_PTY_RELAY_NULL;
        bool health = c->health.enabled, health_stop = false;
        uint64_t kill_at = 0;
        sigset_t mask, old;
        int status = 0, r;

        sigemptyset(&mask);
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                sigaddset(&mask, sigs[i]);
        if (sigprocmask(SIG_BLOCK, &mask, &old) < 0)
                return log_error_errno(errno, "%s: sigprocmask: %m", name);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0)
                return log_error_errno(errno, "%s: signalfd: %m", name);
        if (child->pty_master >= 0)
                (void) spawn_pty_relay_start(&relay, TAKE_FD(child->pty_master), STDIN_FILENO,
                                             STDOUT_FILENO);
        if (health) {
                r = health_init(&h, name, c, process, state_fd, child->pidfd, child->pid);
                h.seccomp_program = seccomp->insns ? seccomp : NULL;
                if (r < 0) {
                        log_warning_errno(r, "%s: cannot set up its health check, running without: %m",
                                          name);
                        health = false;
                        if (getenv("NOTIFY_SOCKET"))
                                (void) sd_notify(0, "READY=1");
                }
        }

        for (;;) {
                struct pollfd p[5] = {
                        { .fd = child->pidfd, .events = POLLIN },
                        { .fd = sfd, .events = POLLIN },
                        { .fd = health ? health_fd(&h) : -1, .events = POLLIN },
                        { .fd = -1 },
                        { .fd = -1 },
                };
                if (relay.master >= 0)
                        spawn_pty_relay_pollfds(&relay, p + 3);
                int timeout = health ? health_timeout_ms(&h) : -1;
                if (kill_at > 0) {
                        uint64_t n = now_realtime_usec();
                        int t = n >= kill_at ? 0
                                             : (int) MIN((kill_at - n + 999) / 1000, (uint64_t) INT32_MAX);
                        timeout = timeout < 0 ? t : MIN(timeout, t);
                }
                if (poll(p, ELEMENTSOF(p), timeout) < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(errno, "%s: poll: %m", name);
                }
                if (relay.master >= 0 && spawn_pty_relay_dispatch(&relay, p + 3) < 0)
                        spawn_pty_relay_done(&relay); /* nobody holds the pty any more */
                if (p[1].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
                                if (si.ssi_signo == SIGWINCH && relay.master >= 0) {
                                        spawn_pty_relay_winch(&relay);
                                        continue;
                                }
                                log_debug("%s: forwarding signal %u", name, si.ssi_signo);
                                if (IN_SET((int) si.ssi_signo, SIGTERM, SIGINT) && getenv("NOTIFY_SOCKET"))
                                        (void) sd_notify(0, "STOPPING=1");
                                (void) container_pidfd_send(child->pidfd, (int) si.ssi_signo);
                        }
                }
                if (p[0].revents & (POLLIN | POLLHUP)) {
                        pid_t pid = waitpid(child->pid, &status, 0);
                        if (pid < 0 && errno == EINTR)
                                continue;
                        if (pid < 0)
                                return log_error_errno(errno, "%s: waitpid: %m", name);
                        break;
                }
                if (kill_at > 0 && now_realtime_usec() >= kill_at) {
                        log_warning("%s: still running after stop_timeout, killing it", name);
                        (void) container_pidfd_send(child->pidfd, SIGKILL);
                        kill_at = 0;
                }
                if (health && !health_stop) {
                        r = health_process(&h);
                        if (r == HEALTH_EVENT_FIRST_PASS && getenv("NOTIFY_SOCKET"))
                                (void) sd_notifyf(0, "READY=1\nSTATUS=Container %s running, healthy", name);
                        else if (r == HEALTH_EVENT_UNHEALTHY &&
                                 c->health.on_failure == HEALTH_ON_FAILURE_EXIT) {
                                log_error("%s: unhealthy, stopping it (on_failure = \"exit\")", name);
                                if (getenv("NOTIFY_SOCKET"))
                                        (void) sd_notifyf(0, "STOPPING=1\nSTATUS=Container %s unhealthy",
                                                          name);
                                health_stop = true;
                                health_done(&h);
                                (void) container_pidfd_send(child->pidfd,
                                                            c->stop_signal > 0 ? c->stop_signal : SIGTERM);
                                kill_at = now_realtime_usec() + c->stop_timeout_usec;
                        } else if (r < 0)
                                log_debug_errno(r, "%s: health check: %m", name);
                }
        }
        health_done(&h);
        spawn_pty_relay_drain(&relay);
        spawn_pty_relay_done(&relay);
        (void) sigprocmask(SIG_SETMASK, &old, NULL);
        child->pid = 0;
        child->pidfd = safe_close(child->pidfd);
        r = spawn_wait_status_to_exit(status);
        return health_stop ? 1 : r;
}

/* Whether <run_root>/containers/NAME is still the state dir this up created (a down meanwhile removes it,
 * and a new up of the same name makes another one). */
static bool state_dir_is_ours(const GlobalConfig *g, const char *name, int state_fd) {
        _cleanup_free_ char *p = state_path(global_config_run_root(g), name, NULL);
        struct stat a, b;

        return p && fstat(state_fd, &a) >= 0 && stat(p, &b) >= 0 && a.st_dev == b.st_dev &&
                a.st_ino == b.st_ino;
}

int container_finish_foreground(const GlobalConfig *g, sd_bus *bus, const char *name, int *state_fd,
                                const char *payload_cgroup, bool in_service, int code) {
        _cleanup_(container_state_freep) ContainerState *s = NULL;

        FAULT_POINT("up.foreground-exited");
        if (!state_dir_is_ours(g, name, *state_fd)) {
                /* downed meanwhile (which released everything), maybe up again: not ours to touch */
                if (payload_cgroup)
                        container_cgroup_remove(payload_cgroup);
                return code;
        }

        /* down-like: the scope is empty now (systemd collects it), drop what is left */
        if (state_load(*state_fd, &s) >= 0) {
                if (in_service) {
                        /* the unit is our own service (and machined's machine follows it): it ends with us
                         */
                        s->unit = mfree(s->unit);
                        s->machine = mfree(s->machine);
                }
                (void) container_release_runtime_full(g, bus, name, s, false);
        }
        if (payload_cgroup)
                container_cgroup_remove(payload_cgroup);
        *state_fd = safe_close(*state_fd);
        (void) state_dir_remove(global_config_run_root(g), name);
        return code;
}
