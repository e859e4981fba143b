#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What -o store=DIR saves a daily backup. Prints numbers; asserts nothing.

  contrib/bench/bench-store.py [--generate R:I:N] [--latency-ms MS]
  contrib/bench/bench-store.py --union N

With a generated data set (default 1:2:500, 1,000 invocations) and MS of latency per API request
(default 50): a first `rsync -a` of the whole mount (results included) into an empty target with
a new store, then an unmount, a remount on the same store and a second `rsync -a` into the same
target. For each run: API calls by action (the emulator's counters) and wall time; then the
store's size on disk and the daemon's RSS after the second run.

With --union N: what the union view costs in memory. One instance with N invocations is listed
(`find`, no results) through a new store; then the API forgets them all (a second emulator with the
same instance and no invocations) and a remount lists the same tree from the store alone. Printed
for both: the daemon's RSS and peak RSS after the walk, and its exit lines (what the cache held,
the store's index).
"""
import json
import re
import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from emulator import Emulator  # noqa: E402
from mount import AK_SECRET, Mount, proc_status_kib  # noqa: E402


def rsync(src, dst):
    t0 = time.monotonic()
    subprocess.run(["rsync", "-a", f"{src}/", f"{dst}/"], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t0


def du(path):
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def exit_lines(log):
    return [line for line in log.splitlines() if re.search(r"(cache|store) at exit", line)]


def union(n):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store = tmp / "store"
        emu = Emulator()
        emu.start(tmp / "a" if (tmp / "a").mkdir() is None else None, secret=AK_SECRET, generate=f"1:1:{n}")
        data = emu.data()
        try:
            for label in ("API listing", "store listing (API returns none)"):
                with Mount(emu, tmp, options=[f"store={store}"], cache_ttl=3600) as m:
                    t0 = time.monotonic()
                    entries = int(subprocess.run(f"find {m.mnt} | wc -l", shell=True, capture_output=True,
                                                 text=True, check=True).stdout)
                    t = time.monotonic() - t0
                    rss, hwm = proc_status_kib(m.proc.pid), proc_status_kib(m.proc.pid, "VmHWM")
                print(f"[{label}] {n} invocations: find of {entries} entries {t:.2f} s, RSS {rss} KiB, "
                      f"peak {hwm} KiB")
                for line in exit_lines(m.log()):
                    print("    " + line)
                emu.stop()
                for reg in data["regions"]:
                    for inst in reg["instances"]:
                        inst["invocations"] = []
                (tmp / "b").mkdir(exist_ok=True)
                (tmp / "empty.json").write_text(json.dumps(data))
                emu = Emulator()
                emu.start(tmp / "b", secret=AK_SECRET, data=tmp / "empty.json")
            print(f"store on disk: {du(store)} bytes")
        finally:
            emu.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--generate", default="1:2:500")
    p.add_argument("--latency-ms", type=float, default=50)
    p.add_argument("--union", type=int, metavar="N", help="measure the union view's memory instead")
    a = p.parse_args()
    if a.union:
        return union(a.union)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        emu = Emulator()
        emu.start(tmp, secret=AK_SECRET, generate=a.generate)
        store, target = tmp / "store", tmp / "backup"
        target.mkdir()
        try:
            data = emu.data()
            running = sum(1 for r in data["regions"] for i in r["instances"] for v in i["invocations"]
                          if v["InvokeStatus"] not in ("Finished", "Failed", "Stopped"))
            print(f"data set {a.generate}: {running} invocations not in a terminal state (their results are "
                  f"always the API's)")
            emu.config(latency_ms=a.latency_ms)
            for run in ("first", "second"):
                emu.reset_counters()
                with Mount(emu, tmp, options=[f"store={store}", "jobs=8"], cache_ttl=3600) as m:
                    t = rsync(m.mnt, target)
                    rss = proc_status_kib(m.proc.pid)
                c = emu.counters()
                files = sum(1 for _ in target.rglob("*") if _.is_file())
                print(f"[{run} rsync -a] {a.generate} at {a.latency_ms:g} ms: {t:.2f} s, {c['total']} API calls "
                      f"{dict(c['by_action'])}, {files} files in the target, daemon RSS {rss} KiB")
            print(f"store on disk: {du(store)} bytes; backup target: {du(target)} bytes")
        finally:
            emu.stop()


if __name__ == "__main__":
    main()
