// SPDX-License-Identifier: MIT
/*
 * test_credentials: the chain of credentials.h against fixtures in
 * tests/data/credentials/, each copied into a fresh temporary HOME with mode
 * 0600 (git does not keep modes): environment precedence, ini access_key and
 * sts, inline comments, profile selection (argument and
 * $ALIBABA_CLOUD_PROFILE), the aliyun CLI config (AK, StsToken, unsupported
 * modes, truncated JSON), malformed files reported with path and line, the
 * group-readable warning, and the "no credentials" message. Then the secret's
 * memory: copies that round-trip, the secure heap (and the ordinary heap when
 * it is full), the wipe on free, and the environment scrubbed in place.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bg.h"
#include "credentials.h"
#include "src/credentials_i.h"
#include "test.h"

static char home[256];
static const char *data_dir;

static void copy_file(const char *fixture, const char *dest, mode_t mode)
{
	char src[PATH_MAX], buf[8192];
	FILE *in, *out;
	size_t n;

	snprintf(src, sizeof(src), "%s/credentials/%s", data_dir, fixture);
	in = fopen(src, "rb");
	ASSERT_TRUE(in != NULL);
	out = fopen(dest, "wb");
	ASSERT_TRUE(out != NULL);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		ASSERT_EQ_INT(fwrite(buf, 1, n, out), n);
	fclose(in);
	fclose(out);
	ASSERT_EQ_INT(chmod(dest, mode), 0);
}

static void rm_rf_home(void)
{
	char cmd[300];

	if (!home[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
	ASSERT_EQ_INT(system(cmd), 0);
	home[0] = '\0';
}

/* A fresh, empty HOME and a clean environment. */
static void fresh_home(void)
{
	rm_rf_home();
	snprintf(home, sizeof(home), "/tmp/swasfs-test-cred-XXXXXX");
	ASSERT_TRUE(mkdtemp(home) != NULL);
	setenv("HOME", home, 1);
	unsetenv("ALIBABA_CLOUD_ACCESS_KEY_ID");
	unsetenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
	unsetenv("ALIBABA_CLOUD_SECURITY_TOKEN");
	unsetenv("ALIBABA_CLOUD_CREDENTIALS_FILE");
	unsetenv("ALIBABA_CLOUD_PROFILE");
	unsetenv("ALIBABA_CLOUD_CLI_PROFILE_DISABLED");
	unsetenv("ALIBABA_CLOUD_ROLE_ARN");
	unsetenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN");
	unsetenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE");
	unsetenv("ALIBABA_CLOUD_CREDENTIALS_URI");
	unsetenv("ALIBABA_CLOUD_ECS_METADATA");
	setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true", 1);
}

static void put_ini(const char *fixture, mode_t mode)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/.alibabacloud", home);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/.alibabacloud/credentials", home);
	copy_file(fixture, path, mode);
}

static void put_cli(const char *fixture, mode_t mode)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/.aliyun", home);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/.aliyun/config.json", home);
	copy_file(fixture, path, mode);
}

static void expect_cred(const char *profile, const char *id, const char *secret, const char *token)
{
	struct cred_diag diag;
	struct cred *c = NULL;
	int r = cred_load(profile, &c, &diag);

	if (r != 0)
		fprintf(stderr, "cred_load: %d: %s\n", r, diag.message);
	ASSERT_EQ_INT(r, 0);
	ASSERT_EQ_STR(cred_access_key_id(c), id);
	ASSERT_EQ_STR(cred_secret(c), secret);
	if (token)
		ASSERT_EQ_STR(cred_token(c), token);
	else
		ASSERT_TRUE(cred_token(c) == NULL);
	ASSERT_TRUE(diag.source[0] != '\0');
	/* The diag never holds the secret. */
	ASSERT_TRUE(strstr(diag.source, secret) == NULL && strstr(diag.warning, secret) == NULL);
	cred_free(c);
}

