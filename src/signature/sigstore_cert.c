/*
 * Certificates of sigstore signatures: Fulcio leaves (containers/image signature/fulcio_cert.go), checked
 * at the Rekor integrated time, and PKI leaves (pki_cert.go), checked at the current time.
 */
#include "signature/sigstore.h"

#include <string.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define OID_ISSUER_V1 "1.3.6.1.4.1.57264.1.1"
#define OID_ISSUER_V2 "1.3.6.1.4.1.57264.1.8"

static int only_space(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return 0;
	return 1;
}

int ccp_pem_certs_parse(STACK_OF(X509) **out, const char *data, size_t len, const char *what, ccp_err *e)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *bio = NULL;
	int r = 0;

	*out = NULL;
	if (!sk || len > CCP_SIGSTORE_TRUST_FILE_MAX || !(bio = BIO_new_mem_buf(data, (int)len))) {
		sk_X509_free(sk);
		return len > CCP_SIGSTORE_TRUST_FILE_MAX ? ccp_err_set(e, CCP_EPOLICY, "%s is too large", what) : ccp_err_oom(e);
	}
	/* Every PEM block must be a certificate, and nothing but white space may follow the last. */
	while (!only_space(data + (len - (size_t)BIO_ctrl_pending(bio)), (size_t)BIO_ctrl_pending(bio))) {
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		const unsigned char *p;
		long dlen = 0;
		X509 *x = NULL;

		if (sk_X509_num(sk) >= CCP_SIGSTORE_MAX_CERTS) {
			r = ccp_err_set(e, CCP_EPOLICY, "%s holds more than %d certificates", what, CCP_SIGSTORE_MAX_CERTS);
			break;
		}
		if (PEM_read_bio(bio, &name, &header, &der, &dlen) != 1) {
			r = ccp_err_set(e, CCP_EPOLICY, "%s: error during PEM decoding", what);
			break;
		}
		p = der;
		x = d2i_X509(NULL, &p, dlen);
		if (!x || p != der + dlen || !sk_X509_push(sk, x)) {
			X509_free(x);
			r = ccp_err_set(e, CCP_EPOLICY, "%s: invalid certificate %d", what, sk_X509_num(sk) + 1);
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		if (r)
			break;
	}
	BIO_free(bio);
	if (!r && sk_X509_num(sk) == 0)
		r = ccp_err_set(e, CCP_EPOLICY, "%s: no certificate found", what);
	if (r) {
		sk_X509_pop_free(sk, X509_free);
		return r;
	}
	*out = sk;
	return 0;
}

/* Go treats a certificate as valid up to and including its notAfter second; OpenSSL does not. */
static int at_not_after(int ok, X509_STORE_CTX *ctx)
{
	X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
	X509 *cur = X509_STORE_CTX_get_current_cert(ctx);

	if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_CERT_HAS_EXPIRED && cur &&
	    ASN1_TIME_cmp_time_t(X509_get0_notAfter(cur), X509_VERIFY_PARAM_get_time(vp)) == 0) {
		X509_STORE_CTX_set_error(ctx, X509_V_OK);
		return 1;
	}
	return ok;
}

