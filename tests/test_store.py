# SPDX-License-Identifier: MIT
"""The local store (-o store=DIR, offline, store_days; contrib/docs/store.md), mounted for real.

Each test walks the mount with ordinary reads and stats, and compares what it sees with what the
emulator holds (datasets.expected_files) or with an earlier walk, byte for byte and attribute for
attribute; API calls are counted on the emulator's side.
"""
import errno
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import time
import zlib  # noqa: F401  (crc32c is computed by hand below)
from pathlib import Path

import pytest

import datasets
from mount import AK_ID, AK_SECRET, SWASFS, Mount, credentials_env, run_swasfs

REGION = "cn-hangzhou"
FINAL = ("Finished", "Failed", "Stopped")


def now_iso(days_ago=0, seconds=0):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - days_ago * 86400 - seconds))


def make_data(n_a=8, with_running=True, old=0):
    """Two regions, three instances, terminal invocations with distinct bytes (and one running);
    @old more in i-a created 100 days ago."""
    statuses = ["Finished", "Failed", "Stopped"]
    a = [datasets.invocation(f"t-a{k:04d}", status=statuses[k % 3], created=now_iso(1, k * 60),
                             finished=now_iso(1, k * 60 - 5), exit_code=k % 2,
                             command=f"echo a{k}\n".encode() + bytes([k, 0, 255]),
                             output=f"out a{k}\n".encode() * (k + 1))
         for k in range(n_a)]
    a += [datasets.invocation(f"t-old{k:04d}", created=now_iso(100, k), finished=now_iso(100, k - 3))
          for k in range(old)]
    if with_running:
        a.append(datasets.invocation("t-run0001", status="Running", created=now_iso(0, 30)))
    b = [datasets.invocation(f"t-b{k:04d}", created=now_iso(2, k), finished=now_iso(2, k - 1),
                             parameters={"k": k}) for k in range(3)]
    c = [datasets.invocation(f"t-c{k:04d}", created=now_iso(3, k), finished=now_iso(3, k - 1)) for k in range(2)]
    return datasets.dataset({
        REGION: [datasets.instance("i-a", a), datasets.instance("i-b", b)],
        "cn-shanghai": [datasets.instance("i-c", c)],
    })


def without(data, invoke_ids=(), instances=()):
    """@data less some invocations (aged out) and instances (deleted)."""
    out = {"regions": []}
    for reg in data["regions"]:
        insts = []
        for inst in reg["instances"]:
            if inst["InstanceId"] in instances:
                continue
            inst = dict(inst, invocations=[i for i in inst["invocations"] if i["InvokeId"] not in invoke_ids])
            insts.append(inst)
        out["regions"].append(dict(reg, instances=insts))
    return out


def walk(root, results=True, missing_ok=False):
    """{relative path: attributes (and bytes for files)} of the whole tree below @root. The root's and
    the regions' mtimes are the mount time (README.md), and so are those of the tree's dot-names:
    they are left out."""
    out = {}
    root = str(root)
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        depth = 0 if rel == "." else rel.count("/") + 1
        # The tree's own dot-names (.by-name, .instance.json) carry the mount time: bytes only.
        dot = any(c.startswith(".") for c in rel.split("/") if c != ".")
        st = os.stat(dirpath)
        out[rel + "/"] = (st.st_mode, st.st_mtime_ns if depth >= 2 and not dot else None)
        for f in filenames:
            if not results and f in ("output", "result.json"):
                continue
            p = os.path.join(dirpath, f)
            try:
                with open(p, "rb") as fh:
                    data = fh.read()
                st = os.stat(p)
            except FileNotFoundError:
                if not missing_ok:
                    raise
                continue
            mtime = None if dot or f.startswith(".") else st.st_mtime_ns
            out[os.path.join(rel, f)] = (st.st_mode, st.st_size, mtime, data)
    return out


