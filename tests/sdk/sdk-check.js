// SPDX-License-Identifier: MIT
// The official SWAS Node SDK (@alicloud/swas-open20200601 on @alicloud/openapi-core)
// against swas-emulator: every call, both signature versions, STS, and the
// refusals a real endpoint gives. Expectations come from the emulator's own
// data (GET /_emulator/data), never from constants here.
//
//   node sdk-check.js --endpoint http://127.0.0.1:PORT            (the API checks)
//   node sdk-check.js --endpoint https://127.0.0.1:PORT --ca CA.pem --tls-only
//
// Credentials from the environment: SDK_TEST_AK_ID, SDK_TEST_AK_SECRET, and for
// the STS pair SDK_TEST_STS_AK_ID, SDK_TEST_STS_AK_SECRET, SDK_TEST_STS_TOKEN.
// Output: TAP ("ok N - name" / "not ok N - name # why"), then "1..N".
'use strict';
const fs = require('fs');
const Swas = require('@alicloud/swas-open20200601');
const OpenApi = require('@alicloud/openapi-core');
const OpenApiUtils = require('@alicloud/openapi-core/dist/utils').default;
const Dara = require('@darabonba/typescript');

const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const ENDPOINT = new URL(opt('--endpoint'));
const CA = opt('--ca') ? fs.readFileSync(opt('--ca'), 'utf8') : undefined;
const TLS_ONLY = args.includes('--tls-only');
const env = process.env;

let n = 0;
let failed = 0;
function ok(cond, name, why) {
  n += 1;
  if (cond) {
    console.log(`ok ${n} - ${name}`);
  } else {
    failed += 1;
    console.log(`not ok ${n} - ${name}${why !== undefined ? ' # ' + String(why).replace(/\n/g, ' ') : ''}`);
  }
  return cond;
}
function eq(got, want, name) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  return ok(g === w, name, `got ${g && g.slice(0, 300)} want ${w && w.slice(0, 300)}`);
}

function client({ algo, id = env.SDK_TEST_AK_ID, secret = env.SDK_TEST_AK_SECRET, token, ca = CA, retry } = {}) {
  const cfg = new OpenApi.$OpenApiUtil.Config({
    accessKeyId: id, accessKeySecret: secret, endpoint: ENDPOINT.host,
    protocol: ENDPOINT.protocol.replace(':', ''), regionId: 'cn-hangzhou', readTimeout: 10000, connectTimeout: 5000,
  });
  if (token) cfg.securityToken = token;
  if (algo) cfg.signatureAlgorithm = algo;
  if (ca) cfg.ca = ca;
  if (retry) cfg.retryOptions = retry;
  return new Swas.default(cfg);
}

