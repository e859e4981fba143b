// SPDX-License-Identifier: MIT
/*
 * test_sign: every vector of contrib/docs/api.md §7, byte for byte: V3-OFF
 * (canonical request, hashed canonical request, string to sign, signature,
 * Authorization), V3-GO, V3-1..V3-5, V1-OFF-a/b (GET and POST), V1-GO,
 * V1-SWAS (GET, POST, token, string to sign) and the encoder cases; plus the
 * nonce and timestamp formats.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "credentials.h"
#include "sign.h"
#include "test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct cred *make_cred(const char *id, const char *secret, const char *token)
{
	struct cred *c = NULL;

	ASSERT_EQ_INT(cred_new(id, secret, token, &c), 0);
	return c;
}

static char *canon(const struct sign_param *p, size_t n)
{
	char *q = NULL;

	ASSERT_EQ_INT(sign_canonical_query(p, n, &q), 0);
	return q;
}

/* Signs with the §7 shared settings (POST /, swas host, 2020-06-01, fixed date/nonce). */
static void v3_swas(const char *action, const struct sign_param *q, size_t nq,
		    const struct sign_header *extra, size_t nextra, const char *payload,
		    const char *expect_query, const char *expect_signed, const char *expect_hashed,
		    const char *expect_sig)
{
	struct sign_header h[16] = {
		{ "host", "swas.cn-hangzhou.aliyuncs.com" },
		{ "x-acs-action", action },
		{ "x-acs-version", "2020-06-01" },
		{ "x-acs-date", "2024-01-02T03:04:05Z" },
		{ "x-acs-signature-nonce", "0123456789abcdef0123456789abcdef" },
		{ "x-acs-content-sha256", payload },
		/* Not signed, must not change anything. */
		{ "user-agent", "swasfs/test" },
		{ "accept", "application/json" },
	};
	size_t nh = 8, i;
	struct cred *c = make_cred("testid", "testsecret", NULL);
	char *query = canon(q, nq);
	struct sign_v3 s;
	struct sign_v3_request req;

	for (i = 0; i < nextra; i++)
		h[nh++] = extra[i];
	if (expect_query)
		ASSERT_EQ_STR(query, expect_query);
	req = (struct sign_v3_request){ "POST", "/", query, h, nh, payload };
	ASSERT_EQ_INT(sign_v3(&req, c, &s), 0);
	if (expect_signed)
		ASSERT_EQ_STR(s.signed_headers, expect_signed);
	if (expect_hashed)
		ASSERT_EQ_STR(s.hashed_canonical_request, expect_hashed);
	ASSERT_EQ_STR(s.signature, expect_sig);
	sign_v3_done(&s);
	free(query);
	cred_free(c);
}

static void test_v3_off(void)
{
	struct sign_param q[] = {
		{ "RegionId", "cn-shanghai" },
		{ "ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd" },
	};
	struct sign_header h[] = {
		{ "host", "ecs.cn-shanghai.aliyuncs.com" },
		{ "x-acs-action", "RunInstances" },
		{ "x-acs-version", "2014-05-26" },
		{ "x-acs-date", "2023-10-26T10:22:32Z" },
		{ "x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d" },
		{ "x-acs-content-sha256", SIGN_EMPTY_SHA256 },
	};
	const char *expect_creq =
		"POST\n"
		"/\n"
		"ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai\n"
		"host:ecs.cn-shanghai.aliyuncs.com\n"
		"x-acs-action:RunInstances\n"
		"x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
		"x-acs-date:2023-10-26T10:22:32Z\n"
		"x-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\n"
		"x-acs-version:2014-05-26\n"
		"\n"
		"host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n"
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	struct cred *c = make_cred("YourAccessKeyId", "YourAccessKeySecret", NULL);
	char *query = canon(q, N(q));
	struct sign_v3_request req = { "POST", "/", query, h, N(h), SIGN_EMPTY_SHA256 };
	struct sign_v3 s;

	ASSERT_EQ_INT(sign_v3(&req, c, &s), 0);
	ASSERT_EQ_STR(s.canonical_request, expect_creq);
	ASSERT_EQ_STR(s.hashed_canonical_request,
		      "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259");
	ASSERT_EQ_STR(s.string_to_sign,
		      "ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259");
	ASSERT_EQ_STR(s.signature, "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0");
	ASSERT_EQ_STR(s.authorization,
		      "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;"
		      "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
		      "Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0");
	sign_v3_done(&s);
	free(query);
	cred_free(c);
}

