# SPDX-License-Identifier: MIT
"""Start-up, options, credentials, TLS and shutdown of the swasfs daemon."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mount
from emulator import make_test_ca
from mount import AK_SECRET, Mount, credentials_env, have_tool, listdir, run_swasfs

# An STS token for the tests that look for secrets in the daemon; like the secret it must never show up.
TOKEN = "swasfs-test-token-" + "5e7a" * 32


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_help_lists_every_option(tmp_path):
    r = run_swasfs(["--help"], env=credentials_env(tmp_path))
    assert r.returncode == 0
    for opt in ["regions=", "endpoint=", "home_region=", "profile=", "cache_ttl=", "instance_ttl=", "max_cache=", "cafile=",
                "jobs=", "timeout=", "retry_budget=", "no_results", "verbose", "dumpable", "log=", "SOURCE", "SIGHUP",
                "NOTIFY_SOCKET", "sts_endpoint=", "metadata_endpoint=", "readahead=", "-f", "allow_other"]:
        assert opt in r.stdout + r.stderr, opt


def test_help_man_page_and_readme_name_the_same_options(tmp_path):
    import re
    root = Path(__file__).resolve().parent.parent
    help_text = run_swasfs(["--help"], env=credentials_env(tmp_path)).stdout
    ours = help_text.split("swasfs options")[1].split("Credentials")[0]
    names = set(re.findall(r"^ +-o ([a-z_]+)", ours, re.MULTILINE))
    assert len(names) >= 12
    man = (root / "contrib" / "swasfs.1").read_text().replace("\\-", "-").replace("\\fB", "")
    readme = (root / "README.md").read_text()
    for name in names:
        assert f"-o {name}" in man, name
        assert f"`{name}" in readme, name


def test_version(tmp_path):
    r = run_swasfs(["--version"], env=credentials_env(tmp_path))
    assert r.returncode == 0 and r.stdout.startswith("swasfs ")


def test_no_credentials_exits_1_naming_every_place_looked_at(emulator, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = credentials_env(tmp_path, ak_id=None)
    r = run_swasfs(["-f", "-o", f"endpoint={emulator.url}", str(mnt)], env=env)
    assert r.returncode == 1
    for place in ["ALIBABA_CLOUD_ACCESS_KEY_ID", ".alibabacloud/credentials", ".aliyun/config.json"]:
        assert place in r.stderr, place
    assert not os.path.ismount(mnt)


def test_rejected_credentials_exit_1_with_code_message_and_request_id(emulator, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = credentials_env(tmp_path, secret="not-the-secret-0000")
    r = run_swasfs(["-f", "-o", f"endpoint={emulator.url}", str(mnt)], env=env)
    assert r.returncode == 1
    assert "SignatureDoesNotMatch" in r.stderr and "RequestId" in r.stderr
    assert "not-the-secret-0000" not in r.stderr + r.stdout
    env = credentials_env(tmp_path, ak_id="unknown-key")
    r = run_swasfs(["-f", "-o", f"endpoint={emulator.url}", str(mnt)], env=env)
    assert r.returncode == 1 and "InvalidAccessKeyId.NotFound" in r.stderr
    assert AK_SECRET not in r.stderr + r.stdout
    assert not os.path.ismount(mnt)


def test_unreachable_endpoint_exits_1_with_curls_error(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = run_swasfs(["-f", "-o", f"endpoint=http://127.0.0.1:{free_port()},retry_budget=2,timeout=1", str(mnt)],
                   env=credentials_env(tmp_path))
    assert r.returncode == 1
    assert "cannot reach" in r.stderr and ("onnect" in r.stderr or "refused" in r.stderr)


def test_bad_option_values_are_refused(emulator, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    for bad in ["cache_ttl=0", "jobs=0", "timeout=0", "endpoint=nourl", "cafile=/nonexistent/ca.pem",
                "max_cache=", "max_cache=12Q", "max_cache=1K", "max_cache=2048G", "max_cache=-1M",
                "max_cache=99999999999999999999G"]:
        r = run_swasfs(["-f", "-o", f"endpoint={emulator.url},{bad}", str(mnt)], env=credentials_env(tmp_path))
        assert r.returncode != 0, bad
        assert r.stderr.strip(), bad


def test_credentials_from_the_ini_file(emulator, tmp_path):
    env = credentials_env(tmp_path, ak_id=None)
    cred = tmp_path / "credentials"
    cred.write_text(f"[default]\ntype = access_key\naccess_key_id = testid\naccess_key_secret = {AK_SECRET}\n")
    cred.chmod(0o600)
    env["ALIBABA_CLOUD_CREDENTIALS_FILE"] = str(cred)
    with Mount(emulator, tmp_path, env=env) as m:
        assert listdir(m.mnt)


def test_regions_option_limits_the_top_level(emulator, tmp_path):
    with Mount(emulator, tmp_path, options=["regions=cn-shanghai"]) as m:
        assert listdir(m.mnt) == ["cn-shanghai"]


def test_secret_appears_in_no_output_argv_or_mount_table(emulator, tmp_path):
    with Mount(emulator, tmp_path, options=["verbose"]) as m:
        subprocess.run(["find", str(m.mnt)], capture_output=True, check=True)
        cmdline = Path(f"/proc/{m.proc.pid}/cmdline").read_bytes()
        assert AK_SECRET.encode() not in cmdline
        assert AK_SECRET not in Path("/proc/mounts").read_text()
    log = m.log()
    # -o verbose: one line per API call with action, region, what it asked for, HTTP status,
    # milliseconds and RequestId.
    import re
    lines = re.findall(r"api: (\w+) region=(\S+)((?: \w+=\S+)*?) http=(\d+) ms=(\d+) request_id=([0-9A-F-]{36})",
                       log)
    actions = [line[0] for line in lines]
    assert actions.count("ListRegions") == 1 and "DescribeInvocations" in actions
    assert all(line[3] == "200" for line in lines)
    pages = [line[2] for line in lines if line[0] == "DescribeInvocations"]
    assert all(re.fullmatch(r" InstanceId=\S+ PageNumber=\d+", p) for p in pages), pages
    assert AK_SECRET not in log


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_unmount_cleanly(emulator, tmp_path, sig):
    m = Mount(emulator, tmp_path)
    m.start()
    listdir(m.mnt)
    m.proc.send_signal(sig)
    assert m.proc.wait(timeout=30) == 0
    assert not os.path.ismount(m.mnt)
    m.stop()


def make_ca(tmp_path):
    return make_test_ca(tmp_path / "tls")


def test_https_with_a_test_ca_and_refusal_under_the_wrong_ca(emulator_factory, tmp_path):
    tls = make_ca(tmp_path)
    emu = emulator_factory(sample=True, tls=(tls / "server.pem", tls / "server.key"))
    assert emu.url.startswith("https://")
    with Mount(emu, tmp_path, options=[f"cafile={tls / 'ca.pem'}"]) as m:
        data = emu.data()
        assert sorted(listdir(m.mnt)) == sorted(r["RegionId"] for r in data["regions"])
        reg = next(r for r in data["regions"] if r["instances"])
        assert sorted(listdir(m.path(reg["RegionId"]))) == sorted(i["InstanceId"] for i in reg["instances"])
    other = tmp_path / "other"
    other.mkdir()
    other_ca = make_ca(other)
    mnt = tmp_path / "mnt2"
    mnt.mkdir()
    r = run_swasfs(["-f", "-o", f"endpoint={emu.url},cafile={other_ca / 'ca.pem'},retry_budget=2", str(mnt)],
                   env=credentials_env(tmp_path))
    assert r.returncode == 1
    assert "cannot reach" in r.stderr and ("certificate" in r.stderr.lower() or "SSL" in r.stderr)


def test_without_f_it_daemonises_and_unmounts_cleanly(emulator, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = run_swasfs(["-o", f"endpoint={emulator.url}", str(mnt)], env=credentials_env(tmp_path))
    assert r.returncode == 0, r.stderr
    try:
        assert os.path.ismount(mnt)
        assert sorted(listdir(mnt)) == sorted(reg["RegionId"] for reg in emulator.data()["regions"])
    finally:
        subprocess.run(["fusermount3", "-u", str(mnt)], check=True)
    # The daemon goes away with its mount.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        alive = subprocess.run(["pgrep", "-f", f"swasfs.*{mnt}"], capture_output=True).returncode == 0
        if not alive:
            break
        time.sleep(0.1)
    assert not alive


def daemon_pid(mnt):
    """The pid of the one swasfs process serving @mnt (a unique temporary path)."""
    out = subprocess.run(["pgrep", "-f", f"swasfs.*{mnt}"], capture_output=True, text=True).stdout.split()
    assert len(out) == 1, out
    return int(out[0])


class Daemon:
    """swasfs in the foreground (a Mount) or daemonised (run without -f, then found by its mount point)."""

    def __init__(self, emulator, tmp_path, foreground, options=(), env=None):
        self.foreground = foreground
        self.mount = Mount(emulator, tmp_path, options=options, env=env)
        self.output = ""
        if not foreground:
            self.mount.args.remove("-f")

    def __enter__(self):
        if self.foreground:
            self.mount.start()
            self.pid = self.mount.proc.pid
        else:
            # Output to a file, not a pipe: valgrind's log descriptor outlives the parent in the daemon.
            with open(self.mount.log_path, "wb") as log:
                r = subprocess.run(mount.daemon_command(self.mount.args), stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, env=self.mount.env, timeout=120)
            self.output = self.mount.log()
            assert r.returncode == 0, self.output
            assert os.path.ismount(self.mount.mnt)
            self.pid = daemon_pid(self.mount.mnt)
        return self

    def __exit__(self, *exc):
        if self.foreground:
            self.mount.stop()
            self.output = self.mount.log()
        else:
            subprocess.run(["fusermount3", "-u", str(self.mount.mnt)], check=True)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and os.path.exists(f"/proc/{self.pid}"):
                time.sleep(0.05)
            assert not os.path.exists(f"/proc/{self.pid}"), "the daemon outlived its mount"


# Bigger mappings are a sanitizer's shadow memory, not the daemon's data (its RSS is tens of MiB).
SCAN_MAX_MAPPING = 1 << 30
SCAN_CHUNK = 16 << 20


def scan_memory(pid, needle):
    """Counts @needle in the daemon's memory, read through /proc/PID/mem as root: (inside mappings a
    core dump leaves out, i.e. MADV_DONTDUMP ones; of those, inside locked ones; everywhere else)."""
    inside = locked = outside = 0
    smaps = Path(f"/proc/{pid}/smaps").read_text()
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for block in re.split(r"\n(?=[0-9a-f]+-[0-9a-f]+ )", smaps):
            start, end, perms = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", block).groups()
            start, end = int(start, 16), int(end, 16)
            if perms[0] != "r" or "[vvar" in block.splitlines()[0] or end - start > SCAN_MAX_MAPPING:
                continue
            n, tail = 0, b""
            try:
                for pos in range(start, end, SCAN_CHUNK):
                    mem.seek(pos)
                    data = tail + mem.read(min(SCAN_CHUNK, end - pos))
                    n += data.count(needle)
                    tail = data[-(len(needle) - 1):]  # a match across chunks, counted once
            except OSError:  # [vsyscall] and the like
                continue
            flags = re.search(r"^VmFlags:(.*)", block, re.MULTILINE).group(1).split()
            if "dd" in flags:
                inside += n
                locked += n if "lo" in flags else 0
            else:
                outside += n
    return inside, locked, outside


# Under valgrind the process's environment block and memory are valgrind's, which copies both.
not_under_valgrind = pytest.mark.skipif(mount.VALGRIND, reason="valgrind keeps its own copies")


@not_under_valgrind
@pytest.mark.parametrize("foreground", [True, False], ids=["foreground", "daemonised"])
def test_secret_and_token_are_wiped_from_environ_and_in_no_cmdline_or_output(emulator_factory, tmp_path,
                                                                             foreground):
    emu = emulator_factory(sample=True, token=TOKEN)  # the pair only works with the token
    env = credentials_env(tmp_path, token=TOKEN)
    with Daemon(emu, tmp_path, foreground, options=["verbose"], env=env) as d:
        # Every listing is signed by the client built from the credentials read before the wipe.
        found = subprocess.run(["find", str(d.mount.mnt)], capture_output=True, text=True, check=True)
        assert "/Finished/" in found.stdout
        environ = Path(f"/proc/{d.pid}/environ").read_bytes()
        cmdline = Path(f"/proc/{d.pid}/cmdline").read_bytes()
    for secret in (AK_SECRET, TOKEN):
        assert secret.encode() not in environ and secret.encode() not in cmdline
        assert secret not in d.output
    # Zeroed in place (what /proc/PID/environ shows is the block execve wrote, which unsetenv leaves
    # alone); the AccessKey id and the other variables stay.
    assert b"\0ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + b"\0" * len(AK_SECRET) in environ
    assert b"\0ALIBABA_CLOUD_SECURITY_TOKEN=" + b"\0" * len(TOKEN) in environ
    assert b"\0ALIBABA_CLOUD_ACCESS_KEY_ID=testid\0" in environ
    assert f"HOME={env['HOME']}".encode() in environ


@not_under_valgrind
@pytest.mark.parametrize("foreground", [True, False], ids=["foreground", "daemonised"])
def test_the_secret_lies_only_in_memory_a_core_dump_leaves_out(emulator, tmp_path, foreground):
    with Daemon(emulator, tmp_path, foreground) as d:
        subprocess.run(["find", str(d.mount.mnt)], capture_output=True, check=True)
        inside, locked, outside = scan_memory(d.pid, AK_SECRET.encode())
        maps = Path(f"/proc/{d.pid}/maps").read_text()
    if "libasan" in maps or "libtsan" in maps:
        pytest.skip("the sanitizer runtime keeps a copy of /proc/self/environ")
    # The client's copy (and nothing else) is in the secure heap, which is MADV_DONTDUMP, and locked in
    # memory (root has no RLIMIT_MEMLOCK), in the daemonised child too, which inherits no lock.
    assert inside >= 1
    assert outside == 0
    if os.geteuid() == 0:
        assert locked == inside


NO_PTRACE = ["setpriv", "--bounding-set=-sys_ptrace"]


def memory_open_to_same_user(pid):
    """Whether a process of the daemon's user without CAP_SYS_PTRACE may open /proc/PID/mem. The kernel
    lets it (ptrace access mode READ) only if the target is dumpable and holds no capability the
    caller lacks, so the daemon must run under NO_PTRACE as well."""
    r = subprocess.run(NO_PTRACE + [sys.executable, "-c", "import sys; open(sys.argv[1], 'rb')",
                                    f"/proc/{pid}/mem"], capture_output=True, text=True)
    if r.returncode == 0:
        return True
    assert "PermissionError" in r.stderr, r.stderr
    return False


@pytest.mark.skipif(os.geteuid() != 0 or not have_tool("setpriv"), reason="needs root and setpriv")
@pytest.mark.parametrize("foreground", [True, False], ids=["foreground", "daemonised"])
@pytest.mark.parametrize("dumpable", [False, True], ids=["default", "dumpable"])
def test_the_daemon_is_not_dumpable_unless_o_dumpable(emulator, tmp_path, monkeypatch, foreground, dumpable):
    plain = mount.daemon_command
    monkeypatch.setattr(mount, "daemon_command", lambda args: NO_PTRACE + plain(args))
    options = ["dumpable"] if dumpable else []
    with Daemon(emulator, tmp_path, foreground, options=options) as d:
        assert listdir(d.mount.mnt)
        assert memory_open_to_same_user(d.pid) == dumpable
    if dumpable and foreground:
        assert "-o dumpable: core dumps and debuggers can read the AccessKey secret" in d.output
