/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A container's storage, <storage_root>/containers/NAME (its writable layer upper/ and work/, and the
 * image file up writes), as the verbs that work on it after the fact use it: commit, export and the
 * storage step of gc. Each takes the container's lock, so that `down --volumes` cannot remove the
 * storage meanwhile and an `up` of the same name cannot race with it.
 *
 * commit: the writable layer becomes a new layer on top of the image named on the image file's first
 * line; when its second line records the manifest digest the container was started from and the tag now
 * names another image (re-imported since), the commit is refused: the upper dir is a diff against the
 * old layers. A container run from `rootfs = "/dir"` has no base image and is refused: the dir is a host
 * directory cbox does not own. Left out: the empty files cbox creates in the upper dir as mount points
 * for the /etc files it binds over (container_bound_etc_files).
 *
 * export: the merged view (upper over the image's layers, or over the rootfs dir) is assembled as a
 * read-only overlay in a child that first unshares its mount namespace: fsopen/fsconfig/fsmount give a
 * detached mount that is never attached anywhere, so the host's mount table never sees it, and it goes
 * with the child. The upper dir is given to overlayfs as the topmost *lower* layer (read-only, no work
 * dir), which works while the container itself has it mounted as its upper.
 *
 * gc: the storage of a container that no longer exists (no state dir, no unit) whose writable layer holds
 * nothing the container wrote (container_upper_is_pristine()) is removed; one that holds anything else is
 * user data, kept and reported. A busy name is skipped.
 *
 * Neither commit nor export of a running container is a consistent snapshot. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "container-internal.h"
#include "container-storage.h"
#include "container.h"
#include "fd-util.h"
#include "fileio.h"
#include "image.h"
#include "log.h"
#include "state.h"
#include "string-util.h"

/* ---- up: the storage dir, the image file, the files bound over /etc ---- */

const char *const container_bound_etc_files[] = { "/etc/resolv.conf", "/etc/hosts", "/etc/hostname", NULL };

/* "etc" + "hosts" names one of container_bound_etc_files */
static bool is_bound_etc_file(const char *dir, const char *name) {
        for (const char *const *f = container_bound_etc_files; *f; f++) {
                const char *slash = strrchr(*f, '/');
                if (streq(slash + 1, name) && strlen(dir) == (size_t) (slash - *f - 1) &&
                    strneq(*f + 1, dir, strlen(dir)))
                        return true;
        }
        return false;
}

/* Whether the tree below dir_fd (path: its path relative to the upper dir, "" for the top) holds only
 * what cbox itself makes in a writable layer: directories (mount points of [[mount]] targets, parents)
 * that are not opaque, and the empty etc/resolv.conf, etc/hosts and etc/hostname rootfs/ creates to
 * bind the container's own over when the image has none. Anything else — a file, a symlink, a whiteout, an
 * opaque directory (a deletion) — is something the container wrote. 1 = only cbox's, 0 = user data, -errno.
 */
static int tree_is_cbox_only(int dir_fd, const char *path, unsigned depth) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        char x[8];
        int r;

        if (depth > 64 || fgetxattr(dir_fd, "trusted.overlay.opaque", x, sizeof(x)) >= 0) {
                safe_close(dir_fd);
                return 0;
        }
        d = fdopendir(dir_fd);
        if (!d) {
                r = -errno;
                safe_close(dir_fd);
                return r;
        }
        while ((de = readdir(d))) {
                struct stat st;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_free_ char *sub = strjoin(path, *path ? "/" : "", de->d_name);
                        int fd = openat(dirfd(d), de->d_name,
                                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (!sub) {
                                safe_close(fd);
                                return -ENOMEM;
                        }
                        if (fd < 0)
                                return -errno;
                        r = tree_is_cbox_only(fd, sub, depth + 1);
                        if (r <= 0)
                                return r;
                        continue;
                }
                if (S_ISREG(st.st_mode) && st.st_size == 0 && is_bound_etc_file(path, de->d_name)) {
                        _cleanup_close_ int fd =
                                openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd < 0)
                                return -errno;
                        if (fgetxattr(fd, "trusted.overlay.whiteout", x, sizeof(x)) >= 0)
                                return 0;
                        continue;
                }
                return 0;
        }
        return 1;
}

