#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""How fast a mount answers while the API is down. Prints numbers; asserts nothing.

  contrib/bench/api-down.py [--retry-budget S] [--timeout S] [--cache-ttl S] [--fault 5xx|hang|reset]

With every API request failing (the emulator's fault_rate 1.0), measures:
  - a cached listing past its TTL (stale-while-revalidate: about 1 s);
  - a listing never fetched (waits for its fetch: up to the retry budget);
  - a second listing never fetched (the endpoint's breaker is open: at once);
  - the cached listing again, and a walk of every instance (`ls -R` of the region);
  - after the API comes back, how long until a never-fetched listing succeeds.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from emulator import Emulator  # noqa: E402
from mount import AK_SECRET, Mount, safe_sleep  # noqa: E402


def timed(fn):
    t0 = time.monotonic()
    try:
        fn()
        outcome = "ok"
    except OSError as e:
        outcome = os.strerror(e.errno)
    return outcome, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--retry-budget", type=int, default=30)
    ap.add_argument("--timeout", type=int, default=15)
    ap.add_argument("--cache-ttl", type=int, default=5)
    ap.add_argument("--fault", default="5xx")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        emu = Emulator()
        emu.start(tmp, secret=AK_SECRET, generate="1:12:60", seed=7)
        try:
            region = emu.data()["regions"][0]
            ids = [i["InstanceId"] for i in region["instances"]]
            rid = region["RegionId"]
            with Mount(emu, tmp, cache_ttl=a.cache_ttl, home_region=rid,
                       options=[f"retry_budget={a.retry_budget}", f"timeout={a.timeout}"],
                       allow=[r"."]) as m:
                cached = m.path(rid, ids[0])
                os.listdir(cached / "Finished")
                emu.config(fault_rate=1.0, fault_kind=a.fault, hang_s=a.timeout + 5)
                safe_sleep(a.cache_ttl + 1)
                rows = [
                    ("cached listing, past its TTL", timed(lambda: os.listdir(cached / "Finished"))),
                    ("listing never fetched", timed(lambda: os.listdir(m.path(rid, ids[1], "Finished")))),
                    ("second listing never fetched", timed(lambda: os.listdir(m.path(rid, ids[2], "Finished")))),
                    ("cached listing again", timed(lambda: os.listdir(cached / "Finished"))),
                ]
                t0 = time.monotonic()
                walk = [timed(lambda: os.listdir(m.path(rid, i, "Finished")))[0] for i in ids]
                rows.append((f"ls of all 12 instances' Finished/ ({walk.count('ok')} ok)",
                             ("ok", time.monotonic() - t0)))
                emu.config(fault_rate=0.0)
                t0 = time.monotonic()
                while time.monotonic() - t0 < 120:
                    if timed(lambda: os.listdir(m.path(rid, ids[3], "Finished")))[0] == "ok":
                        break
                    time.sleep(0.2)
                rows.append(("API back: until a never-fetched listing succeeds", ("ok", time.monotonic() - t0)))
                outages = m.log().count("is failing")
        finally:
            emu.stop()
    print(f"retry_budget={a.retry_budget} s, timeout={a.timeout} s, cache_ttl={a.cache_ttl} s, fault={a.fault}")
    for label, (outcome, secs) in rows:
        print(f"  {label:52} {secs:7.2f} s  {outcome}")
    print(f"  outage log lines: {outages}")


if __name__ == "__main__":
    main()
