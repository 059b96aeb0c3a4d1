/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* cbox's default seccomp profile and the compiler shared with profiles from a file.
 *
 * The default is an allow-list equal in effect to Docker's default profile (moby
 * profiles/seccomp/default.json, which Podman's containers-common seccomp.json follows), written
 * as tables below: everything not named fails with EPERM; numbers above the highest one libseccomp
 * knows fail with ENOSYS, so that userspace falls back from calls newer than the profile (glibc's
 * fchmodat2, clone3, …) as under runc and crun. As in current Docker, io_uring is not allowed
 * (moby dropped it in 2023). Capability-gated parts follow the container's capabilities as in
 * Docker: CAP_SYS_ADMIN allows mount, the new mount API, unshare, setns, clone/clone3 with any
 * flags; CAP_SYS_PTRACE ptrace-like calls, pidfd_getfd, kcmp; CAP_SYS_MODULE modules; etc. Without
 * CAP_SYS_ADMIN, clone with a namespace flag is refused and clone3 answers ENOSYS (its flags are in
 * memory, out of a filter's reach), so libc falls back to clone. personality only with the values
 * Docker allows (no ADDR_NO_RANDOMIZE); socket with any family but AF_VSOCK.
 *
 * Cost: libseccomp needs ~1 ms (x86-64 host; ~35 ms under TCG) to compile this profile, more than
 * the rest of the child's setup. seccomp_program_build() therefore stores the exported BPF under
 * the run root, keyed by a SHA-256 of everything the program depends on (a format version, the
 * libseccomp version, the native architecture, the kernel version the minKernel conditions were
 * decided for, the capability set and the whole profile); a start with a known key reads ~20 KiB
 * and the child only calls seccomp(2). A cache file is written atomically by root in a root-only
 * directory, and checked for size and shape when read; /run is empty again after a reboot, and
 * the set of keys is as small as the set of (profile, capabilities) pairs in use. */

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "fd-util.h"
#include "fileio.h"
#include "seccomp-profile.h"
#include "sha256.h"
#include "spawn-internal.h"
#include "string-util.h"

#define CAP(n) (UINT64_C(1) << (n))
#define RULE_NAMES(a) .names = (a), .n_names = ELEMENTSOF(a)
#define RULE_ARGS(a) .args = (a), .n_args = ELEMENTSOF(a)
#define RULE_ARCHES(a) .arches_include = (a), .n_arches_include = ELEMENTSOF(a)

/* Capability numbers (linux/capability.h, without pulling in its types) */
enum {
        C_DAC_READ_SEARCH = 2,
        C_SYS_MODULE = 16,
        C_SYS_RAWIO = 17,
        C_SYS_CHROOT = 18,
        C_SYS_PTRACE = 19,
        C_SYS_PACCT = 20,
        C_SYS_ADMIN = 21,
        C_SYS_BOOT = 22,
        C_SYS_NICE = 23,
        C_SYS_TIME = 25,
        C_SYS_TTY_CONFIG = 26,
        C_SYSLOG = 34,
        C_PERFMON = 38,
        C_BPF = 39,
};

/* Allowed to everyone. Sorted for reading; the order does not matter. */
static const char *const allowed[] = {
        "accept",
        "accept4",
        "access",
        "adjtimex",
        "alarm",
        "bind",
        "brk",
        "capget",
        "capset",
        "chdir",
        "chmod",
        "chown",
        "chown32",
        "clock_adjtime",
        "clock_adjtime64",
        "clock_getres",
        "clock_getres_time64",
        "clock_gettime",
        "clock_gettime64",
        "clock_nanosleep",
        "clock_nanosleep_time64",
        "close",
        "close_range",
        "connect",
        "copy_file_range",
        "creat",
        "dup",
        "dup2",
        "dup3",
        "epoll_create",
        "epoll_create1",
        "epoll_ctl",
        "epoll_ctl_old",
        "epoll_pwait",
        "epoll_pwait2",
        "epoll_wait",
        "epoll_wait_old",
        "eventfd",
        "eventfd2",
        "execve",
        "execveat",
        "exit",
        "exit_group",
        "faccessat",
        "faccessat2",
        "fadvise64",
        "fadvise64_64",
        "fallocate",
        "fanotify_mark",
        "fchdir",
        "fchmod",
        "fchmodat",
        "fchown",
        "fchown32",
        "fchownat",
        "fcntl",
        "fcntl64",
        "fdatasync",
        "fgetxattr",
        "flistxattr",
        "flock",
        "fork",
        "fremovexattr",
        "fsetxattr",
        "fstat",
        "fstat64",
        "fstatat64",
        "fstatfs",
        "fstatfs64",
        "fsync",
        "ftruncate",
        "ftruncate64",
        "futex",
        "futex_time64",
        "futex_waitv",
        "futimesat",
        "getcpu",
        "getcwd",
        "getdents",
        "getdents64",
        "getegid",
        "getegid32",
        "geteuid",
        "geteuid32",
        "getgid",
        "getgid32",
        "getgroups",
        "getgroups32",
        "getitimer",
        "getpeername",
        "getpgid",
        "getpgrp",
        "getpid",
        "getppid",
        "getpriority",
        "getrandom",
        "getresgid",
        "getresgid32",
        "getresuid",
        "getresuid32",
        "getrlimit",
        "get_robust_list",
        "getrusage",
        "getsid",
        "getsockname",
        "getsockopt",
        "get_thread_area",
        "gettid",
        "gettimeofday",
        "getuid",
        "getuid32",
        "getxattr",
        "inotify_add_watch",
        "inotify_init",
        "inotify_init1",
        "inotify_rm_watch",
        "io_cancel",
        "ioctl",
        "io_destroy",
        "io_getevents",
        "io_pgetevents",
        "io_pgetevents_time64",
        "ioprio_get",
        "ioprio_set",
        "io_setup",
        "io_submit",
        "ipc",
        "kill",
        "landlock_add_rule",
        "landlock_create_ruleset",
        "landlock_restrict_self",
        "lchown",
        "lchown32",
        "lgetxattr",
        "link",
        "linkat",
        "listen",
        "listxattr",
        "llistxattr",
        "_llseek",
        "lremovexattr",
        "lseek",
        "lsetxattr",
        "lstat",
        "lstat64",
        "madvise",
        "membarrier",
        "memfd_create",
        "memfd_secret",
        "mincore",
        "mkdir",
        "mkdirat",
        "mknod",
        "mknodat",
        "mlock",
        "mlock2",
        "mlockall",
        "mmap",
        "mmap2",
        "mprotect",
        "mq_getsetattr",
        "mq_notify",
        "mq_open",
        "mq_timedreceive",
        "mq_timedreceive_time64",
        "mq_timedsend",
        "mq_timedsend_time64",
        "mq_unlink",
        "mremap",
        "msgctl",
        "msgget",
        "msgrcv",
        "msgsnd",
        "msync",
        "munlock",
        "munlockall",
        "munmap",
        "name_to_handle_at",
        "nanosleep",
        "newfstatat",
        "_newselect",
        "open",
        "openat",
        "openat2",
        "pause",
        "pidfd_open",
        "pidfd_send_signal",
        "pipe",
        "pipe2",
        "pkey_alloc",
        "pkey_free",
        "pkey_mprotect",
        "poll",
        "ppoll",
        "ppoll_time64",
        "prctl",
        "pread64",
        "preadv",
        "preadv2",
        "prlimit64",
        "process_mrelease",
        "pselect6",
        "pselect6_time64",
        "pwrite64",
        "pwritev",
        "pwritev2",
        "read",
        "readahead",
        "readlink",
        "readlinkat",
        "readv",
        "recv",
        "recvfrom",
        "recvmmsg",
        "recvmmsg_time64",
        "recvmsg",
        "remap_file_pages",
        "removexattr",
        "rename",
        "renameat",
        "renameat2",
        "restart_syscall",
        "rmdir",
        "rseq",
        "rt_sigaction",
        "rt_sigpending",
        "rt_sigprocmask",
        "rt_sigqueueinfo",
        "rt_sigreturn",
        "rt_sigsuspend",
        "rt_sigtimedwait",
        "rt_sigtimedwait_time64",
        "rt_tgsigqueueinfo",
        "sched_getaffinity",
        "sched_getattr",
        "sched_getparam",
        "sched_get_priority_max",
        "sched_get_priority_min",
        "sched_getscheduler",
        "sched_rr_get_interval",
        "sched_rr_get_interval_time64",
        "sched_setaffinity",
        "sched_setattr",
        "sched_setparam",
        "sched_setscheduler",
        "sched_yield",
        "seccomp",
        "select",
        "semctl",
        "semget",
        "semop",
        "semtimedop",
        "semtimedop_time64",
        "send",
        "sendfile",
        "sendfile64",
        "sendmmsg",
        "sendmsg",
        "sendto",
        "setfsgid",
        "setfsgid32",
        "setfsuid",
        "setfsuid32",
        "setgid",
        "setgid32",
        "setgroups",
        "setgroups32",
        "setitimer",
        "setpgid",
        "setpriority",
        "setregid",
        "setregid32",
        "setresgid",
        "setresgid32",
        "setresuid",
        "setresuid32",
        "setreuid",
        "setreuid32",
        "setrlimit",
        "set_robust_list",
        "setsid",
        "setsockopt",
        "set_thread_area",
        "set_tid_address",
        "setuid",
        "setuid32",
        "setxattr",
        "shmat",
        "shmctl",
        "shmdt",
        "shmget",
        "shutdown",
        "sigaltstack",
        "signalfd",
        "signalfd4",
        "sigprocmask",
        "sigreturn",
        "socketcall",
        "socketpair",
        "splice",
        "stat",
        "stat64",
        "statfs",
        "statfs64",
        "statx",
        "symlink",
        "symlinkat",
        "sync",
        "sync_file_range",
        "syncfs",
        "sysinfo",
        "tee",
        "tgkill",
        "time",
        "timer_create",
        "timer_delete",
        "timer_getoverrun",
        "timer_gettime",
        "timer_gettime64",
        "timer_settime",
        "timer_settime64",
        "timerfd_create",
        "timerfd_gettime",
        "timerfd_gettime64",
        "timerfd_settime",
        "timerfd_settime64",
        "times",
        "tkill",
        "truncate",
        "truncate64",
        "ugetrlimit",
        "umask",
        "uname",
        "unlink",
        "unlinkat",
        "utime",
        "utimensat",
        "utimensat_time64",
        "utimes",
        "vfork",
        "vmsplice",
        "wait4",
        "waitid",
        "waitpid",
        "write",
        "writev",
        /* added by Docker 26 (kernel 6.4 to 6.7): glibc 2.39 calls fchmodat2 and only falls back
         * on ENOSYS, which EPERM would not trigger */
        "cachestat",
        "fchmodat2",
        "futex_requeue",
        "futex_wait",
        "futex_wake",
        "map_shadow_stack",
};

static const char *const ptrace_own[] = { "process_vm_readv", "process_vm_writev", "ptrace" };
static const char *const socket_call[] = { "socket" };
static const char *const personality_call[] = { "personality" };
static const char *const clone_call[] = { "clone" };
static const char *const clone3_call[] = { "clone3" };
static const char *const x86_arch_prctl[] = { "arch_prctl" };
static const char *const x86_modify_ldt[] = { "modify_ldt" };
static const char *const arm_calls[] = { "arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2",
                                         "breakpoint",       "cacheflush",          "set_tls" };
static const char *const ppc_calls[] = { "sync_file_range2", "swapcontext" };
static const char *const s390_calls[] = { "s390_pci_mmio_read", "s390_pci_mmio_write",
                                          "s390_runtime_instr" };
static const char *const riscv_calls[] = { "riscv_flush_icache" };

static const char *const arches_x86_64[] = { "amd64", "x32" };
static const char *const arches_x86[] = { "amd64", "x32", "x86" };
static const char *const arches_arm[] = { "arm", "arm64" };
static const char *const arches_ppc[] = { "ppc64le" };
static const char *const arches_s390[] = { "s390", "s390x" };
static const char *const arches_riscv[] = { "riscv64" };

static const char *const with_dac_read_search[] = { "open_by_handle_at" };
static const char *const with_sys_admin[] = {
        "bpf",       "clone",           "clone3",         "fanotify_init", "fsconfig",      "fsmount",
        "fsopen",    "fspick",          "lookup_dcookie", "mount",         "mount_setattr", "move_mount",
        "open_tree", "perf_event_open", "quotactl",       "quotactl_fd",   "setdomainname", "sethostname",
        "setns",     "syslog",          "umount",         "umount2",       "unshare",
};
static const char *const with_sys_boot[] = { "reboot" };
static const char *const with_sys_chroot[] = { "chroot" };
static const char *const with_sys_module[] = { "delete_module", "init_module", "finit_module" };
static const char *const with_sys_pacct[] = { "acct" };
static const char *const with_sys_ptrace[] = {
        "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"
};
static const char *const with_sys_rawio[] = { "iopl", "ioperm" };
static const char *const with_sys_time[] = { "settimeofday", "stime", "clock_settime", "clock_settime64" };
static const char *const with_sys_tty_config[] = { "vhangup" };
static const char *const with_sys_nice[] = { "get_mempolicy", "mbind", "set_mempolicy",
                                             "set_mempolicy_home_node" };
static const char *const with_syslog[] = { "syslog" };
static const char *const with_bpf[] = { "bpf" };
static const char *const with_perfmon[] = { "perf_event_open" };

#define AF_VSOCK_NR 40
/* CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
 * CLONE_NEWNET */
#define CLONE_NS_FLAGS UINT64_C(0x7E020000)

static const SeccompArg not_vsock[] = { { 0, AF_VSOCK_NR, 0, SCMP_CMP_NE } };
/* PER_LINUX, UNAME26, PER_LINUX32, PER_LINUX32|UNAME26 and the query 0xffffffff */
static const SeccompArg pers_linux[] = { { 0, 0x0, 0, SCMP_CMP_EQ } };
static const SeccompArg pers_linux32[] = { { 0, 0x8, 0, SCMP_CMP_EQ } };
static const SeccompArg pers_uname26[] = { { 0, 0x20000, 0, SCMP_CMP_EQ } };
static const SeccompArg pers_uname26_32[] = { { 0, 0x20008, 0, SCMP_CMP_EQ } };
static const SeccompArg pers_query[] = { { 0, 0xffffffff, 0, SCMP_CMP_EQ } };
static const SeccompArg clone_no_ns[] = { { 0, CLONE_NS_FLAGS, 0, SCMP_CMP_MASKED_EQ } };
static const SeccompArg clone_no_ns_s390[] = { { 1, CLONE_NS_FLAGS, 0, SCMP_CMP_MASKED_EQ } };

#define ALLOW_WITH(list, cap)                                                                               \
        { RULE_NAMES(list), .action = SCMP_ACT_ALLOW, .caps_include = CAP(cap) }

static const SeccompRule default_rules[] = {
        { RULE_NAMES(allowed), .action = SCMP_ACT_ALLOW },
        { RULE_NAMES(ptrace_own), .action = SCMP_ACT_ALLOW, .min_kernel_include = 4 << 16 | 8 },
        { RULE_NAMES(socket_call), .action = SCMP_ACT_ALLOW, RULE_ARGS(not_vsock) },
        { RULE_NAMES(personality_call), .action = SCMP_ACT_ALLOW, RULE_ARGS(pers_linux) },
        { RULE_NAMES(personality_call), .action = SCMP_ACT_ALLOW, RULE_ARGS(pers_linux32) },
        { RULE_NAMES(personality_call), .action = SCMP_ACT_ALLOW, RULE_ARGS(pers_uname26) },
        { RULE_NAMES(personality_call), .action = SCMP_ACT_ALLOW, RULE_ARGS(pers_uname26_32) },
        { RULE_NAMES(personality_call), .action = SCMP_ACT_ALLOW, RULE_ARGS(pers_query) },
        { RULE_NAMES(ppc_calls), .action = SCMP_ACT_ALLOW, RULE_ARCHES(arches_ppc) },
        { RULE_NAMES(arm_calls), .action = SCMP_ACT_ALLOW, RULE_ARCHES(arches_arm) },
        { RULE_NAMES(x86_arch_prctl), .action = SCMP_ACT_ALLOW, RULE_ARCHES(arches_x86_64) },
        { RULE_NAMES(x86_modify_ldt), .action = SCMP_ACT_ALLOW, RULE_ARCHES(arches_x86) },
        { RULE_NAMES(s390_calls), .action = SCMP_ACT_ALLOW, RULE_ARCHES(arches_s390) },
        { RULE_NAMES(riscv_calls), .action = SCMP_ACT_ALLOW, RULE_ARCHES(arches_riscv) },
        ALLOW_WITH(with_dac_read_search, C_DAC_READ_SEARCH),
        ALLOW_WITH(with_sys_admin, C_SYS_ADMIN),
        { RULE_NAMES(clone_call), .action = SCMP_ACT_ALLOW, RULE_ARGS(clone_no_ns),
          .caps_exclude = CAP(C_SYS_ADMIN), .arches_exclude = arches_s390,
          .n_arches_exclude = ELEMENTSOF(arches_s390) },
        { RULE_NAMES(clone_call), .action = SCMP_ACT_ALLOW, RULE_ARGS(clone_no_ns_s390),
          .caps_exclude = CAP(C_SYS_ADMIN), RULE_ARCHES(arches_s390) },
        { RULE_NAMES(clone3_call), .action = SCMP_ACT_ERRNO(ENOSYS), .caps_exclude = CAP(C_SYS_ADMIN) },
        ALLOW_WITH(with_sys_boot, C_SYS_BOOT),
        ALLOW_WITH(with_sys_chroot, C_SYS_CHROOT),
        ALLOW_WITH(with_sys_module, C_SYS_MODULE),
        ALLOW_WITH(with_sys_pacct, C_SYS_PACCT),
        ALLOW_WITH(with_sys_ptrace, C_SYS_PTRACE),
        ALLOW_WITH(with_sys_rawio, C_SYS_RAWIO),
        ALLOW_WITH(with_sys_time, C_SYS_TIME),
        ALLOW_WITH(with_sys_tty_config, C_SYS_TTY_CONFIG),
        ALLOW_WITH(with_sys_nice, C_SYS_NICE),
        ALLOW_WITH(with_syslog, C_SYSLOG),
        ALLOW_WITH(with_bpf, C_BPF),
        ALLOW_WITH(with_perfmon, C_PERFMON),
};

#if defined(__x86_64__)
static const uint32_t default_arches[] = { SCMP_ARCH_X86, SCMP_ARCH_X32 };
#elif defined(__aarch64__)
static const uint32_t default_arches[] = { SCMP_ARCH_ARM };
#elif defined(__s390x__)
static const uint32_t default_arches[] = { SCMP_ARCH_S390 };
#else
static const uint32_t default_arches[] = {};
#endif

static const SeccompProfile default_profile = {
        .default_action = SCMP_ACT_ERRNO(EPERM),
        .arches = default_arches,
        .n_arches = ELEMENTSOF(default_arches),
        .rules = default_rules,
        .n_rules = ELEMENTSOF(default_rules),
        .enosys_unknown = true,
};

const SeccompProfile *seccomp_profile_default(void) {
        return &default_profile;
}

/* Docker's name of the native architecture (Go's GOARCH), which includes/excludes.arches use */
static const char *native_arch_name(void) {
        switch (seccomp_arch_native()) {
        case SCMP_ARCH_X86_64:
                return "amd64";
        case SCMP_ARCH_X86:
                return "386";
        case SCMP_ARCH_X32:
                return "x32";
        case SCMP_ARCH_AARCH64:
                return "arm64";
        case SCMP_ARCH_ARM:
                return "arm";
        case SCMP_ARCH_PPC64LE:
                return "ppc64le";
        case SCMP_ARCH_PPC64:
                return "ppc64";
        case SCMP_ARCH_S390X:
                return "s390x";
        case SCMP_ARCH_S390:
                return "s390";
        case SCMP_ARCH_RISCV64:
                return "riscv64";
        case SCMP_ARCH_MIPS64:
                return "mips64";
        case SCMP_ARCH_MIPSEL64:
                return "mips64le";
        default:
                return NULL;
        }
}

static unsigned running_kernel(void) {
        static unsigned cached;
        struct utsname u;
        unsigned major = 0, minor = 0;

        if (cached)
                return cached;
        if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) < 1)
                return 0;
        cached = major << 16 | (minor & 0xffff);
        return cached;
}

