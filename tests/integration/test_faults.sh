#!/bin/bash
# Network and registry faults, injected by faultproxy.py between ccpull and docker-registry.
# Transient faults (503 and 429 with Retry-After, resets, bodies cut off mid-way, a server that
# ignores Range) end in the exact rootfs, and the proxy's log shows the retries and Range requests
# that got there. Persistent faults and lies (corruption, a wrong manifest, wrong sizes, a range from
# the wrong offset, a stall, a token endpoint that never yields a usable token, an unreachable
# registry) end in the right exit status after a bounded number of requests, with no rootfs, no
# staging leftovers and a store the next clean pull uses. Counts come from the proxy's log; the only
# times asserted are generous upper bounds that prove "no hang".
. "$(dirname "$0")/lib.sh"

OCI=$T/oci
oci_new "$OCI" v1
mk_rich_tree "$T/l1"
add_tree_layer "$OCI:v1" "$T/l1"
mkdir -p "$T/l2/big"
head -c 3000000 /dev/urandom >"$T/l2/big/random.bin"
add_tree_layer "$OCI:v1" "$T/l2"
oci_new "$OCI" other
mkdir -p "$T/l3/etc"
echo other >"$T/l3/etc/other"
add_tree_layer "$OCI:other" "$T/l3"
umoci_tree "$OCI:v1" "$T/ref"

start_registry
push "$OCI:v1" faults/img:v1
push "$OCI:other" faults/img:other
DIGEST=$(reg_digest faults/img:v1)
OTHER=$(reg_digest faults/img:other)
MANIFEST_ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json'
curl -sf -H "$MANIFEST_ACCEPT" "http://$REG/v2/faults/img/manifests/v1" >"$T/manifest.json"
BIG=$(jq -r '.layers | max_by(.size) | .digest' "$T/manifest.json")
BIG_SIZE=$(jq -r '.layers | max_by(.size) | .size' "$T/manifest.json")
[ "$BIG_SIZE" -gt 2500000 ] || fail "fixture: the big layer is only $BIG_SIZE bytes"

RULES=$T/rules.json
PLOG=$T/proxy.log
"$PY" "$IT_DIR/faultproxy.py" "$T/proxy.port" "$REG" "$RULES" "$PLOG" 2>"$T/proxy.err" &
_PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$T/proxy.port" ] && break; sleep 0.1; done
[ -s "$T/proxy.port" ] || fail "faultproxy did not start"
PROXY=127.0.0.1:$(cat "$T/proxy.port")
IMG=$PROXY/faults/img:v1

# faults JSON: the proxy's rules from now on, with a fresh request log.
faults() {
	printf '%s\n' "$1" >"$RULES.tmp"
	mv "$RULES.tmp" "$RULES"
	: >"$PLOG"
}

# count JQ_CONDITION: requests in the proxy's log since the last `faults` that satisfy it.
count() {
	jq -s "[.[] | select($1)] | length" "$PLOG"
}

BLOB_RE="GET /v2/faults/img/blobs/$BIG"
N=0
# pull_ok [ccpull options]: a pull through the proxy into a new store and bundle gives the exact tree.
pull_ok() {
	N=$((N + 1))
	expect 0 "$CCPULL" "${CCP_PULL[@]}" -q --store "$T/store$N" "$@" "$IMG" "$T/b$N"
	treecmp "$T/ref/rootfs" "$T/b$N/rootfs"
}

