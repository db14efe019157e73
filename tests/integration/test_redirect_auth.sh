#!/bin/bash
# Credentials and redirects to other origins. faultproxy.py instances stand for the other origins
# (object storage, a hostile host) and log every request they get, with its Authorization header and
# POST body, so the checks are on what really arrived there:
# - a blob redirected to another origin is fetched there without the registry's Authorization;
# - a 401 from that origin is a plain error (exit 4): no token is fetched from a realm it names, and
#   neither the registry's credentials nor anything else goes there;
# - the identity-token POST follows a 307 of the token endpoint within its own origin, never to
#   another one (the refresh token stays home, exit 4); a token GET redirected elsewhere goes on
#   without the Basic credentials.
. "$(dirname "$0")/lib.sh"

OCI=$T/oci
oci_new "$OCI" v1
mkdir -p "$T/l1/etc"
printf 'redirected content\n' >"$T/l1/etc/data"
head -c 50000 /dev/urandom >"$T/l1/etc/blob"
add_tree_layer "$OCI:v1" "$T/l1"
umoci_tree "$OCI:v1" "$T/ref"

# start_proxy NAME UPSTREAM: a faultproxy.py on a free port in front of UPSTREAM, with its rules in
# $T/NAME.rules and its request log in $T/NAME.log; sets PORT.
start_proxy() {
	: >"$T/$1.log"
	"$PY" "$IT_DIR/faultproxy.py" "$T/$1.port" "$2" "$T/$1.rules" "$T/$1.log" 2>"$T/$1.err" &
	await_port $! "$T/$1.port" "faultproxy $1 (stderr: $T/$1.err)"
}

# rules NAME JSON: the proxy's rules from now on, with a fresh request log.
rules() {
	printf '%s\n' "$2" >"$T/$1.rules.tmp"
	mv "$T/$1.rules.tmp" "$T/$1.rules"
	: >"$T/$1.log"
}

# count NAME JQ_CONDITION: requests in the proxy's log that satisfy the condition.
count() {
	jq -s "[.[] | select($2)] | length" "$T/$1.log"
}

# ---------------------------------------------------------------------------------------------
log "a blob redirected to another origin: fetched there without the registry's credentials"
htpasswd -Bbn alice 'pa$$word' >"$T/htpasswd"
start_registry "$T/htpasswd"
push "$OCI:v1" redir/img:v1 --dest-creds 'alice:pa$$word'
AUTH_REG=$REG
# the same storage without auth: what a storage backend behind a redirect serves
REG_USE_STORAGE=$REG_STORAGE start_registry
OPEN_REG=$REG
LAYER=$(curl -sf -u 'alice:pa$$word' -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
	"http://$AUTH_REG/v2/redir/img/manifests/v1" | jq -r '.layers[0].digest')
[ -n "$LAYER" ] && [ "$LAYER" != null ] || fail "fixture: no layer digest"

start_proxy front "$AUTH_REG"
FRONT=127.0.0.1:$PORT
start_proxy other "$OPEN_REG"
OTHER=127.0.0.1:$PORT
rules front '[{"id": "r", "match": "GET /v2/redir/img/blobs/'"$LAYER"'", "fault": "redirect",
	"location": "http://'"$OTHER"'{path}"}]'
rules other '[]'
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/s1" --creds 'alice:pa$$word' "$FRONT/redir/img:v1" "$T/b1"
treecmp "$T/ref/rootfs" "$T/b1/rootfs"
[ "$(count other '(.path | contains("'"$LAYER"'"))')" -ge 1 ] || fail "the layer was not fetched from the other origin"
[ "$(count other '.auth != null')" = 0 ] || fail "credentials reached the other origin: $(cat "$T/other.log")"
[ "$(count front '(.path | contains("'"$LAYER"'")) and (.auth // "" | startswith("Basic "))')" -ge 1 ] ||
	fail "fixture: the registry's own origin never got the credentials"

log "a 401 with a Bearer challenge from the redirect target: exit 4, nothing sent to its realm"
rules front '[{"id": "r", "match": "GET /v2/redir/img/blobs/'"$LAYER"'", "fault": "redirect",
	"location": "http://'"$OTHER"'{path}"}]'
