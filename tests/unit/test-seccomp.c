/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* spawn/'s seccomp profiles: the built-in default loaded into a forked child that calls the
 * refused system calls directly, the JSON parser on good and broken profiles, and the BPF cache. */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "fileio.h"
#include "seccomp-profile.h"
#include "string-util.h"
#include "tests.h"

#define CAP_BIT(n) (UINT64_C(1) << (n))

/* errno of a raw system call, 0 when it succeeded */
static int try(long nr, long a, long b, long c) {
        errno = 0;
        long r = syscall(nr, a, b, c, 0, 0, 0);
        return r < 0 ? errno : 0;
}

/* Forks, loads the program and writes "name=errno" lines for each call */
static char *probe(const SeccompProgram *prog) {
        _cleanup_close_pair_ int p[2] = { -EBADF, -EBADF };
        char *out = NULL;
        int status;

        ASSERT_OK(RET_NERRNO(pipe2(p, O_CLOEXEC)));
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                FILE *f = fdopen(p[1], "w");
                if (!f || seccomp_program_load(prog) < 0)
                        _exit(90);
                fprintf(f, "io_uring_setup=%d\n", try(SYS_io_uring_setup, 1, 0, 0));
                fprintf(f, "personality_addr_no_randomize=%d\n",
                        try(SYS_personality, ADDR_NO_RANDOMIZE, 0, 0));
                fprintf(f, "personality_query=%d\n", try(SYS_personality, 0xffffffff, 0, 0));
                fprintf(f, "pidfd_getfd=%d\n", try(SYS_pidfd_getfd, -1, 0, 0));
                fprintf(f, "vsock=%d\n", try(SYS_socket, 40 /* AF_VSOCK */, SOCK_STREAM, 0));
                fprintf(f, "inet=%d\n", try(SYS_socket, AF_INET, SOCK_DGRAM, 0));
                fprintf(f, "clone_newuser=%d\n", try(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0));
                fprintf(f, "clone3=%d\n", try(SYS_clone3, 0, 0, 0));
                fprintf(f, "unshare=%d\n", try(SYS_unshare, 0, 0, 0));
                fprintf(f, "beyond=%d\n", try(1000, 0, 0, 0));
                fprintf(f, "getpid=%d\n", try(SYS_getpid, 0, 0, 0));
                fprintf(f, "mkdirat=%d\n", try(SYS_mkdirat, -1, (long) "", 0));
                pid_t c = fork(); /* clone without namespace flags */
                if (c == 0)
                        _exit(7);
                int st = 0;
                fprintf(f, "fork=%d\n", c > 0 && waitpid(c, &st, 0) == c && WEXITSTATUS(st) == 7 ? 0 : 1);
                fclose(f);
                _exit(0);
        }
        p[1] = safe_close(p[1]);
        ASSERT_OK(read_full_fd(p[0], &out, NULL, 64 * 1024));
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 0);
        return out;
}

static int field(const char *out, const char *key) {
        _cleanup_free_ char *k = strjoin("\n", key, "=");
        _cleanup_free_ char *o = strjoin("\n", out);
        const char *p = strstr(o, k);
        ASSERT_NOT_NULL(p);
        return atoi(p + strlen(k));
}

TEST(default_profile) {
        SeccompProgram prog = {};
        _cleanup_free_ char *out = NULL;

        /* Docker's default capability set */
        ASSERT_OK(seccomp_program_build(NULL, UINT64_C(0xa80425fb), NULL, &prog, NULL));
        ASSERT_TRUE(prog.n_insns > 100);
        out = probe(&prog);
        ASSERT_EQ(field(out, "io_uring_setup"), EPERM);
        ASSERT_EQ(field(out, "personality_addr_no_randomize"), EPERM);
        ASSERT_EQ(field(out, "personality_query"), 0);
        ASSERT_EQ(field(out, "pidfd_getfd"), EPERM);
        ASSERT_EQ(field(out, "vsock"), EPERM);
        ASSERT_EQ(field(out, "inet"), 0);
        ASSERT_EQ(field(out, "clone_newuser"), EPERM);
        ASSERT_EQ(field(out, "clone3"), ENOSYS);
        ASSERT_EQ(field(out, "unshare"), EPERM);
        ASSERT_EQ(field(out, "beyond"), ENOSYS);
        ASSERT_EQ(field(out, "getpid"), 0);
        ASSERT_EQ(field(out, "mkdirat"), ENOENT);
        ASSERT_EQ(field(out, "fork"), 0);
        seccomp_program_done(&prog);
}