# pull_fails RC [ccpull options]: the pull exits RC and leaves nothing; the same store then works
# without faults (the rules are cleared).
pull_fails() {
	local rc=$1
	shift
	N=$((N + 1))
	expect "$rc" "$CCPULL" "${CCP_PULL[@]}" -q --store "$T/store$N" "$@" "$IMG" "$T/b$N"
	no_rootfs "$T/b$N"
	[ ! -e "$T/b$N/config.json" ] || fail "failed pull left $T/b$N/config.json"
	if [ -d "$T/store$N/staging" ]; then
		[ -z "$(find "$T/store$N/staging" -mindepth 1 -maxdepth 1 ! -name '*.lock')" ] ||
			fail "staging leftovers after a failed pull: $(ls -la "$T/store$N/staging")"
	fi
	# the failed pull's stderr and request log stay for the checks that follow
	cp "$T/err" "$T/err.failed"
	cp "$PLOG" "$PLOG.failed"
	faults '[]'
	CLEAN_PULL_S=$SECONDS
	expect 0 "$CCPULL" "${CCP_PULL[@]}" -q --store "$T/store$N" "$IMG" "$T/b$N-clean"
	CLEAN_PULL_S=$((SECONDS - CLEAN_PULL_S))
	treecmp "$T/ref/rootfs" "$T/b$N-clean/rootfs"
	cp "$T/err.failed" "$T/err"
	cp "$PLOG.failed" "$PLOG"
}

log "no fault: the proxy itself is transparent"
faults '[]'
pull_ok
[ "$(count '.fault == "pass" and (.path | test("/blobs/"))')" -ge 3 ] || fail "the pull did not go through the proxy"
# connections are reused across requests and layers: at most one per layer fetched at once, plus one
conns=$(jq -s '[.[].conn] | unique | length' "$PLOG")
[ "$conns" -le 3 ] || fail "the pull opened $conns connections for $(jq -s length "$PLOG") requests: $(cat "$PLOG")"

log "503 with Retry-After on the manifest, once"
faults '[{"id": "m", "match": "GET /v2/faults/img/manifests/v1$", "times": 1, "fault": "status", "code": 503, "retry_after": "1"}]'
pull_ok
[ "$(count '(.path | test("/manifests/v1$"))')" = 2 ] || fail "503 once: expected 2 manifest GETs: $(cat "$PLOG")"

log "429 with Retry-After (an HTTP-date) on the big blob, once; 500 on the config, once"
CONFIG=$(jq -r .config.digest "$T/manifest.json")
faults '[{"id": "b", "match": "'"$BLOB_RE"'", "times": 1, "fault": "status", "code": 429, "retry_after": "'"$(date -u -R -d '+1 second' | sed 's/+0000/GMT/')"'"},
	 {"id": "c", "match": "GET /v2/faults/img/blobs/'"$CONFIG"'", "times": 1, "fault": "status", "code": 500}]'
pull_ok
[ "$(count '(.path | contains("'"$BIG"'"))')" = 2 ] || fail "429 once: expected 2 GETs of the big blob"
[ "$(count '(.path | contains("'"$CONFIG"'"))')" = 2 ] || fail "500 once: expected 2 GETs of the config"

log "connection reset before the answer, on every kind of request, once each"
faults '[{"id": "m", "match": "/manifests/", "times": 1, "fault": "reset"},
	 {"id": "b", "match": "/blobs/", "times": 2, "fault": "reset"}]'
pull_ok
[ "$(count '.fault == "reset"')" = 3 ] || fail "resets: $(count '.fault == "reset"') of 3 injected"

log "big blob cut off mid-way (clean close): resumed with Range from the exact byte"
faults '[{"id": "cut", "match": "'"$BLOB_RE"'", "times": 1, "fault": "cut", "after": 1000000}]'
pull_ok
[ "$(count '(.path | contains("'"$BIG"'"))')" = 2 ] || fail "cut: expected 2 GETs of the big blob: $(cat "$PLOG")"
[ "$(count '(.path | contains("'"$BIG"'")) and .range == "bytes=1000000-" and .status == 206')" = 1 ] ||
	fail "cut: no Range request from byte 1000000: $(grep "$BIG" "$PLOG")"

log "big blob cut off three times, by resets at different points"
faults '[{"id": "c1", "match": "'"$BLOB_RE"'", "times": 1, "fault": "cut_reset", "after": 300000},
	 {"id": "c2", "match": "'"$BLOB_RE"'", "times": 1, "fault": "cut_reset", "after": 500000},
	 {"id": "c3", "match": "'"$BLOB_RE"'", "times": 1, "fault": "cut", "after": 1}]'