def expected(data, only_final=True):
    """{relative path: bytes} predicted from the emulator's data."""
    out = {}
    for reg in data["regions"]:
        for inst in reg["instances"]:
            for inv in inst["invocations"]:
                if only_final and inv["InvokeStatus"] not in FINAL:
                    continue
                for name, b in datasets.expected_files(reg["RegionId"], inst["InstanceId"], inv).items():
                    out[os.path.join(reg["RegionId"], inst["InstanceId"], inv["InvokeStatus"], inv["InvokeId"],
                                     name)] = b
    return out


def files_of(tree):
    """The invocation files of a walk (the tree's own dot-names, such as .instance.json, left out)."""
    return {p: v[3] for p, v in tree.items()
            if not p.endswith("/") and not any(c.startswith(".") for c in p.split("/"))}


def calls(emulator, action):
    return emulator.counters()["by_action"].get(action, 0)


def offline_env(tmp_path):
    """An environment with no credentials anywhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD")}
    home = tmp_path / "empty-home"
    home.mkdir(exist_ok=True)
    env["HOME"] = str(home)
    return env


@pytest.fixture
def data():
    return make_data()


@pytest.fixture
def emu(emulator_factory, data):
    return emulator_factory(data=data)


def store_opts(store, *more):
    return [f"store={store}", *more]


# ---- served from the store ----

def test_remount_serves_every_file_with_no_result_call(emu, data, tmp_path):
    store = tmp_path / "store"
    with Mount(emu, tmp_path, store_opts(store)) as m:
        first = walk(m.mnt)
    assert oct(store.stat().st_mode & 0o777) == "0o700"
    for p in store.rglob("*"):
        if p.is_file():
            assert p.stat().st_mode & 0o077 == 0, f"{p} is readable by others"
    exp = expected(data)
    got = files_of(first)
    for p, b in exp.items():
        assert got[p] == b, p
    emu.reset_counters()
    with Mount(emu, tmp_path, store_opts(store)) as m:
        second = walk(m.mnt)
    assert second == first
    by = emu.counters()["by_action"]
    # The running invocation's result is the API's alone; every stored one comes from disk.
    assert by.get("DescribeInvocationResult", 0) == 1, by
    assert by.get("DescribeInvocations", 0) == 3, by   # listings are still asked: one pass per instance


def test_aged_out_invocations_and_deleted_instance_stay(emulator_factory, data, tmp_path):
    store = tmp_path / "store"
    emu = emulator_factory(data=data)
    with Mount(emu, tmp_path, store_opts(store)) as m:
        first = walk(m.mnt)
    emu.stop()
    gone = ["t-a0000", "t-a0003", "t-b0001"]
    emu2 = emulator_factory(data=without(data, gone, instances=["i-c"]))
    with Mount(emu2, tmp_path, store_opts(store)) as m:
        second = walk(m.mnt)
        for inv in gone:
            inst = "i-a" if inv.startswith("t-a") else "i-b"
            status = next(i["InvokeStatus"] for r in data["regions"] for s in r["instances"]
                          for i in s["invocations"] if i["InvokeId"] == inv)
            assert m.path(REGION, inst, status, inv, "command").exists()
            # The extended attribute tells an archived invocation from a live one.
            for p in (m.path(REGION, inst, status, inv), m.path(REGION, inst, status, inv, "output")):
                assert os.getxattr(p, "user.swasfs.origin") == b"store"
                assert os.listxattr(p) == ["user.swasfs.origin"]
        live = next(i for i in without(data, gone)["regions"][0]["instances"][0]["invocations"])
        live_dir = m.path(REGION, "i-a", live["InvokeStatus"], live["InvokeId"])
        assert os.getxattr(live_dir, "user.swasfs.origin") == b"api"
        assert os.getxattr(live_dir / "metadata.json", "user.swasfs.origin") == b"api"
        # Other names and other nodes have none (and cost nothing).
        assert os.listxattr(m.path(REGION, "i-a")) == []
        with pytest.raises(OSError) as e:
            os.getxattr(live_dir, "user.other")
        assert e.value.errno == errno.ENODATA
    # Running invocations come from the API; first's one is still there, so the trees match whole.
    assert second == first
    assert calls(emu2, "DescribeInvocationResult") == 1   # the running one only


def stats(m):
    return json.loads(m.path(".swasfs", "stats.json").read_text())


def test_union_directory_is_listed_from_the_index_not_held(emulator_factory, tmp_path):
    """An archive is listed from the store's index (ids, statuses, times): listing it and stat-ing
    its invocations reads no record; a record is read back (and checked) when a file is looked at,
    and the cache never holds it, so years of history do not grow what max_cache bounds."""
    n = 3000
    invs = [datasets.invocation(f"t-u{k:05d}", status=FINAL[k % 3], created=now_iso(1, k),
                                finished=now_iso(1, k - 1), command=f"echo u{k}\n".encode()) for k in range(n)]
    data = datasets.dataset({REGION: [datasets.instance("i-u", invs)]})
    store = tmp_path / "store"
    emu = emulator_factory(data=data)
    with Mount(emu, tmp_path, store_opts(store)) as m:
        live = {s: sorted(os.listdir(m.path(REGION, "i-u", s))) for s in FINAL}
        live_attrs = {s: os.stat(m.path(REGION, "i-u", s)) for s in FINAL}
        live_bytes = stats(m)["cache"]["bytes_held"]
    emu.stop()
    emu2 = emulator_factory(data=without(data, [i["InvokeId"] for i in invs]))
    with Mount(emu2, tmp_path, store_opts(store)) as m:
        dirs = {s: m.path(REGION, "i-u", s) for s in FINAL}
        assert {s: sorted(os.listdir(p)) for s, p in dirs.items()} == live
        for s, p in dirs.items():
            st = os.stat(p)
            assert (st.st_mtime_ns, st.st_nlink) == (live_attrs[s].st_mtime_ns, live_attrs[s].st_nlink)
        subprocess.run(["ls", "-l", *map(str, dirs.values())], check=True, stdout=subprocess.DEVNULL)
        for s in FINAL:
            for name in live[s][::97]:
                assert os.stat(dirs[s] / name).st_mtime > 0
        st = stats(m)
        assert st["store"]["archived_read"] == 0, st["store"]
        assert st["cache"]["bytes_held"] < live_bytes / 4, (st["cache"], live_bytes)
        # Every command read: right bytes, each read from disk, none kept.
        for k in range(0, n, 7):
            inv = invs[k]
            p = dirs[inv["InvokeStatus"]] / inv["InvokeId"] / "command"
            assert p.read_bytes() == f"echo u{k}\n".encode()
        st = stats(m)
        assert st["store"]["archived_read"] >= len(range(0, n, 7)), st["store"]
        assert st["cache"]["bytes_held"] < live_bytes / 4, (st["cache"], live_bytes)
    assert calls(emu2, "DescribeInvocationResult") == 0


# ---- offline, and an API that does not answer ----

def test_offline_mount_without_credentials_shows_the_archive(emu, data, tmp_path):
    store = tmp_path / "store"
    with Mount(emu, tmp_path, store_opts(store)) as m:
        first = walk(m.mnt)
    # The emulator stays up (and the mount is pointed at it): offline must not ask it anything.
    emu.reset_counters()
    with Mount(emu, tmp_path, store_opts(store, "offline"), env=offline_env(tmp_path)) as m:
        second = walk(m.mnt)
    assert emu.counters()["total"] == 0, emu.counters()
    final_only = {p: v for p, v in first.items() if "t-run0001" not in p}
    # The Running directory's mtime follows its (now empty) entries.
    for p in list(final_only):
        if p.endswith("/Running/"):
            del final_only[p]
    second = {p: v for p, v in second.items() if not p.endswith("/Running/")}
    assert second == final_only


def test_reading_one_instance_reads_only_its_log(emu, data, tmp_path):
    store = tmp_path / "store"
    with Mount(emu, tmp_path, store_opts(store)) as m:
        walk(m.mnt)
    with Mount(emu, tmp_path, store_opts(store, "offline"), env=offline_env(tmp_path)) as m:
        assert sorted(n for n in os.listdir(m.path(REGION)) if not n.startswith(".")) == ["i-a", "i-b"]
        assert os.listdir(m.path(REGION, "i-b", "Finished"))
    # Listing the region read no instance log; listing i-b read its own.
    assert "1 instance logs read" in m.log(), m.log()


def test_offline_without_store_is_refused(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = run_swasfs(["-f", "-o", "offline", str(mnt)], env=offline_env(tmp_path))
    assert r.returncode == 1
    assert "offline needs store=" in r.stderr


def test_unreachable_api_at_startup_mounts_the_store(emu, data, tmp_path):
    store = tmp_path / "store"
    with Mount(emu, tmp_path, store_opts(store)) as m:
        first = walk(m.mnt, results=False)
    emu.stop()   # nothing listens on its port any more
    allow = [r"cannot reach the SWAS API", r"does not answer", r"failed"]
    with Mount(emu, tmp_path, store_opts(store, "retry_budget=2", "timeout=2"), allow=allow) as m:
        t0 = time.monotonic()
        second = walk(m.mnt, results=False)
        elapsed = time.monotonic() - t0
        assert "does not answer: mounting the store" in m.log()
    keep = {p: v for p, v in first.items() if "t-run0001" not in p and not p.endswith("/Running/")}
    second = {p: v for p, v in second.items() if not p.endswith("/Running/")}
    assert second == keep
    assert elapsed < 20, f"the walk took {elapsed:.1f} s: the store should answer at once"


def test_api_that_comes_back_is_asked_again(emulator_factory, data, tmp_path):
    store = tmp_path / "store"
    emu = emulator_factory(data=data)
    port = emu.url.rsplit(":", 1)[1]
    with Mount(emu, tmp_path, store_opts(store)) as m:
        walk(m.mnt, results=False)
    emu.stop()
    allow = [r"cannot reach the SWAS API", r"does not answer", r"failed"]
    opts = store_opts(store, "retry_budget=1", "timeout=1")
    with Mount(emu, tmp_path, opts, cache_ttl=1, allow=allow) as m:
        assert m.path(REGION, "i-b", "Finished", "t-b0000", "command").exists()
        new = datasets.invocation("t-new0001", created=now_iso(0, 5), finished=now_iso(0, 1))
        data["regions"][0]["instances"][1]["invocations"].append(new)
        emulator_factory("--listen", f"127.0.0.1:{port}", data=data)
        deadline = time.monotonic() + 90
        path = m.path(REGION, "i-b", "Finished", "t-new0001", "command")
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert path.exists(), "the API answers again but the mount never asked it\n" + m.log()
        assert path.read_bytes() == b"echo hi\n"


def test_rejected_credentials_still_exit_1_with_a_store(emu, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = credentials_env(tmp_path, secret="wrong-secret")
    r = run_swasfs(["-f", "-o", f"endpoint={emu.url},home_region={REGION},store={tmp_path / 'store'}", str(mnt)],
                   env=env)
    assert r.returncode == 1, r.stderr


# ---- the lock, the version ----

def test_second_mount_on_one_store_is_refused(emu, tmp_path):
    store = tmp_path / "store"
    with Mount(emu, tmp_path, store_opts(store)):
        mnt2 = tmp_path / "mnt2"
        mnt2.mkdir()
        r = run_swasfs(["-f", "-o", f"endpoint={emu.url},home_region={REGION},store={store}", str(mnt2)],
                       env=credentials_env(tmp_path))
        assert r.returncode == 1
        assert "in use by another swasfs mount" in r.stderr, r.stderr


def test_daemon_with_a_relative_store_path(emu, data, tmp_path):
    """Without -f the daemon forks and changes to /: a relative store= must still be the one meant."""
    import fcntl
    mnt = tmp_path / "mnt-daemon"
    mnt.mkdir()
    env = credentials_env(tmp_path)
    r = subprocess.run([str(SWASFS), "-o",
                        f"endpoint={emu.url},home_region={REGION},store=rel-store", str(mnt)],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    try:
        p = mnt / REGION / "i-b" / "Finished" / "t-b0000" / "output"
        assert p.read_bytes() == b"hi\n"
    finally:
        subprocess.run(["fusermount3", "-u", str(mnt)], capture_output=True, timeout=30)
    # The daemon holds the lock until it has written and committed: wait for it to let go.
    with open(tmp_path / "rel-store" / "lock", "rb") as f:
        deadline = time.monotonic() + 20
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, "the daemon never released the store's lock"
                time.sleep(0.1)
    assert ("cn-hangzhou", "i-b", 3, "t-b0000") in stored_frames(tmp_path / "rel-store")
    # The same store offline, as a daemon too (no credentials to lock in memory after the fork).
    r = subprocess.run([str(SWASFS), "-o", "store=rel-store,offline", str(mnt)],
                       cwd=tmp_path, env=offline_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    try:
        assert p.read_bytes() == b"hi\n"
    finally:
        subprocess.run(["fusermount3", "-u", str(mnt)], capture_output=True, timeout=30)


def test_newer_store_format_is_refused(emu, tmp_path):
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    (store / "FORMAT").write_text("swasfs-store 99\n")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = run_swasfs(["-f", "-o", f"endpoint={emu.url},home_region={REGION},store={store}", str(mnt)],
                   env=credentials_env(tmp_path))
    assert r.returncode == 1
    assert "newer swasfs" in r.stderr, r.stderr


# ---- crash safety ----

def _crc32c(b):
    crc = 0xFFFFFFFF
    for x in b:
        crc ^= x
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def stored_frames(store, as_list=False):
    """{(region, instance, type, invoke id)} of every whole, good frame in the store's logs (the
    format of include/storefmt.h), read independently of swasfs; a list (duplicates kept) if
    @as_list."""
    out = []
    for log in Path(store).glob("regions/*/inv/*"):
        if "~" in log.name:
            continue
        b = log.read_bytes()
        pos = 16
        while pos + 24 <= len(b):
            magic, typ, plen, pcrc, zero, hcrc = struct.unpack_from("<6I", b, pos)
            if magic != 0x31465753 or pos + 24 + plen > len(b):
                break
            payload = b[pos + 24: pos + 24 + plen]
            if _crc32c(payload) == pcrc:
                (n,) = struct.unpack_from("<I", payload, 0)
                out.append((log.parent.parent.name, log.name, typ, payload[4:4 + n].decode()))
            pos += 24 + plen
    return out if as_list else set(out)


def check_offline(emu, tmp_path, store, data, frames, label):
    """Mounts @store offline: every file served is @data's bytes, and every one of @frames (whole on
    disk before a crash) is served."""
    exp = expected(data)
    status_of = {i["InvokeId"]: i["InvokeStatus"] for r in data["regions"] for s in r["instances"]
                 for i in s["invocations"]}
    with Mount(emu, tmp_path, store_opts(store, "offline"), env=offline_env(tmp_path)) as off:
        got = files_of(walk(off.mnt, missing_ok=True))
    for p, b in got.items():
        assert exp[p] == b, f"{label}: {p} served wrong bytes"
    for region, inst, typ, inv in frames:
        name = "output" if typ == 3 else "command"
        p = os.path.join(region, inst, status_of[inv], inv, name)
        assert p in got, f"{label}: {p} was whole on disk before the crash but is not served"


@pytest.mark.long
def test_kill_9_during_a_cold_walk_loses_nothing_stored(emulator_factory, tmp_path, iterations):
    """12 cold walks with results, each into a new store, each killed with SIGKILL at a random
    moment. What the store's files held whole just before the kill must all be served after it
    (kill -9 loses no pwrite: the data is in the page cache; only a power loss can cost the writes
    after the last group commit), and everything served must be the emulator's bytes."""
    data = make_data(n_a=150, with_running=False)
    emu = emulator_factory(data=data)
    emu.config(latency_ms=10)
    exp = expected(data)
    rng = random.Random(1)
    rounds = 12 * iterations
    stored_counts = []
    for k in range(rounds):
        store = tmp_path / f"store{k}"
        m = Mount(emu, tmp_path, store_opts(store))
        m.start()
        walker = subprocess.Popen(["sh", "-c", f"find {m.mnt} -type f -exec cat {{}} + >/dev/null 2>&1"])
        time.sleep(rng.uniform(0.1, 2.5))
        before = stored_frames(store)
        os.kill(m.proc.pid, signal.SIGKILL)
        m.proc.wait()
        walker.wait(timeout=60)
        subprocess.run(["fusermount3", "-uz", str(m.mnt)], capture_output=True)
        m.stop(check=False)
        stored_counts.append(len(before))
        # Remount offline: exactly what the store holds, and all of it right.
        check_offline(emu, tmp_path, store, data, before, f"round {k} (kill -9)")
    # The kills did land mid-walk: some stores were partial.
    full = max(stored_counts)
    assert any(0 < c < full for c in stored_counts), stored_counts
    # A last, uninterrupted walk completes one store; offline it then serves everything.
    store = tmp_path / "store0"
    with Mount(emu, tmp_path, store_opts(store)) as m:
        walk(m.mnt)
    with Mount(emu, tmp_path, store_opts(store, "offline"), env=offline_env(tmp_path)) as off:
        assert files_of(walk(off.mnt)) == exp


