/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <sys/stat.h>
#include <unistd.h>

#include "cbox-build.h"
#include "config-internal.h"
#include "config-values.h"
#include "config.h"
#include "fileio.h"
#include "string-util.h"
#include "tests.h"

TEST(size) {
        uint64_t v;
        ASSERT_OK(config_parse_size("0", false, &v));
        ASSERT_EQ_U64(v, 0);
        ASSERT_OK(config_parse_size("4096", false, &v));
        ASSERT_EQ_U64(v, 4096);
        ASSERT_OK(config_parse_size("128M", false, &v));
        ASSERT_EQ_U64(v, 128ULL << 20);
        ASSERT_OK(config_parse_size("1K", false, &v));
        ASSERT_EQ_U64(v, 1024);
        ASSERT_OK(config_parse_size("2G", false, &v));
        ASSERT_EQ_U64(v, 2ULL << 30);
        ASSERT_OK(config_parse_size("3T", false, &v));
        ASSERT_EQ_U64(v, 3ULL << 40);
        ASSERT_OK(config_parse_size("512MB", false, &v));
        ASSERT_EQ_U64(v, 512ULL << 20);
        ASSERT_OK(config_parse_size("1.5G", false, &v));
        ASSERT_EQ_U64(v, 3ULL << 29);
        ASSERT_OK(config_parse_size("infinity", true, &v));
        ASSERT_EQ_U64(v, UINT64_MAX);
        ASSERT_OK(config_parse_size("16777215T", false, &v));
        ASSERT_EQ_U64(v, 16777215ULL << 40);

        v = 7;
        ASSERT_ERROR(config_parse_size("infinity", false, &v), EINVAL);
        ASSERT_ERROR(config_parse_size("", false, &v), EINVAL);
        ASSERT_ERROR(config_parse_size("12Q", false, &v), EINVAL);
        ASSERT_ERROR(config_parse_size("12k", false, &v), EINVAL);
        ASSERT_ERROR(config_parse_size("M", false, &v), EINVAL);
        ASSERT_ERROR(config_parse_size("-1", false, &v), EINVAL);
        ASSERT_ERROR(config_parse_size(" 1M", false, &v), EINVAL);
        ASSERT_ERROR(config_parse_size("1M ", false, &v), EINVAL);
        ASSERT_ERROR(config_parse_size("1.5", false, &v), EINVAL);
        ASSERT_ERROR(config_parse_size("1.M", false, &v), EINVAL);
        ASSERT_ERROR(config_parse_size("1MBB", false, &v), EINVAL);
        ASSERT_ERROR(config_parse_size("16777216T", false, &v), ERANGE);
        ASSERT_ERROR(config_parse_size("99999999999999999999", false, &v), ERANGE);
        ASSERT_ERROR(config_parse_size("18446744073709551615", false, &v), ERANGE);
        ASSERT_EQ_U64(v, 7); /* untouched on failure */

        _cleanup_free_ char *a = config_format_size(128ULL << 20), *b = config_format_size(1000),
                            *c = config_format_size(UINT64_MAX), *d = config_format_size(1536ULL << 20);
        ASSERT_STREQ(a, "128M");
        ASSERT_STREQ(b, "1000");
        ASSERT_STREQ(c, "infinity");
        ASSERT_STREQ(d, "1536M");
}

TEST(timespan) {
        uint64_t v;
        ASSERT_OK(config_parse_timespan("90s", false, &v));
        ASSERT_EQ_U64(v, 90 * USEC_PER_SEC);
        ASSERT_OK(config_parse_timespan("1min 30s", false, &v));
        ASSERT_EQ_U64(v, 90 * USEC_PER_SEC);
        ASSERT_OK(config_parse_timespan("1min30s", false, &v));
        ASSERT_EQ_U64(v, 90 * USEC_PER_SEC);
        ASSERT_OK(config_parse_timespan("500ms", false, &v));
        ASSERT_EQ_U64(v, 500 * USEC_PER_MSEC);
        ASSERT_OK(config_parse_timespan("10", false, &v));
        ASSERT_EQ_U64(v, 10 * USEC_PER_SEC);
        ASSERT_OK(config_parse_timespan("2.5s", false, &v));
        ASSERT_EQ_U64(v, 2500 * USEC_PER_MSEC);
        ASSERT_OK(config_parse_timespan("1h 2m 3s 4ms 5us", false, &v));
        ASSERT_EQ_U64(v, 3723 * USEC_PER_SEC + 4005);
        ASSERT_OK(config_parse_timespan("1 week 2 days", false, &v));
        ASSERT_EQ_U64(v, 9 * 86400 * USEC_PER_SEC);
        ASSERT_OK(config_parse_timespan("0", false, &v));
        ASSERT_EQ_U64(v, 0);
        ASSERT_OK(config_parse_timespan("infinity", true, &v));
        ASSERT_EQ_U64(v, USEC_INFINITY);

        ASSERT_ERROR(config_parse_timespan("", false, &v), EINVAL);
        ASSERT_ERROR(config_parse_timespan("   ", false, &v), EINVAL);
        ASSERT_ERROR(config_parse_timespan("infinity", false, &v), EINVAL);
        ASSERT_ERROR(config_parse_timespan("10x", false, &v), EINVAL);
        ASSERT_ERROR(config_parse_timespan("s", false, &v), EINVAL);
        ASSERT_ERROR(config_parse_timespan("-5s", false, &v), EINVAL);
        ASSERT_ERROR(config_parse_timespan("1.5us", false, &v), EINVAL);
        ASSERT_ERROR(config_parse_timespan("99999999999999999999s", false, &v), ERANGE);
        ASSERT_ERROR(config_parse_timespan("100000000w", false, &v), ERANGE);

        _cleanup_free_ char *a = config_format_timespan(90 * USEC_PER_SEC),
                            *b = config_format_timespan(500000), *c = config_format_timespan(0),
                            *d = config_format_timespan(USEC_INFINITY);
        ASSERT_STREQ(a, "1min 30s");
        ASSERT_STREQ(b, "500ms");
        ASSERT_STREQ(c, "0");
        ASSERT_STREQ(d, "infinity");
}

TEST(cpu_quota) {
        uint64_t v;
        ASSERT_OK(config_parse_cpu_quota("50%", &v));
        ASSERT_EQ_U64(v, 500000);
        ASSERT_OK(config_parse_cpu_quota("150%", &v));
        ASSERT_EQ_U64(v, 1500000);
        ASSERT_OK(config_parse_cpu_quota("12.5%", &v));
        ASSERT_EQ_U64(v, 125000);
        ASSERT_OK(config_parse_cpu_quota("0.01%", &v));
        ASSERT_EQ_U64(v, 100);
        ASSERT_ERROR(config_parse_cpu_quota("0%", &v), ERANGE);
        ASSERT_ERROR(config_parse_cpu_quota("0.00%", &v), ERANGE);
        ASSERT_ERROR(config_parse_cpu_quota("50", &v), EINVAL);
        ASSERT_ERROR(config_parse_cpu_quota("-5%", &v), EINVAL);
        ASSERT_ERROR(config_parse_cpu_quota("1.001%", &v), EINVAL);
        ASSERT_ERROR(config_parse_cpu_quota("50 %", &v), EINVAL);
        ASSERT_ERROR(config_parse_cpu_quota("100001%", &v), ERANGE);
        ASSERT_ERROR(config_parse_cpu_quota("99999999999999999999999%", &v), ERANGE);

        _cleanup_free_ char *a = config_format_cpu_quota(500000), *b = config_format_cpu_quota(125000),
                            *c = config_format_cpu_quota(100);
        ASSERT_STREQ(a, "50%");
        ASSERT_STREQ(b, "12.5%");
        ASSERT_STREQ(c, "0.01%");
}

