/*
 * The pkcs7 key provider: ocicrypt's "pkcs7" scheme wraps the layer key options in a PKCS#7
 * EnvelopedData (RFC 5652) for each recipient certificate: RSA PKCS#1 v1.5 key transport to a
 * recipient named by issuer and serial number, AES-GCM content encryption with the tag appended to
 * the ciphertext and the GCMParameters (RFC 5084) as algorithm parameters.
 *
 * OpenSSL's CMS code cannot be used on these objects: ocicrypt's encoder (go.mozilla.org/pkcs7, as in
 * skopeo 1.9.3) writes the GCM parameters as a primitive-flagged SEQUENCE (0x10, not 0x30), which
 * OpenSSL's decoder rejects, and CMS EnvelopedData has no place for a GCM tag. So the structure is
 * walked with OpenSSL's TLV reader (ASN1_get_object) and its element decoders, and the two crypto
 * steps use EVP. Key files (keys and certificates, PEM or DER) are read with OSSL_STORE.
 */
#include "keyproviders/keyproviders.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/store.h>
#include <openssl/ui.h>
#include <openssl/x509.h>

#define PKCS7_MAX CCP_KEYPROVIDER_WRAPPED_MAX
#define RECIPIENTS_MAX 64
#define OBJECTS_MAX 64   /* keys and certificates per file */
#define PAIRS_MAX 64

typedef struct pair {
	X509 *cert;
	EVP_PKEY *pkey;
} pair;

typedef struct pkcs7_provider {
	ccp_keyprovider base;
	pair pairs[PAIRS_MAX];
	size_t n;
	char desc[600];
} pkcs7_provider;

/* ---- DER walking ---- */

typedef struct tlv {
	const unsigned char *hdr;   /* start of the element */
	const unsigned char *c;     /* its content */
	size_t len, total;          /* content length, header + content */
	int tag, cls, cons;
} tlv;

/* Reads the element at *p (before end) and moves *p past it. Indefinite lengths are refused. */
static int next(tlv *t, const unsigned char **p, const unsigned char *end)
{
	const unsigned char *q = *p;
	long len = 0;
	int ret;

	if (q >= end)
		return -1;
	ret = ASN1_get_object(&q, &len, &t->tag, &t->cls, (long)(end - *p));
	if (ret & 0x80 || ret & 1 || len < 0 || (size_t)len > (size_t)(end - q))
		return -1;
	t->hdr = *p;
	t->c = q;
	t->len = (size_t)len;
	t->total = (size_t)(q - *p) + (size_t)len;
	t->cons = !!(ret & V_ASN1_CONSTRUCTED);
	*p = q + len;
	return 0;
}

/* The next element must be universal tag (constructed when cons > 0; either when cons < 0). */
static int expect(tlv *t, const unsigned char **p, const unsigned char *end, int tag, int cons)
{
	if (next(t, p, end) || t->cls != V_ASN1_UNIVERSAL || t->tag != tag || (cons >= 0 && t->cons != cons))
		return -1;
	return 0;
}

static int oid_nid(const tlv *t)
{
	const unsigned char *q = t->hdr;
	ASN1_OBJECT *o = d2i_ASN1_OBJECT(NULL, &q, (long)t->total);
	int nid = o ? OBJ_obj2nid(o) : NID_undef;

	ASN1_OBJECT_free(o);
	return nid;
}

static int small_int(const tlv *t, long *v)
{
	const unsigned char *q = t->hdr;
	ASN1_INTEGER *i = d2i_ASN1_INTEGER(NULL, &q, (long)t->total);
	int64_t x = -1;
	int ok = i && ASN1_INTEGER_get_int64(&x, i) == 1 && x >= 0 && x <= 1024;

	ASN1_INTEGER_free(i);
	ERR_clear_error();
	*v = (long)x;
	return ok ? 0 : -1;
}

typedef struct ktri {
	tlv issuer, serial;         /* IssuerAndSerialNumber parts */
	const unsigned char *ek;    /* encryptedKey */
	size_t ek_len;
} ktri;

