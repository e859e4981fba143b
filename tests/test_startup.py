# SPDX-License-Identifier: MIT
"""Start-up, options, credentials, TLS and shutdown of the swasfs daemon."""
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from emulator import make_test_ca
from mount import AK_SECRET, Mount, credentials_env, run_swasfs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_help_lists_every_option(tmp_path):
    r = run_swasfs(["--help"], env=credentials_env(tmp_path))
    assert r.returncode == 0
    for opt in ["regions=", "endpoint=", "home_region=", "profile=", "cache_ttl=", "instance_ttl=", "cafile=",
                "jobs=", "timeout=", "retry_budget=", "no_results", "verbose", "-f", "allow_other"]:
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
    for bad in ["cache_ttl=0", "jobs=0", "timeout=0", "endpoint=nourl", "cafile=/nonexistent/ca.pem"]:
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
        assert os.listdir(m.mnt)


def test_regions_option_limits_the_top_level(emulator, tmp_path):
    with Mount(emulator, tmp_path, options=["regions=cn-shanghai"]) as m:
        assert os.listdir(m.mnt) == ["cn-shanghai"]


def test_secret_appears_in_no_output_argv_or_mount_table(emulator, tmp_path):
    with Mount(emulator, tmp_path, options=["verbose"]) as m:
        subprocess.run(["find", str(m.mnt)], capture_output=True, check=True)
        cmdline = Path(f"/proc/{m.proc.pid}/cmdline").read_bytes()
        assert AK_SECRET.encode() not in cmdline
        assert AK_SECRET not in Path("/proc/mounts").read_text()
    log = m.log()
    # -o verbose: one line per API call with action, region, HTTP status, milliseconds and RequestId.
    import re
    lines = re.findall(r"api: (\w+) region=(\S+) http=(\d+) ms=(\d+) request_id=([0-9A-F-]{36})", log)
    actions = [line[0] for line in lines]
    assert actions.count("ListRegions") == 1 and "DescribeInvocations" in actions
    assert all(line[2] == "200" for line in lines)
    assert AK_SECRET not in log


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_unmount_cleanly(emulator, tmp_path, sig):
    m = Mount(emulator, tmp_path)
    m.start()
    os.listdir(m.mnt)
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
        assert sorted(os.listdir(m.mnt)) == sorted(r["RegionId"] for r in data["regions"])
        reg = next(r for r in data["regions"] if r["instances"])
        assert sorted(os.listdir(m.path(reg["RegionId"]))) == sorted(i["InstanceId"] for i in reg["instances"])
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
        assert sorted(os.listdir(mnt)) == sorted(reg["RegionId"] for reg in emulator.data()["regions"])
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
