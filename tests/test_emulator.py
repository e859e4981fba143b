# SPDX-License-Identifier: MIT
"""The SWAS emulator (contrib/swas-emulator) against the official SDK and an
independent signer.

- The official Node SDK drives every call through the emulator (tests/sdk,
  installed with ``cd tests/sdk && npm install --no-audit --no-fund``).
- A small V3/V1 signer written here from contrib/docs/api.md checks the §7
  vectors against the emulator's own functions, byte for byte, and then
  talks to a running emulator: paging, events between pages, every fault
  kind, the fault mix, every hostile mode, counters and requests in flight,
  the control API, TLS and hostile data.
"""
import base64
import hashlib
import hmac
import http.client
import importlib.machinery
import importlib.util
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emulator import AK_ID, AK_SECRET, EMULATOR, Emulator, make_test_ca  # noqa: E402

SDK_DIR = Path(__file__).resolve().parent / "sdk"


def load_emulator_module():
    loader = importlib.machinery.SourceFileLoader("swas_emulator", str(EMULATOR))
    spec = importlib.util.spec_from_loader("swas_emulator", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


emu_mod = load_emulator_module()


# ---- an independent signer (contrib/docs/api.md §1, §2) ----

def enc(s):
    """RFC 3986 percent-encoding, written out: only A-Z a-z 0-9 - _ . ~ stay."""
    out = []
    for b in s.encode("utf-8"):
        c = chr(b)
        out.append(c if (c.isascii() and c.isalnum()) or c in "-_.~" else "%%%02X" % b)
    return "".join(out)


def v3_parts(method, query, headers, payload_hash):
    """-> (canonical request, signed headers). @headers: [(name, value)], names in any case."""
    q = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(query.items()))
    merged = {}
    for name, value in headers:
        low = name.lower()
        if low.startswith("x-acs-") or low in ("host", "content-type"):
            merged.setdefault(low, []).append(value.strip())
    names = sorted(merged)
    canon = "".join(f"{n}:{','.join(sorted(merged[n]))}\n" for n in names)
    signed = ";".join(names)
    return f"{method}\n/\n{q}\n{canon}\n{signed}\n{payload_hash}", signed


def v3_sign(method, query, headers, payload_hash, ak, secret):
    creq, signed = v3_parts(method, query, headers, payload_hash)
    sts = "ACS3-HMAC-SHA256\n" + hashlib.sha256(creq.encode()).hexdigest()
    sig = hmac.new(secret.encode(), sts.encode(), hashlib.sha256).hexdigest()
    return f"ACS3-HMAC-SHA256 Credential={ak},SignedHeaders={signed},Signature={sig}", sig, creq


def v1_sign(method, params, secret):
    q = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items()) if k != "Signature")
    sts = f"{method}&{enc('/')}&{enc(q)}"
    return base64.b64encode(hmac.new((secret + "&").encode(), sts.encode(), hashlib.sha1).digest()).decode(), sts


def now_iso(offset=0):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


# ---- §7 vectors, against both signers ----

V3_BASE = {"host": "swas.cn-hangzhou.aliyuncs.com", "x-acs-version": "2020-06-01", "x-acs-date": "2024-01-02T03:04:05Z",
           "x-acs-signature-nonce": "0123456789abcdef0123456789abcdef"}
EMPTY = hashlib.sha256(b"").hexdigest()
STAR_ID = "2ad1ae67295445f598017499dc****"

V3_VECTORS = [
    ("V3-OFF", "POST", {"ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd", "RegionId": "cn-shanghai"},
     [("host", "ecs.cn-shanghai.aliyuncs.com"), ("x-acs-action", "RunInstances"), ("x-acs-version", "2014-05-26"),
      ("x-acs-date", "2023-10-26T10:22:32Z"), ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
      ("x-acs-content-sha256", EMPTY)],
     EMPTY, "YourAccessKeyId", "YourAccessKeySecret",
     "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"),
    ("V3-GO", "", {"test": "ok", "empty": ""}, [("x-acs-test", "http"), ("x-acs-TEST", "https")],
     "55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23", "acesskey", "secret",
     "4ab59fffe3c5738ff8a2729f90cc04fe18b02a4b15b2102cbaf92f9ff3df2ea3"),
    ("V3-1", "POST", {"RegionId": "cn-hangzhou", "InstanceId": STAR_ID, "PageNumber": "1", "PageSize": "50"},
     list(V3_BASE.items()) + [("x-acs-action", "DescribeInvocations"), ("x-acs-content-sha256", EMPTY)],
     EMPTY, "testid", "testsecret", "1d0c5ef72b8f179b779403e3f0b6194990fe21774910ec9647094fc4d22e9d6c"),
    ("V3-2", "POST", {"RegionId": "cn-hangzhou", "InstanceId": STAR_ID, "InvokeId": "t-hz02p9545t6****"},
     list(V3_BASE.items()) + [("x-acs-action", "DescribeInvocationResult"), ("x-acs-content-sha256", EMPTY),
                              ("x-acs-security-token", "tok123")],
     EMPTY, "testid", "testsecret", "a706b164b170af0d6a7ed9bd30b7dbb514b4c145db56ae0d95af14b1002bb63f"),
    ("V3-3", "POST", {"RegionId": "cn-hangzhou", "InstanceId": STAR_ID, "InvokeId": "t-hz02p9545t6****"},
     list(V3_BASE.items()) + [("x-acs-action", "DescribeInvocationResult"), ("x-acs-content-sha256", EMPTY),
                              ("x-acs-security-token", "tok123"), ("x-acs-accesskey-id", "testid")],
     EMPTY, "testid", "testsecret", "bc62e2b6f905e45e3fa60462b858d6545488cf35a12fb92d3eaf8df7a010b581"),
    ("V3-4", "POST", {"RegionId": "cn-hangzhou", "InstanceName": "web 01*~/é!'()+", "PageSize": "100"},
     list(V3_BASE.items()) + [("x-acs-action", "ListInstances"), ("x-acs-content-sha256", EMPTY)],
     EMPTY, "testid", "testsecret", "c0d3ed723813df9581e1eb14e5e9ec0e661832111314734f0156244687f14798"),
    ("V3-5", "POST", {},
     list(V3_BASE.items()) + [("x-acs-action", "ListRegions"),
                              ("x-acs-content-sha256", hashlib.sha256(b"AcceptLanguage=en-US").hexdigest()),
                              ("content-type", "application/x-www-form-urlencoded")],
     hashlib.sha256(b"AcceptLanguage=en-US").hexdigest(), "testid", "testsecret",
     "37a271fd7b715ce309a97245b7e8da91f7b1ed3c267e50bd8a2197e6dabc0bef"),
]


@pytest.mark.parametrize("vec", V3_VECTORS, ids=[v[0] for v in V3_VECTORS])
def test_v3_vectors_match_the_emulator_verifier_byte_for_byte(vec):
    name, method, query, headers, payload, ak, secret, want = vec
    auth, sig, creq = v3_sign(method, query, headers, payload, ak, secret)
    assert sig == want, f"the test's own signer disagrees with {name}"
    # The emulator's verifier: the names the client signed, in its order.
    hdrs = {}
    for n, v in headers:
        hdrs.setdefault(n.lower(), []).append(v)
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    ecreq = emu_mod.v3_canonical_request(method, "/", list(query.items()), hdrs, signed, payload)
    assert ecreq == creq
    assert emu_mod.v3_signature(secret, emu_mod.v3_string_to_sign(ecreq)) == want
    assert emu_mod.parse_v3_authorization(auth) == {"Credential": ak, "SignedHeaders": ";".join(signed),
                                                   "Signature": want}


def test_v3_official_canonical_request_text():
    _, _, creq = v3_sign(*[V3_VECTORS[0][i] for i in (1, 2, 3, 4, 5, 6)])
    assert hashlib.sha256(creq.encode()).hexdigest() == \
        "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
    assert creq.split("\n")[2] == "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai"
    v4 = V3_VECTORS[5]
    assert emu_mod.canonical_query(list(v4[2].items())) == \
        "InstanceName=web%2001%2A~%2F%C3%A9%21%27%28%29%2B&PageSize=100&RegionId=cn-hangzhou"


V1_A = {"AccessKeyId": "testid", "Action": "DescribeDedicatedHosts", "Format": "JSON", "RegionId": "cn-beijing",
        "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "edb2b34af0af9a6d14deaf7c1a5315eb",
        "SignatureVersion": "1.0", "Timestamp": "2023-03-13T08:34:30Z", "Version": "2014-05-26"}
V1_B = {"AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML", "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z", "Version": "2014-05-26"}
V1_SWAS = {"AccessKeyId": "testid", "Action": "DescribeInvocations", "Format": "JSON", "InstanceId": STAR_ID,
           "PageNumber": "1", "PageSize": "50", "RegionId": "cn-hangzhou", "SignatureMethod": "HMAC-SHA1",
           "SignatureNonce": "0123456789abcdef0123456789abcdef", "SignatureVersion": "1.0",
           "Timestamp": "2024-01-02T03:04:05Z", "Version": "2020-06-01"}
