/*
 * Sigstore bundles: DSSE PAE, RFC 9162 inclusion proofs, the in-toto statement and bundle parsers, and
 * verification of bundles made by @sigstore/sign (testdata/sigstore-bundle, written by
 * tests/integration/sigstore/sign.js: a key bundle and a keyless one, both with a Rekor entry from
 * @sigstore/mock's log) with the trust of a sigstoreSigned requirement.
 */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "signature/sigstore_bundle.h"
#include "test.h"

static char dir[4096];

static int load(ccp_buf *out, const char *name)
{
	char path[4200];
	ccp_err e = CCP_ERR_INIT;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return ccp_read_file(out, path, 1 << 20, &e);
}

static void pae(void)
{
	ccp_buf b = CCP_BUF_INIT(0);

	/* The DSSE protocol's example (secure-systems-lab/dsse protocol.md). */
	CHECK(ccp_dsse_pae(&b, "http://example.com/HelloWorld", "hello world", 11) == 0);
	CHECK_STR(b.data, "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
	ccp_buf_free(&b);
	CHECK(ccp_dsse_pae(&b, "", NULL, 0) == 0);
	CHECK_STR(b.data, "DSSEv1 0  0 ");
	ccp_buf_free(&b);
}

static void h_leaf(unsigned char out[32], int i)
{
	unsigned char in[2] = { 0, (unsigned char)i };
	EVP_Digest(in, 2, out, NULL, EVP_sha256(), NULL);
}

static void h_node(unsigned char out[32], const unsigned char *l, const unsigned char *r)
{
	unsigned char in[65];
	in[0] = 1;
	memcpy(in + 1, l, 32);
	memcpy(in + 33, r, 32);
	EVP_Digest(in, 65, out, NULL, EVP_sha256(), NULL);
}

/* A tree of 5 leaves (RFC 9162 2.1.1): root = H(H(H(a,b),H(c,d)), e). */
static void merkle(void)
{
	unsigned char l[5][32], ab[32], cd[32], abcd[32], root[32], path[3 * 32];

	for (int i = 0; i < 5; i++)
		h_leaf(l[i], i);
	h_node(ab, l[0], l[1]);
	h_node(cd, l[2], l[3]);
	h_node(abcd, ab, cd);
	h_node(root, abcd, l[4]);
	/* leaf c (index 2): d, ab, e */
	memcpy(path, l[3], 32);
	memcpy(path + 32, ab, 32);
	memcpy(path + 64, l[4], 32);
	CHECK(ccp_merkle_verify(l[2], 2, 5, path, 3, root) == 1);
	CHECK(ccp_merkle_verify(l[2], 3, 5, path, 3, root) == 0);
	CHECK(ccp_merkle_verify(l[2], 2, 9, path, 3, root) == 0);
	CHECK(ccp_merkle_verify(l[2], 2, 5, path, 2, root) == 0);
	CHECK(ccp_merkle_verify(l[3], 2, 5, path, 3, root) == 0);
	/* leaf e (index 4, the last, alone on its level): abcd */
	CHECK(ccp_merkle_verify(l[4], 4, 5, abcd, 1, root) == 1);
	CHECK(ccp_merkle_verify(l[4], 5, 5, abcd, 1, root) == 0);
	/* one leaf: the root is the leaf hash, no path (what @sigstore/mock's log writes) */
	CHECK(ccp_merkle_verify(l[0], 0, 1, NULL, 0, l[0]) == 1);
	CHECK(ccp_merkle_verify(l[0], 0, 0, NULL, 0, l[0]) == 0);
	CHECK(ccp_merkle_verify(l[0], 0, 2, NULL, 0, l[0]) == 0);
}

static int intoto(const char *json)
{
	ccp_intoto s;
	ccp_err e = CCP_ERR_INIT;
	int r = ccp_intoto_parse(&s, json, strlen(json), &e);

	ccp_intoto_free(&s);
	return r;
}

#define DIG "\"4ecd7fce6ec9d29046c6d99a5e38c1e7770a67a4e774de9fe02520a6c8e51912\""

static void statement(void)
{
	ccp_intoto s;
	ccp_err e = CCP_ERR_INIT;
	const char *ok = "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"digest\":{\"sha256\":" DIG
			 "}},{\"name\":\"ghcr.io/a/b\",\"digest\":{\"sha512\":\"00\",\"sha256\":" DIG "}}],"
			 "\"predicateType\":\"https://sigstore.dev/cosign/sign/v1\",\"predicate\":{}}";

	CHECK(ccp_intoto_parse(&s, ok, strlen(ok), &e) == 0);
	CHECK(s.n_subjects == 2 && s.subjects[0].has_sha256 && !s.subjects[0].name);
	CHECK(s.subjects[0].sha256[0] == 0x4e && s.subjects[0].sha256[31] == 0x12);
	CHECK_STR(s.subjects[1].name, "ghcr.io/a/b");
	CHECK_STR(s.predicate_type, "https://sigstore.dev/cosign/sign/v1");
	ccp_intoto_free(&s);
	CHECK(intoto("{\"_type\":\"https://in-toto.io/Statement/v0.1\",\"subject\":[{\"digest\":{\"sha256\":" DIG
		     "}}],\"predicateType\":\"x\"}") == CCP_EPOLICY);
	CHECK(intoto("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[],\"predicateType\":\"x\"}") ==
	      CCP_EPOLICY);
	CHECK(intoto("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"digest\":{}}],"
		     "\"predicateType\":\"x\"}") == CCP_EPOLICY);
	CHECK(intoto("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"digest\":{\"sha256\":\"4E\"}}],"
		     "\"predicateType\":\"x\"}") == CCP_EPOLICY);
	CHECK(intoto("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"digest\":{\"sha256\":"
		     "\"4ECD7FCE6EC9D29046C6D99A5E38C1E7770A67A4E774DE9FE02520A6C8E51912\"}}],\"predicateType\":\"x\"}") ==
	      CCP_EPOLICY);
	CHECK(intoto("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":1,\"digest\":{\"sha256\":"
		     DIG "}}],\"predicateType\":\"x\"}") == CCP_EPOLICY);
	CHECK(intoto("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"digest\":{\"sha256\":" DIG
		     "}}],\"predicateType\":\"x\",\"predicate\":[]}") == CCP_EPOLICY);
	CHECK(intoto("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"digest\":{\"sha256\":" DIG
		     "}}]}") == CCP_EPOLICY);
	/* duplicate keys are refused by the JSON layer (one meaning per document) */
	CHECK(intoto("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"digest\":{\"sha256\":" DIG
		     "}}],\"predicateType\":\"x\",\"predicateType\":\"y\"}") == CCP_EPOLICY);
}

/* The fixture bundle NAME with one JSON change applied by edit (NULL: none), as text. */
static char *edited(const char *name, void (*edit)(json_t *))
{
	ccp_buf b = CCP_BUF_INIT(0);
	json_t *j;
	char *s;

	if (load(&b, name))
		return NULL;
	j = json_loadb(b.data, b.len, 0, NULL);
	ccp_buf_free(&b);
	if (!j)
		return NULL;
	if (edit)
		edit(j);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

static json_t *tlog0(json_t *j)
{
	return json_array_get(json_object_get(json_object_get(j, "verificationMaterial"), "tlogEntries"), 0);
}

static void e_v02(json_t *j) { json_object_set_new(j, "mediaType", json_string("application/vnd.dev.sigstore.bundle+json;version=0.2")); }
static void e_alt(json_t *j) { json_object_set_new(j, "mediaType", json_string(CCP_BUNDLE_MEDIA_V03_ALT)); }
static void e_both(json_t *j)
{
	json_object_set_new(json_object_get(j, "verificationMaterial"), "certificate", json_pack("{s:s}", "rawBytes", "AAAA"));
}
static void e_twosigs(json_t *j)
{
	json_t *sigs = json_object_get(json_object_get(j, "dsseEnvelope"), "signatures");
	json_array_append(sigs, json_array_get(sigs, 0));
}
static void e_msgsig(json_t *j) { json_object_set_new(j, "messageSignature", json_object()); }
static void e_badb64(json_t *j) { json_object_set_new(json_object_get(j, "dsseEnvelope"), "payload", json_string("!!")); }
static void e_index(json_t *j) { json_object_set_new(tlog0(j), "logIndex", json_string("-1")); }
static void e_set(json_t *j)
{
	json_t *p = json_object_get(tlog0(j), "inclusionPromise");
	const char *s = json_string_value(json_object_get(p, "signedEntryTimestamp"));
	char *c = strdup(s);
	c[10] = c[10] == 'A' ? 'B' : 'A';
	json_object_set_new(p, "signedEntryTimestamp", json_string(c));
	free(c);
}
static void e_time(json_t *j) { json_object_set_new(tlog0(j), "integratedTime", json_string("1796305000")); }
static void e_nopromise(json_t *j) { json_object_del(tlog0(j), "inclusionPromise"); }
static void e_kind(json_t *j)
{
	json_object_set_new(json_object_get(tlog0(j), "kindVersion"), "kind", json_string("hashedrekord"));
}
static void e_logid(json_t *j)
{
	json_object_set_new(json_object_get(tlog0(j), "logId"), "keyId",
			    json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
}
static void e_checkpoint(json_t *j)
{
	json_t *cp = json_object_get(json_object_get(tlog0(j), "inclusionProof"), "checkpoint");
	char *s = strdup(json_string_value(json_object_get(cp, "envelope")));
	char *sig = strstr(s, "\n\n\xe2\x80\x94 ");
	size_t n = strlen(s);
	if (sig && n > 10) /* a byte of the signature line's base64 */
		s[n - 6] = s[n - 6] == 'A' ? 'B' : 'A';
	json_object_set_new(cp, "envelope", json_string(s));
	free(s);
}
static void e_treesize(json_t *j)
{
	json_object_set_new(json_object_get(tlog0(j), "inclusionProof"), "treeSize", json_string("2"));
}

static int bundle_verify(const char *name, void (*edit)(json_t *), const ccp_sigstore_trust *t, ccp_intoto *st,
			 ccp_err *e)
{
	char *text = edited(name, edit);
	ccp_bundle b;
	int r;

	if (!text)
		return -1;
	memset(st, 0, sizeof(*st));
	r = ccp_bundle_parse(&b, text, strlen(text), e);
	free(text);
	if (r)
		return r;
	r = ccp_bundle_verify(t, &b, 0, st, e);
	ccp_bundle_free(&b);
	return r;
}

static int parse_only(void (*edit)(json_t *))
{
	char *text = edited("key.bundle.json", edit);
	ccp_err e = CCP_ERR_INIT;
	ccp_bundle b;
	int r;

	if (!text)
		return -1;
	r = ccp_bundle_parse(&b, text, strlen(text), &e);
	free(text);
	ccp_bundle_free(&b);
	return r;
}

static ccp_sigstore_trust *trust(const char *key, const char *rekor, const char *ca, const char *email)
{
	ccp_sigstore_src k = { NULL, CCP_BUF_INIT(0) }, rk = { NULL, CCP_BUF_INIT(0) };
	ccp_sigstore_policy p;
	ccp_sigstore_trust *t = NULL;
	ccp_err e = CCP_ERR_INIT;
	char kp[4200], rp[4200], cp[4200];

	memset(&p, 0, sizeof(p));
	if (key) {
		snprintf(kp, sizeof(kp), "%s/%s", dir, key);
		k.path = kp;
		p.keys = &k;
		p.n_keys = 1;
	}
	if (rekor) {
		snprintf(rp, sizeof(rp), "%s/%s", dir, rekor);
		rk.path = rp;
		p.rekor_keys = &rk;
		p.n_rekor_keys = 1;
	}
	if (ca) {
		snprintf(cp, sizeof(cp), "%s/%s", dir, ca);
		p.has_fulcio = 1;
		p.fulcio_ca.path = cp;
		p.fulcio_issuer = (char *)"https://issuer.example.com";
		p.fulcio_email = (char *)email;
	}
	if (ccp_sigstore_trust_load(&t, &p, &e))
		fprintf(stderr, "trust: %s\n", e.msg);
	return t;
}

static void bundles(void)
{
	ccp_sigstore_trust *key = trust("key-cosign.pub", NULL, NULL, NULL);
	ccp_sigstore_trust *key_rekor = trust("key-cosign.pub", "rekor-main.pub", NULL, NULL);
	ccp_sigstore_trust *wrong_rekor = trust("key-cosign.pub", "key-cosign.pub", NULL, NULL);
	ccp_sigstore_trust *fulcio = trust(NULL, "rekor-main.pub", "ca-good.pem", "signer@example.com");
	ccp_sigstore_trust *fulcio_email = trust(NULL, "rekor-main.pub", "ca-good.pem", "other@example.com");
	ccp_err e = CCP_ERR_INIT;
	ccp_intoto st;

	CHECK(key && key_rekor && wrong_rekor && fulcio && fulcio_email);
	if (!key || !key_rekor || !wrong_rekor || !fulcio || !fulcio_email)
		goto out;
	/* parser */
	CHECK(parse_only(NULL) == 0);
	CHECK(parse_only(e_alt) == 0);
	CHECK(parse_only(e_v02) == CCP_EPOLICY);
	CHECK(parse_only(e_both) == CCP_EPOLICY);
	CHECK(parse_only(e_twosigs) == CCP_EPOLICY);
	CHECK(parse_only(e_msgsig) == CCP_EPOLICY);
	CHECK(parse_only(e_badb64) == CCP_EPOLICY);
	CHECK(parse_only(e_index) == CCP_EPOLICY);
	/* key bundles */
	CHECK(bundle_verify("key.bundle.json", NULL, key, &st, &e) == 0);
	CHECK(st.n_subjects == 1 && !st.subjects[0].name && st.subjects[0].sha256[0] == 0x4e);
	ccp_intoto_free(&st);
	CHECK(bundle_verify("key.bundle.json", NULL, key_rekor, &st, &e) == 0);
	ccp_intoto_free(&st);
	/* without a Rekor key the log entry is not looked at; with one, every part of it counts */
	CHECK(bundle_verify("key.bundle.json", e_set, key, &st, &e) == 0);
	ccp_intoto_free(&st);
	CHECK(bundle_verify("key.bundle.json", e_set, key_rekor, &st, &e) == CCP_EPOLICY);
	CHECK(strstr(e.msg, "signed entry timestamp") != NULL);
	CHECK(bundle_verify("key.bundle.json", e_time, key_rekor, &st, &e) == CCP_EPOLICY);
	CHECK(bundle_verify("key.bundle.json", e_nopromise, key_rekor, &st, &e) == CCP_EPOLICY);
	CHECK(bundle_verify("key.bundle.json", e_kind, key_rekor, &st, &e) == CCP_EPOLICY);
	CHECK(bundle_verify("key.bundle.json", e_logid, key_rekor, &st, &e) == CCP_EPOLICY);
	CHECK(bundle_verify("key.bundle.json", e_checkpoint, key_rekor, &st, &e) == CCP_EPOLICY);
	CHECK(strstr(e.msg, "checkpoint") != NULL);
	CHECK(bundle_verify("key.bundle.json", e_treesize, key_rekor, &st, &e) == CCP_EPOLICY);
	CHECK(bundle_verify("key.bundle.json", NULL, wrong_rekor, &st, &e) == CCP_EPOLICY);
	/* a keyless bundle does not verify with a key, nor a key bundle with Fulcio */
	CHECK(bundle_verify("keyless.bundle.json", NULL, key, &st, &e) == CCP_EPOLICY);
	CHECK(bundle_verify("key.bundle.json", NULL, fulcio, &st, &e) == CCP_EPOLICY);
	/* keyless: the leaf chained to the CA at the entry's time, the e-mail */
	CHECK(bundle_verify("keyless.bundle.json", NULL, fulcio, &st, &e) == 0);
	CHECK(st.n_subjects == 1);
	ccp_intoto_free(&st);
	CHECK(bundle_verify("keyless.bundle.json", NULL, fulcio_email, &st, &e) == CCP_EPOLICY);
	CHECK(strstr(e.msg, "Required email") != NULL);
	/* a later integrated time is outside the ten-minute certificate (and breaks the SET) */
	CHECK(bundle_verify("keyless.bundle.json", e_set, fulcio, &st, &e) == CCP_EPOLICY);
out:
	ccp_sigstore_trust_free(key);
	ccp_sigstore_trust_free(key_rekor);
	ccp_sigstore_trust_free(wrong_rekor);
	ccp_sigstore_trust_free(fulcio);
	ccp_sigstore_trust_free(fulcio_email);
}

static EVP_PKEY *keygen(int type, int param)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(type, NULL);
	EVP_PKEY *k = NULL;

	if (c && EVP_PKEY_keygen_init(c) == 1 &&
	    (type != EVP_PKEY_EC || EVP_PKEY_CTX_set_ec_paramgen_curve_nid(c, param) == 1) &&
	    (type != EVP_PKEY_RSA || EVP_PKEY_CTX_set_rsa_keygen_bits(c, param) == 1))
		EVP_PKEY_keygen(c, &k);
	EVP_PKEY_CTX_free(c);
	return k;
}

/* A key bundle over a cosign v3 statement, signed with md (NULL for Ed25519), as sigstore-go signs. */
static char *key_bundle(EVP_PKEY *k, const EVP_MD *md)
{
	static const char st[] = "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"digest\":{\"sha256\":"
				 DIG "}}],\"predicateType\":\"https://sigstore.dev/cosign/sign/v1\",\"predicate\":{}}";
	ccp_buf pae = CCP_BUF_INIT(0);
	unsigned char sig[1024];
	size_t sl = sizeof(sig);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	char *p64 = NULL, *s64 = NULL, *out = NULL;
	json_t *j;

	ccp_dsse_pae(&pae, CCP_DSSE_INTOTO, st, strlen(st));
	if (c && EVP_DigestSignInit(c, NULL, md, NULL, k) == 1 &&
	    EVP_DigestSign(c, sig, &sl, (unsigned char *)pae.data, pae.len) == 1 && !ccp_b64_encode(&p64, st, strlen(st)) &&
	    !ccp_b64_encode(&s64, sig, sl)) {
		j = json_pack("{s:s, s:{s:{s:s}}, s:{s:s, s:s, s:[{s:s}]}}", "mediaType", CCP_BUNDLE_MEDIA_V03,
			      "verificationMaterial", "publicKey", "hint", "k", "dsseEnvelope", "payload", p64,
			      "payloadType", CCP_DSSE_INTOTO, "signatures", "sig", s64);
		out = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	}
	EVP_MD_CTX_free(c);
	ccp_buf_free(&pae);
	free(p64);
	free(s64);
	return out;
}

static ccp_sigstore_trust *key_trust(EVP_PKEY *k)
{
	ccp_sigstore_src src = { NULL, CCP_BUF_INIT(0) };
	ccp_sigstore_policy p;
	ccp_sigstore_trust *t = NULL;
	ccp_err e = CCP_ERR_INIT;
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem;
	long n;

	PEM_write_bio_PUBKEY(bio, k);
	n = BIO_get_mem_data(bio, &pem);
	ccp_buf_append(&src.data, pem, (size_t)n);
	BIO_free(bio);
	memset(&p, 0, sizeof(p));
	p.keys = &src;
	p.n_keys = 1;
	ccp_sigstore_trust_load(&t, &p, &e);
	ccp_buf_free(&src.data);
	return t;
}

/* The DSSE signature with each key type, with the hash its type implies (sigstore-go LoadDefaultVerifier). */
static void key_types(void)
{
	struct { int type, param; const EVP_MD *md; } kt[] = {
		{ EVP_PKEY_EC, NID_X9_62_prime256v1, EVP_sha256() }, { EVP_PKEY_EC, NID_secp384r1, EVP_sha384() },
		{ EVP_PKEY_EC, NID_secp384r1, EVP_sha256() }, { EVP_PKEY_RSA, 2048, EVP_sha256() },
		{ EVP_PKEY_ED25519, 0, NULL },
	};
	EVP_PKEY *other = keygen(EVP_PKEY_EC, NID_X9_62_prime256v1);
	ccp_sigstore_trust *wrong = key_trust(other);

	for (size_t i = 0; i < sizeof(kt) / sizeof(kt[0]); i++) {
		EVP_PKEY *k = keygen(kt[i].type, kt[i].param);
		ccp_sigstore_trust *t = k ? key_trust(k) : NULL;
		char *text = k ? key_bundle(k, kt[i].md) : NULL;
		ccp_err e = CCP_ERR_INIT;
		ccp_bundle b;
		ccp_intoto st;

		CHECK(t && text);
		if (t && text && ccp_bundle_parse(&b, text, strlen(text), &e) == 0) {
			CHECK(ccp_bundle_verify(t, &b, 0, &st, &e) == 0);
			ccp_intoto_free(&st);
			CHECK(ccp_bundle_verify(wrong, &b, 0, &st, &e) == CCP_EPOLICY);
			ccp_bundle_free(&b);
		} else {
			CHECK(!"key bundle parses");
		}
		free(text);
		ccp_sigstore_trust_free(t);
		EVP_PKEY_free(k);
	}
	ccp_sigstore_trust_free(wrong);
	EVP_PKEY_free(other);
}

int main(void)
{
	const char *src = getenv("CCPULL_SRC");

	snprintf(dir, sizeof(dir), "%s/testdata/sigstore-bundle", src ? src : ".");
	pae();
	merkle();
	statement();
	bundles();
	key_types();
	return test_summary();
}