typedef struct envelope {
	ktri rcpt[RECIPIENTS_MAX];
	size_t n_rcpt, n_other;     /* key transport recipients; others (skipped) */
	int cipher_nid;
	const unsigned char *nonce, *ct;
	size_t nonce_len, ct_len;
	long icv_len;
	unsigned char *ct_copy;     /* a constructed encryptedContent, joined */
} envelope;

static int bad(ccp_err *e, const char *what)
{
	return ccp_err_set(e, CCP_EDECRYPT, "PKCS7: %s", what);
}

static int parse_ktri(envelope *env, const tlv *ri, ccp_err *e)
{
	const unsigned char *p = ri->c, *end = ri->c + ri->len, *q;
	ktri *k = &env->rcpt[env->n_rcpt];
	tlv t, rid, alg, oid;
	long version;

	if (expect(&t, &p, end, V_ASN1_INTEGER, 0) || small_int(&t, &version))
		return bad(e, "malformed recipient version");
	if (next(&rid, &p, end))
		return bad(e, "malformed recipient identifier");
	if (rid.cls != V_ASN1_UNIVERSAL || rid.tag != V_ASN1_SEQUENCE) {
		env->n_other++; /* subjectKeyIdentifier: ocicrypt's certificates are named by issuer and serial */
		return 0;
	}
	q = rid.c;
	if (expect(&k->issuer, &q, rid.c + rid.len, V_ASN1_SEQUENCE, 1) ||
	    expect(&k->serial, &q, rid.c + rid.len, V_ASN1_INTEGER, 0) || q != rid.c + rid.len)
		return bad(e, "malformed IssuerAndSerialNumber");
	if (expect(&alg, &p, end, V_ASN1_SEQUENCE, 1))
		return bad(e, "malformed keyEncryptionAlgorithm");
	q = alg.c;
	if (expect(&oid, &q, alg.c + alg.len, V_ASN1_OBJECT, 0))
		return bad(e, "malformed keyEncryptionAlgorithm");
	if (expect(&t, &p, end, V_ASN1_OCTET_STRING, 0) || p != end)
		return bad(e, "malformed encryptedKey");
	if (oid_nid(&oid) != NID_rsaEncryption) {
		env->n_other++;
		return 0;
	}
	k->ek = t.c;
	k->ek_len = t.len;
	env->n_rcpt++;
	return 0;
}

static int parse_content(envelope *env, const tlv *eci, ccp_err *e)
{
	const unsigned char *p = eci->c, *end = eci->c + eci->len, *q, *qe;
	tlv t, alg, oid, params, ec;

	if (expect(&t, &p, end, V_ASN1_OBJECT, 0) || oid_nid(&t) != NID_pkcs7_data)
		return bad(e, "encrypted content is not of type data");
	if (expect(&alg, &p, end, V_ASN1_SEQUENCE, 1))
		return bad(e, "malformed contentEncryptionAlgorithm");
	q = alg.c;
	qe = alg.c + alg.len;
	if (expect(&oid, &q, qe, V_ASN1_OBJECT, 0))
		return bad(e, "malformed contentEncryptionAlgorithm");
	env->cipher_nid = oid_nid(&oid);
	if (env->cipher_nid != NID_aes_128_gcm && env->cipher_nid != NID_aes_192_gcm && env->cipher_nid != NID_aes_256_gcm)
		return ccp_err_set(e, CCP_EDECRYPT, "PKCS7: content encryption %s is not supported (AES-GCM only, as ocicrypt)",
				   env->cipher_nid != NID_undef ? OBJ_nid2sn(env->cipher_nid) : "(unknown)");
	/*
	 * GCMParameters ::= SEQUENCE { aes-nonce OCTET STRING, aes-ICVlen INTEGER DEFAULT 12 } (RFC 5084).
	 * go.mozilla.org/pkcs7 writes a primitive-flagged SEQUENCE whose content is a second, proper
	 * SEQUENCE { [4] IMPLICIT nonce, INTEGER }, and reads only that form back: both are taken.
	 */
	if (expect(&params, &q, qe, V_ASN1_SEQUENCE, -1) || q != qe)
		return bad(e, "malformed GCM parameters");
	q = params.c;
	qe = params.c + params.len;
	if (q < qe && *q == (V_ASN1_CONSTRUCTED | V_ASN1_SEQUENCE)) {
		if (expect(&params, &q, qe, V_ASN1_SEQUENCE, 1) || q != qe)
			return bad(e, "malformed GCM parameters");
		q = params.c;
		qe = params.c + params.len;
	}
	if (next(&t, &q, qe) || t.cons || t.tag != V_ASN1_OCTET_STRING ||
	    (t.cls != V_ASN1_UNIVERSAL && t.cls != V_ASN1_CONTEXT_SPECIFIC) || t.len == 0 || t.len > 64)
		return bad(e, "malformed GCM nonce");
	env->nonce = t.c;
	env->nonce_len = t.len;
	env->icv_len = 12;
	if (q < qe && (expect(&t, &q, qe, V_ASN1_INTEGER, 0) || small_int(&t, &env->icv_len)))
		return bad(e, "malformed GCM ICV length");
	if (q != qe || env->icv_len < 12 || env->icv_len > 16)
		return bad(e, "bad GCM parameters");
	/* encryptedContent [0] IMPLICIT OCTET STRING: primitive, or constructed from primitive pieces. */
	if (next(&ec, &p, end) || ec.cls != V_ASN1_CONTEXT_SPECIFIC || ec.tag != 0)
		return bad(e, "no encrypted content");
	if (p != end)
		return bad(e, "trailing data after the encrypted content");
	if (!ec.cons) {
		env->ct = ec.c;
		env->ct_len = ec.len;
		return 0;
	}
	if (!(env->ct_copy = malloc(ec.len ? ec.len : 1)))
		return ccp_err_oom(e);
	q = ec.c;
	while (q < ec.c + ec.len) {
		if (expect(&t, &q, ec.c + ec.len, V_ASN1_OCTET_STRING, 0))
			return bad(e, "malformed encrypted content");
		memcpy(env->ct_copy + env->ct_len, t.c, t.len);
		env->ct_len += t.len;
	}
	env->ct = env->ct_copy;
	return 0;
}

