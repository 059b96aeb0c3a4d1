/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* container/ on the host: state interpretation (running/exited/stopped/dead), listing, finding
 * cbox-init, and that a failing up leaves nothing behind. Running real containers needs systemd as
 * PID 1 and is proven by tests/system/test-{10,11,20,30,40}-*.sh in the VM. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "container-storage.h"
#include "container.h"
#include "fd-util.h"
#include "fileio.h"
#include "string-util.h"
#include "tests.h"

static char *tmp;
static GlobalConfig *g;

static void setup(void) {
        char t[] = "/tmp/test-container-XXXXXX";
        ConfigDiag d = {};

        ASSERT_NOT_NULL(mkdtemp(t));
        tmp = strdup(t);
        ASSERT_NOT_NULL(tmp);
        /* an empty config root: built-in defaults only */
        ASSERT_OK(setenv("CBOX_CONFIG_ROOT", tmp, 1));
        ASSERT_OK(global_config_load(&g, &d));
        config_diag_done(&d);
        free(g->run_root);
        free(g->storage_root);
        g->run_root = strjoin(tmp, "/run");
        g->storage_root = strjoin(tmp, "/lib");
        ASSERT_NOT_NULL(g->run_root);
        ASSERT_NOT_NULL(g->storage_root);
}

static void teardown(void) {
        ASSERT_OK(rm_rf_at(AT_FDCWD, tmp));
        tmp = mfree(tmp);
        g = global_config_free(g);
}

static void write_state(const ContainerState *s) {
        _cleanup_close_ int fd = -EBADF;
        ASSERT_OK(state_dir_open(g->run_root, s->name, true, &fd));
        ASSERT_OK(state_save(fd, s));
}

TEST(status_strings) {
        ASSERT_STREQ(container_status_to_string(CONTAINER_RUNNING), "running");
        ASSERT_STREQ(container_status_to_string(CONTAINER_EXITED), "exited");
        ASSERT_STREQ(container_status_to_string(CONTAINER_STOPPED), "stopped");
        ASSERT_STREQ(container_status_to_string(CONTAINER_DEAD), "dead");
        ASSERT_NULL(container_status_to_string(_CONTAINER_STATUS_MAX));
}

