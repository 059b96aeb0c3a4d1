/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sec-probe: run inside a container by the security tests (static, like udp-echo).
 *   sec-probe mknod-read PATH b|c MAJOR MINOR   mknod PATH (if missing) and read 512 bytes from it;
 *                                               prints "read OK" or "mknod|open|read ERRNO-NAME"
 *   sec-probe read PATH                         read 512 bytes of an existing node, same output
 *   sec-probe ids                               prints "ruid=R euid=E" (a set-user-ID copy shows E)
 *   sec-probe bpf-query CGROUP_DIR              the BPF_CGROUP_DEVICE programs of a cgroup (as host
 *                                               root): "attached=ID,... effective=ID,..." ("-" = none)
 *   sec-probe tty TEXT [readback]               prints "sid=SID pid=PID tty_nr=N" from /proc/self/stat,
 *                                               "dev-FD=N" (st_dev of fds 0-2: which devpts they are
 *                                               on), "winsize=ROWSxCOLS" of fd 0, then
 *                                               "devtty OK|ERRNO" (open /dev/tty) and
 *                                               "tiocsti-FD OK|ERRNO" for fds 0, 1, 2 and /dev/tty,
 *                                               injecting TEXT (each character) with TIOCSTI; with
 *                                               readback, then reads what is queued on fd 0 (without
 *                                               waiting) and prints "readback OK" when TEXT is in it:
 *                                               the typing landed in the probe's own terminal */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *ename(int e) {
        switch (e) {
        case EPERM:
                return "EPERM";
        case EACCES:
                return "EACCES";
        case ENXIO:
                return "ENXIO";
        case EIO:
                return "EIO";
        case ENOTTY:
                return "ENOTTY";
        case ENOENT:
                return "ENOENT";
        case EROFS:
                return "EROFS";
        default:
                return strerror(e);
        }
}

static int do_read(const char *path) {
        char buf[512];
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                printf("open %s\n", ename(errno));
                return 1;
        }
        if (read(fd, buf, sizeof(buf)) < 0) {
                printf("read %s\n", ename(errno));
                return 1;
        }
        printf("read OK\n");
        return 0;
}

/* the ids of the device programs attached to a cgroup (flags 0) or in effect there (QUERY_EFFECTIVE) */
static int bpf_ids(int cg, unsigned flags, char *out, size_t size) {
        uint32_t ids[64];
        union bpf_attr a;
        size_t l = 0;

        memset(&a, 0, sizeof(a));
        a.query.target_fd = (uint32_t) cg;
        a.query.attach_type = BPF_CGROUP_DEVICE;
        a.query.query_flags = flags;
        a.query.prog_ids = (uint64_t) (uintptr_t) ids;
        a.query.prog_cnt = 64;
        if (syscall(SYS_bpf, BPF_PROG_QUERY, &a, sizeof(a)) < 0)
                return -errno;
        out[0] = '\0';
        for (uint32_t i = 0; i < a.query.prog_cnt && i < 64; i++)
                l += (size_t) snprintf(out + l, l < size ? size - l : 0, "%s%u", i ? "," : "", ids[i]);
        if (a.query.prog_cnt == 0)
                snprintf(out, size, "-");
        return 0;
}

static void sti(const char *what, int fd, const char *text) {
        for (const char *c = text; *c; c++)
                if (ioctl(fd, TIOCSTI, c) < 0) {
                        printf("tiocsti-%s %s\n", what, ename(errno));
                        return;
                }
        printf("tiocsti-%s OK\n", what);
}

int main(int argc, char **argv) {
        if (argc == 6 && strcmp(argv[1], "mknod-read") == 0) {
                mode_t type = argv[3][0] == 'b' ? S_IFBLK : S_IFCHR;
                if (mknod(argv[2], type | 0600, makedev(atoi(argv[4]), atoi(argv[5]))) < 0 &&
                    errno != EEXIST) {
                        printf("mknod %s\n", ename(errno));
                        return 1;
                }
                return do_read(argv[2]);
        }
        if (argc == 2 && strcmp(argv[1], "ids") == 0) {
                printf("ruid=%d euid=%d\n", (int) getuid(), (int) geteuid());
                return 0;
        }
        if (argc == 3 && strcmp(argv[1], "bpf-query") == 0) {
                char att[1024], eff[1024];
                int cg = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;
                if (cg < 0 || (r = bpf_ids(cg, 0, att, sizeof(att))) < 0 ||
                    (r = bpf_ids(cg, BPF_F_QUERY_EFFECTIVE, eff, sizeof(eff))) < 0) {
                        printf("bpf-query %s\n", ename(errno));
                        return 1;
                }
                printf("attached=%s effective=%s\n", att, eff);
                return 0;
        }
        if (argc == 3 && strcmp(argv[1], "read") == 0)
                return do_read(argv[2]);
        if ((argc == 3 || argc == 4) && strcmp(argv[1], "tty") == 0) {
                char stat[1024] = "";
                FILE *f = fopen("/proc/self/stat", "re");
                int pid = 0, ppid = 0, pgrp = 0, sid = 0, tty_nr = 0;
                if (f && fgets(stat, sizeof(stat), f)) {
                        const char *p = strrchr(stat, ')');
                        if (p)
                                (void) sscanf(p + 2, "%*c %d %d %d %d", &ppid, &pgrp, &sid, &tty_nr);
                }
                if (f)
                        fclose(f);
                pid = (int) getpid();
                printf("sid=%d pid=%d tty_nr=%d\n", sid, pid, tty_nr);
                for (int i = 0; i < 3; i++) {
                        struct stat st;
                        if (fstat(i, &st) >= 0)
                                printf("dev-%d=%llu\n", i, (unsigned long long) st.st_dev);
                }
                struct winsize ws;
                if (ioctl(0, TIOCGWINSZ, &ws) >= 0)
                        printf("winsize=%ux%u\n", ws.ws_row, ws.ws_col);
                int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
                printf("devtty %s\n", fd >= 0 ? "OK" : ename(errno));
                sti("0", 0, argv[2]);
                sti("1", 1, argv[2]);
                sti("2", 2, argv[2]);
                if (fd >= 0)
                        sti("devtty", fd, argv[2]);
                if (argc == 4 && strcmp(argv[3], "readback") == 0) {
                        /* TIOCSTI queues synchronously: whatever it typed is there now, no waiting */
                        static char got[65536];
                        size_t n = 0;
                        int fl = fcntl(0, F_GETFL);
                        (void) fcntl(0, F_SETFL, fl | O_NONBLOCK);
                        for (int i = 0; i < 256 && n < sizeof(got) - 1; i++) {
                                ssize_t k = read(0, got + n, sizeof(got) - 1 - n);
                                if (k < 0)
                                        break;   /* EAGAIN: all read */
                                n += (size_t) k; /* 0 is an EOF (^D) typed by somebody: go on */
                        }
                        got[n] = '\0';
                        (void) fcntl(0, F_SETFL, fl);
                        /* memmem: what the caller had queued (a NUL that stood for a canonical-mode EOF)
                         * may come first */
                        printf("readback %s\n", memmem(got, n, argv[2], strlen(argv[2])) ? "OK" : "MISSING");
                }
                fflush(stdout);
                return 0;
        }
        fprintf(stderr,
                "usage: sec-probe mknod-read PATH b|c MAJ MIN | read PATH | ids | bpf-query CGROUP | "
                "tty TEXT [readback]\n");
        return 2;
}
