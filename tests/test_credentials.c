// SPDX-License-Identifier: MIT
/*
 * test_credentials: the chain of credentials.h against fixtures in
 * tests/data/credentials/, each copied into a fresh temporary HOME with mode
 * 0600 (git does not keep modes): environment precedence, ini access_key and
 * sts, inline comments, profile selection (argument and
 * $ALIBABA_CLOUD_PROFILE), the aliyun CLI config (AK, StsToken, unsupported
 * modes, truncated JSON), malformed files reported with path and line, the
 * group-readable warning, and the "no credentials" message.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "credentials.h"
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
	/* Half an environment pair does not count: the file is next. */
	unsetenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
	expect_cred(NULL, "AKID_INI_DEFAULT", "ini-default-secret", NULL);
	setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "", 1);
	expect_cred(NULL, "AKID_INI_DEFAULT", "ini-default-secret", NULL);
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
	put_ini("ini_ram_role", 0600);
	expect_error(NULL, -EINVAL, "type = ram_role_arn is not supported", "credentials:2:");
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
	expect_error("role", -EINVAL, "mode RamRoleArn is not supported", ".aliyun/config.json");
	expect_error("nosuch", -ENOENT, "no profile \"nosuch\"", "credentials (no such file)");
	put_cli("cli_truncated.json", 0600);
	expect_error(NULL, -EINVAL, ".aliyun/config.json: not valid JSON", NULL);
}

static void test_ini_before_cli_and_fallthrough(void)
{
	fresh_home();
	put_ini("ini_access_key", 0600);
	put_cli("cli_config.json", 0600);
	expect_cred(NULL, "AKID_INI_DEFAULT", "ini-default-secret", NULL);
	/* No [sts] section in the ini file: the CLI's profile "sts" answers. */
	expect_cred("sts", "STS.AKID_CLI", "cli-sts-secret", "cli-sts-token");
	setenv("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "true", 1);
	expect_error("sts", -ENOENT, "ALIBABA_CLOUD_CLI_PROFILE_DISABLED", NULL);
}

static void test_nothing_names_every_place(void)
{
	fresh_home();
	expect_error(NULL, -ENOENT, "environment (ALIBABA_CLOUD_ACCESS_KEY_ID", ".alibabacloud/credentials");
	expect_error(NULL, -ENOENT, ".aliyun/config.json (no such file)", "no credentials found");
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
	RUN(test_ini_before_cli_and_fallthrough);
	RUN(test_nothing_names_every_place);
	rm_rf_home();
	return 0;
}
