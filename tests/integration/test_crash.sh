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
STORE=$T/store
PULL=(pull --insecure-policy --tls-verify=false --store "$STORE" -q)

kills=0
for delay in 0.1 0.3 0.7 1.5; do
	for mode in overlay copy; do
		B=$T/b-$mode-$delay
		"$CCPULL" "${PULL[@]}" --snapshotter "$mode" "$REG/crash/img:v1" "$B" >/dev/null 2>"$T/killed.err" &
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
[ "$kills" -ge 3 ] || fail "only $kills pulls were still running when killed: the test did not test crashes"
log "$kills pulls killed mid-way; every following pull was correct"

# A kill during mount leaves at most a stale record: gc drops it and keeps nothing it should not.
for m in "$T"/b-*; do "$CCPULL" umount "$m" >/dev/null 2>&1 || true; done
expect 0 "$CCPULL" store rm --store "$STORE" "$REG/crash/img:v1"
expect 0 "$CCPULL" store gc --store "$STORE"
expect 0 "$CCPULL" store ls --store "$STORE" --json
[ "$(jq '(.layers | length) + (.bundles | length)' "$T/out")" = 0 ] || fail "gc left records or layers: $(cat "$T/out")"
[ -z "$(find "$STORE/layers" "$STORE/staging" "$STORE/mounts" -mindepth 1)" ] ||
	fail "store not clean after gc: $(find "$STORE" -mindepth 2 -maxdepth 2)"
