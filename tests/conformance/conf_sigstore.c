/*
 * containers/image sigstore fixtures (signature/fixtures/dir-img-cosign-*, fulcio-*, pki-*, rekor-* and
 * internal/testdata/rekor-*): each gives the result containers/image's tests expect
 * (policy_eval_sigstore_test.go, fulcio_cert_test.go, pki_cert_test.go, internal/rekor_set_test.go).
 * argv[1] is the conformance directory; exit 77 when the fixtures are absent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/pem.h>

#include "policy/policy.h"
#include "signature/sigstore.h"
#include "util/buf.h"
#include "util/json.h"
#include "../unit/test.h"

static char fx[4096], itd[4096];
static char last_msg[CCP_ERR_MSG_MAX];

static int load_from(ccp_buf *b, const char *dir, const char *name)
{
	char p[8400];
	ccp_err e = CCP_ERR_INIT;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	b->max = 0;
	return ccp_read_file(b, p, 16u << 20, &e);
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

/*
 * Rewrites annotation key of a "\0sigstore-json\n" blob: value NULL removes it. Used to build the
 * missing-bundle, missing-chain and grafted-bundle cases of containers/image's tests.
 */
static void set_annotation(ccp_buf *sig, const char *key, const char *value)
{
	json_t *j = json_loadb(sig->data + 15, sig->len - 15, 0, NULL);
	json_t *ann = json_object_get(j, "annotations");
	char *out;

	if (value)
		json_object_set_new(ann, key, json_string(value));
	else
		json_object_del(ann, key);
	out = json_dumps(j, JSON_COMPACT);
	sig->len = 15;
	ccp_buf_puts(sig, out);
	free(out);
	json_decref(j);
}

static char *annotation(const char *dir, const char *key)
{
	ccp_buf b = CCP_BUF_INIT(0);
	json_t *j;
	char *v = NULL;

	if (load_from(&b, fx, dir))
		return NULL;
	j = json_loadb(b.data + 15, b.len - 15, 0, NULL);
	if (json_string_value(json_object_get(json_object_get(j, "annotations"), key)))
		v = strdup(json_string_value(json_object_get(json_object_get(j, "annotations"), key)));
	json_decref(j);
	ccp_buf_free(&b);
	return v;
}

/*
 * Evaluates {"default":[req]} (req with @FX@ replaced by the fixtures path) for dir pulled as image.
 * edit (may be NULL) changes signature-1 first. 0 accepted, -1 rejected (CCP_EPOLICY), -2 other error.
 */
static int eval_edit(const char *dir, const char *req, const char *image, const char *ann_key, const char *ann_value)
{
	ccp_buf policy = CCP_BUF_INIT(0), man = CCP_BUF_INIT(0);
	char name[512];
	ccp_policy pol;
	ccp_policy_image img;
	ccp_ref ref;
	dir_sigs ds = { .n = 0 };
	ccp_err e = CCP_ERR_INIT;
	int r;

	ccp_buf_puts(&policy, "{\"default\":[");
	for (const char *p = req; *p; p++) {
		if (strncmp(p, "@FX@", 4) == 0) {
			ccp_buf_puts(&policy, fx);
			p += 3;
		} else {
			ccp_buf_append(&policy, p, 1);
		}
	}
	ccp_buf_puts(&policy, "]}");
	if (ccp_policy_parse(&pol, policy.data, policy.len, "test", &e) || ccp_ref_parse(&ref, image, &e)) {
		fprintf(stderr, "setup: %s\n", e.msg);
		ccp_buf_free(&policy);
		return -2;
	}
	ccp_buf_free(&policy);
	snprintf(name, sizeof(name), "%s/manifest.json", dir);
	if (load_from(&man, fx, name)) {
		r = -1;
		goto out;
	}
	for (ds.n = 0; ds.n < 8; ds.n++) {
		snprintf(name, sizeof(name), "%s/signature-%zu", dir, ds.n + 1);
		ds.v[ds.n] = (ccp_buf)CCP_BUF_INIT(0);
		if (load_from(&ds.v[ds.n], fx, name))
			break;
	}
	if (ann_key)
		set_annotation(&ds.v[0], ann_key, ann_value);
	memset(&img, 0, sizeof(img));
	img.ref = &ref;
	img.manifest = man.data;
	img.manifest_len = man.len;
	img.get_signatures = dir_get;
	img.payload = &ds;
	r = ccp_policy_evaluate(&pol, &img, &e);
	snprintf(last_msg, sizeof(last_msg), "%s", e.msg);
	if (r)
		fprintf(stderr, "  %s as %s: %s\n", dir, image, e.msg);
	r = r == 0 ? 0 : r == CCP_EPOLICY ? -1 : -2;
	for (size_t i = 0; i <= ds.n && i < 8; i++)
		ccp_buf_free(&ds.v[i]);
out:
	ccp_buf_free(&man);
	ccp_ref_free(&ref);
	ccp_policy_free(&pol);
	return r;
}