static bool in_list(const char *const *l, size_t n, const char *s) {
        if (!s)
                return false;
        for (size_t i = 0; i < n; i++)
                if (streq(l[i], s))
                        return true;
        return false;
}

/* Docker's rules for includes/excludes */
static bool rule_applies(const SeccompRule *r, uint64_t caps) {
        const char *arch = native_arch_name();
        unsigned kernel = running_kernel();

        if (r->never)
                return false;
        if (r->n_arches_exclude > 0 && in_list(r->arches_exclude, r->n_arches_exclude, arch))
                return false;
        if (caps & r->caps_exclude)
                return false;
        if (r->min_kernel_exclude > 0 && kernel >= r->min_kernel_exclude)
                return false;
        if (r->n_arches_include > 0 && !in_list(r->arches_include, r->n_arches_include, arch))
                return false;
        if ((caps & r->caps_include) != r->caps_include)
                return false;
        if (r->min_kernel_include > 0 && kernel < r->min_kernel_include)
                return false;
        return true;
}

static int add_rule(scmp_filter_ctx ctx, const SeccompRule *r, ErrorMessage *err) {
        struct scmp_arg_cmp cmp[6];
        bool same_index = false;
        int k;

        if (r->n_args > ELEMENTSOF(cmp))
                return error_message_setf(err, -E2BIG, "syscalls[%u]: more than 6 args", r->json_index);
        for (size_t i = 0; i < r->n_args; i++) {
                cmp[i] = (struct scmp_arg_cmp){
                        .arg = r->args[i].index,
                        .op = (enum scmp_compare) r->args[i].op,
                        .datum_a = r->args[i].value,
                        .datum_b = r->args[i].value_two,
                };
                for (size_t j = 0; j < i; j++)
                        if (r->args[j].index == r->args[i].index)
                                same_index = true;
        }

        for (size_t i = 0; i < r->n_names; i++) {
                int nr = seccomp_syscall_resolve_name(r->names[i]);
                if (nr == __NR_SCMP_ERROR)
                        continue; /* unknown to this libseccomp: skipped, as runc does */

                /* Like runc: conditions on different arguments are ANDed in one rule; several on
                 * the same argument make one rule each (ORed), which is what such profiles mean */
                if (same_index) {
                        for (size_t j = 0; j < r->n_args; j++) {
                                k = seccomp_rule_add(ctx, r->action, nr, 1, cmp[j]);
                                if (k < 0 && k != -EACCES)
                                        goto fail;
                        }
                        continue;
                }
                k = seccomp_rule_add_array(ctx, r->action, nr, (unsigned) r->n_args, cmp);
                /* -EACCES: the action is the default one, nothing to add */
                if (k < 0 && k != -EACCES)
                        goto fail;
                continue;
fail:
                return error_message_setf(err, k, "syscalls[%u]: libseccomp refused the rule for '%s'",
                                          r->json_index, r->names[i]);
        }
        return 0;
}