TEST(port_spec) {
        PortMap p = {};
        ASSERT_OK(config_parse_port_spec("8080:80", &p));
        ASSERT_EQ(p.host_port, 8080);
        ASSERT_EQ(p.host_port_end, 8080);
        ASSERT_EQ(p.container_port, 80);
        ASSERT_EQ(p.container_port_end, 80);
        ASSERT_EQ(p.protocol, IPPROTO_TCP);
        ASSERT_EQ(p.host_address.s_addr, htonl(INADDR_ANY));

        ASSERT_OK(config_parse_port_spec("127.0.0.1:5353:53/udp", &p));
        ASSERT_EQ(p.host_address.s_addr, htonl(INADDR_LOOPBACK));
        ASSERT_EQ(p.host_port, 5353);
        ASSERT_EQ(p.container_port, 53);
        ASSERT_EQ(p.protocol, IPPROTO_UDP);

        ASSERT_OK(config_parse_port_spec("8000-8010:9000-9010/tcp", &p));
        ASSERT_EQ(p.host_port, 8000);
        ASSERT_EQ(p.host_port_end, 8010);
        ASSERT_EQ(p.container_port, 9000);
        ASSERT_EQ(p.container_port_end, 9010);

        _cleanup_free_ char *f = config_format_port_spec(&p);
        ASSERT_STREQ(f, "8000-8010:9000-9010/tcp");
        ASSERT_OK(config_parse_port_spec("127.0.0.1:5353:53/udp", &p));
        _cleanup_free_ char *g = config_format_port_spec(&p);
        ASSERT_STREQ(g, "127.0.0.1:5353:53/udp");

        ASSERT_OK(config_parse_port_spec("65535:1", &p));
        ASSERT_ERROR(config_parse_port_spec("", &p), EINVAL);
        ASSERT_ERROR(config_parse_port_spec("80", &p), EINVAL);
        ASSERT_ERROR(config_parse_port_spec("0:80", &p), ERANGE);
        ASSERT_ERROR(config_parse_port_spec("65536:80", &p), ERANGE);
        ASSERT_ERROR(config_parse_port_spec("99999999999:80", &p), ERANGE);
        ASSERT_ERROR(config_parse_port_spec("8080:80/sctp", &p), EINVAL);
        ASSERT_ERROR(config_parse_port_spec("8080:80/", &p), EINVAL);
        ASSERT_ERROR(config_parse_port_spec("8000-8010:9000-9005", &p), EINVAL);
        ASSERT_ERROR(config_parse_port_spec("8010-8000:9010-9000", &p), EINVAL);
        ASSERT_ERROR(config_parse_port_spec("1.2.3:80:80", &p), EINVAL);
        ASSERT_ERROR(config_parse_port_spec("a:b:c:d", &p), EINVAL);
        ASSERT_ERROR(config_parse_port_spec("080:80", &p), EINVAL);
        ASSERT_ERROR(config_parse_port_spec("80:", &p), EINVAL);
        ASSERT_ERROR(config_parse_port_spec(":80", &p), EINVAL);
        ASSERT_ERROR(config_parse_port_spec("8080:80x", &p), EINVAL);

        PortMap a, b;
        ASSERT_OK(config_parse_port_spec("8000-8010:8000-8010", &a));
        ASSERT_OK(config_parse_port_spec("8010:80", &b));
        ASSERT_TRUE(port_map_conflicts(&a, &b));
        ASSERT_OK(config_parse_port_spec("8010:80/udp", &b));
        ASSERT_FALSE(port_map_conflicts(&a, &b));
        ASSERT_OK(config_parse_port_spec("127.0.0.1:8005:80", &b));
        ASSERT_TRUE(port_map_conflicts(&a, &b));
        ASSERT_OK(config_parse_port_spec("127.0.0.1:8011:80", &b));
        ASSERT_FALSE(port_map_conflicts(&a, &b));
        ASSERT_OK(config_parse_port_spec("127.0.0.1:8000:80", &a));
        ASSERT_OK(config_parse_port_spec("127.0.0.2:8000:80", &b));
        ASSERT_FALSE(port_map_conflicts(&a, &b));
}

TEST(cpuset) {
        _cleanup_free_ uint8_t *m = NULL;
        _cleanup_free_ char *n = NULL;
        size_t sz;

        ASSERT_OK(config_parse_cpuset("0-3,8", &m, &sz, &n));
        ASSERT_EQ(sz, 2);
        ASSERT_EQ(m[0], 0x0f);
        ASSERT_EQ(m[1], 0x01);
        ASSERT_STREQ(n, "0-3,8");
        m = mfree(m);
        n = mfree(n);

        ASSERT_OK(config_parse_cpuset("8,2,1,3,0", &m, &sz, &n));
        ASSERT_STREQ(n, "0-3,8");
        m = mfree(m);
        n = mfree(n);

        ASSERT_OK(config_parse_cpuset("8191", &m, &sz, &n));
        ASSERT_EQ(sz, 1024);
        ASSERT_EQ(m[1023], 0x80);
        ASSERT_STREQ(n, "8191");
        m = mfree(m);
        n = mfree(n);

        ASSERT_ERROR(config_parse_cpuset("", &m, &sz, &n), EINVAL);
        ASSERT_ERROR(config_parse_cpuset("8192", &m, &sz, &n), ERANGE);
        ASSERT_ERROR(config_parse_cpuset("3-1", &m, &sz, &n), EINVAL);
        ASSERT_ERROR(config_parse_cpuset("1,,2", &m, &sz, &n), EINVAL);
        ASSERT_ERROR(config_parse_cpuset("1,", &m, &sz, &n), EINVAL);
        ASSERT_ERROR(config_parse_cpuset("a", &m, &sz, &n), EINVAL);
        ASSERT_ERROR(config_parse_cpuset("1-2-3", &m, &sz, &n), EINVAL);
        ASSERT_ERROR(config_parse_cpuset("99999999999", &m, &sz, &n), ERANGE);
        ASSERT_NULL(m);
}

TEST(signal) {
        int s;
        ASSERT_OK(config_parse_signal("SIGTERM", &s));
        ASSERT_EQ(s, SIGTERM);
        ASSERT_OK(config_parse_signal("TERM", &s));
        ASSERT_EQ(s, SIGTERM);
        ASSERT_OK(config_parse_signal("15", &s));
        ASSERT_EQ(s, 15);
        ASSERT_OK(config_parse_signal("SIGKILL", &s));
        ASSERT_EQ(s, SIGKILL);
        ASSERT_OK(config_parse_signal("SIGRTMIN+3", &s));
        ASSERT_EQ(s, SIGRTMIN + 3);
        ASSERT_OK(config_parse_signal("RTMAX-1", &s));
        ASSERT_EQ(s, SIGRTMAX - 1);
        ASSERT_OK(config_parse_signal("SIGRTMIN", &s));
        ASSERT_EQ(s, SIGRTMIN);
        ASSERT_OK(config_parse_signal("RTMAX", &s));
        ASSERT_EQ(s, SIGRTMAX);
        ASSERT_OK(config_parse_signal("SIGRTMIN+0", &s));
        ASSERT_EQ(s, SIGRTMIN);
        /* each end counts towards the other only, and at most to it */
        ASSERT_ERROR(config_parse_signal("SIGRTMIN-1", &s), EINVAL);
        ASSERT_ERROR(config_parse_signal("SIGRTMAX+1", &s), EINVAL);
        ASSERT_ERROR(config_parse_signal("SIGRTMIN+", &s), EINVAL);
        ASSERT_ERROR(config_parse_signal("SIGRTMINX", &s), EINVAL);
        ASSERT_ERROR(config_parse_signal("", &s), EINVAL);
        ASSERT_ERROR(config_parse_signal("0", &s), EINVAL);
        ASSERT_ERROR(config_parse_signal("65", &s), EINVAL);
        ASSERT_ERROR(config_parse_signal("32", &s), EINVAL); /* found by fuzz-port */
        ASSERT_ERROR(config_parse_signal("SIGFOO", &s), EINVAL);
        ASSERT_ERROR(config_parse_signal("sigterm", &s), EINVAL);
        ASSERT_ERROR(config_parse_signal("SIGRTMIN+99", &s), EINVAL);
        ASSERT_ERROR(config_parse_signal("99999999999999", &s), EINVAL);

        ASSERT_STREQ(config_signal_to_string(SIGTERM), "SIGTERM");
        ASSERT_STREQ(config_signal_to_string(SIGRTMIN + 2), "SIGRTMIN+2");
        ASSERT_NULL(config_signal_to_string(0));
}

TEST(name) {
        ASSERT_TRUE(container_name_is_valid("web"));
        ASSERT_TRUE(container_name_is_valid("a.b-c_D9"));
        ASSERT_TRUE(
                container_name_is_valid("0123456789012345678901234567890123456789012345678901234567890123"));
        ASSERT_FALSE(container_name_is_valid(
                "01234567890123456789012345678901234567890123456789012345678901234"));
        ASSERT_FALSE(container_name_is_valid(""));
        ASSERT_FALSE(container_name_is_valid(".web"));
        ASSERT_FALSE(container_name_is_valid("-web"));
        ASSERT_FALSE(container_name_is_valid("we b"));
        ASSERT_FALSE(container_name_is_valid("we/b"));
        ASSERT_FALSE(container_name_is_valid("w\xc3\xa9"));
        ASSERT_FALSE(container_name_is_valid(NULL));
}

TEST(ipv4) {
        struct in_addr a;
        unsigned p;
        ASSERT_OK(config_parse_ipv4("10.88.0.2", &a));
        ASSERT_EQ(ntohl(a.s_addr), 0x0a580002);
        ASSERT_ERROR(config_parse_ipv4("10.88.0", &a), EINVAL);
        ASSERT_ERROR(config_parse_ipv4("10.88.0.256", &a), EINVAL);
        ASSERT_ERROR(config_parse_ipv4("010.88.0.1", &a), EINVAL);
        ASSERT_OK(config_parse_ipv4_prefix("10.88.0.0/16", &a, &p));
        ASSERT_EQ(p, 16);
        ASSERT_EQ(ntohl(a.s_addr), 0x0a580000);
        ASSERT_OK(config_parse_ipv4_prefix("0.0.0.0/0", &a, &p));
        ASSERT_OK(config_parse_ipv4_prefix("10.1.2.3/32", &a, &p));
        ASSERT_ERROR(config_parse_ipv4_prefix("10.88.0.1/16", &a, &p), EINVAL);
        ASSERT_ERROR(config_parse_ipv4_prefix("10.88.0.0/33", &a, &p), EINVAL);
        ASSERT_ERROR(config_parse_ipv4_prefix("10.88.0.0/016", &a, &p), EINVAL);
        ASSERT_ERROR(config_parse_ipv4_prefix("10.88.0.0", &a, &p), EINVAL);
        ASSERT_ERROR(config_parse_ipv4_prefix("10.88.0.0/", &a, &p), EINVAL);

        struct in_addr net, x;
        ASSERT_OK(config_parse_ipv4_prefix("10.88.0.0/16", &net, &p));
        ASSERT_OK(config_parse_ipv4("10.88.255.1", &x));
        ASSERT_TRUE(ipv4_in_subnet(x, net, 16));
        ASSERT_OK(config_parse_ipv4("10.89.0.1", &x));
        ASSERT_FALSE(ipv4_in_subnet(x, net, 16));
}

