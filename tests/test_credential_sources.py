# SPDX-License-Identifier: MIT
"""Every credential source of the official default chain, mounted against the emulator (which plays
SWAS, STS, the ECS metadata service and a credentials URI on one port): the chain's order, every CLI
mode and ini type, renewal of short-lived keys across walks, a rewritten key file picked up without a
remount, and no secret in the daemon's output or environment.

Network traffic goes to 127.0.0.1 only: STS through -o sts_endpoint, the metadata service through
-o metadata_endpoint; every other test keeps ALIBABA_CLOUD_ECS_METADATA_DISABLED=true (mount.py)."""
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from mount import AK_ID, AK_SECRET, Mount, credentials_env, run_reader, run_swasfs, safe_sleep

ROLE = "acs:ram::1234567890123456:role/swasfs-test"
OIDC_PROVIDER = "acs:ram::1234567890123456:oidc-provider/swasfs-test"
OIDC_TOKEN = "eyJhbGciOiJSUzI1NiJ9.swasfs-oidc-token-7c3e9b.sig"
# An STS token of a static StsToken/sts source, as secret as the secret.
STATIC_TOKEN = "swasfs-static-token-" + "a1b2" * 20


def bare_env(tmp_path):
    """No credentials at all, an empty HOME, the metadata service off."""
    return credentials_env(tmp_path, ak_id=None)


def home(env):
    return Path(env["HOME"])


def write_cli(env, profiles, current=None):
    d = home(env) / ".aliyun"
    d.mkdir(exist_ok=True)
    path = d / "config.json"
    path.write_text(json.dumps({"current": current or profiles[0]["name"], "profiles": profiles,
                                "meta_path": ""}, indent="\t"))
    path.chmod(0o600)
    return path


def write_ini(env, text):
    d = home(env) / ".alibabacloud"
    d.mkdir(exist_ok=True)
    path = d / "credentials"
    path.write_text(text)
    path.chmod(0o600)
    return path


def ak_profile(name="ak"):
    return {"name": name, "mode": "AK", "access_key_id": AK_ID, "access_key_secret": AK_SECRET}


def mounted_source(emulator, tmp_path, env, options=()):
    """Mounts, lists a region, and returns the source the daemon names in its verbose log."""
    with Mount(emulator, tmp_path, env=env, options=["verbose", *options]) as m:
        assert "cn-hangzhou" in os.listdir(m.mnt)
        assert os.listdir(m.path("cn-hangzhou"))
        log = m.log()
    for line in log.splitlines():
        if "credentials from " in line:
            return line.split("credentials from ", 1)[1]
    raise AssertionError("no 'credentials from' line:\n" + log)


def sts_calls(emulator, action="AssumeRole"):
    return emulator.counters()["by_action"].get(action, 0)


def check_no_secrets(emulator, text, extra=()):
    """No secret the emulator knows (base keys, every key it issued, their tokens) is in @text."""
    for k in emulator.keys():
        assert k["secret"] not in text, f"the secret of {k['ak_id']} appeared"
        if k["token"]:
            assert k["token"] not in text, f"the token of {k['ak_id']} appeared"
    for s in (AK_SECRET, OIDC_TOKEN, STATIC_TOKEN, *extra):
        assert s not in text


def expect_refused(emulator, tmp_path, env, *needles, options=()):
    mnt = tmp_path / "mnt-refused"
    mnt.mkdir(exist_ok=True)
    r = run_swasfs(["-f", "-o", ",".join([f"endpoint={emulator.url}", *options]), str(mnt)], env=env)
    assert r.returncode == 1, r.stderr
    for n in needles:
        assert n in r.stderr, (n, r.stderr)
    check_no_secrets(emulator, r.stderr + r.stdout)
    assert not os.path.ismount(mnt)
    return r.stderr


# ---- 1. the environment ----

def test_environment_access_key(emulator, tmp_path):
    assert mounted_source(emulator, tmp_path, credentials_env(tmp_path)).startswith("environment")


# ---- 2. OIDC from the environment ----

