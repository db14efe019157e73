#!/bin/bash
# Registry authentication: Basic (htpasswd, bcrypt) with --creds and --authfile, and Bearer tokens
# from a token server (the registry's own auth.token checks the JWTs). Missing or wrong credentials
# are registry errors (exit 4) that leave no rootfs.
. "$(dirname "$0")/lib.sh"

OCI=$T/oci
oci_new "$OCI" v1
mkdir -p "$T/l1/etc"
printf 'authenticated content\n' >"$T/l1/etc/secret-data"
head -c 20000 /dev/urandom >"$T/l1/etc/blob"
add_tree_layer "$OCI:v1" "$T/l1"
umoci_tree "$OCI:v1" "$T/ref"

# authfile USER:PASS HOSTPORT FILE: a containers auth.json with a base64 "auth" entry.
authfile() {
	printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$2" "$(printf %s "$1" | base64 -w0)" >"$3"
}

# ---------------------------------------------------------------------------------------------
log "Basic auth (htpasswd)"
htpasswd -Bbn alice 'pa$$word' >"$T/htpasswd"
start_registry "$T/htpasswd"
push "$OCI:v1" auth/img:v1 --dest-creds 'alice:pa$$word'
IMG=$REG/auth/img:v1

expect 4 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" "$IMG" "$T/b-none"
no_rootfs "$T/b-none"

expect 4 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" --creds 'alice:Wr0ngPassw0rd' "$IMG" "$T/b-wrong"
no_rootfs "$T/b-wrong"
if grep -qF 'Wr0ngPassw0rd' "$T/err" "$T/out"; then fail "the password appears in ccpull's output"; fi

expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-creds" --creds 'alice:pa$$word' "$IMG" "$T/b-creds"
treecmp "$T/ref/rootfs" "$T/b-creds/rootfs"
if grep -qF 'pa$$word' "$T/err" "$T/out"; then fail "the password appears in ccpull's output"; fi

authfile 'alice:pa$$word' "$REG" "$T/auth.json"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-authfile" --authfile "$T/auth.json" "$IMG" "$T/b-authfile"
treecmp "$T/ref/rootfs" "$T/b-authfile/rootfs"

authfile 'alice:bad' "$REG" "$T/auth-bad.json"
expect 4 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" --authfile "$T/auth-bad.json" "$IMG" "$T/b-authfile-bad"
no_rootfs "$T/b-authfile-bad"

# An auth.json for another registry gives no credentials for this one.
authfile 'alice:pa$$word' "127.0.0.1:1" "$T/auth-other.json"
expect 4 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" --authfile "$T/auth-other.json" "$IMG" "$T/b-other"
no_rootfs "$T/b-other"

expect 0 "$CCPULL" inspect --tls-verify=false --creds 'alice:pa$$word' --json "$IMG"
expect 4 "$CCPULL" inspect --tls-verify=false --json "$IMG"

# ---------------------------------------------------------------------------------------------
log "Bearer token auth"
# The Basic part above has run (and passed); without the signer the rest cannot run: skip.
"$PY" -c 'import cryptography' 2>/dev/null || skip "python3-cryptography is not installed (see .ci/packages)"
start_token_server 'bob:t0ken-pass'
# Push to a plain registry, then serve its storage behind token auth: simpler than teaching the
# token server push scopes.
start_registry
PLAIN_STORAGE=$REG_STORAGE
push "$OCI:v1" auth/img:v1
kill "$REG_PID"
wait "$REG_PID" 2>/dev/null || true
REG_USE_STORAGE=$PLAIN_STORAGE start_token_registry
IMG=$REG/auth/img:v1
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/auth/img/manifests/v1")
[ "$code" = 401 ] || fail "fixture: token registry answered $code without a token"

expect 4 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" "$IMG" "$T/bt-none"
no_rootfs "$T/bt-none"
expect 4 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" --creds 'bob:nope' "$IMG" "$T/bt-wrong"
no_rootfs "$T/bt-wrong"

expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-bearer" --creds 'bob:t0ken-pass' "$IMG" "$T/bt-creds"
treecmp "$T/ref/rootfs" "$T/bt-creds/rootfs"
grep -q 'issued token for bob' "$TOKEN_LOG" || fail "the token server issued no token to ccpull"

authfile 'bob:t0ken-pass' "$REG" "$T/auth-bearer.json"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-bearer2" --authfile "$T/auth-bearer.json" "$IMG" "$T/bt-authfile"
treecmp "$T/ref/rootfs" "$T/bt-authfile/rootfs"