/* Fails with @err and a message containing every needle. */
static void expect_error(const char *profile, int err, const char *needle1, const char *needle2)
{
	struct cred_diag diag;
	struct cred *c = NULL;
	int r = cred_load(profile, &c, &diag);

	ASSERT_EQ_INT(r, err);
	ASSERT_TRUE(c == NULL);
	if (needle1 && !strstr(diag.message, needle1))
		TEST_FAIL_HERE("\"%s\" not in \"%s\"", needle1, diag.message);
	if (needle2 && !strstr(diag.message, needle2))
		TEST_FAIL_HERE("\"%s\" not in \"%s\"", needle2, diag.message);
}

static void test_cred_new(void)
{
	struct cred *c = NULL;

	ASSERT_EQ_INT(cred_new("", "s", NULL, &c), -EINVAL);
	ASSERT_EQ_INT(cred_new("a", "", NULL, &c), -EINVAL);
	ASSERT_EQ_INT(cred_new("a", "s", "", &c), 0);
	ASSERT_TRUE(cred_token(c) == NULL);
	cred_free(c);
	cred_free(NULL);
}

static void test_env_wins_over_files(void)
{
	fresh_home();
	put_ini("ini_access_key", 0600);
	put_cli("cli_config.json", 0600);
	setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "AKID_ENV", 1);
	setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret", 1);
	expect_cred(NULL, "AKID_ENV", "env-secret", NULL);
	setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "env-token", 1);
	expect_cred(NULL, "AKID_ENV", "env-secret", "env-token");
	/* Half an environment pair does not count: the CLI config is next. */
	unsetenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
	expect_cred(NULL, "AKID_CLI_AK", "cli-ak-secret", NULL);
	setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "", 1);
	expect_cred(NULL, "AKID_CLI_AK", "cli-ak-secret", NULL);
}

static void test_ini_access_key_and_profiles(void)
{
	struct cred_diag diag;
	struct cred *c = NULL;

	fresh_home();
	put_ini("ini_access_key", 0600);
	expect_cred(NULL, "AKID_INI_DEFAULT", "ini-default-secret", NULL);
	ASSERT_EQ_INT(cred_load(NULL, &c, &diag), 0);
	ASSERT_TRUE(strstr(diag.source, ".alibabacloud/credentials") != NULL);
	ASSERT_EQ_STR(diag.warning, "");
	cred_free(c);
	/* Inline comments stripped; a quoted value is literal. */
	expect_cred("work", "AKID_INI_WORK", "ini;work#secret", NULL);
	setenv("ALIBABA_CLOUD_PROFILE", "work", 1);
	expect_cred(NULL, "AKID_INI_WORK", "ini;work#secret", NULL);
	/* The argument beats the environment variable. */
	expect_cred("default", "AKID_INI_DEFAULT", "ini-default-secret", NULL);
}

static void test_ini_sts_via_env_path(void)
{
	char path[PATH_MAX];

	fresh_home();
	snprintf(path, sizeof(path), "%s/elsewhere.ini", home);
	copy_file("ini_sts", path, 0600);
	setenv("ALIBABA_CLOUD_CREDENTIALS_FILE", path, 1);
	expect_cred(NULL, "STS.AKID_INI", "ini-sts-secret", "ini-sts-token");
}

static void test_ini_errors_name_file_and_line(void)
{
	fresh_home();
	put_ini("ini_malformed", 0600);
	expect_error(NULL, -EINVAL, ".alibabacloud/credentials:3:", "key = value");
	put_ini("ini_section_comment", 0600);
	expect_error(NULL, -EINVAL, "credentials:1:", "section");
	/* A role needs STS: an offline load says so (the mount tests ask STS). */
	put_ini("ini_ram_role", 0600);
	expect_error(NULL, -EOPNOTSUPP, "STS AssumeRole acs:ram::1:role/x", "needs a request");
	put_ini("ini_missing_secret", 0600);
	expect_error(NULL, -EINVAL, "lacks access_key_secret", NULL);
}