V1_VECTORS = [
    ("V1-OFF-a-GET", "GET", V1_A, "testsecret", "9NaGiOspFP5UPcwX8Iwt2YJXXuk="),
    ("V1-OFF-a-POST", "POST", V1_A, "testsecret", "ZvQ9xGiFnquSJRvj+WE6kdSpTwU="),
    ("V1-OFF-b-GET", "GET", V1_B, "testsecret", "OLeaidS1JvxuMvnyHOwuJ+uX5qY="),
    ("V1-OFF-b-POST", "POST", V1_B, "testsecret", "MxbnVAM4w6sft9xjVpe/GCKueuk="),
    ("V1-GO", "", {"test": "ok"}, "accessKeySecret", "jHx/oHoHNrbVfhncHEvPdHXZwHU="),
    ("V1-SWAS-GET", "GET", V1_SWAS, "testsecret", "uoLJZDaRfn1NY9pcm089UKGc9dA="),
    ("V1-SWAS-POST", "POST", V1_SWAS, "testsecret", "EENdzd471X6uxrUtB34YhsFDboc="),
    ("V1-SWAS-token", "GET", dict(V1_SWAS, SecurityToken="tok123"), "testsecret", "/UYBNap5AeE4uj/l2IVMQize8/I="),
]


@pytest.mark.parametrize("vec", V1_VECTORS, ids=[v[0] for v in V1_VECTORS])
def test_v1_vectors_match_the_emulator_verifier_byte_for_byte(vec):
    name, method, params, secret, want = vec
    sig, sts = v1_sign(method, params, secret)
    assert sig == want, f"the test's own signer disagrees with {name}"
    ests = emu_mod.v1_string_to_sign(method, list(params.items()) + [("Signature", sig)])
    assert ests == sts
    assert emu_mod.v1_signature(secret, ests) == want


def test_v1_swas_string_to_sign_text():
    _, sts = v1_sign("GET", V1_SWAS, "testsecret")
    assert sts == ("GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeInvocations%26Format%3DJSON%26InstanceId%3D"
                   "2ad1ae67295445f598017499dc%252A%252A%252A%252A%26PageNumber%3D1%26PageSize%3D50%26RegionId%3D"
                   "cn-hangzhou%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D0123456789abcdef0123456789abcdef%26"
                   "SignatureVersion%3D1.0%26Timestamp%3D2024-01-02T03%253A04%253A05Z%26Version%3D2020-06-01")


@pytest.mark.parametrize("raw,want", [(" a!*'()~+/:=&é", "%20a%21%2A%27%28%29~%2B%2F%3A%3D%26%C3%A9"),
                                      ("2016-02-23T12:46:24Z", "2016-02-23T12%3A46%3A24Z"), ("/", "%2F"),
                                      ("AZaz09-_.~", "AZaz09-_.~")])
def test_encoder_cases(raw, want):
    assert enc(raw) == want
    assert emu_mod.percent_encode(raw) == want


# ---- a client for a running emulator ----

class Client:
    """Signed requests over one keep-alive connection."""

    def __init__(self, emu, ak=AK_ID, secret=AK_SECRET, token=None, ssl_context=None):
        self.emu, self.ak, self.secret, self.token = emu, ak, secret, token
        u = emu.url.split("://", 1)[1]
        self.host, port = u.rsplit(":", 1)
        self.port = int(port)
        self.tls = emu.url.startswith("https")
        self.ctx = ssl_context
        self.conn = None

    def connect(self, timeout=10):
        if self.conn is not None:
            self.conn.close()
        host = self.host.strip("[]")
        if self.tls:
            self.conn = http.client.HTTPSConnection(host, self.port, timeout=timeout, context=self.ctx)
        else:
            self.conn = http.client.HTTPConnection(host, self.port, timeout=timeout)
        return self.conn

    def send(self, method, path, body=b"", headers=()):
        if self.conn is None:
            self.connect()
        self.conn.request(method, path, body=body, headers=dict(headers))
        r = self.conn.getresponse()
        data = r.read()
        return r, data

    def v3(self, action, params=None, method="POST", body=b"", content_type=None, nonce=None, date=None,
           version="2020-06-01", tamper=None, secret=None, token=None):
        params = dict(params or {})
        host = f"{self.host}:{self.port}"
        payload = hashlib.sha256(body).hexdigest()
        headers = [("host", host), ("x-acs-action", action), ("x-acs-version", version),
                   ("x-acs-date", date or now_iso()), ("x-acs-signature-nonce", nonce or uuid.uuid4().hex),
                   ("x-acs-content-sha256", payload)]
        if content_type:
            headers.append(("content-type", content_type))
        token = token if token is not None else self.token
        if token:
            headers.append(("x-acs-security-token", token))
        auth, _, _ = v3_sign(method, params, headers, payload, self.ak, secret or self.secret)
        headers.append(("Authorization", auth))
        if tamper:
            headers = tamper(headers)
        path = "/?" + "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items())) if params else "/"
        return self.answer(*self.send(method, path, body, headers))

    def v1(self, action, params=None, method="GET", form=False, nonce=None, date=None, secret=None, token=None):
        p = {"AccessKeyId": self.ak, "Action": action, "Format": "JSON", "SignatureMethod": "HMAC-SHA1",
             "SignatureNonce": nonce or uuid.uuid4().hex, "SignatureVersion": "1.0",
             "Timestamp": date or now_iso(), "Version": "2020-06-01"}
        token = token if token is not None else self.token
        if token:
            p["SecurityToken"] = token
        p.update(params or {})
        p["Signature"], _ = v1_sign(method, p, secret or self.secret)
        q = "&".join(f"{enc(k)}={enc(v)}" for k, v in p.items())
        if form:
            return self.answer(*self.send(method, "/", q.encode(),
                                          [("Content-Type", "application/x-www-form-urlencoded")]))
        return self.answer(*self.send(method, "/?" + q))

    @staticmethod
    def answer(r, data):
        return r.status, r, json.loads(data)


def all_pages(cli, action, params, size, key):
    items, page, total = [], 1, None
    while True:
        st, _, body = cli.v3(action, dict(params, PageNumber=str(page), PageSize=str(size)))
        assert st == 200, body
        assert body["PageNumber"] == page and body["PageSize"] == size
        total = body["TotalCount"]
        items += body[key]
        if page * size >= total:
            return items, total
        page += 1


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    """1 region x 12 instances x 120 invocations (generated), shared by read-only tests."""
    emu = Emulator().start(tmp_path_factory.mktemp("gen"), generate="1:12:120", seed=7, quiet=True)
    yield emu
    emu.stop()


def first_instance(data):
    for reg in data["regions"]:
        for inst in reg["instances"]:
            if inst["invocations"]:
                return reg["RegionId"], inst
    raise AssertionError("no instance with invocations")


# ---- the official SDK ----

def sdk_ready():
    if shutil.which("node") is None:
        return "node is not installed"
    if not (SDK_DIR / "node_modules" / "@alicloud" / "swas-open20200601").is_dir():
        return "the SDK is not installed: cd tests/sdk && npm install --no-audit --no-fund"
    return None


def run_sdk(url, *args, env_extra=None, timeout=120):
    env = dict(os.environ, SDK_TEST_AK_ID=AK_ID, SDK_TEST_AK_SECRET=AK_SECRET, **(env_extra or {}))
    p = subprocess.run(["node", "sdk-check.js", "--endpoint", url, *args], cwd=SDK_DIR, env=env,
                       capture_output=True, text=True, timeout=timeout)
    lines = p.stdout.splitlines()
    bad = [line for line in lines if line.startswith("not ok")]
    assert not bad and p.returncode == 0, "\n".join(bad) + "\n" + p.stderr[-3000:]
    assert lines and lines[-1].startswith("1.."), p.stdout + p.stderr
    return [line.split(" - ", 1)[1] for line in lines if line.startswith("ok ")]


