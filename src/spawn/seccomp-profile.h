/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* spawn/: seccomp profiles — cbox's built-in default (an allow-list equal in effect to Docker's and
 * Podman's default profile) and profiles in the OCI/Docker JSON format (`security.seccomp =
 * "/path.json"`), compiled with libseccomp into a classic BPF program for the native architecture
 * and the container's capabilities.
 *
 * The JSON format is the one of moby's profiles/seccomp/default.json and containers-common's
 * seccomp.json: defaultAction, defaultErrnoRet, architectures or archMap, syscalls[] with name or
 * names, action, errnoRet, args[] {index, value, valueTwo, op}, includes/excludes {caps, arches,
 * minKernel}. Keys not listed are ignored (comment, flags, listenerPath, …), as runc does for the
 * ones it does not know. System call names libseccomp does not know are skipped, as runc does
 * (a profile written for a newer kernel keeps working); they come back as warnings. Everything else
 * that is wrong is an error naming the JSON path ("syscalls[3].action: …").
 *
 * No logging; errors are -errno plus an ErrorMessage. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"
#include "spawn.h"

/* Bounds on what a profile file may contain */
#define SECCOMP_PROFILE_SIZE_MAX (4U * 1024U * 1024U)
#define SECCOMP_PROFILE_RULES_MAX 4096U
#define SECCOMP_PROFILE_NAMES_MAX 4096U /* per rule */
#define SECCOMP_PROFILE_LIST_MAX 64U    /* caps, arches per includes/excludes; architectures */
/* Warnings kept; the rest are counted in one last line */
#define SECCOMP_PROFILE_WARNINGS_MAX 32U

typedef struct SeccompArg {
        unsigned index;            /* 0..5 */
        uint64_t value, value_two; /* MASKED_EQ: value is the mask, value_two the datum */
        int op;                    /* enum scmp_compare */
} SeccompArg;

typedef struct SeccompRule {
        const char *const *names;
        size_t n_names;
        uint32_t action; /* SCMP_ACT_ALLOW, SCMP_ACT_ERRNO(n), … */
        const SeccompArg *args;
        size_t n_args;
        /* applies when the container has every capability of caps_include and none of
         * caps_exclude, the native architecture (Docker's names: "amd64", "arm64", …) is in
         * arches_include (when not empty) and not in arches_exclude, and the running kernel is at
         * least min_kernel_include and below min_kernel_exclude (major << 16 | minor; 0 = none) */
        uint64_t caps_include, caps_exclude;
        bool never; /* includes a capability this cbox does not know */
        const char *const *arches_include;
        size_t n_arches_include;
        const char *const *arches_exclude;
        size_t n_arches_exclude;
        unsigned min_kernel_include, min_kernel_exclude;
        unsigned json_index; /* its position in syscalls[], for messages */
} SeccompRule;

typedef struct SeccompProfile {
        uint32_t default_action;
        /* architectures besides the native one (SCMP_ARCH_*); the native one is always there */
        const uint32_t *arches;
        size_t n_arches;
        const SeccompRule *rules;
        size_t n_rules;
        /* ENOSYS for system call numbers above the highest one libseccomp knows for each
         * architecture, so that userspace falls back from calls newer than the profile (as runc and
         * crun do). On unless the default action is ALLOW or LOG (a deny list). */
        bool enosys_unknown;
        void *storage; /* owned by a parsed profile; NULL for the built-in one */
} SeccompProfile;

/* cbox's built-in default profile (static) */
const SeccompProfile *seccomp_profile_default(void);

/* Parses a profile. ret_warnings (may be NULL) gets the skipped names ("syscalls[2].names[5]:
 * unknown system call 'foo', skipped"). err gets the JSON path and what is wrong. */
int seccomp_profile_parse(const char *json, size_t size, SeccompProfile **ret, char ***ret_warnings,
                          ErrorMessage *err);
/* Reads path (a regular file, at most SECCOMP_PROFILE_SIZE_MAX) and parses it */
int seccomp_profile_load(const char *path, SeccompProfile **ret, char ***ret_warnings, ErrorMessage *err);
SeccompProfile *seccomp_profile_free(SeccompProfile *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(SeccompProfile *, seccomp_profile_free);

/* Compiles profile (NULL = the default) for the native architecture and the capability set caps
 * (bit n = capability n) into a program. With cache_dir (may be NULL), a program compiled before
 * for the same profile, capabilities, kernel version, libseccomp and cbox is read from
 * cache_dir/<sha256>.bpf instead, and a new one is stored there (best effort: a cache that cannot
 * be written only costs the compilation). */
int seccomp_program_build(const SeccompProfile *profile, uint64_t caps, const char *cache_dir,
                          SeccompProgram *ret, ErrorMessage *err);
void seccomp_program_done(SeccompProgram *p);

/* Installs the program into the calling thread (needs CAP_SYS_ADMIN or no_new_privs) */
int seccomp_program_load(const SeccompProgram *p);
