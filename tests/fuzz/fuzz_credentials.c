// SPDX-License-Identifier: MIT
/*
 * fuzz_credentials: the credentials files (credentials.h) through cred_load,
 * the one entry point, exactly as the daemon reads them: the file lives in a
 * memfd that the chain opens by path (/proc/self/fd/N, directly for the ini
 * file, through a symlink at $HOME/.aliyun/config.json for the CLI config).
 *
 * Input: one flags byte, then the file. Flag 0x01: the file is the CLI
 * config (else the ini file, with the CLI source disabled); 0x02: the bytes up
 * to the first '\n' are the profile asked for (else none); 0x04: the file is
 * mode 0644 (else 0600); 0x08: the bytes are not a file but an answer of STS,
 * the metadata service or a credentials URI, read by json_parse_temp_cred
 * both ways (under "Credentials" and at the top), with cred_parse_expiration
 * on its Expiration.
 *
 * cred_load is offline: a CLI mode or ini type that needs STS or the metadata
 * service (RamRoleArn, ChainableRamRoleArn, EcsRamRole, OIDC, CredentialsURI,
 * ram_role_arn, ecs_ram_role) is built, then fails -EOPNOTSUPP, never sends.
 *
 * Invariants: cred_load returns 0, -ENOENT, -EINVAL, -EOPNOTSUPP or -ENOMEM; every diag
 * field ends inside its array; a failure says why in diag.message ("no
 * credentials found; looked at: ..." for -ENOENT); a success has an id and a
 * secret of 1-8192 bytes, no empty token, an empty message, a source that is
 * exactly the file and the section or profile asked for (so nothing else, the
 * secret included, reaches it), and a warning exactly when the file is
 * readable by others. An answer parses to NUL-terminated strings or fails
 * with -EBADMSG, -EPROTO or -ENOMEM, and an Expiration parses to 0 or a time
 * in the years 0..9999.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "credentials.h"
#include "fuzz.h"
#include "json.h"
#include "src/credentials_i.h"

#define FLAG_CLI     0x01
#define FLAG_PROFILE 0x02
#define FLAG_EXPOSED 0x04
#define FLAG_ANSWER  0x08

/* credentials.c's CRED_MAX_FIELD_BYTES. */
#define MAX_FIELD_BYTES 8192

static int file_fd = -1;
static char home[PATH_MAX], ini_path[64], cli_dir[PATH_MAX], cli_path[PATH_MAX], absent_path[PATH_MAX];

