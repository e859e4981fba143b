# SPDX-License-Identifier: MIT
"""Mounting swasfs for tests, the way libfuse's and sshfs's test suites do.

A Mount starts the daemon in the foreground against an emulator, waits until
the mount point is really mounted (failing fast if the daemon died), and on
stop always unmounts with ``fusermount3 -u``, asserts the daemon exited 0, and
falls back to ``-z``, a kill and, last, aborting the FUSE connection if it did
not. Its stderr goes to a file that ``check_log`` scans for lines no test
expects (errors, leaks, sanitizer or valgrind reports).

No test may hang the suite. While a Mount is live, a watchdog thread looks
every WATCH_INTERVAL seconds at every task that could be reading it: the test
process's own threads, every process the test spawned, and any process whose
cwd or open files are under the mount point. A task that stays blocked in one
wait (state D, or S inside a FUSE request) without waking for longer than the
mount's ``stuck_after`` (retry_budget + timeout + STUCK_GRACE, from its -o
options or the daemon's defaults) is stuck: the watchdog aborts the mount's
FUSE connection (/sys/fs/fuse/connections/N/abort), so the reader gets an
error and the suite goes on, and Mount.stop() then fails the test naming the
task, its wchan and how long it waited. ``run_reader`` runs one reader command
with a time limit, and fails the test the same way when the reader does not
finish or survives SIGKILL. Nothing here ever stats the mount point: a stuck
daemon would hang the check itself; /proc/self/mountinfo says what is mounted.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SWASFS = Path(os.environ.get("SWASFS_BIN", ROOT / "build" / "swasfs"))
# TEST_WITH_VALGRIND=1 runs the daemon under memcheck (slow; CI does it once).
VALGRIND = os.environ.get("TEST_WITH_VALGRIND", "") not in ("", "0")

AK_ID = "testid"
AK_SECRET = "swasfs-test-secret-8d1f0a"  # must never show up in any output

BAD_LINE = re.compile(
    r"error|leak|Assertion|AddressSanitizer|LeakSanitizer|ThreadSanitizer|data race|runtime error|"
    r"Invalid (read|write|free)|uninitialised|definitely lost|ERROR SUMMARY: [1-9]",
    re.IGNORECASE)


def _daemon_default(name):
    """A default of the daemon's, read from src/main.c so the two cannot drift apart."""
    m = re.search(rf"^#define\s+{name}\s+(\d+)", (ROOT / "src" / "main.c").read_text(), re.MULTILINE)
    if not m:
        raise RuntimeError(f"{name} is not defined in src/main.c")
    return int(m.group(1))


DEFAULT_TIMEOUT = _daemon_default("DEFAULT_TIMEOUT")
DEFAULT_RETRY_BUDGET = _daemon_default("DEFAULT_RETRY_BUDGET")
# A reader may wait one call's whole retry budget plus one last request's timeout;
# this much more covers the reply and scheduling on a loaded 2-core CI machine.
STUCK_GRACE = 5
# A process still alive this long after SIGKILL is stuck in the kernel.
KILL_GRACE = 5
# How often the watchdog looks: a hang is found within stuck_after + this.
WATCH_INTERVAL = 0.5
# fusermount3 -u of a healthy mount takes milliseconds; one that takes this
# long is blocked in the kernel.
UNMOUNT_TIMEOUT = 10
FUSECTL = Path("/sys/fs/fuse/connections")
# wchan of a task waiting for a FUSE reply: interruptibly (state S) until a
# signal arrives, then killably or, once the daemon has the request, not at all (D).
FUSE_WAIT = re.compile(r"fuse|request_wait_answer")


def _sanitizer(binary):
    """"address", "thread" or None: which sanitizer @binary was built with (its runtime's init symbol)."""
    try:
        data = Path(binary).read_bytes()
    except OSError:
        return None
    if b"__tsan_init" in data:
        return "thread"
    if b"__asan_init" in data:
        return "address"
    return None


