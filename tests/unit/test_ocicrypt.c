/* ocicrypt: JWE vectors (testdata/mkjwe.py), the AES-CTR + HMAC stream, annotations, key options,
 * the keyring, the keyprovider protocol and cmd transport, and decryption in the layer pipeline. */
#include "ccpull/ccpull.h"
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <zstd.h>

#include "layer/layer.h"
#include "ocicrypt/ocicrypt.h"
#include "tar_build.h"
#include "test.h"

static char g_dir[512];  /* testdata/ocicrypt */
static char g_tmp[256];

static ccp_buf slurp(const char *name)
{
	char p[1024];
	ccp_buf b = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;

	snprintf(p, sizeof(p), "%s/%s", g_dir, name);
	if (ccp_read_file(&b, p, 1u << 20, &e)) {
		fprintf(stderr, "cannot read %s: %s\n", p, e.msg);
		exit(1);
	}
	return b;
}

static char *path_of(const char *name)
{
	static char p[8][1024];
	static int i;
	i = (i + 1) % 8;
	snprintf(p[i], sizeof(p[i]), "%s/%s", g_dir, name);
	return p[i];
}

/* Decrypts vector with key file (optionally password): returns the code, checks the plaintext. */
static int jwe_with(const char *vector, const char *key, const char *password)
{
	ccp_buf jwe = slurp(vector), want = slurp("plain.json");
	ccp_keyprovider *kp = NULL;
	ccp_err e = CCP_ERR_INIT;
	unsigned char *out = NULL;
	size_t len = 0;
	char err[512] = "";
	int r;

	if ((r = ccp_jwe_provider_new(&kp, path_of(key), password, &e))) {
		fprintf(stderr, "  (key %s: %s)\n", key, e.msg);
		goto out;
	}
	r = kp->unwrap(kp, "jwe", (unsigned char *)jwe.data, jwe.len, "{\"Parameters\":{}}", &out, &len, err,
		       sizeof(err));
	if (r == 0)
		CHECK(len == want.len && memcmp(out, want.data, len) == 0);
	else
		fprintf(stderr, "  (%s with %s: %s)\n", vector, key, err);
	kp->free(kp);
out:
	free(out);
	ccp_buf_free(&jwe);
	ccp_buf_free(&want);
	return r;
}

static void test_jwe(void)
{
	CHECK(jwe_with("rsa_oaep_flat.jwe", "rsa.pem", NULL) == 0);
	CHECK(jwe_with("rsa_oaep256_compact.jwe", "rsa.pem", NULL) == 0);
	CHECK(jwe_with("ecdh_p256_flat.jwe", "ec_p256.pem", NULL) == 0);
	CHECK(jwe_with("ecdh_p384_compact.jwe", "ec_p384.pem", NULL) == 0);
	CHECK(jwe_with("ecdh_p521_flat.jwe", "ec_p521.pem", NULL) == 0);
	CHECK(jwe_with("ecdh_p256_apu_compact.jwe", "ec_p256.pem", NULL) == 0);
	/* Each recipient of a general serialization. */
	CHECK(jwe_with("multi_general.jwe", "rsa_other.pem", NULL) == 0);
	CHECK(jwe_with("multi_general.jwe", "ec_p384.pem", NULL) == 0);
	CHECK(jwe_with("multi_general.jwe", "rsa.pem", NULL) == 0);
	CHECK(jwe_with("multi_gojose.jwe", "ec_p384.pem", NULL) == 0);
	/* Key formats: DER, encrypted PKCS#8 with its password (pass= and literal). */
	CHECK(jwe_with("rsa_oaep_flat.jwe", "rsa.der", NULL) == 0);
	CHECK(jwe_with("rsa_oaep_flat.jwe", "rsa_pass.pem", "s3cret") == 0);
	CHECK(jwe_with("rsa_oaep_flat.jwe", "rsa_pass.pem", NULL) == CCP_EINVALID);
	CHECK(jwe_with("rsa_oaep_flat.jwe", "rsa_pass.pem", "wrong") == CCP_EINVALID);
	CHECK(jwe_with("rsa_oaep_flat.jwe", "plain.json", NULL) == CCP_EINVALID);
	/* Wrong keys: another RSA key, another curve, a key of the other type. */
	CHECK(jwe_with("rsa_oaep_flat.jwe", "rsa_other.pem", NULL) == CCP_EDECRYPT);
	CHECK(jwe_with("ecdh_p384_compact.jwe", "ec_p256.pem", NULL) == CCP_EDECRYPT);
	CHECK(jwe_with("ecdh_p256_flat.jwe", "rsa.pem", NULL) == CCP_EDECRYPT);
	CHECK(jwe_with("multi_general.jwe", "ec_p521.pem", NULL) == CCP_EDECRYPT);
	/* Algorithms outside the supported set. */
	CHECK(jwe_with("a128gcm_compact.jwe", "rsa.pem", NULL) == CCP_EDECRYPT);
	CHECK(jwe_with("ecdh_direct_compact.jwe", "ec_p256.pem", NULL) == CCP_EDECRYPT);
}