TEST(capability) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        ASSERT_OK(config_parse_capability("CAP_NET_ADMIN", false, &a));
        ASSERT_STREQ(a, "CAP_NET_ADMIN");
        ASSERT_OK(config_parse_capability("net_raw", false, &b));
        ASSERT_STREQ(b, "CAP_NET_RAW");
        ASSERT_OK(config_parse_capability("all", true, &c));
        ASSERT_STREQ(c, "ALL");
        char *d = NULL;
        ASSERT_ERROR(config_parse_capability("ALL", false, &d), EINVAL);
        ASSERT_ERROR(config_parse_capability("CAP_FLY", false, &d), EINVAL);
        ASSERT_ERROR(config_parse_capability("", false, &d), EINVAL);
}

TEST(path) {
        ASSERT_TRUE(config_path_is_valid_absolute("/"));
        ASSERT_TRUE(config_path_is_valid_absolute("/srv/www"));
        ASSERT_FALSE(config_path_is_valid_absolute("srv/www"));
        ASSERT_FALSE(config_path_is_valid_absolute("/srv//www"));
        ASSERT_FALSE(config_path_is_valid_absolute("/srv/www/"));
        ASSERT_FALSE(config_path_is_valid_absolute("/srv/../etc"));
        ASSERT_FALSE(config_path_is_valid_absolute("/srv/."));
        ASSERT_FALSE(config_path_is_valid_absolute("/a\nb"));
        ASSERT_FALSE(config_path_is_valid_absolute(""));
        ASSERT_TRUE(config_path_is_valid_absolute("/a/..b/.c"));
}

/* ---- loading, merging, origins, problems: against a temporary $CBOX_CONFIG_ROOT ---- */

static char *test_root = NULL;

static void cleanup_root(void) {
        if (test_root)
                (void) rm_rf_at(AT_FDCWD, test_root);
        test_root = mfree(test_root);
}

static void setup_root(void) {
        char t[] = "/tmp/test-config-XXXXXX";
        if (!test_root)
                ASSERT_OK(atexit(cleanup_root));
        if (test_root) {
                (void) rm_rf_at(AT_FDCWD, test_root);
                free(test_root);
        }
        ASSERT_NOT_NULL(mkdtemp(t));
        test_root = strdup(t);
        ASSERT_NOT_NULL(test_root);
        ASSERT_OK(setenv("CBOX_CONFIG_ROOT", test_root, 1));
}

/* writes ROOT/rel with contents; returns the full path (static buffer per call site is not needed) */
static char *put(const char *rel, const char *contents) {
        _cleanup_free_ char *p = strjoin(test_root, "/", rel);
        ASSERT_NOT_NULL(p);
        char *slash = strrchr(p, '/');
        *slash = 0;
        ASSERT_OK(mkdir_p(p, 0755));
        *slash = '/';
        ASSERT_OK(write_file_atomic(p, contents, strlen(contents), 0644));
        return TAKE_PTR(p);
}

static char *rootpath(const char *rel) {
        char *p = strjoin(test_root, "/", rel);
        ASSERT_NOT_NULL(p);
        return p;
}

static const ConfigOrigin *origin_of(const ContainerConfig *c, const char *key) {
        return origin_table_get(c->origins, key);
}

static void assert_origin(const ContainerConfig *c, const char *key, const char *rel, unsigned line) {
        _cleanup_free_ char *p = rootpath(rel);
        const ConfigOrigin *o = origin_of(c, key);
        if (!o)
                TEST_FAIL("no origin for %s", key);
        ASSERT_STREQ(o->file, p);
        ASSERT_EQ(o->line, line);
}

/* Loads NAME; expects success */
static ContainerConfig *load_ok(const char *name) {
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        ContainerConfig *c = NULL;
        ConfigDiag d = {};
        int r = global_config_load(&g, &d);
        if (r < 0) {
                _cleanup_free_ char *s = config_diag_format(&d);
                TEST_FAIL("global_config_load: %d\n%s", r, strna(s));
        }
        r = container_config_load(name, g, &c, &d);
        if (r < 0) {
                _cleanup_free_ char *s = config_diag_format(&d);
                TEST_FAIL("container_config_load(%s): %d\n%s", name, r, strna(s));
        }
        ASSERT_EQ(d.n_problems, 0);
        return c;
}

/* The formatted problems (then dropped) with ROOT replaced by "@" */
static char *problems_at_root(ConfigDiag *d) {
        _cleanup_free_ char *s = config_diag_format(d);
        config_diag_done(d);
        ASSERT_NOT_NULL(s);
        Buffer b = {};
        size_t rl = strlen(test_root);
        for (const char *p = s; *p;) {
                if (strneq(p, test_root, rl)) {
                        ASSERT_OK(buffer_append(&b, "@", 1));
                        p += rl;
                } else
                        ASSERT_OK(buffer_append(&b, p++, 1));
        }
        ASSERT_OK(buffer_append(&b, "", 1));
        return b.data;
}

/* Loads NAME_OR_PATH; expects -EINVAL and returns the formatted problems with ROOT replaced by "@" */
static char *load_fail(const char *name) {
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(container_config_freep) ContainerConfig *c = NULL;
        ConfigDiag d = {};
        ASSERT_OK(global_config_load(&g, &d));
        ASSERT_ERROR(container_config_load(name, g, &c, &d), EINVAL);
        ASSERT_NULL(c);
        return problems_at_root(&d);
}

#define ASSERT_PROBLEMS(name, expected)                                                                     \
        do {                                                                                                \
                _cleanup_free_ char *_got = load_fail(name);                                                \
                if (strcmp(_got, (expected)) != 0)                                                          \
                        TEST_FAIL("problems differ.\n--- expected\n%s--- got\n%s", (expected), _got);       \
        } while (0)

TEST(merge_order_and_origins) {
        setup_root();
        /* the first found of /etc, /run, /usr/lib wins for the main file */
        free(put("usr/lib/cbox/web.toml", "image = \"lower:1\"\n"));
        free(put("etc/cbox/web.toml",
                 "image = \"busybox:latest\"\n"
                 "command = [\"httpd\", \"-f\"]\n"
                 "[resources]\n"
                 "memory_max = \"128M\"\n"
                 "cpu_quota = \"50%\"\n"
                 "[env]\n"
                 "A = \"1\"\n"
                 "B = \"2\"\n"));
        /* same-named drop-in: /etc masks /usr/lib */
        free(put("usr/lib/cbox/web.toml.d/10-mem.toml", "[resources]\nmemory_max = \"1G\"\n"));
        free(put("etc/cbox/web.toml.d/10-mem.toml", "# comment\n[resources]\nmemory_max = \"256M\"\n"));
        free(put("run/cbox/web.toml.d/20-cmd.toml",
                 "command = [\"sleep\", \"1\"]\n[env]\nB = \"3\"\nC = \"4\"\n"));
        free(put("usr/lib/cbox/web.toml.d/30-cpu.toml", "resources.cpu_quota = \"150%\"\n"));
        free(put("etc/cbox/web.toml.d/README", "not toml\n"));
        free(put("etc/cbox/web.toml.d/.hidden.toml", "garbage\n"));

        _cleanup_(container_config_freep) ContainerConfig *c = load_ok("web");
        ASSERT_STREQ(c->name, "web");
        ASSERT_STREQ(c->image, "busybox:latest");
        ASSERT_EQ_U64(c->resources.limits.value[UNIT_LIMIT_MEMORY_MAX], 256ULL << 20);
        ASSERT_TRUE(c->resources.limits.set[UNIT_LIMIT_MEMORY_MAX]);
        ASSERT_EQ_U64(c->resources.limits.value[UNIT_LIMIT_CPU_QUOTA], 1500000);
        ASSERT_FALSE(c->resources.limits.set[UNIT_LIMIT_MEMORY_HIGH]);
        /* arrays replaced whole */
        ASSERT_EQ(strv_length(c->command), 2);
        ASSERT_STREQ(c->command[0], "sleep");
        ASSERT_TRUE(c->command_set);
        ASSERT_FALSE(c->entrypoint_set);
        /* env merged per variable, sorted */
        ASSERT_EQ(strv_length(c->env), 3);
        ASSERT_STREQ(c->env[0], "A=1");
        ASSERT_STREQ(c->env[1], "B=3");
        ASSERT_STREQ(c->env[2], "C=4");
        /* defaults */
        ASSERT_EQ(c->stop_signal, SIGTERM);
        ASSERT_EQ_U64(c->stop_timeout_usec, 10 * USEC_PER_SEC);
        ASSERT_STREQ(c->hostname, "web");
        ASSERT_STREQ(c->slice, "machine.slice");
        ASSERT_STREQ(c->network.network, "cbox0");
        ASSERT_EQ(c->network.mode, NETWORK_MODE_BRIDGE);
        ASSERT_TRUE(c->security.no_new_privileges);
        ASSERT_STREQ(c->security.seccomp, "default");
        ASSERT_FALSE(c->health.enabled);

        _cleanup_free_ char *main_path = rootpath("etc/cbox/web.toml");
        ASSERT_STREQ(c->path, main_path);
        ASSERT_EQ(strv_length(c->dropins), 3);
        _cleanup_free_ char *d0 = rootpath("etc/cbox/web.toml.d/10-mem.toml"),
                            *d1 = rootpath("run/cbox/web.toml.d/20-cmd.toml"),
                            *d2 = rootpath("usr/lib/cbox/web.toml.d/30-cpu.toml");
        ASSERT_STREQ(c->dropins[0], d0);
        ASSERT_STREQ(c->dropins[1], d1);
        ASSERT_STREQ(c->dropins[2], d2);

        assert_origin(c, "image", "etc/cbox/web.toml", 1);
        ASSERT_NULL(container_config_origin(c, "stop_timeout"));
        ASSERT_EQ(container_config_origin(c, "env.C")->line, 4);
        assert_origin(c, "resources.memory_max", "etc/cbox/web.toml.d/10-mem.toml", 3);
        assert_origin(c, "resources.cpu_quota", "usr/lib/cbox/web.toml.d/30-cpu.toml", 1);
        assert_origin(c, "command", "run/cbox/web.toml.d/20-cmd.toml", 1);
        assert_origin(c, "env.A", "etc/cbox/web.toml", 7);
        assert_origin(c, "env.B", "run/cbox/web.toml.d/20-cmd.toml", 3);
        ASSERT_NULL(origin_of(c, "stop_timeout"));

        /* cat: values with their sources, a header naming every file */
        _cleanup_free_ char *t = container_config_format_toml(c);
        ASSERT_NOT_NULL(t);
        _cleanup_free_ char *l1 = strprintf("memory_max = \"256M\"  # from %s:3\n", d0),
                            *l2 = strprintf("command = [\"sleep\", \"1\"]  # from %s:1\n", d1),
                            *l3 = strprintf("# %s\n# %s\n# %s\n# %s\n", main_path, d0, d1, d2);
        ASSERT_NOT_NULL(strstr(t, l1));
        ASSERT_NOT_NULL(strstr(t, l2));
        ASSERT_NOT_NULL(strstr(t, l3));
        ASSERT_NOT_NULL(strstr(t, "stop_timeout = \"10s\"  # default\n"));
}