static int parse_envelope(envelope *env, const unsigned char *der, size_t len, ccp_err *e)
{
	const unsigned char *p = der, *end = der + len, *q, *qe;
	tlv ci, t, ed, set;
	long version;

	memset(env, 0, sizeof(*env));
	if (expect(&ci, &p, end, V_ASN1_SEQUENCE, 1) || p != end)
		return bad(e, "not a DER ContentInfo");
	q = ci.c;
	qe = ci.c + ci.len;
	if (expect(&t, &q, qe, V_ASN1_OBJECT, 0) || oid_nid(&t) != NID_pkcs7_enveloped)
		return bad(e, "not an EnvelopedData");
	if (next(&t, &q, qe) || t.cls != V_ASN1_CONTEXT_SPECIFIC || t.tag != 0 || !t.cons || q != qe)
		return bad(e, "malformed ContentInfo content");
	q = t.c;
	qe = t.c + t.len;
	if (expect(&ed, &q, qe, V_ASN1_SEQUENCE, 1) || q != qe)
		return bad(e, "malformed EnvelopedData");
	q = ed.c;
	qe = ed.c + ed.len;
	if (expect(&t, &q, qe, V_ASN1_INTEGER, 0) || small_int(&t, &version))
		return bad(e, "malformed EnvelopedData version");
	if (next(&set, &q, qe))
		return bad(e, "malformed EnvelopedData");
	if (set.cls == V_ASN1_CONTEXT_SPECIFIC && set.tag == 0 && next(&set, &q, qe)) /* originatorInfo */
		return bad(e, "malformed EnvelopedData");
	if (set.cls != V_ASN1_UNIVERSAL || set.tag != V_ASN1_SET || !set.cons)
		return bad(e, "malformed RecipientInfos");
	for (const unsigned char *r = set.c; r < set.c + set.len;) {
		tlv ri;
		int rc;
		if (next(&ri, &r, set.c + set.len))
			return bad(e, "malformed RecipientInfo");
		if (ri.cls != V_ASN1_UNIVERSAL) { /* kari, kekri, pwri, ori: [1]..[4] */
			env->n_other++;
			continue;
		}
		if (ri.tag != V_ASN1_SEQUENCE || !ri.cons)
			return bad(e, "malformed RecipientInfo");
		if (env->n_rcpt >= RECIPIENTS_MAX)
			return bad(e, "too many recipients");
		if ((rc = parse_ktri(env, &ri, e)))
			return rc;
	}
	if (expect(&t, &q, qe, V_ASN1_SEQUENCE, 1))
		return bad(e, "malformed EncryptedContentInfo");
	return parse_content(env, &t, e); /* unprotectedAttrs may follow: not used */
}

