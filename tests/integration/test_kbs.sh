#!/bin/bash
# Trustee KBS: images encrypted the way CoCo's coco_keyprovider does it (the layer key options wrapped
# with a KEK that lives in the KBS, annotation provider.attestation-agent) are pulled with nothing but
# --kbs URL and a kbs:/// policy, against kbs_server.py (Trustee's RCAR protocol with the sample
# verifier's report-data check). The rootfs must equal umoci's unpack of the plain image. Refused
# attestation, a KBS that is down, a missing resource, a wrong KEK and a tampered JWE fail with exit 6,
# a message naming the step, and nothing left; a KBS that drops the session gets a new attestation.
. "$(dirname "$0")/lib.sh"

"$PY" -c 'import jwcrypto, cryptography' 2>/dev/null || skip "python3-jwcrypto and python3-cryptography are needed"

K=$T/keys
mkdir -p "$K"
head -c 32 /dev/urandom >"$K/kek"
head -c 32 /dev/urandom >"$K/kek-wrong"

OCI=$T/oci
mk_two_layer_image "$OCI" 200000

ENC=$T/enc
cp -a "$OCI" "$ENC"
enc() { "$PY" "$IT_DIR/ocicrypt_encrypt.py" "$ENC" v1 "$@"; }
enc gcm --coco "kbs:///default/image-kek/k1" --kek "$K/kek"
enc ctr --coco "/default/image-kek/k1" --kek "$K/kek" --coco-wrap A256CTR --coco-v2
enc missing --coco "kbs:///default/image-kek/missing" --kek "$K/kek"
enc wrongkek --coco "kbs:///default/image-kek/k2" --kek "$K/kek"

start_registry
for tag in gcm ctr missing wrongkek; do
	skopeo copy --quiet --dest-tls-verify=false "oci:$ENC:$tag" "docker://$REG/kbs/enc:$tag" >/dev/null
done
push "$OCI:v1" other/plain:v1

# The policy the KBS releases: only $REG/kbs is accepted.
cat >"$T/policy.json" <<-EOF
	{"default": [{"type": "reject"}],
	 "transports": {"docker": {"$REG/kbs": [{"type": "insecureAcceptAnything"}]}}}
EOF
b64f() { base64 -w0 "$1"; }
cat >"$T/resources.json" <<-EOF
	{"default/security-policy/test": "$(b64f "$T/policy.json")",
	 "default/image-kek/k1": "$(b64f "$K/kek")",
	 "default/image-kek/k2": "$(b64f "$K/kek-wrong")"}
EOF

PULL=(pull --tls-verify=false --snapshotter copy --policy kbs:///default/security-policy/test)

# kbs_ok NAME REF [options]: pulls into $T/b-NAME with its own store and compares with the plain image.
kbs_ok() {
	local name=$1 ref=$2
	shift 2
	log "pull: $name"
	expect 0 "$CCPULL" "${PULL[@]}" --store "$T/store-$name" "$@" "$REG/$ref" "$T/b-$name"
	treecmp "$T/ref/rootfs" "$T/b-$name/rootfs"
}

# kbs_fail NAME RC REF REGEX [options]: must fail with RC and a message matching REGEX, leaving no
# rootfs and no layer in its store.
kbs_fail() {
	local name=$1 want=$2 ref=$3 re=$4
	shift 4
	log "pull: $name (expect exit $want)"
	expect "$want" "$CCPULL" "${PULL[@]}" --store "$T/store-$name" "$@" "$REG/$ref" "$T/b-$name"
	expect_stderr "$re"
	no_rootfs "$T/b-$name"
	if [ -d "$T/store-$name/layers" ] && [ -n "$(find "$T/store-$name/layers" -mindepth 1 -maxdepth 1 ! -name '*.lock' -print -quit)" ]; then
		fail "$name: a failed pull left layers in the store"
	fi
}

count() { grep -c "^$1\$" "$2" || true; }

# --- the KBS releases the policy and the KEK after one attestation ---
start_kbs main
MAIN=$KBS
kbs_ok gcm kbs/enc:gcm --kbs "$MAIN"
[ "$(count 'attest ok' "$T/kbs-main.log")" = 1 ] || fail "expected one attestation: $(cat "$T/kbs-main.log")"
grep -q '^resource default/security-policy/test 200$' "$T/kbs-main.log" || fail "policy not fetched from the KBS"
grep -q '^resource default/image-kek/k1 200$' "$T/kbs-main.log" || fail "KEK not fetched from the KBS"
[ "$(count 'resource default/image-kek/k1 200' "$T/kbs-main.log")" = 1 ] ||
	fail "the KEK was fetched more than once for two layers: $(cat "$T/kbs-main.log")"
kbs_ok ctr kbs/enc:ctr --kbs "$MAIN" --attester sample
# --decryption-key provider:attestation-agent needs no keyprovider config with --kbs.
kbs_ok aa kbs/enc:gcm --kbs "$MAIN" --decryption-key provider:attestation-agent

# The policy from the KBS is the one enforced.
kbs_fail policy-reject 3 other/plain:v1 'reject|denied|rejected' --kbs "$MAIN"

# --- failures: exit 6 naming the step ---
kbs_fail missing 6 kbs/enc:missing 'default/image-kek/missing.*not found' --kbs "$MAIN"
kbs_fail wrong-kek 6 kbs/enc:wrongkek 'tag mismatch|does not open' --kbs "$MAIN"
kbs_fail no-key 6 kbs/enc:gcm 'provider.attestation-agent' --insecure-policy --policy /nonexistent

start_kbs refuse --refuse
kbs_fail refused 6 kbs/enc:gcm 'attest.*(401|AttestationError)' --kbs "$KBS"
start_kbs tamper --tamper-jwe
kbs_fail tampered 6 kbs/enc:gcm 'JWE.*(tag|altered)' --kbs "$KBS"
DOWN=http://127.0.0.1:$(free_port)
kbs_fail down 6 kbs/enc:gcm 'KBS .*auth' --kbs "$DOWN"
kbs_fail bad-attester 6 kbs/enc:gcm 'snp attester' --kbs "$MAIN" --attester snp

log "pull: policy from kbs:/// without --kbs (expect exit 2)"
expect 2 "$CCPULL" "${PULL[@]}" --store "$T/store-nokbs" "$REG/kbs/enc:gcm" "$T/b-nokbs"
expect_stderr 'kbs'
expect 2 "$CCPULL" "${PULL[@]}" --kbs "$MAIN" --attester nope "$REG/kbs/enc:gcm" "$T/b-nokbs"

# --- the KBS forgets the session after each resource: a 401, then a new attestation ---
start_kbs reattest --session-uses 1
kbs_ok reattest kbs/enc:gcm --kbs "$KBS"
[ "$(count 'attest ok' "$T/kbs-reattest.log")" = 2 ] || fail "expected a second attestation: $(cat "$T/kbs-reattest.log")"
grep -q '^resource default/image-kek/k1 401$' "$T/kbs-reattest.log" || fail "no 401 seen: $(cat "$T/kbs-reattest.log")"

# --- the KBS selects the hash of the runtime data ---
start_kbs sha512 --hash sha512
kbs_ok sha512 kbs/enc:gcm --kbs "$KBS"

log "ok"