TEST(capabilities_open_parts) {
        SeccompProgram prog = {};
        _cleanup_free_ char *out = NULL;

        /* CAP_SYS_ADMIN (21) and CAP_SYS_PTRACE (19): what Docker opens for them */
        ASSERT_OK(seccomp_program_build(NULL, UINT64_C(0xa80425fb) | CAP_BIT(21) | CAP_BIT(19), NULL, &prog,
                                        NULL));
        out = probe(&prog);
        ASSERT_EQ(field(out, "clone3"), EINVAL);        /* reaches the kernel (size 0) */
        ASSERT_EQ(field(out, "unshare"), 0);            /* no flags: a no-op */
        ASSERT_EQ(field(out, "pidfd_getfd"), EBADF);    /* reaches the kernel */
        ASSERT_EQ(field(out, "io_uring_setup"), EPERM); /* never */
        ASSERT_EQ(field(out, "vsock"), EPERM);
        seccomp_program_done(&prog);
}

TEST(profile_file) {
        static const char json[] =
                "{\n"
                "  \"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1,\n"
                "  \"archMap\": [ { \"architecture\": \"SCMP_ARCH_X86_64\",\n"
                "                 \"subArchitectures\": [\"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"] },\n"
                "               { \"architecture\": \"SCMP_ARCH_AARCH64\", \"subArchitectures\": null } ],\n"
                "  \"syscalls\": [\n"
                "    { \"names\": [\"read\", \"write\", \"exit\", \"exit_group\", \"getpid\", "
                "\"no_such_call\",\n"
                "                  \"clone\", \"wait4\", \"socket\", \"personality\", \"unshare\", "
                "\"fcntl\",\n"
                "                  \"close\", \"brk\", \"mmap\", \"munmap\", \"rt_sigprocmask\", "
                "\"newfstatat\",\n"
                "                  \"fstat\", \"mprotect\", \"rt_sigreturn\", \"futex\",\n"
                /* what ASan's runtime calls in a forked child (the sanitizer build runs this too) */
                "                  \"sigaltstack\", \"madvise\", \"prctl\", \"sched_yield\", \"gettid\",\n"
                "                  \"rt_sigaction\", \"sched_getaffinity\", \"getrlimit\", \"prlimit64\"],\n"
                "      \"action\": \"SCMP_ACT_ALLOW\", \"comment\": \"ignored\" },\n"
                "    { \"name\": \"mkdirat\", \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13 },\n"
                "    { \"names\": [\"pidfd_getfd\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
                "      \"includes\": { \"caps\": [\"CAP_SYS_PTRACE\"], \"minKernel\": \"5.6\" } },\n"
                "    { \"names\": [\"clone3\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38,\n"
                "      \"excludes\": { \"caps\": [\"CAP_SYS_ADMIN\"], \"arches\": [\"s390x\"] } },\n"
                "    { \"names\": [\"kcmp\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
                "      \"args\": [ { \"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_EQ\" },\n"
                "                { \"index\": 0, \"value\": 2, \"valueTwo\": 0, \"op\": \"SCMP_CMP_EQ\" } ] "
                "}\n"
                "  ]\n"
                "}\n";
        _cleanup_(seccomp_profile_freep) SeccompProfile *prof = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        ErrorMessage e = {};
        SeccompProgram prog = {};
        _cleanup_free_ char *out = NULL;

        ASSERT_OK(seccomp_profile_parse(json, strlen(json), &prof, &warnings, &e));
        ASSERT_EQ(strv_length(warnings), 1U);
        ASSERT_STREQ(warnings[0], "syscalls[0].names[5]: unknown system call 'no_such_call', skipped");
        ASSERT_EQ(prof->n_rules, 5U);
        ASSERT_EQ(prof->default_action, SCMP_ACT_ERRNO(1));
        ASSERT_EQ(prof->rules[1].action, SCMP_ACT_ERRNO(13));
        ASSERT_EQ(prof->rules[2].min_kernel_include, 5U << 16 | 6);
        ASSERT_EQ(prof->rules[4].n_args, 2U);
        ASSERT_TRUE(prof->enosys_unknown);
