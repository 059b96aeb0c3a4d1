/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Private to container/: what up takes from container-storage.c — <storage_root>/containers/NAME, the
 * image file and the files bound over /etc (container.h has the rest: container_read_image_file(),
 * container_upper_is_pristine(), container_bound_etc_files) */

#include <stdbool.h>

#include "config.h"

enum { BOUND_RESOLV_CONF, BOUND_HOSTS, BOUND_HOSTNAME }; /* indices into container_bound_etc_files */

/* <storage_root>/containers/NAME (*dir) and, unless read_only, its upper/ and work/ (*upper, *work):
 * created when missing. Sets what it got as far as it got, also on failure (the caller frees them, and
 * removes the dir when *created: it did not exist before). Logs. */
int container_storage_prepare(const GlobalConfig *g, const char *name, bool read_only, char **dir,
                              char **upper, char **work, bool *created);
/* Writes <storage_dir>/image (line 1 ref, line 2 digest) unless it says that already. Logs. */
int container_write_image_file(const char *name, const char *storage_dir, const char *ref,
                               const char *digest);

/* Whether up binds its own resolv.conf and hosts (and hostname) over the image's (top layer first) */
bool container_want_etc_files(const ContainerConfig *c, char *const *lowers);
bool container_want_hostname_file(const ContainerConfig *c, char *const *lowers);
/* Writes resolv.conf, hosts and (hostname_file) hostname into the state dir; address NULL: 127.0.1.1.
 * Returns 0 or -errno (not logged). */
int container_write_etc_files(int state_fd, const char *name, const ContainerConfig *c, const char *address,
                              bool hostname_file);
