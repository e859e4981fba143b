# SPDX-License-Identifier: MIT
"""The client layer (src/api.c and below) against the SWAS emulator, through
tests/api_walk.

Each test starts an emulator (the shared ``emulator_factory`` fixture of
tests/conftest.py), runs
api_walk with credentials in the environment, and compares what the C structs
hold with the emulator's own view (``GET /_emulator/data``) and its request
counters (``GET /_emulator/counters``). Faults are injected through
``POST /_emulator/faults`` and ``/_emulator/config``.
"""
import base64
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mount import AK_ID, AK_SECRET, credentials_env  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _find_api_walk():
    if os.environ.get("API_WALK_BIN"):
        return Path(os.environ["API_WALK_BIN"])
    for d in ("build-client", "build", "build-asan"):
        p = ROOT / d / "tests" / "api_walk"
        if p.exists():
            return p
    return ROOT / "build" / "tests" / "api_walk"


API_WALK = _find_api_walk()
ERROR_LINE = re.compile(r"^error: (\S+) code=(.*) message=(.*) request_id=(.*) http=(\d+)$", re.M)


# ---- the emulator ----

class _Control:
    """The documented control API, whatever object started the emulator."""

    def __init__(self, url):
        self.url = url.rstrip("/")

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}/_emulator/{path}", data=data, method=method,
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read()
        return json.loads(text) if text.strip() else None

    def data(self):
        return self._call("GET", "data")

    def counters(self):
        return self._call("GET", "counters")

    def reset_counters(self):
        self._call("POST", "counters/reset", {})

    def config(self, **kw):
        self._call("POST", "config", kw)

    def faults(self, kind, count, **kw):
        self._call("POST", "faults", dict(kind=kind, count=count, **kw))

    def event(self, **kw):
        self._call("POST", "events", kw)

    def clear_faults(self):
        self._call("DELETE", "faults")


@pytest.fixture
def start_emulator(emulator_factory):
    """start_emulator(sample=True | generate="R:I:N", seed=S | data=PATH) -> (url, _Control)."""
    if not API_WALK.exists():
        pytest.skip(f"{API_WALK} is not built")

    def start(**kw):
        emu = emulator_factory(**kw)
        return emu.url, _Control(emu.url)

    return start


def walk(url, tmp_path, *args, secret=AK_SECRET, ak_id=AK_ID, home_region=None, timeout=60, check=True,
         options=()):
    """Runs api_walk; returns (JSON objects of stdout, stderr, returncode, seconds)."""
    env = credentials_env(tmp_path, ak_id=ak_id, secret=secret)
    cmd = [str(API_WALK), "--endpoint", url, "--home-region", home_region or "cn-hangzhou", *options, *args]
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env, capture_output=True, timeout=timeout)
    elapsed = time.monotonic() - t0
    out = p.stdout.decode("utf-8", "surrogateescape")
    err = p.stderr.decode("utf-8", "surrogateescape")
    assert AK_SECRET not in out and AK_SECRET not in err, "the secret leaked into api_walk's output"
    for line in err.splitlines():
        assert not re.search(r"AddressSanitizer|LeakSanitizer|runtime error", line), err
    if check and p.returncode != 0:
        pytest.fail(f"api_walk {' '.join(args)} failed ({p.returncode}):\n{err}")
    objs = [json.loads(line) for line in out.splitlines() if line.strip()]
    return objs, err, p.returncode, elapsed


def stats(stderr):
    m = re.search(r"stats: calls=(\d+) retries=(\d+) failures=(\d+)", stderr)
    assert m, stderr
    return {"calls": int(m.group(1)), "retries": int(m.group(2)), "failures": int(m.group(3))}


def by_action(ctl, action):
    return ctl.counters().get("by_action", {}).get(action, 0)