int container_upper_is_pristine(const char *upper) {
        int fd = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 1 : -errno;
        return tree_is_cbox_only(fd, "", 0);
}

/* Whether the image (top layer first) shows a regular file at /etc/NAME: the first layer with an entry
 * there decides; a symlink (never followed: it is the image's, and may point anywhere on the host) is not
 * one */
static bool image_has_etc_file(char *const *lowers, const char *name) {
        for (size_t i = 0; lowers && lowers[i]; i++) {
                _cleanup_close_ int layer = open(lowers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
                _cleanup_close_ int etc = layer < 0
                        ? -EBADF
                        : openat(layer, "etc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                struct stat st;
                if (etc >= 0 && fstatat(etc, name, &st, AT_SYMLINK_NOFOLLOW) >= 0)
                        return S_ISREG(st.st_mode);
                if (layer >= 0 && fstatat(layer, "etc", &st, AT_SYMLINK_NOFOLLOW) >= 0 &&
                    !S_ISDIR(st.st_mode))
                        return false; /* etc itself is a symlink or file in this layer: it hides the rest */
        }
        return false;
}

/* A read-only root without an upper layer cannot get the mount points created (nor an image's symlink
 * there replaced): only when they are files already */
bool container_want_etc_files(const ContainerConfig *c, char *const *lowers) {
        return !c->read_only ||
                (image_has_etc_file(lowers, "resolv.conf") && image_has_etc_file(lowers, "hosts"));
}

/* /etc/hostname likewise: on a read-only root only when an image layer has the file */
bool container_want_hostname_file(const ContainerConfig *c, char *const *lowers) {
        return !c->read_only || image_has_etc_file(lowers, "hostname");
}

int container_write_etc_files(int state_fd, const char *name, const ContainerConfig *c, const char *address,
                              bool hostname_file) {
        const char *hostname = c->hostname ?: name;
        _cleanup_(buffer_done) Buffer resolv = {}, hosts = {};
        int r;

        if (c->network.dns)
                STRV_FOREACH (d, c->network.dns) {
                        r = buffer_printf(&resolv, "nameserver %s\n", *d);
                        if (r < 0)
                                return r;
                }
        else {
                /* the host's upstream servers: systemd-resolved's list when it runs (its 127.0.0.53 stub is
                 * not reachable from another network namespace), else /etc/resolv.conf without loopback
                 * nameservers */
                _cleanup_free_ char *host = NULL;
                if (read_full_file("/run/systemd/resolve/resolv.conf", &host, NULL, 64 * 1024) < 0)
                        (void) read_full_file("/etc/resolv.conf", &host, NULL, 64 * 1024);
                for (char *line = host, *next; line && *line; line = next) {
                        next = strchr(line, '\n');
                        if (next)
                                *next++ = 0;
                        if (c->network.mode != NETWORK_MODE_HOST && startswith(line, "nameserver 127."))
                                continue;
                        r = buffer_printf(&resolv, "%s\n", line);
                        if (r < 0)
                                return r;
                }
        }

        r = buffer_printf(&hosts,
                          "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n",
                          address ?: "127.0.1.1", hostname);
        if (r < 0)
                return r;
        STRV_FOREACH (h, c->network.hosts) {
                const char *colon = strchr(*h, ':');
                if (!colon)
                        continue;
                r = buffer_printf(&hosts, "%s\t%.*s\n", colon + 1, (int) (colon - *h), *h);
                if (r < 0)
                        return r;
        }

        r = write_file_atomic_at(state_fd, "resolv.conf", resolv.data ?: "", resolv.size, 0644);
        if (r < 0)
                return r;
        r = write_file_atomic_at(state_fd, "hosts", hosts.data, hosts.size, 0644);
        if (r < 0)
                return r;
        if (hostname_file) {
                _cleanup_free_ char *hn = strjoin(hostname, "\n");
                if (!hn)
                        return -ENOMEM;
                r = write_file_atomic_at(state_fd, "hostname", hn, strlen(hn), 0644);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* <storage_root>/containers/NAME/image: line 1 the image ref, optional line 2 the manifest digest the
 * container was started from (see image.h). *ret_digest is NULL when there is no second line. */
int container_read_image_file(const char *path, char **ret_ref, char **ret_digest) {
        _cleanup_free_ char *data = NULL, *ref = NULL, *digest = NULL;
        char *nl;
        int r;

        r = read_full_file(path, &data, NULL, 4096);
        if (r < 0)
                return r;
        nl = strchr(data, '\n');
        ref = nl ? strndup(data, (size_t) (nl - data)) : strdup(data);
        if (!ref)
                return -ENOMEM;
        if (nl && startswith(nl + 1, "sha256:")) {
                size_t n = strcspn(nl + 1, "\n");
                digest = strndup(nl + 1, n);
                if (!digest)
                        return -ENOMEM;
        }
        *ret_ref = TAKE_PTR(ref);
        *ret_digest = TAKE_PTR(digest);
        return 0;
}

int container_storage_prepare(const GlobalConfig *g, const char *name, bool read_only, char **dir,
                              char **upper, char **work, bool *created) {
        struct stat st;
        int r;

        r = state_container_storage_path(global_config_storage_root(g), name, dir);
        if (r < 0)
                return log_error_errno(r, "%s: invalid storage path: %m", name);
        if (stat(*dir, &st) < 0) {
                if (errno != ENOENT)
                        return log_error_errno(errno, "%s: cannot access '%s': %m", name, *dir);
                *created = true;
        }
        *upper = strjoin(*dir, "/upper");
        *work = strjoin(*dir, "/work");
        if (!*upper || !*work)
                return log_oom();
        if (read_only)
                r = mkdir_p(*dir, 0700);
        else {
                r = mkdir_p(*upper, 0755);
                if (r >= 0)
                        r = mkdir_p(*work, 0700);
        }
        if (r < 0)
                return log_error_errno(r, "%s: cannot create '%s': %m", name, *dir);
        return 0;
}

int container_write_image_file(const char *name, const char *storage_dir, const char *ref,
                               const char *digest) {
        /* image/ keeps images in use: first line the ref, second the manifest the layers came from
         * (gc keeps those even after the ref moves on; commit and export check it) */
        _cleanup_free_ char *f = strjoin(storage_dir, "/image"), *data = strjoin(ref, "\n", digest, "\n");
        _cleanup_free_ char *old = NULL;
        int r;

        if (!f || !data)
                return log_oom();
        /* unchanged on a restart of the same image: no write, no fsync (3-8 ms an up) */
        if (read_full_file(f, &old, NULL, 4096) >= 0 && streq(old, data))
                return 0;
        r = write_file_atomic(f, data, strlen(data), 0644);
        if (r < 0)
                return log_error_errno(r, "%s: cannot write '%s': %m", name, f);
        return 0;
}

/* ---- the verbs after the fact ---- */

/* Runs fn(g, name, arg, userdata) holding NAME's lock; the lock file goes afterwards when no state dir is
 * left beside it (a downed container), as down does. Returns fn's result (a lock failure is logged). */
static int with_container_lock(const GlobalConfig *g, const char *name,
                               int (*fn)(const GlobalConfig *g, const char *name, const void *arg,
                                         void *out),
                               const void *arg, void *out) {
        int lock_fd = -EBADF, r;

        r = state_lock(global_config_run_root(g), name, true, &lock_fd);
        if (r < 0)
                return log_error_errno(r, "%s: cannot lock: %m", name);
        r = fn(g, name, arg, out);
        (void) state_unlock(global_config_run_root(g), name, lock_fd,
                            !state_dir_exists(global_config_run_root(g), name));
        return r;
}

/* Refuses when REF now points at another manifest than the one the container was started from */
static int check_same_image(ImageStore *store, const char *name, const char *ref, const char *digest) {
        _cleanup_free_ char *now = NULL;

        if (!digest)
                return 0;
        if (image_manifest_digest(store, ref, &now) < 0 || !streq(now, digest))
                return log_error_errno(ESTALE,
                                       "%s: image '%s' now is %s, not %s the container was started from: "
                                       "start it again first",
                                       name, ref, strna(now), digest);
        return 0;
}

static int log_image_error(int r, const char *what, const ImageError *e) {
        if (e->object && e->message)
                return log_error_errno(r, "%s: %s: %s", what, e->object, e->message);
        if (e->message)
                return log_error_errno(r, "%s: %s", what, e->message);
        if (e->object)
                return log_error_errno(r, "%s: %s: %m", what, e->object);
        return log_error_errno(r, "%s: %m", what);
}

static int open_store_logged(const GlobalConfig *g, ImageStore **ret) {
        int r = image_store_open(global_config_storage_root(g), ret);
        if (r < 0)
                return log_error_errno(r, "Failed to open the image store '%s': %m",
                                       global_config_storage_root(g));
        return 0;
}

/* NAME's state: 1 (ret filled), 0 when it has none (a downed container), or -errno (logged) */
static int get_info_if_any(const GlobalConfig *g, const char *name, ContainerInfo *ret) {
        int r = container_get_info(g, name, ret);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_error_errno(r, "%s: cannot read its state: %m", name);
        return 1;
}

/* The writable layer upper (under the storage dir sd) must be a directory. Without state, a missing one
 * means there is no such container. Returns 0 or -errno (logged). */
static int check_upper(const char *name, const char *sd, const char *upper, bool have_state) {
        struct stat st;

        if (stat(upper, &st) < 0) {
                if (errno == ENOENT && !have_state)
                        return log_error_errno(ENOENT, "%s: no such container (no state, no '%s')", name,
                                               sd);
                return log_error_errno(errno, "%s: cannot access its writable layer '%s': %m", name, upper);
        }
        if (!S_ISDIR(st.st_mode))
                return log_error_errno(ENOTDIR, "%s: '%s' is not a directory", name, upper);
        return 0;
}

/* ---- commit ---- */

void container_commit_result_done(ContainerCommitResult *r) {
        r->ref = mfree(r->ref);
        r->base = mfree(r->base);
        r->manifest = mfree(r->manifest);
}

/* The mount points cbox made in upper (empty regular files at the paths it binds over) */
static int bound_mount_points(const char *upper, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        for (const char *const *f = container_bound_etc_files; *f; f++) {
                _cleanup_free_ char *p = strjoin(upper, *f);
                struct stat st;
                if (!p)
                        return -ENOMEM;
                if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != 0)
                        continue;
                if (strv_extend(&l, *f + 1) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* The container's upper dir and base image, checked for a commit */
static int commit_source(const GlobalConfig *g, const char *name, bool warn_running, char **ret_upper,
                         char **ret_base, char **ret_base_digest) {
        _cleanup_(container_info_done) ContainerInfo info = {};
        _cleanup_free_ char *sd = NULL, *upper = NULL, *image_file = NULL;
        bool have_state;
        int r;

        r = get_info_if_any(g, name, &info);
        if (r < 0)
                return r;
        have_state = r > 0;

        if (have_state && info.state->rootfs && info.state->rootfs[0] == '/')
                return log_error_errno(
                        EINVAL,
                        "%s: runs from the directory '%s', not from an image: there is no base "
                        "image to commit onto. Import the directory as an image (cbox image "
                        "import) and run the container from it.",
                        name, info.state->rootfs);
        if (have_state && !info.state->upper_dir)
                return log_error_errno(EINVAL, "%s: is read-only, it has no writable layer to commit", name);

        r = state_container_storage_path(global_config_storage_root(g), name, &sd);
        if (r < 0)
                return log_error_errno(r, "%s: invalid storage path: %m", name);
        upper = strjoin(sd, "/upper");
        image_file = strjoin(sd, "/image");
        if (!upper || !image_file)
                return log_oom();

        r = check_upper(name, sd, upper, have_state);
        if (r < 0)
                return r;

        r = container_read_image_file(image_file, ret_base, ret_base_digest);
        if (r == -ENOENT)
                return log_error_errno(r,
                                       "%s: has no base image ('%s' is missing): a container run from a "
                                       "rootfs directory cannot be committed",
                                       name, image_file);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read '%s': %m", name, image_file);
        if (isempty(*ret_base))
                return log_error_errno(EBADMSG, "%s: '%s' names no image", name, image_file);

        if (warn_running && have_state && info.status == CONTAINER_RUNNING)
                log_warning("%s: is running: files it writes meanwhile may be committed half-written (the "
                            "commit is not a consistent snapshot; stop it first for one).",
                            name);
        *ret_upper = TAKE_PTR(upper);
        return 0;
}

/* In a user namespace a container's upper files are owned by its range: commit and export write them
 * back with the image's ids. NULL when it has no range. */
static const ImageIdRange *owners_of(const GlobalConfig *g, const char *name, ImageIdRange *buf) {
        UidRange range;

        if (container_userns_range(g, name, &range) <= 0)
                return NULL;
        *buf = (ImageIdRange){ range.start, range.count };
        return buf;
}

typedef struct CommitArgs {
        const char *new_ref;
        bool quiet;
} CommitArgs;

static int do_commit(const GlobalConfig *g, const char *name, const void *arg, void *out) {
        const CommitArgs *a = arg;
        ContainerCommitResult *res = out;
        _cleanup_(image_store_freep) ImageStore *store = NULL;
        _cleanup_free_ char *upper = NULL, *base = NULL, *base_digest = NULL;
        _cleanup_strv_free_ char **exclude = NULL;
        ImageError e = {};
        int r;

        r = commit_source(g, name, !a->quiet, &upper, &base, &base_digest);
        if (r < 0)
                return r;
        r = open_store_logged(g, &store);
        if (r < 0)
                return r;
        r = check_same_image(store, name, base, base_digest);
        if (r < 0)
                return r;
        r = bound_mount_points(upper, &exclude);
        if (r < 0)
                return log_oom();
        ImageIdRange owners;
        r = image_commit_ids(store, upper, base, a->new_ref, exclude, owners_of(g, name, &owners), &res->ref,
                             &e);
        if (r < 0) {
                _cleanup_free_ char *what =
                        strprintf("%s: cannot commit onto '%s' as '%s'", name, base, a->new_ref);
                if (r == -ENOENT && !e.object && !e.message)
                        r = log_error_errno(r, "%s: base image '%s' is not in the store any more", name,
                                            base);
                else
                        r = log_image_error(r, what ?: name, &e);
                error_message_done(&e);
                return r;
        }
        (void) image_manifest_digest(store, res->ref, &res->manifest);
        res->base = TAKE_PTR(base);
        return 0;
}

int container_commit(const GlobalConfig *g, const char *name, const char *new_ref, bool quiet,
                     ContainerCommitResult *ret) {
        _cleanup_(container_commit_result_done) ContainerCommitResult res = {};
        int r;

        r = with_container_lock(g, name, do_commit,
                                &(const CommitArgs){ .new_ref = new_ref, .quiet = quiet }, &res);
        if (r < 0)
                return r;
        *ret = res;
        res = (ContainerCommitResult){};
        return 0;
}

/* ---- export ---- */

/* The layers of the merged view, top first: the upper dir (if any), then the lowers */
static int collect_layers(const GlobalConfig *g, const char *name, char ***ret) {
        _cleanup_(container_info_done) ContainerInfo info = {};
        _cleanup_strv_free_ char **layers = NULL, **lowers = NULL;
        _cleanup_free_ char *sd = NULL, *upper = NULL, *image_file = NULL, *ref = NULL, *digest = NULL;
        bool have_state;
        int r;

        r = get_info_if_any(g, name, &info);
        if (r < 0)
                return r;
        have_state = r > 0;

        r = state_container_storage_path(global_config_storage_root(g), name, &sd);
        if (r < 0)
                return log_error_errno(r, "%s: invalid storage path: %m", name);
        image_file = strjoin(sd, "/image");
        if (!image_file)
                return log_oom();

        if (have_state)
                upper = info.state->upper_dir ? strdup(info.state->upper_dir) : NULL;
        else
                upper = strjoin(sd, "/upper");
        if ((have_state && info.state->upper_dir && !upper) || (!have_state && !upper))
                return log_oom();
        if (upper) {
                r = check_upper(name, sd, upper, have_state);
                if (r < 0)
                        return r;
        }
        if (upper && strv_extend(&layers, upper) < 0)
                return log_oom();

        if (have_state && info.state->rootfs && info.state->rootfs[0] == '/') {
                if (strv_extend(&layers, info.state->rootfs) < 0)
                        return log_oom();
                *ret = TAKE_PTR(layers);
                return 0;
        }

        r = container_read_image_file(image_file, &ref, &digest);
        if (r == -ENOENT)
                return log_error_errno(r,
                                       "%s: nothing says what it runs on (no state and no '%s'): start it "
                                       "again to export it",
                                       name, image_file);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read '%s': %m", name, image_file);

        _cleanup_(image_store_freep) ImageStore *store = NULL;
        r = open_store_logged(g, &store);
        if (r < 0)
                return r;
        r = check_same_image(store, name, ref, digest);
        if (r < 0)
                return r;
        r = image_resolve(store, ref, &lowers, NULL, NULL);
        if (r == -ENOENT)
                return log_error_errno(r, "%s: its image '%s' is not in the store any more", name, ref);
        if (r < 0)
                return log_error_errno(r, "%s: cannot resolve its image '%s': %m", name, ref);
        STRV_FOREACH (l, lowers)
                if (strv_extend(&layers, *l) < 0)
                        return log_oom();
        *ret = TAKE_PTR(layers);
        return 0;
}

/* In the child: the merged view as an open directory fd (a detached read-only overlay, or the only
 * layer itself), or -errno with a description in msg */
static int open_merged(char **layers, char *msg, size_t msg_size) {
        _cleanup_close_ int fsfd = -EBADF, mfd = -EBADF;
        _cleanup_free_ char *lowerdir = NULL;
        int fd;

        if (strv_length(layers) == 1) {
                fd = open(layers[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0) {
                        snprintf(msg, msg_size, "open '%s'", layers[0]);
                        return -errno;
                }
                return fd;
        }
        STRV_FOREACH (l, layers)
                if (strpbrk(*l, ":,\\")) {
                        snprintf(msg, msg_size, "use '%s' as an overlay layer (it contains ':' ',' or '\\')",
                                 *l);
                        return -EINVAL;
                }
        lowerdir = strv_join(layers, ":");
        if (!lowerdir)
                return -ENOMEM;
        if (strlen(lowerdir) > 4000) {
                snprintf(msg, msg_size, "mount the layers: their paths are too long for one overlay option");
                return -E2BIG;
        }

        fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
        if (fsfd < 0) {
                snprintf(msg, msg_size, "create an overlay file system");
                return -errno;
        }
        /* index=off: the upper dir may be in use as the running container's upper; with the index on the
         * kernel refuses a second mount using it (as a lower here), without it it only warns */
        if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir", lowerdir, 0) < 0 ||
            fsconfig(fsfd, FSCONFIG_SET_STRING, "index", "off", 0) < 0 ||
            fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
                int r = -errno;
                char klog[256] = "";
                ssize_t n = read(fsfd, klog, sizeof(klog) - 1);
                klog[n > 0 ? n : 0] = 0;
                snprintf(msg, msg_size, "mount overlay of %s%s%s", lowerdir, n > 0 ? ": " : "", klog);
                return r;
        }
        mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
        if (mfd < 0) {
                snprintf(msg, msg_size, "mount overlay of %s", lowerdir);
                return -errno;
        }
        /* fsmount gives an O_PATH fd; reading the directory needs a real open */
        fd = openat(mfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                snprintf(msg, msg_size, "open the merged view");
                return -errno;
        }
        return fd;
}

_noreturn_ static void export_child(char **layers, const ImageIdRange *owners, int out_fd, int err_fd) {
        char msg[512] = "";
        ImageError e = {};
        int dfd, r;

        /* a reader that goes away (export NAME - | head) is a write error, not a silent death */
        (void) signal(SIGPIPE, SIG_IGN);
        if (unshare(CLONE_NEWNS) < 0) {
                r = -errno;
                snprintf(msg, sizeof(msg), "unshare the mount namespace");
                goto fail;
        }
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                r = -errno;
                snprintf(msg, sizeof(msg), "make the mount namespace private");
                goto fail;
        }
        dfd = open_merged(layers, msg, sizeof(msg));
        if (dfd < 0) {
                r = dfd;
                goto fail;
        }
        r = image_export_tree_ids(dfd, out_fd, owners, &e);
        if (r < 0) {
                snprintf(msg, sizeof(msg), "write the tar%s%s%s%s", e.object ? ": " : "", strempty(e.object),
                         e.message ? ": " : "", strempty(e.message));
                goto fail;
        }
        _exit(EXIT_SUCCESS);
fail:
        /* errno as 4 bytes, then the message */
        (void) loop_write(err_fd, &r, sizeof(r));
        (void) loop_write(err_fd, msg, strlen(msg));
        _exit(EXIT_FAILURE);
}

/* Forks the child that writes the tar to out_fd; returns 0 or -errno (logged) */
static int export_to_fd(const char *name, char **layers, const ImageIdRange *owners, int out_fd) {
        _cleanup_close_pair_ int p[2] = { -EBADF, -EBADF };
        char buf[1024];
        size_t have = 0;
        int status, r = 0;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return log_error_errno(errno, "%s: cannot create a pipe: %m", name);
        fflush(stdout);
        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "%s: cannot fork: %m", name);
        if (pid == 0) {
                p[0] = safe_close(p[0]);
                export_child(layers, owners, out_fd, p[1]);
        }
        p[1] = safe_close(p[1]);
        for (;;) {
                ssize_t n = read(p[0], buf + have, sizeof(buf) - 1 - have);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                have += (size_t) n;
                if (have >= sizeof(buf) - 1)
                        break;
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return log_error_errno(errno, "%s: cannot wait for the export child: %m", name);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (have >= sizeof(int)) {
                memcpy(&r, buf, sizeof(int));
                buf[have] = 0;
                if (r >= 0)
                        r = -EIO;
                return log_error_errno(r, "%s: export failed: cannot %s: %m", name, buf + sizeof(int));
        }
        return log_error_errno(EIO, "%s: the export child died (status 0x%x)", name, (unsigned) status);
}

typedef struct ExportArgs {
        int (*open_output)(void *userdata);
        void *userdata;
} ExportArgs;

static int do_export(const GlobalConfig *g, const char *name, const void *arg, void *out) {
        const ExportArgs *a = arg;
        _cleanup_strv_free_ char **layers = NULL;
        int fd, r;

        r = collect_layers(g, name, &layers);
        if (r < 0)
                return r;
        ImageIdRange owners;
        const ImageIdRange *o = owners_of(g, name, &owners);
        fd = a->open_output(a->userdata);
        if (fd < 0)
                return fd;
        return export_to_fd(name, layers, o, fd);
}

int container_export(const GlobalConfig *g, const char *name, int (*open_output)(void *userdata),
                     void *userdata) {
        return with_container_lock(g, name, do_export,
                                   &(const ExportArgs){ .open_output = open_output, .userdata = userdata },
                                   NULL);
}

/* ---- gc of container storage ---- */

/* Allocated bytes below dir_fd (not crossing mount points, never following symlinks). Best effort:
 * what cannot be read counts 0. */
static uint64_t disk_usage_fd(int dir_fd, dev_t dev) {
        _cleanup_closedir_ DIR *d = NULL;
        uint64_t sum = 0;
        struct dirent *de;

        d = fdopendir(dir_fd);
        if (!d) {
                safe_close(dir_fd);
                return 0;
        }
        while ((de = readdir(d))) {
                struct stat st;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
                        continue;
                sum += (uint64_t) st.st_blocks * 512;
                if (S_ISDIR(st.st_mode)) {
                        int fd = openat(dirfd(d), de->d_name,
                                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
                        if (fd >= 0)
                                sum += disk_usage_fd(fd, dev);
                }
        }
        return sum;
}

/* Allocated bytes of <root>/<sub> and below (best effort: 0 if unreadable) */
static uint64_t container_disk_usage(const char *root, const char *sub) {
        _cleanup_free_ char *p = strjoin(root, "/", sub);
        struct stat st;
        int fd;

        if (!p)
                return 0;
        fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return 0;
        if (fstat(fd, &st) < 0) {
                safe_close(fd);
                return 0;
        }
        return (uint64_t) st.st_blocks * 512 + disk_usage_fd(fd, st.st_dev);
}

void container_storage_gc_done(ContainerStorageGc *s) {
        for (size_t i = 0; i < s->n_items; i++) {
                free(s->items[i].name);
                free(s->items[i].path);
                free(s->items[i].image);
        }
        s->items = mfree(s->items);
        s->n_items = 0;
}

static int add_item(ContainerStorageGc *s, const char *name, const char *path, char *image, bool removed) {
        ContainerStorageGcItem *n = reallocarray(s->items, s->n_items + 1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        s->items = n;
        n = &s->items[s->n_items];
        *n = (ContainerStorageGcItem){
                .name = strdup(name), .path = strdup(path), .image = image, .removed = removed
        };
        s->n_items++;
        if (!n->name || !n->path)
                return -ENOMEM;
        return 0;
}

/* One containers/NAME entry. Returns 1 if removed, 0 if kept/skipped, -errno (logged) */
static int gc_container(const GlobalConfig *g, const char *cdir, const char *name, ContainerStorageGc *t) {
        _cleanup_free_ char *sd = NULL, *upper = NULL, *image = NULL, *ref = NULL;
        int lock_fd = -EBADF, fd, r;
        bool gone = false;

        r = state_lock(global_config_run_root(g), name, false, &lock_fd);
        if (r == -EBUSY) {
                log_debug("%s: busy, skipped", name);
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "%s: cannot lock: %m", name);

        r = state_dir_open(global_config_run_root(g), name, false, &fd);
        if (r >= 0) {
                safe_close(fd);
                r = 0; /* the container exists: its storage is in use */
                goto finish;
        }
        if (r != -ENOENT) {
                r = log_error_errno(r, "%s: cannot open its state dir: %m", name);
                goto finish;
        }
        if (container_unit_active(name)) {
                r = 0; /* its state dir was lost, but systemd still runs it: its storage is in use */
                goto finish;
        }
        gone = true;

        sd = strjoin(cdir, "/", name);
        upper = strjoin(sd, "/upper");
        image = strjoin(sd, "/image");
        if (!sd || !upper || !image) {
                r = log_oom();
                goto finish;
        }
        r = container_upper_is_pristine(upper);
        if (r < 0) {
                r = log_error_errno(r, "%s: cannot read '%s': %m", name, upper);
                goto finish;
        }
        if (r == 0) {
                (void) read_one_line_file(image, &ref);
                t->containers_kept++;
                r = add_item(t, name, sd, TAKE_PTR(ref), false) < 0 ? log_oom() : 0;
                goto finish;
        }

        (void) read_one_line_file(image, &ref);
        uint64_t bytes = container_disk_usage(cdir, name);
        r = rm_rf_at(AT_FDCWD, sd);
        if (r < 0) {
                r = log_error_errno(r, "%s: cannot remove '%s': %m", name, sd);
                goto finish;
        }
        container_userns_forget(g, name); /* nothing is owned by its range any more */
        t->containers_removed++;
        t->bytes += bytes;
        r = add_item(t, name, sd, TAKE_PTR(ref), true) < 0 ? log_oom() : 1;
finish:
        (void) state_unlock(global_config_run_root(g), name, lock_fd, gone);
        return r;
}

int container_storage_gc(const GlobalConfig *g, ContainerStorageGc *ret) {
        _cleanup_free_ char *cdir = strjoin(global_config_storage_root(g), "/containers");
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_strv_free_ char **names = NULL;
        struct dirent *de;
        int r, ret_r = 0;

        if (!cdir)
                return log_oom();
        d = opendir(cdir);
        if (!d) {
                if (errno == ENOENT)
                        return 0;
                return log_error_errno(errno, "Failed to open '%s': %m", cdir);
        }
        while ((de = readdir(d))) {
                if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
                        continue;
                /* only what cbox itself names: valid container names (no dot files, no temporaries) */
                if (!container_name_is_valid(de->d_name))
                        continue;
                if (strv_extend(&names, de->d_name) < 0)
                        return log_oom();
        }
        STRV_FOREACH (n, names) {
                r = gc_container(g, cdir, *n, ret);
                if (r < 0)
                        ret_r = r;
        }
        return ret_r;
}

int container_image_gc(const GlobalConfig *g, ContainerImageGc *ret) {
        _cleanup_(image_store_freep) ImageStore *store = NULL;
        const char *root = global_config_storage_root(g);
        ImageGcStats st = {};
        uint64_t before, after;
        int r;

        r = open_store_logged(g, &store);
        if (r < 0)
                return r;
        before = container_disk_usage(root, "blobs") + container_disk_usage(root, "layers");
        r = image_gc(store, &st);
        if (r < 0)
                return log_error_errno(r, "Failed to collect garbage in the image store '%s': %m", root);
        after = container_disk_usage(root, "blobs") + container_disk_usage(root, "layers");
        *ret = (ContainerImageGc){
                .layers_removed = st.layers_removed,
                .blobs_removed = st.blobs_removed,
                .tmps_removed = st.tmps_removed,
                .bytes = before > after ? before - after : 0,
        };
        return 0;
}