static void test_group_readable_file_warns(void)
{
	struct cred_diag diag;
	struct cred *c = NULL;

	fresh_home();
	put_ini("ini_access_key", 0640);
	ASSERT_EQ_INT(cred_load(NULL, &c, &diag), 0);
	ASSERT_TRUE(strstr(diag.warning, "readable by group or others") != NULL);
	ASSERT_TRUE(strstr(diag.warning, ".alibabacloud/credentials") != NULL);
	cred_free(c);
}

static void test_cli_config(void)
{
	fresh_home();
	put_cli("cli_config.json", 0600);
	expect_cred(NULL, "AKID_CLI_AK", "cli-ak-secret", NULL);
	expect_cred("sts", "STS.AKID_CLI", "cli-sts-secret", "cli-sts-token");
	expect_error("role", -EOPNOTSUPP, "STS AssumeRole acs:ram::1:role/x at https://sts.aliyuncs.com",
		     "needs a request");
	expect_error("nosuch", -ENOENT, "no profile \"nosuch\"", "credentials (no such file)");
	put_cli("cli_truncated.json", 0600);
	expect_error(NULL, -EINVAL, ".aliyun/config.json: not valid JSON", NULL);
}

/* The official order (providers/default.ts): the CLI config before the ini file. */
static void test_cli_before_ini_and_fallthrough(void)
{
	fresh_home();
	put_ini("ini_access_key", 0600);
	put_cli("cli_config.json", 0600);
	expect_cred(NULL, "AKID_CLI_AK", "cli-ak-secret", NULL);
	/* No CLI profile "work": the ini file's [work] answers. */
	expect_cred("work", "AKID_INI_WORK", "ini;work#secret", NULL);
	setenv("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "TRUE", 1);
	expect_cred(NULL, "AKID_INI_DEFAULT", "ini-default-secret", NULL);
	expect_error("sts", -ENOENT, "ALIBABA_CLOUD_CLI_PROFILE_DISABLED", NULL);
}

static void test_cli_modes(void)
{
	fresh_home();
	put_cli("cli_modes.json", 0600);
	expect_cred(NULL, "AKID_CLI_AK", "cli-ak-secret", NULL);
	expect_error("chain", -EOPNOTSUPP, "STS AssumeRole acs:ram::1:role/chained", "profile \"ak\"");
	expect_error("loop", -EINVAL, "source_profile chain longer than", NULL);
	expect_error("orphan", -EINVAL, "source_profile \"nosuch\" does not exist", NULL);
	expect_error("short", -EINVAL, "900s", "profile \"short\"");
	expect_error("norole", -EINVAL, "the RoleArn is empty", NULL);
	unsetenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED");
	expect_error("ecs", -EOPNOTSUPP, "the ECS RAM role swas-role from http://100.100.100.200", NULL);
	setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true", 1);
	expect_error("ecs", -EINVAL, "ALIBABA_CLOUD_ECS_METADATA_DISABLED=true", NULL);
	expect_error("oidc", -EOPNOTSUPP, "AssumeRoleWithOIDC acs:ram::1:role/o", "/nonexistent");
	expect_error("oidc_half", -EINVAL, "OIDC needs a role ARN, an OIDC provider ARN", NULL);
	expect_error("uri", -EOPNOTSUPP, "the credentials URI http://127.0.0.1:9/creds", NULL);
	expect_error("sso", -EINVAL, "mode CloudSSO is not supported", "interactive");
	expect_error("oauth", -EINVAL, "mode OAuth is not supported", NULL);
	expect_error("external", -EINVAL, "mode External is refused", "process_command");
	expect_error("bogus", -EINVAL, "mode Bogus is not supported", NULL);
	ASSERT_TRUE(access("/tmp/swasfs-must-not-run", F_OK) != 0);
}

/* OIDC (source 2) comes before the CLI config, and -o sts_endpoint-less
 * regions follow the official endpoint rule. */
static void test_oidc_env_and_sts_region(void)
{
	fresh_home();
	put_cli("cli_config.json", 0600);
	setenv("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/env", 1);
	setenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "acs:ram::1:oidc-provider/p", 1);
	expect_cred(NULL, "AKID_CLI_AK", "cli-ak-secret", NULL);
	setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", "/nonexistent", 1);
	expect_error(NULL, -EOPNOTSUPP, "AssumeRoleWithOIDC acs:ram::1:role/env at https://sts.aliyuncs.com",
		     NULL);
	setenv("ALIBABA_CLOUD_STS_REGION", "cn-shanghai", 1);
	expect_error(NULL, -EOPNOTSUPP, "at https://sts.cn-shanghai.aliyuncs.com", NULL);
	setenv("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED", "true", 1);
	expect_error(NULL, -EOPNOTSUPP, "at https://sts-vpc.cn-shanghai.aliyuncs.com", NULL);
	unsetenv("ALIBABA_CLOUD_STS_REGION");
	unsetenv("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED");
}

