#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Benchmarks of a mounted swasfs against the emulator. Prints numbers; asserts nothing.

  contrib/bench/bench-mount.py [--generate R:I:N] [--latency-ms MS] [--results]

Measures, for the sample data set and for a generated one:
  - API calls and wall time of `find` plus `cat` of every command (cold);
  - then `cat` of every metadata.json (rendered on read; listings cached);
  - a warm `grep -r` over the commands, and the same over a copy on tmpfs;
  - with --results, `grep -r` over every output (cold), its calls and time
    (with --parallel N, N greps at once through xargs -P);
  - the daemon's RSS after the walk.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from emulator import Emulator  # noqa: E402
from mount import AK_SECRET, Mount, proc_status_kib as rss_kib  # noqa: E402


def timed(cmd, **kw):
    t0 = time.monotonic()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    return time.monotonic() - t0


def calls(emu):
    c = emu.counters()
    return c["total"], dict(c["by_action"])


def run(label, emu_args, latency_ms, results, tmp, parallel=1):
    tmp.mkdir(parents=True, exist_ok=True)
    emu = Emulator()
    emu.start(tmp, secret=AK_SECRET, **emu_args)
    try:
        with Mount(emu, tmp, options=["jobs=8"], cache_ttl=3600) as m:
            emu.config(latency_ms=latency_ms)
            emu.reset_counters()
            t = timed(f"find {m.mnt} > /dev/null && find {m.mnt} -name command -print0 | xargs -0 cat > /dev/null",
                      shell=True)
            total, by = calls(emu)
            n_cmd = int(subprocess.run(f"find {m.mnt} -name command | wc -l", shell=True, capture_output=True,
                                       text=True).stdout)
            print(f"[{label}] latency {latency_ms} ms: find + cat of {n_cmd} commands: {t:.2f} s, "
                  f"{total} API calls {by}")
            # metadata.json is rendered on every read the kernel does not
            # answer from its page cache: the first `cat` of each, listings cached.
            emu.reset_counters()
            t = timed(f"find {m.mnt} -name metadata.json -print0 | xargs -0 cat > /dev/null", shell=True)
            total, _ = calls(emu)
            print(f"[{label}] cat of {n_cmd} metadata.json (first read, listings cached): {t:.2f} s, "
                  f"{total} API calls")
            if results:
                emu.reset_counters()
                if parallel > 1:
                    how = f"find | xargs -P {parallel} grep"
                    t = timed(f"find {m.mnt} -name output -print0 | xargs -0 -P {parallel} -n 16 "
                              f"grep -q no-such-needle-xyz", shell=True)
                else:
                    how = "grep -r"
                    t = timed(["grep", "-r", "--include=output", "-q", "no-such-needle-xyz", str(m.mnt)])
                total, by = calls(emu)
                print(f"[{label}] cold {how} over outputs: {t:.2f} s, {total} API calls {by}")
            emu.reset_counters()
            warm = min(timed(["grep", "-r", "--include=command", "-q", "no-such-needle-xyz", str(m.mnt)])
                       for _ in range(3))
            total, _ = calls(emu)
            with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
                subprocess.run(["rsync", "-a", "--include=*/", "--include=command", "--exclude=*",
                                f"{m.mnt}/", shm], check=True)
                tmpfs = min(timed(["grep", "-r", "--include=command", "-q", "no-such-needle-xyz", shm])
                            for _ in range(3))
            print(f"[{label}] warm grep -r over commands: {warm * 1000:.1f} ms ({total} API calls); "
                  f"tmpfs copy: {tmpfs * 1000:.1f} ms; ratio {warm / tmpfs:.2f}")
            print(f"[{label}] daemon RSS after the walk: {rss_kib(m.proc.pid) / 1024:.1f} MiB")
    finally:
        emu.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generate", default="2:10:500", help="R:I:N for the generated data set")
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--results", action="store_true", help="also grep every output (DescribeInvocationResult)")
    ap.add_argument("--parallel", type=int, default=1, help="with --results: read outputs with N readers")
    ap.add_argument("--skip-sample", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        if not a.skip_sample:
            run("sample", {"sample": True}, 0, a.results, Path(d) / "s")
        run(f"generated {a.generate}", {"generate": a.generate, "seed": 1}, a.latency_ms, a.results,
            Path(d) / "g", a.parallel)


if __name__ == "__main__":
    main()
