/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bus.h"
#include "container-autoupdate.h"
#include "container-internal.h"
#include "container-service.h"
#include "container.h"
#include "fd-util.h"
#include "image.h"
#include "log.h"
#include "state.h"
#include "string-util.h"

/* What a restart may take besides the unit's stop and the health window: cbox up of the new image
 * (nothing to pull, the image is in the store) on a loaded machine */
#define START_MARGIN_USEC (60 * USEC_PER_SEC)
/* cbox@.service's TimeoutStopSec: systemd SIGKILLs the old instance after that */
#define UNIT_STOP_TIMEOUT_USEC (90 * USEC_PER_SEC)

static const char *const action_names[_AUTO_UPDATE_ACTION_MAX] = {
        [AUTO_UPDATE_UNCHANGED] = "unchanged", [AUTO_UPDATE_WOULD_UPDATE] = "would-update",
        [AUTO_UPDATE_UPDATED] = "updated",     [AUTO_UPDATE_ROLLED_BACK] = "rolled-back",
        [AUTO_UPDATE_FAILED] = "failed",
};

const char *auto_update_action_to_string(AutoUpdateAction a) {
        return a >= 0 && a < _AUTO_UPDATE_ACTION_MAX ? action_names[a] : NULL;
}

static void report_done(AutoUpdateReport *r) {
        free(r->container);
        free(r->unit);
        free(r->image);
        free(r->previous);
        free(r->current);
        free(r->error);
        *r = (AutoUpdateReport){};
}

void auto_update_report_array_free(AutoUpdateReport *a, size_t n) {
        for (size_t i = 0; a && i < n; i++)
                report_done(&a[i]);
        free(a);
}

/* How long the restart may take to become ready: the old instance's stop, cbox up, and with [health]
 * its start period plus every retry (interval + timeout each) and the first check's: a check that has
 * not passed by then never made the container ready. Each span is capped (SPAN_MAX_USEC) so that the
 * sum cannot overflow; the unit's own TimeoutStartSec ends a start that takes longer anyway. */
#define SPAN_MAX_USEC (24 * 3600 * USEC_PER_SEC)
static uint64_t ready_bound_usec(const ContainerConfig *c) {
        const HealthConfig *h = &c->health;
        uint64_t t = MIN(c->stop_timeout_usec, UNIT_STOP_TIMEOUT_USEC) + START_MARGIN_USEC;

        if (h->enabled)
                t += MIN(h->start_period_usec, SPAN_MAX_USEC) +
                        (uint64_t) (h->retries + 1) *
                                (MIN(h->interval_usec, SPAN_MAX_USEC) + MIN(h->timeout_usec, SPAN_MAX_USEC));
        return t;
}

/* Sets the report's error (the first reason wins: a rollback keeps why it was needed) */
_printf_(2, 3) static void report_error(AutoUpdateReport *rep, const char *fmt, ...) {
        va_list ap;
        char *m;

        if (rep->error)
                return;
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) >= 0)
                rep->error = m;
        va_end(ap);
}

static const char *image_error_text(const ImageError *e, int r) {
        return e->message ?: strerror(-r);
}

/* The manifest digest the container runs: line 2 of its image file (written by its up) */
static int running_digest(const GlobalConfig *g, const char *name, char **ret) {
        _cleanup_free_ char *dir = NULL, *f = NULL, *ref = NULL, *digest = NULL;
        int r;

        r = state_container_storage_path(global_config_storage_root(g), name, &dir);
        if (r < 0)
                return r;
        f = strjoin(dir, "/image");
        if (!f)
                return -ENOMEM;
        r = container_read_image_file(f, &ref, &digest);
        if (r < 0)
                return r;
        if (!digest)
                return -ENODATA;
        *ret = TAKE_PTR(digest);
        return 0;
}

/* RestartUnit, then: ready = the job done (READY=1), the unit active, and on the digest expected. Fills
 * *ret_why (may stay NULL) when not. Returns 1 ready, 0 not, -ENOMEM. */
