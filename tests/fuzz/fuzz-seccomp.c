/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The seccomp profile parser (spawn/seccomp-profile.c) on untrusted JSON, and the compiler on
 * whatever it accepts. Invariants: a failure says why and leaves no profile; an accepted profile
 * stays within the documented bounds, and compiling it either succeeds with a program the kernel
 * would take (1..BPF_MAXINSNS instructions) or fails with a message. */

#include <stdlib.h>

#include "seccomp-profile.h"
#include "string-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        SeccompProfile *p = NULL;
        char **warnings = NULL;
        ErrorMessage e = {};
        int r;

        r = seccomp_profile_parse((const char *) data, size, &p, &warnings, &e);
        if (r < 0) {
                if (p || warnings || (r != -ENOMEM && !e.message))
                        abort();
                error_message_done(&e);
                return 0;
        }
        if (!p || p->n_rules > SECCOMP_PROFILE_RULES_MAX || p->n_arches > 2 * SECCOMP_PROFILE_LIST_MAX)
                abort();
        for (size_t i = 0; i < p->n_rules; i++) {
                const SeccompRule *rule = &p->rules[i];
                if (rule->n_names > SECCOMP_PROFILE_NAMES_MAX || (rule->n_names > 0 && !rule->names))
                        abort();
                if (rule->n_args > 6)
                        abort();
                for (size_t j = 0; j < rule->n_args; j++)
                        if (rule->args[j].index > 5)
                                abort();
        }

        /* compile for the default capabilities and for all of them */
        for (int k = 0; k < 2; k++) {
                SeccompProgram prog = {};
                r = seccomp_program_build(p, k ? UINT64_MAX : UINT64_C(0xa80425fb), NULL, &prog, &e);
                if (r >= 0 && (prog.n_insns == 0 || prog.n_insns > BPF_MAXINSNS))
                        abort();
                if (r < 0 && r != -ENOMEM && !e.message)
                        abort();
                seccomp_program_done(&prog);
                error_message_done(&e);
        }

        strv_free(warnings);
        seccomp_profile_free(p);
        return 0;
}
