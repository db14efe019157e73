#!/bin/bash
# kbs:/// resources wherever a file can be named: an image encrypted the CoCo way and signed by skopeo
# (GPG, lookaside) pulls with its policy, the policy's keyPath, registries.d, the KEK, auth.json and
# registries.conf all released by kbs_server.py after one attestation (EC or RSA session key), or read
# from an offline resources file (aa-offline_fs_kbc-resources.json format) with no KBS at all. A
# missing resource is exit 6 naming it, a kbs:/// URI with no source is exit 2; neither leaves a
# rootfs or a layer behind, and no resource is written to disk.
. "$(dirname "$0")/lib.sh"

"$PY" -c 'import jwcrypto, cryptography' 2>/dev/null || skip "python3-jwcrypto and python3-cryptography are needed"
command -v gpg >/dev/null 2>&1 || skip "gpg is not installed (see .ci/packages)"
command -v htpasswd >/dev/null 2>&1 || skip "htpasswd is not installed (see .ci/packages)"
command -v openssl >/dev/null 2>&1 || skip "openssl is not installed"

gpg_home
FPR=$(gpg_signing_key 'ccpull kbs <kbs@example.com>' kbs@example.com "$T/signer.gpg")

K=$T/keys
mkdir -p "$K"
head -c 32 /dev/urandom >"$K/kek"

OCI=$T/oci
mk_two_layer_image "$OCI" 100000
ENC=$T/enc
cp -a "$OCI" "$ENC"
"$PY" "$IT_DIR/ocicrypt_encrypt.py" "$ENC" v1 gcm --coco "kbs:///default/image-kek/k1" --kek "$K/kek"

# The signed, encrypted image; signatures in a lookaside directory only the KBS's registries.d names.
start_registry
SIGS=$T/sigstore
mkdir -p "$SIGS" "$T/regd-sign"
printf 'default-docker:\n  lookaside-staging: file://%s\n' "$SIGS" >"$T/regd-sign/default.yaml"
skopeo --registries.d "$T/regd-sign" copy --quiet --dest-tls-verify=false --sign-by "$FPR" \
	"oci:$ENC:gcm" "docker://$REG/res/enc:v1" >/dev/null
[ -n "$(find "$SIGS" -name 'signature-1')" ] || fail "skopeo wrote no signatures under $SIGS"
push "$OCI:v1" res/unsigned:v1
PLAIN_REG=$REG

# Basic auth registry for auth.json.
htpasswd -Bbn carol 'kbs-s3cret' >"$T/htpasswd"
start_registry "$T/htpasswd"
push "$OCI:v1" auth/img:v1 --dest-creds 'carol:kbs-s3cret'
AUTH_REG=$REG

# A TLS registry whose certificate only the KBS's CA bundle makes trusted.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$T/tls.key" -out "$T/tls.crt" 2>/dev/null
_start_registry "  tls:
    certificate: $T/tls.crt
    key: $T/tls.key"
grep -q 'tls' "$REG_LOG" || fail "the TLS registry is not serving TLS: $(tail -n 3 "$REG_LOG")"
push "$OCI:v1" tls/img:v1
TLS_REG=$REG

b64f() { base64 -w0 "$1"; }
b64s() { printf '%s' "$1" | base64 -w0; }
cat >"$T/policy.json" <<-EOF
	{"default": [{"type": "reject"}],
	 "transports": {"docker": {
	   "$PLAIN_REG/res": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "kbs:///default/gpg-public-key/test"}],
	   "$PLAIN_REG/res/missingkey": [{"type": "signedBy", "keyType": "GPGKeys",
	                                  "keyPath": "kbs:///default/gpg-public-key/missing"}]}}}
EOF
printf 'default-docker:\n  lookaside: file://%s\n' "$SIGS" >"$T/sigstore.yaml"
AUTH_JSON=$(printf '{"auths": {"%s": {"auth": "%s"}}}' "$AUTH_REG" "$(b64s 'carol:kbs-s3cret')")
BAD_AUTH=$(printf '{"auths": {"%s": {"auth": "%s"}}}' "$AUTH_REG" "$(b64s 'carol:wrong')")
REGCONF=$(printf '[[registry]]\nprefix = "mirror.example/res"\nlocation = "%s/res"\ninsecure = true\n' "$PLAIN_REG")
cat >"$T/resources.json" <<-EOF
	{"default/security-policy/test": "$(b64f "$T/policy.json")",
	 "default/gpg-public-key/test": "$(b64f "$T/signer.gpg")",
	 "default/sigstore-config/test": "$(b64f "$T/sigstore.yaml")",
	 "default/image-kek/k1": "$(b64f "$K/kek")",
	 "default/credential/test": "$(b64s "$AUTH_JSON")",
	 "default/credential/bad": "$(b64s "$BAD_AUTH")",
	 "default/registry-configuration/test": "$(b64s "$REGCONF")",
	 "default/ca/test": "$(b64f "$T/tls.crt")"}
