/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* spawn/: creates the container's first process in new namespaces and turns it into cbox-init;
 * enters a running container for `cbox exec`.
 *
 * Life of a container process (spawn_container() → spawn_child_release()):
 *   parent: clone3(CLONE_NEW*, CLONE_PIDFD) (fallback clone) → returns pid + pidfd; the child
 *           blocks on the sync channel.
 *   parent: places the child into its unit/cgroup, sets up its network namespace, …
 *   parent: spawn_child_release() says "go", then waits until the child has exec'd (the
 *           O_CLOEXEC sync socket closes) or reported a setup error (errno + message).
 *   child:  unshare(CLONE_NEWCGROUP) (only now, so the namespace is rooted at the unit's cgroup),
 *           signal dispositions and mask reset, stdio,
 *           p->child_setup() (rootfs_setup(): mounts, pivot_root), sethostname, user lookup in the
 *           container's /etc/passwd, the seccomp filter (if asked), capability bounding set,
 *           setgroups/setgid/setuid, capset, PR_SET_NO_NEW_PRIVS, chdir workdir, clean env,
 *           every fd not in keep_fds O_CLOEXEC, execveat(exec_fd, "", argv, env, AT_EMPTY_PATH).
 *           Every fd other than 0-2, keep_fds, exec_fd and the sync channel is closed right after
 *           "go", before anything is resolved in the container (runc CVE-2024-21626: a workdir of
 *           /proc/self/fd/N must find nothing of the host). Inheritable and ambient sets are empty.
 *
 * Depends on basic/ (and libseccomp, json-c for profile files). No logging: errors are -errno plus an
 * ErrorMessage where the child can tell which step failed ("mount /proc", "setuid 1000").
 *
 * CONTRACT: fields may be added to the structs (zero-initialise them; zero = default, fds that are
 * not used must be set to -EBADF); nothing is renamed or removed. */

#include <linux/filter.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <termios.h>

#include "errmsg.h"
#include "macros.h"

/* One resource limit set on a container process instead of the caller's (setrlimit, before the
 * capabilities are dropped, so the hard limit may be raised). UINT64_MAX = RLIM_INFINITY. */
typedef struct SpawnRlimit {
        int resource; /* RLIMIT_NOFILE, RLIMIT_NPROC, … */
        uint64_t soft, hard;
        /* a default rather than an order: when the hard limit cannot be raised (EPERM, no
         * CAP_SYS_RESOURCE), both are lowered to the hard limit we have */
        bool clamp;
} SpawnRlimit;

/* pid, mount, uts, ipc, cgroup, net. A new net namespace that nobody configures only has "lo"
 * (network mode "none"). */
#define SPAWN_NAMESPACES_DEFAULT                                                                            \
        ((uint64_t) (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP |           \
                     CLONE_NEWNET))

/* Runs in the child, after it was released, in its new namespaces, before anything built-in.
 * Return 0 or -errno; on failure write the failed step to msg (it ends up in the ErrorMessage). */
typedef int (*SpawnChildSetup)(void *userdata, char *msg, size_t msg_size);

/* A compiled seccomp filter (classic BPF), see seccomp-profile.h */
typedef struct SeccompProgram {
        struct sock_filter *insns;
        size_t n_insns;
} SeccompProgram;

/* Settings shared by spawn_container() and spawn_exec_in() */
typedef struct SpawnProcess {
        char **argv; /* what is executed; for spawn_container the full argv of cbox-init (see init.h) */
        char **env;  /* extra "KEY=VALUE" on top of the clean default environment (see spawn_build_env) */
        const char *user;    /* "uid", "uid:gid", "name", "name:group" (from the container's /etc/passwd
                              * and /etc/group, parsed directly, no NSS); NULL = root */
        const char *workdir; /* absolute path in the container; NULL = "/". Resolved inside the new
                              * root (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS: /proc/self/fd/N
                              * and symlinks out of the root are refused) after every fd the caller
                              * did not hand over is closed, and checked to be below the root
                              * (getcwd not "(unreachable)") */

        /* Capability bounding set (and effective/permitted/inheritable/ambient for uid 0): Docker's
         * default 14 + cap_add − cap_drop. Names "CAP_NET_ADMIN" or "NET_ADMIN", case-insensitive;
         * "ALL" in cap_drop drops everything not in cap_add, "ALL" in cap_add keeps everything. */
        char **cap_add;
        char **cap_drop;
        bool allow_new_privileges; /* false (default) = PR_SET_NO_NEW_PRIVS */
        /* Install a seccomp filter (spawn_seccomp_apply()); false = unconfined */
        bool seccomp;
        /* The filter, compiled by the caller (seccomp_program_build(), cached); NULL = compile
         * cbox's default profile for the process's capabilities in the child */
        const SeccompProgram *seccomp_program;

        int stdin_fd, stdout_fd, stderr_fd; /* dup'ed to 0/1/2 in the child; -EBADF = inherit */

        /* setrlimit() each of these (instead of inheriting the caller's limits) */
        const SpawnRlimit *rlimits;
        size_t n_rlimits;
        /* write oom_score_adj (-1000..1000) to /proc/self/oom_score_adj; false = inherit */
        bool oom_score_adj_set;
        int oom_score_adj;
        bool oom_score_adj_best_effort; /* a default: EACCES (lowering it needs CAP_SYS_RESOURCE) ignored */
} SpawnProcess;

typedef struct SpawnParams {
        SpawnProcess process;

        uint64_t namespaces;  /* CLONE_NEW* flags; 0 = SPAWN_NAMESPACES_DEFAULT */
        const char *hostname; /* sethostname() when CLONE_NEWUTS; NULL = leave as is */

        SpawnChildSetup child_setup; /* may be NULL */
        void *userdata;

        /* The executable run as the container's PID 1: an fd on the static cbox-init, opened
         * before pivot_root (see spawn_open_executable()). Executed with execveat(AT_EMPTY_PATH). */
        int exec_fd;
        /* fds that stay open (same numbers) across the exec, e.g. cbox-init's --exit-fd and
         * --journal-fd; everything else except 0, 1, 2 and exec_fd is closed */
        const int *keep_fds;
        size_t n_keep_fds;

        /* A pty of the container's own (its devpts, opened after pivot_root) as the controlling
         * terminal and stdin/stdout/stderr of the container (process.std*_fd are ignored); the
         * master comes back in SpawnChild.pty_master for the caller to relay (SpawnPtyRelay).
         * Without it the child still gets a session of its own: the caller's terminal is never
         * its controlling terminal. */
        bool tty;

        /* A user namespace, created at the clone so that it owns every other new namespace, in
         * which uids and gids 0..userns_count-1 are the host's userns_start..: the parent writes
         * both maps before spawn_container() returns (so the caller may open /proc/PID/ns/user);
         * after child_setup the child becomes uid and gid 0 in it, without the host's
         * supplementary groups (child_setup runs as the host's uid 0, unmapped there, and may do so
         * earlier itself, as rootfs_setup() does with RootfsParams.userns). 0 = none. */
        uint32_t userns_start, userns_count;
        /* Where the child keeps the fd spawn_child_release_fd() hands over with the "go": a pointer
         * into memory the child has as a copy from the clone (e.g. RootfsParams.root_mount_fd, set
         * before child_setup runs). NULL = no fd is expected. */
        int *release_fd;
} SpawnParams;

/* The parent's handle on a spawned, possibly still waiting child */
typedef struct SpawnChild {
        pid_t pid;
        int pidfd;      /* CLONE_PIDFD (or pidfd_open() after a clone() fallback) */
        int sync_fd;    /* parent end of the sync channel; -EBADF once released */
        int pty_master; /* with SpawnParams.tty: the container's pty, set by spawn_child_release() */
} SpawnChild;

#define SPAWN_CHILD_NULL ((SpawnChild){ .pid = 0, .pidfd = -EBADF, .sync_fd = -EBADF, .pty_master = -EBADF })

/* Closes the handle's fds. Does NOT kill or reap the child (a waiting child exits on its own when
 * the sync channel closes without a "go"). */
void spawn_child_done(SpawnChild *c);

/* clone3()s the child into new namespaces; it waits for spawn_child_release(). ret is set only on
 * success. Needs CAP_SYS_ADMIN. */
int spawn_container(const SpawnParams *p, SpawnChild *ret);

/* Releases the child and waits until it exec'd cbox-init (returns 0, c->pty_master set with
 * SpawnParams.tty) or failed. On a child-side
 * failure returns the child's -errno with err filled in (-errno and the failed step; free it with
 * error_message_done()), and reaps the child (c->pidfd stays
 * open but refers to a reaped process). A child killed before it could report (OOM, SIGKILL)
 * also looks like 0: its exit shows on the pidfd. */
int spawn_child_release(SpawnChild *c, ErrorMessage *err);
/* The same, handing fd (not taken) to the child with the "go" (SpawnParams.release_fd) */
int spawn_child_release_fd(SpawnChild *c, int fd, ErrorMessage *err);

/* How spawn_open_executable() keeps the container's PID 1 binary safe from the container, best
 * first */
typedef enum SpawnExecutableKind {
        /* an fd on the file in a read-only, nosuid, nodev bind mount of it that is attached nowhere
         * (open_tree(OPEN_TREE_CLONE) + mount_setattr(), 5.12+, CAP_SYS_ADMIN): the file's own page
         * cache, so the text of every container's init is shared; opens for writing: EROFS */
        SPAWN_EXECUTABLE_MOUNT,
        /* a sealed memfd copy of the file: writes fail with EPERM; one private copy per call */
        SPAWN_EXECUTABLE_MEMFD,
        /* the file itself (neither was possible) */
        SPAWN_EXECUTABLE_FILE,
} SpawnExecutableKind;

/* Opens an executable so that it can be exec'd after pivot_root and a container can never write
 * through /proc/1/exe to the host's binary (the runc CVE-2019-5736 class): the first of the kinds
 * above that works (the detached mount is what runc >= 1.2 does instead of a memfd per container).
 * The fd is O_CLOEXEC (O_PATH for a MOUNT): execveat(fd, "", AT_EMPTY_PATH) works on ELF
 * binaries. */
int spawn_open_executable(const char *path, int *ret_fd);
/* The same, trying the kinds from best on (tests use it to reach the fallbacks); *ret_kind (may
 * be NULL) says which one the fd is */
int spawn_open_executable_full(const char *path, SpawnExecutableKind best, int *ret_fd,
                               SpawnExecutableKind *ret_kind);

/* `cbox exec`: run a process inside a running container. */
typedef struct SpawnExecParams {
        SpawnProcess process; /* argv[0] is searched in the container's PATH when it has no '/' */

        int leader_pidfd;    /* pidfd of the container's PID 1 (setns(pidfd, ...), kernel >= 5.8) */
        uint64_t namespaces; /* which to enter; 0 = SPAWN_NAMESPACES_DEFAULT */
        int cgroup_fd;       /* directory fd of the cgroup to join (clone3 CLONE_INTO_CGROUP, or
                              * cgroup.procs); -EBADF = stay in cbox's cgroup */
        /* cbox-init, opened with spawn_open_executable() (a read-only detached mount or a sealed
         * memfd). The process that enters the container is non-dumpable from its first instant,
         * closes every fd it was not given, and exec's this ("cbox-init --exec PATH -- ARGV…", see
         * init.h) as soon as it is set up, which then exec's the command: nothing in the container
         * ever sees cbox's own binary as a process's executable (runc CVE-2019-5736: no
         * #!/proc/self/exe, no /proc/PID/exe to reopen for writing). Must be set; -EBADF = exec
         * the command directly from cbox's binary (only for tests of the fallback). */
        int exec_fd;
        /* Allocate a pty in the container's devpts (/dev/pts/ptmx after setns) as the process's
         * controlling terminal; the caller's stdin/stdout are relayed to it (stdin in raw mode
         * when it is a terminal) and the window size is copied (and on SIGWINCH). */
        bool tty;
} SpawnExecParams;

/* Runs p->process.argv inside the container and waits for it. *ret_status gets its exit code,
 * or 128+signal when it was killed. Returns -errno (with err filled where the child said why)
 * when it could not be started. */
int spawn_exec_in(const SpawnExecParams *p, int *ret_status, ErrorMessage *err);

/* Relaying a pty master to the caller's terminal, as `exec -t` does and container/ does for
 * `up --foreground` on a terminal (in its own poll loop, next to its signals):
 *   spawn_pty_relay_start(): copies in_fd's window size to the pty, puts in_fd in raw mode (when a
 *     terminal; the process's own pty does the line discipline), the master non-blocking; takes
 *     the master.
 *   spawn_pty_relay_pollfds() fills two pollfds, spawn_pty_relay_dispatch() handles their revents:
 *     master → out_fd, in_fd → master (EOF on in_fd: ^D to the pty); returns -EIO once every
 *     holder of the pty's peer is gone.
 *   spawn_pty_relay_winch(): on SIGWINCH, the size again (the kernel signals the pty's foreground
 *     process group).
 *   spawn_pty_relay_drain(): after the process exited, what is left in the master.
 *   spawn_pty_relay_done(): restores in_fd's mode and closes the master; call it on every path. */
typedef struct SpawnPtyRelay {
        int master, in_fd, out_fd;
        bool in_open, restore;
        struct termios saved;
} SpawnPtyRelay;

#define SPAWN_PTY_RELAY_NULL ((SpawnPtyRelay){ .master = -EBADF, .in_fd = -EBADF, .out_fd = -EBADF })

int spawn_pty_relay_start(SpawnPtyRelay *r, int master, int in_fd, int out_fd);
void spawn_pty_relay_pollfds(const SpawnPtyRelay *r, struct pollfd pf[static 2]);
int spawn_pty_relay_dispatch(SpawnPtyRelay *r, const struct pollfd pf[static 2]);
void spawn_pty_relay_winch(SpawnPtyRelay *r);
void spawn_pty_relay_drain(SpawnPtyRelay *r);
void spawn_pty_relay_done(SpawnPtyRelay *r);

/* Building blocks, exported for container/, exec and tests */

/* Capability names: "CAP_CHOWN"/"chown" → 0 etc.; -EINVAL when unknown */
int capability_from_name(const char *name);
/* "CAP_CHOWN" for 0, NULL when unknown */
const char *capability_to_name(int cap);
/* The highest capability the running kernel knows (/proc/sys/kernel/cap_last_cap) */
int capability_last_cap(void);
/* Docker's default set as a bit mask (bit n = capability n) */
uint64_t capability_default_set(void);
/* Default set + add − drop; -EINVAL on an unknown name */
int capability_compute_set(char **add, char **drop, uint64_t *ret);

/* Resolves "uid[:gid]" or "name[:group]" against the passwd/group files below root_fd (an fd on
 * the container's "/", or AT_FDCWD after pivot_root). ret_home may be NULL; HOME is "/" when the
 * user has no passwd entry. -ESRCH when a name is not found. */
int spawn_resolve_user(int root_fd, const char *user, uid_t *ret_uid, gid_t *ret_gid, gid_t **ret_groups,
                       size_t *ret_n_groups, char **ret_home);

/* The environment a container process gets: PATH (default
 * /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin), HOME, container=cbox, TERM when
 * tty, then extra (overriding earlier ones of the same key). */
int spawn_build_env(char **extra, const char *home, bool tty, char ***ret);

/* Installs p->seccomp_program, or else cbox's default profile (seccomp-profile.h: an allow-list
 * equal in effect to Docker's default) compiled for the capability set caps. Loaded into the
 * calling process (in the child, while it still has CAP_SYS_ADMIN). */
int spawn_seccomp_apply(const SpawnProcess *p, uint64_t caps);

/* Encodes a wait status as a shell would: exit code, or 128+signal */
int spawn_wait_status_to_exit(int status);
