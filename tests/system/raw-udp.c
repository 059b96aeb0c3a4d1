/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* raw-udp — the CVE-2020-8558 probe of test-64, static so that it runs inside the busybox container.
 *
 *   raw-udp send IFACE DSTMAC SRCIP DSTIP PORT PAYLOAD
 *        sends one IPv4/UDP datagram SRCIP -> DSTIP:PORT as a raw frame to DSTMAC out of IFACE
 *        (AF_PACKET: needs CAP_NET_RAW). A container's own routing never sends 127.0.0.1 out; a raw
 *        frame to the gateway's MAC does. Exit 0 when the frame was sent.
 *   raw-udp listen ADDR PORT FILE
 *        binds ADDR:PORT (UDP) and appends every datagram's payload as a line to FILE, until killed:
 *        the "host service bound to loopback" (and, on the gateway address, the control). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../unit/raw-udp.h"

static int do_send(char **a) {
        struct sockaddr_ll sll = { .sll_family = AF_PACKET,
                                   .sll_protocol = htons(ETH_P_IP),
                                   .sll_halen = 6 };
        struct in_addr src, dst;
        unsigned m[6];
        uint8_t frame[1600];
        size_t n;
        int fd;

        if (sscanf(a[1], "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6 ||
            inet_pton(AF_INET, a[2], &src) != 1 || inet_pton(AF_INET, a[3], &dst) != 1) {
                fprintf(stderr, "raw-udp: bad MAC or address\n");
                return 2;
        }
        for (int i = 0; i < 6; i++)
                sll.sll_addr[i] = (unsigned char) m[i];
        sll.sll_ifindex = (int) if_nametoindex(a[0]);
        if (sll.sll_ifindex <= 0) {
                perror("raw-udp: interface");
                return 1;
        }
        n = raw_udp_build(frame, sizeof(frame), src.s_addr, dst.s_addr, htons(40000),
                          htons((uint16_t) atoi(a[4])), a[5], strlen(a[5]));
        if (n == 0)
                return 2;
        /* SOCK_DGRAM: the kernel writes the Ethernet header for sll_addr */
        fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
        if (fd < 0) {
                perror("raw-udp: AF_PACKET socket");
                return 1;
        }
        if (sendto(fd, frame, n, 0, (struct sockaddr *) &sll, sizeof(sll)) != (ssize_t) n) {
                perror("raw-udp: sendto");
                return 1;
        }
        return 0;
}

static int do_listen(char **a) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) atoi(a[1])) };
        char buf[2048];
        int fd, out;

        if (inet_pton(AF_INET, a[0], &sa.sin_addr) != 1)
                return 2;
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        out = open(a[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0 || out < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                perror("raw-udp: listen");
                return 1;
        }
        for (;;) {
                ssize_t k = recv(fd, buf, sizeof(buf) - 1, 0);
                if (k < 0)
                        continue;
                buf[k++] = '\n';
                if (write(out, buf, (size_t) k) != k)
                        return 1;
        }
}

int main(int argc, char *argv[]) {
        if (argc == 8 && strcmp(argv[1], "send") == 0)
                return do_send(argv + 2);
        if (argc == 5 && strcmp(argv[1], "listen") == 0)
                return do_listen(argv + 2);
        fprintf(stderr,
                "usage: raw-udp send IFACE DSTMAC SRCIP DSTIP PORT PAYLOAD\n"
                "       raw-udp listen ADDR PORT FILE\n");
        return 2;
}
