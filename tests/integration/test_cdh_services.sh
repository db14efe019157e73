#!/bin/bash
# The Confidential Data Hub's other services on `ccpull serve`'s socket, called by a second ttrpc
# implementation (containerd's Go ttrpc, ttrpc_client/cdh_services.go) as kata-agent and image-rs call CDH:
# - GetResource: a kbs:/// resource from the test KBS (kbs_server.py, after attestation) and one from
#   the offline resources file (asked first: the KBS sees no request); missing and malformed paths fail
# - UnsealSecret: vault secrets signed as CDH's `secret` tool signs them (seal_secret.py), the key a
#   file in the sealed-secret directory or a kbs:/// resource; refused on a bad signature, a wrong
#   key, a key outside the directory, an unknown provider, an envelope, a malformed secret; with
#   skip_sealed_secret_verification = true (--config) or SKIP_SEALED_SECRET_VERIFICATION=true (CDH's
#   switch) the signature is not checked
# - UnWrapKey: the annotation packet of a layer encrypted as coco_keyprovider does (KEK in the KBS)
#   gives the layer's key options, which decrypt the layer to the digest they name
. "$(dirname "$0")/lib.sh"

"$PY" -c 'import jwcrypto, cryptography' 2>/dev/null || skip "python3-jwcrypto and python3-cryptography are needed"
build_ttrpc_client

SEAL=("$PY" "$IT_DIR/seal_secret.py")
K=$T/keys
mkdir -p "$K" "$T/sealed/team"
"${SEAL[@]}" keygen "$K/priv.json" "$K/pub.json"
"${SEAL[@]}" keygen "$K/wrong-priv.json" "$K/wrong-pub.json"
cp "$K/pub.json" "$T/sealed/team/signer"
cp "$K/pub.json" "$T/outside-key"
ln -s ../outside-key "$T/sealed/escape"
head -c 32 /dev/urandom >"$K/kek"

# An image with one layer encrypted for the CoCo keyprovider, its KEK a KBS resource.
OCI=$T/oci
oci_new "$OCI" plain
mkdir -p "$T/l1/etc"
printf 'unwrap me\n' >"$T/l1/etc/hello"
add_tree_layer "$OCI:plain" "$T/l1"
"$PY" "$IT_DIR/ocicrypt_encrypt.py" "$OCI" plain enc --coco kbs:///default/image-kek/k1 --kek "$K/kek"

b64f() { base64 -w0 "$1"; }
printf 'kbs secret value' >"$T/secret-kbs"
printf 'offline secret value' >"$T/secret-offline"
cat >"$T/resources.json" <<-EOF
	{"default/secret/one": "$(b64f "$T/secret-kbs")",
	 "default/sign/pub": "$(b64f "$K/pub.json")",
	 "default/image-kek/k1": "$(b64f "$K/kek")"}
EOF
cat >"$T/offline.json" <<-EOF
	{"default/secret/offline": "$(b64f "$T/secret-offline")"}
EOF
start_kbs main

