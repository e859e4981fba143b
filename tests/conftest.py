# SPDX-License-Identifier: MIT
"""Fixtures and hooks shared by every pytest module.

``emulator``: one emulator with the built-in sample data, started before and
stopped after the test. ``emulator_factory(**kw)``: starts as many as a test
wants (keywords as ``Emulator.start``: sample, data, generate, seed, tls,
token, sts, ...), all stopped after the test. The key pair is tests/emulator.py's
AK_ID/AK_SECRET, the same as tests/mount.py's. Mount fixtures live elsewhere.

``iterations``: how many times a repetition test repeats, from
SWASFS_TEST_ITERATIONS (default 1; raise it locally to hunt a rare race).

Tests marked ``long`` run only against the plain daemon: with SWASFS_BIN
built with a sanitizer, or TEST_WITH_VALGRIND=1, they are skipped.

After every test, ``_no_stuck_readers`` fails it if tests/mount.py's watchdog
found a stuck reader nobody took, and kills what the test spawned and left
running; a leftover that survives SIGKILL fails the test too. At the end, a
FUSE mount left under the session's temporary directory is unmounted and
fails the run: the next session's clean-up of old temporary directories would
walk into it, and hang if its daemon is stuck.
"""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mount  # noqa: E402
from emulator import Emulator  # noqa: E402


def pytest_collection_modifyitems(config, items):
    why = None
    if mount.VALGRIND:
        why = "long test: plain build only, not under valgrind"
    elif mount.SANITIZER:
        why = f"long test: plain build only, not under the {mount.SANITIZER} sanitizer"
    if why is None:
        return
    for item in items:
        if item.get_closest_marker("long") is not None:
            item.add_marker(pytest.mark.skip(reason=why))


@pytest.fixture(autouse=True)
def _no_stuck_readers():
    mount.WATCHDOG.take()   # a finding left by an earlier test is that test's, and was reported there
    before = mount.descendants(os.getpid())
    yield
    # Autouse fixtures are torn down last: the emulators and mounts are gone by now, so
    # any process spawned during the test still alive is a leftover reader.
    left = sorted(mount.descendants(os.getpid()) - before)
    survived = mount.kill_and_wait(left) if left else None
    trips = mount.WATCHDOG.take()
    if survived:
        trips.append(f"a process the test left running {survived}")
    if trips:
        pytest.fail("\n".join(trips), pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    factory = getattr(session.config, "_tmp_path_factory", None)
    base = getattr(factory, "_basetemp", None)   # None: no test asked for a temporary directory
    if base is None:
        return
    left = mount.fuse_mounts_under(base)
    for point in left:
        rc, out = mount.run_bounded(["fusermount3", "-uz", point], mount.UNMOUNT_TIMEOUT)
        print(f"\nswasfs tests: a test left {point} mounted; lazily unmounted "
              f"({'ok' if rc == 0 else out.strip()})", file=sys.stderr)
    if left:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def iterations():
    n = os.environ.get("SWASFS_TEST_ITERATIONS", "1")
    if not n.isdigit() or int(n) < 1:
        raise pytest.UsageError(f"SWASFS_TEST_ITERATIONS must be a positive integer, not {n!r}")
    return int(n)


@pytest.fixture
def emulator_factory(tmp_path):
    started = []

    def start(*args, **kw):
        d = tmp_path / f"emulator{len(started)}"
        d.mkdir()
        emu = Emulator()
        started.append(emu)
        return emu.start(d, *args, **kw)

    yield start
    for emu in started:
        emu.stop()


@pytest.fixture
def emulator(emulator_factory):
    return emulator_factory(sample=True)
