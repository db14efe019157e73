/*
 * Sealed secrets (src/secret/sealed.c) and the CDH calls of ccpull/cdh.h on an offline resources
 * file: secrets signed here as CDH's `secret` tool signs them (ES256, raw r||s, base64url without
 * padding, header {"alg":"ES256","kid":...}) with the P-256 key of guest-components'
 * hub/src/secret/tests/test-key.json; tampering, wrong keys, other algorithms, malformed parts,
 * unsupported kinds; key files beneath the key directory only; UnWrapKey of a CoCo annotation packet.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "ccpull/ccpull.h"
#include "secret/sealed.h"
#include "util/b64.h"
#include "util/fs.h"
#include "test.h"

/* guest-components confidential-data-hub/hub/src/secret/tests/test-key.json */
#define KEY_D "7baJLiTk68NcLgYPv05jJvElqoAhbzi1ZWx4OyILUtA"
#define KEY_X "QT3_slJmispaOwnAo6hxebXGLRuiveFuRCLpS4j4S4k"
#define KEY_Y "jcDn4N4nRBQ-a7_D3qjqtb6hwOAXh_ve1wvibPSi1G0"
static const char jwk_pub[] = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" KEY_X "\",\"y\":\"" KEY_Y "\"}";
static const char jwk_priv[] = "{\"kty\":\"EC\",\"d\":\"" KEY_D "\",\"use\":\"sig\",\"crv\":\"P-256\",\"kid\":\"test-key\","
			       "\"x\":\"" KEY_X "\",\"y\":\"" KEY_Y "\",\"alg\":\"ES256\"}";

static char dir[] = "/tmp/ccpull-test-sealed.XXXXXX";
static EVP_PKEY *signer, *other;

static void b64u(char *out, size_t outlen, const void *data, size_t len)
{
	char *s = NULL;
	size_t j = 0;

	CHECK(ccp_b64_encode(&s, data, len) == 0);
	for (size_t i = 0; s && s[i] && j + 1 < outlen; i++) {
		if (s[i] == '=')
			break;
		out[j++] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
	}
	out[j] = '\0';
	free(s);
}

static EVP_PKEY *key_from_d(const char *d_b64u)
{
	ccp_buf d = CCP_BUF_INIT(0);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pk = NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	BIGNUM *priv;
	unsigned char pub[65];
	ccp_buf x = CCP_BUF_INIT(0), y = CCP_BUF_INIT(0);

	CHECK(ccp_b64_decode(&d, d_b64u, strlen(d_b64u), 1) == 0);
	CHECK(ccp_b64_decode(&x, KEY_X, strlen(KEY_X), 1) == 0);
	CHECK(ccp_b64_decode(&y, KEY_Y, strlen(KEY_Y), 1) == 0);
	pub[0] = 4;
	memcpy(pub + 1, x.data, 32);
	memcpy(pub + 33, y.data, 32);
	priv = BN_bin2bn((unsigned char *)d.data, (int)d.len, NULL);
	CHECK(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0));
	CHECK(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv));
	CHECK(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)));
	params = OSSL_PARAM_BLD_to_param(bld);
	CHECK(EVP_PKEY_fromdata_init(ctx) == 1 && EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_KEYPAIR, params) == 1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(priv);
	EVP_PKEY_CTX_free(ctx);
	ccp_buf_free(&d);
	ccp_buf_free(&x);
	ccp_buf_free(&y);
	return pk;
}

/* "sealed." b64u(header) "." b64u(payload) "." b64u(ES256 r||s over the first two), in out. */
static void seal(char *out, size_t outlen, EVP_PKEY *key, const char *header, const char *payload)
{
	char h[2048], p[4096], s[200], input[6200];
	unsigned char *der = NULL, raw[64] = { 0 };
	const unsigned char *q;
	size_t der_len = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ECDSA_SIG *es;

	b64u(h, sizeof(h), header, strlen(header));
	b64u(p, sizeof(p), payload, strlen(payload));
	snprintf(input, sizeof(input), "%s.%s", h, p);
	CHECK(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1);
	CHECK(EVP_DigestSign(md, NULL, &der_len, (unsigned char *)input, strlen(input)) == 1);
	der = malloc(der_len);
	CHECK(EVP_DigestSign(md, der, &der_len, (unsigned char *)input, strlen(input)) == 1);
	q = der;
	es = d2i_ECDSA_SIG(NULL, &q, (long)der_len);
	CHECK(es != NULL);
	BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
	BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
	b64u(s, sizeof(s), raw, sizeof(raw));
	snprintf(out, outlen, "sealed.%s.%s", input, s);
	ECDSA_SIG_free(es);
	free(der);
	EVP_MD_CTX_free(md);
}