EOF

SECURE=(pull --tls-verify=false --snapshotter copy --policy kbs:///default/security-policy/test
	--registries-d kbs:///default/sigstore-config/test)

# ok NAME REF ORACLE [options]: pulls into $T/b-NAME with its own store, compares with ORACLE.
ok() {
	local name=$1 ref=$2 oracle=$3
	shift 3
	log "pull: $name"
	expect 0 "$CCPULL" "$@" --store "$T/store-$name" "$ref" "$T/b-$name"
	treecmp "$oracle" "$T/b-$name/rootfs"
}

# bad NAME RC REF REGEX [options]: fails with RC and a message matching REGEX, leaving nothing.
bad() {
	local name=$1 want=$2 ref=$3 re=$4
	shift 4
	log "pull: $name (expect exit $want)"
	expect "$want" "$CCPULL" "$@" --store "$T/store-$name" "$ref" "$T/b-$name"
	expect_stderr "$re"
	log "  $(head -c 400 "$T/err" | tr '\n' ' ')"
	no_rootfs "$T/b-$name"
	if [ -d "$T/store-$name/layers" ] && [ -n "$(find "$T/store-$name/layers" -mindepth 1 -maxdepth 1 ! -name '*.lock' -print -quit)" ]; then
		fail "$name: a failed pull left layers in the store"
	fi
}

count() { grep -c "^$1\$" "$2" || true; }

# --- signed + encrypted: policy, keyPath, registries.d and KEK from the KBS, one attestation ---
start_kbs main
MAIN=$KBS
ok kbs-signed "$PLAIN_REG/res/enc:v1" "$T/ref/rootfs" "${SECURE[@]}" --kbs "$MAIN"
[ "$(count 'attest ok' "$T/kbs-main.log")" = 1 ] || fail "expected one attestation: $(cat "$T/kbs-main.log")"
for r in security-policy/test gpg-public-key/test sigstore-config/test image-kek/k1; do
	[ "$(count "resource default/$r 200" "$T/kbs-main.log")" = 1 ] ||
		fail "default/$r: expected one fetch: $(cat "$T/kbs-main.log")"
done
grep -q '^tee-pubkey EC$' "$T/kbs-main.log" || fail "the default session key is not EC"

# The policy's key decides: unsigned is rejected (3), a key the KBS lacks is exit 6 naming it.
bad unsigned 3 "$PLAIN_REG/res/unsigned:v1" 'reject|signature|signed' "${SECURE[@]}" --kbs "$MAIN"
skopeo copy --quiet --src-tls-verify=false --dest-tls-verify=false "docker://$PLAIN_REG/res/enc:v1" \
	"docker://$PLAIN_REG/res/missingkey:v1" >/dev/null
bad missing-key 6 "$PLAIN_REG/res/missingkey:v1" 'default/gpg-public-key/missing' "${SECURE[@]}" --kbs "$MAIN"
bad missing-policy 6 "$PLAIN_REG/res/enc:v1" 'default/security-policy/none' pull --tls-verify=false \
	--snapshotter copy --policy kbs:///default/security-policy/none --kbs "$MAIN"

# --- an RSA session key (RSA-OAEP-256 JWEs) ---
start_kbs rsa
ok kbs-rsa "$PLAIN_REG/res/enc:v1" "$T/ref/rootfs" "${SECURE[@]}" --kbs "$KBS" --kbs-key rsa
grep -q '^tee-pubkey RSA$' "$T/kbs-rsa.log" || fail "--kbs-key rsa did not attest with an RSA key: $(cat "$T/kbs-rsa.log")"
expect 2 "$CCPULL" "${SECURE[@]}" --kbs "$KBS" --kbs-key dsa "$PLAIN_REG/res/enc:v1" "$T/b-dsa"

# --- the offline file alone: no KBS, nothing else ---
ok offline "$PLAIN_REG/res/enc:v1" "$T/ref/rootfs" "${SECURE[@]}" --kbs-resources "$T/resources.json"
bad offline-missing 6 "$PLAIN_REG/res/missingkey:v1" 'default/gpg-public-key/missing' "${SECURE[@]}" \
	--kbs-resources "$T/resources.json"
# The offline file first, the KBS for what it lacks: the KEK comes from the KBS.
printf '{"default/security-policy/test": "%s", "default/gpg-public-key/test": "%s", "default/sigstore-config/test": "%s"}\n' \
	"$(b64f "$T/policy.json")" "$(b64f "$T/signer.gpg")" "$(b64f "$T/sigstore.yaml")" >"$T/partial.json"
start_kbs both
ok offline-and-kbs "$PLAIN_REG/res/enc:v1" "$T/ref/rootfs" "${SECURE[@]}" --kbs-resources "$T/partial.json" --kbs "$KBS"
grep -q '^resource default/image-kek/k1 200$' "$T/kbs-both.log" || fail "KEK not fetched from the KBS"
! grep -q 'security-policy' "$T/kbs-both.log" || fail "the offline policy was asked from the KBS"
printf '{"default/a/b": "not base64"}\n' >"$T/broken.json"
bad offline-broken 2 "$PLAIN_REG/res/enc:v1" 'broken.json.*base64' "${SECURE[@]}" --kbs-resources "$T/broken.json"

# --- auth.json and registries.conf from the KBS ---
ok kbs-auth "$AUTH_REG/auth/img:v1" "$T/ref/rootfs" "${CCP_PULL[@]}" --kbs "$MAIN" \
	--authfile kbs:///default/credential/test
bad kbs-auth-wrong 4 "$AUTH_REG/auth/img:v1" 'auth|401|unauthori' "${CCP_PULL[@]}" --kbs "$MAIN" \
	--authfile kbs:///default/credential/bad
bad kbs-auth-missing 6 "$AUTH_REG/auth/img:v1" 'default/credential/missing' "${CCP_PULL[@]}" --kbs "$MAIN" \
	--authfile kbs:///default/credential/missing
ok kbs-regconf mirror.example/res/unsigned:v1 "$T/ref/rootfs" "${CCP_PULL[@]}" \
	--kbs-resources "$T/resources.json" --registries-conf kbs:///default/registry-configuration/test
# --ca-file from the KBS: handed to libcurl in a memfd; without it the certificate is untrusted (4).
ok kbs-ca "$TLS_REG/tls/img:v1" "$T/ref/rootfs" pull --insecure-policy --snapshotter copy --kbs "$MAIN" \
	--ca-file kbs:///default/ca/test
bad kbs-no-ca 4 "$TLS_REG/tls/img:v1" 'certificate|SSL|TLS' pull --insecure-policy --snapshotter copy
bad kbs-ca-missing 6 "$PLAIN_REG/res/unsigned:v1" 'default/ca/missing' "${CCP_PULL[@]}" --kbs "$MAIN" \
	--ca-file kbs:///default/ca/missing

# --- kbs:/// without a source: exit 2 naming the option and the ways to give one ---
bad nokbs-policy 2 "$PLAIN_REG/res/enc:v1" 'kbs-resources' "${SECURE[@]}"
bad nokbs-auth 2 "$AUTH_REG/auth/img:v1" 'auth file.*--kbs URL' "${CCP_PULL[@]}" --authfile kbs:///default/credential/test
bad nokbs-regconf 2 mirror.example/res/unsigned:v1 'registries.conf.*--kbs URL' "${CCP_PULL[@]}" \
	--registries-conf kbs:///default/registry-configuration/test
bad nokbs-bad-uri 2 "$PLAIN_REG/res/unsigned:v1" 'REPOSITORY/TYPE/TAG' "${CCP_PULL[@]}" --kbs "$MAIN" \
	--authfile kbs:///default/credential

# --- ccpull.toml: CDH's offline_fs_kbc with kbs:/// URIs ---
cat >"$T/ccpull.toml" <<-EOF
	[kbc]
	name = "offline_fs_kbc"
	url = "file://$T/resources.json"
	[image]
	image_security_policy_uri = "kbs:///default/security-policy/test"
	sigstore_config_uri = "kbs:///default/sigstore-config/test"
EOF
ok toml "$PLAIN_REG/res/enc:v1" "$T/ref/rootfs" pull --tls-verify=false --snapshotter copy --config "$T/ccpull.toml"

# --- resources never reach the disk ---
if grep -rqaF 'kbs-s3cret' "$T"/store-* "$T"/b-* 2>/dev/null; then
	fail "a KBS resource was written to disk"
fi

log "ok"
