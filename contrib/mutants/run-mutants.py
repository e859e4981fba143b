#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Mutation check: do the tests notice small, plausible bugs?

For each mutation of a mutations file (default: mutations.txt next to this
script) it replaces one unique anchor string in one source file of a scratch
copy of the tree, builds, and runs the mutation's own test selection. A
failing selection kills the mutant; a passing one lets it survive. Prints a
table: killed, survived, does not apply (anchor missing or not unique), or
build failed. See README.md.
"""
import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PY = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable


class Mutation:
    def __init__(self, name, line):
        self.name = name
        self.line = line  # where it starts in the mutations file
        self.file = None
        self.why = ""
        self.meson = []   # meson unit test names
        self.pytest = []  # pytest arguments
        self.build = "plain"
        self.find = None
        self.replace = None


def parse(path):
    """Reads the mutations file (format in README.md)."""
    muts, cur, block = [], None, None
    for n, raw in enumerate(Path(path).read_text().split("\n"), 1):
        if raw.startswith("=== "):
            cur = Mutation(raw[4:].strip(), n)
            muts.append(cur)
            block = None
            continue
        if cur is None:
            if raw.strip() and not raw.startswith("#"):
                raise SystemExit(f"{path}:{n}: text before the first '=== name' line")
            continue
        if raw == "--- find":
            cur.find, block = [], "find"
            continue
        if raw == "--- replace":
            cur.replace, block = [], "replace"
            continue
        if block is not None:
            getattr(cur, block).append(raw)
            continue
        if not raw.strip() or raw.startswith("#"):
            continue
        key, _, value = raw.partition(":")
        key, value = key.strip(), value.strip()
        if key == "file":
            cur.file = value
        elif key == "why":
            cur.why = value
        elif key == "meson":
            cur.meson = value.split()
        elif key == "pytest":
            cur.pytest = shlex.split(value)
        elif key == "build":
            if value not in ("plain", "asan"):
                raise SystemExit(f"{path}:{n}: build must be plain or asan")
            cur.build = value
        else:
            raise SystemExit(f"{path}:{n}: unknown key {key!r}")
    for m in muts:
        # A block's trailing empty lines are the separator before the next '==='.
        for attr in ("find", "replace"):
            lines = getattr(m, attr)
            while lines and lines[-1] == "":
                lines.pop()
            setattr(m, attr, None if lines is None else "\n".join(lines))
        if not m.file or m.find is None or m.replace is None or not (m.meson or m.pytest):
            raise SystemExit(f"{path}:{m.line}: {m.name}: needs file, find, replace and meson and/or pytest")
    names = [m.name for m in muts]
    dup = {x for x in names if names.count(x) > 1}
    if dup:
        raise SystemExit(f"{path}: duplicate names: {', '.join(sorted(dup))}")
    return muts


def run(cmd, cwd, env=None, timeout=None, log=None):
    """Runs @cmd; returns (exit status or 'timeout', seconds). Output goes to @log."""
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        rc = "timeout"
    return rc, time.monotonic() - t0


def copy_tree(src, dst):
    """The source tree without build directories or git metadata."""
    def ignore(d, names):
        if Path(d) == src:
            return [n for n in names if n.startswith("build") or n == ".git"]
        return [n for n in names if n in ("__pycache__", "node_modules", ".pytest_cache")]
    shutil.copytree(src, dst, ignore=ignore, symlinks=True)


def setup_build(tree, kind, log):
    bdir = tree / ("build" if kind == "plain" else "build-asan")
    if (bdir / "build.ninja").exists():
        return bdir
    args = ["meson", "setup", str(bdir)]
    if kind == "asan":
        args += ["-Db_sanitize=address,undefined", "-Db_lundef=false"]
    rc, _ = run(args, tree, log=log)
    if rc != 0:
        raise SystemExit(f"meson setup {bdir} failed on the unmutated tree (see {log.name})")
    return bdir


def test_env(tree, bdir):
    env = dict(os.environ)
    env["SWASFS_BIN"] = str(bdir / "swasfs")
    env["API_WALK_BIN"] = str(bdir / "tests" / "api_walk")
    env["ASAN_OPTIONS"] = "detect_leaks=1"
    env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1"
    env.pop("TEST_WITH_VALGRIND", None)
    return env


def check(tree, m, log, timeout):
    """Builds the (mutated) tree and runs m's selection: 'killed', 'survived' or 'build failed'."""
    bdir = setup_build(tree, m.build, log)
    rc, _ = run(["meson", "compile", "-C", str(bdir)], tree, log=log, timeout=timeout)
    if rc != 0:
        return "build failed"
    env = test_env(tree, bdir)
    if m.meson:
        rc, _ = run(["meson", "test", "-C", str(bdir), "--print-errorlogs", *m.meson], tree, env=env, log=log,
                    timeout=timeout)
        if rc == "timeout":
            return "killed (timeout)"
        if rc != 0:
            return "killed"
    if m.pytest:
        rc, _ = run([PY, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *m.pytest], tree, env=env, log=log,
                    timeout=timeout)
        if rc == "timeout":
            return "killed (timeout)"
        if rc == 5:
            return "no tests selected"
        if rc != 0 and rc != 1:
            # 2 interrupted, 3 internal error, 4 bad arguments (a file that is not there)
            return f"pytest error (exit {rc})"
        if rc == 1:
            return "killed"
    return "survived"