static const char vault_kbs[] = "{\"version\":\"0.1.0\",\"type\":\"vault\",\"name\":\"kbs:///default/secret/one\","
				"\"provider\":\"kbs\",\"provider_settings\":{},\"annotations\":{}}";

static void header(char *out, size_t n, const char *alg, const char *kid)
{
	snprintf(out, n, "{\"alg\":\"%s\",\"kid\":\"%s\"}", alg, kid);
}

static void test_parse_verify(void)
{
	char sec[8192], hdr[256], bad[8192];
	ccp_sealed s;
	ccp_err e = CCP_ERR_INIT;

	header(hdr, sizeof(hdr), "ES256", "test-key");
	seal(sec, sizeof(sec), signer, hdr, vault_kbs);
	CHECK(ccp_sealed_parse(&s, sec, strlen(sec), 1, &e) == 0);
	CHECK_STR(s.alg, "ES256");
	CHECK_STR(s.kid, "test-key");
	CHECK(s.type == CCP_SEALED_VAULT);
	CHECK_STR(s.provider, "kbs");
	CHECK_STR(s.name, "kbs:///default/secret/one");
	CHECK(ccp_sealed_verify(&s, jwk_pub, strlen(jwk_pub), &e) == 0);
	/* the private JWK, as the upstream tests provision it, verifies too (d is ignored) */
	CHECK(ccp_sealed_verify(&s, jwk_priv, strlen(jwk_priv), &e) == 0);
	ccp_sealed_free(&s);

	/* tampering with the header, the payload or the signature (as upstream's check_tampering) */
	for (size_t off = 10; off < strlen(sec); off += 7) {
		int r;
		if (sec[off] == '.')
			continue;
		memcpy(bad, sec, strlen(sec) + 1);
		bad[off] = bad[off] == 'X' ? 'Y' : 'X';
		r = ccp_sealed_parse(&s, bad, strlen(bad), 1, &e);
		if (r == 0) {
			r = ccp_sealed_verify(&s, jwk_pub, strlen(jwk_pub), &e);
			CHECK(r == CCP_EPOLICY);
			ccp_sealed_free(&s);
		} else {
			CHECK(r == CCP_EINVALID);
		}
		CHECK(r != 0);
	}

	/* signed by another key (upstream's check_wrong_key) */
	seal(bad, sizeof(bad), other, hdr, vault_kbs);
	CHECK(ccp_sealed_parse(&s, bad, strlen(bad), 1, &e) == 0);
	CHECK(ccp_sealed_verify(&s, jwk_pub, strlen(jwk_pub), &e) == CCP_EPOLICY);
	CHECK(strstr(e.msg, "does not verify") != NULL);
	ccp_sealed_free(&s);

	/* another algorithm: refused whatever the signature */
	header(hdr, sizeof(hdr), "HS256", "test-key");
	seal(bad, sizeof(bad), signer, hdr, vault_kbs);
	CHECK(ccp_sealed_parse(&s, bad, strlen(bad), 1, &e) == 0);
	CHECK(ccp_sealed_verify(&s, jwk_pub, strlen(jwk_pub), &e) == CCP_EPOLICY);
	CHECK(strstr(e.msg, "ES256") != NULL);
	ccp_sealed_free(&s);
	/* keys that are not EC P-256, or not on the curve */
	header(hdr, sizeof(hdr), "ES256", "test-key");
	seal(sec, sizeof(sec), signer, hdr, vault_kbs);
	CHECK(ccp_sealed_parse(&s, sec, strlen(sec), 1, &e) == 0);
	{
		static const char *const keys[] = {
			"{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}",
			"{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" KEY_X "\",\"y\":\"" KEY_Y "\"}",
			"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" KEY_X "\",\"y\":\"" KEY_X "\"}",
			"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" KEY_X "\"}",
			"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"" KEY_Y "\"}",
			"not json",
			"[]",
		};
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			CHECK(ccp_sealed_verify(&s, keys[i], strlen(keys[i]), &e) == CCP_EPOLICY);
	}
	ccp_sealed_free(&s);
}

