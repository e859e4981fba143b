# SPDX-License-Identifier: MIT
"""A hostile server must not control the daemon's memory or time, and exit
signals must end the daemon promptly.

Each hostile mode of the emulator (contrib/swas-emulator/README.md, "Hostile
modes") is pointed at one action while a mount lists the directory that
action fills. From outside the daemon, each test checks:
  - its peak RSS (VmHWM in /proc/PID/status) stays under RSS_BOUND;
  - the listing ends (with its entries, or EIO) within LS_BOUND seconds;
  - the pages the emulator served respect the caps (2000 DescribeInvocations
    pages a pass, 5 ListInstances pages a region);
  - with the hostile mode off, the listing is right again after the TTL.
Run with -s to see the measured numbers.

The shutdown tests block readers on a hung API or on the client-side limiter
and send SIGTERM: the daemon must exit 0 within SHUTDOWN_BOUND seconds, the
readers must get an error instead of hanging, and the mount must be gone.
"""
import base64
import errno
import os
import signal
import subprocess
import time

import pytest

from mount import Mount, SWASFS, VALGRIND, listdir, proc_status_kib, safe_sleep

RSS_BOUND_KIB = 300 * 1024  # generous: a normal mount of these data sets stays near 10 MiB
# Under ASan (quarantine, redzones) or valgrind the RSS says nothing about
# swasfs's own bounds: it is measured and printed, not checked.
SANITIZED = VALGRIND or "asan" in str(SWASFS)
LS_BOUND = 90  # seconds; generous "does not hang"
SHUTDOWN_BOUND = 15
MAX_INVOCATION_PAGES = 2000  # API_MAX_INVOCATION_PAGES
MAX_INSTANCE_PAGES = 5  # API_MAX_INSTANCE_PAGES
TTL = 2
# Short timeouts so slow_body (only a total timeout ends it) fails in seconds.
OPTIONS = [f"instance_ttl={TTL}", "timeout=3", "retry_budget=6"]
# The failures these tests provoke are logged; nothing else may be.
ALLOW = [r"failed: ", r"announced more"]


def vm_hwm_kib(pid):
    kib = proc_status_kib(pid, "VmHWM")
    assert kib is not None, "no VmHWM"
    return kib


def timed_listdir(path):
    """Lists @path in a child process (a hang must not hang the test); returns (names or errno, seconds)."""
    t0 = time.monotonic()
    p = subprocess.run(["ls", "-1", str(path)], capture_output=True, text=True, timeout=LS_BOUND + 30)
    elapsed = time.monotonic() - t0
    if p.returncode != 0:
        assert "Input/output error" in p.stderr, p.stderr
        return errno.EIO, elapsed
    return sorted(p.stdout.split()), elapsed


def calls(emu, action):
    return emu.counters()["by_action"].get(action, 0)


def big_instance(data):
    """(region, instance) of an instance with more than one page of invocations."""
    for reg in data["regions"]:
        for inst in reg["instances"]:
            if len(inst.get("invocations", [])) > 50:
                return reg, inst
    raise AssertionError("no instance with more than 50 invocations")


def finished_ids(inst):
    return sorted(i["InvokeId"] for i in inst["invocations"] if i["InvokeStatus"] == "Finished")


# (mode, action, extra config, outcome): "eio", "complete" (exactly the real
# data), or "truncated" (a capped listing of fresh ids).
CASES = [
    ("oversized_page", "ListInstances", {}, "eio"),
    ("oversized_page", "DescribeInvocations", {}, "eio"),
    # Within the body cap but over the PageSize asked: malformed all the same.
    ("oversized_page", "DescribeInvocations", {"hostile_records": 51}, "eio"),
    ("oversized_page", "ListInstances", {"hostile_records": 101}, "eio"),
    ("endless_total", "ListInstances", {}, "complete"),
    ("endless_total", "DescribeInvocations", {}, "complete"),
    ("endless_pages", "ListInstances", {}, "truncated"),
    ("endless_pages", "DescribeInvocations", {}, "truncated"),
    ("deep_nesting", "ListInstances", {}, "eio"),
    ("deep_nesting", "DescribeInvocations", {}, "eio"),
    ("slow_body", "DescribeInvocations", {"slow_bps": 64}, "eio"),
    ("huge_body", "ListInstances", {}, "eio"),
    ("huge_body", "DescribeInvocations", {}, "eio"),
    ("huge_body", "DescribeInvocations", {"huge_bytes": 0}, "eio"),
]


