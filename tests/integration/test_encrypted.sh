#!/bin/bash
# Encrypted layers (ocicrypt): images encrypted by skopeo (jwe with RSA and EC keys, several
# recipients, one layer only, zstd) and by ocicrypt_encrypt.py (keyprovider protocol, HMAC in either
# place, a wrong HMAC) are pulled with --decryption-key; each rootfs must equal umoci's unpack of the
# plain image. No key, a wrong key, a tampered blob and a wrong HMAC must fail with the right exit
# status and leave nothing; a layer already in the store is not reused without its key. A C key
# provider added to the context (ccp_context_add_keyprovider) opens skopeo's layers by itself.
. "$(dirname "$0")/lib.sh"

"$PY" -c 'import jwcrypto, cryptography' 2>/dev/null || skip "python3-jwcrypto and python3-cryptography are needed"

K=$T/keys
mkdir -p "$K"
openssl genrsa -out "$K/rsa.pem" 2048 2>/dev/null
openssl rsa -in "$K/rsa.pem" -pubout -out "$K/rsa_pub.pem" 2>/dev/null
openssl genrsa -out "$K/rsa2.pem" 2048 2>/dev/null
openssl rsa -in "$K/rsa2.pem" -pubout -out "$K/rsa2_pub.pem" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$K/ec.pem"
openssl ec -in "$K/ec.pem" -pubout -out "$K/ec_pub.pem" 2>/dev/null
openssl ecparam -name secp384r1 -genkey -noout -out "$K/ec384.pem"
openssl ec -in "$K/ec384.pem" -pubout -out "$K/ec384_pub.pem" 2>/dev/null
openssl pkcs8 -topk8 -in "$K/ec.pem" -out "$K/ec_pass.pem" -passout pass:hunter2
openssl pkcs8 -topk8 -nocrypt -in "$K/ec.pem" -out "$K/ec8.pem" # skopeo reads EC keys only as PKCS#8
head -c 32 /dev/urandom >"$K/kek"

# The plain image: two layers.
OCI=$T/oci
mkdir -p "$T/l2/etc"
printf 'second layer\n' >"$T/l2/etc/motd"
mk_two_layer_image "$OCI" 300000

start_registry
push "$OCI:v1" enc/plain:v1
push "$OCI:v1" enc/rsa:v1 --encryption-key "jwe:$K/rsa_pub.pem"
push "$OCI:v1" enc/ec:v1 --encryption-key "jwe:$K/ec_pub.pem"
push "$OCI:v1" enc/multi:v1 --encryption-key "jwe:$K/rsa2_pub.pem" --encryption-key "jwe:$K/ec384_pub.pem"
push "$OCI:v1" enc/last:v1 --encryption-key "jwe:$K/rsa_pub.pem" --encrypt-layer -1
push "$OCI:v1" enc/zstd:v1 --encryption-key "jwe:$K/ec_pub.pem" --dest-compress-format zstd

mt() { skopeo inspect --tls-verify=false --raw "docker://$REG/$1" | jq -r '[.layers[].mediaType] | join(" ")'; }
[ "$(mt enc/rsa:v1)" = "application/vnd.oci.image.layer.v1.tar+gzip+encrypted application/vnd.oci.image.layer.v1.tar+gzip+encrypted" ] ||
	fail "skopeo did not encrypt both layers: $(mt enc/rsa:v1)"
[ "$(mt enc/last:v1)" = "application/vnd.oci.image.layer.v1.tar+gzip application/vnd.oci.image.layer.v1.tar+gzip+encrypted" ] ||
	fail "skopeo --encrypt-layer -1: $(mt enc/last:v1)"
[ "$(mt enc/zstd:v1)" = "application/vnd.oci.image.layer.v1.tar+zstd+encrypted application/vnd.oci.image.layer.v1.tar+zstd+encrypted" ] ||
	fail "skopeo zstd encryption: $(mt enc/zstd:v1)"

# pull_ok NAME REF [ccpull options]: pulls into $T/b-NAME (copy snapshotter, own store) and compares.
pull_ok() {
	local name=$1 ref=$2
	shift 2
	log "pull: $name"
	expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-$name" "$@" "$REG/$ref" "$T/b-$name"
	treecmp "$T/ref/rootfs" "$T/b-$name/rootfs"
}

# pull_fail NAME RC REF REGEX [ccpull options]: must fail with RC, a message matching REGEX, no rootfs
# and no layer in its store.
pull_fail() {
	local name=$1 want=$2 ref=$3 re=$4
	shift 4
	log "pull: $name (expect exit $want)"
	expect "$want" "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-$name" "$@" "$REG/$ref" "$T/b-$name"
	expect_stderr "$re"
	no_rootfs "$T/b-$name"
	if [ -d "$T/store-$name/layers" ] && [ -n "$(find "$T/store-$name/layers" -mindepth 1 -maxdepth 1 ! -name '*.lock' -print -quit)" ]; then
		fail "$name: a failed pull left layers in the store"
	fi
}

