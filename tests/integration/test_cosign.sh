#!/bin/bash
# Sigstore (cosign) signatures from the registry: images pushed by skopeo, signed by cosign_sign.py the
# way cosign does (sha256-<hex>.sig manifest, simplesigning payload, annotations), read with
# use-sigstore-attachments. Key, keyData and Fulcio + Rekor policies; accepted (0) and rejected (3) cases.
# Keys also in cosign's encrypted key file format; one byte changed in any field of a signature rejects it.
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null 2>&1 || skip "openssl is not installed"
"$PY" -c 'import cryptography' 2>/dev/null || skip "python3-cryptography is not installed (see .ci/packages)"
"$PY" -c 'import nacl.secret' 2>/dev/null || skip "python3-nacl is not installed (see .ci/packages)"
SIGN="$PY $IT_DIR/cosign_sign.py"

start_registry
OCI=$T/oci
oci_new "$OCI" v1
mkdir -p "$T/l1/etc"
printf 'cosign-signed content\n' >"$T/l1/etc/hello"
add_tree_layer "$OCI:v1" "$T/l1"

$SIGN keygen "$T/cosign.key" "$T/cosign.pub"
$SIGN keygen "$T/other.key" "$T/other.pub"
$SIGN keygen "$T/rekor.key" "$T/rekor.pub"
$SIGN keygen "$T/rekor2.key" "$T/rekor2.pub"
# A Fulcio-like leaf valid for ten minutes an hour ago; the log saw the signature inside that window.
NOW=$(date +%s)
NB=$((NOW - 3600))
mkdir -p "$T/fulcio" "$T/fulcio-expired"
$SIGN ca "$T/fulcio" https://issuer.example.com signer@example.com "$NB" $((NB + 600))
$SIGN ca "$T/fulcio-expired" https://issuer.example.com signer@example.com "$NB" $((NB + 600))

mkdir -p "$T/regd"
printf 'default-docker:\n  use-sigstore-attachments: true\n' >"$T/regd/default.yaml"
mkdir -p "$T/regd-off"
printf 'default-docker:\n  lookaside: file://%s/none\n' "$T" >"$T/regd-off/default.yaml"

# sign_image NAME SIGN-ARGS...: pushes the image as $REG/NAME:v1 and signs its manifest digest.
sign_image() {
	local name=$1 digest
	shift
	push "$OCI:v1" "$name:v1"
	digest=$(reg_digest "$name:v1")
	[ -n "$digest" ] || fail "no digest for $name"
	$SIGN sign "$REG" "$name" "$digest" "$REG/$name" "$@"
}

sign_image cs/key "$T/cosign.key" --out-sig "$T/key.sig" --out-payload "$T/key.payload"
# The signer is checked by an independent verifier first.
openssl dgst -sha256 -verify "$T/cosign.pub" -signature "$T/key.sig" "$T/key.payload" >/dev/null ||
	fail "openssl does not verify the test signer's signature"
if openssl dgst -sha256 -verify "$T/other.pub" -signature "$T/key.sig" "$T/key.payload" >/dev/null 2>&1; then
	fail "openssl verifies with the wrong key"