@pytest.mark.parametrize("dataset", [{"sample": True}, {"generate": "2:11:60", "seed": 4}], ids=["sample", "generated"])
def test_official_sdk_v3_and_v1_every_call_and_refusal(emulator_factory, dataset):
    why = sdk_ready()
    if why:
        pytest.skip(why)
    emu = emulator_factory(quiet=True, sts=("STS.NTtestsession", "sts-secret-5c1e", "sts-token-77a1"), **dataset)
    names = run_sdk(emu.url, env_extra={"SDK_TEST_STS_AK_ID": "STS.NTtestsession",
                                        "SDK_TEST_STS_AK_SECRET": "sts-secret-5c1e",
                                        "SDK_TEST_STS_TOKEN": "sts-token-77a1"})
    print(f"\nthe official SDK: {len(names)} checks passed")
    for must in ["V3 DescribeInvocationResult: every field", "V1 DescribeInvocationResult: every field",
                 "V3 STS pair with its token is accepted", "V1 STS pair with its token is accepted",
                 "V3 the same nonce again is SignatureNonceUsed", "V1 the same nonce again is SignatureNonceUsed",
                 "V3 a date 20 minutes old is InvalidTimeStamp.Expired", "V3 wrong secret is SignatureDoesNotMatch",
                 "V1 wrong secret is SignatureDoesNotMatch", "V3 DescribeInvocations PageSize 51 is InvalidParameter",
                 "V3 unknown AccessKeyId is InvalidAccessKeyId.NotFound",
                 "throttle fault: ThrottlingError with retryAfter", "--enforce-qps: the 11th ListRegions"]:
        assert any(n.startswith(must) for n in names), must
    assert AK_SECRET not in emu.log() and "sts-secret-5c1e" not in emu.log() and "sts-token-77a1" not in emu.log()


@pytest.fixture
def tls_dir(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    return make_test_ca(tmp_path / "tls")


def test_official_sdk_over_https_with_a_test_ca(emulator_factory, tls_dir):
    why = sdk_ready()
    if why:
        pytest.skip(why)
    emu = emulator_factory(sample=True, quiet=True, tls=(tls_dir / "server.pem", tls_dir / "server.key"))
    assert emu.url.startswith("https://127.0.0.1:")
    names = run_sdk(emu.url, "--ca", str(tls_dir / "ca.pem"), "--tls-only")
    assert len(names) == 3


# ---- the protocol, with the test's signer ----

def test_tls_with_python_and_the_test_ca(emulator_factory, tls_dir):
    emu = emulator_factory(sample=True, quiet=True, tls=(tls_dir / "server.pem", tls_dir / "server.key"))
    ctx = ssl.create_default_context(cafile=str(tls_dir / "ca.pem"))
    cli = Client(emu, ssl_context=ctx)
    st, _, body = cli.v3("ListRegions")
    assert st == 200 and body["Regions"]
    st, _, body = cli.v3("ListRegions")  # the same TLS connection, kept alive
    assert st == 200
    with pytest.raises(ssl.SSLError):
        Client(emu, ssl_context=ssl.create_default_context()).v3("ListRegions")
    # A failed handshake does not stop the server.
    assert Client(emu, ssl_context=ctx).v3("ListRegions")[0] == 200


def test_v3_and_v1_requests_in_every_wire_form(emulator):
    cli = Client(emulator)
    assert cli.v3("ListRegions")[0] == 200
    st, _, body = cli.v3("ListRegions", body=b"AcceptLanguage=en-US", content_type="application/x-www-form-urlencoded")
    assert st == 200, body
    assert "China (Hangzhou)" in [r["LocalName"] for r in body["Regions"]]
    assert cli.v3("ListRegions", method="GET")[0] == 200
    assert cli.v1("ListRegions", method="GET")[0] == 200
    assert cli.v1("ListRegions", method="POST")[0] == 200
    st, _, body = cli.v1("ListRegions", {"AcceptLanguage": "en-US"}, method="POST", form=True)
    assert st == 200 and "China (Hangzhou)" in [r["LocalName"] for r in body["Regions"]]
    # Values that need encoding, including '*' sent raw as Node's querystring does.
    st, r, body = cli.v3("ListInstances", {"RegionId": "cn-hangzhou", "InstanceName": "web-0*"})
    assert st == 200 and [i["InstanceName"] for i in body["Instances"]] == ["web-01"]
    assert r.getheader("Content-Type") == "application/json;charset=utf-8"
    assert int(r.getheader("Content-Length")) > 0
    st, _, body = cli.v1("ListInstances", {"RegionId": "cn-hangzhou", "InstanceName": "测试* é!'()"})
    assert st == 200 and body["Instances"] == []


def error_of(result, status, code):
    st, r, body = result
    assert (st, body.get("Code")) == (status, code), body
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}, body
    assert uuid.UUID(body["RequestId"]) and body["RequestId"] == body["RequestId"].upper()
    assert body["Recommend"] == (f"https://api.alibabacloud.com/troubleshoot?q={code}&product=SWAS-OPEN"
                                 f"&requestId={body['RequestId']}")
    assert r.getheader("Content-Type") == "application/json;charset=utf-8"
    assert body["Message"]
    return body


def test_refusals_have_the_real_codes_and_error_body(emulator):
    cli = Client(emulator)
    b = error_of(cli.v3("ListRegions", secret="wrong"), 400, "SignatureDoesNotMatch")
    assert b["Message"].startswith("Specified signature does not match our calculation. server StringToSign is "
                                   "[ACS3-HMAC-SHA256 ")
    assert AK_SECRET not in json.dumps(b)
    error_of(cli.v1("ListRegions", secret="wrong"), 400, "SignatureDoesNotMatch")
    b = error_of(Client(emulator, ak="nobody").v3("ListRegions"), 404, "InvalidAccessKeyId.NotFound")
    assert b["Message"] == "Specified access key is not found."
    error_of(Client(emulator, ak="nobody").v1("ListRegions"), 404, "InvalidAccessKeyId.NotFound")
    # Replays and stale dates, both signatures.
    assert cli.v3("ListRegions", nonce="n-1")[0] == 200
    error_of(cli.v3("ListRegions", nonce="n-1"), 400, "SignatureNonceUsed")
    assert cli.v1("ListRegions", nonce="n-2")[0] == 200
    b = error_of(cli.v1("ListRegions", nonce="n-2"), 400, "SignatureNonceUsed")
    assert b["Message"] == "Specified signature nonce was used already."
    b = error_of(cli.v3("ListRegions", date=now_iso(-16 * 60)), 400, "InvalidTimeStamp.Expired")
    assert b["Message"] == "Specified time stamp or date value is expired."
    error_of(cli.v1("ListRegions", date=now_iso(16 * 60)), 400, "InvalidTimeStamp.Expired")
    assert cli.v3("ListRegions", date=now_iso(-14 * 60))[0] == 200
    # A signature that does not cover the body's hash.
    error_of(Client.answer(*cli.send("POST", "/", b"AcceptLanguage=en-US", _resign_without_body(cli))),
             400, "SignatureDoesNotMatch")
    # Required headers left out of SignedHeaders, or a malformed Authorization.
    def drop_action(h):
        return [(k, v.replace("x-acs-action;", "")) if k == "Authorization" else (k, v) for k, v in h]
    error_of(cli.v3("ListRegions", tamper=drop_action), 400, "IncompleteSignature")
    error_of(cli.v3("ListRegions", tamper=lambda h: [(k, "ACS3-HMAC-SHA256 nonsense") if k == "Authorization"
                                                     else (k, v) for k, v in h]), 400, "IncompleteSignature")
    error_of(Client.answer(*cli.send("POST", "/?Action=ListRegions&Version=2020-06-01")), 400, "IncompleteSignature")
    # The API itself.
    b = error_of(cli.v3("DescribeEverything"), 404, "InvalidAction.NotFound")
    assert b["Message"] == "Specified api is not found, please check your url and method."
    error_of(cli.v3("ListRegions", version="2017-01-01"), 400, "InvalidVersion")
    error_of(cli.v3("ListInstances"), 400, "MissingRegionId")
    b = error_of(cli.v3("DescribeInvocations", {"RegionId": "cn-hangzhou"}), 400, "MissingParameter")
    assert b["Message"] == ('The input parameter "InstanceId" that is mandatory for processing this request is '
                            'not supplied.')
    error_of(cli.v3("DescribeInvocationResult", {"RegionId": "cn-hangzhou", "InstanceId": "x"}), 400,
             "MissingParameter")
    inst = first_instance(emulator.data())[1]["InstanceId"]
    for params in [{"PageSize": "51"}, {"PageSize": "0"}, {"PageNumber": "0"}, {"PageNumber": "x"},
                   {"InvokeStatus": "Sleeping"}]:
        error_of(cli.v3("DescribeInvocations", dict(params, RegionId="cn-hangzhou", InstanceId=inst)), 400,
                 "InvalidParameter")
    assert cli.v3("DescribeInvocations", {"RegionId": "cn-hangzhou", "InstanceId": inst, "PageSize": "50"})[0] == 200
    error_of(cli.v3("ListInstances", {"RegionId": "cn-hangzhou", "PageSize": "101"}), 400, "InvalidParameter")
    error_of(cli.v3("ListInstances", {"RegionId": "cn-hangzhou", "InstanceIds": "not json"}), 400, "InvalidParameter")
    assert cli.v3("ListInstances", {"RegionId": "cn-hangzhou", "PageSize": "100"})[0] == 200
    error_of(cli.v3("ListInstances", {"RegionId": "xx-nowhere-1"}), 404, "InvalidRegionId.NotFound")
    b = error_of(cli.v3("DescribeInvocations", {"RegionId": "cn-hangzhou", "InstanceId": "i-nope"}), 404,
                 "InvalidInstanceId.NotFound")
    assert b["Message"] == "The specified InstanceId does not exist."
    error_of(cli.v3("DescribeInvocationResult", {"RegionId": "cn-hangzhou", "InstanceId": inst, "InvokeId": "t-no"}),
             404, "InvalidInvokeId.NotFound")
    # Every refusal was counted, by Code.
    c = emulator.counters()
    assert c["refused"]["SignatureDoesNotMatch"] == 3 and c["refused"]["InvalidParameter"] == 7