TEST(info_and_list) {
        uint64_t st;
        pid_t child;
        int status;

        setup();
        /* running: a live process with its real start time */
        ASSERT_OK(proc_get_start_time(getpid(), &st));
        write_state(&(ContainerState){ .name = (char *) "run",
                                       .unit = (char *) "cbox-run.scope",
                                       .leader_pid = getpid(),
                                       .leader_start_time = st,
                                       .start_time_usec = now_realtime_usec() - 5 * USEC_PER_SEC });
        /* a recycled pid: same pid, other start time → not running */
        write_state(&(ContainerState){
                .name = (char *) "recycled", .leader_pid = getpid(), .leader_start_time = st + 1 });
        /* exited by itself: leader gone, exit file from init */
        child = fork();
        ASSERT_TRUE(child >= 0);
        if (child == 0)
                _exit(0);
        ASSERT_EQ(waitpid(child, &status, 0), child);
        write_state(
                &(ContainerState){ .name = (char *) "exited", .leader_pid = child, .leader_start_time = 1 });
        {
                _cleanup_close_ int fd = -EBADF, efd = -EBADF;
                ASSERT_OK(state_dir_open(g->run_root, "exited", false, &fd));
                ASSERT_OK(state_open_exit_file(fd, &efd));
                ASSERT_OK(loop_write(efd, "EXIT_STATUS=3\nEXIT_TIME=1000\n", 29));
        }
        /* stopped on request */
        write_state(&(ContainerState){
                .name = (char *) "stopped", .stopped = true, .exit_set = true, .exit_status = 137 });

        ContainerInfo i = {};
        ASSERT_OK(container_get_info(g, "run", &i));
        ASSERT_EQ(i.status, CONTAINER_RUNNING);
        ASSERT_TRUE(i.uptime_usec >= 5 * USEC_PER_SEC && i.uptime_usec < 60 * USEC_PER_SEC);
        {
                _cleanup_free_ char *cg = NULL;
                int r = container_cgroup_path(&i, &cg);
                /* on a cgroup v1 host there is no "0::" line */
                ASSERT_TRUE(r >= 0 || r == -ENOMEDIUM);
                if (r >= 0)
                        ASSERT_NOT_NULL(startswith(cg, "/sys/fs/cgroup"));
        }
        container_info_done(&i);
        ASSERT_OK(container_get_info(g, "recycled", &i));
        ASSERT_EQ(i.status, CONTAINER_DEAD);
        {
                _cleanup_free_ char *cg = NULL;
                ASSERT_ERROR(container_cgroup_path(&i, &cg), ESRCH);
        }
        container_info_done(&i);
        ASSERT_OK(container_get_info(g, "exited", &i));
        ASSERT_EQ(i.status, CONTAINER_EXITED);
        ASSERT_EQ(i.state->exit_status, 3);
        ASSERT_EQ_U64(i.state->exit_time_usec, 1000);
        container_info_done(&i);
        ASSERT_OK(container_get_info(g, "stopped", &i));
        ASSERT_EQ(i.status, CONTAINER_STOPPED);
        container_info_done(&i);
        ASSERT_ERROR(container_get_info(g, "nope", &i), ENOENT);
        ASSERT_ERROR(container_get_info(g, "../x", &i), EINVAL);

        ContainerInfo *l = NULL;
        size_t n = 0;
        ASSERT_OK(container_list(g, false, &l, &n));
        ASSERT_EQ(n, 1);
        ASSERT_STREQ(l[0].state->name, "run");
        container_info_done(&l[0]);
        free(l);
        ASSERT_OK(container_list(g, true, &l, &n));
        ASSERT_EQ(n, 4);
        ASSERT_STREQ(l[0].state->name, "exited");
        ASSERT_STREQ(l[1].state->name, "recycled");
        ASSERT_STREQ(l[2].state->name, "run");
        ASSERT_STREQ(l[3].state->name, "stopped");
        for (size_t k = 0; k < n; k++)
                container_info_done(&l[k]);
        free(l);

        /* down of a container that is not running removes its state, and with --volumes its storage */
        _cleanup_free_ char *sd = strjoin(g->storage_root, "/containers/exited/upper");
        ASSERT_OK(mkdir_p(sd, 0755));
        ASSERT_OK(container_down(g, "exited", true));
        ASSERT_ERROR(container_get_info(g, "exited", &i), ENOENT);
        ASSERT_ERROR(RET_NERRNO(access(sd, F_OK)), ENOENT);
        ASSERT_ERROR(container_down(g, "exited", false), ENOENT);
        teardown();
}

TEST(find_init) {
        _cleanup_free_ char *p = NULL;

        ASSERT_OK(setenv("CBOX_INIT", "/bin/true", 1));
        ASSERT_OK(container_find_init(&p));
        ASSERT_STREQ(p, "/bin/true");
        p = mfree(p);
        ASSERT_OK(setenv("CBOX_INIT", "/nonexistent/cbox-init", 1));
        ASSERT_ERROR(container_find_init(&p), ENOENT);
        ASSERT_OK(unsetenv("CBOX_INIT"));
}