TEST(path_given_and_dropins_beside) {
        setup_root();
        _cleanup_free_ char *p =
                put("srv/app.toml", "rootfs = \"/srv/rootfs\"\n[network]\nmode = \"none\"\n");
        free(put("srv/app.toml.d/50-x.toml", "read_only = true\n"));
        free(put("etc/cbox/app.toml.d/50-x.toml", "read_only = false\nhostname = \"masked\"\n"));
        free(put("etc/cbox/app.toml.d/60-y.toml", "user = \"1000:1000\"\n"));
        _cleanup_(container_config_freep) ContainerConfig *c = load_ok(p);
        ASSERT_STREQ(c->name, "app");
        _cleanup_free_ char *q = put("srv/my_app.toml", "rootfs = \"/r\"\n");
        _cleanup_(container_config_freep) ContainerConfig *c3 = load_ok(q);
        ASSERT_STREQ(c3->hostname, "my-app");
        ASSERT_STREQ(c->rootfs, "/srv/rootfs");
        ASSERT_TRUE(c->read_only);
        ASSERT_STREQ(c->hostname, "app");
        ASSERT_STREQ(c->user, "1000:1000");
        ASSERT_EQ(strv_length(c->dropins), 2);
        ASSERT_EQ(c->network.mode, NETWORK_MODE_NONE);

        /* a symlink to /dev/null (or an empty file) in a higher-priority directory masks a drop-in */
        free(put("usr/lib/cbox/app.toml.d/70-z.toml", "workdir = \"/srv\"\n"));
        free(put("usr/lib/cbox/app.toml.d/80-w.toml", "workdir = \"/opt\"\n"));
        _cleanup_free_ char *mask = rootpath("etc/cbox/app.toml.d/70-z.toml");
        ASSERT_OK(RET_NERRNO(symlink("/dev/null", mask)));
        free(put("run/cbox/app.toml.d/80-w.toml", ""));
        _cleanup_(container_config_freep) ContainerConfig *c4 = load_ok(p);
        ASSERT_NULL(c4->workdir);
        ASSERT_EQ(strv_length(c4->dropins), 2);

        /* NAME lookup: missing → -ENOENT; invalid names are refused */
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        ContainerConfig *x = NULL;
        ConfigDiag d = {};
        ASSERT_OK(global_config_load(&g, &d));
        ASSERT_ERROR(container_config_load("nothere", g, &x, &d), ENOENT);
        ASSERT_EQ(d.n_problems, 0);
        ASSERT_ERROR(container_config_load("-bad", g, &x, &d), EINVAL);
        ASSERT_EQ(d.n_problems, 1);
        config_diag_done(&d);
        ASSERT_ERROR(container_config_load("/nonexistent/x.toml", g, &x, &d), ENOENT);
}

TEST(mounts_merge) {
        setup_root();
        free(put("etc/cbox/m.toml",
                 "image = \"i:1\"\n"
                 "[[mount]]\nsource = \"/srv/a\"\ntarget = \"/a\"\n"
                 "[[mount]]\ntype = \"tmpfs\"\ntarget = \"/tmp\"\nsize = \"64M\"\n"));
        free(put("etc/cbox/m.toml.d/10.toml",
                 "[[mount]]\ntype = \"volume\"\nsource = \"data\"\ntarget = \"/a\"\n"
                 "read_only = true\n"
                 "[[mount]]\nsource = \"/srv/b\"\ntarget = \"/b\"\n"));
        _cleanup_(container_config_freep) ContainerConfig *c = load_ok("m");
        ASSERT_EQ(c->n_mounts, 3);
        /* replaced in place */
        ASSERT_EQ(c->mounts[0].type, MOUNT_TYPE_VOLUME);
        ASSERT_STREQ(c->mounts[0].source, "data");
        ASSERT_STREQ(c->mounts[0].target, "/a");
        ASSERT_TRUE(c->mounts[0].read_only);
        ASSERT_EQ(c->mounts[1].type, MOUNT_TYPE_TMPFS);
        ASSERT_NULL(c->mounts[1].source);
        ASSERT_EQ_U64(c->mounts[1].size, 64ULL << 20);
        ASSERT_STREQ(c->mounts[2].target, "/b");
        assert_origin(c, "mount[0].source", "etc/cbox/m.toml.d/10.toml", 3);
        assert_origin(c, "mount[0].read_only", "etc/cbox/m.toml.d/10.toml", 5);
        assert_origin(c, "mount[1].size", "etc/cbox/m.toml", 8);
        assert_origin(c, "mount[2].target", "etc/cbox/m.toml.d/10.toml", 8);
        ASSERT_EQ(c->mounts[0].origin.line, 1);
}

/* conf.d of this build's prefix (/usr/local/lib/cbox/conf.d for a source install) is read between /etc's
 * and /usr/lib's, and a same-named file in /etc masks it */
TEST(global_conf_d_vendor_prefix) {
        setup_root();
        if (streq(CBOX_VENDOR_DIR, "/usr/lib/cbox"))
                TEST_SKIP("built with prefix /usr: the vendor directory is /usr/lib/cbox");
        _cleanup_free_ char *vendor = strjoin(&CBOX_VENDOR_DIR[1], "/conf.d/10-site.toml"),
                            *vendor_masked = strjoin(&CBOX_VENDOR_DIR[1], "/conf.d/20-masked.toml");
        free(put(vendor, "storage_root = \"/srv/site\"\n"));
        free(put(vendor_masked, "run_root = \"/run/masked\"\n"));
        free(put("etc/cbox/conf.d/20-masked.toml", "default_slice = \"site.slice\"\n"));
        free(put("usr/lib/cbox/conf.d/00-defaults.toml", "storage_root = \"/var/lib/cbox\"\n"));
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        ConfigDiag d = {};
        ASSERT_OK(global_config_load(&g, &d));
        ASSERT_STREQ(g->storage_root, "/srv/site");
        ASSERT_STREQ(g->run_root, "/run/cbox");
        ASSERT_STREQ(g->default_slice, "site.slice");
        ASSERT_EQ(strv_length(g->files), 3);
}

