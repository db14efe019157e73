/* The KBS client's pure parts: runtime-data canonicalisation and hashing (vectors computed with
 * `openssl dgst` on the canonical JSON written out by hand), messages, resource paths, the CoCo
 * annotation packet, and configfs-tsm reports in a fake entry directory. */
#include "ccpull/ccpull.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "keyproviders/kbs/kbs.h"
#include "ocicrypt/ocicrypt.h"
#include "test.h"

static void hex(char *out, const unsigned char *md, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void test_runtime_data(void)
{
	json_t *jwk = json_pack("{s:s, s:s, s:s, s:s, s:s}", "y", "BBBB", "x", "AAAA", "kty", "EC", "crv", "P-256",
				"alg", "ECDH-ES+A256KW");
	ccp_buf canon = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;
	unsigned char md[64];
	char h[129];
	size_t n = 0;

	CHECK(ccp_kbs_runtime_data(&canon, "bm9uY2U=", jwk, "", &e) == 0);
	CHECK_STR(canon.data, "{\"additional-evidence\":\"\",\"nonce\":\"bm9uY2U=\",\"tee-pubkey\":{\"alg\":\"ECDH-ES+A256KW\","
			      "\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"AAAA\",\"y\":\"BBBB\"}}");
	/* printf '%s' CANON | openssl dgst -sha384 / -sha256 */
	CHECK(ccp_kbs_hash(md, &n, "sha384", canon.data, canon.len, &e) == 0 && n == 48);
	hex(h, md, n);
	CHECK_STR(h, "d20490d30e5f16cba693abc1ca3c31ed977d2722d0adf01a980972d16913dc38f103c1f12abf477df0523af2b12e4b43");
	CHECK(ccp_kbs_hash(md, &n, "sha256", canon.data, canon.len, &e) == 0 && n == 32);
	hex(h, md, n);
	CHECK_STR(h, "c991185defcc7f9b49f15d44ab9eceba0c83001f689c57802427dce5e594d5d9");
	CHECK(ccp_kbs_hash(md, &n, "md5", canon.data, canon.len, &e) == CCP_EDECRYPT);
	ccp_buf_free(&canon);

	/* RFC 8785 string escapes: short forms, lowercase \u00xx, "/" and non-ASCII as they are. */
	CHECK(ccp_kbs_runtime_data(&canon, "a\"\\\n\x01/\xc3\xa9\x7f", jwk, "x", &e) == 0);
	CHECK(canon.data && strstr(canon.data, "\"nonce\":\"a\\\"\\\\\\n\\u0001/\xc3\xa9\x7f\""));
	ccp_buf_free(&canon);
	json_decref(jwk);

	/* UTF-16 key order: U+1F600 (surrogates D83D..) sorts before U+FB01. */
	{
		json_t *o = json_pack("{s:i, s:i, s:i}", "\xef\xac\x81", 1, "\xf0\x9f\x98\x80", 2, "a", 3);
		CHECK(ccp_jcs(&canon, o, &e) == 0);
		CHECK_STR(canon.data, "{\"a\":3,\"\xf0\x9f\x98\x80\":2,\"\xef\xac\x81\":1}");
		ccp_buf_free(&canon);
		json_decref(o);
	}
}

static void test_jwk(void)
{
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	json_t *jwk = NULL;
	ccp_err e = CCP_ERR_INIT;

	CHECK(ec && ccp_kbs_jwk(&jwk, ec, &e) == 0);
	CHECK_STR(json_string_value(json_object_get(jwk, "kty")), "EC");
	CHECK_STR(json_string_value(json_object_get(jwk, "alg")), "ECDH-ES+A256KW");
	CHECK(json_string_length(json_object_get(jwk, "x")) == 43 && json_string_length(json_object_get(jwk, "y")) == 43);
	json_decref(jwk);
	EVP_PKEY_free(ec);
}

static void test_messages(void)
{
	ccp_kbs_challenge c;
	ccp_err e = CCP_ERR_INIT;
	char *tok = NULL, msg[200];
	int64_t exp = 0;
	const char *ch1 = "{\"nonce\":\"abc\",\"extra-params\":{}}";
	const char *ch2 = "{\"nonce\":\"abc\",\"extra-params\":{\"selected-hash-algorithm\":\"SHA512\"}}";
	const char *ch3 = "{\"nonce\":\"abc\",\"extra-params\":{\"selected-hash-algorithm\":\"md5\"}}";
	const char *ch4 = "{\"nonce\":\"abc\",\"extra-params\":{\"selected-hash-algorithm\":[]}}";
	/* {"exp": 1700000000} */
	const char *tk = "{\"token\":\"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOiAxNzAwMDAwMDAwfQ.c2ln\"}";
	const char *prob = "{\"type\":\"https://github.com/confidential-containers/kbs/errors/PolicyDeny\","
			   "\"detail\":\"no\\nway\"}";

	CHECK(ccp_kbs_parse_challenge(&c, ch1, strlen(ch1), &e) == 0);
	CHECK_STR(c.nonce, "abc");
	CHECK_STR(c.hash, "sha384");
	ccp_kbs_challenge_free(&c);
	CHECK(ccp_kbs_parse_challenge(&c, ch2, strlen(ch2), &e) == 0);
	CHECK_STR(c.hash, "sha512");
	ccp_kbs_challenge_free(&c);
	CHECK(ccp_kbs_parse_challenge(&c, ch3, strlen(ch3), &e) == CCP_EDECRYPT);
	CHECK(ccp_kbs_parse_challenge(&c, ch4, strlen(ch4), &e) == CCP_EDECRYPT);
	CHECK(ccp_kbs_parse_challenge(&c, "{}", 2, &e) == CCP_EDECRYPT);

	CHECK(ccp_kbs_parse_token(&tok, &exp, tk, strlen(tk), &e) == 0);
	CHECK(exp == 1700000000);
	free(tok);
	CHECK(ccp_kbs_parse_token(&tok, &exp, "{\"token\":\"\"}", 12, &e) == CCP_EDECRYPT && !tok);

	ccp_kbs_problem(msg, sizeof(msg), prob, strlen(prob));
	CHECK_STR(msg, "PolicyDeny: no?way");
	ccp_kbs_problem(msg, sizeof(msg), "<html>", 6);
	CHECK_STR(msg, "");
}

static void test_paths(void)
{
	char p[CCP_KBS_PATH_MAX];
	ccp_err e = CCP_ERR_INIT;

	CHECK(ccp_kbs_resource_path(p, "kbs:///default/security-policy/test", &e) == 0);
	CHECK_STR(p, "default/security-policy/test");
	CHECK(ccp_kbs_resource_path(p, "kbs://kbs.example:8080/a/b/c", &e) == 0);
	CHECK_STR(p, "a/b/c");
	CHECK(ccp_kbs_resource_path(p, "/default/image-kek/0f1e-uuid", &e) == 0);
	CHECK_STR(p, "default/image-kek/0f1e-uuid");
	CHECK(ccp_kbs_resource_path(p, "kbs:///a/b", &e) == CCP_EINVALID);
	CHECK(ccp_kbs_resource_path(p, "kbs:///a/b/c/d", &e) == CCP_EINVALID);
	CHECK(ccp_kbs_resource_path(p, "kbs:///a/../c", &e) == CCP_EINVALID);
	CHECK(ccp_kbs_resource_path(p, "kbs:///a//c", &e) == CCP_EINVALID);
	CHECK(ccp_kbs_resource_path(p, "kbs:///a/b/c?x=1", &e) == CCP_EINVALID);
	CHECK(ccp_kbs_resource_path(p, "a/b/c", &e) == CCP_EINVALID);
	CHECK(ccp_kbs_resource_path(p, "file:///a/b/c", &e) == CCP_EINVALID);
}

static void test_coco(void)
{
	unsigned char kek[32], iv[12], ct[64], tag[16];
	const char *opts = "{\"symkey\":\"k\"}";
	char *b_ct = NULL, *b_iv = NULL, pkt[512];
	int outl = 0, fl = 0;
	ccp_coco_packet p;
	ccp_buf out = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

	memset(kek, 7, sizeof(kek));
	memset(iv, 9, sizeof(iv));
	CHECK(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, kek, iv) == 1 &&
	      EVP_EncryptUpdate(c, ct, &outl, (const unsigned char *)opts, (int)strlen(opts)) == 1 &&
	      EVP_EncryptFinal_ex(c, ct + outl, &fl) == 1 && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1);
	EVP_CIPHER_CTX_free(c);
	memcpy(ct + outl, tag, 16);
	CHECK(ccp_b64_encode(&b_ct, ct, (size_t)outl + 16) == 0 && ccp_b64_encode(&b_iv, iv, 12) == 0);
	snprintf(pkt, sizeof(pkt), "{\"kid\":\"kbs:///default/image-kek/1\",\"wrapped_data\":\"%s\",\"iv\":\"%s\","
		 "\"wrap_type\":\"A256GCM\"}", b_ct, b_iv);
	CHECK(ccp_coco_packet_parse(&p, pkt, strlen(pkt), &e) == 0);
	CHECK_STR(p.path, "default/image-kek/1");
	CHECK(ccp_coco_unwrap(&out, &p, kek, 32, &e) == 0);
	CHECK(out.len == strlen(opts) && memcmp(out.data, opts, out.len) == 0);
	ccp_buf_free_secure(&out);
	kek[0] ^= 1;
	CHECK(ccp_coco_unwrap(&out, &p, kek, 32, &e) == CCP_EDECRYPT);
	CHECK(ccp_coco_unwrap(&out, &p, kek, 16, &e) == CCP_EDECRYPT);
	ccp_coco_packet_free(&p);

	snprintf(pkt, sizeof(pkt), "{\"version\":\"0.1.0\",\"provider\":\"kbs\",\"kid\":\"/r/t/g\",\"wrapped_data\":\"%s\","
		 "\"iv\":\"%s\",\"wrap_type\":\"A256GCM\",\"provider_settings\":{},\"annotations\":{}}", b_ct, b_iv);
	CHECK(ccp_coco_packet_parse(&p, pkt, strlen(pkt), &e) == 0);
	ccp_coco_packet_free(&p);
	snprintf(pkt, sizeof(pkt), "{\"version\":\"0.2.0\",\"kid\":\"/r/t/g\",\"wrapped_data\":\"%s\",\"iv\":\"%s\","
		 "\"wrap_type\":\"A256GCM\"}", b_ct, b_iv);
	CHECK(ccp_coco_packet_parse(&p, pkt, strlen(pkt), &e) == CCP_EDECRYPT);
	snprintf(pkt, sizeof(pkt), "{\"provider\":\"aliyun\",\"kid\":\"/r/t/g\",\"wrapped_data\":\"%s\",\"iv\":\"%s\","
		 "\"wrap_type\":\"A256GCM\"}", b_ct, b_iv);
	CHECK(ccp_coco_packet_parse(&p, pkt, strlen(pkt), &e) == CCP_EDECRYPT);
	/* A256CTR needs a 16-byte iv. */
	snprintf(pkt, sizeof(pkt), "{\"kid\":\"/r/t/g\",\"wrapped_data\":\"%s\",\"iv\":\"%s\",\"wrap_type\":\"A256CTR\"}",
		 b_ct, b_iv);
	CHECK(ccp_coco_packet_parse(&p, pkt, strlen(pkt), &e) == CCP_EDECRYPT);
	free(b_ct);
	free(b_iv);
}