#if defined(__x86_64__)
        ASSERT_EQ(prof->n_arches, 2U);
#endif

        ASSERT_OK(seccomp_program_build(prof, 0, NULL, &prog, &e));
        out = probe(&prog);
        ASSERT_EQ(field(out, "mkdirat"), EACCES);       /* the profile's errno */
        ASSERT_EQ(field(out, "io_uring_setup"), EPERM); /* the default */
        ASSERT_EQ(field(out, "pidfd_getfd"), EPERM);    /* needs CAP_SYS_PTRACE */
        ASSERT_EQ(field(out, "clone3"), ENOSYS);
        ASSERT_EQ(field(out, "beyond"), ENOSYS);
        ASSERT_EQ(field(out, "getpid"), 0);
        seccomp_program_done(&prog);
        error_message_done(&e);
}

TEST(broken_profiles) {
        static const struct {
                const char *json;
                const char *message;
        } cases[] = {
                { "{", "invalid JSON at byte 1: unexpected end of document" },
                { "[]", "$: expected an object" },
                { "{} x", "invalid JSON at byte 3: unexpected character" },
                { "{}", "defaultAction: expected an action like \"SCMP_ACT_ERRNO\"" },
                { "{\"defaultAction\":\"SCMP_ACT_NOPE\"}", "defaultAction: unknown action 'SCMP_ACT_NOPE'" },
                { "{\"defaultAction\":\"SCMP_ACT_NOTIFY\"}",
                  "defaultAction: SCMP_ACT_NOTIFY is not supported" },
                { "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":-1}",
                  "defaultErrnoRet: expected a non-negative integer" },
                { "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":99999}",
                  "defaultErrnoRet: out of range (at most 4095)" },
                { "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":{}}", "syscalls: expected an array" },
                { "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"action\":\"SCMP_ACT_ERRNO\"}]}",
                  "syscalls[0].names: missing (an array of system call names)" },
                { "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\",3],"
                  "\"action\":\"SCMP_ACT_ERRNO\"}]}",
                  "syscalls[0].names[1]: expected a string" },
                { "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
                  "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]"
                  "}]}",
                  "syscalls[0].args[0].index: out of range (at most 5)" },
                { "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
                  "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":1,\"op\":\"EQ\"}]}]}",
                  "syscalls[0].args[0].op: unknown operator 'EQ'" },
                { "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
                  "\"action\":\"SCMP_ACT_ERRNO\",\"includes\":{\"minKernel\":\"four\"}}]}",
                  "syscalls[0].includes.minKernel: 'four' is not a kernel version like \"4.8\"" },
                { "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"x86_64\"]}",
                  "architectures[0]: 'x86_64' is not an architecture like \"SCMP_ARCH_X86_64\"" },
                { "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"archMap\":[{\"architecture\":\"SCMP_ARCH_VAX\"}]"
                  "}",
                  "archMap[0].architecture: unknown architecture 'SCMP_ARCH_VAX'" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(seccomp_profile_freep) SeccompProfile *prof = NULL;
                ErrorMessage e = {};
                ASSERT_TRUE(seccomp_profile_parse(cases[i].json, strlen(cases[i].json), &prof, NULL, &e) <
                            0);
                ASSERT_NULL(prof);
                ASSERT_STREQ(e.message, cases[i].message);
                error_message_done(&e);
        }
}

/* rules × args JSON: every rule names 'read' and compares args arguments with GT */
/* A profile of RULES rules for getppid, each comparing arguments 0..ARGS-1 with OP to values that
 * differ per rule (i * 7 + j), besides what a forked child needs */
