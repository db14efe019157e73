#!/bin/bash
# Sigstore bundles (cosign v3's default signature format) attached to images as OCI referrers: bundles made
# by Sigstore's own JavaScript code (tests/integration/sigstore/sign.js: @sigstore/sign, @sigstore/mock's
# transparency log behind nock, @sigstore/oci) and found through the Referrers Tag Schema of docker-registry
# 2.8, which has no referrers API, and through the referrers API (referrers_proxy.py). Keyless (Fulcio + Rekor), key (with and without a log entry), legacy .sig
# and bundle side by side, index- and manifest-level; refusals are exit 3 with no layer fetched.
. "$(dirname "$0")/lib.sh"

SIGDIR=$IT_DIR/sigstore
if [ ! -d "$SIGDIR/node_modules/@sigstore/sign" ] || ! command -v node >/dev/null 2>&1; then
	# CI installs them (.ci/run: npm ci); there a missing signer is a failure, never a skip.
	msg="node or the npm packages of $SIGDIR are missing (npm ci --prefix $SIGDIR)"
	[ "${CI:-}" = true ] && fail "$msg"
	skip "$msg"
fi
"$PY" -c 'import cryptography' 2>/dev/null || skip "python3-cryptography is not installed (see .ci/packages)"

start_registry
OCI=$T/oci
oci_new "$OCI" v1
mkdir -p "$T/l1/etc"
printf 'bundle-signed content\n' >"$T/l1/etc/hello"
add_tree_layer "$OCI:v1" "$T/l1"
umoci config --image "$OCI:v1" --os linux --architecture "$HOST_ARCH"
# A second image: its bundle attached to the first is "another image's bundle".
oci_new "$OCI" other
mkdir -p "$T/l2/etc"
printf 'other content\n' >"$T/l2/etc/hello"
add_tree_layer "$OCI:other" "$T/l2"

images=(keyless keyless-email keyless-issuer untrusted expired key key-nolog key-log-norekor foreign forged
	forged-time forged-proof forged-body nolog another payload signature key-signature unsigned named mixed-legacy
	mixed-bundle)
for img in "${images[@]}"; do
	push "$OCI:v1" "sb/$img:v1"
done
push "$OCI:other" sb/otherimg:v1
OTHER_DIGEST=$(reg_digest sb/otherimg:v1)
# An index of two platforms (the host's and another), signed at the index level or at the platform's.
if [ "$HOST_ARCH" = amd64 ]; then OTHER_ARCH=arm64; else OTHER_ARCH=amd64; fi
oci_new "$OCI" p-other
add_tree_layer "$OCI:p-other" "$T/l2"
umoci config --image "$OCI:p-other" --os linux --architecture "$OTHER_ARCH"
"$PY" "$IT_DIR/mkindex.py" "$OCI" multi "v1=linux/$HOST_ARCH" "p-other=linux/$OTHER_ARCH" >/dev/null
for img in idx-top idx-platform idx-otherplatform; do
	push "$OCI:multi" "sb/$img:v1" --all
done
PLATFORM_DIGEST=$(reg_digest sb/keyless:v1)

EMAIL=signer@example.com
ISSUER=https://issuer.example.com
NOW=$(date +%s)
# job NAME IMAGE [JSON fields...]: one bundle for IMAGE's manifest digest.
jobs=()
job() {
	local name=$1 img=$2 digest
	shift 2
	digest=$(reg_digest "sb/$img:v1")
	[ -n "$digest" ] || fail "no digest for sb/$img"
	jobs+=("{\"name\": \"$name\", \"image\": \"sb/$img\", \"digest\": \"$digest\"$(printf ', %s' "$@")}")
}
kl=("\"fulcio\": \"good\"" "\"email\": \"$EMAIL\"" "\"issuer\": \"$ISSUER\"" "\"rekor\": \"main\"")
job keyless keyless "${kl[@]}" '"crossCheck": true'
job keyless-email keyless-email "\"fulcio\": \"good\"" "\"email\": \"other@example.com\"" "\"issuer\": \"$ISSUER\"" \
	"\"rekor\": \"main\""
job keyless-issuer keyless-issuer "\"fulcio\": \"good\"" "\"email\": \"$EMAIL\"" \
	"\"issuer\": \"https://other-issuer.example.com\"" "\"rekor\": \"main\""