static int eval(const char *dir, const char *req, const char *image)
{
	return eval_edit(dir, req, image, NULL, NULL);
}

static char *b64_file(const char *name)
{
	ccp_buf b = CCP_BUF_INIT(0);
	char *out;
	int n;

	if (load_from(&b, fx, name))
		return NULL;
	out = malloc(b.len * 2 + 8);
	n = EVP_EncodeBlock((unsigned char *)out, (unsigned char *)b.data, (int)b.len);
	out[n] = '\0';
	ccp_buf_free(&b);
	return out;
}

#define SINGLE "192.168.64.2:5000/cosign-signed-single-sample:latest"
#define KEY(path, ident) "{\"type\":\"sigstoreSigned\",\"keyPath\":\"@FX@/" path "\",\"signedIdentity\":{\"type\":\"" ident "\"}}"
#define FULCIO(ca, issuer, email, rekor)                                                                  \
	"{\"type\":\"sigstoreSigned\",\"fulcio\":{\"caPath\":\"@FX@/" ca "\",\"oidcIssuer\":\"" issuer          \
	"\",\"subjectEmail\":\"" email "\"},\"rekorPublicKeyPath\":\"@FX@/" rekor                           \
	"\",\"signedIdentity\":{\"type\":\"matchRepository\"}}"
#define FULCIO_IMG "192.168.64.2:5000/cosign-signed/fulcio-rekor-1:latest"
#define KEYREKOR_IMG "192.168.64.2:5000/cosign-signed/key-1:latest"
#define PKI(inter, subj)                                                                                   \
	"{\"type\":\"sigstoreSigned\",\"pki\":{\"caRootsPath\":\"@FX@/pki_root_crts.pem\"" inter "," subj "}," \
	"\"signedIdentity\":{\"type\":\"matchRepository\"}}"
#define PKI_INTER ",\"caIntermediatesPath\":\"@FX@/pki_intermediate_crts.pem\""
#define PKI_IMG "localhost:5000/test:latest"

