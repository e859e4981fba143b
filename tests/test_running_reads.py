# SPDX-License-Identifier: MIT
"""Reading a Running invocation's output while it changes.

A Running invocation's result is fetched again once cache_ttl has passed, so
its output file can show different bytes from one read to the next. Users
depend on two things here:

- a large output read in chunks while it changes never hangs or fails, a read
  in progress sees, page by page, the old or the new bytes (never anything
  else), and a read that starts after the change was seen returns exactly the
  new bytes, also when the new output has the same length and mtime as the
  old one (the kernel keeps a file's pages until size or mtime change; for the
  rest the daemon tells it through its notifier thread);
- ``tail -f`` of a running output prints each appended part once, and ends
  with exactly the final output.

Every reader runs under tests/mount.py's watchdog: a task of the test process
or a spawned reader blocked in one FUSE request past the mount's limit has
the FUSE connection aborted and fails the test.
"""
import base64
import os
import random
import signal
import subprocess
import threading
import time

import pytest

from mount import Mount, kill_and_wait, run_reader, safe_sleep

REGION = "cn-hangzhou"
INSTANCE = "2ad1ae67295445f598017499dc1a0b01"  # the sample's first instance
PAGE = 4096
CHUNK = 64 << 10
# DescribeInvocationResult's body is capped at API_BODY_CAP(50), 3.25 MiB
# (include/swas.h); Output is base64 (4/3 the size), so 2 MiB of output,
# 2.7 MiB in the body, is large (512 pages) and stays within the cap.
BIG = 2 << 20
TTL = 2
# Seconds between two chunks of a slow reader: 2 MiB in 64 KiB chunks then
# takes about 32 * 0.15 = 4.8 s, more than two TTLs, so the result is
# fetched again while the read is in progress.
CHUNK_PAUSE = 0.15
# Generous bounds for "does not hang" on a loaded 2-core machine.
SEEN_WITHIN = 3 * TTL + 20
READER_JOIN = 120


def b64(data):
    return base64.b64encode(data).decode()


def version(seed, length):
    """@length random bytes: two versions differ in every page."""
    return random.Random(seed).randbytes(length)


def running(emu, invoke_id, output):
    emu.add_invocation(REGION, INSTANCE, {
        "InvokeId": invoke_id, "InvokeStatus": "Running",
        "CommandContent": b64(b"long-running\n"),
        "Result": {"InvokeRecordStatus": "Running", "Output": b64(output)}})


def set_output(emu, invoke_id, output):
    # Output only: no status, no FinishedTime, so the file's mtime stays.
    emu.set_status(invoke_id, result={"Output": b64(output)})


