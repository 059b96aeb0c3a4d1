#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Real traffic through cbox's bridge networking (issue 4, must show 1 and 2). Two peers in network
# namespaces of their own, joined by veth to the VM's namespace (the "host"), on documentation
# subnets that exist only inside the VM:
#   client   192.0.2.2/24    <-> t26c    192.0.2.1/24    (on the host)
#   outside  198.51.100.2/24 <-> t26o    198.51.100.1/24 (on the host)
# (busybox 1.35 wget segfaults with -T: timeouts come from `timeout`.)
# Shown: client -> host:8080 reaches the container's port 80 (tcp); localhost:8080 from the host;
# a container reaches another container's published port through the host's addresses (hairpin);
# a udp map (client -> host:15353/udp -> the container's udp echo on 5353); a "127.0.0.1:PORT:80"
# bind answers on the host's 127.0.0.1 but not to the client; a container reaching the outside peer
# is seen with the host's address as source (masquerade).
# cbox-test-timeout: 240
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd ip nft curl nc busybox timeout
ECHO=${CBOX_BUILD_ROOT:-}/tests/system/udp-echo
[ -x "$ECHO" ] || skip "udp-echo is not built ($ECHO)"

R=$(busybox_rootfs)

# the peers, removed at the end even on failure
for p in client outside; do
        on_exit ip netns del t26$p
done
on_exit ip link del t26c
on_exit ip link del t26o
ip netns add t26client
ip netns add t26outside
ip link add t26c type veth peer name eth0 netns t26client
ip link add t26o type veth peer name eth0 netns t26outside
ip addr add 192.0.2.1/24 dev t26c
ip addr add 198.51.100.1/24 dev t26o
ip link set t26c up
ip link set t26o up
ip -n t26client addr add 192.0.2.2/24 dev eth0
ip -n t26outside addr add 198.51.100.2/24 dev eth0
for p in client outside; do
        ip -n t26$p link set lo up
        ip -n t26$p link set eth0 up
done

# a listener in "outside" that answers with the peer address it sees (busybox httpd CGI)
mkdir -p outside/cgi-bin
printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%%s\\n" "$REMOTE_ADDR"\n' > outside/cgi-bin/peer
chmod 755 outside/cgi-bin/peer
ip netns exec t26outside busybox httpd -f -p 198.51.100.2:8000 -h "$PWD/outside" &
outside_pid=$!
on_exit kill $outside_pid

# the server: httpd on 80 and the udp echo on 5353; the client container: only a shell
mkdir -p bin
cp "$ECHO" bin/udp-echo
cat > t26web.toml <<E
rootfs = "$R"
command = ["/bin/sh", "-c", "mkdir -p /www && echo hello-from-\$(hostname) > /www/index.html; /opt/t/udp-echo 5353 & exec httpd -f -p 80 -h /www"]
[network]
ports = ["8080:80", "127.0.0.1:18090:80", "15353:5353/udp"]
[[mount]]
type = "bind"
source = "$PWD/bin"
target = "/opt/t"
read_only = true
E
cat > t26cli.toml <<E
rootfs = "$R"
command = ["/bin/sleep", "3600"]
E
on_exit "$CBOX" down t26web
on_exit "$CBOX" down t26cli
assert_success "$CBOX" up t26web.toml
assert_success "$CBOX" up t26cli.toml
web=$(sed -n 's/^ADDRESS=//p' /run/cbox/containers/t26web/state)
cli=$(sed -n 's/^ADDRESS=//p' /run/cbox/containers/t26cli/state)
info "t26web $web, t26cli $cli"
assert_ne "$web" "$cli" "addresses of two containers"
wait_until 30 curl -sf --max-time 2 -o /dev/null "http://$web:80/"

info "client -> 192.0.2.1:8080 (tcp)"
assert_eq "$(ip netns exec t26client curl -sf --max-time 5 http://192.0.2.1:8080/)" hello-from-t26web \
        "client -> host:8080"
info "host -> localhost:8080"
assert_eq "$(curl -sf --max-time 5 http://localhost:8080/)" hello-from-t26web "localhost:8080"
assert_eq "$(curl -sf --max-time 5 http://127.0.0.1:8080/)" hello-from-t26web "127.0.0.1:8080"

info "hairpin: t26cli -> 192.0.2.1:8080 and 10.88.0.1:8080"
assert_eq "$("$CBOX" exec t26cli -- timeout 10 wget -qO- http://192.0.2.1:8080/)" hello-from-t26web "hairpin"
assert_eq "$("$CBOX" exec t26cli -- timeout 10 wget -qO- http://10.88.0.1:8080/)" hello-from-t26web \
        "hairpin via the gateway"

info "udp: client -> 192.0.2.1:15353/udp"
udp_ok() {
        local got
        got=$(echo ping-$1 | ip netns exec t26client timeout 5 nc -u -w 2 192.0.2.1 15353 || true)
        [ "$got" = "echo:ping-$1" ]
}
wait_until 30 udp_ok 1
assert_success udp_ok 2

info "127.0.0.1:18090 bind: on the host's loopback only"
assert_eq "$(curl -sf --max-time 5 http://127.0.0.1:18090/)" hello-from-t26web "host 127.0.0.1:18090"
if ip netns exec t26client curl -s --max-time 3 -o /dev/null http://192.0.2.1:18090/; then
        fail "the 127.0.0.1:18090 bind is reachable from the client"
fi
# and the client still reaches 8080 (the refusal above is the bind, not a broken path)
assert_success ip netns exec t26client curl -sf --max-time 5 -o /dev/null http://192.0.2.1:8080/

info "masquerade: t26cli -> outside 198.51.100.2:8000"
wait_until 20 sh -c "ip netns exec t26outside busybox timeout 5 busybox wget -qO- http://198.51.100.2:8000/cgi-bin/peer >/dev/null"
seen=$("$CBOX" exec t26cli -- timeout 10 wget -qO- http://198.51.100.2:8000/cgi-bin/peer)
assert_eq "$seen" 198.51.100.1 "source address the outside peer sees"

assert_success "$CBOX" down t26cli
assert_success "$CBOX" down t26web
if nft list map inet cbox ports | grep -qE '8080|15353'; then fail "port elements remain after down"; fi
if nft list map inet cbox addrports | grep -q 18090; then fail "127.0.0.1 bind remains after down"; fi
info "ok"