SANITIZER = _sanitizer(SWASFS)


def credentials_env(tmp_path, ak_id=AK_ID, secret=AK_SECRET, token=None):
    """An environment with only the given credentials and an empty HOME."""
    home = Path(tmp_path) / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "ALICLOUD_"))}
    env["HOME"] = str(home)
    # Tests never reach the real metadata address: a test of that source sets a loopback
    # metadata_endpoint and drops this.
    env["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"
    if ak_id is not None:
        env["ALIBABA_CLOUD_ACCESS_KEY_ID"] = ak_id
        env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = secret
    if token is not None:
        env["ALIBABA_CLOUD_SECURITY_TOKEN"] = token
    return env


# The names swasfs adds to the listings (README "Finding things"): tests that
# compare whole listings with the emulator's data leave them out.
SYNTHETIC_NAMES = {".by-name", ".instance.json"}


def listdir(path):
    """os.listdir without the names swasfs adds to region and instance directories."""
    return [n for n in os.listdir(path) if n not in SYNTHETIC_NAMES]


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


def stuck_limit(options):
    """Seconds a reader of a mount with -o @options (strings "k=v" or "k=v,k2=v2") may
    wait in one request before it counts as stuck: retry_budget + timeout + STUCK_GRACE."""
    opts = {}
    for o in options:
        for kv in str(o).split(","):
            k, _, v = kv.partition("=")
            opts[k.strip()] = v.strip()
    return int(opts.get("retry_budget", DEFAULT_RETRY_BUDGET)) + int(opts.get("timeout", DEFAULT_TIMEOUT)) + \
        STUCK_GRACE


# ---- /proc: who is blocked where ----

def _read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:   # gone, or not readable
        return None


def proc_status_kib(pid, field="VmRSS"):
    """A memory figure of process @pid from /proc/PID/status (VmRSS, VmHWM, ...) in KiB,
    or None if the process or the field is gone."""
    for line in (_read(f"/proc/{pid}/status") or "").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def task_state(pid, tid=None):
    """(state letter, wchan, context switches) of a task, or None once it is gone. The
    switch count moves each time the task wakes: unchanged means still the same wait."""
    base = f"/proc/{pid}/task/{tid}" if tid is not None else f"/proc/{pid}"
    stat = _read(base + "/stat")
    if not stat or ")" not in stat:
        return None
    state = stat.rsplit(")", 1)[1].split()[0]
    wchan = (_read(base + "/wchan") or "").strip()
    switches = 0
    for line in (_read(base + "/status") or "").splitlines():
        if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
            switches += int(line.split()[1])
    return state, wchan if wchan not in ("", "0") else "-", switches


def is_blocked(state, wchan):
    return state == "D" or (state == "S" and FUSE_WAIT.search(wchan) is not None)


def _processes():
    """{pid: ppid} of every process now."""
    table = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            stat = _read(f"/proc/{d}/stat")
            if stat and ")" in stat:
                table[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])
    return table


