# SPDX-License-Identifier: MIT
"""Mount tests that pin what the API and the kernel actually see.

Each test counts requests at the emulator (or requests in flight at once) and
drives the mount so that the daemon, not the kernel, decides the outcome:
concurrent requests reach the daemon through different paths at once, TTLs
have room on a loaded machine, and file sizes are checked against bytes
predicted from the emulator's own data before anything is read.
"""
import errno
import os
import threading
import time

import pytest

import datasets
from mount import Mount, listdir, safe_sleep

# A TTL with room: two steps "within the TTL" take far less than this even on
# a loaded two-core machine; expiry is waited for explicitly (TTL + 1 s).
TTL = 5


def by_action(emu):
    return emu.counters()["by_action"]


def describe_invocations(emu, instance_id):
    return emu.counters()["by_action_instance"].get("DescribeInvocations", {}).get(instance_id, 0)


def results_by_invocation(emu):
    return emu.counters()["by_action_invocation"].get("DescribeInvocationResult", {})


def pages(n, size=50):
    return max(1, -(-n // size))


def valid_name(s):
    b = s.encode("utf-8", "surrogatepass") if isinstance(s, str) else b""
    return isinstance(s, str) and 0 < len(b) <= 255 and s not in (".", "..") and "/" not in s and "\0" not in s


def shown_invocations(data):
    """(region, instance, invocation) the mount shows: those with usable names only."""
    for reg in data["regions"]:
        if not valid_name(reg["RegionId"]):
            continue
        for inst in reg["instances"]:
            if not valid_name(inst["InstanceId"]):
                continue
            for inv in inst.get("invocations", []):
                if valid_name(inv["InvokeId"]) and valid_name(inv["InvokeStatus"]):
                    yield reg, inst, inv


def eventually(predicate, timeout=10.0, what="the condition"):
    """Polls @predicate until it holds; fails after @timeout seconds. Data past
    its TTL may be served once more while a refresh runs in the background,
    so a change shows "soon after" the TTL, not necessarily at the first look."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not hold within {timeout} s"
        time.sleep(0.2)


@pytest.fixture
def sample(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True)
    with Mount(emu, tmp_path) as m:
        yield emu, m


def run_threads(target, args_list, timeout=60):
    """Runs target(*args) on one thread each, started together; returns the errors.
    Fails if any thread is still running after @timeout seconds."""
    barrier = threading.Barrier(len(args_list))
    errors = []

    def body(*args):
        try:
            barrier.wait(timeout)
            target(*args)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=body, args=a, daemon=True) for a in args_list]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), f"threads still running after {timeout} s"
    return errors


# ---- requests in flight ----

@pytest.mark.parametrize("jobs", [1, 3])
def test_requests_in_flight_reach_jobs_on_a_multi_page_pass_and_never_exceed_it(emulator_factory, tmp_path, jobs):
    region, instance, n = "cn-hangzhou", "i-jobs00000000000000000000001", 300
    invs = [datasets.invocation(f"t-job{i:05d}", created=f"2026-11-20T{8 + i // 60:02d}:{i % 60:02d}:00Z")
            for i in range(n)]
    emu = emulator_factory(data=datasets.dataset({region: [datasets.instance(instance, invs)]}))
    with Mount(emu, tmp_path, options=[f"jobs={jobs}"]) as m:
        # Pages 2..6 overlap only if each takes a while.
        emu.config(latency_ms=300)
        emu.reset_counters()
        assert len(listdir(m.path(region, instance, "Finished"))) == n
        assert describe_invocations(emu, instance) == pages(n)
        assert emu.peak_in_flight()["total"] == jobs


def test_readers_of_many_results_never_have_more_than_jobs_requests_in_flight(emulator_factory, tmp_path):
    """One reader per invocation, each costing one DescribeInvocationResult:
    more readers than jobs, so only the limit keeps the peak at jobs."""
    region, instance, n, jobs = "cn-hangzhou", "i-jobs00000000000000000000002", 8, 3
    invs = [datasets.invocation(f"t-out{i:05d}", output=f"out {i}\n".encode(), created=f"2026-11-20T08:00:{i:02d}Z")
            for i in range(n)]
    emu = emulator_factory(data=datasets.dataset({region: [datasets.instance(instance, invs)]}))
    with Mount(emu, tmp_path, options=[f"jobs={jobs}"]) as m:
        assert len(listdir(m.path(region, instance, "Finished"))) == n
        emu.config(latency_ms=500)
        emu.reset_counters()

        def reader(i):
            assert m.path(region, instance, "Finished", f"t-out{i:05d}", "output").read_bytes() == f"out {i}\n".encode()

        errors = run_threads(reader, [(i,) for i in range(n)])
        emu.config(latency_ms=0)
        assert not errors, errors
        assert len(results_by_invocation(emu)) == n
        assert emu.peak_in_flight()["total"] == jobs


# ---- sizes ----

def edge_data(tmp_path):
    return datasets.write(tmp_path, datasets.edge_cases())


@pytest.mark.parametrize("how", ["lookup", "readdirplus"])
@pytest.mark.parametrize("which", ["sample", "edge"])
def test_st_size_before_any_read_is_the_size_the_data_predicts(emulator_factory, tmp_path, which, how):
    """The kernel stops reading at st_size: a wrong size hides behind a read-back
    comparison, so sizes are compared with bytes predicted from the data."""
    emu = emulator_factory(sample=True) if which == "sample" else emulator_factory(data=edge_data(tmp_path))
    data = emu.data()
    names = ["command", "parameters.json", "metadata.json", "output", "result.json"]
    with Mount(emu, tmp_path, allow=[r"skipping"]) as m:
        invs = list(shown_invocations(data))
        assert len(invs) >= 10
        want = {}
        for reg, inst, inv in invs:
            d = m.path(reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"], inv["InvokeId"])
            exp = datasets.expected_files(reg["RegionId"], inst["InstanceId"], inv)
            if how == "readdirplus":
                # Attributes of command, parameters.json and metadata.json
                # come with the directory listing.
                assert sorted(listdir(d)) == sorted(names)
            for name in names:
                want[d / name] = exp[name]
                assert os.stat(d / name).st_size == len(exp[name]), (d / name, exp[name])
        for path, content in want.items():
            assert path.read_bytes() == content, path
            assert os.stat(path).st_size == len(content), path


# ---- single-flight below the kernel ----

def test_many_threads_on_different_invocations_of_one_stale_listing_cause_one_pass(emulator_factory, tmp_path):
    """K threads each stat a different running invocation's file after the
    listing went stale. Their LOOKUPs of the shared status directory and of
    their own invocation reach the daemon at once (revalidation takes no
    directory lock), so only the cache's single-flight keeps it to one pass."""
    region, instance, n, k = "cn-hangzhou", "i-single0000000000000000000001", 120, 8
    invs = [datasets.invocation(f"t-run{i:05d}", status="Running", created=f"2026-11-20T08:{i // 60:02d}:{i % 60:02d}Z")
            for i in range(n)]
    emu = emulator_factory(data=datasets.dataset({region: [datasets.instance(instance, invs)]}))
    with Mount(emu, tmp_path, cache_ttl=TTL) as m:
        targets = [m.path(region, instance, "Running", f"t-run{i * 13:05d}", "command") for i in range(k)]
        for t in targets:
            assert t.read_bytes() == b"echo hi\n"
        emu.config(latency_ms=400)
        safe_sleep(TTL + 1)
        emu.reset_counters()

        def reader(path):
            assert os.stat(path).st_size == len(b"echo hi\n")
            assert path.read_bytes() == b"echo hi\n"

        errors = run_threads(reader, [(t,) for t in targets])
        assert not errors, errors
        # (A refresh may also run in the background: wait for it, then count.)
        eventually(lambda: describe_invocations(emu, instance) >= pages(n), what="one pass")
        time.sleep(1)
        emu.config(latency_ms=0)
        assert describe_invocations(emu, instance) == pages(n)
        assert by_action(emu) == {"DescribeInvocations": pages(n)}


# ---- results after the TTL ----

def test_after_cache_ttl_final_results_cost_nothing_and_running_or_pending_ones_one_call(emulator_factory,
                                                                                         tmp_path):
    emu = emulator_factory(data=edge_data(tmp_path))
    base = ("cn-hangzhou", "i-edge000000000000000000000001")
    invs = {"t-utf8000002": "Finished", "t-failed00009": "Failed", "t-stopped0010": "Stopped",
            "t-running0008": "Running", "t-pending0007": "Pending"}
    with Mount(emu, tmp_path, cache_ttl=TTL, allow=[r"skipping"]) as m:
        def read_all():
            for invoke_id, status in invs.items():
                d = m.path(*base, status, invoke_id)
                for name in ("output", "result.json"):
                    os.stat(d / name)
                    (d / name).read_bytes()

        read_all()
        assert results_by_invocation(emu) == {i: 1 for i in invs}
        emu.reset_counters()
        read_all()  # within the TTL: nothing at all
        assert emu.counters()["total"] == 0
        safe_sleep(TTL + 1)
        read_all()
        eventually(lambda: len(results_by_invocation(emu)) >= 2, what="two result fetches")
        read_all()
        assert results_by_invocation(emu) == {"t-running0008": 1, "t-pending0007": 1}


# ---- instances ----

def test_ls_of_a_region_costs_exactly_one_list_instances(sample):
    emu, m = sample
    region = next(r for r in emu.data()["regions"] if r["instances"])
    emu.reset_counters()
    assert sorted(listdir(m.path(region["RegionId"]))) == sorted(i["InstanceId"] for i in region["instances"])
    assert by_action(emu) == {"ListInstances": 1}


@pytest.mark.parametrize("count", [100, 101])
def test_list_instances_pages_are_exactly_what_the_count_needs(emulator_factory, tmp_path, count):
    emu = emulator_factory(generate=f"1:{count}:1", seed=4)
    reg = emu.data()["regions"][0]
    assert len(reg["instances"]) == count
    with Mount(emu, tmp_path) as m:
        emu.reset_counters()
        assert sorted(listdir(m.path(reg["RegionId"]))) == sorted(i["InstanceId"] for i in reg["instances"])
        assert by_action(emu) == {"ListInstances": pages(count, 100)}


def test_instances_added_or_deleted_show_after_instance_ttl(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True)
    region = next(r for r in emu.data()["regions"] if len(r["instances"]) >= 2)
    rid = region["RegionId"]
    before = sorted(i["InstanceId"] for i in region["instances"])
    gone, new = before[0], "i-added00000000000000000000001"
    # cache_ttl no longer than instance_ttl: the kernel keeps an instance's
    # own entry for cache_ttl.
    with Mount(emu, tmp_path, cache_ttl=TTL, options=[f"instance_ttl={TTL}"]) as m:
        assert sorted(listdir(m.path(rid))) == before
        emu.add_instance(rid, {"InstanceId": new, "invocations": [datasets.invocation("t-added0000001")]})
        emu.delete_instance(gone, region_id=rid)
        emu.reset_counters()
        # Within instance_ttl the list is not asked for again.
        assert sorted(listdir(m.path(rid))) == before
        assert by_action(emu).get("ListInstances", 0) == 0
        safe_sleep(TTL + 1)
        after = sorted(set(before) - {gone} | {new})
        eventually(lambda: sorted(listdir(m.path(rid))) == after, what="the new instance list")
        assert by_action(emu)["ListInstances"] == 1
        with pytest.raises(OSError) as e:
            os.stat(m.path(rid, gone))
        assert e.value.errno == errno.ENOENT
        assert m.path(rid, new, "Finished", "t-added0000001", "command").read_bytes() == b"echo hi\n"

