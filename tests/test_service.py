# SPDX-License-Identifier: MIT
"""swasfs as a system service: mount helpers (mount -t fuse.swasfs, mount.fuse3,
fstab), systemd's readiness protocol, SIGHUP reloads, -o log=FILE, and the
start-up checks of SOURCE and regions=.

The helpers daemonise (mount.fuse3 runs swasfs without -f), so those tests
find the daemon by its command line and always unmount and wait for it
themselves. mount(8) runs its helper with PATH unset: `mount -t fuse.swasfs`
and the fstab test run in a mount namespace of their own (unshare -m) where
/usr/local/bin, in /bin/sh's default path, is a directory holding the build's
swasfs, so the test changes nothing outside it.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

import datasets
import mount
from mount import AK_ID, AK_SECRET, Mount, credentials_env, run_bounded, run_swasfs

PROFILE = "prod"
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z swasfs\[\d+\]: (error|warning|info|debug): ")

needs_plain_daemon = pytest.mark.skipif(mount.VALGRIND, reason="a mount helper cannot run swasfs under valgrind")


def wait_for(cond, timeout=10, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


def profile_env(tmp_path, wrong_default=True):
    """No credentials in the environment; a credentials file whose [prod] section holds the
    emulator's key and whose [default] (if @wrong_default) holds a key the emulator refuses."""
    env = credentials_env(tmp_path, ak_id=None)
    cred = Path(tmp_path) / "credentials"
    text = f"[{PROFILE}]\ntype = access_key\naccess_key_id = {AK_ID}\naccess_key_secret = {AK_SECRET}\n"
    if wrong_default:
        text += "[default]\ntype = access_key\naccess_key_id = nobody\naccess_key_secret = wrong-0000\n"
    cred.write_text(text)
    cred.chmod(0o600)
    env["ALIBABA_CLOUD_CREDENTIALS_FILE"] = str(cred)
    return env


def regions_of(emu):
    return sorted(r["RegionId"] for r in emu.data()["regions"])


# ---- $NOTIFY_SOCKET ----

class NotifyListener:
    """A SOCK_DGRAM socket for $NOTIFY_SOCKET (a path, or an abstract @name) and a thread that
    records each datagram with what the mount looked like the moment it arrived."""

    def __init__(self, tmp_path, mnt, abstract=False, daemon_log=None):
        self.mnt = Path(mnt)
        self.daemon_log = daemon_log
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"swasfs-test-{uuid.uuid4().hex}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self.address = str(Path(tmp_path) / "notify.sock")
            self.sock.bind(self.address)
        self.sock.settimeout(0.2)
        self.messages = []   # (text, mounted then, the root's entries then or the error)
        self.logs = []       # the daemon's output when each message came
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="notify-listener", daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            text = data.decode()
            # The daemon's -d output the moment the message came: which requests it had answered.
            seen = self.daemon_log.read_text(errors="replace") if self.daemon_log else ""
            mounted = mount.fuse_mount_dev(self.mnt) is not None
            listing = None
            if "READY=1" in text.split("\n"):
                try:
                    listing = sorted(os.listdir(self.mnt))
                except OSError as e:
                    listing = e
            self.messages.append((text, mounted, listing))
            self.logs.append(seen)

    def wait(self, state, timeout=20):
        assert wait_for(lambda: any(state in m[0].split("\n") for m in self.messages), timeout), \
            f"no {state} within {timeout} s; got {self.messages}"
        return next(m for m in self.messages if state in m[0].split("\n"))

    def close(self):
        self._stop = True
        self._thread.join(5)
        self.sock.close()