/* Tampering: every part of a JWE is authenticated or keyed. */
static void test_jwe_tamper(void)
{
	const char *names[] = { "rsa_oaep256_compact.jwe", "ecdh_p384_compact.jwe" };
	const char *keys[] = { "rsa.pem", "ec_p384.pem" };

	for (int v = 0; v < 2; v++) {
		ccp_buf jwe = slurp(names[v]);
		ccp_keyprovider *kp = NULL;
		ccp_err e = CCP_ERR_INIT;
		size_t dots[4], nd = 0;

		CHECK(ccp_jwe_provider_new(&kp, path_of(keys[v]), NULL, &e) == 0);
		for (size_t i = 0; i < jwe.len && nd < 4; i++)
			if (jwe.data[i] == '.')
				dots[nd++] = i;
		CHECK(nd == 4);
		/* A character in the protected header, the key, the iv, the ciphertext and the tag. */
		size_t at[] = { 5, dots[0] + 10, dots[1] + 3, dots[2] + 7, dots[3] + 4 };
		for (size_t t = 0; kp && nd == 4 && t < sizeof(at) / sizeof(at[0]); t++) {
			char saved = jwe.data[at[t]], err[512];
			unsigned char *out = NULL;
			size_t len;
			jwe.data[at[t]] = saved == 'A' ? 'B' : 'A';
			CHECK(kp->unwrap(kp, "jwe", (unsigned char *)jwe.data, jwe.len, "{}", &out, &len, err, sizeof(err)) ==
			      CCP_EDECRYPT);
			CHECK(out == NULL);
			jwe.data[at[t]] = saved;
		}
		if (kp)
			kp->free(kp);
		ccp_buf_free(&jwe);
	}
	/* Malformed documents. */
	{
		ccp_keyprovider *kp = NULL;
		ccp_err e = CCP_ERR_INIT;
		const char *bad[] = { "", "a.b.c.d", "a.b.c.d.e.f", "{}", "{\"iv\":1}", "[]", "....", "{\"protected\":\"e30\","
				      "\"iv\":\"\",\"ciphertext\":\"\",\"tag\":\"\",\"recipients\":[]}" };
		CHECK(ccp_jwe_provider_new(&kp, path_of("rsa.pem"), NULL, &e) == 0);
		for (size_t i = 0; kp && i < sizeof(bad) / sizeof(bad[0]); i++) {
			char err[512];
			unsigned char *out = NULL;
			size_t len;
			CHECK(kp->unwrap(kp, "jwe", (const unsigned char *)bad[i], strlen(bad[i]), "{}", &out, &len, err,
					 sizeof(err)) == CCP_EDECRYPT);
		}
		if (kp)
			kp->free(kp);
	}
}

/* ---- the stream ---- */

static void encrypt_ctr(const unsigned char *key, const unsigned char *nonce, unsigned char *buf, size_t n,
			unsigned char hmac[32])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	unsigned int hl = 32;
	int outl;

	EVP_EncryptInit_ex(c, EVP_aes_256_ctr(), NULL, key, nonce);
	EVP_EncryptUpdate(c, buf, &outl, buf, (int)n);
	EVP_CIPHER_CTX_free(c);
	HMAC(EVP_sha256(), key, 32, buf, n, hmac, &hl);
}

static void test_stream(void)
{
	ccp_layer_crypt c;
	size_t n = 100000;
	unsigned char *plain = malloc(n), *buf = malloc(n);
	ccp_decryptor *d = NULL;
	ccp_err e = CCP_ERR_INIT;

	RAND_bytes(c.key, sizeof(c.key));
	RAND_bytes(c.nonce, sizeof(c.nonce));
	memset(c.nonce + 8, 0xff, 8); /* the 128-bit counter carries across the low 64 bits */
	RAND_bytes(plain, (int)n);
	memcpy(buf, plain, n);
	encrypt_ctr(c.key, c.nonce, buf, n, c.hmac);

	/* Uneven chunks, in place. */
	CHECK(ccp_decryptor_new(&d, &c, &e) == 0);
	for (size_t off = 0, step = 1; off < n; off += step, step = step * 7 % 4093 + 1) {
		size_t k = n - off < step ? n - off : step;
		CHECK(ccp_decryptor_update(d, buf + off, buf + off, k, &e) == 0);
	}
	CHECK(ccp_decryptor_final(d, &e) == 0);
	CHECK(memcmp(buf, plain, n) == 0);
	ccp_decryptor_free(d);

	/* One flipped ciphertext bit: integrity error. */
	memcpy(buf, plain, n);
	encrypt_ctr(c.key, c.nonce, buf, n, c.hmac);
	buf[n / 2] ^= 1;
	CHECK(ccp_decryptor_new(&d, &c, &e) == 0);
	CHECK(ccp_decryptor_update(d, buf, buf, n, &e) == 0);
	CHECK(ccp_decryptor_final(d, &e) == CCP_EINTEGRITY);
	ccp_decryptor_free(d);

	/* Truncated stream and wrong expected HMAC. */
	memcpy(buf, plain, n);
	encrypt_ctr(c.key, c.nonce, buf, n, c.hmac);
	CHECK(ccp_decryptor_new(&d, &c, &e) == 0);
	CHECK(ccp_decryptor_update(d, buf, buf, n - 1, &e) == 0);
	CHECK(ccp_decryptor_final(d, &e) == CCP_EINTEGRITY);
	ccp_decryptor_free(d);
	c.hmac[0] ^= 0x80;
	memcpy(buf, plain, n);
	CHECK(ccp_decryptor_new(&d, &c, &e) == 0);
	CHECK(ccp_decryptor_update(d, buf, buf, n, &e) == 0);
	CHECK(ccp_decryptor_final(d, &e) == CCP_EINTEGRITY);
	CHECK(strstr(e.msg, "HMAC mismatch") != NULL);
	ccp_decryptor_free(d);
	free(plain);
	free(buf);
}

/* ---- annotations and key options ---- */

static char *b64(const void *p, size_t n)
{
	char *s = NULL;
	ccp_b64_encode(&s, p, n);
	return s;
}

/* pubopts for hmac, with the HMAC at the top ("hmac") or in cipheroptions (Go). */
static char *pubopts(const unsigned char hmac[32], int where, const char *cipher)
{
	char *h = b64(hmac, 32), doc[512], *out;
	if (where == 0)
		snprintf(doc, sizeof(doc), "{\"cipher\":\"%s\",\"hmac\":null,\"cipheroptions\":{\"hmac\":\"%s\"}}", cipher, h);
	else
		snprintf(doc, sizeof(doc), "{\"cipher\":\"%s\",\"hmac\":\"%s\",\"cipheroptions\":{}}", cipher, h);
	out = b64(doc, strlen(doc));
	free(h);
	return out;
}