/* Chain building and code-signing EKU on every certificate that restricts usages (Go's x509 Verify). */
static int verify_chain(X509 *leaf, STACK_OF(X509) *roots, STACK_OF(X509) *untrusted, int64_t t, ccp_err *e)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *chain;
	int r = 0;

	if (!st || !ctx) {
		r = ccp_err_oom(e);
		goto out;
	}
	for (int i = 0; i < sk_X509_num(roots); i++)
		if (!X509_STORE_add_cert(st, sk_X509_value(roots, i))) {
			r = ccp_err_oom(e);
			goto out;
		}
	if (!X509_STORE_CTX_init(ctx, st, leaf, untrusted)) {
		r = ccp_err_oom(e);
		goto out;
	}
	/* Any configured CA is a trust anchor, self-signed or not, as in Go. */
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx), X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), (time_t)t);
	X509_STORE_CTX_set_verify_cb(ctx, at_not_after);
	if (X509_verify_cert(ctx) != 1) {
		r = ccp_err_set(e, CCP_EPOLICY, "verifying leaf certificate failed: %s",
				X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	chain = X509_STORE_CTX_get0_chain(ctx);
	for (int i = 0; i < sk_X509_num(chain); i++) {
		uint32_t xku = X509_get_extended_key_usage(sk_X509_value(chain, i));
		if (xku != UINT32_MAX && !(xku & (XKU_CODE_SIGN | XKU_ANYEKU))) {
			r = ccp_err_set(e, CCP_EPOLICY, "verifying leaf certificate failed: certificate %d of the chain "
					"does not allow code signing", i);
			goto out;
		}
	}
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return r;
}

/* Exactly one leaf certificate; the chain's certificates but its last are added to untrusted. */
static int leaf_and_chain(X509 **leaf, STACK_OF(X509) *untrusted, const char *cert_pem, size_t cert_len,
			  const char *chain_pem, size_t chain_len, ccp_err *e)
{
	STACK_OF(X509) *leaves = NULL, *chain = NULL;
	int r;

	*leaf = NULL;
	if (chain_pem && chain_len) {
		if ((r = ccp_pem_certs_parse(&chain, chain_pem, chain_len, "certificate chain", e)))
			return ccp_err_wrap(e, "loading certificate chain");
		for (int i = 0; i + 1 < sk_X509_num(chain); i++) {
			X509 *x = sk_X509_value(chain, i);
			if (!X509_up_ref(x) || !sk_X509_push(untrusted, x)) {
				sk_X509_pop_free(chain, X509_free);
				return ccp_err_oom(e);
			}
		}
		sk_X509_pop_free(chain, X509_free);
	}
	if ((r = ccp_pem_certs_parse(&leaves, cert_pem, cert_len, "signature certificate", e)))
		return ccp_err_wrap(e, "parsing leaf certificate");
	if (sk_X509_num(leaves) != 1) {
		sk_X509_pop_free(leaves, X509_free);
		return ccp_err_set(e, CCP_EPOLICY, "unexpected multiple certificates present in signature certificate data");
	}
	*leaf = sk_X509_shift(leaves);
	sk_X509_free(leaves);
	return 0;
}

static int has_email(X509 *x, const char *email)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	size_t el = strlen(email);
	int found = 0;

	for (int i = 0; i < sk_GENERAL_NAME_num(names) && !found; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type == GEN_EMAIL && (size_t)ASN1_STRING_length(g->d.rfc822Name) == el &&
		    memcmp(ASN1_STRING_get0_data(g->d.rfc822Name), email, el) == 0)
			found = 1;
	}
	GENERAL_NAMES_free(names);
	return found;
}

/* The OIDC issuer from the v1 (raw bytes) and v2 (DER string) extensions; they must agree. */
static int oidc_issuer(X509 *x, const char *want, ccp_err *e)
{
	ASN1_OBJECT *o1 = OBJ_txt2obj(OID_ISSUER_V1, 1), *o2 = OBJ_txt2obj(OID_ISSUER_V2, 1);
	const unsigned char *v1 = NULL, *v2 = NULL;
	int l1 = -1, l2 = -1, r = 0;
	ASN1_TYPE *t = NULL;

	if (!o1 || !o2) {
		r = ccp_err_oom(e);
		goto out;
	}
	for (int i = 0; i < X509_get_ext_count(x) && !r; i++) {
		X509_EXTENSION *ext = X509_get_ext(x, i);
		const ASN1_OCTET_STRING *val = X509_EXTENSION_get_data(ext);
		if (OBJ_cmp(X509_EXTENSION_get_object(ext), o1) == 0) {
			if (v1)
				r = ccp_err_set(e, CCP_EPOLICY, "Fulcio certificate has a duplicate OIDC issuer v1 extension");
			v1 = ASN1_STRING_get0_data(val);
			l1 = ASN1_STRING_length(val);
		} else if (OBJ_cmp(X509_EXTENSION_get_object(ext), o2) == 0) {
			const unsigned char *p = ASN1_STRING_get0_data(val);
			int len = ASN1_STRING_length(val), ty;
			if (v2) {
				r = ccp_err_set(e, CCP_EPOLICY, "Fulcio certificate has a duplicate OIDC issuer v2 extension");
				break;
			}
			if (!(t = d2i_ASN1_TYPE(NULL, &p, len)) || p != ASN1_STRING_get0_data(val) + len ||
			    ((ty = ASN1_TYPE_get(t)) != V_ASN1_UTF8STRING && ty != V_ASN1_PRINTABLESTRING &&
			     ty != V_ASN1_IA5STRING)) {
				r = ccp_err_set(e, CCP_EPOLICY, "invalid ASN.1 in OIDC issuer v2 extension");
				break;
			}
			v2 = ASN1_STRING_get0_data(t->value.asn1_string);
			l2 = ASN1_STRING_length(t->value.asn1_string);
		}
	}
	if (r)
		goto out;
	if (v1 && v2 && (l1 != l2 || memcmp(v1, v2, (size_t)l1) != 0)) {
		r = ccp_err_set(e, CCP_EPOLICY, "inconsistent OIDC issuer extension values: v1 \"%.*s\", v2 \"%.*s\"",
				l1 > 200 ? 200 : l1, (const char *)v1, l2 > 200 ? 200 : l2, (const char *)v2);
		goto out;
	}
	if (!v1) {
		v1 = v2;
		l1 = l2;
	}
	if (!v1) {
		r = ccp_err_set(e, CCP_EPOLICY, "Fulcio certificate is missing the issuer extension");
		goto out;
	}
	if ((size_t)l1 != strlen(want) || memcmp(v1, want, (size_t)l1) != 0)
		r = ccp_err_set(e, CCP_EPOLICY, "Unexpected Fulcio OIDC issuer \"%.*s\"", l1 > 200 ? 200 : l1,
				(const char *)v1);
out:
	ASN1_TYPE_free(t);
	ASN1_OBJECT_free(o1);
	ASN1_OBJECT_free(o2);
	return r;
}

