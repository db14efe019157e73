#!/bin/bash
# A large blob as parallel Range requests (--parallel-ranges), through faultproxy.py capping each
# connection's rate: the exact tree from ranges of 4 MiB (counted in the proxy's log: each one a 206,
# together the whole blob, more than one connection); a registry that ignores Range (200) gives the
# same tree from one stream; a range cut off mid-way resumes from its next byte within that range; a
# corrupted range fails the pull as an integrity error (exit 5) leaving no rootfs, no layer and no
# staging. Counts from the proxy's log, no timing.
. "$(dirname "$0")/lib.sh"

OCI=$T/oci
oci_new "$OCI" v1
mkdir -p "$T/l1/big"
head -c 18000000 /dev/urandom >"$T/l1/big/random.bin"
echo small >"$T/l1/big/small"
add_tree_layer "$OCI:v1" "$T/l1"
umoci_tree "$OCI:v1" "$T/ref"
start_registry
push "$OCI:v1" ranges/img:v1
MANIFEST_ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json'
curl -sf -H "$MANIFEST_ACCEPT" "http://$REG/v2/ranges/img/manifests/v1" >"$T/manifest.json"
BIG=$(jq -r '.layers[0].digest' "$T/manifest.json")
SIZE=$(jq -r '.layers[0].size' "$T/manifest.json")
CHUNK=$((4 << 20))
CHUNKS=$(((SIZE + CHUNK - 1) / CHUNK))
[ "$CHUNKS" -ge 4 ] || fail "fixture: the layer is only $SIZE bytes"

RULES=$T/rules.json
PLOG=$T/proxy.log
"$PY" "$IT_DIR/faultproxy.py" "$T/proxy.port" "$REG" "$RULES" "$PLOG" 2>"$T/proxy.err" &
_PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$T/proxy.port" ] && break; sleep 0.1; done
[ -s "$T/proxy.port" ] || fail "faultproxy did not start"
IMG=127.0.0.1:$(cat "$T/proxy.port")/ranges/img:v1
BLOB_RE="GET /v2/ranges/img/blobs/$BIG"
# every blob request is capped at 8 MB/s, as a CDN caps a connection
THROTTLE='{"id": "cap", "match": "'"$BLOB_RE"'", "fault": "throttle", "rate": 8000000}'

faults() {
	printf '%s\n' "$1" >"$RULES.tmp"
	mv "$RULES.tmp" "$RULES"
	: >"$PLOG"
}
count() { jq -s "[.[] | select(.path | contains(\"$BIG\")) | select($1)] | length" "$PLOG"; }
RANGES=(--parallel-ranges 3 --parallel-ranges-min-mib 1)
N=0
pull() {
	N=$((N + 1))
	expect "$1" "$CCPULL" "${CCP_PULL[@]}" -q --store "$T/store$N" "${RANGES[@]}" "$IMG" "$T/b$N"
}

log "ranges through a rate cap"
faults "[$THROTTLE]"
pull 0
treecmp "$T/ref/rootfs" "$T/b$N/rootfs"
[ "$(count '.status == 206 and (.range | test("^bytes=[0-9]+-[0-9]+$"))')" = "$CHUNKS" ] ||
	fail "expected $CHUNKS ranges of 206: $(jq -c '[.range, .status, .sent]' "$PLOG")"
[ "$(count '.status != 206')" = 0 ] || fail "a blob request was not a 206: $(jq -c '[.range, .status]' "$PLOG")"
[ "$(jq -s "[.[] | select(.path | contains(\"$BIG\")) | .sent] | add" "$PLOG")" = "$SIZE" ] ||
	fail "the ranges did not add up to the blob's $SIZE bytes"
[ "$(jq -s "[.[] | select(.path | contains(\"$BIG\")) | .conn] | unique | length" "$PLOG")" -ge 2 ] ||
	fail "every range came over one connection"
# the same pull with one stream: a single request, no Range
faults "[$THROTTLE]"
N=$((N + 1))
expect 0 "$CCPULL" "${CCP_PULL[@]}" -q --store "$T/store$N" --parallel-ranges 1 "$IMG" "$T/b$N"
treecmp "$T/ref/rootfs" "$T/b$N/rootfs"
[ "$(count 'true')" = 1 ] && [ "$(count '.range == null')" = 1 ] || fail "--parallel-ranges 1 used ranges"

log "a registry that ignores Range: one stream"
faults '[{"id": "ign", "match": "'"$BLOB_RE"'", "fault": "ignore_range"}]'
pull 0
treecmp "$T/ref/rootfs" "$T/b$N/rootfs"
[ "$(count '.status == 200 and .range == null')" = 1 ] ||
	fail "no single stream after the 200s: $(jq -c '[.range, .status, .sent]' "$PLOG")"
[ "$(count '.status == 206')" = 0 ] || fail "206 from a server that ignores Range?"

log "a range cut off mid-way resumes within that range"
faults '[{"id": "cut", "match": "'"$BLOB_RE"'", "times": 1, "fault": "cut", "after": 1000000}, '"$THROTTLE]"
pull 0
treecmp "$T/ref/rootfs" "$T/b$N/rootfs"
"$PY" - "$PLOG" "$BIG" <<'PYEOF' || fail "no resumed range after the cut: $(jq -c '[.range, .fault, .sent]' "$PLOG")"
import json, re, sys
log = [json.loads(l) for l in open(sys.argv[1]) if sys.argv[2] in l]
cut = [e for e in log if e["fault"] == "cut"]
assert len(cut) == 1
first, last = map(int, re.match(r"bytes=(\d+)-(\d+)$", cut[0]["range"]).groups())
want = "bytes=%d-%d" % (first + cut[0]["sent"], last)
assert any(e["range"] == want and e["status"] == 206 for e in log), want
PYEOF

log "a corrupted range: integrity error, nothing left"
faults '[{"id": "bad", "match": "'"$BLOB_RE"'", "times": 1, "fault": "corrupt", "at": 12345}, '"$THROTTLE]"
pull 5
expect_stderr 'digest|integrity'
no_rootfs "$T/b$N"
[ -z "$(find "$T/store$N/layers" -mindepth 1 ! -name '*.lock' 2>/dev/null)" ] ||
	fail "a layer was committed: $(ls "$T/store$N/layers")"
[ -z "$(find "$T/store$N/staging" -mindepth 1 -maxdepth 1 ! -name '*.lock' 2>/dev/null)" ] ||
	fail "staging leftovers"

log "bad values"
expect 2 "$CCPULL" "${CCP_PULL[@]}" --parallel-ranges 17 "$IMG" "$T/bx"
expect_stderr 'parallel-ranges expects a number'
printf '[image]\nparallel_ranges = 0\n' >"$T/bad.toml"
expect 2 "$CCPULL" "${CCP_PULL[@]}" --config "$T/bad.toml" "$IMG" "$T/bx"
expect_stderr 'parallel_ranges must be a number from 1 to 16'
