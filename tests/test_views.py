# SPDX-License-Identifier: MIT
"""The names swasfs adds to find things (README "Finding things").

- <region>/.by-name/<InstanceName>: a symlink to ../<InstanceId>, listed;
- <region>/<instance>/.instance.json: the ListInstances record, listed;
- <region>/<instance>/.by-id/<InvokeId>: a symlink to ../<InvokeStatus>/<InvokeId>,
  answered on lookup (.by-id is not listed);
- <mnt>/.swasfs/{stats.json,version}: the mount's own numbers, on lookup only.

Every test mounts for real against the emulator and uses ordinary tools.
"""
import errno
import json
import os
import subprocess
import time

import pytest

import datasets
from mount import SWASFS, Mount, safe_sleep
from test_running_reads import (AFTER_FINAL, INSTANCE, PARTS, REGION, cat, grow_then_finish, running,
                                start_tail, stop_tail, wait_for)

TOOL_TIMEOUT = 120


def tool(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("timeout", TOOL_TIMEOUT)
    kw.setdefault("text", True)
    return subprocess.run(cmd, **kw)


def instances_of(emu, region):
    for r in emu.data()["regions"]:
        if r["RegionId"] == region:
            return r["instances"]
    raise KeyError(region)


def record_of(inst):
    """An instance as ListInstances returns it: the emulator's data without
    the invocations it keeps alongside."""
    return {k: v for k, v in inst.items() if k != "invocations"}


def stats(m):
    return json.loads(m.path(".swasfs", "stats.json").read_text())


def requests(st, action, outcome="ok"):
    return st["api"]["requests"][action][outcome]


@pytest.fixture
def sample(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True)
    with Mount(emu, tmp_path) as m:
        yield emu, m


# ---- .by-name ----

def test_by_name_links_every_instance_to_its_directory(sample):
    emu, m = sample
    for reg in emu.data()["regions"]:
        region = reg["RegionId"]
        assert ".by-name" in os.listdir(m.path(region))
        names = {i["InstanceName"]: i["InstanceId"] for i in reg["instances"]}
        assert sorted(os.listdir(m.path(region, ".by-name"))) == sorted(names)
        for name, iid in names.items():
            link = m.path(region, ".by-name", name)
            assert os.readlink(link) == f"../{iid}"
            assert os.lstat(link).st_size == len(f"../{iid}")
            # The link resolves to the instance directory itself.
            assert os.stat(link).st_ino == os.stat(m.path(region, iid)).st_ino
            assert sorted(os.listdir(link)) == sorted(os.listdir(m.path(region, iid)))


def test_shared_and_hostile_names(emulator_factory, tmp_path):
    long_name = "n" * 240
    insts = [
        datasets.instance("i-shared000000000000000000000001", [], name="web"),
        datasets.instance("i-shared000000000000000000000002", [], name="web"),
        datasets.instance("i-unique000000000000000000000003", [], name="db"),
        datasets.instance("i-hostile00000000000000000000004", [], name="a/b"),
        datasets.instance("i-hostile00000000000000000000005", [], name=".hidden"),
        datasets.instance("i-hostile00000000000000000000006", [], name=".."),
        # Shared and too long with the id appended: left out.
        datasets.instance("i-long00000000000000000000000007", [], name=long_name),
        datasets.instance("i-long00000000000000000000000008", [], name=long_name),
        datasets.instance(".i-dotted", [], name="dotted"),
    ]
    emu = emulator_factory(data=datasets.write(tmp_path, datasets.dataset({"cn-hangzhou": insts})))
    with Mount(emu, tmp_path, allow=[r"skipping"]) as m:
        by_name = m.path("cn-hangzhou", ".by-name")
        assert sorted(os.listdir(by_name)) == sorted([
            "web.i-shared000000000000000000000001", "web.i-shared000000000000000000000002", "db"])
        assert os.readlink(by_name / "web.i-shared000000000000000000000002") == \
            "../i-shared000000000000000000000002"
        assert os.readlink(by_name / "db") == "../i-unique000000000000000000000003"
        with pytest.raises(FileNotFoundError):
            os.lstat(by_name / "web")
        # An id beginning with '.' is not shown, and says so once.
        assert ".i-dotted" not in os.listdir(m.path("cn-hangzhou"))
        with pytest.raises(FileNotFoundError):
            os.stat(m.path("cn-hangzhou", ".i-dotted"))
        tool(["find", str(m.mnt)], check=True)
        tool(["find", str(m.mnt)], check=True)
        skipped = [line for line in m.log().splitlines() if "skipping" in line and ".i-dotted" in line]
        assert len(skipped) == 1, m.log()


# ---- .instance.json ----

def test_instance_json_is_the_list_instances_record(sample):
    emu, m = sample
    for reg in emu.data()["regions"]:
        for inst in reg["instances"]:
            idir = m.path(reg["RegionId"], inst["InstanceId"])
            assert ".instance.json" in os.listdir(idir)
            text = (idir / ".instance.json").read_bytes()
            assert os.stat(idir / ".instance.json").st_size == len(text)
            assert text.endswith(b"\n")
            assert json.loads(text) == record_of(inst)


def test_instance_json_changes_when_the_instance_does_and_only_then(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True)
    iid = INSTANCE
    with Mount(emu, tmp_path, options=["instance_ttl=2"]) as m:
        f = m.path(REGION, iid, ".instance.json")
        before = json.loads(f.read_text())
        st0 = os.stat(f)
        # Refreshed, unchanged: the same mtime (rsync copies nothing).
        safe_sleep(3)
        os.listdir(m.path(REGION))
        assert json.loads(f.read_text()) == before
        assert os.stat(f).st_mtime_ns == st0.st_mtime_ns
        # The instance changes: new bytes, a new mtime, the old pages gone.
        emu.update_instance(iid, Status="Stopped")
        time.sleep(1.1)   # the mtime is in seconds: make the new one differ
        safe_sleep(2)
        os.listdir(m.path(REGION))
        deadline = time.monotonic() + 20
        while json.loads(f.read_text())["Status"] != "Stopped" and time.monotonic() < deadline:
            time.sleep(0.5)
            os.listdir(m.path(REGION))
        after = json.loads(f.read_text())
        assert after == dict(before, Status="Stopped")
        st1 = os.stat(f)
        assert st1.st_mtime > st0.st_mtime
        assert st1.st_size == len(f.read_bytes())


# ---- .by-id ----

def test_by_id_is_not_listed_but_answers_every_invocation(sample):
    emu, m = sample
    for reg in emu.data()["regions"]:
        for inst in reg["instances"]:
            idir = m.path(reg["RegionId"], inst["InstanceId"])
            assert ".by-id" not in os.listdir(idir)
            ids = sorted(i["InvokeId"] for i in inst.get("invocations", []))
            assert sorted(os.listdir(idir / ".by-id")) == ids
            for inv in inst.get("invocations", []):
                link = idir / ".by-id" / inv["InvokeId"]
                assert os.readlink(link) == f"../{inv['InvokeStatus']}/{inv['InvokeId']}"
                real = idir / inv["InvokeStatus"] / inv["InvokeId"]
                assert (link / "command").read_bytes() == (real / "command").read_bytes()
                assert os.stat(link / "metadata.json").st_ino == os.stat(real / "metadata.json").st_ino
            with pytest.raises(FileNotFoundError):
                os.lstat(idir / ".by-id" / "t-no-such-invocation")


def test_tail_F_through_by_id_follows_the_status_change_and_prints_nothing_twice(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True)
    with Mount(emu, tmp_path, cache_ttl=2) as m:
        invoke_id = "t-byidtail0001"
        running(emu, invoke_id, PARTS[0])
        out = m.path(REGION, INSTANCE, ".by-id", invoke_id, "output")
        p, so, se = start_tail(["-c", "+1", "-F", "-s", "0.5"], out, tmp_path, "tail-F-by-id")
        try:
            _, final = grow_then_finish(emu, invoke_id, PARTS, so.read_bytes)
            wait_for(lambda: so.read_bytes() == final, "the final output through .by-id")
            link = m.path(REGION, INSTANCE, ".by-id", invoke_id)
            wait_for(lambda: os.readlink(link) == f"../Finished/{invoke_id}", "the link to follow the status")
            safe_sleep(AFTER_FINAL)
        finally:
            alive = stop_tail(p)
        assert alive, f"tail -F exited by itself: {se.read_bytes()!r}"
        assert so.read_bytes() == final, (so.read_bytes(), final)
        assert b"inaccessible" not in se.read_bytes(), se.read_bytes()
        assert cat(m.path(REGION, INSTANCE, "Finished", invoke_id, "output")) == final


# ---- .swasfs ----

def test_swasfs_dir_is_answered_but_never_listed(sample):
    emu, m = sample
    assert ".swasfs" not in os.listdir(m.mnt)
    assert sorted(os.listdir(m.path(".swasfs"))) == ["stats.json", "version"]
    version = m.path(".swasfs", "version").read_text()
    assert version.startswith("swasfs ") and version.endswith("\n") and version.count("\n") == 1
    out = tool([SWASFS, "--version"])
    assert out.stdout.splitlines()[0] == version.strip()
    with pytest.raises(FileNotFoundError):
        os.stat(m.path(".swasfs", "nothing"))


def test_stats_json_counters_move_with_the_emulators(sample):
    emu, m = sample
    st = stats(m)
    assert os.stat(m.path(".swasfs", "stats.json")).st_size == len(m.path(".swasfs", "stats.json").read_bytes())
    c = emu.counters()["by_action"]
    for action in ("ListRegions", "ListInstances", "DescribeInvocations", "DescribeInvocationResult"):
        assert requests(st, action) == c.get(action, 0), (action, st["api"], c)
    # Read every output: one result call each, counted on both sides.
    n = 0
    for reg in emu.data()["regions"]:
        for inst in reg["instances"]:
            for inv in inst.get("invocations", []):
                (m.path(reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"], inv["InvokeId"], "output")
                 .read_bytes())
                n += 1
    st2 = stats(m)
    c2 = emu.counters()["by_action"]
    assert requests(st2, "DescribeInvocationResult") == c2["DescribeInvocationResult"]
    assert requests(st2, "DescribeInvocationResult") - requests(st, "DescribeInvocationResult") == n
    assert st2["cache"]["results_held"] >= n
    assert st2["api"]["bytes_received"] > st["api"]["bytes_received"]
    assert st2["cache"]["bytes_held"] <= st2["cache"]["max_bytes"]
    assert all(b["state"] == "closed" for b in st2["breakers"])
    assert st2["uptime_s"] >= 0 and st2["version"]


def test_stats_json_counts_throttling_and_retries(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True)
    with Mount(emu, tmp_path) as m:
        reg, inst = "cn-shanghai", "7c9e2f1d0b3a4c5e8f6a7b8c9d0e1f21"
        emu.faults("throttle", count=1, action="DescribeInvocations")
        emu.faults("503", count=1, action="DescribeInvocations")
        os.listdir(m.path(reg, inst))
        st = stats(m)
        assert requests(st, "DescribeInvocations", "throttled") == 1, st["api"]
        assert requests(st, "DescribeInvocations", "retried") == 1, st["api"]
        assert requests(st, "DescribeInvocations", "ok") == emu.counters()["by_action"]["DescribeInvocations"] - 2


# ---- walks over the whole mount ----

def test_grep_R_and_find_L_terminate_and_a_second_rsync_copies_nothing(sample, tmp_path):
    emu, m = sample
    g = tool(["grep", "-R", "-c", "no-such-string-anywhere", str(m.mnt)])
    assert g.returncode == 1, g.stderr
    # -R follows .by-name: each instance is walked under its id and its name.
    assert any("/.by-name/web-01/" in line for line in g.stdout.splitlines())
    f = tool(["find", "-L", str(m.mnt)])
    assert f.returncode == 0, f.stderr
    assert ".by-id" not in f.stdout and ".swasfs" not in f.stdout
    dest = tmp_path / "copy"
    dest.mkdir()
    tool(["rsync", "-a", f"{m.mnt}/", str(dest)], check=True)
    assert os.readlink(dest / "cn-hangzhou" / ".by-name" / "web-01") == "../2ad1ae67295445f598017499dc1a0b01"
    again = tool(["rsync", "-a", "--itemize-changes", f"{m.mnt}/", str(dest)], check=True)
    assert again.stdout.strip() == "", again.stdout
