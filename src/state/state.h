/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Runtime state of containers under <run_root>/containers/NAME (default /run/cbox/containers/NAME):
 *
 *   <run_root>/locks/NAME             flock()ed lock file, held while a verb changes NAME. It lives
 *                                     outside the state dir so that removing the dir does not race
 *                                     with a waiting locker; the holder unlinks it on release when
 *                                     the container is gone, and a locker re-checks after flock()
 *                                     that the path still names its inode.
 *   <run_root>/containers/NAME/state  key=value lines, written atomically (tmp + fsync + rename)
 *   <run_root>/containers/NAME/exit   written by cbox-init when the payload ends (state_read_exit())
 *   <run_root>/ipam/                  the address leases (ipam/), never below a name
 *
 * Container names and cbox's own state live in different directories, so no valid name reaches
 * anything internal (a container named "ipam" or "x.lock" is just containers/ipam, locks/x.lock),
 * and <run_root> itself, which is also a search dir of container files (NAME.toml, NAME.toml.d/),
 * holds no name-derived entry either. No name is reserved. Every path built from a name comes from
 * here (state_dir_path(), state_container_storage_path()).
 *
 * Upgrade from the old layout (<run_root>/NAME, <run_root>/NAME.lock): the new binary does not read
 * it — a fallback to <run_root>/NAME would bring back the very collision this layout removes (a
 * leftover <run_root>/ipam looks like a container). /run is volatile, so a reboot clears it; without
 * one, `cbox down` every container before installing the new binary (see README.md, "Upgrading").
 *
 * Leaf module: depends on basic/ only, does not log. The pidfd of the leader is never persisted: a
 * reader re-opens it from pid + start time (state_leader_alive()). */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macros.h"
#include "process-util.h" /* proc_get_start_time(), for container/ */
#include "string-util.h"
#include "time-util.h" /* now_realtime_usec(), for container/ */

typedef enum StateMode {
        STATE_MODE_DETACHED,
        STATE_MODE_FOREGROUND,
        _STATE_MODE_MAX,
        _STATE_MODE_INVALID = -EINVAL,
} StateMode;

const char *state_mode_to_string(StateMode m);
StateMode state_mode_from_string(const char *s);

typedef struct ContainerState {
        char *name;
        char *unit;                 /* "cbox-NAME.scope" */
        char *machine;              /* machined registration name, NULL if not registered */
        char *config_path;          /* the main container file */
        char *config_digest;        /* container_config_digest() at up time */
        char *rootfs;               /* the lower dir(s) used, informational */
        char *upper_dir;            /* <storage_root>/containers/NAME/upper, NULL for read-only */
        char *work_dir;             /* <storage_root>/containers/NAME/work */
        char *network;              /* bridge networking: the network name (e.g. "cbox0"), NULL otherwise */
        char *address;              /* its IPv4 address in dotted form */
        char *host_ifname;          /* the host end of its veth pair */
        pid_t leader_pid;           /* cbox-init, host pid */
        uint64_t leader_start_time; /* /proc/PID/stat field 22 (clock ticks since boot) */
        uint64_t start_time_usec;   /* CLOCK_REALTIME when the payload was released */
        StateMode mode;
        bool starting;           /* written by up before it acquires anything, cleared once the payload
                                  * runs: a crash in between leaves this state for down/gc to release */
        bool stopped;            /* stopped on request (cbox stop), state kept */
        bool exit_set;           /* exit_status/exit_time valid */
        int exit_status;         /* payload's status as init reports it (128+sig when killed) */
        uint64_t exit_time_usec; /* CLOCK_REALTIME */
} ContainerState;

ContainerState *container_state_free(ContainerState *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ContainerState *, container_state_free);

/* Container names: container_name_is_valid() (basic/string-util.h), the one rule for config/, state/ and
 * container/. */

/* Lock NAME under run_root (creating run_root 0755). blocking=false → -EBUSY when held by another.
 * Returns the lock fd. */
int state_lock(const char *run_root, const char *name, bool blocking, int *ret_fd);
/* Whether someone holds NAME's lock, found in /proc/locks without taking it (a probe that took it
 * would make a non-blocking taker, a foreground cbox finishing or a companion's cleanup, see -EBUSY):
 * 1 held, 0 free or no lock file, -errno. */
int state_lock_held(const char *run_root, const char *name);
/* Drops the lock. remove=true unlinks the lock file first (use when the container is gone). Accepts
 * fd < 0. Returns -EBADF always so "fd = state_unlock(...)" works. */
int state_unlock(const char *run_root, const char *name, int fd, bool remove);

/* "<run_root>/containers/NAME": the state dir's path (for bind sources and messages). -EINVAL for an
 * invalid name. */
int state_dir_path(const char *run_root, const char *name, char **ret);
/* "<run_root>/containers/NAME/FILE" (file NULL: the dir itself); NULL when out of memory or the name is
 * invalid. */
char *state_path(const char *run_root, const char *name, const char *file);
/* True if <run_root>/containers/NAME exists. */
bool state_dir_exists(const char *run_root, const char *name);
/* "<run_root>/ipam": the directory ipam/ keeps its per-network leases in. */
int state_ipam_dir(const char *run_root, char **ret);

/* Opens <run_root>/containers/NAME (O_DIRECTORY), creating it 0700 when create is true. -ENOENT if absent.
 */
int state_dir_open(const char *run_root, const char *name, bool create, int *ret_fd);
/* Removes <run_root>/containers/NAME and everything below; 0 if it did not exist. */
int state_dir_remove(const char *run_root, const char *name);

/* Serialise / parse the state file. state_save writes atomically. state_load also merges the exit
 * file if present (exit_set, exit_status, exit_time_usec). -ENOENT when there is no state file. */
int state_save(int dir_fd, const ContainerState *s);
int state_load(int dir_fd, ContainerState **ret);
/* Convenience: state_dir_open + state_load */
int state_load_by_name(const char *run_root, const char *name, ContainerState **ret);

/* The exit file. cbox-init writes "EXIT_STATUS=N\n" (optionally "EXIT_TIME=usec\n") to it; a bare
 * number is accepted too. When no time is written, the file's mtime is used. -ENOENT if no file,
 * -ENODATA if the file exists but is empty (init still running). */
int state_read_exit(int dir_fd, int *ret_status, uint64_t *ret_time_usec);
/* Opens (creating, truncating) the exit file O_WRONLY|O_CLOEXEC for handing to init. */
int state_open_exit_file(int dir_fd, int *ret_fd);
/* Deletes the exit file (before a new start). 0 if absent. */
int state_remove_exit_file(int dir_fd);

/* Names of all state dirs under <run_root>/containers, sorted; an empty vector when run_root does not exist.
 */
int state_list(const char *run_root, char ***ret_names);

/* True if the leader pid exists and has the recorded start time (not a recycled pid). */
bool state_leader_alive(const ContainerState *s);

/* The persistent per-container dir <storage_root>/containers/NAME and its upper/work children. */
int state_container_storage_path(const char *storage_root, const char *name, char **ret);
