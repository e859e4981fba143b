# SPDX-License-Identifier: MIT
"""Small hand-made data sets for the emulator's --data option."""
import base64
import json

B64 = lambda b: base64.b64encode(b).decode()  # noqa: E731

# Commands whose bytes must come through the mount unchanged.
COMMANDS = {
    "t-binary0001": bytes(range(256)) * 3,
    "t-utf8000002": "#!/bin/bash\n# 检查磁盘空间 — café ✓\ndf -h\n".encode(),
    "t-crlf000003": b"@echo off\r\nREM batch\r\ndir C:\\\r\n",
    "t-empty00004": b"",
    "t-big0000005": (b"echo a line of a long script, padded to 16 KiB\n" * 400)[:16384],
}


def invocation(invoke_id, status="Finished", created="2026-11-20T08:00:00Z", command=b"echo hi\n",
               parameters=None, output=b"hi\n", exit_code=0, finished="2026-11-20T08:00:05Z", **extra):
    inv = {
        "InvokeId": invoke_id,
        "CommandName": f"name-{invoke_id}",
        "CommandType": "RunShellScript",
        "CommandContent": B64(command),
        "CreationTime": created,
        "Parameters": parameters if parameters is not None else {},
        "InvokeStatus": status,
        "InvocationStatus": {"Finished": "Success", "Failed": "Failed", "Running": "Running",
                             "Stopped": "Terminated"}.get(status, "Pending"),
        "Result": {
            "InvokeUser": "root",
            "StartTime": created,
            "FinishedTime": finished if status != "Running" else "",
            "ExitCode": exit_code,
            "Output": B64(output),
            "ErrorCode": "" if exit_code == 0 else "ExitCodeNonzero",
            "ErrorInfo": "" if exit_code == 0 else "the command exited with a nonzero code",
            "InvocationStatus": "Success" if exit_code == 0 else "Failed",
            "InvokeRecordStatus": status,
        },
    }
    inv.update(extra)
    return inv


def instance(instance_id, invocations, created="2026-11-01T00:00:00Z", name=None):
    return {"InstanceId": instance_id, "InstanceName": name if name is not None else f"name-{instance_id}",
            "Status": "Running", "CreationTime": created, "invocations": invocations}


def dataset(regions):
    """@regions: {region_id: [instance, ...]}"""
    return {"regions": [{"RegionId": r, "LocalName": r, "instances": insts} for r, insts in regions.items()]}


def write(tmp_path, data, name="data.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def edge_cases():
    """Byte-exact commands and outputs, an unknown status, hostile names."""
    invs = [invocation(i, command=c, output=c, created=f"2026-11-20T08:00:{n:02d}Z")
            for n, (i, c) in enumerate(COMMANDS.items())]
    invs.append(invocation("t-params00006", parameters={"name": "web", "port": 8080, "tags": ["a", "b"]},
                           created="2026-11-20T09:00:00Z"))
    invs.append(invocation("t-pending0007", status="Pending", created="2026-11-20T10:00:00Z"))
    invs.append(invocation("t-running0008", status="Running", created="2026-11-20T11:00:00Z",
                           output=b"partial\n"))
    # A newer running one: when t-running0008 finishes, Running/'s mtime stays.
    invs.append(invocation("t-running0008b", status="Running", created="2026-11-20T11:30:00Z"))
    invs.append(invocation("t-failed00009", status="Failed", exit_code=3, output=b"boom\n",
                           created="2026-11-20T12:00:00Z", finished="2026-11-20T12:00:09Z"))
    invs.append(invocation("t-stopped0010", status="Stopped", created="2026-11-20T13:00:00Z"))
    hostile_ids = ["", ".", "..", "../../etc", "a/b", "x" * 256, "nul\u0000byte"]
    invs += [invocation(h, created="2026-11-20T14:00:00Z") for h in hostile_ids]
    invs.append(invocation("t-badstatus11", status="../evil", created="2026-11-20T15:00:00Z"))
    good = instance("i-edge000000000000000000000001", invs)
    hostile_instances = [instance(h, [invocation("t-under-hostile")]) for h in ["..", "i/../../x", ""]]
    return dataset({
        "cn-hangzhou": [good] + hostile_instances,
        "cn-shanghai": [instance("i-sh0000000000000000000000001", [invocation("t-sh00000001")])],
        "../escape": [instance("i-escape", [])],
        "": [],
    })


# ---- the bytes swasfs shows, predicted from the emulator's data ----
#
# The three JSON files are the API's objects printed as cJSON prints them
# (tab-indented, "key":<TAB>value, arrays inline with ", ", an empty object
# "{\n}", strings raw UTF-8 with only '"', '\\' and control characters
# escaped), then "\n". Sizes depend on none of the key order.

def _cjson_number(d):
    if d != d or d in (float("inf"), float("-inf")):
        return "null"
    if isinstance(d, bool):
        return "true" if d else "false"
    f = float(d)
    if f == int(f) and -2**31 <= f < 2**31:
        return str(int(f))
    s = "%1.15g" % f
    if float(s) != f:
        s = "%1.17g" % f
    return s


_ESC = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _cjson_string(s):
    out = []
    for ch in s:
        if ch in _ESC:
            out.append(_ESC[ch])
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def cjson_print(v, depth=0):
    """@v as cJSON_Print prints it (a str; encode as UTF-8 for bytes)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return _cjson_number(v)
    if isinstance(v, str):
        return _cjson_string(v)
    if isinstance(v, list):
        return "[" + ", ".join(cjson_print(x, depth + 1) for x in v) + "]"
    if isinstance(v, dict):
        inner = ",\n".join("\t" * (depth + 1) + _cjson_string(k) + ":\t" + cjson_print(x, depth + 1)
                           for k, x in v.items())
        return "{\n" + (inner + "\n" if inner else "") + "\t" * depth + "}"
    raise TypeError(type(v))


def served_record(inv):
    """The DescribeInvocations record the emulator serves for a /_emulator/data invocation."""
    return {k: v for k, v in inv.items() if k != "Result" and not k.startswith("_")}


def expected_files(region_id, instance_id, inv):
    """{file name: bytes} of one invocation directory, from a /_emulator/data invocation."""
    rec = served_record(inv)
    meta = dict(rec)
    meta.setdefault("InstanceId", instance_id)
    meta.setdefault("RegionId", region_id)
    params = rec.get("Parameters")
    if isinstance(params, str) and params.strip():
        params = json.loads(params)
    if params in (None, "") or (isinstance(params, str) and not params.strip()):
        params = {}
    res = {"InvokeId": rec["InvokeId"], "InstanceId": instance_id}
    res.update(inv["Result"])
    output = base64.b64decode(res.pop("Output", "") or "")
    return {
        "command": base64.b64decode(rec.get("CommandContent", "")),
        "parameters.json": (cjson_print(params) + "\n").encode(),
        "metadata.json": (cjson_print(meta) + "\n").encode(),
        "output": output,
        "result.json": (cjson_print(res) + "\n").encode(),
    }
