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

TEST_MAIN();
