#!/bin/bash
# The copy snapshotter copies each file's data from the store's own layer file, within the store's
# filesystem (FICLONE, else copy_file_range; neither crosses from the overlay mount of the layers),
# and keeps the holes of sparse files. A three-layer image with files replaced, whited out, under an
# opaque directory, hardlinked and sparse: the rootfs is the exact tree umoci makes, a sparse file
# takes no more blocks than its data, and no copy_file_range call fails (counted with strace).
# With --keep-layers=false the store is only read: its bottom layers are copied, the others
# applied straight into the bundle and not kept.
. "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || skip "strace is not installed (see .ci/packages)"
# LeakSanitizer cannot run under ptrace: the ASan build checks leaks in the other tests
NOLEAKS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

# sparse FILE MIB: MIB MiB of zeros with 64 KiB of random data at the start and in the middle
# (the tar holds the zeros; ccpull's unpacker writes them as holes).
sparse() {
	truncate -s "${2}M" "$1"
	head -c 65536 /dev/urandom | dd of="$1" conv=notrunc status=none
	head -c 65536 /dev/urandom | dd of="$1" bs=1M seek=$(($2 / 2)) conv=notrunc status=none
}

OCI=$T/oci
oci_new "$OCI" v1
mk_rich_tree "$T/l1"
mkdir -p "$T/l1"/{opq,keep,data}
echo a >"$T/l1/opq/a"
echo b >"$T/l1/opq/b"
head -c 300000 /dev/urandom >"$T/l1/keep/x"
echo old >"$T/l1/data/over"
echo gone >"$T/l1/data/gone"
sparse "$T/l1/data/sparse1" 16
add_tree_layer "$OCI:v1" "$T/l1"
mkdir -p "$T/l2"/{opq,data}
: >"$T/l2/opq/.wh..wh..opq"
echo c >"$T/l2/opq/c"
echo newer >"$T/l2/data/over"
: >"$T/l2/data/.wh.gone"
head -c 500000 /dev/urandom >"$T/l2/data/mid"
add_tree_layer "$OCI:v1" "$T/l2"
umoci tag --image "$OCI:v1" v0 # the two bottom layers as an image of their own
mkdir -p "$T/l3/data"
echo newest >"$T/l3/data/over"
sparse "$T/l3/data/sparse3" 32
add_tree_layer "$OCI:v1" "$T/l3"
umoci_tree "$OCI:v1" "$T/ref"
start_registry
push "$OCI:v1" copy/img:v1
push "$OCI:v0" copy/img:v0
IMG=$REG/copy/img:v1

# blocks FILE: the bytes of disk FILE takes
blocks() { echo $(($(stat -c %b "$1") * $(stat -c %B "$1"))); }

for layers in fresh reused; do
	B=$T/b-$layers
	expect 0 env ASAN_OPTIONS="$NOLEAKS" strace -f -qq -e trace=copy_file_range -o "$T/$layers.trace" \
		"$CCPULL" "${CCP_PULL[@]}" -q --store "$T/store" "$IMG" "$B"
	treecmp "$T/ref/rootfs" "$B/rootfs"
	[ "$(cat "$B/rootfs/data/over")" = newest ] || fail "data/over is not the top layer's"
	[ ! -e "$B/rootfs/opq/a" ] && [ -e "$B/rootfs/opq/c" ] || fail "the opaque directory was not honoured"
	for f in sparse1 sparse3; do
		[ "$(blocks "$B/rootfs/data/$f")" -le $((1024 * 1024)) ] ||
			fail "data/$f takes $(blocks "$B/rootfs/data/$f") bytes of disk: its holes were filled"
	done
	# one call per file (and per data run of a sparse one), none of them refused (EXDEV: a copy
	# from the overlay mount; EINVAL/EOPNOTSUPP: a filesystem that cannot)
	ok=$(grep -c 'copy_file_range(.*= [0-9]' "$T/$layers.trace" || true)
	failed=$(grep -c 'copy_file_range(.*= -1' "$T/$layers.trace" || true)
	[ "$failed" = 0 ] || fail "$failed copy_file_range calls failed: $(grep '= -1' "$T/$layers.trace" | head -3)"
	[ "$ok" -ge 6 ] || fail "only $ok copy_file_range calls: the data was not copied in the kernel"
