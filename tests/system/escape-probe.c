/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* escape-probe: runs inside a container (static, like udp-echo) and tries what an attacker would.
 *
 *   escape-probe climb HOSTFILE [CONTROL]
 *      Prints "cwd=<the kernel's getcwd>", then opens HOSTFILE (a relative path such as
 *      "var/tmp/secret") below "", "../", "../../", … (up to 32 levels) relative to the working
 *      directory: the runc CVE-2024-21626 read of a host file from a leaked working directory.
 *      Prints "ESCAPED <path>: <first line>" and exits 3 when one opens; else "contained".
 *      CONTROL (relative to the working directory) must open: "control=<first line>" or
 *      "control-failed <errno>" (exit 4), so a probe that cannot read anything never passes.
 *
 *   escape-probe watch LOG
 *      The runc CVE-2019-5736 watcher: forever, scans /proc for processes whose executable is not
 *      on the file system of its own (the container's root), SIGSTOPs each one it finds (again
 *      whenever its executable changes), tries to open /proc/PID/exe for writing and to reopen an
 *      O_PATH fd of it for writing through /proc/self/fd, SIGCONTs it, and appends a line to LOG:
 *        caught PID DEV:INO write=<errno name or OK> reopen=<errno name or OK or "-">
 *        hidden PID            (its exe could not even be looked at: not dumpable)
 *      First line: "control write=<OK or errno name>" for a file of its own it opens for writing,
 *      then its own "CapInh=… CapAmb=…".
 *
 *   escape-probe status FILE
 *      Writes the CapInh/CapAmb lines of /proc/self/status, "nofile=SOFT:HARD",
 *      "nproc=SOFT:HARD" (from getrlimit; "unlimited"), "oom=<oom_score_adj>", "uid=", "cwd=" and
 *      "env_T62=<$T62>" to FILE (for [health] checks, whose output goes nowhere). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *err_name(int e) {
        switch (e) {
        case 0:
                return "OK";
        case EACCES:
                return "EACCES";
        case EPERM:
                return "EPERM";
        case EROFS:
                return "EROFS";
        case ETXTBSY:
                return "ETXTBSY";
        case ENOENT:
                return "ENOENT";
        case ESRCH:
                return "ESRCH";
        default: {
                static char b[32];
                snprintf(b, sizeof(b), "errno%d", e);
                return b;
        }
        }
}

static void first_line(int fd, char *buf, size_t size) {
        ssize_t n = read(fd, buf, size - 1);
        buf[n > 0 ? n : 0] = 0;
        buf[strcspn(buf, "\n")] = 0;
}

static int climb(const char *hostfile, const char *control) {
        char cwd[4096], path[4096], line[256];
        long n = syscall(SYS_getcwd, cwd, sizeof(cwd));

        printf("cwd=%s\n", n > 0 ? cwd : "?");
        for (int k = 0; k <= 32; k++) {
                size_t off = 0;
                for (int i = 0; i < k; i++)
                        off += (size_t) snprintf(path + off, sizeof(path) - off, "../");
                snprintf(path + off, sizeof(path) - off, "%s", hostfile);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd >= 0) {
                        first_line(fd, line, sizeof(line));
                        printf("ESCAPED %s: %s\n", path, line);
                        fflush(stdout);
                        return 3;
                }
        }
        printf("contained\n");
        if (control) {
                int fd = open(control, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        printf("control-failed %s\n", err_name(errno));
                        return 4;
                }
                first_line(fd, line, sizeof(line));
                printf("control=%s\n", line);
        }
        return 0;
}

static void status_lines(FILE *f, const char *sep) {
        char line[256];
        FILE *s = fopen("/proc/self/status", "re");
        if (!s)
                return;
        while (fgets(line, sizeof(line), s))
                if (!strncmp(line, "CapInh:", 7) || !strncmp(line, "CapAmb:", 7)) {
                        char *v = line + 7;
                        v += strspn(v, " \t");
                        v[strcspn(v, "\n")] = 0;
                        fprintf(f, "%.6s=%s%s", line, v, sep);
                }
        fclose(s);
}

static void limit_value(FILE *f, rlim_t v) {
        if (v == RLIM_INFINITY)
                fprintf(f, "unlimited");
        else
                fprintf(f, "%llu", (unsigned long long) v);
}