static void test_v3_go(void)
{
	struct sign_param q[] = { { "test", "ok" }, { "empty", "" } };
	struct sign_header h[] = { { "x-acs-test", "http" }, { "x-acs-TEST", "https" } };
	struct cred *c = make_cred("acesskey", "secret", NULL);
	char *query = canon(q, N(q));
	struct sign_v3_request req = {
		"", "/", query, h, N(h), "55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23"
	};
	struct sign_v3 s;

	ASSERT_EQ_STR(query, "empty=&test=ok");
	ASSERT_EQ_INT(sign_v3(&req, c, &s), 0);
	ASSERT_TRUE(strstr(s.canonical_request, "\nx-acs-test:http,https\n") != NULL);
	ASSERT_EQ_STR(s.signed_headers, "x-acs-test");
	ASSERT_EQ_STR(s.signature, "4ab59fffe3c5738ff8a2729f90cc04fe18b02a4b15b2102cbaf92f9ff3df2ea3");
	ASSERT_TRUE(strstr(s.authorization,
			   ",SignedHeaders=x-acs-test,Signature="
			   "4ab59fffe3c5738ff8a2729f90cc04fe18b02a4b15b2102cbaf92f9ff3df2ea3") != NULL);
	sign_v3_done(&s);
	free(query);
	cred_free(c);
}

static const struct sign_param describe_invocations_q[] = {
	{ "RegionId", "cn-hangzhou" },
	{ "InstanceId", "2ad1ae67295445f598017499dc****" },
	{ "PageNumber", "1" },
	{ "PageSize", "50" },
};

static const struct sign_param describe_result_q[] = {
	{ "RegionId", "cn-hangzhou" },
	{ "InstanceId", "2ad1ae67295445f598017499dc****" },
	{ "InvokeId", "t-hz02p9545t6****" },
};

static void test_v3_1(void)
{
	v3_swas("DescribeInvocations", describe_invocations_q, N(describe_invocations_q), NULL, 0,
		SIGN_EMPTY_SHA256,
		"InstanceId=2ad1ae67295445f598017499dc%2A%2A%2A%2A&PageNumber=1&PageSize=50&RegionId=cn-"
		"hangzhou",
		"host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version",
		"17753ea1f28099aaecb5fd3678962c29d3831fb0b555302ed083c3c6c4f7b89b",
		"1d0c5ef72b8f179b779403e3f0b6194990fe21774910ec9647094fc4d22e9d6c");
}

static void test_v3_2(void)
{
	struct sign_header tok[] = { { "x-acs-security-token", "tok123" } };

	v3_swas("DescribeInvocationResult", describe_result_q, N(describe_result_q), tok, N(tok),
		SIGN_EMPTY_SHA256, NULL,
		"host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;x-acs-signature-"
		"nonce;"
		"x-acs-version",
		NULL, "a706b164b170af0d6a7ed9bd30b7dbb514b4c145db56ae0d95af14b1002bb63f");
}

static void test_v3_3(void)
{
	struct sign_header tok[] = { { "x-acs-security-token", "tok123" },
				     { "x-acs-accesskey-id", "testid" } };

	v3_swas("DescribeInvocationResult", describe_result_q, N(describe_result_q), tok, N(tok),
		SIGN_EMPTY_SHA256, NULL, NULL, NULL,
		"bc62e2b6f905e45e3fa60462b858d6545488cf35a12fb92d3eaf8df7a010b581");
}

static void test_v3_4(void)
{
	struct sign_param q[] = {
		{ "RegionId", "cn-hangzhou" },
		{ "InstanceName", "web 01*~/\xc3\xa9!'()+" },
		{ "PageSize", "100" },
	};

	v3_swas("ListInstances", q, N(q), NULL, 0, SIGN_EMPTY_SHA256,
		"InstanceName=web%2001%2A~%2F%C3%A9%21%27%28%29%2B&PageSize=100&RegionId=cn-hangzhou", NULL,
		NULL, "c0d3ed723813df9581e1eb14e5e9ec0e661832111314734f0156244687f14798");
}

static void test_v3_5(void)
{
	struct sign_header ct[] = { { "content-type", "application/x-www-form-urlencoded" } };
	char payload[SIGN_SHA256_HEX_LEN + 1];

	ASSERT_EQ_INT(sign_sha256_hex("AcceptLanguage=en-US", strlen("AcceptLanguage=en-US"), payload), 0);
	ASSERT_EQ_STR(payload, "cc835ceefb604582fc61a9e2a33dfed02d7c51103bcb6f4639f287bebb4f91c7");
	v3_swas("ListRegions", NULL, 0, ct, N(ct), payload, "",
		"content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;"
		"x-acs-version",
		NULL, "37a271fd7b715ce309a97245b7e8da91f7b1ed3c267e50bd8a2197e6dabc0bef");
}

