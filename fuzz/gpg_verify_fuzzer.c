/*
 * OpenPGP signature blobs (simple signing) through gpgme into ccp_gpg_verify, against a keyring that
 * trusts one key (fuzz/gpg_fuzz_key.h). Only the seed's own signature can verify; anything else must
 * be refused, and an accepted one must name the trusted key and give a payload no larger than its input.
 */
#include <stdint.h>
#include <string.h>

#include "signature/signature.h"
#include "gpg_fuzz_key.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ccp_gpg_keyring *keyring;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	ccp_buf key = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;

	(void)argc;
	(void)argv;
	if (ccp_buf_puts(&key, gpg_fuzz_key) != 0 || ccp_gpg_keyring_new(&keyring, &key, 1, &e) != 0)
		__builtin_trap();
	ccp_buf_free(&key);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_buf payload = CCP_BUF_INIT(1 << 20);
	ccp_err e = CCP_ERR_INIT;
	char signer[128];

	if (size > 64 * 1024)
		return 0;
	if (ccp_gpg_verify(keyring, data, size, &payload, signer, sizeof(signer), &e) == 0) {
		if (payload.len > size || strlen(signer) < 16)
			__builtin_trap();
	} else if (e.code != CCP_EPOLICY) {
		__builtin_trap();
	}
	ccp_buf_free(&payload);
	return 0;
}
