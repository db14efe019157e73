#!/bin/bash
# An image of 128 layers: the overlay bundle mounts (its layer paths are far beyond the kernel's
# one-page limit on mount options) and equals umoci's tree; the last layers' staging mounts have
# 127 lower layers each. Every layer adds a file, rewrites a shared one and deletes one of an
# earlier layer, so a wrong layer order or a missing lower shows.
. "$(dirname "$0")/lib.sh"

N=128
OCI=$T/oci
oci_new "$OCI" v1
for i in $(seq 1 $N); do
	L=$T/l$i
	mkdir -p "$L/layers" "$L/etc"
	printf 'layer %d\n' "$i" >"$L/layers/$i"
	printf 'written by layer %d\n' "$i" >"$L/etc/shared"
	if [ "$i" -gt 2 ] && [ $((i % 3)) -eq 0 ]; then
		: >"$L/layers/.wh.$((i - 2))"
	fi
	add_tree_layer "$OCI:v1" "$L"
done
umoci_tree "$OCI:v1" "$T/ref"
R=$T/ref/rootfs
[ "$(cat "$R/etc/shared")" = "written by layer $N" ] && [ ! -e "$R/layers/1" ] && [ -f "$R/layers/$N" ] ||
	fail "fixture: umoci's tree is not what 128 layers should give"

start_registry
push "$OCI:v1" many/img:v1
[ "$(skopeo inspect --tls-verify=false --raw "docker://$REG/many/img:v1" | jq '.layers | length')" = $N ] ||
	fail "fixture: the pushed image does not have $N layers"

# A long store path makes the full layer paths need ~ 128 * 130 bytes of options.
STORE=$T/store-with-a-long-name-$(printf 'x%.0s' $(seq 1 40))
expect 0 "$CCPULL" pull --insecure-policy --tls-verify=false --store "$STORE" --json "$REG/many/img:v1" "$T/b"
[ "$(json_get "$T/out" .snapshotter)" = overlay ] || fail "not an overlay bundle: $(head -c 300 "$T/out")"
[ "$(findmnt -n -o FSTYPE --mountpoint "$T/b/rootfs")" = overlay ] || fail "$T/b/rootfs is not mounted"
treecmp "$R" "$T/b/rootfs"
expect 0 "$CCPULL" umount "$T/b"

log "copy snapshotter over the same 128 stored layers"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$STORE" --json "$REG/many/img:v1" "$T/bc"
[ "$(jq '[.layers[] | select(.reused == true)] | length' "$T/out")" = $N ] || fail "layers were not reused"
treecmp "$R" "$T/bc/rootfs"
