# SPDX-License-Identifier: MIT
"""The cache's memory bound (-o max_cache), through a real mount.

A walk reads every output of a generated data set, and a second walk reads
them all again. Final files keep their pages in the kernel (README.md), so the
second walk opens them with O_DIRECT: each read then reaches the daemon, which
serves it from its cache or, if the cache dropped it, fetches it again. What
the emulator counts on its side says which happened.
"""
import base64
import os
import re
import threading

import pytest

from mount import SANITIZER, VALGRIND, Mount

# 1 region x 3 instances x 100 invocations, each with a DescribeInvocationResult
# Output (one in eight longer; the Running ones shorter).
DATA = "1:3:100"
# Well below what the data takes in the cache (about 3 KiB an invocation:
# listing records with their rendered JSON, and results): the walks must
# drop and refetch. Above the 64K minimum.
SMALL = "256K"
# The daemon's resident memory after both walks, in KiB: a generous bound
# (the cache holds at most SMALL; libfuse, curl and malloc take the rest).
# Sanitizers and valgrind multiply it.
RSS_LIMIT_KIB = 1024 * 1024 if SANITIZER or VALGRIND else 96 * 1024


def outputs(data):
    """(path parts, expected bytes) of every invocation's output."""
    for reg in data["regions"]:
        for inst in reg["instances"]:
            for inv in inst["invocations"]:
                parts = (reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"], inv["InvokeId"], "output")
                yield parts, base64.b64decode(inv["Result"].get("Output", ""))


def read_direct(path):
    """The whole file, read with O_DIRECT: past the kernel's page cache, to the daemon."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        chunks = []
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                return b"".join(chunks)
            chunks.append(b)
    finally:
        os.close(fd)


def result_calls(emu):
    return emu.counters()["by_action"].get("DescribeInvocationResult", 0)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def exit_stats(log):
    """The daemon's "cache at exit" line as a dict: bytes, entries, max_cache, dropped, hits, misses."""
    m = re.search(r"cache at exit: (\d+) bytes in (\d+) entries \(max_cache (\d+)\), (\d+) dropped to stay "
                  r"within it, (\d+) hits, (\d+) misses", log)
    assert m, log
    return dict(zip(("bytes", "entries", "max_cache", "dropped", "hits", "misses"), map(int, m.groups())))


def walk_twice(emu, m, threads):
    """First walk: plain reads, one thread; second walk: O_DIRECT over @threads
    threads. Every byte compared with the emulator's data. Returns the
    DescribeInvocationResult calls of each walk."""
    files = list(outputs(emu.data()))
    assert len(files) == 300 and sum(len(want) for _, want in files) > 20000
    emu.reset_counters()
    for parts, want in files:
        assert m.path(*parts).read_bytes() == want, parts
    first = result_calls(emu)
    emu.reset_counters()
    errors = []

    def worker(k):
        try:
            for parts, want in files[k::threads]:
                got = read_direct(m.path(*parts))
                assert got == want, (parts, len(got), len(want))
        except BaseException as e:  # noqa: B902 - reported by the main thread
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
    assert not any(t.is_alive() for t in ts), "readers still running after 300 s"
    assert not errors, errors[0]
    return first, result_calls(emu)


def test_past_max_cache_outputs_are_dropped_and_fetched_again_byte_exact(emulator_factory, tmp_path):
    emu = emulator_factory(generate=DATA, seed=3)
    with Mount(emu, tmp_path, options=[f"max_cache={SMALL}"]) as m:
        first, second = walk_twice(emu, m, threads=4)
        # One fetch per invocation the first time (the lookup and the read share it).
        assert first == 300
        # The bound dropped results, and reading them again fetched them again;
        # the most recently read can still be there.
        assert second >= 150, second
        by_inv = emu.counters()["by_action_invocation"].get("DescribeInvocationResult", {})
        assert max(by_inv.values()) <= 2   # one fetch per read at most, never a storm
        assert m.proc.poll() is None, "the daemon died"
        assert rss_kib(m.proc.pid) < RSS_LIMIT_KIB
    st = exit_stats(m.log())
    # By its own count the cache ends within the bound, having dropped at least
    # what the second walk fetched again.
    assert st["max_cache"] == 256 * 1024
    assert 0 < st["bytes"] <= st["max_cache"], st
    assert st["dropped"] >= second, st


def test_within_max_cache_outputs_are_read_again_without_a_fetch(emulator_factory, tmp_path):
    emu = emulator_factory(generate=DATA, seed=3)
    with Mount(emu, tmp_path) as m:   # the default, 256M
        first, second = walk_twice(emu, m, threads=4)
        assert first == 300
        # The O_DIRECT reads reached the daemon, which had every result.
        assert second == 0, second
        assert rss_kib(m.proc.pid) < RSS_LIMIT_KIB
    st = exit_stats(m.log())
    assert st["dropped"] == 0 and st["max_cache"] == 256 << 20, st
    # Every output and listing held: a few KiB per invocation at least.
    assert st["bytes"] > 300 * 1024, st
