#!/bin/bash
# Concurrent pulls into one store (separate processes), of two images that share their first two
# layers: every pull succeeds with a correct tree, and each shared layer blob is fetched from the
# registry exactly once per store (so it was unpacked once), the other pulls reporting it reused.
# Several rounds with fresh stores, overlay and copy bundles.
. "$(dirname "$0")/lib.sh"

OCI=$T/oci
mk_rich_tree "$T/l1"
mkdir -p "$T/l2/opt/big" "$T/la/app" "$T/lb/app"
head -c 4000000 /dev/urandom >"$T/l2/opt/big/blob"
seq 1 200000 >"$T/l2/opt/big/numbers"
printf 'image a\n' >"$T/la/app/name"
printf 'image b\n' >"$T/lb/app/name"
mkdir -p "$T/lb/opt"
: >"$T/lb/opt/.wh.big"
for img in a b; do
	oci_new "$OCI" $img
	add_tree_layer "$OCI:$img" "$T/l1"
	add_tree_layer "$OCI:$img" "$T/l2"
	add_tree_layer "$OCI:$img" "$T/l$img"
	umoci_tree "$OCI:$img" "$T/ref-$img"
done

start_registry
push "$OCI:a" conc/a:v1
push "$OCI:b" conc/b:v1
skopeo inspect --tls-verify=false --raw "docker://$REG/conc/a:v1" >"$T/ma.json"
skopeo inspect --tls-verify=false --raw "docker://$REG/conc/b:v1" >"$T/mb.json"
SHARED=$(jq -r '.layers[0].digest, .layers[1].digest' "$T/ma.json")
[ "$(jq -r '.layers[0].digest, .layers[1].digest' "$T/mb.json")" = "$SHARED" ] ||
	fail "fixture: the images do not share their first two layer blobs"

for round in 1 2 3; do
	mode=()
	[ "$round" = 3 ] && mode=(--snapshotter copy)
	STORE=$T/store$round
	start=$(wc -l <"$REG_ACCESS_LOG")
	pids=()
	i=0
	for img in a b a b; do
		i=$((i + 1))
		"$CCPULL" pull --insecure-policy --tls-verify=false "${mode[@]}" --store "$STORE" --json \
			"$REG/conc/$img:v1" "$T/r$round-$i" >"$T/r$round-$i.json" 2>"$T/r$round-$i.err" &
		pids+=($!)
	done
	i=0
	for img in a b a b; do
		i=$((i + 1))
		rc=0
		wait "${pids[$((i - 1))]}" || rc=$?
		if [ "$rc" -ne 0 ] || grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/r$round-$i.err"; then
			cat "$T/r$round-$i.err" >&2
			fail "round $round: pull $i ($img) exited $rc"
		fi
		treecmp "$T/ref-$img/rootfs" "$T/r$round-$i/rootfs"
	done
	tail -n +$((start + 1)) "$REG_ACCESS_LOG" >"$T/access$round.log"
	for d in $SHARED; do
		n=$(grep -c "\"GET /v2/[^ ]*/blobs/$d" "$T/access$round.log" || true)
		[ "$n" = 1 ] || fail "round $round: shared layer $d fetched $n times by 4 concurrent pulls"
		made=$(cat "$T"/r$round-*.json | jq -s --arg d "$d" '[.[].layers[] | select(.digest == $d and .reused == false)] | length')
		[ "$made" = 1 ] || fail "round $round: shared layer $d reported made by $made pulls"
	done
	[ -z "$(find "$STORE/staging" -mindepth 1)" ] || fail "round $round: staging not empty"
	log "round $round: 4 concurrent pulls ok, shared layers fetched once"
done
for round in 1 2; do
	for i in 1 2 3 4; do expect 0 "$CCPULL" umount "$T/r$round-$i"; done
done
