/*
 * A build without OpenPGP (-DCCPULL_WITH_GPGME=OFF, the sigstore-only guest): src/signature/gpg_none.c
 * and keyproviders/pgp/pgp_none.c are compiled in here in place of gpg.c and pgp.c (their definitions
 * win over the library's), so every build tests them. A signedBy requirement with a simple signature
 * is rejected with an error that says why, never accepted; a pgp decryption key is refused; sigstore
 * signatures and the other schemes are unaffected.
 */
#include <stdlib.h>
#include <string.h>

#include "../../src/signature/gpg_none.c"
#include "../../keyproviders/pgp/pgp_none.c"

#include "ocicrypt/ocicrypt.h"
#include "policy/policy.h"
#include "test.h"

#define IMAGE "example.com/ns/app:1.0"
static const char MANIFEST[] = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"}";

static ccp_buf sig;

static int get_sigs(void *payload, const ccp_buf **out, size_t *n, ccp_err *e)
{
	*out = &sig;
	*n = 1;
	return 0;
}

static int eval(const char *policy, ccp_err *e)
{
	ccp_policy p;
	ccp_ref ref;
	ccp_policy_image img;
	int r;

	if (ccp_policy_parse(&p, policy, strlen(policy), "test", e) || ccp_ref_parse(&ref, IMAGE, e)) {
		fprintf(stderr, "setup: %s\n", e->msg);
		return -100;
	}
	memset(&img, 0, sizeof(img));
	img.ref = &ref;
	img.manifest = MANIFEST;
	img.manifest_len = strlen(MANIFEST);
	img.get_signatures = get_sigs;
	r = ccp_policy_evaluate(&p, &img, e);
	ccp_ref_free(&ref);
	ccp_policy_free(&p);
	return r;
}

static void signed_by(void)
{
	/* an OpenPGP message (compressed data packet): a simple signature as far as classification goes */
	static const unsigned char simple[] = { 0xA3, 0x01, 'x', 'y' };
	ccp_err e = CCP_ERR_INIT;
	ccp_gpg_keyring *kr;
	ccp_buf payload = CCP_BUF_INIT(0);
	char signer[8] = "x";
	int r;

	CHECK(ccp_buf_append(&sig, simple, sizeof(simple)) == 0);
	r = eval("{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyData\": \"AAAA\"}]}", &e);
	CHECK(r == CCP_EPOLICY);
	CHECK(strstr(e.msg, "built without OpenPGP") != NULL);
	CHECK(strstr(e.msg, "signedBy") != NULL);

	/* with insecureAcceptAnything in another scope, the default scope still decides */
	ccp_err_clear(&e);
	r = eval("{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyData\": \"AAAA\"}], "
		 "\"transports\": {\"docker\": {\"other.example\": [{\"type\": \"insecureAcceptAnything\"}]}}}", &e);
	CHECK(r == CCP_EPOLICY);
	ccp_buf_free(&sig);

	/* the functions themselves leave their outputs defined */
	kr = (ccp_gpg_keyring *)&e;
	ccp_err_clear(&e);
	CHECK(ccp_gpg_keyring_new(&kr, NULL, 0, &e) == CCP_EPOLICY && kr == NULL);
	ccp_gpg_keyring_free(NULL);
	CHECK(ccp_gpg_verify(NULL, "", 0, &payload, signer, sizeof(signer), &e) == CCP_EPOLICY);
	CHECK(signer[0] == '\0' && payload.len == 0);
	ccp_buf_free(&payload);
}

static void pgp_key(void)
{
	const char *pgp[] = { "pgp:/etc/ccpull/key.gpg" };
	ccp_keyring *kr = NULL;
	ccp_err e = CCP_ERR_INIT;

	CHECK(ccp_keyring_new(&kr, pgp, 1, NULL, &e) == CCP_EINVALID);
	CHECK(kr == NULL);
	CHECK(strstr(e.msg, "built without OpenPGP") != NULL);
	CHECK(strstr(e.msg, "/etc/ccpull/key.gpg") != NULL);
	ccp_keyring_free(kr);
}

int main(void)
{
	signed_by();
	pgp_key();
	return test_summary();
}
