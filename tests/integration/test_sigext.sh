#!/bin/bash
# The X-Registry-Supports-Signatures extension: a registry whose /v2/ answer carries the header serves
# simple signatures at /extensions/v2/<name>/signatures/<digest>, and they replace the lookaside store.
# sigext_proxy.py fronts docker-registry and serves the signatures skopeo --sign-by wrote; ccpull's
# decisions (verify and pull) must agree with skopeo's on the same registry and policy.
. "$(dirname "$0")/lib.sh"

command -v gpg >/dev/null 2>&1 || skip "gpg is not installed (see .ci/packages)"

gpg_home
TRUSTED=$(gpg_signing_key 'ccpull trusted <trusted@example.com>' trusted@example.com "$T/trusted.gpg")
OTHER=$(gpg_signing_key 'ccpull other <other@example.com>' other@example.com "$T/other.gpg")

start_registry
SIGS=$T/staging
mkdir -p "$SIGS" "$T/empty" "$T/regd-sign" "$T/regd" "$T/regd-lookaside"
printf 'default-docker:\n  lookaside-staging: file://%s\n' "$SIGS" >"$T/regd-sign/default.yaml"
# Reading: a lookaside with nothing in it, so an accepted image proves the extension was used.
printf 'default-docker:\n  lookaside: file://%s\n' "$T/empty" >"$T/regd/default.yaml"
printf 'default-docker:\n  lookaside: file://%s\n' "$SIGS" >"$T/regd-lookaside/default.yaml"

"$PY" "$IT_DIR/sigext_proxy.py" "$T/proxy.port" "$REG" "$SIGS" "$T/proxy.log" 2>"$T/proxy.err" &
await_port $! "$T/proxy.port" "sigext_proxy.py"
PROXY=127.0.0.1:$PORT
curl -sf -D - -o /dev/null "http://$PROXY/v2/" | grep -qi '^X-Registry-Supports-Signatures: 1' ||
	fail "the proxy on $PROXY does not answer /v2/ with the extension header: $(cat "$T/proxy.err")"

OCI=$T/oci
oci_new "$OCI" v1
mkdir -p "$T/l1/etc"
printf 'extension-signed\n' >"$T/l1/etc/hello"
add_tree_layer "$OCI:v1" "$T/l1"
# Pushed straight to the registry (a push through the front would store the signatures through the
# extension), signed for the name they are pulled by: the front's.
sk() { # NAME [copy options]
	local name=$1
	shift
	skopeo --registries.d "$T/regd-sign" copy --quiet --dest-tls-verify=false "$@" \
		"oci:$OCI:v1" "docker://$REG/$name:v1" >/dev/null
}
sk e/signed --sign-by "$TRUSTED" --sign-identity "$PROXY/e/signed:v1"
sk e/other --sign-by "$OTHER" --sign-identity "$PROXY/e/other:v1"
sk e/unsigned
for n in foreign onlyforeign junkfirst many garbage badb64 gone; do
	sk "e/$n" --sign-by "$TRUSTED" --sign-identity "$PROXY/e/$n:v1"
done
DIGEST=$(reg_digest e/signed:v1)
[ -n "$DIGEST" ] || fail "no manifest digest"
sigdir() { echo "$SIGS/e/$1@sha256=${DIGEST#sha256:}"; }
[ -s "$(sigdir signed)/signature-1" ] || fail "skopeo wrote no signature under $SIGS"

# Lists the front serves verbatim: entries containers/image skips, too many, malformed.
b64() { base64 -w0 "$(sigdir "$1")/signature-1"; }
good=$(b64 foreign)
printf '{"signatures": [{"schemaVersion": 1, "type": "atomic", "content": "%s"}, {"schemaVersion": 2, "type": "x", "content": "%s"}, {"schemaVersion": 2, "name": "n", "type": "atomic", "content": "%s"}], "extra": 1}\n' \
	"$good" "$good" "$good" >"$(sigdir foreign)/list.json"
printf '{"signatures": [{"schemaVersion": 1, "type": "atomic", "content": "%s"}]}\n' "$(b64 onlyforeign)" \
	>"$(sigdir onlyforeign)/list.json"
# Content that is no signature at all, then a good one: refused, and the next one is looked at.
printf '{"signatures": [{"schemaVersion": 2, "type": "atomic", "content": "%s"}, {"schemaVersion": 2, "type": "atomic", "content": ""}, {"schemaVersion": 2, "type": "atomic", "content": "%s"}]}\n' \
	"$(printf 'junk' | base64 -w0)" "$(b64 junkfirst)" >"$(sigdir junkfirst)/list.json"