static void policy_cases(void)
{
	char req[8192];
	char *kd, *graft;

	/* Keys. */
	CHECK(eval("dir-img-cosign-valid", KEY("cosign.pub", "matchRepository"), SINGLE) == 0);
	CHECK(eval("dir-img-cosign-valid", KEY("cosign.pub", "matchExact"), SINGLE) == -1);
	CHECK(eval("dir-img-cosign-valid", KEY("cosign2.pub", "matchRepository"), SINGLE) == -1);
	CHECK(strstr(last_msg, "cryptographic signature verification failed") != NULL);
	CHECK(eval("dir-img-cosign-valid", KEY("cosign.pub", "matchRepository"), "192.168.64.2:5000/other:latest") == -1);
	CHECK(strstr(last_msg, "is not accepted") != NULL);
	CHECK(eval("dir-img-cosign-valid",
		   "{\"type\":\"sigstoreSigned\",\"keyPaths\":[\"@FX@/cosign2.pub\",\"@FX@/cosign.pub\"],"
		   "\"signedIdentity\":{\"type\":\"matchRepository\"}}", SINGLE) == 0);
	CHECK(eval("dir-img-cosign-valid",
		   "{\"type\":\"sigstoreSigned\",\"keyPaths\":[\"@FX@/cosign.pub\",\"@FX@/does-not-exist\"],"
		   "\"signedIdentity\":{\"type\":\"matchRepository\"}}", SINGLE) == -1);
	CHECK(eval("dir-img-cosign-valid", KEY("some-rsa-key.pub", "matchRepository"), SINGLE) == -1);
	kd = b64_file("cosign.pub");
	snprintf(req, sizeof(req), "{\"type\":\"sigstoreSigned\",\"keyData\":\"%s\","
		 "\"signedIdentity\":{\"type\":\"matchRepository\"}}", kd);
	CHECK(eval("dir-img-cosign-valid", req, SINGLE) == 0);
	snprintf(req, sizeof(req), "{\"type\":\"sigstoreSigned\",\"keyDatas\":[\"%s\"],"
		 "\"signedIdentity\":{\"type\":\"matchRepository\"}}", kd);
	CHECK(eval("dir-img-cosign-valid", req, SINGLE) == 0);
	free(kd);
	CHECK(eval("dir-img-cosign-valid-2", KEY("cosign.pub", "matchRepository"), SINGLE) == 0);
	CHECK(eval("dir-img-cosign-mixed", KEY("cosign.pub", "matchRepository"), SINGLE) == 0);
	CHECK(eval("dir-img-cosign-valid-with-tag", KEY("cosign.pub", "matchExact"),
		   "192.168.64.2:5000/skopeo-signed:tag") == 0);
	CHECK(eval("dir-img-cosign-valid-with-tag", KEY("cosign.pub", "matchExact"),
		   "192.168.64.2:5000/skopeo-signed:othertag") == -1);
	CHECK(eval("dir-img-cosign-other-attachment", KEY("cosign.pub", "matchRepository"), SINGLE) == -1);
	CHECK(strstr(last_msg, "no signature exists (0 non-sigstore signatures, 1 sigstore non-signature attachments)"));
	CHECK(eval("dir-img-cosign-no-manifest", KEY("cosign.pub", "matchRepository"), SINGLE) == -1);
	CHECK(eval("dir-img-cosign-manifest-digest-error", KEY("cosign.pub", "matchRepository"), SINGLE) == -1);
	CHECK(eval("dir-img-cosign-modified-manifest", KEY("cosign.pub", "matchRepository"), SINGLE) == -1);
	CHECK(strstr(last_msg, "does not match") != NULL);
	/* Simple signatures are invisible to sigstoreSigned. */
	CHECK(eval("dir-img-valid", KEY("cosign.pub", "matchRepository"), "testing/manifest:latest") == -1);
	CHECK(strstr(last_msg, "(1 non-sigstore signatures, 0 sigstore non-signature attachments)") != NULL);

	/* Keys with Rekor. */
#define KR(keys, rekor) "{\"type\":\"sigstoreSigned\",\"keyPaths\":[" keys "],\"rekorPublicKeyPath\":\"@FX@/" rekor \
	"\",\"signedIdentity\":{\"type\":\"matchRepository\"}}"
	CHECK(eval("dir-img-cosign-key-rekor-valid", KR("\"@FX@/cosign.pub\",\"@FX@/cosign2.pub\"", "rekor.pub"),
		   KEYREKOR_IMG) == 0);
	CHECK(eval("dir-img-cosign-key-rekor-valid", KR("\"@FX@/cosign2.pub\"", "rekor.pub"), KEYREKOR_IMG) == 0);
	CHECK(eval("dir-img-cosign-key-rekor-valid", KR("\"@FX@/cosign.pub\"", "rekor.pub"), KEYREKOR_IMG) == -1);
	CHECK(eval("dir-img-cosign-key-rekor-valid", KR("\"@FX@/cosign2.pub\"", "cosign.pub"), KEYREKOR_IMG) == -1);
	CHECK(eval("dir-img-cosign-key-rekor-valid", KR("\"@FX@/cosign2.pub\"", "some-rsa-key.pub"), KEYREKOR_IMG) == -1);
	CHECK(eval_edit("dir-img-cosign-key-rekor-valid", KR("\"@FX@/cosign2.pub\"", "rekor.pub"), KEYREKOR_IMG,
			CCP_COSIGN_ANN_BUNDLE, NULL) == -1);
	CHECK(eval_edit("dir-img-cosign-key-rekor-valid", KR("\"@FX@/cosign2.pub\"", "rekor.pub"), KEYREKOR_IMG,
			CCP_COSIGN_ANN_BUNDLE, "this is not JSON") == -1);
	/* cosign CVE-2022-23649: a valid SET for another signature does not vouch for this one. */
	graft = annotation("dir-img-cosign-key-rekor-valid/signature-1", CCP_COSIGN_ANN_BUNDLE);
	CHECK(graft != NULL);
	CHECK(eval_edit("dir-img-cosign-valid", KR("\"@FX@/cosign.pub\"", "rekor.pub"), SINGLE, CCP_COSIGN_ANN_BUNDLE,
			graft) == -1);
	CHECK(eval_edit("dir-img-cosign-valid", KR("\"@FX@/cosign.pub\",\"@FX@/cosign2.pub\"", "rekor.pub"), SINGLE,
			CCP_COSIGN_ANN_BUNDLE, graft) == -1);
	free(graft);

	/* Fulcio with Rekor, at the Rekor integrated time. */
	CHECK(eval("dir-img-cosign-fulcio-rekor-valid",
		   FULCIO("fulcio_v1.crt.pem", "https://github.com/login/oauth", "mitr@redhat.com", "rekor.pub"),
		   FULCIO_IMG) == 0);
	CHECK(eval("dir-img-cosign-fulcio-rekor-valid",
		   FULCIO("fulcio_v1.crt.pem", "https://github.com/login/oauth", "mitr@redhat.com", "cosign.pub"),
		   FULCIO_IMG) == -1);
	CHECK(eval("dir-img-cosign-fulcio-rekor-valid",
		   FULCIO("fulcio_v1.crt.pem", "https://github.com/login/oauth", "someone-else@redhat.com", "rekor.pub"),
		   FULCIO_IMG) == -1);
	CHECK(eval("dir-img-cosign-fulcio-rekor-valid",
		   FULCIO("fulcio_v1.crt.pem", "https://accounts.google.com", "mitr@redhat.com", "rekor.pub"),
		   FULCIO_IMG) == -1);
	CHECK(eval("dir-img-cosign-fulcio-rekor-valid",
		   FULCIO("pki_root_crts.pem", "https://github.com/login/oauth", "mitr@redhat.com", "rekor.pub"),
		   FULCIO_IMG) == -1);
	CHECK(eval_edit("dir-img-cosign-fulcio-rekor-valid",
			FULCIO("fulcio_v1.crt.pem", "https://github.com/login/oauth", "mitr@redhat.com", "rekor.pub"),
			FULCIO_IMG, CCP_COSIGN_ANN_BUNDLE, NULL) == -1);
	CHECK(eval_edit("dir-img-cosign-fulcio-rekor-valid",
			FULCIO("fulcio_v1.crt.pem", "https://github.com/login/oauth", "mitr@redhat.com", "rekor.pub"),
			FULCIO_IMG, CCP_COSIGN_ANN_CERT, NULL) == -1);
	CHECK(eval_edit("dir-img-cosign-fulcio-rekor-valid",
			FULCIO("fulcio_v1.crt.pem", "https://github.com/login/oauth", "mitr@redhat.com", "rekor.pub"),
			FULCIO_IMG, CCP_COSIGN_ANN_CHAIN, NULL) == -1);
	/* Fulcio requires a Rekor key (policy parse error). */
	CHECK(eval("dir-img-cosign-fulcio-rekor-valid",
		   "{\"type\":\"sigstoreSigned\",\"fulcio\":{\"caPath\":\"@FX@/fulcio_v1.crt.pem\",\"oidcIssuer\":\"x\","
		   "\"subjectEmail\":\"y\"}}", FULCIO_IMG) == -2);

	/* PKI, at the current time. */
	CHECK(eval("dir-img-cosign-pki-valid", PKI(PKI_INTER, "\"subjectEmail\":\"qiwan@redhat.com\""), PKI_IMG) == 0);
	CHECK(eval("dir-img-cosign-pki-valid", PKI("", "\"subjectEmail\":\"qiwan@redhat.com\""), PKI_IMG) == 0);
	CHECK(eval("dir-img-cosign-pki-valid", PKI(PKI_INTER, "\"subjectHostname\":\"myhost.example.com\""), PKI_IMG) == 0);
	CHECK(eval("dir-img-cosign-pki-valid", PKI(PKI_INTER, "\"subjectEmail\":\"qiwan@redhat.com\","
						   "\"subjectHostname\":\"myhost.example.com\""), PKI_IMG) == 0);
	CHECK(eval("dir-img-cosign-pki-valid", PKI(PKI_INTER, "\"subjectEmail\":\"other@redhat.com\""), PKI_IMG) == -1);
	CHECK(eval("dir-img-cosign-pki-valid", PKI(PKI_INTER, "\"subjectHostname\":\"other.example.com\""), PKI_IMG) == -1);
	CHECK(eval_edit("dir-img-cosign-pki-valid", PKI(PKI_INTER, "\"subjectEmail\":\"qiwan@redhat.com\""), PKI_IMG,
			CCP_COSIGN_ANN_CHAIN, NULL) == 0);
	CHECK(eval_edit("dir-img-cosign-pki-valid", PKI("", "\"subjectEmail\":\"qiwan@redhat.com\""), PKI_IMG,
			CCP_COSIGN_ANN_CHAIN, NULL) == -1);
	CHECK(eval_edit("dir-img-cosign-pki-valid", PKI(PKI_INTER, "\"subjectEmail\":\"qiwan@redhat.com\""), PKI_IMG,
			CCP_COSIGN_ANN_CERT, NULL) == -1);
	/* The Fulcio root does not vouch for the PKI leaf. */
	CHECK(eval("dir-img-cosign-pki-valid",
		   "{\"type\":\"sigstoreSigned\",\"pki\":{\"caRootsPath\":\"@FX@/fulcio_v1.crt.pem\","
		   "\"subjectEmail\":\"qiwan@redhat.com\"},\"signedIdentity\":{\"type\":\"matchRepository\"}}", PKI_IMG) == -1);
}