def cat(path):
    p = run_reader(["cat", str(path)], timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def pages_from(got, versions):
    """None if every 4 KiB page of @got equals the same page of one of
    @versions (its last page may be cut short where the file ended for the
    reader), else what is wrong, for the assertion message."""
    for off in range(0, len(got), PAGE):
        g = got[off:off + PAGE]
        last = off + PAGE >= len(got)
        if any(g == v[off:off + PAGE] or (last and v[off:off + PAGE].startswith(g)) for v in versions):
            continue
        return (f"page at {off} ({len(g)} bytes) of a {len(got)}-byte read matches no version "
                f"(lengths {[len(v) for v in versions]})")
    return None


class SlowReader(threading.Thread):
    """Reads a file from offset 0 in CHUNK-byte reads with CHUNK_PAUSE between
    them, in a thread of the test process (the watchdog covers it)."""

    def __init__(self, path):
        super().__init__(name=f"slow-reader {path.name}", daemon=True)
        self.path = path
        self.got = bytearray()
        self.error = None

    def run(self):
        try:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                while chunk := os.read(fd, CHUNK):
                    self.got += chunk
                    time.sleep(CHUNK_PAUSE)
            finally:
                os.close(fd)
        except OSError as e:
            self.error = e

    def result(self):
        self.join(READER_JOIN)
        assert not self.is_alive(), f"{self.name} did not finish within {READER_JOIN} s"
        assert self.error is None, f"{self.name}: {self.error!r}"
        return bytes(self.got)


def saw_both(got, old, new):
    """True if @got has a page of @old that @new does not have there, and one of @new that @old does not."""
    pages = range(0, len(got), PAGE)
    return any(got[o:o + PAGE] == old[o:o + PAGE] != new[o:o + PAGE] for o in pages) and \
        any(got[o:o + PAGE] == new[o:o + PAGE] != old[o:o + PAGE] for o in pages)


def change_during_read(emu, out, invoke_id, old, new):
    """Starts a slow reader of @out, changes the output from @old to @new
    while it reads, and returns what the reader got."""
    r = SlowReader(out)
    r.start()
    time.sleep(0.5)   # a few chunks in
    set_output(emu, invoke_id, new)
    if len(new) != len(old):
        # Stat along the way: the daemon notices the change while the
        # reader is in the middle of the file.
        deadline = time.monotonic() + SEEN_WITHIN
        while os.stat(out).st_size != len(new):
            assert time.monotonic() < deadline, f"the new size {len(new)} not seen within {SEEN_WITHIN} s"
            time.sleep(0.2)
    got = r.result()
    assert (why := pages_from(got, [old, new])) is None, why
    return got


@pytest.mark.long
def test_a_large_running_output_read_in_chunks_while_it_changes(emulator_factory, tmp_path, iterations):
    emu = emulator_factory(sample=True)
    invoke_id = "t-bigread0001"
    current = version(0, BIG)
    running(emu, invoke_id, current)
    with Mount(emu, tmp_path, cache_ttl=TTL) as m:
        out = m.path(REGION, INSTANCE, "Running", invoke_id, "output")
        assert cat(out) == current
        mixed = 0   # reads in progress that got pages of both versions
        for cycle in range(2 * iterations):   # one shorter and one longer change each
            # A different length (not page-aligned, shorter or longer in turn).
            resized = version(2 * cycle + 1, BIG - 777 - (cycle % 2) * 100_003)
            mixed += saw_both(change_during_read(emu, out, invoke_id, current, resized), current, resized)
            # The stat saw the new size: a read starting now gets exactly it.
            assert os.stat(out).st_size == len(resized)
            got = cat(out)
            assert got == resized, pages_from(got, [resized]) or f"{len(got)} bytes, not {len(resized)}"
            current = resized

            # The same length, other bytes: the kernel keeps its pages (size
            # and mtime are the same), so only the daemon's notification can
            # make it drop them.
            mtime = os.stat(out).st_mtime_ns
            same = version(2 * cycle + 2, len(current))
            mixed += saw_both(change_during_read(emu, out, invoke_id, current, same), current, same)
            # Past the TTL a stat makes the daemon fetch the result again and
            # notice; the notifier thread then has the kernel drop the pages.
            safe_sleep(TTL + 1)
            st = os.stat(out)
            assert (st.st_size, st.st_mtime_ns) == (len(same), mtime), \
                "the test needs the same size and mtime: the kernel alone would drop its pages otherwise"
            deadline = time.monotonic() + SEEN_WITHIN
            while True:
                got = cat(out)
                if got == same:
                    break
                assert (why := pages_from(got, [current, same])) is None, why
                assert time.monotonic() < deadline, \
                    f"a read {SEEN_WITHIN} s after a same-length change still returns old pages"
                time.sleep(0.5)
                os.stat(out)
            current = same
        # Each slow read outlasts two TTLs, so the change lands in its middle
        # (it did in every one of 30 reads measured): if none saw both
        # versions, this test no longer tests a change during a read.
        assert mixed > 0, "no read in progress saw the change: the test lost its point"


# ---- tail ----

TAIL_BOUND = 120     # tail is killed after this many seconds whatever happens (timeout -s KILL)
AFTER_FINAL = 3      # seconds tail keeps running after the final output, to catch a repeat


def start_tail(args, path, tmp_path, name):
    """tail @args @path with stdout and stderr in files: (process, stdout path, stderr path)."""
    so, se = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    with open(so, "wb") as o, open(se, "wb") as e:
        p = subprocess.Popen(["timeout", "-s", "KILL", str(TAIL_BOUND), "tail"] + args + [str(path)],
                             stdin=subprocess.DEVNULL, stdout=o, stderr=e, start_new_session=True)
    return p, so, se


def wait_for(pred, what, within=SEEN_WITHIN):
    deadline = time.monotonic() + within
    while not pred():
        assert time.monotonic() < deadline, f"{what} not within {within} s"
        time.sleep(0.2)


def stop_tail(p):
    """Ends tail (SIGTERM to its group, then SIGKILL) and says whether it
    was still running: tail -f/-F exits only when killed."""
    alive = p.poll() is None
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        survived = kill_and_wait([p.pid])
        assert survived is None, f"tail {survived}"
        p.wait(5)
    return alive


def grow_then_finish(emu, invoke_id, parts, printed):
    """Appends @parts[1:] one by one while the invocation runs, each once
    @printed() shows the output so far, then finishes it with the final
    output. Returns the final output."""
    so_far = parts[0]
    for part in parts[1:]:
        wait_for(lambda: printed() == so_far, f"tail printing {len(so_far)} bytes exactly")
        so_far += part
        set_output(emu, invoke_id, so_far)
    wait_for(lambda: printed() == so_far, f"tail printing {len(so_far)} bytes exactly")
    emu.set_status(invoke_id, "Finished", "Finished", result={"Output": b64(so_far + b"done\n"), "ExitCode": 0})
    return so_far, so_far + b"done\n"


PARTS = [b"starting\n" + b"x" * 5000 + b"\n", b"step 1 of 2\n", b"step 2 of 2\n" + b"y" * 9000 + b"\n"]


def test_tail_f_of_a_running_output_prints_each_part_once_and_ends_with_the_final_output(
        emulator_factory, tmp_path, iterations):
    emu = emulator_factory(sample=True)
    with Mount(emu, tmp_path, cache_ttl=TTL) as m:
        for i in range(iterations):
            invoke_id = f"t-tailf{i:06d}"
            running(emu, invoke_id, PARTS[0])
            out = m.path(REGION, INSTANCE, "Running", invoke_id, "output")
            # -c +1: the whole output, not its last 10 lines; -f follows the
            # descriptor, which keeps working when the path goes away.
            p, so, se = start_tail(["-c", "+1", "-f", "-s", "0.5"], out, tmp_path, f"tail-f{i}")
            try:
                _, final = grow_then_finish(emu, invoke_id, PARTS, so.read_bytes)
                # The invocation left Running/; the open file shows its final output.
                wait_for(lambda: so.read_bytes() == final, "the final output")
                safe_sleep(AFTER_FINAL)
            finally:
                alive = stop_tail(p)
            assert alive, f"tail -f exited by itself: {se.read_bytes()!r}"
            assert so.read_bytes() == final, (so.read_bytes(), final)
            assert se.read_bytes() == b"", se.read_bytes()


def test_tail_F_of_a_running_output_says_when_the_path_goes_and_prints_nothing_twice(
        emulator_factory, tmp_path, iterations):
    """tail -F follows the name: when the invocation finishes it leaves
    Running/, so the name stops resolving. tail then reports the file became
    inaccessible and waits for the name to come back, which it does not (a
    path that stays the same for an invocation's whole life does not exist
    yet). What it printed is a prefix of the final output: each running part
    exactly once, and the final part only if tail read it through its open
    descriptor before it noticed the name was gone."""
    emu = emulator_factory(sample=True)
    with Mount(emu, tmp_path, cache_ttl=TTL) as m:
        for i in range(iterations):
            invoke_id = f"t-tailF{i:06d}"
            running(emu, invoke_id, PARTS[0])
            out = m.path(REGION, INSTANCE, "Running", invoke_id, "output")
            p, so, se = start_tail(["-c", "+1", "-F", "-s", "0.5"], out, tmp_path, f"tail-F{i}")
            try:
                last_running, final = grow_then_finish(emu, invoke_id, PARTS, so.read_bytes)
                wait_for(lambda: b"inaccessible" in se.read_bytes(), "tail -F reporting the path gone")
                assert not out.exists()
                safe_sleep(AFTER_FINAL)
            finally:
                alive = stop_tail(p)
            assert alive, f"tail -F exited by itself: {se.read_bytes()!r}"
            printed = so.read_bytes()
            assert printed in (last_running, final), (printed, final)
            err = se.read_bytes().decode(errors="replace")
            assert err.count("has become inaccessible") == 1, err
            assert cat(m.path(REGION, INSTANCE, "Finished", invoke_id, "output")) == final