static int parse_ann(const char *json, ccp_enc_info *info)
{
	ccp_err e = CCP_ERR_INIT;
	json_t *j = json_loads(json, 0, NULL);
	int r;

	if (!j)
		return 99;
	r = ccp_enc_info_parse(info, j, &e);
	json_decref(j);
	return r;
}

static void test_annotations(void)
{
	unsigned char hmac[32];
	char doc[8192];
	ccp_enc_info info;
	ccp_buf v1 = slurp("rsa_oaep_flat.jwe"), v2 = slurp("ecdh_p256_flat.jwe");
	char *w1 = b64(v1.data, v1.len), *w2 = b64(v2.data, v2.len), *pub, *pub_top, *pub_bad;

	for (int i = 0; i < 32; i++)
		hmac[i] = (unsigned char)i;
	pub = pubopts(hmac, 0, CCP_OCICRYPT_CIPHER);
	pub_top = pubopts(hmac, 1, CCP_OCICRYPT_CIPHER);
	pub_bad = pubopts(hmac, 0, "AES_128_GCM");

	snprintf(doc, sizeof(doc), "{\"org.opencontainers.image.enc.keys.jwe\":\"%s,%s\","
		 "\"org.opencontainers.image.enc.keys.provider.kbs\":\"%s\",\"other\":\"x\","
		 "\"org.opencontainers.image.enc.pubopts\":\"%s\"}", w1, w2, w2, pub);
	CHECK(parse_ann(doc, &info) == 0);
	CHECK(info.n_schemes == 2);
	CHECK(memcmp(info.hmac, hmac, 32) == 0);
	for (size_t i = 0; i < info.n_schemes; i++) {
		if (strcmp(info.schemes[i].scheme, "jwe") == 0) {
			CHECK(info.schemes[i].n_wrapped == 2);
			CHECK(info.schemes[i].wrapped[1].len == v2.len);
		} else {
			CHECK_STR(info.schemes[i].scheme, "provider.kbs");
			CHECK(info.schemes[i].n_wrapped == 1);
		}
	}
	ccp_enc_info_free(&info);

	snprintf(doc, sizeof(doc), "{\"org.opencontainers.image.enc.keys.jwe\":\"%s\","
		 "\"org.opencontainers.image.enc.pubopts\":\"%s\"}", w1, pub_top);
	CHECK(parse_ann(doc, &info) == 0);
	CHECK(memcmp(info.hmac, hmac, 32) == 0);
	ccp_enc_info_free(&info);

	/* Refused: no keys, no pubopts, other cipher, bad base64, empty entry, no hmac. */
	snprintf(doc, sizeof(doc), "{\"org.opencontainers.image.enc.pubopts\":\"%s\"}", pub);
	CHECK(parse_ann(doc, &info) == CCP_EDECRYPT);
	snprintf(doc, sizeof(doc), "{\"org.opencontainers.image.enc.keys.jwe\":\"%s\"}", w1);
	CHECK(parse_ann(doc, &info) == CCP_EDECRYPT);
	CHECK(parse_ann("{}", &info) == CCP_EDECRYPT);
	{
		ccp_err e = CCP_ERR_INIT;
		CHECK(ccp_enc_info_parse(&info, NULL, &e) == CCP_EDECRYPT);
	}
	snprintf(doc, sizeof(doc), "{\"org.opencontainers.image.enc.keys.jwe\":\"%s\","
		 "\"org.opencontainers.image.enc.pubopts\":\"%s\"}", w1, pub_bad);
	CHECK(parse_ann(doc, &info) == CCP_EDECRYPT);
	snprintf(doc, sizeof(doc), "{\"org.opencontainers.image.enc.keys.jwe\":\"%s!\","
		 "\"org.opencontainers.image.enc.pubopts\":\"%s\"}", w1, pub);
	CHECK(parse_ann(doc, &info) == CCP_EDECRYPT);
	snprintf(doc, sizeof(doc), "{\"org.opencontainers.image.enc.keys.jwe\":\"%s,\","
		 "\"org.opencontainers.image.enc.pubopts\":\"%s\"}", w1, pub);
	CHECK(parse_ann(doc, &info) == CCP_EDECRYPT);
	{
		const char *nohmac = "{\"cipher\":\"AES_256_CTR_HMAC_SHA256\",\"cipheroptions\":{}}";
		char *p = b64(nohmac, strlen(nohmac));
		snprintf(doc, sizeof(doc), "{\"org.opencontainers.image.enc.keys.jwe\":\"%s\","
			 "\"org.opencontainers.image.enc.pubopts\":\"%s\"}", w1, p);
		CHECK(parse_ann(doc, &info) == CCP_EDECRYPT);
		free(p);
	}
	{
		/* Two HMACs that disagree. */
		char *h = b64(hmac, 32), d2[512], *p;
		snprintf(d2, sizeof(d2), "{\"cipher\":\"AES_256_CTR_HMAC_SHA256\",\"hmac\":\"%s\","
			 "\"cipheroptions\":{\"hmac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}}", h);
		p = b64(d2, strlen(d2));
		snprintf(doc, sizeof(doc), "{\"org.opencontainers.image.enc.keys.jwe\":\"%s\","
			 "\"org.opencontainers.image.enc.pubopts\":\"%s\"}", w1, p);
		CHECK(parse_ann(doc, &info) == CCP_EDECRYPT);
		free(p);
		free(h);
	}
	free(w1);
	free(w2);
	free(pub);
	free(pub_top);
	free(pub_bad);
	ccp_buf_free(&v1);
	ccp_buf_free(&v2);
}