# --- skopeo-encrypted images ---
pull_ok rsa enc/rsa:v1 --decryption-key "jwe:$K/rsa.pem"
pull_ok ec enc/ec:v1 --decryption-key "jwe:$K/ec.pem"
pull_ok ec-pass enc/ec:v1 --decryption-key "jwe:$K/ec_pass.pem:pass=hunter2"
pull_ok multi-rsa enc/multi:v1 --decryption-key "jwe:$K/rsa2.pem"
pull_ok multi-ec enc/multi:v1 --decryption-key "jwe:$K/ec.pem" --decryption-key "jwe:$K/ec384.pem"
pull_ok last enc/last:v1 --decryption-key "jwe:$K/rsa.pem"
pull_ok zstd enc/zstd:v1 --decryption-key "jwe:$K/ec.pem"
# A store pull (overlay-capable path shares the store) of the same image: reused layers stay keyed.
expect 0 "$CCPULL" "${CCP_PULL[@]}" --json --store "$T/store-rsa" --decryption-key "jwe:$K/rsa.pem" \
	"$REG/enc/rsa:v1" "$T/b-rsa-again"
[ "$(jq '[.layers[].reused] | all' "$T/out")" = true ] || fail "second pull did not reuse the stored layers"

pull_fail nokey 6 enc/rsa:v1 'layer 1/2 .*encrypted for jwe.*no decryption key'
pull_fail wrongkey 6 enc/rsa:v1 'no decryption key opens it.*rsa2\.pem' --decryption-key "jwe:$K/rsa2.pem"
pull_fail wrongcurve 6 enc/ec:v1 'no decryption key opens it' --decryption-key "jwe:$K/ec384.pem"
pull_fail badpass 2 enc/ec:v1 'password' --decryption-key "jwe:$K/ec_pass.pem:pass=wrong"
pull_fail badspec 2 enc/ec:v1 'expected jwe:PATH.*pkcs7:PATH.*pgp:PATH' --decryption-key "pkcs11:$K/ec.pem"
# Only the encrypted layer needs a key; without it the pull fails at that layer (the plain layer
# below it may stay in the store: it is verified).
log "pull: last-nokey (expect exit 6)"
expect 6 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-last-nokey" "$REG/enc/last:v1" "$T/b-last-nokey"
expect_stderr 'layer 2/2 .*no decryption key'
no_rootfs "$T/b-last-nokey"

# CVE-2022-24778: layers in the store are not handed out to a pull that has no key.
pull_fail warm-nokey 6 enc/rsa:v1 'no decryption key' --store "$T/store-rsa"
pull_fail warm-wrongkey 6 enc/rsa:v1 'no decryption key opens it' --store "$T/store-rsa" \
	--decryption-key "jwe:$K/rsa2.pem"

# A key provider of the caller's (ccp_context_add_keyprovider; tests/helpers/ctx_keyprovider.c, a C
# provider of the jwe scheme): it opens skopeo's layers with no key in the options, is tried before
# them, and is freed with its context. Without it the same pull fails (exit 6).
HELPER=${CCPULL_BUILD:-}/ctx_keyprovider
[ -x "$HELPER" ] || fail "tests/helpers/ctx_keyprovider is not built (CCPULL_BUILD)"
log "pull: ctx-provider"
expect 0 "$HELPER" add "$K/rsa.pem" "$REG/enc/rsa:v1" "$T/b-ctx-provider" "$T/store-ctx-provider"
grep -qx 'unwrapped 2 freed 1' "$T/out" || fail "ctx-provider: $(cat "$T/out")"
treecmp "$T/ref/rootfs" "$T/b-ctx-provider/rootfs"
log "pull: ctx-none (expect exit 6)"
expect 6 "$HELPER" none "$K/rsa.pem" "$REG/enc/rsa:v1" "$T/b-ctx-none" "$T/store-ctx-none"
expect_stderr 'layer 1/2 .*no decryption key'
no_rootfs "$T/b-ctx-none"
log "pull: ctx-wrong (expect exit 6)"
expect 6 "$HELPER" add "$K/rsa2.pem" "$REG/enc/rsa:v1" "$T/b-ctx-wrong" "$T/store-ctx-wrong"
expect_stderr 'no decryption key opens it.*tried test provider \(ctx_keyprovider\.c\): test provider:'
grep -qx 'unwrapped 0 freed 1' "$T/out" || fail "ctx-wrong: $(cat "$T/out")"
no_rootfs "$T/b-ctx-wrong"

