# SPDX-License-Identifier: MIT
"""The mounted tree, files, attributes and errors, as README.md promises them.

Every test mounts swasfs for real against the emulator and drives the mount
with ordinary tools (os.listdir/stat/read, find, grep, rsync, jq).
"""
import base64
import errno
import json
import os
import subprocess
import threading
import time
from calendar import timegm
from pathlib import Path

import pytest

import datasets
from mount import AK_SECRET, Mount, VALGRIND, credentials_env, have_tool, listdir, safe_sleep

FIXED = ["Failed", "Finished", "Running", "Stopped"]


def iso(t):
    return timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ"))


def wait_for(predicate, timeout, step=0.2):
    """Polls @predicate until it holds or @timeout seconds pass; its last value."""
    end = time.monotonic() + timeout
    while not (ok := predicate()) and time.monotonic() < end:
        time.sleep(step)
    return ok


def listdir_or_none(d):
    """os.listdir, or [] while the mount answers EIO (an API outage)."""
    try:
        return listdir(d)
    except OSError as e:
        if e.errno != errno.EIO:
            raise
        return []


def walk_data(data):
    """(region, instance, invocation) for every invocation of an emulator data set."""
    for reg in data["regions"]:
        for inst in reg["instances"]:
            for inv in inst.get("invocations", []):
                yield reg, inst, inv


def invocation_lines(text):
    """Lines of a tool's output about invocation files: without the .instance.json
    each instance directory also lists."""
    return [line for line in text.splitlines() if "/.instance.json" not in line]


def calls(emulator, action):
    return emulator.counters()["by_action"].get(action, 0)


# Every wait is bounded: a tool run over the mount, a thread, a TTL.
TOOL_TIMEOUT = 300 if VALGRIND else 120
# Tests that need two steps inside one TTL use this one: room on a loaded machine.
TTL = 5


def tool(cmd, **kw):
    """Runs a command-line tool over the mount, bounded in time; output captured."""
    kw.setdefault("capture_output", True)
    kw.setdefault("timeout", TOOL_TIMEOUT)
    return subprocess.run(cmd, **kw)


def join_all(threads, timeout=TOOL_TIMEOUT):
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), f"threads still running after {timeout} s"


@pytest.fixture
def sample(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True)
    with Mount(emu, tmp_path) as m:
        yield emu, m


@pytest.fixture
def edge(emulator_factory, tmp_path):
    emu = emulator_factory(data=datasets.write(tmp_path, datasets.edge_cases()))
    with Mount(emu, tmp_path, allow=[r"skipping"]) as m:
        yield emu, m


# ---- the tree ----

def test_tree_has_every_region_instance_and_invocation_of_the_sample(sample):
    emu, m = sample
    data = emu.data()
    assert sorted(listdir(m.mnt)) == sorted(r["RegionId"] for r in data["regions"])
    for reg in data["regions"]:
        rdir = m.path(reg["RegionId"])
        assert sorted(listdir(rdir)) == sorted(i["InstanceId"] for i in reg["instances"])
        for inst in reg["instances"]:
            idir = rdir / inst["InstanceId"]
            statuses = {inv["InvokeStatus"] for inv in inst.get("invocations", [])}
            assert sorted(listdir(idir)) == sorted(set(FIXED) | statuses)
            for st in set(FIXED) | statuses:
                want = sorted(inv["InvokeId"] for inv in inst.get("invocations", []) if inv["InvokeStatus"] == st)
                assert sorted(listdir(idir / st)) == want
    # The sample has every status.
    assert {inv["InvokeStatus"] for _, _, inv in walk_data(data)} >= set(FIXED)