def test_power_loss_leaves_no_torn_record_served(emulator_factory, tmp_path):
    """A power loss keeps a prefix of each log (what reached the disk) and may leave the rest of
    its length as zeros or stale bytes. Simulated on copies of a whole store at random cut points:
    remounted offline, every file served is the emulator's bytes, and every frame the prefix holds
    whole is served."""
    data = make_data(n_a=40, with_running=False)
    emu = emulator_factory(data=data)
    store = tmp_path / "store"
    with Mount(emu, tmp_path, store_opts(store)) as m:
        walk(m.mnt)
    logs = sorted(p.relative_to(store) for p in store.glob("regions/*/inv/*"))
    rng = random.Random(7)
    for k in range(12):
        cut_store = tmp_path / f"cut{k}"
        shutil.copytree(store, cut_store)
        (cut_store / "lock").unlink(missing_ok=True)
        log = cut_store / rng.choice(logs)
        whole = log.read_bytes()
        cut = rng.randrange(16, len(whole))
        log.write_bytes(whole[:cut])
        kept = stored_frames(cut_store)
        tail = bytes(len(whole) - cut) if k % 2 == 0 else rng.randbytes(len(whole) - cut)
        log.write_bytes(whole[:cut] + tail)
        check_offline(emu, tmp_path, cut_store, data, kept, f"cut {k} of {log.name} at {cut}")