static int compile_ctx(const SeccompProfile *p, uint64_t caps, scmp_filter_ctx *ret, ErrorMessage *err) {
        scmp_filter_ctx ctx;
        int r;

        ctx = seccomp_init(p->default_action);
        if (!ctx)
                return error_message_set(err, -ENOMEM, "initialise libseccomp");

        for (size_t i = 0; i < p->n_arches; i++) {
                r = seccomp_arch_add(ctx, p->arches[i]);
                if (r < 0 && r != -EEXIST) {
                        error_message_setf(err, r, "add architecture %u", (unsigned) i);
                        goto fail;
                }
        }
        /* installed while the child still has CAP_SYS_ADMIN: no_new_privs is not needed */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r < 0) {
                error_message_set(err, r, "configure libseccomp");
                goto fail;
        }
        /* a binary tree instead of a linear list: fewer instructions per system call */
        (void) seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);

        for (size_t i = 0; i < p->n_rules; i++) {
                if (!rule_applies(&p->rules[i], caps))
                        continue;
                r = add_rule(ctx, &p->rules[i], err);
                if (r < 0)
                        goto fail;
        }
        *ret = ctx;
        return 0;
fail:
        seccomp_release(ctx);
        return r;
}

/* The ENOSYS prefix: for each architecture in the filter whose syscall numbers seccomp_data shows
 * as they are, numbers above the highest one libseccomp knows return ENOSYS; everything else goes
 * on to libseccomp's program, which follows the prefix. x32 calls arrive as x86-64 with bit 30. */