TEST(failed_up_leaves_nothing) {
        _cleanup_(container_config_freep) ContainerConfig *c = NULL;
        _cleanup_free_ char *f = NULL, *sd = NULL, *lock = NULL, *state = NULL;
        _cleanup_strv_free_ char **names = NULL;
        UpOptions o = { .quiet = true };

        setup();
        f = strjoin(tmp, "/t1.toml");
        /* valid, but the rootfs does not exist */
        static const char text[] = "rootfs = \"/nonexistent/rootfs\"\ncommand = [\"/bin/true\"]\n"
                                   "[network]\nmode = \"none\"\n";
        ASSERT_OK(write_file_atomic(f, text, strlen(text), 0644));
        ASSERT_OK(container_load_config(f, g, &c));
        ASSERT_STREQ(c->name, "t1");
        ASSERT_TRUE(container_up(g, c, &o) < 0);

        sd = strjoin(g->storage_root, "/containers/t1");
        lock = strjoin(g->run_root, "/locks/t1");
        state = strjoin(g->run_root, "/containers/t1");
        ASSERT_ERROR(RET_NERRNO(access(sd, F_OK)), ENOENT);
        ASSERT_ERROR(RET_NERRNO(access(lock, F_OK)), ENOENT);
        ASSERT_ERROR(RET_NERRNO(access(state, F_OK)), ENOENT);
        ASSERT_OK(state_list(g->run_root, &names));
        ASSERT_EQ(strv_length(names), 0);

        /* invalid file: problems, no config */
        container_config_free(c);
        c = NULL;
        static const char bad[] = "rootfs = 5\n";
        ASSERT_OK(write_file_atomic(f, bad, strlen(bad), 0644));
        ASSERT_ERROR(container_load_config(f, g, &c), EINVAL);
        ASSERT_NULL(c);
        teardown();
}

TEST(cleanup) {
        int lock_fd = -EBADF;

        setup();
        /* unknown: nothing to do */
        ASSERT_OK(container_cleanup(g, "nothing"));
        ASSERT_ERROR(container_cleanup(g, "../x"), EINVAL);

        /* an exited container without network: state kept */
        write_state(&(ContainerState){ .name = (char *) "gone", .exit_set = true, .exit_status = 4 });
        ASSERT_OK(container_cleanup(g, "gone"));
        ContainerInfo i = {};
        ASSERT_OK(container_get_info(g, "gone", &i));
        ASSERT_EQ(i.status, CONTAINER_EXITED);
        ASSERT_EQ(i.state->exit_status, 4);
        container_info_done(&i);

        /* while another verb holds the lock, cleanup leaves everything to it (no deadlock with down) */
        ASSERT_OK(state_lock(g->run_root, "gone", false, &lock_fd));
        ASSERT_OK(container_cleanup(g, "gone"));
        lock_fd = state_unlock(g->run_root, "gone", lock_fd, false);
        teardown();
}

/* What cbox leaves in a writable layer (directories, the empty bound /etc files) is pristine; anything the
 * container wrote or deleted is not */
TEST(upper_is_pristine) {
        setup();
        _cleanup_free_ char *upper = strjoin(tmp, "/upper"), *etc = strjoin(upper, "/etc"),
                            *mnt = strjoin(upper, "/srv/data"), *f = NULL;
        ASSERT_EQ(container_upper_is_pristine(upper), 1); /* missing */
        ASSERT_OK(mkdir_p(etc, 0755));
        ASSERT_OK(mkdir_p(mnt, 0755));
        for (const char *const *b = container_bound_etc_files; *b; b++) {
                _cleanup_free_ char *p = strjoin(upper, *b);
                ASSERT_OK(write_file_atomic(p, "", 0, 0644));
        }
        ASSERT_EQ(container_upper_is_pristine(upper), 1);

        /* a bound file with content: written by something else than cbox */
        f = strjoin(etc, "/hosts");
        ASSERT_OK(write_file_atomic(f, "x", 1, 0644));
        ASSERT_EQ(container_upper_is_pristine(upper), 0);
        ASSERT_OK(write_file_atomic(f, "", 0, 0644));
        /* an empty file of the same name elsewhere is the container's */
        free(f);
        f = strjoin(mnt, "/hosts");
        ASSERT_OK(write_file_atomic(f, "", 0, 0644));
        ASSERT_EQ(container_upper_is_pristine(upper), 0);
        ASSERT_OK(unlink(f));
        ASSERT_EQ(container_upper_is_pristine(upper), 1);

        if (geteuid() == 0) {
                /* a deletion (whiteout) and an opaque directory */
                free(f);
                f = strjoin(etc, "/passwd");
                ASSERT_OK(mknod(f, S_IFCHR | 0000, makedev(0, 0)));
                ASSERT_EQ(container_upper_is_pristine(upper), 0);
                ASSERT_OK(unlink(f));
                if (setxattr(mnt, "trusted.overlay.opaque", "y", 1, 0) >= 0) {
                        ASSERT_EQ(container_upper_is_pristine(upper), 0);
                        ASSERT_OK(removexattr(mnt, "trusted.overlay.opaque"));
                }
                ASSERT_EQ(container_upper_is_pristine(upper), 1);
        }
        /* a symlink */
        free(f);
        f = strjoin(upper, "/link");
        ASSERT_OK(symlink("/etc", f));
        ASSERT_EQ(container_upper_is_pristine(upper), 0);
        teardown();
}