def _resign_without_body(cli):
    """Headers signed for an empty body, to be sent with a body."""
    payload = hashlib.sha256(b"").hexdigest()
    headers = [("host", f"{cli.host}:{cli.port}"), ("x-acs-action", "ListRegions"), ("x-acs-version", "2020-06-01"),
               ("x-acs-date", now_iso()), ("x-acs-signature-nonce", uuid.uuid4().hex),
               ("x-acs-content-sha256", payload), ("content-type", "application/x-www-form-urlencoded")]
    auth, _, _ = v3_sign("POST", {}, headers, payload, cli.ak, cli.secret)
    return headers + [("Authorization", auth)]


def test_sts_pairs(emulator_factory):
    emu = emulator_factory(sample=True, quiet=True, sts=("STS.x1", "s2", "tok-9"))
    assert Client(emu, ak="STS.x1", secret="s2", token="tok-9").v3("ListRegions")[0] == 200
    assert Client(emu, ak="STS.x1", secret="s2", token="tok-9").v1("ListRegions")[0] == 200
    error_of(Client(emu, ak="STS.x1", secret="s2", token="tok-8").v3("ListRegions"), 400,
             "InvalidSecurityToken.MismatchWithAccessKey")
    error_of(Client(emu, ak="STS.x1", secret="s2", token="tok-8").v1("ListRegions"), 400,
             "InvalidSecurityToken.MismatchWithAccessKey")
    error_of(Client(emu, ak="STS.x1", secret="s2").v3("ListRegions"), 400, "InvalidSecurityToken.Malformed")
    # The long-term pair still works, and refuses a token.
    assert Client(emu).v3("ListRegions")[0] == 200
    error_of(Client(emu, token="tok-9").v3("ListRegions"), 400, "InvalidSecurityToken.MismatchWithAccessKey")
    # A token header must be signed.
    def unsigned_token(h):
        return h + [("x-acs-security-token", "tok-9")]
    error_of(Client(emu, ak="STS.x1", secret="s2").v3("ListRegions", tamper=unsigned_token), 400,
             "IncompleteSignature")


def test_the_main_pair_alone_can_be_an_sts_pair(emulator_factory):
    emu = emulator_factory(sample=True, quiet=True, token="only-token")
    assert Client(emu, token="only-token").v3("ListRegions")[0] == 200
    error_of(Client(emu).v3("ListRegions"), 400, "InvalidSecurityToken.Malformed")


# ---- data and paging ----

def test_paging_is_exact_over_a_generated_set(gen):
    data = gen.data()
    (reg,) = data["regions"]
    cli = Client(gen)
    assert len(reg["instances"]) > 10
    for size in (5, 100):
        insts, total = all_pages(cli, "ListInstances", {"RegionId": reg["RegionId"]}, size, "Instances")
        assert [i["InstanceId"] for i in insts] == [i["InstanceId"] for i in reg["instances"]]
        assert total == len(reg["instances"])
    for inst in reg["instances"]:
        want = inst["invocations"]
        assert len(want) > 50
        for size in (50, 7):
            got, total = all_pages(cli, "DescribeInvocations", {"RegionId": reg["RegionId"],
                                                                "InstanceId": inst["InstanceId"]}, size,
                                   "Invocations")
            assert total == len(want)
            assert [g["InvokeId"] for g in got] == [w["InvokeId"] for w in want]
            assert got == [{k: v for k, v in w.items() if k != "Result"} for w in want]
        # Newest first, ties by InvokeId.
        keys = [(g["CreationTime"], g["InvokeId"]) for g in got]
        assert all(a[0] > b[0] or (a[0] == b[0] and a[1] < b[1]) for a, b in zip(keys, keys[1:]))
    # A page past the end is empty, TotalCount still right.
    st, _, body = cli.v3("DescribeInvocations", {"RegionId": reg["RegionId"], "InstanceId": inst["InstanceId"],
                                                  "PageNumber": "99", "PageSize": "50"})
    assert st == 200 and body["Invocations"] == [] and body["TotalCount"] == len(want)
    # The statuses, command types and parameters are mixed.
    invs = [i for inst in reg["instances"] for i in inst["invocations"]]
    assert {i["InvokeStatus"] for i in invs} == {"Running", "Finished", "Failed", "Stopped"}
    assert {i["CommandType"] for i in invs} == {"RunShellScript", "RunBatScript", "RunPowerShellScript"}
    assert any(i["Parameters"] for i in invs) and any(not i["Parameters"] for i in invs)
    assert len({i["CreationTime"] for i in invs}) < len(invs), "no tied CreationTime to order by InvokeId"


def test_results_match_the_data(gen):
    data = gen.data()
    cli = Client(gen)
    reg = data["regions"][0]
    for inst in reg["instances"][:2]:
        for inv in inst["invocations"][:40]:
            st, _, body = cli.v3("DescribeInvocationResult", {"RegionId": reg["RegionId"],
                                                              "InstanceId": inst["InstanceId"],
                                                              "InvokeId": inv["InvokeId"]})
            assert st == 200
            res = body["InvocationResult"]
            assert res == dict(inv["Result"], InvokeId=inv["InvokeId"], InstanceId=inst["InstanceId"])
            assert isinstance(res["ExitCode"], int)
            assert (res["FinishedTime"] == "") == (inv["InvokeStatus"] == "Running")
            assert res["InvokeRecordStatus"] == inv["InvokeStatus"]
            base64.b64decode(res["Output"], validate=True)


def test_generation_is_deterministic_and_seeded():
    a = emu_mod.generate_data("2:3:20", 5)
    assert a == emu_mod.generate_data("2:3:20", 5)
    assert a != emu_mod.generate_data("2:3:20", 6)
    assert [len(r["instances"]) for r in a["regions"]] == [3, 3]
    assert all(len(i["invocations"]) == 20 for r in a["regions"] for i in r["instances"])


def test_generate_100k_invocations_load_time(tmp_path):
    t0 = time.monotonic()
    emu = Emulator().start(tmp_path, generate="2:50:1000", seed=1, quiet=True, timeout=60)
    elapsed = time.monotonic() - t0
    try:
        cli = Client(emu)
        st, _, body = cli.v3("ListInstances", {"RegionId": "cn-hangzhou", "PageSize": "100"})
        assert st == 200 and body["TotalCount"] == 50
        inst = body["Instances"][-1]["InstanceId"]
        st, _, body = cli.v3("DescribeInvocations", {"RegionId": "cn-hangzhou", "InstanceId": inst,
                                                      "PageNumber": "20", "PageSize": "50"})
        assert st == 200 and body["TotalCount"] == 1000 and len(body["Invocations"]) == 50
    finally:
        emu.stop()
    print(f"\n--generate 2:50:1000 (100,000 invocations): listening after {elapsed:.2f} s")


def test_an_invocation_landing_between_two_pages_shifts_the_later_ones(emulator_factory):
    emu = emulator_factory(generate="1:1:140", seed=11, quiet=True)
    reg, inst = first_instance(emu.data())
    before = [i["InvokeId"] for i in inst["invocations"]]
    emu.event(after_page=1, instance=inst["InstanceId"],
              add={"InvokeId": "t-between00001", "CreationTime": "2030-01-01T00:00:00Z", "InvokeStatus": "Running"})
    cli = Client(emu)
    params = {"RegionId": reg, "InstanceId": inst["InstanceId"], "PageSize": "50"}
    _, _, p1 = cli.v3("DescribeInvocations", dict(params, PageNumber="1"))
    _, _, p2 = cli.v3("DescribeInvocations", dict(params, PageNumber="2"))
    assert p1["TotalCount"] == 140 and p2["TotalCount"] == 141
    assert [i["InvokeId"] for i in p1["Invocations"]] == before[:50]
    # The newest landed on page 1, so page 2 starts with page 1's last record again.
    assert [i["InvokeId"] for i in p2["Invocations"]] == before[49:99]
    _, _, again = cli.v3("DescribeInvocations", dict(params, PageNumber="1"))
    assert again["Invocations"][0]["InvokeId"] == "t-between00001"
    assert again["Invocations"][0]["InvocationStatus"] == "Running"
    # The event fired once.
    _, _, p2b = cli.v3("DescribeInvocations", dict(params, PageNumber="2"))
    assert p2b["TotalCount"] == 141
    # Without a CreationTime, an added invocation is created now.
    emu.event(after_page=2, instance=inst["InstanceId"], add={"InvokeId": "t-now00000001"})
    cli.v3("DescribeInvocations", dict(params, PageNumber="2"))
    got, total = all_pages(cli, "DescribeInvocations", {"RegionId": reg, "InstanceId": inst["InstanceId"]}, 50,
                           "Invocations")
    assert total == 142 and len(got) == 142
    (new,) = [i for i in got if i["InvokeId"] == "t-now00000001"]
    assert abs(emu_mod.parse_time(new["CreationTime"]) - time.time()) < 60


