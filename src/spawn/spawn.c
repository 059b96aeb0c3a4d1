/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "fileio.h"
#include "spawn.h"
#include "process-util.h"
#include "spawn-internal.h"
#include "string-util.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* ---- capabilities ---- */

static const char *const capability_names[] = {
        [CAP_CHOWN] = "CAP_CHOWN",
        [CAP_DAC_OVERRIDE] = "CAP_DAC_OVERRIDE",
        [CAP_DAC_READ_SEARCH] = "CAP_DAC_READ_SEARCH",
        [CAP_FOWNER] = "CAP_FOWNER",
        [CAP_FSETID] = "CAP_FSETID",
        [CAP_KILL] = "CAP_KILL",
        [CAP_SETGID] = "CAP_SETGID",
        [CAP_SETUID] = "CAP_SETUID",
        [CAP_SETPCAP] = "CAP_SETPCAP",
        [CAP_LINUX_IMMUTABLE] = "CAP_LINUX_IMMUTABLE",
        [CAP_NET_BIND_SERVICE] = "CAP_NET_BIND_SERVICE",
        [CAP_NET_BROADCAST] = "CAP_NET_BROADCAST",
        [CAP_NET_ADMIN] = "CAP_NET_ADMIN",
        [CAP_NET_RAW] = "CAP_NET_RAW",
        [CAP_IPC_LOCK] = "CAP_IPC_LOCK",
        [CAP_IPC_OWNER] = "CAP_IPC_OWNER",
        [CAP_SYS_MODULE] = "CAP_SYS_MODULE",
        [CAP_SYS_RAWIO] = "CAP_SYS_RAWIO",
        [CAP_SYS_CHROOT] = "CAP_SYS_CHROOT",
        [CAP_SYS_PTRACE] = "CAP_SYS_PTRACE",
        [CAP_SYS_PACCT] = "CAP_SYS_PACCT",
        [CAP_SYS_ADMIN] = "CAP_SYS_ADMIN",
        [CAP_SYS_BOOT] = "CAP_SYS_BOOT",
        [CAP_SYS_NICE] = "CAP_SYS_NICE",
        [CAP_SYS_RESOURCE] = "CAP_SYS_RESOURCE",
        [CAP_SYS_TIME] = "CAP_SYS_TIME",
        [CAP_SYS_TTY_CONFIG] = "CAP_SYS_TTY_CONFIG",
        [CAP_MKNOD] = "CAP_MKNOD",
        [CAP_LEASE] = "CAP_LEASE",
        [CAP_AUDIT_WRITE] = "CAP_AUDIT_WRITE",
        [CAP_AUDIT_CONTROL] = "CAP_AUDIT_CONTROL",
        [CAP_SETFCAP] = "CAP_SETFCAP",
        [CAP_MAC_OVERRIDE] = "CAP_MAC_OVERRIDE",
        [CAP_MAC_ADMIN] = "CAP_MAC_ADMIN",
        [CAP_SYSLOG] = "CAP_SYSLOG",
        [CAP_WAKE_ALARM] = "CAP_WAKE_ALARM",
        [CAP_BLOCK_SUSPEND] = "CAP_BLOCK_SUSPEND",
        [CAP_AUDIT_READ] = "CAP_AUDIT_READ",
        [CAP_PERFMON] = "CAP_PERFMON",
        [CAP_BPF] = "CAP_BPF",
        [CAP_CHECKPOINT_RESTORE] = "CAP_CHECKPOINT_RESTORE",
};

int capability_from_name(const char *name) {
        const char *n;

        if (!name)
                return -EINVAL;
        n = strncasecmp(name, "CAP_", 4) == 0 ? name + 4 : name;
        for (size_t i = 0; i < ELEMENTSOF(capability_names); i++)
                if (capability_names[i] && strcasecmp(capability_names[i] + 4, n) == 0)
                        return (int) i;
        return -EINVAL;
}

const char *capability_to_name(int cap) {
        if (cap < 0 || (size_t) cap >= ELEMENTSOF(capability_names))
                return NULL;
        return capability_names[cap];
}

int capability_last_cap(void) {
        static int cached = -1;
        _cleanup_free_ char *s = NULL;

        if (cached >= 0)
                return cached;
        if (read_one_line_file("/proc/sys/kernel/cap_last_cap", &s) >= 0) {
                int v = atoi(s);
                if (v > 0 && v < 64)
                        return (cached = v);
        }
        /* /proc may be the container's or missing: fall back to what we were built with */
        return CAP_LAST_CAP;
}

uint64_t capability_default_set(void) {
        static const int caps[] = {
                CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,
                CAP_MKNOD,   CAP_NET_RAW,      CAP_SETGID,           CAP_SETUID,
                CAP_SETFCAP, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
                CAP_KILL,    CAP_AUDIT_WRITE,
        };
        uint64_t m = 0;

        for (size_t i = 0; i < ELEMENTSOF(caps); i++)
                m |= UINT64_C(1) << caps[i];
        return m;
}