static void test_private_opts(void)
{
	ccp_layer_crypt c;
	ccp_err e = CCP_ERR_INIT;
	ccp_buf p = slurp("plain.json");
	const char *bad[] = {
		"{}", "[]", "{\"symkey\":\"AAAA\",\"cipheroptions\":{\"nonce\":\"AAECAwQFBgcICQoLDA0ODw==\"}}",
		"{\"symkey\":\"Bj0wJ3xNYvhzN2l9b1f8bQ2mTgC7q7X0A4y1sI8m6xE=\",\"cipheroptions\":{}}",
		"{\"symkey\":\"Bj0wJ3xNYvhzN2l9b1f8bQ2mTgC7q7X0A4y1sI8m6xE=\"}",
		"{\"symkey\":\"Bj0wJ3xNYvhzN2l9b1f8bQ2mTgC7q7X0A4y1sI8m6xE=\",\"cipheroptions\":{\"nonce\":\"AAEC\"}}",
		"{\"symkey\":7,\"cipheroptions\":{\"nonce\":\"AAECAwQFBgcICQoLDA0ODw==\"}}",
	};

	CHECK(ccp_private_opts_parse(&c, p.data, p.len, &e) == 0);
	CHECK(c.key[0] == 0x06 && c.key[1] == 0x3d);
	CHECK(c.nonce[0] == 0 && c.nonce[15] == 15);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(ccp_private_opts_parse(&c, bad[i], strlen(bad[i]), &e) == CCP_EDECRYPT);
	ccp_buf_free(&p);
}

/* ---- keyring, keyprovider protocol ---- */

static void write_file(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		abort();
	close(fd);
}

static ccp_enc_info info_for(const char *scheme, const char *vector)
{
	ccp_enc_info info;
	unsigned char hmac[32] = { 1 };
	ccp_buf v = slurp(vector);
	char doc[8192], *w = b64(v.data, v.len), *pub = pubopts(hmac, 0, CCP_OCICRYPT_CIPHER);

	snprintf(doc, sizeof(doc), "{\"org.opencontainers.image.enc.keys.%s\":\"%s\","
		 "\"org.opencontainers.image.enc.pubopts\":\"%s\"}", scheme, w, pub);
	if (parse_ann(doc, &info))
		abort();
	free(w);
	free(pub);
	ccp_buf_free(&v);
	return info;
}

/* A provider of the caller's for ccp_keyring_add_first: it counts its calls and opens nothing. */
typedef struct counting_kp {
	ccp_keyprovider base;
	int calls, freed;
} counting_kp;

static int counting_handles(const ccp_keyprovider *kp, const char *scheme)
{
	(void)kp;
	return strcmp(scheme, "jwe") == 0;
}

static int counting_unwrap(ccp_keyprovider *kp, const char *scheme, const unsigned char *wrapped, size_t wrapped_len,
			   const char *dc_json, unsigned char **out, size_t *out_len, char *err, size_t err_len)
{
	(void)scheme, (void)wrapped, (void)wrapped_len, (void)dc_json, (void)out, (void)out_len;
	((counting_kp *)kp)->calls++;
	snprintf(err, err_len, "the counting provider opens nothing");
	return CCP_EDECRYPT;
}

static void counting_free(ccp_keyprovider *kp)
{
	((counting_kp *)kp)->freed++;
}

/* The context's providers (borrowed) go before the keyring's own, and the keyring never frees them. */
static void test_keyring_first(void)
{
	ccp_enc_info jwe = info_for("jwe", "ecdh_p521_flat.jwe");
	counting_kp a = { { CCP_KEYPROVIDER_VERSION, "counting a", counting_handles, counting_unwrap, counting_free },
			  0, 0 };
	counting_kp b = a;
	ccp_keyprovider *first[2] = { &a.base, &b.base };
	ccp_layer_crypt c;
	ccp_keyring *kr = NULL;
	ccp_err e = CCP_ERR_INIT;
	char spec[1100];
	const char *specs[1] = { spec };

	b.base.description = "counting b";
	snprintf(spec, sizeof(spec), "jwe:%s", path_of("ec_p521.pem"));
	CHECK(ccp_keyring_new(&kr, specs, 1, NULL, &e) == 0);
	CHECK(ccp_keyring_add_first(kr, first, 2, &e) == 0);
	/* the key of the spec opens the layer, after both were asked */
	CHECK(ccp_keyring_unwrap(&c, kr, &jwe, "layer 1/1", &e) == 0);
	CHECK(a.calls == 1 && b.calls == 1);
	ccp_keyring_free(kr);
	CHECK(a.freed == 0 && b.freed == 0);

	/* alone, their messages come in their order */
	kr = NULL;
	CHECK(ccp_keyring_new(&kr, NULL, 0, NULL, &e) == 0);
	CHECK(ccp_keyring_add_first(kr, first, 2, &e) == 0);
	CHECK(ccp_keyring_unwrap(&c, kr, &jwe, "layer 1/1", &e) == CCP_EDECRYPT);
	CHECK(strstr(e.msg, "tried counting a: the counting provider opens nothing; counting b") != NULL);
	ccp_keyring_free(kr);
	CHECK(a.freed == 0 && b.freed == 0 && a.calls == 2);
	ccp_enc_info_free(&jwe);
}

