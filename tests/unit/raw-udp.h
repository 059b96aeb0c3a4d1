/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One IPv4/UDP datagram built by hand, for sending through an AF_PACKET socket to a chosen MAC: how a
 * container reaches an address its own routing never sends out (127.0.0.1 through the gateway's MAC,
 * CVE-2020-8558). Used by test-nft and by the static probe tests/system/raw-udp.c. libc only. */

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t raw_udp_ip_checksum(const uint8_t *h, size_t n) {
        uint32_t s = 0;
        for (size_t i = 0; i + 1 < n; i += 2)
                s += (uint32_t) (h[i] << 8 | h[i + 1]);
        while (s >> 16)
                s = (s & 0xffff) + (s >> 16);
        return (uint16_t) ~s;
}

/* Writes the IP header, UDP header (checksum 0: none, allowed for IPv4) and payload to buf; returns the
 * length, 0 if it does not fit. Addresses and ports in network order. */
static inline size_t raw_udp_build(uint8_t *buf, size_t size, uint32_t saddr, uint32_t daddr, uint16_t sport,
                                   uint16_t dport, const void *payload, size_t len) {
        size_t total = 20 + 8 + len;
        uint16_t c;

        if (total > size || total > 1500)
                return 0;
        memset(buf, 0, 28);
        buf[0] = 0x45; /* IPv4, 5 words */
        buf[2] = (uint8_t) (total >> 8);
        buf[3] = (uint8_t) total;
        buf[6] = 0x40; /* DF */
        buf[8] = 64;   /* TTL */
        buf[9] = IPPROTO_UDP;
        memcpy(buf + 12, &saddr, 4);
        memcpy(buf + 16, &daddr, 4);
        c = raw_udp_ip_checksum(buf, 20);
        buf[10] = (uint8_t) (c >> 8);
        buf[11] = (uint8_t) c;
        memcpy(buf + 20, &sport, 2);
        memcpy(buf + 22, &dport, 2);
        buf[24] = (uint8_t) ((8 + len) >> 8);
        buf[25] = (uint8_t) (8 + len);
        memcpy(buf + 28, payload, len);
        return total;
}