static int restart_and_check(sd_bus *bus, const GlobalConfig *g, const ContainerConfig *c, const char *unit,
                             const char *expected, char **ret_why) {
        _cleanup_free_ char *active = NULL, *running = NULL;
        BusError e = BUS_ERROR_NULL;
        uint64_t bound = ready_bound_usec(c);
        int r;

        log_info("%s: restarting %s on %.19s (ready within %" PRIu64 " s)", c->name, unit, expected,
                 bound / USEC_PER_SEC);
        r = bus_restart_unit(bus, unit, bound, &e);
        if (r == -ETIMEDOUT)
                *ret_why = strprintf("%s did not become ready within %" PRIu64 " s%s", unit,
                                     bound / USEC_PER_SEC,
                                     c->health.enabled ? " (its health check did not pass)" : "");
        else if (r < 0)
                *ret_why = strprintf("restart of %s: %s", unit, e.message ?: strerror(-r));
        bus_error_done(&e);
        if (r < 0)
                return *ret_why ? 0 : -ENOMEM;

        r = bus_unit_state(bus, unit, &active, NULL);
        if (r < 0 || !streq(active, "active")) {
                *ret_why = strprintf("%s is %s after its restart", unit, active ?: strerror(-r));
                return *ret_why ? 0 : -ENOMEM;
        }
        r = running_digest(g, c->name, &running);
        if (r < 0 || !streq(running, expected)) {
                *ret_why = strprintf("%s runs %s, not %s", unit, r < 0 ? strerror(-r) : running, expected);
                return *ret_why ? 0 : -ENOMEM;
        }
        return 1;
}

/* The tag moved to something else than rep->previous: keep previous under hold, pull, restart, roll back
 * when not ready. Fills rep. */
