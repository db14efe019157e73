/*
 * containers/image simple-signing fixtures (signature/fixtures): each signature verifies or is refused
 * as containers/image's tests expect, and the dir-img-* images pass or fail a signedBy policy.
 * argv[1] is the conformance directory; exit 77 when the fixtures are absent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/policy.h"
#include "signature/signature.h"
#include "util/buf.h"
#include "../unit/test.h"

static char fx[4096];

static int load(ccp_buf *b, const char *name)
{
	char p[8192];
	ccp_err e = CCP_ERR_INIT;
	snprintf(p, sizeof(p), "%s/%s", fx, name);
	b->max = 0;
	return ccp_read_file(b, p, 16u << 20, &e);
}

/* Verifies fixture sig with keyring key: 0 accepted by GPG and payload parse; -1 refused. */
static int verify(const char *key, const char *sig, ccp_sig_payload *p, char *signer)
{
	ccp_buf k = CCP_BUF_INIT(0), s = CCP_BUF_INIT(0), payload = CCP_BUF_INIT(CCP_SIG_PAYLOAD_MAX);
	ccp_gpg_keyring *kr = NULL;
	ccp_err e = CCP_ERR_INIT;
	int r = -1;

	memset(p, 0, sizeof(*p));
	if (load(&k, key) || load(&s, sig)) {
		fprintf(stderr, "cannot read %s or %s\n", key, sig);
		goto out;
	}
	if (ccp_gpg_keyring_new(&kr, &k, 1, &e) || ccp_gpg_verify(kr, s.data, s.len, &payload, signer, 130, &e) ||
	    ccp_sig_payload_parse(p, payload.data, payload.len, &e)) {
		fprintf(stderr, "  %s: refused: %s\n", sig, e.msg);
		goto out;
	}
	r = 0;
out:
	ccp_gpg_keyring_free(kr);
	ccp_buf_free(&k);
	ccp_buf_free(&s);
	ccp_buf_free(&payload);
	return r;
}

typedef struct dir_sigs {
	ccp_buf v[8];
	size_t n;
} dir_sigs;

static int dir_get(void *payload, const ccp_buf **sigs, size_t *n, ccp_err *e)
{
	dir_sigs *d = payload;
	(void)e;
	*sigs = d->v;
	*n = d->n;
	return 0;
}

/* Evaluates a one-requirement signedBy policy for dir-img fixture dir pulled as image. */
static int eval_dir(const char *dir, const char *key, const char *identity, const char *image)
{
	char policy[8192], name[512];
	ccp_policy pol;
	ccp_policy_image img;
	ccp_ref ref;
	ccp_buf man = CCP_BUF_INIT(0);
	dir_sigs ds = { .n = 0 };
	ccp_err e = CCP_ERR_INIT;
	int r;

	snprintf(policy, sizeof(policy),
		 "{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyPath\":\"%s/%s\","
		 "\"signedIdentity\":{\"type\":\"%s\"}}]}", fx, key, identity);
	if (ccp_policy_parse(&pol, policy, strlen(policy), "test", &e) || ccp_ref_parse(&ref, image, &e)) {
		fprintf(stderr, "setup: %s\n", e.msg);
		return -2;
	}
	snprintf(name, sizeof(name), "%s/manifest.json", dir);
	if (load(&man, name)) {
		/* No manifest: nothing to verify a signature against. */
		r = -1;
		goto out;
	}
	for (ds.n = 0; ds.n < 8; ds.n++) {
		snprintf(name, sizeof(name), "%s/signature-%zu", dir, ds.n + 1);
		ds.v[ds.n] = (ccp_buf)CCP_BUF_INIT(0);
		if (load(&ds.v[ds.n], name))
			break;
	}
	memset(&img, 0, sizeof(img));
	img.ref = &ref;
	img.manifest = man.data;
	img.manifest_len = man.len;
	img.get_signatures = dir_get;
	img.payload = &ds;
	r = ccp_policy_evaluate(&pol, &img, &e) ? -1 : 0;
	if (r)
		fprintf(stderr, "  %s as %s: %s\n", dir, image, e.msg);
	for (size_t i = 0; i <= ds.n && i < 8; i++)
		ccp_buf_free(&ds.v[i]);
out:
	ccp_buf_free(&man);
	ccp_ref_free(&ref);
	ccp_policy_free(&pol);
	return r;
}