static void test_keyring(void)
{
	ccp_enc_info jwe = info_for("jwe", "ecdh_p521_flat.jwe"), prov = info_for("provider.test", "rsa_oaep_flat.jwe");
	ccp_layer_crypt c;
	ccp_keyring *kr = NULL;
	ccp_err e = CCP_ERR_INIT;
	char cfg[600], script[600], bigscript[600], failscript[600], spec_pass[1200];
	const char *specs[4];

	/* A jwe key among others: the right one is found. */
	snprintf(spec_pass, sizeof(spec_pass), "jwe:%s:pass=s3cret", path_of("rsa_pass.pem"));
	specs[0] = spec_pass;
	specs[1] = "jwe:";
	CHECK(ccp_keyring_new(&kr, specs, 2, NULL, &e) == CCP_EINVALID);
	{
		char a[1100], b[1100];
		snprintf(a, sizeof(a), "jwe:%s", path_of("ec_p256.pem"));
		snprintf(b, sizeof(b), "jwe:%s", path_of("ec_p521.pem"));
		specs[1] = a;
		specs[2] = b;
		CHECK(ccp_keyring_new(&kr, specs, 3, NULL, &e) == 0);
		CHECK(ccp_keyring_unwrap(&c, kr, &jwe, "layer 1/1", &e) == 0);
		CHECK(c.key[0] == 0x06 && c.nonce[15] == 15 && c.hmac[0] == 1);
		/* The provider scheme has no key here: the message names layer and scheme. */
		CHECK(ccp_keyring_unwrap(&c, kr, &prov, "layer 1/1", &e) == CCP_EDECRYPT);
		CHECK(strstr(e.msg, "layer 1/1") && strstr(e.msg, "provider.test"));
		ccp_keyring_free(kr);
		kr = NULL;
		/* Keys that do not open it: exit 6, the keys tried are named. */
		specs[2] = a;
		CHECK(ccp_keyring_new(&kr, specs + 1, 2, NULL, &e) == 0);
		CHECK(ccp_keyring_unwrap(&c, kr, &jwe, "layer 2/3", &e) == CCP_EDECRYPT);
		CHECK(strstr(e.msg, "ec_p256.pem") && strstr(e.msg, "jwe (1 wrapped key)"));
		ccp_keyring_free(kr);
		kr = NULL;
	}
	/* No keys at all. */
	CHECK(ccp_keyring_new(&kr, NULL, 0, NULL, &e) == 0);
	CHECK(ccp_keyring_unwrap(&c, kr, &jwe, "layer 1/1", &e) == CCP_EDECRYPT);
	CHECK(strstr(e.msg, "no decryption key") != NULL);
	ccp_keyring_free(kr);
	kr = NULL;
	/* Bad specs. */
	specs[0] = "pgp:/nonexistent";
	CHECK(ccp_keyring_new(&kr, specs, 1, NULL, &e) == CCP_EINVALID);
	specs[0] = "provider:test";
	CHECK(ccp_keyring_new(&kr, specs, 1, NULL, &e) == CCP_EINVALID);
	specs[0] = "jwe:/nonexistent/key.pem";
	CHECK(ccp_keyring_new(&kr, specs, 1, NULL, &e) == CCP_EINVALID);

	/* A cmd keyprovider: a script that checks the request and answers with the key options. */
	{
		ccp_buf plain = slurp("plain.json");
		char *opts = b64(plain.data, plain.len), body[4096];
		snprintf(script, sizeof(script), "%s/kp.sh", g_tmp);
		snprintf(body, sizeof(body),
			 "#!/bin/sh\n"
			 "req=$(cat)\n"
			 "case \"$req\" in *'\"op\":\"keyunwrap\"'*'\"Parameters\":{\"test\":[\"c2VjcmV0\"]}'*) ;;"
			 " *) echo \"bad request: $req\" >&2; exit 3;; esac\n"
			 "[ \"$1\" = arg1 ] || { echo 'no arg' >&2; exit 4; }\n"
			 "[ -z \"$HOME\" ] || { echo 'environment leaked' >&2; exit 5; }\n"
			 "printf '{\"keyunwrapresults\":{\"optsdata\":\"%s\"}}'\n", opts);
		write_file(script, body, 0755);
		snprintf(failscript, sizeof(failscript), "%s/kpfail.sh", g_tmp);
		write_file(failscript, "#!/bin/sh\necho 'no key for you' >&2\nexit 7\n", 0755);
		snprintf(bigscript, sizeof(bigscript), "%s/kpbig.sh", g_tmp);
		write_file(bigscript, "#!/bin/sh\nhead -c 3000000 /dev/zero\n", 0755);
		snprintf(cfg, sizeof(cfg), "%s/ocicrypt.json", g_tmp);
		snprintf(body, sizeof(body),
			 "{\"key-providers\":{\"test\":{\"cmd\":{\"path\":\"%s\",\"args\":[\"arg1\"]}},"
			 "\"failing\":{\"cmd\":{\"path\":\"%s\"}},\"big\":{\"cmd\":{\"path\":\"%s\"}},"
			 "\"remote\":{\"grpc\":\"127.0.0.1:1\"}}}", script, failscript, bigscript);
		write_file(cfg, body, 0644);
		free(opts);
		ccp_buf_free(&plain);

		specs[0] = "provider:test:secret";
		CHECK(ccp_keyring_new(&kr, specs, 1, cfg, &e) == 0);
		CHECK(ccp_keyring_unwrap(&c, kr, &prov, "layer 1/1", &e) == 0);
		CHECK(c.key[0] == 0x06 && c.nonce[15] == 15);
		ccp_keyring_free(kr);
		kr = NULL;

		/* Without the parameters the script refuses: its exit status and stderr are reported. */
		CHECK(ccp_keyring_new(&kr, NULL, 0, cfg, &e) == 0);
		CHECK(ccp_keyring_unwrap(&c, kr, &prov, "layer 1/1", &e) == CCP_EDECRYPT);
		CHECK(strstr(e.msg, "status 3") && strstr(e.msg, "bad request"));
		ccp_keyring_free(kr);
		kr = NULL;
		ccp_enc_info_free(&prov);

		prov = info_for("provider.failing", "rsa_oaep_flat.jwe");
		CHECK(ccp_keyring_new(&kr, NULL, 0, cfg, &e) == 0);
		CHECK(ccp_keyring_unwrap(&c, kr, &prov, "layer 1/1", &e) == CCP_EDECRYPT);
		CHECK(strstr(e.msg, "status 7") && strstr(e.msg, "no key for you"));
		ccp_enc_info_free(&prov);
		prov = info_for("provider.big", "rsa_oaep_flat.jwe");
		CHECK(ccp_keyring_unwrap(&c, kr, &prov, "layer 1/1", &e) == CCP_EDECRYPT);
		CHECK(strstr(e.msg, "more than") != NULL);
		ccp_enc_info_free(&prov);
		prov = info_for("provider.remote", "rsa_oaep_flat.jwe");
		CHECK(ccp_keyring_unwrap(&c, kr, &prov, "layer 1/1", &e) == CCP_EDECRYPT);
		CHECK(strstr(e.msg, "grpc") != NULL);
		ccp_keyring_free(kr);
		kr = NULL;

		specs[0] = "provider:nosuch";
		CHECK(ccp_keyring_new(&kr, specs, 1, cfg, &e) == CCP_EINVALID);
	}
	ccp_enc_info_free(&jwe);
	ccp_enc_info_free(&prov);
}

