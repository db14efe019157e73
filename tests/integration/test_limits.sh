#!/bin/bash
# Resource limits on what a registry sends: a manifest with 10,000 layers, a config that claims
# 100 MB and a 64 MiB manifest body are refused early (exit 4), before any blob is fetched, in
# bounded memory, and leave nothing behind.
. "$(dirname "$0")/lib.sh"

PLOG=$T/requests.log
: >"$PLOG"
$PY "$IT_DIR/liarregistry.py" "$T/liar.port" "$PLOG" &
await_port $! "$T/liar.port" "liarregistry.py"
curl -fs "http://127.0.0.1:$PORT/v2/" >/dev/null || fail "the test registry did not start"

# limited PULL_CASE REGEX: pull exits 4 with REGEX in the message, fetches no blob, leaves no rootfs,
# and stays small (peak RSS well under the 64 MiB a body of that size would need).
limited() {
	local tag=$1 re=$2
	log "$tag: expect exit 4 matching /$re/"
	: >"$PLOG"
	expect 4 /usr/bin/time -f "%M" -o "$T/rss" "$CCPULL" pull --insecure-policy --tls-verify=false \
		--retry-times 0 --store "$T/store" "127.0.0.1:$PORT/huge:$tag" "$T/b-$tag"
	expect_stderr "$re"
	no_rootfs "$T/b-$tag"
	if grep -q "/blobs/" "$PLOG"; then
		fail "$tag: blobs were requested: $(grep /blobs/ "$PLOG" | head -3)"
	fi
	local rss
	rss=$(tail -1 "$T/rss")
	# ASan alone costs tens of MiB; the limit still proves the 64 MiB body was never held.
	[ "$rss" -lt $((120 * 1024)) ] || fail "$tag: peak RSS $rss KiB"
}

limited layers 'layers'
limited config 'config.*(limit|larger)'
limited bigdoc 'larger than|limit'
log "ok"
