/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* cbox update NAME: re-read the container's file and drop-ins, apply changed [resources] keys to the
 * running unit (SetUnitProperties, runtime), name what needs a restart.
 *
 * What the container runs with is remembered in <run_root>/NAME/config: the canonical TOML of the
 * effective configuration (container_config_format_toml, one "key = value" line each) written by up and
 * rewritten by update with the [resources] lines it applied. Comparing that with the file now gives the
 * changed keys. The stored digest is replaced only when every change was applied, so `cbox up --replace`
 * still sees the changes that need a restart.
 *
 * When a limit changed, every limit is sent (bus_set_unit_limits), the ones the file no longer sets with
 * their reset value: a key removed from the file stops applying at once, a removed cpuset included. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "container-internal.h"
#include "container-update.h"
#include "container.h"
#include "fault.h"
#include "fd-util.h"
#include "fileio.h"
#include "log.h"
#include "string-util.h"

void update_result_done(UpdateResult *r) {
        if (!r)
                return;
        r->applied = strv_free(r->applied);
        r->need_restart = strv_free(r->need_restart);
}

/* container_config_format_toml() annotates each line with "  # from FILE:LINE" or "  # default": the
 * origin is no part of the value (and its line moves when the file is edited) */
static void strip_origin(char *line) {
        char *p;
        size_t l = strlen(line);

        if (l >= 11 && streq(line + l - 11, "  # default")) {
                line[l - 11] = '\0';
                return;
        }
        p = strstr(line, "  # from ");
        if (p) {
                char *q;
                while ((q = strstr(p + 1, "  # from ")))
                        p = q;
                *p = '\0';
        }
}

/* canonical TOML → "section.key = value" lines ([[mount]] entries as mount[N].key) */
static int flatten(const char *toml, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *section = NULL;
        int n_mount = -1, r;

        for (const char *p = toml; p && *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t) (nl - p) : strlen(p);
                _cleanup_free_ char *line = strndup(p, len);
                p = nl ? nl + 1 : NULL;
                if (!line)
                        return -ENOMEM;
                if (line[0] == '\0' || line[0] == '#')
                        continue;
                strip_origin(line);
                if (streq(line, "[[mount]]")) {
                        free(section);
                        section = strprintf("mount[%d]", ++n_mount);
                } else if (line[0] == '[') {
                        free(section);
                        section = strndup(line + 1, strlen(line) - 2);
                } else {
                        r = strv_consume(&l, section ? strjoin(section, ".", line) : strdup(line));
                        if (r < 0)
                                return r;
                        continue;
                }
                if (!section)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static char *line_key(const char *line) {
        const char *eq = strstr(line, " = ");
        return eq ? strndup(line, (size_t) (eq - line)) : strdup(line);
}

static const char *line_value(char **l, const char *key) {
        size_t k = strlen(key);
        STRV_FOREACH (i, l)
                if (strncmp(*i, key, k) == 0 && startswith(*i + k, " = "))
                        return *i + k + 3;
        return NULL;
}

static int add_change(char ***l, const char *key, const char *old, const char *new) {
        return strv_consume(l, strprintf("%s: %s → %s", key, old ?: "(unset)", new ?: "(unset)"));
}

/* Adds the key of every line of l that other lacks to *keys (once each). -ENOMEM. */
static int add_changed_keys(char **l, char **other, bool have_other, char ***keys) {
        STRV_FOREACH (i, l)
                if (!have_other || !strv_contains(other, *i)) {
                        _cleanup_free_ char *k = line_key(*i);
                        if (!k || (!strv_contains(*keys, k) && strv_extend(keys, k) < 0))
                                return -ENOMEM;
                }
        return 0;
}

/* Every key whose line differs, as "key: old → new" into res->applied ([resources] limits) or
 * res->need_restart. have_old false: nothing recorded, every key of new is a change from "?". Logs. */
static int sort_changes(char **old, char **new, bool have_old, UpdateResult *res) {
        _cleanup_strv_free_ char **keys = NULL;
        int r;

        if (add_changed_keys(new, old, have_old, &keys) < 0 || add_changed_keys(old, new, true, &keys) < 0)
                return log_oom();
        STRV_FOREACH (k, keys) {
                const char *ov = have_old ? line_value(old, *k) : "?", *nv = line_value(new, *k);
                if (container_is_limit_key(*k))
                        r = add_change(&res->applied, *k + strlen("resources."), ov, nv);
                else
                        r = add_change(&res->need_restart, *k, ov, nv);
                if (r < 0)
                        return log_oom();
        }
        return 0;
}

/* Every limit of c on the running unit (runtime). Logs. */
static int apply_limits(const char *name, const ContainerConfig *c, const char *unit) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        BusScopeParams bp = {};
        BusError e = BUS_ERROR_NULL;
        int r;

        r = bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "%s: cannot connect to the system bus: %m", name);
        container_fill_limits(c, &bp);
        r = bus_set_unit_limits(bus, unit, &bp, true, &e);
        if (r < 0) {
                if (e.message)
                        log_error("%s: failed to change the limits of %s: %s", name, unit, e.message);
                else
                        log_error_errno(r, "%s: failed to change the limits of %s: %m", name, unit);
                bus_error_done(&e);
                return r;
        }
        return 0;
}

