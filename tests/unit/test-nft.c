/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs entirely inside network namespaces this test creates (the test process unshares its own
 * "host" namespace first); the nft CLI is only used to check what the module did. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "fileio.h"
#include "netlink.h"
#include "nft.h"
#include "string-util.h"
#include "tests.h"
#include "raw-udp.h"

static struct in_addr A(const char *s) {
        struct in_addr a;
        ASSERT_EQ(inet_pton(AF_INET, s, &a), 1);
        return a;
}

/* Runs the nft CLI (checks only, in our private namespace); returns its stdout. */
static char *
run_nft(const char *args) {
        _cleanup_free_ char *cmd = strjoin("nft ", args, " 2>/dev/null");
        FILE *f = popen(cmd, "r");
        Buffer b = {};
        char tmp[4096];
        size_t k;

        ASSERT_NOT_NULL(f);
        while ((k = fread(tmp, 1, sizeof(tmp), f)) > 0)
                ASSERT_OK(buffer_append(&b, tmp, k));
        ASSERT_OK(buffer_append(&b, "", 1));
        (void) pclose(f);
        return b.data;
}

static void enter_private_netns(void) {
        static bool done = false;
        if (done)
                return;
        if (geteuid() != 0)
                TEST_SKIP("needs root for network namespaces");
        if (access("/usr/sbin/nft", X_OK) < 0)
                TEST_SKIP("the nft CLI (used to check results) is missing");
        if (unshare(CLONE_NEWNET) < 0)
                TEST_SKIP("unshare(CLONE_NEWNET) failed: %s", strerror(errno));
        done = true;
        /* somebody else's table, which we must never touch */
        free(run_nft("add table ip other"));
        free(run_nft("add chain ip other c '{ type filter hook input priority 0; }'"));
        free(run_nft("add rule ip other c counter"));
}

typedef struct Listing {
        unsigned tables, chains, sets, rules, elems;
} Listing;

/* Counts the objects of `nft -j list table inet cbox` (map elements summed over all sets). */
static Listing list_cbox(void) {
        _cleanup_free_ char *out = run_nft("-j list table inet cbox");
        Listing l = {};
        json_object *root = json_tokener_parse(out), *arr;

        if (!root)
                return l; /* no table */
        ASSERT_TRUE(json_object_object_get_ex(root, "nftables", &arr));
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
                json_object *o = json_object_array_get_idx(arr, i), *v, *el;
                if (json_object_object_get_ex(o, "table", &v))
                        l.tables++;
                if (json_object_object_get_ex(o, "chain", &v))
                        l.chains++;
                if (json_object_object_get_ex(o, "rule", &v))
                        l.rules++;
                if (json_object_object_get_ex(o, "set", &v) || json_object_object_get_ex(o, "map", &v)) {
                        l.sets++;
                        if (json_object_object_get_ex(v, "elem", &el))
                                l.elems += (unsigned) json_object_array_length(el);
                }
        }
        json_object_put(root);
        return l;
}