int capability_compute_set(char **add, char **drop, uint64_t *ret) {
        uint64_t all = 0, set = capability_default_set(), a = 0, d = 0;
        bool add_all = false, drop_all = false;
        int last = capability_last_cap();

        assert(ret);

        for (int c = 0; c <= last && c < 64; c++)
                all |= UINT64_C(1) << c;

        STRV_FOREACH (s, add) {
                if (strcasecmp(*s, "ALL") == 0) {
                        add_all = true;
                        continue;
                }
                int c = capability_from_name(*s);
                if (c < 0)
                        return c;
                a |= UINT64_C(1) << c;
        }
        STRV_FOREACH (s, drop) {
                if (strcasecmp(*s, "ALL") == 0) {
                        drop_all = true;
                        continue;
                }
                int c = capability_from_name(*s);
                if (c < 0)
                        return c;
                d |= UINT64_C(1) << c;
        }

        if (add_all)
                set = all;
        if (drop_all)
                set = 0;
        set = ((set & ~d) | a) & all;

        *ret = set;
        return 0;
}

/* ---- users ---- */

static int open_in_root(int root_fd, const char *path, int flags) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                /* AT_FDCWD: we are inside the container already; still no /proc/…/root jumps */
                .resolve = RESOLVE_NO_MAGICLINKS | (root_fd == AT_FDCWD ? 0 : RESOLVE_IN_ROOT),
        };
        int fd;

        fd = (int) syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
        if (fd < 0)
                return -errno;
        return fd;
}

/* The image controls these files: a FIFO must not hang us, a device must not feed us forever */
static int read_db(int root_fd, const char *path, char **ret) {
        _cleanup_close_ int fd = open_in_root(root_fd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
        struct stat st;

        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        return read_full_fd(fd, ret, NULL, 16U * 1024U * 1024U);
}

static bool parse_id(const char *s, uint32_t *ret) {
        char *end;
        unsigned long v;

        if (isempty(s) || !isdigit((unsigned char) s[0]))
                return false;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end || v >= UINT32_MAX)
                return false;
        *ret = (uint32_t) v;
        return true;
}

/* Splits a passwd/group line into at most n fields at ':'; returns the number found */
static size_t split_fields(char *line, char **f, size_t n) {
        size_t k = 0;
        f[k++] = line;
        for (char *p = line; *p && k < n; p++)
                if (*p == ':') {
                        *p = '\0';
                        f[k++] = p + 1;
                }
        return k;
}

/* Looks up a passwd entry by name (when name) or uid */
static int passwd_find(const char *db, const char *name, uid_t uid, char **ret_name, uid_t *ret_uid,
                       gid_t *ret_gid, char **ret_home) {
        _cleanup_free_ char *copy = strdup(strempty(db));
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *f[7];
                uint32_t u, g;

                if (split_fields(line, f, 7) < 7)
                        continue;
                if (!parse_id(f[2], &u) || !parse_id(f[3], &g))
                        continue;
                if (name ? !streq(f[0], name) : u != uid)
                        continue;

                if (ret_name && !(*ret_name = strdup(f[0])))
                        return -ENOMEM;
                if (ret_home && !(*ret_home = strdup(isempty(f[5]) ? "/" : f[5]))) {
                        if (ret_name)
                                *ret_name = mfree(*ret_name);
                        return -ENOMEM;
                }
                *ret_uid = u;
                *ret_gid = g;
                return 0;
        }
        return -ESRCH;
}

static int group_find(const char *db, const char *name, gid_t *ret_gid) {
        _cleanup_free_ char *copy = strdup(strempty(db));
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *f[4];
                uint32_t g;

                if (split_fields(line, f, 4) < 3 || !parse_id(f[2], &g))
                        continue;
                if (streq(f[0], name)) {
                        *ret_gid = g;
                        return 0;
                }
        }
        return -ESRCH;
}

/* Supplementary groups: every group listing user as a member */
static int group_members(const char *db, const char *user, gid_t primary, gid_t **ret, size_t *ret_n) {
        _cleanup_free_ char *copy = strdup(strempty(db));
        _cleanup_free_ gid_t *l = NULL;
        size_t n = 0;
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        if (user)
                for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                        char *f[4], *msave = NULL;
                        uint32_t g;

                        if (split_fields(line, f, 4) < 4 || !parse_id(f[2], &g) || g == primary)
                                continue;
                        for (char *m = strtok_r(f[3], ",", &msave); m; m = strtok_r(NULL, ",", &msave))
                                if (streq(m, user)) {
                                        if (n >= NGROUPS_MAX)
                                                break;
                                        gid_t *nl = realloc(l, (n + 1) * sizeof(gid_t));
                                        if (!nl)
                                                return -ENOMEM;
                                        l = nl;
                                        l[n++] = g;
                                        break;
                                }
                }

        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

