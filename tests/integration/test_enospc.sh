#!/bin/bash
# Disk full. A store on a small tmpfs: the pull fails with exit 8 (local storage) when unpacking
# fills it, leaves no rootfs and no staging, keeps the layer it finished before, and the same store
# works once there is room (the finished layer is reused). A bundle on a full file system while the
# store has room: exit 8 again, no rootfs, and the store's layers serve the next pull.
. "$(dirname "$0")/lib.sh"

OCI=$T/oci
oci_new "$OCI" v1
mk_rich_tree "$T/l1"
add_tree_layer "$OCI:v1" "$T/l1"
mkdir -p "$T/l2/data"
head -c 12000000 /dev/urandom >"$T/l2/data/big.bin"
for j in $(seq 1 50); do printf '%d\n' "$j" >"$T/l2/data/f$j"; done
add_tree_layer "$OCI:v1" "$T/l2"
umoci_tree "$OCI:v1" "$T/ref"
start_registry
push "$OCI:v1" enospc/img:v1
IMG=$REG/enospc/img:v1

SMALL=$T/small
mkdir -p "$SMALL"
# the first layer (about 0.5 MB unpacked) fits, the second (12 MB) does not
mount -t tmpfs -o size=4m,mode=0755 ccpull-enospc "$SMALL" || skip "cannot mount a tmpfs"

# no_staging STORE: nothing is left in the store's staging area but lock files.
no_staging() {
	[ ! -d "$1/staging" ] || [ -z "$(find "$1/staging" -mindepth 1 -maxdepth 1 ! -name '*.lock')" ] ||
		fail "staging leftovers in $1: $(ls -la "$1/staging")"
}

for mode in copy overlay; do
	log "store and bundle on a full tmpfs ($mode)"
	STORE=$SMALL/store-$mode
	# one layer at a time: side by side, the second layer could fill the disk before the first is done
	expect 8 "$CCPULL" pull --insecure-policy --tls-verify=false -q --snapshotter "$mode" --store "$STORE" \
		--parallel-layers 1 "$IMG" "$SMALL/b-$mode"
	expect_stderr 'no space left on device'
	no_rootfs "$SMALL/b-$mode"
	[ ! -e "$SMALL/b-$mode/config.json" ] || fail "config.json left behind"
	no_staging "$STORE"
	expect 0 "$CCPULL" store ls --store "$STORE" --json
	[ "$(jq '.layers | length' "$T/out")" = 1 ] || fail "the store should keep the first layer: $(cat "$T/out")"
	# room again: the same store goes on from its committed layer
	mount -o remount,size=64m "$SMALL"
	expect 0 "$CCPULL" pull --insecure-policy --tls-verify=false -q --snapshotter "$mode" --store "$STORE" \
		--json "$IMG" "$SMALL/b2-$mode"
	treecmp "$T/ref/rootfs" "$SMALL/b2-$mode/rootfs"
	[ "$(jq '[.layers[] | select(.reused)] | length' "$T/out")" = 1 ] ||
		fail "the committed layer was not reused: $(cat "$T/out")"
	no_staging "$STORE"
	if [ "$mode" = overlay ]; then expect 0 "$CCPULL" umount "$SMALL/b2-$mode"; fi
	rm -rf "${SMALL:?}"/*
	mount -o remount,size=4m "$SMALL"
done

log "store with room, bundle on a full tmpfs (copy)"
expect 8 "$CCPULL" pull --insecure-policy --tls-verify=false -q --snapshotter copy --store "$T/store" \
	"$IMG" "$SMALL/b-bundle"
expect_stderr 'no space left on device'
no_rootfs "$SMALL/b-bundle"
no_staging "$T/store"
expect 0 "$CCPULL" pull --insecure-policy --tls-verify=false -q --snapshotter copy --store "$T/store" --json \
	"$IMG" "$T/b-bundle"
treecmp "$T/ref/rootfs" "$T/b-bundle/rootfs"
[ "$(jq '[.layers[] | select(.reused)] | length' "$T/out")" = 2 ] || fail "the store's layers were not reused"
