/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs entirely inside network namespaces this test creates: the test process unshares its own
 * ("host") namespace first, and "container" namespaces are created by short-lived children. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "fileio.h"
#include "netlink.h"
#include "string-util.h"
#include "tests.h"

static struct in_addr A(const char *s) {
        struct in_addr a;
        ASSERT_EQ(inet_pton(AF_INET, s, &a), 1);
        return a;
}

/* Runs a checking command (the ip CLI) in our namespace; returns its stdout. */
static char *
run(const char *cmd) {
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
        if (unshare(CLONE_NEWNET) < 0)
                TEST_SKIP("unshare(CLONE_NEWNET) failed: %s", strerror(errno));
        done = true;
}

/* A fresh network namespace, returned as an fd; no process stays inside it. */
static int new_netns(void) {
        int p[2];
        pid_t pid;
        char c;
        int fd, st;
        _cleanup_free_ char *path = NULL;

        ASSERT_OK(pipe2(p, O_CLOEXEC));
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                if (unshare(CLONE_NEWNET) < 0)
                        _exit(1);
                (void) write(p[1], "x", 1);
                (void) read(p[1], &c, 1); /* fails at once (write end); just a barrier for the parent */
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

TEST(concurrent_bridge_ensure) {
        /* 6 processes ensure the same bridge at once: all succeed, one bridge with one address */
        enum { P = 6 };
        _cleanup_netlink_free_ Netlink *nl = NULL;
        NetlinkError err = {};
        struct in_addr gw = A("10.202.0.1");

        enter_private_netns();
        for (int p = 0; p < P; p++) {
                pid_t pid = fork();
                ASSERT_TRUE(pid >= 0);
                if (pid == 0) {
                        Netlink *cnl = NULL;
                        int r = netlink_open(&cnl);
                        if (r >= 0)
                                r = netlink_bridge_ensure(cnl, "cbt-race", &gw, 24, NULL);
                        netlink_free(cnl);
                        _exit(r < 0 ? 1 : 0);
                }
        }
        for (int p = 0; p < P; p++) {
                int st;
                ASSERT_TRUE(wait(&st) > 0);
                ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        _cleanup_free_ char *a = run("ip -4 -o addr show dev cbt-race | wc -l");
        ASSERT_STREQ(a, "1\n");
        ASSERT_OK(netlink_open(&nl));
        ASSERT_EQ(netlink_bridge_ensure(nl, "cbt-race", &gw, 24, &err), 0);
        ASSERT_OK(netlink_link_delete(nl, "cbt-race", &err));
}

TEST(veth_name) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL, *f = NULL, *g = NULL,
                            *h = NULL;

        ASSERT_OK(netlink_veth_name("web", 0, &a));
        ASSERT_STREQ(a, "vb-web");
        ASSERT_OK(netlink_veth_name("abcdefghijk", 0, &b)); /* 11: fits */
        ASSERT_STREQ(b, "vb-abcdefghijk");
        ASSERT_OK(netlink_veth_name("my-database-primary", 0, &c));
        ASSERT_OK(netlink_veth_name("my-database-replica", 0, &d));
        ASSERT_EQ(strlen(c), IFNAMSIZ - 1);
        ASSERT_TRUE(startswith(c, "vb-my-dat-"));
        ASSERT_FALSE(streq(c, d));
        /* the 20-bit hash collides (the pair of issue 12): the first candidates are one name, the
         * next attempt of either is another */
        ASSERT_OK(netlink_veth_name("webapp-02098x", 0, &e));
        ASSERT_OK(netlink_veth_name("webapp-07084x", 0, &f));
        ASSERT_STREQ(e, f);
        ASSERT_OK(netlink_veth_name("webapp-07084x", 1, &g));
        ASSERT_FALSE(streq(g, e));
        ASSERT_EQ(strlen(g), IFNAMSIZ - 1);
        /* a short name's later attempts are hashed forms too, never another name's short form */
        ASSERT_OK(netlink_veth_name("web", 1, &h));
        ASSERT_EQ(strlen(h), IFNAMSIZ - 1);
        ASSERT_TRUE(startswith(h, "vb-web-"));
        ASSERT_ERROR(netlink_veth_name("a/b", 0, &a), EINVAL);
        ASSERT_ERROR(netlink_veth_name("", 0, &a), EINVAL);
}

TEST(sysctl) {
        _cleanup_free_ char *v = NULL;

        enter_private_netns();
        ASSERT_ERROR(netlink_sysctl_write("kernel/hostname", "x"), EINVAL);
        ASSERT_ERROR(netlink_sysctl_write("net/../kernel/hostname", "x"), EINVAL);
        ASSERT_ERROR(netlink_sysctl_write("net//ipv4", "x"), EINVAL);
        /* our private namespace's ip_forward, never the host's */
        ASSERT_OK(netlink_sysctl_write("net.ipv4.ip_forward", "0"));
        ASSERT_EQ(netlink_sysctl_ip_forward(), 1);
        ASSERT_EQ(netlink_sysctl_ip_forward(), 0);
        ASSERT_OK(read_one_line_file("/proc/sys/net/ipv4/ip_forward", &v));
        ASSERT_STREQ(v, "1");
        ASSERT_ERROR(netlink_sysctl_route_localnet("nosuchbr0"), ENOENT);
        ASSERT_ERROR(netlink_sysctl_route_localnet("all"), EINVAL);
}

typedef struct Sender {
        int netns_fd;
        struct in_addr to;
        uint16_t port;
        int r;
} Sender;

static void *send_from_netns(void *p) {
        Sender *s = p;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = s->to, .sin_port = htons(s->port) };
        int fd;

        if (setns(s->netns_fd, CLONE_NEWNET) < 0) {
                s->r = -errno;
                return NULL;
        }
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || sendto(fd, "ping", 4, 0, (struct sockaddr *) &sa, sizeof(sa)) != 4)
                s->r = -errno;
        if (fd >= 0)
                close(fd);
        return NULL;
}

