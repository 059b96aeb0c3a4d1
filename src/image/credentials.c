/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Registry credentials from where podman and docker keep them (image-internal.h) */

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto-dl.h"
#include "fd-util.h"
#include "fileio.h"
#include "image-internal.h"
#include "string-util.h"

#define CREDS_FILE_MAX (1U << 20)
#define HELPER_OUTPUT_MAX (64U * 1024U)
#define HELPER_TIMEOUT_MS 30000

extern char **environ;

static char *base64(const char *s) {
        size_t n = strlen(s);
        char *out = malloc(4 * ((n + 2) / 3) + 1);
        if (!out)
                return NULL;
        sym_EVP_EncodeBlock((unsigned char *) out, (const unsigned char *) s, (int) n);
        return out;
}

static int basic_of(const char *user, const char *secret, char **ret) {
        _cleanup_free_ char *up = strjoin(user, ":", secret);
        if (!up)
                return -ENOMEM;
        *ret = base64(up);
        return *ret ? 1 : -ENOMEM;
}

/* The registry names a file may use for host: "host", "https://host/v1/", "http://host"; Docker
 * Hub's pulls go to registry-1.docker.io while its logins are saved as index.docker.io or docker.io */
static bool key_names_registry(const char *key, const char *registry) {
        const char *k = startswith(key, "https://") ?: startswith(key, "http://") ?: key;
        size_t n = strcspn(k, "/");

        if (strlen(registry) == n && strneq(k, registry, n))
                return true;
        if (streq(registry, "registry-1.docker.io"))
                return (n == strlen("index.docker.io") && strneq(k, "index.docker.io", n)) ||
                        (n == strlen("docker.io") && strneq(k, "docker.io", n));
        return false;
}

/* the entry of an object keyed by registry names (auths, credHelpers) for registry */
static json_object *lookup(json_object *map, const char *registry) {
        if (!map || !json_object_is_type(map, json_type_object))
                return NULL;
        json_object_object_foreach(map, key, val) {
                if (key_names_registry(key, registry))
                        return val;
        }
        return NULL;
}

/* docker-credential-NAME get: the registry on stdin, {"Username":…,"Secret":…} on stdout (the
 * protocol of docker/docker-credential-helpers). Run with the caller's environment, bounded in time
 * and output; "credentials not found" (exit 1) is no credentials. */
static int run_helper(const char *name, const char *registry, const char *file, char **ret,
                      ImageError *error) {
        _cleanup_free_ char *prog = strjoin("docker-credential-", name);
        _cleanup_close_ int in_r = -EBADF, in_w = -EBADF, out_r = -EBADF, out_w = -EBADF;
        Buffer out = {};
        pid_t pid;
        int p[2], r, status = 0;

        if (!prog)
                return -ENOMEM;
        if (isempty(name))
                return image_error_set(error, -EINVAL, file, "empty credential helper name");
        for (const char *c = name; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                      strchr("-_.", *c)))
                        return image_error_set(error, -EINVAL, file,
                                               "credential helper name '%s' is invalid", name);
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        in_r = p[0], in_w = p[1];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        out_r = p[0], out_w = p[1];
        char *argv[] = { prog, (char *) "get", NULL };
        /* fork + execvp rather than posix_spawn: <spawn.h> is also the name of cbox's spawn/ header,
         * which some targets have on their include path */
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                if (dup2(in_r, STDIN_FILENO) < 0 || dup2(out_w, STDOUT_FILENO) < 0)
                        _exit(127);
                execvp(prog, argv);
                _exit(127);
        }
        in_r = safe_close(in_r);
        out_w = safe_close(out_w);
        /* a helper that exits without reading must not kill us with SIGPIPE */
        struct sigaction ign = { .sa_handler = SIG_IGN }, old;
        (void) sigaction(SIGPIPE, &ign, &old);
        (void) loop_write(in_w, registry, strlen(registry));
        in_w = safe_close(in_w);
        (void) sigaction(SIGPIPE, &old, NULL);

        for (int waited = 0;;) {
                char buf[4096];
                struct pollfd pfd = { .fd = out_r, .events = POLLIN };
                int k = poll(&pfd, 1, 100);
                if (k < 0 && errno != EINTR)
                        break;
                if (k == 0 && (waited += 100) >= HELPER_TIMEOUT_MS) {
                        (void) kill(pid, SIGKILL);
                        break;
                }
                if (k <= 0)
                        continue;
                ssize_t n = read(out_r, buf, sizeof(buf));
                if (n <= 0 || out.size + (size_t) n > HELPER_OUTPUT_MAX)
                        break;
                if (buffer_append(&out, buf, (size_t) n) < 0) {
                        (void) kill(pid, SIGKILL);
                        break;
                }
        }
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                buffer_done(&out);
                /* exit 1 with "credentials not found in native keychain" is the protocol's "none" */
                return WIFEXITED(status) && WEXITSTATUS(status) == 1
                        ? 0
                        : image_error_set(error, -EIO, file, "credential helper %s failed", prog);
        }
        _cleanup_(json_object_putp) json_object *o = NULL;
        r = json_parse_bounded(out.data ?: "", out.size, HELPER_OUTPUT_MAX, &o, error, prog);
        buffer_done(&out);
        if (r < 0)
                return r;
        const char *u = json_get_string(o, "Username"), *s = json_get_string(o, "Secret");
        if (!u || !s)
                return image_error_set(error, -EINVAL, file,
                                       "credential helper %s gave no Username and Secret", prog);
        return basic_of(u, s, ret);
}