def case_id(c):
    extra = "-".join(f"{k}={v}" for k, v in c[2].items())
    return f"{c[0]}-{c[1]}" + (f"-{extra}" if extra else "")


@pytest.mark.parametrize("mode,action,extra,outcome", CASES, ids=[case_id(c) for c in CASES])
def test_hostile_mode_is_bounded_and_the_mount_recovers(emulator_factory, tmp_path, mode, action, extra, outcome):
    emu = emulator_factory(generate="1:3:120", seed=7)
    data = emu.data()
    reg, inst = big_instance(data)
    region_dir_want = sorted(i["InstanceId"] for i in reg["instances"])
    with Mount(emu, tmp_path, options=OPTIONS, cache_ttl=TTL, allow=ALLOW) as m:
        if action == "ListInstances":
            target, want = m.path(reg["RegionId"]), region_dir_want
        else:
            # The instance list is fetched honestly first.
            assert sorted(listdir(m.path(reg["RegionId"]))) == region_dir_want
            target, want = m.path(reg["RegionId"], inst["InstanceId"], "Finished"), finished_ids(inst)
        emu.reset_counters()
        emu.config(hostile=mode, hostile_actions=[action], **extra)

        got, elapsed = timed_listdir(target)
        pages = calls(emu, action)
        hwm = vm_hwm_kib(m.proc.pid)
        print(f"\nhostile {case_id((mode, action, extra))}: VmHWM {hwm / 1024:.1f} MiB, "
              f"ls {elapsed:.1f} s, {pages} {action} pages, "
              f"{'EIO' if got == errno.EIO else str(len(got)) + ' entries'}")

        assert elapsed < LS_BOUND
        assert SANITIZED or hwm < RSS_BOUND_KIB, f"peak RSS {hwm} KiB"
        if action == "ListInstances":
            assert pages <= MAX_INSTANCE_PAGES
        else:
            assert pages <= MAX_INVOCATION_PAGES
        if outcome == "eio":
            assert got == errno.EIO
            # Bodies over the cap are not asked again; whole malformed ones once.
            assert pages <= 2 or mode == "slow_body"
        elif outcome == "complete":
            assert got == want
            if action == "ListInstances":
                assert pages == 1
            else:
                # 3 pages of data, then at most one round of workers (jobs=8)
                # past the first empty page.
                assert 3 <= pages <= 3 + 8
        else:
            if action == "ListInstances":
                assert pages == MAX_INSTANCE_PAGES
                assert len(got) == MAX_INSTANCE_PAGES * 100
            else:
                assert pages == MAX_INVOCATION_PAGES
                statuses = listdir(target.parent)
                total = sum(len(listdir(target.parent / s)) for s in statuses)
                assert total == MAX_INVOCATION_PAGES * 50
            assert "announced more" in m.log()

        # Hostile mode off: the next listing after the TTL is right again.
        emu.config(hostile=None)
        safe_sleep(TTL + 1)
        assert sorted(listdir(target)) == want
        assert SANITIZED or vm_hwm_kib(m.proc.pid) < RSS_BOUND_KIB


def test_hostile_result_bodies_give_eio_and_the_mount_recovers(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True)
    data = emu.data()
    reg = data["regions"][0]
    inst = next(i for i in reg["instances"] if i.get("invocations"))
    invs = [i for i in inst["invocations"] if i["InvokeStatus"] == "Finished"]
    assert len(invs) >= 1
    with Mount(emu, tmp_path, options=OPTIONS, cache_ttl=TTL, allow=ALLOW) as m:
        d = m.path(reg["RegionId"], inst["InstanceId"], "Finished", invs[0]["InvokeId"])
        assert "output" in listdir(d)
        for mode in ("deep_nesting", "huge_body"):
            emu.config(hostile=mode, hostile_actions=["DescribeInvocationResult"])
            t0 = time.monotonic()
            with pytest.raises(OSError) as e:
                (d / "output").read_bytes()
            assert e.value.errno == errno.EIO
            assert time.monotonic() - t0 < LS_BOUND
        emu.config(hostile=None)
        # Failures are not cached; the endpoint's breaker, opened by the
        # broken bodies, lets a probe through within its first period (2 s).
        wait_for(lambda: readable(d / "output"), 10, "output readable after the hostile mode ended")
        assert SANITIZED or vm_hwm_kib(m.proc.pid) < RSS_BOUND_KIB


def readable(p):
    try:
        p.read_bytes()
        return True
    except OSError as e:
        if e.errno != errno.EIO:
            raise
        return False