#define X32_BIT UINT32_C(0x40000000)
#define TO_MAIN 0xfffe
#define TO_ENOSYS 0xfffd
#define TO_NEXT 0xfffc

static int highest_nr(uint32_t arch, uint32_t base) {
        int best = -1;
        for (int nr = 0; nr < 1024; nr++) {
                char *n = seccomp_syscall_resolve_num_arch(arch, (int) (base + (uint32_t) nr));
                if (n) {
                        best = nr;
                        free(n);
                }
        }
        return best;
}

typedef struct Insn {
        uint16_t code;
        uint16_t jt, jf; /* absolute targets or TO_* while building */
        uint32_t k;
} Insn;

static int build_prefix(scmp_filter_ctx ctx, const SeccompProfile *p, struct sock_filter **ret,
                        size_t *ret_n) {
        Insn code[64];
        size_t n = 0;
        uint32_t arches[SECCOMP_PROFILE_LIST_MAX + 1];
        size_t n_arches = 0;
        bool have_x32 = false;

        arches[n_arches++] = seccomp_arch_native();
        for (size_t i = 0; i < p->n_arches && n_arches < ELEMENTSOF(arches); i++)
                if (p->arches[i] == SCMP_ARCH_X32)
                        have_x32 = true;
                else if (p->arches[i] != arches[0])
                        arches[n_arches++] = p->arches[i];

        for (size_t a = 0; a < n_arches && n + 6 < ELEMENTSOF(code) - 1; a++) {
                int max = highest_nr(arches[a], 0);
                if (max < 0 || arches[a] == SCMP_ARCH_X32)
                        continue;
                size_t start = n;
                code[n++] = (Insn){ BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, arch) };
                code[n] = (Insn){ BPF_JMP | BPF_JEQ | BPF_K, (uint16_t) (n + 1), TO_NEXT, arches[a] };
                n++;
                code[n++] = (Insn){ BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr) };
                if (arches[a] == SCMP_ARCH_X86_64) {
                        int max32 = have_x32 ? highest_nr(SCMP_ARCH_X32, X32_BIT) : -1;
                        /* nr >= X32_BIT: x32 (or garbage, which libseccomp refuses) */
                        code[n] = (Insn){ BPF_JMP | BPF_JGE | BPF_K, (uint16_t) (n + 2), (uint16_t) (n + 1),
                                          X32_BIT };
                        n++;
                        code[n++] = (Insn){ BPF_JMP | BPF_JGT | BPF_K, TO_ENOSYS, TO_MAIN, (uint32_t) max };
                        if (max32 >= 0)
                                code[n++] = (Insn){ BPF_JMP | BPF_JGT | BPF_K, TO_ENOSYS, TO_MAIN,
                                                    X32_BIT | (uint32_t) max32 };
                        else
                                code[n++] = (Insn){ BPF_JMP | BPF_JA, 0, 0, TO_MAIN };
                } else
                        code[n++] = (Insn){ BPF_JMP | BPF_JGT | BPF_K, TO_ENOSYS, TO_MAIN, (uint32_t) max };
                /* this entry's "not my architecture" goes to the next entry */
                code[start + 1].jf = (uint16_t) n;
        }
        if (n == 0) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        /* the last entry's "not my architecture" */
        code[n++] = (Insn){ BPF_JMP | BPF_JA, 0, 0, TO_MAIN };
        size_t enosys = n;
        code[n++] = (Insn){ BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS };
        size_t main_at = n;

        struct sock_filter *f = new (struct sock_filter, n);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                uint16_t jt = code[i].jt, jf = code[i].jf;
                uint32_t k = code[i].k;
