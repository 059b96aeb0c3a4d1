#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/vm/run.sh — boot the system-test VM, run one command in it as root, power off.
#
#   run.sh [-t SECS] [-s DIR]... [-e NAME=VALUE]... [-m MEM] [-c CPUS] [-v] [--tap] -- CMD [ARG]...
#   run.sh -i [-s DIR]...          interactive: serial console on this terminal (quit: Ctrl-A x)
#
# The guest is Debian bookworm with systemd as PID 1 on the unified cgroup v2 hierarchy (memory,
# cpu, cpuset, io, pids), machined, journald, udev; QEMU with TCG (software emulation), so it works
# where /dev/kvm is missing or unusable.  The image comes from mkimage.sh (cached, built on first
# use) and boots as a throw-away snapshot: nothing the guest does survives, except writes to the
# shared directories.
#
# Shared over 9p at the SAME absolute path in the guest, read-write: the source root, the build
# root ($CBOX_BUILD_ROOT) when it lies outside it, and every -s DIR.  So binaries of a build dir
# run in the guest as they are (the guest has the same Debian libraries).  CMD runs from the
# current directory when that is shared (else the source root) once `systemctl
# is-system-running --wait` settled, in a unit (cbox-vm-hook.service), stdin /dev/null.
# Exported CBOX*, ASAN_/UBSAN_/LSAN_OPTIONS variables and -e NAME=VALUE reach CMD's environment.
#
# CMD's stdout and stderr stream to ours; our own messages (boot time, status) go to stderr.
# Exit status: CMD's; 124 when the run timed out (-t, default 1800 s); 125 when the guest never
# reported a status (its console log is shown); 77 when no VM can be had here (no qemu, no image:
# the reason is on stderr).  With --tap (for meson's TAP protocol) "no VM" prints
# "1..0 # SKIP reason" and exits 0, and 124/125 print "Bail out! reason".
#
# Environment: CBOX_TEST_CACHE (image cache, default /var/tmp/cbox-test), CBOX_VM_ACCEL (tcg or
# kvm; kvm is used only when /dev/kvm is a plain Intel/AMD KVM), CBOX_VM_CPU (TCG's CPU model,
# default qemu64: glibc then takes SSE2 paths, which TCG runs ~15-20% cheaper than the AVX2 ones
# "max" offers), CBOX_VM_CMDLINE (extra kernel arguments), CBOX_VM_KEEP=1 (keep the control
# directory with console.log).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)

TMO=1800 MEM=2G CPUS=2 VERBOSE=0 TAP=0 INTER=0
shares=("$SRC")
extra_env=()
usage() {
        sed -n '3,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
        exit 2
}
while [ $# -gt 0 ]; do
        case $1 in
        -t) TMO=$2 && shift 2 ;;
        -s) shares+=("$2") && shift 2 ;;
        -e) extra_env+=("$2") && shift 2 ;;
        -m) MEM=$2 && shift 2 ;;
        -c) CPUS=$2 && shift 2 ;;
        -v) VERBOSE=1 && shift ;;
        -i) INTER=1 && shift ;;
        --tap) TAP=1 && shift ;;
        --) shift && break ;;
        -h | --help) usage ;;
        *) echo "run.sh: unknown option '$1'" >&2 && usage ;;
        esac