/* No HOME (fstab, systemd): the passwd entry's home directory. */
static void test_home_from_passwd(void)
{
	struct cred_diag diag;
	struct cred *c = NULL;

	fresh_home();
	unsetenv("HOME");
	/* Whatever the passwd home holds, the chain names it, not "HOME is not set". */
	(void)cred_load("swasfs-no-such-profile", &c, &diag);
	cred_free(c);
	ASSERT_TRUE(strstr(diag.message, "no home directory") == NULL);
	ASSERT_TRUE(strstr(diag.message, "HOME") == NULL);
	setenv("HOME", home, 1);
}

static void test_expiration_parse(void)
{
	ASSERT_EQ_INT(cred_parse_expiration("2024-08-30T07:03:06Z"), 1725001386);
	ASSERT_EQ_INT(cred_parse_expiration("2024-08-30T07:03:06.117Z"), 1725001386);
	ASSERT_EQ_INT(cred_parse_expiration("2024-08-30T07:03:06"), 0);
	ASSERT_EQ_INT(cred_parse_expiration("2024-08-30 07:03:06Z"), 0);
	ASSERT_EQ_INT(cred_parse_expiration(""), 0);
	ASSERT_EQ_INT(cred_parse_expiration(NULL), 0);
}

/* Writes an ini [default] access_key section with @id and @secret, in place of
 * the old file (a new inode, as editors and key-rotation tools do). */
static void rotate_ini(const char *id, const char *secret)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;

	snprintf(path, sizeof(path), "%s/.alibabacloud/credentials", home);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	ASSERT_TRUE(f != NULL);
	fprintf(f, "[default]\ntype = access_key\naccess_key_id = %s\naccess_key_secret = %s\n", id, secret);
	fclose(f);
	ASSERT_EQ_INT(chmod(tmp, 0600), 0);
	ASSERT_EQ_INT(rename(tmp, path), 0);
}

static void expect_key(struct cred_provider *p, const char *id, const char *secret)
{
	struct cred *c = NULL;

	ASSERT_EQ_INT(cred_provider_get(p, &c), 0);
	ASSERT_EQ_STR(cred_access_key_id(c), id);
	ASSERT_EQ_STR(cred_secret(c), secret);
	cred_free(c);
}

/* A refused key read from a file: the file is read again at once, and only a
 * different key counts as something new; a reference taken before stays valid. */