static void put(const char *dir, const char *name, const char *data)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w"))) {
		fputs(data, f);
		fclose(f);
	}
}

static void test_tsm(void)
{
	char dir[] = "/tmp/ccpull-tsm-XXXXXX", path[4096];
	unsigned char rd[64];
	ccp_buf out = CCP_BUF_INIT(0), in = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;
	json_t *ev = NULL;

	memset(rd, 0xab, sizeof(rd));
	CHECK(mkdtemp(dir) != NULL);
	put(dir, "provider", "tdx_guest\n");
	put(dir, "inblob", "");
	put(dir, "outblob", "QUOTE");
	put(dir, "generation", "1\n");
	CHECK(ccp_tsm_report_at(&out, dir, "tdx_guest", -1, rd, sizeof(rd), &e) == 0);
	CHECK(out.len == 5 && memcmp(out.data, "QUOTE", 5) == 0);
	snprintf(path, sizeof(path), "%s/inblob", dir);
	CHECK(ccp_read_file(&in, path, 1024, &e) == 0 && in.len == 64 && memcmp(in.data, rd, 64) == 0);
	ccp_buf_free(&out);
	put(dir, "generation", "2\n");
	CHECK(ccp_tsm_report_at(&out, dir, "tdx_guest", -1, rd, sizeof(rd), &e) == CCP_EDECRYPT);
	ccp_buf_free(&out);
	put(dir, "generation", "1\n");
	put(dir, "provider", "sev_guest\n");
	CHECK(ccp_tsm_report_at(&out, dir, "tdx_guest", -1, rd, sizeof(rd), &e) == CCP_EDECRYPT);
	ccp_buf_free(&out);
	/* privlevel is written for SEV. */
	put(dir, "privlevel", "");
	CHECK(ccp_tsm_report_at(&out, dir, "sev_guest", 0, rd, sizeof(rd), &e) == 0);
	ccp_buf_free(&out);
	ccp_buf_free(&in);
	snprintf(path, sizeof(path), "%s/privlevel", dir);
	CHECK(ccp_read_file(&in, path, 16, &e) == 0 && in.len == 1 && in.data[0] == '0');
	ccp_buf_free(&in);
	for (const char *const *n = (const char *const[]){ "provider", "inblob", "outblob", "generation", "privlevel", NULL };
	     *n; n++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *n);
		unlink(path);
	}
	rmdir(dir);

	/* The sample evidence: Trustee's {"svn": "1", "report_data": base64(rd)}. */
	CHECK(ccp_attester_evidence(&ev, CCP_ATTESTER_SAMPLE, NULL, (const unsigned char *)"\x01\x02\x03", 3, &e) == 0);
	CHECK_STR(json_string_value(json_object_get(ev, "svn")), "1");
	CHECK_STR(json_string_value(json_object_get(ev, "report_data")), "AQID");
	json_decref(ev);
	CHECK(ccp_attester_evidence(&ev, CCP_ATTESTER_SAMPLE, NULL, rd, 65, &e) == CCP_EDECRYPT);
	/* TDX through a configfs-tsm root that is not one: an error naming configfs-tsm. */
	CHECK(ccp_attester_evidence(&ev, CCP_ATTESTER_TDX, "/nonexistent-tsm", rd, 48, &e) == CCP_EDECRYPT);
	CHECK(strstr(e.msg, "configfs-tsm") != NULL);
}

