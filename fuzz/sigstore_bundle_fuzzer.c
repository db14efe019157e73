/*
 * Fuzzes a Sigstore bundle as the policy sees it: the bundle parser, then verification with the trust of
 * testdata/sigstore-bundle (the key and the Fulcio CA that signed its bundles, the Rekor key of their log).
 * Oracle: whatever is accepted carries the one statement those keys signed (a fuzzer cannot forge ECDSA),
 * and every parsed bundle keeps its bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <openssl/evp.h>

#include "signature/sigstore_bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char key_pub[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEctck2JR9w8nqXOkQE9zLAcTGxq6+\n"
	"RBMRoQ8iJbph/mG+HlVCUhFaWyG8aqDALQDTa+vivfZNt4Juzgc+LD95kg==\n"
	"-----END PUBLIC KEY-----\n";
static const char rekor_pub[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEBIuckeF1DZ7svnt4DaKBbD7j7WcQ\n"
	"rr7U1Zh91U7H6OQd90jFcltvGC3gB6yqOGFtGBuqSxdejQR/7sz4k+Nqew==\n"
	"-----END PUBLIC KEY-----\n";
static const char fulcio_ca[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBaTCCAQ+gAwIBAgIBATAKBggqhkjOPQQDAjAqMRIwEAYDVQQDEwlnb29kIHJv\n"
	"b3QxFDASBgNVBAoTC2NjcHVsbCB0ZXN0MB4XDTI1MTIwMzEzMzgwMloXDTI3MTIw\n"
	"MzEzMzgwMlowKjESMBAGA1UEAxMJZ29vZCByb290MRQwEgYDVQQKEwtjY3B1bGwg\n"
	"dGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABK23E6dou3J9wKlnprEsLXhs\n"
	"Gu+H/TBiT/B6CvUmHdtHLBXLE0vihm/vY9Q7RYJt5Epy4Q6wcA0RCqw/+ID0jHyj\n"
	"JjAkMBIGA1UdEwEB/wQIMAYBAf8CAQEwDgYDVR0PAQH/BAQDAgEGMAoGCCqGSM49\n"
	"BAMCA0gAMEUCIQCQAouj33j2XYGO8Y2prPAqwLE3BT+8rC/BYUafOFYaXAIgCsbb\n"
	"1wbHqvNhQLEuHy8PgowYizNfAQ/1OkBljWQAF9Q=\n"
	"-----END CERTIFICATE-----\n"
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBhjCCASygAwIBAgIBAjAKBggqhkjOPQQDAjAqMRIwEAYDVQQDEwlnb29kIHJv\n"
	"b3QxFDASBgNVBAoTC2NjcHVsbCB0ZXN0MB4XDTI1MTIwMzEzMzgwMloXDTI3MTIw\n"
	"MzEzMzgwMlowMjEaMBgGA1UEAxMRZ29vZCBpbnRlcm1lZGlhdGUxFDASBgNVBAoT\n"
	"C2NjcHVsbCB0ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEnzAED4SOlHfY\n"
	"ouj2IeGtn8CXcPQs+1it5XawPkBYXWDxddNLAr4NN1Mc7ltQ0Xp+IRbYGcdenEaf\n"
	"6MUwC0kNhqM7MDkwEgYDVR0TAQH/BAgwBgEB/wIBADAOBgNVHQ8BAf8EBAMCAQYw\n"
	"EwYDVR0lBAwwCgYIKwYBBQUHAwMwCgYIKoZIzj0EAwIDSAAwRQIgYB0DgvTtzSy/\n"
	"7uRoeRZ1yY8ev81l34mnyqNqXwz9QbMCIQDSitvdJyEfD9B5YTi6SGc/R1LbV0+z\n"
	"RYINhrVnDfhRAQ==\n"
	"-----END CERTIFICATE-----\n";
/* sha256 of the statement both fixture bundles sign */
static const unsigned char signed_statement[32] = {
	0x3a, 0xf5, 0xff, 0xd8, 0xbf, 0x59, 0x18, 0x89, 0x6a, 0x9f, 0x5a, 0x6e,
	0x08, 0x06, 0x87, 0x71, 0xf5, 0x91, 0x88, 0xf5, 0x9b, 0x18, 0x3e, 0xa9,
	0x83, 0xb4, 0x63, 0xa7, 0x69, 0x1a, 0x15, 0x1b
};

static ccp_sigstore_trust *load(const char *key, const char *ca)
{
	ccp_sigstore_src k = { NULL, CCP_BUF_INIT(0) }, rk = { NULL, CCP_BUF_INIT(0) };
	ccp_sigstore_policy pol;
	ccp_sigstore_trust *t = NULL;
	ccp_err e = CCP_ERR_INIT;

	memset(&pol, 0, sizeof(pol));
	ccp_buf_puts(&rk.data, rekor_pub);
	pol.rekor_keys = &rk;
	pol.n_rekor_keys = 1;
	if (key) {
		ccp_buf_puts(&k.data, key);
		pol.keys = &k;
		pol.n_keys = 1;
	}
	if (ca) {
		pol.has_fulcio = 1;
		ccp_buf_puts(&pol.fulcio_ca.data, ca);
		pol.fulcio_issuer = (char *)"https://issuer.example.com";
		pol.fulcio_email = (char *)"signer@example.com";
	}
	if (ccp_sigstore_trust_load(&t, &pol, &e))
		__builtin_trap();
	ccp_buf_free(&k.data);
	ccp_buf_free(&rk.data);
	ccp_buf_free(&pol.fulcio_ca.data);
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ccp_sigstore_trust *by_key, *by_fulcio;
	ccp_err e = CCP_ERR_INIT;
	ccp_bundle b;
	ccp_intoto st;

	if (size > CCP_BUNDLE_MAX)
		return 0;
	if (!by_key) {
		by_key = load(key_pub, NULL);
		by_fulcio = load(NULL, fulcio_ca);
	}
	if (ccp_bundle_parse(&b, data, size, &e) != 0)
		return 0;
	if (b.n_tlog > CCP_BUNDLE_MAX_TLOG || b.sig.len == 0 || !b.payload_type || !b.sig_b64)
		__builtin_trap();
	for (size_t i = 0; i < b.n_tlog; i++)
		if (b.tlog[i].has_proof && (b.tlog[i].root_hash.len != 32 || b.tlog[i].n_hashes > CCP_BUNDLE_MAX_PROOF_HASHES ||
					    b.tlog[i].hashes.len != 32 * b.tlog[i].n_hashes))
			__builtin_trap();
	for (int k = 0; k < 2; k++) {
		if (ccp_bundle_verify(k ? by_fulcio : by_key, &b, 0, &st, &e) == 0) {
			unsigned char h[32];
			if (!EVP_Digest(b.payload.data, b.payload.len, h, NULL, EVP_sha256(), NULL) ||
			    memcmp(h, signed_statement, 32) != 0 || st.n_subjects == 0)
				__builtin_trap();
			ccp_intoto_free(&st);
		}
	}
	ccp_bundle_free(&b);
	return 0;
}