#define OK(expr)                                                                                            \
        do {                                                                                                \
                int _k = (expr);                                                                            \
                if (_k < 0)                                                                                 \
                        TEST_FAIL("%s failed: %s: %s", #expr, strerror(-_k), strna(err.message));           \
        } while (0)

static size_t count_owner(const char *owner) {
        NftPortEntry *e = NULL;
        size_t n = 0, c = 0;
        NftError err = {};
        OK(nft_ports_list(&e, &n, &err));
        for (size_t i = 0; i < n; i++)
                if (streq_ptr(e[i].owner, owner))
                        c++;
        nft_port_entry_array_free(e, n);
        return c;
}

#define PM(port, cport, proto)                                                                              \
        ((NftPortMap){ .host_port = (port),                                                                 \
                       .host_port_end = (port),                                                             \
                       .container_port = (cport),                                                           \
                       .container_port_end = (cport),                                                       \
                       .protocol = (proto) })

TEST(skeleton) {
        NftError err = {};
        Listing l;
        struct in_addr sub = A("10.88.0.0");

        enter_private_netns();

        OK(nft_table_ensure(&err));
        OK(nft_table_ensure(&err)); /* idempotent: no duplicate rules */
        l = list_cbox();
        ASSERT_EQ(l.tables, 1);
        ASSERT_EQ(l.chains, 6);
        ASSERT_EQ(l.sets, 6);
        ASSERT_EQ(l.rules, 11);

        OK(nft_subnet_add(&sub, 16, true, NULL, &err));
        OK(nft_subnet_add(&sub, 16, true, NULL, &err));
        /* an adjacent network, without masquerade; then removed again */
        struct in_addr sub2 = A("10.89.0.0");
        OK(nft_subnet_add(&sub2, 16, false, NULL, &err));
        _cleanup_free_ char *m = run_nft("list set inet cbox masqueraded");
        ASSERT_NOT_NULL(strstr(m, "10.88.0.0/16"));
        ASSERT_NULL(strstr(m, "10.89.0.0/16"));
        OK(nft_subnet_add(&sub2, 16, true, NULL, &err));
        OK(nft_subnet_add(&sub2, 16, false, NULL, &err));
        OK(nft_subnet_remove(&sub2, 16, &err));
        ASSERT_ERROR(nft_subnet_remove(&sub2, 16, &err), ENOENT);
        nft_error_done(&err);
        _cleanup_free_ char *s = run_nft("list set inet cbox subnets");
        ASSERT_NOT_NULL(strstr(s, "10.88.0.0/16"));
        fprintf(stderr, "%s", s);

        /* the bridges whose 127.0.0.0/8 traffic is dropped: added with a subnet, idempotently */
        OK(nft_subnet_add(&sub, 16, true, "cbox0", &err));
        OK(nft_subnet_add(&sub, 16, true, "cbox0", &err));
        ASSERT_ERROR(nft_subnet_add(&sub, 16, true, "a-bridge-name-too-long", &err), EINVAL);
        nft_error_done(&err);
        _cleanup_free_ char *br = run_nft("list set inet cbox bridges");
        fprintf(stderr, "%s", br);
        ASSERT_NOT_NULL(strstr(br, "\"cbox0\""));
        /* a table of a build without the localnet chain (an upgrade) is completed by the next change */
        free(run_nft("delete chain inet cbox localnet"));
        ASSERT_EQ(list_cbox().rules, 10);
        OK(nft_subnet_add(&sub, 16, true, "cbox0", &err));
        ASSERT_EQ(list_cbox().rules, 11);
        _cleanup_free_ char *ln = run_nft("list chain inet cbox localnet");
        ASSERT_NOT_NULL(strstr(ln, "iifname @bridges ip daddr 127.0.0.0/8 drop"));

        /* "nft flush ruleset" by someone else: the next change brings everything back */
        free(run_nft("delete table inet cbox"));
        ASSERT_EQ(list_cbox().tables, 0);
        OK(nft_subnet_add(&sub, 16, true, NULL, &err));
        l = list_cbox();
        ASSERT_EQ(l.rules, 11);
        ASSERT_EQ(l.sets, 6);
        /* "nft flush table": rules gone, sets kept — repaired without duplicating */
        free(run_nft("flush table inet cbox"));
        ASSERT_EQ(list_cbox().rules, 0);
        OK(nft_table_ensure(&err));
        ASSERT_EQ(list_cbox().rules, 11);

        _cleanup_free_ char *o = run_nft("list table ip other");
        ASSERT_NOT_NULL(strstr(o, "counter"));
}

TEST(ports) {
        NftError err = {};
        struct in_addr ca = A("10.88.0.2"), cb = A("10.88.0.3"), cc = A("10.88.0.4");
        NftPortEntry *e = NULL;
        size_t n = 0;
        Listing before, after;

        enter_private_netns();
        OK(nft_table_ensure(&err));

        NftPortMap a[] = {
                PM(8080, 80, IPPROTO_TCP),
                { .host_address = A("127.0.0.1"),
                  .host_port = 5353,
                  .host_port_end = 5353,
                  .container_port = 53,
                  .container_port_end = 53,
                  .protocol = IPPROTO_UDP },
                { .host_port = 9000,
                  .host_port_end = 9010,
                  .container_port = 9000,
                  .container_port_end = 9010,
                  .protocol = IPPROTO_TCP },
                { .host_port = 7000,
                  .host_port_end = 7002,
                  .container_port = 8000,
                  .container_port_end = 8002,
                  .protocol = IPPROTO_UDP },
        };
        OK(nft_ports_add("a", &ca, a, ELEMENTSOF(a), &err));
        ASSERT_EQ(count_owner("a"), 1 + 1 + 1 + 3);
        _cleanup_free_ char *listing = run_nft("list table inet cbox");
        fprintf(stderr, "%s", listing);

        OK(nft_ports_list(&e, &n, &err));
        bool seen_range = false, seen_bind = false;
        for (size_t i = 0; i < n; i++) {
                if (e[i].host_port == 9000) {
                        ASSERT_EQ(e[i].host_port_end, 9010);
                        seen_range = true;
                }
                if (e[i].host_port == 5353) {
                        ASSERT_EQ(e[i].host_address.s_addr, A("127.0.0.1").s_addr);
                        ASSERT_EQ(e[i].container_port, 53);
                        ASSERT_EQ(e[i].protocol, IPPROTO_UDP);
                        seen_bind = true;
                }
        }
        ASSERT_TRUE(seen_range && seen_bind);
        nft_port_entry_array_free(e, n);

        /* duplicates are refused before anything is created */
        before = list_cbox();
        NftPortMap dup1[] = { PM(1234, 1, IPPROTO_TCP), PM(8080, 80, IPPROTO_TCP) };
        ASSERT_ERROR(nft_ports_add("b", &cb, dup1, ELEMENTSOF(dup1), &err), EADDRINUSE);
        fprintf(stderr, "expected refusal: %s\n", err.message);
        ASSERT_NOT_NULL(strstr(err.message, "'a'"));
        nft_error_done(&err);
        NftPortMap dup2[] = { PM(9005, 1, IPPROTO_TCP) }; /* inside a's range */
        ASSERT_ERROR(nft_ports_add("b", &cb, dup2, 1, &err), EADDRINUSE);
        nft_error_done(&err);
        NftPortMap dup3[] = { PM(5353, 53, IPPROTO_UDP) }; /* any-address vs a's 127.0.0.1 bind */
        ASSERT_ERROR(nft_ports_add("b", &cb, dup3, 1, &err), EADDRINUSE);
        nft_error_done(&err);
        NftPortMap dup4[] = { { .host_address = A("127.0.0.1"),
                                .host_port = 8080,
                                .host_port_end = 8080,
                                .container_port = 80,
                                .container_port_end = 80,
                                .protocol = IPPROTO_TCP } };
        ASSERT_ERROR(nft_ports_add("b", &cb, dup4, 1, &err), EADDRINUSE);
        nft_error_done(&err);
        NftPortMap dup5[] = { PM(4000, 1, IPPROTO_TCP), PM(4000, 2, IPPROTO_TCP) }; /* within one request */
        ASSERT_ERROR(nft_ports_add("b", &cb, dup5, 2, &err), EADDRINUSE);
        nft_error_done(&err);
        NftPortMap bad[] = { { .host_port = 10,
                               .host_port_end = 12,
                               .container_port = 20,
                               .container_port_end = 20,
                               .protocol = IPPROTO_TCP } };
        ASSERT_ERROR(nft_ports_add("b", &cb, bad, 1, &err), EINVAL);
        nft_error_done(&err);
        after = list_cbox();
        ASSERT_EQ(after.elems, before.elems);
        ASSERT_EQ(count_owner("b"), 0);

        /* the same check without creating anything; a's own elements don't count against a */
        ASSERT_ERROR(nft_ports_check("b", dup1, ELEMENTSOF(dup1), &err), EADDRINUSE);
        nft_error_done(&err);
        ASSERT_ERROR(nft_ports_check("b", dup3, 1, &err), EADDRINUSE);
        nft_error_done(&err);
        OK(nft_ports_check("a", a, ELEMENTSOF(a), &err));
        ASSERT_ERROR(nft_ports_check("b", bad, 1, &err), EINVAL);
        nft_error_done(&err);

        /* the other protocol is free */
        NftPortMap udp[] = { PM(8080, 80, IPPROTO_UDP), PM(5353, 53, IPPROTO_TCP) };
        OK(nft_ports_add("b", &cb, udp, 2, &err));

        /* 32 ports in one batch: only elements grow, never rules */
        NftPortMap many[32];
        for (int i = 0; i < 32; i++)
                many[i] = PM((uint16_t) (20000 + i), 80, IPPROTO_TCP);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        OK(nft_ports_add("c", &cc, many, 32, &err));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        fprintf(stderr, "32 ports added in %.2f ms\n",
                (double) (t1.tv_sec - t0.tv_sec) * 1e3 + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6);
        ASSERT_EQ(count_owner("c"), 32);
        after = list_cbox();
        ASSERT_EQ(after.rules, 11);

        /* the longest owner name in full messages of elements (sizes of the batch buffer) */
        char longowner[201];
        memset(longowner, 'x', 200);
        longowner[200] = 0;
        static NftPortMap lm[600];
        for (int i = 0; i < 600; i++)
                lm[i] = PM((uint16_t) (50000 + i), 80, IPPROTO_UDP);
        OK(nft_ports_add(longowner, &cc, lm, 600, &err));
        ASSERT_EQ(count_owner(longowner), 600);
        ASSERT_EQ(nft_ports_remove_owner(longowner, &err), 600);
        longowner[199] = '\n';
        ASSERT_ERROR(nft_ports_add(longowner, &cc, lm, 1, &err), EINVAL);
        nft_error_done(&err);

        /* removal deletes exactly that owner's elements */
        ASSERT_EQ(nft_ports_remove_owner("a", &err), 6);
        ASSERT_EQ(nft_ports_remove_owner("a", &err), 0);
        ASSERT_EQ(count_owner("a"), 0);
        ASSERT_EQ(count_owner("b"), 2);
        ASSERT_EQ(count_owner("c"), 32);
        /* a's ports are free again */
        OK(nft_ports_add("b2", &cb, dup2, 1, &err));
        ASSERT_EQ(nft_ports_remove_owner("c", &err), 32);
        ASSERT_EQ(nft_ports_remove_owner("b", &err), 2);
        ASSERT_EQ(nft_ports_remove_owner("b2", &err), 1);
        after = list_cbox();
        ASSERT_EQ(after.rules, 11);
}

/* The clash check looks the new (proto, port) keys up in the ports map, several per sendmsg(), instead
 * of dumping it: a clash found in a later group of lookups, a range over single ports, the protocol
 * as part of the key, and a check of one's own ports. */
TEST(ports_lookup) {
        NftError err = {};
        struct in_addr cx = A("10.88.2.2"), cy = A("10.88.2.3");
        static NftPortMap x[101], y[21];

        enter_private_netns();
        OK(nft_table_ensure(&err));
        for (unsigned k = 0; k < 100; k++)
                x[k] = PM((uint16_t) (45000 + k), 80, IPPROTO_TCP);
        x[100] = PM(45050, 80, IPPROTO_UDP);
        OK(nft_ports_add("x", &cx, x, ELEMENTSOF(x), &err));
        OK(nft_ports_check("x", x, ELEMENTSOF(x), &err));

        for (unsigned k = 0; k < 20; k++)
                y[k] = PM((uint16_t) (44000 + k), 80, IPPROTO_TCP);
        y[20] = PM(45077, 80, IPPROTO_TCP); /* the 21st key */
        ASSERT_ERROR(nft_ports_add("y", &cy, y, ELEMENTSOF(y), &err), EADDRINUSE);
        ASSERT_NOT_NULL(strstr(err.message, "45077"));
        ASSERT_NOT_NULL(strstr(err.message, "'x'"));
        nft_error_done(&err);
        ASSERT_ERROR(nft_ports_check("y", y, ELEMENTSOF(y), &err), EADDRINUSE);
        nft_error_done(&err);

        NftPortMap range[] = { { .host_port = 45090,
                                 .host_port_end = 45110,
                                 .container_port = 45090,
                                 .container_port_end = 45110,
                                 .protocol = IPPROTO_TCP } };
        ASSERT_ERROR(nft_ports_add("y", &cy, range, 1, &err), EADDRINUSE);
        nft_error_done(&err);

        NftPortMap udp_free[] = { PM(45000, 80, IPPROTO_UDP) }, udp_taken[] = { PM(45050, 81, IPPROTO_UDP) };
        OK(nft_ports_add("y", &cy, udp_free, 1, &err));
        ASSERT_ERROR(nft_ports_add("z", &cy, udp_taken, 1, &err), EADDRINUSE);
        ASSERT_NOT_NULL(strstr(err.message, "'x'"));
        nft_error_done(&err);
        ASSERT_EQ(count_owner("x"), 101);
        ASSERT_EQ(count_owner("y"), 1);
        ASSERT_EQ(count_owner("z"), 0);
}

TEST(concurrent_first_use) {
        /* 6 processes publish ports at once into a namespace without our table: every one succeeds
         * and the skeleton exists exactly once (each repair flushes and re-adds in one transaction) */
        enum { P = 6 };
        NftError err = {};

        enter_private_netns();
        (void) nft_table_delete(&err);
        nft_error_done(&err);
        for (int p = 0; p < P; p++) {
                pid_t pid = fork();
                ASSERT_TRUE(pid >= 0);
                if (pid == 0) {
                        char owner[16];
                        struct in_addr ca = { .s_addr = htonl(0x0a580002 + (uint32_t) p) };
                        NftPortMap m[4];
                        for (int k = 0; k < 4; k++)
                                m[k] = PM((uint16_t) (40000 + p * 10 + k), 80, IPPROTO_TCP);
                        snprintf(owner, sizeof(owner), "p%d", p);
                        _exit(nft_ports_add(owner, &ca, m, 4, NULL) < 0 ? 1 : 0);
                }
        }
        for (int p = 0; p < P; p++) {
                int st;
                ASSERT_TRUE(wait(&st) > 0);
                ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        Listing l = list_cbox();
        ASSERT_EQ(l.tables, 1);
        ASSERT_EQ(l.rules, 11);
        ASSERT_EQ(l.elems, P * 4);
        OK(nft_table_delete(&err));
}

TEST(concurrent_clash) {
        /* 8 processes publish tcp/7777 at once, half on every address (map ports), half on
         * 127.0.0.1 (map addrports): a clash the kernel alone cannot see. Exactly one may win. */
        enum { P = 8, ROUNDS = 5 };
        NftError err = {};

        enter_private_netns();
        OK(nft_table_ensure(&err));
        for (int round = 0; round < ROUNDS; round++) {
                int won = 0;
                for (int p = 0; p < P; p++) {
                        pid_t pid = fork();
                        ASSERT_TRUE(pid >= 0);
                        if (pid == 0) {
                                char owner[16];
                                struct in_addr ca = { .s_addr = htonl(0x0a580002 + (uint32_t) p) };
                                NftPortMap m = PM(7777, 80, IPPROTO_TCP);
                                if (p % 2)
                                        m.host_address.s_addr = htonl(INADDR_LOOPBACK);
                                snprintf(owner, sizeof(owner), "clash%d", p);
                                NftError e = {};
                                int r = nft_ports_add(owner, &ca, &m, 1, &e);
                                if (r < 0 && r != -EADDRINUSE)
                                        fprintf(stderr, "%s: %s: %s\n", owner, strerror(-r),
                                                strna(e.message));
                                _exit(r >= 0 ? 0 : r == -EADDRINUSE ? 1 : 2);
                        }
                }
                for (int p = 0; p < P; p++) {
                        int st;
                        ASSERT_TRUE(wait(&st) > 0);
                        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) <= 1);
                        won += WEXITSTATUS(st) == 0;
                }
                ASSERT_EQ(won, 1);
                ASSERT_EQ(list_cbox().elems, 1);
                for (int p = 0; p < P; p++) {
                        char owner[16];
                        snprintf(owner, sizeof(owner), "clash%d", p);
                        ASSERT_OK(nft_ports_remove_owner(owner, NULL));
                }
                ASSERT_EQ(list_cbox().elems, 0);
        }
}