/* ---- decryption ---- */

static int matches(const ktri *k, X509 *cert)
{
	const unsigned char *q = k->issuer.hdr;
	X509_NAME *name = d2i_X509_NAME(NULL, &q, (long)k->issuer.total);
	ASN1_INTEGER *serial;
	int ok;

	q = k->serial.hdr;
	serial = d2i_ASN1_INTEGER(NULL, &q, (long)k->serial.total);
	ok = name && serial && X509_NAME_cmp(name, X509_get_issuer_name(cert)) == 0 &&
	     ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(cert)) == 0;
	X509_NAME_free(name);
	ASN1_INTEGER_free(serial);
	return ok;
}

/*
 * RSA PKCS#1 v1.5 unwrapping of the content key. A padding failure is not reported apart from a wrong
 * GCM tag (a random key is used instead): the ciphertext comes from the registry, and telling the two
 * apart would make the puller a padding oracle.
 */
static void unwrap_cek(EVP_PKEY *pkey, const ktri *k, unsigned char *cek, size_t cek_len)
{
	unsigned char buf[1024];
	size_t n = sizeof(buf);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
	int ok = ctx && EVP_PKEY_decrypt_init(ctx) == 1 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
		 k->ek_len <= sizeof(buf) && EVP_PKEY_decrypt(ctx, buf, &n, k->ek, k->ek_len) == 1 && n == cek_len;

	if (RAND_bytes(cek, (int)cek_len) != 1)
		memset(cek, 0, cek_len);
	if (ok)
		memcpy(cek, buf, cek_len);
	OPENSSL_cleanse(buf, sizeof(buf));
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
}

static int gcm_open(const envelope *env, const unsigned char *cek, ccp_buf *plain, ccp_err *e)
{
	const EVP_CIPHER *c = EVP_get_cipherbynid(env->cipher_nid);
	size_t body = env->ct_len - (size_t)env->icv_len;
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *out = NULL;
	int n = 0, fin = 0, r;

	if (!c)
		return ccp_err_set(e, CCP_EINTERNAL, "PKCS7: cipher %s unavailable", OBJ_nid2sn(env->cipher_nid));
	if (body > INT32_MAX || !(out = malloc(body ? body : 1)) || !(ctx = EVP_CIPHER_CTX_new())) {
		free(out);
		return ccp_err_oom(e);
	}
	if (EVP_DecryptInit_ex(ctx, c, NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)env->nonce_len, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, cek, env->nonce) != 1 ||
	    EVP_DecryptUpdate(ctx, out, &n, env->ct, (int)body) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, (int)env->icv_len, (void *)(env->ct + body)) != 1 ||
	    EVP_DecryptFinal_ex(ctx, out + n, &fin) != 1) {
		r = ccp_err_set(e, CCP_EDECRYPT, "PKCS7: the private key does not open it");
		ERR_clear_error();
	} else if (ccp_buf_append(plain, out, (size_t)(n + fin))) {
		r = ccp_err_set(e, CCP_EDECRYPT, "PKCS7: content too large");
	} else {
		r = 0;
	}
	OPENSSL_cleanse(out, body);
	free(out);
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int ccp_pkcs7_decrypt(void *cert, void *pkey, const void *der, size_t len, ccp_buf *plain, ccp_err *e)
{
	unsigned char cek[32];
	envelope env;
	int r;
	size_t cek_len;

	if (len > PKCS7_MAX)
		return bad(e, "too large");
	if ((r = parse_envelope(&env, der, len, e)))
		goto out;
	cek_len = (size_t)EVP_CIPHER_get_key_length(EVP_get_cipherbynid(env.cipher_nid));
	if (cek_len == 0 || cek_len > sizeof(cek) || env.ct_len < (size_t)env.icv_len) {
		r = bad(e, "bad encrypted content");
		goto out;
	}
	r = ccp_err_set(e, CCP_EDECRYPT, "PKCS7: not encrypted for this certificate (%zu RSA recipient%s%s)", env.n_rcpt,
			env.n_rcpt == 1 ? "" : "s", env.n_other ? ", others of unsupported kinds" : "");
	for (size_t i = 0; i < env.n_rcpt && r; i++) {
		if (!matches(&env.rcpt[i], cert))
			continue;
		unwrap_cek(pkey, &env.rcpt[i], cek, cek_len);
		r = gcm_open(&env, cek, plain, e);
		OPENSSL_cleanse(cek, sizeof(cek));
	}
out:
	free(env.ct_copy);
	return r;
}