TEST(global_conf_d) {
        setup_root();
        free(put("usr/lib/cbox/conf.d/00-defaults.toml",
                 "storage_root = \"/var/lib/cbox\"\n[network.cbox0]\nsubnet = \"10.88.0.0/16\"\n"));
        free(put("usr/lib/cbox/conf.d/50-local.toml", "storage_root = \"/masked\"\n"));
        free(put("etc/cbox/conf.d/50-local.toml",
                 "storage_root = \"/srv/cbox\"\n"
                 "default_network = \"lab\"\n"
                 "[network.lab]\nsubnet = \"192.168.77.0/24\"\nbridge = \"br-lab\"\n"
                 "[registry.\"localhost:5000\"]\ninsecure = true\n"));
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        ConfigDiag d = {};
        ASSERT_OK(global_config_load(&g, &d));
        ASSERT_STREQ(g->storage_root, "/srv/cbox");
        ASSERT_STREQ(g->run_root, "/run/cbox");
        ASSERT_STREQ(g->default_network, "lab");
        ASSERT_EQ(g->n_networks, 2);
        const NetworkDef *n = global_config_find_network(g, "lab");
        ASSERT_NOT_NULL(n);
        ASSERT_STREQ(n->bridge, "br-lab");
        ASSERT_EQ(n->prefixlen, 24);
        ASSERT_EQ(ntohl(n->gateway.s_addr), 0xc0a84d01); /* first host by default */
        ASSERT_TRUE(n->masquerade);
        ASSERT_EQ(g->n_registries, 1);
        ASSERT_STREQ(g->registries[0].name, "localhost:5000");
        ASSERT_TRUE(g->registries[0].insecure);
        ASSERT_EQ(strv_length(g->files), 2);

        /* a container joins the default network; a static address outside its subnet is refused */
        free(put("etc/cbox/n.toml", "image = \"i:1\"\n[network]\naddress = \"192.168.77.9\"\n"));
        _cleanup_(container_config_freep) ContainerConfig *c = load_ok("n");
        ASSERT_STREQ(c->network.network, "lab");
        ASSERT_TRUE(c->network.address_set);
        assert_origin(c, "network.network", "etc/cbox/conf.d/50-local.toml", 2);
        free(put("etc/cbox/n2.toml",
                 "image = \"i:1\"\n[network]\nnetwork = \"cbox0\"\naddress = \"192.168.77.9\"\n"));
        ASSERT_PROBLEMS(
                "n2",
                "@/etc/cbox/n2.toml:4:1: network.address: address 192.168.77.9 is outside the subnet "
                "10.88.0.0/16 of network 'cbox0' (an IPv4 address inside the network's subnet)\n");
        free(put("etc/cbox/n3.toml", "image = \"i:1\"\n[network]\nnetwork = \"nope\"\n"));
        ASSERT_PROBLEMS(
                "n3",
                "@/etc/cbox/n3.toml:3:1: network.network: unknown network 'nope' (networks defined in "
                "conf.d: cbox0, lab)\n");

        /* bad global settings are collected too */
        free(put("etc/cbox/conf.d/60-bad.toml",
                 "[network.x]\nsubnet = \"10.1.2.3/16\"\ngateway = \"1.2.3.4\"\n"
                 "[network.y]\nsubnet = \"10.88.5.0/24\"\n"
                 "storage = \"/x\"\n"));
        GlobalConfig *g2 = NULL;
        ASSERT_ERROR(global_config_load(&g2, &d), EINVAL);
        _cleanup_free_ char *s = config_diag_format(&d);
        _cleanup_free_ char *f = rootpath("etc/cbox/conf.d/60-bad.toml");
        _cleanup_free_ char *exp = strprintf(
                "%1$s:1:10: network.x: no subnet (an IPv4 subnet like \"10.88.0.0/16\")\n"
                "%1$s:2:10: network.x.subnet: invalid subnet '10.1.2.3/16' (an IPv4 subnet like "
                "\"10.88.0.0/16\", prefix 8 to 30)\n"
                "%1$s:5:1: network.y.subnet: subnet overlaps the subnet of network 'cbox0' (networks "
                "must not overlap)\n"
                "%1$s:6:1: network.y.storage: unknown key (known keys: subnet, gateway, masquerade, "
                "bridge)\n",
                f);
        ASSERT_STREQ(s, exp);
        config_diag_done(&d);
}

TEST(global_defaults) {
        setup_root();
        free(put("usr/lib/cbox/conf.d/50-defaults.toml",
                 "[defaults]\nstop_timeout = \"30s\"\n"
                 "[defaults.resources]\ntasks_max = 4096\nmemory_max = \"1G\"\n"
                 "[defaults.security]\nno_new_privileges = false\n"));
        free(put("etc/cbox/d.toml", "image = \"a:b\"\n[resources]\ntasks_max = 64\n"));
        _cleanup_(container_config_freep) ContainerConfig *c = load_ok("d");
        ASSERT_EQ_U64(c->stop_timeout_usec, 30 * USEC_PER_SEC);
        ASSERT_EQ_U64(c->resources.limits.value[UNIT_LIMIT_TASKS_MAX], 64);
        ASSERT_EQ_U64(c->resources.limits.value[UNIT_LIMIT_MEMORY_MAX], 1ULL << 30);
        ASSERT_TRUE(c->resources.limits.set[UNIT_LIMIT_MEMORY_MAX]);
        ASSERT_FALSE(c->security.no_new_privileges);
        assert_origin(c, "stop_timeout", "usr/lib/cbox/conf.d/50-defaults.toml", 2);
        assert_origin(c, "resources.memory_max", "usr/lib/cbox/conf.d/50-defaults.toml", 5);
        assert_origin(c, "resources.tasks_max", "etc/cbox/d.toml", 3);
        _cleanup_free_ char *t = container_config_format_toml(c),
                            *f = rootpath("usr/lib/cbox/conf.d/50-defaults.toml");
        _cleanup_free_ char *h = strprintf("# %s\n", f),
                            *l = strprintf("memory_max = \"1G\"  # from %s:5\n", f);
        ASSERT_TRUE(startswith(t, h));
        ASSERT_NOT_NULL(strstr(t, l));

        /* only container keys that make sense for every container; problems name the conf.d file */
        free(put("etc/cbox/conf.d/60-bad.toml",
                 "[defaults]\nimage = \"x:y\"\nresources.cpu_quota = \"0%\"\n"));
        GlobalConfig *g = NULL;
        ConfigDiag d = {};
        ASSERT_ERROR(global_config_load(&g, &d), EINVAL);
        _cleanup_free_ char *s = config_diag_format(&d), *b = rootpath("etc/cbox/conf.d/60-bad.toml");
        _cleanup_free_ char *exp = strprintf("%1$s:2:1: defaults.image: unknown key (known keys: "
                                             "read_only, stop_signal, stop_timeout, resources, "
                                             "network, security)\n"
                                             "%1$s:3:23: defaults.resources.cpu_quota: out of range CPU "
                                             "quota '0%%' (a percentage above 0 like "
                                             "\"50%%\" or \"150%%\" for 1.5 CPUs)\n",
                                             b);
        ASSERT_STREQ(s, exp);
        config_diag_done(&d);
}

