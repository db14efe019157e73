/*
 * Key providers: the sources of layer decryption keys behind ocicrypt's key wrapping schemes.
 *
 * An encrypted layer carries, per scheme, wrapped copies of its key options in the annotations
 * org.opencontainers.image.enc.keys.<scheme> ("jwe", "provider.<name>", ...). A key provider
 * unwraps one such copy into ocicrypt's PrivateLayerBlockCipherOptions JSON
 * ({"symkey": ..., "cipheroptions": {"nonce": ...}, "digest": ...}).
 *
 * An implementation embeds ccp_keyprovider as its first member and sets version to
 * CCP_KEYPROVIDER_VERSION; new members are only ever appended, so a provider built against an
 * older version keeps working.
 *
 * A program adds its own providers to a context with ccp_context_add_keyprovider (ccpull/pull.h):
 * every pull on that context asks them first, before the keys of its options. The library's own
 * providers (jwe, pkcs7, pgp, the keyprovider protocol, the KBS) implement the same vtable.
 */
#ifndef INCLUDE_ccpull_sys_keyprovider_h__
#define INCLUDE_ccpull_sys_keyprovider_h__

#include <stddef.h>
#include "../common.h"

CCP_BEGIN_DECL

#define CCP_KEYPROVIDER_VERSION 1

typedef struct ccp_keyprovider ccp_keyprovider;

struct ccp_keyprovider {
	unsigned int version;

	/* What the provider is, for messages ("jwe:/etc/keys/priv.pem", "provider:kbs (cmd /usr/bin/kp)").
	 * Never key material. */
	const char *description;

	/* 1 when the provider unwraps keys of scheme (the annotation suffix: "jwe", "provider.kbs"). */
	int (*handles)(const ccp_keyprovider *kp, const char *scheme);

	/*
	 * Unwraps one wrapped key (the base64-decoded annotation entry) of scheme. dc_json is the ocicrypt
	 * DecryptConfig for this provider ({"Parameters": {...}}), never NULL. On success *out holds the
	 * PrivateLayerBlockCipherOptions JSON (malloc'ed; the caller wipes and frees it). Returns 0 or a
	 * negative ccp_error_code with a message in err (NUL-terminated, at most err_len bytes) that names
	 * the cause and never contains key material. CCP_EDECRYPT means "this key does not open it": the
	 * caller then tries the next wrapped key or provider.
	 */
	int (*unwrap)(ccp_keyprovider *kp, const char *scheme, const unsigned char *wrapped, size_t wrapped_len,
		      const char *dc_json, unsigned char **out, size_t *out_len, char *err, size_t err_len);

	/* Releases the provider and wipes any key material it holds. */
	void (*free)(ccp_keyprovider *kp);
};

CCP_END_DECL
#endif
