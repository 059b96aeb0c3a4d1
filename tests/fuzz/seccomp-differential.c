/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* seccomp-differential: does libseccomp build the filter that a set of rules says? (issue 14)
 *
 * A command, not a test: CI builds it but never runs it. Its result is why check_conditions_per_call()
 * in src/spawn/seccomp-profile.c refuses a profile in which more than one rule for a system call has
 * argument conditions and any of those is not SCMP_CMP_EQ or SCMP_CMP_MASKED_EQ: for that shape
 * libseccomp (Debian 12's 2.5.4, upstream 2.6.1) builds filters that allow or deny other arguments
 * than the rules say, or never returns from seccomp_rule_add(). Re-run it when libseccomp changes:
 * once `refused` shows no failure with every libseccomp cbox supports, the refusal can be lifted; a
 * failure in `one-rule` or `equal` means that a shape cbox accepts is compiled wrongly, and the
 * parser must refuse more.
 *
 *     ninja -C build tests/fuzz/seccomp-differential && build/tests/fuzz/seccomp-differential -n 3000
 *
 * seccomp-differential [-n PROFILES] [-s SEED] [-m MODE]
 *   -n, --profiles  random profiles per mode (default 1000)
 *   -s, --seed      default 1; each mode starts from it, so `-m X -s S` repeats the X part of `-m all -s S`
 *   -m, --mode      refused   2-4 rules of 1-3 conditions, at least one a range or NE, all ALLOW: the
 *                             shape cbox refuses
 *                   one-rule  one rule of 1-3 conditions (any operator) among 0-2 unconditional ones,
 *                             mixed ALLOW and ERRNO(5) actions
 *                   equal     2-4 rules of 0-3 EQ/MASKED_EQ conditions, at least 2 of them
 *                             conditional, mixed ALLOW and ERRNO(5) actions
 *                   all       the three, one after the other (default)
 *
 * A profile is a set of rules for getppid(), which nothing else in the child calls; conditions are on
 * arguments 0-2 with values such as 1, 2, 9, 2^32+1 and 2^33, so that both 32-bit halves of the BPF
 * comparison matter, and rules often start with the conditions of the rule before (libseccomp's merge
 * of the rules of one call into one tree is where it goes wrong). Each profile is compiled in a forked
 * child as cbox compiles it (one seccomp_rule_add_array() per rule, the binary-tree optimiser) and
 * loaded (with no_new_privs); the child then calls getppid() with every triple of 14 argument values
 * and compares what the kernel did with what the rules say: the action of the rules that match,
 * "denied" (the default action, ERRNO(77)) when none does. Where matching rules have different actions
 * the probe is skipped: which one wins is not what is tested. A child that has not finished 2 s after
 * the fork is killed by its alarm: the profile "never finished".
 *
 * For each mode it prints the first 3 failures: the rules, separated by " | " (a rule allows unless it
 * ends in "-> errno 5"), and the probe that failed, e.g.
 *     refused #7: a0 > 0x9 && a2 < 0x100000001 && a1 <= 0x1 | a2 <= 0x1 && a1 <= 0x2 && a0 >= 0x2
 *             at (0xa, 0, 0x2): denied, the rules allow
 * then "MODE: N profiles, H never finished, W wrong filters". Added to that line when there are any:
 * the profiles libseccomp refused as conflicting (EEXIST, see add_profile(); cbox fails on those with
 * libseccomp's error, so they are not failures; about 15% of `equal`'s), and the children that failed
 * otherwise (crashed, or libseccomp refused a rule with another error), which are failures.
 *
 * Exit status: 0 when one-rule and equal had no failure (the shapes cbox accepts are compiled right),
 * 1 when they had one or the command could not run, 2 on a usage error. refused's failures are
 * expected and only reported.
 *
 * With libseccomp 2.5.4 on Linux 6.18 (x86-64), -n 3000, seed 1:
 *     refused: 3000 profiles, 97 never finished, 301 wrong filters                     204 s
 *     one-rule: 3000 profiles, 0 never finished, 0 wrong filters                         5 s
 *     equal: 3000 profiles, 0 never finished, 0 wrong filters, 465 refused by libseccomp  5 s
 * (refused's time is mostly its 97 children waiting for their 2 s alarm). */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_ARGS 3 /* conditions are on arguments 0..2, each at most once per rule */
#define MAX_RULES 4
#define RULE_ERRNO 5     /* the errno of a rule's ERRNO action */
#define DEFAULT_ERRNO 77 /* the filter's default action: "denied" */
#define CHILD_SECONDS 2  /* compiling these small profiles takes milliseconds */
#define FAILURES_SHOWN 3
#define DEFAULT_PROFILES 1000

/* how a child ends: its exit status */
enum {
        CHILD_RIGHT = 0,
        CHILD_WRONG = 10,      /* a Mismatch follows on the pipe */
        CHILD_CONFLICT = 11,   /* seccomp_rule_add_array() failed with EEXIST: see add_profile() */
        CHILD_RULE_ERROR = 12, /* it failed otherwise: a Mismatch with just got_errno follows */
        CHILD_NO_LOAD = 13,    /* seccomp_load() failed */
        CHILD_NO_SETUP = 14,   /* no memory, or the report could not be written */
};

typedef enum Mode { MODE_REFUSED, MODE_ONE_RULE, MODE_EQUAL, N_MODES, MODE_ALL = N_MODES } Mode;
static const char *const mode_names[N_MODES] = { "refused", "one-rule", "equal" };

/* what a system call did, and a rule's action (ALLOW or ERRNO only) */
typedef enum Outcome { OUTCOME_DENIED, OUTCOME_ALLOWED, OUTCOME_ERRNO, OUTCOME_OTHER } Outcome;

typedef struct Cond {
        unsigned arg;
        enum scmp_compare op;
        uint64_t a, b; /* MASKED_EQ: (arg & a) == b; else arg OP a */
} Cond;

typedef struct Rule {
        unsigned n_conds;
        Cond conds[N_ARGS];
        Outcome action;
} Rule;

typedef struct Profile {
        unsigned n_rules;
        Rule rules[MAX_RULES];
} Profile;

/* what the child reports about the first probe the kernel answered otherwise than the rules */
typedef struct Mismatch {
        uint64_t args[N_ARGS];
        Outcome got, want;
        int got_errno;
} Mismatch;

typedef enum Result {
        RESULT_RIGHT,
        RESULT_NEVER_FINISHED,
        RESULT_WRONG,
        RESULT_REFUSED,
        RESULT_BROKEN
} Result;

typedef struct Verdict {
        Result result;
        int status; /* the child's wait status */
        Mismatch mismatch;
} Verdict;

typedef struct Tally {
        unsigned profiles, never_finished, wrong, refused, broken;
} Tally;

typedef struct OpSet {
        const enum scmp_compare *ops;
        unsigned n;
} OpSet;

static const enum scmp_compare any_ops[] = { SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE,       SCMP_CMP_EQ,
                                             SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ };
static const enum scmp_compare equal_ops[] = { SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ };
static const OpSet any_op = { any_ops, sizeof(any_ops) / sizeof(any_ops[0]) };
static const OpSet equal_op = { equal_ops, sizeof(equal_ops) / sizeof(equal_ops[0]) };

/* small, and on both sides of 2^32, so that comparisons need both halves of the argument */
static const uint64_t values[] = { 1, 2, 9, UINT64_C(0x100000001), UINT64_C(0x200000000) };

/* each value above, its neighbours, and the edges of the 32-bit halves */
static const uint64_t probes[] = {
        0,
        1,
        2,
        3,
        8,
        9,
        10,
        UINT64_C(0x100000000),
        UINT64_C(0x100000001),
        UINT64_C(0x100000002),
        UINT64_C(0x1ffffffff),
        UINT64_C(0x200000000),
        UINT64_C(0x200000001),
        UINT64_MAX,
};
#define N_PROBES (sizeof(probes) / sizeof(probes[0]))

/* splitmix64: the same profiles from the same seed with any libc */
typedef struct Rng {
        uint64_t state;
} Rng;

static unsigned rng_below(Rng *rng, unsigned n) {
        uint64_t z = (rng->state += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return (unsigned) ((z ^ (z >> 31)) % n);
}

static uint64_t random_value(Rng *rng) {
        return values[rng_below(rng, sizeof(values) / sizeof(values[0]))];
}

static Outcome random_action(Rng *rng) {
        return rng_below(rng, 2) ? OUTCOME_ERRNO : OUTCOME_ALLOWED;
}

static bool is_range(enum scmp_compare op) {
        return op != SCMP_CMP_EQ && op != SCMP_CMP_MASKED_EQ;
}

/* n conditions on distinct arguments: libseccomp takes one condition per argument in a rule */
static void random_conditions(Rng *rng, Rule *rule, unsigned n, const OpSet *ops) {
        unsigned used = 0;

        rule->n_conds = n;
        for (unsigned i = 0; i < n; i++) {
                Cond *c = &rule->conds[i];

                do
                        c->arg = rng_below(rng, N_ARGS);
                while (used & (1u << c->arg));
                used |= 1u << c->arg;
                c->op = ops->ops[rng_below(rng, ops->n)];
                c->a = random_value(rng);
                /* a b within the mask, or the condition could never hold */
                c->b = c->op == SCMP_CMP_MASKED_EQ ? c->a & random_value(rng) : 0;
        }
}

static bool args_distinct(const Rule *rule) {
        unsigned used = 0;

        for (unsigned i = 0; i < rule->n_conds; i++) {
                if (used & (1u << rule->conds[i].arg))
                        return false;
                used |= 1u << rule->conds[i].arg;
        }
        return true;
}

/* Half the time, start the rule with the first conditions of the previous one: rules sharing a prefix
 * are what libseccomp's tree merge gets wrong, and independent random rules rarely share one. */
static void share_prefix(Rng *rng, Rule *rule, const Rule *prev) {
        unsigned m;

        if (prev->n_conds == 0 || rule->n_conds == 0 || rng_below(rng, 2) == 0)
                return;
        m = 1 + rng_below(rng, prev->n_conds);
        if (m > rule->n_conds)
                m = rule->n_conds;
        memcpy(rule->conds, prev->conds, m * sizeof(Cond));
        /* a copied argument may repeat one of the rule's own later ones: keep only the prefix */
        if (!args_distinct(rule))
                rule->n_conds = m;
}

/* 2-4 rules of min_conds..3 conditions each, with shared prefixes */
static void random_rules(Rng *rng, Profile *p, unsigned min_conds, const OpSet *ops, bool mixed_actions) {
        p->n_rules = 2 + rng_below(rng, MAX_RULES - 1);
        for (unsigned i = 0; i < p->n_rules; i++) {
                Rule *rule = &p->rules[i];

                rule->action = mixed_actions ? random_action(rng) : OUTCOME_ALLOWED;
                random_conditions(rng, rule, min_conds + rng_below(rng, N_ARGS + 1 - min_conds), ops);
                if (i > 0)
                        share_prefix(rng, rule, &p->rules[i - 1]);
        }
}

/* One conditional rule, anywhere among 0-2 unconditional ones (which share one action: unconditional
 * rules that disagree everywhere would leave no probe to check). */
static void random_one_rule(Rng *rng, Profile *p) {
        unsigned n_unconditional = rng_below(rng, 2) ? 1 + rng_below(rng, 2) : 0;
        unsigned at = rng_below(rng, n_unconditional + 1);
        Outcome unconditional_action = random_action(rng);

        p->n_rules = n_unconditional + 1;
        for (unsigned i = 0; i < p->n_rules; i++) {
                Rule *rule = &p->rules[i];

                *rule = (Rule){ .n_conds = 0, .action = unconditional_action };
                if (i == at) {
                        rule->action = random_action(rng);
                        random_conditions(rng, rule, 1 + rng_below(rng, N_ARGS), &any_op);
                }
        }
}

/* The shapes, as check_conditions_per_call() tells them apart: how many rules of the call have
 * conditions, and whether any condition is a range or NE. */
static bool has_shape(const Profile *p, Mode mode) {
        unsigned conditional = 0;
        bool range = false;

        for (unsigned i = 0; i < p->n_rules; i++) {
                if (p->rules[i].n_conds > 0)
                        conditional++;
                for (unsigned j = 0; j < p->rules[i].n_conds; j++)
                        range = range || is_range(p->rules[i].conds[j].op);
        }
        switch (mode) {
        case MODE_REFUSED:
                return conditional >= 2 && range;
        case MODE_ONE_RULE:
                return conditional == 1;
        case MODE_EQUAL:
                return conditional >= 2 && !range;
        default:
                return false;
        }
}

/* draw until the profile has the mode's shape (the draws rarely miss it) */
static void random_profile(Rng *rng, Mode mode, Profile *ret) {
        Profile p;

        do {
                p = (Profile){ 0 };
                if (mode == MODE_REFUSED)
                        random_rules(rng, &p, 1, &any_op, false);
                else if (mode == MODE_EQUAL)
                        random_rules(rng, &p, 0, &equal_op, true);
                else
                        random_one_rule(rng, &p);
        } while (!has_shape(&p, mode));
        *ret = p;
}

static bool cond_holds(const Cond *c, uint64_t v) {
        switch (c->op) {
        case SCMP_CMP_NE:
                return v != c->a;
        case SCMP_CMP_LT:
                return v < c->a;
        case SCMP_CMP_LE:
                return v <= c->a;
        case SCMP_CMP_EQ:
                return v == c->a;
        case SCMP_CMP_GE:
                return v >= c->a;
        case SCMP_CMP_GT:
                return v > c->a;
        case SCMP_CMP_MASKED_EQ:
                return (v & c->a) == c->b;
        default:
                return false;
        }
}

static bool rule_matches(const Rule *rule, const uint64_t args[N_ARGS]) {
        for (unsigned i = 0; i < rule->n_conds; i++)
                if (!cond_holds(&rule->conds[i], args[rule->conds[i].arg]))
                        return false;
        return true;
}

/* What the rules say for these arguments (an OR of ANDs): the action of the rules that match, denied
 * when none does. False when matching rules disagree. */
static bool expected_outcome(const Profile *p, const uint64_t args[N_ARGS], Outcome *ret) {
        Outcome want = OUTCOME_DENIED;
        bool matched = false;

        for (unsigned i = 0; i < p->n_rules; i++) {
                if (!rule_matches(&p->rules[i], args))
                        continue;
                if (matched && p->rules[i].action != want)
                        return false;
                want = p->rules[i].action;
                matched = true;
        }
        *ret = want;
        return true;
}

static Outcome outcome_of(long k, int e) {
        if (k >= 0)
                return OUTCOME_ALLOWED;
        if (e == RULE_ERRNO)
                return OUTCOME_ERRNO;
        if (e == DEFAULT_ERRNO)
                return OUTCOME_DENIED;
        return OUTCOME_OTHER;
}

/* 0, or libseccomp's error for the first rule it does not take. EEXIST is libseccomp saying that a
 * rule conflicts with an earlier one: whether it does depends on the tree the earlier rules built (a
 * rule whose conditions start another's, with another action, is refused after that one and taken
 * before it); cbox then fails with libseccomp's error, which is not a wrong filter. */
static int add_profile(scmp_filter_ctx ctx, const Profile *p) {
        for (unsigned i = 0; i < p->n_rules; i++) {
                const Rule *rule = &p->rules[i];
                struct scmp_arg_cmp cmp[N_ARGS];
                int r;
                uint32_t action =
                        rule->action == OUTCOME_ERRNO ? SCMP_ACT_ERRNO(RULE_ERRNO) : SCMP_ACT_ALLOW;

                for (unsigned j = 0; j < rule->n_conds; j++)
                        cmp[j] = (struct scmp_arg_cmp){ .arg = rule->conds[j].arg,
                                                        .op = rule->conds[j].op,
                                                        .datum_a = rule->conds[j].a,
                                                        .datum_b = rule->conds[j].b };
                r = seccomp_rule_add_array(ctx, action, SCMP_SYS(getppid), rule->n_conds, cmp);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int child_report(int report_fd, const Mismatch *m, int child_status) {
        if (write(report_fd, m, sizeof(*m)) != (ssize_t) sizeof(*m))
                return CHILD_NO_SETUP;
        return child_status;
}

/* Compile and load the profile, plus what the child does once the filter is on: write() its report
 * and leave through _exit() (exit_group, and exit where glibc falls back to it). Anything else it did
 * would be denied and would look like a wrong filter. */
static int child_load(const Profile *p, int report_fd) {
        static const int needed[] = { SCMP_SYS(write), SCMP_SYS(exit_group), SCMP_SYS(exit) };
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(DEFAULT_ERRNO));
        int r;

        if (!ctx)
                return CHILD_NO_SETUP;
        /* cbox's setting (spawn-seccomp.c); the default NNP attribute sets no_new_privs at load */
        (void) seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        r = add_profile(ctx, p);
        if (r == -EEXIST)
                return CHILD_CONFLICT;
        if (r < 0)
                return child_report(report_fd, &(Mismatch){ .got_errno = -r }, CHILD_RULE_ERROR);
        for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
                if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, needed[i], 0) < 0)
                        return CHILD_NO_SETUP;
        if (seccomp_load(ctx) < 0)
                return CHILD_NO_LOAD;
        /* the context is not released: the child only has _exit() left to call */
        return CHILD_RIGHT;
}

/* every triple of probe values, in order; at the first disagreement, report it and stop */
static int child_probe(const Profile *p, int report_fd) {
        for (size_t i = 0; i < N_PROBES * N_PROBES * N_PROBES; i++) {
                Mismatch m = { .args = { probes[i % N_PROBES], probes[i / N_PROBES % N_PROBES],
                                         probes[i / N_PROBES / N_PROBES] } };
                long k;

                if (!expected_outcome(p, m.args, &m.want))
                        continue;
                errno = 0;
                k = syscall(SYS_getppid, m.args[0], m.args[1], m.args[2], 0, 0, 0);
                m.got_errno = k < 0 ? errno : 0;
                m.got = outcome_of(k, m.got_errno);
                if (m.got != m.want)
                        return child_report(report_fd, &m, CHILD_WRONG);
        }
        return CHILD_RIGHT;
}

static int child_main(const Profile *p, int report_fd) {
        sigset_t alrm;
        int r;

        /* the alarm must kill the child whatever the parent inherited */
        (void) signal(SIGALRM, SIG_DFL);
        (void) sigemptyset(&alrm);
        (void) sigaddset(&alrm, SIGALRM);
        (void) sigprocmask(SIG_UNBLOCK, &alrm, NULL);
        (void) alarm(CHILD_SECONDS);

        r = child_load(p, report_fd);
        if (r != CHILD_RIGHT)
                return r;
        return child_probe(p, report_fd);
}

static int wait_child(pid_t pid, int *ret_status) {
        for (;;) {
                if (waitpid(pid, ret_status, 0) == pid)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

static bool read_report(int report_fd, Mismatch *ret) {
        return read(report_fd, ret, sizeof(*ret)) == (ssize_t) sizeof(*ret);
}

/* the child is gone (its write end with it): what did it say? */
static Result result_of(int status, int report_fd, Mismatch *mismatch) {
        if (WIFSIGNALED(status))
                return WTERMSIG(status) == SIGALRM ? RESULT_NEVER_FINISHED : RESULT_BROKEN;
        if (!WIFEXITED(status))
                return RESULT_BROKEN;
        switch (WEXITSTATUS(status)) {
        case CHILD_RIGHT:
                return RESULT_RIGHT;
        case CHILD_CONFLICT:
                return RESULT_REFUSED;
        case CHILD_WRONG:
                return read_report(report_fd, mismatch) ? RESULT_WRONG : RESULT_BROKEN;
        case CHILD_RULE_ERROR:
                (void) read_report(report_fd, mismatch);
                return RESULT_BROKEN;
        default:
                return RESULT_BROKEN;
        }
}

/* Compile, load and probe the profile in a child (a filter cannot be taken off again, and a hang
 * must be killable); the child is always reaped. */
static int run_profile(const Profile *p, Verdict *ret) {
        Verdict v = { 0 };
        int fds[2], r;
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                (void) close(fds[0]);
                (void) close(fds[1]);
                return r;
        }
        if (pid == 0) {
                (void) close(fds[0]);
                _exit(child_main(p, fds[1]));
        }
        (void) close(fds[1]);
        r = wait_child(pid, &v.status);
        if (r >= 0)
                v.result = result_of(v.status, fds[0], &v.mismatch);
        (void) close(fds[0]);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

static void print_cond(const Cond *c) {
        static const char *const op_names[] = {
                [SCMP_CMP_NE] = "!=", [SCMP_CMP_LT] = "<",  [SCMP_CMP_LE] = "<=",
                [SCMP_CMP_EQ] = "==", [SCMP_CMP_GE] = ">=", [SCMP_CMP_GT] = ">",
        };

        if (c->op == SCMP_CMP_MASKED_EQ)
                printf("a%u & %#" PRIx64 " == %#" PRIx64, c->arg, c->a, c->b);
        else
                printf("a%u %s %#" PRIx64, c->arg, op_names[c->op], c->a);
}

/* "a0 >= 0x1 && a1 <= 0x2 | always -> errno 5 | ..." */
static void print_profile(const Profile *p) {
        for (unsigned i = 0; i < p->n_rules; i++) {
                const Rule *rule = &p->rules[i];

                if (i > 0)
                        fputs(" | ", stdout);
                if (rule->n_conds == 0)
                        fputs("always", stdout);
                for (unsigned j = 0; j < rule->n_conds; j++) {
                        if (j > 0)
                                fputs(" && ", stdout);
                        print_cond(&rule->conds[j]);
                }
                if (rule->action == OUTCOME_ERRNO)
                        printf(" -> errno %d", RULE_ERRNO);
        }
}

/* "at (0, 0, 0x200000001): allowed, the rules deny" */
static void print_mismatch(const Mismatch *m) {
        static const char *const got[] = {
                [OUTCOME_DENIED] = "denied", [OUTCOME_ALLOWED] = "allowed", [OUTCOME_ERRNO] = "errno 5"
        };
        static const char *const want[] = { [OUTCOME_DENIED] = "the rules deny",
                                            [OUTCOME_ALLOWED] = "the rules allow",
                                            [OUTCOME_ERRNO] = "the rules say errno 5" };

        printf("at (%#" PRIx64 ", %#" PRIx64 ", %#" PRIx64 "): ", m->args[0], m->args[1], m->args[2]);
        if (m->got == OUTCOME_OTHER)
                printf("failed with errno %d", m->got_errno);
        else
                fputs(got[m->got], stdout);
        printf(", %s", want[m->want]);
}

static void print_failure(Mode mode, unsigned index, const Profile *p, const Verdict *v) {
        printf("%s #%u: ", mode_names[mode], index);
        print_profile(p);
        fputs("\n        ", stdout);
        if (v->result == RESULT_NEVER_FINISHED)
                printf("never finished (killed after %d s)", CHILD_SECONDS);
        else if (v->result == RESULT_WRONG)
                print_mismatch(&v->mismatch);
        else if (WIFEXITED(v->status) && WEXITSTATUS(v->status) == CHILD_RULE_ERROR)
                printf("libseccomp refused a rule: %s", strerror(v->mismatch.got_errno));
        else if (WIFSIGNALED(v->status))
                printf("the child crashed with signal %d", WTERMSIG(v->status));
        else
                printf("the child failed with exit status %d", WEXITSTATUS(v->status));
        putchar('\n');
}

static unsigned failures(const Tally *t) {
        return t->never_finished + t->wrong + t->broken;
}

static void tally_add(Tally *t, Result result) {
        t->profiles++;
        if (result == RESULT_NEVER_FINISHED)
                t->never_finished++;
        else if (result == RESULT_WRONG)
                t->wrong++;
        else if (result == RESULT_REFUSED)
                t->refused++;
        else if (result == RESULT_BROKEN)
                t->broken++;
}

static void print_tally(Mode mode, const Tally *t) {
        printf("%s: %u profiles, %u never finished, %u wrong filters", mode_names[mode], t->profiles,
               t->never_finished, t->wrong);
        if (t->refused > 0)
                printf(", %u refused by libseccomp as conflicting (EEXIST)", t->refused);
        if (t->broken > 0)
                printf(", %u failed otherwise (shown above)", t->broken);
        putchar('\n');
}

static int run_mode(Mode mode, unsigned n, uint64_t seed, Tally *ret) {
        Rng rng = { seed };
        Tally t = { 0 };

        for (unsigned i = 0; i < n; i++) {
                Profile p;
                Verdict v = { 0 };
                int r;

                random_profile(&rng, mode, &p);
                r = run_profile(&p, &v);
                if (r < 0)
                        return r;
                tally_add(&t, v.result);
                if (v.result != RESULT_RIGHT && v.result != RESULT_REFUSED && failures(&t) <= FAILURES_SHOWN)
                        print_failure(mode, i, &p, &v);
        }
        (void) fflush(stdout);
        *ret = t;
        return 0;
}

typedef struct Options {
        unsigned profiles;
        uint64_t seed;
        Mode mode;
} Options;

static int parse_u64(const char *s, uint64_t max, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 0);
        if (errno != 0 || *end != '\0' || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int parse_mode(const char *s, Mode *ret) {
        for (Mode m = 0; m < N_MODES; m++)
                if (strcmp(s, mode_names[m]) == 0) {
                        *ret = m;
                        return 0;
                }
        if (strcmp(s, "all") == 0) {
                *ret = MODE_ALL;
                return 0;
        }
        return -EINVAL;
}

static int usage_error(const char *what, const char *arg) {
        fprintf(stderr, "seccomp-differential: %s '%s'\n", what, arg);
        return -EINVAL;
}

/* 1: run; 0: --help was printed; -EINVAL: a usage error, printed */
static int parse_args(int argc, char **argv, Options *o) {
        static const struct option longopts[] = {
                { "profiles", required_argument, NULL, 'n' },
                { "seed", required_argument, NULL, 's' },
                { "mode", required_argument, NULL, 'm' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        uint64_t v;
        int c;

        while ((c = getopt_long(argc, argv, "n:s:m:h", longopts, NULL)) >= 0)
                switch (c) {
                case 'n':
                        if (parse_u64(optarg, UINT32_MAX, &v) < 0 || v == 0)
                                return usage_error("-n takes a number of profiles, not", optarg);
                        o->profiles = (unsigned) v;
                        break;
                case 's':
                        if (parse_u64(optarg, UINT64_MAX, &o->seed) < 0)
                                return usage_error("-s takes a number, not", optarg);
                        break;
                case 'm':
                        if (parse_mode(optarg, &o->mode) < 0)
                                return usage_error("-m takes refused, one-rule, equal or all, not", optarg);
                        break;
                case 'h':
                        printf("seccomp-differential [-n PROFILES] [-s SEED] [-m MODE]\n"
                               "MODE: refused, one-rule, equal or all (default).\n"
                               "See the comment at the top of tests/fuzz/seccomp-differential.c.\n");
                        return 0;
                default: /* getopt printed what was wrong */
                        return -EINVAL;
                }
        if (optind < argc)
                return usage_error("unexpected argument", argv[optind]);
        return 1;
}

int main(int argc, char **argv) {
        Options o = { .profiles = DEFAULT_PROFILES, .seed = 1, .mode = MODE_ALL };
        bool accepted_right = true;
        int r;

        r = parse_args(argc, argv, &o);
        if (r <= 0)
                return r < 0 ? 2 : 0;

        for (Mode m = 0; m < N_MODES; m++) {
                Tally t;

                if (o.mode != MODE_ALL && o.mode != m)
                        continue;
                r = run_mode(m, o.profiles, o.seed, &t);
                if (r < 0) {
                        fprintf(stderr, "seccomp-differential: Failed to run a profile: %s\n", strerror(-r));
                        return 1;
                }
                print_tally(m, &t);
                /* the refused shape's failures are why cbox refuses it: reported, not failed on */
                if (m != MODE_REFUSED && failures(&t) > 0)
                        accepted_right = false;
        }
        return accepted_right ? 0 : 1;
}