/* Records what runs now: the old lines, with [resources] from the file (have_old false: the file's).
 * A failed write is a warning. Logs. */
static int record_applied(int dir_fd, const char *name, char **old, char **new, bool have_old) {
        _cleanup_strv_free_ char **snapshot = NULL;
        _cleanup_free_ char *snap = NULL;
        int r;

        if (have_old)
                STRV_FOREACH (l, old)
                        if (!startswith(*l, "resources.") && strv_extend(&snapshot, *l) < 0)
                                return log_oom();
        STRV_FOREACH (l, new)
                if ((!have_old || startswith(*l, "resources.")) && strv_extend(&snapshot, *l) < 0)
                        return log_oom();
        snap = strv_join(snapshot, "\n");
        if (!snap)
                return log_oom();
        /* flat lines are valid input for flatten() again: no section headers, keys carry their path */
        r = write_file_atomic_at(dir_fd, "config", snap, strlen(snap), 0644);
        if (r < 0)
                log_warning_errno(r, "%s: cannot record the configuration: %m", name);
        return 0;
}

/* Everything changed was applied: the state's digest becomes the file's (a failure is a warning) */
static void replace_digest(int dir_fd, const char *name, const ContainerConfig *c) {
        _cleanup_(container_state_freep) ContainerState *s = NULL;
        _cleanup_free_ char *digest = container_config_digest(c);
        int r;

        if (digest && state_load(dir_fd, &s) >= 0) {
                free_and_strdup(&s->config_digest, digest);
                r = state_save(dir_fd, s);
                if (r < 0)
                        log_warning_errno(r, "%s: cannot update its state: %m", name);
        }
}

int container_update(const GlobalConfig *g, const char *name, UpdateResult *ret) {
        _cleanup_(container_info_done) ContainerInfo i = {};
        _cleanup_(container_config_freep) ContainerConfig *c = NULL;
        _cleanup_strv_free_ char **old = NULL, **new = NULL;
        _cleanup_free_ char *old_toml = NULL, *new_toml = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        _cleanup_(update_result_done) UpdateResult res = {};
        int lock_fd = -EBADF, r;

        r = container_get_info_logged(g, name, false, &i);
        if (r < 0)
                return r;
        if (i.status != CONTAINER_RUNNING)
                return log_error_errno(ESRCH, "%s: not running (the file applies at the next start)", name);
        if (!i.state->config_path)
                return log_error_errno(ENOENT, "%s: started without a file, nothing to re-read", name);
        if (container_load_config(i.state->config_path, g, &c) < 0)
                return -EINVAL; /* problems printed */

        r = state_lock(global_config_run_root(g), name, false, &lock_fd);
        if (r == -EBUSY)
                return log_error_errno(r, "%s: another cbox command is working on it, try again", name);
        if (r < 0)
                return log_error_errno(r, "%s: cannot lock: %m", name);
        r = state_dir_open(global_config_run_root(g), name, false, &dir_fd);
        if (r < 0) {
                log_error_errno(r, "%s: cannot open its state: %m", name);
                goto finish;
        }
        FAULT_POINT("update.locked");

        new_toml = container_config_format_toml(c);
        if (!new_toml || flatten(new_toml, &new) < 0) {
                r = log_oom();
                goto finish;
        }
        r = read_full_file_at(dir_fd, "config", &old_toml, NULL, 1024 * 1024);
        if (r == -ENOENT) {
                /* started by a cbox that did not record it: apply every [resources] key of the file */
                log_notice("%s: no record of the configuration it runs with; applying all of [resources]",
                           name);
                old_toml = NULL;
        } else if (r < 0) {
                log_error_errno(r, "%s: cannot read its recorded configuration: %m", name);
                goto finish;
        }
        if (old_toml && flatten(old_toml, &old) < 0) {
                r = log_oom();
                goto finish;
        }

        r = sort_changes(old, new, old_toml != NULL, &res);
        if (r < 0)
                goto finish;
        if (res.applied) {
                r = apply_limits(name, c, i.state->unit);
                if (r < 0)
                        goto finish;
                FAULT_POINT("update.limits-applied");
        }
        r = record_applied(dir_fd, name, old, new, old_toml != NULL);
        if (r < 0)
                goto finish;
        FAULT_POINT("update.recorded");
        if (!res.need_restart && old_toml)
                replace_digest(dir_fd, name, c);
        r = 0;
        if (ret)
                *ret = res, res = (UpdateResult){};
finish:
        (void) state_unlock(global_config_run_root(g), name, lock_fd, false);
        return r;
}

int container_config_record(int state_dir_fd, const ContainerConfig *c) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *toml = NULL, *s = NULL;
        int r;

        toml = container_config_format_toml(c);
        if (!toml)
                return -ENOMEM;
        r = flatten(toml, &l);
        if (r < 0)
                return r;
        s = strv_join(l, "\n");
        if (!s)
                return -ENOMEM;
        return write_file_atomic_at(state_dir_fd, "config", s, strlen(s), 0644);
}
