#!/bin/bash
# Overlay bundles (the default snapshotter as root): BUNDLE/rootfs of a whiteout-heavy image is an
# overlay mount equal to umoci's tree; a container's writes stay in its bundle; store ls shows the
# layers in use; gc keeps layers a mounted bundle uses even after store rm, and removes them after
# umount; umount is idempotent and refuses a directory that is not an overlay bundle.
. "$(dirname "$0")/lib.sh"

OVL_PULL=(pull --insecure-policy --tls-verify=false)
OCI=$T/oci
oci_new "$OCI" v1

L=$T/l1
mkdir -p "$L"/{a/sub/deeper,b,c/inner,o/olddir,e,keep,usr/bin}
printf 'f2\n' >"$L/a/sub/f2"
printf 'f3\n' >"$L/a/sub/deeper/f3"
printf 'b3\n' >"$L/b/f3"
printf 'keep\n' >"$L/b/keep"
printf 'cx\n' >"$L/c/inner/x"
printf 'd\n' >"$L/d"
printf 'old1\n' >"$L/o/old1"
printf 'y\n' >"$L/o/olddir/y"
printf 'gone\n' >"$L/gone"
printf 'g\n' >"$L/e/q"
head -c 20000 /dev/urandom >"$L/keep/data"
ln "$L/keep/data" "$L/keep/data-link"
printf '#!/bin/sh\n' >"$L/usr/bin/tool"
chmod 4755 "$L/usr/bin/tool"
chown 1000:1000 "$L/b/keep"
add_tree_layer "$OCI:v1" "$L"

L=$T/l2
mkdir -p "$L"/{a,b,o,d,e,keep}
: >"$L/.wh.gone"
: >"$L/a/.wh.sub"
: >"$L/b/.wh.f3"
: >"$L/o/.wh..wh..opq"
printf 'new\n' >"$L/o/new"
printf 'c is a file now\n' >"$L/c"
printf 'inner\n' >"$L/d/inner"
: >"$L/e/.wh.q"
: >"$L/.wh.never-existed"
: >"$L/keep/.wh.data-link"
add_tree_layer "$OCI:v1" "$L"

L=$T/l3
mkdir -p "$L/a/sub" "$L/o"
printf 'f2 again\n' >"$L/a/sub/f2"
printf 'gone is back\n' >"$L/gone"
: >"$L/o/.wh.new"
printf 'newer\n' >"$L/o/newer"
add_tree_layer "$OCI:v1" "$L"

umoci_tree "$OCI:v1" "$T/ref"
R=$T/ref/rootfs
[ ! -e "$R/a/sub/deeper" ] && [ ! -e "$R/o/old1" ] && [ -f "$R/c" ] && [ -d "$R/d" ] && [ -f "$R/o/newer" ] &&
	[ ! -e "$R/o/new" ] || fail "fixture: umoci's tree does not show the expected deletions"

start_registry
push "$OCI:v1" ovl/img:v1
STORE=$T/store

is_overlay() { [ "$(findmnt -n -o FSTYPE --mountpoint "$1" 2>/dev/null)" = overlay ]; }

log "default snapshotter as root: overlay"
expect 0 "$CCPULL" "${OVL_PULL[@]}" --store "$STORE" --json "$REG/ovl/img:v1" "$T/b1"
[ "$(json_get "$T/out" .snapshotter)" = overlay ] || fail "default snapshotter is not overlay: $(cat "$T/out")"
is_overlay "$T/b1/rootfs" || fail "$T/b1/rootfs is not an overlay mount"
treecmp "$R" "$T/b1/rootfs"
found=$(find "$T/b1/rootfs" \( -name '.wh.*' -o -type c \) | head -n 5)
[ -z "$found" ] || fail "whiteouts visible in the overlay rootfs: $found"
[ -f "$T/b1/config.json" ] || fail "no config.json"

log "explicit --snapshotter overlay, second bundle sharing every layer"
expect 0 "$CCPULL" "${OVL_PULL[@]}" --snapshotter overlay --store "$STORE" --json "$REG/ovl/img:v1" "$T/b2"
[ "$(jq '[.layers[] | select(.reused == true)] | length' "$T/out")" = 3 ] || fail "second bundle did not reuse the layers"
treecmp "$R" "$T/b2/rootfs"