TEST(problems) {
        setup_root();
        /* every kind of problem, collected from one file and a drop-in */
        free(put("etc/cbox/bad.toml",
                 "image = \"busybox:latest\"\n"                     /* 1 */
                 "comand = [\"httpd\"]\n"                           /* 2 */
                 "stop_signal = \"SIGFOO\"\n"                       /* 3 */
                 "[resources]\n"                                    /* 4 */
                 "memory_max = \"12Q\"\n"                           /* 5 */
                 "cpu_quota = 50\n"                                 /* 6 */
                 "tasks_max = 0\n"                                  /* 7 */
                 "[network]\n"                                      /* 8 */
                 "ports = [\"8080:80\", \"1.2.3.4:8080:81/tcp\"]\n" /* 9 */
                 "[[mount]]\n"                                      /* 10 */
                 "source = \"/srv/www\"\n"                          /* 11 */
                 "target = \"/www\"\n"                              /* 12 */
                 "[[mount]]\n"                                      /* 13 */
                 "type = \"tmpfs\"\n"                               /* 14 */
                 "target = \"/www\"\n"));                           /* 15 */
        free(put("etc/cbox/bad.toml.d/10-x.toml",
                 "rootfs = \"relative/dir\"\n"
                 "[network]\nports = \"80\"\n"
                 "[health]\ninterval = \"5 parsecs\"\n"));
        ASSERT_PROBLEMS(
                "bad",
                "@/etc/cbox/bad.toml:2:1: comand: unknown key (did you mean 'command'? known keys: image, "
                "rootfs, pull, auto_update, "
                "command, entrypoint, env, env_files, workdir, user, hostname, read_only, stop_signal, "
                "stop_timeout, "
                "slice, resources, network, mount, security, health)\n"
                "@/etc/cbox/bad.toml:3:15: stop_signal: invalid signal 'SIGFOO' (a signal name like "
                "\"SIGTERM\" or "
                "\"TERM\", or its number)\n"
                "@/etc/cbox/bad.toml:5:14: resources.memory_max: invalid size '12Q' (a size: a number with "
                "optional "
                "K, M, G or T suffix (base 1024), or an integer of bytes, or \"infinity\")\n"
                "@/etc/cbox/bad.toml:6:13: resources.cpu_quota: expected a string, got an integer (a "
                "percentage "
                "above 0 like \"50%\" or \"150%\" for 1.5 CPUs)\n"
                "@/etc/cbox/bad.toml:7:13: resources.tasks_max: out of range value 0 (an integer of at "
                "least 1, or "
                "\"infinity\")\n"
                "@/etc/cbox/bad.toml:9:21: network.ports[1]: host port of '1.2.3.4:8080:81/tcp' is already "
                "published by network.ports[0] (each host port and protocol once)\n"
                "@/etc/cbox/bad.toml:15:10: mount[1].target: target '/www' is already mounted by the "
                "[[mount]] at "
                "line 10 (one mount per target)\n"
                "@/etc/cbox/bad.toml.d/10-x.toml:1:10: rootfs: invalid path 'relative/dir' (an absolute "
                "path to the "
                "root directory)\n"
                "@/etc/cbox/bad.toml.d/10-x.toml:3:9: network.ports: expected an array of strings, got a "
                "string (an "
                "array of \"HOST:CONTAINER\", \"ADDRESS:HOST:CONTAINER\" with optional \"/tcp\" or "
                "\"/udp\"; ports "
                "1-65535 or ranges \"A-B\" of equal length)\n"
                "@/etc/cbox/bad.toml.d/10-x.toml:5:12: health.interval: invalid time span '5 parsecs' (a "
                "time span "
                "such as \"10s\", \"1min 30s\", \"500ms\", or an integer of seconds)\n");

        /* a TOML syntax error is one line; other files are still checked */
        free(put("etc/cbox/syn.toml", "image = \"x:1\"\n[resources\nmemory_max = \"1G\"\n"));
        free(put("etc/cbox/syn.toml.d/10.toml", "bogus = 1\n"));
        ASSERT_PROBLEMS("syn",
                        "@/etc/cbox/syn.toml:2:11: TOML syntax error: expected ']' at the end of a table "
                        "header\n"
                        "@/etc/cbox/syn.toml.d/10.toml:1:1: bogus: unknown key ("
                        "known keys: image, rootfs, pull, auto_update, command, entrypoint, env, env_files, "
                        "workdir, user, "
                        "hostname, read_only, stop_signal, stop_timeout, slice, resources, network, mount, "
                        "security, health)\n");

        /* image and rootfs: exactly one */
        free(put("etc/cbox/none.toml", "hostname = \"x\"\n"));
        ASSERT_PROBLEMS(
                "none",
                "@/etc/cbox/none.toml:1:1: image: neither 'image' nor 'rootfs' is set (exactly one of "
                "them: a store image \"NAME:TAG\" or an absolute path to a root directory)\n");
        free(put("etc/cbox/both.toml", "image = \"a:b\"\nrootfs = \"/r\"\n"));
        ASSERT_PROBLEMS("both",
                        "@/etc/cbox/both.toml:2:1: rootfs: both 'image' (set at @/etc/cbox/both.toml:1) and "
                        "'rootfs' are set (exactly one of them)\n");

        /* wrong types, nested tables, mount rules, network mode rules */
        free(put("etc/cbox/types.toml",
                 "image = 5\n"
                 "resources = \"big\"\n"
                 "[network]\nmode = \"none\"\nports = [\"80:80\"]\n"
                 "[security]\ncapabilities.add = [\"CAP_FLY\"]\nuser_namespace = true\n"
                 "[[mount]]\ntype = \"volume\"\nsource = \"../x\"\ntarget = \"/v\"\n"
                 "[[mount]]\ntarget = \"/\"\n"
                 "[health]\nretries = 3\n"));
        ASSERT_PROBLEMS("types",
                        "@/etc/cbox/types.toml:1:9: image: expected a string, got an integer (a store image "
                        "\"NAME:TAG\" or \"NAME@sha256:HEX\")\n"
                        "@/etc/cbox/types.toml:2:13: resources: expected a table, got a string\n"
                        "@/etc/cbox/types.toml:5:1: network.ports: ports are published only in network mode "
                        "\"bridge\", not "
                        "\"none\"\n"
                        "@/etc/cbox/types.toml:7:21: security.capabilities.add[0]: invalid capability "
                        "'CAP_FLY' (an array "
                        "of capability names like \"CAP_NET_ADMIN\")\n"
                        "@/etc/cbox/types.toml:8:18: security.user_namespace: invalid value true (false or "
                        "\"auto\")\n"
                        "@/etc/cbox/types.toml:11:10: mount[0].source: invalid volume name '../x' (letters, "
                        "digits, '_', "
                        "'.', '-', up to 64, not starting with '.' or '-')\n"
                        "@/etc/cbox/types.toml:13:3: mount[1].source: missing (bind mounts need an absolute "
                        "host path)\n"
                        "@/etc/cbox/types.toml:14:10: mount[1].target: cannot mount over '/' (an absolute "
                        "path other than "
                        "/)\n"
                        "@/etc/cbox/types.toml:16:1: health.command: missing: [health] needs a command (a "
                        "non-empty array "
                        "of strings)\n");

        /* a quoted key is one key, not a path; a NUL in a key never matches */
        free(put("etc/cbox/quoted.toml",
                 "image = \"a:b\"\n\"resources.memory_max\" = \"1G\"\n\"image\\u0000x\" = \"c\"\n"
                 "[env]\n\"A\\u0000B\" = \"x\"\n"));
        ASSERT_PROBLEMS(
                "quoted",
                "@/etc/cbox/quoted.toml:2:1: resources.memory_max: unknown key (known keys: image, rootfs, "
                "pull, auto_update, command, entrypoint, env, env_files, workdir, user, hostname, "
                "read_only, "
                "stop_signal, "
                "stop_timeout, slice, resources, network, mount, security, health)\n"
                "@/etc/cbox/quoted.toml:3:1: image: unknown key: it contains a NUL character\n"
                "@/etc/cbox/quoted.toml:5:14: env.A: invalid environment variable name 'A' (letters, digits "
                "and '_', not starting with a digit)\n");

        free(put("etc/cbox/health.toml",
                 "image = \"a:b\"\n[health]\ncommand = [\"true\"]\ninterval = 0\ntimeout = \"0s\"\n"));
        ASSERT_PROBLEMS("health",
                        "@/etc/cbox/health.toml:4:1: health.interval: must be above 0 (a time span such as "
                        "\"10s\", \"1min 30s\", \"500ms\", or an integer of seconds)\n"
                        "@/etc/cbox/health.toml:5:1: health.timeout: must be above 0 (a time span such as "
                        "\"10s\", \"1min 30s\", \"500ms\", or an integer of seconds)\n");

        /* the container name comes from the file name */
        _cleanup_free_ char *p = put("srv/-x.toml", "image = \"a:b\"\n");
        _cleanup_free_ char *exp =
                strprintf("@/srv/-x.toml:0:0: invalid container name '-x' from the file name "
                          "(letters, digits, '_', '.', '-', up to 64, not starting with '.' or "
                          "'-')\n");
        _cleanup_free_ char *got = load_fail(p);
        ASSERT_STREQ(got, exp);
}