#define RESOLVE(x) ((x) == TO_MAIN ? main_at : (x) == TO_ENOSYS ? enosys : (size_t) (x))
                if (BPF_CLASS(code[i].code) == BPF_JMP && BPF_OP(code[i].code) == BPF_JA)
                        k = (uint32_t) (RESOLVE(k) - i - 1);
                else if (BPF_CLASS(code[i].code) == BPF_JMP) {
                        jt = (uint16_t) (RESOLVE(jt) - i - 1);
                        jf = (uint16_t) (RESOLVE(jf) - i - 1);
                }
#undef RESOLVE
                f[i] = (struct sock_filter){ code[i].code, (uint8_t) jt, (uint8_t) jf, k };
        }
        *ret = f;
        *ret_n = n;
        return 0;
}

static int export_bpf(scmp_filter_ctx ctx, struct sock_filter **ret, size_t *ret_n) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        fd = memfd_create("cbox-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        r = read_full_fd(fd, &buf, &size, BPF_MAXINSNS * sizeof(struct sock_filter) + 1);
        if (r < 0)
                return r;
        if (size == 0 || size % sizeof(struct sock_filter) != 0)
                return -EBADMSG;
        *ret = (struct sock_filter *) TAKE_PTR(buf);
        *ret_n = size / sizeof(struct sock_filter);
        return 0;
}