static STACK_OF(X509) *certs(const char *name)
{
	ccp_buf b = CCP_BUF_INIT(0);
	STACK_OF(X509) *sk = NULL;
	ccp_err e = CCP_ERR_INIT;

	if (load_from(&b, fx, name) == 0 && ccp_pem_certs_parse(&sk, b.data, b.len, name, &e))
		fprintf(stderr, "%s: %s\n", name, e.msg);
	ccp_buf_free(&b);
	return sk;
}

static int fulcio_at(STACK_OF(X509) *roots, const char *email, int64_t t)
{
	ccp_buf cert = CCP_BUF_INIT(0), chain = CCP_BUF_INIT(0);
	EVP_PKEY *k = NULL;
	ccp_err e = CCP_ERR_INIT;
	int r;

	load_from(&cert, fx, "fulcio-cert");
	load_from(&chain, fx, "fulcio-chain");
	r = ccp_fulcio_verify(roots, "https://github.com/login/oauth", email, t, cert.data, cert.len, chain.data,
			      chain.len, &k, &e);
	if (r)
		fprintf(stderr, "  fulcio-cert at %lld: %s\n", (long long)t, e.msg);
	EVP_PKEY_free(k);
	ccp_buf_free(&cert);
	ccp_buf_free(&chain);
	return r;
}

