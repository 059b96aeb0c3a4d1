/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "fileio.h"
#include "process-util.h"
#include "state.h"
#include "string-util.h"

#define STATE_FILE "state"
#define EXIT_FILE "exit"
/* the three children of <run_root>: names only ever below the first two, internal state in the third */
#define STATE_CONTAINERS_DIR "containers"
#define STATE_LOCKS_DIR "locks"
#define STATE_IPAM_DIR "ipam"
#define STATE_FILE_MAX (64U * 1024U)

static const char *const state_mode_table[_STATE_MODE_MAX] = {
        [STATE_MODE_DETACHED] = "detached",
        [STATE_MODE_FOREGROUND] = "foreground",
};

DEFINE_STRING_TABLE_LOOKUP(state_mode, StateMode, _STATE_MODE_MAX, _STATE_MODE_INVALID);

ContainerState *container_state_free(ContainerState *s) {
        if (!s)
                return NULL;
        free(s->name);
        free(s->unit);
        free(s->machine);
        free(s->config_path);
        free(s->config_digest);
        free(s->rootfs);
        free(s->upper_dir);
        free(s->work_dir);
        free(s->network);
        free(s->address);
        free(s->host_ifname);
        return mfree(s);
}

static int mkdir_p_at_subdir(const char *run_root, const char *subdir) {
        _cleanup_free_ char *p = strjoin(run_root, "/", subdir);
        return p ? mkdir_p(p, 0755) : -ENOMEM;
}

