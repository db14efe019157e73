#include "test.h"
#include "digest/digest.h"

#define HEX64 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

int main(void)
{
	ccp_digest d, d2;
	ccp_err e = CCP_ERR_INIT;
	char s[CCP_DIGEST_STR_MAX];
	const char *bad[] = { "", "sha256", "sha256:", "md5:" HEX64, "sha256:" HEX64 "0",
			      "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
			      "sha256:" "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			      "SHA256:" HEX64, " sha256:" HEX64, "sha512:" HEX64 };

	CHECK(ccp_digest_parse(&d, "sha256:" HEX64, strlen("sha256:" HEX64), &e) == 0);
	CHECK(d.algo == CCP_SHA256);
	CHECK_STR(ccp_digest_str(&d, s), "sha256:" HEX64);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(ccp_digest_parse(&d2, bad[i], strlen(bad[i]), &e) == CCP_EINVALID);
		CHECK(e.msg[0] != '\0');
	}
	/* the empty input hashes to the well-known constant */
	CHECK(ccp_digest_compute(&d2, CCP_SHA256, "", 0, &e) == 0);
	CHECK(ccp_digest_equal(&d, &d2));
	CHECK(ccp_digest_compute(&d2, CCP_SHA512, "abc", 3, &e) == 0);
	CHECK_STR(ccp_digest_str(&d2, s), "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
					  "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
	CHECK(!ccp_digest_equal(&d, &d2));
	/* streaming equals one-shot */
	{
		ccp_hasher h;
		CHECK(ccp_hasher_init(&h, CCP_SHA512, &e) == 0);
		ccp_hasher_update(&h, "a", 1);
		ccp_hasher_update(&h, "bc", 2);
		ccp_hasher_final(&h, &d);
		ccp_hasher_free(&h);
		CHECK(ccp_digest_equal(&d, &d2));
		CHECK(h.bytes == 3);
	}
	return test_summary();
}
