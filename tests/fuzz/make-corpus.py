#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Regenerates the API-body seeds of tests/fuzz/corpus/json/ from the emulator.

Starts contrib/swas-emulator with its sample data on a loopback port, sends
V1-signed requests (HMAC-SHA1, standard library only) for every action the
client uses plus a few that fail, and writes each response body verbatim.
The seeds are checked in; run this only when the emulator's answers change:

    tests/fuzz/make-corpus.py
"""
import base64
import hashlib
import hmac
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent.parent
OUT = ROOT / "tests" / "fuzz" / "corpus" / "json"
AK_ID, SECRET = "fuzzseed", "fuzz-seed-secret"


def enc(s):
    return quote(s.encode(), safe="-_.~")


def call(url, action, secret=SECRET, **params):
    p = {"Action": action, "Version": "2020-06-01", "Format": "JSON", "AccessKeyId": AK_ID,
         "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureNonce": uuid.uuid4().hex,
         "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **params}
    query = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(p.items()))
    sts = "POST&%2F&" + enc(query)
    sig = base64.b64encode(hmac.new((secret + "&").encode(), sts.encode(), hashlib.sha1).digest()).decode()
    req = urllib.request.Request(f"{url}/?{query}&Signature={enc(sig)}", method="POST", data=b"")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()
    except urllib.error.HTTPError as e:
        return e.read()


def main():
    env = dict(os.environ, SWAS_EMULATOR_ACCESS_KEY_SECRET=SECRET)
    emu = subprocess.Popen([sys.executable, str(ROOT / "contrib/swas-emulator/swas-emulator"), "--quiet",
                            "--listen", "127.0.0.1:0", "--access-key-id", AK_ID, "--sample"],
                           stdout=subprocess.PIPE, env=env, text=True)
    try:
        url = emu.stdout.readline().split()[-1]
        hz_web, hz_db = "2ad1ae67295445f598017499dc1a0b01", "2ad1ae67295445f598017499dc1a0b02"
        sh_win, sh_linux = "7c9e2f1d0b3a4c5e8f6a7b8c9d0e1f21", "7c9e2f1d0b3a4c5e8f6a7b8c9d0e1f22"
        bodies = {
            "regions": call(url, "ListRegions"),
            "regions-en": call(url, "ListRegions", AcceptLanguage="en-US"),
            "instances-hz": call(url, "ListInstances", RegionId="cn-hangzhou"),
            "instances-sh-page2": call(url, "ListInstances", RegionId="cn-shanghai", PageSize="1",
                                       PageNumber="2"),
            "instances-empty": call(url, "ListInstances", RegionId="ap-southeast-1"),
            "invocations-web": call(url, "DescribeInvocations", RegionId="cn-hangzhou", InstanceId=hz_web,
                                    PageSize="50"),
            "invocations-win": call(url, "DescribeInvocations", RegionId="cn-shanghai", InstanceId=sh_win),
            "invocations-linux": call(url, "DescribeInvocations", RegionId="cn-shanghai",
                                      InstanceId=sh_linux),
            "result-finished": call(url, "DescribeInvocationResult", RegionId="cn-hangzhou",
                                    InstanceId=hz_web, InvokeId="t-hz0a1b2c3d4e5f6"),
            "result-failed": call(url, "DescribeInvocationResult", RegionId="cn-hangzhou",
                                  InstanceId=hz_web, InvokeId="t-hz0b2c3d4e5f6a7"),
            "result-running": call(url, "DescribeInvocationResult", RegionId="cn-hangzhou",
                                   InstanceId=hz_db, InvokeId="t-hz1a2b3c4d5e6f7"),
            "result-synthesized": call(url, "DescribeInvocationResult", RegionId="cn-shanghai",
                                       InstanceId=sh_linux, InvokeId="t-sh1a2b3c4d5e6f7"),
            "error-signature": call(url, "ListRegions", secret="wrong"),
            "error-notfound": call(url, "DescribeInvocations", RegionId="cn-hangzhou", InstanceId="nope"),
            "error-missing": call(url, "DescribeInvocationResult", RegionId="cn-hangzhou", InstanceId=hz_web),
        }
    finally:
        emu.terminate()
        emu.wait()
    OUT.mkdir(parents=True, exist_ok=True)
    for name, body in bodies.items():
        (OUT / f"{name}.json").write_bytes(body)
        print(f"{name}: {len(body)} bytes")


if __name__ == "__main__":
    main()