static void update_one(sd_bus *bus, const GlobalConfig *g, const ContainerConfig *c, ImageStore *s,
                       const ImagePullOptions *opts, AutoUpdateReport *rep) {
        _cleanup_free_ char *hold = NULL, *tagged = NULL, *pulled = NULL, *why = NULL, *why2 = NULL;
        ImageError e = {};
        bool had_hold = true; /* until we made it: nothing to remove */
        int r;

        /* NAME@sha256:<previous>: the image stays in the store whatever the tag names, until we are done */
        const char *colon = strrchr(rep->image, ':'); /* normalized NAME:TAG */
        assert(colon);
        hold = strprintf("%.*s@%s", (int) (colon - rep->image), rep->image, rep->previous);
        if (!hold)
                goto oom;
        had_hold = image_manifest_digest(s, hold, &tagged) >= 0;
        tagged = mfree(tagged);
        if (!had_hold) {
                if (image_manifest_digest(s, rep->image, &tagged) < 0 || !streq(tagged, rep->previous)) {
                        report_error(rep,
                                     "the image it runs (%.19s) has no name in the store any more: nothing "
                                     "to roll back to, not updating",
                                     rep->previous);
                        log_error("%s: %s", c->name, rep->error);
                        rep->action = AUTO_UPDATE_FAILED;
                        return;
                }
                r = image_tag(s, rep->image, hold, &e);
                if (r < 0) {
                        report_error(rep, "cannot keep the previous image as '%s': %s", hold,
                                     image_error_text(&e, r));
                        log_error_errno(r, "%s: %s", c->name, rep->error);
                        rep->action = AUTO_UPDATE_FAILED;
                        error_message_done(&e);
                        return;
                }
        }

        log_info("%s: '%s' moved from %.19s to %.19s, pulling it", c->name, rep->image, rep->previous,
                 rep->current);
        r = image_pull(s, rep->image, opts, NULL, NULL, NULL, NULL, &e);
        if (r >= 0)
                r = image_manifest_digest(s, rep->image, &pulled);
        if (r < 0) {
                report_error(rep, "cannot pull '%s': %s%s%s", rep->image, e.object ?: "",
                             e.object ? ": " : "", image_error_text(&e, r));
                log_error_errno(r, "%s: %s", c->name, rep->error);
                error_message_done(&e);
                rep->action = AUTO_UPDATE_FAILED;
                goto done;
        }
        if (free_and_strdup(&rep->current, pulled) < 0)
                goto oom;
        if (streq(pulled, rep->previous)) { /* the tag moved back meanwhile */
                rep->action = AUTO_UPDATE_UNCHANGED;
                goto done;
        }

        r = restart_and_check(bus, g, c, rep->unit, pulled, &why);
        if (r < 0)
                goto oom;
        if (r > 0) {
                log_info("%s: updated to %.19s", c->name, pulled);
                rep->action = AUTO_UPDATE_UPDATED;
                goto done;
        }

        /* not ready: the previous image back under the tag, and the unit on it */
        report_error(rep, "%s", strna(why));
        log_error("%s: %s; rolling back to %.19s", c->name, strna(why), rep->previous);
        r = image_tag(s, hold, rep->image, &e);
        if (r < 0) {
                log_error_errno(r, "%s: cannot name %s '%s' again: %s", c->name, rep->previous, rep->image,
                                image_error_text(&e, r));
                error_message_done(&e);
                rep->action = AUTO_UPDATE_FAILED;
                had_hold = true; /* the only name left of the image to roll back to */
                goto done;
        }
        if (free_and_strdup(&rep->current, rep->previous) < 0)
                goto oom;
        r = restart_and_check(bus, g, c, rep->unit, rep->previous, &why2);
        if (r < 0)
                goto oom;
        if (r > 0) {
                log_notice("%s: rolled back to %.19s", c->name, rep->previous);
                rep->action = AUTO_UPDATE_ROLLED_BACK;
        } else {
                log_error("%s: even the previous image did not come up: %s", c->name, strna(why2));
                free(rep->error);
                rep->error = strprintf("%s; rollback: %s", strna(why), strna(why2));
                rep->action = AUTO_UPDATE_FAILED;
        }
        goto done;

oom:
        (void) log_oom();
        rep->action = AUTO_UPDATE_FAILED;
        report_error(rep, "%s", strerror(ENOMEM));
done:
        if (hold && !had_hold) {
                r = image_remove(s, hold, &e);
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "%s: cannot remove '%s', ignoring: %s", c->name, hold,
                                          image_error_text(&e, r));
                error_message_done(&e);
        }
}

/* One container whose service is up: fills rep (0), or 0 without filling it when it did not opt in */
static int check_one(sd_bus *bus, const GlobalConfig *g, const char *name, const char *unit, bool dry_run,
                     AutoUpdateReport *rep, bool *ret_opted_in) {
        _cleanup_(container_config_freep) ContainerConfig *c = NULL;
        _cleanup_(image_store_freep) ImageStore *s = NULL;
        _cleanup_free_ ImageRegistry *regs = NULL;
        ImagePullOptions opts;
        ImageError e = {};
        int r;

        *ret_opted_in = false;
        rep->container = strdup(name);
        rep->unit = strdup(unit);
        if (!rep->container || !rep->unit)
                return -ENOMEM;
        rep->action = AUTO_UPDATE_FAILED;

        r = container_load_config(name, g, &c); /* logs the problems */
        if (r < 0) {
                *ret_opted_in = true; /* whether it did is unknown: say so rather than skip it */
                report_error(rep, "its file does not load (see 'cbox verify %s')", name);
                return r == -ENOMEM ? r : 0;
        }
        if (c->auto_update != AUTO_UPDATE_REGISTRY)
                return 0;
        *ret_opted_in = true;

        r = image_ref_normalize(c->image, &rep->image);
        if (r < 0) {
                report_error(rep, "image '%s' is not a reference by tag", c->image);
                (void) log_error_errno(r, "%s: %s", name, rep->error);
                return 0;
        }
        r = running_digest(g, name, &rep->previous);
        if (r < 0) {
                report_error(rep, "no record of the image it runs: %s", strerror(-r));
                (void) log_error_errno(r, "%s: %s", name, rep->error);
                return 0;
        }
        r = image_store_open(global_config_storage_root(g), &s);
        if (r < 0) {
                report_error(rep, "cannot open the image store: %s", strerror(-r));
                (void) log_error_errno(r, "%s: %s", name, rep->error);
                return 0;
        }
        if (container_pull_options(g, &opts, &regs) < 0)
                return -ENOMEM;
        r = image_remote_digest(s, rep->image, &opts, &rep->current, &e);
        if (r < 0) {
                report_error(rep, "cannot ask the registry for '%s': %s%s%s", rep->image, e.object ?: "",
                             e.object ? ": " : "", image_error_text(&e, r));
                error_message_done(&e);
                (void) log_error_errno(r, "%s: %s", name, rep->error);
                return 0;
        }
        if (streq(rep->current, rep->previous)) {
                rep->action = AUTO_UPDATE_UNCHANGED;
                return 0;
        }
        if (dry_run) {
                rep->action = AUTO_UPDATE_WOULD_UPDATE;
                return 0;
        }
        update_one(bus, g, c, s, &opts, rep);
        return 0;
}

