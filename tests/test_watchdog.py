# SPDX-License-Identifier: MIT
"""tests/mount.py's watchdog: a stuck reader fails its test instead of hanging the suite.

A real deadlock is not needed to get a stuck reader: stopping the daemon
(SIGSTOP) while it works on the reader's request leaves the reader waiting in
the kernel for a reply that never comes, exactly as a deadlocked daemon would.
The emulator holds that request ("hang" fault) so the daemon has surely read it
from /dev/fuse before it is stopped: only then does SIGKILL no longer free
the reader (the kernel waits for the reply of a request already sent).
"""
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import mount
from mount import Mount, ReaderStuck, credentials_env, listdir, run_reader, run_swasfs

# The emulator answers the held request after this long, so the daemon, once
# continued, finishes it and can shut down cleanly.
HOLD_S = 3


def an_invocation(emu):
    reg = emu.data()["regions"][0]
    inst = reg["instances"][0]
    inv = inst["invocations"][0]
    return reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"], inv["InvokeId"]


def stop_daemon_inside_a_result_fetch(emu, m, start_reader):
    """Starts a reader of an output file and stops the daemon once its request reached the API."""
    d = m.path(*an_invocation(emu))
    listdir(d)
    emu.faults("hang", 1, action="DescribeInvocationResult", hang_s=HOLD_S)
    emu.reset_counters()
    reader = start_reader(["cat", str(d / "output")])
    deadline = time.monotonic() + 20
    while emu.counters()["by_action"].get("DescribeInvocationResult", 0) == 0:
        assert time.monotonic() < deadline, "the reader's request never reached the emulator"
        time.sleep(0.05)
    os.kill(m.proc.pid, signal.SIGSTOP)
    return reader


def test_stuck_limit_is_retry_budget_plus_timeout_plus_grace(emulator, tmp_path):
    assert mount.stuck_limit([]) == mount.DEFAULT_RETRY_BUDGET + mount.DEFAULT_TIMEOUT + 5
    assert mount.stuck_limit(["endpoint=x,timeout=3", "retry_budget=4"]) == 12
    assert Mount(emulator, tmp_path, options=["timeout=2"]).stuck_after == mount.DEFAULT_RETRY_BUDGET + 2 + 5
    # The defaults read from src/main.c are the ones the daemon says it uses.
    usage = run_swasfs(["--help"], env=credentials_env(tmp_path)).stdout
    assert re.search(rf"-o timeout=SECONDS .*\(default {mount.DEFAULT_TIMEOUT}\)", usage)
    assert re.search(rf"-o retry_budget=SECONDS .*\(default {mount.DEFAULT_RETRY_BUDGET}\)", usage)


@pytest.mark.parametrize("line", [
    "WARNING: ThreadSanitizer: data race (pid=4242)",
    "==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010",
    "src/fs.c:147:3: runtime error: load of null pointer",
    "==4242== Invalid read of size 8",
])
def test_the_log_checker_flags_sanitizer_and_valgrind_reports(emulator, tmp_path, line):
    m = Mount(emulator, tmp_path)
    m.log_path.write_text(f"swasfs: mounted\n{line}\n")
    with pytest.raises(AssertionError, match="unexpected lines"):
        m.check_log()
    m.log_path.write_text("swasfs: mounted\n")
    m.check_log()