"$PY" -c 'import json, sys; print(json.dumps({"signatures": [{"schemaVersion": 2, "type": "atomic", "content": sys.argv[1]}] * 129}))' \
	"$(b64 many)" >"$(sigdir many)/list.json"
printf 'not json' >"$(sigdir garbage)/list.json"
printf '{"signatures": [{"schemaVersion": 2, "type": "atomic", "content": "%s!"}]}\n' "$(b64 badb64)" \
	>"$(sigdir badb64)/list.json"
printf '{"errors": [{"code": "NOT_FOUND", "message": "no signatures"}]}' >"$(sigdir gone)/list.json"
echo 404 >"$(sigdir gone)/status.txt"

P=$T/policy.json
printf '{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "%s"}]}\n' "$T/trusted.gpg" >"$P"

verify() { # RC NAME [REGISTRIES.D]
	expect "$1" "$CCPULL" verify --json --policy "$P" --registries-d "${3:-$T/regd}" --tls-verify=false \
		"$PROXY/e/$2:v1"
}
skopeo_rc() { # NAME [REGISTRIES.D]: skopeo's decision, 0 or 3 (anything else fails the test)
	local rc=0
	skopeo --policy "$P" --registries.d "${2:-$T/regd}" copy --quiet --src-tls-verify=false \
		"docker://$PROXY/e/$1:v1" "dir:$T/sk" >/dev/null 2>"$T/sk.err" || rc=$?
	rm -rf "$T/sk"
	if [ "$rc" -ne 0 ]; then
		grep -qiE 'rejected|signature|not accepted|policy' "$T/sk.err" || fail "skopeo failed: $(cat "$T/sk.err")"
		rc=3
	fi
	echo "$rc"
}
jq_is() {
	local got
	got=$(jq -r "$1" "$T/out") || fail "jq '$1' on: $(head -c 3000 "$T/out")"
	[ "$got" = "$2" ] || fail "$1 is '$got', expected '$2'; output: $(head -c 3000 "$T/out")"
}

log "signatures from the extension, as skopeo reads them"
for name in signed other unsigned foreign onlyforeign junkfirst; do
	want=$(skopeo_rc "$name")
	verify "$want" "$name"
	log "e/$name: $want"
done
verify 0 signed
jq_is .signature_store "$PROXY/extensions/v2/e/signed/signatures/$DIGEST"
jq_is '.requirements[0].signatures[0].source' registry-extension
jq_is '.requirements[0].signatures[0].signer' "$TRUSTED"
jq_is '.requirements[0].signatures[0].identity' "$PROXY/e/signed:v1"
grep -q "GET /extensions/v2/e/signed/signatures/$DIGEST 200" "$T/proxy.log" || fail "no extension request logged"
verify 0 foreign
jq_is .signature_total 1
verify 3 onlyforeign
jq_is .signature_total 0
verify 0 junkfirst
jq_is .signature_total 2
jq_is '[.requirements[0].signatures[].verdict] | join(",")' rejected,accepted

log "a pull takes the same path"
expect 0 "$CCPULL" pull --policy "$P" --registries-d "$T/regd" --tls-verify=false --snapshotter copy \
	--store "$T/store" "$PROXY/e/signed:v1" "$T/b1"
expect 3 "$CCPULL" pull --policy "$P" --registries-d "$T/regd" --tls-verify=false --snapshotter copy \
	--store "$T/store" "$PROXY/e/other:v1" "$T/b2"
no_rootfs "$T/b2"

log "caps and malformed lists: no decision (exit 4)"
verify 4 many
expect_stderr 'more than 128 signatures'
verify 4 garbage
expect_stderr 'not valid JSON'
verify 4 badb64
expect_stderr 'base64'
# containers/image treats any status but 200 as a failure, 404 included
[ "$(skopeo_rc signed)" = 0 ] || fail "skopeo no longer accepts e/signed"
verify 4 gone
expect_stderr '404|not found'

log "without the header the lookaside store is read"
touch "$SIGS/.no-header"
[ "$(skopeo_rc signed)" = 3 ] || fail "skopeo accepts e/signed from an empty lookaside"
verify 3 signed
[ "$(skopeo_rc signed "$T/regd-lookaside")" = 0 ] || fail "skopeo rejects e/signed from the lookaside"
verify 0 signed "$T/regd-lookaside"
jq_is '.requirements[0].signatures[0].source' lookaside
rm -f "$SIGS/.no-header"