static void cleanup(void)
{
	unlink(cli_path);
	rmdir(cli_dir);
	rmdir(home);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp;
	int n;

	file_fd = memfd_create("swasfs-fuzz-credentials", MFD_CLOEXEC);
	FUZZ_CHECK(file_fd >= 0);
	snprintf(ini_path, sizeof(ini_path), "/proc/self/fd/%d", file_fd);
	/* Under $TMPDIR: run-fuzzers.sh points it into its scratch directory,
	 * which it keeps with the input after a crash (atexit does not run). */
	tmp = getenv("TMPDIR");
	n = snprintf(home, sizeof(home), "%s/swasfs-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(home) - 32);
	FUZZ_CHECK(mkdtemp(home) != NULL);
	snprintf(cli_dir, sizeof(cli_dir), "%s/.aliyun", home);
	snprintf(cli_path, sizeof(cli_path), "%s/config.json", cli_dir);
	snprintf(absent_path, sizeof(absent_path), "%s/absent", home);
	FUZZ_CHECK(mkdir(cli_dir, 0700) == 0);
	FUZZ_CHECK(symlink(ini_path, cli_path) == 0);
	atexit(cleanup);

	setenv("HOME", home, 1);
	unsetenv("ALIBABA_CLOUD_ACCESS_KEY_ID");
	unsetenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
	unsetenv("ALIBABA_CLOUD_SECURITY_TOKEN");
	unsetenv("ALIBABA_CLOUD_PROFILE");
	unsetenv("ALIBABA_CLOUD_ROLE_ARN");
	unsetenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN");
	unsetenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE");
	unsetenv("ALIBABA_CLOUD_CREDENTIALS_URI");
	unsetenv("ALIBABA_CLOUD_ECS_METADATA");
	setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true", 1);
	return 0;
}

static void put_file(const uint8_t *data, size_t size, mode_t mode)
{
	FUZZ_CHECK(ftruncate(file_fd, 0) == 0);
	FUZZ_CHECK(pwrite(file_fd, data, size, 0) == (ssize_t)size);
	FUZZ_CHECK(fchmod(file_fd, mode) == 0);
}

static void check_success(const struct cred *c, const struct cred_diag *diag, bool cli, const char *profile,
			  bool exposed)
{
	const char *id = cred_access_key_id(c), *secret = cred_secret(c), *token = cred_token(c);
	char want[sizeof(diag->source)];
	size_t plen;

	FUZZ_CHECK(id[0] != '\0' && strlen(id) <= MAX_FIELD_BYTES);
	FUZZ_CHECK(secret[0] != '\0' && strlen(secret) <= MAX_FIELD_BYTES);
	FUZZ_CHECK(!token || (token[0] != '\0' && strlen(token) <= MAX_FIELD_BYTES));
	FUZZ_CHECK(diag->message[0] == '\0');
	FUZZ_CHECK((diag->warning[0] != '\0') == exposed);
	if (!cli) {
		snprintf(want, sizeof(want), "%s section \"%s\"", ini_path, profile ? profile : "default");
		FUZZ_CHECK(strcmp(diag->source, want) == 0);
		return;
	}
	/* "<path> profile "<name>"": the name is the one asked for, if any. */
	snprintf(want, sizeof(want), "%s profile \"", cli_path);
	plen = strlen(want);
	FUZZ_CHECK(strncmp(diag->source, want, plen) == 0);
	FUZZ_CHECK(diag->source[strlen(diag->source) - 1] == '"');
	if (profile) {
		snprintf(want + plen, sizeof(want) - plen, "%s\"", profile);
		FUZZ_CHECK(strcmp(diag->source, want) == 0);
	}
}

static void check_answer(const uint8_t *data, size_t size)
{
	static const char *const wrappers[] = { "Credentials", NULL };

	for (size_t i = 0; i < 2; i++) {
		struct json_temp_cred t = { 0 };
		int r = json_parse_temp_cred((const char *)data, size, wrappers[i], &t);

		FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EPROTO || r == -ENOMEM);
		if (r == 0) {
			time_t e;

			FUZZ_CHECK(t.access_key_id && t.access_key_secret && t.security_token &&
				   t.expiration && t.code);
			e = cred_parse_expiration(t.expiration);
			FUZZ_CHECK(e == 0 || (e >= -62167219200LL && e <= 253402300799LL));
		} else {
			FUZZ_CHECK(!t.access_key_id && !t.code);
		}
		json_temp_cred_done(&t);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cred_diag diag;
	struct cred *c = NULL;
	char *profile = NULL;
	bool cli, exposed;
	uint8_t flags;
	int r;

	if (size == 0)
		return 0;
	flags = data[0];
	data++;
	size--;
	if (flags & FLAG_ANSWER) {
		check_answer(data, size);
		return 0;
	}
	cli = flags & FLAG_CLI;
	exposed = flags & FLAG_EXPOSED;
	if (flags & FLAG_PROFILE) {
		const uint8_t *nl = memchr(data, '\n', size);
		size_t plen = nl ? (size_t)(nl - data) : size;

		profile = fuzz_strndup(data, plen);
		data += nl ? plen + 1 : plen;
		size -= nl ? plen + 1 : plen;
		if (profile[0] == '\0') { /* cred_load reads "" as no profile */
			free(profile);
			profile = NULL;
		}
	}
	put_file(data, size, exposed ? 0644 : 0600);
	setenv("ALIBABA_CLOUD_CREDENTIALS_FILE", cli ? absent_path : ini_path, 1);
	if (cli)
		unsetenv("ALIBABA_CLOUD_CLI_PROFILE_DISABLED");
	else
		setenv("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "true", 1);

	memset(&diag, 'x', sizeof(diag));
	r = cred_load(profile, &c, &diag);
	FUZZ_CHECK(r == 0 || r == -ENOENT || r == -EINVAL || r == -EOPNOTSUPP || r == -ENOMEM);
	FUZZ_CHECK(fuzz_is_terminated(diag.source, sizeof(diag.source)));
	FUZZ_CHECK(fuzz_is_terminated(diag.warning, sizeof(diag.warning)));
	FUZZ_CHECK(fuzz_is_terminated(diag.message, sizeof(diag.message)));
	if (r == 0)
		check_success(c, &diag, cli, profile, exposed);
	else
		FUZZ_CHECK(diag.message[0] != '\0');
	if (r == -ENOENT)
		FUZZ_CHECK(strncmp(diag.message, "no credentials found; looked at: ", 33) == 0);
	cred_free(c);
	free(profile);
	return 0;
}