async function control(method, path, body) {
  const r = await fetch(`${ENDPOINT.origin}/_emulator/${path}`, {
    method, headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`control ${method} ${path}: ${r.status} ${text}`);
  return text.trim() ? JSON.parse(text) : null;
}

// Runs fn, expecting the SDK to throw; returns the error (or null if it did not throw).
async function refusal(fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  return null;
}
function expectCode(e, code, status, name) {
  ok(e && e.code === code && (status === undefined || e.statusCode === status), name,
    e ? `${e.name} code=${e.code} status=${e.statusCode} ${e.message}` : 'the SDK did not throw');
}

// Calls with the SDK's nonce and date generators replaced for one call.
async function withPatched(patch, fn) {
  const saved = { getNonce: OpenApiUtils.getNonce, getTimestamp: OpenApiUtils.getTimestamp };
  Object.assign(OpenApiUtils, patch);
  try {
    return await fn();
  } finally {
    Object.assign(OpenApiUtils, saved);
  }
}
const isoNoMs = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

async function apiChecks(algo, data) {
  const tag = algo === 'v2' ? 'V1' : 'V3';
  const c = client({ algo });

  // ListRegions
  const regions = await c.listRegions(new Swas.ListRegionsRequest({}));
  eq(regions.body.regions.map((r) => r.regionId), data.regions.map((r) => r.RegionId), `${tag} ListRegions: every region`);
  eq(regions.body.regions.map((r) => r.localName), data.regions.map((r) => r.LocalName), `${tag} ListRegions: LocalName`);
  ok(regions.body.regions.every((r) => r.regionEndpoint === `swas.${r.regionId}.aliyuncs.com`),
    `${tag} ListRegions: RegionEndpoint`);
  ok(/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/.test(regions.body.requestId),
    `${tag} ListRegions: RequestId is an uppercase UUID`, regions.body.requestId);
  const en = await c.listRegions(new Swas.ListRegionsRequest({ acceptLanguage: 'en-US' }));
  ok(en.body.regions.length === data.regions.length && en.body.regions.some((r, i) => r.localName !== regions.body.regions[i].localName),
    `${tag} ListRegions: AcceptLanguage en-US changes LocalName`);

  // ListInstances, every region, with paging of size 2
  for (const reg of data.regions) {
    const want = reg.instances.map((i) => i.InstanceId);
    const got = [];
    let total = -1;
    for (let page = 1; page < 100; page++) {
      const r = await c.listInstances(new Swas.ListInstancesRequest({ regionId: reg.RegionId, pageNumber: page, pageSize: 2 }));
      total = r.body.totalCount;
      got.push(...r.body.instances.map((i) => i.instanceId));
      if (page * 2 >= total) break;
    }
    eq(got, want, `${tag} ListInstances ${reg.RegionId}: every instance over pages of 2`);
    eq(total, want.length, `${tag} ListInstances ${reg.RegionId}: TotalCount`);
  }
  const reg0 = data.regions.find((r) => r.instances.length > 0);
  const li = await c.listInstances(new Swas.ListInstancesRequest({ regionId: reg0.RegionId, pageSize: 100 }));
  const inst0 = li.body.instances[0];
  const want0 = reg0.instances[0];
  ok(inst0 instanceof Swas.ListInstancesResponseBodyInstances, `${tag} ListInstances: parsed into the SDK model`);
  for (const [k, v] of [['instanceName', 'InstanceName'], ['status', 'Status'], ['creationTime', 'CreationTime'],
    ['expiredTime', 'ExpiredTime'], ['publicIpAddress', 'PublicIpAddress'], ['planId', 'PlanId']]) {
    eq(inst0[k], want0[v], `${tag} ListInstances: ${v}`);
  }
  ok(typeof inst0.resourceSpec.cpu === 'number' && typeof li.body.totalCount === 'number' &&
     typeof li.body.pageSize === 'number', `${tag} ListInstances: numbers are numbers`);
  const filtered = await c.listInstances(new Swas.ListInstancesRequest({
    regionId: reg0.RegionId, instanceIds: JSON.stringify([want0.InstanceId]),
  }));
  eq(filtered.body.instances.map((i) => i.instanceId), [want0.InstanceId], `${tag} ListInstances: InstanceIds filter`);

  // DescribeInvocations: the whole listing of the instance with the most invocations
  let best = null;
  for (const r of data.regions) for (const i of r.instances) if (!best || i.invocations.length > best.inst.invocations.length) best = { reg: r, inst: i };
  const invs = [];
  for (let page = 1; page < 1000; page++) {
    const r = await c.describeInvocations(new Swas.DescribeInvocationsRequest({
      regionId: best.reg.RegionId, instanceId: best.inst.InstanceId, pageNumber: page, pageSize: 3,
    }));
    invs.push(...r.body.invocations);
    if (page * 3 >= r.body.totalCount) break;
  }
  eq(invs.map((i) => i.invokeId), best.inst.invocations.map((i) => i.InvokeId), `${tag} DescribeInvocations: every invocation, newest first, over pages of 3`);
  ok(invs.every((i) => i instanceof Swas.DescribeInvocationsResponseBodyInvocations), `${tag} DescribeInvocations: parsed into the SDK model`);
  const fieldMap = [['commandName', 'CommandName'], ['commandType', 'CommandType'], ['commandContent', 'CommandContent'],
    ['creationTime', 'CreationTime'], ['invokeStatus', 'InvokeStatus'], ['invocationStatus', 'InvocationStatus'],
    ['parameters', 'Parameters']];
  let same = true;
  let why = '';
  invs.forEach((got, k) => {
    for (const [f, w] of fieldMap) {
      if (JSON.stringify(got[f]) !== JSON.stringify(best.inst.invocations[k][w])) { same = false; why = `${got.invokeId} ${w}`; }
    }
  });
  ok(same, `${tag} DescribeInvocations: every field as in the data`, why);
  for (const st of ['Running', 'Finished', 'Failed']) {
    const r = await c.describeInvocations(new Swas.DescribeInvocationsRequest({
      regionId: best.reg.RegionId, instanceId: best.inst.InstanceId, invokeStatus: st, pageSize: 50,
    }));
    eq(r.body.invocations.map((i) => i.invokeId), best.inst.invocations.filter((i) => i.InvokeStatus === st).slice(0, 50).map((i) => i.InvokeId),
      `${tag} DescribeInvocations: InvokeStatus=${st} filter`);
  }

  // DescribeInvocationResult: every invocation of that instance
  let allSame = true;
  let whyR = '';
  for (const inv of best.inst.invocations) {
    const r = await c.describeInvocationResult(new Swas.DescribeInvocationResultRequest({
      regionId: best.reg.RegionId, instanceId: best.inst.InstanceId, invokeId: inv.InvokeId,
    }));
    const got = r.body.invocationResult;
    const want = inv.Result;
    const pairs = [['invokeUser', 'InvokeUser'], ['startTime', 'StartTime'], ['finishedTime', 'FinishedTime'],
      ['exitCode', 'ExitCode'], ['output', 'Output'], ['errorCode', 'ErrorCode'], ['errorInfo', 'ErrorInfo'],
      ['invocationStatus', 'InvocationStatus'], ['invokeRecordStatus', 'InvokeRecordStatus']];
    for (const [f, w] of pairs) if (JSON.stringify(got[f]) !== JSON.stringify(want[w])) { allSame = false; whyR = `${inv.InvokeId} ${w}: ${got[f]} vs ${want[w]}`; }
    if (got.invokeId !== inv.InvokeId || got.instanceId !== best.inst.InstanceId || typeof got.exitCode !== 'number') { allSame = false; whyR = `${inv.InvokeId} ids/ExitCode`; }
  }
  ok(allSame, `${tag} DescribeInvocationResult: every field of ${best.inst.invocations.length} results as in the data`, whyR);

  // Refusals
  const inst = best.inst.InstanceId;
  const rid = best.reg.RegionId;
  expectCode(await refusal(() => c.describeInvocations(new Swas.DescribeInvocationsRequest({ regionId: rid, instanceId: inst, pageSize: 51 }))),
    'InvalidParameter', 400, `${tag} DescribeInvocations PageSize 51 is InvalidParameter`);
  expectCode(await refusal(() => c.listInstances(new Swas.ListInstancesRequest({ regionId: rid, pageSize: 101 }))),
    'InvalidParameter', 400, `${tag} ListInstances PageSize 101 is InvalidParameter`);
  expectCode(await refusal(() => c.describeInvocations(new Swas.DescribeInvocationsRequest({ regionId: rid }))),
    'MissingParameter', 400, `${tag} DescribeInvocations without InstanceId is MissingParameter`);
  expectCode(await refusal(() => c.describeInvocations(new Swas.DescribeInvocationsRequest({ regionId: rid, instanceId: 'i-nope' }))),
    'InvalidInstanceId.NotFound', 404, `${tag} unknown instance is InvalidInstanceId.NotFound`);
  expectCode(await refusal(() => c.describeInvocationResult(new Swas.DescribeInvocationResultRequest({ regionId: rid, instanceId: inst, invokeId: 't-nope' }))),
    'InvalidInvokeId.NotFound', 404, `${tag} unknown invoke id is InvalidInvokeId.NotFound`);
  const bad = client({ algo, secret: env.SDK_TEST_AK_SECRET + 'x' });
  const e1 = await refusal(() => bad.listRegions(new Swas.ListRegionsRequest({})));
  expectCode(e1, 'SignatureDoesNotMatch', 400, `${tag} wrong secret is SignatureDoesNotMatch`);
  ok(e1 && e1.name === 'ClientError' && /request id: [0-9A-F-]{36}/.test(e1.message), `${tag} wrong secret: ClientError with a request id`, e1 && e1.message);
  ok(e1 && !JSON.stringify(e1.data).includes(env.SDK_TEST_AK_SECRET), `${tag} the error body does not carry the secret`);
  expectCode(await refusal(() => client({ algo, id: 'LTAI-nobody' }).listRegions(new Swas.ListRegionsRequest({}))),
    'InvalidAccessKeyId.NotFound', 404, `${tag} unknown AccessKeyId is InvalidAccessKeyId.NotFound`);
  const nonce = `replay-${algo || 'v3'}-${Date.now()}`;
  const first = await withPatched({ getNonce: () => nonce }, () => c.listRegions(new Swas.ListRegionsRequest({})).then(() => null, (e) => e));
  ok(first === null, `${tag} a fixed nonce is accepted once`, first && first.message);
  expectCode(await withPatched({ getNonce: () => nonce }, () => refusal(() => c.listRegions(new Swas.ListRegionsRequest({})))),
    'SignatureNonceUsed', 400, `${tag} the same nonce again is SignatureNonceUsed`);
  const stale = isoNoMs(new Date(Date.now() - 20 * 60 * 1000));
  expectCode(await withPatched({ getTimestamp: () => stale }, () => refusal(() => c.listRegions(new Swas.ListRegionsRequest({})))),
    'InvalidTimeStamp.Expired', 400, `${tag} a date 20 minutes old is InvalidTimeStamp.Expired`);
  const future = isoNoMs(new Date(Date.now() + 20 * 60 * 1000));
  expectCode(await withPatched({ getTimestamp: () => future }, () => refusal(() => c.listRegions(new Swas.ListRegionsRequest({})))),
    'InvalidTimeStamp.Expired', 400, `${tag} a date 20 minutes ahead is InvalidTimeStamp.Expired`);
  const near = isoNoMs(new Date(Date.now() - 10 * 60 * 1000));
  const e2 = await withPatched({ getTimestamp: () => near }, () => refusal(() => c.listRegions(new Swas.ListRegionsRequest({}))));
  ok(e2 === null, `${tag} a date 10 minutes old is accepted`, e2 && e2.message);

  // STS
  if (env.SDK_TEST_STS_AK_ID) {
    const sts = client({ algo, id: env.SDK_TEST_STS_AK_ID, secret: env.SDK_TEST_STS_AK_SECRET, token: env.SDK_TEST_STS_TOKEN });
    const r = await sts.describeInvocations(new Swas.DescribeInvocationsRequest({ regionId: rid, instanceId: inst, pageSize: 50 }))
      .then((x) => x, (e) => e);
    ok(r.body && r.body.totalCount === best.inst.invocations.length, `${tag} STS pair with its token is accepted`, r.message);
    expectCode(await refusal(() => client({ algo, id: env.SDK_TEST_STS_AK_ID, secret: env.SDK_TEST_STS_AK_SECRET, token: 'wrong-token' })
      .listRegions(new Swas.ListRegionsRequest({}))), 'InvalidSecurityToken.MismatchWithAccessKey', 400, `${tag} STS pair with a wrong token is refused`);
    const noTok = await refusal(() => client({ algo, id: env.SDK_TEST_STS_AK_ID, secret: env.SDK_TEST_STS_AK_SECRET })
      .listRegions(new Swas.ListRegionsRequest({})));
    ok(noTok && /^InvalidSecurityToken\./.test(noTok.code), `${tag} STS pair without a token is refused`, noTok && noTok.code);
  }
  return best;
}

async function faultChecks(data, best) {
  const c = client({});
  const rid = best.reg.RegionId;
  const inst = best.inst.InstanceId;
  const req = () => new Swas.DescribeInvocationsRequest({ regionId: rid, instanceId: inst, pageSize: 50 });

  await control('POST', 'faults', { kind: 'throttle', count: 1, retry_after_ms: 1500 });
  const t = await refusal(() => c.describeInvocations(req()));
  ok(t && t.name === 'ThrottlingError' && t.code === 'Throttling.User' && t.retryAfter === 1500,
    'throttle fault: ThrottlingError with retryAfter from x-acs-retry-after', t && `${t.name} ${t.code} ${t.retryAfter}`);
  await control('POST', 'faults', { kind: '5xx', count: 1 });
  const s = await refusal(() => c.describeInvocations(req()));
  ok(s && s.name === 'ServerError' && s.code === 'ServiceUnavailable' && s.statusCode === 503, '5xx fault: ServerError 503 ServiceUnavailable',
    s && `${s.name} ${s.code} ${s.statusCode}`);
  await control('POST', 'faults', { kind: '500', count: 1 });
  const s5 = await refusal(() => c.describeInvocations(req()));
  ok(s5 && s5.name === 'ServerError' && s5.code === 'InternalError', '500 fault: ServerError InternalError', s5 && s5.code);
  await control('POST', 'faults', { kind: 'forbidden', count: 1 });
  const f = await refusal(() => c.describeInvocations(req()));
  ok(f && f.name === 'ClientError' && f.code === 'Forbidden.RAM' && f.statusCode === 403, 'forbidden fault: ClientError 403 Forbidden.RAM',
    f && `${f.name} ${f.code} ${f.statusCode}`);
  await control('POST', 'faults', { kind: 'malformed', count: 1 });
  const m = await refusal(() => c.describeInvocations(req()));
  ok(m !== null && m.code === undefined, 'malformed fault: the SDK fails to parse the body', m && `${m.name} ${m.message}`);

  // The SDK's own retries (off by default) go through a 503 and re-sign with a new nonce.
  await control('POST', 'counters/reset', {});
  await control('POST', 'faults', { kind: '5xx', count: 1, action: 'DescribeInvocations' });
  const retrying = client({
    retry: new Dara.RetryOptions({
      retryable: true,
      retryCondition: [new Dara.RetryCondition({ maxAttempts: 3, exception: ['ServerError'], backoff: { policy: 'Fixed', period: 50 } })],
    }),
  });
  const rr = await retrying.describeInvocations(req()).then((x) => x, (e) => e);
  const counters = await control('GET', 'counters');
  ok(rr.body && rr.body.totalCount === best.inst.invocations.length && counters.by_action.DescribeInvocations === 2,
    'SDK retry options: a 503 then a 200 is two requests', rr.message || JSON.stringify(counters.by_action));

  // Published QPS limits, when enforced: ListRegions, 10 a minute.
  await control('POST', 'config', { enforce_qps: true });
  let throttled = null;
  let accepted = 0;
  for (let i = 0; i < 11 && !throttled; i++) {
    const e = await refusal(() => c.listRegions(new Swas.ListRegionsRequest({})));
    if (e) throttled = e; else accepted += 1;
  }
  await control('POST', 'config', { enforce_qps: false });
  ok(accepted === 10 && throttled && throttled.name === 'ThrottlingError' && throttled.retryAfter > 0 && throttled.retryAfter <= 60000,
    '--enforce-qps: the 11th ListRegions in a minute is throttled with retryAfter', throttled ? `${accepted} ${throttled.code} ${throttled.retryAfter}` : `${accepted} accepted`);
}

async function tlsChecks() {
  const c = client({});
  const r = await c.listRegions(new Swas.ListRegionsRequest({})).then((x) => x, (e) => e);
  ok(r.body && r.body.regions.length > 0, 'HTTPS with the test CA: ListRegions', r.message);
  const r1 = await client({ algo: 'v2' }).listRegions(new Swas.ListRegionsRequest({})).then((x) => x, (e) => e);
  ok(r1.body && r1.body.regions.length > 0, 'HTTPS with the test CA: ListRegions signed V1', r1.message);
  const untrusted = await refusal(() => client({ ca: null }).listRegions(new Swas.ListRegionsRequest({})));
  ok(untrusted && /certificate|self.signed|CERT/i.test(`${untrusted.code} ${untrusted.message}`),
    'HTTPS without the test CA: refused by certificate verification', untrusted && untrusted.message);
}

async function main() {
  try {
    if (TLS_ONLY) {
      await tlsChecks();
    } else {
      const data = await control('GET', 'data');
      await apiChecks(undefined, data);
      const best = await apiChecks('v2', data);
      await faultChecks(data, best);
    }
  } catch (e) {
    ok(false, 'no unexpected exception', e && e.stack);
  }
  console.log(`1..${n}`);
  process.exit(failed ? 1 : 0);
}

main();