pull_ok --retry-times 4
[ "$(count '(.path | contains("'"$BIG"'"))')" = 4 ] || fail "three cuts: expected 4 GETs of the big blob"
[ "$(count '(.path | contains("'"$BIG"'")) and .range != null')" = 3 ] || fail "three cuts: expected 3 Range requests"

log "cut off, and the server ignores Range (200 with the whole blob): the bytes already had are skipped"
faults '[{"id": "cut", "match": "'"$BLOB_RE"'", "times": 1, "fault": "cut", "after": 1234567},
	 {"id": "ign", "match": "'"$BLOB_RE"'", "fault": "ignore_range"}]'
pull_ok
[ "$(count '(.path | contains("'"$BIG"'")) and .range == "bytes=1234567-" and .status == 200')" = 1 ] ||
	fail "ignored Range: expected one Range request answered with 200: $(grep "$BIG" "$PLOG")"

log "cut off, and the server ignores Range and cuts again: still exact"
faults '[{"id": "cut", "match": "'"$BLOB_RE"'", "times": 2, "fault": "cut", "after": 700000},
	 {"id": "ign", "match": "'"$BLOB_RE"'", "fault": "ignore_range"}]'
pull_ok

log "persistent 503: exit 4 after exactly 1 + --retry-times attempts"
faults '[{"id": "m", "match": "/manifests/", "fault": "status", "code": 503}]'
pull_fails 4 --retry-times 2
expect_stderr 'HTTP status 503.*gave up after 3 attempts'
[ "$(count '(.path | test("/manifests/"))')" = 3 ] || fail "persistent 503: $(count '(.path | test("/manifests/"))') manifest GETs, expected 3"

log "--retry-times 0: no retry at all"
faults '[{"id": "m", "match": "/manifests/", "fault": "status", "code": 502}]'
pull_fails 4 --retry-times 0
[ "$(count '(.path | test("/manifests/"))')" = 1 ] || fail "--retry-times 0 retried"

log "persistent resets on the big blob: exit 4, bounded"
faults '[{"id": "b", "match": "'"$BLOB_RE"'", "fault": "reset"}]'
pull_fails 4 --retry-times 2
# libcurl itself resends once when a reused connection dies before any answer: 3 to 6 requests
n=$(count '(.path | contains("'"$BIG"'"))')
[ "$n" -ge 3 ] && [ "$n" -le 6 ] || fail "persistent reset: $n GETs of the big blob, expected 3 attempts"
expect_stderr 'reset.*gave up after 3 attempts' 

log "a 429 whose Retry-After (capped at 30 s) goes past --timeout: give up at once"
faults '[{"id": "m", "match": "/manifests/", "fault": "status", "code": 429, "retry_after": "3600"}]'
start=$SECONDS
pull_fails 4 --timeout 20
expect_stderr 'too many requests.*time limit'
[ "$(count '(.path | test("/manifests/"))')" = 1 ] || fail "429 past the deadline was retried"
[ $((SECONDS - start)) -lt 20 ] || fail "429 past the deadline: waited anyway"

log "persistent corruption of the big blob: exit 5, no retry"
faults '[{"id": "b", "match": "'"$BLOB_RE"'", "fault": "corrupt", "at": 2000000}]'
pull_fails 5
[ "$(count '(.path | contains("'"$BIG"'"))')" = 1 ] || fail "corruption: the blob was fetched $(count '(.path | contains("'"$BIG"'"))') times"

log "a blob longer than its descriptor: exit 5"
faults '[{"id": "b", "match": "'"$BLOB_RE"'", "fault": "long", "extra": 10}]'
pull_fails 5
expect_stderr 'larger than'