SOCK=$T/run/cdh.sock
SERVE_LOG=$T/serve.log
# start_server SOCK LOG [VAR=VALUE...] [-- SERVE_OPTIONS...]: ccpull serve with the KBS, the offline
# file and the test key directory.
start_server() {
	local sock=$1 logf=$2 envs=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	[ $# -eq 0 ] || shift
	env CCPULL_SEALED_SECRET_DIR="$T/sealed" "${envs[@]}" "$CCPULL" serve --socket "$sock" --insecure-policy \
		--tls-verify=false --store "$T/store" --kbs "$KBS" --kbs-resources "$T/offline.json" "$@" 2>"$logf" &
	_PIDS+=($!)
	wait_for test -S "$sock"
}
start_server "$SOCK" "$SERVE_LOG"

# call_ok NAME COMMAND ARG WANT_FILE: the call succeeds and its output equals WANT_FILE.
call_ok() {
	local name=$1 cmd=$2 arg=$3 want=$4
	log "$cmd: $name"
	expect 0 "$CLIENT" "$cmd" "$SOCK" "$arg" "$T/got-$name"
	cmp -s "$want" "$T/got-$name" || fail "$name: got $(head -c 200 "$T/got-$name" | od -c | head -3)"
}
# call_fail NAME COMMAND ARG CODE REGEX: the call fails with status CODE and a message matching REGEX.
call_fail() {
	local name=$1 cmd=$2 arg=$3 code=$4 re=$5
	log "$cmd: $name (expect $code)"
	expect 1 "$CLIENT" "$cmd" "$SOCK" "$arg" "$T/got-$name"
	grep -qE "^ERROR $code: .*$re" "$T/out" || fail "$name: expected $code matching /$re/, got: $(cat "$T/out")"
	[ ! -e "$T/got-$name" ] || fail "$name: output written on failure"
}

# --- GetResource ---
call_ok kbs get-resource kbs:///default/secret/one "$T/secret-kbs"
grep -q '^resource default/secret/one 200$' "$KBS_LOG" || fail "GetResource did not reach the KBS: $(cat "$KBS_LOG")"
call_ok authority get-resource kbs://kbs.example:8080/default/secret/one "$T/secret-kbs"
call_ok offline get-resource kbs:///default/secret/offline "$T/secret-offline"
! grep -q 'secret/offline' "$KBS_LOG" || fail "an offline resource was asked of the KBS"
call_fail missing get-resource kbs:///default/secret/missing FailedPrecondition 'default/secret/missing'
call_fail short get-resource kbs:///default/secret InvalidArgument 'REPOSITORY/TYPE/TAG'
call_fail plugin get-resource kbs+pkcs11:///default/secret/one InvalidArgument 'kbs\+NAME'
call_fail dotdot get-resource kbs:///default/../one InvalidArgument 'REPOSITORY/TYPE/TAG'

# --- UnsealSecret ---
# sealed NAME seal_secret.py-ARGS...: the secret in $T/sealed-NAME
sealed() {
	local name=$1
	shift
	"${SEAL[@]}" "$@" | tr -d '\n' >"$T/sealed-$name"
}
sealed file vault "$K/priv.json" team/signer kbs:///default/secret/one
call_ok file unseal "$T/sealed-file" "$T/secret-kbs"
sealed kid-kbs vault "$K/priv.json" kbs:///default/sign/pub kbs:///default/secret/one
call_ok kid-kbs unseal "$T/sealed-kid-kbs" "$T/secret-kbs"
grep -q '^resource default/sign/pub 200$' "$KBS_LOG" || fail "the verification key was not fetched from the KBS"
sealed offline vault "$K/priv.json" team/signer kbs:///default/secret/offline
call_ok offline-secret unseal "$T/sealed-offline" "$T/secret-offline"

sealed wrong-key vault "$K/wrong-priv.json" team/signer kbs:///default/secret/one
call_fail wrong-key unseal "$T/sealed-wrong-key" PermissionDenied 'signature does not verify'
# a bad signature: one character of the signature part changed (to keep it canonical base64url)
"$PY" - "$T/sealed-file" "$T/sealed-bad-sig" <<-'EOF'
	import sys
	s = open(sys.argv[1]).read()
	head, sig = s.rsplit(".", 1)
	sig = sig[:10] + ("B" if sig[10] != "B" else "C") + sig[11:]
	open(sys.argv[2], "w").write(head + "." + sig)
EOF
call_fail bad-sig unseal "$T/sealed-bad-sig" PermissionDenied 'signature does not verify'
# a changed payload under the original signature
"$PY" - "$T/sealed-file" "$T/sealed-bad-payload" <<-'EOF'
	import base64, sys
	p = sys.argv[1]
	pre, h, body, sig = open(p).read().split(".")
	j = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).replace(b"secret/one", b"secret/offline")
	body = base64.urlsafe_b64encode(j).rstrip(b"=").decode()
	open(sys.argv[2], "w").write(".".join([pre, h, body, sig]))