int spawn_resolve_user(int root_fd, const char *user, uid_t *ret_uid, gid_t *ret_gid, gid_t **ret_groups,
                       size_t *ret_n_groups, char **ret_home) {
        _cleanup_free_ char *passwd = NULL, *group = NULL, *u = NULL, *name = NULL, *home = NULL;
        _cleanup_free_ gid_t *groups = NULL;
        size_t n_groups = 0;
        const char *gpart = NULL;
        uid_t uid = 0;
        gid_t gid = 0;
        uint32_t v;
        int r;

        assert(ret_uid);
        assert(ret_gid);

        if (isempty(user))
                user = "0";
        u = strdup(user);
        if (!u)
                return -ENOMEM;
        char *colon = strchr(u, ':');
        if (colon) {
                *colon = '\0';
                gpart = colon + 1;
                if (isempty(gpart) || isempty(u))
                        return -EINVAL;
        }

        /* Missing files are fine for numeric ids: a scratch image has no /etc/passwd */
        r = read_db(root_fd, "/etc/passwd", &passwd);
        if (r < 0 && r != -ENOENT)
                return r;
        r = read_db(root_fd, "/etc/group", &group);
        if (r < 0 && r != -ENOENT)
                return r;

        if (parse_id(u, &v)) {
                uid = v;
                r = passwd_find(passwd, NULL, uid, &name, &uid, &gid, &home);
                if (r == -ESRCH)
                        gid = 0; /* like Docker: an unknown uid runs with gid 0 */
                else if (r < 0)
                        return r;
        } else {
                r = passwd_find(passwd, u, 0, &name, &uid, &gid, &home);
                if (r < 0)
                        return r;
        }

        if (gpart) {
                if (parse_id(gpart, &v))
                        gid = v;
                else {
                        r = group_find(group, gpart, &gid);
                        if (r < 0)
                                return r;
                }
        }

        if (ret_groups) {
                r = group_members(group, name, gid, &groups, &n_groups);
                if (r < 0)
                        return r;
        }
        if (ret_home && !home) {
                home = strdup("/");
                if (!home)
                        return -ENOMEM;
        }

        *ret_uid = uid;
        *ret_gid = gid;
        if (ret_groups) {
                *ret_groups = TAKE_PTR(groups);
                *ret_n_groups = n_groups;
        }
        if (ret_home)
                *ret_home = TAKE_PTR(home);
        return 0;
}

/* ---- environment ---- */

static int env_set(char ***l, const char *assignment) {
        const char *eq = strchr(assignment, '=');
        size_t klen;

        if (!eq || eq == assignment)
                return -EINVAL;
        klen = (size_t) (eq - assignment) + 1;
        for (char **e = *l; e && *e; e++)
                if (strneq(*e, assignment, klen))
                        return free_and_strdup(e, assignment);
        return strv_extend(l, assignment);
}

int spawn_build_env(char **extra, const char *home, bool tty, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *h = NULL;
        int r;

        assert(ret);

        h = strjoin("HOME=", home ?: "/");
        if (!h)
                return -ENOMEM;
        r = env_set(&l, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        if (r >= 0)
                r = env_set(&l, h);
        if (r >= 0)
                r = env_set(&l, "container=cbox");
        if (r >= 0 && tty)
                r = env_set(&l, "TERM=xterm");
        if (r < 0)
                return r;
        STRV_FOREACH (e, extra) {
                r = env_set(&l, *e);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(l);
        return 0;
}

int spawn_wait_status_to_exit(int status) {
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return -EINVAL;
}

/* ---- the child side ---- */

static void error_set(SpawnWireError *err, int r, const char *fmt, ...) _printf_(3, 4);
static void error_set(SpawnWireError *err, int r, const char *fmt, ...) {
        va_list ap;

        if (!err)
                return;
        err->error = abs(r);
        va_start(ap, fmt);
        (void) vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
}

/* Sends the failure to the parent and exits. Only in the child. */
_noreturn_ void spawn_child_fail(int sync_fd, const SpawnWireError *err) {
        if (sync_fd >= 0)
                (void) send(sync_fd, err, sizeof(*err), MSG_NOSIGNAL);
        _exit(EXIT_FAILURE);
}

int spawn_wire_error_pass(const SpawnWireError *w, int r, ErrorMessage *err) {
        (void) error_message_set(err, -w->error, w->error != 0 ? w->message : NULL);
        return r;
}

static int caps_apply(uint64_t set, uid_t uid) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = {};

        (void) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);

        /* root keeps exactly the set; anybody else lost everything at setuid() already, and
         * only the bounding set matters for what a setuid binary could regain. The inheritable set
         * stays empty for everybody (the CVE-2022-24769 pattern: a full CapInh hands the set on to
         * any file with inheritable file capabilities, even after a setuid to non-root), and so
         * does the ambient set. */
        if (uid == 0) {
                d[0].effective = d[0].permitted = (uint32_t) set;
                d[1].effective = d[1].permitted = (uint32_t) (set >> 32);
        }
        if (syscall(SYS_capset, &h, d) < 0)
                return -errno;
        return 0;
}