/* One file in docker's/podman's format: credHelpers[registry], then auths[registry] (auth, or
 * username+password), then credsStore. 1 with *ret, 0 when the file says nothing of registry. */
static int from_file(const char *path, const char *registry, char **ret, ImageError *error) {
        _cleanup_free_ char *data = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        size_t size;
        int r;

        r = read_full_file(path, &data, &size, CREDS_FILE_MAX);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0;
        if (r < 0)
                return image_error_set(error, r, path, "cannot read credentials file");
        r = json_parse_bounded(data, size, CREDS_FILE_MAX, &o, error, path);
        if (r < 0)
                return r;
        json_object *h = lookup(json_get_object(o, "credHelpers"), registry);
        if (h && json_object_is_type(h, json_type_string))
                return run_helper(json_object_get_string(h), registry, path, ret, error);
        json_object *e = lookup(json_get_object(o, "auths"), registry);
        if (e) {
                const char *a = json_get_string(e, "auth");
                if (a && !isempty(a)) {
                        *ret = strdup(a);
                        return *ret ? 1 : -ENOMEM;
                }
                const char *u = json_get_string(e, "username"), *p = json_get_string(e, "password");
                if (u && p)
                        return basic_of(u, p, ret);
                if (!json_get_string(o, "credsStore"))
                        return image_error_set(error, -EINVAL, path,
                                               "credentials for '%s' need auth or username+password",
                                               registry);
        }
        const char *store = json_get_string(o, "credsStore");
        if (store && e) /* docker keeps an empty auths entry for what the store holds */
                return run_helper(store, registry, path, ret, error);
        return 0;
}

int registry_credentials(const char *file, const char *registry, char **ret, ImageError *error) {
        const char *env;
        int r;

        *ret = NULL;
        if (file) { /* configured: that file alone */
                r = from_file(file, registry, ret, error);
                return r < 0 ? r : 0;
        }

        /* podman's order after cbox's own file: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json
         * (root: /run/containers/0/auth.json), then docker's ~/.docker/config.json */
        _cleanup_free_ char *xdg = NULL, *run0 = NULL, *docker = NULL;
        env = getenv("XDG_RUNTIME_DIR");
        if (env && env[0] == '/')
                xdg = strjoin(env, "/containers/auth.json");
        if (geteuid() == 0)
                run0 = strdup("/run/containers/0/auth.json");
        env = getenv("DOCKER_CONFIG");
        if (env && env[0] == '/')
                docker = strjoin(env, "/config.json");
        else if ((env = getenv("HOME")) && env[0] == '/')
                docker = strjoin(env, "/.docker/config.json");
        const char *reg_env = getenv("REGISTRY_AUTH_FILE");
        const char *paths[] = { IMAGE_DEFAULT_AUTH_FILE, reg_env && reg_env[0] == '/' ? reg_env : NULL, xdg,
                                run0, docker };
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                if (!paths[i])
                        continue;
                r = from_file(paths[i], registry, ret, error);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
        return 0;
}