EOF
call_fail bad-payload unseal "$T/sealed-bad-payload" PermissionDenied 'signature does not verify'
sealed escape vault "$K/priv.json" escape kbs:///default/secret/one
call_fail escape unseal "$T/sealed-escape" PermissionDenied 'leads out of'
sealed dotdot vault "$K/priv.json" ../outside-key kbs:///default/secret/one
call_fail dotdot-kid unseal "$T/sealed-dotdot" PermissionDenied 'leads out of'
sealed nokey vault "$K/priv.json" team/nobody kbs:///default/secret/one
call_fail no-key-file unseal "$T/sealed-nokey" PermissionDenied 'team/nobody'
sealed aliyun vault "$K/priv.json" team/signer xxx aliyun
call_fail provider unseal "$T/sealed-aliyun" InvalidArgument 'vault provider "aliyun" is not supported'
sealed envelope envelope "$K/priv.json" team/signer aliyun
call_fail envelope unseal "$T/sealed-envelope" InvalidArgument 'envelope secrets .* not supported'
printf 'sealed.not-a-secret' >"$T/sealed-malformed"
call_fail malformed unseal "$T/sealed-malformed" InvalidArgument 'sealed.HEADER.PAYLOAD.SIGNATURE'
sealed hs256 raw "$K/priv.json" '{"alg":"HS256","kid":"team/signer"}' \
	'{"version":"0.1.0","type":"vault","name":"kbs:///default/secret/one","provider":"kbs","provider_settings":{}}'
call_fail hs256 unseal "$T/sealed-hs256" PermissionDenied 'must be ES256'
! grep -q 'kbs secret value' "$SERVE_LOG" || fail "a secret was logged"

# CDH's switch: the signature is not checked (the wrong key and a fake header pass), set by the
# config's skip_sealed_secret_verification or by the variable CDH sets from it
printf 'skip_sealed_secret_verification = true\n' >"$T/skip.toml"
"$PY" - "$T/sealed-file" "$T/sealed-fake-header" <<-'EOF'
	import sys
	pre, h, body, sig = open(sys.argv[1]).read().split(".")
	open(sys.argv[2], "w").write(".".join([pre, "fakejwsheader", body, "fakesignature"]))
EOF
call_fail fake-header unseal "$T/sealed-fake-header" InvalidArgument 'header'
start_server "$T/run/skip1.sock" "$T/serve-skip1.log" -- --config "$T/skip.toml"
start_server "$T/run/skip2.sock" "$T/serve-skip2.log" SKIP_SEALED_SECRET_VERIFICATION=true
for n in 1 2; do
	for s in wrong-key fake-header; do
		log "unseal: $s, verification skipped ($n)"
		expect 0 "$CLIENT" unseal "$T/run/skip$n.sock" "$T/sealed-$s" "$T/got-skip"
		cmp -s "$T/secret-kbs" "$T/got-skip" || fail "skip $n: wrong plaintext"
	done
	grep -q 'signature not checked' "$T/serve-skip$n.log" || fail "skip $n: not said in the log"
done

# --- UnWrapKey ---
coco_unwrap_request "$OCI" enc "$T/unwrap-in.json"
log "unwrap-key: CoCo annotation packet"
expect 0 "$CLIENT" unwrap-key "$SOCK" "$T/unwrap-in.json" "$T/unwrap-out.json"
grep -q '^resource default/image-kek/k1 200$' "$KBS_LOG" || fail "UnWrapKey did not fetch the KEK from the KBS"
unwrap_opens "$OCI" "$T/unwrap-in.json" "$T/unwrap-out.json"
printf '{"op":"keyunwrap","keyunwrapparams":{"annotation":"%s"}}' \
	"$(printf '{"kid":"kbs:///default/image-kek/none","wrapped_data":"AAAAAAAAAAAAAAAAAAAAAA==","iv":"AAAAAAAAAAAAAAAA","wrap_type":"A256GCM"}' | base64 -w0)" \
	>"$T/unwrap-missing.json"
call_fail unwrap-missing unwrap-key "$T/unwrap-missing.json" FailedPrecondition 'default/image-kek/none'
printf '{"op":"keyunwrap"}' >"$T/unwrap-bad.json"
call_fail unwrap-malformed unwrap-key "$T/unwrap-bad.json" InvalidArgument 'keyunwrapparams'

log "ok"