TEST(problems_of_each_syntax) {
        setup_root();
        /* each way a value of each syntax can be wrong: type, string form, integer form, element, entry */
        free(put("etc/cbox/syntaxes.toml",
                 "image = \"a:b\"\n"                /* 1 */
                 "stop_signal = 0\n"                /* 2 */
                 "stop_timeout = -1\n"              /* 3 */
                 "slice = 5\n"                      /* 4 */
                 "read_only = \"yes\"\n"            /* 5 */
                 "command = []\n"                   /* 6 */
                 "entrypoint = [\"sh\", 1]\n"       /* 7 */
                 "[resources]\n"                    /* 8 */
                 "memory_max = -1\n"                /* 9 */
                 "memory_high = true\n"             /* 10 */
                 "cpu_weight = 0\n"                 /* 11 */
                 "cpuset = \"9000\"\n"              /* 12 */
                 "tasks_max = \"lots\"\n"           /* 13 */
                 "io_weight = \"1\"\n"              /* 14 */
                 "[network]\n"                      /* 15 */
                 "mode = \"bridged\"\n"             /* 16 */
                 "address = \"10.88.0.256\"\n"      /* 17 */
                 "ports = [\"80:80\", 80, \"x\"]\n" /* 18 */
                 "dns = [\"1.2.3\"]\n"              /* 19 */
                 "[security]\n"                     /* 20 */
                 "user_namespace = 1\n"             /* 21 */
                 "[env]\n"                          /* 22 */
                 "\"1X\" = \"a\"\n"                 /* 23 */
                 "Y = 1\n"                          /* 24 */
                 "[health]\n"                       /* 25 */
                 "retries = 101\n"                  /* 26 */
                 "on_failure = \"restart\"\n"       /* 27 */
                 "[[mount]]\n"                      /* 28 */
                 "type = \"nfs\"\n"                 /* 29 */
                 "target = \"/m\"\n"                /* 30 */
                 "size = \"1Q\"\n"));               /* 31 */
        ASSERT_PROBLEMS(
                "syntaxes",
                "@/etc/cbox/syntaxes.toml:2:15: stop_signal: invalid signal 0 (a signal name like "
                "\"SIGTERM\" or "
                "\"TERM\", or its number)\n"
                "@/etc/cbox/syntaxes.toml:3:16: stop_timeout: out of range time span -1 (a time span such "
                "as "
                "\"10s\", \"1min 30s\", \"500ms\", or an integer of seconds, or \"infinity\")\n"
                "@/etc/cbox/syntaxes.toml:4:9: slice: expected a string, got an integer (a slice unit name "
                "like "
                "\"machine.slice\")\n"
                "@/etc/cbox/syntaxes.toml:5:13: read_only: expected a boolean, got a string (true or "
                "false)\n"
                "@/etc/cbox/syntaxes.toml:6:11: command: must not be empty (a non-empty array of strings)\n"
                "@/etc/cbox/syntaxes.toml:7:21: entrypoint[1]: expected a string, got an integer (an array "
                "of "
                "strings; [] clears the image's entrypoint)\n"
                "@/etc/cbox/syntaxes.toml:9:14: resources.memory_max: out of range size -1 (a size: a "
                "number with "
                "optional K, M, G or T suffix (base 1024), or an integer of bytes, or \"infinity\")\n"
                "@/etc/cbox/syntaxes.toml:10:15: resources.memory_high: expected a string or an integer, "
                "got a "
                "boolean (a size: a number with optional K, M, G or T suffix (base 1024), or an integer of "
                "bytes, or \"infinity\")\n"
                "@/etc/cbox/syntaxes.toml:11:14: resources.cpu_weight: out of range value 0 (an integer "
                "from 1 to "
                "10000)\n"
                "@/etc/cbox/syntaxes.toml:12:10: resources.cpuset: out of range cpuset '9000' (CPU numbers "
                "and "
                "ranges like \"0-3,8\", CPUs 0 to 8191)\n"
                "@/etc/cbox/syntaxes.toml:13:13: resources.tasks_max: invalid value 'lots' (an integer of "
                "at "
                "least 1, or \"infinity\")\n"
                "@/etc/cbox/syntaxes.toml:14:13: resources.io_weight: expected an integer, got a string (an "
                "integer from 1 to 10000)\n"
                "@/etc/cbox/syntaxes.toml:16:8: network.mode: invalid value 'bridged' (\"bridge\", \"none\" "
                "or "
                "\"host\")\n"
                "@/etc/cbox/syntaxes.toml:17:11: network.address: invalid IPv4 address '10.88.0.256' (an "
                "IPv4 "
                "address inside the network's subnet)\n"
                "@/etc/cbox/syntaxes.toml:18:19: network.ports[1]: expected a string, got an integer (an "
                "array of "
                "\"HOST:CONTAINER\", \"ADDRESS:HOST:CONTAINER\" with optional \"/tcp\" or \"/udp\"; ports "
                "1-65535 or ranges \"A-B\" of equal length)\n"
                "@/etc/cbox/syntaxes.toml:18:23: network.ports[2]: invalid port spec 'x' (an array of "
                "\"HOST:CONTAINER\", \"ADDRESS:HOST:CONTAINER\" with optional \"/tcp\" or \"/udp\"; ports "
                "1-65535 or ranges \"A-B\" of equal length)\n"
                "@/etc/cbox/syntaxes.toml:19:8: network.dns[0]: invalid IPv4 address '1.2.3' (an array of "
                "IPv4 "
                "addresses)\n"
                "@/etc/cbox/syntaxes.toml:21:18: security.user_namespace: expected false or a string, got "
                "an "
                "integer (false or \"auto\")\n"
                "@/etc/cbox/syntaxes.toml:23:8: env.1X: invalid environment variable name '1X' (letters, "
                "digits "
                "and '_', not starting with a digit)\n"
                "@/etc/cbox/syntaxes.toml:24:5: env.Y: expected a string, got an integer (a table of "
                "strings: "
                "NAME = \"value\")\n"
                "@/etc/cbox/syntaxes.toml:26:11: health.retries: out of range value 101 (an integer from 1 "
                "to "
                "100)\n"
                "@/etc/cbox/syntaxes.toml:27:14: health.on_failure: invalid value 'restart' (\"ignore\" or "
                "\"exit\")\n"
                "@/etc/cbox/syntaxes.toml:28:3: mount[0].source: missing (bind mounts need an absolute host "
                "path)\n"
                "@/etc/cbox/syntaxes.toml:29:8: mount[0].type: invalid value 'nfs' (\"bind\", \"tmpfs\" or "
                "\"volume\")\n"
                "@/etc/cbox/syntaxes.toml:31:8: mount[0].size: invalid size '1Q' (a size: a number with "
                "optional "
                "K, M, G or T suffix (base 1024), or an integer of bytes)\n");

        /* the conf.d tables: named entries and their keys, [defaults] */
        free(put("etc/cbox/conf.d/50-bad.toml",
                 "storage_root = \"rel\"\n"          /* 1 */
                 "[network.this-name-is-too-long]\n" /* 2 */
                 "[network.n1]\n"                    /* 3 */
                 "subnet = \"10.1.0.0/31\"\n"        /* 4 */
                 "gateway = 5\n"                     /* 5 */
                 "masquerade = \"yes\"\n"            /* 6 */
                 "[registry.\"a b\"]\n"              /* 7 */
                 "[registry.\"r.io\"]\n"             /* 8 */
                 "insecure = 1\n"                    /* 9 */
                 "ca_file = \"x\"\n"                 /* 10 */
                 "[defaults]\n"                      /* 11 */
                 "stop_signal = \"SIGNOPE\"\n"));    /* 12 */
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        ConfigDiag d = {};
        ASSERT_ERROR(global_config_load(&g, &d), EINVAL);
        _cleanup_free_ char *got = problems_at_root(&d);
        ASSERT_STREQ(
                got,
                "@/etc/cbox/conf.d/50-bad.toml:1:16: storage_root: invalid path 'rel' (an absolute path)\n"
                "@/etc/cbox/conf.d/50-bad.toml:2:10: network.this-name-is-too-long: invalid network name "
                "'this-name-is-too-long' ([network.NAME] tables)\n"
                "@/etc/cbox/conf.d/50-bad.toml:3:10: network.n1: no subnet (an IPv4 subnet like "
                "\"10.88.0.0/16\")\n"
                "@/etc/cbox/conf.d/50-bad.toml:4:10: network.n1.subnet: out of range subnet '10.1.0.0/31' "
                "(an IPv4 subnet like \"10.88.0.0/16\", prefix 8 to 30)\n"
                "@/etc/cbox/conf.d/50-bad.toml:5:11: network.n1.gateway: expected a string, got an integer "
                "(an IPv4 address inside the subnet)\n"
                "@/etc/cbox/conf.d/50-bad.toml:6:14: network.n1.masquerade: expected a boolean, got a "
                "string (true or false)\n"
                "@/etc/cbox/conf.d/50-bad.toml:7:11: registry.a b: invalid registry name 'a b' "
                "([registry.\"HOST[:PORT]\"] tables)\n"
                "@/etc/cbox/conf.d/50-bad.toml:9:12: registry.r.io.insecure: expected a boolean, got an "
                "integer (true or false)\n"
                "@/etc/cbox/conf.d/50-bad.toml:10:11: registry.r.io.ca_file: invalid path 'x' (an absolute "
                "path)\n"
                "@/etc/cbox/conf.d/50-bad.toml:12:15: defaults.stop_signal: invalid signal 'SIGNOPE' (a "
                "signal name like \"SIGTERM\" or \"TERM\", or its number)\n");
}

/* resources.nofile, .nproc, .oom_score_adj: forms, defaults (not shown by cat), round trip, errors */
TEST(rlimits) {
        setup_root();
        free(put("etc/cbox/dflt.toml", "image = \"a:b\"\n"));
        _cleanup_(container_config_freep) ContainerConfig *d = load_ok("dflt");
        ASSERT_FALSE(d->resources.nofile_set);
        ASSERT_EQ_U64(d->resources.nofile.soft, 1024);
        ASSERT_EQ_U64(d->resources.nofile.hard, 524288);
        ASSERT_EQ_U64(d->resources.nproc.soft, UINT64_MAX);
        ASSERT_EQ_U64(d->resources.nproc.hard, UINT64_MAX);
        ASSERT_EQ(d->resources.oom_score_adj, 0);
        _cleanup_free_ char *dt = container_config_format_toml(d);
        ASSERT_NULL(strstr(dt, "nofile"));

        free(put("etc/cbox/lim.toml",
                 "image = \"a:b\"\n[resources]\nnofile = \"100:infinity\"\nnproc = 50\n"
                 "oom_score_adj = -500\n"));
        _cleanup_(container_config_freep) ContainerConfig *c = load_ok("lim");
        ASSERT_TRUE(c->resources.nofile_set);
        ASSERT_EQ_U64(c->resources.nofile.soft, 100);
        ASSERT_EQ_U64(c->resources.nofile.hard, UINT64_MAX);
        ASSERT_EQ_U64(c->resources.nproc.soft, 50);
        ASSERT_EQ_U64(c->resources.nproc.hard, 50);
        ASSERT_EQ(c->resources.oom_score_adj, -500);
        _cleanup_free_ char *t = container_config_format_toml(c);
        ASSERT_NOT_NULL(strstr(t, "nofile = \"100:infinity\""));
        ASSERT_NOT_NULL(strstr(t, "nproc = 50"));
        ASSERT_NOT_NULL(strstr(t, "oom_score_adj = -500"));

        free(put("etc/cbox/badlim.toml",
                 "image = \"a:b\"\n[resources]\nnofile = \"9:8\"\nnproc = \"x\"\n"
                 "oom_score_adj = 1001\n"));
        ASSERT_PROBLEMS(
                "badlim",
                "@/etc/cbox/badlim.toml:3:10: resources.nofile: out of range limit '9:8' (an integer, "
                "\"infinity\", or \"SOFT:HARD\" of those with SOFT at most HARD)\n"
                "@/etc/cbox/badlim.toml:4:9: resources.nproc: invalid limit 'x' (an integer, "
                "\"infinity\", or \"SOFT:HARD\" of those with SOFT at most HARD)\n"
                "@/etc/cbox/badlim.toml:5:17: resources.oom_score_adj: out of range value 1001 (an "
                "integer from -1000 to 1000)\n");
}

/* what container/ holds an image's WorkingDir, User and Env to */
TEST(image_field_checks) {
        ASSERT_TRUE(config_workdir_is_valid("/srv/app"));
        ASSERT_TRUE(config_workdir_is_valid("/proc/self/fd/7")); /* a path: spawn/ refuses to follow it */
        ASSERT_FALSE(config_workdir_is_valid("srv"));
        ASSERT_FALSE(config_workdir_is_valid("/a/../b\n"));
        ASSERT_TRUE(config_user_is_valid("1000:1000"));
        ASSERT_TRUE(config_user_is_valid("www-data"));
        ASSERT_FALSE(config_user_is_valid("no such user!"));
        ASSERT_FALSE(config_user_is_valid("a:"));
        ASSERT_TRUE(config_env_assignment_is_valid("PATH=/bin:/usr/bin"));
        ASSERT_TRUE(config_env_assignment_is_valid("EMPTY="));
        ASSERT_FALSE(config_env_assignment_is_valid("BAD-NAME=x"));
        ASSERT_FALSE(config_env_assignment_is_valid("=x"));
        ASSERT_FALSE(config_env_assignment_is_valid("NOEQUALS"));
}

