/*
 * What a policy evaluation records for ccpull verify (ccp_policy_evaluate_explain): scope, per-requirement
 * verdicts, per-signature findings, with the same decision as without the explanation; and the signature
 * list of the X-Registry-Supports-Signatures extension (ccp_sigext_parse).
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "policy/policy.h"
#include "registry/sigext.h"
#include "signature/signature.h"
#include "signature/sigstore.h"
#include "test.h"

#define IMAGE "example.com/ns/app:1.0"
static const char MANIFEST[] = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"}";

typedef struct sigs {
	ccp_buf v[4];
	size_t n;
	int calls;
	int stream;   /* handed out one at a time through next_signature */
	size_t next;  /* signatures handed out in the last evaluation */
} sigs;

static int next_sig(void *payload, const ccp_buf **sig, ccp_err *e)
{
	sigs *s = payload;
	(void)e;
	if (s->next >= s->n)
		return 0;
	*sig = &s->v[s->next++];
	return 1;
}

static int get_sigs(void *payload, const ccp_buf **out, size_t *n, ccp_err *e)
{
	sigs *s = payload;
	(void)e;
	s->calls++;
	*out = s->v;
	*n = s->n;
	return 0;
}

static void add_sig(sigs *s, const void *data, size_t len)
{
	s->v[s->n] = (ccp_buf)CCP_BUF_INIT(0);
	ccp_buf_append(&s->v[s->n++], data, len);
}

static void free_sigs(sigs *s)
{
	for (size_t i = 0; i < s->n; i++)
		ccp_buf_free(&s->v[i]);
	s->n = 0;
}

