/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* `cbox auto-update`: containers run by cbox@NAME.service whose file says auto_update = "registry" follow
 * their image's tag on its registry, as podman auto-update does for Quadlet units. For each such
 * service that is active (or activating): the tag's manifest digest at the registry (for this host's
 * platform) is compared with the one the container was started from (line 2 of
 * <storage_root>/containers/NAME/image). When it moved, the image the container runs is kept under
 * NAME@sha256:<previous> (so neither gc nor the tag's move can take it), the tag is pulled, the unit
 * restarted over the bus, and it must become ready within a bound (the restart job done — READY=1,
 * which with [health] comes after the first passing check — and the unit active on the new digest);
 * otherwise the previous digest goes back under the tag and the unit is restarted again. The
 * NAME@sha256 entry is dropped afterwards unless it was there before. */

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

typedef enum AutoUpdateAction {
        AUTO_UPDATE_UNCHANGED,    /* the tag names the digest the container runs */
        AUTO_UPDATE_WOULD_UPDATE, /* dry run: the tag moved, nothing was done */
        AUTO_UPDATE_UPDATED,      /* pulled, restarted, ready on the new digest */
        AUTO_UPDATE_ROLLED_BACK,  /* the new digest did not become ready: back on the previous one */
        AUTO_UPDATE_FAILED,       /* could not check or update, or even the rollback did not come up */
        _AUTO_UPDATE_ACTION_MAX,
} AutoUpdateAction;

const char *auto_update_action_to_string(AutoUpdateAction a);

typedef struct AutoUpdateReport {
        char *container;
        char *unit;     /* cbox@NAME.service */
        char *image;    /* NAME:TAG, normalized */
        char *previous; /* the digest the container ran when auto-update began (NULL if unknown) */
        char *current;  /* the digest it runs now; for would-update the registry's; NULL if unknown */
        AutoUpdateAction action;
        char *error; /* why it failed or was rolled back; NULL otherwise */
} AutoUpdateReport;

void auto_update_report_array_free(AutoUpdateReport *a, size_t n);

/* Checks (dry_run: changes nothing at all — no pull, no tag, no restart) and updates every opted-in
 * active cbox@ service, sorted by name. Containers that did not opt in are not looked at beyond their
 * file. Logs each failure once. Returns 0 with the reports (also when some failed: see their action),
 * or -errno (logged) when nothing could be looked at (no systemd, no bus). */
int container_auto_update(const GlobalConfig *g, bool dry_run, AutoUpdateReport **ret, size_t *ret_n);