def test_parallel_cold_reads_store_each_record_once(emulator_factory, tmp_path):
    data = make_data(n_a=60)
    emu = emulator_factory(data=data)
    emu.config(latency_ms=5)
    store = tmp_path / "store"
    with Mount(emu, tmp_path, store_opts(store)) as m:
        r = subprocess.run(f"find {m.mnt} -type f -print0 | xargs -0 -P 8 -n 3 cat > /dev/null", shell=True,
                           timeout=120)
        assert r.returncode == 0
    frames = stored_frames(store, as_list=True)
    assert len(frames) == len(set(frames)), "a record was written twice"
    final = [(r["RegionId"], s["InstanceId"], i["InvokeId"]) for r in data["regions"] for s in r["instances"]
             for i in s["invocations"] if i["InvokeStatus"] in FINAL]
    assert set(frames) == {(r, s, t, i) for r, s, i in final for t in (2, 3)}
    emu.reset_counters()
    with Mount(emu, tmp_path, store_opts(store, "offline"), env=offline_env(tmp_path)) as m:
        assert files_of(walk(m.mnt)) == expected(data)


def test_flipped_byte_is_detected_not_served_and_refetched(emu, data, tmp_path):
    store = tmp_path / "store"
    with Mount(emu, tmp_path, store_opts(store)) as m:
        first = walk(m.mnt)
    log = store / "regions" / REGION / "inv" / "i-a"
    b = bytearray(log.read_bytes())
    # The output of t-a0005's result: find its bytes and flip one.
    target = b"out a5\n"
    at = bytes(b).find(target)
    assert at > 0
    b[at] ^= 0x20
    log.write_bytes(bytes(b))
    emu.reset_counters()
    allow = [r"damaged|fails its checksum"]
    with Mount(emu, tmp_path, store_opts(store), allow=allow) as m:
        second = walk(m.mnt)
        assert "damaged" in m.log() or "fails its checksum" in m.log()
    assert second == first
    # Refetched: the damaged result and the running one.
    assert calls(emu, "DescribeInvocationResult") == 2
    # ... and stored again: a third mount asks for the running one only.
    emu.reset_counters()
    with Mount(emu, tmp_path, store_opts(store)) as m:
        assert walk(m.mnt) == first
    assert calls(emu, "DescribeInvocationResult") == 1