fi
sign_image cs/otherkey "$T/other.key"
sign_image cs/digest "$T/cosign.key" --signed-digest "sha256:$(printf 'x' | sha256sum | cut -d' ' -f1)"
sign_image cs/tamper "$T/cosign.key" --tamper-payload
push "$OCI:v1" "cs/ident:v1"
$SIGN sign "$REG" cs/ident "$(reg_digest cs/ident:v1)" "$REG/cs/someone-else" "$T/cosign.key"
push "$OCI:v1" "cs/unsigned:v1"
# Two signatures, the first by an unknown key: one accepted signature is enough.
sign_image cs/mixed "$T/other.key"
$SIGN sign "$REG" cs/mixed "$(reg_digest cs/mixed:v1)" "$REG/cs/mixed" "$T/cosign.key" --append
# Keys in cosign's encrypted format (signatures.md section 5): the current PEM type with the scrypt N
# go-securesystemslib writes, and the older type with the N skopeo 1.9.3 requires.
export COSIGN_PASSWORD='correct horse'
$SIGN generate-key-pair "$T/enc.key" "$T/enc.pub" --scrypt-n 65536
$SIGN generate-key-pair "$T/enc-old.key" "$T/enc-old.pub" --pem-type COSIGN --scrypt-n 32768
# check_enc_key FILE PEM-TYPE N: the file has cosign's layout (checked with jq and base64, not the signer).
check_enc_key() {
	local f=$1 type=$2 n=$3 j=$T/enc.json
	[ "$(head -n 1 "$f")" = "-----BEGIN ENCRYPTED $type PRIVATE KEY-----" ] || fail "$f: PEM type: $(head -n 1 "$f")"
	[ "$(tail -n 1 "$f")" = "-----END ENCRYPTED $type PRIVATE KEY-----" ] || fail "$f: PEM end: $(tail -n 1 "$f")"
	sed '1d;$d' "$f" | base64 -d >"$j" || fail "$f: PEM body is not base64"
	jq -e --argjson n "$n" '(keys_unsorted == ["kdf", "cipher", "ciphertext"]) and .kdf.name == "scrypt" and
		.kdf.params == {"N": $n, "r": 8, "p": 1} and .cipher.name == "nacl/secretbox"' "$j" >/dev/null ||
		fail "$f: not cosign's layout: $(cat "$j")"
	[ "$(jq -r .kdf.salt "$j" | base64 -d | wc -c)" = 32 ] || fail "$f: salt is not 32 bytes"
	[ "$(jq -r .cipher.nonce "$j" | base64 -d | wc -c)" = 24 ] || fail "$f: nonce is not 24 bytes"
	# The secretbox is the 16-byte tag and the PKCS#8 DER of the key: 138 bytes for P-256.
	[ "$(jq -r .ciphertext "$j" | base64 -d | wc -c)" = $((16 + 138)) ] || fail "$f: ciphertext size"
}
check_enc_key "$T/enc.key" SIGSTORE 65536
check_enc_key "$T/enc-old.key" COSIGN 32768
# Decrypted, it is the private key of the public key written with it (checked by openssl).
$SIGN decrypt-key "$T/enc.key" "$T/enc.dec"
openssl pkey -in "$T/enc.dec" -pubout | cmp -s - "$T/enc.pub" || fail "the decrypted key does not match enc.pub"
if COSIGN_PASSWORD=wrong $SIGN decrypt-key "$T/enc.key" "$T/enc.bad" 2>/dev/null; then
	fail "an encrypted key file decrypts with a wrong password"
fi
sign_image cs/enckey "$T/enc.key" --out-sig "$T/enc.sig" --out-payload "$T/enc.payload"
openssl dgst -sha256 -verify "$T/enc.pub" -signature "$T/enc.sig" "$T/enc.payload" >/dev/null ||
	fail "openssl does not verify the signature made with the encrypted key file"
sign_image cs/enckeyold "$T/enc-old.key"
push "$OCI:v1" "cs/encwrongpw:v1"
if COSIGN_PASSWORD=wrong $SIGN sign "$REG" cs/encwrongpw "$(reg_digest cs/encwrongpw:v1)" "$REG/cs/encwrongpw" \
	"$T/enc.key" 2>/dev/null; then
	fail "signed with an encrypted key file and a wrong password"
fi
# Key + Rekor.
sign_image cs/keyrekor "$T/cosign.key" --rekor-key "$T/rekor.key" --time "$NOW"
sign_image cs/keybadset "$T/cosign.key" --rekor-key "$T/rekor.key" --time "$NOW" --bad-set
# Fulcio + Rekor: inside the leaf's validity, after it, a SET by another log, a tampered SET.
F=$T/fulcio
FE=$T/fulcio-expired
sign_image cs/fulcio "$F/leaf.key" --cert "$F/leaf.pem" --chain "$F/chain.pem" --rekor-key "$T/rekor.key" --time $((NB + 60))
sign_image cs/expired "$FE/leaf.key" --cert "$FE/leaf.pem" --chain "$FE/chain.pem" --rekor-key "$T/rekor.key" \
	--time $((NB + 1200))
sign_image cs/otherlog "$F/leaf.key" --cert "$F/leaf.pem" --chain "$F/chain.pem" --rekor-key "$T/rekor2.key" \
	--time $((NB + 60))
sign_image cs/fulciobadset "$F/leaf.key" --cert "$F/leaf.pem" --chain "$F/chain.pem" --rekor-key "$T/rekor.key" \
	--time $((NB + 60)) --bad-set
# The leaf's key but no certificate: Fulcio policies need one.
sign_image cs/nocert "$F/leaf.key" --rekor-key "$T/rekor.key" --time $((NB + 60))