/* <run_root>/SUBDIR, created 0755 when create is true */
static int subdir_open(const char *run_root, const char *subdir, bool create, int *ret_fd) {
        _cleanup_free_ char *p = strjoin(run_root, "/", subdir);
        int fd, r;

        if (!p)
                return -ENOMEM;
        if (create) {
                r = mkdir_p(p, 0755);
                if (r < 0)
                        return r;
        }
        fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

int state_dir_path(const char *run_root, const char *name, char **ret) {
        char *p;

        if (!run_root || !container_name_is_valid(name))
                return -EINVAL;
        p = strjoin(run_root, "/" STATE_CONTAINERS_DIR "/", name);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

char *state_path(const char *run_root, const char *name, const char *file) {
        _cleanup_free_ char *d = NULL;

        if (state_dir_path(run_root, name, &d) < 0)
                return NULL;
        if (!file)
                return TAKE_PTR(d);
        return strjoin(d, "/", file);
}

bool state_dir_exists(const char *run_root, const char *name) {
        _cleanup_free_ char *p = NULL;

        return state_dir_path(run_root, name, &p) >= 0 && access(p, F_OK) >= 0;
}

int state_ipam_dir(const char *run_root, char **ret) {
        char *p;

        if (!run_root)
                return -EINVAL;
        p = strjoin(run_root, "/" STATE_IPAM_DIR);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

/* <run_root>/locks/NAME; -EINVAL for no run_root or an invalid name */
static int lock_path(const char *run_root, const char *name, char **ret) {
        char *p;

        if (!run_root || !container_name_is_valid(name))
                return -EINVAL;
        p = strjoin(run_root, "/" STATE_LOCKS_DIR "/", name);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int state_lock(const char *run_root, const char *name, bool blocking, int *ret_fd) {
        _cleanup_free_ char *p = NULL;
        int r;

        r = lock_path(run_root, name, &p);
        if (r < 0)
                return r;
        r = mkdir_p(run_root, 0755);
        if (r >= 0)
                r = mkdir_p_at_subdir(run_root, STATE_LOCKS_DIR);
        if (r < 0)
                return r;
        if (!p)
                return -ENOMEM;

        for (;;) {
                _cleanup_close_ int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
                struct stat a, b;

                if (fd < 0)
                        return -errno;
                while (flock(fd, LOCK_EX | (blocking ? 0 : LOCK_NB)) < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EWOULDBLOCK ? -EBUSY : -errno;
                }
                /* The previous holder may have unlinked the file while we waited: then our lock is on
                 * an orphaned inode and worthless. Retry on the path's current file. */
                if (fstat(fd, &a) < 0)
                        return -errno;
                if (stat(p, &b) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return -errno;
                }
                if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
                        continue;
                *ret_fd = TAKE_FD(fd);
                return 0;
        }
}

#define PROC_LOCKS_MAX (16U * 1024 * 1024)

int state_lock_held(const char *run_root, const char *name) {
        _cleanup_free_ char *p = NULL, *data = NULL, *id = NULL;
        struct stat st;
        int r;

        r = lock_path(run_root, name, &p);
        if (r < 0)
                return r;
        if (stat(p, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        /* "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF" (fs/locks.c: major:minor in hex, the inode in
         * decimal); a waiter's line has "->" before the type, and a waiter means a holder too */
        id = strprintf(" %02x:%02x:%" PRIu64 " ", major(st.st_dev), minor(st.st_dev), (uint64_t) st.st_ino);
        if (!id)
                return -ENOMEM;
        r = read_full_file("/proc/locks", &data, NULL, PROC_LOCKS_MAX);
        if (r < 0)
                return r;
        for (char *line = data, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (strstr(line, " FLOCK ") && strstr(line, id))
                        return 1;
        }
        return 0;
}

int state_unlock(const char *run_root, const char *name, int fd, bool remove) {
        if (fd < 0)
                return -EBADF;
        if (remove) {
                _cleanup_free_ char *p = NULL;
                if (lock_path(run_root, name, &p) >= 0)
                        (void) unlink(p);
        }
        return safe_close(fd);
}

int state_dir_open(const char *run_root, const char *name, bool create, int *ret_fd) {
        _cleanup_close_ int root_fd = -EBADF;
        int fd, r;

        if (!run_root || !container_name_is_valid(name))
                return -EINVAL;
        r = subdir_open(run_root, STATE_CONTAINERS_DIR, create, &root_fd);
        if (r < 0)
                return r;
        if (create && mkdirat(root_fd, name, 0700) < 0 && errno != EEXIST)
                return -errno;
        fd = openat(root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

int state_dir_remove(const char *run_root, const char *name) {
        _cleanup_close_ int root_fd = -EBADF;
        int r;

        if (!run_root || !container_name_is_valid(name))
                return -EINVAL;
        r = subdir_open(run_root, STATE_CONTAINERS_DIR, false, &root_fd);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        r = rm_rf_at(root_fd, name);
        if (r == -ENOENT)
                return 0;
        return r;
}

/* Values are written with '\\' and '\n' escaped, so any string round-trips on one line. */
/* The string fields of the state file, in the order state_save() writes them */
static const struct {
        const char *key;
        size_t offset;
} string_fields[] = {
        { "NAME", offsetof(ContainerState, name) },
        { "UNIT", offsetof(ContainerState, unit) },
        { "MACHINE", offsetof(ContainerState, machine) },
        { "CONFIG_PATH", offsetof(ContainerState, config_path) },
        { "CONFIG_DIGEST", offsetof(ContainerState, config_digest) },
        { "ROOTFS", offsetof(ContainerState, rootfs) },
        { "UPPER_DIR", offsetof(ContainerState, upper_dir) },
        { "WORK_DIR", offsetof(ContainerState, work_dir) },
        { "NETWORK", offsetof(ContainerState, network) },
        { "ADDRESS", offsetof(ContainerState, address) },
        { "HOST_IFNAME", offsetof(ContainerState, host_ifname) },
};

static char **string_field(ContainerState *s, size_t i) {
        return (char **) ((uint8_t *) s + string_fields[i].offset);
}

static char *const *string_field_const(const ContainerState *s, size_t i) {
        return (char *const *) ((const uint8_t *) s + string_fields[i].offset);
}

static int append_kv(Buffer *b, const char *key, const char *value) {
        int r;

        if (!value)
                return 0;
        r = buffer_printf(b, "%s=", key);
        if (r < 0)
                return r;
        for (const char *p = value; *p; p++) {
                if (*p == '\\')
                        r = buffer_append(b, "\\\\", 2);
                else if (*p == '\n')
                        r = buffer_append(b, "\\n", 2);
                else
                        r = buffer_append(b, p, 1);
                if (r < 0)
                        return r;
        }
        return buffer_append(b, "\n", 1);
}

static int unescape(const char *s, char **ret) {
        size_t n = strlen(s);
        char *d = new (char, n + 1), *o;

        if (!d)
                return -ENOMEM;
        o = d;
        for (const char *p = s; *p; p++) {
                if (*p == '\\') {
                        p++;
                        if (*p == 'n')
                                *o++ = '\n';
                        else if (*p == '\\')
                                *o++ = '\\';
                        else {
                                free(d);
                                return -EBADMSG;
                        }
                } else
                        *o++ = *p;
        }
        *o = 0;
        *ret = d;
        return 0;
}

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;

        if (isempty(s) || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0)
                return -errno;
        if (*end)
                return -EINVAL;
        *ret = (uint64_t) v;
        return 0;
}

static int parse_int(const char *s, int *ret) {
        char *end;
        long v;

        if (isempty(s))
                return -EINVAL;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0)
                return -errno;
        if (*end || v < INT32_MIN || v > INT32_MAX)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

int state_save(int dir_fd, const ContainerState *s) {
        _cleanup_(buffer_done) Buffer b = {};
        char num[32];
        int r = 0;

        if (!s || !s->name)
                return -EINVAL;

        for (size_t i = 0; i < ELEMENTSOF(string_fields); i++)
                r = r < 0 ? r : append_kv(&b, string_fields[i].key, *string_field_const(s, i));
        if (s->leader_pid > 0) {
                (void) snprintf(num, sizeof(num), "%d", (int) s->leader_pid);
                r = r < 0 ? r : append_kv(&b, "LEADER_PID", num);
                (void) snprintf(num, sizeof(num), "%" PRIu64, s->leader_start_time);
                r = r < 0 ? r : append_kv(&b, "LEADER_START_TIME", num);
        }
        (void) snprintf(num, sizeof(num), "%" PRIu64, s->start_time_usec);
        r = r < 0 ? r : append_kv(&b, "START_TIME", num);
        r = r < 0 ? r : append_kv(&b, "MODE", state_mode_to_string(s->mode) ?: "detached");
        r = r < 0 ? r : append_kv(&b, "STOPPED", s->stopped ? "1" : "0");
        if (s->starting)
                r = r < 0 ? r : append_kv(&b, "STARTING", "1");
        if (s->exit_set) {
                (void) snprintf(num, sizeof(num), "%d", s->exit_status);
                r = r < 0 ? r : append_kv(&b, "EXIT_STATUS", num);
                (void) snprintf(num, sizeof(num), "%" PRIu64, s->exit_time_usec);
                r = r < 0 ? r : append_kv(&b, "EXIT_TIME", num);
        }
        if (r < 0)
                return r;
        return write_file_atomic_at(dir_fd, STATE_FILE, b.data, b.size, 0644);
}

static int state_apply_kv(ContainerState *s, const char *key, const char *value) {
        char **field = NULL;
        uint64_t u;
        int i, r;

        for (size_t k = 0; k < ELEMENTSOF(string_fields) && !field; k++)
                if (streq(key, string_fields[k].key))
                        field = string_field(s, k);
        if (field) {
                char *v;
                r = unescape(value, &v);
                if (r < 0)
                        return r;
                free(*field);
                *field = v;
                return 0;
        }

        if (streq(key, "LEADER_PID")) {
                r = parse_int(value, &i);
                if (r < 0 || i <= 0)
                        return -EBADMSG;
                s->leader_pid = (pid_t) i;
        } else if (streq(key, "LEADER_START_TIME")) {
                if (parse_u64(value, &u) < 0)
                        return -EBADMSG;
                s->leader_start_time = u;
        } else if (streq(key, "START_TIME")) {
                if (parse_u64(value, &u) < 0)
                        return -EBADMSG;
                s->start_time_usec = u;
        } else if (streq(key, "MODE")) {
                StateMode m = state_mode_from_string(value);
                if (m < 0)
                        return -EBADMSG;
                s->mode = m;
        } else if (streq(key, "STOPPED"))
                s->stopped = streq(value, "1");
        else if (streq(key, "STARTING"))
                s->starting = streq(value, "1");
        else if (streq(key, "EXIT_STATUS")) {
                if (parse_int(value, &i) < 0)
                        return -EBADMSG;
                s->exit_status = i;
                s->exit_set = true;
        } else if (streq(key, "EXIT_TIME")) {
                if (parse_u64(value, &u) < 0)
                        return -EBADMSG;
                s->exit_time_usec = u;
        }
        /* unknown keys: written by a newer cbox, ignored */
        return 0;
}

int state_load(int dir_fd, ContainerState **ret) {
        _cleanup_(container_state_freep) ContainerState *s = NULL;
        _cleanup_free_ char *data = NULL;
        int r, status;
        uint64_t t;

        r = read_full_file_at(dir_fd, STATE_FILE, &data, NULL, STATE_FILE_MAX);
        if (r < 0)
                return r;
        s = new0(ContainerState, 1);
        if (!s)
                return -ENOMEM;

        for (char *line = data, *next; line && *line; line = next) {
                char *eq;

                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (!*line || *line == '#')
                        continue;
                eq = strchr(line, '=');
                if (!eq)
                        return -EBADMSG;
                *eq = 0;
                r = state_apply_kv(s, line, eq + 1);
                if (r < 0)
                        return r;
        }
        if (!s->name)
                return -EBADMSG;

        r = state_read_exit(dir_fd, &status, &t);
        if (r >= 0) {
                s->exit_set = true;
                s->exit_status = status;
                s->exit_time_usec = t;
        } else if (!IN_SET(r, -ENOENT, -ENODATA))
                return r;

        *ret = TAKE_PTR(s);
        return 0;
}

int state_load_by_name(const char *run_root, const char *name, ContainerState **ret) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = state_dir_open(run_root, name, false, &fd);
        if (r < 0)
                return r;
        return state_load(fd, ret);
}

int state_read_exit(int dir_fd, int *ret_status, uint64_t *ret_time_usec) {
        _cleanup_free_ char *data = NULL;
        _cleanup_close_ int fd = -EBADF;
        bool status_set = false;
        uint64_t t = 0;
        int status = 0, r;
        struct stat st;

        fd = openat(dir_fd, EXIT_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        r = read_full_fd(fd, &data, NULL, 4096);
        if (r < 0)
                return r;

        for (char *line = data, *next; line && *line; line = next) {
                char *v;

                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (!*line)
                        continue;
                if ((v = startswith(line, "EXIT_STATUS=")) || (v = startswith(line, "STATUS="))) {
                        if (parse_int(v, &status) < 0)
                                return -EBADMSG;
                        status_set = true;
                } else if ((v = startswith(line, "EXIT_TIME="))) {
                        if (parse_u64(v, &t) < 0)
                                return -EBADMSG;
                } else if (!strchr(line, '=')) {
                        if (parse_int(line, &status) < 0)
                                return -EBADMSG;
                        status_set = true;
                }
        }
        if (!status_set)
                return -ENODATA;
        if (t == 0)
                t = (uint64_t) st.st_mtim.tv_sec * USEC_PER_SEC +
                        (uint64_t) st.st_mtim.tv_nsec / NSEC_PER_USEC;
        if (ret_status)
                *ret_status = status;
        if (ret_time_usec)
                *ret_time_usec = t;
        return 0;
}

int state_open_exit_file(int dir_fd, int *ret_fd) {
        int fd = openat(dir_fd, EXIT_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
                        0644);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

int state_remove_exit_file(int dir_fd) {
        if (unlinkat(dir_fd, EXIT_FILE, 0) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int state_list(const char *run_root, char ***ret_names) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_free_ char *dir = NULL;
        int r;

        if (!run_root)
                return -EINVAL;
        dir = strjoin(run_root, "/" STATE_CONTAINERS_DIR);
        if (!dir)
                return -ENOMEM;
        d = opendir(dir);
        if (!d) {
                if (errno != ENOENT)
                        return -errno;
        } else
                for (;;) {
                        struct dirent *de;

                        errno = 0;
                        de = readdir(d);
                        if (!de) {
                                if (errno != 0)
                                        return -errno;
                                break;
                        }
                        if (!container_name_is_valid(de->d_name))
                                continue;
                        if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
                                continue;
                        /* Only dirs with a state file are containers (skips a half-created one) */
                        if (faccessat(dirfd(d), de->d_name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                                continue;
                        {
                                _cleanup_free_ char *sf = strjoin(de->d_name, "/" STATE_FILE);
                                if (!sf)
                                        return -ENOMEM;
                                if (faccessat(dirfd(d), sf, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                                        continue;
                        }
                        r = strv_extend(&names, de->d_name);
                        if (r < 0)
                                return r;
                }

        if (strv_ensure(&names) < 0)
                return -ENOMEM;
        qsort(names, strv_length(names), sizeof(char *), strcmp_ptr);
        *ret_names = TAKE_PTR(names);
        return 0;
}

bool state_leader_alive(const ContainerState *s) {
        uint64_t t;
        char st;

        if (!s || s->leader_pid <= 0)
                return false;
        if (proc_read_stat(s->leader_pid, &st, &t) < 0)
                return false;
        /* a zombie leader has exited already */
        return t == s->leader_start_time && st != 'Z' && st != 'X';
}

int state_container_storage_path(const char *storage_root, const char *name, char **ret) {
        char *p;

        if (!storage_root || !container_name_is_valid(name))
                return -EINVAL;
        p = strprintf("%s/containers/%s", storage_root, name);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}