TEST(pull_key) {
        setup_root();
        free(put("etc/cbox/p0.toml", "image = \"busybox:latest\"\n"));
        free(put("etc/cbox/p1.toml", "image = \"busybox:latest\"\npull = \"always\"\n"));
        free(put("etc/cbox/p2.toml", "image = \"busybox:latest\"\npull = \"never\"\n"));
        free(put("etc/cbox/p3.toml", "image = \"busybox:latest\"\npull = \"sometimes\"\n"));
        free(put("etc/cbox/p4.toml", "image = \"busybox:latest\"\npull = true\n"));
        _cleanup_(container_config_freep) ContainerConfig *c0 = load_ok("p0"), *c1 = load_ok("p1"),
                                                          *c2 = load_ok("p2");
        ASSERT_EQ(c0->pull, IMAGE_PULL_MISSING);
        ASSERT_EQ(c1->pull, IMAGE_PULL_ALWAYS);
        ASSERT_EQ(c2->pull, IMAGE_PULL_NEVER);
        ASSERT_PROBLEMS("p3",
                        "@/etc/cbox/p3.toml:2:8: pull: invalid value 'sometimes' (\"missing\", \"always\" "
                        "or \"never\")\n");
        ASSERT_PROBLEMS("p4",
                        "@/etc/cbox/p4.toml:2:8: pull: expected a string, got a boolean (\"missing\", "
                        "\"always\" or \"never\")\n");

        /* cbox cat writes it back */
        _cleanup_free_ char *t = container_config_format_toml(c1);
        ASSERT_NOT_NULL(t);
        ASSERT_NOT_NULL(strstr(t, "pull = \"always\""));
}

TEST(auto_update_key) {
        setup_root();
        free(put("etc/cbox/a0.toml", "image = \"busybox:latest\"\n"));
        free(put("etc/cbox/a1.toml", "image = \"reg.example:5000/app:1\"\nauto_update = \"registry\"\n"));
        free(put("etc/cbox/a2.toml", "image = \"busybox:latest\"\nauto_update = \"disabled\"\n"));
        free(put("etc/cbox/a3.toml", "image = \"busybox:latest\"\nauto_update = \"image\"\n"));
        free(put("etc/cbox/a4.toml", "rootfs = \"/srv/root\"\nauto_update = \"registry\"\n"));
        free(put("etc/cbox/a5.toml",
                 "image = "
                 "\"reg.example/"
                 "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"\n"
                 "auto_update = \"registry\"\n"));
        _cleanup_(container_config_freep) ContainerConfig *c0 = load_ok("a0"), *c1 = load_ok("a1"),
                                                          *c2 = load_ok("a2");
        ASSERT_EQ(c0->auto_update, AUTO_UPDATE_DISABLED);
        ASSERT_EQ(c1->auto_update, AUTO_UPDATE_REGISTRY);
        ASSERT_EQ(c2->auto_update, AUTO_UPDATE_DISABLED);
        ASSERT_PROBLEMS("a3",
                        "@/etc/cbox/a3.toml:2:15: auto_update: invalid value 'image' (\"registry\" or "
                        "\"disabled\")\n");
        ASSERT_PROBLEMS(
                "a4",
                "@/etc/cbox/a4.toml:2:1: auto_update: auto_update = \"registry\" follows the tag of "
                "'image' on its registry: it needs an image by tag (\"HOST/REPO:TAG\"), not a rootfs\n");
        ASSERT_PROBLEMS(
                "a5",
                "@/etc/cbox/a5.toml:2:1: auto_update: auto_update = \"registry\" follows the tag of "
                "'image' on its registry: it needs an image by tag (\"HOST/REPO:TAG\"), not a digest\n");

        _cleanup_free_ char *t = container_config_format_toml(c1);
        ASSERT_NOT_NULL(t);
        ASSERT_NOT_NULL(strstr(t, "auto_update = \"registry\""));
}

/* basic/unit-limits.h's table and config's key table agree: every limit's key is a container-file key
 * whose value lands in that limit's slot (and no other), and `cbox cat` writes it back under that key */
TEST(unit_limits_table) {
        static const char *const values[_UNIT_LIMIT_MAX] = {
                [UNIT_LIMIT_CPU_QUOTA] = "\"50%\"", [UNIT_LIMIT_CPU_WEIGHT] = "7",
                [UNIT_LIMIT_IO_WEIGHT] = "9",       [UNIT_LIMIT_MEMORY_HIGH] = "\"3M\"",
                [UNIT_LIMIT_MEMORY_MAX] = "\"4M\"", [UNIT_LIMIT_MEMORY_SWAP_MAX] = "\"5M\"",
                [UNIT_LIMIT_TASKS_MAX] = "11",
        };
        static const uint64_t expect[_UNIT_LIMIT_MAX] = {
                [UNIT_LIMIT_CPU_QUOTA] = 500000,   [UNIT_LIMIT_CPU_WEIGHT] = 7,
                [UNIT_LIMIT_IO_WEIGHT] = 9,        [UNIT_LIMIT_MEMORY_HIGH] = 3 << 20,
                [UNIT_LIMIT_MEMORY_MAX] = 4 << 20, [UNIT_LIMIT_MEMORY_SWAP_MAX] = 5 << 20,
                [UNIT_LIMIT_TASKS_MAX] = 11,
        };

        setup_root();
        UNIT_LIMIT_FOREACH(i) {
                _cleanup_free_ char *file = strprintf("etc/cbox/l%d.toml", (int) i),
                                    *text = strprintf("image = \"busybox:latest\"\n%s = %s\n",
                                                      unit_limit_info[i].key, values[i]),
                                    *name = strprintf("l%d", (int) i);
                free(put(file, text));
                _cleanup_(container_config_freep) ContainerConfig *c = load_ok(name);
                UNIT_LIMIT_FOREACH(j) {
                        ASSERT_EQ(c->resources.limits.set[j], i == j);
                        if (i == j)
                                ASSERT_EQ_U64(c->resources.limits.value[j], expect[j]);
                }
                _cleanup_free_ char *t = container_config_format_toml(c);
                ASSERT_NOT_NULL(t);
                ASSERT_NOT_NULL(strstr(t, unit_limit_info[i].key + strlen("resources.")));
        }
}

TEST(cat_round_trip) {
        setup_root();
        free(put("etc/cbox/web.toml",
                 "image = \"busybox:latest\"\ncommand = [\"a \\\"quoted\\\" \\\\ arg\", \"tab\\there\"]\n"
                 "entrypoint = []\nstop_timeout = 90\nstop_signal = 2\n"
                 "[env]\nX = \"1\"\n[resources]\nmemory_max = \"infinity\"\nmemory_high = 1000\ncpuset = "
                 "\"3,0-1\"\n"
                 "tasks_max = \"infinity\"\ncpu_weight = 100\nio_weight = 10000\n"
                 "[network]\nports = [\"127.0.0.1:5353:53/udp\", \"9000-9010:9000-9010\"]\naddress = "
                 "\"10.88.0.5\"\n"
                 "dns = [\"1.1.1.1\"]\nhosts = [\"db:10.88.0.6\"]\n"
                 "[security]\ncapabilities = { add = [\"net_admin\"], drop = [\"ALL\"] }\nuser_namespace = "
                 "\"auto\"\n"
                 "devices = [\"/dev/fuse:rw\"]\nseccomp = \"unconfined\"\n"
                 "[[mount]]\nsource = \"/srv\"\ntarget = \"/srv\"\nread_only = true\n"
                 "[health]\ncommand = [\"true\"]\nstart_period = \"1min 30s\"\non_failure = \"exit\"\n"));
        _cleanup_(container_config_freep) ContainerConfig *c = load_ok("web");
        ASSERT_STREQ(c->resources.cpuset, "0-1,3");
        ASSERT_EQ(c->resources.cpuset_mask_size, 1);
        ASSERT_EQ(c->resources.cpuset_mask[0], 0x0b);
        ASSERT_EQ(c->stop_signal, SIGINT);
        ASSERT_TRUE(c->entrypoint_set);
        ASSERT_NOT_NULL(c->entrypoint);
        ASSERT_NULL(c->entrypoint[0]);
        ASSERT_STREQ(c->security.capabilities_add[0], "CAP_NET_ADMIN");
        ASSERT_TRUE(c->security.user_namespace);
        ASSERT_EQ(c->network.n_ports, 2);
        ASSERT_EQ(c->network.ports[1].origin.line, 16);
        ASSERT_TRUE(c->health.enabled);
        ASSERT_EQ(c->health.on_failure, HEALTH_ON_FAILURE_EXIT);

        /* the annotated output is valid TOML that loads into the same configuration */
        _cleanup_free_ char *t = container_config_format_toml(c), *digest = container_config_digest(c);
        ASSERT_NOT_NULL(t);
        ASSERT_NOT_NULL(digest);
        ASSERT_EQ(strlen(digest), 64);
        free(put("etc/cbox/copy.toml", t));
        _cleanup_(container_config_freep) ContainerConfig *c2 = load_ok("copy");
        _cleanup_free_ char *t2 = container_config_format_toml(c2), *digest2 = container_config_digest(c2);
        ASSERT_NOT_NULL(t2); /* the copy formats too */
        /* names differ, so the digests do; compare without the name */
        free(c2->name);
        c2->name = strdup("web");
        free(c2->hostname);
        c2->hostname = strdup("web");
        free(digest2);
        digest2 = container_config_digest(c2);
        ASSERT_STREQ(digest, digest2);

        _cleanup_free_ char *j = container_config_format_json(c);
        ASSERT_NOT_NULL(j);
        ASSERT_NOT_NULL(strstr(j, "\"memory_max\": \"infinity\""));
        ASSERT_NOT_NULL(strstr(j, "\"resources.memory_max\": {"));
        ASSERT_NOT_NULL(strstr(j, "\"mount[0].read_only\": {"));
}

TEST_MAIN();
