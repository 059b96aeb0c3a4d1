/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "init.h"
#include "journal-native.h"
#include "string-util.h"
#include "time-util.h"

static const int forward_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT, SIGWINCH };

int init_build_argv(const InitOptions *o, char *const *payload, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        assert(o);
        assert(ret);

        if (!payload || !payload[0])
                return -EINVAL;
        if (o->journal_fd >= 0 && isempty(o->name))
                return -EINVAL;

        r = strv_extend(&l, "cbox-init");
        if (r < 0)
                return r;
        if (o->exit_fd >= 0) {
                if (strv_extend(&l, "--exit-fd") < 0 || strv_consume(&l, strprintf("%d", o->exit_fd)) < 0)
                        return -ENOMEM;
        }
        if (o->journal_fd >= 0) {
                if (strv_extend(&l, "--journal-fd") < 0 ||
                    strv_consume(&l, strprintf("%d", o->journal_fd)) < 0)
                        return -ENOMEM;
        }
        if (o->name) {
                if (strv_extend(&l, "--name") < 0 || strv_extend(&l, o->name) < 0)
                        return -ENOMEM;
        }
        r = strv_extend(&l, "--");
        if (r < 0)
                return r;
        STRV_FOREACH (a, (char **) payload) {
                r = strv_extend(&l, *a);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(l);
        return 0;
}

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s)
                return -EINVAL;
        *ret = v;
        return (int) (end - s);
}

int init_parse_exit_record(const char *text, int *ret_status, uint64_t *ret_usec) {
        bool have_status = false, have_time = false;
        uint64_t status = 0, usec = 0;

        assert(ret_status);

        if (isempty(text))
                return -ENODATA;

        for (const char *p = text; *p;) {
                const char *eol = strchrnul(p, '\n'), *v;
                int n;

                if ((v = startswith(p, "EXIT_STATUS="))) {
                        n = parse_u64(v, &status);
                        if (n < 0 || v + n != eol || status > 255)
                                return -EBADMSG;
                        have_status = true;
                } else if ((v = startswith(p, "EXIT_TIME="))) {
                        n = parse_u64(v, &usec);
                        if (n < 0 || v + n != eol)
                                return -EBADMSG;
                        have_time = true;
                } else if (eol != p)
                        return -EBADMSG;
                p = *eol ? eol + 1 : eol;
        }

        if (!have_status || !have_time)
                return -EBADMSG;

        *ret_status = (int) status;
        if (ret_usec)
                *ret_usec = usec;
        return 0;
}

/* One of the payload's output streams when relaying to the journal */
typedef struct Stream {
        int fd; /* read end of the payload's pipe, -EBADF at EOF */
        const char *name;
        const char *priority;
        char *buf; /* INIT_LINE_MAX bytes */
        size_t n;
        bool cut; /* the last thing emitted was a line cut at INIT_LINE_MAX */
} Stream;

typedef struct Init {
        int exit_fd;
        int journal_fd;
        const char *name;
        const char *exec_path; /* --exec: exec'd in place, no init */
        char **payload;

        pid_t payload_pid;
        int payload_status; /* exit code in shell convention, once payload_pid is reaped */
        bool payload_done;

        Stream streams[2];
} Init;

static void stream_emit(Init *i, Stream *s, const char *line, size_t len) {
        Buffer b = {};

        if (journal_native_append(&b, "MESSAGE", line, len) >= 0 &&
            journal_native_append_string(&b, "PRIORITY", s->priority) >= 0 &&
            journal_native_append_string(&b, "SYSLOG_IDENTIFIER", i->name) >= 0 &&
            journal_native_append_string(&b, "CBOX_CONTAINER", i->name) >= 0 &&
            journal_native_append_string(&b, "CBOX_STREAM", s->name) >= 0)
                /* A lost line is not worth killing the container over: journald may be restarting */
                (void) journal_native_send(i->journal_fd, &b);
        buffer_done(&b);
}