/* A stand-in for the in-process provider of scheme provider.attestation-agent (the KBS one). */
typedef struct fake_provider {
	ccp_keyprovider base;
	int calls;
} fake_provider;

static int fake_handles(const ccp_keyprovider *kp, const char *scheme)
{
	(void)kp;
	return strcmp(scheme, "provider.attestation-agent") == 0;
}

static int fake_unwrap(ccp_keyprovider *kp, const char *scheme, const unsigned char *wrapped, size_t len,
		       const char *dc_json, unsigned char **out, size_t *out_len, char *err, size_t err_len)
{
	ccp_buf plain = slurp("plain.json");

	(void)scheme;
	(void)wrapped;
	(void)len;
	(void)dc_json;
	(void)err;
	(void)err_len;
	((fake_provider *)kp)->calls++;
	*out_len = plain.len;
	*out = (unsigned char *)ccp_buf_detach(&plain);
	return 0;
}

static int g_fake_freed;

static void fake_free(ccp_keyprovider *kp)
{
	g_fake_freed++;
	free(kp);
}

/* ocicrypt-rs's ttrpc and native kinds; kata's config, whose attestation-agent entry names ccpull's own socket. */
static void test_keyring_ttrpc(void)
{
	ccp_enc_info aa = info_for("provider.attestation-agent", "rsa_oaep_flat.jwe");
	ccp_enc_info other = info_for("provider.other", "rsa_oaep_flat.jwe");
	ccp_layer_crypt c;
	ccp_keyring *kr = NULL;
	ccp_err e = CCP_ERR_INIT;
	char cfg[600], body[1200];

	/* kata's config (confidential-data-hub/hub/src/image/ocicrypt_config.json) is taken (it was exit 2) */
	snprintf(cfg, sizeof(cfg), "%s/kata-ocicrypt.json", g_tmp);
	write_file(cfg, "{\"key-providers\": {\"attestation-agent\": "
			"{\"ttrpc\": \"unix:///run/confidential-containers/cdh.sock\"}}}", 0644);
	CHECK(ccp_keyring_new(&kr, NULL, 0, cfg, &e) == 0);
	/* without an in-process provider: the stand-in says what it needs, never calls the socket */
	CHECK(ccp_keyring_unwrap(&c, kr, &aa, "layer 1/1", &e) == CCP_EDECRYPT);
	CHECK(strstr(e.msg, "in-process") && strstr(e.msg, "no KBS is configured"));
	/* the KBS provider added by the pull replaces it */
	{
		fake_provider *fp = calloc(1, sizeof(*fp));
		CHECK(fp != NULL);
		fp->base.version = CCP_KEYPROVIDER_VERSION;
		fp->base.description = "provider:attestation-agent (test KBS)";
		fp->base.handles = fake_handles;
		fp->base.unwrap = fake_unwrap;
		fp->base.free = fake_free;
		CHECK(ccp_keyring_add(kr, &fp->base, &e) == 0);
		CHECK(ccp_keyring_unwrap(&c, kr, &aa, "layer 1/1", &e) == 0);
		CHECK(c.key[0] == 0x06 && c.nonce[15] == 15 && fp->calls == 1);
	}
	ccp_keyring_free(kr);
	kr = NULL;
	CHECK(g_fake_freed == 1);

	/* a ttrpc provider on another socket is called: a missing socket fails naming ttrpc and the socket */
	snprintf(cfg, sizeof(cfg), "%s/ttrpc-ocicrypt.json", g_tmp);
	snprintf(body, sizeof(body), "{\"key-providers\": {\"other\": {\"ttrpc\": \"unix://%s/nosuch.sock\"}, "
		 "\"attestation-agent\": {\"native\": \"attestation-agent\"}}}", g_tmp);
	write_file(cfg, body, 0644);
	CHECK(ccp_keyring_new(&kr, NULL, 0, cfg, &e) == 0);
	CHECK(ccp_keyring_unwrap(&c, kr, &other, "layer 1/1", &e) == CCP_EDECRYPT);
	CHECK(strstr(e.msg, "provider:other (ttrpc") && strstr(e.msg, "nosuch.sock"));
	CHECK(ccp_keyring_unwrap(&c, kr, &aa, "layer 1/1", &e) == CCP_EDECRYPT);
	CHECK(strstr(e.msg, "native attestation-agent, in-process") != NULL);
	ccp_keyring_free(kr);
	kr = NULL;

	/* the config's kinds */
	{
		ccp_kp_config k;
		const char *good = "{\"key-providers\":{\"a\":{\"ttrpc\":\"unix:///run/x.sock\"},"
				   "\"b\":{\"native\":\"attestation-agent\"},\"c\":{\"ttrpc\":\"unix:/run/y.sock\"}}}";
		const char *bad[] = { "{\"key-providers\":{\"a\":{\"ttrpc\":\"vsock://3:50000\"}}}",
				      "{\"key-providers\":{\"a\":{\"ttrpc\":\"unix://rel.sock\"}}}",
				      "{\"key-providers\":{\"a\":{\"ttrpc\":\"unix:///x\",\"grpc\":\"h:1\"}}}",
				      "{\"key-providers\":{\"a\":{\"native\":\"x\",\"cmd\":{\"path\":\"/x\"}}}}",
				      "{\"key-providers\":{\"a\":{\"native\":1}}}",
				      "{\"key-providers\":{\"a\":{\"ttrpc\":\"\"}}}" };
		const char *tls = "{\"key-providers\":{\"a\":{\"grpc\":\"h:1\",\"grpc-tls\":{\"root-ca-file\":\"/x\"}}}}";
		CHECK(ccp_kp_config_parse(&k, good, strlen(good), "cfg", &e) == 0);
		CHECK(k.n == 3 && k.entries[0].ttrpc && !k.entries[0].grpc && k.entries[1].native && k.entries[2].ttrpc);
		ccp_kp_config_free(&k);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			CHECK(ccp_kp_config_parse(&k, bad[i], strlen(bad[i]), "cfg", &e) == CCP_EINVALID);
		CHECK(ccp_kp_config_parse(&k, tls, strlen(tls), "cfg", &e) == CCP_EINVALID);
		CHECK(strstr(e.msg, "grpc-tls") && strstr(e.msg, "not supported"));
	}
	ccp_enc_info_free(&aa);
	ccp_enc_info_free(&other);
}