static void test_refused_file_key_is_read_again(void)
{
	struct cred_options opt = { .offline = true };
	struct cred_provider_stats st;
	struct cred_provider *p = NULL;
	struct cred_diag diag;
	struct cred *old = NULL;

	fresh_home();
	put_ini("ini_access_key", 0600);
	ASSERT_EQ_INT(cred_provider_new(&opt, &p, &diag), 0);
	ASSERT_EQ_INT(cred_provider_get(p, &old), 0);
	/* Nothing changed: nothing new to retry with. */
	ASSERT_EQ_INT(cred_provider_refused(p, old), -ESTALE);
	rotate_ini("AKID_ROTATED", "rotated-secret");
	ASSERT_EQ_INT(cred_provider_refused(p, old), 0);
	expect_key(p, "AKID_ROTATED", "rotated-secret");
	/* The old reference is still whole. */
	ASSERT_EQ_STR(cred_secret(old), "ini-default-secret");
	cred_free(old);
	/* A file that turned into something else keeps the key read before. */
	rotate_ini("", "x");
	ASSERT_EQ_INT(cred_provider_get(p, &old), 0);
	ASSERT_EQ_INT(cred_provider_refused(p, old), -ESTALE);
	cred_free(old);
	expect_key(p, "AKID_ROTATED", "rotated-secret");
	cred_provider_get_stats(p, &st);
	ASSERT_TRUE(st.rereads >= 2 && st.failures == 1);
	cred_provider_free(p);
}

/* The renewal service notices a rewritten file within about a second. */
static void test_file_change_is_picked_up_by_the_service(void)
{
	struct cred_options opt = { .offline = true };
	struct cred_provider *p = NULL;
	struct cred_diag diag;
	struct bg *bg = NULL;
	struct cred *c = NULL;
	int i;

	fresh_home();
	put_ini("ini_access_key", 0600);
	ASSERT_EQ_INT(cred_provider_new(&opt, &p, &diag), 0);
	ASSERT_EQ_INT(bg_new(NULL, &bg), 0);
	ASSERT_EQ_INT(cred_provider_start(p, bg), 0);
	ASSERT_EQ_INT(bg_start(bg), 0);
	rotate_ini("AKID_SERVICE", "service-secret");
	for (i = 0; i < 50; i++) {
		ASSERT_EQ_INT(cred_provider_get(p, &c), 0);
		if (strcmp(cred_access_key_id(c), "AKID_SERVICE") == 0)
			break;
		cred_free(c);
		c = NULL;
		usleep(100 * 1000);
	}
	ASSERT_TRUE(c != NULL);
	ASSERT_EQ_STR(cred_secret(c), "service-secret");
	cred_free(c);
	bg_free(bg);
	cred_provider_free(p);
}

/* The environment never changes: no service, nothing to renew. */
static void test_environment_needs_no_service(void)
{
	struct cred_options opt = { .offline = true };
	struct cred_provider *p = NULL;
	struct bg_stats st;
	struct cred_diag diag;
	struct bg *bg = NULL;
	struct cred *c = NULL;

	fresh_home();
	setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "AKID_ENV", 1);
	setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret", 1);
	ASSERT_EQ_INT(cred_provider_new(&opt, &p, &diag), 0);
	ASSERT_EQ_STR(cred_provider_source(p), "environment");
	ASSERT_EQ_INT(bg_new(NULL, &bg), 0);
	ASSERT_EQ_INT(cred_provider_start(p, bg), 0);
	bg_get_stats(bg, &st);
	ASSERT_EQ_INT(st.services, 0);
	ASSERT_EQ_INT(cred_provider_get(p, &c), 0);
	ASSERT_EQ_INT(cred_provider_refused(p, c), -ESTALE);
	cred_free(c);
	bg_free(bg);
	cred_provider_free(p);
}

static void test_nothing_names_every_place(void)
{
	fresh_home();
	expect_error(NULL, -ENOENT, "environment (ALIBABA_CLOUD_ACCESS_KEY_ID", ".alibabacloud/credentials");
	expect_error(NULL, -ENOENT, ".aliyun/config.json (no such file)", "no credentials found");
}

static void expect_same(const struct cred *c, const char *id, const char *secret, const char *token)
{
	ASSERT_EQ_STR(cred_access_key_id(c), id);
	ASSERT_EQ_STR(cred_secret(c), secret);
	if (token)
		ASSERT_EQ_STR(cred_token(c), token);
	else
		ASSERT_TRUE(cred_token(c) == NULL);
}