static int compile_program(const SeccompProfile *p, uint64_t caps, SeccompProgram *ret, ErrorMessage *err) {
        _cleanup_free_ struct sock_filter *prefix = NULL, *body = NULL;
        size_t n_prefix = 0, n_body = 0;
        scmp_filter_ctx ctx = NULL;
        int r;

        r = compile_ctx(p, caps, &ctx, err);
        if (r < 0)
                return r;
        r = export_bpf(ctx, &body, &n_body);
        if (r >= 0 && p->enosys_unknown)
                r = build_prefix(ctx, p, &prefix, &n_prefix);
        seccomp_release(ctx);
        if (r < 0)
                return error_message_set(err, r, "export the seccomp filter");
        if (n_prefix + n_body > BPF_MAXINSNS)
                return error_message_setf(err, -E2BIG,
                                          "the filter has %zu instructions, the kernel takes %u",
                                          n_prefix + n_body, (unsigned) BPF_MAXINSNS);

        struct sock_filter *f = new (struct sock_filter, n_prefix + n_body);
        if (!f)
                return error_message_set(err, -ENOMEM, NULL);
        if (n_prefix > 0)
                memcpy(f, prefix, n_prefix * sizeof(*f));
        memcpy(f + n_prefix, body, n_body * sizeof(*f));
        *ret = (SeccompProgram){ .insns = f, .n_insns = n_prefix + n_body };
        return 0;
}