done
[ $INTER = 1 ] || [ $# -gt 0 ] || usage
[[ $TMO =~ ^[0-9]+$ ]] || usage

say() { echo "run.sh: $*" >&2; }
skip() {
        say "SKIP: $*"
        if [ $TAP = 1 ]; then
                echo "1..0 # SKIP $*"
                exit 0
        fi
        exit 77
}
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
secs() { printf '%d.%01d' $(($1 / 1000)) $((($1 % 1000) / 100)); }

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not found (tools/setup.sh installs qemu-system-x86)"
qemu-system-x86_64 -accel help 2>/dev/null | grep -qx tcg || skip "this qemu-system-x86_64 has no TCG accelerator"
# the image directory from mkimage's stdout; its stderr streams to ours and is kept for the reason
errf=$(mktemp) || exit 125
I=$({ "$HERE/mkimage.sh" 2>&1 1>&3 3>&- | tee "$errf" >&2 3>&-; } 3>&1) || {
        why=$(grep '^mkimage: ' "$errf" | tail -1)
        rm -f "$errf"
        skip "cannot build the VM image: ${why#mkimage: }"
}
rm -f "$errf"
[ -f "$I/rootfs.img" ] || skip "mkimage.sh gave no image ('$I')"

# the shares: absolute, existing, not nested in one another, not a system directory
[ -n "${CBOX_BUILD_ROOT:-}" ] && shares+=("$CBOX_BUILD_ROOT")
declare -A seen=()
mounts=()
for d in "${shares[@]}"; do
        a=$(readlink -f "$d") && [ -d "$a" ] || {
                say "not a directory: $d"
                exit 2
        }
        case $a in
        / | /proc* | /sys* | /dev* | /run | /tmp | /var | /var/tmp | /var/lib | /etc | /usr | /usr/* | /bin* | /sbin* | /lib* | /boot*)
                say "cannot share $a: the guest needs its own"
                exit 2
                ;;
        esac
        [ -z "${seen[$a]:-}" ] || continue
        seen[$a]=1
        mounts+=("$a")
done
# drop a share that lies inside another
keep=()
for a in "${mounts[@]}"; do
        inside=0
        for b in "${mounts[@]}"; do
                [ "$a" != "$b" ] && [[ $a == "$b"/* ]] && inside=1
        done
        [ $inside = 1 ] || keep+=("$a")
done

accel=${CBOX_VM_ACCEL:-}
if [ -z "$accel" ]; then
        # /dev/kvm of a PVM host (kvm_pvm) hangs stock kernels: only plain KVM counts
        if [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
                accel=kvm
        else
                accel=tcg
        fi
fi
case $accel in
kvm) acc=(-accel kvm -cpu host) ;;
*) acc=(-accel "tcg,thread=multi" -cpu "${CBOX_VM_CPU:-qemu64}") ;;
esac

ctl=$(mktemp -d "${TMPDIR:-/tmp}/cbox-vm.XXXXXX") || exit 125
qpid="" tpids=()
cleanup() {
        [ -n "$qpid" ] && kill "$qpid" 2>/dev/null
        [ ${#tpids[@]} -gt 0 ] && kill "${tpids[@]}" 2>/dev/null
        if [ "${CBOX_VM_KEEP:-0}" = 1 ]; then say "kept $ctl"; else rm -rf "$ctl"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cp "$HERE/guest.sh" "$ctl/guest.sh"
virtfs=(-virtfs "local,path=$ctl,mount_tag=cboxctl,security_model=none,id=cboxctl")
: >"$ctl/shares"
n=0
cwd=$SRC
for a in "${keep[@]}"; do
        virtfs+=(-virtfs "local,path=$a,mount_tag=s$n,security_model=none,multidevs=remap,id=s$n")
        echo "s$n $a" >>"$ctl/shares"
        [ "$PWD" = "$a" ] || [[ $PWD == "$a"/* ]] && cwd=$PWD
        n=$((n + 1))
done
echo "$cwd" >"$ctl/cwd"
echo "$TMO" >"$ctl/timeout"
{
        while read -r name; do
                printf 'export %s=%q\n' "$name" "${!name}"
        done < <(compgen -e | grep -E '^(CBOX[A-Z0-9_]*|ASAN_OPTIONS|UBSAN_OPTIONS|LSAN_OPTIONS)$' |
                grep -vE '^CBOX_(VM_|TEST_CACHE)')
        for kv in "${extra_env[@]}"; do
                [[ $kv == [A-Za-z_]*=* ]] || {
                        say "-e wants NAME=VALUE, not '$kv'"
                        exit 2
                }
                printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}"
        done
} >"$ctl/env" || exit 2
printf '%q ' "$@" >"$ctl/cmd"
echo >>"$ctl/cmd"
: >"$ctl/out"
: >"$ctl/err"

bios=()
[ -f /usr/share/qemu/qboot.rom ] && bios=(-bios /usr/share/qemu/qboot.rom) # faster than SeaBIOS
qemu=(qemu-system-x86_64 "${acc[@]}" -smp "$CPUS" -m "$MEM" -nodefaults -no-reboot "${bios[@]}"
        -kernel "$I/vmlinuz" -initrd "$I/initrd.cpio"
        -drive "file=$I/rootfs.img,if=virtio,format=raw,snapshot=on,cache=unsafe"
        -device virtio-rng-pci -nic none -display none -monitor none
        "${virtfs[@]}")
cmdline="root=/dev/vda rw console=ttyS0 quiet loglevel=3 mitigations=off panic=-1 cbox.run=1"
cmdline+=" systemd.unified_cgroup_hierarchy=1 systemd.show_status=0 modprobe.blacklist=floppy,pcspkr ${CBOX_VM_CMDLINE:-}"

if [ $INTER = 1 ]; then
        echo interactive >"$ctl/mode"
        say "interactive VM (root autologin; shares mounted: ${keep[*]}; quit with Ctrl-A x)"
        "${qemu[@]}" -nographic -serial mon:stdio -append "$cmdline"
        exit $?
fi
echo run >"$ctl/mode"

t0=$(now_ms)
if [ $VERBOSE = 1 ]; then
        timeout "$TMO" "${qemu[@]}" -serial stdio -append "$cmdline" </dev/null >&2 &
else
        timeout "$TMO" "${qemu[@]}" -serial "file:$ctl/console.log" -append "$cmdline" </dev/null >"$ctl/qemu.log" 2>&1 &
fi
qpid=$!
tail -n +1 -s 0.2 -F --pid=$qpid "$ctl/out" 2>/dev/null &
tpids+=($!)
tail -n +1 -s 0.2 -F --pid=$qpid "$ctl/err" >&2 2>/dev/null &
tpids+=($!)
wait $qpid
qrc=$?
qpid=
wait "${tpids[@]}" 2>/dev/null
tpids=()
t1=$(now_ms)

boot=
if [ -f "$ctl/boot" ]; then
        tb=$(($(date -r "$ctl/boot" +%s%3N) - t0))
        read -r bootline <"$ctl/boot"
        boot="booted to ${bootline%% *} (${bootline##*uptime=} s guest uptime, $(secs $tb) s wall)"
        tail -n +2 "$ctl/boot" | sed 's/^/run.sh: failed unit: /' >&2
fi
[ -f "$ctl/boot-errors" ] && sed 's/^/run.sh: /' "$ctl/boot-errors" >&2
if [ -f "$ctl/rc" ]; then
        rc=$(cat "$ctl/rc")
elif [ $qrc = 124 ]; then
        rc=124
        say "the VM was killed after ${TMO} s"
else
        rc=125
        say "the guest reported no status (qemu exited $qrc); last console lines:"
        tail -q -n 40 "$ctl/console.log" "$ctl/qemu.log" 2>/dev/null | tr -d '\r' | sed 's/^/run.sh: | /' >&2
fi
say "${boot:-did not boot}; rc=$rc; total $(secs $((t1 - t0))) s ($accel, ${CPUS} vCPU, $MEM)"
if [ $TAP = 1 ] && [ "$rc" -ge 124 ] && [ "$rc" -le 125 ]; then
        echo "Bail out! the VM run failed with status $rc (see stderr)"
fi
exit "$rc"