/* A Linux bridge has port numbers 1..1023: the 1024th veth is refused with a clear error and left nowhere */
TEST(bridge_full) {
        _cleanup_netlink_free_ Netlink *nl = NULL;
        _cleanup_strv_free_ char **links = NULL;
        _cleanup_close_ int ns = -EBADF;
        NetlinkError err = {};
        struct in_addr gw = A("10.201.0.1");
        char host[IFNAMSIZ], peer[IFNAMSIZ];
        int i, r = 0;

        enter_private_netns();
        ASSERT_OK(netlink_open(&nl));
        ASSERT_EQ(netlink_bridge_ensure(nl, "cbt-full", &gw, 16, &err), 1);
        ns = new_netns();
        for (i = 0; i < 1100; i++) {
                snprintf(host, sizeof(host), "vbf%d", i);
                snprintf(peer, sizeof(peer), "p%d", i);
                r = netlink_veth_create(nl, host, "cbt-full", ns, peer, NULL, &err);
                if (r < 0)
                        break;
        }
        fprintf(stderr, "veth %d: %s\n", i, strna(err.message));
        ASSERT_EQ(i, 1023);
        ASSERT_ERROR(r, EXFULL);
        ASSERT_NOT_NULL(strstr(err.message, "bridge 'cbt-full' is full"));
        netlink_error_done(&err);
        ASSERT_OK(netlink_link_list(nl, &links, &err));
        ASSERT_FALSE(strv_contains(links, "vbf1023"));
        ASSERT_TRUE(strv_contains(links, "vbf1022"));
        /* closing the peers' namespace takes the pairs with it, in one batch (deleting 1023 links one
         * by one costs ~20 s of RCU grace periods) */
        ns = safe_close(ns);
        ASSERT_OK(netlink_link_delete(nl, "cbt-full", &err));
}

