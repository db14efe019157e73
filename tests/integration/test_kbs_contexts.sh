#!/bin/bash
# KBS sessions in a long-lived process (tests/helpers/kbs_contexts.c, several contexts through the
# public API): a context trusting another --kbs-cert is never served what a context fetched under
# other trust (it makes its own TLS-verified requests, and fails when its CA rejects the KBS); a KBS
# whose attestation hangs holds up neither a pull from another KBS nor, past its time limit, a pull
# waiting for that attestation; once the last context is freed the session is gone (a new context
# attests again). A plain-http KBS is allowed but warned about on stderr, in --json (pull, verify),
# in verify's explanation and in serve's log.
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null 2>&1 || skip "openssl is not installed"
HELPER=${CCPULL_BUILD:-}/kbs_contexts
[ -x "$HELPER" ] || skip "tests/helpers/kbs_contexts is not built (CCPULL_BUILD)"
. "$IT_DIR/kbs_setup.sh"

count() { grep -c "^$1\$" "$2" || true; }

# --- two CAs: the KBS's, and one that never signed it ---
C=$T/tls
mkdir -p "$C"
for ca in ca other; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=ccpull test $ca" \
		-keyout "$C/$ca.key" -out "$C/$ca.pem" 2>/dev/null
done
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
	-keyout "$C/kbs.key" -out "$C/kbs.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$C/ext"
openssl x509 -req -in "$C/kbs.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial -days 2 \
	-extfile "$C/ext" -out "$C/kbs.pem" 2>/dev/null

IMAGE=$REG/kbs/enc:gcm

# --- trust: context 2 (other CA) fails while context 1 (the KBS's CA) lives; context 3 shares 1's session ---
start_kbs tls --tls "$C/kbs.pem" "$C/kbs.key"
TLS_URL="https://127.0.0.1:$KBS_PORT" TLS_LOG=$KBS_LOG
log "contexts with other trust"
expect 0 "$HELPER" trust "$IMAGE" "$T" "$TLS_URL" "$C/ca.pem" "$C/other.pem"
treecmp "$T/ref/rootfs" "$T/b-trust-1/rootfs"
treecmp "$T/ref/rootfs" "$T/b-trust-3/rootfs"
no_rootfs "$T/b-trust-2"
[ "$(count 'attest ok' "$TLS_LOG")" = 1 ] || fail "the same trust should share one attestation: $(cat "$TLS_LOG")"

# --- fresh: two pulls of one context attest once; after it is freed, a new context attests again ---
start_kbs fresh
FRESH_LOG=$KBS_LOG
log "a new context after the last one is freed"
expect 0 "$HELPER" fresh "$IMAGE" "$T" "$KBS"
treecmp "$T/ref/rootfs" "$T/b-fresh-2/rootfs"
[ "$(count 'attest ok' "$FRESH_LOG")" = 2 ] ||
	fail "expected one attestation per context lifetime (2): $(cat "$FRESH_LOG")"
[ "$(count 'resource default/image-kek/k1 200' "$FRESH_LOG")" = 2 ] ||
	fail "the KEK should be fetched again by the new context (2): $(cat "$FRESH_LOG")"

# --- stall: a hanging attestation blocks nobody past their time limit ---
start_kbs stalled --stall-auth
STALL_URL=$KBS STALL_LOG=$KBS_LOG
start_kbs good
log "a stalled KBS"
expect 0 "$HELPER" stall "$IMAGE" "$T" "$STALL_URL" "$STALL_LOG" "$KBS"
treecmp "$T/ref/rootfs" "$T/b-stall-b/rootfs"

# --- plain http: allowed, never silently ---
WARN='warning: KBS http://127.0.0.1:[0-9]+ is reached over plain HTTP'
log "pull --json with an http:// KBS"
expect 0 "$CCPULL" "${PULL[@]}" --store "$T/store-http" --kbs "$KBS" --json "$IMAGE" "$T/b-http"
expect_stderr "$WARN"
json_get "$T/out" '.warnings | length == 1' >/dev/null
json_get "$T/out" '.warnings[0] | test("plain HTTP")' >/dev/null
log "pull --json with an https:// KBS: no warning"
expect 0 "$CCPULL" "${PULL[@]}" --store "$T/store-https" --kbs "$TLS_URL" --kbs-cert "$C/ca.pem" --json \
	"$IMAGE" "$T/b-https"
json_get "$T/out" '.warnings | length == 0' >/dev/null
! grep -q 'warning' "$T/err" || fail "an https:// KBS was warned about: $(cat "$T/err")"
log "verify (--json and text) with an http:// KBS"
VERIFY=(verify --tls-verify=false --policy kbs:///default/security-policy/test --kbs "$KBS")
expect 0 "$CCPULL" "${VERIFY[@]}" --json "$IMAGE"
expect_stderr "$WARN"
json_get "$T/out" '.warnings[0] | test("plain HTTP")' >/dev/null
expect 0 "$CCPULL" "${VERIFY[@]}" "$IMAGE"
grep -qE '^Warning +KBS http://.*plain HTTP' "$T/out" || fail "verify's explanation has no warning: $(cat "$T/out")"
log "a failed pull from an http:// KBS warns too"
expect 6 "$CCPULL" "${PULL[@]}" --store "$T/store-http-fail" --kbs "$STALL_URL" --timeout 2 "$IMAGE" "$T/b-http-fail"
expect_stderr "$WARN"
expect_stderr "time limit"

# serve says it in its log on every pull, also when --quiet (needs the Go ttrpc client of test_serve.sh)
if command -v go >/dev/null 2>&1 && [ -d /usr/share/gocode/src/github.com/containerd/ttrpc ]; then
	log "serve with an http:// KBS"
	build_ttrpc_client
	SOCK=$T/run/cdh.sock
	"$CCPULL" serve --quiet --socket "$SOCK" --tls-verify=false --snapshotter copy --store "$T/store-serve" \
		--policy kbs:///default/security-policy/test --kbs "$KBS" 2>"$T/serve.log" &
	_PIDS+=($!)
	for _ in $(seq 1 600); do [ -S "$SOCK" ] && break; sleep 0.1; done
	[ -S "$SOCK" ] || fail "serve did not start: $(cat "$T/serve.log")"
	for n in 1 2; do
		expect 0 "$CLIENT" pull "$SOCK" "$IMAGE" "$T/b-serve$n"
		treecmp "$T/ref/rootfs" "$T/b-serve$n/rootfs"
	done
	[ "$(grep -cE "PullImage $IMAGE: $WARN" "$T/serve.log")" = 2 ] ||
		fail "serve did not warn on each pull: $(cat "$T/serve.log")"
fi

log "ok"
