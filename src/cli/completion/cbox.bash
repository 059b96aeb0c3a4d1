# SPDX-License-Identifier: LGPL-2.1-or-later
# bash completion for cbox(1): verbs, options, container names (cbox list --all), container files
# (NAME.toml in /etc/cbox, /run/cbox, /usr/lib/cbox, and files), image names (cbox image list).

__cbox_containers() {
        "${1:-cbox}" list --all 2>/dev/null | awk 'NR > 1 && $1 != "" { print $1 }'
}

__cbox_files() {
        local d f
        for d in /etc/cbox /run/cbox /usr/lib/cbox; do
                for f in "${CBOX_CONFIG_ROOT:-}$d"/*.toml; do
                        [ -f "$f" ] || continue
                        f=${f##*/}
                        echo "${f%.toml}"
                done
        done
}

# $2: the --root=DIR given on the command line, if any
__cbox_images() {
        "${1:-cbox}" image ${2:+--root="$2"} list 2>/dev/null | awk 'NR > 1 && $1 != "" { print $1 }'
}

_cbox() {
        local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
        local cbox=${COMP_WORDS[0]} verb= sub= root= nargs=0 i
        local verbs='up down start stop restart kill list status logs exec top verify cat image update cleanup commit export gc network auto-update'
        local global='-h --help --version --json -q --quiet'
        local -A opts=(
                [up]='--foreground --replace -q --quiet'
                [down]='--volumes'
                [start]='' [stop]='' [restart]='' [top]='' [cleanup]='' [update]=''
                [kill]='-s --signal'
                [list]='--all --json'
                [status]='-n --lines'
                [logs]='-f --follow -n --lines -t --timestamps'
                [exec]='-t --tty -u --user -e --env -w --workdir'
                [verify]='-q --quiet'
                [cat]='--json'
                [image]='--root --json --ca-file --insecure-registry --auth-file -q --quiet'
                [commit]='--json -q --quiet'
                [export]='-q --quiet'
                [gc]='--json -q --quiet'
                [network]='--json'
                [auto-update]='--dry-run --json'
        )

        for ((i = 1; i < COMP_CWORD; i++)); do
                case ${COMP_WORDS[i]} in
                --root=*) root=${COMP_WORDS[i]#--root=} ;;
                --root)
                        # bash splits --root=DIR into "--root" "=" "DIR" (= is in COMP_WORDBREAKS)
                        if [ "${COMP_WORDS[i + 1]}" = "=" ]; then
                                ((i++))
                        fi
                        root=${COMP_WORDS[i + 1]}
                        ((i++))
                        ;;
                -*) ;;
                *)
                        if [ -z "$verb" ]; then
                                verb=${COMP_WORDS[i]}
                        else
                                nargs=$((nargs + 1))
                                if [[ $verb == image || $verb == network ]] && [ -z "$sub" ]; then
                                        sub=${COMP_WORDS[i]}
                                fi
                        fi
                        ;;
                esac
        done

        if [ -z "$verb" ]; then
                if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W "$global" -- "$cur"))
                else
                        COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
                fi
                return 0
        fi
        if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "${opts[$verb]} --help" -- "$cur"))
                return 0
        fi

        case $verb in
        kill)
                if [[ $prev == -s || $prev == --signal ]]; then
                        COMPREPLY=($(compgen -W 'TERM INT HUP KILL QUIT USR1 USR2 STOP CONT WINCH' -- "$cur"))
                        return 0
                fi
                COMPREPLY=($(compgen -W "$(__cbox_containers "$cbox")" -- "$cur"))
                ;;
        down | start | stop | restart | status | logs | exec | top | update | cleanup)
                [[ $verb == exec && $prev =~ ^(-u|--user|-e|--env|-w|--workdir)$ ]] && return 0
                [[ $verb == status || $verb == logs ]] && [[ $prev == -n || $prev == --lines ]] && return 0
                COMPREPLY=($(compgen -W "$(__cbox_containers "$cbox")" -- "$cur"))
                ;;
        commit | export)
                # NAME, then IMAGE:TAG (commit) or FILE (export)
                if [ "$nargs" = 0 ]; then
                        COMPREPLY=($(compgen -W "$(__cbox_containers "$cbox")" -- "$cur"))
                elif [ "$verb" = commit ]; then
                        COMPREPLY=($(compgen -W "$(__cbox_images "$cbox")" -- "$cur"))
                else
                        COMPREPLY=($(compgen -f -- "$cur"))
                        compopt -o filenames 2>/dev/null
                fi
                ;;
        up | verify | cat)
                # a container's name (its file in /etc/cbox …) or a file
                COMPREPLY=($(compgen -W "$(__cbox_files)" -- "$cur") $(compgen -f -- "$cur"))
                compopt -o filenames 2>/dev/null
                ;;
        image)
                case $sub in
                '') COMPREPLY=($(compgen -W 'import pull push list inspect tag rm gc' -- "$cur")) ;;
                import)
                        COMPREPLY=($(compgen -f -- "$cur"))
                        compopt -o filenames 2>/dev/null
                        ;;
                inspect | rm | tag | push) COMPREPLY=($(compgen -W "$(__cbox_images "$cbox" "$root")" -- "$cur")) ;;
                esac
                ;;
        network)
                case $sub in
                '') COMPREPLY=($(compgen -W 'list inspect reload' -- "$cur")) ;;
                inspect)
                        [ "$nargs" = 1 ] &&
                                COMPREPLY=($(compgen -W "$("$cbox" network list 2>/dev/null | awk 'NR > 1 { print $1 }')" -- "$cur"))
                        ;;
                esac
                ;;
        esac
        return 0
}

complete -F _cbox cbox