def not_applicable(tree, m):
    """Why @m cannot be applied to @tree, or None if its anchor is there exactly once."""
    try:
        hits = (tree / m.file).read_text().count(m.find)
    except FileNotFoundError:
        return "does not apply (no such file)"
    if hits == 0:
        return "does not apply (anchor not found)"
    if hits > 1:
        return f"does not apply (anchor found {hits} times)"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mutations", nargs="?", default=str(HERE / "mutations.txt"))
    ap.add_argument("--only", default="", help="comma-separated mutation names (default: all)")
    ap.add_argument("--list", action="store_true", help="list the mutations and exit")
    ap.add_argument("--source", default=str(ROOT), help="tree to copy (default: this checkout, as it is on disk)")
    ap.add_argument("--workdir", help="scratch directory to use and keep (default: a temporary one, removed)")
    ap.add_argument("--timeout", type=int, default=1200, help="seconds for one build or one test run")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip checking that every selection passes on the unmutated tree first")
    args = ap.parse_args()

    muts = parse(args.mutations)
    if args.only:
        want = set(args.only.split(","))
        unknown = want - {m.name for m in muts}
        if unknown:
            raise SystemExit(f"unknown mutations: {', '.join(sorted(unknown))}")
        muts = [m for m in muts if m.name in want]
    if args.list:
        for m in muts:
            print(f"{m.name:36} {m.file:16} {m.why}")
        return 0

    src = Path(args.source).resolve()
    tmp = None
    if args.workdir:
        work = Path(args.workdir).resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="swasfs-mutants-")
        work = Path(tmp)
    tree = work / "tree"
    if tree.exists():
        shutil.rmtree(tree)
    copy_tree(src, tree)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    print(f"scratch tree: {tree}; logs: {logs}", flush=True)

    rows = []
    try:
        # Baseline: every selection must pass on the unmutated tree, or a
        # "kill" would mean nothing.
        broken = {m.name: why for m in muts if (why := not_applicable(tree, m))}
        if not args.no_baseline:
            seen = {}
            for m in muts:
                if m.name in broken:
                    continue
                key = (m.build, tuple(m.meson), tuple(m.pytest))
                if key not in seen:
                    with open(logs / f"baseline-{len(seen)}.log", "w") as log:
                        seen[key] = check(tree, m, log, args.timeout), log.name
                outcome, log_name = seen[key]
                if outcome != "survived":
                    broken[m.name] = f"baseline fails ({outcome}; {Path(log_name).name})"
            failing = len({v for v in broken.values() if v.startswith("baseline")})
            print(f"baseline: {len(seen)} selections, {failing} failing", flush=True)
        for m in muts:
            if m.name in broken:
                rows.append((m, broken[m.name], 0.0))
                print(f"{m.name}: {broken[m.name]}", flush=True)
                continue
            t0 = time.monotonic()
            target = tree / m.file
            log_path = logs / f"{m.name}.log"
            with open(log_path, "w") as log:
                original = target.read_text()
                target.write_text(original.replace(m.find, m.replace))
                try:
                    log.write(f"# {m.name}: {m.why}\n# {m.file}\n")
                    log.flush()
                    outcome = check(tree, m, log, args.timeout)
                finally:
                    target.write_text(original)
                    # Make sure the next build sees the restored file as changed.
                    os.utime(target, None)
            secs = time.monotonic() - t0
            rows.append((m, outcome, secs))
            print(f"{m.name}: {outcome} ({secs:.0f} s)", flush=True)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"{'mutation':36} {'file':14} {'result':40} {'s':>5}  tests")
    for m, outcome, secs in rows:
        sel = " ".join(([f"meson:{','.join(m.meson)}"] if m.meson else []) +
                       ([f"pytest:{' '.join(shlex.quote(a) for a in m.pytest)}"] if m.pytest else []))
        if m.build == "asan":
            sel = "[asan] " + sel
        print(f"{m.name:36} {m.file:14} {outcome:40} {secs:5.0f}  {sel}")
    counts = {}
    for _, outcome, _ in rows:
        key = re.sub(r" \(.*", "", outcome)
        counts[key] = counts.get(key, 0) + 1
    print("\n" + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    return 0 if all(o.startswith("killed") for _, o, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