static char *args_profile(unsigned rules, unsigned args, const char *op) {
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);

        ASSERT_NOT_NULL(f);
        fputs("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"write\",\"exit\","
              "\"exit_group\",\"close\",\"brk\",\"mmap\",\"munmap\",\"futex\",\"sigaltstack\","
              "\"madvise\",\"prctl\",\"sched_yield\",\"gettid\",\"getpid\",\"rt_sigaction\","
              "\"rt_sigprocmask\",\"sched_getaffinity\",\"getrlimit\",\"prlimit64\",\"mprotect\","
              "\"fstat\",\"newfstatat\",\"rt_sigreturn\"],\"action\":\"SCMP_ACT_ALLOW\"}",
              f);
        for (unsigned i = 0; i < rules; i++) {
                fputs(",{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[", f);
                for (unsigned j = 0; j < args; j++)
                        fprintf(f, "%s{\"index\":%u,\"value\":%u,\"op\":\"%s\"}", j ? "," : "", j, i * 7 + j,
                                op);
                fputs("]}", f);
        }
        fputs("]}", f);
        ASSERT_EQ(fclose(f), 0);
        return s;
}

/* Forks, loads the program and calls getppid with each of the n argument triples: '1' where it
 * was allowed, '0' where it was refused */
static char *getppid_allowed(const SeccompProgram *prog, const long (*argv)[3], size_t n) {
        _cleanup_close_pair_ int p[2] = { -EBADF, -EBADF };
        char *out = NULL;
        int status;

        ASSERT_OK(RET_NERRNO(pipe2(p, O_CLOEXEC)));
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                char r[64] = {};
                if (n >= sizeof(r) || seccomp_program_load(prog) < 0)
                        _exit(90);
                for (size_t i = 0; i < n; i++)
                        r[i] = try(SYS_getppid, argv[i][0], argv[i][1], argv[i][2]) == 0 ? '1' : '0';
                _exit(write(p[1], r, n) == (ssize_t) n ? 0 : 91);
        }
        p[1] = safe_close(p[1]);
        ASSERT_OK(read_full_fd(p[0], &out, NULL, 64));
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 0);
        return out;
}

/* libseccomp merges the rules of one call wrongly, or never finishes, when several have conditions
 * and one is not EQ/MASKED_EQ: the parser refuses that shape and keeps the shapes it compiles
 * right, which the kernel then enforces as written */
