#!/bin/bash
# ccpull verify: the policy's decision without a pull, and the explanation printed with it. Images signed
# by skopeo (GPG simple signing into a lookaside store) and by cosign_sign.py (sigstore attachments);
# accepted, rejected by key, by identity, unsigned, by requirement; text and --json; no layer is fetched.
. "$(dirname "$0")/lib.sh"

command -v gpg >/dev/null 2>&1 || skip "gpg is not installed (see .ci/packages)"
"$PY" -c 'import cryptography' 2>/dev/null || skip "python3-cryptography is not installed (see .ci/packages)"

gpg_home
TRUSTED=$(gpg_signing_key 'ccpull trusted <trusted@example.com>' trusted@example.com "$T/trusted.gpg")
OTHER=$(gpg_signing_key 'ccpull other <other@example.com>' other@example.com "$T/other.gpg")
SIGN="$PY $IT_DIR/cosign_sign.py"
$SIGN keygen "$T/cosign.key" "$T/cosign.pub"

start_registry
SIGS=$T/sigstore
mkdir -p "$SIGS" "$T/regd"
printf 'default-docker:\n  lookaside: file://%s\n  lookaside-staging: file://%s\n  use-sigstore-attachments: true\n' \
	"$SIGS" "$SIGS" >"$T/regd/default.yaml"

OCI=$T/oci
oci_new "$OCI" v1
mkdir -p "$T/l1/etc"
printf 'verify me\n' >"$T/l1/etc/hello"
add_tree_layer "$OCI:v1" "$T/l1"
sk() { skopeo --registries.d "$T/regd" copy --quiet --dest-tls-verify=false "$@" >/dev/null; }
sk "oci:$OCI:v1" "docker://$REG/v/unsigned:v1"
sk --sign-by "$TRUSTED" "oci:$OCI:v1" "docker://$REG/v/signed:v1"
sk --sign-by "$OTHER" "oci:$OCI:v1" "docker://$REG/v/other:v1"
sk --sign-by "$TRUSTED" --sign-identity "$REG/v/signed:v1" "oci:$OCI:v1" "docker://$REG/v/wrongid:v1"
sk "oci:$OCI:v1" "docker://$REG/v/cosigned:v1"
DIGEST=$(reg_digest v/signed:v1)
[ -n "$DIGEST" ] || fail "no manifest digest for v/signed:v1"
$SIGN sign "$REG" v/cosigned "$DIGEST" "$REG/v/cosigned" "$T/cosign.key"
# The layer blobs: verify must never ask for one.
LAYERS=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
	"http://$REG/v2/v/signed/manifests/v1" | jq -r '.layers[].digest')
[ -n "$LAYERS" ] || fail "no layers listed in the manifest"

P=$T/policies
mkdir -p "$P"
SIGNED_BY="{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"$T/trusted.gpg\"}"
printf '{"default": [%s]}\n' "$SIGNED_BY" >"$P/trusted.json"
printf '{"default": [{"type": "reject"}], "transports": {"docker": {"%s/v": [%s]}}}\n' "$REG" "$SIGNED_BY" \
	>"$P/scoped.json"
printf '{"default": [{"type": "insecureAcceptAnything"}, {"type": "reject"}, %s]}\n' "$SIGNED_BY" >"$P/reject2.json"
printf '{"default": [{"type": "sigstoreSigned", "keyPath": "%s", "signedIdentity": {"type": "matchRepository"}}]}\n' \
	"$T/cosign.pub" >"$P/cosign.json"
printf '{"default": [%s, {"type": "bogus"}]}\n' "$SIGNED_BY" >"$P/invalid.json"

verify() { # RC POLICY IMAGE [--json]
	local rc=$1 pol=$2 img=$3
	shift 3
	expect "$rc" "$CCPULL" verify --policy "$P/$pol.json" --registries-d "$T/regd" --tls-verify=false "$@" \
		"$REG/$img"
}
jq_is() { # FILTER EXPECTED: the last --json output's FILTER is EXPECTED
	local got
	got=$(jq -r "$1" "$T/out") || fail "jq '$1' on: $(head -c 3000 "$T/out")"
	[ "$got" = "$2" ] || fail "$1 is '$got', expected '$2'; output: $(head -c 3000 "$T/out")"
}
out_has() { grep -qE "$1" "$T/out" || fail "output lacks /$1/: $(cat "$T/out")"; }

log "accepted: signed by the trusted key"
verify 0 trusted v/signed:v1
out_has "^Image +$REG/v/signed:v1\$"
out_has "^Manifest +$DIGEST\$"
out_has '^Scope +default$'
out_has "^Signatures +1, simple signatures from file://$SIGS\$"
out_has '^Requirement +1/1 signedBy: accepted$'
out_has "keys +GPGKeys keyPath $T/trusted.gpg"
out_has 'identity matchRepoDigestOrExact'
out_has 'signature 1 \(simple-signing, lookaside\): accepted'
out_has "signer +$TRUSTED"
out_has '^Decision +accepted$'
verify 0 trusted v/signed:v1 --json
jq_is .image "$REG/v/signed:v1"
jq_is .accepted true
jq_is .reason ""
jq_is .manifest_digest "$DIGEST"
jq_is .scope.section default
jq_is .signature_store "file://$SIGS"
jq_is .signature_total 1
jq_is '.requirements | length' 1
jq_is '.requirements[0].type' signedBy
jq_is '.requirements[0].verdict' accepted
jq_is '.requirements[0].signed_identity' matchRepoDigestOrExact
jq_is '.requirements[0].signatures | length' 1
jq_is '.requirements[0].signatures[0].format' simple-signing
jq_is '.requirements[0].signatures[0].source' lookaside
jq_is '.requirements[0].signatures[0].verdict' accepted
jq_is '.requirements[0].signatures[0].signer' "$TRUSTED"
jq_is '.requirements[0].signatures[0].identity' "$REG/v/signed:v1"
jq_is '.requirements[0].signatures[0].digest' "$DIGEST"
jq_is '.requirements[0].signatures[0].reason' ""