static void test_protocol(void)
{
	ccp_err e = CCP_ERR_INIT;
	ccp_buf o = CCP_BUF_INIT(0);
	char *req = NULL;
	const char *bad[] = { "", "{}", "[]", "{\"keyunwrapresults\":{}}", "{\"keyunwrapresults\":{\"optsdata\":\"!!\"}}",
			      "{\"keyunwrapresults\":{\"optsdata\":[1,256]}}", "{\"keyunwrapresults\":{\"optsdata\":[-1]}}",
			      "{\"keyunwrapresults\":{\"optsdata\":null}}", "{\"keyunwrapresults\":{\"optsdata\":\"\"}}",
			      "{\"keyunwrapresults\":{\"optsdata\":[\"a\"]}}" };

	const char *ok1 = "{\"keyunwrapresults\":{\"optsdata\":\"aGk=\"}}";
	const char *ok2 = "{\"keyunwrapresults\":{\"optsdata\":[104,105]},\"keywrapresults\":{}}";

	CHECK(ccp_keyprovider_parse_response(&o, ok1, strlen(ok1), &e) == 0);
	CHECK(o.len == 2 && memcmp(o.data, "hi", 2) == 0);
	ccp_buf_free(&o);
	CHECK(ccp_keyprovider_parse_response(&o, ok2, strlen(ok2), &e) == 0);
	CHECK(o.len == 2 && memcmp(o.data, "hi", 2) == 0);
	ccp_buf_free(&o);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(ccp_keyprovider_parse_response(&o, bad[i], strlen(bad[i]), &e) == CCP_EDECRYPT);
		ccp_buf_free(&o);
	}
	CHECK(ccp_keyprovider_request(&req, "{\"Parameters\":{}}", (const unsigned char *)"hi", 2, &e) == 0);
	CHECK_STR(req, "{\"op\":\"keyunwrap\",\"keywrapparams\":{\"ec\":null,\"optsdata\":null},"
		       "\"keyunwrapparams\":{\"dc\":{\"Parameters\":{}},\"annotation\":\"aGk=\"}}");
	free(req);

	/* Config file. */
	{
		ccp_kp_config c;
		const char *good = "{\"key-providers\":{\"a\":{\"cmd\":{\"path\":\"/bin/a\",\"args\":[\"x\",\"y\"]}},"
				   "\"b\":{\"grpc\":\"localhost:50000\"}}}";
		const char *cbad[] = { "{\"key-providers\":{\"a\":{}}}", "{\"key-providers\":{\"a\":{\"cmd\":{}}}}",
				       "{\"key-providers\":{\"a\":{\"cmd\":{\"path\":\"rel\"}}}}",
				       "{\"key-providers\":{\"a\":{\"cmd\":{\"path\":\"/x\",\"args\":[1]}}}}",
				       "{\"key-providers\":{\"a\":{\"cmd\":{\"path\":\"/x\"},\"grpc\":\"h:1\"}}}",
				       "{\"key-providers\":[]}", "[]" };
		CHECK(ccp_kp_config_parse(&c, good, strlen(good), "cfg", &e) == 0);
		CHECK(c.n == 2 && c.entries[0].n_cmd_args == 2 && c.entries[1].grpc);
		ccp_kp_config_free(&c);
		CHECK(ccp_kp_config_parse(&c, "{}", 2, "cfg", &e) == 0 && c.n == 0);
		for (size_t i = 0; i < sizeof(cbad) / sizeof(cbad[0]); i++)
			CHECK(ccp_kp_config_parse(&c, cbad[i], strlen(cbad[i]), "cfg", &e) == CCP_EINVALID);
	}
	/* base64 corner cases. */
	{
		const char *ok_std[] = { "", "YQ==", "YWI=", "YWJj" }, *bad_std[] = { "YQ", "YQ=", "Y===", "YR==", "YW J", "YQ==YQ==" };
		for (size_t i = 0; i < 4; i++) {
			CHECK(ccp_b64_decode(&o, ok_std[i], strlen(ok_std[i]), 0) == 0 && o.len == i);
			ccp_buf_free(&o);
		}
		for (size_t i = 0; i < sizeof(bad_std) / sizeof(bad_std[0]); i++) {
			CHECK(ccp_b64_decode(&o, bad_std[i], strlen(bad_std[i]), 0) != 0);
			ccp_buf_free(&o);
		}
		CHECK(ccp_b64_decode(&o, "-_8", 3, 1) == 0 && o.len == 2);
		ccp_buf_free(&o);
		CHECK(ccp_b64_decode(&o, "YQ==", 4, 1) != 0);
		ccp_buf_free(&o);
	}
}