def descendants(pid, table=None):
    """Every process below @pid (not @pid itself)."""
    table = _processes() if table is None else table
    children = {}
    for p, pp in table.items():
        children.setdefault(pp, []).append(p)
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), ()):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _tasks(pid):
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def paths_used(pid, prefix):
    """The cwd and open files of @pid under @prefix (readlink only: never touches the file system)."""
    out = []
    links = [f"/proc/{pid}/cwd"]
    try:
        links += [f"/proc/{pid}/fd/{fd}" for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        pass
    for link in links:
        try:
            target = os.readlink(link)
        except OSError:
            continue
        if target == prefix or target.startswith(prefix + "/"):
            out.append(target)
    return out


def describe_task(pid, tid=None):
    """One line on a task: who it is, its state and wchan, and its kernel stack if readable."""
    st = task_state(pid, tid)
    if st is None:
        return f"pid {pid} (gone)"
    state, wchan, _ = st
    if pid == os.getpid():
        names = {t.native_id: t.name for t in threading.enumerate()}
        who = f"the test process's thread {names.get(tid, tid)}"
    else:
        cmd = (_read(f"/proc/{pid}/cmdline") or "").replace("\0", " ").strip()[:200]
        who = f"pid {pid} ({cmd or '?'})" + (f" thread {tid}" if tid not in (None, pid) else "")
    base = f"/proc/{pid}/task/{tid}" if tid is not None else f"/proc/{pid}"
    stack = [ln.split("] ", 1)[-1].split("+")[0] for ln in (_read(base + "/stack") or "").splitlines()[:6]]
    return f"{who} in state {state}, wchan {wchan}" + (f", kernel stack {' < '.join(stack)}" if stack else "")


def _describe_tree(pid, most=6):
    """describe_task() of @pid's tasks and its descendants' that are not running, @most of them."""
    lines = []
    for p in [pid] + sorted(descendants(pid)):
        for t in _tasks(p):
            st = task_state(p, t)
            if st is not None and (st[0] != "R" or (p, t) == (pid, pid)):
                lines.append(describe_task(p, t))
    more = f"; and {len(lines) - most} more" if len(lines) > most else ""
    return "; ".join(lines[:most]) + more if lines else f"pid {pid} (gone)"


# ---- the mount table and the FUSE control file system ----

def _mountinfo():
    """(mount point, file system type, "major:minor") of every mount we see."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            fstype = fields[fields.index("-") + 1]
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            yield point, fstype, fields[2]


def fuse_mount_dev(mnt):
    """(major, minor) of the FUSE file system mounted at @mnt, from /proc/self/mountinfo, or None.
    The minor is the connection's number under /sys/fs/fuse/connections (= os.minor(st_dev))."""
    found = None
    for point, fstype, dev in _mountinfo():
        if point == str(mnt) and fstype.startswith("fuse"):
            major, minor = dev.split(":")
            found = (int(major), int(minor))   # the last one is on top
    return found


def fuse_mounts_under(directory):
    """The FUSE mount points at or below @directory."""
    prefix = str(directory).rstrip("/")
    return [point for point, fstype, _ in _mountinfo()
            if fstype.startswith("fuse") and (point == prefix or point.startswith(prefix + "/"))]


def _fusectl_mounted():
    return any(fstype == "fusectl" for _, fstype, _ in _mountinfo())


def abort_connection(conn):
    """Aborts FUSE connection @conn (every request waiting on it fails at once, the mount
    answers ENOTCONN after), mounting fusectl first if needed. Returns what happened, as a sentence."""
    if conn is None:
        return "no FUSE connection to abort"
    ctl = FUSECTL / str(conn) / "abort"
    if not ctl.exists() and not _fusectl_mounted():
        rc, out = run_bounded(["mount", "-t", "fusectl", "fusectl", str(FUSECTL)], UNMOUNT_TIMEOUT)
        if rc != 0:
            return f"could not mount fusectl to abort FUSE connection {conn}: {out.strip()}"
    try:
        ctl.write_text("1")
    except FileNotFoundError:
        return f"FUSE connection {conn} was already gone"
    except OSError as e:
        return f"could not abort FUSE connection {conn}: {e}"
    return f"aborted FUSE connection {conn}"


def run_bounded(cmd, timeout, **kw):
    """Runs @cmd for at most @timeout seconds, then SIGKILLs it and waits at most KILL_GRACE
    more: never hangs (subprocess.run's own timeout waits for the killed process forever, and
    one blocked in the kernel can outlive SIGKILL). Returns (exit status, or None if it had to
    be killed, and its output, stdout and stderr together)."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, errors="replace", **kw)
    try:
        out, _ = p.communicate(timeout=timeout)
        return p.returncode, out
    except subprocess.TimeoutExpired:
        p.kill()
    try:
        out, _ = p.communicate(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:
        out = f"(still alive {KILL_GRACE} s after SIGKILL: {describe_task(p.pid)})"
    return None, out


# ---- the watchdog ----

class Watchdog:
    """One thread for the whole test process, running while any Mount is live (see the module's
    docstring). Its findings go to each Mount concerned (Mount.stop raises them) and to
    .trips, which tests/conftest.py checks after every test."""

    def __init__(self):
        self._lock = threading.Lock()
        self._trip_lock = threading.Lock()  # held from an abort until its finding is recorded
        self._mounts = []      # live Mounts; protected by _lock
        self._thread = None    # protected by _lock
        self._seen = {}        # (pid, tid) -> (first seen blocked, its switch count then); watchdog thread only
        self._reported = set()  # (pid, tid) already tripped on; watchdog thread only
        self.trips = []        # messages no test has taken yet; protected by _lock

    def add(self, mount):
        with self._lock:
            self._mounts.append(mount)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="swasfs-watchdog", daemon=True)
                self._thread.start()

    def remove(self, mount):
        with self._lock:
            if mount in self._mounts:
                self._mounts.remove(mount)

    def take(self, messages=None):
        """Removes @messages (default all) from .trips and returns what was there."""
        with self._lock:
            taken = [t for t in self.trips if messages is None or t in messages]
            self.trips = [t for t in self.trips if t not in taken]
            return taken

    def _run(self):
        while True:
            with self._lock:
                mounts = list(self._mounts)
                if not mounts:
                    self._thread = None
                    self._seen.clear()
                    return
            try:
                self.check(mounts, time.monotonic())
            except Exception as e:  # a bug here must show, and not end the watch
                print(f"swasfs watchdog: {e!r}", file=sys.stderr)
            time.sleep(WATCH_INTERVAL)

    def check(self, mounts, now):
        table = _processes()
        daemons = set()
        for m in mounts:
            if m.proc is not None:
                daemons |= {m.proc.pid} | descendants(m.proc.pid, table)
        ours = {os.getpid()} | descendants(os.getpid(), table)
        live = set()
        for pid in table:
            if pid in daemons:
                continue
            users = [m for m in mounts if paths_used(pid, str(m.mnt))]
            if pid not in ours and not users:
                continue
            for tid in _tasks(pid):
                st = task_state(pid, tid)
                if st is None or not is_blocked(st[0], st[1]):
                    continue
                key = (pid, tid)
                live.add(key)
                first = self._seen.get(key)
                if first is None or first[1] != st[2]:
                    self._seen[key] = (now, st[2])
                    continue
                targets = users or mounts   # a stat() holds no fd: then it may be any of them
                limit = max(m.stuck_after for m in targets)
                if now - first[0] > limit and key not in self._reported:
                    self._reported.add(key)
                    why = "" if any(m.stuck_set for m in targets) else \
                        f": retry_budget + timeout + {STUCK_GRACE}"
                    self._trip(f"{describe_task(pid, tid)}, blocked {now - first[0]:.0f} s without waking "
                               f"(limit {limit} s{why})", targets)
        for key in list(self._seen):
            if key not in live:
                del self._seen[key]
        self._reported &= live

    def _trip(self, what, mounts):
        # The abort frees the reader at once: record the finding under the
        # lock take_trips() waits for, so a test never looks before it is there.
        with self._trip_lock:
            done = [abort_connection(m.conn) for m in mounts]
            msg = f"watchdog: stuck reader: {what}; {'; '.join(done)} of " + \
                ", ".join(str(m.mnt) for m in mounts)
            print(msg, file=sys.stderr)
            with self._lock:
                self.trips.append(msg)
            for m in mounts:
                m.trips.append(msg)


WATCHDOG = Watchdog()


class ReaderStuck(AssertionError):
    """run_reader's reader did not finish in time (.survived_kill: not even after SIGKILL)."""

    def __init__(self, message, survived_kill):
        super().__init__(message)
        self.survived_kill = survived_kill


def live_mounts():
    with WATCHDOG._lock:
        return list(WATCHDOG._mounts)


def kill_and_wait(pids, mounts=None):
    """SIGKILLs @pids and waits KILL_GRACE s for them to go. Those still there are stuck in the
    kernel: the FUSE connections of the @mounts they use (default every live Mount) are aborted.
    Returns a message on the survivors, or None if all went."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + KILL_GRACE
    while True:
        alive = [p for p in pids if (st := task_state(p)) is not None and st[0] != "Z"]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if not alive:
        return None
    where = "; ".join(describe_task(p, t) for p in alive for t in _tasks(p))
    mounts = live_mounts() if mounts is None else mounts
    targets = [m for m in mounts if any(paths_used(p, str(m.mnt)) for p in alive)] or mounts
    done = [abort_connection(m.conn) for m in targets]
    return f"survived SIGKILL for {KILL_GRACE} s: {where}; {'; '.join(done) or 'no mount to abort'}"


def run_reader(cmd, timeout=60, mounts=None, **kw):
    """Runs reader @cmd (an argv list) and returns its CompletedProcess (stdout and stderr
    captured; bytes unless text=True is passed). If it does not finish within @timeout seconds
    it is SIGKILLed with its process group and ReaderStuck (an AssertionError) fails the test,
    saying where it was blocked; if it survives SIGKILL for KILL_GRACE seconds, the FUSE
    connections of the @mounts it uses (default: every live Mount) are aborted first so that
    it, and the suite, can go on."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
        return subprocess.CompletedProcess(cmd, p.returncode, out, err)
    except subprocess.TimeoutExpired:
        pass
    where = _describe_tree(p.pid)
    group = [p.pid] + sorted(descendants(p.pid))
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    survivors = kill_and_wait(group, mounts)
    msg = f"reader {' '.join(map(str, cmd))} did not finish within {timeout} s: {where}"
    if survivors:
        msg += f"; it {survivors}"
    try:
        p.communicate(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:
        msg += f"; still there {KILL_GRACE} s after that"
    raise ReaderStuck(msg, survived_kill=survivors is not None)


# ---- the mount ----

class Mount:
    def __init__(self, emulator, tmp_path, options=(), env=None, home_region="cn-hangzhou",
                 cache_ttl=60, allow=(), stuck_after=None):
        """@stuck_after: seconds a reader may wait in one request (default stuck_limit(options))."""
        self.emulator = emulator
        # Resolved now, while nothing is mounted: mountinfo and /proc links show real paths.
        self.tmp_path = Path(os.path.realpath(tmp_path))
        self.mnt = self.tmp_path / "mnt"
        self.mnt.mkdir(exist_ok=True)
        self.log_path = self.tmp_path / "swasfs.log"
        self.env = env if env is not None else credentials_env(tmp_path)
        opts = [f"endpoint={emulator.url}", f"home_region={home_region}", f"cache_ttl={cache_ttl}"]
        opts += list(options)
        self.args = ["-f", "-o", ",".join(opts), str(self.mnt)]
        self.allow = [re.compile(a) for a in allow]
        self.stuck_after = stuck_after if stuck_after is not None else stuck_limit(opts)
        self.stuck_set = stuck_after is not None
        self.exit_timeout = 60 if VALGRIND else 20   # seconds stop() waits for the daemon after the unmount
        self.proc = None
        self.conn = None   # the FUSE connection's number while mounted
        self.trips = []    # the watchdog's findings on this mount, until take_trips()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def path(self, *parts):
        return self.mnt.joinpath(*parts)

    def mounted(self):
        return fuse_mount_dev(self.mnt) is not None

    def start(self, timeout=30):
        self._log = open(self.log_path, "wb")
        before = fuse_mount_dev(self.mnt)
        self.proc = subprocess.Popen(daemon_command(self.args), stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout * (4 if VALGRIND else 1)
        while time.monotonic() < deadline:
            dev = fuse_mount_dev(self.mnt)
            if dev is not None and dev != before:
                self.conn = dev[1]
                WATCHDOG.add(self)
                return
            if self.proc.poll() is not None:
                self._log.close()
                raise AssertionError(f"swasfs exited with {self.proc.returncode} before mounting:\n{self.log()}")
            time.sleep(0.05)
        problems = []
        self._force_cleanup(problems)
        self._log.close()
        raise AssertionError(f"swasfs did not mount within {timeout} s{'; ' if problems else ''}"
                             f"{'; '.join(problems)}:\n{self.log()}")

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def take_trips(self):
        """The watchdog's findings on this mount, which then no longer fail the test."""
        with WATCHDOG._trip_lock:   # a finding being recorded right now is included
            trips, self.trips = self.trips, []
        WATCHDOG.take(trips)
        return trips

    def stop(self, check=True):
        """Unmounts and waits for the daemon, in bounded time whatever state it is in; raises
        the watchdog's findings, then (if @check) a non-zero exit or unexpected log lines."""
        if self.proc is None:
            return
        problems = []
        try:
            if self.mounted():
                rc, out = run_bounded(["fusermount3", "-u", str(self.mnt)], UNMOUNT_TIMEOUT)
                if rc != 0:
                    problems.append(f"fusermount3 -u {'timed out' if rc is None else 'failed'}: {out.strip()}")
            try:
                self.proc.wait(timeout=self.exit_timeout)
            except subprocess.TimeoutExpired:
                problems.append(f"swasfs did not exit within {self.exit_timeout} s of the unmount: "
                                f"{_describe_tree(self.proc.pid)}")
            if problems:
                self._force_cleanup(problems)
        finally:
            WATCHDOG.remove(self)
            self._log.close()
        rc, self.proc = self.proc.returncode, None
        trips = self.take_trips()
        if trips:
            raise AssertionError("\n".join(trips + problems) + f"\nswasfs's output:\n{self.log()}")
        if problems:
            raise AssertionError("\n".join(problems) + f"\nswasfs's output:\n{self.log()}")
        if check:
            assert rc == 0, f"swasfs exited with {rc}:\n{self.log()}"
            self.check_log()

    def _force_cleanup(self, problems):
        """Lazy unmount, SIGKILL, and if the daemon outlives that, abort its connection; never hangs."""
        if self.mounted():
            rc, out = run_bounded(["fusermount3", "-uz", str(self.mnt)], UNMOUNT_TIMEOUT)
            if rc != 0:
                problems.append(f"fusermount3 -uz {'timed out' if rc is None else 'failed'}: {out.strip()}")
        if self.proc is not None and self.proc.poll() is None:
            survived = kill_and_wait([self.proc.pid], [self])
            if survived:
                problems.append(f"swasfs {survived}")
            try:
                self.proc.wait(timeout=KILL_GRACE)
            except subprocess.TimeoutExpired:
                problems.append(f"swasfs (pid {self.proc.pid}) is still there; left behind")
        if self.mounted():
            problems.append(abort_connection(self.conn))

    def check_log(self):
        """Fails on unexpected error lines, and on the secret anywhere."""
        text = self.log()
        assert AK_SECRET not in text, "the AccessKey secret appeared in swasfs's output"
        bad = [line for line in text.splitlines()
               if BAD_LINE.search(line) and not any(a.search(line) for a in self.allow)]
        assert not bad, "unexpected lines in swasfs's output:\n" + "\n".join(bad)


def run_swasfs(args, env, timeout=60):
    """Runs swasfs to completion (start-up failures, --help); returns the result. Bounded: a
    daemon still running after @timeout s is killed and subprocess.TimeoutExpired raised."""
    p = subprocess.Popen(daemon_command(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        survived = kill_and_wait([p.pid])
        try:
            p.communicate(timeout=KILL_GRACE)
        except subprocess.TimeoutExpired:
            pass
        raise subprocess.TimeoutExpired(p.args, timeout, output=survived) from None
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def have_tool(name):
    return shutil.which(name) is not None