/* The attestation agent's GetToken answer {"token", "tee_keypair"} (attestation-agent/src/token/kbs.rs). */
static void test_aa_token(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL, *tok = NULL;
	long n;
	json_t *doc;
	char *txt;
	void *key = NULL;
	int64_t exp = 0;
	ccp_err e = CCP_ERR_INIT;
	/* {"exp": 2000000000} */
	const char *jwt = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjIwMDAwMDAwMDB9.c2ln";

	CHECK(k && bio && PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) == 1);
	n = BIO_get_mem_data(bio, &pem);
	doc = json_pack("{s:s, s:s%}", "token", jwt, "tee_keypair", pem, (size_t)n);
	txt = json_dumps(doc, JSON_COMPACT);
	CHECK(ccp_aa_token_parse(&tok, &exp, &key, txt, strlen(txt), &e) == 0);
	CHECK_STR(tok, jwt);
	CHECK(exp == 2000000000 && key && EVP_PKEY_eq(key, k) == 1);
	free(tok);
	EVP_PKEY_free(key);
	free(txt);
	json_decref(doc);
	{
		const char *bad[] = { "", "[]", "{\"token\": \"a.b.c\"}", "{\"tee_keypair\": \"x\"}",
				      "{\"token\": \"\", \"tee_keypair\": \"x\"}", "{\"token\": \"a.b.c\", \"tee_keypair\": \"\"}",
				      "{\"token\": \"a.b.c\", \"tee_keypair\": \"-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----\\n\"}",
				      "{\"token\": \"a.b.c\", \"tee_keypair\": 1}" };
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			tok = (char *)1;
			key = (void *)1;
			CHECK(ccp_aa_token_parse(&tok, &exp, &key, bad[i], strlen(bad[i]), &e) == CCP_EDECRYPT);
			CHECK(tok == NULL && key == NULL);
		}
	}
	BIO_free(bio);
	EVP_PKEY_free(k);
	/* an agent that is not there: the call and the socket are named */
	CHECK(ccp_aa_token(&tok, &exp, &key, &(int){ 0 }, "/nonexistent/aa.sock", &e) == CCP_EDECRYPT);
	CHECK(strstr(e.msg, "GetToken") && strstr(e.msg, "/nonexistent/aa.sock"));
}