def test_full_disk_keeps_serving(emulator_factory, tmp_path):
    data = make_data(n_a=60, with_running=False)
    emu = emulator_factory(data=data)
    store = tmp_path / "tiny"
    store.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(store)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.strip()}")
    try:
        allow = [r"cannot write .*No space left on device"]
        with Mount(emu, tmp_path, store_opts(store), cache_ttl=1, allow=allow) as m:
            got = files_of(walk(m.mnt))
            assert got == expected(data)
            assert m.log().count("No space left on device") == 1, m.log()
            # Room again: the next listings store what did not fit.
            subprocess.run(["mount", "-o", "remount,size=8m", str(store)], check=True)
            deadline = time.monotonic() + 30
            while "writing again" not in m.log() and time.monotonic() < deadline:
                walk(m.mnt, results=False)
                time.sleep(0.5)
            assert "writing again" in m.log(), m.log()
            time.sleep(2.5)   # a group commit
            walk(m.mnt, results=False)
        with Mount(emu, tmp_path, store_opts(store, "offline"), env=offline_env(tmp_path)) as off:
            stored = files_of(walk(off.mnt, missing_ok=True))
        # Every record is stored now; results that did not fit wait for a mount that fetches them again.
        commands = {p for p in expected(data) if p.endswith("/command")}
        assert commands <= set(stored), sorted(commands - set(stored))[:5]
        for p, b in stored.items():
            assert expected(data)[p] == b, p
    finally:
        subprocess.run(["umount", str(store)], capture_output=True)