TEST(conditions_in_several_rules) {
        /* the shape that never finished: two rules share a0 < 9 and go on with other arguments */
        static const char loops[] = "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":["
                                    "{\"names\":[\"kcmp\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":["
                                    "{\"index\":2,\"value\":1,\"op\":\"SCMP_CMP_GE\"},{\"index\":0,"
                                    "\"value\":9,\"op\":\"SCMP_CMP_LT\"}]},"
                                    "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\"},"
                                    "{\"names\":[\"kcmp\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":["
                                    "{\"index\":5,\"value\":1,\"op\":\"SCMP_CMP_GE\"},{\"index\":0,"
                                    "\"value\":9,\"op\":\"SCMP_CMP_LT\"}]}]}";
        /* one rule, two range conditions on one index: runc's split makes it two rules */
        static const char split[] = "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":["
                                    "{\"names\":[\"read\",\"kcmp\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":["
                                    "{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_GE\"},{\"index\":0,"
                                    "\"value\":9,\"op\":\"SCMP_CMP_LT\"}]}]}";
        _cleanup_free_ char *equal = args_profile(12, 3, "SCMP_CMP_EQ"),
                            *one = args_profile(1, 3, "SCMP_CMP_GE"),
                            *ranges = args_profile(2, 1, "SCMP_CMP_GT");
        _cleanup_(seccomp_profile_freep) SeccompProfile *a = NULL, *b = NULL, *c = NULL, *x = NULL;
        _cleanup_free_ char *allowed_equal = NULL, *allowed_one = NULL;
        SeccompProgram prog = {};
        ErrorMessage e = {};

        ASSERT_ERROR(seccomp_profile_parse(loops, strlen(loops), &a, NULL, &e), EINVAL);
        ASSERT_NULL(a);
        ASSERT_STREQ(e.message,
                     "syscalls[2].args: 'kcmp' has conditions in more than one rule (also "
                     "syscalls[0]), and not all are SCMP_CMP_EQ or SCMP_CMP_MASKED_EQ: libseccomp "
                     "builds a wrong filter for that; put them in one rule");
        error_message_done(&e);

        ASSERT_ERROR(seccomp_profile_parse(split, strlen(split), &a, NULL, &e), EINVAL);
        ASSERT_STREQ(e.message,
                     "syscalls[0].args: 'kcmp' has conditions in more than one rule (one per "
                     "condition on a repeated index in syscalls[0]), and not all are SCMP_CMP_EQ or "
                     "SCMP_CMP_MASKED_EQ: libseccomp builds a wrong filter for that; put them in one rule");
        error_message_done(&e);

        ASSERT_ERROR(seccomp_profile_parse(ranges, strlen(ranges), &x, NULL, &e), EINVAL);
        error_message_done(&e);

        /* kept: any number of EQ rules (36 conditions in all: 12 of 3), and one rule of ranges */
        ASSERT_OK(seccomp_profile_parse(equal, strlen(equal), &b, NULL, &e));
        ASSERT_OK(seccomp_program_build(b, 0, NULL, &prog, &e));
        static const long equal_args[][3] = { { 0, 1, 2 },  { 7, 8, 9 }, { 77, 78, 79 },
                                              { 7, 8, 10 }, { 0, 8, 9 }, { 1, 2, 3 } };
        allowed_equal = getppid_allowed(&prog, equal_args, ELEMENTSOF(equal_args));
        ASSERT_STREQ(allowed_equal, "111000");
        seccomp_program_done(&prog);

        ASSERT_OK(seccomp_profile_parse(one, strlen(one), &c, NULL, &e));
        ASSERT_OK(seccomp_program_build(c, 0, NULL, &prog, &e));
        static const long one_args[][3] = { { 0, 1, 2 }, { 5, 5, 5 }, { 0, 0, 2 }, { 0, 1, 1 } };
        allowed_one = getppid_allowed(&prog, one_args, ELEMENTSOF(one_args));
        ASSERT_STREQ(allowed_one, "1100");
        seccomp_program_done(&prog);
}

/* A million unknown names cost neither a million lines nor a quadratic append: the first
 * SECCOMP_PROFILE_WARNINGS_MAX are kept and the rest counted */
TEST(warnings_bounded) {
        _cleanup_(seccomp_profile_freep) SeccompProfile *p = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_free_ char *s = NULL;
        ErrorMessage e = {};
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);

        ASSERT_NOT_NULL(f);
        fputs("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[", f);
        for (unsigned i = 0; i < 1000; i++)
                fprintf(f, "%s\"%s\"", i ? "," : "", i == 500 ? "read" : "nope");
        fputs("],\"action\":\"SCMP_ACT_ALLOW\"}]}", f);
        ASSERT_EQ(fclose(f), 0);

        ASSERT_OK(seccomp_profile_parse(s, strlen(s), &p, &warnings, &e));
        ASSERT_EQ(strv_length(warnings), SECCOMP_PROFILE_WARNINGS_MAX + 1);
        ASSERT_STREQ(warnings[0], "syscalls[0].names[0]: unknown system call 'nope', skipped");
        ASSERT_STREQ(warnings[SECCOMP_PROFILE_WARNINGS_MAX], "967 more unknown system call names, skipped");
}

TEST(cache) {
        char dir[] = "/tmp/test-seccomp-XXXXXX";
        _cleanup_free_ char *sub = NULL;
        SeccompProgram a = {}, b = {}, c = {};

        ASSERT_NOT_NULL(mkdtemp(dir));
        sub = strjoin(dir, "/seccomp");
        ASSERT_OK(seccomp_program_build(NULL, 0, sub, &a, NULL));
        /* one file, holding exactly the program */
        _cleanup_close_ int dfd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(dfd >= 0);
        struct stat st;
        ASSERT_OK(RET_NERRNO(fstat(dfd, &st)));
        ASSERT_EQ(st.st_mode & 0777, 0700U);

        ASSERT_OK(seccomp_program_build(NULL, 0, sub, &b, NULL));
        ASSERT_EQ(a.n_insns, b.n_insns);
        ASSERT_TRUE(memcmp(a.insns, b.insns, a.n_insns * sizeof(*a.insns)) == 0);

        /* another capability set is another key */
        ASSERT_OK(seccomp_program_build(NULL, CAP_BIT(21), sub, &c, NULL));
        ASSERT_TRUE(c.n_insns != a.n_insns || memcmp(a.insns, c.insns, a.n_insns * sizeof(*a.insns)) != 0);

        seccomp_program_done(&a);
        seccomp_program_done(&b);
        seccomp_program_done(&c);
        ASSERT_OK(rm_rf_at(AT_FDCWD, dir));
}

TEST_MAIN();