job untrusted untrusted "\"fulcio\": \"rogue\"" "\"email\": \"$EMAIL\"" "\"issuer\": \"$ISSUER\"" "\"rekor\": \"main\""
job expired expired "\"fulcio\": \"expired\"" "\"email\": \"$EMAIL\"" "\"issuer\": \"$ISSUER\"" "\"rekor\": \"main\""
job key key "\"key\": \"cosign\"" "\"rekor\": \"main\""
job key-nolog key-nolog "\"key\": \"cosign\"" "\"rekor\": null"
job key-log-norekor key-log-norekor "\"key\": \"cosign\"" "\"rekor\": \"main\""
job foreign foreign "${kl[@]:0:3}" "\"rekor\": \"other\""
job forged forged "${kl[@]}" "\"mutate\": \"set\""
job forged-time forged-time "${kl[@]}" "\"mutate\": \"time\""
job forged-proof forged-proof "${kl[@]}" "\"mutate\": \"proof\""
job forged-body forged-body "${kl[@]}" "\"mutate\": \"body\""
job nolog nolog "${kl[@]}" "\"mutate\": \"drop-tlog\""
job another another "${kl[@]}" "\"signDigest\": \"$OTHER_DIGEST\""
job payload payload "${kl[@]}" "\"mutate\": \"payload\""
job signature signature "${kl[@]}" "\"mutate\": \"signature\""
job key-signature key-signature "\"key\": \"cosign\"" "\"rekor\": null" "\"mutate\": \"signature\""
job named named "${kl[@]}" "\"subjectName\": \"$REG/sb/named\""
job mixed-legacy mixed-legacy "\"key\": \"cosign\"" "\"rekor\": null" "\"mutate\": \"signature\""
job mixed-bundle mixed-bundle "\"key\": \"cosign\"" "\"rekor\": null"
job idx-top idx-top "${kl[@]}"
# idx-platform: the host's platform manifest signed; idx-otherplatform: only the other platform's.
jobs+=("{\"name\": \"idx-platform\", \"image\": \"sb/idx-platform\", \"digest\": \"$PLATFORM_DIGEST\", ${kl[*]/%/,} \"attach\": true}")
OTHERP_DIGEST=$(jq -r --arg a "$OTHER_ARCH" '.manifests[] | select(.platform.architecture == $a) | .digest' \
	"$OCI/blobs/sha256/$(reg_digest sb/idx-top:v1 | cut -d: -f2)")
jobs+=("{\"name\": \"idx-otherplatform\", \"image\": \"sb/idx-otherplatform\", \"digest\": \"$OTHERP_DIGEST\", ${kl[*]/%/,} \"attach\": true}")

S=$T/sig
mkdir -p "$S"
NB=$((NOW - 7200))
{
	printf '{"out": "%s", "registry": "%s", "rekors": ["main", "other"], "keys": ["cosign", "stranger"],\n' "$S" "$REG"
	printf ' "cas": {"good": {}, "rogue": {}, "expired": {"notBefore": %d, "notAfter": %d}},\n' "$NB" $((NB + 600))
	printf ' "jobs": [%s]}\n' "$(IFS=,; echo "${jobs[*]}")"
} >"$T/plan.json"
jq . "$T/plan.json" >/dev/null || fail "the signing plan is not JSON: $(cat "$T/plan.json")"
log "signing ${#jobs[@]} bundles with @sigstore/sign, @sigstore/mock and @sigstore/oci"
node "$SIGDIR/sign.js" "$T/plan.json" || fail "sign.js failed"
# The keyless bundle passed @sigstore/verify in sign.js (crossCheck); that oracle refuses a forged SET.
jq --arg out "$T/sig-x" '.out = $out | .jobs = [.jobs[0] + {"mutate": "set", "attach": false}]' "$T/plan.json" \
	>"$T/plan-x.json"
if node "$SIGDIR/sign.js" "$T/plan-x.json" 2>"$T/sign-x.err"; then
	fail "@sigstore/verify accepted a bundle with a forged signed entry timestamp"
fi
grep -q 'VerificationError' "$T/sign-x.err" || fail "sign.js failed for another reason: $(cat "$T/sign-x.err")"

# The signer's output is what cosign v3 writes: checked here independently of ccpull (jq, openssl).
B=$S/keyless.bundle.json
json_get "$B" '.mediaType == "application/vnd.dev.sigstore.bundle.v0.3+json"' >/dev/null
json_get "$B" '.dsseEnvelope.payloadType == "application/vnd.in-toto+json"' >/dev/null
json_get "$B" '.verificationMaterial.certificate.rawBytes' >/dev/null
json_get "$B" '.verificationMaterial.tlogEntries[0].kindVersion == {"kind": "dsse", "version": "0.0.1"}' >/dev/null
jq -r .dsseEnvelope.payload "$B" | base64 -d >"$T/statement.json"
jq -e --arg d "${PLATFORM_DIGEST#sha256:}" '.subject == [{"digest": {"sha256": $d}}] and
	.predicateType == "https://sigstore.dev/cosign/sign/v1"' "$T/statement.json" >/dev/null ||
	fail "the statement is not cosign v3's: $(cat "$T/statement.json")"