int ccp_fulcio_verify(STACK_OF(X509) *roots, const char *issuer, const char *email, int64_t t, const char *cert_pem,
		      size_t cert_len, const char *chain_pem, size_t chain_len, EVP_PKEY **key, ccp_err *e)
{
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509 *leaf = NULL;
	int r;

	*key = NULL;
	if (!untrusted)
		return ccp_err_oom(e);
	if ((r = leaf_and_chain(&leaf, untrusted, cert_pem, cert_len, chain_pem, chain_len, e)) ||
	    (r = verify_chain(leaf, roots, untrusted, t, e)) || (r = oidc_issuer(leaf, issuer, e)))
		goto out;
	if (!has_email(leaf, email)) {
		r = ccp_err_set(e, CCP_EPOLICY, "Required email \"%.200s\" not found in the Fulcio certificate", email);
		goto out;
	}
	if (!(*key = X509_get_pubkey(leaf)))
		r = ccp_err_set(e, CCP_EPOLICY, "the Fulcio certificate's public key is not usable");
out:
	X509_free(leaf);
	sk_X509_pop_free(untrusted, X509_free);
	return r;
}

int ccp_pki_verify(STACK_OF(X509) *roots, STACK_OF(X509) *intermediates, const char *email, const char *hostname,
		   int64_t t, const char *cert_pem, size_t cert_len, const char *chain_pem, size_t chain_len,
		   EVP_PKEY **key, ccp_err *e)
{
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509 *leaf = NULL;
	int r = 0;

	*key = NULL;
	if (!untrusted)
		return ccp_err_oom(e);
	for (int i = 0; i < sk_X509_num(intermediates) && !r; i++) {
		X509 *x = sk_X509_value(intermediates, i);
		if (!X509_up_ref(x) || !sk_X509_push(untrusted, x))
			r = ccp_err_oom(e);
	}
	if (r || (r = leaf_and_chain(&leaf, untrusted, cert_pem, cert_len, chain_pem, chain_len, e)) ||
	    (r = verify_chain(leaf, roots, untrusted, t, e)))
		goto out;
	if (email && !has_email(leaf, email)) {
		r = ccp_err_set(e, CCP_EPOLICY, "Required email \"%.200s\" not found in the certificate", email);
		goto out;
	}
	if (hostname) {
		/* Go's VerifyHostname: IP literals against IP SANs, names against DNS SANs only. */
		int ok = X509_check_ip_asc(leaf, hostname, 0);
		if (ok == -2) /* not an IP address */
			ok = X509_check_host(leaf, hostname, strlen(hostname),
					     X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL);
		if (ok != 1) {
			r = ccp_err_set(e, CCP_EPOLICY, "Unexpected subject hostname: the certificate is not valid for "
					"\"%.200s\"", hostname);
			goto out;
		}
	}
	if (!(*key = X509_get_pubkey(leaf)))
		r = ccp_err_set(e, CCP_EPOLICY, "the certificate's public key is not usable");
out:
	X509_free(leaf);
	sk_X509_pop_free(untrusted, X509_free);
	return r;
}
