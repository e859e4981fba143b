# SPDX-License-Identifier: MIT
"""The mount never wedges and fails fast: kernel notifications only from the
notifier thread (the result-change deadlock), status directories whose cached
entries cannot go stale, stale-while-revalidate and the per-endpoint breaker
when the API is down.

Readers run under the watchdog (mount.run_reader): a reader that does not
come back is a wedged mount: the FUSE connection is aborted (so the suite
goes on) and the test fails.
"""
import base64
import errno
import json
import os
import time

import pytest

from mount import Mount, listdir, run_reader, safe_sleep

REGION = "cn-hangzhou"
INSTANCE = "2ad1ae67295445f598017499dc1a0b01"  # the sample's first instance
# Runs of the deadlock reproducer per iteration (it struck 4 times in 5
# before the fix); SWASFS_TEST_ITERATIONS multiplies them for local hunts.
WEDGE_RUNS = 3


def reader(cmd, timeout=20):
    """A reader under the watchdog: one stuck past @timeout (the mount wedged)
    fails the test and has the FUSE connection aborted so the suite goes on."""
    p = run_reader(cmd, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def stat_size(path):
    rc, out, err = reader(["stat", "-c", "%s", str(path)])
    assert rc == 0, err
    return int(out)


@pytest.mark.long
def test_a_result_that_changes_under_the_kernels_cache_never_wedges_a_reader(emulator_factory, tmp_path,
                                                                             iterations):
    emu = emulator_factory(sample=True)
    ids = [f"t-wedge{i:06d}" for i in range(WEDGE_RUNS * iterations)]
    for invoke_id in ids:
        emu.add_invocation(REGION, INSTANCE, {
            "InvokeId": invoke_id, "InvokeStatus": "Running",
            "CommandContent": base64.b64encode(b"echo hi\n").decode(),
            "Result": {"InvokeRecordStatus": "Running", "Output": base64.b64encode(b"partial\n").decode()}})
    with Mount(emu, tmp_path, cache_ttl=6) as m:
        for invoke_id in ids:
            d = m.path(REGION, INSTANCE, "Running", invoke_id)
            assert stat_size(d / "output") == len(b"partial\n")
            safe_sleep(4)
            stat_size(d / "result.json")
            # The result changes while the kernel still trusts result.json's
            # attributes and pages.
            emu.set_status(invoke_id, result={"ExitCode": 7, "InvokeRecordStatus": "Running",
                                              "Output": base64.b64encode(b"partial\nmore\n").decode()})
            safe_sleep(2.5)
            # output's TTL ran out: this refetches and finds result.json changed.
            assert stat_size(d / "output") == len(b"partial\nmore\n")
            rc, out, err = reader(["cat", str(d / "result.json")])
            assert rc == 0, err
            assert json.loads(out)["ExitCode"] == 7, out


def test_status_directories_follow_their_entries_through_a_parents_readdirplus(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True)
    ttl = 3
    for i in range(2):
        emu.add_invocation(REGION, INSTANCE, {"InvokeId": f"t-both{i}", "InvokeStatus": "Running",
                                              "CreationTime": f"2026-11-27T10:00:0{i}Z"})
    with Mount(emu, tmp_path, cache_ttl=ttl) as m:
        inst = m.path(REGION, INSTANCE)
        running = inst / "Running"
        assert {"t-both0", "t-both1"} <= set(listdir(running))
        before = os.stat(running).st_mtime_ns
        emu.set_status("t-both0", "Finished")
        # The parent's readdirplus refreshes Running/'s attributes (and so
        # its entry timeout) without a getattr of Running/ itself: the new
        # mtime alone must make the kernel drop its cached entries.
        deadline = time.monotonic() + 2 * ttl + 5
        while True:
            rc, _, err = reader(["ls", "-l", str(inst)])
            assert rc == 0, err
            names = set(listdir(running))
            if "t-both0" not in names:
                break
            assert time.monotonic() < deadline, f"Running/ still lists a finished invocation: {names}"
            time.sleep(0.5)
        assert "t-both1" in names
        assert "t-both0" in listdir(inst / "Finished")
        after = os.stat(running).st_mtime_ns
        # Same newest invocation, same seconds; other entries, other nanoseconds.
        assert after // 10**9 == before // 10**9 and after != before
        # Every entry listed can be stat'ed.
        for n in listdir(running):
            os.stat(running / n)


def test_unchanged_directories_keep_their_mtime_to_the_nanosecond(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True)
    with Mount(emu, tmp_path, cache_ttl=1) as m:
        dirs = [m.mnt, m.path(REGION), m.path(REGION, INSTANCE)]
        dirs += [m.path(REGION, INSTANCE, s) for s in listdir(m.path(REGION, INSTANCE))]
        for d in dirs:
            listdir(d)
        first = {d: os.stat(d).st_mtime_ns for d in dirs}
        safe_sleep(2.5)
        for d in dirs:
            listdir(d)
        assert {d: os.stat(d).st_mtime_ns for d in dirs} == first


def timed(fn):
    t0 = time.monotonic()
    try:
        return fn(), time.monotonic() - t0
    except OSError as e:
        return e, time.monotonic() - t0


def test_api_down_stale_at_once_never_fetched_fails_fast_outage_logged_once(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True)
    instances = [i["InstanceId"] for r in emu.data()["regions"] if r["RegionId"] == REGION
                 for i in r["instances"]]
    budget = 8
    with Mount(emu, tmp_path, cache_ttl=2, options=[f"retry_budget={budget}", "timeout=2"],
               allow=[r"failed", r"failing"]) as m:
        cached = m.path(REGION, instances[0], "Finished")
        before = sorted(listdir(cached))
        emu.config(fault_rate=1.0, fault_kind="5xx")
        safe_sleep(3)
        # Past its TTL with the API down: the last good listing within about
        # a second, not after the retry budget.
        names, took = timed(lambda: sorted(listdir(cached)))
        assert names == before
        assert took < budget / 2, f"stale listing took {took:.1f} s"
        # Never fetched: waits for its fetch, at most the retry budget...
        err, took = timed(lambda: listdir(m.path(REGION, instances[1], "Finished")))
        assert isinstance(err, OSError) and err.errno == errno.EIO, err
        assert took < budget + 5
        # ... and once the endpoint's breaker is open, fails at once.
        err, took = timed(lambda: listdir(m.path(REGION, instances[2], "Finished")))
        assert isinstance(err, OSError) and err.errno == errno.EIO, err
        assert took < 2, f"second never-fetched listing took {took:.1f} s with the breaker open"
        # Cached data still comes at once.
        names, took = timed(lambda: sorted(listdir(cached)))
        assert names == before and took < 2
        assert m.log().count("is failing") == 1, m.log()
        emu.config(fault_rate=0.0)
        # Back: a probe closes the breaker (the period may have doubled).
        end = time.monotonic() + 30
        while True:
            got, _ = timed(lambda: listdir(m.path(REGION, instances[1], "Finished")))
            if not isinstance(got, OSError):
                break
            assert time.monotonic() < end, "the mount did not recover after the API came back"
            time.sleep(0.5)
        assert "answers again" in m.log()