/* A CC event log as OVMF writes it: EV_NO_ACTION spec id event, one SHA-384 event, then 0xff padding. */
static size_t ccel_sample(unsigned char *b, int end_ff)
{
	size_t n = 0;
	unsigned char le[4];
#define PUT(p, len) (memcpy(b + n, (p), (len)), n += (len))
#define U32(v) (le[0] = (unsigned char)(v), le[1] = (unsigned char)((v) >> 8), le[2] = (unsigned char)((v) >> 16), \
		le[3] = (unsigned char)((v) >> 24), PUT(le, 4))
	U32(0);
	U32(3);               /* EV_NO_ACTION */
	memset(b + n, 0, 20); /* SHA-1 digest */
	n += 20;
	U32(5);
	PUT("SpecI", 5);
	U32(1);               /* MR index */
	U32(0x80000001);      /* event type */
	U32(1);               /* one digest */
	PUT("\x0c\x00", 2);   /* SHA-384 */
	memset(b + n, 0xaa, 48);
	n += 48;
	U32(3);
	PUT("abc", 3);
	memset(b + n, end_ff ? 0xff : 0, 16);
	return n;
#undef U32
#undef PUT
}

static void test_ccel(void)
{
	unsigned char b[256];
	size_t n = ccel_sample(b, 1);
	ccp_buf log = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;
	char dir[] = "/tmp/ccpull-ccel-XXXXXX", path[4096];
	json_t *el = NULL;
	ccp_buf dec = CCP_BUF_INIT(0);
	FILE *f;

	CHECK(ccp_buf_append(&log, b, n + 16) == 0);
	CHECK(ccp_ccel_trim(&log, &e) == 0 && log.len == n);
	ccp_buf_free(&log);
	ccel_sample(b, 0);
	CHECK(ccp_buf_append(&log, b, n + 16) == 0);
	CHECK(ccp_ccel_trim(&log, &e) == 0 && log.len == n);
	ccp_buf_free(&log);
	/* every cut short of the end flag is refused */
	for (size_t cut = 0; cut < n + 8; cut++) {
		CHECK(ccp_buf_append(&log, b, cut) == 0 || cut == 0);
		CHECK(ccp_ccel_trim(&log, &e) == CCP_EDECRYPT);
		ccp_buf_free(&log);
	}
	/* an unknown digest algorithm */
	ccel_sample(b, 1);
	b[4 + 4 + 20 + 4 + 5 + 12] = 0x99;
	CHECK(ccp_buf_append(&log, b, n + 16) == 0);
	CHECK(ccp_ccel_trim(&log, &e) == CCP_EDECRYPT && strstr(e.msg, "digest algorithm"));
	ccp_buf_free(&log);

	/* cc_eventlog: null without a CCEL, else base64(trimmed log + 8 x 0xff) */
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/CCEL", dir);
	CHECK(ccp_tdx_eventlog(&el, path, &e) == 0 && json_is_null(el));
	json_decref(el);
	ccel_sample(b, 1);
	CHECK((f = fopen(path, "wb")) && fwrite(b, 1, n + 16, f) == n + 16 && fclose(f) == 0);
	CHECK(ccp_tdx_eventlog(&el, path, &e) == 0 && json_is_string(el));
	CHECK(ccp_b64_decode(&dec, json_string_value(el), json_string_length(el), 0) == 0);
	CHECK(dec.len == n + 8 && memcmp(dec.data, b, n) == 0 && memcmp(dec.data + n, "\xff\xff\xff\xff\xff\xff\xff\xff", 8) == 0);
	ccp_buf_free(&dec);
	json_decref(el);
	CHECK((f = fopen(path, "wb")) && fwrite(b, 1, 10, f) == 10 && fclose(f) == 0);
	CHECK(ccp_tdx_eventlog(&el, path, &e) == CCP_EDECRYPT && strstr(e.msg, "CCEL"));
	unlink(path);
	rmdir(dir);
}