static char *b64(const void *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* Evaluates policy for IMAGE with and without an explanation; both decisions must be the same. */
static int eval(const char *policy, sigs *s, ccp_policy_explain *x, ccp_err *e)
{
	ccp_policy p;
	ccp_ref ref;
	ccp_policy_image img;
	ccp_err plain = CCP_ERR_INIT;
	int r, r_plain;

	memset(x, 0, sizeof(*x));
	ccp_err_clear(e);
	if (ccp_policy_parse(&p, policy, strlen(policy), "test", e) || ccp_ref_parse(&ref, IMAGE, e)) {
		fprintf(stderr, "setup: %s\n", e->msg);
		return -100;
	}
	memset(&img, 0, sizeof(img));
	img.ref = &ref;
	img.manifest = MANIFEST;
	img.manifest_len = strlen(MANIFEST);
	img.get_signatures = get_sigs;
	if (s->stream)
		img.next_signature = next_sig;
	img.payload = s;
	s->next = 0;
	r_plain = ccp_policy_evaluate(&p, &img, &plain);
	s->next = 0;
	r = ccp_policy_evaluate_explain(&p, &img, x, e);
	CHECK(r == r_plain);
	CHECK_STR(e->msg, plain.msg);
	/* the explanation points into the policy: keep the requirement types before it goes */
	ccp_ref_free(&ref);
	x->reqs = NULL;
	ccp_policy_free(&p);
	return r;
}

static void requirements(void)
{
	ccp_policy_explain x;
	ccp_err e = CCP_ERR_INIT;
	sigs s = { .n = 0 };
	int r;

	r = eval("{\"default\": [{\"type\": \"insecureAcceptAnything\"}, {\"type\": \"reject\"}, "
		 "{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"/nonexistent\"}]}", &s, &x, &e);
	CHECK(r == CCP_EPOLICY);
	CHECK(x.have_scope && x.scope == NULL);
	CHECK(x.outcomes[0].verdict == CCP_POLICY_ACCEPTED && x.outcomes[0].reason == NULL);
	CHECK(x.outcomes[1].verdict == CCP_POLICY_REJECTED);
	CHECK(x.outcomes[1].reason && strstr(x.outcomes[1].reason, "rejected by policy"));
	CHECK(x.outcomes[2].verdict == CCP_POLICY_SKIPPED);
	/* the signed requirement was never reached: no signature was fetched */
	CHECK(s.calls == 0 && !x.have_signatures && x.n_findings == 0);
	x.reqs = &(ccp_pr_list){ NULL, 3 };
	ccp_policy_explain_free(&x);

	r = eval("{\"default\": [{\"type\": \"reject\"}], \"transports\": {\"docker\": {"
		 "\"example.com/ns\": [{\"type\": \"insecureAcceptAnything\"}], \"example.com\": [{\"type\": \"reject\"}]}}}",
		 &s, &x, &e);
	CHECK(r == 0);
	CHECK_STR(x.scope, "example.com/ns");
	CHECK(x.outcomes[0].verdict == CCP_POLICY_ACCEPTED);
	x.reqs = &(ccp_pr_list){ NULL, 1 };
	ccp_policy_explain_free(&x);

	/* transports.docker[""] is a scope of its own, not "default" */
	r = eval("{\"default\": [{\"type\": \"reject\"}], \"transports\": {\"docker\": {\"\": "
		 "[{\"type\": \"insecureAcceptAnything\"}]}}}", &s, &x, &e);
	CHECK(r == 0);
	CHECK_STR(x.scope, "");
	x.reqs = &(ccp_pr_list){ NULL, 1 };
	ccp_policy_explain_free(&x);
}

static void signed_by(void)
{
	static const unsigned char openpgp_junk[] = { 0xA3, 0x01, 'x', 'y' };
	ccp_policy_explain x;
	ccp_err e = CCP_ERR_INIT;
	sigs s = { .n = 0 };
	char blob[64];
	int r;

	/* no signature */
	r = eval("{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"/nonexistent\"}]}",
		 &s, &x, &e);
	CHECK(r == CCP_EPOLICY);
	CHECK(x.have_signatures && x.n_signatures == 0 && x.n_findings == 0);
	CHECK(x.outcomes[0].verdict == CCP_POLICY_REJECTED);
	CHECK(x.outcomes[0].reason && strstr(x.outcomes[0].reason, "no signature exists"));
	x.reqs = &(ccp_pr_list){ NULL, 1 };
	ccp_policy_explain_free(&x);

	/* a sigstore signature is skipped, a simple one refused for its unreadable key */
	memcpy(blob, "\0sigstore-json\n{}", 17);
	add_sig(&s, blob, 17);
	add_sig(&s, openpgp_junk, sizeof(openpgp_junk));
	r = eval("{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"/nonexistent\"}]}",
		 &s, &x, &e);
	CHECK(r == CCP_EPOLICY);
	CHECK(x.have_signatures && x.n_signatures == 2 && x.n_findings == 2);
	if (x.n_findings == 2) {
		CHECK(x.findings[0].signature == 0 && x.findings[0].kind == CCP_SIG_SIGSTORE);
		CHECK(x.findings[0].verdict == CCP_POLICY_SKIPPED && x.findings[0].reason);
		CHECK(x.findings[1].signature == 1 && x.findings[1].kind == CCP_SIG_SIMPLE);
		CHECK(x.findings[1].verdict == CCP_POLICY_REJECTED);
		CHECK(x.findings[1].reason && strstr(x.findings[1].reason, "/nonexistent"));
		CHECK(x.findings[1].signer == NULL && x.findings[1].identity == NULL);
	}
	x.reqs = &(ccp_pr_list){ NULL, 1 };
	ccp_policy_explain_free(&x);

	/* an unknown format ends the requirement: recorded, then the same rejection as before */
	add_sig(&s, "junk", 4);
	r = eval("{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"/nonexistent\"}]}",
		 &s, &x, &e);
	CHECK(r == CCP_EPOLICY);
	CHECK(x.n_findings == 3 && x.findings[2].kind == 0 && x.findings[2].verdict == CCP_POLICY_REJECTED);
	x.reqs = &(ccp_pr_list){ NULL, 1 };
	ccp_policy_explain_free(&x);
	free_sigs(&s);
}

/* A cosign signature of MANIFEST for identity by a fresh P-256 key; *pub_b64 gets the key for keyData. */
static int cosign(sigs *s, const char *identity, char **pub_b64)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	BIO *bio = BIO_new(BIO_s_mem());
	ccp_digest d;
	char dstr[CCP_DIGEST_STR_MAX], payload[512], *pl64 = NULL, *sig64 = NULL, *pem;
	unsigned char sig[128];
	size_t sig_len = sizeof(sig);
	ccp_buf blob = CCP_BUF_INIT(0);
	long pem_len;
	int r = -1;

	if (!k || !md || !bio || ccp_digest_compute(&d, CCP_SHA256, MANIFEST, strlen(MANIFEST), NULL))
		goto out;
	snprintf(payload, sizeof(payload), "{\"critical\":{\"identity\":{\"docker-reference\":\"%s\"},\"image\":"
		 "{\"docker-manifest-digest\":\"%s\"},\"type\":\"cosign container image signature\"},\"optional\":null}",
		 identity, ccp_digest_str(&d, dstr));
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1 ||
	    EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)payload, strlen(payload)) != 1)
		goto out;
	if (!(pl64 = b64(payload, strlen(payload))) || !(sig64 = b64(sig, sig_len)))
		goto out;
	if (ccp_buf_append(&blob, "\0sigstore-json\n", 15) ||
	    ccp_buf_printf(&blob, "{\"mimeType\":\"%s\",\"payload\":\"%s\",\"annotations\":{\"%s\":\"%s\"}}",
			   CCP_SIGSTORE_MIME, pl64, CCP_COSIGN_ANN_SIGNATURE, sig64))
		goto out;
	s->v[s->n++] = blob;
	memset(&blob, 0, sizeof(blob));
	if (PEM_write_bio_PUBKEY(bio, k) != 1 || (pem_len = BIO_get_mem_data(bio, &pem)) <= 0)
		goto out;
	if ((*pub_b64 = b64(pem, (size_t)pem_len)))
		r = 0;
