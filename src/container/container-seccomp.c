/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The seccomp filter of a container's processes (its init, `cbox exec`, health checks): the profile
 * security.seccomp names, compiled for the container's capabilities, from the cache under the run
 * root when it was compiled before. */

#include "container-internal.h"
#include "container.h"
#include "log.h"
#include "seccomp-profile.h"
#include "string-util.h"

/* "FILE:LINE: KEY" where the key was set, or "NAME: KEY" */
static char *key_where(const ContainerConfig *c, const char *key) {
        const ConfigOrigin *o = container_config_origin(c, key);
        if (o && o->file)
                return strprintf("%s:%u: %s", o->file, o->line, key);
        return strprintf("%s: %s", strna(c->path ?: c->name), key);
}

int container_seccomp_check(const ContainerConfig *c, SeccompProfile **ret, bool warn) {
        _cleanup_(seccomp_profile_freep) SeccompProfile *p = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        ErrorMessage e = {};
        const char *s = c->security.seccomp;
        int r;

        if (!s || streq(s, "default") || streq(s, "unconfined")) {
                if (ret)
                        *ret = NULL;
                return 0;
        }

        r = seccomp_profile_load(s, &p, warn ? &warnings : NULL, &e);
        if (r == -ENOMEM) {
                error_message_done(&e);
                return log_oom();
        }
        if (r < 0 || warnings) {
                _cleanup_free_ char *k = key_where(c, "security.seccomp");
                /* "FILE:LINE: security.seccomp: 'PROFILE': JSON.PATH: what is wrong" */
                if (r < 0 && e.message)
                        log_error_errno(r, "%s: '%s': %s", k ?: "security.seccomp", s, e.message);
                else if (r < 0)
                        log_error_errno(r, "%s: cannot read '%s': %m", k ?: "security.seccomp", s);
                STRV_FOREACH (w, warnings)
                        log_warning("%s: '%s': %s", k ?: "security.seccomp", s, *w);
                error_message_done(&e);
                if (r < 0)
                        return r;
        }
        if (ret)
                *ret = TAKE_PTR(p);
        return 0;
}

int container_seccomp_program(const GlobalConfig *g, const ContainerConfig *c, SeccompProgram *ret) {
        _cleanup_(seccomp_profile_freep) SeccompProfile *p = NULL;
        _cleanup_free_ char *cache = NULL;
        ErrorMessage e = {};
        uint64_t caps;
        int r;

        *ret = (SeccompProgram){};
        if (c && streq_ptr(c->security.seccomp, "unconfined"))
                return 0;

        if (c) {
                r = container_seccomp_check(c, &p, false);
                if (r < 0)
                        return r;
        }
        r = capability_compute_set(c ? c->security.capabilities_add : NULL,
                                   c ? c->security.capabilities_drop : NULL, &caps);
        if (r < 0)
                return log_error_errno(r, "%s: security.capabilities: %m", c ? strna(c->name) : "");

        cache = strjoin(global_config_run_root(g), "/seccomp");
        if (!cache)
                return log_oom();
        r = seccomp_program_build(p, caps, cache, ret, &e);
        if (r < 0) {
                if (e.message)
                        log_error_errno(r, "%s: cannot compile the seccomp filter: %s: %m",
                                        c ? strna(c->name) : "", e.message);
                else
                        log_error_errno(r, "%s: cannot compile the seccomp filter: %m",
                                        c ? strna(c->name) : "");
                error_message_done(&e);
                return r;
        }
        return 0;
}

int container_verify(const ContainerConfig *c) {
        int r = 0, k;

        if (c->security.user_namespace && c->read_only) {
                _cleanup_free_ char *w = key_where(c, "security.user_namespace");
                r = log_error_errno(EOPNOTSUPP,
                                    "%s: a user namespace with read_only = true is not supported yet",
                                    w ?: "security.user_namespace");
        }

        _cleanup_(seccomp_profile_freep) SeccompProfile *p = NULL;
        k = container_seccomp_check(c, &p, true);
        if (k < 0 && r >= 0)
                r = k;
        if (p) {
                /* it parses; it must also compile (the kernel takes at most 4096 instructions) */
                SeccompProgram prog = {};
                ErrorMessage e = {};
                uint64_t caps;
                k = capability_compute_set(c->security.capabilities_add, c->security.capabilities_drop,
                                           &caps);
                if (k >= 0)
                        k = seccomp_program_build(p, caps, NULL, &prog, &e);
                if (k < 0) {
                        _cleanup_free_ char *w = key_where(c, "security.seccomp");
                        log_error_errno(k, "%s: '%s': cannot compile: %s%s%m", w ?: "security.seccomp",
                                        c->security.seccomp, strempty(e.message), e.message ? ": " : "");
                        if (r >= 0)
                                r = k;
                }
                seccomp_program_done(&prog);
                error_message_done(&e);
        }
        return r;
}
