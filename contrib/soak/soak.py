#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Soak test: swasfs under many readers while the API keeps changing, then SIGTERM.

Starts the SWAS emulator (generated data, or the sample), mounts swasfs on it,
and for --duration seconds runs --readers reader threads doing a mix of
`ls -lR`, `cat` of output / result.json / metadata.json, stat() and `grep -r`,
while a changer thread adds Running invocations, finishes them with changed
results and outputs, adds and deletes instances, and now and then turns on a
burst of injected API faults. Then it SIGTERMs the daemon with the readers
still running and measures how long it takes to exit.

Reports the operations done, the errors by kind, stuck readers (any operation
longer than retry_budget + timeout + 5 s, the same limit as the test suite's
watchdog, which also runs here), the daemon's RSS (sampled every 5 s: first,
max, last) and the shutdown time. Exits 1 on a stuck reader, a daemon that
did not exit 0, or a sanitizer or valgrind report in its output.

Not part of CI; see README.md. Python 3 standard library only; it reuses
tests/emulator.py and tests/mount.py.
"""
import argparse
import base64
import collections
import errno
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import mount  # noqa: E402
from emulator import Emulator, EmulatorError  # noqa: E402

RSS_EVERY = 5          # seconds between RSS samples
# An operation this slow (or half the stuck limit, if less) gets the daemon's threads
# dumped (kernel stacks, and gdb's backtraces if gdb is installed) while it still hangs:
# the watchdog aborts the connection at the limit, and the evidence with it.
SLOW_OP = 20
MAX_DUMPS = 3
DUMP_EVERY = 30        # seconds between two dumps: one hang makes many readers slow at once
SHUTDOWN_LIMIT = 60    # seconds the daemon gets to exit after SIGTERM before it is killed
# Reports no soak may produce, whatever the faults (the daemon's ordinary
# "failed"/"error" lines under injected faults are expected and only counted).
FATAL_LINE = re.compile(r"AddressSanitizer|LeakSanitizer|ThreadSanitizer|data race|runtime error|"
                        r"Invalid (read|write|free)|uninitialised|definitely lost|ERROR SUMMARY: [1-9]")
# The fault kinds of a burst, and their shares of the burst's fault rate. "hang"
# holds a request hang_s seconds: the daemon's timeout must cut it short.
FAULT_SHARES = {"5xx": 0.3, "500": 0.1, "throttle": 0.2, "truncate": 0.1, "malformed": 0.1, "reset": 0.1,
                "shape": 0.05, "hang": 0.05}
HANG_S = 3


def errno_kind(code):
    return {errno.EIO: "EIO", errno.ENOENT: "ENOENT"}.get(code, errno.errorcode.get(code, str(code)))


def stderr_kind(text):
    """The error kind of a failed tool, from its message (strerror text)."""
    for code in (errno.EIO, errno.ENOENT, errno.ENOTCONN, errno.ECONNABORTED, errno.EACCES, errno.ENOTDIR,
                 errno.ESTALE, errno.EAGAIN, errno.ETIMEDOUT):
        if os.strerror(code) in text:
            return errno_kind(code)
    return "other: " + (text.strip().splitlines() or ["(no message)"])[-1][-120:]


class Soak:
    def __init__(self, args, emu, m, workdir):
        self.args, self.emu, self.m, self.workdir = args, emu, m, workdir
        self.limit = m.stuck_after
        self.lock = threading.Lock()
        self.stop = threading.Event()         # readers and changer stop
        self.shutting_down = threading.Event()
        self.ops = collections.Counter()      # op -> count, during the run
        self.errors = collections.Counter()   # kind -> count, during the run
        self.late_ops = collections.Counter()     # the same once SIGTERM was sent
        self.late_errors = collections.Counter()
        self.durations = collections.defaultdict(list)
        self.inflight = {}                    # reader -> (op, target, start, pid or tid)
        self.stuck = []                       # descriptions
        self.stuck_keys = set()
        self.changes = collections.Counter()
        self.t0 = time.monotonic()
        self.events = []                      # (seconds since start, what happened)
        self.dumps = []                       # files with the daemon's threads
        self.slow_keys = set()
        self.last_dump = None
        self.rss = []                         # (seconds since start, kB)
        self.invocations = []                 # (region, instance, status, invoke id), from the emulator
        self.instances = []                   # (region, instance)
        self.running = []                     # (region, instance, invoke id) the changer added
        self.added_instances = []             # (region, instance)
        self.serial = 0
        self.fault_mode = None
        self.burst_on = False                 # a fault burst is going on
        self.refresh_view()

    # ---- the emulator's view, for picking targets ----

    def refresh_view(self):
        data = self.emu.data()
        invs, insts = [], []
        for reg in data["regions"]:
            for inst in reg["instances"]:
                insts.append((reg["RegionId"], inst["InstanceId"]))
                for inv in inst.get("invocations", []):
                    invs.append((reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"], inv["InvokeId"]))
        with self.lock:
            self.invocations, self.instances = invs, insts

    # ---- readers ----

    def reader(self, rid):
        rng = random.Random(self.args.seed * 1000 + rid)
        weights = [("ls -lR", 2), ("cat", 5), ("stat", 5), ("grep -r", 1)]
        ops, w = zip(*weights)
        while not self.stop.is_set():
            op = rng.choices(ops, w)[0]
            with self.lock:
                inv = rng.choice(self.invocations) if self.invocations else None
                inst = rng.choice(self.instances) if self.instances else None
            if inv is None or inst is None:
                time.sleep(0.1)
                continue
            if op == "ls -lR":
                target = self.m.path(*inst) if rng.random() < 0.8 else self.m.path(inst[0])
                self.run_tool(rid, op, ["ls", "-lR", str(target)], target)
            elif op == "cat":
                target = self.m.path(*inv, rng.choice(["output", "result.json", "metadata.json"]))
                self.run_tool(rid, op, ["cat", str(target)], target)
            elif op == "grep -r":
                target = self.m.path(*inst)
                self.run_tool(rid, op, ["grep", "-r", "-l", "-e", "soak", str(target)], target, ok=(0, 1))
            else:
                target = self.m.path(*inv, rng.choice(["", "output", "command", "result.json"]))
                self.run_stat(rid, target)

    def begin(self, rid, op, target, who):
        with self.lock:
            self.inflight[rid] = (op, target, time.monotonic(), who)

    def end(self, rid, op, kind):
        with self.lock:
            op_, target, t0, who = self.inflight.pop(rid)
            late = self.shutting_down.is_set()
            (self.late_ops if late else self.ops)[op] += 1
            if kind is not None:
                (self.late_errors if late else self.errors)[kind] += 1
            if not late:
                self.durations[op].append(time.monotonic() - t0)

    def run_tool(self, rid, op, cmd, target, ok=(0,)):
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.begin(rid, op, target, p.pid)
        _, err = p.communicate()
        self.end(rid, op, None if p.returncode in ok else stderr_kind(err.decode(errors="replace")))

    def run_stat(self, rid, target):
        self.begin(rid, "stat", target, threading.get_native_id())
        kind = None
        try:
            os.stat(target)
        except OSError as e:
            kind = errno_kind(e.errno)
        self.end(rid, "stat", kind)

    # ---- the changer: the API keeps moving ----

    def changer(self):
        rng = random.Random(self.args.seed)
        next_burst = time.monotonic() + rng.uniform(10, 30)
        burst_end = None
        last_view = time.monotonic()
        while not self.stop.wait(rng.uniform(0.1, self.args.change_interval)):
            now = time.monotonic()
            if burst_end is None and self.args.fault_rate > 0 and now >= next_burst:
                self.fault_burst_on(rng)
                burst_end = now + rng.uniform(3, 8)
            elif burst_end is not None and now >= burst_end:
                self.emu.clear_faults()
                self.burst_on = False
                burst_end, next_burst = None, now + rng.uniform(15, 40)
            try:
                self.change(rng)
            except EmulatorError as e:   # e.g. an instance deleted meanwhile: the data moved on
                self.changes["refused: " + str(e.status)] += 1
            if now - last_view > 2:
                self.refresh_view()
                last_view = now
        self.emu.clear_faults()

    def fault_burst_on(self, rng):
        rate = self.args.fault_rate
        mix = {k: round(rate * share, 4) for k, share in FAULT_SHARES.items()}
        try:
            self.emu.config(fault_mix=mix, hang_s=HANG_S)
            self.fault_mode = "fault_mix"
        except EmulatorError:   # an emulator without fault_mix: one kind a burst
            kind = rng.choice([k for k in FAULT_SHARES])
            self.emu.config(fault_rate=rate, fault_kind=kind, hang_s=HANG_S)
            self.fault_mode = "fault_rate/fault_kind"
        self.burst_on = True
        self.changes["fault bursts"] += 1

    def change(self, rng):
        with self.lock:
            insts = list(self.instances)
        self.serial += 1
        n = self.serial
        r = rng.random()
        if r < 0.35 or not self.running:
            region, inst = rng.choice(insts)
            invoke_id = f"t-soak{n:09d}"
            self.emu.add_invocation(region, inst, {
                "InvokeId": invoke_id, "CommandName": f"soak-{n}", "InvokeStatus": "Running",
                "CommandContent": b64(f"echo soak {n}\n"),
                "Result": {"Output": b64(f"soak {n} started\n")}})
            self.running.append((region, inst, invoke_id))
            self.changes["invocations added (Running)"] += 1
        elif r < 0.55:
            region, inst, invoke_id = rng.choice(self.running)
            self.emu.set_status(invoke_id, instance_id=inst,
                                result={"Output": b64(f"soak {invoke_id} progress {n}\n" * rng.randint(1, 50))})
            self.changes["running outputs changed"] += 1
        elif r < 0.85:
            region, inst, invoke_id = self.running.pop(rng.randrange(len(self.running)))
            status = rng.choice(["Finished", "Finished", "Failed", "Stopped"])
            self.emu.set_status(invoke_id, status, instance_id=inst, result={
                "ExitCode": 0 if status == "Finished" else rng.randint(1, 255),
                "Output": b64(f"soak {invoke_id} done: {status}\n" * rng.randint(1, 200))})
            self.changes["invocations finished"] += 1
        elif r < 0.93 or not self.added_instances:
            region = rng.choice(insts)[0]
            inst = f"soak{n:028d}"
            self.emu.add_instance(region, {"InstanceId": inst, "InstanceName": f"soak-{n}", "invocations": [
                {"InvokeId": f"t-soakinst{n:08d}{k}", "CommandContent": b64(f"echo {k}\n"),
                 "InvokeStatus": rng.choice(["Finished", "Failed"])} for k in range(rng.randint(0, 12))]})
            self.added_instances.append((region, inst))
            self.changes["instances added"] += 1
        else:
            region, inst = self.added_instances.pop(rng.randrange(len(self.added_instances)))
            self.emu.delete_instance(inst, region)
            self.running = [x for x in self.running if x[1] != inst]
            self.changes["instances deleted"] += 1

    # ---- monitors ----

    def monitor(self):
        """Flags operations over the limit (once each), samples the daemon's RSS."""
        t0 = time.monotonic()
        next_rss = t0
        while True:
            time.sleep(1.0)
            now = time.monotonic()
            with self.lock:
                flight = list(self.inflight.items())
            for rid, (op, target, start, who) in flight:
                key = (rid, start)
                if now - start > min(SLOW_OP, self.limit / 2) and key not in self.slow_keys:
                    self.slow_keys.add(key)
                    self.event(f"slow: reader {rid}: {op} {target}, started at +{start - self.t0:.0f} s")
                    if len(self.dumps) < MAX_DUMPS and self.m.proc is not None and self.m.proc.poll() is None \
                            and (self.last_dump is None or now - self.last_dump > DUMP_EVERY):
                        self.last_dump = now
                        # In a thread of its own: gdb cannot attach before a thread blocked in the
                        # kernel wakes, and this monitor must go on sampling and flagging meanwhile.
                        path = self.workdir / f"daemon-threads-{len(self.dumps) + 1}.txt"
                        self.dumps.append(str(path))
                        threading.Thread(target=dump_threads, args=(self.m.proc.pid, path), daemon=True).start()
                        self.event(f"dumping the daemon's threads to {path}")
                if now - start > self.limit and key not in self.stuck_keys:
                    self.stuck_keys.add(key)
                    where = mount.describe_task(os.getpid(), who) if op == "stat" else mount.describe_task(who)
                    self.stuck.append(f"reader {rid}: {op} {target} running {now - start:.0f} s "
                                      f"(since +{start - self.t0:.0f} s): {where}")
                    self.event(f"stuck: reader {rid}: {op} {target}")
            if now >= next_rss and self.m.proc is not None and self.m.proc.poll() is None:
                kb = mount.proc_status_kib(self.m.proc.pid)
                if kb is not None:
                    self.rss.append((round(now - t0), kb))
                next_rss = now + RSS_EVERY
            if self.stop.is_set() and (not flight or now - self.stop_time > self.limit + 10):
                return

    def event(self, what):
        with self.lock:
            self.events.append((round(time.monotonic() - self.t0, 1), what))

    def run(self):
        threads = [threading.Thread(target=self.reader, args=(i,), name=f"reader{i}", daemon=True)
                   for i in range(self.args.readers)]
        changer = threading.Thread(target=self.changer, name="changer", daemon=True)
        self.stop_time = None
        self.t0 = time.monotonic()
        mon = threading.Thread(target=self.monitor, name="monitor", daemon=True)
        for t in threads + [changer, mon]:
            t.start()
        time.sleep(self.args.duration)
        # SIGTERM with the readers still going.
        self.shutting_down.set()
        self.burst_at_sigterm = self.burst_on
        t0 = time.monotonic()
        self.event("SIGTERM")
        self.m.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.m.proc.wait(timeout=SHUTDOWN_LIMIT)
            shutdown = time.monotonic() - t0
            self.event(f"the daemon exited {rc}")
        except subprocess.TimeoutExpired:
            rc, shutdown = None, None
            self.event(f"the daemon did not exit within {SHUTDOWN_LIMIT} s")
        self.stop_time = time.monotonic()
        self.stop.set()
        for t in threads + [changer]:
            t.join(timeout=self.limit + 10)
        left = [t.name for t in threads + [changer] if t.is_alive()]
        mon.join(timeout=self.limit + 15)
        return rc, shutdown, left


