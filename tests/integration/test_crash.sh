#!/bin/bash
# Crash safety: a pull killed with SIGKILL at different points (downloading, unpacking, committing,
# mounting) leaves a store the next pull can use: the next pull succeeds with the exact tree, never
# reuses a half-made layer, and cleans the staging leftovers; gc then removes what the dead pulls
# left. Each round uses a fresh bundle (a runtime retries with a new one).
. "$(dirname "$0")/lib.sh"

OCI=$T/oci
oci_new "$OCI" v1
mk_rich_tree "$T/l1"
add_tree_layer "$OCI:v1" "$T/l1"
for i in 2 3 4 5; do
	L=$T/l$i
	mkdir -p "$L/data$i/sub"
	head -c 3000000 /dev/urandom >"$L/data$i/blob"
	for j in $(seq 1 300); do printf '%d-%d\n' "$i" "$j" >"$L/data$i/sub/f$j"; done
	[ "$i" -gt 2 ] && : >"$L/data$((i - 1))/sub/.wh.f1" && mkdir -p "$L/data$((i - 1))/sub"
	add_tree_layer "$OCI:v1" "$L"
done
umoci_tree "$OCI:v1" "$T/ref"

start_registry
push "$OCI:v1" crash/img:v1
push "$OCI:v1" slow/crash:v1
STORE=$T/store
PULL=(pull --insecure-policy --tls-verify=false --store "$STORE" -q)

# Kills at fixed points, whatever the machine's speed: stallproxy.py holds the pull's next blob
# request (the config, or the first layer the store lacks, with its staging overlay mounted) until
# the pull is killed.
start_stallproxy
held_kills=0
# Held at the config (an empty store), then at each later layer: the layers before it are committed
# and the held one is staged, its overlay mounted, when the pull dies.
skopeo inspect --tls-verify=false --raw "docker://$REG/crash/img:v1" >"$T/manifest.json"
targets=(config $(jq -r '.layers[1:][].digest' "$T/manifest.json"))
for target in "${targets[@]}"; do
	for mode in overlay copy; do
		B=$T/b-held-$mode-${target##*:}
		rm -f "$T/stall/crash.stalled" "$T/stall/crash.only"
		[ "$target" = config ] || printf '%s' "$target" >"$T/stall/crash.only"
		"$CCPULL" "${PULL[@]}" --snapshotter "$mode" "$PROXY/slow/crash:v1" "$B" >/dev/null 2>"$T/killed.err" &
		pid=$!
		for _ in $(seq 1 1200); do [ -e "$T/stall/crash.stalled" ] && break; sleep 0.1; done
		[ -e "$T/stall/crash.stalled" ] || fail "the pull never reached the held blob ($target)"
		kill -9 "$pid" 2>/dev/null && held_kills=$((held_kills + 1))
		wait "$pid" 2>/dev/null || true
		no_rootfs "$B"
	done
done
# Every held pull left its staging behind; the next pull cleans it and gives the exact tree.
rm -f "$T/stall/crash.only"
: >"$T/stall/crash.release"
expect 0 "$CCPULL" "${PULL[@]}" --snapshotter copy "$PROXY/slow/crash:v1" "$T/b-held-after"
treecmp "$T/ref/rootfs" "$T/b-held-after/rootfs"
[ -z "$(find "$STORE/staging" -mindepth 1 -maxdepth 1 ! -name '*.lock')" ] ||
	fail "staging leftovers after the pull that followed the held kills"
expect 0 "$CCPULL" store rm --store "$STORE" "$PROXY/slow/crash:v1"
expect 0 "$CCPULL" store gc --store "$STORE"
[ "$held_kills" = $((2 * ${#targets[@]})) ] || fail "only $held_kills held pulls were killed mid-way"

# Kills at a spread of delays reach the later phases (unpacking, committing, mounting); a fast
# machine finishes some pulls first, which is fine: every following pull must still be correct.
# These pulls commit without syncing (--store-sync none): ordering alone must keep the store whole.
kills=0
for delay in 0.1 0.3 0.7 1.5; do
	for mode in overlay copy; do
		B=$T/b-$mode-$delay
		"$CCPULL" "${PULL[@]}" --store-sync none --snapshotter "$mode" "$REG/crash/img:v1" "$B" >/dev/null \
			2>"$T/killed.err" &
		pid=$!
		sleep "$delay"
		if kill -9 "$pid" 2>/dev/null; then
			kills=$((kills + 1))
		fi
		wait "$pid" 2>/dev/null || true
		# The layers of a killed pull may be half made: the next pull must not trust them.
		expect 0 "$CCPULL" "${PULL[@]}" --snapshotter "$mode" --json "$REG/crash/img:v1" "$B-again"
		treecmp "$T/ref/rootfs" "$B-again/rootfs"
		[ -z "$(find "$STORE/staging" -mindepth 1 -maxdepth 1 ! -name '*.lock')" ] ||
			fail "staging leftovers after the pull that followed a kill at ${delay}s"
	done
	# Start over with an empty store now and then, so kills land in early phases again.
	if [ "$delay" = 0.3 ]; then
		for m in "$T"/b-overlay-*; do "$CCPULL" umount "$m" >/dev/null 2>&1 || true; done
		expect 0 "$CCPULL" store rm --store "$STORE" "$REG/crash/img:v1"
		expect 0 "$CCPULL" store gc --store "$STORE" --json
		[ "$(json_get "$T/out" .layers_removed)" -ge 1 ] || fail "gc removed nothing"
	fi
done
log "$held_kills held pulls and $kills timed pulls killed mid-way; every following pull was correct"

# A kill during mount leaves at most a stale record: gc drops it and keeps nothing it should not.
for m in "$T"/b-*; do "$CCPULL" umount "$m" >/dev/null 2>&1 || true; done
expect 0 "$CCPULL" store rm --store "$STORE" "$REG/crash/img:v1"
expect 0 "$CCPULL" store gc --store "$STORE"
expect 0 "$CCPULL" store ls --store "$STORE" --json
[ "$(jq '(.layers | length) + (.bundles | length)' "$T/out")" = 0 ] || fail "gc left records or layers: $(cat "$T/out")"
[ -z "$(find "$STORE/layers" "$STORE/staging" "$STORE/mounts" -mindepth 1)" ] ||
	fail "store not clean after gc: $(find "$STORE" -mindepth 2 -maxdepth 2)"