def oidc_env(tmp_path, env):
    token = tmp_path / "oidc-token"
    token.write_text(OIDC_TOKEN)
    env.update(ALIBABA_CLOUD_ROLE_ARN=ROLE, ALIBABA_CLOUD_OIDC_PROVIDER_ARN=OIDC_PROVIDER,
               ALIBABA_CLOUD_OIDC_TOKEN_FILE=str(token))
    return token


def test_oidc_from_the_environment_assumes_the_role_unsigned(emulator_factory, tmp_path):
    token = tmp_path / "expected-token"
    token.write_text(OIDC_TOKEN)
    emu = emulator_factory("--oidc-token-file", str(token))
    env = bare_env(tmp_path)
    oidc_env(tmp_path, env)
    src = mounted_source(emu, tmp_path, env, [f"sts_endpoint={emu.url}"])
    assert "AssumeRoleWithOIDC" in src and ROLE in src
    assert sts_calls(emu, "AssumeRoleWithOIDC") == 1
    # A token the emulator does not accept: exit 1 with STS's Code, never the token.
    (tmp_path / "oidc-token").write_text("not-the-token")
    expect_refused(emu, tmp_path, env, "AuthenticationFail.OIDCToken.Invalid", "RequestId",
                   options=[f"sts_endpoint={emu.url}"])


# ---- 3. the aliyun CLI config, one test per mode ----

def test_cli_mode_ak(emulator, tmp_path):
    env = bare_env(tmp_path)
    write_cli(env, [ak_profile()])
    assert "config.json profile \"ak\"" in mounted_source(emulator, tmp_path, env)


def test_cli_mode_sts_token(emulator_factory, tmp_path):
    emu = emulator_factory(token=STATIC_TOKEN)
    env = bare_env(tmp_path)
    write_cli(env, [{"name": "sts", "mode": "StsToken", "access_key_id": AK_ID, "access_key_secret": AK_SECRET,
                     "sts_token": STATIC_TOKEN}])
    assert "profile \"sts\"" in mounted_source(emu, tmp_path, env)


def test_cli_mode_ram_role_arn(emulator, tmp_path):
    env = bare_env(tmp_path)
    write_cli(env, [{"name": "role", "mode": "RamRoleArn", "access_key_id": AK_ID, "access_key_secret": AK_SECRET,
                     "ram_role_arn": ROLE, "ram_session_name": "swasfs-cli", "expired_seconds": 1800}])
    src = mounted_source(emulator, tmp_path, env, [f"sts_endpoint={emulator.url}"])
    assert src.startswith(f"STS AssumeRole {ROLE}") and "profile \"role\"" in src
    assert sts_calls(emulator) == 1


def test_cli_mode_chainable_ram_role_arn(emulator, tmp_path):
    env = bare_env(tmp_path)
    second = ROLE + "-second"
    write_cli(env, [{"name": "chain2", "mode": "ChainableRamRoleArn", "source_profile": "chain1",
                     "ram_role_arn": second},
                    {"name": "chain1", "mode": "ChainableRamRoleArn", "source_profile": "ak",
                     "ram_role_arn": ROLE},
                    ak_profile()])
    src = mounted_source(emulator, tmp_path, env, [f"sts_endpoint={emulator.url}"])
    # Two AssumeRole calls: the first signed with the AK, the second with the first's STS key and token.
    assert src.startswith(f"STS AssumeRole {second}") and f"STS AssumeRole {ROLE}" in src
    assert sts_calls(emulator) == 2


def test_cli_mode_ecs_ram_role(emulator, tmp_path):
    env = bare_env(tmp_path)
    env.pop("ALIBABA_CLOUD_ECS_METADATA_DISABLED")
    write_cli(env, [{"name": "ecs", "mode": "EcsRamRole", "ram_role_name": "swas-ecs-role"}])
    src = mounted_source(emulator, tmp_path, env, [f"metadata_endpoint={emulator.url}"])
    assert "ECS RAM role swas-ecs-role" in src
    c = emulator.counters()["by_action"]
    assert c.get("MetadataToken", 0) >= 1 and c.get("MetadataCredentials", 0) == 1
    assert c.get("MetadataRole", 0) == 0   # the profile names the role


