/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Private to container/ */

#include "config.h"

/* Records what NAME runs with in <state dir>/config (for update). Returns 0 or -errno (not logged). */
int container_config_record(int state_dir_fd, const ContainerConfig *c);