/* up's storage dir: created once (then kept), upper/ and work/ only for a writable root; the image file
 * reads back what was written and is not rewritten when it says that already */
TEST(storage_prepare_and_image_file) {
        setup();
        _cleanup_free_ char *dir = NULL, *upper = NULL, *work = NULL, *ref = NULL, *digest = NULL, *f = NULL,
                            *data = NULL;
        bool created = false;
        struct stat a, b;

        ASSERT_OK(container_storage_prepare(g, "web", false, &dir, &upper, &work, &created));
        ASSERT_TRUE(created);
        ASSERT_NOT_NULL(startswith(dir, g->storage_root));
        ASSERT_STREQ(dir + strlen(g->storage_root), "/containers/web");
        ASSERT_OK(RET_NERRNO(stat(upper, &a)));
        ASSERT_TRUE(S_ISDIR(a.st_mode));
        ASSERT_OK(RET_NERRNO(stat(work, &a)));
        ASSERT_TRUE(S_ISDIR(a.st_mode));
        dir = mfree(dir);
        upper = mfree(upper);
        work = mfree(work);
        created = false;
        ASSERT_OK(container_storage_prepare(g, "web", false, &dir, &upper, &work, &created));
        ASSERT_FALSE(created); /* kept across runs: not removed by a failing up */

        /* a read-only root: the dir, no writable layer */
        _cleanup_free_ char *rdir = NULL, *rupper = NULL, *rwork = NULL;
        created = false;
        ASSERT_OK(container_storage_prepare(g, "ro", true, &rdir, &rupper, &rwork, &created));
        ASSERT_TRUE(created);
        ASSERT_OK(RET_NERRNO(access(rdir, F_OK)));
        ASSERT_ERROR(RET_NERRNO(access(rupper, F_OK)), ENOENT);
        ASSERT_ERROR(RET_NERRNO(access(rwork, F_OK)), ENOENT);

        f = strjoin(dir, "/image");
        ASSERT_OK(container_write_image_file("web", dir, "docker.io/library/busybox:latest",
                                             "sha256:0123456789abcdef"));
        ASSERT_OK(read_full_file(f, &data, NULL, 4096));
        ASSERT_STREQ(data, "docker.io/library/busybox:latest\nsha256:0123456789abcdef\n");
        ASSERT_OK(container_read_image_file(f, &ref, &digest));
        ASSERT_STREQ(ref, "docker.io/library/busybox:latest");
        ASSERT_STREQ(digest, "sha256:0123456789abcdef");
        ASSERT_OK(RET_NERRNO(stat(f, &a)));
        ASSERT_OK(container_write_image_file("web", dir, "docker.io/library/busybox:latest",
                                             "sha256:0123456789abcdef"));
        ASSERT_OK(RET_NERRNO(stat(f, &b)));
        ASSERT_EQ_U64(a.st_ino, b.st_ino); /* unchanged: not rewritten */
        ASSERT_OK(container_write_image_file("web", dir, "docker.io/library/busybox:latest",
                                             "sha256:fedcba9876543210"));
        ASSERT_OK(RET_NERRNO(stat(f, &b)));
        ASSERT_TRUE(a.st_ino != b.st_ino);
        ref = mfree(ref);
        digest = mfree(digest);
        ASSERT_OK(container_read_image_file(f, &ref, &digest));
        ASSERT_STREQ(digest, "sha256:fedcba9876543210");

        /* a file of an older cbox: the ref alone */
        ASSERT_OK(write_file_atomic(f, "localhost/app:1", 15, 0644));
        ref = mfree(ref);
        digest = mfree(digest);
        ASSERT_OK(container_read_image_file(f, &ref, &digest));
        ASSERT_STREQ(ref, "localhost/app:1");
        ASSERT_NULL(digest);
        teardown();
}

