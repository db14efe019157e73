/* Simple-signing verification through gpgme: a signature made here by gpg verifies, and one whose
 * compressed payload expands past CCP_SIG_PAYLOAD_MAX is refused while it is being expanded. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "signature/signature.h"
#include "util/fs.h"
#include "test.h"

static char home[] = "/tmp/ccpull-gpg-XXXXXX";

/* Runs gpg (or gpgconf, when args start with it) with the private home; stdout to out_path when
 * given. 0 on exit status 0. */
static int gpg(const char *out_path, const char *const *args)
{
	const char *argv[16] = { "gpg", "--batch", "--quiet", "--homedir", home };
	size_t n = 5;

	if (strcmp(args[0], "gpgconf") == 0) {
		argv[0] = *args++;
		n = 1;
		argv[n++] = "--homedir";
		argv[n++] = home;
	}
	pid_t pid;
	int st;

	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		int fd = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(127);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int write_zeros(const char *path, size_t n)
{
	char block[65536] = { 0 };
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	for (size_t done = 0; done < n; done += sizeof(block))
		if (fwrite(block, 1, n - done < sizeof(block) ? n - done : sizeof(block), f) == 0)
			break;
	return fclose(f);
}

/* Verifies the signature file sig with the exported public key pub; returns the error code. */
static int verify(const char *pub, const char *sig, ccp_buf *payload, ccp_err *e)
{
	ccp_buf key = CCP_BUF_INIT(1 << 20), s = CCP_BUF_INIT(1 << 20);
	ccp_gpg_keyring *kr = NULL;
	char signer[130];
	int r;

	if ((r = ccp_read_file(&key, pub, 1 << 20, e)) == 0 && (r = ccp_read_file(&s, sig, 1 << 20, e)) == 0 &&
	    (r = ccp_gpg_keyring_new(&kr, &key, 1, e)) == 0)
		r = ccp_gpg_verify(kr, s.data, s.len, payload, signer, sizeof(signer), e);
	ccp_gpg_keyring_free(kr);
	ccp_buf_free(&key);
	ccp_buf_free(&s);
	return r;
}

int main(void)
{
	char pub[256], small[256], big[256], small_sig[256], big_sig[256];
	ccp_buf payload = CCP_BUF_INIT(16u << 20);
	ccp_err e = CCP_ERR_INIT;
	FILE *f;

	if (!mkdtemp(home))
		return 1;
	snprintf(pub, sizeof(pub), "%s/pub.gpg", home);
	snprintf(small, sizeof(small), "%s/small", home);
	snprintf(big, sizeof(big), "%s/big", home);
	snprintf(small_sig, sizeof(small_sig), "%s/small.sig", home);
	snprintf(big_sig, sizeof(big_sig), "%s/big.sig", home);

	if (gpg(NULL, (const char *const[]){ "--passphrase", "", "--quick-gen-key", "t@ccpull.invalid", "ed25519",
					     "sign", "never", NULL }) != 0 ||
	    gpg(pub, (const char *const[]){ "--export", "t@ccpull.invalid", NULL }) != 0) {
		fprintf(stderr, "gpg cannot make a key here\n");
		return 1;
	}
	if (!(f = fopen(small, "w")) || fputs("{\"critical\": {}}", f) < 0 || fclose(f) != 0 ||
	    write_zeros(big, CCP_SIG_PAYLOAD_MAX + (1u << 20)) != 0)
		return 1;
	CHECK(gpg(NULL, (const char *const[]){ "--compress-algo", "zlib", "-o", small_sig, "--sign", small, NULL }) == 0);
	CHECK(gpg(NULL, (const char *const[]){ "--compress-algo", "zlib", "-o", big_sig, "--sign", big, NULL }) == 0);

	/* The small one verifies and yields its payload. */
	CHECK(verify(pub, small_sig, &payload, &e) == 0);
	CHECK(payload.len == strlen("{\"critical\": {}}"));

	/* The big one is a few KiB on the wire and refused by its expanded size. */
	ccp_buf_clear(&payload);
	{
		struct stat st;
		CHECK(stat(big_sig, &st) == 0 && st.st_size < 64 * 1024);
	}
	CHECK(verify(pub, big_sig, &payload, &e) == CCP_EPOLICY);
	CHECK(strstr(e.msg, "signed payload is more than") != NULL);
	CHECK(payload.len == 0);

	ccp_buf_free(&payload);
	/* gpg started an agent for this home: stop it with the home. */
	gpg(NULL, (const char *const[]){ "gpgconf", "--kill", "gpg-agent", NULL });
	ccp_rm_rf_at(AT_FDCWD, home);
	return test_summary();
}