out:
	ccp_buf_free(&blob);
	free(pl64);
	free(sig64);
	BIO_free(bio);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	return r;
}

static void sigstore_signed(void)
{
	static const unsigned char openpgp_junk[] = { 0xA3, 0x01, 'x', 'y' };
	ccp_policy_explain x;
	ccp_err e = CCP_ERR_INIT;
	sigs s = { .n = 0 };
	char *pub = NULL, policy[2048];
	ccp_digest d;
	char dstr[CCP_DIGEST_STR_MAX];
	int r;

	add_sig(&s, openpgp_junk, sizeof(openpgp_junk));
	CHECK(cosign(&s, "example.com/ns/other", &pub) == 0);
	if (!pub)
		return;
	free(pub);
	pub = NULL;
	CHECK(cosign(&s, "example.com/ns/app", &pub) == 0);
	if (!pub) {
		free_sigs(&s);
		return;
	}
	ccp_digest_compute(&d, CCP_SHA256, MANIFEST, strlen(MANIFEST), NULL);
	ccp_digest_str(&d, dstr);
	/* the first cosign signature was made by another key, the second by this one */
	snprintf(policy, sizeof(policy), "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyData\": \"%s\", "
		 "\"signedIdentity\": {\"type\": \"matchRepository\"}}]}", pub);
	r = eval(policy, &s, &x, &e);
	CHECK(r == 0);
	CHECK(x.outcomes[0].verdict == CCP_POLICY_ACCEPTED);
	CHECK(x.n_findings == 3);
	if (x.n_findings == 3) {
		CHECK(x.findings[0].kind == CCP_SIG_SIMPLE && x.findings[0].verdict == CCP_POLICY_SKIPPED);
		CHECK(x.findings[1].kind == CCP_SIG_SIGSTORE && x.findings[1].verdict == CCP_POLICY_REJECTED);
		CHECK(x.findings[1].reason && x.findings[1].identity == NULL);
		CHECK(x.findings[2].verdict == CCP_POLICY_ACCEPTED && x.findings[2].reason == NULL);
		CHECK_STR(x.findings[2].identity, "example.com/ns/app");
		CHECK_STR(x.findings[2].digest, dstr);
	}
	x.reqs = &(ccp_pr_list){ NULL, 1 };
	ccp_policy_explain_free(&x);

	/* a signature by the right key for another name: refused for its identity, claims recorded */
	snprintf(policy, sizeof(policy), "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyData\": \"%s\", "
		 "\"signedIdentity\": {\"type\": \"exactRepository\", \"dockerRepository\": \"example.com/x\"}}]}", pub);
	r = eval(policy, &s, &x, &e);
	CHECK(r == CCP_EPOLICY);
	if (x.n_findings == 3) {
		CHECK(x.findings[2].verdict == CCP_POLICY_REJECTED);
		CHECK(x.findings[2].reason && strstr(x.findings[2].reason, "identity"));
		CHECK_STR(x.findings[2].identity, "example.com/ns/app");
	}
	x.reqs = &(ccp_pr_list){ NULL, 1 };
	ccp_policy_explain_free(&x);
	free(pub);
	free_sigs(&s);
}