/* The files bound over /etc: on a writable root always; on a read-only one only when the top layer that
 * has an entry there has a regular file (a symlink, or etc itself a symlink, hides the lower layers) */
TEST(etc_files) {
        setup();
        _cleanup_free_ char *top = strjoin(tmp, "/top"), *low = strjoin(tmp, "/low"), *p = NULL,
                            *data = NULL;
        char *lowers[] = { top, low, NULL };
        ContainerConfig c = {};
        _cleanup_close_ int fd = -EBADF;

        ASSERT_TRUE(container_want_etc_files(&c, lowers));
        ASSERT_TRUE(container_want_hostname_file(&c, lowers));
        c.read_only = true;
        ASSERT_FALSE(container_want_etc_files(&c, lowers)); /* no layer has them */
        ASSERT_FALSE(container_want_hostname_file(&c, lowers));

        p = strjoin(low, "/etc");
        ASSERT_OK(mkdir_p(p, 0755));
        p = mfree(p);
        for (const char *const *b = container_bound_etc_files; *b; b++) {
                p = strjoin(low, *b);
                ASSERT_OK(write_file_atomic(p, "x\n", 2, 0644));
                p = mfree(p);
        }
        ASSERT_TRUE(container_want_etc_files(&c, lowers)); /* the top layer has no etc: the lower decides */
        ASSERT_TRUE(container_want_hostname_file(&c, lowers));
        p = strjoin(top, "/etc");
        ASSERT_OK(mkdir_p(p, 0755));
        p = mfree(p);
        p = strjoin(top, "/etc/resolv.conf");
        ASSERT_OK(RET_NERRNO(symlink("../run/systemd/resolve/stub-resolv.conf", p)));
        ASSERT_FALSE(container_want_etc_files(&c, lowers)); /* the symlink hides the lower file */
        ASSERT_TRUE(container_want_hostname_file(&c, lowers));
        ASSERT_OK(RET_NERRNO(unlink(p)));
        p = mfree(p);
        p = strjoin(top, "/etc");
        ASSERT_OK(rm_rf_at(AT_FDCWD, p));
        ASSERT_OK(RET_NERRNO(symlink("/etc", p)));
        ASSERT_FALSE(container_want_hostname_file(&c, lowers)); /* etc itself a symlink: never followed */
        p = mfree(p);

        /* what they say */
        char *dns[] = { (char *) "192.0.2.53", NULL }, *hosts[] = { (char *) "db:10.88.0.9", NULL };
        c.network.dns = dns;
        c.network.hosts = hosts;
        ASSERT_OK(state_dir_open(g->run_root, "web", true, &fd));
        ASSERT_OK(container_write_etc_files(fd, "web", &c, "10.88.0.5", true));
        ASSERT_OK(read_full_file_at(fd, "resolv.conf", &data, NULL, 4096));
        ASSERT_STREQ(data, "nameserver 192.0.2.53\n");
        data = mfree(data);
        ASSERT_OK(read_full_file_at(fd, "hosts", &data, NULL, 4096));
        ASSERT_STREQ(data,
                     "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.88.0.5\tweb\n"
                     "10.88.0.9\tdb\n");
        data = mfree(data);
        ASSERT_OK(read_full_file_at(fd, "hostname", &data, NULL, 4096));
        ASSERT_STREQ(data, "web\n");
        data = mfree(data);

        /* no address (network none): the Debian placeholder; no hostname file when not bound */
        c.hostname = (char *) "box";
        ASSERT_OK(container_write_etc_files(fd, "other", &c, NULL, false));
        ASSERT_OK(read_full_file_at(fd, "hosts", &data, NULL, 4096));
        ASSERT_NOT_NULL(strstr(data, "\n127.0.1.1\tbox\n"));
        data = mfree(data);
        ASSERT_OK(read_full_file_at(fd, "hostname", &data, NULL, 4096));
        ASSERT_STREQ(data, "web\n"); /* the earlier one, untouched */
        fd = safe_close(fd);
        teardown();
}

TEST_MAIN();