/* Resource limits and oom_score_adj: before the capabilities go (raising a hard limit or lowering
 * oom_score_adj needs CAP_SYS_RESOURCE) */
static int apply_limits(const SpawnProcess *p, SpawnWireError *err) {
        for (size_t i = 0; i < p->n_rlimits; i++) {
                const SpawnRlimit *l = p->rlimits + i;
                struct rlimit rl = {
                        .rlim_cur = l->soft == UINT64_MAX ? RLIM_INFINITY : (rlim_t) l->soft,
                        .rlim_max = l->hard == UINT64_MAX ? RLIM_INFINITY : (rlim_t) l->hard,
                };
                struct rlimit have;
                if (setrlimit((__rlimit_resource_t) l->resource, &rl) < 0 && errno == EPERM && l->clamp &&
                    getrlimit((__rlimit_resource_t) l->resource, &have) >= 0) {
                        rl.rlim_max = MIN(rl.rlim_max, have.rlim_max);
                        rl.rlim_cur = MIN(rl.rlim_cur, rl.rlim_max);
                }
                if (setrlimit((__rlimit_resource_t) l->resource, &rl) < 0) {
                        int r = -errno;
                        error_set(err, r, "set resource limit %d to %" PRIu64 ":%" PRIu64, l->resource,
                                  l->soft, l->hard);
                        return r;
                }
        }
        if (p->oom_score_adj_set) {
                char buf[16]; /* "-1000" */
                _cleanup_close_ int fd = -EBADF;

                (void) snprintf(buf, sizeof(buf), "%i", p->oom_score_adj);
                fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC | O_NOCTTY);
                int r = fd < 0 ? -errno : loop_write(fd, buf, strlen(buf));
                if (r < 0) {
                        if (p->oom_score_adj_best_effort && IN_SET(-r, EACCES, EPERM))
                                return 0;
                        error_set(err, r, "set oom_score_adj to %i", p->oom_score_adj);
                        return r;
                }
        }
        return 0;
}

/* The working directory, resolved inside the root we are in: never through a magic link
 * (/proc/self/fd/N, /proc/1/cwd…), never above "/" by "..", or absolute symlinks that leave it
 * (runc CVE-2024-21626). Then the check runc makes since its fix: the kernel calls a cwd that
 * is not reachable from our root "(unreachable)/…", so anything but an absolute path is refused. */
static int enter_workdir(const char *workdir, SpawnWireError *err) {
        struct open_how how = {
                .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        _cleanup_close_ int root = -EBADF, fd = -EBADF;
        _cleanup_free_ char *cwd = NULL;
        size_t size = 256;
        long n;
        int r;

        root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0) {
                r = -errno;
                error_set(err, r, "open the root directory");
                return r;
        }
        fd = (int) syscall(SYS_openat2, root, workdir, &how, sizeof(how));
        if (fd < 0 && errno == ENOSYS) /* < 5.6: the check below still catches an escape */
                fd = open(workdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                error_set(err, r, "change to working directory '%s'%s", workdir,
                          r == -ELOOP ? " (a magic link like /proc/self/fd/N, or a symlink loop)" : "");
                return r;
        }
        if (fchdir(fd) < 0) {
                r = -errno;
                error_set(err, r, "change to working directory '%s'", workdir);
                return r;
        }

        for (;;) {
                char *b = realloc(cwd, size);
                if (!b) {
                        error_set(err, -ENOMEM, "allocate");
                        return -ENOMEM;
                }
                cwd = b;
                /* the raw syscall: glibc turns "(unreachable)" into ENOENT, older ones pass it on */
                n = syscall(SYS_getcwd, cwd, size);
                if (n >= 0 || errno != ERANGE || size >= 1024U * 1024U)
                        break;
                size *= 2;
        }
        if (n < 0 && errno != ENOENT) {
                r = -errno;
                error_set(err, r, "get the working directory");
                return r;
        }
        if (n <= 0 || cwd[0] != '/') {
                error_set(err, EPERM, "change to working directory '%s': it is outside the container",
                          workdir);
                return -EPERM;
        }
        return 0;
}