/*
 * Signatures handed out one at a time: each is checked against every signed requirement as it arrives,
 * none is asked for once they have all decided, and what is recorded is what a requirement-by-requirement
 * evaluation records.
 */
static void streamed(void)
{
	ccp_policy_explain x;
	ccp_err e = CCP_ERR_INIT;
	sigs s = { .n = 0, .stream = 1 };
	char *pub_a = NULL, *pub_b = NULL, policy[4096];
	int r;

	CHECK(cosign(&s, "example.com/ns/app", &pub_a) == 0);
	CHECK(cosign(&s, "example.com/ns/app", &pub_b) == 0);
	add_sig(&s, "junk", 4);
	if (!pub_a || !pub_b)
		goto out;
#define SIGSTORE_REQ(k) "{\"type\": \"sigstoreSigned\", \"keyData\": \"" k "\", \"signedIdentity\": " \
	"{\"type\": \"matchRepository\"}}"
	/* both requirements met by the first two signatures: the third (which would reject) is never asked */
	snprintf(policy, sizeof(policy), "{\"default\": [" SIGSTORE_REQ("%s") ", " SIGSTORE_REQ("%s") "]}", pub_a, pub_b);
	r = eval(policy, &s, &x, &e);
	CHECK(r == 0);
	CHECK(s.next == 2 && s.calls == 0);
	CHECK(x.have_signatures && x.n_signatures == 2);
	CHECK(x.outcomes[0].verdict == CCP_POLICY_ACCEPTED && x.outcomes[1].verdict == CCP_POLICY_ACCEPTED);
	CHECK(x.n_findings == 3);
	if (x.n_findings == 3) {
		/* grouped by requirement: 0 accepted signature 0; 1 refused signature 0, then accepted 1 */
		CHECK(x.findings[0].requirement == 0 && x.findings[0].signature == 0);
		CHECK(x.findings[0].verdict == CCP_POLICY_ACCEPTED);
		CHECK(x.findings[1].requirement == 1 && x.findings[1].signature == 0);
		CHECK(x.findings[1].verdict == CCP_POLICY_REJECTED);
		CHECK(x.findings[2].requirement == 1 && x.findings[2].signature == 1);
		CHECK(x.findings[2].verdict == CCP_POLICY_ACCEPTED);
	}
	x.reqs = &(ccp_pr_list){ NULL, 2 };
	ccp_policy_explain_free(&x);

	/* one requirement met early is not enough: reading goes on for the other (the same signature of unknown
	 * format ends it), and the first requirement in order that rejects decides */
	free_sigs(&s);
	free(pub_a);
	free(pub_b);
	pub_a = pub_b = NULL;
	CHECK(cosign(&s, "example.com/ns/app", &pub_b) == 0);
	add_sig(&s, "junk", 4);
	CHECK(cosign(&s, "example.com/ns/app", &pub_a) == 0); /* never reached */
	if (!pub_a || !pub_b)
		goto out;
	snprintf(policy, sizeof(policy), "{\"default\": [" SIGSTORE_REQ("%s") ", {\"type\": \"insecureAcceptAnything\"}, "
		 SIGSTORE_REQ("%s") "]}", pub_b, pub_a);
	r = eval(policy, &s, &x, &e);
	CHECK(r == CCP_EPOLICY);
	CHECK(s.next == 2);
	CHECK(strstr(e.msg, "requirement 3 of 3") && strstr(e.msg, "unrecognized signature format"));
	CHECK(x.outcomes[0].verdict == CCP_POLICY_ACCEPTED && x.outcomes[1].verdict == CCP_POLICY_ACCEPTED);
	CHECK(x.outcomes[2].verdict == CCP_POLICY_REJECTED);
	CHECK(x.n_findings == 3);
	x.reqs = &(ccp_pr_list){ NULL, 3 };
	ccp_policy_explain_free(&x);

	/* the first requirement rejects: the later one's findings are not kept, its outcome is skipped */
	snprintf(policy, sizeof(policy), "{\"default\": [" SIGSTORE_REQ("%s") ", " SIGSTORE_REQ("%s") "]}", pub_a, pub_b);
	r = eval(policy, &s, &x, &e);
	CHECK(r == CCP_EPOLICY);
	CHECK(strstr(e.msg, "requirement 1 of 2") != NULL);
	CHECK(x.outcomes[0].verdict == CCP_POLICY_REJECTED && x.outcomes[1].verdict == CCP_POLICY_SKIPPED);
	CHECK(x.n_findings == 2);
	for (size_t i = 0; i < x.n_findings; i++)
		CHECK(x.findings[i].requirement == 0);
	x.reqs = &(ccp_pr_list){ NULL, 2 };
	ccp_policy_explain_free(&x);
#undef SIGSTORE_REQ
out:
	free(pub_a);
	free(pub_b);
	free_sigs(&s);
}