static void expect_malformed(const char *sec, int verify, const char *needle)
{
	ccp_sealed s;
	ccp_err e = CCP_ERR_INIT;

	CHECK(ccp_sealed_parse(&s, sec, strlen(sec), verify, &e) == CCP_EINVALID);
	if (!strstr(e.msg, needle))
		fprintf(stderr, "message \"%s\" lacks \"%s\"\n", e.msg, needle);
	CHECK(strstr(e.msg, needle) != NULL);
	CHECK(s.kid == NULL && s.name == NULL && s.provider == NULL);
}

static void test_malformed(void)
{
	char sec[8192], hdr[256], p[4096];
	ccp_sealed s;
	ccp_err e = CCP_ERR_INIT;

	header(hdr, sizeof(hdr), "ES256", "test-key");
	seal(sec, sizeof(sec), signer, hdr, vault_kbs);
	expect_malformed(sec + 1, 1, "sealed.");
	expect_malformed("sealed.abc.def", 1, "found 2 parts");
	expect_malformed("sealed.a.b.c.d", 0, "more parts");
	expect_malformed("sealed.", 1, "found 1 part");
	expect_malformed("sealed.e30.e30=.AAAA", 0, "payload is not base64url");
	expect_malformed("sealed.!!.e30.AAAA", 1, "header is not base64url");
	/* the header must name a key; crit is refused */
	b64u(p, sizeof(p), vault_kbs, strlen(vault_kbs));
	{
		char h[512], t[8192];
		static const char *const hs[] = { "{\"alg\":\"ES256\"}", "{\"alg\":\"ES256\",\"kid\":\"\"}",
						  "{\"alg\":\"ES256\",\"kid\":\"k\",\"crit\":[\"x\"]}", "[1]",
						  "{\"kid\":\"k\"}", "{\"alg\":\"ES256\",\"kid\":7}" };
		for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
			b64u(h, sizeof(h), hs[i], strlen(hs[i]));
			snprintf(t, sizeof(t), "sealed.%s.%s.AAAA", h, p);
			expect_malformed(t, 1, "header");
			/* without verification the header is not read (CDH's "fake headers") */
			CHECK(ccp_sealed_parse(&s, t, strlen(t), 0, &e) == 0);
			CHECK(s.kid == NULL && s.type == CCP_SEALED_VAULT);
			ccp_sealed_free(&s);
		}
		/* a signature longer than ES256's */
		memset(t, 'A', 200);
		t[200] = '\0';
		snprintf(sec, sizeof(sec), "sealed.%s.%s.%s", h, p, t);
	}
	/* payloads */
	{
		static const struct { const char *json, *needle; } ps[] = {
			{ "{\"version\":\"0.2.0\",\"type\":\"vault\",\"name\":\"n\",\"provider\":\"kbs\",\"provider_settings\":{}}",
			  "version" },
			{ "{\"type\":\"vault\",\"name\":\"n\",\"provider\":\"kbs\",\"provider_settings\":{}}", "version" },
			{ "{\"version\":\"0.1.0\",\"type\":\"box\",\"provider\":\"kbs\"}", "type" },
			{ "{\"version\":\"0.1.0\",\"type\":\"vault\",\"provider\":\"kbs\",\"provider_settings\":{}}", "name" },
			{ "{\"version\":\"0.1.0\",\"type\":\"vault\",\"name\":\"n\",\"provider_settings\":{}}", "provider" },
			{ "{\"version\":\"0.1.0\",\"type\":\"vault\",\"name\":\"n\",\"provider\":\"kbs\"}", "provider_settings" },
			{ "{\"version\":\"0.1.0\",\"type\":\"vault\",\"name\":\"n\",\"provider\":\"kbs\",\"provider_settings\":{},"
			  "\"annotations\":[]}", "annotations" },
			{ "{\"version\":\"0.1.0\",\"version\":\"0.1.0\",\"type\":\"vault\"}", "duplicate" },
			{ "[]", "not a JSON object" },
			{ "", "sealed secret" },
		};
		for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
			char t[8192];
			seal(t, sizeof(t), signer, hdr, ps[i].json);
			expect_malformed(t, 1, ps[i].needle);
			expect_malformed(t, 0, ps[i].needle);
		}
	}
	/* an envelope is recognised (then refused by the caller) */
	{
		char t[8192];
		seal(t, sizeof(t), signer, hdr, "{\"version\":\"0.1.0\",\"type\":\"envelope\",\"provider\":\"aliyun\","
			"\"key_id\":\"xxx\",\"encrypted_key\":\"yyy\",\"encrypted_data\":\"zzz\",\"wrap_type\":\"A256GCM\","
			"\"iv\":\"www\",\"provider_settings\":{},\"annotations\":{}}");
		CHECK(ccp_sealed_parse(&s, t, strlen(t), 1, &e) == 0);
		CHECK(s.type == CCP_SEALED_ENVELOPE);
		CHECK_STR(s.key_id, "xxx");
		ccp_sealed_free(&s);
	}
}

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(s, f);
		fclose(f);
	}
}