static void put_file(const char *dir, const char *name, const char *data)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CHECK((f = fopen(path, "w")) && fputs(data, f) >= 0 && fclose(f) == 0);
}

/* offline_fs_kbc's files: keys, resources and OFFLINE_FS_KBC_EXTRA_FILE_PATH (confidential-data-hub/kms/src/plugins/kbs/offline_fs.rs) */
static void test_offline_fs(void)
{
	char dir[] = "/tmp/ccpull-offfs-XXXXXX", res[4096], extra[8300], d[4096];
	ccp_kbs_config kc = { 0 };
	ccp_buf b = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;

	CHECK(ccp_kbs_offline_fs_dir(d, sizeof(d), "/etc/aa-offline_fs_kbc-resources.json") == 1);
	CHECK_STR(d, "/etc");
	CHECK(ccp_kbs_offline_fs_dir(d, sizeof(d), "/etc/resources.json") == 0);
	CHECK(mkdtemp(dir) != NULL);
	snprintf(res, sizeof(res), "%s/aa-offline_fs_kbc-resources.json", dir);
	kc.offline = res;
	unsetenv("OFFLINE_FS_KBC_EXTRA_FILE_PATH");
	/* none of the files: every resource is missing, no error about the files */
	CHECK(ccp_kbs_fetch(&b, &kc, "kbs:///default/key/k1", &e) == CCP_EDECRYPT && strstr(e.msg, "not in the offline"));
	/* the keys file beside the resources file holds the layer KEKs ("a" "b" "c") */
	put_file(dir, "aa-offline_fs_kbc-keys.json", "{\"default/key/k1\": \"YQ==\", \"default/key/k2\": \"Yg==\"}");
	CHECK(ccp_kbs_fetch(&b, &kc, "kbs:///default/key/k1", &e) == 0 && b.len == 1 && b.data[0] == 'a');
	ccp_buf_free_secure(&b);
	put_file(dir, "aa-offline_fs_kbc-resources.json", "{\"default/key/k2\": \"Yw==\"}");
	CHECK(ccp_kbs_fetch(&b, &kc, "kbs:///default/key/k2", &e) == 0 && b.len == 1 && b.data[0] == 'c');
	ccp_buf_free_secure(&b);
	/* extra files, comma separated, a missing one empty, the last one winning */
	put_file(dir, "x1.json", "{\"default/key/k2\": \"eA==\", \"default/extra/e\": \"MQ==\"}");
	put_file(dir, "x2.json", "{\"default/extra/e\": \"Mg==\"}");
	snprintf(extra, sizeof(extra), "%s/x1.json,%s/missing.json,%s/x2.json", dir, dir, dir);
	CHECK(setenv("OFFLINE_FS_KBC_EXTRA_FILE_PATH", extra, 1) == 0);
	CHECK(ccp_kbs_fetch(&b, &kc, "kbs:///default/key/k2", &e) == 0 && b.len == 1 && b.data[0] == 'x');
	ccp_buf_free_secure(&b);
	CHECK(ccp_kbs_fetch(&b, &kc, "kbs:///default/extra/e", &e) == 0 && b.len == 1 && b.data[0] == '2');
	ccp_buf_free_secure(&b);
	CHECK(ccp_kbs_fetch(&b, &kc, "kbs:///default/key/k1", &e) == 0 && b.data[0] == 'a');
	ccp_buf_free_secure(&b);
	/* a file that is not JSON is an error, as offline_fs_kbc refuses it */
	put_file(dir, "x2.json", "not json");
	CHECK(ccp_kbs_fetch(&b, &kc, "kbs:///default/key/k1", &e) == CCP_EINVALID && strstr(e.msg, "OFFLINE_FS_KBC_EXTRA_FILE_PATH"));
	unsetenv("OFFLINE_FS_KBC_EXTRA_FILE_PATH");
	/* another file name: that file alone, which must exist */
	snprintf(res, sizeof(res), "%s/other.json", dir);
	CHECK(ccp_kbs_fetch(&b, &kc, "kbs:///default/key/k1", &e) != 0);
	for (const char *const *n = (const char *const[]){ "aa-offline_fs_kbc-keys.json", "aa-offline_fs_kbc-resources.json",
							  "x1.json", "x2.json", NULL };
	     *n; n++) {
		snprintf(d, sizeof(d), "%s/%s", dir, *n);
		unlink(d);
	}
	rmdir(dir);
}

int main(void)
{
	CHECK(ccp_init() == 1);
	test_runtime_data();
	test_jwk();
	test_messages();
	test_paths();
	test_coco();
	test_tsm();
	test_aa_token();
	test_ccel();
	test_offline_fs();
	CHECK(ccp_shutdown() == 0);
	return test_summary();
}
