/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Parsers and formatters for the value syntaxes of cbox.toml(5). Pure functions: no I/O, no logging.
 * All return 0 or a negative errno: -EINVAL (malformed), -ERANGE (well-formed but out of range) or
 * -ENOMEM. Out-parameters are only written on success. */

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "string-util.h"

/* "128M", "1G", "4096", "infinity" (→ UINT64_MAX, only if allow_infinity). Base 1024; suffixes K, M,
 * G, T (upper case, optionally followed by "B", e.g. "512MB" = 512M). */
int config_parse_size(const char *s, bool allow_infinity, uint64_t *ret);
/* "128M" for 134217728, "1000" for 1000, "infinity" for UINT64_MAX; NULL on OOM */
char *config_format_size(uint64_t bytes);

/* systemd time spans: "90s", "1min 30s", "500ms", "1h", "2.5s", "infinity" (→ USEC_INFINITY, only
 * if allow_infinity). A number without unit is seconds. Units: us usec µs, ms msec, s sec second
 * seconds, m min minute minutes, h hr hour hours, d day days, w week weeks. */
int config_parse_timespan(const char *s, bool allow_infinity, uint64_t *ret_usec);
/* "1min 30s", "500ms", "0", "infinity"; NULL on OOM */
char *config_format_timespan(uint64_t usec);

/* "50%", "150%", "12.5%" (> 0, at most 2 decimals, ≤ 100000%) → CPUQuotaPerSecUSec (50% → 500000) */
int config_parse_cpu_quota(const char *s, uint64_t *ret_usec_per_sec);
char *config_format_cpu_quota(uint64_t usec_per_sec);

/* "HOST:CONTAINER[/PROTO]", "ADDRESS:HOST:CONTAINER[/PROTO]"; HOST and CONTAINER are ports 1..65535 or
 * ranges "A-B" of equal length; PROTO "tcp" (default) or "udp". ret->origin is left untouched. */
int config_parse_port_spec(const char *s, PortMap *ret);
/* "127.0.0.1:5353:53/udp", "8080:80/tcp"; NULL on OOM */
char *config_format_port_spec(const PortMap *p);
/* True when the host sides of a and b can collide: same protocol, overlapping port ranges, and
 * equal addresses or one of them the wildcard */
bool port_map_conflicts(const PortMap *a, const PortMap *b);

#define CONFIG_CPUSET_MAX 8192U /* CPUs 0..8191, the kernel's NR_CPUS upper bound */
/* "0-3,8" → a byte mask (bit n = CPU n, little endian bytes as systemd's AllowedCPUs wants), its
 * size, and the normalised list ("0-3,8"). Empty string → -EINVAL. */
int config_parse_cpuset(const char *s, uint8_t **ret_mask, size_t *ret_size, char **ret_normalised);

/* "SIGTERM", "TERM", "15", "SIGRTMIN+3", "RTMIN+3" → signal number (1.._NSIG-1) */
int config_parse_signal(const char *s, int *ret);
/* "SIGTERM"; "SIGRTMIN+3"; NULL if invalid. Returns a static or thread-local string. */
const char *config_signal_to_string(int sig);

/* container_name_is_valid() is basic/string-util.h's: one rule for config/ and state/ */

/* Dotted-quad IPv4 "10.88.0.2" (no leading zeros, no shorthand) */
int config_parse_ipv4(const char *s, struct in_addr *ret);
/* "10.88.0.0/16" → network address and prefix length. Host bits set → -EINVAL. */
int config_parse_ipv4_prefix(const char *s, struct in_addr *ret, unsigned *ret_prefixlen);
bool ipv4_in_subnet(struct in_addr a, struct in_addr subnet, unsigned prefixlen);

/* "CAP_NET_ADMIN" or "net_admin" → "CAP_NET_ADMIN" (upper case); "ALL" → "ALL" if allow_all.
 * Only names the kernel headers of this build know. */
int config_parse_capability(const char *s, bool allow_all, char **ret);

/* An absolute, normalised path: starts with '/', no "." or ".." components, no "//", no trailing '/'
 * (except "/" itself), no control characters. */
bool config_path_is_valid_absolute(const char *s);