/* ---- the key provider ---- */

static int pkcs7_handles(const ccp_keyprovider *kp, const char *scheme)
{
	(void)kp;
	return strcmp(scheme, "pkcs7") == 0;
}

static int pkcs7_unwrap(ccp_keyprovider *kp, const char *scheme, const unsigned char *wrapped, size_t len,
			const char *dc_json, unsigned char **out, size_t *out_len, char *err, size_t err_len)
{
	pkcs7_provider *p = (pkcs7_provider *)kp;
	ccp_err e = CCP_ERR_INIT;
	int r = CCP_EDECRYPT;

	(void)scheme, (void)dc_json;
	*out = NULL;
	*out_len = 0;
	for (size_t i = 0; i < p->n; i++) {
		ccp_buf plain = CCP_BUF_INIT(CCP_KEYPROVIDER_OPTS_MAX);
		if ((r = ccp_pkcs7_decrypt(p->pairs[i].cert, p->pairs[i].pkey, wrapped, len, &plain, &e)) == 0) {
			*out_len = plain.len;
			*out = (unsigned char *)ccp_buf_detach(&plain);
			return 0;
		}
		ccp_buf_free_secure(&plain);
		if (r != CCP_EDECRYPT)
			break;
	}
	snprintf(err, err_len, "%s", e.msg);
	return r;
}

static void pkcs7_free(ccp_keyprovider *kp)
{
	pkcs7_provider *p = (pkcs7_provider *)kp;

	for (size_t i = 0; i < p->n; i++) {
		X509_free(p->pairs[i].cert);
		EVP_PKEY_free(p->pairs[i].pkey);
	}
	free(p);
}

typedef struct loaded {
	EVP_PKEY *keys[OBJECTS_MAX];
	X509 *certs[OBJECTS_MAX];
	size_t n_keys, n_certs;
} loaded;

static int pem_password(char *buf, int size, int rwflag, void *u)
{
	const char *pw = u;
	size_t n;

	(void)rwflag;
	if (!pw)
		return -1;
	n = strlen(pw);
	if (n > (size_t)size)
		return -1;
	memcpy(buf, pw, n);
	return (int)n;
}

