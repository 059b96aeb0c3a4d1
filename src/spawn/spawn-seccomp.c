/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* cbox's default seccomp filter: a deny list in the spirit of Docker's default profile. Everything
 * is allowed except what lets a container reach the kernel's global state or escape its
 * namespaces; those fail with EPERM (clone3 with ENOSYS, so that libc falls back to clone, whose
 * flags a classic BPF filter can inspect). Most of these also need a capability the default set
 * does not have: the filter is the second wall, for containers given more capabilities. */

#include <sched.h>
#include <seccomp.h>

#include "spawn-internal.h"

static const char *const denied[] = {
        /* kernel modules, kexec, reboot, swap, accounting, quotas */
        "init_module",
        "finit_module",
        "delete_module",
        "create_module",
        "query_module",
        "get_kernel_syms",
        "kexec_load",
        "kexec_file_load",
        "reboot",
        "swapon",
        "swapoff",
        "acct",
        "quotactl",
        "quotactl_fd",
        /* mounts, namespaces */
        "mount",
        "umount",
        "umount2",
        "pivot_root",
        "fsopen",
        "fsconfig",
        "fsmount",
        "fspick",
        "move_mount",
        "open_tree",
        "mount_setattr",
        "unshare",
        "setns",
        /* clocks, kernel log, keyrings */
        "settimeofday",
        "stime",
        "clock_settime",
        "clock_adjtime",
        "adjtimex",
        "syslog",
        "add_key",
        "request_key",
        "keyctl",
        /* tracing of the kernel, bpf, handles outside the mount namespace (ptrace of one's own
         * processes stays allowed, as in Docker since kernel 4.8) */
        "kcmp",
        "perf_event_open",
        "bpf",
        "open_by_handle_at",
        "name_to_handle_at",
        "lookup_dcookie",
        "userfaultfd",
        /* obsolete or x86 specific */
        "uselib",
        "ustat",
        "sysfs",
        "_sysctl",
        "nfsservctl",
        "vm86",
        "vm86old",
        "iopl",
        "ioperm",
        /* NUMA policy (Docker needs CAP_SYS_NICE for these) */
        "mbind",
        "set_mempolicy",
        "move_pages",
};

static int add_rules(scmp_filter_ctx ctx) {
        int r;

        for (size_t i = 0; i < ELEMENTSOF(denied); i++) {
                int nr = seccomp_syscall_resolve_name(denied[i]);
                if (nr == __NR_SCMP_ERROR)
                        continue; /* unknown to this libseccomp */
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
                if (r < 0 && r != -EDOM && r != -EFAULT)
                        return r;
        }

        /* clone3 passes its flags in memory, out of a filter's reach */
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
        if (r < 0 && r != -EDOM && r != -EFAULT)
                return r;

        /* clone with any namespace flag (argument 0 on x86) */
        const uint64_t ns = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                CLONE_NEWNET | CLONE_NEWCGROUP;
        for (uint64_t bit = 1; bit != 0; bit <<= 1) {
                if (!(ns & bit))
                        continue;
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                     SCMP_A0(SCMP_CMP_MASKED_EQ, bit, bit));
                if (r < 0)
                        return r;
        }
        return 0;
}

int spawn_seccomp_apply(void) {
        scmp_filter_ctx ctx;
        int r;

        ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return -ENOMEM;

                /* the same rules for 32-bit and x32 system calls, so there is no way around them */
#if defined(__x86_64__)
        r = seccomp_arch_add(ctx, SCMP_ARCH_X86);
        if (r >= 0 || r == -EEXIST)
                r = seccomp_arch_add(ctx, SCMP_ARCH_X32);
        if (r < 0 && r != -EEXIST)
                goto finish;
#endif
        /* the filter is installed while we still have all capabilities; no_new_privs is not needed */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r < 0)
                goto finish;

        r = add_rules(ctx);
        if (r < 0)
                goto finish;

        r = seccomp_load(ctx);
finish:
        seccomp_release(ctx);
        return r < 0 ? r : 0;
}
