/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every process of a container gets (env files, the image's User/WorkingDir/Env, limits, seccomp),
 * and cbox exec. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cbox-build.h"
#include "container-internal.h"
#include "container.h"
#include "fd-util.h"
#include "fileio.h"
#include "image.h"
#include "log.h"
#include "spawn.h"
#include "string-util.h"

/* cbox's default filter unless the file says "unconfined" */
bool container_want_seccomp(const ContainerConfig *c) {
        return !c || !streq_ptr(c->security.seccomp, "unconfined");
}

/* Sets KEY=VALUE in l, replacing an entry of the same key */
static int env_set(char ***l, const char *kv) {
        const char *eq = strchr(kv, '=');
        size_t k;

        if (!eq || eq == kv)
                return -EINVAL;
        k = (size_t) (eq - kv) + 1;
        STRV_FOREACH (i, *l)
                if (strneq(*i, kv, k)) {
                        char *d = strdup(kv);
                        if (!d)
                                return -ENOMEM;
                        free(*i);
                        *i = d;
                        return 0;
                }
        return strv_extend(l, kv);
}

/* KEY=VALUE lines; blank lines and lines starting with '#' are skipped, "export " is allowed */
static int env_file_load(const char *path, char ***l) {
        _cleanup_free_ char *data = NULL;
        int r;

        r = read_full_file(path, &data, NULL, 1024 * 1024);
        if (r < 0)
                return r;
        for (char *line = data, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                line += strspn(line, " \t");
                if (!*line || *line == '#')
                        continue;
                line = startswith(line, "export ") ?: line;
                if (!strchr(line, '=') || *line == '=')
                        return -EBADMSG;
                r = env_set(l, line);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* what every process of the container gets */

int container_process_init(ContainerProcess *p, const char *name, const ContainerConfig *c,
                           const ImageConfig *ic, const char *image) {
        _cleanup_strv_free_ char **env = NULL;
        const char *iu = ic && !isempty(ic->user) ? ic->user : NULL;
        const char *iw = ic && !isempty(ic->working_dir) ? ic->working_dir : NULL;
        int r;

        assert(p && c);

        /* an image is data from wherever it was pulled: the same rules as for the file's keys */
        if (iw && !c->workdir && !config_workdir_is_valid(iw))
                return log_error_errno(EINVAL, "%s: image '%s': WorkingDir '%s' is not an absolute path",
                                       name, strna(image), iw);
        if (iu && !c->user && !config_user_is_valid(iu))
                return log_error_errno(EINVAL,
                                       "%s: image '%s': User '%s' is not \"name\", \"uid\", \"uid:gid\" or "
                                       "\"name:group\"",
                                       name, strna(image), iu);
        if (ic)
                STRV_FOREACH (e, ic->env) {
                        if (!config_env_assignment_is_valid(*e))
                                return log_error_errno(
                                        EINVAL,
                                        "%s: image '%s': Env entry '%s' is not NAME=VALUE with "
                                        "a NAME of letters, digits and '_'",
                                        name, strna(image), *e);
                        r = env_set(&env, *e);
                        if (r < 0)
                                return log_oom();
                }
        STRV_FOREACH (f, c->env_files) {
                r = env_file_load(*f, &env);
                if (r < 0)
                        return log_error_errno(r, "%s: env_files: cannot load '%s': %m", name, *f);
        }
        STRV_FOREACH (e, c->env)
                if (env_set(&env, *e) < 0)
                        return log_oom();
        if (!env) {
                env = new0(char *, 1);
                if (!env)
                        return log_oom();
        }

        *p = (ContainerProcess){
                .user = c->user ?: iu,
                .workdir = c->workdir ?: iw,
                .env = TAKE_PTR(env),
                .rlimits = {
                        { RLIMIT_NOFILE, c->resources.nofile.soft, c->resources.nofile.hard,
                          !c->resources.nofile_set },
                        { RLIMIT_NPROC, c->resources.nproc.soft, c->resources.nproc.hard,
                          !c->resources.nproc_set },
                },
        };
        return 0;
}

void container_process_done(ContainerProcess *p) {
        if (!p)
                return;
        p->env = strv_free(p->env);
}

void container_process_apply(const ContainerProcess *p, const ContainerConfig *c, SpawnProcess *sp) {
        sp->user = p->user;
        sp->workdir = p->workdir;
        sp->env = p->env;
        sp->rlimits = p->rlimits;
        sp->n_rlimits = ELEMENTSOF(p->rlimits);
        sp->oom_score_adj_set = true;
        sp->oom_score_adj = c->resources.oom_score_adj;
        sp->oom_score_adj_best_effort = !c->resources.oom_score_adj_set;
}

int container_open_init(const char *name, int *ret_fd) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = container_find_init(&path);
        if (r < 0)
                return log_error_errno(r,
                                       "%s: cannot find cbox-init (set $CBOX_INIT or install it to %s): %m",
                                       name, CBOX_LIBEXECDIR);
        r = spawn_open_executable(path, ret_fd);
        if (r < 0)
                return log_error_errno(r, "%s: cannot open '%s': %m", name, path);
        return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* exec */

int container_exec(const GlobalConfig *g, const char *name, const ExecOptions *o) {
        _cleanup_(container_info_done) ContainerInfo i = {};
        _cleanup_(container_config_freep) ContainerConfig *c = NULL;
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *cg = NULL;
        _cleanup_close_ int pidfd = -EBADF, cgfd = -EBADF, exec_fd = -EBADF;
        _cleanup_(seccomp_program_done) SeccompProgram sprog = {};
        _cleanup_(image_config_freep) ImageConfig *ic = NULL;
        _cleanup_(container_process_done) ContainerProcess cp = {};
        _cleanup_(error_message_done) ErrorMessage se = {};
        int status = 0, r;

        r = container_get_info_logged(g, name, true, &i);
        if (r < 0)
                return r;

        r = container_pidfd_open_checked(i.state->leader_pid, i.state->leader_start_time, &pidfd);
        if (r < 0)
                return log_error_errno(r, "%s: its init is gone: %m", name);
        r = container_cgroup_path(&i, &cg);
        if (r >= 0) {
                cgfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (cgfd < 0)
                        log_debug_errno(errno, "%s: cannot open cgroup '%s': %m", name, cg);
        }

        /* as the container's own processes run (docker exec): the file's user, workdir and
         * environment, else the image's, and its limits (the file may have changed meanwhile; the
         * image is looked up by its reference again) */
        if (i.state->config_path) {
                ConfigDiag d = {};
                r = container_config_load(i.state->config_path, g, &c, &d);
                config_diag_done(&d);
                if (r < 0)
                        log_warning_errno(
                                r, "%s: cannot load '%s', running as root without its environment: %m", name,
                                i.state->config_path);
        }
        if (c && c->image) {
                _cleanup_(image_store_freep) ImageStore *store = NULL;
                _cleanup_free_ char *ref = NULL;

                r = image_store_open(global_config_storage_root(g), &store);
                if (r >= 0)
                        r = image_ref_normalize_any(c->image, &ref);
                if (r >= 0)
                        r = image_resolve(store, ref, NULL, &ic, NULL);
                if (r < 0)
                        log_warning_errno(r, "%s: cannot read the config of image '%s', ignoring: %m", name,
                                          c->image);
        }
        if (c) {
                r = container_process_init(&cp, name, c, ic, c->image);
                if (r < 0)
                        return r;
        }
        STRV_FOREACH (e, cp.env) {
                r = env_set(&env, *e);
                if (r < 0)
                        return log_oom();
        }
        STRV_FOREACH (e, o->env) {
                r = env_set(&env, *e);
                if (r == -EINVAL)
                        return log_error_errno(r, "%s: invalid environment assignment '%s'", name, *e);
                if (r < 0)
                        return log_oom();
        }
        r = container_open_init(name, &exec_fd);
        if (r < 0)
                return r;

        if (container_want_seccomp(c)) {
                r = container_seccomp_program(g, c, &sprog);
                if (r < 0)
                        return r;
        }

        bool nnp = c ? c->security.no_new_privileges : true;
        SpawnExecParams p = {
                .process = {
                        .argv = o->argv,
                        .cap_add = c ? c->security.capabilities_add : NULL,
                        .cap_drop = c ? c->security.capabilities_drop : NULL,
                        .allow_new_privileges = !nnp,
                        .seccomp = container_want_seccomp(c),
                        .seccomp_program = sprog.insns ? &sprog : NULL,
                        .stdin_fd = -EBADF,
                        .stdout_fd = -EBADF,
                        .stderr_fd = -EBADF,
                },
                .leader_pidfd = pidfd,
                .namespaces = container_enter_namespaces(i.state->leader_pid),
                .cgroup_fd = cgfd,
                .exec_fd = exec_fd,
                .tty = o->tty,
        };
        if (c)
                container_process_apply(&cp, c, &p.process);
        p.process.env = env;
        if (o->user)
                p.process.user = o->user;
        if (o->workdir)
                p.process.workdir = o->workdir;
        r = spawn_exec_in(&p, &status, &se);
        if (r < 0) {
                if (se.error != 0)
                        return log_error_errno(r, "%s: exec %s: %s: %m", name, o->argv[0], se.message);
                return log_error_errno(r, "%s: exec %s: %m", name, o->argv[0]);
        }
        return status;
}