/* Runs before cred_secure_heap_init: the ordinary heap. */
static void test_dup_round_trips_on_the_ordinary_heap(void)
{
	struct cred *c = NULL, *d = NULL;

	ASSERT_EQ_INT(cred_new("AKID", "dup-secret", "dup-token", &c), 0);
	ASSERT_TRUE(!cred_is_secure(c));
	ASSERT_EQ_INT(cred_dup(c, &d), 0);
	cred_free(c);
	expect_same(d, "AKID", "dup-secret", "dup-token");
	ASSERT_EQ_INT(cred_lock_pages(d), 0);
	cred_free(d);
	ASSERT_EQ_INT(cred_new("AKID", "dup-secret", NULL, &c), 0);
	ASSERT_EQ_INT(cred_dup(c, &d), 0);
	expect_same(d, "AKID", "dup-secret", NULL);
	cred_free(c);
	cred_free(d);
}

/* The arena is mlocked when RLIMIT_MEMLOCK allows: -EPERM is a degraded but working arena. */
static void test_secure_heap_holds_credentials_and_wipes_them_on_free(void)
{
	static const char secret[] = "secure-heap-secret-0123456789";
	struct cred *before = NULL, *c = NULL, *d = NULL;
	const char *in_arena;
	int r;

	ASSERT_EQ_INT(cred_new("AKID", "made-before-the-arena", NULL, &before), 0);
	r = cred_secure_heap_init();
	if (r == -ENOMEM) {
		fprintf(stderr, "no secure heap in this OpenSSL: skipped\n");
		cred_free(before);
		return;
	}
	ASSERT_TRUE(r == 0 || r == -EPERM);
	ASSERT_EQ_INT(cred_secure_heap_init(), r);
	ASSERT_EQ_INT(cred_new("AKID", secret, "secure-heap-token", &c), 0);
	ASSERT_TRUE(cred_is_secure(c));
	ASSERT_EQ_INT(cred_dup(c, &d), 0);
	ASSERT_TRUE(cred_is_secure(d));
	ASSERT_TRUE(cred_secret(d) != cred_secret(c));
	expect_same(d, "AKID", secret, "secure-heap-token");
	/* One made on the ordinary heap is still freed the right way. */
	ASSERT_TRUE(!cred_is_secure(before));
	cred_free(before);

	/* The arena stays mapped after a free, so the old bytes can be looked at. */
	in_arena = cred_secret(c);
	ASSERT_EQ_MEM(in_arena, sizeof(secret) - 1, secret, sizeof(secret) - 1);
	cred_free(c);
	for (size_t i = 0; i < sizeof(secret) - 1; i++)
		ASSERT_EQ_INT(in_arena[i], 0);
	expect_same(d, "AKID", secret, "secure-heap-token");
	cred_free(d);
}

/* Fields at their caps fill the 64 KiB arena after a few; the rest go to the ordinary heap. */
static void test_a_full_secure_heap_falls_back_to_the_ordinary_heap(void)
{
	enum { MAX_FIELD = 8192, MAX_CREDS = 16 };
	static char id[MAX_FIELD + 1], secret[MAX_FIELD + 1], token[MAX_FIELD + 1];
	struct cred *c[MAX_CREDS] = { 0 };
	size_t n, secure = 0;

	if (cred_secure_heap_init() == -ENOMEM)
		return;
	memset(id, 'i', MAX_FIELD);
	memset(secret, 's', MAX_FIELD);
	memset(token, 't', MAX_FIELD);
	for (n = 0; n < MAX_CREDS; n++) {
		ASSERT_EQ_INT(cred_new(id, secret, token, &c[n]), 0);
		expect_same(c[n], id, secret, token);
		if (!cred_is_secure(c[n]))
			break;
		secure++;
	}
	ASSERT_TRUE(secure >= 1);
	ASSERT_TRUE(n < MAX_CREDS);
	for (size_t i = 0; i <= n && i < MAX_CREDS; i++)
		cred_free(c[i]);
	/* Space is back: a new one is secure again. */
	ASSERT_EQ_INT(cred_new(id, secret, token, &c[0]), 0);
	ASSERT_TRUE(cred_is_secure(c[0]));
	ASSERT_EQ_INT(cred_lock_pages(c[0]), 0);
	cred_free(c[0]);
}

