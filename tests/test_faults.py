# SPDX-License-Identifier: MIT
"""Backups under a flaky API: `rsync -a` of the whole mount while the emulator
fails a mix of requests (503s, throttling, truncated bodies) is byte for byte
and time for time the copy a fault-free mount gives."""
import subprocess

import pytest

from mount import Mount, have_tool

MIX = {"5xx": 0.2, "throttle": 0.1, "truncate": 0.02}


def rsync(m, dest):
    p = subprocess.run(["rsync", "-a", f"{m.mnt}/", f"{dest}/"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return dest


@pytest.mark.long
@pytest.mark.skipif(not have_tool("rsync"), reason="needs rsync")
def test_rsync_under_a_fault_mix_copies_exactly_what_a_fault_free_mount_gives(emulator_factory, tmp_path):
    emu = emulator_factory(generate="1:3:40", seed=11)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    emu.set_fault_mix(MIX)
    emu.reset_counters()
    with Mount(emu, tmp_path / "a", options=["retry_budget=60"], allow=[r"failed", r"failing"]) as m:
        flaky = rsync(m, tmp_path / "flaky")
    faulted = emu.counters()
    emu.set_fault_mix({})
    with Mount(emu, tmp_path / "b") as m:
        clean = rsync(m, tmp_path / "clean")
    # The mix really bit: a good share of the requests were refused.
    refused = sum(n for status, n in faulted["by_status"].items() if status != "200")
    assert refused >= faulted["total"] * 0.15, faulted["by_status"]
    assert faulted["by_action"].get("DescribeInvocationResult", 0) >= 120
    # Same tree, same bytes, same times and modes (rsync's own itemized
    # dry-run compares them all; -c adds the contents).
    p = subprocess.run(["rsync", "-a", "-c", "-n", "-i", "--delete", f"{flaky}/", f"{clean}/"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    # The root's and the region's mtime are the mount's time, by design.
    # So are .by-name's, and an .instance.json's is when this mount first saw it
    # (README "Finding things"); their contents are compared (-c) all the same.
    diffs = [line for line in p.stdout.splitlines()
             if line not in (".d..t...... ./", ".d..t...... cn-hangzhou/")
             and not (line[:11] in (".d..t......", ".f..t......")
                      and (line.endswith("/.by-name/") or line.endswith("/.instance.json")))]
    assert diffs == [], "the copies differ:\n" + "\n".join(diffs[:50])
    files = subprocess.run(["find", str(clean), "-type", "f", "!", "-name", ".instance.json"],
                           capture_output=True, text=True).stdout.split()
    assert len(files) == 3 * 40 * 5
