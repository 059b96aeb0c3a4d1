/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Private to container/ */

#include "bus.h"
#include "config.h"

/* The [resources] of c as the limit properties of a unit (scope, service, update) */
void container_fill_limits(const ContainerConfig *c, BusScopeParams *p);

/* Records what NAME runs with in <state dir>/config (for update). Returns 0 or -errno (not logged). */
int container_config_record(int state_dir_fd, const ContainerConfig *c);