static void test_scrub_environ_zeroes_secret_values_in_place(void)
{
	/* putenv keeps these very buffers in the environment, as execve's block is kept. */
	static char secret[] = "ALIBABA_CLOUD_ACCESS_KEY_SECRET=scrub-me-secret";
	static char token[] = "ALIBABA_CLOUD_SECURITY_TOKEN=scrub-me-token";
	static char id[] = "ALIBABA_CLOUD_ACCESS_KEY_ID=AKID_KEPT";
	static const char secret_name[] = "ALIBABA_CLOUD_ACCESS_KEY_SECRET=";
	static const char token_name[] = "ALIBABA_CLOUD_SECURITY_TOKEN=";
	struct cred_diag diag;
	struct cred *c = NULL;

	fresh_home();
	ASSERT_EQ_INT(putenv(secret), 0);
	ASSERT_EQ_INT(putenv(token), 0);
	ASSERT_EQ_INT(putenv(id), 0);
	ASSERT_EQ_INT(cred_load(NULL, &c, &diag), 0);
	ASSERT_EQ_INT(cred_scrub_environ(), 2);
	/* The loaded credentials are copies, untouched by the wipe. */
	expect_same(c, "AKID_KEPT", "scrub-me-secret", "scrub-me-token");
	cred_free(c);
	ASSERT_TRUE(strncmp(secret, secret_name, strlen(secret_name)) == 0);
	for (size_t i = strlen(secret_name); i < sizeof(secret) - 1; i++)
		ASSERT_EQ_INT(secret[i], 0);
	ASSERT_TRUE(strncmp(token, token_name, strlen(token_name)) == 0);
	for (size_t i = strlen(token_name); i < sizeof(token) - 1; i++)
		ASSERT_EQ_INT(token[i], 0);
	ASSERT_TRUE(getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET") == NULL);
	ASSERT_TRUE(getenv("ALIBABA_CLOUD_SECURITY_TOKEN") == NULL);
	ASSERT_EQ_STR(getenv("ALIBABA_CLOUD_ACCESS_KEY_ID"), "AKID_KEPT");
	ASSERT_EQ_STR(getenv("HOME"), home);
	ASSERT_EQ_INT(cred_scrub_environ(), 0);
	unsetenv("ALIBABA_CLOUD_ACCESS_KEY_ID");
}

int main(void)
{
	data_dir = getenv("TEST_DATA");
	if (!data_dir)
		data_dir = "data";
	RUN(test_cred_new);
	RUN(test_env_wins_over_files);
	RUN(test_ini_access_key_and_profiles);
	RUN(test_ini_sts_via_env_path);
	RUN(test_ini_errors_name_file_and_line);
	RUN(test_group_readable_file_warns);
	RUN(test_cli_config);
	RUN(test_cli_before_ini_and_fallthrough);
	RUN(test_cli_modes);
	RUN(test_oidc_env_and_sts_region);
	RUN(test_home_from_passwd);
	RUN(test_expiration_parse);
	RUN(test_refused_file_key_is_read_again);
	RUN(test_file_change_is_picked_up_by_the_service);
	RUN(test_environment_needs_no_service);
	RUN(test_nothing_names_every_place);
	RUN(test_dup_round_trips_on_the_ordinary_heap);
	RUN(test_scrub_environ_zeroes_secret_values_in_place);
	RUN(test_secure_heap_holds_credentials_and_wipes_them_on_free);
	RUN(test_a_full_secure_heap_falls_back_to_the_ordinary_heap);
	rm_rf_home();
	return 0;
}