jq -r .verificationMaterial.certificate.rawBytes "$B" | base64 -d | openssl x509 -inform DER -out "$T/leaf.pem"
openssl verify -partial_chain -CAfile "$S/ca-good.pem" -attime "$(jq -r '.verificationMaterial.tlogEntries[0].integratedTime' "$B")" \
	"$T/leaf.pem" >/dev/null || fail "openssl does not chain the leaf to the test CA"
# The referrer as @sigstore/oci pushed it: the Referrers Tag Schema index and a manifest whose subject is the image.
d=$(reg_digest sb/keyless:v1)
curl -sf -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$REG/v2/sb/keyless/manifests/sha256-${d#sha256:}" \
	>"$T/refs.json" || fail "no referrers tag for sb/keyless"
json_get "$T/refs.json" '.manifests[0].artifactType == "application/vnd.dev.sigstore.bundle.v0.3+json"' >/dev/null

# Legacy signatures beside the bundles, by the same key: a good legacy one next to a bad bundle, a bad one
# next to a good bundle.
"$PY" "$IT_DIR/cosign_sign.py" sign "$REG" sb/mixed-legacy "$(reg_digest sb/mixed-legacy:v1)" "$REG/sb/mixed-legacy" \
	"$S/key-cosign.key"
"$PY" "$IT_DIR/cosign_sign.py" sign "$REG" sb/mixed-bundle "$(reg_digest sb/mixed-bundle:v1)" "$REG/sb/mixed-bundle" \
	"$S/key-cosign.key" --tamper-payload

mkdir -p "$T/regd"
printf 'default-docker:\n  use-sigstore-attachments: true\n' >"$T/regd/default.yaml"
P=$T/policies
mkdir -p "$P"
# pol NAME REQUIREMENT-FIELDS [SIGNED-IDENTITY]: one sigstoreSigned requirement as the default.
MATCH_REPO=', "signedIdentity": {"type": "matchRepository"}'
pol() {
	printf '{"default": [{"type": "sigstoreSigned", %s%s}]}\n' "$2" "${3-$MATCH_REPO}" >"$P/$1.json"
}
fulcio() { # CA EMAIL ISSUER REKOR
	printf '"fulcio": {"caPath": "%s", "oidcIssuer": "%s", "subjectEmail": "%s"}, "rekorPublicKeyPath": "%s"' \
		"$1" "$3" "$2" "$4"
}
pol keyless "$(fulcio "$S/ca-good.pem" "$EMAIL" "$ISSUER" "$S/rekor-main.pub")"
pol keyless-default "$(fulcio "$S/ca-good.pem" "$EMAIL" "$ISSUER" "$S/rekor-main.pub")" ""
pol keyless-exact "$(fulcio "$S/ca-good.pem" "$EMAIL" "$ISSUER" "$S/rekor-main.pub")" \
	', "signedIdentity": {"type": "matchExact"}'
pol keyless-expiredca "$(fulcio "$S/ca-expired.pem" "$EMAIL" "$ISSUER" "$S/rekor-main.pub")"
pol keyless-rootonly "$(fulcio "$T/root-only.pem" "$EMAIL" "$ISSUER" "$S/rekor-main.pub")"
pol key "\"keyPath\": \"$S/key-cosign.pub\""
pol key-rekor "\"keyPath\": \"$S/key-cosign.pub\", \"rekorPublicKeyPath\": \"$S/rekor-main.pub\""
pol key-stranger "\"keyPath\": \"$S/key-stranger.pub\""
# Two keys and a log: the entry's key is the second one; neither is in a log that has no entry.
pol keys-rekor "\"keyPaths\": [\"$S/key-stranger.pub\", \"$S/key-cosign.pub\"], \"rekorPublicKeyPath\": \"$S/rekor-main.pub\""
# The root alone, without the intermediate the v0.3 bundle does not carry.
openssl x509 -in "$S/ca-good.pem" -out "$T/root-only.pem"

# image_layer REPO REF: the first layer of the image (of the host's platform for an index).
image_layer() {
	local m
	m=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' \
		"http://$REG/v2/$1/manifests/$2") || fail "cannot read the manifest of $1:$2"
	if jq -e .manifests >/dev/null <<<"$m"; then
		image_layer "$1" "$(jq -r --arg a "$HOST_ARCH" '.manifests[] | select(.platform.architecture == $a) | .digest' <<<"$m")"
	else
		jq -r '.layers[0].digest' <<<"$m"
	fi
}

n=0
# check WANT POLICY IMAGE [REGEX]: pull (exit 0, the content is there) or refusal (exit 3, no layer fetched).
check() {
	local want=$1 pol=$2 img=$3 gets layer
	n=$((n + 1))
	gets=$(wc -l <"$REG_ACCESS_LOG")
	expect "$want" "$CCPULL" pull --policy "$P/$pol.json" --registries-d "$T/regd" --tls-verify=false \
		--snapshotter copy --store "$T/store" "$REG/sb/$img:v1" "$T/b-$n"
	if [ "$want" -eq 3 ]; then
		no_rootfs "$T/b-$n"
		# Manifests and signatures only: no layer of the image was read.
		[ -z "${4:-}" ] || expect_stderr "$4"
		layer=$(image_layer "sb/$img" v1)
		if [ -n "$layer" ] && tail -n +$((gets + 1)) "$REG_ACCESS_LOG" | grep -q "GET /v2/sb/$img/blobs/$layer "; then
			fail "$pol x $img: a refused image had its layer fetched"
		fi
	else
		[ -n "$(cat "$T/b-$n/rootfs/etc/hello")" ] || fail "rootfs of $img is wrong"
	fi
	log "$pol x $img: $want ($(tail -n 1 "$T/err" | cut -c1-240))"
	rm -rf "$T/b-$n"
}

check 0 keyless keyless
check 3 keyless-rootonly keyless 'verifying leaf certificate failed'
check 0 key key
check 0 key-rekor key
check 0 key key-nolog
check 3 key-rekor key-nolog 'No public key verified against a Rekor entry: .*no Rekor entry'
check 0 keys-rekor key
check 3 keys-rekor key-nolog 'No public key verified against a Rekor entry: .*no Rekor entry.*, .*no Rekor entry'
check 0 key key-log-norekor
check 3 key-stranger key 'signature verification failed'
check 3 keyless keyless-email 'Required email'
check 3 keyless keyless-issuer 'OIDC issuer'
check 3 keyless untrusted 'verifying leaf certificate failed'
check 3 keyless-expiredca expired 'certificate has expired'
check 3 keyless expired 'unable to get local issuer'
check 3 keyless foreign 'log whose key the policy does not name'
check 3 keyless forged 'signed entry timestamp does not verify'
check 3 keyless forged-time 'signed entry timestamp does not verify'
check 3 keyless forged-proof 'inclusion proof'
check 3 keyless forged-body 'signed entry timestamp does not verify'
check 3 keyless nolog 'no Rekor entry'
check 3 keyless another 'does not match'
check 3 keyless payload 'payload hash|signature verification failed'
check 3 keyless signature 'another signature|signature verification failed'
check 3 keyless unsigned 'no signature exists'
# cosign v3 names no image: the default identity rule on a tag pull, and matchExact, refuse it in words.
check 3 keyless-default keyless 'binds no tag'
check 3 keyless-exact keyless 'binds no tag'
# A subject with a name is held to it.
check 0 keyless named
# Either kind may satisfy the policy; a bad one of one kind does not spoil a good one of the other.
check 0 key mixed-legacy
check 0 key mixed-bundle
check 3 key key-signature 'signature verification failed'
# Index level: the index's bundle covers the host's platform through the verified index.
check 0 keyless idx-top
check 0 keyless idx-platform
check 3 keyless idx-otherplatform 'no signature exists'

# The referrers API (distribution-spec 1.1): referrers_proxy.py serves it in front of the registry and hides
# the tag schema, so only the API can find the bundles.
"$PY" "$IT_DIR/referrers_proxy.py" "$T/proxy.port" "$REG" "$T/proxy.log" 2>"$T/proxy.err" &
await_port $! "$T/proxy.port" "referrers_proxy.py"
PROXY=127.0.0.1:$PORT
d=$(reg_digest sb/keyless:v1)
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$PROXY/v2/sb/keyless/manifests/sha256-${d#sha256:}")" = 404 ] ||
	fail "the proxy does not hide the tag schema"
# api WANT POLICY IMAGE [REGEX]
api() {
	expect "$1" "$CCPULL" pull --policy "$P/$2.json" --registries-d "$T/regd" --tls-verify=false \
		--snapshotter copy --store "$T/store" "$PROXY/sb/$3:v1" "$T/api-$3"
	[ -z "${4:-}" ] || expect_stderr "$4"
	log "referrers API: $2 x $3: $1 ($(tail -n 1 "$T/err" | cut -c1-200))"
	rm -rf "$T/api-$3"
}
api 0 keyless keyless
grep -q "GET /v2/sb/keyless/referrers/$d 200" "$T/proxy.log" || fail "ccpull did not ask the referrers API"
api 0 key key
api 3 keyless another 'does not match'
api 3 keyless unsigned 'no signature exists'
api 0 keyless idx-top

# ccpull verify explains the identity refusal in words.
expect 3 "$CCPULL" verify --policy "$P/keyless-default.json" --registries-d "$T/regd" --tls-verify=false \
	"$REG/sb/keyless:v1"
grep -q 'binds no tag' "$T/out" "$T/err" || fail "verify does not explain the digest-only refusal: $(cat "$T/out")"
grep -q 'matchRepository' "$T/out" "$T/err" || fail "verify does not name matchRepository"
log "$n bundle policy x image cases"
