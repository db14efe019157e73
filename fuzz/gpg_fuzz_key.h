/* Made by testdata/mkgpgfuzz.sh: the public key the gpg_verify fuzz target trusts. */
static const char gpg_fuzz_key[] =
	"-----BEGIN PGP PUBLIC KEY BLOCK-----\n"
	"\n"
	"mDMEawpL7BYJKwYBBAHaRw8BAQdAraNLMWHA/cjq+IKuOxT8u2xuiBH2na4HRvYa\n"
	"rzH+pGS0E2Z1enpAY2NwdWxsLmludmFsaWSIkAQTFggAOBYhBCa35O8/qDJ9Jszo\n"
	"nY3H78ZKX32rBQJrCkvsAhsDBQsJCAcCBhUKCQgLAgQWAgMBAh4BAheAAAoJEI3H\n"
	"78ZKX32rPqEBAPfs74mYI0ethGwFXQ99xXFQ8UxeumGRyRty8k3kyCB+AP99o0xn\n"
	"dIVqLAhplnPMEqCzQQOirwMQn6NIp6FaM4acDQ==\n"
	"=1DSo\n"
	"-----END PGP PUBLIC KEY BLOCK-----\n"
	;
