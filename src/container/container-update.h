/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "bus.h"
#include "config.h"

typedef struct UpdateResult {
        char **applied;      /* "memory_max: \"128M\" → \"256M\"" for each [resources] key changed live */
        char **need_restart; /* "network.ports: … → …" for each other changed key (not applied) */
} UpdateResult;
void update_result_done(UpdateResult *r);

/* cbox update NAME (see container-update.c). Returns 0 (result filled) or -errno (logged). */
int container_update(const GlobalConfig *g, const char *name, UpdateResult *ret);

/* The [resources] of c as the limit properties of a unit (scope, service, update) */
void container_fill_limits(const ContainerConfig *c, BusScopeParams *p);

/* Records what NAME runs with in <state dir>/config (for update). Returns 0 or -errno (not logged). */
int container_config_record(int state_dir_fd, const ContainerConfig *c);