log "rejected by key: signed by another key"
verify 3 trusted v/other:v1 --json
expect_stderr "rejected by the signature policy"
jq_is .accepted false
jq_is '.requirements[0].verdict' rejected
jq_is '.requirements[0].signatures[0].verdict' rejected
jq_is '.requirements[0].signatures[0].signer' ""
jq -e '.requirements[0].signatures[0].reason | test("key|sign"; "i")' "$T/out" >/dev/null ||
	fail "the refused signature does not say why: $(cat "$T/out")"
jq -e --arg r "$(jq -r '.requirements[0].reason' "$T/out")" '.reason | contains($r)' "$T/out" >/dev/null ||
	fail "the decision's reason does not carry the requirement's: $(cat "$T/out")"
verify 3 trusted v/other:v1
out_has '^Requirement +1/1 signedBy: rejected$'
out_has 'signature 1 \(simple-signing, lookaside\): rejected'
out_has '^Decision +rejected$'

log "rejected by identity: the trusted key signed another name"
verify 3 trusted v/wrongid:v1 --json
jq_is '.requirements[0].signatures[0].verdict' rejected
jq_is '.requirements[0].signatures[0].signer' "$TRUSTED"
jq_is '.requirements[0].signatures[0].identity' "$REG/v/signed:v1"
jq -e '.requirements[0].signatures[0].reason | test("identity")' "$T/out" >/dev/null ||
	fail "identity rejection not explained: $(cat "$T/out")"

log "unsigned"
verify 3 trusted v/unsigned:v1 --json
jq_is .signature_total 0
jq_is '.requirements[0].signatures | length' 0
jq -e '.requirements[0].reason | test("no signature exists")' "$T/out" >/dev/null ||
	fail "unsigned rejection not explained: $(cat "$T/out")"

log "scope: the most specific transports.docker scope"
verify 0 scoped v/signed:v1 --json
jq_is .scope.section transports.docker
jq_is .scope.name "$REG/v"
verify 0 scoped v/signed:v1
out_has "^Scope +transports.docker\[\"$REG/v\"\]\$"

log "requirements after a rejecting one are not evaluated"
verify 3 reject2 v/signed:v1 --json
jq_is '[.requirements[].verdict] | join(",")' accepted,rejected,skipped
jq_is '.requirements[2].signatures | length' 0
jq_is .signature_store ""

log "sigstore signature from the registry"
verify 0 cosign v/cosigned:v1 --json
jq_is '.requirements[0].type' sigstoreSigned
jq_is '.requirements[0].keys' "public key $T/cosign.pub"
jq_is '.requirements[0].signed_identity' matchRepository
jq_is '[.requirements[0].signatures[] | select(.format == "sigstore")][0].verdict' accepted
jq_is '[.requirements[0].signatures[] | select(.format == "sigstore")][0].source' sigstore-attachment
jq_is '[.requirements[0].signatures[] | select(.format == "sigstore")][0].identity' "$REG/v/cosigned"
verify 3 cosign v/signed:v1 --json
jq_is '.requirements[0].signatures[0].format' simple-signing
jq_is '.requirements[0].signatures[0].verdict' skipped

log "no decision: invalid policy (2), missing image (4), --insecure-policy (2)"
verify 2 invalid v/signed:v1
expect_stderr bogus
[ ! -s "$T/out" ] || fail "an invalid policy printed an explanation: $(cat "$T/out")"
verify 4 trusted v/missing:v1
expect 2 "$CCPULL" verify --insecure-policy --tls-verify=false "$REG/v/signed:v1"
expect 2 "$CCPULL" verify --policy "$P/trusted.json"
expect 2 "$CCPULL" verify --policy "$P/trusted.json" --store "$T/store" "$REG/v/signed:v1"

log "decisions agree with skopeo"
for pair in trusted:v/signed trusted:v/other trusted:v/wrongid trusted:v/unsigned scoped:v/signed reject2:v/signed; do
	pol=${pair%%:*} img=${pair#*:}
	want=0
	skopeo --policy "$P/$pol.json" --registries.d "$T/regd" copy --quiet --src-tls-verify=false \
		"docker://$REG/$img:v1" "dir:$T/sk" >/dev/null 2>&1 || want=3
	rm -rf "$T/sk"
	verify "$want" "$pol" "$img:v1"
done

grep -q '"ccpull/' "$REG_ACCESS_LOG" || fail "no request of ccpull in the access log: cannot tell what it fetched"
for l in $LAYERS; do
	! grep "GET /v2/[^ ]*/blobs/$l" "$REG_ACCESS_LOG" | grep -q '"ccpull/' || fail "verify fetched layer $l"
done
log "no layer blob fetched by any verify"