# A tampered ciphertext (the registry flips a byte, the descriptor is unchanged): blob digest, exit 5.
skopeo inspect --tls-verify=false --raw "docker://$REG/enc/ec:v1" >"$T/m-ec.json"
BLOB=$(reg_blob_file "$(jq -r '.layers[0].digest' "$T/m-ec.json")")
cp -p "$BLOB" "$T/saved-blob"
"$PY" - "$BLOB" <<-'EOF'
	import sys
	p = sys.argv[1]
	b = bytearray(open(p, "rb").read())
	b[len(b) // 2] ^= 0x01
	open(p, "wb").write(b)
EOF
pull_fail tampered 5 enc/ec:v1 'blob digest mismatch' --decryption-key "jwe:$K/ec.pem"
cp -p "$T/saved-blob" "$BLOB"

# --- images from the test encryptor (ocicrypt's format) ---
ENC=$T/enc-oci
cp -a "$OCI" "$ENC"
"$PY" "$IT_DIR/ocicrypt_encrypt.py" "$ENC" v1 jwe --jwe "$K/rsa_pub.pem" --jwe "$K/ec_pub.pem"
"$PY" "$IT_DIR/ocicrypt_encrypt.py" "$ENC" v1 jwe-co --jwe "$K/ec_pub.pem" --hmac-in-cipheroptions
"$PY" "$IT_DIR/ocicrypt_encrypt.py" "$ENC" v1 badhmac --jwe "$K/rsa_pub.pem" --bad-hmac
"$PY" "$IT_DIR/ocicrypt_encrypt.py" "$ENC" v1 kp --provider testkp --kek "$K/kek" --jwe "$K/rsa2_pub.pem"
"$PY" "$IT_DIR/ocicrypt_encrypt.py" "$ENC" v1 kp-badhmac --provider testkp --kek "$K/kek" --bad-hmac

# The encryptor follows ocicrypt: skopeo (ocicrypt 1.0.3) decrypts its jwe output to the same tree.
skopeo copy --quiet --decryption-key "$K/ec8.pem" "oci:$ENC:jwe" "oci:$T/skopeo-dec:jwe" >/dev/null ||
	fail "skopeo cannot decrypt the test encryptor's output"
umoci_tree "$T/skopeo-dec:jwe" "$T/skopeo-tree"
treecmp "$T/ref/rootfs" "$T/skopeo-tree/rootfs"
if skopeo copy --quiet --decryption-key "$K/rsa.pem" "oci:$ENC:badhmac" "oci:$T/skopeo-bad:x" >/dev/null 2>&1; then
	fail "skopeo accepted the layer with a wrong HMAC"
fi

for tag in jwe jwe-co badhmac kp kp-badhmac; do
	skopeo copy --quiet --dest-tls-verify=false "oci:$ENC:$tag" "docker://$REG/enc/own:$tag" >/dev/null
done
pull_ok own-jwe enc/own:jwe --decryption-key "jwe:$K/ec.pem"
pull_ok own-jwe-co enc/own:jwe-co --decryption-key "jwe:$K/ec.pem"
# Wrong HMAC, right digests: integrity (exit 5), named as the HMAC; nothing committed.
pull_fail own-badhmac 5 enc/own:badhmac 'HMAC mismatch' --decryption-key "jwe:$K/rsa.pem"

# --- the keyprovider protocol (cmd transport) ---
cat >"$T/ocicrypt.json" <<-EOF
	{"key-providers": {
	  "testkp": {"cmd": {"path": "$IT_DIR/keyprovider.py", "args": ["$K/kek", "$T/kp-requests.log"]}},
	  "remote": {"grpc": "127.0.0.1:9"}}}
EOF
pull_ok kp enc/own:kp --keyprovider-config "$T/ocicrypt.json" --decryption-key provider:testkp:param-1
grep -q '"dc": {"Parameters": {"testkp": \["cGFyYW0tMQ=="\]}}' "$T/kp-requests.log" ||
	fail "the keyprovider did not get the provider parameters: $(cat "$T/kp-requests.log")"
grep -q '"op": "keyunwrap"' "$T/kp-requests.log" || fail "keyprovider request without op"
# From $OCICRYPT_KEYPROVIDER_CONFIG, every configured provider is tried without --decryption-key.
log "pull: kp-env"
OCICRYPT_KEYPROVIDER_CONFIG=$T/ocicrypt.json expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-kp-env" \
	"$REG/enc/own:kp" "$T/b-kp-env"
treecmp "$T/ref/rootfs" "$T/b-kp-env/rootfs"
# The same layers also carry a jwe key: that key alone opens them too.
pull_ok kp-jwe enc/own:kp --decryption-key "jwe:$K/rsa2.pem"
# A keyprovider that cannot unwrap (another KEK): exit 6, its stderr is in the message.
head -c 32 /dev/urandom >"$K/kek-other"
sed "s#$K/kek\"#$K/kek-other\"#" "$T/ocicrypt.json" >"$T/ocicrypt-other.json"
pull_fail kp-wrong 6 enc/own:kp 'provider:testkp.*exited with status 1.*does not open' \
	--keyprovider-config "$T/ocicrypt-other.json"
pull_fail kp-unknown 2 enc/own:kp 'no such key provider' --keyprovider-config "$T/ocicrypt.json" \
	--decryption-key provider:nosuch
pull_fail kp-badhmac 5 enc/own:kp-badhmac 'HMAC mismatch' --keyprovider-config "$T/ocicrypt.json"