def test_cli_mode_oidc(emulator, tmp_path):
    env = bare_env(tmp_path)
    token = tmp_path / "token"
    token.write_text(OIDC_TOKEN)
    write_cli(env, [{"name": "oidc", "mode": "OIDC", "ram_role_arn": ROLE, "oidc_provider_arn": OIDC_PROVIDER,
                     "oidc_token_file": str(token)}])
    assert "AssumeRoleWithOIDC" in mounted_source(emulator, tmp_path, env, [f"sts_endpoint={emulator.url}"])
    assert sts_calls(emulator, "AssumeRoleWithOIDC") == 1


def test_cli_mode_credentials_uri(emulator, tmp_path):
    env = bare_env(tmp_path)
    write_cli(env, [{"name": "uri", "mode": "CredentialsURI", "credentials_uri": emulator.url + "/credentials-uri"}])
    assert "credentials URI" in mounted_source(emulator, tmp_path, env)
    assert emulator.counters()["by_action"].get("CredentialsURI") == 1


@pytest.mark.parametrize("mode,needle", [
    ("CloudSSO", "mode CloudSSO is not supported"),
    ("OAuth", "mode OAuth is not supported"),
    ("External", "mode External is refused: it would run the command the file names"),
])
def test_cli_refused_modes_exit_1_with_a_clear_message(emulator, tmp_path, mode, needle):
    env = bare_env(tmp_path)
    marker = tmp_path / "must-not-exist"
    write_cli(env, [{"name": "p", "mode": mode, "process_command": f"touch {marker}",
                     "oauth_site_type": "CN"}])
    expect_refused(emulator, tmp_path, env, needle, "config.json")
    assert not marker.exists()


# ---- 4. the ini file, one test per type ----

def test_ini_type_sts(emulator_factory, tmp_path):
    emu = emulator_factory(token=STATIC_TOKEN)
    env = bare_env(tmp_path)
    write_ini(env, f"[default]\ntype = sts\naccess_key_id = {AK_ID}\naccess_key_secret = {AK_SECRET}\n"
                   f"security_token = {STATIC_TOKEN}\n")
    assert ".alibabacloud/credentials section \"default\"" in mounted_source(emu, tmp_path, env)


def test_ini_type_ram_role_arn(emulator, tmp_path):
    env = bare_env(tmp_path)
    write_ini(env, f"[default]\ntype = ram_role_arn\naccess_key_id = {AK_ID}\naccess_key_secret = {AK_SECRET}\n"
                   f"role_arn = {ROLE}\nrole_session_name = swasfs-ini\n")
    assert mounted_source(emulator, tmp_path, env, [f"sts_endpoint={emulator.url}"]).startswith(
        f"STS AssumeRole {ROLE}")
    assert sts_calls(emulator) == 1


def test_ini_type_ecs_ram_role(emulator, tmp_path):
    env = bare_env(tmp_path)
    env.pop("ALIBABA_CLOUD_ECS_METADATA_DISABLED")
    write_ini(env, "[default]\ntype = ecs_ram_role\n")
    src = mounted_source(emulator, tmp_path, env, [f"metadata_endpoint={emulator.url}"])
    assert "ECS RAM role" in src
    # No role_name: the metadata service was asked for it.
    assert emulator.counters()["by_action"].get("MetadataRole", 0) == 1


# ---- 5. the ECS metadata service ----

def test_ecs_metadata_with_an_imdsv2_token(emulator_factory, tmp_path):
    emu = emulator_factory("--imdsv2-required", "--ecs-role", "swas-role-v2")
    env = bare_env(tmp_path)
    env.pop("ALIBABA_CLOUD_ECS_METADATA_DISABLED")
    env["ALIBABA_CLOUD_IMDSV1_DISABLED"] = "true"
    src = mounted_source(emu, tmp_path, env, [f"metadata_endpoint={emu.url}"])
    assert "the ECS RAM role (as named)" in src
    c = emu.counters()["by_action"]
    assert c.get("MetadataToken") == 2 and c.get("MetadataRole") == 1 and c.get("MetadataCredentials") == 1
    # ALIBABA_CLOUD_ECS_METADATA names the role: nobody asks for it.
    env["ALIBABA_CLOUD_ECS_METADATA"] = "swas-role-v2"
    emu.reset_counters()
    mounted_source(emu, tmp_path, env, [f"metadata_endpoint={emu.url}"])
    assert emu.counters()["by_action"].get("MetadataRole", 0) == 0