/* ---- decryption in the layer pipeline ---- */

typedef struct memfetch {
	const unsigned char *data;
	size_t len;
} memfetch;

static int mem_fetch(void *payload, ccp_sink_fn sink, void *sp, ccp_err *e)
{
	memfetch *m = payload;
	(void)e;
	for (size_t off = 0, chunk = 1000; off < m->len; off += chunk, chunk = chunk * 5 % 70001 + 1) {
		size_t n = m->len - off < chunk ? m->len - off : chunk;
		int rc = sink(sp, m->data + off, n);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

/* Applies blob (encrypted tar) with crypt c; tamper: 1 flips a ciphertext byte (and takes the
 * digest of the flipped blob), 2 breaks the expected HMAC only. */
static int apply(const unsigned char *blob, size_t n, const unsigned char *tar, size_t tar_n, ccp_compression comp,
		 ccp_layer_crypt *c, ccp_err *e)
{
	char root[64] = "/tmp/ccp_ocicrypt_XXXXXX";
	memfetch m = { blob, n };
	ccp_layer_job job;
	int r;

	if (!mkdtemp(root))
		abort();
	memset(&job, 0, sizeof(job));
	job.name = "layer 1/1 encrypted";
	job.fetch = mem_fetch;
	job.fetch_payload = &m;
	ccp_digest_compute(&job.blob_digest, CCP_SHA256, blob, n, NULL);
	job.blob_size = n;
	job.compression = comp;
	ccp_digest_compute(&job.diff_id, CCP_SHA256, tar, tar_n, NULL);
	job.root_fd = open(root, O_RDONLY | O_DIRECTORY);
	job.decrypt = c;
	r = ccp_layer_apply(&job, e);
	close(job.root_fd);
	{
		char p[128];
		struct stat st;
		snprintf(p, sizeof(p), "%s/d/big", root);
		if (r == 0)
			CHECK(stat(p, &st) == 0 && st.st_size == 6u << 20);
	}
	nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	/* The key material handed in is wiped by the pipeline. */
	{
		static const unsigned char zero[CCP_OCICRYPT_KEY_LEN];
		CHECK(memcmp(c->key, zero, sizeof(zero)) == 0);
	}
	return r;
}

static void test_layer(void)
{
	tarb t;
	size_t big = 6u << 20, zn;
	char *content = malloc(big + 1);
	unsigned char *enc, *zs;
	ccp_layer_crypt c, saved;
	ccp_err e = CCP_ERR_INIT;

	for (size_t i = 0; i < big; i++)
		content[i] = (char)('a' + (i * 31 % 26));
	content[big] = '\0';
	tb_begin(&t);
	tb_dir(&t, "d", 0755);
	tb_file(&t, "d/big", 0644, content);
	tb_end(&t);
	free(content);
	RAND_bytes(saved.key, 32);
	RAND_bytes(saved.nonce, 16);

	/* Plain tar, sniffed: the sniff peeks at decrypted bytes. */
	enc = malloc(t.used);
	memcpy(enc, t.buf, t.used);
	encrypt_ctr(saved.key, saved.nonce, enc, t.used, saved.hmac);
	c = saved;
	CHECK(apply(enc, t.used, t.buf, t.used, CCP_COMP_SNIFF, &c, &e) == 0);
	/* Wrong HMAC, digests right: integrity, named as the HMAC. */
	c = saved;
	c.hmac[3] ^= 1;
	CHECK(apply(enc, t.used, t.buf, t.used, CCP_COMP_NONE, &c, &e) == CCP_EINTEGRITY);
	CHECK(strstr(e.msg, "HMAC") != NULL);
	/* A flipped ciphertext byte with its digest recomputed: the HMAC catches it, before the tar error. */
	enc[t.used / 3] ^= 0x55;
	c = saved;
	CHECK(apply(enc, t.used, t.buf, t.used, CCP_COMP_NONE, &c, &e) == CCP_EINTEGRITY);
	CHECK(strstr(e.msg, "HMAC") != NULL);
	/* A wrong key: garbage that is not a tar, but the HMAC (keyed) names the cause. */
	c = saved;
	c.key[0] ^= 1;
	enc[t.used / 3] ^= 0x55;
	CHECK(apply(enc, t.used, t.buf, t.used, CCP_COMP_NONE, &c, &e) == CCP_EINTEGRITY);
	free(enc);

	/* zstd + encrypted. */
	zn = ZSTD_compressBound(t.used);
	zs = malloc(zn);
	zn = ZSTD_compress(zs, zn, t.buf, t.used, 3);
	CHECK(!ZSTD_isError(zn));
	encrypt_ctr(saved.key, saved.nonce, zs, zn, saved.hmac);
	c = saved;
	CHECK(apply(zs, zn, t.buf, t.used, CCP_COMP_ZSTD, &c, &e) == 0);
	c = saved;
	CHECK(apply(zs, zn, t.buf, t.used, CCP_COMP_SNIFF, &c, &e) == 0);
	free(zs);
	free(t.buf);
}

static int rm_tmp(void)
{
	return nftw(g_tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const char *src = getenv("CCPULL_SRC");

	CHECK(ccp_init() == 1);
	if (!src) {
		fprintf(stderr, "CCPULL_SRC is not set\n");
		return 1;
	}
	snprintf(g_dir, sizeof(g_dir), "%s/testdata/ocicrypt", src);
	snprintf(g_tmp, sizeof(g_tmp), "/tmp/ccp_ocicrypt_test_XXXXXX");
	if (!mkdtemp(g_tmp))
		return 1;
	test_jwe();
	test_jwe_tamper();
	test_stream();
	test_annotations();
	test_private_opts();
	test_keyring();
	test_keyring_first();
	test_keyring_ttrpc();
	test_protocol();
	test_layer();
	rm_tmp();
	CHECK(ccp_shutdown() == 0);
	return test_summary();
}
