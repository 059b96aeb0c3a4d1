/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The parser of seccomp profiles in the OCI/Docker JSON format (see seccomp-profile.h). The file
 * is untrusted input: its size, nesting depth and every list are bounded, every type is checked,
 * and a message names the JSON path of what is wrong. tests/fuzz/fuzz-seccomp.c replays its
 * corpus. */

#include <errno.h>
#include <json-c/json.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "seccomp-profile.h"
#include "string-util.h"

#define PROFILE_JSON_MAX_DEPTH 16

typedef struct Parser {
        ErrorMessage *err;
        char ***warnings;
        size_t n_unknown; /* the first SECCOMP_PROFILE_WARNINGS_MAX of them have a line */
} Parser;

static const struct {
        const char *name;
        uint32_t action; /* errno/trace data added later */
        bool with_data;
} actions[] = {
        { "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false },
        { "SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true },
        { "SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD, false },
        { "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false },
        { "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false },
        { "SCMP_ACT_TRAP", SCMP_ACT_TRAP, false },
        { "SCMP_ACT_LOG", SCMP_ACT_LOG, false },
        { "SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true },
};

static const struct {
        const char *name;
        int op;
} ops[] = {
        { "SCMP_CMP_NE", SCMP_CMP_NE },
        { "SCMP_CMP_LT", SCMP_CMP_LT },
        { "SCMP_CMP_LE", SCMP_CMP_LE },
        { "SCMP_CMP_EQ", SCMP_CMP_EQ },
        { "SCMP_CMP_GE", SCMP_CMP_GE },
        { "SCMP_CMP_GT", SCMP_CMP_GT },
        { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

static json_object *get(json_object *o, const char *key) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return NULL;
        return v;
}

_printf_(3, 4) static int bad(Parser *p, const char *path, const char *fmt, ...) {
        _cleanup_free_ char *m = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        return error_message_setf(p->err, -EINVAL, "%s: %s", path, m ?: "invalid");
}

static int get_u64(Parser *p, json_object *v, const char *path, uint64_t max, uint64_t *ret) {
        if (!json_object_is_type(v, json_type_int))
                return bad(p, path, "expected a non-negative integer");
        errno = 0;
        int64_t s = json_object_get_int64(v);
        if (s < 0)
                return bad(p, path, "expected a non-negative integer");
        uint64_t u = json_object_get_uint64(v);
        if (errno != 0 || u > max) {
                char m[32];
                (void) snprintf(m, sizeof(m), "%llu", (unsigned long long) max);
                return bad(p, path, "out of range (at most %s)", m);
        }
        *ret = u;
        return 0;
}

static int get_array(Parser *p, json_object *v, const char *path, size_t max, size_t *ret_n) {
        if (!json_object_is_type(v, json_type_array))
                return bad(p, path, "expected an array");
        size_t n = json_object_array_length(v);
        if (n > max) {
                char m[32];
                (void) snprintf(m, sizeof(m), "%zu", max);
                return bad(p, path, "more than %s elements", m);
        }
        *ret_n = n;
        return 0;
}

/* Reads an array of strings into a NULL-free vector pointing into the JSON tree */
static int get_strings(Parser *p, json_object *v, const char *path, size_t max, const char *const **ret,
                       size_t *ret_n) {
        size_t n;
        int r = get_array(p, v, path, max, &n);
        if (r < 0)
                return r;
        const char **l = new0(const char *, n);
        if (!l)
                return error_message_set(p->err, -ENOMEM, NULL);
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(v, i);
                if (!json_object_is_type(e, json_type_string)) {
                        free(l);
                        _cleanup_free_ char *ep = strprintf("%s[%zu]", path, i);
                        return bad(p, ep ?: path, "expected a string");
                }
                l[i] = json_object_get_string(e);
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

static int parse_action(Parser *p, json_object *v, json_object *errno_v, const char *path,
                        const char *errno_path, uint32_t *ret) {
        if (!v || !json_object_is_type(v, json_type_string))
                return bad(p, path, "expected an action like \"SCMP_ACT_ERRNO\"");
        const char *s = json_object_get_string(v);
        for (size_t i = 0; i < ELEMENTSOF(actions); i++) {
                if (!streq(s, actions[i].name))
                        continue;
                uint64_t data = EPERM; /* runc's default for errnoRet */
                if (actions[i].with_data && errno_v) {
                        int r = get_u64(p, errno_v, errno_path, 4095, &data);
                        if (r < 0)
                                return r;
                }
                *ret = actions[i].action | (actions[i].with_data ? (uint32_t) data : 0);
                return 0;
        }
        if (streq(s, "SCMP_ACT_NOTIFY"))
                return bad(p, path, "SCMP_ACT_NOTIFY is not supported");
        return bad(p, path, "unknown action '%s'", s);
}

static int parse_kernel(Parser *p, json_object *v, const char *path, unsigned *ret) {
        unsigned major, minor = 0;
        int n = 0;
        if (!json_object_is_type(v, json_type_string))
                return bad(p, path, "expected a kernel version like \"4.8\"");
        const char *s = json_object_get_string(v);
        if ((sscanf(s, "%u.%u%n", &major, &minor, &n) != 2 && sscanf(s, "%u%n", &major, &n) != 1) ||
            (size_t) n != strlen(s) || major == 0 || major > 0xffff || minor > 0xffff)
                return bad(p, path, "'%s' is not a kernel version like \"4.8\"", s);
        *ret = major << 16 | minor;
        return 0;
}

static int parse_filter(Parser *p, json_object *o, const char *path, bool include, SeccompRule *rule) {
        _cleanup_free_ char *cp = NULL, *ap = NULL, *kp = NULL;
        json_object *v;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return bad(p, path, "expected an object");
        cp = strjoin(path, ".caps");
        ap = strjoin(path, ".arches");
        kp = strjoin(path, ".minKernel");
        if (!cp || !ap || !kp)
                return error_message_set(p->err, -ENOMEM, NULL);

        if ((v = get(o, "caps"))) {
                _cleanup_free_ const char *const *caps = NULL;
                size_t n;
                r = get_strings(p, v, cp, SECCOMP_PROFILE_LIST_MAX, &caps, &n);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++) {
                        int c = capability_from_name(caps[i]);
                        if (c < 0 || c >= 64) {
                                /* never held: an include can never match, an exclude never hits */
                                if (include)
                                        rule->never = true;
                                continue;
                        }
                        if (include)
                                rule->caps_include |= UINT64_C(1) << c;
                        else
                                rule->caps_exclude |= UINT64_C(1) << c;
                }
        }
        if ((v = get(o, "arches"))) {
                r = get_strings(p, v, ap, SECCOMP_PROFILE_LIST_MAX,
                                include ? &rule->arches_include : &rule->arches_exclude,
                                include ? &rule->n_arches_include : &rule->n_arches_exclude);
                if (r < 0)
                        return r;
        }
        if ((v = get(o, "minKernel"))) {
                r = parse_kernel(p, v, kp, include ? &rule->min_kernel_include : &rule->min_kernel_exclude);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_args(Parser *p, json_object *v, const char *path, SeccompRule *rule) {
        size_t n;
        int r = get_array(p, v, path, 6, &n);
        if (r < 0)
                return r;
        if (n == 0)
                return 0;
        SeccompArg *args = new0(SeccompArg, n);
        if (!args)
                return error_message_set(p->err, -ENOMEM, NULL);
        rule->args = args;
        rule->n_args = n;
        for (size_t i = 0; i < n; i++) {
                json_object *a = json_object_array_get_idx(v, i), *f;
                _cleanup_free_ char *ap = strprintf("%s[%zu]", path, i);
                _cleanup_free_ char *ip = strjoin(ap ?: "", ".index"), *vp = strjoin(ap ?: "", ".value"),
                                    *v2p = strjoin(ap ?: "", ".valueTwo"), *op = strjoin(ap ?: "", ".op");
                uint64_t u;
                if (!ap || !ip || !vp || !v2p || !op)
                        return error_message_set(p->err, -ENOMEM, NULL);
                if (!json_object_is_type(a, json_type_object))
                        return bad(p, ap, "expected an object");
                if (!(f = get(a, "index")))
                        return bad(p, ip, "missing");
                r = get_u64(p, f, ip, 5, &u);
                if (r < 0)
                        return r;
                args[i].index = (unsigned) u;
                if ((f = get(a, "value")) && (r = get_u64(p, f, vp, UINT64_MAX, &args[i].value)) < 0)
                        return r;
                if ((f = get(a, "valueTwo")) && (r = get_u64(p, f, v2p, UINT64_MAX, &args[i].value_two)) < 0)
                        return r;
                if (!(f = get(a, "op")) || !json_object_is_type(f, json_type_string))
                        return bad(p, op, "expected an operator like \"SCMP_CMP_EQ\"");
                const char *s = json_object_get_string(f);
                size_t k;
                for (k = 0; k < ELEMENTSOF(ops); k++)
                        if (streq(s, ops[k].name))
                                break;
                if (k >= ELEMENTSOF(ops))
                        return bad(p, op, "unknown operator '%s'", s);
                args[i].op = ops[k].op;
        }
        return 0;
}

static int add_warning(Parser *p, char *w) {
        if (!w || strv_consume(p->warnings, w) < 0)
                return error_message_set(p->err, -ENOMEM, NULL);
        return 0;
}

/* The first SECCOMP_PROFILE_WARNINGS_MAX unknown names each get a line; the rest are counted (a
 * profile of a million unknown names must not make a million lines, nor a quadratic append) */
static int warn_unknown_names(Parser *p, const SeccompRule *rule, const char *path) {
        if (!p->warnings)
                return 0;
        for (size_t i = 0; i < rule->n_names; i++) {
                if (seccomp_syscall_resolve_name(rule->names[i]) != __NR_SCMP_ERROR)
                        continue;
                if (p->n_unknown++ >= SECCOMP_PROFILE_WARNINGS_MAX)
                        continue;
                int r = add_warning(p,
                                    strprintf("%s.names[%zu]: unknown system call '%s', skipped", path, i,
                                              rule->names[i]));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int warn_unknown_rest(Parser *p) {
        if (!p->warnings || p->n_unknown <= SECCOMP_PROFILE_WARNINGS_MAX)
                return 0;
        return add_warning(p,
                           strprintf("%zu more unknown system call names, skipped",
                                     p->n_unknown - SECCOMP_PROFILE_WARNINGS_MAX));
}

typedef struct NameUse {
        const char *name;
        unsigned rule;
        size_t n_chains; /* the rules libseccomp is given for it: one per condition on a repeated index */
        bool range;      /* a condition other than SCMP_CMP_EQ or SCMP_CMP_MASKED_EQ */
} NameUse;

static int name_use_compare(const void *a, const void *b) {
        const NameUse *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        return c != 0 ? c : (x->rule > y->rule) - (x->rule < y->rule);
}

static NameUse name_use_of(const SeccompRule *rule, const char *name) {
        NameUse u = { name, rule->json_index, 1, false };

        for (size_t i = 0; i < rule->n_args; i++) {
                const SeccompArg *a = &rule->args[i];
                if (a->op != SCMP_CMP_EQ && a->op != SCMP_CMP_MASKED_EQ)
                        u.range = true;
                for (size_t j = 0; j < i; j++)
                        if (rule->args[j].index == a->index)
                                u.n_chains = rule->n_args; /* split by add_rule(), as runc does */
        }
        return u;
}

/* libseccomp (2.5.4 to 2.6.1) merges the rules of one system call into one decision tree, and when
 * more than one of them has conditions and any of those is a range or SCMP_CMP_NE, the merge goes
 * wrong: in a differential test of 3000 random such profiles against the kernel
 * (tests/fuzz/seccomp-differential), 3% never finished (a cycle in the tree) and 10% made filters
 * that allowed or denied other arguments than the rules say, while every profile with one
 * conditional rule per call, or with only EQ/MASKED_EQ conditions, was right (3000 each). So that shape is
 * refused, for every rule that names the call whatever its includes/excludes; sorting the (name, rule) pairs
 * keeps this O(n log n). */
static int check_conditions_per_call(Parser *p, const SeccompProfile *prof) {
        _cleanup_free_ NameUse *uses = NULL;
        size_t n = 0, total = 0;

        for (size_t i = 0; i < prof->n_rules; i++)
                if (prof->rules[i].n_args > 0)
                        total += prof->rules[i].n_names;
        if (total == 0)
                return 0;
        uses = new (NameUse, total);
        if (!uses)
                return error_message_set(p->err, -ENOMEM, NULL);
        for (size_t i = 0; i < prof->n_rules; i++) {
                const SeccompRule *rule = &prof->rules[i];
                if (rule->n_args == 0)
                        continue;
                for (size_t j = 0; j < rule->n_names; j++)
                        uses[n++] = name_use_of(rule, rule->names[j]);
        }
        qsort(uses, n, sizeof(*uses), name_use_compare);

        size_t chains = 0, first = 0;
        bool range = false;
        for (size_t i = 0; i < n; i++) {
                if (!streq(uses[i].name, uses[first].name)) {
                        first = i;
                        chains = 0;
                        range = false;
                }
                chains += uses[i].n_chains;
                range = range || uses[i].range;
                if (chains > 1 && range)
                        return error_message_setf(
                                p->err, -EINVAL,
                                "syscalls[%u].args: '%s' has conditions in more than one rule "
                                "(%s syscalls[%u]), and not all are SCMP_CMP_EQ or "
                                "SCMP_CMP_MASKED_EQ: libseccomp builds a wrong filter for that; "
                                "put them in one rule",
                                uses[i].rule, uses[i].name,
                                i == first ? "one per condition on a repeated index in" : "also",
                                uses[first].rule);
        }
        return 0;
}

static int parse_rule(Parser *p, json_object *o, unsigned index, SeccompRule *rule) {
        _cleanup_free_ char *path = strprintf("syscalls[%u]", index);
        _cleanup_free_ char *np = NULL, *ap = NULL, *ep = NULL, *gp = NULL, *ip = NULL, *xp = NULL;
        json_object *v;
        int r;

        if (!path)
                return error_message_set(p->err, -ENOMEM, NULL);
        rule->json_index = index;
        if (!json_object_is_type(o, json_type_object))
                return bad(p, path, "expected an object");
        np = strjoin(path, ".names");
        ap = strjoin(path, ".action");
        ep = strjoin(path, ".errnoRet");
        gp = strjoin(path, ".args");
        ip = strjoin(path, ".includes");
        xp = strjoin(path, ".excludes");
        if (!np || !ap || !ep || !gp || !ip || !xp)
                return error_message_set(p->err, -ENOMEM, NULL);

        if ((v = get(o, "names"))) {
                r = get_strings(p, v, np, SECCOMP_PROFILE_NAMES_MAX, &rule->names, &rule->n_names);
                if (r < 0)
                        return r;
        } else if ((v = get(o, "name"))) {
                /* the older format: one name per entry */
                if (!json_object_is_type(v, json_type_string))
                        return bad(p, np, "expected a string");
                const char **l = new (const char *, 1);
                if (!l)
                        return error_message_set(p->err, -ENOMEM, NULL);
                l[0] = json_object_get_string(v);
                rule->names = l;
                rule->n_names = 1;
        } else
                return bad(p, np, "missing (an array of system call names)");
        for (size_t i = 0; i < rule->n_names; i++)
                if (isempty(rule->names[i]) || strlen(rule->names[i]) > 64) {
                        _cleanup_free_ char *e = strprintf("%s[%zu]", np, i);
                        return bad(p, e ?: np, "not a system call name");
                }

        r = parse_action(p, get(o, "action"), get(o, "errnoRet"), ap, ep, &rule->action);
        if (r < 0)
                return r;
        if ((v = get(o, "args")) && (r = parse_args(p, v, gp, rule)) < 0)
                return r;
        if ((v = get(o, "includes")) && (r = parse_filter(p, v, ip, true, rule)) < 0)
                return r;
        if ((v = get(o, "excludes")) && (r = parse_filter(p, v, xp, false, rule)) < 0)
                return r;
        return warn_unknown_names(p, rule, path);
}

static int parse_arch_name(Parser *p, const char *s, const char *path, uint32_t *ret) {
        _cleanup_free_ char *lower = NULL;
        const char *n = startswith(s, "SCMP_ARCH_");
        if (!n)
                return bad(p, path, "'%s' is not an architecture like \"SCMP_ARCH_X86_64\"", s);
        lower = strdup(n);
        if (!lower)
                return error_message_set(p->err, -ENOMEM, NULL);
        for (char *c = lower; *c; c++)
                *c = (char) (*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        uint32_t a = seccomp_arch_resolve_name(lower);
        if (a == 0)
                return bad(p, path, "unknown architecture '%s'", s);
        *ret = a;
        return 0;
}

static int parse_arches(Parser *p, json_object *root, SeccompProfile *prof) {
        uint32_t *arches = new0(uint32_t, SECCOMP_PROFILE_LIST_MAX * 2);
        size_t n_arches = 0;
        json_object *v;
        int r;

        if (!arches)
                return error_message_set(p->err, -ENOMEM, NULL);
        prof->arches = arches;

        if ((v = get(root, "architectures"))) {
                _cleanup_free_ const char *const *l = NULL;
                size_t n;
                r = get_strings(p, v, "architectures", SECCOMP_PROFILE_LIST_MAX, &l, &n);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *ep = strprintf("architectures[%zu]", i);
                        r = parse_arch_name(p, l[i], ep ?: "architectures", &arches[n_arches]);
                        if (r < 0)
                                return r;
                        n_arches++;
                }
        }

        /* archMap: the native architecture's entry brings its sub-architectures */
        if ((v = get(root, "archMap"))) {
                size_t n;
                r = get_array(p, v, "archMap", SECCOMP_PROFILE_LIST_MAX, &n);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++) {
                        json_object *e = json_object_array_get_idx(v, i), *a, *subs;
                        _cleanup_free_ char *ep = strprintf("archMap[%zu]", i);
                        _cleanup_free_ char *aap = strjoin(ep ?: "", ".architecture");
                        _cleanup_free_ char *sp = strjoin(ep ?: "", ".subArchitectures");
                        _cleanup_free_ const char *const *l = NULL;
                        uint32_t arch;
                        size_t n_subs = 0;
                        if (!ep || !aap || !sp)
                                return error_message_set(p->err, -ENOMEM, NULL);
                        if (!json_object_is_type(e, json_type_object))
                                return bad(p, ep, "expected an object");
                        if (!(a = get(e, "architecture")) || !json_object_is_type(a, json_type_string))
                                return bad(p, aap, "expected an architecture like \"SCMP_ARCH_X86_64\"");
                        r = parse_arch_name(p, json_object_get_string(a), aap, &arch);
                        if (r < 0)
                                return r;
                        if ((subs = get(e, "subArchitectures"))) {
                                r = get_strings(p, subs, sp, SECCOMP_PROFILE_LIST_MAX, &l, &n_subs);
                                if (r < 0)
                                        return r;
                        }
                        for (size_t j = 0; j < n_subs; j++) {
                                _cleanup_free_ char *jp = strprintf("%s[%zu]", sp, j);
                                uint32_t sub;
                                r = parse_arch_name(p, l[j], jp ?: sp, &sub);
                                if (r < 0)
                                        return r;
                                if (arch == seccomp_arch_native() && n_arches < SECCOMP_PROFILE_LIST_MAX * 2)
                                        arches[n_arches++] = sub;
                        }
                }
        }
        prof->n_arches = n_arches;
        return 0;
}

int seccomp_profile_parse(const char *json, size_t size, SeccompProfile **ret, char ***ret_warnings,
                          ErrorMessage *err) {
        _cleanup_(seccomp_profile_freep) SeccompProfile *prof = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        Parser p = { .err = err, .warnings = ret_warnings ? &warnings : NULL };
        json_object *root, *v;
        int r;

        if (size > SECCOMP_PROFILE_SIZE_MAX)
                return error_message_setf(err, -EFBIG, "larger than %u bytes", SECCOMP_PROFILE_SIZE_MAX);

        struct json_tokener *tok = json_tokener_new_ex(PROFILE_JSON_MAX_DEPTH);
        if (!tok)
                return error_message_set(err, -ENOMEM, NULL);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        root = json_tokener_parse_ex(tok, json, (int) size);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        size_t consumed = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!root || jerr != json_tokener_success) {
                json_object_put(root);
                return error_message_setf(err, -EBADMSG, "invalid JSON at byte %zu: %s", consumed,
                                          jerr == json_tokener_continue ? "unexpected end of document"
                                                                        : json_tokener_error_desc(jerr));
        }
        for (size_t i = consumed; i < size; i++)
                if (!strchr(" \t\r\n", json[i])) {
                        json_object_put(root);
                        return error_message_setf(err, -EBADMSG, "trailing data at byte %zu", i);
                }

        prof = new0(SeccompProfile, 1);
        if (!prof) {
                json_object_put(root);
                return error_message_set(err, -ENOMEM, NULL);
        }
        prof->storage = root;

        if (!json_object_is_type(root, json_type_object))
                return bad(&p, "$", "expected an object");

        r = parse_action(&p, get(root, "defaultAction"), get(root, "defaultErrnoRet"), "defaultAction",
                         "defaultErrnoRet", &prof->default_action);
        if (r < 0)
                return r;
        prof->enosys_unknown =
                prof->default_action != SCMP_ACT_ALLOW && prof->default_action != SCMP_ACT_LOG;

        r = parse_arches(&p, root, prof);
        if (r < 0)
                return r;

        if ((v = get(root, "syscalls"))) {
                size_t n;
                r = get_array(&p, v, "syscalls", SECCOMP_PROFILE_RULES_MAX, &n);
                if (r < 0)
                        return r;
                SeccompRule *rules = new0(SeccompRule, n);
                if (!rules)
                        return error_message_set(err, -ENOMEM, NULL);
                prof->rules = rules;
                prof->n_rules = n;
                for (size_t i = 0; i < n; i++) {
                        r = parse_rule(&p, json_object_array_get_idx(v, i), (unsigned) i, &rules[i]);
                        if (r < 0)
                                return r;
                }
        }
        r = check_conditions_per_call(&p, prof);
        if (r < 0)
                return r;
        r = warn_unknown_rest(&p);
        if (r < 0)
                return r;

        if (ret_warnings)
                *ret_warnings = TAKE_PTR(warnings);
        *ret = TAKE_PTR(prof);
        return 0;
}

int seccomp_profile_load(const char *path, SeccompProfile **ret, char ***ret_warnings, ErrorMessage *err) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        r = read_full_file(path, &data, &size, SECCOMP_PROFILE_SIZE_MAX);
        if (r == -EFBIG)
                return error_message_setf(err, r, "larger than %u bytes", SECCOMP_PROFILE_SIZE_MAX);
        if (r < 0)
                return error_message_set(err, r, NULL);
        return seccomp_profile_parse(data, size, ret, ret_warnings, err);
}

SeccompProfile *seccomp_profile_free(SeccompProfile *p) {
        if (!p || !p->storage)
                return NULL;
        for (size_t i = 0; i < p->n_rules; i++) {
                SeccompRule *r = (SeccompRule *) &p->rules[i];
                free((void *) r->names);
                free((void *) r->args);
                free((void *) r->arches_include);
                free((void *) r->arches_exclude);
        }
        free((void *) p->rules);
        free((void *) p->arches);
        json_object_put(p->storage);
        free(p);
        return NULL;
}