TEST(bridge_veth_traffic) {
        _cleanup_netlink_free_ Netlink *nl = NULL, *cnl = NULL;
        NetlinkError err = {};
        _cleanup_close_ int ns = -EBADF, ns2 = -EBADF, srv = -EBADF;
        _cleanup_strv_free_ char **links = NULL, **clinks = NULL;
        struct in_addr gw = A("10.200.0.1"), ca = A("10.200.0.2");
        char buf[16], ab[INET_ADDRSTRLEN];
        struct sockaddr_in from = {},
                           sa = { .sin_family = AF_INET, .sin_addr = gw, .sin_port = htons(4242) };
        socklen_t fl = sizeof(from);
        pthread_t t;
        Sender s;
        int r;

        enter_private_netns();
        ASSERT_OK(netlink_open(&nl));

        /* bridge: created, then idempotent, then a different address is refused */
        ASSERT_EQ(netlink_bridge_ensure(nl, "cbt0", &gw, 24, &err), 1);
        ASSERT_EQ(netlink_bridge_ensure(nl, "cbt0", &gw, 24, &err), 0);
        ASSERT_ERROR(netlink_bridge_ensure(nl, "cbt0", &ca, 24, &err), EEXIST);
        ASSERT_NOT_NULL(err.message);
        fprintf(stderr, "expected refusal: %s\n", err.message);
        netlink_error_done(&err);
        ASSERT_ERROR(netlink_bridge_ensure(nl, "lo", &gw, 24, &err), EEXIST);
        netlink_error_done(&err);
        ASSERT_EQ(netlink_sysctl_route_localnet("cbt0"), 1);
        /* a fixed, locally administered MAC that does not follow its ports (checked with the ip CLI:
         * /sys/class/net shows the host's namespace) */
        _cleanup_free_ char *mac = run("ip -br link show cbt0");
        ASSERT_NOT_NULL(strstr(mac, " 02:cb:"));

        /* veth: peer created directly in the container namespace as eth0 */
        ns = new_netns();
        ASSERT_OK(netlink_veth_create(nl, "vb-test", "cbt0", ns, "eth0", NULL, &err));
        ASSERT_ERROR(netlink_veth_create(nl, "vb-test", "cbt0", ns, "eth0", NULL, &err), EEXIST);
        netlink_error_done(&err);
        ASSERT_ERROR(netlink_veth_create(nl, "vb-x", "nosuchbr", ns, "eth0", NULL, &err), ENODEV);
        netlink_error_done(&err);
        ASSERT_OK(netlink_link_list(nl, &links, &err));
        ASSERT_TRUE(strv_contains(links, "vb-test"));
        ASSERT_FALSE(strv_contains(links, "eth0"));
        ASSERT_TRUE(netlink_link_ifindex(nl, "vb-test", &err) > 0);
        /* hairpin exactly when br_netfilter is active in this namespace */
        _cleanup_free_ char *nf = NULL, *hp = run("ip -d link show vb-test");
        bool brnf = read_one_line_file("/proc/sys/net/bridge/bridge-nf-call-iptables", &nf) >= 0 &&
                streq(nf, "1");
        ASSERT_NOT_NULL(strstr(hp, brnf ? "hairpin on" : "hairpin off"));
        _cleanup_free_ char *mac2 = run("ip -br link show cbt0");
        ASSERT_STREQ(mac2, mac); /* the bridge kept its MAC with a port added */

        ASSERT_OK(netlink_container_configure(ns, "eth0", &ca, 24, &gw, &err));
        ASSERT_OK(netlink_container_configure(ns, "eth0", &ca, 24, &gw, &err)); /* idempotent */
        struct stat before, after;
        ASSERT_OK(stat("/proc/thread-self/ns/net", &before));
        ASSERT_OK(netlink_open_in_netns(ns, &cnl));
        ASSERT_OK(stat("/proc/thread-self/ns/net", &after)); /* back in its own namespace */
        ASSERT_TRUE(before.st_ino == after.st_ino && before.st_dev == after.st_dev);
        ASSERT_OK(netlink_link_list(cnl, &clinks, &err));
        ASSERT_TRUE(strv_contains(clinks, "eth0"));
        ASSERT_TRUE(strv_contains(clinks, "lo"));
        ASSERT_EQ(strv_length(clinks), 2);

        /* a real packet: UDP from the container to the gateway address on the bridge */
        srv = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_TRUE(srv >= 0);
        ASSERT_OK(bind(srv, (struct sockaddr *) &sa, sizeof(sa)));
        s = (Sender){ .netns_fd = ns, .to = gw, .port = 4242 };
        ASSERT_OK(-pthread_create(&t, NULL, send_from_netns, &s));
        ASSERT_OK(-pthread_join(t, NULL));
        ASSERT_OK(s.r);
        struct timeval tv = { .tv_sec = 5 };
        ASSERT_OK(setsockopt(srv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
        r = (int) recvfrom(srv, buf, sizeof(buf), 0, (struct sockaddr *) &from, &fl);
        ASSERT_EQ(r, 4);
        ASSERT_STREQ(inet_ntop(AF_INET, &from.sin_addr, ab, sizeof(ab)), "10.200.0.2");

        /* the kernel's extended ack is surfaced: an unreachable gateway */
        ns2 = new_netns();
        ASSERT_OK(netlink_veth_create(nl, "vb-test2", "cbt0", ns2, "eth0", NULL, &err));
        struct in_addr ca2 = A("10.200.0.3"), badgw = A("10.99.0.1");
        r = netlink_container_configure(ns2, "eth0", &ca2, 24, &badgw, &err);
        ASSERT_TRUE(r < 0);
        ASSERT_EQ(err.error, r);
        ASSERT_NOT_NULL(err.message);
        fprintf(stderr, "kernel said (%s): %s\n", strerror(-r), err.message);
        netlink_error_done(&err);

        /* delete: the pair goes away, the second time -ENODEV */
        ASSERT_OK(netlink_link_delete(nl, "vb-test", &err));
        ASSERT_ERROR(netlink_link_delete(nl, "vb-test", &err), ENODEV);
        netlink_error_done(&err);
        ASSERT_ERROR(netlink_link_ifindex(nl, "vb-test", &err), ENODEV);
        netlink_error_done(&err);
        clinks = strv_free(clinks);
        ASSERT_OK(netlink_link_list(cnl, &clinks, &err));
        ASSERT_FALSE(strv_contains(clinks, "eth0"));
        ASSERT_OK(netlink_link_delete(nl, "vb-test2", &err));
        ASSERT_OK(netlink_link_delete(nl, "cbt0", &err));
        ASSERT_OK(netlink_loopback_up(ns2, &err));
}

/* retire: down and renamed at once (no RCU barrier); the kernel deletes the pair with the peer's
 * namespace */
TEST(veth_retire) {
        _cleanup_netlink_free_ Netlink *nl = NULL;
        _cleanup_strv_free_ char **links = NULL;
        _cleanup_close_ int ns = -EBADF, ns2 = -EBADF;
        NetlinkError err = {};
        NetlinkLink li = {};
        struct in_addr gw = A("10.203.0.1");
        char tomb[IFNAMSIZ];
        int br, idx, r;

        enter_private_netns();
        ASSERT_OK(netlink_open(&nl));
        ASSERT_EQ(netlink_bridge_ensure(nl, "cbt-ret", &gw, 24, &err), 1);
        br = netlink_link_ifindex(nl, "cbt-ret", &err);
        ASSERT_TRUE(br > 0);
        ns = new_netns();
        ASSERT_OK(netlink_veth_create(nl, "vb-ret", "cbt-ret", ns, "eth0", NULL, &err));
        ASSERT_OK(netlink_link_get(nl, "vb-ret", &li, &err));
        ASSERT_STREQ(li.kind, "veth");
        ASSERT_EQ(li.master, br);
        ASSERT_TRUE(li.flags & IFF_UP);
        idx = li.ifindex;
        netlink_link_done(&li);

        ASSERT_ERROR(netlink_link_retire(nl, "vb-ret", "", NULL, &err), EINVAL);
        netlink_error_done(&err);
        ASSERT_ERROR(netlink_link_retire(nl, "vb-ret", "a-prefix-too-lon", NULL, &err), EINVAL);
        netlink_error_done(&err);
        ASSERT_EQ(netlink_link_retire(nl, "vb-ret", "vbx-", NULL, &err), idx);
        ASSERT_ERROR(netlink_link_retire(nl, "vb-ret", "vbx-", NULL, &err), ENODEV);
        netlink_error_done(&err);
        ASSERT_ERROR(netlink_link_ifindex(nl, "vb-ret", &err), ENODEV);
        netlink_error_done(&err);
        snprintf(tomb, sizeof(tomb), "vbx-%d", idx);
        ASSERT_OK(netlink_link_get(nl, tomb, &li, &err));
        ASSERT_EQ(li.ifindex, idx);
        ASSERT_FALSE(li.flags & IFF_UP);
        ASSERT_EQ(li.master, br);
        netlink_link_done(&li);
        /* the name is free for a new pair at once */
        ns2 = new_netns();
        ASSERT_OK(netlink_veth_create(nl, "vb-ret", "cbt-ret", ns2, "eth0", NULL, &err));

        /* the peer's namespace goes (the last reference was ours): the kernel deletes the pair */
        ns = safe_close(ns);
        for (int i = 0; i < 500; i++) {
                r = netlink_link_ifindex(nl, tomb, &err);
                netlink_error_done(&err);
                if (r == -ENODEV)
                        break;
                usleep(10 * 1000);
        }
        ASSERT_ERROR(r, ENODEV);
        ASSERT_OK(netlink_link_list(nl, &links, &err));
        ASSERT_FALSE(strv_contains(links, tomb));
        ASSERT_TRUE(strv_contains(links, "vb-ret"));
        ASSERT_OK(netlink_link_delete(nl, "vb-ret", &err));
        ASSERT_OK(netlink_link_delete(nl, "cbt-ret", &err));
}

/* Ownership: a link is deleted or retired only when its alias names the owner asked for */
TEST(veth_owner) {
        _cleanup_netlink_free_ Netlink *nl = NULL;
        _cleanup_close_ int ns = -EBADF, ns2 = -EBADF, ns3 = -EBADF;
        NetlinkLink *links = NULL;
        size_t n_links = 0;
        NetlinkError err = {};
        NetlinkLink li = {};
        struct in_addr gw = A("10.204.0.1");
        bool seen_a = false, seen_b = false;
        char tomb[IFNAMSIZ];
        int idx;

        enter_private_netns();
        ASSERT_OK(netlink_open(&nl));
        ASSERT_EQ(netlink_bridge_ensure(nl, "cbt-own", &gw, 24, &err), 1);
        ns = new_netns();
        ns2 = new_netns();
        ns3 = new_netns();
        ASSERT_OK(netlink_veth_create(nl, "vb-a", "cbt-own", ns, "eth0", "cbox:a", &err));
        ASSERT_OK(netlink_veth_create(nl, "vb-b", "cbt-own", ns2, "eth0", "cbox:b", &err));
        ASSERT_OK(netlink_veth_create(nl, "vb-alike", "cbt-own", ns3, "eth0", NULL, &err)); /* no mark */
        ASSERT_ERROR(netlink_veth_create(nl, "vb-c", "cbt-own", ns3, "eth1", "", &err), EINVAL);
        netlink_error_done(&err);
        ASSERT_OK(netlink_link_get(nl, "vb-a", &li, &err));
        ASSERT_STREQ(li.alias, "cbox:a");
        ASSERT_STREQ(li.name, "vb-a");
        netlink_link_done(&li);
        ASSERT_OK(netlink_link_get(nl, "vb-alike", &li, &err));
        ASSERT_NULL(li.alias);
        netlink_link_done(&li);
        /* the ip CLI sees the same alias */
        _cleanup_free_ char *shown = run("ip -d link show vb-b");
        ASSERT_NOT_NULL(strstr(shown, "alias cbox:b"));

        ASSERT_OK(netlink_link_dump(nl, &links, &n_links, &err));
        for (size_t i = 0; i < n_links; i++) {
                if (streq(links[i].name, "vb-a"))
                        seen_a = streq_ptr(links[i].alias, "cbox:a") && streq_ptr(links[i].kind, "veth");
                if (streq(links[i].name, "vb-b"))
                        seen_b = streq_ptr(links[i].alias, "cbox:b");
        }
        netlink_link_array_free(links, n_links);
        ASSERT_TRUE(seen_a && seen_b);

        /* wrong owner, no owner: refused, nothing changed */
        ASSERT_ERROR(netlink_link_delete_owned(nl, "vb-a", "cbox:b", &err), EPERM);
        ASSERT_NOT_NULL(err.message);
        netlink_error_done(&err);
        ASSERT_ERROR(netlink_link_delete_owned(nl, "vb-alike", "cbox:alike", &err), EPERM);
        netlink_error_done(&err);
        ASSERT_ERROR(netlink_link_retire(nl, "vb-alike", "vbx-", "cbox:alike", &err), EPERM);
        netlink_error_done(&err);
        ASSERT_ERROR(netlink_link_retire(nl, "vb-b", "vbx-", "cbox:a", &err), EPERM);
        netlink_error_done(&err);
        ASSERT_OK(netlink_link_get(nl, "vb-b", &li, &err));
        ASSERT_TRUE(li.flags & IFF_UP); /* not even set down */
        netlink_link_done(&li);
        ASSERT_TRUE(netlink_link_ifindex(nl, "vb-alike", &err) > 0);

        /* the right owner: retired (keeping its mark), then deleted */
        idx = netlink_link_retire(nl, "vb-a", "vbx-", "cbox:a", &err);
        ASSERT_TRUE(idx > 0);
        snprintf(tomb, sizeof(tomb), "vbx-%d", idx);
        ASSERT_OK(netlink_link_get(nl, tomb, &li, &err));
        ASSERT_STREQ(li.alias, "cbox:a");
        netlink_link_done(&li);
        ASSERT_OK(netlink_link_delete_owned(nl, tomb, "cbox:a", &err));
        ASSERT_ERROR(netlink_link_delete_owned(nl, tomb, "cbox:a", &err), ENODEV);
        netlink_error_done(&err);
        ASSERT_OK(netlink_link_delete_owned(nl, "vb-b", "cbox:b", &err));
        idx = netlink_link_ifindex(nl, "vb-alike", &err);
        ASSERT_TRUE(idx > 0);
        ASSERT_OK(netlink_link_delete_ifindex(nl, idx, &err));
        ASSERT_OK(netlink_link_delete(nl, "cbt-own", &err));
}

TEST_MAIN();