rules other '[{"id": "a", "match": "^GET /v2/", "fault": "auth_loop"}]'
expect 4 "$CCPULL" "${CCP_PULL[@]}" --store "$T/s2" --creds 'alice:pa$$word' "$FRONT/redir/img:v1" "$T/b2"
no_rootfs "$T/b2"
[ "$(count other '(.path | contains("'"$LAYER"'")) and .status == 401')" -ge 1 ] ||
	fail "fixture: the other origin did not answer 401: $(cat "$T/other.log")"
[ "$(count other '(.path | startswith("/token"))')" = 0 ] ||
	fail "a token was asked from the redirect target's realm: $(cat "$T/other.log")"
[ "$(count other '.auth != null')" = 0 ] || fail "credentials reached the other origin: $(cat "$T/other.log")"
if grep -qF 'pa$$word' "$T/err" "$T/out"; then fail "the password appears in ccpull's output"; fi
expect_stderr "redirected to $OTHER, which answered 401"

# ---------------------------------------------------------------------------------------------
log "identity token: the token POST follows a 307 at home, never to another origin"
"$PY" -c 'import cryptography' 2>/dev/null || skip "python3-cryptography is not installed (see .ci/packages)"
rules other '[]'
SECRET=idt-R3fresh-S3cret-42
start_token_server 'bob:t0ken-pass' "--refresh-token=$SECRET:bob" --redirect=/token-here=/token \
	"--redirect=/token-away=http://$OTHER/token"
BASE=${TOKEN_REALM%/token}
start_registry
push "$OCI:v1" redir/img:v1
PLAIN_STORAGE=$REG_STORAGE
TOKEN_REALM=$BASE/token REG_USE_STORAGE=$PLAIN_STORAGE start_token_registry
DIRECT=$REG
TOKEN_REALM=$BASE/token-here REG_USE_STORAGE=$PLAIN_STORAGE start_token_registry
HERE=$REG
TOKEN_REALM=$BASE/token-away REG_USE_STORAGE=$PLAIN_STORAGE start_token_registry
AWAY=$REG
printf '{"auths": {"%s": {"identitytoken": "%s"}, "%s": {"identitytoken": "%s"}, "%s": {"identitytoken": "%s"}}}\n' \
	"$DIRECT" "$SECRET" "$HERE" "$SECRET" "$AWAY" "$SECRET" >"$T/auth.json"

expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/s3" --authfile "$T/auth.json" "$DIRECT/redir/img:v1" "$T/b3"
treecmp "$T/ref/rootfs" "$T/b3/rootfs"
grep -q 'issued token for bob' "$TOKEN_LOG" || fail "the refresh-token grant issued no token"

: >"$TOKEN_LOG"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/s4" --authfile "$T/auth.json" "$HERE/redir/img:v1" "$T/b4"
treecmp "$T/ref/rootfs" "$T/b4/rootfs"
grep -q 'redirecting POST /token-here' "$TOKEN_LOG" || fail "fixture: the token POST was not redirected"
grep -q 'issued token for bob' "$TOKEN_LOG" || fail "the redirected refresh-token grant issued no token"

: >"$TOKEN_LOG"
expect 4 "$CCPULL" "${CCP_PULL[@]}" --store "$T/s5" --authfile "$T/auth.json" "$AWAY/redir/img:v1" "$T/b5"
no_rootfs "$T/b5"
grep -q 'redirecting POST /token-away' "$TOKEN_LOG" || fail "fixture: the token POST was not redirected"
[ "$(count other '.method == "POST"')" = 0 ] || fail "the token POST reached the other origin: $(cat "$T/other.log")"
if grep -qF "$SECRET" "$T/other.log" "$T/err" "$T/out"; then fail "the refresh token left home"; fi
expect_stderr "redirected the identity-token request .*to $OTHER"

log "Basic token GET redirected to another origin: goes on without the credentials"
expect 4 "$CCPULL" "${CCP_PULL[@]}" --store "$T/s6" --creds 'bob:t0ken-pass' "$AWAY/redir/img:v1" "$T/b6"
no_rootfs "$T/b6"
[ "$(count other '(.path | startswith("/token")) and .method == "GET"')" -ge 1 ] ||
	fail "fixture: the token GET was not redirected: $(cat "$T/other.log")"
[ "$(count other '.auth != null')" = 0 ] || fail "credentials reached the other origin: $(cat "$T/other.log")"
