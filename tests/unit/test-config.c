/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "config-values.h"
#include "config.h"
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
        ASSERT_ERROR(config_parse_signal("", &s), EINVAL);
        ASSERT_ERROR(config_parse_signal("0", &s), EINVAL);
        ASSERT_ERROR(config_parse_signal("65", &s), EINVAL);
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

TEST_MAIN();