static void v1_check(const char *method, const struct sign_param *p, size_t n, const char *secret,
		     const char *expect_sts, const char *expect_sig)
{
	struct cred *c = make_cred("testid", secret, NULL);
	char *sts = NULL, *sig = NULL;

	ASSERT_EQ_INT(sign_v1(method, p, n, c, &sts, &sig), 0);
	if (expect_sts)
		ASSERT_EQ_STR(sts, expect_sts);
	ASSERT_EQ_STR(sig, expect_sig);
	free(sts);
	free(sig);
	cred_free(c);
}

static void test_v1_off_a(void)
{
	struct sign_param p[] = {
		{ "AccessKeyId", "testid" },
		{ "Action", "DescribeDedicatedHosts" },
		{ "Format", "JSON" },
		{ "RegionId", "cn-beijing" },
		{ "SignatureMethod", "HMAC-SHA1" },
		{ "SignatureNonce", "edb2b34af0af9a6d14deaf7c1a5315eb" },
		{ "SignatureVersion", "1.0" },
		{ "Timestamp", "2023-03-13T08:34:30Z" },
		{ "Version", "2014-05-26" },
	};

	v1_check(
		"GET", p, N(p), "testsecret",
		"GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeDedicatedHosts%26Format%3DJSON%26RegionId%"
		"3Dcn-"
		"beijing%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3Dedb2b34af0af9a6d14deaf7c1a5315eb%26"
		"SignatureVersion%3D1.0%26Timestamp%3D2023-03-13T08%253A34%253A30Z%26Version%3D2014-05-26",
		"9NaGiOspFP5UPcwX8Iwt2YJXXuk=");
	v1_check("POST", p, N(p), "testsecret", NULL, "ZvQ9xGiFnquSJRvj+WE6kdSpTwU=");
}