def test_ready_is_sent_once_the_mount_answers_and_stopping_at_unmount(emulator, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    m = Mount(emulator, tmp_path, allow=[r"error: -\d+ \("])
    m.args.insert(0, "-d")   # every request in the output, to see which came before READY=1
    listener = NotifyListener(tmp_path, os.path.realpath(mnt), daemon_log=m.log_path)
    m.env["NOTIFY_SOCKET"] = listener.address
    try:
        with m:
            text, mounted, listing = listener.wait("READY=1")
            # When READY=1 arrived, the mount was there and answered at once: FUSE's INIT
            # and a GETATTR of the root (the daemon's own check opens the mount point)
            # had been answered already.
            assert mounted
            assert listing == regions_of(emulator)
            before = listener.logs[0]
            assert "opcode: INIT" in before and "opcode: GETATTR" in before, before[-2000:]
            assert not any("STOPPING=1" in msg[0] for msg in listener.messages)
            assert m.proc.poll() is None
        text, _, _ = listener.wait("STOPPING=1")
        assert [msg[0] for msg in listener.messages] == ["READY=1", "STOPPING=1"]
    finally:
        listener.close()


def test_abstract_notify_socket_gets_ready_and_stopping_on_sigterm(emulator, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    listener = NotifyListener(tmp_path, os.path.realpath(mnt), abstract=True)
    env = credentials_env(tmp_path)
    env["NOTIFY_SOCKET"] = listener.address
    try:
        m = Mount(emulator, tmp_path, env=env)
        m.start()
        try:
            _, mounted, listing = listener.wait("READY=1")
            assert mounted and listing == regions_of(emulator)
            # A reload: RELOADING=1 with the time it began, then READY=1 again once done.
            m.proc.send_signal(signal.SIGHUP)
            text, _, _ = listener.wait("RELOADING=1")
            assert re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=\d+", text), text
            assert wait_for(lambda: [x[0] for x in listener.messages][-1:] == ["READY=1"]
                            and len(listener.messages) == 3), listener.messages
            m.proc.send_signal(signal.SIGTERM)
            assert m.proc.wait(timeout=30) == 0
            listener.wait("STOPPING=1")
            assert not m.mounted()
        finally:
            m.stop()
    finally:
        listener.close()


def test_a_bad_notify_socket_is_warned_about_and_the_mount_works(emulator, tmp_path):
    env = credentials_env(tmp_path)
    env["NOTIFY_SOCKET"] = "relative/name"
    with Mount(emulator, tmp_path, env=env, allow=[r"NOTIFY_SOCKET"]) as m:
        assert sorted(os.listdir(m.mnt)) == regions_of(emulator)
    assert "NOTIFY_SOCKET" in m.log()


# ---- SIGHUP ----

def walk(m):
    r = mount.run_reader(["find", str(m.mnt)], text=True)
    assert r.returncode == 0, r.stderr
    return sorted(r.stdout.splitlines())


def first_listing(emu):
    for reg in emu.data()["regions"]:
        for inst in reg["instances"]:
            if inst["invocations"]:
                return reg, inst
    raise AssertionError("the sample data has no invocation")


def test_sighup_marks_listings_stale_so_the_next_access_asks_the_api_and_keeps_the_mount(emulator, tmp_path):
    emu = emulator
    data = emu.data()
    reg, inst = first_listing(emu)
    with Mount(emu, tmp_path) as m:   # cache_ttl=60: nothing expires by itself during the test
        first = walk(m)
        n_instances = sum(len(r["instances"]) for r in data["regions"])
        emu.add_invocation(reg["RegionId"], inst["InstanceId"],
                           datasets.invocation("t-afterhup0001", created="2026-11-30T00:00:00Z"))
        emu.reset_counters()
        assert walk(m) == first   # within the TTL: cached, nothing asked
        assert emu.counters()["total"] == 0

        m.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "SIGHUP:" in m.log()), m.log()
        fin = m.path(reg["RegionId"], inst["InstanceId"], "Finished")
        assert "t-afterhup0001" in os.listdir(fin)
        second = walk(m)
        new = fin / "t-afterhup0001"
        assert set(first) < set(second)
        assert {str(new), str(new / "command")} <= set(second) - set(first)
        assert all(p.startswith(str(new)) for p in set(second) - set(first))
        by_action = emu.counters()["by_action"]
        # Every instance's listing and every region's instance list was asked for again, once.
        assert by_action.get("DescribeInvocations", 0) == n_instances, by_action
        assert by_action.get("ListInstances", 0) == len(data["regions"]), by_action
        assert m.proc.poll() is None and m.mounted()

        # And that was the SIGHUP: within the TTL again, nothing more is asked.
        emu.reset_counters()
        assert walk(m) == second
        assert emu.counters()["by_action"].get("DescribeInvocations", 0) == 0


def test_after_sighup_the_old_listings_are_served_while_the_api_fails(emulator, tmp_path):
    emu = emulator
    with Mount(emu, tmp_path, options=["retry_budget=2", "timeout=2"],
               allow=[r"failed", r"last good", r"serving cached"]) as m:
        first = walk(m)
        emu.config(fault_rate=1.0, fault_kind="5xx")
        m.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "SIGHUP:" in m.log()), m.log()
        assert walk(m) == first
        assert m.proc.poll() is None and m.mounted()
        emu.config(fault_rate=0.0)