/* user, caps, no_new_privs, workdir: shared by container start and exec. Fills env (with HOME). */
int spawn_child_credentials(const SpawnProcess *p, bool tty, char ***ret_env, SpawnWireError *err) {
        _cleanup_free_ gid_t *groups = NULL;
        _cleanup_free_ char *home = NULL;
        _cleanup_strv_free_ char **env = NULL;
        size_t n_groups = 0;
        uint64_t caps;
        uid_t uid;
        gid_t gid;
        int r;

        r = spawn_resolve_user(AT_FDCWD, p->user, &uid, &gid, &groups, &n_groups, &home);
        if (r < 0) {
                error_set(err, r, "resolve user '%s'", strempty(p->user));
                return r;
        }

        r = spawn_build_env(p->env, home, tty, &env);
        if (r < 0) {
                error_set(err, r, "build the environment");
                return r;
        }

        r = capability_compute_set(p->cap_add, p->cap_drop, &caps);
        if (r < 0) {
                error_set(err, r, "parse capabilities");
                return r;
        }

        /* While we still have CAP_SYS_ADMIN (so no_new_privs is not a precondition); none of the
         * calls below is filtered */
        if (p->seccomp) {
                r = spawn_seccomp_apply(p, caps);
                if (r < 0) {
                        error_set(err, r, "install the seccomp filter");
                        return r;
                }
        }

        r = apply_limits(p, err);
        if (r < 0)
                return r;

        /* Bounding set first (needs CAP_SETPCAP, which we still have) */
        int last = capability_last_cap();
        for (int c = 0; c <= last; c++)
                if (c >= 64 || !(caps & (UINT64_C(1) << c)))
                        if (prctl(PR_CAPBSET_DROP, (unsigned long) c, 0, 0, 0) < 0 && errno != EINVAL) {
                                r = -errno;
                                error_set(err, r, "drop capability %s from the bounding set",
                                          strna(capability_to_name(c)));
                                return r;
                        }

        if (setgroups(n_groups, groups) < 0) {
                r = -errno;
                error_set(err, r, "setgroups");
                return r;
        }
        if (setresgid(gid, gid, gid) < 0) {
                r = -errno;
                error_set(err, r, "setgid %u", (unsigned) gid);
                return r;
        }
        if (setresuid(uid, uid, uid) < 0) {
                r = -errno;
                error_set(err, r, "setuid %u", (unsigned) uid);
                return r;
        }

        r = caps_apply(caps, uid);
        if (r < 0) {
                error_set(err, r, "set capabilities");
                return r;
        }

        if (!p->allow_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
                r = -errno;
                error_set(err, r, "set no_new_privs");
                return r;
        }

        r = enter_workdir(p->workdir ?: "/", err);
        if (r < 0)
                return r;

        *ret_env = TAKE_PTR(env);
        return 0;
}

int spawn_child_stdio(const SpawnProcess *p, SpawnWireError *err) {
        const int fds[3] = { p->stdin_fd, p->stdout_fd, p->stderr_fd };

        for (int i = 0; i < 3; i++) {
                if (fds[i] < 0 || fds[i] == i)
                        continue;
                if (dup2(fds[i], i) < 0) {
                        int r = -errno;
                        error_set(err, r, "set up stdio fd %d", i);
                        return r;
                }
        }
        return 0;
}

void spawn_child_reset_signals(void) {
        sigset_t mask;

        /* What cbox blocked or ignored (sd-event, SIGPIPE) must not leak into the container */
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, SIG_DFL);
        sigemptyset(&mask);
        (void) sigprocmask(SIG_SETMASK, &mask, NULL);
}

static int cmp_int(const void *a, const void *b) {
        int x = *(const int *) a, y = *(const int *) b;
        return x < y ? -1 : x > y;
}

/* Everything above 2 except keep[] is closed (flags 0) or gets O_CLOEXEC (CLOSE_RANGE_CLOEXEC);
 * with uncloexec, keep[] loses O_CLOEXEC */
static int close_fds_except(const int *keep, size_t n_keep, unsigned flags, bool uncloexec,
                            SpawnWireError *err) {
        _cleanup_free_ int *k = NULL;
        unsigned from = 3;
        int r;

        k = new (int, n_keep + 1);
        if (!k) {
                error_set(err, -ENOMEM, "allocate");
                return -ENOMEM;
        }
        if (n_keep > 0)
                memcpy(k, keep, n_keep * sizeof(int));
        qsort(k, n_keep, sizeof(int), cmp_int);

        for (size_t i = 0; i < n_keep; i++) {
                if (k[i] < (int) from) {
                        if (k[i] >= 0 && uncloexec)
                                (void) fd_set_cloexec(k[i], false);
                        continue;
                }
                if ((unsigned) k[i] > from && close_range(from, (unsigned) k[i] - 1, flags) < 0) {
                        r = -errno;
                        error_set(err, r, flags ? "mark fds close-on-exec" : "close fds");
                        return r;
                }
                if (uncloexec) {
                        r = fd_set_cloexec(k[i], false);
                        if (r < 0) {
                                error_set(err, r, "keep fd %d open", k[i]);
                                return r;
                        }
                }
                from = (unsigned) k[i] + 1;
        }
        if (close_range(from, ~0U, flags) < 0) {
                r = -errno;
                error_set(err, r, flags ? "mark fds close-on-exec" : "close fds");
                return r;
        }
        return 0;
}

int spawn_child_close_fds(const int *keep, size_t n_keep, SpawnWireError *err) {
        return close_fds_except(keep, n_keep, CLOSE_RANGE_CLOEXEC, true, err);
}