static int status(const char *file) {
        char cwd[4096], oom[32] = "?";
        struct rlimit l;
        FILE *f = fopen(file, "we");
        int fd;

        if (!f)
                return 1;
        status_lines(f, "\n");
        getrlimit(RLIMIT_NOFILE, &l);
        fprintf(f, "nofile=");
        limit_value(f, l.rlim_cur);
        fprintf(f, ":");
        limit_value(f, l.rlim_max);
        getrlimit(RLIMIT_NPROC, &l);
        fprintf(f, "\nnproc=");
        limit_value(f, l.rlim_cur);
        fprintf(f, ":");
        limit_value(f, l.rlim_max);
        fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                first_line(fd, oom, sizeof(oom));
                close(fd);
        }
        fprintf(f, "\noom=%s\nuid=%u\ncwd=%s\nenv_T62=%s\n", oom, (unsigned) getuid(),
                getcwd(cwd, sizeof(cwd)) ? cwd : "?", getenv("T62") ?: "");
        return fclose(f) == 0 ? 0 : 1;
}

#define MAX_SEEN 4096

static struct {
        pid_t pid;
        dev_t dev;
        ino_t ino;
} seen[MAX_SEEN];

/* 1 when pid with this executable was handled already */
static int seen_before(pid_t pid, dev_t dev, ino_t ino) {
        size_t slot = (size_t) pid % MAX_SEEN;
        if (seen[slot].pid == pid && seen[slot].dev == dev && seen[slot].ino == ino)
                return 1;
        seen[slot].pid = pid;
        seen[slot].dev = dev;
        seen[slot].ino = ino;
        return 0;
}

static int watch(const char *log) {
        struct stat own;
        pid_t self = getpid();
        FILE *f = fopen(log, "ae");
        char p[64];
        int fd, e;

        if (!f || stat("/proc/self/exe", &own) < 0)
                return 1;
        setvbuf(f, NULL, _IOLBF, 0);

        /* control: a file of our own opens for writing */
        fd = open("/tmp/watcher-own", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        fprintf(f, "control write=%s\n", err_name(fd >= 0 ? 0 : errno));
        if (fd >= 0)
                close(fd);
        status_lines(f, " ");
        fprintf(f, "\n");

        for (;;) {
                DIR *d = opendir("/proc");
                struct dirent *de;

                if (!d)
                        return 1;
                while ((de = readdir(d))) {
                        pid_t pid = (pid_t) atoi(de->d_name);
                        struct stat st;

                        if (pid <= 0 || pid == self)
                                continue;
                        snprintf(p, sizeof(p), "/proc/%d/exe", (int) pid);
                        if (stat(p, &st) < 0) {
                                if (errno == EACCES && !seen_before(pid, 0, 0))
                                        fprintf(f, "hidden %d\n", (int) pid);
                                continue;
                        }
                        if (st.st_dev == own.st_dev || seen_before(pid, st.st_dev, st.st_ino))
                                continue;

                        (void) kill(pid, SIGSTOP);
                        fd = open(p, O_WRONLY | O_CLOEXEC);
                        e = fd >= 0 ? 0 : errno;
                        if (fd >= 0)
                                close(fd);
                        const char *reopen = "-";
                        int pfd = open(p, O_PATH | O_CLOEXEC);
                        if (pfd >= 0) {
                                char q[64];
                                snprintf(q, sizeof(q), "/proc/self/fd/%d", pfd);
                                fd = open(q, O_WRONLY | O_CLOEXEC);
                                reopen = err_name(fd >= 0 ? 0 : errno);
                                if (fd >= 0)
                                        close(fd);
                                close(pfd);
                        }
                        (void) kill(pid, SIGCONT);
                        fprintf(f, "caught %d %lu:%lu write=%s reopen=%s\n", (int) pid,
                                (unsigned long) st.st_dev, (unsigned long) st.st_ino, err_name(e), reopen);
                }
                closedir(d);
        }
}

int main(int argc, char *argv[]) {
        if (argc >= 3 && !strcmp(argv[1], "climb"))
                return climb(argv[2], argc > 3 ? argv[3] : NULL);
        if (argc == 3 && !strcmp(argv[1], "watch"))
                return watch(argv[2]);
        if (argc == 3 && !strcmp(argv[1], "status"))
                return status(argv[2]);
        fprintf(stderr, "usage: escape-probe climb HOSTFILE [CONTROL] | watch LOG | status FILE\n");
        return 2;
}
