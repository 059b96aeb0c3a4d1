#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# runc CVE-2019-5736 through `cbox exec` and [health]: a watcher inside the container (root) stops
# every process whose executable is not the container's and tries to open /proc/PID/exe for writing
# and to reopen an O_PATH fd of it for writing. Every attempt must fail, and no process in the
# container may ever be cbox's own binary: those that enter it are not dumpable until they run from
# cbox-init's read-only copy. A command "#!/proc/self/exe" (the exploit's trick) therefore runs
# cbox-init (its usage error, 125). Control: the watcher opens a
# file of its own for writing. Also: CapInh and CapAmb are zero in the payload, exec and health;
# exec and health run as the image's User in its WorkingDir with its Env; rlimits and
# oom_score_adj from the file are what they see.
# cbox-test-timeout: 900
. "$(dirname "$0")/lib.sh"
require_cbox
require_systemd
require_cmd umoci tar stat

PROBE=${CBOX_BUILD_ROOT:-$(dirname "$CBOX")/../..}/tests/system/escape-probe
[ -x "$PROBE" ] || skip "escape-probe is not built ($PROBE)"
cbox_id=$(stat -Lc '%d:%i' "$CBOX")
ZERO=0000000000000000

# ---- the image: busybox, the probe, /evil; t62:root as is, t62:user with User/Env/WorkingDir ----
"$SRC/tools/mkbusybox-rootfs.sh" --tar bb.tar.gz >/dev/null
umoci init --layout oci >/dev/null
umoci new --image oci:root >/dev/null
umoci unpack --image oci:root bundle >/dev/null
tar -xzf bb.tar.gz -C bundle/rootfs
cp "$PROBE" bundle/rootfs/bin/escape-probe
printf '#!/proc/self/exe\n' > bundle/rootfs/evil
chmod 755 bundle/rootfs/evil
mkdir -p bundle/rootfs/srv
chmod 1777 bundle/rootfs/srv
umoci repack --image oci:root bundle >/dev/null
umoci config --image oci:root --tag user --config.user 1000:1000 --config.env T62=from-image \
        --config.workingdir /srv >/dev/null
for tag in root user; do
        on_exit "$CBOX" image rm "t62:$tag"
        assert_success "$CBOX" image import -q oci "t62:$tag"
done
mkdir -p out
chmod 777 out

# caught/hidden lines of a watcher log: every write failed, none was cbox's binary; at least one
# process other than init was looked at
check_log() { # LOG WHAT
        local log=$1 what=$2 n=0 line
        assert_contains "$(head -1 "$log")" "control write=OK" "$what: the watcher's control"
        while read -r line; do
                case $line in
                caught\ *)
                        set -- $line
                        [ "$2" = 1 ] || n=$((n + 1))
                        assert_ne "$3" "$cbox_id" "$what: a process in the container ran cbox's binary ($line)"
                        case $line in *write=OK* | *reopen=OK*) fail "$what: wrote the executable: $line" ;; esac
                        ;;
                hidden\ *)
                        set -- $line
                        [ "$2" = 1 ] || n=$((n + 1))
                        ;;
                esac
        done < "$log"
        [ "$n" -gt 0 ]
}

# ---- 1. cbox exec ----
cat > t62x.toml <<E
image = "t62:root"
command = ["/bin/escape-probe", "watch", "/out/x.log"]
[network]
mode = "none"
[[mount]]
type = "bind"
source = "$PWD/out"
target = "/out"
E
on_exit "$CBOX" down --volumes t62x
assert_success "$CBOX" up t62x.toml
wait_until 60 test -s out/x.log
info "watcher: $(head -2 out/x.log | tr '\n' ' ')"
assert_contains "$(sed -n 2p out/x.log)" "CapInh=$ZERO CapAmb=$ZERO" "payload capabilities"

# the exploit's command: runs cbox-init's copy, not cbox
rc=0
out=$("$CBOX" exec t62x -- /evil 2>&1) || rc=$?
info "exec /evil: $rc: $out"
assert_eq "$rc" 125 "exec of a #!/proc/self/exe script"
assert_contains "$out" "usage: cbox-init" "exec of a #!/proc/self/exe script"

