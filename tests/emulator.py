# SPDX-License-Identifier: MIT
"""Starting the SWAS emulator for tests, and its control API.

    emu = Emulator()
    emu.start(tmp_path, sample=True)          # or data=PATH, generate="R:I:N", seed=S, tls=(cert, key)
    emu.url                                   # "http://127.0.0.1:PORT"
    emu.counters(); emu.reset_counters(); emu.in_flight(); emu.peak_in_flight(); emu.config(latency_ms=300)
    emu.faults("5xx", 2, action="DescribeInvocations"); emu.clear_faults()
    emu.set_fault_mix({"5xx": 0.2, "throttle": 0.1}); emu.set_hostile("endless_pages"); emu.clear_hostile()
    emu.data(); emu.add_invocation(region, instance, {...}); emu.set_status(invoke_id, "Finished")
    emu.delete_instance(instance); emu.event(after_page=1, instance=ID, add={...})
    emu.stop()

The secret reaches the emulator through its environment, never argv. The
emulator's stderr (one line per API request) goes to tmp_path/emulator.log.
"""
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EMULATOR = ROOT / "contrib" / "swas-emulator" / "swas-emulator"
# The same pair as tests/mount.py, so a mount's default credentials work.
AK_ID = "testid"
AK_SECRET = "swasfs-test-secret-8d1f0a"


class EmulatorError(Exception):
    """A control request failed: .status, .body."""

    def __init__(self, status, body):
        super().__init__(f"emulator control request failed: {status} {body}")
        self.status, self.body = status, body