def test_a_reader_stuck_in_a_stopped_daemon_is_found_and_its_connection_aborted(emulator, tmp_path):
    stuck_after = 3
    (tmp_path / "a").mkdir()
    m = Mount(emulator, tmp_path / "a", options=["timeout=30"], stuck_after=stuck_after)
    m.start()
    try:
        reader = stop_daemon_inside_a_result_fetch(
            emulator, m, lambda cmd: subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        t0 = time.monotonic()
        time.sleep(0.5)
        # What the watchdog looks for: waiting for the reply, interruptibly until a signal comes.
        state, wchan, _ = mount.task_state(reader.pid)
        assert state == "S" and mount.FUSE_WAIT.search(wchan), (state, wchan)
        _, err = reader.communicate(timeout=stuck_after + 20)
        waited = time.monotonic() - t0
        # The abort freed it: cat failed on the aborted connection, after the limit and not before.
        assert reader.returncode != 0 and b"connect" in err, err
        assert waited >= stuck_after - 0.5
        trips = m.take_trips()
        assert len(trips) == 1, trips
        assert f"pid {reader.pid} (cat " in trips[0] and f"wchan {wchan}" in trips[0]
        assert f"aborted FUSE connection {m.conn}" in trips[0]
        assert not mount.WATCHDOG.trips
    finally:
        if m.proc is not None:
            os.kill(m.proc.pid, signal.SIGCONT)
    # The daemon, continued, sees the connection gone and exits 0 with nothing to report.
    t0 = time.monotonic()
    m.stop()
    assert time.monotonic() - t0 < 30 and not m.mounted()
    # And the suite goes on: the next mount works.
    (tmp_path / "b").mkdir()
    with Mount(emulator, tmp_path / "b") as again:
        assert sorted(listdir(again.mnt)) == sorted(r["RegionId"] for r in emulator.data()["regions"])


def test_run_reader_aborts_the_connection_of_a_reader_that_survives_sigkill(emulator, tmp_path):
    with Mount(emulator, tmp_path) as m:
        raised = []

        def read_in_background(cmd):
            def reader():
                try:
                    run_reader(cmd, timeout=3, mounts=[m])
                except ReaderStuck as e:
                    raised.append(e)
            t = threading.Thread(target=reader)
            t.start()
            return t

        try:
            t = stop_daemon_inside_a_result_fetch(emulator, m, read_in_background)
            t.join(timeout=3 + 2 * mount.KILL_GRACE + 10)
        finally:
            os.kill(m.proc.pid, signal.SIGCONT)
        assert not t.is_alive() and len(raised) == 1
        e = raised[0]
        msg = str(e)
        assert e.survived_kill
        assert "did not finish within 3 s" in msg and "survived SIGKILL for 5 s" in msg
        # Before the kill it waited interruptibly, after it uninterruptibly: the request was sent.
        assert re.search(r"in state S, wchan \S*(fuse|request_wait_answer)", msg)
        assert re.search(r"in state D, wchan \S*(fuse|request_wait_answer)", msg)
        assert f"aborted FUSE connection {m.conn}" in msg
        # The background watchdog (limit 50 s) did not need to step in.
        assert m.take_trips() == []


def test_stop_is_bounded_even_if_the_daemon_never_exits(emulator, tmp_path):
    m = Mount(emulator, tmp_path)
    m.start()
    assert listdir(m.mnt)
    pid = m.proc.pid
    m.exit_timeout = 2
    os.kill(pid, signal.SIGSTOP)   # and never continued: only SIGKILL ends it
    t0 = time.monotonic()
    with pytest.raises(AssertionError, match=r"swasfs did not exit within 2 s of the unmount: pid \d+ .* state T"):
        m.stop()
    assert time.monotonic() - t0 < 2 + mount.UNMOUNT_TIMEOUT + 2 * mount.KILL_GRACE
    assert m.proc is None and not m.mounted() and mount.task_state(pid) is None


def test_run_reader_returns_the_completed_process_or_fails(emulator, tmp_path):
    with Mount(emulator, tmp_path) as m:
        f = m.path(*an_invocation(emulator), "metadata.json")
        r = run_reader(["cat", str(f)], timeout=30)
        assert r.returncode == 0 and r.stdout == f.read_bytes()
        r = run_reader(["cat", str(m.path("no-such-region"))], timeout=30, text=True)
        assert r.returncode == 1 and "No such file" in r.stderr
    # A reader that is merely slow is killed, and the test fails without an abort.
    with pytest.raises(ReaderStuck) as e:
        run_reader(["sh", "-c", "sleep 30"], timeout=1)
    assert not e.value.survived_kill
    assert "did not finish within 1 s" in str(e.value) and "sleep 30" in str(e.value)


INNER_TESTS = '''
import os, signal, threading, time
from mount import Mount

def test_stuck(emulator, tmp_path):
    with Mount(emulator, tmp_path, options=["timeout=30"], stuck_after=2) as m:
        reg = emulator.data()["regions"][0]
        inst = reg["instances"][0]
        d = m.path(reg["RegionId"], inst["InstanceId"], "Finished", inst["invocations"][0]["InvokeId"])
        os.listdir(d)
        emulator.faults("hang", 1, action="DescribeInvocationResult", hang_s=%d)
        emulator.reset_counters()

        def stop_daemon_once_asked():
            deadline = time.monotonic() + 20
            while emulator.counters()["by_action"].get("DescribeInvocationResult", 0) == 0:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.05)
            os.kill(m.proc.pid, signal.SIGSTOP)
        stopper = threading.Thread(target=stop_daemon_once_asked, daemon=True)
        stopper.start()
        try:
            os.stat(d / "output")   # in the test's own thread: no fd, no child
        finally:
            stopper.join()
            os.kill(m.proc.pid, signal.SIGCONT)

def test_next(emulator, tmp_path):
    with Mount(emulator, tmp_path) as m:
        assert os.listdir(m.mnt)
''' % HOLD_S


def run_inner_session(tmp_path, tests_text):
    """Runs @tests_text as a pytest session of its own, with this suite's conftest.py; (rc, output)."""
    inner = tmp_path / "inner"
    inner.mkdir()
    tests = Path(__file__).resolve().parent
    conftest = (tests / "conftest.py").read_text()
    assert "sys.path.insert(0, str(Path(__file__).resolve().parent))" in conftest
    (inner / "conftest.py").write_text(conftest.replace("Path(__file__).resolve().parent", repr(str(tests))))
    (inner / "test_inner.py").write_text(tests_text)
    return mount.run_bounded([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf",
                              "--rootdir", str(inner), "--basetemp", str(tmp_path / "inner-tmp"), str(inner)],
                             120, cwd=inner)


def test_a_stuck_test_fails_with_the_diagnosis_and_the_suite_goes_on(tmp_path):
    """A whole pytest session: its first test's own thread gets stuck in a stat(); that test
    fails with the watchdog's message, the next one passes, and the session ends."""
    rc, out = run_inner_session(tmp_path, INNER_TESTS)
    assert rc == 1, out
    assert re.search(r"1 failed, 1 passed in [\d.]+s", out), out
    assert re.search(r"watchdog: stuck reader: the test process's thread MainThread in state S, "
                     r"wchan \S*(fuse|request_wait_answer).*blocked \d+ s without waking \(limit 2 s\); "
                     r"aborted FUSE connection \d+", out), out


def test_a_mount_left_behind_is_unmounted_and_fails_the_session(tmp_path):
    rc, out = run_inner_session(tmp_path, """
from mount import Mount

def test_forgets_to_stop(emulator, tmp_path):
    Mount(emulator, tmp_path).start()
""")
    assert rc == 1 and re.search(r"1 passed in [\d.]+s", out), out
    assert re.search(r"a test left \S+/mnt mounted; lazily unmounted \(ok\)", out), out
    assert not mount.fuse_mounts_under(tmp_path)