TEST(table_delete) {
        NftError err = {};
        enter_private_netns();
        OK(nft_table_ensure(&err));
        OK(nft_table_delete(&err));
        ASSERT_EQ(list_cbox().tables, 0);
        ASSERT_ERROR(nft_table_delete(&err), ENOENT);
        fprintf(stderr, "kernel said: %s\n", strna(err.message));
        nft_error_done(&err);
        _cleanup_free_ char *o = run_nft("list table ip other");
        ASSERT_NOT_NULL(strstr(o, "counter"));
}

/* ---- the administrator's forward chains ---- */

static unsigned count_lines_with(const char *text, const char *needle) {
        unsigned k = 0;
        for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
                k++;
        return k;
}

TEST(forward_chains) {
        NftError err = {};
        NftChainRef adm, fw2, bad;
        char **blockers = NULL;
        char *bridges[] = { (char *) "cbox0", (char *) "br-t1", NULL };
        char *one[] = { (char *) "cbox0", NULL };

        enter_private_netns();
        OK(nft_table_ensure(&err)); /* our own forward chain (policy accept) is never reported */
        free(run_nft("add table inet adm"));
        free(run_nft("add chain inet adm guard '{ type filter hook forward priority 0; policy drop; }'"));
        free(run_nft("add rule inet adm guard ct state established,related accept"));
        free(run_nft("add table ip fw2"));
        free(run_nft("add chain ip fw2 f '{ type filter hook forward priority 10; }'"));
        free(run_nft("add rule ip fw2 f ip saddr 192.0.2.1 accept"));
        free(run_nft("add rule ip fw2 f counter reject"));
        /* conditional drops and other hooks are not blockers */
        free(run_nft("add table ip ok"));
        free(run_nft("add chain ip ok f '{ type filter hook forward priority 0; }'"));
        free(run_nft("add rule ip ok f ip saddr 192.0.2.9 drop"));
        free(run_nft("add chain ip ok in '{ type filter hook input priority 0; policy drop; }'"));

        ASSERT_OK(nft_chain_ref_parse("inet adm guard", &adm));
        ASSERT_OK(nft_chain_ref_parse("ip fw2 f", &fw2));
        ASSERT_ERROR(nft_chain_ref_parse("ip6 adm fwd", &bad), EINVAL);
        ASSERT_ERROR(nft_chain_ref_parse("inet adm", &bad), EINVAL);
        ASSERT_ERROR(nft_chain_ref_parse("inet adm guard x", &bad), EINVAL);
        ASSERT_ERROR(nft_chain_ref_parse("inet  fwd", &bad), EINVAL);

        OK(nft_forward_blockers(NULL, bridges, &blockers, &err));
        STRV_FOREACH (b, blockers)
                fprintf(stderr, "blocker: %s\n", *b);
        ASSERT_EQ(strv_length(blockers), 2U);
        ASSERT_TRUE(strv_contains(blockers, "inet adm guard (policy drop)"));
        ASSERT_TRUE(strv_contains(blockers, "ip fw2 f (its last rule drops everything)"));
        blockers = strv_free(blockers);
        OK(nft_forward_blockers(&adm, bridges, &blockers, &err));
        ASSERT_EQ(strv_length(blockers), 1U);
        blockers = strv_free(blockers);

        /* the administrator's own accept of a bridge by name: not a blocker any more */
        free(run_nft("insert rule ip fw2 f iifname \"br-t1\" accept"));
        OK(nft_forward_blockers(&adm, bridges, &blockers, &err));
        ASSERT_NULL(blockers);
        OK(nft_forward_blockers(&adm, one, &blockers, &err)); /* another bridge's accept does not count */
        ASSERT_EQ(strv_length(blockers), 1U);
        blockers = strv_free(blockers);
        free(run_nft("flush chain ip fw2 f"));
        free(run_nft("add rule ip fw2 f ip saddr 192.0.2.1 accept"));
        free(run_nft("add rule ip fw2 f counter reject"));

        /* the opt-in: two rules per bridge at the head of the named chain, once */
        ASSERT_EQ(nft_forward_accept_sync(&adm, bridges, false, &err), 4);
        ASSERT_EQ(nft_forward_accept_sync(&adm, bridges, false, &err), 0);
        ASSERT_EQ(nft_forward_accept_sync(&adm, bridges, true, &err), 0);
        _cleanup_free_ char *l = run_nft("list chain inet adm guard");
        ASSERT_EQ(count_lines_with(l, "comment \"cbox: accept "), 4U);
        ASSERT_NOT_NULL(strstr(l, "iifname \"cbox0\" accept comment \"cbox: accept from cbox0\""));
        ASSERT_NOT_NULL(strstr(l, "oifname \"br-t1\" accept comment \"cbox: accept to br-t1\""));
        /* inserted before the administrator's rule */
        ASSERT_TRUE(strstr(l, "cbox: accept") < strstr(l, "ct state established,related accept"));
        ASSERT_NOT_NULL(strstr(l, "policy drop"));

        /* pruning: a bridge gone, then the opt-in moved to another chain, then withdrawn */
        ASSERT_EQ(nft_forward_accept_sync(&adm, one, true, &err), 2);
        ASSERT_EQ(nft_forward_accept_sync(&fw2, one, true, &err), 4); /* 2 deleted, 2 added */
        free(l);
        l = run_nft("list ruleset");
        ASSERT_EQ(count_lines_with(l, "comment \"cbox: accept "), 2U);
        ASSERT_EQ(nft_forward_accept_sync(NULL, NULL, true, &err), 2);
        free(l);
        l = run_nft("list ruleset");
        ASSERT_EQ(count_lines_with(l, "cbox: accept"), 0U);
        /* the administrator's own rules and policies are as they were */
        ASSERT_NOT_NULL(strstr(l, "ct state established,related accept"));
        ASSERT_NOT_NULL(strstr(l, "counter packets 0 bytes 0 reject"));
        ASSERT_NOT_NULL(strstr(l, "ip saddr 192.0.2.9 drop"));
        ASSERT_EQ(count_lines_with(l, "policy drop"), 2U);

        ASSERT_OK(nft_chain_ref_parse("inet adm nosuch", &bad));
        ASSERT_ERROR(nft_forward_accept_sync(&bad, one, false, &err), ENOENT);
        fprintf(stderr, "missing chain: %s\n", strna(err.message));
        ASSERT_NOT_NULL(strstr(strna(err.message), "no chain inet adm nosuch"));
        nft_error_done(&err);

        /* the traffic test below forwards through this namespace */
        free(run_nft("delete table inet adm"));
        free(run_nft("delete table ip fw2"));
        free(run_nft("delete table ip ok"));
}