P=$T/policies
mkdir -p "$P"
ss() { printf '{"default": [{"type": "sigstoreSigned", %s, "signedIdentity": {"type": "matchRepository"}}]}\n' "$1"; }
ss "\"keyPath\": \"$T/cosign.pub\"" >"$P/key.json"
ss "\"keyData\": \"$(base64 -w0 "$T/cosign.pub")\"" >"$P/keydata.json"
ss "\"keyPaths\": [\"$T/other.pub\", \"$T/cosign.pub\"]" >"$P/keypaths.json"
ss "\"keyPath\": \"$T/other.pub\"" >"$P/otherkey.json"
ss "\"keyPath\": \"$T/enc.pub\"" >"$P/enc.json"
ss "\"keyPaths\": [\"$T/enc.pub\", \"$T/enc-old.pub\"]" >"$P/encboth.json"
ss "\"keyPath\": \"$T/cosign.pub\", \"rekorPublicKeyPath\": \"$T/rekor.pub\"" >"$P/keyrekor.json"
fulcio() { # CA ISSUER EMAIL REKOR
	ss "\"fulcio\": {\"caPath\": \"$1\", \"oidcIssuer\": \"$2\", \"subjectEmail\": \"$3\"}, \"rekorPublicKeyPath\": \"$4\""
}
fulcio "$F/ca.pem" https://issuer.example.com signer@example.com "$T/rekor.pub" >"$P/fulcio.json"
ss "\"fulcio\": {\"caData\": \"$(base64 -w0 "$F/ca.pem")\", \"oidcIssuer\": \"https://issuer.example.com\",
	\"subjectEmail\": \"signer@example.com\"}, \"rekorPublicKeyData\": \"$(base64 -w0 "$T/rekor.pub")\"" \
	>"$P/fulciodata.json"
fulcio "$F/ca.pem" https://issuer.example.com other@example.com "$T/rekor.pub" >"$P/fulcio-email.json"
fulcio "$F/ca.pem" https://other-issuer.example.com signer@example.com "$T/rekor.pub" >"$P/fulcio-issuer.json"
fulcio "$FE/ca.pem" https://issuer.example.com signer@example.com "$T/rekor.pub" >"$P/fulcio-expired.json"
printf '{"default": [{"type": "sigstoreSigned", "keyPath": "%s", "signedIdentity": {"type": "matchExact"}}]}\n' \
	"$T/cosign.pub" >"$P/exact.json"

n=0
check() { # WANT POLICY IMAGE [REGD]
	local want=$1 pol=$2 img=$3 regd=${4:-$T/regd}
	n=$((n + 1))
	expect "$want" "$CCPULL" pull --policy "$P/$pol.json" --registries-d "$regd" --tls-verify=false \
		--snapshotter copy --store "$T/store" "$REG/$img:v1" "$T/b-$n"
	if [ "$want" -eq 3 ]; then
		no_rootfs "$T/b-$n"
		expect_stderr "$REG/$img"
		expect_stderr 'default'
	else
		[ "$(cat "$T/b-$n/rootfs/etc/hello")" = "cosign-signed content" ] || fail "rootfs of $img is wrong"
	fi
	log "$pol x $img: $want ($(tail -n 1 "$T/err" | cut -c1-200))"
	rm -rf "$T/b-$n"
}

check 0 key cs/key
check 0 keydata cs/key
check 0 keypaths cs/key
check 0 key cs/mixed
check 3 otherkey cs/key
expect_stderr 'cryptographic signature verification failed'
check 3 key cs/otherkey
check 3 key cs/digest
expect_stderr 'Signature for digest .* does not match'
check 3 key cs/tamper
check 3 key cs/ident
expect_stderr 'is not accepted'
check 3 key cs/unsigned
expect_stderr 'no signature exists'
# Without use-sigstore-attachments there is nothing to look at.
check 3 key cs/key "$T/regd-off"
# cosign signatures carry a repository, not a tag: matchExact refuses them.
check 3 exact cs/key
check 0 enc cs/enckey
check 0 encboth cs/enckey
check 0 encboth cs/enckeyold
check 3 otherkey cs/enckey
expect_stderr 'cryptographic signature verification failed'
check 3 key cs/enckey
check 3 enc cs/key
check 3 enc cs/enckeyold
check 3 enc cs/encwrongpw
expect_stderr 'no signature exists'
check 0 keyrekor cs/keyrekor
check 3 keyrekor cs/key
expect_stderr 'bundle'
check 3 keyrekor cs/keybadset
check 0 fulcio cs/fulcio
check 0 fulciodata cs/fulcio
check 3 fulcio-email cs/fulcio
expect_stderr 'Required email'
check 3 fulcio-issuer cs/fulcio
expect_stderr 'OIDC issuer'
check 3 fulcio-expired cs/expired
expect_stderr 'expired'
check 3 fulcio cs/expired
check 3 fulcio cs/otherlog
expect_stderr 'Rekor SET'
check 3 fulcio cs/fulciobadset
check 3 fulcio cs/nocert
check 3 fulcio cs/key