int spawn_child_close_other_fds(const int *keep, size_t n_keep, SpawnWireError *err) {
        return close_fds_except(keep, n_keep, 0, false, err);
}

static _noreturn_ void child_main(const SpawnParams *p, int sync_fd) {
        _cleanup_strv_free_ char **env = NULL;
        SpawnWireError err = {};
        char go;
        int r;

        if (spawn_child_stdio(&p->process, &err) < 0)
                spawn_child_fail(sync_fd, &err);

        /* Nothing of cbox's stays open while we wait, set up and resolve names in the container: only
         * stdio, the sync channel, the executable and what the caller hands over. Before the wait, so
         * that a cbox killed meanwhile leaves no copy of its fds here: its locks (a flock() lives as
         * long as any copy of its fd) are free at once, and the sync channel's EOF tells us. */
        {
                _cleanup_free_ int *keep = new (int, p->n_keep_fds + 2);
                if (!keep) {
                        error_set(&err, -ENOMEM, "allocate");
                        spawn_child_fail(sync_fd, &err);
                }
                if (p->n_keep_fds > 0)
                        memcpy(keep, p->keep_fds, p->n_keep_fds * sizeof(int));
                keep[p->n_keep_fds] = sync_fd;
                keep[p->n_keep_fds + 1] = p->exec_fd;
                if (spawn_child_close_other_fds(keep, p->n_keep_fds + 2, &err) < 0)
                        spawn_child_fail(sync_fd, &err);
        }

        /* Wait for the parent: it places us into our unit first */
        int handed = -EBADF;
        ssize_t n = fd_recv(sync_fd, &go, 1, &handed, MSG_CMSG_CLOEXEC);
        if (n != 1)
                _exit(EXIT_FAILURE); /* the parent gave up on us */
        if (p->release_fd)
                *p->release_fd = handed;
        else
                handed = safe_close(handed);

        /* The cgroup namespace is created only now that the parent has put us into our unit's
         * cgroup, so that cgroup becomes the namespace's root */
        if (((p->namespaces ?: SPAWN_NAMESPACES_DEFAULT) & CLONE_NEWCGROUP) &&
            unshare(CLONE_NEWCGROUP) < 0) {
                error_set(&err, -errno, "create a cgroup namespace");
                spawn_child_fail(sync_fd, &err);
        }

        spawn_child_reset_signals();

        /* A session of its own, without the caller's controlling terminal: /dev/tty does not open and
         * TIOCSTI (which needs the ctty, or CAP_SYS_ADMIN) cannot type into the caller's shell */
        if (setsid() < 0) {
                error_set(&err, -errno, "create a session");
                spawn_child_fail(sync_fd, &err);
        }

        if (p->child_setup) {
                r = p->child_setup(p->userdata, err.message, sizeof(err.message));
                if (r < 0) {
                        err.error = -r;
                        if (isempty(err.message))
                                snprintf(err.message, sizeof(err.message), "set up the container");
                        spawn_child_fail(sync_fd, &err);
                }
        }

        /* Until here the host's uid 0 (not mapped in the namespace, but the owner of root's 0700
         * directories, which child_setup may have to pass); rootfs_setup() becomes root of the
         * namespace itself once it opened those paths */
        if (p->userns_count > 0) {
                r = userns_become_root();
                if (r < 0) {
                        error_set(&err, r, "become root of the user namespace");
                        spawn_child_fail(sync_fd, &err);
                }
        }

        /* On a terminal: a pty of the container's own, from its devpts (we are in its root now), is
         * our controlling terminal and stdio, and the parent relays the caller's terminal to it */
        if (p->tty) {
                _cleanup_close_ int master = -EBADF, slave = -EBADF;

                r = spawn_open_pty(&master, &slave);
                if (r < 0) {
                        error_set(&err, r, "open a pty in the container's /dev/pts");
                        spawn_child_fail(sync_fd, &err);
                }
                r = spawn_send_fd(sync_fd, master);
                if (r < 0) {
                        error_set(&err, r, "hand over the pty");
                        spawn_child_fail(sync_fd, &err);
                }
                r = spawn_child_take_pty(slave, STDIN_FILENO);
                if (r < 0) {
                        error_set(&err, r, "make the pty the controlling terminal and stdio");
                        spawn_child_fail(sync_fd, &err);
                }
        }

        if (p->hostname && ((p->namespaces ?: SPAWN_NAMESPACES_DEFAULT) & CLONE_NEWUTS) &&
            sethostname(p->hostname, strlen(p->hostname)) < 0) {
                error_set(&err, -errno, "set hostname '%s'", p->hostname);
                spawn_child_fail(sync_fd, &err);
        }

        if (spawn_child_credentials(&p->process, false, &env, &err) < 0)
                spawn_child_fail(sync_fd, &err);

        /* exec_fd may stay O_CLOEXEC: execveat(AT_EMPTY_PATH) of an ELF binary does not need it
         * after the exec; the sync socket closes on exec and tells the parent we made it */
        if (spawn_child_close_fds(p->keep_fds, p->n_keep_fds, &err) < 0)
                spawn_child_fail(sync_fd, &err);

        syscall(SYS_execveat, p->exec_fd, "", p->process.argv, env, AT_EMPTY_PATH);
        error_set(&err, -errno, "execute '%s'", strna(p->process.argv ? p->process.argv[0] : NULL));
        spawn_child_fail(sync_fd, &err);
}

