# SPDX-License-Identifier: MIT
"""Readahead of results and pipelined listings (contrib/docs/design.md §10).

Walks that stat or read output/result.json across a status directory have the
results of the next siblings fetched ahead, within -o readahead; walks that
list the instances of a region one after the other have the next listings
fetched ahead. What users depend on: a walk costs at most one result call per
invocation and every byte is right; a lone `cat` costs one call and `ls`
none; throttling shrinks the window instead of hammering the API; with
readahead=0 nothing is fetched ahead.
"""
import json
import os
import re
import subprocess
import time

import pytest

import datasets
from mount import Mount

TOOL_TIMEOUT = 300


def tool(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("timeout", TOOL_TIMEOUT)
    kw.setdefault("text", True)
    return subprocess.run(cmd, **kw)


def calls(emu, action):
    return emu.counters()["by_action"].get(action, 0)


def stats(m):
    return json.loads(m.path(".swasfs", "stats.json").read_text())


def walk_all(emu):
    for reg in emu.data()["regions"]:
        for inst in reg["instances"]:
            for inv in inst.get("invocations", []):
                yield reg["RegionId"], inst["InstanceId"], inv


def check_every_file(emu, m):
    for region, iid, inv in walk_all(emu):
        d = m.path(region, iid, inv["InvokeStatus"], inv["InvokeId"])
        for name, data in datasets.expected_files(region, iid, inv).items():
            assert (d / name).read_bytes() == data, (d / name)


@pytest.fixture
def generated(emulator_factory):
    # 1 region, 3 instances, 60 invocations each, over several statuses.
    return emulator_factory(generate="1:3:60", seed=7)


def test_a_walk_fetches_ahead_with_at_most_one_call_per_invocation(generated, tmp_path):
    emu = generated
    region = emu.data()["regions"][0]["RegionId"]
    emu.config(latency_ms=20)
    with Mount(emu, tmp_path, options=["jobs=4"], cache_ttl=3600) as m:
        emu.reset_counters()
        out = tool(["ls", "-lR", str(m.path(region))])
        assert out.returncode == 0, out.stderr
        n = sum(1 for _ in walk_all(emu))
        # Readahead never fetches a result twice, nor one nobody asked for
        # beyond the last window.
        assert calls(emu, "DescribeInvocationResult") == n
        ra = stats(m)["readahead"]
        assert ra["results_fetched"] > n // 2, ra
        assert ra["results_hit"] >= ra["results_fetched"] - 4 * 4, ra
        # A promoted prefetch is one that fetched (a reader waited for it).
        assert 0 <= ra["promoted"] <= ra["results_fetched"] + ra["listings_fetched"], ra
        # Every byte right, and nothing fetched again.
        emu.config(latency_ms=0)
        before = calls(emu, "DescribeInvocationResult")
        check_every_file(emu, m)
        assert calls(emu, "DescribeInvocationResult") == before
        # Requests in flight never passed jobs.
        assert emu.peak_in_flight()["total"] <= 4


def test_a_lone_cat_costs_one_call_and_ls_none(generated, tmp_path):
    emu = generated
    region, iid, inv = next(walk_all(emu))
    with Mount(emu, tmp_path, cache_ttl=3600) as m:
        sdir = m.path(region, iid, inv["InvokeStatus"])
        emu.reset_counters()
        assert tool(["ls", str(sdir)]).returncode == 0
        assert tool(["ls", str(m.path(region, iid))]).returncode == 0
        assert calls(emu, "DescribeInvocationResult") == 0
        assert tool(["cat", str(sdir / inv["InvokeId"] / "output")]).returncode == 0
        time.sleep(1.5)   # anything fetched ahead would be under way by now
        assert calls(emu, "DescribeInvocationResult") == 1
        # find without -size: no result call either.
        assert tool(["find", str(m.path(region))]).returncode == 0
        time.sleep(1)
        assert calls(emu, "DescribeInvocationResult") == 1


def test_readahead_0_fetches_nothing_ahead(generated, tmp_path):
    emu = generated
    region = emu.data()["regions"][0]["RegionId"]
    with Mount(emu, tmp_path, options=["readahead=0"], cache_ttl=3600) as m:
        assert tool(["ls", "-lR", str(m.path(region))]).returncode == 0
        ra = stats(m)["readahead"]
        assert ra["results_fetched"] == 0 and ra["listings_fetched"] == 0, ra


def test_listings_of_the_next_instances_are_fetched_ahead_of_a_walk(emulator_factory, tmp_path):
    emu = emulator_factory(generate="1:6:120", seed=8)
    region = emu.data()["regions"][0]["RegionId"]
    with Mount(emu, tmp_path, cache_ttl=3600) as m:
        # A plain ls of the region, then of one instance: nothing ahead.
        insts = sorted(x for x in os.listdir(m.path(region)) if not x.startswith("."))
        os.listdir(m.path(region, insts[0]))
        time.sleep(1)
        assert stats(m)["readahead"]["listings_fetched"] == 0
        emu.reset_counters()
        # Every status directory of every instance, in order.
        out = tool(f"ls {m.path(region)}/*/*", shell=True)
        assert out.returncode == 0, out.stderr
        ra = stats(m)["readahead"]
        assert ra["listings_fetched"] >= 1, ra
        # Every page once: 120 records an instance are 3 pages, the first
        # instance's listing was cached already.
        assert calls(emu, "DescribeInvocations") == 3 * (len(insts) - 1)


def test_throttling_shrinks_the_window_and_every_file_is_right(generated, tmp_path):
    emu = generated
    region = emu.data()["regions"][0]["RegionId"]
    with Mount(emu, tmp_path, options=["verbose", "jobs=8", "retry_budget=60"], cache_ttl=3600,
               allow=[r"Throttling", r"failed", r"throttled"]) as m:
        emu.set_fault_mix({"throttle": 0.3})
        emu.config(retry_after_ms=50)
        out = tool(["ls", "-lR", str(m.path(region))])
        emu.set_fault_mix({})
        assert out.returncode == 0, out.stderr
        shrunk = [int(x) for x in re.findall(r"readahead: window (\d+) \(throttled\)", m.log())]
        assert shrunk, m.log()[-3000:]
        assert min(shrunk) < 8
        assert stats(m)["api"]["requests"]["DescribeInvocationResult"]["throttled"] > 0
        check_every_file(emu, m)
