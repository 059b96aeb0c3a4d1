/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "fd-util.h"
#include "spawn.h"

void spawn_child_done(SpawnChild *c) {
        if (!c)
                return;
        c->pidfd = safe_close(c->pidfd);
        c->sync_fd = safe_close(c->sync_fd);
}

int spawn_container(const SpawnParams *p, SpawnChild *ret) {
        return -EOPNOTSUPP;
}

int spawn_child_release(SpawnChild *c, SpawnError *err) {
        return -EOPNOTSUPP;
}

int spawn_open_executable(const char *path, int *ret_fd) {
        return -EOPNOTSUPP;
}

int spawn_exec_in(const SpawnExecParams *p, int *ret_status, SpawnError *err) {
        return -EOPNOTSUPP;
}

int capability_from_name(const char *name) {
        return -EOPNOTSUPP;
}

const char *capability_to_name(int cap) {
        return NULL;
}

int capability_last_cap(void) {
        return -EOPNOTSUPP;
}

uint64_t capability_default_set(void) {
        return 0;
}

int capability_compute_set(char **add, char **drop, uint64_t *ret) {
        return -EOPNOTSUPP;
}

int spawn_resolve_user(int root_fd, const char *user, uid_t *ret_uid, gid_t *ret_gid, gid_t **ret_groups,
                       size_t *ret_n_groups, char **ret_home) {
        return -EOPNOTSUPP;
}

int spawn_build_env(char **extra, const char *home, bool tty, char ***ret) {
        return -EOPNOTSUPP;
}

int spawn_wait_status_to_exit(int status) {
        return -EOPNOTSUPP;
}
