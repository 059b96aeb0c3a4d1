#!/bin/bash
# Fails when a tracked C file differs from what clang-format (.clang-format) makes of it.
# Fix with: tools/check-format.sh --fix
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format missing" >&2; exit 77; }
mapfile -t files < <(git ls-files -- 'src/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]' 2>/dev/null || find src tests -name '*.[ch]')
[ ${#files[@]} -gt 0 ] || { echo "no C files" >&2; exit 1; }
if [ "${1:-}" = --fix ]; then
        clang-format -i "${files[@]}"
        exit 0
fi
clang-format --dry-run --Werror "${files[@]}"
echo "format: ${#files[@]} files clean"