static int parse(const char *json, ccp_sig_list *l, ccp_err *e)
{
	memset(l, 0, sizeof(*l));
	ccp_err_clear(e);
	return ccp_sigext_parse(l, json, strlen(json), "test list", e);
}

static void sigext(void)
{
	ccp_sig_list l;
	ccp_err e = CCP_ERR_INIT;
	ccp_buf big = CCP_BUF_INIT(0);
	const unsigned char *data;
	size_t dlen;
	ccp_sig_kind kind;

	CHECK(parse("{\"signatures\": [{\"schemaVersion\": 2, \"name\": \"a\", \"type\": \"atomic\", "
		    "\"content\": \"aGVs\\nbG8=\"}], \"other\": true}", &l, &e) == 0);
	CHECK(l.n == 1);
	if (l.n == 1) {
		/* stored as a simple signature whatever the bytes, as containers/image takes them */
		CHECK(ccp_sig_classify(l.v[0].data, l.v[0].len, &kind, &data, &dlen, NULL) == 0);
		CHECK(kind == CCP_SIG_SIMPLE && dlen == 5 && memcmp(data, "hello", 5) == 0);
	}
	ccp_sig_list_free(&l);
	/* other versions and types, empty and null content: skipped */
	CHECK(parse("{\"signatures\": [{\"schemaVersion\": 1, \"type\": \"atomic\", \"content\": \"aGk=\"}, "
		    "{\"schemaVersion\": 2, \"type\": \"cosign\", \"content\": \"aGk=\"}, {\"type\": \"atomic\"}, "
		    "{\"schemaVersion\": 2, \"type\": \"atomic\", \"content\": \"\"}, "
		    "{\"schemaVersion\": 2, \"type\": \"atomic\", \"content\": null}]}", &l, &e) == 0);
	CHECK(l.n == 0);
	ccp_sig_list_free(&l);
	CHECK(parse("{}", &l, &e) == 0 && l.n == 0);
	CHECK(parse("{\"signatures\": null}", &l, &e) == 0 && l.n == 0);
	/* a blob that starts like a sigstore one is still a simple signature */
	CHECK(parse("{\"signatures\": [{\"schemaVersion\": 2, \"type\": \"atomic\", \"content\": \"AHNpZ3N0b3JlLWpzb24Ke30=\"}]}",
		    &l, &e) == 0 && l.n == 1);
	if (l.n == 1)
		CHECK(ccp_sig_classify(l.v[0].data, l.v[0].len, &kind, &data, &dlen, NULL) == 0 && kind == CCP_SIG_SIMPLE);
	ccp_sig_list_free(&l);

	CHECK(parse("not json", &l, &e) == CCP_EREGISTRY && strstr(e.msg, "test list"));
	CHECK(parse("[]", &l, &e) == CCP_EREGISTRY);
	CHECK(parse("{\"signatures\": {}}", &l, &e) == CCP_EREGISTRY);
	CHECK(parse("{\"signatures\": [1]}", &l, &e) == CCP_EREGISTRY);
	CHECK(parse("{\"signatures\": [{\"schemaVersion\": \"2\", \"type\": \"atomic\", \"content\": \"aGk=\"}]}",
		    &l, &e) == CCP_EREGISTRY);
	CHECK(parse("{\"signatures\": [{\"schemaVersion\": 2, \"type\": \"atomic\", \"content\": 5}]}", &l, &e) ==
	      CCP_EREGISTRY);
	CHECK(parse("{\"signatures\": [{\"schemaVersion\": 2, \"type\": \"atomic\", \"content\": \"aGk\"}]}", &l, &e) ==
	      CCP_EREGISTRY && strstr(e.msg, "base64"));
	CHECK(parse("{\"signatures\": [{\"schemaVersion\": 2, \"type\": \"atomic\", \"content\": \"a=Gk\"}]}", &l, &e) ==
	      CCP_EREGISTRY);
	CHECK(parse("{\"signatures\": [{\"schemaVersion\": 2, \"type\": \"atomic\", \"content\": \"a-_k\"}]}", &l, &e) ==
	      CCP_EREGISTRY);
	CHECK(l.n == 0 && l.v == NULL);

	/* at most 128 signatures */
	ccp_buf_puts(&big, "{\"signatures\": [");
	for (int i = 0; i < 129; i++)
		ccp_buf_printf(&big, "%s{\"schemaVersion\": 2, \"type\": \"atomic\", \"content\": \"aGk=\"}", i ? "," : "");
	ccp_buf_puts(&big, "]}");
	CHECK(parse(big.data, &l, &e) == CCP_EREGISTRY && strstr(e.msg, "128"));
	ccp_sig_list_free(&l);
	ccp_buf_free(&big);
	/* one content larger than a signature may be */
	ccp_buf_puts(&big, "{\"signatures\": [{\"schemaVersion\": 2, \"type\": \"atomic\", \"content\": \"");
	for (size_t i = 0; i < CCP_LOOKASIDE_SIG_MAX / 3 + 1; i++)
		ccp_buf_puts(&big, "QUFB");
	ccp_buf_puts(&big, "\"}]}");
	CHECK(parse(big.data, &l, &e) == CCP_EREGISTRY);
	ccp_sig_list_free(&l);
	ccp_buf_free(&big);
}

int main(void)
{
	requirements();
	signed_by();
	sigstore_signed();
	streamed();
	sigext();
	return test_summary();
}