done

log "--keep-layers=false: layers the store lacks go straight into the bundle and are not kept"
# layers: the committed layer dirs in store $1
layers() { find "$1/layers" -mindepth 1 -maxdepth 1 -type d | wc -l; }
B=$T/b-unkept
expect 0 env ASAN_OPTIONS="$NOLEAKS" strace -f -qq -e trace=copy_file_range -o "$T/unkept.trace" \
	"$CCPULL" "${CCP_PULL[@]}" --keep-layers=false --json --store "$T/store-unkept" "$IMG" "$B"
treecmp "$T/ref/rootfs" "$B/rootfs"
[ "$(jq -c '[.layers[].reused]' "$T/out")" = '[false,false,false]' ] || fail "reused: $(jq -c '[.layers[].reused]' "$T/out")"
[ "$(layers "$T/store-unkept")" = 0 ] || fail "the store kept $(layers "$T/store-unkept") layers"
! grep -q 'copy_file_range(' "$T/unkept.trace" || fail "nothing was to be copied: $(head -3 "$T/unkept.trace")"
for f in sparse1 sparse3; do
	[ "$(blocks "$B/rootfs/data/$f")" -le $((1024 * 1024)) ] || fail "data/$f lost its holes"
done
expect 0 "$CCPULL" store ls --json --store "$T/store-unkept"
[ "$(jq '.images | length' "$T/out")" = 0 ] || fail "the store records an image it does not hold: $(cat "$T/out")"

# a store that holds the two bottom layers (pulled as v0): those are copied, the top one applied over them
expect 0 "$CCPULL" "${CCP_PULL[@]}" -q --store "$T/store-base" "$REG/copy/img:v0" "$T/b-v0"
[ "$(layers "$T/store-base")" = 2 ] || fail "v0 made $(layers "$T/store-base") layers"
B=$T/b-over-base
expect 0 "$CCPULL" "${CCP_PULL[@]}" --keep-layers=false --json --store "$T/store-base" "$IMG" "$B"
treecmp "$T/ref/rootfs" "$B/rootfs"
[ "$(jq -c '[.layers[].reused]' "$T/out")" = '[true,true,false]' ] || fail "reused: $(jq -c '[.layers[].reused]' "$T/out")"
[ "$(cat "$B/rootfs/data/over")" = newest ] || fail "data/over is not the top layer's"
[ ! -e "$B/rootfs/opq/a" ] && [ -e "$B/rootfs/opq/c" ] || fail "the opaque directory was not honoured"
[ "$(layers "$T/store-base")" = 2 ] || fail "the store kept the top layer"
# the store's layers are as they were: a pull that keeps layers still reuses them
expect 0 "$CCPULL" "${CCP_PULL[@]}" --json --store "$T/store-base" "$IMG" "$T/b-kept"
treecmp "$T/ref/rootfs" "$T/b-kept/rootfs"
[ "$(jq -c '[.layers[].reused]' "$T/out")" = '[true,true,false]' ] || fail "reused: $(jq -c '[.layers[].reused]' "$T/out")"
[ "$(layers "$T/store-base")" = 3 ] || fail "a pull that keeps layers left $(layers "$T/store-base")"

# an overlay rootfs is a mount of the store's layers: it cannot leave them out
expect 2 "$CCPULL" pull --insecure-policy --tls-verify=false --snapshotter overlay --keep-layers=false \
	--store "$T/store-base" "$IMG" "$T/b-overlay"
expect_stderr 'overlay snapshotter .* cannot leave them out of the store'
[ ! -e "$T/b-overlay" ] || fail "a refused pull made its bundle"
expect 2 "$CCPULL" "${CCP_PULL[@]}" --keep-layers false --store "$T/store-base" "$IMG" "$T/b-arg"
expect_stderr "write --keep-layers=false"
