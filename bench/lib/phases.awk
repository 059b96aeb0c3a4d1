# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/lib/phases.awk — the phases of one `cbox up --foreground` from `strace -f -ttt -qq` output
# (lines "PID SECONDS.USEC syscall…"); prints "phase<TAB>ms" lines:
#   startup   exec of cbox → clone3 of the container (ld.so, config, state, overlay preparation)
#   scope     clone3 → the child is told to go (the parent creates the scope and registers with
#             machined over D-Bus; network set-up happens here too)
#   setup     go → exec of cbox-init (mounts, pivot_root, capabilities in the child)
#   run       exec of cbox-init → its exit (cbox-init + the payload)
#   teardown  cbox-init's exit → the parent sees it (the kernel releasing the namespaces)
#   release   → cbox exits (unit stop, machined, state, network release)
function ms(a, b) { return (b - a) * 1000 }
NR == 1 { parent = $1; t_start = $2 }
$1 == parent && /clone3\(\{flags=[^}]*CLONE_NEWNS/ && !t_clone { t_clone = $2 }
$1 != parent && /recvfrom resumed>"G"/ && !t_go { t_go = $2; child = $1 }
$1 != parent && /recvfrom\(.*"G"/ && !t_go { t_go = $2; child = $1 }
child && $1 == child && /execveat\(/ && !t_exec { t_exec = $2 }
child && $1 == child && /exit_group\(/ && t_exec && !t_initexit { t_initexit = $2 }
$1 == parent && /SIGCHLD/ && t_initexit && !t_reaped { t_reaped = $2 }
$1 == parent && /exit_group\(/ { t_end = $2 }
END {
        if (!t_clone || !t_go || !t_exec || !t_initexit || !t_end)
                exit 1
        if (!t_reaped)
                t_reaped = t_initexit
        printf "startup\t%.2f\n", ms(t_start, t_clone)
        printf "scope\t%.2f\n", ms(t_clone, t_go)
        printf "setup\t%.2f\n", ms(t_go, t_exec)
        printf "run\t%.2f\n", ms(t_exec, t_initexit)
        printf "teardown\t%.2f\n", ms(t_initexit, t_reaped)
        printf "release\t%.2f\n", ms(t_reaped, t_end)
        printf "total\t%.2f\n", ms(t_start, t_end)
}