# ---- faults ----

def test_every_fault_kind(emulator_factory):
    emu = emulator_factory(sample=True, quiet=True)
    reg, inst = first_instance(emu.data())
    params = {"RegionId": reg, "InstanceId": inst["InstanceId"]}
    cli = Client(emu)

    def call():
        return cli.v3("DescribeInvocations", params)

    emu.faults("5xx", 1)
    error_of(call(), 503, "ServiceUnavailable")
    emu.faults("500", 1)
    error_of(call(), 500, "InternalError")
    emu.faults("throttle", 1, retry_after_ms=1234)
    st, r, b = call()
    error_of((st, r, b), 400, "Throttling.User")
    assert b["Message"] == "Request was denied due to user flow control."
    assert r.getheader("x-acs-retry-after") == "1234"
    emu.faults("forbidden", 1)
    b = error_of(call(), 403, "Forbidden.RAM")
    assert b["Message"] == "User not authorized to operate on the specified resource."
    emu.faults("malformed", 1)
    r, data = cli.send("GET", "/?" + "&".join(f"{k}={v}" for k, v in params.items()),
                       headers=[("x-acs-action", "DescribeInvocations")])
    assert r.status == 200
    with pytest.raises(ValueError):
        json.loads(data)
    emu.faults("shape", 1)
    st, _, b = call()
    assert st == 200 and not isinstance(b["Invocations"], list)
    emu.faults("truncate", 1)
    with pytest.raises(http.client.IncompleteRead):
        call()
    cli.connect()
    emu.faults("reset", 1)
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        call()
    cli.connect()
    assert call()[0] == 200, "the faults were used up"
    c = emu.counters()
    assert c["by_action"]["DescribeInvocations"] == 9
    assert c["refused"] == {"ServiceUnavailable": 1, "InternalError": 1, "Throttling.User": 1, "Forbidden.RAM": 1}


def test_hang_does_not_block_other_requests(emulator_factory):
    emu = emulator_factory(sample=True, quiet=True)
    emu.faults("hang", 1, action="ListInstances")      # default hang_s: 60, past any client timeout
    slow = Client(emu)
    slow.connect(timeout=1)
    t0 = time.monotonic()
    with pytest.raises(socket.timeout):
        slow.v3("ListInstances", {"RegionId": "cn-hangzhou"})
    assert time.monotonic() - t0 < 3
    fast = Client(emu)
    t0 = time.monotonic()
    assert fast.v3("ListInstances", {"RegionId": "cn-hangzhou"})[0] == 200
    assert time.monotonic() - t0 < 2, "another connection waited for the hung one"
    emu.faults("hang", 1, hang_s=0.3)   # a short hang answers normally afterwards
    t0 = time.monotonic()
    assert fast.v3("ListRegions")[0] == 200
    assert time.monotonic() - t0 >= 0.3


def test_faults_filter_by_action_and_instance_and_run_in_order(emulator_factory):
    emu = emulator_factory(sample=True, quiet=True)
    reg, inst = first_instance(emu.data())
    cli = Client(emu)
    emu.faults("5xx", 1, action="DescribeInvocationResult")
    emu.faults("500", 1, action="DescribeInvocationResult")
    emu.faults("forbidden", 2, instance="some-other-instance")
    assert cli.v3("ListRegions")[0] == 200
    assert cli.v3("DescribeInvocations", {"RegionId": reg, "InstanceId": inst["InstanceId"]})[0] == 200
    p = {"RegionId": reg, "InstanceId": inst["InstanceId"], "InvokeId": inst["invocations"][0]["InvokeId"]}
    assert cli.v3("DescribeInvocationResult", p)[0] == 503
    assert cli.v3("DescribeInvocationResult", p)[0] == 500
    assert cli.v3("DescribeInvocationResult", p)[0] == 200
    assert emu.control("GET", "faults")["faults"][0]["instance"] == "some-other-instance"
    emu.clear_faults()
    assert emu.control("GET", "faults")["faults"] == []


def test_fault_rate_and_latency_from_config(emulator_factory):
    emu = emulator_factory(sample=True, quiet=True)
    cli = Client(emu)
    emu.config(fault_rate=1.0, fault_kind="500")
    assert [cli.v3("ListRegions")[0] for _ in range(3)] == [500] * 3
    emu.config(fault_rate=0.0, latency_ms=200)
    t0 = time.monotonic()
    assert cli.v3("ListRegions")[0] == 200
    assert time.monotonic() - t0 >= 0.2
    cfg = emu.config(latency_ms=0)
    assert cfg["latency_ms"] == 0 and cfg["fault_kind"] == "500"
    for bad in [{"fault_kind": "explode"}, {"latency_ms": "slow"}, {"no_such_setting": 1}, {"enforce_qps": "yes"}]:
        with pytest.raises(Exception) as e:
            emu.config(**bad)
        assert getattr(e.value, "status", None) == 400, bad
    with pytest.raises(Exception) as e:
        emu.faults("explode", 1)
    assert getattr(e.value, "status", None) == 400


def test_published_qps_limit_when_enforced(emulator_factory):
    emu = emulator_factory(sample=True, quiet=True)
    cli = Client(emu)
    assert all(cli.v3("ListInstances", {"RegionId": "cn-hangzhou"})[0] == 200 for _ in range(12)), \
        "not enforced by default"
    emu.config(enforce_qps=True)
    codes = [cli.v3("ListRegions")[0] for _ in range(10)]
    assert codes == [200] * 10
    st, r, b = cli.v3("ListRegions")
    error_of((st, r, b), 400, "Throttling.User")
    assert 0 < int(r.getheader("x-acs-retry-after")) <= 60000
    # Per API: DescribeInvocations has no published limit.
    reg, inst = first_instance(emu.data())
    assert all(cli.v3("DescribeInvocations", {"RegionId": reg, "InstanceId": inst["InstanceId"]})[0] == 200
               for _ in range(15))


def test_fault_mix_gives_the_asked_proportions_and_spares_list_regions(emulator_factory):
    emu = emulator_factory(sample=True, quiet=True, seed=3)
    reg, inst = first_instance(emu.data())
    params = {"RegionId": reg, "InstanceId": inst["InstanceId"]}
    mix = {"5xx": 0.2, "throttle": 0.1, "forbidden": 0.05}
    assert emu.set_fault_mix(mix)["fault_mix"] == mix
    assert emu.get_config()["fault_mix"] == mix
    cli = Client(emu)
    n = 400
    statuses = [cli.v3("DescribeInvocations", params)[0] for _ in range(n)]
    got = {s: statuses.count(s) for s in set(statuses)}
    assert set(got) <= {200, 503, 400, 403}, got
    # Binomial bounds, about 4 standard deviations wide.
    for status, p in [(503, 0.2), (400, 0.1), (403, 0.05), (200, 0.65)]:
        sd = (n * p * (1 - p)) ** 0.5
        assert abs(got.get(status, 0) - n * p) <= 4 * sd, (status, got)
    refused = emu.counters()["refused"]
    assert refused == {"ServiceUnavailable": got[503], "Throttling.User": got[400], "Forbidden.RAM": got[403]}
    # ListRegions is exempt, even from a mix that fails everything else.
    emu.set_fault_mix({"5xx": 1.0})
    assert [cli.v3("ListRegions")[0] for _ in range(20)] == [200] * 20
    assert cli.v3("ListInstances", {"RegionId": reg})[0] == 503
    # Queued faults come first; the old fault_rate still applies to ListRegions.
    emu.faults("forbidden", 1)
    assert [cli.v3("DescribeInvocations", params)[0] for _ in range(2)] == [403, 503]
    emu.config(fault_rate=1.0, fault_kind="500")
    assert cli.v3("ListRegions")[0] == 500
    emu.config(fault_rate=0.0)
    # {} clears the mix, and so does DELETE /_emulator/faults.
    assert emu.set_fault_mix({})["fault_mix"] == {}
    assert cli.v3("DescribeInvocations", params)[0] == 200
    emu.set_fault_mix({"truncate": 1.0})
    with pytest.raises(http.client.IncompleteRead):
        cli.v3("DescribeInvocations", params)
    emu.clear_faults()
    assert emu.get_config()["fault_mix"] == {}
    cli.connect()
    assert cli.v3("DescribeInvocations", params)[0] == 200
    for bad in [{"5xx": 0.7, "throttle": 0.5}, {"boom": 0.1}, {"5xx": -0.1}, {"5xx": "0.1"}, {"5xx": True},
                [["5xx", 0.1]], "5xx=0.1"]:
        with pytest.raises(Exception) as e:
            emu.config(fault_mix=bad)
        assert getattr(e.value, "status", None) == 400, bad
    assert emu.get_config()["fault_mix"] == {}