def dump_threads(pid, path):
    """Writes every thread of @pid (state, wchan, kernel stack) and, with gdb, their backtraces."""
    lines = [mount.describe_task(pid, tid) for tid in mount._tasks(pid)]
    path.write_text("\n".join(lines) + "\n")   # now, before gdb waits to attach
    if shutil.which("gdb"):
        rc, out = mount.run_bounded(["gdb", "-p", str(pid), "-batch", "-nx", "-ex", "set pagination off",
                                     "-ex", "thread apply all bt"], 60)
        lines += ["", "gdb: thread apply all bt", out]
    path.write_text("\n".join(lines) + "\n")


def b64(text):
    return base64.b64encode(text.encode()).decode()


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else 0.0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--swasfs", default=str(ROOT / "build" / "swasfs"), help="the daemon (default build/swasfs)")
    p.add_argument("--duration", type=float, default=600, help="seconds of reading before SIGTERM (600)")
    p.add_argument("--readers", type=int, default=8, help="reader threads (8)")
    data = p.add_mutually_exclusive_group()
    data.add_argument("--generate", default="2:6:80", metavar="R:I:N",
                      help="emulator data: R regions x I instances x N invocations (2:6:80)")
    data.add_argument("--sample", action="store_true", help="the emulator's built-in sample data instead")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--cache-ttl", type=int, default=2, help="-o cache_ttl (2: listings refresh often)")
    p.add_argument("-o", "--option", action="append", default=[], metavar="K=V",
                   help="more -o options for swasfs (repeatable), e.g. instance_ttl=5, jobs=4")
    p.add_argument("--fault-rate", type=float, default=0.2,
                   help="API fault probability during a fault burst (0.2; 0 for no faults)")
    p.add_argument("--change-interval", type=float, default=1.0,
                   help="at most this many seconds between two API changes (1.0)")
    p.add_argument("--valgrind", action="store_true", help="run the daemon under valgrind's memcheck")
    p.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs) even on success")
    args = p.parse_args()

    # tests/mount.py reads these at import; set them as it would have found them.
    mount.SWASFS = Path(args.swasfs).resolve()
    mount.SANITIZER = mount._sanitizer(mount.SWASFS)
    mount.VALGRIND = args.valgrind
    if not os.access(mount.SWASFS, os.X_OK):
        sys.exit(f"soak: {mount.SWASFS} is not an executable")

    workdir = Path(tempfile.mkdtemp(prefix="swasfs-soak-"))
    print(f"soak: work directory {workdir}, daemon {mount.SWASFS}"
          f"{' (' + mount.SANITIZER + ' sanitizer)' if mount.SANITIZER else ''}", flush=True)
    emu = Emulator()
    if args.sample:
        emu.start(workdir, sample=True, quiet=True)
    else:
        emu.start(workdir, generate=args.generate, seed=args.seed, quiet=True)
    options = ["instance_ttl=5"] + args.option
    m = mount.Mount(emu, workdir, options=options, cache_ttl=args.cache_ttl)
    failures = []
    try:
        m.start()
        soak = Soak(args, emu, m, workdir)
        print(f"soak: {args.readers} readers for {args.duration:.0f} s, stuck after {soak.limit} s", flush=True)
        rc, shutdown, left = soak.run()
        trips = []
        try:
            m.stop(check=False)
        except AssertionError as e:
            trips.append(str(e).split("\nswasfs's output:")[0])
    finally:
        if m.proc is not None:
            try:
                m.stop(check=False)
            except AssertionError as e:
                failures.append(str(e))
        emu.stop()

    log = m.log()
    fatal = [line for line in log.splitlines() if FATAL_LINE.search(line)]
    noisy = collections.Counter(re.sub(r"\d+", "N", line)[:100] for line in log.splitlines()
                                if mount.BAD_LINE.search(line) and not FATAL_LINE.search(line))
    report = {
        "daemon": str(mount.SWASFS), "sanitizer": mount.SANITIZER, "duration_s": args.duration,
        "readers": args.readers, "data": "sample" if args.sample else args.generate,
        "stuck_limit_s": soak.limit,
        "ops": dict(soak.ops), "ops_total": sum(soak.ops.values()),
        "errors": dict(soak.errors), "errors_by_kind": {
            "EIO": soak.errors.get("EIO", 0), "ENOENT": soak.errors.get("ENOENT", 0),
            "other": sum(v for k, v in soak.errors.items() if k not in ("EIO", "ENOENT"))},
        "latency_s": {op: {"p50": round(percentile(d, 0.5), 4), "p99": round(percentile(d, 0.99), 4),
                           "max": round(max(d), 3)} for op, d in soak.durations.items() if d},
        "after_sigterm": {"ops": dict(soak.late_ops), "errors": dict(soak.late_errors)},
        "changes": dict(soak.changes), "fault_mode": soak.fault_mode,
        "stuck": soak.stuck + trips, "threads_left": left,
        "events": [f"+{t} s: {what}" for t, what in soak.events], "thread_dumps": soak.dumps,
        "rss_kb": {"first": soak.rss[0][1], "max": max(k for _, k in soak.rss), "last": soak.rss[-1][1],
                   "samples": len(soak.rss)} if soak.rss else None,
        "shutdown_s": None if shutdown is None else round(shutdown, 3), "exit_status": rc,
        "faults_at_sigterm": soak.burst_at_sigterm,
        "fatal_log_lines": fatal[:20], "log_lines_flagged": dict(noisy.most_common(10)),
    }
    if report["stuck"] or left:
        failures.append(f"{len(report['stuck'])} stuck reader operation(s), {len(left)} thread(s) never finished")
    if rc != 0:
        failures.append("the daemon did not exit within {} s of SIGTERM".format(SHUTDOWN_LIMIT) if rc is None
                        else f"the daemon exited {rc}")
    if fatal:
        failures.append(f"{len(fatal)} sanitizer/valgrind line(s) in the daemon's output")
    print_report(report, failures)
    if args.json:
        Path(args.json).write_text(json.dumps(dict(report, failures=failures), indent=2) + "\n")
    if failures or args.keep or soak.dumps:
        print(f"soak: logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0


def print_report(r, failures):
    print(f"\n== swasfs soak: {r['readers']} readers, {r['duration_s']:.0f} s, data {r['data']}, "
          f"daemon {r['daemon']}")
    print(f"operations: {r['ops_total']}  " + "  ".join(f"{k}: {v}" for k, v in sorted(r["ops"].items())))
    for op, lat in sorted(r["latency_s"].items()):
        print(f"  {op:8} p50 {lat['p50'] * 1000:.1f} ms  p99 {lat['p99'] * 1000:.1f} ms  max {lat['max']:.3f} s")
    e = r["errors_by_kind"]
    print(f"errors: EIO {e['EIO']}  ENOENT {e['ENOENT']}  other {e['other']}" +
          "".join(f"\n  {k}: {v}" for k, v in sorted(r["errors"].items()) if k not in ("EIO", "ENOENT")))
    print("API changes: " + ", ".join(f"{k} {v}" for k, v in sorted(r["changes"].items())) +
          f" (faults via {r['fault_mode'] or 'none'})")
    print(f"after SIGTERM: ops {sum(r['after_sigterm']['ops'].values())}, "
          f"errors {dict(sorted(r['after_sigterm']['errors'].items()))}")
    rss = r["rss_kb"]
    if rss:
        print(f"daemon RSS (kB, every {RSS_EVERY} s, {rss['samples']} samples): first {rss['first']}  "
              f"max {rss['max']}  last {rss['last']}")
    print(f"stuck readers (> {r['stuck_limit_s']} s): {len(r['stuck'])}" +
          "".join(f"\n  {s}" for s in r["stuck"]))
    for e in r["events"]:
        print(f"  {e}")
    if r["threads_left"]:
        print(f"threads that never finished: {', '.join(r['threads_left'])}")
    for line, n in r["log_lines_flagged"].items():
        print(f"  daemon log, {n}x: {line}")
    for line in r["fatal_log_lines"]:
        print(f"  FATAL: {line}")
    print(f"shutdown after SIGTERM: {r['shutdown_s']} s, exit status {r['exit_status']}"
          f"{' (during a fault burst)' if r['faults_at_sigterm'] else ''}")
    print("RESULT: " + ("FAIL: " + "; ".join(failures) if failures else "PASS"))


if __name__ == "__main__":
    sys.exit(main())