/* Reads what is available; emits complete lines (and full buffers). Returns 0 at EOF, 1 otherwise. */
static int stream_read(Init *i, Stream *s) {
        for (;;) {
                ssize_t k;

                if (s->fd < 0)
                        return 0;

                k = read(s->fd, s->buf + s->n, INIT_LINE_MAX - s->n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 1;
                        k = 0; /* treat errors as EOF */
                }
                if (k == 0) {
                        if (s->n > 0)
                                stream_emit(i, s, s->buf, s->n);
                        s->n = 0;
                        s->fd = safe_close(s->fd);
                        return 0;
                }

                size_t start = 0, end = s->n + (size_t) k;
                for (size_t j = s->n; j < end; j++)
                        if (s->buf[j] == '\n') {
                                /* the newline that ends a line we already cut is no empty line */
                                if (j > start || !s->cut)
                                        stream_emit(i, s, s->buf + start, j - start);
                                s->cut = false;
                                start = j + 1;
                        }
                if (start == 0 && end == INIT_LINE_MAX) {
                        /* an overlong line: cut it */
                        stream_emit(i, s, s->buf, end);
                        s->cut = true;
                        start = end;
                } else if (end > start)
                        s->cut = false;
                memmove(s->buf, s->buf + start, end - start);
                s->n = end - start;
        }
}

static _noreturn_ void exec_payload(Init *i, int out_fd, int err_fd) {
        sigset_t mask;

        /* On the container's pty (init is its session leader, cbox relays it): the payload is the
         * terminal's foreground process group, so what the terminal signals (^C, ^Z, ^\, SIGWINCH)
         * reaches the payload once and not init, which would forward it a second time. SIGTTOU is
         * still blocked here: tcsetpgrp() from the new, background group is allowed. */
        if (isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp() && getsid(0) == getppid()) {
                sigemptyset(&mask);
                sigaddset(&mask, SIGTTOU);
                (void) sigprocmask(SIG_BLOCK, &mask, NULL);
                if (setpgid(0, 0) >= 0)
                        (void) tcsetpgrp(STDIN_FILENO, getpid());
        }

        /* Undo what init set up for itself before running somebody else's code */
        sigemptyset(&mask);
        (void) sigprocmask(SIG_SETMASK, &mask, NULL);
        (void) signal(SIGPIPE, SIG_DFL);

        if (out_fd >= 0) {
                if (dup2(out_fd, STDOUT_FILENO) < 0 || dup2(err_fd, STDERR_FILENO) < 0)
                        _exit(INIT_EXIT_FAILURE);
        }

        execvp(i->payload[0], i->payload);

        int e = errno;
        fprintf(stderr, "cbox-init: failed to execute '%s': %s\n", i->payload[0], strerror(e));
        _exit(IN_SET(e, ENOENT, ENOTDIR) ? INIT_EXIT_NOT_FOUND : INIT_EXIT_NOT_EXECUTABLE);
}

static int status_to_exit(int status) {
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return INIT_EXIT_FAILURE;
}

/* Reaps whatever has exited; notes the payload's status. Returns true when children remain. */
static bool reap(Init *i) {
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                if (pid < 0) {
                        if (errno == EINTR)
                                continue;
                        return false; /* ECHILD: nobody left */
                }
                if (pid == 0)
                        return true;
                if (pid == i->payload_pid) {
                        i->payload_status = status_to_exit(status);
                        i->payload_done = true;
                }
        }
}

static void write_exit_record(Init *i) {
        _cleanup_free_ char *s = NULL;

        if (i->exit_fd < 0)
                return;

        s = strprintf("EXIT_STATUS=%d\nEXIT_TIME=%" PRIu64 "\n", i->payload_status, now_realtime_usec());
        if (!s || loop_write(i->exit_fd, s, strlen(s)) < 0)
                fprintf(stderr, "cbox-init: failed to write the exit status: %s\n",
                        strerror(s ? errno : ENOMEM));
        i->exit_fd = safe_close(i->exit_fd);
}