def test_stats_json_counts_the_sts_and_metadata_requests(emulator_factory, tmp_path):
    """Every HTTP request counts in stats.json, the credential providers' too."""
    emu = emulator_factory("--ecs-role", "swas-role-stats")
    env = bare_env(tmp_path)
    env.pop("ALIBABA_CLOUD_ECS_METADATA_DISABLED")
    with Mount(emu, tmp_path, env=env, options=[f"metadata_endpoint={emu.url}"]) as m:
        os.listdir(m.path("cn-hangzhou"))
        st = json.loads(m.path(".swasfs", "stats.json").read_text())
        c = emu.counters()["by_action"]
        for action in ("MetadataToken", "MetadataRole", "MetadataCredentials", "ListRegions", "ListInstances"):
            assert st["api"]["requests"][action]["ok"] == c.get(action, 0), (action, st["api"], c)
        assert st["api"]["requests"]["MetadataCredentials"]["ok"] >= 1
    env = bare_env(tmp_path)
    write_cli(env, [{"name": "role", "mode": "RamRoleArn", "access_key_id": AK_ID, "access_key_secret": AK_SECRET,
                     "ram_role_arn": ROLE, "ram_session_name": "swasfs-stats", "expired_seconds": 1800}])
    (tmp_path / "b").mkdir()
    emu.reset_counters()
    with Mount(emu, tmp_path / "b", env=env, options=[f"sts_endpoint={emu.url}"]) as m:
        st = json.loads(m.path(".swasfs", "stats.json").read_text())
        assert st["api"]["requests"]["AssumeRole"]["ok"] == sts_calls(emu) == 1


def test_ecs_metadata_disabled_is_skipped_and_unreachable_goes_on(emulator, tmp_path):
    env = bare_env(tmp_path)
    err = expect_refused(emulator, tmp_path, env, "ALIBABA_CLOUD_ECS_METADATA_DISABLED=true",
                         "ALIBABA_CLOUD_CREDENTIALS_URI (not set)")
    # Enabled but nothing listens there: looked at, then the chain goes on to the URI.
    env.pop("ALIBABA_CLOUD_ECS_METADATA_DISABLED")
    env["ALIBABA_CLOUD_CREDENTIALS_URI"] = emulator.url + "/credentials-uri"
    src = mounted_source(emulator, tmp_path, env, ["metadata_endpoint=http://127.0.0.1:9"])
    assert "credentials URI" in src, err


# ---- 6. a credentials URI ----

def test_credentials_uri_from_the_environment(emulator, tmp_path):
    env = bare_env(tmp_path)
    env["ALIBABA_CLOUD_CREDENTIALS_URI"] = emulator.url + "/credentials-uri"
    assert mounted_source(emulator, tmp_path, env).startswith("the credentials URI")


# ---- the chain's order ----

