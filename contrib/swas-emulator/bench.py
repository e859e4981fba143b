#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Requests per second the emulator serves: V3-signed DescribeInvocations
(or another action) from several threads, each over its own keep-alive
connection. Starts its own emulator unless --url is given.

    contrib/swas-emulator/bench.py [--threads 8] [--seconds 5] [--generate 1:4:200]
                                   [--action DescribeInvocations] [--url http://127.0.0.1:PORT]

Signing happens in the client threads of this process; run it on an idle
machine. Python's GIL bounds both sides, so the number is a floor for what a
C client sees (it spends no time signing here).
"""
import argparse
import hashlib
import hmac
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent


def enc(s):
    return quote(s, safe="-_.~")


def signed_request(host, ak, secret, action, params):
    q = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items()))
    payload = hashlib.sha256(b"").hexdigest()
    headers = {"host": host, "x-acs-action": action, "x-acs-content-sha256": payload,
               "x-acs-date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "x-acs-signature-nonce": uuid.uuid4().hex, "x-acs-version": "2020-06-01"}
    names = sorted(headers)
    creq = "\n".join(["POST", "/", q, "".join(f"{n}:{headers[n]}\n" for n in names), ";".join(names), payload])
    sts = "ACS3-HMAC-SHA256\n" + hashlib.sha256(creq.encode()).hexdigest()
    sig = hmac.new(secret.encode(), sts.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = f"ACS3-HMAC-SHA256 Credential={ak},SignedHeaders={';'.join(names)},Signature={sig}"
    return "/?" + q, headers


def cpu_seconds(proc):
    """User + system CPU time of @proc so far (Linux /proc)."""
    if proc is None:
        return 0.0
    try:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url")
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--generate", default="1:4:200")
    p.add_argument("--action", default="DescribeInvocations",
                   choices=["ListRegions", "ListInstances", "DescribeInvocations", "DescribeInvocationResult"])
    a = p.parse_args()
    ak, secret = "bench-key", os.environ.get("SWAS_EMULATOR_ACCESS_KEY_SECRET", "bench-secret")
    proc = None
    url = a.url
    if url is None:
        proc = subprocess.Popen([sys.executable, str(HERE / "swas-emulator"), "--listen", "127.0.0.1:0",
                                 "--access-key-id", ak, "--generate", a.generate, "--quiet"],
                                stdout=subprocess.PIPE, text=True,
                                env=dict(os.environ, SWAS_EMULATOR_ACCESS_KEY_SECRET=secret))
        m = re.match(r"listening on (http://\S+)", proc.stdout.readline())
        if not m:
            sys.exit("the emulator did not start")
        url = m.group(1)
    else:
        ak = os.environ.get("SWAS_EMULATOR_ACCESS_KEY_ID", ak)
    try:
        with urllib.request.urlopen(f"{url}/_emulator/data", timeout=60) as r:
            data = json.load(r)
        reg = next(r for r in data["regions"] if r["instances"])
        inst = reg["instances"][0]
        params = {"ListRegions": {}, "ListInstances": {"RegionId": reg["RegionId"], "PageSize": "100"},
                  "DescribeInvocations": {"RegionId": reg["RegionId"], "InstanceId": inst["InstanceId"],
                                          "PageSize": "50"},
                  "DescribeInvocationResult": {"RegionId": reg["RegionId"], "InstanceId": inst["InstanceId"],
                                               "InvokeId": inst["invocations"][0]["InvokeId"]}}[a.action]
        hostport = url.split("://", 1)[1]
        host, port = hostport.rsplit(":", 1)
        counts, errors = [0] * a.threads, [0] * a.threads
        stop = time.monotonic() + a.seconds

        def worker(i):
            conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=30)
            while time.monotonic() < stop:
                path, headers = signed_request(hostport, ak, secret, a.action, params)
                conn.request("POST", path, headers=headers)
                r = conn.getresponse()
                r.read()
                if r.status == 200:
                    counts[i] += 1
                else:
                    errors[i] += 1
            conn.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(a.threads)]
        cpu0 = cpu_seconds(proc)
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(proc) - cpu0 if proc is not None else None
        total = sum(counts)
        print(f"{a.action}: {total} requests in {elapsed:.1f} s from {a.threads} keep-alive connections: "
              f"{total / elapsed:.0f} req/s ({sum(errors)} errors)")
        if cpu:
            # The client shares the machine; this is what the server alone could do on one core.
            print(f"emulator CPU: {cpu:.2f} s, {cpu * 1e6 / max(total, 1):.0f} us a request, "
                  f"about {total / cpu:.0f} req/s of server capacity")
        return 1 if sum(errors) else 0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    sys.exit(main())