/* Every private key and certificate of one file. */
static int load_file(loaded *l, const char *path, const char *password, ccp_err *e)
{
	UI_METHOD *ui = UI_UTIL_wrap_read_pem_callback(pem_password, 0);
	OSSL_STORE_CTX *st = NULL;
	size_t before = l->n_keys + l->n_certs;
	struct stat sb;
	int r = 0;

	if (stat(path, &sb) < 0) {
		UI_destroy_method(ui);
		return ccp_err_errno(e, CCP_EINVALID, errno, "decryption key `%s`", path);
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size > (1 << 20)) {
		UI_destroy_method(ui);
		return ccp_err_set(e, CCP_EINVALID, "decryption key `%s` is not a regular file of at most 1 MiB", path);
	}
	if (!ui || !(st = OSSL_STORE_open_ex(path, NULL, NULL, ui, (void *)password, NULL, NULL, NULL))) {
		r = ccp_err_set(e, CCP_EINVALID, "decryption key `%s` cannot be read", path);
		goto out;
	}
	while (!OSSL_STORE_eof(st)) {
		OSSL_STORE_INFO *info = OSSL_STORE_load(st);
		int type = info ? OSSL_STORE_INFO_get_type(info) : 0;
		if (!info) {
			if (OSSL_STORE_eof(st))
				break; /* the end reads as an error too */
			if (OSSL_STORE_error(st)) {
				r = ccp_err_set(e, CCP_EINVALID, "decryption key `%s`: unreadable object%s", path,
						password ? " (or the password is wrong)"
							 : " (password-protected? use pkcs7:PATH:pass=PASSWORD)");
				break;
			}
			continue;
		}
		if (l->n_keys >= OBJECTS_MAX || l->n_certs >= OBJECTS_MAX) {
			OSSL_STORE_INFO_free(info);
			r = ccp_err_set(e, CCP_EINVALID, "decryption key `%s` holds too many objects", path);
			break;
		}
		if (type == OSSL_STORE_INFO_PKEY)
			l->keys[l->n_keys++] = OSSL_STORE_INFO_get1_PKEY(info);
		else if (type == OSSL_STORE_INFO_CERT)
			l->certs[l->n_certs++] = OSSL_STORE_INFO_get1_CERT(info);
		OSSL_STORE_INFO_free(info);
	}
	if (r == 0 && l->n_keys + l->n_certs == before)
		r = ccp_err_set(e, CCP_EINVALID, "decryption key `%s` holds neither a private key nor a certificate", path);
out:
	OSSL_STORE_close(st);
	UI_destroy_method(ui);
	ERR_clear_error();
	return r;
}

int ccp_pkcs7_provider_new(ccp_keyprovider **out, const char *const *paths, const char *const *passwords, size_t n,
			   ccp_err *e)
{
	loaded l = { 0 };
	pkcs7_provider *p = NULL;
	ccp_buf desc = CCP_BUF_INIT(sizeof(p->desc) - 1);
	int r = 0;

	*out = NULL;
	for (size_t i = 0; i < n && r == 0; i++) {
		r = load_file(&l, paths[i], passwords ? passwords[i] : NULL, e);
		ccp_buf_printf(&desc, "%s%.200s", i ? "," : "pkcs7:", paths[i]);
	}
	if (r == 0 && !(p = calloc(1, sizeof(*p))))
		r = ccp_err_oom(e);
	for (size_t k = 0; r == 0 && k < l.n_keys; k++) {
		if (!l.keys[k] || !EVP_PKEY_is_a(l.keys[k], "RSA")) {
			r = ccp_err_set(e, CCP_EINVALID, "pkcs7 decryption keys must be RSA keys (as ocicrypt's)");
			break;
		}
		for (size_t c = 0; c < l.n_certs && p->n < PAIRS_MAX; c++) {
			if (!l.certs[c] || X509_check_private_key(l.certs[c], l.keys[k]) != 1)
				continue;
			if (!X509_up_ref(l.certs[c]) || !EVP_PKEY_up_ref(l.keys[k])) {
				r = ccp_err_oom(e);
				break;
			}
			p->pairs[p->n].cert = l.certs[c];
			p->pairs[p->n++].pkey = l.keys[k];
		}
	}
	ERR_clear_error();
	if (r == 0 && p->n == 0)
		r = ccp_err_set(e, CCP_EINVALID,
				"pkcs7 decryption needs a private key and the X.509 certificate it was encrypted for "
				"(found %zu key%s and %zu certificate%s, none matching): pass both, e.g. "
				"--decryption-key pkcs7:KEY.pem --decryption-key pkcs7:CERT.pem",
				l.n_keys, l.n_keys == 1 ? "" : "s", l.n_certs, l.n_certs == 1 ? "" : "s");
	for (size_t k = 0; k < l.n_keys; k++)
		EVP_PKEY_free(l.keys[k]);
	for (size_t c = 0; c < l.n_certs; c++)
		X509_free(l.certs[c]);
	if (r) {
		if (p)
			pkcs7_free(&p->base);
		ccp_buf_free(&desc);
		return r;
	}
	ccp_keyprovider_init(&p->base, pkcs7_handles, pkcs7_unwrap, pkcs7_free, p->desc);
	snprintf(p->desc, sizeof(p->desc), "%s", desc.data ? desc.data : "pkcs7");
	ccp_buf_free(&desc);
	*out = &p->base;
	return 0;
}