/* ---- real traffic through the maps ---- */

typedef struct SockReq {
        int netns_fd, type, fd;
} SockReq;

static void *socket_thread(void *p) {
        SockReq *q = p;
        if (setns(q->netns_fd, CLONE_NEWNET) < 0)
                return NULL;
        q->fd = socket(AF_INET, q->type | SOCK_CLOEXEC, 0);
        return NULL;
}

/* A socket living in netns_fd's namespace (-1: ours), with 3 s timeouts. */
static int socket_in(int netns_fd, int type) {
        SockReq q = { .netns_fd = netns_fd, .type = type, .fd = -1 };
        struct timeval tv = { .tv_sec = 3 };
        pthread_t t;

        if (netns_fd < 0)
                q.fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
        else {
                ASSERT_EQ(pthread_create(&t, NULL, socket_thread, &q), 0);
                ASSERT_EQ(pthread_join(t, NULL), 0);
        }
        ASSERT_TRUE(q.fd >= 0);
        ASSERT_OK(setsockopt(q.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
        ASSERT_OK(setsockopt(q.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)));
        return q.fd;
}

static struct sockaddr_in SA(const char *ip, uint16_t port) {
        return (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr = A(ip), .sin_port = htons(port) };
}

static int
listener(int netns_fd, int type, uint16_t port) {
        int fd = socket_in(netns_fd, type), one = 1;
        struct sockaddr_in sa = SA("0.0.0.0", port);
        ASSERT_OK(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
        ASSERT_OK(bind(fd, (struct sockaddr *) &sa, sizeof(sa)));
        if (type == SOCK_STREAM)
                ASSERT_OK(listen(fd, 16));
        return fd;
}

/* Connects from client_ns to ip:port over TCP; the server (listening fd srv) accepts and we return
 * the peer address it saw, or NULL when the connection did not arrive. */
static char *tcp_probe(int client_ns, const char *ip, uint16_t port, int srv) {
        _cleanup_close_ int c = socket_in(client_ns, SOCK_STREAM), a = -EBADF;
        struct sockaddr_in sa = SA(ip, port), peer = {};
        socklen_t pl = sizeof(peer);
        struct pollfd pfd = { .fd = srv, .events = POLLIN };
        char buf[INET_ADDRSTRLEN];

        if (connect(c, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                fprintf(stderr, "connect to %s:%u: %m\n", ip, port);
                return NULL;
        }
        if (poll(&pfd, 1, 3000) != 1) {
                fprintf(stderr, "connection to %s:%u went elsewhere\n", ip, port);
                return NULL;
        }
        a = accept4(srv, (struct sockaddr *) &peer, &pl, SOCK_CLOEXEC);
        if (a < 0)
                return NULL;
        /* the reply travels back through the reverse NAT */
        ASSERT_EQ(write(a, "hi", 2), 2);
        ASSERT_EQ(read(c, buf, 2), 2);
        return strdup(inet_ntop(AF_INET, &peer.sin_addr, buf, sizeof(buf)));
}

static char *udp_probe(int client_ns, const char *ip, uint16_t port, int srv) {
        _cleanup_close_ int c = socket_in(client_ns, SOCK_DGRAM);
        struct sockaddr_in sa = SA(ip, port), peer = {};
        socklen_t pl = sizeof(peer);
        struct pollfd pfd = { .fd = srv, .events = POLLIN };
        char buf[INET_ADDRSTRLEN];

        if (sendto(c, "q", 1, 0, (struct sockaddr *) &sa, sizeof(sa)) != 1)
                return NULL;
        if (poll(&pfd, 1, 1500) != 1)
                return NULL;
        ASSERT_EQ(recvfrom(srv, buf, sizeof(buf), 0, (struct sockaddr *) &peer, &pl), 1);
        ASSERT_EQ(sendto(srv, "r", 1, 0, (struct sockaddr *) &peer, pl), 1);
        ASSERT_EQ(recv(c, buf, 1, 0), 1);
        return strdup(inet_ntop(AF_INET, &peer.sin_addr, buf, sizeof(buf)));
}

/* ---- a raw frame to the gateway's MAC (CVE-2020-8558) ---- */

typedef struct RawReq {
        int netns_fd, fd, ifindex;
} RawReq;

static void *raw_thread(void *p) {
        RawReq *q = p;
        if (setns(q->netns_fd, CLONE_NEWNET) < 0)
                return NULL;
        q->fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
        q->ifindex = (int) if_nametoindex("eth0");
        return NULL;
}

/* From the namespace netns_fd, out of its eth0: an IPv4/UDP frame saddr -> daddr:port addressed to the
 * MAC of the host's link `bridge`, as a container with CAP_NET_RAW can send it. */
static void raw_send(int netns_fd, const char *bridge, const char *saddr, const char *daddr, uint16_t port,
                     const char *payload) {
        static uint16_t sport = 40000; /* a fresh conntrack tuple each time */
        RawReq q = { .netns_fd = netns_fd, .fd = -1 };
        struct sockaddr_ll sll = { .sll_family = AF_PACKET,
                                   .sll_protocol = htons(ETH_P_IP),
                                   .sll_halen = 6 };
        struct ifreq ifr = {};
        uint8_t frame[256];
        pthread_t t;
        size_t n;
        int s;

        s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_TRUE(s >= 0);
        strncpy(ifr.ifr_name, bridge, IFNAMSIZ - 1);
        ASSERT_OK(ioctl(s, SIOCGIFHWADDR, &ifr));
        close(s);
        memcpy(sll.sll_addr, ifr.ifr_hwaddr.sa_data, 6);
        ASSERT_EQ(pthread_create(&t, NULL, raw_thread, &q), 0);
        ASSERT_EQ(pthread_join(t, NULL), 0);
        ASSERT_TRUE(q.fd >= 0 && q.ifindex > 0);
        sll.sll_ifindex = q.ifindex;
        n = raw_udp_build(frame, sizeof(frame), A(saddr).s_addr, A(daddr).s_addr, htons(sport++),
                          htons(port), payload, strlen(payload));
        ASSERT_TRUE(n > 0);
        ASSERT_EQ(sendto(q.fd, frame, n, 0, (struct sockaddr *) &sll, sizeof(sll)), (ssize_t) n);
        close(q.fd);
}

/* The next datagram on srv, "" when none within 3 s (a failure for every caller that expects one) */
static char *recv_payload(int srv, int timeout_ms) {
        struct pollfd pfd = { .fd = srv, .events = POLLIN };
        char buf[64];
        ssize_t k;

        if (poll(&pfd, 1, timeout_ms) != 1)
                return strdup("");
        k = recv(srv, buf, sizeof(buf) - 1, 0);
        ASSERT_TRUE(k >= 0);
        buf[k] = 0;
        return strdup(buf);
}

static int udp_bound(const char *ip, uint16_t port) {
        struct sockaddr_in sa = SA(ip, port);
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(bind(fd, (struct sockaddr *) &sa, sizeof(sa)));
        return fd;
}

/* A host service on 127.0.0.1 and one on the gateway address; c1 sends through the gateway's MAC.
 * Without cbox's bridge in @bridges (protected = false) the loopback frame arrives: the probe works
 * and route_localnet really lets it in. With it, only the controls to the gateway address arrive: the
 * loopback frames are dropped. Frames on one veth keep their order, so once the control and a second
 * control have arrived, a loopback datagram that was let in would be queued already. */
static void localnet_round(int c1, bool protected) {
        _cleanup_close_ int lo = udp_bound("127.0.0.1", 7777), gw = udp_bound("10.201.0.1", 7777);

        if (!protected) { /* the probe gets through: at least one of a few frames */
                for (int i = 0; i < 5; i++) {
                        raw_send(c1, "cbt1", "10.201.0.2", "127.0.0.1", 7777, "loop");
                        _cleanup_free_ char *l = recv_payload(lo, 1000);
                        fprintf(stderr, "raw frame to 127.0.0.1 via the gateway's MAC, unprotected: '%s'\n",
                                l);
                        if (streq(l, "loop"))
                                return;
                }
                ASSERT_TRUE(false); /* the control failed: the probe proves nothing */
        }
        for (int i = 0; i < 3; i++)
                raw_send(c1, "cbt1", "10.201.0.2", "127.0.0.1", 7777, "loop");
        raw_send(c1, "cbt1", "10.201.0.2", "10.201.0.1", 7777, "ctrl");
        _cleanup_free_ char *c = recv_payload(gw, 3000);
        ASSERT_STREQ(c, "ctrl");
        raw_send(c1, "cbt1", "10.201.0.2", "10.201.0.1", 7777, "ctrl2");
        _cleanup_free_ char *c2 = recv_payload(gw, 3000);
        ASSERT_STREQ(c2, "ctrl2");
        _cleanup_free_ char *l = recv_payload(lo, 0);
        fprintf(stderr, "3 raw frames to 127.0.0.1 via the gateway's MAC, cbt1 in @bridges: '%s'\n", l);
        ASSERT_STREQ(l, "");
}

static int new_netns(void) {
        int p[2], fd, st;
        pid_t pid;
        char c;
        _cleanup_free_ char *path = NULL;

        ASSERT_OK(pipe2(p, O_CLOEXEC));
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                if (unshare(CLONE_NEWNET) < 0)
                        _exit(1);
                (void) write(p[1], "x", 1);
                pause();
                _exit(0);
        }
        ASSERT_EQ(read(p[0], &c, 1), 1);
        path = strprintf("/proc/%d/ns/net", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(kill(pid, SIGKILL));
        ASSERT_TRUE(waitpid(pid, &st, 0) == pid);
        close(p[0]);
        close(p[1]);
        return fd;
}

static void expect_peer(char *got, const char *want, const char *what) {
        if (!want) {
                if (got)
                        TEST_FAIL("%s: expected no connection, but it arrived from %s", what, got);
                fprintf(stderr, "ok: %s: not reachable\n", what);
                return;
        }
        if (!got)
                TEST_FAIL("%s: connection did not arrive", what);
        if (!streq(got, want))
                TEST_FAIL("%s: peer %s, expected %s", what, got, want);
        fprintf(stderr, "ok: %s: arrived from %s\n", what, got);
        free(got);
}

/* One full round; br_netfilter: whether bridged frames are handed to the IP hooks in the "host"
 * namespace (bridge-nf-call-iptables is per namespace), which changes how the hairpin path works. */
static void traffic_round(bool br_netfilter) {
        _cleanup_netlink_free_ Netlink *nl = NULL;
        NetlinkError nerr = {};
        NftError err = {};
        _cleanup_close_ int c1 = -EBADF, c2 = -EBADF, cl = -EBADF;
        struct in_addr gw = A("10.201.0.1"), up = A("192.168.77.1"), sub = A("10.201.0.0");
        struct in_addr a1 = A("10.201.0.2"), a2 = A("10.201.0.3"), acl = A("192.168.77.2");

        fprintf(stderr, "-- round with bridge-nf-call-iptables=%d\n", br_netfilter);
        if (access("/proc/sys/net/bridge/bridge-nf-call-iptables", F_OK) >= 0)
                ASSERT_OK(write_string_file("/proc/sys/net/bridge/bridge-nf-call-iptables",
                                            br_netfilter ? "1" : "0"));
        ASSERT_OK(netlink_open(&nl));
        ASSERT_OK(netlink_link_set_up(nl, "lo", true, &nerr));
        /* "host": container bridge + an uplink bridge towards the "client"/"outside" peer */
        ASSERT_OK(netlink_bridge_ensure(nl, "cbt1", &gw, 24, &nerr));
        ASSERT_OK(netlink_bridge_ensure(nl, "cbt-up", &up, 24, &nerr));
        ASSERT_OK(netlink_sysctl_ip_forward());
        ASSERT_OK(netlink_sysctl_route_localnet("cbt1"));
        c1 = new_netns();
        c2 = new_netns();
        cl = new_netns();
        ASSERT_OK(netlink_veth_create(nl, "vb-c1", "cbt1", c1, "eth0", NULL, &nerr));
        ASSERT_OK(netlink_veth_create(nl, "vb-c2", "cbt1", c2, "eth0", NULL, &nerr));
        ASSERT_OK(netlink_veth_create(nl, "vb-client", "cbt-up", cl, "eth0", NULL, &nerr));
        ASSERT_OK(netlink_container_configure(c1, "eth0", &a1, 24, &gw, &nerr));
        ASSERT_OK(netlink_container_configure(c2, "eth0", &a2, 24, &gw, &nerr));
        ASSERT_OK(netlink_container_configure(cl, "eth0", &acl, 24, NULL, &nerr)); /* no route back */

        localnet_round(c1, false);
        OK(nft_subnet_add(&sub, 24, true, "cbt1", &err));
        localnet_round(c1, true);
        NftPortMap ports[] = {
                PM(8080, 80, IPPROTO_TCP),
                { .host_address = A("127.0.0.1"),
                  .host_port = 5353,
                  .host_port_end = 5353,
                  .container_port = 53,
                  .container_port_end = 53,
                  .protocol = IPPROTO_UDP },
                PM(6000, 60, IPPROTO_UDP),
                { .host_port = 9000,
                  .host_port_end = 9002,
                  .container_port = 9000,
                  .container_port_end = 9002,
                  .protocol = IPPROTO_TCP },
        };
        OK(nft_ports_add("c1", &a1, ports, ELEMENTSOF(ports), &err));

        _cleanup_close_ int t80 = listener(c1, SOCK_STREAM, 80), t9001 = listener(c1, SOCK_STREAM, 9001),
                            u53 = listener(c1, SOCK_DGRAM, 53), u60 = listener(c1, SOCK_DGRAM, 60),
                            out = listener(cl, SOCK_STREAM, 9999);

        expect_peer(tcp_probe(cl, "192.168.77.1", 8080, t80), "192.168.77.2",
                    "client -> host:8080/tcp (prerouting)");
        expect_peer(tcp_probe(-1, "127.0.0.1", 8080, t80), "10.201.0.1",
                    "host -> localhost:8080/tcp (output)");
        expect_peer(tcp_probe(-1, "192.168.77.1", 8080, t80), "192.168.77.1",
                    "host -> own address:8080/tcp");
        expect_peer(tcp_probe(c2, "192.168.77.1", 8080, t80), "10.201.0.1",
                    "other container -> host:8080 (hairpin)");
        expect_peer(tcp_probe(c1, "10.201.0.1", 8080, t80), "10.201.0.1",
                    "container -> own port via gateway");
        expect_peer(tcp_probe(cl, "192.168.77.1", 9001, t9001), "192.168.77.2",
                    "client -> host:9001 (range)");
        expect_peer(udp_probe(cl, "192.168.77.1", 6000, u60), "192.168.77.2", "client -> host:6000/udp");
        expect_peer(udp_probe(-1, "127.0.0.1", 5353, u53), "10.201.0.1", "host -> 127.0.0.1:5353/udp bind");
        expect_peer(udp_probe(cl, "192.168.77.1", 5353, u53), NULL,
                    "client -> host:5353/udp (bound to 127.0.0.1)");
        expect_peer(tcp_probe(c1, "192.168.77.2", 9999, out), "192.168.77.1",
                    "container -> outside (masquerade)");

        /* masquerade = false for the network: outbound traffic keeps the container's address */
        OK(nft_subnet_add(&sub, 24, false, NULL, &err));
        {
                _cleanup_close_ int rx = listener(cl, SOCK_DGRAM, 9998), tx = socket_in(c1, SOCK_DGRAM);
                struct sockaddr_in to = SA("192.168.77.2", 9998), peer = {};
                socklen_t pl = sizeof(peer);
                char b[INET_ADDRSTRLEN];
                ASSERT_EQ(sendto(tx, "x", 1, 0, (struct sockaddr *) &to, sizeof(to)), 1);
                ASSERT_EQ(recvfrom(rx, b, sizeof(b), 0, (struct sockaddr *) &peer, &pl), 1);
                expect_peer(strdup(inet_ntop(AF_INET, &peer.sin_addr, b, sizeof(b))), "10.201.0.2",
                            "container -> outside with masquerade = false");
        }
        OK(nft_subnet_add(&sub, 24, true, NULL, &err));

        /* removal: the port stops working, the skeleton stays */
        ASSERT_EQ(nft_ports_remove_owner("c1", &err), (int) ELEMENTSOF(ports));
        expect_peer(tcp_probe(cl, "192.168.77.1", 8080, t80), NULL, "client -> host:8080 after removal");
        ASSERT_EQ(list_cbox().rules, 11);

        ASSERT_OK(netlink_link_delete(nl, "vb-c1", &nerr));
        ASSERT_OK(netlink_link_delete(nl, "vb-c2", &nerr));
        ASSERT_OK(netlink_link_delete(nl, "vb-client", &nerr));
        OK(nft_subnet_remove(&sub, 24, &err));
        ASSERT_OK(netlink_link_delete(nl, "cbt1", &nerr));
        ASSERT_OK(netlink_link_delete(nl, "cbt-up", &nerr));
        OK(nft_table_delete(&err));
}

TEST(traffic) {
        enter_private_netns();
        if (access("/proc/sys/net/bridge/bridge-nf-call-iptables", F_OK) < 0) {
                fprintf(stderr, "br_netfilter not loaded: one round without it\n");
                traffic_round(false);
                return;
        }
        traffic_round(true);
        traffic_round(false);
}

static double now_ms(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double) t.tv_sec * 1e3 + (double) t.tv_nsec / 1e6;
}

TEST(scale) {
        NftError err = {};
        struct in_addr ca = A("10.88.1.2");
        static NftPortMap many[1000];
        unsigned sizes[] = { 1, 32, 100 };
        unsigned base = 30000;
        double t;

        enter_private_netns();
        OK(nft_table_ensure(&err));
        /* containers with 1, 32 and 100 ports: the same number of rules */
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                _cleanup_free_ char *owner = strprintf("scale%zu", i);
                for (unsigned k = 0; k < sizes[i]; k++)
                        many[k] = PM((uint16_t) (base + k), 80, IPPROTO_TCP);
                base += sizes[i];
                t = now_ms();
                OK(nft_ports_add(owner, &ca, many, sizes[i], &err));
                t = now_ms() - t;
                Listing l = list_cbox();
                fprintf(stderr, "%3u ports: one batch in %.2f ms; table has %u rules, %u elements\n",
                        sizes[i], t, l.rules, l.elems);
                ASSERT_EQ(l.rules, 11);
        }
        /* cost of one more port as the maps grow */
        for (unsigned round = 0; round < 3; round++) {
                _cleanup_free_ char *owner = strprintf("bulk%u", round);
                for (unsigned k = 0; k < 1000; k++)
                        many[k] = PM((uint16_t) (base + k), 80, IPPROTO_UDP);
                base += 1000;
                OK(nft_ports_add(owner, &ca, many, 1000, &err));
                t = now_ms();
                uint16_t port = (uint16_t) base++;
                NftPortMap one = PM(port, 80, IPPROTO_UDP);
                OK(nft_ports_add("single", &ca, &one, 1, &err));
                t = now_ms() - t;
                fprintf(stderr, "1 port with %u existing elements: %.2f ms\n",
                        133 + (round + 1) * 1000 + round, t);
        }
        /* a shifted range expands to one element per port: 50001 elements, checked in n log n */
        NftPortMap wide = { .host_port = 10000,
                            .host_port_end = 60000,
                            .container_port = 10001,
                            .container_port_end = 60001,
                            .protocol = IPPROTO_TCP };
        t = now_ms();
        ASSERT_ERROR(nft_ports_check("wide", &wide, 1, &err), EADDRINUSE); /* 30000.. are taken */
        fprintf(stderr, "checking a 50001-port shifted range against %u elements: %.2f ms (%s)\n", 3136,
                now_ms() - t, err.message);
        nft_error_done(&err);
        wide.host_port = 40000;
        wide.container_port = 40001;
        t = now_ms();
        OK(nft_ports_add("wide", &ca, &wide, 1, &err));
        fprintf(stderr, "adding a 20001-port shifted range: %.2f ms\n", now_ms() - t);
        /* Right after a big insert the kernel resizes the map's rhashtable in the background, and a dump
         * walking it meanwhile may repeat or skip entries (seen on 6.18: ±60 of 20001) without flagging
         * itself interrupted. nft_ports_list reads until two dumps agree: exact at once. */
        t = now_ms();
        ASSERT_EQ(count_owner("wide"), 20001);
        fprintf(stderr, "listing right after the insert: %.2f ms\n", now_ms() - t);
        ASSERT_EQ(nft_ports_remove_owner("wide", &err), 20001);
        t = now_ms();
        ASSERT_EQ(nft_ports_remove_owner("bulk0", &err), 1000);
        fprintf(stderr, "removing 1000 ports of one owner: %.2f ms\n", now_ms() - t);
        OK(nft_table_delete(&err));
}

TEST_MAIN();