/* ---- the parent side ---- */

void spawn_child_done(SpawnChild *c) {
        if (!c)
                return;
        c->pidfd = safe_close(c->pidfd);
        c->sync_fd = safe_close(c->sync_fd);
        c->pty_master = safe_close(c->pty_master);
}

/* clone3 with a pidfd; falls back to clone + pidfd_open. Returns 0 in the child, the pid in the parent. */
pid_t spawn_clone(uint64_t flags, int cgroup_fd, int *ret_pidfd) {
        struct clone_args args = {
                .flags = flags | CLONE_PIDFD,
                .exit_signal = SIGCHLD,
        };
        int pidfd = -EBADF;
        pid_t pid;

        args.pidfd = (uint64_t) (uintptr_t) &pidfd;
        if (cgroup_fd >= 0) {
                args.flags |= CLONE_INTO_CGROUP;
                args.cgroup = (uint64_t) cgroup_fd;
        }

        pid = (pid_t) syscall(SYS_clone3, &args, sizeof(args));
        if (pid < 0 && IN_SET(errno, ENOSYS, E2BIG) && cgroup_fd < 0) {
                pid = (pid_t) syscall(SYS_clone, (unsigned long) flags | SIGCHLD, NULL, NULL, NULL, NULL);
                if (pid > 0) {
                        pidfd = pidfd_open_fd(pid);
                        if (pidfd < 0) {
                                (void) kill(pid, SIGKILL);
                                (void) waitpid(pid, NULL, 0);
                                errno = -pidfd;
                                return -1;
                        }
                        (void) fd_set_cloexec(pidfd, true);
                }
        }
        if (pid < 0)
                return -1;
        if (pid > 0)
                *ret_pidfd = pidfd;
        return pid;
}

/* "0 start count" as the child's uid and gid maps; setgroups stays allowed (we hold CAP_SETGID
 * over its user namespace), so that the payload's own groups can be set in it */
static int write_id_maps(pid_t pid, uint32_t start, uint32_t count) {
        char path[64], map[64];
        int r;

        if (start == 0 || count == 0 || start > UINT32_MAX - count)
                return -EINVAL;
        snprintf(map, sizeof(map), "0 %" PRIu32 " %" PRIu32 "\n", start, count);
        static const char *const files[] = { "uid_map", "gid_map" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, files[i]);
                r = write_string_file(path, map);
                if (r < 0)
                        return r;
        }
        return 0;
}

int spawn_container(const SpawnParams *p, SpawnChild *ret) {
        _cleanup_close_pair_ int sp[2] = { -EBADF, -EBADF };
        int pidfd = -EBADF;
        pid_t pid;

        assert(p);
        assert(ret);

        if (p->exec_fd < 0 || !p->process.argv || !p->process.argv[0])
                return -EINVAL;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return -errno;

        uint64_t flags = (p->namespaces ?: SPAWN_NAMESPACES_DEFAULT) & ~(uint64_t) CLONE_NEWCGROUP;
        if (p->userns_count > 0)
                flags |= CLONE_NEWUSER;
        pid = spawn_clone(flags, -EBADF, &pidfd);
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                sp[0] = safe_close(sp[0]);
                child_main(p, sp[1]);
        }

        sp[1] = safe_close(sp[1]);
        if (p->userns_count > 0) {
                int r = write_id_maps(pid, p->userns_start, p->userns_count);
                if (r < 0) {
                        (void) pidfd_signal(pidfd, SIGKILL);
                        (void) waitpid(pid, NULL, 0);
                        safe_close(pidfd);
                        return r;
                }
        }
        *ret = (SpawnChild){ .pid = pid, .pidfd = pidfd, .sync_fd = TAKE_FD(sp[0]), .pty_master = -EBADF };
        return 0;
}

int spawn_child_release(SpawnChild *c, ErrorMessage *err) {
        return spawn_child_release_fd(c, -EBADF, err);
}