def test_invocation_directory_holds_the_five_files(sample):
    emu, m = sample
    reg, inst, inv = next(walk_data(emu.data()))
    d = m.path(reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"], inv["InvokeId"])
    assert sorted(listdir(d)) == sorted(["command", "parameters.json", "metadata.json", "output",
                                            "result.json"])


def test_files_match_the_api_records_byte_for_byte(sample):
    emu, m = sample
    for reg, inst, inv in walk_data(emu.data()):
        d = m.path(reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"], inv["InvokeId"])
        assert (d / "command").read_bytes() == base64.b64decode(inv["CommandContent"])
        params = (d / "parameters.json").read_bytes()
        assert params.endswith(b"\n")
        assert json.loads(params) == (inv.get("Parameters") or {})
        meta_raw = (d / "metadata.json").read_bytes()
        assert meta_raw.endswith(b"\n")
        meta = json.loads(meta_raw)
        for k in ("InvokeId", "CommandName", "CommandType", "CreationTime", "InvocationStatus", "InvokeStatus"):
            assert meta[k] == inv[k], k
        assert meta["InstanceId"] == inst["InstanceId"]
        assert meta["RegionId"] == reg["RegionId"]


def test_output_and_result_json_match_describe_invocation_result(sample):
    emu, m = sample
    for reg, inst, inv in walk_data(emu.data()):
        d = m.path(reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"], inv["InvokeId"])
        res = inv["Result"]
        assert (d / "output").read_bytes() == base64.b64decode(res.get("Output", ""))
        raw = (d / "result.json").read_bytes()
        assert raw.endswith(b"\n")
        got = json.loads(raw)
        assert "Output" not in got
        assert isinstance(got["ExitCode"], int) and got["ExitCode"] == res["ExitCode"]
        for k in ("ErrorCode", "ErrorInfo", "InvocationStatus", "InvokeRecordStatus", "InvokeUser", "StartTime",
                  "FinishedTime"):
            assert got[k] == res[k], k
            assert isinstance(got[k], str)


def test_byte_exact_binary_utf8_crlf_empty_and_16k_commands(edge):
    emu, m = edge
    base = m.path("cn-hangzhou", "i-edge000000000000000000000001", "Finished")
    for invoke_id, content in datasets.COMMANDS.items():
        # st_size first: a read stops there, so it must be right before any read.
        assert os.stat(base / invoke_id / "command").st_size == len(content), invoke_id
        assert os.stat(base / invoke_id / "output").st_size == len(content), invoke_id
        assert (base / invoke_id / "command").read_bytes() == content, invoke_id
        assert (base / invoke_id / "output").read_bytes() == content, invoke_id
    assert json.loads((base / "t-params00006" / "parameters.json").read_text()) == {
        "name": "web", "port": 8080, "tags": ["a", "b"]}


def test_unknown_invoke_status_gets_its_own_directory(edge):
    emu, m = edge
    idir = m.path("cn-hangzhou", "i-edge000000000000000000000001")
    assert sorted(listdir(idir)) == sorted(FIXED + ["Pending"])
    assert listdir(idir / "Pending") == ["t-pending0007"]


def test_hostile_names_are_never_shown_and_logged_once(edge):
    emu, m = edge
    assert sorted(listdir(m.mnt)) == ["cn-hangzhou", "cn-shanghai"]
    assert sorted(listdir(m.path("cn-hangzhou"))) == ["i-edge000000000000000000000001"]
    idir = m.path("cn-hangzhou", "i-edge000000000000000000000001")
    for st in listdir(idir):
        for name in listdir(idir / st):
            assert name.startswith("t-") and "/" not in name and len(name) <= 255
    # Nothing escapes: the only paths are inside the mount, and no "evil".
    out = tool(["find", str(m.mnt)], capture_output=True, text=True, check=True).stdout
    assert "evil" not in out and "escape" not in out and "etc" not in out
    for missing in ["..evil", "x" * 256]:
        with pytest.raises(OSError) as e:
            os.stat(idir / "Finished" / missing)
        assert e.value.errno in (errno.ENOENT, errno.ENAMETOOLONG)
    # Walk twice; each unusable name is reported once.
    tool(["find", str(m.mnt)], capture_output=True, check=True)
    skipped = [line for line in m.log().splitlines() if "skipping" in line]
    assert len(skipped) == len(set(skipped))
    assert any("../evil" in line for line in skipped)


# ---- attributes ----

def test_attributes_modes_owner_sizes_and_times(edge):
    emu, m = edge
    inv_dir = m.path("cn-hangzhou", "i-edge000000000000000000000001", "Failed", "t-failed00009")
    st = os.stat(m.mnt)
    assert st.st_mode & 0o7777 == 0o555 and st.st_uid == os.getuid() and st.st_gid == os.getgid()
    d = os.stat(inv_dir)
    assert oct(d.st_mode & 0o7777) == oct(0o555)
    assert d.st_mtime == iso("2026-11-20T12:00:00Z")
    inv = next(i for _, _, i in walk_data(emu.data()) if i["InvokeId"] == "t-failed00009")
    # Sizes from the first stat, before any read (the kernel stops a read at
    # st_size, so comparing with what was read back would prove nothing).
    want = datasets.expected_files("cn-hangzhou", "i-edge000000000000000000000001", inv)
    for name in ["command", "parameters.json", "metadata.json"]:
        f = os.stat(inv_dir / name)
        assert oct(f.st_mode & 0o7777) == oct(0o444)
        assert f.st_mtime == f.st_ctime == f.st_atime == iso("2026-11-20T12:00:00Z")
        assert f.st_size == len(want[name]), name
    # output and result.json: exact size on the very first stat, mtime FinishedTime.
    out = os.stat(inv_dir / "output")
    assert out.st_size == len(b"boom\n") == len(want["output"])
    assert out.st_mtime == iso("2026-11-20T12:00:09Z")
    res = os.stat(inv_dir / "result.json")
    assert res.st_size == len(want["result.json"])
    assert res.st_mtime == iso("2026-11-20T12:00:09Z")
    for name in want:
        assert (inv_dir / name).read_bytes() == want[name], name
    # A status directory carries its newest invocation's time (in its whole
    # seconds): directories of several invocations, newest != oldest.
    idir = inv_dir.parent.parent
    assert int(os.stat(idir / "Finished").st_mtime) == iso("2026-11-20T09:00:00Z")
    assert int(os.stat(idir / "Running").st_mtime) == iso("2026-11-20T11:30:00Z")
    assert int(os.stat(inv_dir.parent).st_mtime) == iso("2026-11-20T12:00:00Z")
    # An empty status directory carries the instance's CreationTime.
    empty = m.path("cn-shanghai", "i-sh0000000000000000000000001", "Failed")
    assert int(os.stat(empty).st_mtime) == iso("2026-11-01T00:00:00Z")


def test_times_do_not_move_between_two_stats(sample):
    emu, m = sample
    first = {p: os.stat(p) for p in m.mnt.rglob("*")}
    safe_sleep(1.1)
    for p, st in first.items():
        again = os.stat(p)
        assert (again.st_mtime, again.st_size, again.st_ino) == (st.st_mtime, st.st_size, st.st_ino), p


def test_mount_is_read_only(sample):
    emu, m = sample
    reg, inst, inv = next(walk_data(emu.data()))
    d = m.path(reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"], inv["InvokeId"])
    attempts = [
        lambda: open(d / "command", "w"),
        lambda: open(d / "new", "w"),
        lambda: os.mkdir(d / "x"),
        lambda: os.unlink(d / "command"),
        lambda: os.rename(d / "command", d / "c2"),
        lambda: os.rmdir(d),
        lambda: os.chmod(d / "command", 0o644),
        lambda: os.symlink("x", d / "l"),
    ]
    for attempt in attempts:
        with pytest.raises(OSError) as e:
            attempt()
        assert e.value.errno == errno.EROFS


# ---- tools users run ----

def test_grep_r_finds_commands(sample):
    emu, m = sample
    data = emu.data()
    reg, inst, inv = next(walk_data(data))
    needle = base64.b64decode(inv["CommandContent"]).decode(errors="replace").split("\n")[0][:20]
    out = tool(["grep", "-rlF", "--include=command", needle, str(m.mnt)], capture_output=True,
                         text=True, check=True).stdout.split()
    assert str(m.path(reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"], inv["InvokeId"], "command")) in out


def test_jq_reads_metadata(sample):
    if not have_tool("jq"):
        pytest.skip("jq is not installed")
    emu, m = sample
    reg, inst, inv = next(walk_data(emu.data()))
    f = m.path(reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"], inv["InvokeId"], "metadata.json")
    out = tool(["jq", "-r", ".InvokeId", str(f)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == inv["InvokeId"]


def test_rsync_a_a_second_time_copies_nothing(sample, tmp_path):
    if not have_tool("rsync"):
        pytest.skip("rsync is not installed")
    emu, m = sample
    dest = tmp_path / "backup"
    tool(["rsync", "-a", f"{m.mnt}/", str(dest)], check=True)
    for p in m.mnt.rglob("*"):
        q = dest / p.relative_to(m.mnt)
        if p.is_file():
            assert q.read_bytes() == p.read_bytes()
    out = tool(["rsync", "-a", "--itemize-changes", f"{m.mnt}/", str(dest)], check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == "", out


def test_find_lists_everything_without_fetching_results(sample):
    emu, m = sample
    emu.reset_counters()
    out = tool(["find", str(m.mnt)], capture_output=True, text=True, check=True).stdout.split("\n")
    n_inv = sum(1 for _ in walk_data(emu.data()))
    assert sum(1 for line in out if line.endswith("/output")) == n_inv
    c = emu.counters()
    assert c["by_action"].get("DescribeInvocationResult", 0) == 0
    # One DescribeInvocations pass per instance (each fits one page here).
    n_instances = sum(len(r["instances"]) for r in emu.data()["regions"])
    assert c["by_action"].get("DescribeInvocations", 0) == n_instances


# ---- caching ----

def test_second_walk_within_ttl_makes_no_api_calls(sample):
    emu, m = sample
    # grep -r of a string found nowhere reads every file: status 1 means it
    # walked everything without an error (2 would be an error on the way).
    n_files = 5 * sum(1 for _ in walk_data(emu.data()))
    first = tool(["grep", "-r", "-c", "no-such-string-anywhere", str(m.mnt)], text=True)
    assert first.returncode == 1, first.stderr
    assert len(invocation_lines(first.stdout)) == n_files
    emu.reset_counters()
    again = tool(["grep", "-r", "-c", "no-such-string-anywhere", str(m.mnt)], text=True)
    assert again.returncode == 1, again.stderr
    assert again.stdout == first.stdout
    ls = tool(["find", str(m.mnt), "-ls"], text=True, check=True)
    assert sum(1 for line in ls.stdout.splitlines() if line.endswith("/result.json")) == n_files // 5
    assert emu.counters()["total"] == 0


def test_large_listing_is_complete_with_one_pass_per_instance(emulator_factory, tmp_path):
    emu = emulator_factory(generate="1:12:120", seed=7)
    data = emu.data()
    with Mount(emu, tmp_path, options=["jobs=4"]) as m:
        reg = data["regions"][0]
        assert len(reg["instances"]) > 10
        emu.reset_counters()
        assert sorted(listdir(m.path(reg["RegionId"]))) == sorted(i["InstanceId"] for i in reg["instances"])
        for inst in reg["instances"]:
            invs = inst["invocations"]
            assert len(invs) > 50
            seen = []
            for st in listdir(m.path(reg["RegionId"], inst["InstanceId"])):
                seen += listdir(m.path(reg["RegionId"], inst["InstanceId"], st))
            assert sorted(seen) == sorted(i["InvokeId"] for i in invs)
        c = emu.counters()
        per_instance = c["by_action_instance"]["DescribeInvocations"]
        for inst in reg["instances"]:
            # ceil(n / 50) pages, no status-filtered passes.
            assert per_instance[inst["InstanceId"]] == -(-len(inst["invocations"]) // 50)


def test_many_concurrent_readers_cause_one_pass(emulator_factory, tmp_path):
    # Readers of one directory on a fresh mount: the kernel itself lets one
    # LOOKUP through and makes the others wait, so this shows consistent
    # answers, not the cache's single-flight; test_mount_pins.py drives
    # concurrent requests for one stale listing into the daemon.
    emu = emulator_factory(generate="1:2:120", seed=3)
    reg = emu.data()["regions"][0]
    inst = reg["instances"][0]
    with Mount(emu, tmp_path) as m:
        emu.config(latency_ms=300)
        emu.reset_counters()
        results, errors = [], []

        def reader():
            try:
                results.append(sorted(listdir(m.path(reg["RegionId"], inst["InstanceId"], "Finished"))))
            except OSError as e:
                errors.append(e)

        threads = [threading.Thread(target=reader) for _ in range(8)]
        for t in threads:
            t.start()
        join_all(threads)
        assert not errors
        assert len(results) == 8 and all(r == results[0] for r in results)
        n = emu.counters()["by_action_instance"]["DescribeInvocations"][inst["InstanceId"]]
        assert n == -(-len(inst["invocations"]) // 50)


def test_listing_is_refreshed_after_the_ttl(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True)
    reg, inst, inv = next(walk_data(emu.data()))
    with Mount(emu, tmp_path, cache_ttl=TTL) as m:
        fin = m.path(reg["RegionId"], inst["InstanceId"], "Finished")
        before = set(listdir(fin))
        emu.add_invocation(reg["RegionId"], inst["InstanceId"],
                           datasets.invocation("t-new000000001", created="2026-11-27T00:00:00Z"))
        assert set(listdir(fin)) == before
        safe_sleep(TTL + 1)
        assert set(listdir(fin)) == before | {"t-new000000001"}
        assert (fin / "t-new000000001" / "command").read_bytes() == b"echo hi\n"


def test_invocation_landing_between_two_pages_is_neither_lost_nor_duplicated(emulator_factory, tmp_path):
    emu = emulator_factory(generate="1:1:140", seed=11)
    reg = emu.data()["regions"][0]
    inst = reg["instances"][0]
    emu.event(after_page=1, instance=inst["InstanceId"],
              add=datasets.invocation("t-between00001", created="2030-01-01T00:00:00Z"))
    with Mount(emu, tmp_path, options=["jobs=1"]) as m:
        seen = []
        for st in listdir(m.path(reg["RegionId"], inst["InstanceId"])):
            seen += listdir(m.path(reg["RegionId"], inst["InstanceId"], st))
        assert len(seen) == len(set(seen))
        assert set(i["InvokeId"] for i in inst["invocations"]) <= set(seen)


def test_stale_listing_is_served_while_the_api_is_down(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True)
    reg, inst, inv = next(walk_data(emu.data()))
    with Mount(emu, tmp_path, cache_ttl=TTL, options=["retry_budget=2", "timeout=2"],
               allow=[r"failed", r"last good"]) as m:
        d = m.path(reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"])
        before = sorted(listdir(d))
        emu.config(fault_rate=1.0, fault_kind="5xx")
        safe_sleep(TTL + 1)
        assert sorted(listdir(d)) == before
        assert (d / inv["InvokeId"] / "command").read_bytes() == base64.b64decode(inv["CommandContent"])
        # The outage is logged once, when the endpoint's breaker opens (the
        # refresh gives up after its retry budget).
        assert wait_for(lambda: "serving cached data" in m.log(), 10)
        emu.config(fault_rate=0.0)


def test_data_never_fetched_fails_with_eio_in_bounded_time(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True)
    reg, inst, inv = next(walk_data(emu.data()))
    with Mount(emu, tmp_path, options=["retry_budget=3", "timeout=2"], allow=[r"failed"]) as m:
        emu.config(fault_rate=1.0, fault_kind="5xx")
        t0 = time.monotonic()
        with pytest.raises(OSError) as e:
            listdir(m.path(reg["RegionId"], inst["InstanceId"], "Finished"))
        assert e.value.errno == errno.EIO
        assert time.monotonic() - t0 < 15
        emu.config(fault_rate=0.0)
        # The error was not cached: once the breaker's first period (2 s) is
        # over, the next look succeeds.
        d = m.path(reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"])
        assert wait_for(lambda: inv["InvokeId"] in listdir_or_none(d), 5)


def test_credential_errors_give_eacces_and_are_logged_with_code(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True)
    reg, inst, inv = next(walk_data(emu.data()))
    with Mount(emu, tmp_path, allow=[r"Forbidden"]) as m:
        emu.faults("forbidden", 100)
        with pytest.raises(OSError) as e:
            listdir(m.path(reg["RegionId"], inst["InstanceId"]))
        assert e.value.errno == errno.EACCES
        emu.clear_faults()
        log = m.log()
        assert "Forbidden.RAM" in log and "RequestId" in log


def test_hung_requests_are_retried_within_the_timeout(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True)
    reg, inst, inv = next(walk_data(emu.data()))
    with Mount(emu, tmp_path, options=["timeout=1", "retry_budget=20"]) as m:
        emu.faults("hang", 1, action="DescribeInvocations", hang_s=60)
        t0 = time.monotonic()
        assert inv["InvokeId"] in listdir(m.path(reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"]))
        # The hung attempt was given up after timeout=1 and retried, well
        # before the 60 s hang would have answered.
        assert time.monotonic() - t0 < 20
        assert emu.counters()["by_action"]["DescribeInvocations"] == 2


# ---- results ----

def test_finished_results_are_fetched_once_and_running_ones_again_after_the_ttl(edge, tmp_path):
    emu, m = edge
    base = m.path("cn-hangzhou", "i-edge000000000000000000000001")
    emu.reset_counters()
    for _ in range(2):
        (base / "Finished" / "t-utf8000002" / "output").read_bytes()
        (base / "Running" / "t-running0008" / "result.json").read_bytes()
    per = emu.counters()["by_action_invocation"]["DescribeInvocationResult"]
    assert per == {"t-utf8000002": 1, "t-running0008": 1}


def test_results_follow_cache_ttl_for_running_invocations(emulator_factory, tmp_path):
    emu = emulator_factory(data=datasets.write(tmp_path, datasets.edge_cases()))
    with Mount(emu, tmp_path, cache_ttl=TTL, allow=["skipping"]) as m:
        base = m.path("cn-hangzhou", "i-edge000000000000000000000001")
        (base / "Finished" / "t-utf8000002" / "output").read_bytes()
        (base / "Running" / "t-running0008" / "output").read_bytes()
        emu.reset_counters()
        safe_sleep(TTL + 1)
        os.stat(base / "Finished" / "t-utf8000002" / "output")
        (base / "Finished" / "t-utf8000002" / "output").read_bytes()
        (base / "Running" / "t-running0008" / "output").read_bytes()
        per = emu.counters()["by_action_invocation"].get("DescribeInvocationResult", {})
        assert per.get("t-utf8000002", 0) == 0
        assert per.get("t-running0008", 0) == 1


def test_grep_r_over_outputs(sample):
    emu, m = sample
    reg, inst, inv = next(walk_data(emu.data()))
    text = base64.b64decode(inv["Result"]["Output"]).decode(errors="replace").strip().split("\n")[0]
    assert text
    out = tool(["grep", "-rlF", "--include=output", text, str(m.mnt)], capture_output=True, text=True,
                         check=True).stdout.split()
    assert str(m.path(reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"], inv["InvokeId"], "output")) in out


def test_no_results_option_leaves_output_and_result_out(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True)
    reg, inst, inv = next(walk_data(emu.data()))
    with Mount(emu, tmp_path, options=["no_results"]) as m:
        d = m.path(reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"], inv["InvokeId"])
        assert sorted(listdir(d)) == ["command", "metadata.json", "parameters.json"]
        for name in ("output", "result.json"):
            with pytest.raises(FileNotFoundError):
                os.stat(d / name)
        # A whole walk (no -q: it would stop at the first match), every file read.
        out = tool(["grep", "-r", "-c", "", str(m.mnt)], text=True)
        assert out.returncode == 0, out.stderr
        files = [line.rsplit(":", 1)[0] for line in invocation_lines(out.stdout)]
        n_inv = sum(1 for _ in walk_data(emu.data()))
        assert len(files) == 3 * n_inv
        assert not any(f.endswith(("/output", "/result.json")) for f in files)
        assert calls(emu, "DescribeInvocationResult") == 0


def test_a_vanished_instance_makes_only_result_files_enoent(edge):
    emu, m = edge
    d = m.path("cn-hangzhou", "i-edge000000000000000000000001", "Stopped", "t-stopped0010")
    assert (d / "command").read_bytes() == b"echo hi\n"
    emu.delete_instance("i-edge000000000000000000000001")
    with pytest.raises(OSError) as e:
        os.stat(d / "output")
    assert e.value.errno == errno.ENOENT
    assert (d / "command").read_bytes() == b"echo hi\n"


def test_faults_during_result_fetches_are_retried(edge):
    emu, m = edge
    d = m.path("cn-hangzhou", "i-edge000000000000000000000001", "Failed", "t-failed00009")
    emu.faults("5xx", 1, action="DescribeInvocationResult")
    emu.faults("truncate", 1, action="DescribeInvocationResult")
    emu.faults("malformed", 1, action="DescribeInvocationResult")
    assert (d / "output").read_bytes() == b"boom\n"
    assert json.loads((d / "result.json").read_text())["ExitCode"] == 3


def test_nothing_but_list_regions_is_fetched_at_mount(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True)
    with Mount(emu, tmp_path) as m:
        c = emu.counters()
        assert c["by_action"] == {"ListRegions": 1}
        listdir(m.mnt)
        assert emu.counters()["by_action"] == {"ListRegions": 1}


def test_plain_ls_of_an_invocation_directory_fetches_no_result(sample):
    emu, m = sample
    reg, inst, inv = next(walk_data(emu.data()))
    d = m.path(reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"], inv["InvokeId"])
    out = tool(["ls", "-a", str(d)], capture_output=True, text=True, check=True).stdout.split()
    assert "output" in out and "result.json" in out
    tool(["ls", "-R", str(m.mnt)], capture_output=True, check=True)
    assert calls(emu, "DescribeInvocationResult") == 0
    # ls -l does look: one call for this invocation only.
    tool(["ls", "-l", str(d)], capture_output=True, check=True)
    assert emu.counters()["by_action_invocation"]["DescribeInvocationResult"] == {inv["InvokeId"]: 1}


def test_concurrent_readers_of_one_result_cause_one_call(sample):
    emu, m = sample
    reg, inst, inv = next(walk_data(emu.data()))
    d = m.path(reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"], inv["InvokeId"])
    listdir(d)
    emu.config(latency_ms=300)
    got, errors = [], []

    def reader(name):
        try:
            got.append((name, (d / name).read_bytes()))
        except OSError as e:
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(n,)) for n in ["output", "result.json"] * 4]
    for t in threads:
        t.start()
    join_all(threads)
    emu.config(latency_ms=0)
    assert not errors and len(got) == 8
    assert emu.counters()["by_action_invocation"]["DescribeInvocationResult"] == {inv["InvokeId"]: 1}


def test_files_can_be_mmapped_whole(sample):
    import mmap
    emu, m = sample
    reg, inst, inv = next(walk_data(emu.data()))
    f = m.path(reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"], inv["InvokeId"], "metadata.json")
    with open(f, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        assert mm[:] == f.read_bytes()
        assert json.loads(mm[:])["InvokeId"] == inv["InvokeId"]


def test_a_running_invocation_moves_to_its_final_status_after_the_ttl(edge_ttl):
    emu, m = edge_ttl
    base = m.path("cn-hangzhou", "i-edge000000000000000000000001")
    assert "t-running0008" in listdir(base / "Running")
    mtime = os.stat(base / "Running").st_mtime_ns
    emu.set_status("t-running0008", "Finished", "Success",
                   result={"InvokeRecordStatus": "Finished", "FinishedTime": "2026-11-20T11:00:30Z",
                           "Output": base64.b64encode(b"partial\ndone\n").decode()})
    safe_sleep(TTL + 1)
    # Running/'s newest invocation and so its mtime's seconds did not change;
    # its nanoseconds follow the entries, so the kernel drops its copy.
    now = os.stat(base / "Running").st_mtime_ns
    assert now // 10**9 == mtime // 10**9 and now != mtime
    assert sorted(listdir(base / "Running")) == ["t-running0008b"]
    assert "t-running0008" in listdir(base / "Finished")
    meta = json.loads((base / "Finished" / "t-running0008" / "metadata.json").read_text())
    assert meta["InvokeStatus"] == "Finished" and meta["InvocationStatus"] == "Success"
    assert (base / "Finished" / "t-running0008" / "output").read_bytes() == b"partial\ndone\n"


@pytest.fixture
def edge_ttl(emulator_factory, tmp_path):
    emu = emulator_factory(data=datasets.write(tmp_path, datasets.edge_cases()))
    with Mount(emu, tmp_path, cache_ttl=TTL, allow=[r"skipping"]) as m:
        yield emu, m