def pages(n):
    return max(1, -(-n // 50))


def first_instance(data, min_invocations=1):
    for reg in data["regions"]:
        for inst in reg["instances"]:
            if len(inst.get("invocations", [])) >= min_invocations:
                return reg, inst
    raise AssertionError("no instance with enough invocations")


def check_invocation(got, inv, region_id, instance_id):
    for k in ("InvokeId", "InvokeStatus"):
        assert got[k] == inv[k], (k, got[k], inv[k])
    assert base64.b64decode(got["command_b64"]) == base64.b64decode(inv["CommandContent"])
    assert got["parameters"] == (inv.get("Parameters") or {})
    meta = got["metadata"]
    assert meta["InstanceId"] == instance_id and meta["RegionId"] == region_id
    for k, v in inv.items():
        if k in ("Result",) or k.startswith("_"):
            continue  # the emulator's own bookkeeping, not part of the API record
        assert meta.get(k) == v, (k, meta.get(k), v)


# ---- listing ----

def test_walk_lists_a_generated_data_set_completely_and_exactly(start_emulator, tmp_path):
    url, ctl = start_emulator(generate="2:12:120", seed=5)
    data = ctl.data()
    ctl.reset_counters()
    objs, err, _, _ = walk(url, tmp_path, "walk", options=["--jobs", "4"])

    regions = [o for o in objs if o["kind"] == "region"]
    instances = [o for o in objs if o["kind"] == "instance"]
    invocations = [o for o in objs if o["kind"] == "invocation"]
    assert sorted(r["RegionId"] for r in regions) == sorted(r["RegionId"] for r in data["regions"])
    assert sorted(i["InstanceId"] for i in instances) == sorted(
        i["InstanceId"] for r in data["regions"] for i in r["instances"])
    assert any(len(r["instances"]) > 10 for r in data["regions"])

    by_key = {(o["RegionId"], o["InstanceId"], o["InvokeId"]): o for o in invocations}
    assert len(by_key) == len(invocations), "duplicate invocations"
    total = 0
    per_instance = ctl.counters().get("by_action_instance", {}).get("DescribeInvocations", {})
    for reg in data["regions"]:
        for inst in reg["instances"]:
            invs = inst.get("invocations", [])
            assert len(invs) > 50
            total += len(invs)
            for inv in invs:
                check_invocation(by_key[(reg["RegionId"], inst["InstanceId"], inv["InvokeId"])], inv,
                                 reg["RegionId"], inst["InstanceId"])
            # One pass, PageSize 50, no status filter: ceil(n / 50) requests.
            assert per_instance.get(inst["InstanceId"]) == pages(len(invs)), inst["InstanceId"]
    assert len(invocations) == total
    assert by_action(ctl, "DescribeInvocations") == sum(
        pages(len(i.get("invocations", []))) for r in data["regions"] for i in r["instances"])
    assert by_action(ctl, "ListRegions") == 1
    assert stats(err)["retries"] == 0


def test_result_matches_describe_invocation_result(start_emulator, tmp_path):
    url, ctl = start_emulator(sample=True)
    data = ctl.data()
    seen = 0
    for reg in data["regions"]:
        for inst in reg["instances"]:
            for inv in inst.get("invocations", [])[:3]:
                objs, _, _, _ = walk(url, tmp_path, "result", reg["RegionId"], inst["InstanceId"],
                                     inv["InvokeId"])
                (res,) = objs
                # /_emulator/data gives every Result complete: nothing here is optional.
                want = inv["Result"]
                assert base64.b64decode(res["output_b64"]) == base64.b64decode(want["Output"])
                assert "Output" not in res["result"]
                assert isinstance(res["result"]["ExitCode"], int)
                for k in ("ExitCode", "ErrorCode", "ErrorInfo", "InvokeUser", "StartTime", "FinishedTime",
                          "InvocationStatus", "InvokeRecordStatus"):
                    assert res["result"][k] == want[k], k
                seen += 1
    assert seen > 0


def test_invocation_landing_between_two_pages_is_neither_lost_nor_duplicated(start_emulator, tmp_path):
    url, ctl = start_emulator(generate="1:1:150", seed=11)
    reg, inst = first_instance(ctl.data(), 51)
    new = dict(inst["invocations"][0])
    new.update(InvokeId="t-between00001", CreationTime="2030-01-01T00:00:00Z")
    ctl.event(after_page=1, instance=inst["InstanceId"], add=new)
    objs, _, _, _ = walk(url, tmp_path, "invocations", reg["RegionId"], inst["InstanceId"],
                         options=["--jobs", "1"])
    ids = [o["InvokeId"] for o in objs]
    assert len(ids) == len(set(ids)), "duplicate InvokeId"
    before = set(i["InvokeId"] for i in inst["invocations"])
    # Every record that existed is there once; the newcomer may or may not be
    # (it landed on a page already read), but nothing else appears.
    assert before <= set(ids) <= before | {"t-between00001"}


# ---- retries ----

@pytest.mark.parametrize("kind", ["5xx", "500", "throttle", "truncate", "reset"])
def test_injected_faults_are_retried_through(start_emulator, tmp_path, kind):
    url, ctl = start_emulator(generate="1:1:120", seed=3)
    reg, inst = first_instance(ctl.data(), 51)
    n = len(inst["invocations"])
    ctl.reset_counters()
    ctl.faults(kind, 2, action="DescribeInvocations")
    objs, err, _, _ = walk(url, tmp_path, "invocations", reg["RegionId"], inst["InstanceId"],
                           options=["--retry-budget-ms", "30000"])
    assert sorted(o["InvokeId"] for o in objs) == sorted(i["InvokeId"] for i in inst["invocations"])
    assert by_action(ctl, "DescribeInvocations") == pages(n) + 2
    s = stats(err)
    assert s["failures"] == 0
    if kind == "reset":
        # curl itself resends once when a reused keep-alive connection dies
        # before answering; that resend is invisible to our counters.
        assert 1 <= s["retries"] <= 2
    else:
        assert s["retries"] == 2 and s["calls"] == pages(n) + 2


@pytest.mark.parametrize("kind", ["malformed", "shape"])
def test_a_whole_but_malformed_body_is_retried_once(start_emulator, tmp_path, kind):
    url, ctl = start_emulator(generate="1:1:120", seed=3)
    reg, inst = first_instance(ctl.data(), 51)
    n = len(inst["invocations"])
    ctl.reset_counters()
    ctl.faults(kind, 1, action="DescribeInvocations")
    objs, err, _, _ = walk(url, tmp_path, "invocations", reg["RegionId"], inst["InstanceId"])
    assert sorted(o["InvokeId"] for o in objs) == sorted(i["InvokeId"] for i in inst["invocations"])
    assert stats(err)["retries"] == 1
    assert by_action(ctl, "DescribeInvocations") == pages(n) + 1

    # Twice in a row for the same page: the server means it, so EIO after
    # exactly one retry, not after the 30 s budget.
    ctl.reset_counters()
    ctl.faults(kind, 5, action="DescribeInvocations")
    _, err, rc, elapsed = walk(url, tmp_path, "invocations", reg["RegionId"], inst["InstanceId"], check=False,
                               options=["--retry-budget-ms", "30000"])
    assert rc == 1
    m = ERROR_LINE.search(err)
    assert m and m.group(1) == "EIO" and m.group(5) == "200", err
    assert by_action(ctl, "DescribeInvocations") == 2
    assert stats(err)["retries"] == 1
    assert elapsed < 10


def test_cancel_ends_a_hung_request_at_once(start_emulator, tmp_path):
    url, ctl = start_emulator(sample=True)
    reg, inst = first_instance(ctl.data())
    ctl.faults("hang", 1, action="DescribeInvocations")
    _, err, rc, elapsed = walk(url, tmp_path, "invocations", reg["RegionId"], inst["InstanceId"], check=False,
                               options=["--timeout", "60", "--retry-budget-ms", "120000", "--cancel-after-ms", "500"])
    assert rc == 1
    m = ERROR_LINE.search(err)
    assert m and m.group(1) == "ECANCELED", err
    # curl's progress callback runs about once a second while nothing arrives.
    assert elapsed < 5
    assert stats(err)["retries"] == 0


def test_cancel_ends_a_limiter_wait_at_once(start_emulator, tmp_path):
    # 12 regions: ListRegions, then 12 ListInstances; the 11th waits 6 s for
    # the client-side limiter (10 a minute, burst 10).
    url, ctl = start_emulator(generate="12:1:1", seed=5)
    assert len(ctl.data()["regions"]) == 12
    ctl.reset_counters()
    _, err, rc, elapsed = walk(url, tmp_path, "walk", check=False, options=["--cancel-after-ms", "1500"])
    assert rc == 1
    m = ERROR_LINE.search(err)
    assert m and m.group(1) == "ECANCELED", err
    assert by_action(ctl, "ListInstances") == 10
    assert elapsed < 5


# ---- a hostile server (the emulator's hostile modes) ----

def test_endless_pages_stop_at_the_page_cap_and_say_truncated(start_emulator, tmp_path):
    url, ctl = start_emulator(generate="1:1:3", seed=3)
    reg, inst = first_instance(ctl.data())
    ctl.reset_counters()
    ctl.config(hostile="endless_pages", hostile_actions=["DescribeInvocations", "ListInstances"])
    objs, err, _, _ = walk(url, tmp_path, "invocations", reg["RegionId"], inst["InstanceId"])
    assert len(objs) == len({o["InvokeId"] for o in objs}) == 100000
    assert "truncated: invocations 100000" in err
    assert by_action(ctl, "DescribeInvocations") == 2000
    objs, err, _, _ = walk(url, tmp_path, "instances", reg["RegionId"])
    assert len(objs) == 500 and "truncated: instances 500" in err
    assert by_action(ctl, "ListInstances") == 5


def test_body_cap_follows_the_page_size_asked(start_emulator, tmp_path):
    # A 5 MiB answer: over a 50-record DescribeInvocations page's cap
    # (64 KiB a record + 64 KiB = 3,342,336 bytes), under a 100-record
    # ListInstances page's; read to the end it is valid JSON with no list.
    url, ctl = start_emulator(sample=True)
    reg, inst = first_instance(ctl.data())
    ctl.config(hostile="huge_body", hostile_actions=["DescribeInvocations", "ListInstances"],
               huge_bytes=5 << 20)
    ctl.reset_counters()
    _, err, rc, _ = walk(url, tmp_path, "invocations", reg["RegionId"], inst["InstanceId"], check=False)
    assert rc == 1
    m = ERROR_LINE.search(err)
    assert m and m.group(1) == "EIO" and "larger than 3342336 bytes" in m.group(3), err
    assert by_action(ctl, "DescribeInvocations") == 1  # over the cap: not asked again
    objs, _, _, _ = walk(url, tmp_path, "instances", reg["RegionId"])
    assert objs == []


def test_endless_total_count_stops_at_the_first_short_page(start_emulator, tmp_path):
    url, ctl = start_emulator(generate="1:1:120", seed=3)
    reg, inst = first_instance(ctl.data(), 51)
    ctl.reset_counters()
    ctl.config(hostile="endless_total", hostile_actions=["DescribeInvocations"])
    objs, err, _, _ = walk(url, tmp_path, "invocations", reg["RegionId"], inst["InstanceId"], options=["--jobs", "4"])
    assert sorted(o["InvokeId"] for o in objs) == sorted(i["InvokeId"] for i in inst["invocations"])
    assert "truncated" not in err
    # Pages 1-3 hold the data; at most one page per other worker is already
    # asked for when page 3 comes back short.
    assert 3 <= by_action(ctl, "DescribeInvocations") <= 3 + 4


def test_a_hang_past_the_timeout_is_retried(start_emulator, tmp_path):
    url, ctl = start_emulator(sample=True)
    reg, inst = first_instance(ctl.data())
    ctl.reset_counters()
    ctl.faults("hang", 1, action="DescribeInvocations")
    objs, err, _, elapsed = walk(url, tmp_path, "invocations", reg["RegionId"], inst["InstanceId"],
                                 options=["--timeout", "1", "--retry-budget-ms", "20000"])
    assert sorted(o["InvokeId"] for o in objs) == sorted(i["InvokeId"] for i in inst["invocations"])
    assert stats(err)["retries"] == 1
    assert 1 <= elapsed < 10


def test_retry_budget_exhaustion_gives_eio_in_bounded_time(start_emulator, tmp_path):
    url, ctl = start_emulator(sample=True)
    reg, inst = first_instance(ctl.data())
    ctl.config(fault_rate=1.0, fault_kind="5xx")
    ctl.reset_counters()
    _, err, rc, elapsed = walk(url, tmp_path, "invocations", reg["RegionId"], inst["InstanceId"], check=False,
                               options=["--retry-budget-ms", "2000", "--timeout", "2"])
    assert rc == 1
    m = ERROR_LINE.search(err)
    assert m and m.group(1) == "EIO", err
    assert int(m.group(5)) >= 500
    assert elapsed < 5
    assert by_action(ctl, "DescribeInvocations") >= 2
    ctl.config(fault_rate=0.0)


def test_connection_refused_is_retried_then_eio(tmp_path):
    if not API_WALK.exists():
        pytest.skip(f"{API_WALK} is not built")
    _, err, rc, elapsed = walk("http://127.0.0.1:9", tmp_path, "regions", check=False,
                               options=["--retry-budget-ms", "1500"])
    assert rc == 1
    m = ERROR_LINE.search(err)
    assert m and m.group(1) == "EIO" and m.group(2) == "" and m.group(5) == "0", err
    assert stats(err)["retries"] >= 1
    assert elapsed < 5


# ---- errors that are never retried ----

def expect_error(err, errno_name, code_prefix):
    m = ERROR_LINE.search(err)
    assert m, err
    assert m.group(1) == errno_name, err
    assert m.group(2).startswith(code_prefix), err
    assert m.group(3), "no Message"
    assert m.group(4), "no RequestId"
    assert 400 <= int(m.group(5)) < 500
    return m


def test_wrong_secret_is_eacces_with_code_and_not_retried(start_emulator, tmp_path):
    url, ctl = start_emulator(sample=True)
    ctl.reset_counters()
    _, err, rc, _ = walk(url, tmp_path, "regions", secret="not-the-secret", check=False, options=["--verbose"])
    assert rc == 1
    expect_error(err, "EACCES", "SignatureDoesNotMatch")
    assert ctl.counters()["total"] == 1
    assert stats(err)["calls"] == 1
    assert "not-the-secret" not in err


def test_unknown_access_key_is_eacces_and_not_retried(start_emulator, tmp_path):
    url, ctl = start_emulator(sample=True)
    ctl.reset_counters()
    _, err, rc, _ = walk(url, tmp_path, "regions", ak_id="LTAI-nobody", check=False)
    assert rc == 1
    expect_error(err, "EACCES", "InvalidAccessKeyId")
    assert ctl.counters()["total"] == 1


def test_forbidden_is_eacces_and_not_retried(start_emulator, tmp_path):
    url, ctl = start_emulator(sample=True)
    reg, inst = first_instance(ctl.data())
    ctl.reset_counters()
    ctl.faults("forbidden", 5)
    _, err, rc, _ = walk(url, tmp_path, "invocations", reg["RegionId"], inst["InstanceId"], check=False)
    assert rc == 1
    expect_error(err, "EACCES", "Forbidden")
    assert ctl.counters()["total"] == 1


def test_unknown_instance_is_an_api_error_not_retried(start_emulator, tmp_path):
    url, ctl = start_emulator(sample=True)
    reg, _ = first_instance(ctl.data())
    ctl.reset_counters()
    objs, err, rc, _ = walk(url, tmp_path, "result", reg["RegionId"], "i-does-not-exist", "t-nope", check=False)
    assert rc == 1
    m = ERROR_LINE.search(err)
    assert m and m.group(1) in ("ENOENT", "EINVAL"), err
    assert m.group(2) and m.group(4)
    assert ctl.counters()["total"] == 1


# ---- secrets ----

def test_secret_never_appears_in_verbose_output(start_emulator, tmp_path):
    url, ctl = start_emulator(sample=True)
    ctl.faults("5xx", 1)
    ctl.faults("throttle", 1)
    objs, err, _, _ = walk(url, tmp_path, "walk", options=["--verbose"])
    assert objs
    # One line per HTTP request: action, region, status, ms, RequestId.
    lines = [line for line in err.splitlines() if "api: " in line]
    assert len(lines) == stats(err)["calls"]
    assert all(re.search(r"http=\d+ ms=\d+", line) for line in lines)
    assert AK_SECRET not in err  # also checked by walk() for every run
