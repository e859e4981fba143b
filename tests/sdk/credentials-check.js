// SPDX-License-Identifier: MIT
// The official credentials library (@alicloud/credentials) against swas-emulator's
// STS, metadata service and credentials URI: whatever it sends, the emulator must
// accept, and whatever the emulator answers, the library must take, since swasfs
// is built to send the same (contrib/docs/credentials.md).
//
//   node credentials-check.js --host 127.0.0.1:PORT --oidc-token-file FILE
//
// The emulator serves HTTPS with a test CA (NODE_EXTRA_CA_CERTS): the library
// always speaks HTTPS to STS. The metadata provider's host is fixed
// (100.100.100.200), so its requests are redirected to the emulator in
// doRequest, the library's own seam for tests; nothing else is changed.
// Credentials from the environment: SDK_TEST_AK_ID, SDK_TEST_AK_SECRET.
// Output: TAP ("ok N - name" / "not ok N - name # why"), then "1..N".
'use strict';
const P = (name) => require(`@alicloud/credentials/dist/src/providers/${name}`).default;
const { doRequest } = require('@alicloud/credentials/dist/src/providers/http');

const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const HOST = opt('--host');
const env = process.env;

let n = 0;
let failed = 0;
function ok(cond, name, why) {
  n += 1;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${name}${!cond && why !== undefined ? ' # ' + String(why).replace(/\n/g, ' ') : ''}`);
  if (!cond) failed += 1;
}

async function check(name, provider) {
  try {
    const c = await provider.getCredentials();
    ok(c.accessKeyId.startsWith('STS.') && c.accessKeySecret && c.securityToken, name, JSON.stringify(c.accessKeyId));
  } catch (e) {
    ok(false, name, e.message);
  }
}

async function main() {
  const ak = P('static_ak').builder().withAccessKeyId(env.SDK_TEST_AK_ID).withAccessKeySecret(env.SDK_TEST_AK_SECRET).build();
  const role = P('ram_role_arn').builder().withCredentialsProvider(ak).withRoleArn('acs:ram::1234567890123456:role/sdk')
    .withStsEndpoint(HOST).build();
  await check('AssumeRole, signed with an AccessKey', role);
  // Chained: the second AssumeRole is signed with the first's STS key and token.
  await check('AssumeRole, signed with an STS key', P('ram_role_arn').builder().withCredentialsProvider(role)
    .withRoleArn('acs:ram::1234567890123456:role/sdk-second').withStsEndpoint(HOST).build());
  await check('AssumeRoleWithOIDC', P('oidc_role_arn').builder().withRoleArn('acs:ram::1234567890123456:role/sdk')
    .withOIDCProviderArn('acs:ram::1234567890123456:oidc-provider/sdk').withOIDCTokenFilePath(opt('--oidc-token-file'))
    .withStsEndpoint(HOST).build());
  await check('credentials URI', P('uri').builder().withCredentialsURI(`https://${HOST}/credentials-uri`).build());
  for (const v1off of [false, true]) {
    const ecs = P('ecs_ram_role').builder().withDisableIMDSv1(v1off).build();
    ecs.doRequest = (req) => { req.protocol = 'https'; req.host = HOST; return doRequest(req); };
    await check(`ECS RAM role${v1off ? ', IMDSv1 disabled' : ''}`, ecs);
  }
  console.log(`1..${n}`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.log(`not ok ${n + 1} - crashed # ${e.message}`); process.exit(1); });