static void test_v1_off_b(void)
{
	struct sign_param p[] = {
		{ "Version", "2014-05-26" },
		{ "Timestamp", "2016-02-23T12:46:24Z" },
		{ "SignatureVersion", "1.0" },
		{ "SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf" },
		{ "SignatureMethod", "HMAC-SHA1" },
		{ "Format", "XML" },
		{ "Action", "DescribeRegions" },
		{ "AccessKeyId", "testid" },
	};
	struct buf b = BUF_INIT;

	v1_check("GET", p, N(p), "testsecret",
		 "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%"
		 "3DHMAC-"
		 "SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26"
		 "Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26",
		 "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
	v1_check("POST", p, N(p), "testsecret", NULL, "MxbnVAM4w6sft9xjVpe/GCKueuk=");
	/* pop-core's URL carries the signature encoded. */
	sign_encode(&b, "OLeaidS1JvxuMvnyHOwuJ+uX5qY=", 28);
	ASSERT_EQ_STR(b.data, "OLeaidS1JvxuMvnyHOwuJ%2BuX5qY%3D");
	buf_done(&b);
}

static void test_v1_go(void)
{
	struct sign_param p[] = { { "test", "ok" } };

	v1_check("", p, N(p), "accessKeySecret", "&%2F&test%3Dok", "jHx/oHoHNrbVfhncHEvPdHXZwHU=");
}

static void test_v1_swas(void)
{
	struct sign_param p[] = {
		{ "AccessKeyId", "testid" },
		{ "Action", "DescribeInvocations" },
		{ "Format", "JSON" },
		{ "InstanceId", "2ad1ae67295445f598017499dc****" },
		{ "PageNumber", "1" },
		{ "PageSize", "50" },
		{ "RegionId", "cn-hangzhou" },
		{ "SignatureMethod", "HMAC-SHA1" },
		{ "SignatureNonce", "0123456789abcdef0123456789abcdef" },
		{ "SignatureVersion", "1.0" },
		{ "Timestamp", "2024-01-02T03:04:05Z" },
		{ "Version", "2020-06-01" },
		{ "SecurityToken", "tok123" },
	};

	v1_check("GET", p, N(p) - 1, "testsecret",
		 "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeInvocations%26Format%3DJSON%26InstanceId%3D"
		 "2ad1ae67295445f598017499dc%252A%252A%252A%252A%26PageNumber%3D1%26PageSize%3D50%26RegionId%"
		 "3D"
		 "cn-hangzhou%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%"
		 "3D0123456789abcdef0123456789abcdef%26"
		 "SignatureVersion%3D1.0%26Timestamp%3D2024-01-02T03%253A04%253A05Z%26Version%3D2020-06-01",
		 "uoLJZDaRfn1NY9pcm089UKGc9dA=");
	v1_check("POST", p, N(p) - 1, "testsecret", NULL, "EENdzd471X6uxrUtB34YhsFDboc=");
	v1_check("GET", p, N(p), "testsecret", NULL, "/UYBNap5AeE4uj/l2IVMQize8/I=");
}

static void encode_case(const char *in, const char *expect)
{
	struct buf b = BUF_INIT;

	sign_encode(&b, in, strlen(in));
	ASSERT_EQ_STR(b.data ? b.data : "", expect);
	buf_done(&b);
}

static void test_encoder(void)
{
	encode_case(" a!*'()~+/:=&\xc3\xa9", "%20a%21%2A%27%28%29~%2B%2F%3A%3D%26%C3%A9");
	encode_case("2016-02-23T12:46:24Z", "2016-02-23T12%3A46%3A24Z");
	encode_case("/", "%2F");
	encode_case("AZaz09-_.~", "AZaz09-_.~");
	encode_case("", "");
	encode_case("%", "%25");
	encode_case("\x7f\xff", "%7F%FF");
}

static void test_canonical_query_order(void)
{
	/* Sorted by the encoded key; repeated keys by value; empty list gives "". */
	struct sign_param p[] = { { "b", "2" }, { "a.b", "x" }, { "a", "z" }, { "a", "y" }, { "A", NULL } };
	char *q = canon(p, N(p));

	ASSERT_EQ_STR(q, "A=&a=y&a=z&a.b=x&b=2");
	free(q);
	q = canon(NULL, 0);
	ASSERT_EQ_STR(q, "");
	free(q);
}

static void test_canonical_query_sorts_by_bytes(void)
{
	/* Byte order, as the SDK's sort(): every upper-case letter before every
	 * lower-case one, whatever the letter ("B" < "a", "Z" < "b"), and "%"
	 * (an encoded byte) before digits and letters. Today's parameter names
	 * all start upper-case; these do not. */
	struct sign_param p[] = { { "a", "1" }, { "B", "2" }, { "b", "3" }, { "Z", "4" },
				  { "_", "5" }, { "~", "6" }, { "0", "7" }, { " ", "8" } };
	char *q = canon(p, N(p));

	ASSERT_EQ_STR(q, "%20=8&0=7&B=2&Z=4&_=5&a=1&b=3&~=6");
	free(q);
}

static void test_header_trim_and_case(void)
{
	struct sign_header h[] = { { "Host", "  h.example  " }, { "X-ACS-Date", "\td\t" }, { "Other", "x" } };
	struct cred *c = make_cred("id", "secret", NULL);
	struct sign_v3_request req = { "POST", "/", "", h, N(h), SIGN_EMPTY_SHA256 };
	struct sign_v3 s;

	ASSERT_EQ_INT(sign_v3(&req, c, &s), 0);
	ASSERT_EQ_STR(s.canonical_request,
		      "POST\n/\n\nhost:h.example\nx-acs-date:d\n\nhost;x-acs-date\n" SIGN_EMPTY_SHA256);
	sign_v3_done(&s);
	cred_free(c);
}

static void test_nonce_and_timestamp(void)
{
	char a[SIGN_NONCE_LEN + 1], b[SIGN_NONCE_LEN + 1], ts[SIGN_TIMESTAMP_LEN + 1];
	size_t i;

	ASSERT_EQ_INT(sign_nonce(a), 0);
	ASSERT_EQ_INT(sign_nonce(b), 0);
	ASSERT_EQ_INT(strlen(a), SIGN_NONCE_LEN);
	for (i = 0; i < SIGN_NONCE_LEN; i++)
		ASSERT_TRUE(isxdigit((unsigned char)a[i]) && !isupper((unsigned char)a[i]));
	ASSERT_TRUE(strcmp(a, b) != 0);
	ASSERT_EQ_INT(sign_timestamp(1704164645, ts), 0);
	ASSERT_EQ_STR(ts, "2024-01-02T03:04:05Z");
	/* Years outside 1000-9999 (found by fuzz_time: -616 is also 4 characters). */
	ASSERT_EQ_INT(sign_timestamp(-81604378625, ts), -EINVAL);
	ASSERT_EQ_INT(sign_timestamp(253402300800, ts), -EINVAL);
	ASSERT_EQ_INT(sign_timestamp(253402300799, ts), 0);
	ASSERT_EQ_STR(ts, "9999-12-31T23:59:59Z");
}

int main(void)
{
	RUN(test_v3_off);
	RUN(test_v3_go);
	RUN(test_v3_1);
	RUN(test_v3_2);
	RUN(test_v3_3);
	RUN(test_v3_4);
	RUN(test_v3_5);
	RUN(test_v1_off_a);
	RUN(test_v1_off_b);
	RUN(test_v1_go);
	RUN(test_v1_swas);
	RUN(test_encoder);
	RUN(test_canonical_query_order);
	RUN(test_canonical_query_sorts_by_bytes);
	RUN(test_header_trim_and_case);
	RUN(test_nonce_and_timestamp);
	return 0;
}