static void cert_cases(void)
{
	STACK_OF(X509) *roots = certs("fulcio_v1.crt.pem"), *pki_roots = certs("pki_root_crts.pem");
	STACK_OF(X509) *pki_inter = certs("pki_intermediate_crts.pem");
	ccp_buf cert = CCP_BUF_INIT(0), chain = CCP_BUF_INIT(0);
	EVP_PKEY *k = NULL;
	ccp_err e = CCP_ERR_INIT;

	CHECK(roots && pki_roots && pki_inter);
	CHECK(fulcio_at(roots, "mitr@redhat.com", 1670870899) == 0);
	CHECK(fulcio_at(roots, "mitr@redhat.com", 1670870898) == 0);   /* 18:48:18, notBefore */
	CHECK(fulcio_at(roots, "mitr@redhat.com", 1670870897) != 0);   /* 18:48:17 */
	CHECK(fulcio_at(roots, "mitr@redhat.com", 1670871498) == 0);   /* 18:58:18, notAfter */
	CHECK(fulcio_at(roots, "mitr@redhat.com", 1670871499) != 0);   /* 18:58:19 */
	CHECK(fulcio_at(roots, "mitr@redhat.com.evil", 1670870899) != 0);
	CHECK(fulcio_at(pki_roots, "mitr@redhat.com", 1670870899) != 0);

	load_from(&cert, fx, "pki-cert");
	load_from(&chain, fx, "pki-chain");
	CHECK(ccp_pki_verify(pki_roots, NULL, "qiwan@redhat.com", NULL, (int64_t)time(NULL), cert.data, cert.len,
			     chain.data, chain.len, &k, &e) == 0);
	EVP_PKEY_free(k);
	CHECK(ccp_pki_verify(pki_roots, pki_inter, NULL, "myhost.example.com", (int64_t)time(NULL), cert.data, cert.len,
			     NULL, 0, &k, &e) == 0);
	EVP_PKEY_free(k);
	CHECK(ccp_pki_verify(pki_roots, NULL, NULL, "myhost.example.com", (int64_t)time(NULL), cert.data, cert.len,
			     NULL, 0, &k, &e) != 0);
	CHECK(ccp_pki_verify(roots, pki_inter, "qiwan@redhat.com", NULL, (int64_t)time(NULL), cert.data, cert.len,
			     chain.data, chain.len, &k, &e) != 0);
	ccp_buf_free(&cert);
	ccp_buf_free(&chain);
	sk_X509_pop_free(roots, X509_free);
	sk_X509_pop_free(pki_roots, X509_free);
	sk_X509_pop_free(pki_inter, X509_free);
}