log "a blob shorter than its descriptor, also for the rest: exit 4 after bounded attempts"
faults '[{"id": "b", "match": "'"$BLOB_RE"'", "fault": "short", "drop": 1000}]'
pull_fails 4 --retry-times 2
[ "$(count '(.path | contains("'"$BIG"'"))')" = 3 ] || fail "short blob: expected 3 GETs"

log "cut off, then the rest claims to start at another offset: exit 4"
faults '[{"id": "cut", "match": "'"$BLOB_RE"'", "times": 1, "fault": "cut", "after": 100000},
	 {"id": "lie", "match": "'"$BLOB_RE"'", "fault": "range_lie", "shift": 4096}]'
pull_fails 4
expect_stderr 'another offset'
[ "$(count '(.path | contains("'"$BIG"'"))')" = 2 ] || fail "range lie: expected 2 GETs"

log "a wrong manifest for a digest reference: exit 5"
faults '[{"id": "m", "match": "/manifests/'"$DIGEST"'", "fault": "swap", "path": "/v2/faults/img/manifests/'"$OTHER"'"}]'
N=$((N + 1))
expect 5 "$CCPULL" "${CCP_PULL[@]}" -q --store "$T/store$N" "$PROXY/faults/img@$DIGEST" "$T/b$N"
no_rootfs "$T/b$N"
[ "$(count '.fault == "swap"')" = 1 ] || fail "wrong manifest: fetched $(count '.fault == "swap"') times"

log "a token endpoint whose tokens are never accepted: exit 4 after bounded work"
faults '[{"id": "a", "match": "^GET /v2/", "fault": "auth_loop"}]'
pull_fails 4
[ "$(count '(.path | startswith("/token"))')" -le 3 ] || fail "auth loop: $(count '(.path | startswith("/token"))') token requests"
[ "$(count '(.path | startswith("/v2/"))')" -le 4 ] || fail "auth loop: $(count '(.path | startswith("/v2/"))') registry requests"

log "a token endpoint that redirects to itself: exit 4"
faults '[{"id": "a", "match": "^GET /v2/", "fault": "token_redirect"}]'
pull_fails 4
[ "$(count '(.path | startswith("/token"))')" -le 12 ] || fail "token redirect loop: $(count '(.path | startswith("/token"))') requests"

log "a stalled blob: exit 4 within --timeout"
faults '[{"id": "s", "match": "'"$BLOB_RE"'", "fault": "stall", "after": 10000, "seconds": 600}]'
start=$SECONDS
pull_fails 4 --timeout 6
took=$((SECONDS - start - CLEAN_PULL_S))
expect_stderr 'time limit'
[ "$took" -le 11 ] || fail "stall: the failed pull took $took s with --timeout 6"

log "a blob that stalls on every attempt, with the default settings: exit 4 within 120 s in all"
# every attempt (the resumed Range ones too) gets 10000 more bytes, then nothing on an open
# connection: the first stall costs the 60 s low-speed window, later attempts share what is left of
# the request's 90 s budget, instead of 60 s each
faults '[{"id": "s", "match": "'"$BLOB_RE"'", "fault": "stall", "after": 10000, "seconds": 600}]'
start=$SECONDS
pull_fails 4
took=$((SECONDS - start - CLEAN_PULL_S))
# more than one attempt: the resumed ones stalled too (the proxy logs a request once it ends)
expect_stderr 'too slow.*gave up after [2-9] attempts'
[ "$took" -lt 120 ] || fail "stall with the defaults: the failed pull took $took s"

log "an unreachable registry: exit 4 after bounded attempts"
DEAD=127.0.0.1:$(free_port)
start=$SECONDS
expect 4 "$CCPULL" "${CCP_PULL[@]}" -q --retry-times 2 --store "$T/store-dead" "$DEAD/faults/img:v1" "$T/b-dead"
expect_stderr 'cannot reach registry.*gave up after 3 attempts'
no_rootfs "$T/b-dead"
[ $((SECONDS - start)) -lt 50 ] || fail "unreachable registry: took $((SECONDS - start)) s"

log "all fault classes handled"