static int name_compare(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* NAME of every <config root>/etc/cbox/NAME.toml, sorted */
static int list_files(char ***ret) {
        _cleanup_free_ char *dir = strjoin(config_root(), "/etc/cbox");
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_closedir_ DIR *d = NULL;

        if (!dir)
                return -ENOMEM;
        d = opendir(dir);
        if (!d && errno != ENOENT)
                return -errno;
        for (struct dirent *de; d && (de = readdir(d));) {
                size_t n = strlen(de->d_name);
                if (n <= 5 || !streq(de->d_name + n - 5, ".toml"))
                        continue;
                _cleanup_free_ char *name = strndup(de->d_name, n - 5);
                if (!name)
                        return -ENOMEM;
                if (!container_name_is_valid(name))
                        continue;
                if (strv_consume(&names, TAKE_PTR(name)) < 0)
                        return -ENOMEM;
        }
        if (names)
                qsort(names, strv_length(names), sizeof(char *), name_compare);
        *ret = TAKE_PTR(names);
        return 0;
}

int container_auto_update(const GlobalConfig *g, bool dry_run, AutoUpdateReport **ret, size_t *ret_n) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_strv_free_ char **names = NULL;
        AutoUpdateReport *reps = NULL;
        size_t n = 0;
        int r;

        if (!bus_systemd_booted())
                return log_error_errno(EHOSTDOWN, "auto-update: systemd is not running as PID 1");
        r = bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "auto-update: failed to connect to the system bus: %m");
        r = list_files(&names);
        if (r < 0)
                return log_error_errno(r, "auto-update: cannot list %s/etc/cbox: %m", config_root());

        STRV_FOREACH (name, names) {
                _cleanup_free_ char *unit = container_service_unit(*name), *active = NULL;
                bool opted_in;

                if (!unit)
                        goto oom;
                /* only what systemd runs now: a service that is not up is left for its next start */
                if (bus_unit_state(bus, unit, &active, NULL) < 0 ||
                    !(streq(active, "active") || streq(active, "activating") || streq(active, "reloading")))
                        continue;
                AutoUpdateReport *a = reallocarray(reps, n + 1, sizeof(*reps));
                if (!a)
                        goto oom;
                reps = a;
                reps[n] = (AutoUpdateReport){};
                r = check_one(bus, g, *name, unit, dry_run, &reps[n], &opted_in);
                n++;
                if (r < 0)
                        goto oom;
                if (!opted_in) /* not ours to report on */
                        report_done(&reps[--n]);
        }
        *ret = reps;
        *ret_n = n;
        return 0;
oom:
        auto_update_report_array_free(reps, n);
        return log_oom();
}