static void rekor_cases(void)
{
	ccp_buf set = CCP_BUF_INIT(0), cert = CCP_BUF_INIT(0), sig = CCP_BUF_INIT(0), payload = CCP_BUF_INIT(0);
	ccp_buf pub = CCP_BUF_INIT(0);
	EVP_PKEY *rekor = NULL;
	BIO *bio;
	int64_t t = 0;
	ccp_err e = CCP_ERR_INIT;

	CHECK(load_from(&set, itd, "rekor-set") == 0 && load_from(&cert, itd, "rekor-cert") == 0 &&
	      load_from(&sig, itd, "rekor-sig") == 0 && load_from(&payload, itd, "rekor-payload") == 0 &&
	      load_from(&pub, itd, "rekor.pub") == 0);
	bio = BIO_new_mem_buf(pub.data, (int)pub.len);
	rekor = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	CHECK(rekor != NULL);
	CHECK(ccp_rekor_set_verify(&rekor, 1, set.data, set.len, cert.data, cert.len, sig.data, payload.data,
				   payload.len, &t, &e) == 0);
	CHECK(t == 1670870899);
	/* Another payload, signature or certificate: the SET does not vouch for it. */
	CHECK(ccp_rekor_set_verify(&rekor, 1, set.data, set.len, cert.data, cert.len, sig.data, "x", 1, &t, &e) != 0);
	CHECK(ccp_rekor_set_verify(&rekor, 1, set.data, set.len, cert.data, cert.len,
				   "MEQCIEJc96e041VAhKA03SvfCYbWodIMIQPyAtWyDP4FnPqpAiAaIS60EjhRDhSanoFsoIy8fKqqKeW5ps/tLXSGpayi2w==",
				   payload.data, payload.len, &t, &e) != 0);
	CHECK(ccp_rekor_set_verify(&rekor, 1, set.data, set.len, pub.data, pub.len, sig.data, payload.data,
				   payload.len, &t, &e) != 0);
	/* Every single-byte change of the SET is refused. */
	for (size_t i = 0; i < set.len; i++) {
		char saved = set.data[i];
		int r;
		set.data[i] = saved == 'A' ? 'B' : 'A';
		r = ccp_rekor_set_verify(&rekor, 1, set.data, set.len, cert.data, cert.len, sig.data, payload.data,
					 payload.len, &t, &e);
		set.data[i] = saved;
		if (r == 0)
			fprintf(stderr, "SET accepted with byte %zu changed\n", i);
		CHECK(r != 0);
	}
	EVP_PKEY_free(rekor);
	ccp_buf_free(&set);
	ccp_buf_free(&cert);
	ccp_buf_free(&sig);
	ccp_buf_free(&payload);
	ccp_buf_free(&pub);
}

int main(int argc, char **argv)
{
	snprintf(fx, sizeof(fx), "%s/containers-image/signature/fixtures", argc > 1 ? argv[1] : "../shared/conformance");
	snprintf(itd, sizeof(itd), "%s/containers-image/signature/internal/testdata",
		 argc > 1 ? argv[1] : "../shared/conformance");
	if (access(fx, R_OK) != 0 || access(itd, R_OK) != 0) {
		fprintf(stderr, "fixtures not found at %s: skipping\n", fx);
		return 77;
	}
	policy_cases();
	cert_cases();
	rekor_cases();
	return test_summary();
}