static void hash_u64(Sha256Ctx *h, uint64_t v) {
        sha256_process_bytes(h, &v, sizeof(v));
}

static void hash_str(Sha256Ctx *h, const char *s) {
        sha256_process_bytes(h, s, strlen(s) + 1);
}

static void hash_strs(Sha256Ctx *h, const char *const *l, size_t n) {
        hash_u64(h, n);
        for (size_t i = 0; i < n; i++)
                hash_str(h, l[i]);
}

/* Everything the compiled program depends on */
static void cache_key(const SeccompProfile *p, uint64_t caps, char ret[static SHA256_DIGEST_SIZE * 2 + 1]) {
        const struct scmp_version *v = seccomp_version();
        uint8_t d[SHA256_DIGEST_SIZE];
        Sha256Ctx h;

        sha256_init_ctx(&h);
        hash_str(&h, "cbox-seccomp-1");
        hash_u64(&h, v ? (uint64_t) v->major << 32 | v->minor << 16 | v->micro : 0);
        hash_u64(&h, seccomp_arch_native());
        hash_u64(&h, running_kernel());
        hash_u64(&h, caps);
        hash_u64(&h, p->default_action);
        hash_u64(&h, p->enosys_unknown);
        hash_u64(&h, p->n_arches);
        for (size_t i = 0; i < p->n_arches; i++)
                hash_u64(&h, p->arches[i]);
        hash_u64(&h, p->n_rules);
        for (size_t i = 0; i < p->n_rules; i++) {
                const SeccompRule *r = &p->rules[i];
                hash_strs(&h, r->names, r->n_names);
                hash_u64(&h, r->action);
                hash_u64(&h, r->n_args);
                for (size_t j = 0; j < r->n_args; j++) {
                        hash_u64(&h, r->args[j].index);
                        hash_u64(&h, r->args[j].value);
                        hash_u64(&h, r->args[j].value_two);
                        hash_u64(&h, (uint64_t) r->args[j].op);
                }
                hash_u64(&h, r->caps_include);
                hash_u64(&h, r->caps_exclude);
                hash_u64(&h, r->never);
                hash_strs(&h, r->arches_include, r->n_arches_include);
                hash_strs(&h, r->arches_exclude, r->n_arches_exclude);
                hash_u64(&h, r->min_kernel_include);
                hash_u64(&h, r->min_kernel_exclude);
        }
        sha256_finish_ctx(&h, d);
        sha256_to_hex(d, ret);
}