log "a rejected image has none of its layers fetched"
layer=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/cs/tamper/manifests/v1" |
	jq -r '.layers[0].digest')
gets=$(grep -c "GET /v2/cs/tamper/blobs/$layer " "$REG_ACCESS_LOG" || true)
check 3 key cs/tamper
[ "$(grep -c "GET /v2/cs/tamper/blobs/$layer " "$REG_ACCESS_LOG" || true)" = "$gets" ] ||
	fail "a rejected image had its layer fetched"
log "$n cosign policy x image cases"

# Tampering: one byte changed at TAMPER_POSITIONS positions spread over each field of a signature (the
# signature annotation, certificate, Rekor bundle, payload) must reject the image, and the original
# signature, put back, must be accepted again each time. Each field is tampered where its own check sees
# it: Rekor's cross-checks would catch changed signatures and payloads first, so those are changed in a
# signature by the encrypted key (they reach the ECDSA check); certificates in a Fulcio + Rekor signature
# and in a PKI one (they reach the X.509 checks); the bundle in the Fulcio + Rekor signature.
TAMPER_POSITIONS=16
sign_image cs/tloop "$F/leaf.key" --cert "$F/leaf.pem" --chain "$F/chain.pem" --rekor-key "$T/rekor.key" \
	--time $((NB + 60))
mkdir -p "$T/pki"
$SIGN ca "$T/pki" https://issuer.example.com signer@example.com $((NOW - 60)) $((NOW + 3600))
sign_image cs/pki "$T/pki/leaf.key" --cert "$T/pki/leaf.pem" --chain "$T/pki/chain.pem"
ss "\"pki\": {\"caRootsPath\": \"$T/pki/ca.pem\", \"subjectEmail\": \"signer@example.com\"}" >"$P/pki.json"
check 0 pki cs/pki
check 3 pki cs/fulcio
# tamper_loop IMAGE POLICY FIELD...: every tampered copy of FIELDs of IMAGE's signature, then the original.
tamper_loop() {
	local img=$1 pol=$2 digest url d=$T/tl-${1//\//-} field pos file f n=0
	shift 2
	digest=$(reg_digest "$img:v1")
	url="http://$REG/v2/$img/manifests/sha256-${digest#sha256:}.sig"
	mkdir -p "$d"
	$SIGN tamper "$REG" "$img" "$digest" "$d" --positions "$TAMPER_POSITIONS" >"$d/all"
	: >"$d/list"
	for field in "$@"; do
		grep "^$field " "$d/all" >>"$d/list" || true
		[ "$(grep -c "^$field " "$d/list")" = "$TAMPER_POSITIONS" ] || fail "tamper $img: not $TAMPER_POSITIONS $field cases"
	done
	while read -r field pos file <&3; do
		for f in "$file" "$d/orig.json"; do
			curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$f" "$url" \
				>/dev/null || fail "could not put $f as the signature of $img"
			expect "$([ "$f" = "$file" ] && echo 3 || echo 0)" "$CCPULL" verify --policy "$P/$pol.json" \
				--registries-d "$T/regd" --tls-verify=false "$REG/$img:v1"
			[ "$f" = "$file" ] || continue
			expect_stderr "$REG/$img:v1 rejected"
			printf '%s %s: %s\n' "$field" "$pos" "$(grep -v '^ ' "$T/err" | tail -n 1 | sed 's/.*requirement [0-9]* of [0-9]*): //')" >>"$T/tamper-reasons"
		done
		n=$((n + 1))
	done 3<"$d/list"
	log "$img: $n tampered signatures rejected, each accepted again once restored"
}
tamper_loop cs/tloop fulcio certificate bundle
tamper_loop cs/enckey enc signature payload
tamper_loop cs/pki pki certificate
log "why tampered signatures were rejected:"
cut -d: -f2- "$T/tamper-reasons" | sed 's/ near .*//' | sort | uniq -c | sort -rn >&2