# ---- pruning ----

def test_store_days_prunes_old_invocations_no_longer_returned(emulator_factory, tmp_path):
    data = make_data(old=3)
    emu = emulator_factory(data=data)
    store = tmp_path / "store"
    with Mount(emu, tmp_path, store_opts(store)) as m:
        first = walk(m.mnt)
    assert any("t-old0000" in p for p in first)
    emu.stop()
    old = ["t-old0000", "t-old0001", "t-old0002"]
    emu2 = emulator_factory(data=without(data, old))
    with Mount(emu2, tmp_path, store_opts(store, "store_days=30")) as m:
        time.sleep(1)   # the pruner runs at start-up, in the background
        m2 = walk(m.mnt)
    # A remount shows what the pruner left.
    with Mount(emu2, tmp_path, store_opts(store, "store_days=30")) as m:
        second = walk(m.mnt)
    assert not any("t-old" in p for p in second), sorted(p for p in second if "t-old" in p)
    assert any("t-a0001" in p for p in second)
    del m2


def test_help_lists_the_store_options(tmp_path):
    r = run_swasfs(["--help"], env=offline_env(tmp_path))
    assert r.returncode == 0
    for opt in ("-o store=DIR", "-o offline", "-o store_days=N"):
        assert opt in r.stdout, opt


def test_bad_store_days_is_refused(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = run_swasfs(["-f", "-o", f"store={tmp_path / 's'},store_days=7", str(mnt)], env=offline_env(tmp_path))
    assert r.returncode == 1
    assert "store_days" in r.stderr