int main(int argc, char **argv)
{
	static const char *const refused[] = { "expired.signature", "corrupt.signature", "corrupt.signature-v3",
					       "unknown-key.signature", "unknown-key.signature-v3",
					       "unsigned-literal.signature", "unsigned-encrypted.signature",
					       "invalid-blob.signature", "invalid-blob.signature-v3" };
	ccp_sig_payload p;
	ccp_buf b = CCP_BUF_INIT(0);
	ccp_policy pol;
	ccp_digest d;
	ccp_err e = CCP_ERR_INIT;
	char signer[130], hex[CCP_DIGEST_STR_MAX];
	const ccp_prm exact = { CCP_PRM_MATCH_EXACT, NULL, NULL };
	const ccp_prm rdoe = { CCP_PRM_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL };

	snprintf(fx, sizeof(fx), "%s/containers-image/signature/fixtures", argc > 1 ? argv[1] : "../shared/conformance");
	if (access(fx, R_OK) != 0) {
		fprintf(stderr, "fixtures not found at %s: skipping\n", fx);
		return 77;
	}

	/* Valid signatures. */
	CHECK(verify("public-key.gpg", "image.signature", &p, signer) == 0);
	CHECK_STR(p.docker_reference, "testing/manifest");
	CHECK_STR(p.manifest_digest, "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55");
	CHECK_STR(signer, "08CD26E446E2E95249B7A405E932F44B23E8DD43");
	ccp_sig_payload_free(&p);
	CHECK(load(&b, "image.manifest.json") == 0);
	CHECK(ccp_sig_manifest_digest(&d, b.data, b.len, &e) == 0);
	CHECK_STR(ccp_digest_str(&d, hex), "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55");
	ccp_buf_free(&b);
	CHECK(verify("public-key.gpg", "no-optional-fields.signature", &p, signer) == 0);
	ccp_sig_payload_free(&p);
	CHECK(verify("public-key-1.gpg", "image.signature", &p, signer) == 0);
	ccp_sig_payload_free(&p);
	/* Another key does not accept it. */
	CHECK(verify("public-key-2.gpg", "image.signature", &p, signer) != 0);

	/* By a subkey: accepted, the identity is the primary key. */
	CHECK(verify("public-key-with-subkey.gpg", "subkey.signature", &p, signer) == 0);
	CHECK(strncmp(signer, "B9F4CDB9", 8) == 0 && strlen(signer) == 40 && strcmp(signer + 36, "6F36") == 0);
	ccp_sig_payload_free(&p);
	CHECK(verify("public-key-with-subkey.gpg", "subkey.signature-v3", &p, signer) == 0);
	ccp_sig_payload_free(&p);
	CHECK(verify("public-key-with-revoked-subkey.gpg", "subkey-revoked.signature", &p, signer) != 0);
	CHECK(verify("public-key-with-revoked-subkey.gpg", "subkey-revoked.signature-v3", &p, signer) != 0);

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		int r = verify("public-key.gpg", refused[i], &p, signer);
		if (r == 0)
			fprintf(stderr, "%s was accepted\n", refused[i]);
		CHECK(r != 0);
		ccp_sig_payload_free(&p);
	}

	/* Valid signature, invalid identity: matches nothing. */
	CHECK(verify("public-key.gpg", "invalid-reference.signature", &p, signer) == 0);
	CHECK(!ccp_prm_matches(&exact, "docker.io/library/uppercaseisinvalid:latest", p.docker_reference));
	CHECK(!ccp_prm_matches(&rdoe, "docker.io/library/uppercaseisinvalid:latest", p.docker_reference));
	ccp_sig_payload_free(&p);

	/* Signed schema1 manifest with a malformed "signatures". */
	CHECK(load(&b, "v2s1-invalid-signatures.manifest.json") == 0);
	CHECK(ccp_sig_manifest_digest(&d, b.data, b.len, &e) != 0);
	ccp_buf_free(&b);

	/* dir-img-* with a signedBy policy (policy_eval_signedby_test.go). */
	CHECK(eval_dir("dir-img-valid", "public-key.gpg", "matchExact", "testing/manifest:latest") == 0);
	CHECK(eval_dir("dir-img-valid", "public-key.gpg", "matchExact", "testing/manifest:notlatest") == -1);
	CHECK(eval_dir("dir-img-valid", "public-key.gpg", "matchRepository", "testing/manifest:notlatest") == 0);
	CHECK(eval_dir("dir-img-valid", "public-key-2.gpg", "matchExact", "testing/manifest:latest") == -1);
	CHECK(eval_dir("dir-img-valid-2", "public-key.gpg", "matchExact", "testing/manifest:latest") == 0);
	CHECK(eval_dir("dir-img-mixed", "public-key.gpg", "matchExact", "testing/manifest:latest") == 0);
	CHECK(eval_dir("dir-img-valid-subkey", "public-key-with-subkey.gpg", "matchExact", "testing/manifest:latest") == 0);
	CHECK(eval_dir("dir-img-unsigned", "public-key.gpg", "matchExact", "testing/manifest:latest") == -1);
	CHECK(eval_dir("dir-img-no-manifest", "public-key.gpg", "matchExact", "testing/manifest:latest") == -1);
	CHECK(eval_dir("dir-img-manifest-digest-error", "public-key.gpg", "matchExact", "testing/manifest:latest") == -1);
	CHECK(eval_dir("dir-img-modified-manifest", "public-key.gpg", "matchExact", "testing/manifest:latest") == -1);
	/* Sigstore signatures are not simple signatures: signedBy finds none. */
	CHECK(eval_dir("dir-img-cosign-valid", "public-key.gpg", "matchRepository",
		       "192.168.64.2:5000/cosign-signed-single-sample:latest") == -1);

	/* The policy fixture parses. */
	CHECK(load(&b, "policy.json") == 0);
	CHECK(ccp_policy_parse(&pol, b.data, b.len, "policy.json", &e) == 0);
	if (e.code)
		fprintf(stderr, "policy.json: %s\n", e.msg);
	ccp_policy_free(&pol);
	ccp_buf_free(&b);
	return test_summary();
}
