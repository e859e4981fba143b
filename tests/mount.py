# SPDX-License-Identifier: MIT
"""Mounting swasfs for tests, the way libfuse's and sshfs's test suites do.

A Mount starts the daemon in the foreground against an emulator, waits until
the mount point is really mounted (failing fast if the daemon died), and on
stop always unmounts with ``fusermount3 -u``, asserts the daemon exited 0, and
falls back to ``-z`` and a kill if it did not. Its stderr goes to a file that
``check_log`` scans for lines no test expects (errors, leaks, sanitizer or
valgrind reports).
"""
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SWASFS = Path(os.environ.get("SWASFS_BIN", ROOT / "build" / "swasfs"))
# TEST_WITH_VALGRIND=1 runs the daemon under memcheck (slow; CI does it once).
VALGRIND = os.environ.get("TEST_WITH_VALGRIND", "") not in ("", "0")

AK_ID = "testid"
AK_SECRET = "swasfs-test-secret-8d1f0a"  # must never show up in any output

BAD_LINE = re.compile(
    r"error|leak|Assertion|AddressSanitizer|LeakSanitizer|runtime error|"
    r"Invalid (read|write|free)|uninitialised|definitely lost|ERROR SUMMARY: [1-9]",
    re.IGNORECASE)


def credentials_env(tmp_path, ak_id=AK_ID, secret=AK_SECRET, token=None):
    """An environment with only the given credentials and an empty HOME."""
    home = Path(tmp_path) / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "ALICLOUD_"))}
    env["HOME"] = str(home)
    if ak_id is not None:
        env["ALIBABA_CLOUD_ACCESS_KEY_ID"] = ak_id
        env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = secret
    if token is not None:
        env["ALIBABA_CLOUD_SECURITY_TOKEN"] = token
    return env


def safe_sleep(seconds):
    """Sleeps at least @seconds even if interrupted (TTL expiry tests)."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(left)


def daemon_command(args):
    cmd = [str(SWASFS)] + list(args)
    if VALGRIND:
        cmd = ["valgrind", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite",
               "--show-leak-kinds=definite", "-q"] + cmd
    return cmd


class Mount:
    def __init__(self, emulator, tmp_path, options=(), env=None, home_region="cn-hangzhou",
                 cache_ttl=60, allow=()):
        self.emulator = emulator
        self.tmp_path = Path(tmp_path)
        self.mnt = self.tmp_path / "mnt"
        self.mnt.mkdir(exist_ok=True)
        self.log_path = self.tmp_path / "swasfs.log"
        self.env = env if env is not None else credentials_env(tmp_path)
        opts = [f"endpoint={emulator.url}", f"home_region={home_region}", f"cache_ttl={cache_ttl}"]
        opts += list(options)
        self.args = ["-f", "-o", ",".join(opts), str(self.mnt)]
        self.allow = [re.compile(a) for a in allow]
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def path(self, *parts):
        return self.mnt.joinpath(*parts)

    def start(self, timeout=30):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(daemon_command(self.args), stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout * (4 if VALGRIND else 1)
        while time.monotonic() < deadline:
            if os.path.ismount(self.mnt):
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"swasfs exited with {self.proc.returncode} before mounting:\n{self.log()}")
            time.sleep(0.05)
        self._force_cleanup()
        raise AssertionError(f"swasfs did not mount within {timeout} s:\n{self.log()}")

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, check=True):
        if self.proc is None:
            return
        try:
            if os.path.ismount(self.mnt):
                subprocess.run(["fusermount3", "-u", str(self.mnt)], check=True, timeout=30)
            rc = self.proc.wait(timeout=60 if VALGRIND else 20)
        except Exception:
            self._force_cleanup()
            raise
        finally:
            self._log.close()
        self.proc = None
        if check:
            assert rc == 0, f"swasfs exited with {rc}:\n{self.log()}"
            self.check_log()

    def _force_cleanup(self):
        subprocess.run(["fusermount3", "-uz", str(self.mnt)], stderr=subprocess.DEVNULL)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def check_log(self):
        """Fails on unexpected error lines, and on the secret anywhere."""
        text = self.log()
        assert AK_SECRET not in text, "the AccessKey secret appeared in swasfs's output"
        bad = [line for line in text.splitlines()
               if BAD_LINE.search(line) and not any(a.search(line) for a in self.allow)]
        assert not bad, "unexpected lines in swasfs's output:\n" + "\n".join(bad)


def run_swasfs(args, env, timeout=60):
    """Runs swasfs to completion (start-up failures, --help); returns the result."""
    return subprocess.run(daemon_command(args), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env=env, timeout=timeout)


def have_tool(name):
    return shutil.which(name) is not None
