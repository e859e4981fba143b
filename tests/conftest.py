# SPDX-License-Identifier: MIT
"""Fixtures shared by every pytest module: the SWAS emulator.

``emulator``: one emulator with the built-in sample data, started before and
stopped after the test. ``emulator_factory(**kw)``: starts as many as a test
wants (keywords as ``Emulator.start``: sample, data, generate, seed, tls,
token, sts, ...), all stopped after the test. The key pair is tests/emulator.py's
AK_ID/AK_SECRET, the same as tests/mount.py's. Mount fixtures live elsewhere.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emulator import Emulator  # noqa: E402


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