log "writes stay in the bundle"
printf 'written\n' >"$T/b1/rootfs/new-file"
rm "$T/b1/rootfs/b/keep"
[ -f "$T/b1/.ccpull/upper/new-file" ] || fail "a write to the rootfs did not land in BUNDLE/.ccpull/upper"
[ -f "$T/b2/rootfs/b/keep" ] && [ ! -e "$T/b2/rootfs/new-file" ] || fail "a write to one bundle shows in another"
treecmp "$R" "$T/b2/rootfs"

log "store ls"
expect 0 "$CCPULL" store ls --store "$STORE" --json
cp "$T/out" "$T/ls1.json"
[ "$(jq '.layers | length' "$T/ls1.json")" = 3 ] || fail "store ls: expected 3 layers: $(cat "$T/ls1.json")"
[ "$(jq '[.layers[] | select(.in_use and .bundles == 2 and .images == 1)] | length' "$T/ls1.json")" = 3 ] ||
	fail "store ls: layers not shown in use by 1 image and 2 bundles: $(cat "$T/ls1.json")"
[ "$(jq '[.bundles[] | select(.live)] | length' "$T/ls1.json")" = 2 ] || fail "store ls: 2 live bundles expected"
[ "$(jq '.images | length' "$T/ls1.json")" = 1 ] || fail "store ls: 1 image expected"
expect 0 "$CCPULL" store ls --store "$STORE"
grep -q "ovl/img:v1" "$T/out" || fail "store ls (text) does not name the image"

log "store rm + gc keep layers of mounted bundles"
expect 0 "$CCPULL" store rm --store "$STORE" "$REG/ovl/img:v1"
expect 2 "$CCPULL" store rm --store "$STORE" "$REG/ovl/img:v1"
expect_stderr "no image"
expect 0 "$CCPULL" store gc --store "$STORE" --json
[ "$(json_get "$T/out" .layers_removed)" = 0 ] || fail "gc removed layers that mounted bundles use: $(cat "$T/out")"
treecmp "$R" "$T/b2/rootfs"

log "umount"
expect 0 "$CCPULL" umount "$T/b1"
[ ! -e "$T/b1/rootfs" ] || fail "umount left $T/b1/rootfs"
[ ! -e "$T/b1/.ccpull/upper" ] && [ ! -e "$T/b1/.ccpull/work" ] || fail "umount left the overlay state"
is_overlay "$T/b1/rootfs" && fail "b1/rootfs still mounted"
expect 0 "$CCPULL" umount "$T/b1"
mkdir -p "$T/not-a-bundle"
expect 2 "$CCPULL" umount "$T/not-a-bundle"
expect_stderr "not an overlay bundle"
expect 0 "$CCPULL" store ls --store "$STORE" --json
[ "$(jq '.bundles | length' "$T/out")" = 1 ] || fail "umount did not remove the mount record: $(cat "$T/out")"

log "a bundle unmounted behind ccpull's back no longer protects its layers"
umount "$T/b2/rootfs"
expect 0 "$CCPULL" store gc --store "$STORE" --json
[ "$(json_get "$T/out" .layers_removed)" = 3 ] || fail "gc did not remove the unused layers: $(cat "$T/out")"
[ "$(json_get "$T/out" .stale_removed)" -ge 1 ] || fail "gc did not remove the stale mount record"
expect 0 "$CCPULL" store ls --store "$STORE" --json
[ "$(jq '(.layers | length) + (.bundles | length) + (.images | length)' "$T/out")" = 0 ] ||
	fail "store not empty after gc: $(cat "$T/out")"
[ -z "$(find "$STORE/layers" "$STORE/mounts" "$STORE/staging" "$STORE/blobs" -mindepth 1)" ] ||
	fail "store directories not empty after gc: $(ls -AR "$STORE")"
expect 0 "$CCPULL" umount "$T/b2"

log "pull again into an unmounted bundle"
rm -f "$T/b1/config.json"
expect 0 "$CCPULL" "${OVL_PULL[@]}" --store "$STORE" "$REG/ovl/img:v1" "$T/b1"
treecmp "$R" "$T/b1/rootfs"
expect 0 "$CCPULL" umount "$T/b1"

log "--snapshotter copy still makes a plain directory"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$STORE" --json "$REG/ovl/img:v1" "$T/bc"
[ "$(json_get "$T/out" .snapshotter)" = copy ] || fail "copy snapshotter not reported"
is_overlay "$T/bc/rootfs" && fail "copy bundle is a mount"
treecmp "$R" "$T/bc/rootfs"
expect 2 "$CCPULL" umount "$T/bc"