def test_chain_order_is_the_official_one(emulator, tmp_path):
    """env, then OIDC, then the CLI config, then the ini file, then the metadata service, then the URI."""
    env = credentials_env(tmp_path)
    env.pop("ALIBABA_CLOUD_ECS_METADATA_DISABLED")
    oidc_env(tmp_path, env)
    write_cli(env, [ak_profile("cli")])
    write_ini(env, f"[default]\ntype = access_key\naccess_key_id = {AK_ID}\naccess_key_secret = {AK_SECRET}\n")
    env["ALIBABA_CLOUD_CREDENTIALS_URI"] = emulator.url + "/credentials-uri"
    opts = [f"sts_endpoint={emulator.url}", f"metadata_endpoint={emulator.url}"]
    order = []
    for drop in [("ALIBABA_CLOUD_ACCESS_KEY_ID",), ("ALIBABA_CLOUD_ROLE_ARN",), ("CLI",), ("INI",),
                 ("METADATA",), None]:
        order.append(mounted_source(emulator, tmp_path, env, opts))
        if drop == ("CLI",):
            env["ALIBABA_CLOUD_CLI_PROFILE_DISABLED"] = "true"
        elif drop == ("INI",):
            (home(env) / ".alibabacloud" / "credentials").unlink()
        elif drop == ("METADATA",):
            env["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"
        elif drop:
            env.pop(drop[0])
    assert order[0].startswith("environment")
    assert "AssumeRoleWithOIDC" in order[1]
    assert "config.json profile \"cli\"" in order[2]
    assert ".alibabacloud/credentials" in order[3]
    assert "ECS RAM role" in order[4]
    assert "credentials URI" in order[5]


# ---- renewal, re-reading, refusals ----

def walk(m, seconds, period=1.0):
    """Walks the tree (every command read) for @seconds; returns the walks made. Any error fails."""
    end, walks = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        r = run_reader(["sh", "-c", f"find {m.mnt} -name command -exec cat {{}} + >/dev/null && ls -R {m.mnt} >/dev/null"],
                       timeout=60, mounts=[m], text=True)
        assert r.returncode == 0, f"walk {walks}: {r.stderr}"
        assert "Permission denied" not in r.stderr
        walks += 1
        time.sleep(period)
    return walks


def expect_renewals(emu, m, lifetime, rounds):
    walks = walk(m, lifetime * rounds + 2)
    keys = [k for k in emu.keys() if k["ak_id"].startswith("STS.")]
    issued = emu.counters()["issued_keys"]
    refused = emu.counters()["refused"]
    assert issued >= rounds + 1, (issued, walks)
    # Renewed before expiry: no request was ever made with an expired key.
    assert refused.get("InvalidSecurityToken.Expired", 0) == 0, refused
    check_no_secrets(emu, m.log() + Path(f"/proc/{m.proc.pid}/environ").read_text(errors="replace"))
    return keys


# Renewal comes when a third of a key's life is left (at most the official margin): 4 s before a
# 12 s key expires, several walks' worth, however loaded the machine.
LIFETIME = 12


@pytest.mark.long
def test_sts_and_metadata_keys_of_12_seconds_are_renewed_across_three_lifetimes(emulator_factory, tmp_path):
    """STS (an ini ram_role_arn) and the metadata service (IMDSv2), each on a mount of its own, walked
    at the same time: three lifetimes each, zero EACCES, no request with an expired key."""
    sts_emu = emulator_factory("--sts-lifetime", str(LIFETIME))
    md_emu = emulator_factory("--sts-lifetime", str(LIFETIME), "--imdsv2-required")
    dirs = {name: tmp_path / name for name in ("sts", "metadata")}
    for d in dirs.values():
        d.mkdir()
    sts_env = bare_env(dirs["sts"])
    write_ini(sts_env, f"[default]\ntype = ram_role_arn\naccess_key_id = {AK_ID}\n"
                       f"access_key_secret = {AK_SECRET}\nrole_arn = {ROLE}\n")
    md_env = bare_env(dirs["metadata"])
    md_env.pop("ALIBABA_CLOUD_ECS_METADATA_DISABLED")
    errors = []

    def renewals(emu, m):
        try:
            expect_renewals(emu, m, LIFETIME, 3)
        except BaseException as e:  # re-raised in the test's thread
            errors.append(e)

    with Mount(sts_emu, dirs["sts"], env=sts_env, cache_ttl=1,
               options=[f"sts_endpoint={sts_emu.url}", "verbose"]) as a, \
            Mount(md_emu, dirs["metadata"], env=md_env, cache_ttl=1,
                  options=[f"metadata_endpoint={md_emu.url}", "verbose"]) as b:
        threads = [threading.Thread(target=renewals, args=(sts_emu, a)),
                   threading.Thread(target=renewals, args=(md_emu, b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        assert not any(t.is_alive() for t in threads), "a walk loop did not end"
        if errors:
            raise errors[0]
        assert sts_calls(sts_emu) >= 4
        assert md_emu.counters()["by_action"].get("MetadataCredentials", 0) >= 4


def rotate(path, ak_id, secret):
    """A new file in place of the old (a new inode, as editors and key-rotation tools do)."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(f"[default]\ntype = access_key\naccess_key_id = {ak_id}\naccess_key_secret = {secret}\n")
    tmp.chmod(0o600)
    os.replace(tmp, path)


NEW_ID, NEW_SECRET = "rotated-id", "swasfs-rotated-secret-44e1"


def test_a_rewritten_credentials_file_is_used_without_a_remount(emulator, tmp_path):
    """Rotation as it should be done: the new key works before the old one is revoked. The daemon
    notices the file within a second and signs with the new key, so revoking the old costs nothing."""
    env = bare_env(tmp_path)
    path = write_ini(env, f"[default]\ntype = access_key\naccess_key_id = {AK_ID}\naccess_key_secret = {AK_SECRET}\n")
    emulator.add_key(NEW_ID, NEW_SECRET)
    with Mount(emulator, tmp_path, env=env, cache_ttl=1, options=["verbose"]) as m:
        walk(m, 1)
        rotate(path, NEW_ID, NEW_SECRET)
        safe_sleep(2.5)
        emulator.revoke_key(AK_ID)
        emulator.reset_counters()
        walk(m, 3)
        c = emulator.counters()
        assert c["by_status"].get("200", 0) > 0
        assert c["refused"] == {}, c["refused"]
        assert "changed: read again, a new key" in m.log()
        check_no_secrets(emulator, m.log(), extra=(NEW_SECRET,))


def test_a_refused_key_makes_the_file_read_again_and_the_call_retried(emulator, tmp_path):
    """A key changed in a way the once-a-second check cannot see (same inode, size and mtime), the old
    one revoked: only the API's InvalidAccessKeyId.NotFound can make the daemon read the file again,
    and it does, and retries the call: no EACCES."""
    env = bare_env(tmp_path)
    path = write_ini(env, f"[default]\ntype = access_key\naccess_key_id = {AK_ID}\naccess_key_secret = {AK_SECRET}\n")
    hidden_id, hidden_secret = "z" * len(AK_ID), "swasfs-hidden-" + "9" * (len(AK_SECRET) - 14)
    emulator.add_key(hidden_id, hidden_secret)
    with Mount(emulator, tmp_path, env=env, cache_ttl=1, options=["verbose"]) as m:
        walk(m, 1)
        st = path.stat()
        with open(path, "r+") as f:
            f.write(f"[default]\ntype = access_key\naccess_key_id = {hidden_id}\naccess_key_secret = {hidden_secret}\n")
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert (path.stat().st_size, path.stat().st_mtime_ns, path.stat().st_ino) == \
            (st.st_size, st.st_mtime_ns, st.st_ino)
        safe_sleep(1.5)   # the check ran and saw nothing
        emulator.revoke_key(AK_ID)
        emulator.reset_counters()
        walk(m, 3)
        c = emulator.counters()
        assert c["refused"].get("InvalidAccessKeyId.NotFound", 0) >= 1, c["refused"]
        assert c["by_status"].get("200", 0) > 0
        assert "changed: read again, a new key" in m.log()
        check_no_secrets(emulator, m.log(), extra=(hidden_secret,))


def test_a_refused_sts_key_is_renewed_once_and_the_call_retried(emulator_factory, tmp_path):
    """A temporary key the server refuses (here: revoked under the daemon) makes it renew and retry
    once, before anything answers EACCES."""
    emu = emulator_factory()
    env = bare_env(tmp_path)
    write_cli(env, [{"name": "role", "mode": "RamRoleArn", "access_key_id": AK_ID, "access_key_secret": AK_SECRET,
                     "ram_role_arn": ROLE}])
    with Mount(emu, tmp_path, env=env, cache_ttl=1, options=[f"sts_endpoint={emu.url}", "verbose"]) as m:
        walk(m, 1)
        for k in emu.keys():
            if k["ak_id"].startswith("STS."):
                emu.revoke_key(k["ak_id"])
        emu.reset_counters()
        walk(m, 3)
        c = emu.counters()
        assert c["refused"].get("InvalidAccessKeyId.NotFound", 0) >= 1
        assert c["by_action"].get("AssumeRole", 0) >= 1


def test_no_secret_in_output_or_environ(emulator_factory, tmp_path):
    emu = emulator_factory(token=STATIC_TOKEN)
    env = credentials_env(tmp_path, token=STATIC_TOKEN)
    with Mount(emu, tmp_path, env=env, options=["verbose"]) as m:
        subprocess.run(["find", str(m.mnt)], capture_output=True, check=True)
        environ = Path(f"/proc/{m.proc.pid}/environ").read_bytes().decode(errors="replace")
        cmdline = Path(f"/proc/{m.proc.pid}/cmdline").read_bytes().decode(errors="replace")
        check_no_secrets(emu, environ + cmdline + m.log())
    # The same for a role: its temporary secret and token stay out too.
    emu2 = emulator_factory()
    env = bare_env(tmp_path)
    write_cli(env, [{"name": "role", "mode": "RamRoleArn", "access_key_id": AK_ID, "access_key_secret": AK_SECRET,
                     "ram_role_arn": ROLE}])
    with Mount(emu2, tmp_path, env=env, options=["verbose", f"sts_endpoint={emu2.url}"]) as m:
        subprocess.run(["find", str(m.mnt)], capture_output=True, check=True)
        environ = Path(f"/proc/{m.proc.pid}/environ").read_bytes().decode(errors="replace")
        check_no_secrets(emu2, environ + m.log())


def test_sts_endpoint_and_metadata_endpoint_must_be_urls(emulator, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    for bad in ["sts_endpoint=nourl", "metadata_endpoint=100.100.100.200"]:
        r = run_swasfs(["-f", "-o", f"endpoint={emulator.url},{bad}", str(mnt)], env=credentials_env(tmp_path))
        assert r.returncode == 1 and "must be URLs" in r.stderr, bad


# ---- the official library against the emulator ----

SDK_DIR = Path(__file__).resolve().parent / "sdk"


def test_the_official_credentials_library_is_accepted_by_the_emulator(emulator_factory, tmp_path):
    """What @alicloud/credentials sends to STS, the metadata service and a credentials URI, the emulator
    accepts, and its answers satisfy the library: the emulator plays them as swasfs's tests need."""
    import shutil
    from emulator import make_test_ca
    if shutil.which("node") is None or shutil.which("openssl") is None:
        pytest.skip("node or openssl is not installed")
    if not (SDK_DIR / "node_modules" / "@alicloud" / "credentials").is_dir():
        pytest.skip("the SDK is not installed: cd tests/sdk && npm install --no-audit --no-fund")
    tls = make_test_ca(tmp_path / "tls")
    token = tmp_path / "oidc-token"
    token.write_text(OIDC_TOKEN)
    emu = emulator_factory("--imdsv2-required", "--oidc-token-file", str(token),
                           tls=(tls / "server.pem", tls / "server.key"))
    host = emu.url.split("://", 1)[1]
    env = dict(os.environ, SDK_TEST_AK_ID=AK_ID, SDK_TEST_AK_SECRET=AK_SECRET,
               NODE_EXTRA_CA_CERTS=str(tls / "ca.pem"))
    p = subprocess.run(["node", "credentials-check.js", "--host", host, "--oidc-token-file", str(token)],
                       cwd=SDK_DIR, env=env, capture_output=True, text=True, timeout=120)
    lines = p.stdout.splitlines()
    assert p.returncode == 0 and not [x for x in lines if x.startswith("not ok")], p.stdout + p.stderr[-2000:]
    assert lines[-1] == "1..6", p.stdout
    c = emu.counters()["by_action"]
    assert c.get("AssumeRole") == 2 and c.get("AssumeRoleWithOIDC") == 1 and c.get("CredentialsURI") == 1
    assert c.get("MetadataCredentials") == 2