/* ccp_secret_unseal / ccp_resource_get / ccp_key_unwrap against an offline resources file */
static void test_calls(void)
{
	char path[768], keys[256], res[4096], sec[8192], hdr[600], *s64 = NULL;
	ccp_pull_options o = CCP_PULL_OPTIONS_INIT;
	ccp_secret_options so = CCP_SECRET_OPTIONS_INIT;
	ccp_context *ctx = NULL;
	unsigned char *out = NULL;
	size_t len = 0;

	CHECK(ccp_context_new(&ctx) == 0);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	CHECK(mkdir(keys, 0700) == 0);
	snprintf(path, sizeof(path), "%s/sub", keys);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/test-key", keys);
	write_file(path, jwk_priv);
	snprintf(path, sizeof(path), "%s/sub/pub", keys);
	write_file(path, jwk_pub);
	snprintf(path, sizeof(path), "%s/outside", dir);
	write_file(path, jwk_pub);
	snprintf(path, sizeof(path), "%s/escape", keys);
	CHECK(symlink("../outside", path) == 0);
	snprintf(path, sizeof(path), "%s/inside", keys);
	CHECK(symlink("sub/pub", path) == 0);

	CHECK(ccp_b64_encode(&s64, jwk_pub, strlen(jwk_pub)) == 0);
	snprintf(res, sizeof(res), "{\"default/secret/one\": \"U0VDUkVU\", \"default/sign/pub\": \"%s\", "
		 "\"default/empty/e\": \"\"}", s64);
	free(s64);
	snprintf(path, sizeof(path), "%s/resources.json", dir);
	write_file(path, res);
	o.kbs.resources = path;
	so.keys_dir = keys;

	/* GetResource */
	CHECK(ccp_resource_get(&out, &len, ctx, "kbs:///default/secret/one", &o) == 0);
	CHECK(len == 6 && out && memcmp(out, "SECRET", 6) == 0);
	ccp_cdh_free(out, len);
	CHECK(ccp_resource_get(&out, &len, ctx, "kbs://kbs.example:8080/default/secret/one", &o) == 0);
	ccp_cdh_free(out, len);
	out = NULL;
	CHECK(ccp_resource_get(&out, &len, ctx, "kbs:///default/empty/e", &o) == 0);
	CHECK(out != NULL && len == 0);
	ccp_cdh_free(out, len);
	out = NULL;
	CHECK(ccp_resource_get(&out, &len, ctx, "kbs:///default/secret/two", &o) == CCP_EDECRYPT);
	CHECK(out == NULL);
	CHECK(strstr(ccp_context_last_error(ctx), "default/secret/two") != NULL);
	CHECK(ccp_resource_get(&out, &len, ctx, "kbs+pkcs11:///default/secret/one", &o) == CCP_EINVALID);
	CHECK(strstr(ccp_context_last_error(ctx), "kbs+NAME") != NULL);
	CHECK(ccp_resource_get(&out, &len, ctx, "kbs:///default/secret/one?x=1", &o) == CCP_EINVALID);
	CHECK(ccp_resource_get(&out, &len, ctx, "kbs:///default/secret", &o) == CCP_EINVALID);
	CHECK(ccp_resource_get(&out, &len, ctx, "kbs:///default/../one", &o) == CCP_EINVALID);
	CHECK(ccp_resource_get(&out, &len, ctx, "/default/secret/one", &o) == CCP_EINVALID);
	CHECK(ccp_resource_get(&out, &len, ctx, "kbs:///default/secret/one", NULL) == CCP_EINVALID);
	CHECK(strstr(ccp_context_last_error(ctx), "--kbs") != NULL);
	CHECK(out == NULL);

	/* UnsealSecret: key files, beneath the directory only */
	{
		static const struct { const char *kid; int want; } kids[] = {
			{ "test-key", 0 }, { "sub/pub", 0 }, { "inside", 0 }, { "kbs:///default/sign/pub", 0 },
			{ "escape", CCP_EPOLICY }, { "../outside", CCP_EPOLICY }, { "/etc/passwd", CCP_EPOLICY },
			{ "missing", CCP_EPOLICY }, { "sub", CCP_EPOLICY }, { "kbs:///default/sign/missing", CCP_EDECRYPT },
			{ "kbs:///default/secret/one", CCP_EPOLICY }, /* not a JWK */
		};
		for (size_t i = 0; i < sizeof(kids) / sizeof(kids[0]); i++) {
			int r;
			header(hdr, sizeof(hdr), "ES256", kids[i].kid);
			seal(sec, sizeof(sec), signer, hdr, vault_kbs);
			out = NULL;
			r = ccp_secret_unseal(&out, &len, ctx, sec, strlen(sec), &so, &o);
			if (r != kids[i].want)
				fprintf(stderr, "kid %s: %d %s\n", kids[i].kid, r, ccp_context_last_error(ctx));
			CHECK(r == kids[i].want);
			if (r == 0)
				CHECK(len == 6 && out && memcmp(out, "SECRET", 6) == 0);
			else
				CHECK(out == NULL);
			ccp_cdh_free(out, len);
		}
	}
	/* a bad signature; then the same with verification skipped */
	header(hdr, sizeof(hdr), "ES256", "test-key");
	seal(sec, sizeof(sec), other, hdr, vault_kbs);
	CHECK(ccp_secret_unseal(&out, &len, ctx, sec, strlen(sec), &so, &o) == CCP_EPOLICY);
	so.skip_verification = 1;
	out = NULL;
	CHECK(ccp_secret_unseal(&out, &len, ctx, sec, strlen(sec), &so, &o) == 0);
	CHECK(len == 6 && out && memcmp(out, "SECRET", 6) == 0);
	ccp_cdh_free(out, len);
	so.skip_verification = 0;
	/* unsupported kinds, named */
	{
		static const struct { const char *json, *needle; } ps[] = {
			{ "{\"version\":\"0.1.0\",\"type\":\"envelope\",\"provider\":\"aliyun\",\"key_id\":\"k\"}", "envelope" },
			{ "{\"version\":\"0.1.0\",\"type\":\"vault\",\"name\":\"xxx\",\"provider\":\"aliyun\","
			  "\"provider_settings\":{}}", "aliyun" },
			{ "{\"version\":\"0.1.0\",\"type\":\"vault\",\"name\":\"xxx\",\"provider\":\"kbs\","
			  "\"provider_settings\":{}}", "kbs:///" },
		};
		for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
			seal(sec, sizeof(sec), signer, hdr, ps[i].json);
			out = NULL;
			CHECK(ccp_secret_unseal(&out, &len, ctx, sec, strlen(sec), &so, &o) == CCP_EINVALID);
			CHECK(strstr(ccp_context_last_error(ctx), ps[i].needle) != NULL);
			CHECK(out == NULL);
		}
	}
	CHECK(ccp_secret_unseal(&out, &len, ctx, "sealed.x", 8, &so, &o) == CCP_EINVALID);
	so.version = 7;
	CHECK(ccp_secret_unseal(&out, &len, ctx, sec, strlen(sec), &so, &o) == CCP_EINVALID);

	/* UnWrapKey: a coco_keyprovider packet (A256GCM) whose KEK is an offline resource */
	{
		static const char opts_json[] = "{\"symkey\":\"AAAA\",\"cipheroptions\":{\"nonce\":\"BBBB\"}}";
		unsigned char kek[32], iv[12], ct[sizeof(opts_json) + 16];
		char *kek64 = NULL, *iv64 = NULL, *ct64 = NULL, *pkt64 = NULL, pkt[1024], input[2048], want[1024];
		EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
		int n = 0, f = 0;
		size_t w = 0;

		CHECK(RAND_bytes(kek, sizeof(kek)) == 1 && RAND_bytes(iv, sizeof(iv)) == 1);
		CHECK(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, kek, iv) == 1);
		CHECK(EVP_EncryptUpdate(c, ct, &n, (const unsigned char *)opts_json, (int)strlen(opts_json)) == 1);
		CHECK(EVP_EncryptFinal_ex(c, ct + n, &f) == 1);
		CHECK(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, ct + n + f) == 1);
		EVP_CIPHER_CTX_free(c);
		CHECK(ccp_b64_encode(&kek64, kek, sizeof(kek)) == 0 && ccp_b64_encode(&iv64, iv, sizeof(iv)) == 0 &&
		      ccp_b64_encode(&ct64, ct, (size_t)(n + f + 16)) == 0);
		snprintf(res, sizeof(res), "{\"default/image-kek/k1\": \"%s\"}", kek64);
		write_file(o.kbs.resources, res);
		snprintf(pkt, sizeof(pkt), "{\"kid\":\"kbs:///default/image-kek/k1\",\"wrapped_data\":\"%s\",\"iv\":\"%s\","
			 "\"wrap_type\":\"A256GCM\"}", ct64, iv64);
		CHECK(ccp_b64_encode(&pkt64, pkt, strlen(pkt)) == 0);
		snprintf(input, sizeof(input), "{\"op\":\"keyunwrap\",\"keywrapparams\":{\"ec\":null,\"optsdata\":null},"
			 "\"keyunwrapparams\":{\"dc\":{\"Parameters\":{\"attestation-agent\":[\"YWdlbnQ=\"]}},"
			 "\"annotation\":\"%s\"}}", pkt64);
		w = (size_t)snprintf(want, sizeof(want), "{\"keyunwrapresults\":{\"optsdata\":[");
		for (size_t i = 0; i < strlen(opts_json); i++)
			w += (size_t)snprintf(want + w, sizeof(want) - w, "%s%u", i ? "," : "", (unsigned char)opts_json[i]);
		snprintf(want + w, sizeof(want) - w, "]}}");
		out = NULL;
		CHECK(ccp_key_unwrap(&out, &len, ctx, input, strlen(input), &o) == 0);
		CHECK(out && len == strlen(want) && memcmp(out, want, len) == 0);
		ccp_cdh_free(out, len);
		/* malformed input, another op, a KEK that does not open it, no source */
		out = NULL;
		CHECK(ccp_key_unwrap(&out, &len, ctx, "{}", 2, &o) == CCP_EINVALID);
		CHECK(ccp_key_unwrap(&out, &len, ctx, "{\"op\":\"keywrap\",\"keyunwrapparams\":{\"annotation\":\"e30=\"}}",
				     56, &o) == CCP_EINVALID);
		CHECK(ccp_key_unwrap(&out, &len, ctx, "{\"keyunwrapparams\":{\"annotation\":\"!!\"}}", 39, &o) ==
		      CCP_EINVALID);
		CHECK(ccp_key_unwrap(&out, &len, ctx, "{\"keyunwrapparams\":{\"annotation\":\"e30=\"}}", 41, &o) ==
		      CCP_EDECRYPT);
		CHECK(ccp_key_unwrap(&out, &len, ctx, input, strlen(input), NULL) == CCP_EINVALID);
		snprintf(res, sizeof(res), "{\"default/image-kek/k1\": \"%s\"}",
			 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
		write_file(o.kbs.resources, res);
		CHECK(ccp_key_unwrap(&out, &len, ctx, input, strlen(input), &o) == CCP_EDECRYPT);
		CHECK(strstr(ccp_context_last_error(ctx), "default/image-kek/k1") != NULL);
		CHECK(out == NULL);
		free(kek64);
		free(iv64);
		free(ct64);
		free(pkt64);
	}
	ccp_context_free(ctx);
}

int main(void)
{
	CHECK(ccp_init() == 1);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	signer = key_from_d(KEY_D);
	{
		EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		CHECK(EVP_PKEY_keygen_init(kc) == 1 && EVP_PKEY_CTX_set_group_name(kc, "prime256v1") == 1 &&
		      EVP_PKEY_keygen(kc, &other) == 1);
		EVP_PKEY_CTX_free(kc);
	}
	test_parse_verify();
	test_malformed();
	test_calls();
	EVP_PKEY_free(signer);
	EVP_PKEY_free(other);
	if (ccp_rm_rf_at(AT_FDCWD, dir) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	CHECK(ccp_shutdown() == 0);
	return test_summary();
}