class Emulator:
    def __init__(self):
        self.proc = None
        self.url = None
        self.log_path = None
        self._ssl = None

    # ---- life cycle ----

    def start(self, tmp_path, *args, ak_id=AK_ID, secret=AK_SECRET, sample=True, data=None, generate=None,
              seed=None, tls=None, token=None, sts=None, quiet=False, timeout=30, env=None):
        """Spawns the emulator on port 0 and waits for its "listening on" line.

        @data: a path, or a dict written to tmp_path as JSON; @generate: "R:I:N"; else --sample if @sample.
        @seed: seeds --generate (default 1) and the random faults (fault_rate, fault_mix).
        @tls: (cert, key) paths; @token: makes (ak_id, secret) an STS pair; @sts: (ak_id, secret, token),
        a second pair. @args: more command-line arguments. Returns self.
        """
        tmp_path = Path(tmp_path)
        cmd = [sys.executable, str(EMULATOR), "--listen", "127.0.0.1:0", "--access-key-id", ak_id]
        penv = dict(os.environ if env is None else env)
        penv["SWAS_EMULATOR_ACCESS_KEY_SECRET"] = secret
        if isinstance(data, dict):
            path = tmp_path / "emulator-data.json"
            path.write_text(json.dumps(data))
            data = path
        if data is not None:
            cmd += ["--data", str(data)]
        elif generate is not None:
            cmd += ["--generate", generate]
        elif sample:
            cmd += ["--sample"]
        if generate is not None or seed is not None:   # --seed also makes the random faults repeat
            cmd += ["--seed", str(1 if seed is None else seed)]
        if tls is not None:
            cmd += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
            self._ssl = _client_context(tls[0])
        if sts is not None:
            cmd += ["--sts-access-key-id", sts[0]]
            penv["SWAS_EMULATOR_STS_ACCESS_KEY_SECRET"] = sts[1]
            token = sts[2]
        if token is not None:
            penv["SWAS_EMULATOR_SECURITY_TOKEN"] = token
        if quiet:
            cmd.append("--quiet")
        cmd += [str(a) for a in args]
        self.log_path = tmp_path / "emulator.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log,
                                     env=penv)
        line = _readline(self.proc, timeout)
        m = re.match(r"listening on (https?://\S+)$", line.strip())
        if not m:
            self.stop()
            raise RuntimeError(f"the emulator did not start (got {line!r}):\n{self.log()}")
        self.url = m.group(1)
        return self

    def stop(self):
        """Stops the emulator (SIGTERM, then SIGKILL); returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self._log.close()
        rc, self.proc = self.proc.returncode, None
        return rc

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except (OSError, AttributeError):
            return ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # ---- the control API (contrib/swas-emulator/README.md) ----

    def control(self, method, path, body=None, timeout=30):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}/_emulator/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self._ssl) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            raise EmulatorError(e.code, e.read().decode(errors="replace")) from None

    def data(self):
        """The whole current data set, in the --data file format, Results included."""
        return self.control("GET", "data")

    def counters(self):
        return self.control("GET", "counters")

    def reset_counters(self):
        """Zeroes the counters; the in-flight peaks restart from what is in flight now."""
        self.control("POST", "counters/reset", {})

    def in_flight(self):
        """{action: n}: API requests between their request line and their last answer byte, now."""
        return self.counters()["in_flight"]

    def peak_in_flight(self):
        """{"total": n, action: n}: the most API requests in flight at once since start or reset."""
        return self.counters()["peak_in_flight"]

    def config(self, **kw):
        """latency_ms, fault_rate, fault_kind, enforce_qps, hang_s, retry_after_ms, fault_mix, hostile,
        hostile_actions, hostile_records, slow_bps, huge_bytes (partial updates); answers the settings."""
        return self.control("POST", "config", kw)

    def get_config(self):
        return self.control("GET", "config")

    def set_fault_mix(self, mix):
        """{kind: probability} (summing to at most 1): each API request but ListRegions draws at most
        one of them; {} or None clears the mix. Answers the settings."""
        return self.config(fault_mix=dict(mix or {}))

    def set_hostile(self, mode, actions=None, **knobs):
        """Answers @actions (None: ListInstances, DescribeInvocations, DescribeInvocationResult) in the
        hostile @mode (None turns it off); @knobs: hostile_records=, slow_bps=, huge_bytes=."""
        return self.config(hostile=mode, hostile_actions=None if actions is None else list(actions), **knobs)

    def clear_hostile(self):
        return self.config(hostile=None)

    def faults(self, kind, count=1, **kw):
        """The next @count API requests matching action=/instance= fail with @kind."""
        return self.control("POST", "faults", dict(kind=kind, count=count, **kw))

    def clear_faults(self):
        """Drops queued faults, sets fault_rate to 0 and clears fault_mix."""
        self.control("DELETE", "faults")

    def add_invocation(self, region_id, instance_id, invocation):
        return self.control("POST", "invocations", dict(invocation, RegionId=region_id, InstanceId=instance_id))

    def set_status(self, invoke_id, invoke_status=None, invocation_status=None, result=None, instance_id=None):
        body = {"InvokeId": invoke_id}
        if invoke_status is not None:
            body["InvokeStatus"] = invoke_status
        if invocation_status is not None:
            body["InvocationStatus"] = invocation_status
        if result is not None:
            body["Result"] = result
        if instance_id is not None:
            body["InstanceId"] = instance_id
        return self.control("POST", "invocations/status", body)

    def add_key(self, ak_id, secret, token=None):
        return self.control("POST", "keys", {"ak_id": ak_id, "secret": secret, "token": token})

    def revoke_key(self, ak_id):
        return self.control("POST", "keys/revoke", {"ak_id": ak_id})

    def keys(self):
        return self.control("GET", "keys")["keys"]

    def add_instance(self, region_id, instance):
        return self.control("POST", "instances", dict(instance, RegionId=region_id))

    def update_instance(self, instance_id, **fields):
        """Sets (None: removes) fields of an instance's ListInstances record."""
        return self.control("POST", "instances/update", dict(fields, InstanceId=instance_id))

    def delete_instance(self, instance_id, region_id=None):
        body = {"InstanceId": instance_id}
        if region_id is not None:
            body["RegionId"] = region_id
        return self.control("POST", "instances/delete", body)

    def event(self, after_page, instance, add, region=None):
        """Once page @after_page of @instance's DescribeInvocations has been served, adds @add."""
        body = {"after_page": after_page, "instance": instance, "add": add}
        if region is not None:
            body["region"] = region
        return self.control("POST", "events", body)


def _readline(proc, timeout):
    """The first stdout line of @proc, or "" if it died or said nothing within @timeout seconds."""
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    buf = b""
    try:
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                break
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
    finally:
        sel.close()
    return buf.split(b"\n", 1)[0].decode(errors="replace")


def _client_context(_cert):
    """Control requests to a TLS emulator: loopback only, so its certificate is not
    checked here (the tests of TLS itself use their own CA and clients)."""
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def make_test_ca(d):
    """A CA and a server certificate for 127.0.0.1 (SAN IP:127.0.0.1), made now with openssl."""
    d.mkdir(exist_ok=True)

    def run(*a):
        subprocess.run(a, check=True, capture_output=True, cwd=d)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=swasfs test CA",
        "-keyout", "ca.key", "-out", "ca.pem")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
        "-out", "server.csr")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem")
    return d