# ---- -o log=FILE ----

def test_log_file_gets_timestamped_lines_and_is_reopened_after_rename_and_sighup(emulator, tmp_path):
    log = tmp_path / "swasfs-file.log"
    with Mount(emulator, tmp_path, options=["verbose", f"log={log}"]) as m:
        walk(m)
        lines = log.read_text().splitlines()
        assert any("api: ListRegions" in line for line in lines), lines
        assert all(STAMP.match(line) for line in lines), lines
        rotated = tmp_path / "swasfs-file.log.1"
        log.rename(rotated)
        m.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: log.exists() and "SIGHUP:" in log.read_text())
        size = rotated.stat().st_size
        walk(m)   # the listings are stale: API calls, logged in the new file
        new = log.read_text().splitlines()
        assert any("api: DescribeInvocations" in line for line in new), new
        assert all(STAMP.match(line) for line in new), new
        assert rotated.stat().st_size == size
    # Start-up lines (the ListRegions check) go to stderr too; once mounted, the file only.
    assert "api: ListRegions" in m.log() and "api: DescribeInvocations" not in m.log()
    assert "cache at exit" in log.read_text()
    assert AK_SECRET not in log.read_text() + rotated.read_text()


def test_start_up_errors_reach_stderr_and_the_log_file(emulator, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    log = tmp_path / "f.log"
    r = run_swasfs(["-f", "-o", f"endpoint={emulator.url},log={log}", str(mnt)],
                   env=credentials_env(tmp_path, secret="not-the-secret-0000"))
    assert r.returncode == 1
    assert "SignatureDoesNotMatch" in r.stderr
    assert "SignatureDoesNotMatch" in log.read_text() and STAMP.match(log.read_text())


def test_a_log_file_that_cannot_be_opened_is_refused(emulator, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = run_swasfs(["-f", "-o", f"endpoint={emulator.url},log={tmp_path}/no/such/dir/f.log", str(mnt)],
                   env=credentials_env(tmp_path))
    assert r.returncode == 1 and "log=" in r.stderr
    assert not os.path.ismount(mnt)


# ---- start-up checks ----

def test_unknown_region_is_refused_at_start_naming_the_known_ones(emulator, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    known = regions_of(emulator)
    # Bounded: a daemon that accepted the region would mount and stay.
    r = run_swasfs(["-f", "-o", f"endpoint={emulator.url},regions={known[0]}:xx-nowhere-1", str(mnt)],
                   env=credentials_env(tmp_path), timeout=20)
    assert r.returncode == 1
    assert "xx-nowhere-1" in r.stderr
    for region in known:
        assert region in r.stderr, region
    assert not os.path.ismount(mnt)


def test_unreachable_endpoint_names_the_url_tried(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = run_swasfs(["-f", "-o", f"endpoint=http://{{region}}.localhost:{port},home_region=cn-shanghai,"
                    "retry_budget=2,timeout=1", str(mnt)], env=credentials_env(tmp_path))
    assert r.returncode == 1
    assert f"http://cn-shanghai.localhost:{port}" in r.stderr, r.stderr
    assert "{region}" not in r.stderr


def test_source_names_the_profile(emulator, tmp_path):
    m = Mount(emulator, tmp_path, env=profile_env(tmp_path))
    m.args.insert(-1, PROFILE)
    with m:
        assert sorted(os.listdir(m.mnt)) == regions_of(emulator)


@pytest.mark.parametrize("source", ["default", "swas"])
def test_default_and_swas_sources_mean_the_default_chain(emulator, tmp_path, source):
    m = Mount(emulator, tmp_path)   # credentials in the environment
    m.args.insert(-1, source)
    with m:
        assert sorted(os.listdir(m.mnt)) == regions_of(emulator)


def test_source_and_profile_option_naming_different_profiles_is_an_error(emulator, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = profile_env(tmp_path)
    r = run_swasfs(["-f", "-o", f"endpoint={emulator.url},profile=other", PROFILE, str(mnt)], env=env)
    assert r.returncode == 1
    assert PROFILE in r.stderr and "other" in r.stderr
    assert not os.path.ismount(mnt)
    # The same profile both ways is no conflict.
    m = Mount(emulator, tmp_path, env=env, options=[f"profile={PROFILE}"])
    m.args.insert(-1, PROFILE)
    with m:
        assert os.listdir(m.mnt)


def test_three_arguments_are_refused(emulator, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = run_swasfs(["-f", "-o", f"endpoint={emulator.url}", "a", "b", str(mnt)], env=credentials_env(tmp_path))
    assert r.returncode != 0 and "too many arguments" in r.stderr


def test_mount_only_options_are_ignored_and_the_mount_stays_read_only(emulator, tmp_path):
    opts = ["_netdev", "nofail", "noauto", "auto", "user", "users", "nouser", "defaults", "rw", "dev", "suid",
            "exec", "comment=hello", "x-systemd.automount", "x-systemd.requires=network-online.target"]
    with Mount(emulator, tmp_path, options=opts) as m:
        assert sorted(os.listdir(m.mnt)) == regions_of(emulator)
        flags = mount_flags(m.mnt)
        assert {"ro", "nosuid", "nodev"} <= flags, flags
        with pytest.raises(OSError) as e:
            (m.mnt / "x").write_text("no")
        assert e.value.errno in (30, 13)   # EROFS (or EACCES: 0555 with default_permissions)


def mount_flags(mnt, pid="self"):
    with open(f"/proc/{pid}/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == str(mnt):
                return set(fields[5].split(","))
    return set()


# ---- the helpers ----

def daemon_pids(mnt):
    """PIDs of swasfs processes whose command line names @mnt (any mount namespace)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            argv = Path(f"/proc/{d}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"swasfs" and str(mnt).encode() in argv:
            pids.append(int(d))
    return pids


def is_alive(pid):
    st = mount.task_state(pid)
    return st is not None and st[0] != "Z"


def wait_gone(pids, timeout=20):
    """Waits for @pids to exit; SIGKILLs what is left and fails."""
    if wait_for(lambda: not any(is_alive(p) for p in pids), timeout):
        return
    left = mount.kill_and_wait(pids)
    raise AssertionError(f"swasfs {pids} did not exit within {timeout} s of the unmount; {left}")


def bin_dir(tmp_path):
    """A directory whose swasfs is the build's."""
    d = Path(tmp_path) / "bin"
    d.mkdir(exist_ok=True)
    (d / "swasfs").symlink_to(mount.SWASFS.resolve())
    return d


@needs_plain_daemon
def test_mount_fuse3_with_a_profile_source_and_fstab_only_options(emulator, tmp_path):
    mnt = Path(os.path.realpath(tmp_path)) / "mnt"
    mnt.mkdir()
    log = tmp_path / "helper.log"
    env = profile_env(tmp_path)
    env["PATH"] = f"{bin_dir(tmp_path)}:{env['PATH']}"
    # A relative log path: the daemon has changed to / by the time SIGHUP reopens it.
    opts = ("endpoint=" + emulator.url + ",log=helper.log,_netdev,nofail,x-systemd.automount,noauto,defaults,rw,"
            "comment=swasfs")
    pids = []
    try:
        rc, out = run_bounded(["mount.fuse3", f"swasfs#{PROFILE}", str(mnt), "-o", opts], 60, env=env,
                              cwd=tmp_path)
        assert rc == 0, out
        assert mount.fuse_mount_dev(mnt) is not None
        pids = daemon_pids(mnt)
        assert len(pids) == 1
        argv = Path(f"/proc/{pids[0]}/cmdline").read_bytes().split(b"\0")
        # What mount.fuse3 runs: swasfs SOURCE MOUNTPOINT -o OPTIONS, without the options it drops.
        assert argv[1:3] == [PROFILE.encode(), str(mnt).encode()] and argv[3] == b"-o"
        assert b"_netdev" not in argv[4] and b"nofail" not in argv[4] and b"x-systemd.automount" in argv[4]
        assert sorted(os.listdir(mnt)) == regions_of(emulator)
        assert {"ro", "nosuid", "nodev"} <= mount_flags(mnt)
        log.rename(tmp_path / "helper.log.1")
        os.kill(pids[0], signal.SIGHUP)
        assert wait_for(lambda: log.exists() and "SIGHUP:" in log.read_text())
    finally:
        if mount.fuse_mount_dev(mnt) is not None:
            rc, out = run_bounded(["fusermount3", "-u", str(mnt)], mount.UNMOUNT_TIMEOUT)
            if rc != 0:
                run_bounded(["fusermount3", "-uz", str(mnt)], mount.UNMOUNT_TIMEOUT)
        wait_gone(pids or daemon_pids(mnt))
    text = log.read_text()
    assert "cache at exit" in text
    text += (tmp_path / "helper.log.1").read_text()
    assert not [ln for ln in text.splitlines() if mount.BAD_LINE.search(ln)], text


NAMESPACE_SCRIPT = r"""
set -u
mnt="$1"; bin="$2"; fstab="$3"; how="$4"; opts="$5"
mount --bind "$bin" /usr/local/bin || exit 90
if [ "$how" = fstab ]; then
    mount --bind "$fstab" /etc/fstab || exit 91
    mount "$mnt" || exit 92
else
    mount -t fuse.swasfs prod "$mnt" -o "$opts" || exit 93
fi
trap 'umount -l "$mnt" 2>/dev/null' EXIT
echo "mountinfo: $(grep " $mnt " /proc/self/mountinfo)"
pid=$(pgrep -f "^swasfs prod $mnt" | head -n 1)
echo "pid: $pid"
echo "environ: $(tr '\0' ' ' < /proc/$pid/environ)"
echo "entries: $(ls "$mnt" | tr '\n' ' ')"
umount "$mnt" || exit 94
trap - EXIT
echo "unmounted"
"""


@needs_plain_daemon
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare")
@pytest.mark.parametrize("how", ["mount-t", "fstab"])
def test_mount_t_fuse_swasfs_and_an_fstab_line_with_automount_options(emulator, tmp_path, how):
    mnt = Path(os.path.realpath(tmp_path)) / "mnt"
    mnt.mkdir()
    log = tmp_path / "helper.log"
    opts = f"endpoint={emulator.url},log={log},_netdev,nofail,x-systemd.automount,noauto,user,comment=swasfs"
    fstab = tmp_path / "fstab"
    fstab.write_text(f"{PROFILE} {mnt} fuse.swasfs {opts} 0 0\n")
    env = profile_env(tmp_path)
    env.pop("PATH", None)   # mount(8) clears it for its helpers anyway
    env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
    script = tmp_path / "ns.sh"
    script.write_text(NAMESPACE_SCRIPT)
    rc, out = run_bounded(["unshare", "--mount", "--propagation", "private", "sh", str(script), str(mnt),
                           str(bin_dir(tmp_path)), str(fstab), how, opts], 90, env=env)
    pids = [int(p) for p in re.findall(r"^pid: (\d+)$", out, re.MULTILINE)]
    wait_gone(pids or daemon_pids(mnt))
    assert rc == 0, out
    assert "unmounted" in out
    entries = re.search(r"^entries: (.*)$", out, re.MULTILINE).group(1).split()
    assert sorted(entries) == regions_of(emulator)
    info = re.search(r"^mountinfo: (.*)$", out, re.MULTILINE).group(1)
    assert " fuse.swasfs " in info and " ro," in info and "nosuid" in info and "nodev" in info, info
    # mount(8) cleared PATH and HOME for the helper; the credentials file's variable got through.
    environ = re.search(r"^environ: (.*)$", out, re.MULTILINE).group(1).split()
    assert f"ALIBABA_CLOUD_CREDENTIALS_FILE={tmp_path}/credentials" in environ, environ
    text = log.read_text()
    assert "cache at exit" in text
    assert not [ln for ln in text.splitlines() if mount.BAD_LINE.search(ln)], text


def test_sighup_makes_the_kernel_forget_its_cached_entries(emulator, tmp_path):
    """A stat of a path the kernel has cached (attributes for cache_ttl) reaches the daemon after
    SIGHUP only if the kernel was told to forget it: the refresh then shows in the counters."""
    emu = emulator
    reg, inst = first_listing(emu)
    with Mount(emu, tmp_path) as m:
        fin = m.path(reg["RegionId"], inst["InstanceId"], "Finished")
        walk(m)
        os.stat(fin)
        emu.reset_counters()
        os.stat(fin)
        assert emu.counters()["total"] == 0   # from the kernel's cache
        m.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "SIGHUP:" in m.log()), m.log()
        os.stat(fin)

        def listing_calls():
            return emu.counters()["by_action_instance"].get("DescribeInvocations", {}).get(inst["InstanceId"], 0)
        assert wait_for(lambda: listing_calls() == 1, 5), emu.counters()
        assert m.proc.poll() is None and m.mounted()


FSTAB_GENERATOR = Path("/usr/lib/systemd/system-generators/systemd-fstab-generator")


@pytest.mark.skipif(not FSTAB_GENERATOR.exists(), reason="no systemd-fstab-generator")
def test_the_readme_fstab_line_makes_a_network_automount(tmp_path):
    """What systemd (PID 1 is not systemd here) would make of README's fstab line: an automount
    pulled in by remote-fs.target (_netdev), mounting fuse.swasfs with the line's options."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    line = next(ln for ln in readme.splitlines() if " fuse.swasfs " in ln and "x-systemd.automount" in ln)
    fstab = tmp_path / "fstab"
    fstab.write_text(line.strip() + "\n")
    out = tmp_path / "units"
    out.mkdir()
    rc, text = run_bounded([str(FSTAB_GENERATOR), str(out), str(out), str(out)], 30,
                           env=dict(os.environ, SYSTEMD_FSTAB=str(fstab)))
    assert rc == 0, text
    where = line.split()[1]
    name = where.strip("/").replace("/", "-")
    assert (out / "remote-fs.target.wants" / f"{name}.automount").exists()
    unit = (out / f"{name}.mount").read_text()
    assert "Type=fuse.swasfs" in unit and f"What={line.split()[0]}" in unit
    assert f"Options={line.split()[3]}" in unit
    assert (out / f"{name}.automount").exists()


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="no systemd-analyze")
def test_the_shipped_units_verify_and_give_the_store_a_private_state_directory(tmp_path):
    """contrib/systemd's units as systemd reads them (`systemd-analyze verify`, ExecStart pointed at
    this build as meson install would point it at its bindir), and the directory README's service
    setup gives -o store=: /var/lib/swasfs/PROFILE, 0700."""
    units = Path(__file__).resolve().parent.parent / "contrib" / "systemd"
    for unit in units.iterdir():
        (tmp_path / unit.name).write_text(unit.read_text().replace("/usr/local/bin/swasfs", str(mount.SWASFS)))
    rc, text = run_bounded([SYSTEMD_ANALYZE, "verify", "--man=no", str(tmp_path / "swasfs@default.service"),
                            str(tmp_path / "swasfs-backup.service"), str(tmp_path / "swasfs-backup.timer")], 60)
    assert rc == 0, text
    assert "nknown" not in text and "nvalid" not in text, text  # keys and values systemd would ignore
    service = (units / "swasfs@.service").read_text()
    assert "StateDirectory=swasfs/%i" in service and "StateDirectoryMode=0700" in service
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert "-o store=/var/lib/swasfs/default" in readme