def test_fault_mix_repeats_with_a_seed_and_from_the_command_line(emulator_factory):
    runs = []
    for _ in range(2):
        emu = emulator_factory("--fault-mix", "5xx=0.3,throttle=0.2", sample=True, quiet=True, seed=9)
        assert emu.get_config()["fault_mix"] == {"5xx": 0.3, "throttle": 0.2}
        cli = Client(emu)
        runs.append([cli.v3("ListInstances", {"RegionId": "cn-hangzhou"})[0] for _ in range(60)])
        assert Client(emu).v3("ListRegions")[0] == 200
    assert runs[0] == runs[1] and {503, 400, 200} <= set(runs[0])


def test_bad_fault_mix_and_hostile_arguments_exit_2(tmp_path):
    for args, want in [(["--fault-mix", "5xx=0.7,throttle=0.5"], "more than 1"),
                       (["--fault-mix", "boom=0.1"], "unknown fault kind"),
                       (["--fault-mix", "5xx"], "not KIND=PROBABILITY"),
                       (["--fault-mix", "5xx=much"], "not a number"),
                       (["--hostile", "nice"], "--hostile"),
                       (["--hostile-actions", "ListRegions,Nope"], "--hostile-actions"),
                       (["--hostile-records", "-1"], "--hostile-records"),
                       (["--slow-bps", "0"], "--slow-bps")]:
        p = subprocess.run([sys.executable, str(EMULATOR), "--listen", "127.0.0.1:0", "--access-key-id", "a",
                            "--sample", *args], capture_output=True, text=True, timeout=20,
                           env=dict(os.environ, SWAS_EMULATOR_ACCESS_KEY_SECRET="s"))
        assert p.returncode == 2 and want in p.stderr and not p.stdout, (args, p.stderr)


# ---- hostile modes ----