static int parse_fd(const char *s, int *ret) {
        uint64_t v;
        int n = parse_u64(s, &v);
        if (n < 0 || s[n] != '\0' || v > INT32_MAX)
                return -EINVAL;
        if (fcntl((int) v, F_GETFD) < 0)
                return -EBADF;
        *ret = (int) v;
        return 0;
}

static int parse_argv(Init *i, int argc, char *argv[]) {
        enum { ARG_EXIT_FD = 0x100, ARG_JOURNAL_FD, ARG_NAME, ARG_EXEC };
        static const struct option options[] = {
                { "exec", required_argument, NULL, ARG_EXEC },
                { "exit-fd", required_argument, NULL, ARG_EXIT_FD },
                { "journal-fd", required_argument, NULL, ARG_JOURNAL_FD },
                { "name", required_argument, NULL, ARG_NAME },
                {},
        };
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "+", options, NULL)) >= 0)
                switch (c) {
                case ARG_EXIT_FD:
                        if (parse_fd(optarg, &i->exit_fd) < 0) {
                                fprintf(stderr, "cbox-init: invalid --exit-fd '%s'\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_JOURNAL_FD:
                        if (parse_fd(optarg, &i->journal_fd) < 0) {
                                fprintf(stderr, "cbox-init: invalid --journal-fd '%s'\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_NAME:
                        i->name = optarg;
                        break;
                case ARG_EXEC:
                        i->exec_path = optarg;
                        break;
                default:
                        return -EINVAL;
                }

        /* "--" is required: run as the interpreter of a "#!/proc/self/exe" script (argv: the
         * script's path) we must not start it again, and again */
        if (optind >= argc || optind < 2 || !streq(argv[optind - 1], "--")) {
                fprintf(stderr,
                        "usage: cbox-init [--exit-fd N] [--journal-fd N] [--name NAME] -- CMD "
                        "[ARGS...]\n       cbox-init --exec PATH -- ARGV0 [ARGS...]\n");
                return -EINVAL;
        }
        if (i->journal_fd >= 0 && isempty(i->name)) {
                fprintf(stderr, "cbox-init: --journal-fd needs --name\n");
                return -EINVAL;
        }
        i->payload = argv + optind;
        return 0;
}

/* `cbox exec` and [health]: only the last step from cbox's read-only copy to the command */
static int exec_in_place(Init *i) {
        (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        execv(i->exec_path, i->payload);
        int e = errno;
        fprintf(stderr, "cbox-init: failed to execute '%s': %s\n", i->exec_path, strerror(e));
        return IN_SET(e, ENOENT, ENOTDIR) ? INIT_EXIT_NOT_FOUND : INIT_EXIT_NOT_EXECUTABLE;
}

/* SIGCHLD and the forwarded signals, blocked and read from the returned signalfd */
static int signals_open(void) {
        sigset_t mask;
        int sfd;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        for (size_t k = 0; k < ELEMENTSOF(forward_signals); k++)
                sigaddset(&mask, forward_signals[k]);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0) {
                int e = errno;
                fprintf(stderr, "cbox-init: signalfd: %s\n", strerror(e));
                return -e;
        }
        return sfd;
}

/* Forks the payload. With a journal, its stdout and stderr are pipes whose read ends become the
 * streams passed on. */
static int payload_start(Init *i) {
        _cleanup_close_pair_ int out_pipe[2] = { -EBADF, -EBADF }, err_pipe[2] = { -EBADF, -EBADF };

        if (i->journal_fd >= 0) {
                if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) {
                        fprintf(stderr, "cbox-init: pipe: %s\n", strerror(errno));
                        return -EPIPE;
                }
                (void) fd_set_cloexec(i->journal_fd, true);
        }
        if (i->exit_fd >= 0)
                (void) fd_set_cloexec(i->exit_fd, true);

        i->payload_pid = fork();
        if (i->payload_pid < 0) {
                fprintf(stderr, "cbox-init: fork: %s\n", strerror(errno));
                return -ECHILD;
        }
        if (i->payload_pid == 0)
                exec_payload(i, out_pipe[1], err_pipe[1]);

        if (i->journal_fd >= 0) {
                out_pipe[1] = safe_close(out_pipe[1]);
                err_pipe[1] = safe_close(err_pipe[1]);
                for (size_t k = 0; k < 2; k++) {
                        Stream *s = &i->streams[k];
                        s->fd = k == 0 ? TAKE_FD(out_pipe[0]) : TAKE_FD(err_pipe[0]);
                        (void) fd_set_nonblock(s->fd, true);
                        s->buf = malloc(INIT_LINE_MAX);
                        if (!s->buf)
                                s->fd = safe_close(s->fd); /* drop output rather than die */
                }
        }
        return 0;
}

/* Until the payload is reaped: pass its output on, forward the signals sfd reads to it */
static void supervise(Init *i, int sfd) {
        while (!i->payload_done) {
                struct pollfd p[3] = {
                        { .fd = sfd, .events = POLLIN },
                        { .fd = i->streams[0].fd, .events = POLLIN },
                        { .fd = i->streams[1].fd, .events = POLLIN },
                };

                if (poll(p, ELEMENTSOF(p), -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "cbox-init: poll: %s\n", strerror(errno));
                        break;
                }

                for (size_t k = 0; k < 2; k++)
                        if (p[k + 1].revents)
                                (void) stream_read(i, &i->streams[k]);

                for (;;) {
                        struct signalfd_siginfo si;
                        ssize_t n = read(sfd, &si, sizeof(si));
                        if (n != (ssize_t) sizeof(si))
                                break;
                        if (si.ssi_signo == SIGCHLD)
                                continue;
                        if (!i->payload_done)
                                (void) kill(i->payload_pid, (int) si.ssi_signo);
                }
                (void) reap(i);
        }
}

/* The payload is gone: take what it wrote, end whatever it left behind, reap it all. */
static void drain_and_reap(Init *i, bool pid1) {
        for (size_t k = 0; k < 2; k++)
                (void) stream_read(i, &i->streams[k]);
        if (pid1)
                (void) kill(-1, SIGKILL);
        while (reap(i)) {
                if (!pid1)
                        break; /* not our namespace to empty; subreaper collects what exits */
                (void) waitpid(-1, NULL, 0);
        }
        /* All writers are dead now (in a pid namespace): read to EOF. Otherwise, only what is there. */
        for (size_t k = 0; k < 2; k++) {
                Stream *s = &i->streams[k];
                if (s->fd >= 0 && pid1)
                        (void) fd_set_nonblock(s->fd, false);
                (void) stream_read(i, s);
                s->fd = safe_close(s->fd);
                free(s->buf);
        }
}

int init_main(int argc, char *argv[]) {
        Init i = {
                .exit_fd = -EBADF,
                .journal_fd = -EBADF,
                .payload_status = INIT_EXIT_FAILURE,
                .streams = {
                        { .fd = -EBADF, .name = "stdout", .priority = "6" },
                        { .fd = -EBADF, .name = "stderr", .priority = "3" },
                },
        };
        _cleanup_close_ int sfd = -EBADF;
        bool pid1 = getpid() == 1;

        if (parse_argv(&i, argc, argv) < 0)
                return INIT_EXIT_FAILURE;

        if (i.exec_path)
                return exec_in_place(&i);

        /* Nobody may ptrace us or open /proc/1/exe, mem, environ… */
        (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        /* Outside a pid namespace (tests): still collect orphans */
        if (!pid1)
                (void) prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        (void) signal(SIGPIPE, SIG_IGN);

        sfd = signals_open();
        if (sfd < 0)
                return INIT_EXIT_FAILURE;
        if (payload_start(&i) < 0)
                return INIT_EXIT_FAILURE;
        supervise(&i, sfd);
        drain_and_reap(&i, pid1);

        write_exit_record(&i);
        return i.payload_status;
}