int spawn_child_release_fd(SpawnChild *c, int handed, ErrorMessage *err) {
        SpawnWireError e = {};
        int r, fd;

        assert(c);

        if (c->sync_fd < 0)
                return -EALREADY;

        r = fd_send(c->sync_fd, "G", 1, handed, MSG_NOSIGNAL);
        if (r < 0) {
                error_set(&e, r, "release the container process");
                c->sync_fd = safe_close(c->sync_fd);
                return spawn_wire_error_pass(&e, r, err);
        }

        /* the pty's master first (with tty), then EOF (the socket closed on exec) or a setup error */
        for (;;) {
                r = spawn_recv_report(c->sync_fd, &fd, &e);
                if (r < 0 || fd < 0)
                        break;
                safe_close(c->pty_master);
                c->pty_master = fd;
        }
        c->sync_fd = safe_close(c->sync_fd);
        if (r >= 0)
                return 0;
        c->pty_master = safe_close(c->pty_master);
        if (e.error == 0) {
                error_set(&e, r, "wait for the container process");
                return spawn_wire_error_pass(&e, r, err);
        }

        /* A setup failure: the child exits right after reporting; reap it */
        if (c->pidfd >= 0) {
                siginfo_t si = {};
                (void) waitid(P_PIDFD, (id_t) c->pidfd, &si, WEXITED);
        } else
                (void) waitpid(c->pid, NULL, 0);

        return spawn_wire_error_pass(&e, r, err);
}

/* A read-only, nosuid, nodev bind mount of the file that is attached nowhere (OPEN_TREE_CLONE):
 * the fd from open_tree() is on the file itself, so exec maps the file's own page cache (shared by
 * every container's init), and every open for writing through it — /proc/1/exe, or an fd kept
 * from it and reopened through /proc/self/fd once init is gone — fails with EROFS. */
static int open_executable_mount(int src, int *ret_fd) {
        struct mount_attr attr = {
                .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        };
        _cleanup_close_ int tree = -EBADF;
        _cleanup_free_ char *p = NULL;
        int fd;

        tree = open_tree(src, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0)
                return -errno;
        if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
                return -errno;

        /* Closing the open_tree() fd unmounts the tree (its anonymous mount namespace goes away);
         * a new O_PATH open of the file keeps the mount alive for the exec. An unmounted mount can
         * neither be cloned with open_tree() nor changed with mount_setattr(), not even with
         * CAP_SYS_ADMIN, so read-only is final. Without /proc, the open_tree() fd itself. */
        p = strprintf("/proc/self/fd/%i", tree);
        if (!p)
                return -ENOMEM;
        fd = open(p, O_PATH | O_CLOEXEC);
        if (fd < 0)
                fd = TAKE_FD(tree);

        *ret_fd = fd;
        return 0;
}

/* A sealed memfd copy (F_SEAL_WRITE etc.): writes fail with EPERM. -ENOSYS etc. when no memfd can
 * be had (or exec of memfds is forbidden); errors while copying are returned as they are. */
static int open_executable_memfd(int src, off_t size, int *ret_fd) {
        _cleanup_close_ int mfd = -EBADF;
        off_t off = 0;

        /* MFD_EXEC (6.3+) says we mean to exec it; older kernels refuse the flag with EINVAL, and
         * vm.memfd_noexec=2 refuses it with EACCES (then we use the file itself) */
        mfd = memfd_create("cbox-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
        if (mfd < 0 && errno == EINVAL)
                mfd = memfd_create("cbox-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (mfd < 0)
                return -ENOSYS;

        while (off < size) {
                ssize_t k = sendfile(mfd, src, &off, (size_t) (size - off));
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO;
        }
        if (fchmod(mfd, 0555) < 0 ||
            fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                return -errno;

        *ret_fd = TAKE_FD(mfd);
        return 0;
}

int spawn_open_executable_full(const char *path, SpawnExecutableKind best, int *ret_fd,
                               SpawnExecutableKind *ret_kind) {
        _cleanup_close_ int src = -EBADF;
        SpawnExecutableKind kind = SPAWN_EXECUTABLE_FILE;
        struct stat st;
        int fd = -EBADF, r;

        assert(path);
        assert(ret_fd);

        src = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (src < 0)
                return -errno;
        if (fstat(src, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EACCES;

        if (best <= SPAWN_EXECUTABLE_MOUNT) {
                r = open_executable_mount(src, &fd);
                if (r >= 0)
                        kind = SPAWN_EXECUTABLE_MOUNT;
                /* No new mount API (< 5.12), no CAP_SYS_ADMIN, or a seccomp filter or LSM that
                 * forbids it (an outer container's): a private copy instead */
                else if (!ERRNO_IS_NOT_SUPPORTED(r) && !IN_SET(-r, EPERM, EACCES, EINVAL))
                        return r;
        }

        if (fd < 0 && best <= SPAWN_EXECUTABLE_MEMFD) {
                r = open_executable_memfd(src, st.st_size, &fd);
                if (r >= 0)
                        kind = SPAWN_EXECUTABLE_MEMFD;
                else if (r != -ENOSYS)
                        return r;
        }

        /* Neither: the file itself (writable through /proc/1/exe by whoever can open that) */
        if (fd < 0)
                fd = TAKE_FD(src);

        *ret_fd = fd;
        if (ret_kind)
                *ret_kind = kind;
        return 0;
}

int spawn_open_executable(const char *path, int *ret_fd) {
        return spawn_open_executable_full(path, SPAWN_EXECUTABLE_MOUNT, ret_fd, NULL);
}