def raw_request(cli, action, params, timeout=10):
    """A signed V3 request on a fresh socket; returns (socket, status line, {lowercase header: value},
    body bytes already read past the head)."""
    payload = hashlib.sha256(b"").hexdigest()
    host = f"{cli.host}:{cli.port}"
    headers = [("host", host), ("x-acs-action", action), ("x-acs-version", "2020-06-01"),
               ("x-acs-date", now_iso()), ("x-acs-signature-nonce", uuid.uuid4().hex),
               ("x-acs-content-sha256", payload)]
    auth, _, _ = v3_sign("POST", params, headers, payload, cli.ak, cli.secret)
    headers.append(("Authorization", auth))
    path = "/?" + "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items())) if params else "/"
    req = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "Content-Length: 0\r\n\r\n"
    sock = socket.create_connection((cli.host, cli.port), timeout=timeout)
    sock.sendall(req.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, "closed before the head"
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return sock, lines[0], hdrs, rest


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture
def hostile(emulator_factory):
    emu = emulator_factory(sample=True, quiet=True)
    reg, inst = first_instance(emu.data())
    ids = {"RegionId": reg, "InstanceId": inst["InstanceId"]}
    return emu, Client(emu), reg, ids, dict(ids, InvokeId=inst["invocations"][0]["InvokeId"])


def test_hostile_oversized_page(hostile):
    emu, cli, reg, ids, res = hostile
    cfg = emu.set_hostile("oversized_page")
    assert cfg["hostile"] == "oversized_page" and cfg["hostile_records"] == 100000
    assert cfg["hostile_actions"] == ["ListInstances", "DescribeInvocations", "DescribeInvocationResult"]
    st, r, body = cli.v3("DescribeInvocations", dict(ids, PageSize="10"))
    assert st == 200 and body["TotalCount"] == 100000 and body["PageSize"] == 10
    first = [i["InvokeId"] for i in body["Invocations"]]
    assert len(first) == 100000 == len(set(first))
    assert int(r.getheader("Content-Length")) > 100000 * 100
    emu.set_hostile("oversized_page", hostile_records=2500)
    st, _, body = cli.v3("DescribeInvocations", dict(ids, PageSize="10"))
    again = [i["InvokeId"] for i in body["Invocations"]]
    assert body["TotalCount"] == 2500 == len(set(again)) and not set(again) & set(first), "ids are fresh"
    st, _, body = cli.v3("ListInstances", {"RegionId": reg, "PageSize": "5", "PageNumber": "3"})
    assert st == 200 and body["TotalCount"] == 2500 and body["PageNumber"] == 3
    insts = [i["InstanceId"] for i in body["Instances"]]
    assert len(set(insts)) == 2500 and all(i["RegionId"] == reg for i in body["Instances"])
    # DescribeInvocationResult and (unlisted) ListRegions are unaffected; refusals stay refusals.
    st, _, body = cli.v3("DescribeInvocationResult", res)
    assert st == 200 and body["InvocationResult"]["InvokeId"] == res["InvokeId"]
    assert len(cli.v3("ListRegions")[2]["Regions"]) == 3
    error_of(cli.v3("DescribeInvocations", dict(ids, PageSize="51")), 400, "InvalidParameter")
    emu.clear_hostile()
    assert cli.v3("DescribeInvocations", dict(ids, PageSize="10"))[2]["TotalCount"] == len(
        emu.data()["regions"][0]["instances"][0]["invocations"])


def test_hostile_endless_total(hostile):
    emu, cli, reg, ids, res = hostile
    emu.set_hostile("endless_total")
    real = len(emu.data()["regions"][0]["instances"])
    st, _, body = cli.v3("ListInstances", {"RegionId": reg})
    assert st == 200 and body["TotalCount"] == 2 ** 62 and len(body["Instances"]) == real
    st, _, body = cli.v3("DescribeInvocations", dict(ids, PageSize="50"))
    assert body["TotalCount"] == 4611686018427387904 and body["Invocations"]
    for page in ("2", "1000000"):   # past the real data: empty, as the real API answers
        st, _, body = cli.v3("DescribeInvocations", dict(ids, PageSize="50", PageNumber=page))
        assert st == 200 and body["Invocations"] == [] and body["TotalCount"] == 2 ** 62
    assert "TotalCount" not in cli.v3("DescribeInvocationResult", res)[2]


def test_hostile_endless_pages(hostile):
    emu, cli, reg, ids, res = hostile
    emu.set_hostile("endless_pages")
    seen = set()
    for page, size in [("1", "50"), ("2", "50"), ("1", "50"), ("123456789", "7")]:
        st, _, body = cli.v3("DescribeInvocations", dict(ids, PageSize=size, PageNumber=page))
        assert st == 200 and body["TotalCount"] == 2 ** 62 and body["PageNumber"] == int(page)
        got = [i["InvokeId"] for i in body["Invocations"]]
        assert len(got) == int(size) and not seen & set(got), "fresh, unique ids on every page and call"
        seen |= set(got)
    st, _, body = cli.v3("ListInstances", {"RegionId": reg, "PageSize": "100", "PageNumber": "99"})
    assert len({i["InstanceId"] for i in body["Instances"]}) == 100 and body["TotalCount"] == 2 ** 62
    assert cli.v3("DescribeInvocationResult", res)[0] == 200


def test_hostile_deep_nesting(hostile):
    emu, cli, reg, ids, res = hostile
    emu.set_hostile("deep_nesting")
    for action, params in [("ListInstances", {"RegionId": reg}), ("DescribeInvocations", ids),
                           ("DescribeInvocationResult", res)]:
        sock, status, hdrs, body = raw_request(cli, action, params)
        with sock:
            n = int(hdrs["content-length"])
            while len(body) < n:
                chunk = sock.recv(65536)
                assert chunk
                body += chunk
        assert status.startswith("HTTP/1.1 200") and hdrs["content-type"].startswith("application/json")
        depth = len(body) - len(body.lstrip(b"["))
        assert depth == 100000 and body == b"[" * depth + b"]" * depth, action
    assert cli.v3("ListRegions")[0] == 200, "not listed: unaffected"
    emu.set_hostile("deep_nesting", actions=["ListRegions"])
    with pytest.raises(RecursionError):
        cli.v3("ListRegions")
    assert cli.v3("ListInstances", {"RegionId": reg})[0] == 200


def test_hostile_slow_body(hostile):
    emu, cli, reg, ids, res = hostile
    emu.set_hostile("slow_body", slow_bps=64)
    t0 = time.monotonic()
    sock, status, hdrs, body = raw_request(cli, "DescribeInvocations", dict(ids, PageSize="50"))
    head_s = time.monotonic() - t0
    with sock:
        assert status.startswith("HTTP/1.1 200") and head_s < 2, "the head comes at once"
        length = int(hdrs["content-length"])
        assert length > 1000
        sock.settimeout(0.5)
        while time.monotonic() - t0 < 2.0:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                continue
            assert chunk
            body += chunk
        elapsed = time.monotonic() - t0
    assert 0 < len(body) <= 64 * elapsed + 64, (len(body), elapsed)
    assert len(body) < length and body.startswith(b'{"RequestId":')
    # The client gave up; the server thread ends soon after.
    wait_for(lambda: emu.in_flight() == {}, timeout=5)
    # Faster, the whole normal answer arrives, still at the asked rate (written 1000 / 8 bytes at a time).
    emu.set_hostile("slow_body", slow_bps=1000)
    t0 = time.monotonic()
    st, r, body = cli.v3("DescribeInvocationResult", res)
    elapsed = time.monotonic() - t0
    assert st == 200 and body["InvocationResult"]["InvokeId"] == res["InvokeId"]
    assert elapsed >= (int(r.getheader("Content-Length")) - 125) / 1000 * 0.9, elapsed


def test_hostile_huge_body_streams_until_the_client_leaves(hostile):
    emu, cli, reg, ids, res = hostile
    emu.set_hostile("huge_body")
    rss0 = rss_kib(emu.proc.pid)
    sock, status, hdrs, body = raw_request(cli, "DescribeInvocations", ids)
    t0 = time.monotonic()
    with sock:
        assert status.startswith("HTTP/1.1 200") and int(hdrs["content-length"]) == 1 << 30
        assert body.startswith(b'{"RequestId":"')
        got = len(body)
        while got < 8 << 20 and time.monotonic() - t0 < 30:
            chunk = sock.recv(1 << 20)
            assert chunk
            got += len(chunk)
        assert got >= 8 << 20
    wait_for(lambda: emu.in_flight() == {}, timeout=5)
    assert rss_kib(emu.proc.pid) - rss0 < 32 * 1024, "the body was not built in memory"
    emu.clear_hostile()
    assert Client(emu).v3("DescribeInvocations", ids)[0] == 200, "the server survives"
    # Endless and chunked.
    emu.set_hostile("huge_body", huge_bytes=0)
    t0 = time.monotonic()
    sock, status, hdrs, body = raw_request(cli, "ListInstances", {"RegionId": reg})
    with sock:
        assert hdrs.get("transfer-encoding") == "chunked" and "content-length" not in hdrs
        got = len(body)
        while got < 8 << 20 and time.monotonic() - t0 < 30:
            chunk = sock.recv(1 << 20)
            assert chunk
            got += len(chunk)
        assert got >= 8 << 20
    wait_for(lambda: emu.in_flight() == {}, timeout=5)
    # A small size: the whole of it is one valid JSON object.
    emu.set_hostile("huge_body", huge_bytes=200000)
    st, r, body = Client(emu).v3("DescribeInvocationResult", res)
    assert st == 200 and int(r.getheader("Content-Length")) == 200000 and set(body["Padding"]) == {"x"}


def test_hostile_config_is_checked(hostile):
    emu, cli, reg, ids, res = hostile
    for bad in [{"hostile": "nice"}, {"hostile_actions": ["Nope"]}, {"hostile_actions": "ListRegions"},
                {"hostile_records": -1}, {"hostile_records": 10 ** 8}, {"hostile_records": 1.5},
                {"slow_bps": 0}, {"slow_bps": True}, {"huge_bytes": 10}]:
        with pytest.raises(Exception) as e:
            emu.config(**bad)
        assert getattr(e.value, "status", None) == 400, bad
    assert emu.get_config()["hostile"] is None
    assert emu.set_hostile("endless_total", actions=[])["hostile_actions"] == []
    assert cli.v3("ListInstances", {"RegionId": reg})[2]["TotalCount"] < 100, "no action listed"
    assert emu.config(hostile="")["hostile"] is None
    assert emu.set_hostile(None)["hostile_actions"] == ["ListInstances", "DescribeInvocations",
                                                        "DescribeInvocationResult"]


# ---- counters and the control API ----

def test_counters_count_every_api_request(emulator_factory):
    emu = emulator_factory(sample=True, quiet=True)
    reg, inst = first_instance(emu.data())
    cli = Client(emu)
    iid = inst["invocations"][0]["InvokeId"]
    cli.v3("ListRegions")
    cli.v1("ListInstances", {"RegionId": reg})
    for _ in range(3):
        cli.v3("DescribeInvocations", {"RegionId": reg, "InstanceId": inst["InstanceId"]})
    cli.v3("DescribeInvocationResult", {"RegionId": reg, "InstanceId": inst["InstanceId"], "InvokeId": iid})
    cli.v3("ListRegions", secret="wrong")
    emu.data()  # control requests are not counted
    c = emu.counters()
    assert c["total"] == 7
    assert c["by_action"] == {"ListRegions": 2, "ListInstances": 1, "DescribeInvocations": 3,
                              "DescribeInvocationResult": 1}
    assert c["by_region"] == {reg: 5}
    assert c["by_instance"] == {inst["InstanceId"]: 4}
    assert c["by_action_instance"] == {"DescribeInvocations": {inst["InstanceId"]: 3},
                                       "DescribeInvocationResult": {inst["InstanceId"]: 1}}
    assert c["by_action_invocation"] == {"DescribeInvocationResult": {iid: 1}}
    assert c["refused"] == {"SignatureDoesNotMatch": 1}
    emu.reset_counters()
    assert emu.counters()["total"] == 0 and emu.counters()["by_action"] == {}


def run_threads(n, fn, timeout=30):
    """Runs fn(i) in @n threads at once; returns their results (an exception counts as a result)."""
    out = [None] * n
    start = threading.Barrier(n)

    def one(i):
        start.wait(timeout)
        try:
            out[i] = fn(i)
        except Exception as e:   # noqa: BLE001 - handed to the test
            out[i] = e
    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "threads still running"
    return out


def wait_for(cond, timeout=10, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out waiting")


def test_peak_in_flight_counts_requests_held_at_once(emulator_factory):
    emu = emulator_factory(sample=True, quiet=True)
    reg, inst = first_instance(emu.data())
    params = {"RegionId": reg, "InstanceId": inst["InstanceId"]}
    assert emu.in_flight() == {} and emu.peak_in_flight() == {"total": 0}
    emu.config(latency_ms=1000)   # long enough for six threads to be in at once on a busy machine
    codes = run_threads(6, lambda i: Client(emu).v3("DescribeInvocations", params)[0])
    assert codes == [200] * 6
    assert emu.peak_in_flight() == {"total": 6, "DescribeInvocations": 6}
    assert emu.in_flight() == {}, "every answer was sent"
    # Mixed actions: each has its own peak, the total is over all of them.
    codes = run_threads(4, lambda i: Client(emu).v3("ListRegions" if i % 2 else "ListInstances",
                                                    {} if i % 2 else {"RegionId": reg})[0])
    assert codes == [200] * 4
    peak = emu.peak_in_flight()
    assert peak["total"] == 6 and peak["ListRegions"] == 2 and peak["ListInstances"] == 2
    emu.reset_counters()
    assert emu.peak_in_flight() == {"total": 0}
    # A reset while requests are held restarts the peaks from them; a hung request is in flight.
    emu.config(latency_ms=0)
    emu.faults("hang", 3, hang_s=3, action="ListRegions")
    holders = [threading.Thread(target=lambda: Client(emu).v3("ListRegions"), daemon=True) for _ in range(3)]
    for t in holders:
        t.start()
    wait_for(lambda: emu.in_flight().get("ListRegions") == 3)
    emu.reset_counters()
    assert emu.peak_in_flight() == {"total": 3, "ListRegions": 3}
    assert Client(emu).v3("ListInstances", {"RegionId": reg})[0] == 200
    assert emu.peak_in_flight() == {"total": 4, "ListRegions": 3, "ListInstances": 1}
    for t in holders:
        t.join(10)
    assert not any(t.is_alive() for t in holders)
    assert emu.in_flight() == {}
    # A client gone mid-request leaves nothing in flight once its thread is done.
    emu.faults("hang", 1, hang_s=0.5)
    gone = Client(emu)
    gone.connect(timeout=0.2)
    with pytest.raises(socket.timeout):
        gone.v3("ListRegions")
    gone.conn.close()
    wait_for(lambda: emu.in_flight() == {})


def test_control_changes_the_data_at_run_time(emulator_factory):
    emu = emulator_factory(sample=True, quiet=True)
    reg, inst = first_instance(emu.data())
    iid = inst["InstanceId"]
    cli = Client(emu)
    added = emu.add_invocation(reg, iid, {"InvokeId": "t-new0001", "CreationTime": "2026-11-27T00:00:00Z",
                                          "CommandContent": base64.b64encode(b"echo new\n").decode(),
                                          "InvokeStatus": "Running",
                                          "Result": {"Output": base64.b64encode(b"partial").decode()}})
    assert added["InvocationStatus"] == "Running" and added["Parameters"] == {}
    _, _, body = cli.v3("DescribeInvocations", {"RegionId": reg, "InstanceId": iid})
    assert body["Invocations"][0]["InvokeId"] == "t-new0001"
    p = {"RegionId": reg, "InstanceId": iid, "InvokeId": "t-new0001"}
    res = cli.v3("DescribeInvocationResult", p)[2]["InvocationResult"]
    assert res["FinishedTime"] == "" and base64.b64decode(res["Output"]) == b"partial"
    emu.set_status("t-new0001", "Finished", result={"Output": base64.b64encode(b"partial and done\n").decode(),
                                                    "ExitCode": 0})
    res = cli.v3("DescribeInvocationResult", p)[2]["InvocationResult"]
    assert res["InvokeRecordStatus"] == "Finished" and res["InvocationStatus"] == "Success"
    assert res["FinishedTime"] and base64.b64decode(res["Output"]) == b"partial and done\n"
    _, _, body = cli.v3("DescribeInvocations", {"RegionId": reg, "InstanceId": iid, "InvokeStatus": "Finished"})
    assert "t-new0001" in [i["InvokeId"] for i in body["Invocations"]]
    emu.delete_instance(iid)
    error_of(cli.v3("DescribeInvocationResult", p), 404, "InvalidInstanceId.NotFound")
    assert iid not in [i["InstanceId"] for i in cli.v3("ListInstances", {"RegionId": reg})[2]["Instances"]]
    with pytest.raises(Exception) as e:
        emu.delete_instance(iid)
    assert getattr(e.value, "status", None) == 404


def test_data_round_trips_through_a_data_file(emulator_factory, tmp_path):
    first = emulator_factory(sample=True, quiet=True)
    data = first.data()
    second = emulator_factory(data=data, quiet=True)
    assert second.data() == data


def test_sample_has_what_the_tests_need(emulator):
    data = emulator.data()
    assert len([r for r in data["regions"] if r["instances"]]) >= 2
    assert any(not r["instances"] for r in data["regions"])
    invs = [i for r in data["regions"] for inst in r["instances"] for i in inst["invocations"]]
    assert {i["InvokeStatus"] for i in invs} >= {"Running", "Finished", "Failed", "Stopped"}
    assert {i["CommandType"] for i in invs} == {"RunShellScript", "RunBatScript", "RunPowerShellScript"}
    cmds = [base64.b64decode(i["CommandContent"]) for i in invs]
    assert b"" in cmds and any(b"\r\n" in c for c in cmds)
    assert any("检查" in c.decode() for c in cmds)
    assert any(i["Parameters"] for i in invs) and any(not i["Parameters"] for i in invs)
    outs = [base64.b64decode(i["Result"]["Output"]) for i in invs]
    assert b"" in outs
    assert any(i["Result"]["ExitCode"] != 0 and i["Result"]["ErrorCode"] == "ExitCodeNonzero" for i in invs)
    # The first invocation of the first instance is a finished one with output (the mount tests read it).
    reg, inst = first_instance(data)
    first = inst["invocations"][0]
    assert first["InvokeStatus"] == "Finished" and base64.b64decode(first["Result"]["Output"]).strip()


def test_hostile_values_are_served_verbatim(emulator_factory):
    hostile = ["", ".", "..", "a/b", "../../etc", "x" * 300, "nul\u0000byte", "名前"]
    invs = [{"InvokeId": h, "CreationTime": "2026-11-20T08:00:%02dZ" % n, "CommandName": h}
            for n, h in enumerate(hostile)]
    invs.append({"InvokeId": "t-pending", "InvokeStatus": "Pending", "CreationTime": "2026-11-20T09:00:00Z"})
    data = {"regions": [{"RegionId": "cn-hangzhou", "instances": [
        {"InstanceId": "i/../x", "InstanceName": "y" * 300, "invocations": invs}]}]}
    emu = emulator_factory(data=data, quiet=True)
    cli = Client(emu)
    _, _, body = cli.v3("ListInstances", {"RegionId": "cn-hangzhou"})
    assert [(i["InstanceId"], i["InstanceName"]) for i in body["Instances"]] == [("i/../x", "y" * 300)]
    _, _, body = cli.v3("DescribeInvocations", {"RegionId": "cn-hangzhou", "InstanceId": "i/../x", "PageSize": "50"})
    assert [i["InvokeId"] for i in body["Invocations"]][0] == "t-pending"
    assert body["Invocations"][0]["InvokeStatus"] == "Pending"
    assert sorted(i["InvokeId"] for i in body["Invocations"][1:]) == sorted(hostile)
    assert [i["CommandName"] for i in body["Invocations"][1:]] == [i["InvokeId"] for i in body["Invocations"][1:]]
    for h in hostile[1:]:
        st, _, res = cli.v3("DescribeInvocationResult", {"RegionId": "cn-hangzhou", "InstanceId": "i/../x",
                                                         "InvokeId": h})
        assert st == 200 and res["InvocationResult"]["InvokeId"] == h


def test_secret_from_the_environment_only_and_never_logged(emulator_factory):
    emu = emulator_factory(sample=True)
    Client(emu).v3("ListRegions")
    Client(emu).v3("ListRegions", secret="guess")
    cmdline = Path(f"/proc/{emu.proc.pid}/cmdline").read_bytes()
    assert AK_SECRET.encode() not in cmdline
    # The request's log line may land just after its answer.
    end = time.monotonic() + 5
    while "ListRegions" not in (log := emu.log()) and time.monotonic() < end:
        time.sleep(0.05)
    assert "ListRegions" in log and AK_SECRET not in log


def test_listen_on_ipv6_loopback(tmp_path):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no ::1")
    p = subprocess.Popen([sys.executable, str(EMULATOR), "--listen", "[::1]:0", "--access-key-id", AK_ID, "--sample",
                          "--quiet"], stdout=subprocess.PIPE, env=dict(os.environ, SWAS_EMULATOR_ACCESS_KEY_SECRET=AK_SECRET))
    try:
        line = p.stdout.readline().decode()
        assert line.startswith("listening on http://[::1]:"), line
        emu = Emulator()
        emu.url = line.split()[-1]
        assert Client(emu).v3("ListRegions")[0] == 200
    finally:
        p.terminate()
        p.wait(5)


def test_bad_command_lines_fail_fast(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SWAS_EMULATOR_ACCESS_KEY_SECRET"}
    for args in [[], ["--generate", "2:x:3"], ["--data", str(tmp_path / "missing.json")], ["--sample", "--data", "x"]]:
        p = subprocess.run([sys.executable, str(EMULATOR), "--listen", "127.0.0.1:0", "--access-key-id", "a",
                            *(["--access-key-secret", "s"] if args else []), *args],
                           capture_output=True, text=True, timeout=20, env=env)
        assert p.returncode != 0 and p.stderr.strip() and "listening" not in p.stdout, args


def test_idle_keep_alive_connections_are_closed_after_the_idle_timeout(emulator_factory):
    emu = emulator_factory("--idle-timeout", "0.5", sample=True, quiet=True)
    cli = Client(emu)
    assert cli.v3("ListRegions")[0] == 200
    assert cli.v3("ListRegions")[0] == 200   # kept alive
    sock = cli.conn.sock
    time.sleep(1.0)
    sock.settimeout(2)
    assert sock.recv(1) == b"", "the idle connection was not closed"


def test_sigterm_and_shutdown_exit_0(emulator_factory, tmp_path):
    emu = emulator_factory(sample=True, quiet=True)
    assert Client(emu).v3("ListRegions")[0] == 200
    emu.faults("hang", 1)   # a request asleep in a fault does not hold up the exit
    hung = Client(emu)
    hung.connect(timeout=0.3)
    with pytest.raises(socket.timeout):
        hung.v3("ListRegions")
    assert emu.stop() == 0
    emu2 = emulator_factory(sample=True, quiet=True)
    emu2.control("POST", "shutdown", {})
    assert emu2.proc.wait(10) == 0


def test_a_bad_data_file_is_refused_with_a_reason(tmp_path):
    for content in ['{"regions": 3}', '[1, 2]', '{"regions": [{"RegionId": "x", "instances": [7]}]}', "{nope"]:
        path = tmp_path / "bad.json"
        path.write_text(content)
        p = subprocess.run([sys.executable, str(EMULATOR), "--listen", "127.0.0.1:0", "--access-key-id", "a",
                            "--data", str(path)], capture_output=True, text=True, timeout=20,
                           env=dict(os.environ, SWAS_EMULATOR_ACCESS_KEY_SECRET="s"))
        assert p.returncode == 2 and "cannot load" in p.stderr and not p.stdout, (content, p.stderr)
