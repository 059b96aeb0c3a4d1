#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs a toml-test decoder over every case of a toml-test directory.

usage: run-toml-test.py DECODER CASES_DIR

valid/**.toml must decode (exit 0) to JSON equal to the .json beside it, compared as values as
described in CASES_DIR/README.md; invalid/**.toml must be rejected with a non-zero exit (a crash,
a signal or a time-out is a failure). Prints each failure and "N passed, M failed". Exit 77 when
CASES_DIR is absent."""

import json
import math
import os
import re
import subprocess
import sys

TIMEOUT = 10


def norm_datetime(s):
    s = s.upper().replace(' ', 'T')
    m = re.match(r'^(.*?)(\.\d+)?(Z|[+-]\d\d:\d\d)?$', s)
    head, frac, off = m.group(1), m.group(2) or '', m.group(3) or ''
    frac = frac.rstrip('0')
    if frac == '.':
        frac = ''
    if off in ('+00:00', '-00:00'):
        off = 'Z'
    return head + frac + off


def parse_float(s):
    s = s.strip().lower()
    if s in ('nan', '+nan', '-nan'):
        return math.nan
    return float(s)


def is_leaf(x):
    return isinstance(x, dict) and set(x.keys()) == {'type', 'value'} and \
        all(isinstance(v, str) for v in x.values())


def compare(got, want, path='$'):
    """Returns None when equal, else a description of the first difference."""
    if is_leaf(want):
        if not is_leaf(got):
            return f'{path}: expected a {want["type"]} leaf, got {json.dumps(got)[:80]}'
        t = want['type']
        if got['type'] != t:
            return f'{path}: expected type {t}, got {got["type"]}'
        g, w = got['value'], want['value']
        if t == 'string':
            ok = g == w
        elif t == 'integer':
            ok = re.fullmatch(r'-?\d+', g) is not None and int(g) == int(w)
        elif t == 'float':
            try:
                gf, wf = parse_float(g), parse_float(w)
            except ValueError:
                return f'{path}: not a float: {g!r}'
            ok = (math.isnan(gf) and math.isnan(wf)) or gf == wf
        elif t == 'bool':
            ok = g.lower() == w.lower()
        elif t in ('datetime', 'datetime-local', 'date-local', 'time-local'):
            ok = norm_datetime(g) == norm_datetime(w)
        else:
            return f'{path}: unknown type {t}'
        return None if ok else f'{path}: expected {w!r}, got {g!r}'
    if isinstance(want, dict):
        if not isinstance(got, dict) or is_leaf(got):
            return f'{path}: expected a table, got {json.dumps(got)[:80]}'
        if set(got) != set(want):
            return f'{path}: keys differ: missing {sorted(set(want) - set(got))}, extra {sorted(set(got) - set(want))}'
        for k in want:
            d = compare(got[k], want[k], f'{path}.{k}')
            if d:
                return d
        return None
    if isinstance(want, list):
        if not isinstance(got, list):
            return f'{path}: expected an array, got {json.dumps(got)[:80]}'
        if len(got) != len(want):
            return f'{path}: expected {len(want)} elements, got {len(got)}'
        for i, (g, w) in enumerate(zip(got, want)):
            d = compare(g, w, f'{path}[{i}]')
            if d:
                return d
        return None
    return f'{path}: unexpected JSON {json.dumps(want)[:80]} in the expected output'


def no_duplicates(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError(f'duplicate key {k!r} in decoder output')
        d[k] = v
    return d


def run(decoder, path):
    with open(path, 'rb') as f:
        data = f.read()
    try:
        p = subprocess.run([decoder], input=data, capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, b'', b'timed out'
    return p.returncode, p.stdout, p.stderr


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    decoder, root = sys.argv[1], sys.argv[2]
    if not os.path.isdir(root):
        print(f'SKIP: {root} not found', file=sys.stderr)
        return 77

    cases = []
    for sub in ('valid', 'invalid'):
        for dirpath, _, files in os.walk(os.path.join(root, sub)):
            for f in files:
                if f.endswith('.toml'):
                    cases.append(os.path.relpath(os.path.join(dirpath, f[:-5]), root))
    cases.sort()

    passed, failed = 0, []
    for case in cases:
        path = os.path.join(root, case + '.toml')
        rc, out, err = run(decoder, path)
        why = None
        if rc is None:
            why = 'timed out'
        elif rc < 0:
            why = f'killed by signal {-rc}'
        elif b'Sanitizer' in err or b'runtime error:' in err:
            # an ASan/UBSan report exits 1 too, which must not pass as "rejected"
            why = 'sanitizer report: ' + err.decode(errors='replace').strip()[:2000]
        elif case.startswith('valid'):
            if rc != 0:
                why = f'rejected: {err.decode(errors="replace").strip()}'
            else:
                try:
                    got = json.loads(out, object_pairs_hook=no_duplicates)
                    with open(os.path.join(root, case + '.json'), 'rb') as f:
                        want = json.load(f)
                    why = compare(got, want)
                except ValueError as e:
                    why = f'bad output: {e}'
        elif rc == 0:
            why = 'accepted an invalid document'
        if why:
            failed.append(case)
            print(f'FAIL {case}: {why}')
        else:
            passed += 1

    print(f'{passed} passed, {len(failed)} failed')
    return 0 if not failed and passed > 0 else 1


if __name__ == '__main__':
    sys.exit(main())