# ---- shutdown ----

def wait_for(cond, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def start_readers(paths):
    return [subprocess.Popen(["ls", str(p)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for p in paths]


def sigterm_and_time(m):
    t0 = time.monotonic()
    m.proc.send_signal(signal.SIGTERM)
    try:
        rc = m.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        rc = None
    return rc, time.monotonic() - t0


def check_readers_failed(readers):
    for r in readers:
        try:
            r.wait(timeout=SHUTDOWN_BOUND)
        except subprocess.TimeoutExpired:
            r.kill()
            r.wait()
            raise AssertionError("a reader still hangs after the daemon exited")
        assert r.returncode != 0, "a reader succeeded although the API never answered"
        err = r.stderr.read()
        assert ("Input/output error" in err or "Transport endpoint is not connected" in err
                or "Software caused connection abort" in err), err


def test_sigterm_ends_readers_blocked_on_a_hung_api(emulator_factory, tmp_path):
    emu = emulator_factory(generate="1:8:3", seed=11)
    data = emu.data()
    reg = data["regions"][0]
    with Mount(emu, tmp_path, options=["jobs=8", "timeout=120", "retry_budget=300"], allow=ALLOW) as m:
        # Instance list first, then every API answer hangs for minutes.
        instances = sorted(listdir(m.path(reg["RegionId"])))
        assert len(instances) == 8
        emu.reset_counters()
        emu.config(latency_ms=600000)
        readers = start_readers(m.path(reg["RegionId"], i, "Finished") for i in instances)
        wait_for(lambda: emu.counters().get("in_flight", {}).get("DescribeInvocations", 0) >= 8, 30,
                 "8 DescribeInvocations in flight")
        rc, took = sigterm_and_time(m)
        print(f"\nshutdown with 8 readers blocked on a hung API: {took:.2f} s")
        assert rc == 0, m.log()
        assert took < SHUTDOWN_BOUND
        check_readers_failed(readers)
        assert not os.path.ismount(m.mnt)
        emu.config(latency_ms=0)


def test_sigterm_ends_a_limiter_wait(emulator_factory, tmp_path):
    # 30 regions: ListInstances for all of them needs 3 minutes at 10 a minute.
    emu = emulator_factory(generate="30:1:1", seed=13)
    regions = sorted(r["RegionId"] for r in emu.data()["regions"])
    with Mount(emu, tmp_path, allow=ALLOW) as m:
        emu.reset_counters()
        readers = start_readers(m.path(r) for r in regions)
        wait_for(lambda: calls(emu, "ListInstances") >= 10, 30, "the limiter's burst of 10")
        time.sleep(0.5)
        assert calls(emu, "ListInstances") == 10  # the rest wait in the limiter
        rc, took = sigterm_and_time(m)
        print(f"\nshutdown with 20 readers waiting for the limiter: {took:.2f} s")
        assert rc == 0, m.log()
        assert took < SHUTDOWN_BOUND
        waiting = [r for r in readers if r.poll() is None or r.returncode != 0]
        assert len(waiting) >= 20 - 1  # those that had no slot (one may have just got one)
        check_readers_failed(waiting)
        assert not os.path.ismount(m.mnt)


# ---- unmounting (README "Unmounting") ----

def test_busy_unmount_is_refused_and_a_lazy_one_serves_open_files_until_closed(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True)
    data = emu.data()
    reg = data["regions"][0]
    inst = next(i for i in reg["instances"] if any(v["InvokeStatus"] == "Finished" for v in i["invocations"]))
    inv = next(v for v in inst["invocations"] if v["InvokeStatus"] == "Finished")
    m = Mount(emu, tmp_path)
    m.start()
    try:
        f = open(m.path(reg["RegionId"], inst["InstanceId"], "Finished", inv["InvokeId"], "command"), "rb")
        p = subprocess.run(["fusermount3", "-u", str(m.mnt)], capture_output=True, text=True)
        assert p.returncode != 0 and "busy" in p.stderr, p.stderr
        assert os.path.ismount(m.mnt)
        subprocess.run(["fusermount3", "-uz", str(m.mnt)], check=True)
        assert not os.path.ismount(m.mnt)
        time.sleep(0.5)
        assert m.proc.poll() is None, "the daemon left while a file was open"
        assert f.read() == base64.b64decode(inv["CommandContent"])
        f.close()
        assert m.proc.wait(timeout=SHUTDOWN_BOUND) == 0
    finally:
        m.stop()