static int cache_read(const char *path, SeccompProgram *ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        r = read_full_file(path, &buf, &size, BPF_MAXINSNS * sizeof(struct sock_filter) + 1);
        if (r < 0)
                return r;
        if (size == 0 || size % sizeof(struct sock_filter) != 0 ||
            size > BPF_MAXINSNS * sizeof(struct sock_filter))
                return -EBADMSG;
        *ret = (SeccompProgram){ .insns = (struct sock_filter *) TAKE_PTR(buf),
                                 .n_insns = size / sizeof(struct sock_filter) };
        return 0;
}

int seccomp_program_build(const SeccompProfile *profile, uint64_t caps, const char *cache_dir,
                          SeccompProgram *ret, ErrorMessage *err) {
        char key[SHA256_DIGEST_SIZE * 2 + 1];
        _cleanup_free_ char *path = NULL;
        SeccompProgram prog = {};
        int r;

        if (!profile)
                profile = &default_profile;

        if (cache_dir) {
                cache_key(profile, caps, key);
                path = strjoin(cache_dir, "/", key, ".bpf");
                if (!path)
                        return error_message_set(err, -ENOMEM, NULL);
                if (cache_read(path, &prog) >= 0) {
                        *ret = prog;
                        return 0;
                }
        }

        r = compile_program(profile, caps, &prog, err);
        if (r < 0)
                return r;

        if (path && mkdir_p(cache_dir, 0700) >= 0)
                (void) write_file_atomic(path, prog.insns, prog.n_insns * sizeof(struct sock_filter), 0600);

        *ret = prog;
        return 0;
}

void seccomp_program_done(SeccompProgram *p) {
        if (!p)
                return;
        p->insns = mfree(p->insns);
        p->n_insns = 0;
}

int seccomp_program_load(const SeccompProgram *p) {
        struct sock_fprog fprog = {
                .len = (unsigned short) p->n_insns,
                .filter = p->insns,
        };

        if (!p->insns || p->n_insns == 0 || p->n_insns > BPF_MAXINSNS)
                return -EINVAL;
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) >= 0)
                return 0;
        if (errno != ENOSYS)
                return -errno;
        return RET_NERRNO(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0));
}

int spawn_seccomp_apply(const SpawnProcess *p, uint64_t caps) {
        SeccompProgram prog = {};
        int r;

        if (p->seccomp_program)
                return seccomp_program_load(p->seccomp_program);

        r = seccomp_program_build(NULL, caps, NULL, &prog, NULL);
        if (r < 0)
                return r;
        r = seccomp_program_load(&prog);
        seccomp_program_done(&prog);
        return r;
}
