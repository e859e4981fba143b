#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Readahead and pipelining against their bounds. Prints numbers and ratios; asserts nothing.

  contrib/bench/bench-readahead.py [--latency-ms 50] [--jobs 8] [--small 1000] [--large 10000]
                                   [--instances 4] [--readahead N]

Every API call of the emulator takes --latency-ms (L). With P listing pages over I
instances of one region:
  paging bound  = L x (2 + ceil((P - I) / jobs))   one ListInstances, every instance's first
                                                   page, then the other pages jobs at a time
  (workload 3 also prints the floor under readahead's rule: listings ahead start only once a second
  instance is listed, so the first instance's pages go alone; and, on another fresh mount, how long
  the shell's glob takes, which is every listing, and then ls alone, which reads them from the cache)
  results bound = paging bound + L x ceil(N / jobs)
Workloads (each on a fresh mount unless said):
  1. cold `ls -lR <region>` of --small invocations        vs the results bound
  2. cold first `rsync -a <mnt>/ <dir>/` of the same         vs the results bound
  3. cold `ls <region>/*/*` of --large invocations            vs the paging bound
  4. cold `find <region> -name command -print0 | xargs -0 cat` of --large, vs the same walk on a
     mount whose listings were cached by workload 3 first
  5. a lone `cat` of one output (result calls), `ls` of a status directory (result calls)
The daemon is $SWASFS_BIN, else build/swasfs.
"""
import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from emulator import Emulator  # noqa: E402
from mount import AK_SECRET, Mount  # noqa: E402

REGION = None  # the generated region's id, set in main()


def timed(cmd, **kw):
    t0 = time.monotonic()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, **kw)
    return time.monotonic() - t0


def by_action(emu):
    return dict(emu.counters()["by_action"])


def paging_bound(lat, jobs, pages, instances):
    return lat * (2 + math.ceil(max(0, pages - instances) / jobs))


def instance_pages(emu, region):
    insts = next(r for r in emu.data()["regions"] if r["RegionId"] == region)["instances"]
    return [max(1, math.ceil(len(i.get("invocations", [])) / 50)) for i in insts]


def pages_of(emu, region):
    pages = instance_pages(emu, region)
    return sum(pages), len(pages)


def rule_floor(lat, jobs, pages):
    """The paging bound under the rule that listings ahead start only once a second instance is
    listed: one ListInstances, the first instance alone (its first page, then the rest jobs at a time),
    then the others' first pages together and their other pages jobs at a time."""
    first, rest = pages[0], pages[1:]
    if not rest:
        return paging_bound(lat, jobs, first, 1)
    return lat * (1 + 1 + math.ceil((first - 1) / jobs) + 1 + math.ceil(sum(p - 1 for p in rest) / jobs))


def mount(emu, tmp, name, a):
    d = tmp / name
    d.mkdir()
    opts = [f"jobs={a.jobs}", f"regions={REGION}"]
    if a.readahead is not None:
        opts.append(f"readahead={a.readahead}")
    return Mount(emu, d, options=opts, cache_ttl=3600)


def report(label, secs, bound, calls, n):
    res = calls.get("DescribeInvocationResult", 0)
    print(f"{label}: {secs:.2f} s, bound {bound:.2f} s, ratio {secs / bound:.2f}x; "
          f"DescribeInvocationResult {res} ({res / n:.2f} per invocation), "
          f"DescribeInvocations {calls.get('DescribeInvocations', 0)}, ListInstances {calls.get('ListInstances', 0)}")


def small(a, tmp):
    global REGION
    emu = Emulator()
    emu.start(tmp, secret=AK_SECRET, generate=f"1:{a.instances}:{a.small // a.instances}", seed=3, quiet=True)
    try:
        REGION = emu.data()["regions"][0]["RegionId"]
        n = a.small // a.instances * a.instances
        pages, insts = pages_of(emu, REGION)
        lat = a.latency_ms / 1000.0
        bound = paging_bound(lat, a.jobs, pages, insts) + lat * math.ceil(n / a.jobs)
        emu.config(latency_ms=a.latency_ms)
        with mount(emu, tmp, "lsR", a) as m:
            emu.reset_counters()
            secs = timed(["ls", "-lR", str(m.path(REGION))])
            report(f"[{n}] cold ls -lR", secs, bound, by_action(emu), n)
        with mount(emu, tmp, "rsync", a) as m:
            emu.reset_counters()
            dest = tmp / "rsync-dest"
            dest.mkdir()
            secs = timed(["rsync", "-a", f"{m.mnt}/", f"{dest}/"])
            report(f"[{n}] cold first rsync -a", secs, bound, by_action(emu), n)
        with mount(emu, tmp, "lone", a) as m:
            inst = next(p for p in m.path(REGION).iterdir() if not p.name.startswith("."))
            fin = inst / "Finished"
            first = sorted(p.name for p in fin.iterdir())[0]
            emu.reset_counters()
            subprocess.run(["ls", str(fin)], stdout=subprocess.DEVNULL, check=True)
            after_ls = by_action(emu).get("DescribeInvocationResult", 0)
            subprocess.run(["cat", str(fin / first / "output")], stdout=subprocess.DEVNULL, check=True)
            time.sleep(1)
            after_cat = by_action(emu).get("DescribeInvocationResult", 0)
            print(f"[{n}] ls of a status directory: {after_ls} result calls; "
                  f"a lone cat of one output: {after_cat - after_ls} result call(s)")
    finally:
        emu.stop()


def large(a, tmp):
    global REGION
    emu = Emulator()
    emu.start(tmp, secret=AK_SECRET, generate=f"1:{a.instances}:{a.large // a.instances}", seed=4, quiet=True)
    try:
        REGION = emu.data()["regions"][0]["RegionId"]
        n = a.large // a.instances * a.instances
        pages, insts = pages_of(emu, REGION)
        lat = a.latency_ms / 1000.0
        bound = paging_bound(lat, a.jobs, pages, insts)
        emu.config(latency_ms=a.latency_ms)
        find_cat = f"find {{}} -name command -print0 | xargs -0 cat"
        with mount(emu, tmp, "ls", a) as m:
            emu.reset_counters()
            secs = timed(f"ls {m.path(REGION)}/*/*", shell=True)
            c = by_action(emu)
            floor = rule_floor(lat, a.jobs, instance_pages(emu, REGION))
            print(f"[{n}] cold ls of every status directory: {secs:.2f} s, paging bound {bound:.2f} s "
                  f"({pages} pages over {insts} instances), ratio {secs / bound:.2f}x (the floor when the "
                  f"first instance is listed alone: {floor:.2f} s, {floor / bound:.3f}x); "
                  f"DescribeInvocations {c.get('DescribeInvocations', 0)} (pages {pages}), "
                  f"ListInstances {c.get('ListInstances', 0)}, DescribeInvocationResult "
                  f"{c.get('DescribeInvocationResult', 0)}")
            # The same mount, listings cached: the walk alone.
            warm = timed(find_cat.format(m.path(REGION)), shell=True)
        # Where the time of workload 3 goes: the shell's glob lists every instance (the API's part);
        # ls then reads every status directory from the cache (its own part, no API call).
        with mount(emu, tmp, "glob", a) as m:
            glob = timed(f"echo {m.path(REGION)}/*/*", shell=True)
            ls_own = timed(f"ls {m.path(REGION)}/*/*", shell=True)
            print(f"[{n}]   split, on a fresh mount: the shell's glob (every instance listed) {glob:.2f} s, against the floor "
                  f"{floor:.2f} s: {(glob - floor) * 1000 / round(floor / lat):.1f} ms a round over the latency; "
                  f"then ls reading the {n} entries from the cache {ls_own * 1000:.0f} ms")
        with mount(emu, tmp, "find", a) as m:
            emu.reset_counters()
            cold = timed(find_cat.format(m.path(REGION)), shell=True)
            c = by_action(emu)
        print(f"[{n}] cold find | xargs cat of every command: {cold:.2f} s, the same walk with the listings "
              f"cached {warm:.2f} s, ratio {cold / warm:.2f}x; DescribeInvocations "
              f"{c.get('DescribeInvocations', 0)}, DescribeInvocationResult {c.get('DescribeInvocationResult', 0)}")
    finally:
        emu.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--large", type=int, default=10000)
    ap.add_argument("--instances", type=int, default=4)
    ap.add_argument("--readahead", type=int, default=None, help="-o readahead (default: the daemon's)")
    a = ap.parse_args()
    print(f"latency {a.latency_ms:g} ms, jobs {a.jobs}, readahead "
          f"{a.readahead if a.readahead is not None else 'default'}")
    with tempfile.TemporaryDirectory(prefix="swasfs-bench-ra-") as tmp:
        small(a, Path(tmp))
    with tempfile.TemporaryDirectory(prefix="swasfs-bench-ra-") as tmp:
        large(a, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