# until the watcher has caught (or been refused) a process that exec put into the container
tries=0
until check_log out/x.log "exec"; do
        tries=$((tries + 1))
        [ "$tries" -le 100 ] || fail "the watcher saw none of 100 exec'd processes: $(cat out/x.log)"
        "$CBOX" exec t62x -- /bin/true
        "$CBOX" exec t62x -- /evil >/dev/null 2>&1 || true
done
info "exec: $(grep -c -e '^caught' -e '^hidden' out/x.log) processes looked at after $tries rounds"
grep -e '^caught' -e '^hidden' out/x.log | head -5

assert_success "$CBOX" exec t62x -- /bin/escape-probe status /tmp/s
s=$("$CBOX" exec t62x -- cat /tmp/s)
assert_contains "$s" "CapInh=$ZERO" "exec capabilities"
assert_contains "$s" "CapAmb=$ZERO" "exec capabilities"
assert_contains "$s" "nofile=1024:524288" "exec default nofile"
assert_success "$CBOX" down t62x

# ---- 2. [health] ----
cat > t62h.toml <<E
image = "t62:root"
command = ["/bin/escape-probe", "watch", "/out/h.log"]
[network]
mode = "none"
[[mount]]
type = "bind"
source = "$PWD/out"
target = "/out"
[health]
command = ["/bin/escape-probe", "status", "/out/h.status"]
interval = "1s"
timeout = "30s"
E
on_exit "$CBOX" down --volumes t62h
"$CBOX" up --foreground t62h.toml > t62h.out 2>&1 &
up_pid=$!
on_exit kill "$up_pid"
wait_until 60 test -s out/h.log
wait_until 120 check_log out/h.log "health"
info "health: $(grep -c -e '^caught' -e '^hidden' out/h.log) processes looked at"
wait_until 60 test -s out/h.status
s=$(cat out/h.status)
assert_contains "$s" "CapInh=$ZERO" "health capabilities"
assert_contains "$s" "CapAmb=$ZERO" "health capabilities"
assert_success "$CBOX" down t62h
wait "$up_pid" || true

# ---- 3. the image's User, WorkingDir and Env for exec and health; the file's limits ----
cat > t62u.toml <<E
image = "t62:user"
command = ["/bin/sleep", "3600"]
[network]
mode = "none"
[resources]
nofile = "4096:8192"
oom_score_adj = 300
[health]
command = ["/bin/escape-probe", "status", "/srv/health.status"]
interval = "1s"
E
on_exit "$CBOX" down --volumes t62u
"$CBOX" up --foreground t62u.toml > t62u.out 2>&1 &
up_pid=$!
on_exit kill "$up_pid"
wait_until 60 "$CBOX" exec t62u -- test -s /srv/health.status
assert_success "$CBOX" exec t62u -- /bin/escape-probe status exec.status
for f in /srv/health.status /srv/exec.status; do
        s=$("$CBOX" exec t62u -- cat "$f")
        info "$f: $(echo "$s" | tr '\n' ' ')"
        assert_contains "$s" "uid=1000" "$f: the image's User"
        assert_contains "$s" "cwd=/srv" "$f: the image's WorkingDir"
        assert_contains "$s" "env_T62=from-image" "$f: the image's Env"
        assert_contains "$s" "nofile=4096:8192" "$f: resources.nofile"
        assert_contains "$s" "nproc=unlimited:unlimited" "$f: default nproc"
        assert_contains "$s" "oom=300" "$f: oom_score_adj"
        assert_contains "$s" "CapInh=$ZERO" "$f"
done
# the payload itself (sleep, the image's user)
lim=$("$CBOX" exec t62u -- sh -c 'cat /proc/$(pidof sleep)/limits')
assert_match "$lim" "Max open files +4096 +8192" "the payload's limits"
assert_eq "$("$CBOX" exec t62u -- sh -c 'cat /proc/$(pidof sleep)/oom_score_adj')" 300 "the payload's oom_score_adj"
# -u / -w still win over the image's
assert_eq "$("$CBOX" exec -u 0 -w / t62u -- sh -c 'echo $(id -u):$(pwd)')" "0:/" "exec -u -w"
assert_success "$CBOX" down t62u
wait "$up_pid" || true
info "ok"
