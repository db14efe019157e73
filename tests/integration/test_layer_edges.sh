#!/bin/bash
# Layer entries that depend on what the lower layers hold, from hand-made tars (mktar.py: only the
# entries listed, so parents can be implicit): files under parents the layer never names (they keep
# the lower directory's mode, owner, xattr and mtime), paths through lower symlinks (relative,
# absolute, chained, dangling, and a symlink of the same layer to a lower directory), hardlinks to
# targets of lower layers only, whiteouts and opaque markers under implicit or nonexistent parents,
# a whiteout followed by new content at the same path, a lower directory replaced by a file and
# then by a directory in one layer, and a directory entry where the lower has a symlink to a
# directory. umoci's unpack (every layer applied into one tree) is the oracle; the merged rootfs
# must equal it with the overlay and with the copy snapshotter, and again for a second bundle of
# the same store, and with the copy snapshotter not keeping layers (each layer applied on its own
# and moved into the rootfs), over an empty store, one that holds layer 1 and one that holds all. umoci refuses none of these layers. Beyond treecmp, each case's effect is checked
# on umoci's tree first (the fixture) and then on ccpull's, with the directories' mtimes and
# user.* xattrs (where the file system keeps them).
. "$(dirname "$0")/lib.sh"

OCI=$T/oci
oci_new "$OCI" v1
mklayer() { "$PY" "$IT_DIR/mktar.py" "$T/$1.tar" && add_layer "$OCI:v1" "$T/$1.tar"; }

# Layer 1: every entry named, with metadata that differs from what an implicit mkdir makes.
mklayer l1 <<'EOF'
dir p mode=0750 uid=123 gid=456 mtime=1500000000 xattr.user.edge=lower-p
dir p/q mode=0701 uid=7 gid=8 mtime=1500000100 xattr.user.edge=lower-q
file p/q/old data=old
dir usr
dir usr/lib
file usr/lib/libc.so data=libc
file usr/lib/keep.so data=keep
dir usr/share mode=0711 uid=3 gid=4
file usr/share/doc data=doc
symlink lib target=usr/lib
symlink lib64 target=lib
symlink abs target=/usr/share
symlink dang target=made/later
dir hl
file hl/target mode=0640 uid=5 gid=6 data=hardlink-target
file hl/pair1 data=pair
hardlink hl/pair2 target=hl/pair1
dir w mode=0710 uid=9 gid=10 mtime=1500000200 xattr.user.edge=lower-w
file w/gone data=gone
file w/stay data=stay
dir o mode=0750 uid=11 gid=12 mtime=1500000300 xattr.user.edge=lower-o
file o/a data=a
dir o/sub
file o/sub/b data=b
dir x mode=0750
file x/old1 data=old1
dir x/sub
file x/sub/deep data=deep
dir f mode=0711
file f/lowchild data=lowchild
dir f/lowdir
file f/lowdir/deep data=deep
dir d mode=0750 uid=13 gid=14
file d/old data=old
dir realdir mode=0750
file realdir/inside data=inside
symlink link2dir target=realdir
EOF
umoci tag --image "$OCI:v1" base # layer 1 alone, for a store that holds only it

# Layer 2: one group of entries per case; no parent directory is named unless the case says so.
mklayer l2 <<'EOF'
# 1. implicit parents that exist below (p, p/q)
file p/q/new data=new uid=1 gid=2
file p/top data=top
# 2. through lower symlinks: relative, absolute, chained, dangling (umoci creates the target's
# directories), and a symlink of this layer to a lower directory
file lib/newfile data=via-lib
file abs/x/y data=via-abs
file lib64/chained data=via-lib64
file dang/f data=via-dang
symlink mylink target=usr/share
file mylink/z data=via-mylink
# 3. hardlinks whose targets exist only below, one through a lower symlink, one to a file that
# has another name below (all three names must stay one inode)
hardlink hl/link target=hl/target
hardlink hl/via target=lib/keep.so
hardlink hl/pair3 target=hl/pair2
# 4. whiteout in an implicit parent; whiteout in a directory no layer has
file w/.wh.gone
file nowhere/.wh.foo
# 5. opaque in an implicit parent (plus new content of this layer); opaque in a nonexistent one
file o/.wh..wh..opq
file o/fresh data=fresh
file nowhere2/.wh..wh..opq
# 6. whiteout then a new directory at the same path; lower directory -> file -> directory
file .wh.x
dir x mode=0700
file x/y data=y
file f data=f-file
dir f mode=0705
file f/z data=z
# 7. content under a path this layer whited out, without a directory entry
file .wh.d
file d/e data=e
# 8. a directory entry where the lower has a symlink to a directory
dir link2dir mode=0750
file link2dir/inner data=inner
EOF

# Layer 3: the same kinds of entries against two lower layers (state made by layer 2).
mklayer l3 <<'EOF'
# implicit parents named by layer 1 (p) and by layer 2 only (x)
file p/q/third data=third
file x/third data=third
# through a symlink of layer 1 and one of layer 2
file lib/third data=third
file mylink/third data=third
# to a hardlink layer 2 made to a layer 1 file; to a layer 1 file from a layer 2 directory
hardlink hl/link3 target=hl/link
hardlink x/libc target=usr/lib/libc.so
# deleting layer 2's content under implicit parents, also through lower symlinks
file o/.wh.fresh
file w/.wh..wh..opq
file lib/.wh.newfile
file abs/x/.wh..wh..opq
file abs/x/w3 data=w3
EOF

umoci_tree "$OCI:v1" "$T/ref"
R=$T/ref/rootfs

# meta PATH...: "path mode uid:gid mtime user.edge" per path, never following a symlink.
meta() {
	local root=$1
	shift
	"$PY" - "$root" "$@" <<-'EOF'
		import os, stat, sys
		root = sys.argv[1]
		for p in sys.argv[2:]:
		    full = os.path.join(root, p)
		    st = os.lstat(full)
		    try:
		        x = os.getxattr(full, "user.edge", follow_symlinks=False).decode()
		    except OSError:
		        x = "-"
		    print(p, "%04o" % stat.S_IMODE(st.st_mode), "%d:%d" % (st.st_uid, st.st_gid), st.st_mtime_ns, x)
	EOF
}
# ls_names ROOT DIR: DIR's content, recursively, sorted, on one line.
ls_names() {
	if [ -d "$1/$2" ] && [ ! -L "$1/$2" ]; then
		(cd "$1/$2" && find . -mindepth 1 | LC_ALL=C sort | tr '\n' ' ')
	else
		echo "($2 is not a directory)"
	fi
}
# same_inode A B: A and B are one file (hard links of each other).
same_inode() { [ "$(stat -c %d:%i "$1")" = "$(stat -c %d:%i "$2")" ]; }

# check_cases ROOT WHAT REPORT: every case's expected effect; REPORT (fail or bad) gets each miss.
check_cases() {
	local r=$1 what=$2 report=$3 case=
	chk() { "$@" || "$report" "$what: case $case: check failed: $*"; }
	case=1
	chk [ "$(meta "$r" p p/q | cut -d' ' -f1-4)" = "p 0750 123:456 1500000000000000000
p/q 0701 7:8 1500000100000000000" ]
	chk [ -f "$r/p/q/new" ] && chk [ -f "$r/p/q/old" ] && chk [ -f "$r/p/q/third" ] && chk [ -f "$r/p/top" ]
	case=2
	chk [ "$(readlink "$r/lib")" = usr/lib ] && chk [ "$(readlink "$r/abs")" = /usr/share ]
	chk [ "$(readlink "$r/lib64")" = lib ] && chk [ "$(readlink "$r/mylink")" = usr/share ]
	chk [ "$(readlink "$r/dang")" = made/later ] && chk [ -f "$r/made/later/f" ] && chk [ ! -L "$r/made" ]
	chk [ "$(cat "$r/usr/lib/chained")" = via-lib64 ] && chk [ -f "$r/usr/lib/third" ]
	chk [ ! -e "$r/usr/lib/newfile" ] && chk [ ! -L "$r/usr/lib/newfile" ]
	chk [ "$(ls_names "$r" usr/share)" = "./doc ./third ./x ./x/w3 ./z " ]
	chk [ "$(meta "$r" usr/share | cut -d' ' -f2-3)" = "0711 3:4" ]
	case=3
	chk same_inode "$r/hl/target" "$r/hl/link"
	chk same_inode "$r/hl/target" "$r/hl/link3"
	chk same_inode "$r/usr/lib/keep.so" "$r/hl/via"
	chk same_inode "$r/usr/lib/libc.so" "$r/x/libc"
	chk [ "$(stat -c '%a %u:%g %h' "$r/hl/link")" = "640 5:6 3" ]
	chk same_inode "$r/hl/pair1" "$r/hl/pair2"
	chk same_inode "$r/hl/pair1" "$r/hl/pair3"
	chk [ "$(stat -c %h "$r/hl/pair3")" = 3 ]
	# 4, 5: w/ and o/ keep their lower metadata and lose what the layers deleted
	case=4-5
	chk [ "$(meta "$r" w o | cut -d' ' -f1-4)" = "w 0710 9:10 1500000200000000000
o 0750 11:12 1500000300000000000" ]
	chk [ -z "$(ls_names "$r" w)" ] && chk [ -z "$(ls_names "$r" o)" ]
	chk [ ! -e "$r/nowhere" ] && chk [ ! -e "$r/nowhere2" ]
	case=6
	chk [ "$(ls_names "$r" x)" = "./libc ./third ./y " ] && chk [ "$(stat -c %a "$r/x")" = 700 ]
	chk [ "$(ls_names "$r" f)" = "./z " ] && chk [ "$(stat -c %a "$r/f")" = 705 ]
	case=7
	chk [ "$(ls_names "$r" d)" = "./e " ] && chk [ "$(stat -c '%a %u:%g' "$r/d")" = "755 0:0" ]
	case=8
	chk [ -d "$r/link2dir" ] && chk [ ! -L "$r/link2dir" ] && chk [ "$(ls_names "$r" link2dir)" = "./inner " ]
	chk [ "$(ls_names "$r" realdir)" = "./inside " ]
	case=markers # no marker is ever visible
	chk [ -z "$(find "$r" -name '.wh.*' | head -n 3)" ]
}

# The oracle must show each case's effect, or this test tests nothing.
check_cases "$R" "umoci's tree (fixture)" fail
# user.* xattrs of the lower directories: only where this file system and umoci keep them.
XATTRS=1
if ! meta "$R" p | grep -q ' lower-p$'; then
	XATTRS=0
	log "note: umoci's tree has no user.edge xattr on p (file system or umoci): xattrs not compared"
fi
meta "$R" p p/q w o usr/share >"$T/meta.ref"

# Misses in ccpull's trees are collected, so one wrong case does not hide the others.
FAILS=0
bad() {
	log "MISMATCH: $*"
	FAILS=$((FAILS + 1))
}

# check_bundle ROOTFS: equal to the oracle, case by case, and in the metadata treecmp leaves out.
check_bundle() {
	local got=$1
	"$PY" "$IT_DIR/treecmp.py" "$R" "$got" >&2 || bad "trees differ: $R vs $got"
	check_cases "$got" "$got" bad
	meta "$got" p p/q w o usr/share >"$T/meta.got"
	# usr/share's mtime is whatever umoci's mkdir of x left: compare mode and owner only.
	metafilter() {
		if [ "$XATTRS" = 1 ]; then
			awk '$1 == "usr/share" { $4 = "-" } { print }' "$1"
		else
			awk '$1 == "usr/share" { $4 = "-" } { $5 = "-"; print }' "$1"
		fi
	}
	diff <(metafilter "$T/meta.ref") <(metafilter "$T/meta.got") >&2 ||
		bad "$got: directory metadata (mode uid:gid mtime_ns xattr) differs from umoci's"
}

start_registry
push "$OCI:v1" edges/img:v1
push "$OCI:base" edges/img:base
OVL_PULL=(pull --insecure-policy --tls-verify=false --json)

log "overlay snapshotter, fresh store"
expect 0 "$CCPULL" "${OVL_PULL[@]}" --store "$T/s-ovl" "$REG/edges/img:v1" "$T/o1"
[ "$(json_get "$T/out" .snapshotter)" = overlay ] || fail "default snapshotter is not overlay: $(cat "$T/out")"
[ "$(findmnt -n -o FSTYPE --mountpoint "$T/o1/rootfs")" = overlay ] || fail "$T/o1/rootfs is not an overlay mount"
check_bundle "$T/o1/rootfs"

log "overlay snapshotter, second bundle of the same store"
expect 0 "$CCPULL" "${OVL_PULL[@]}" --store "$T/s-ovl" "$REG/edges/img:v1" "$T/o2"
[ "$(jq '[.layers[] | select(.reused == true)] | length' "$T/out")" = 3 ] || fail "second bundle did not reuse the layers"
check_bundle "$T/o2/rootfs"
expect 0 "$CCPULL" umount "$T/o1"
expect 0 "$CCPULL" umount "$T/o2"

log "copy snapshotter, fresh store"
expect 0 "$CCPULL" "${OVL_PULL[@]}" --snapshotter copy --store "$T/s-copy" "$REG/edges/img:v1" "$T/c1"
[ "$(json_get "$T/out" .snapshotter)" = copy ] || fail "copy snapshotter not reported: $(cat "$T/out")"
check_bundle "$T/c1/rootfs"

log "copy snapshotter, second bundle of the same store"
expect 0 "$CCPULL" "${OVL_PULL[@]}" --snapshotter copy --store "$T/s-copy" "$REG/edges/img:v1" "$T/c2"
[ "$(jq '[.layers[] | select(.reused == true)] | length' "$T/out")" = 3 ] || fail "second bundle did not reuse the layers"
check_bundle "$T/c2/rootfs"

# no_layer_dirs BUNDLE: a pull that does not keep its layers left none of their directories behind
no_layer_dirs() {
	local left
	left=$(find "$1" -mindepth 1 -maxdepth 1 -name '.*' -printf '%f ')
	[ -z "$left" ] || bad "$1 holds $left"
}

log "copy snapshotter, layers not kept: all three applied side by side and moved into the rootfs"
expect 0 "$CCPULL" "${OVL_PULL[@]}" --snapshotter copy --keep-layers=false --store "$T/s-none" \
	"$REG/edges/img:v1" "$T/n1"
[ "$(jq '[.layers[] | select(.reused == true)] | length' "$T/out")" = 0 ] || fail "layers reused from an empty store"
check_bundle "$T/n1/rootfs"
no_layer_dirs "$T/n1"
[ -z "$(ls "$T/s-none/layers")" ] || fail "the store kept layers: $(ls "$T/s-none/layers")"

log "copy snapshotter, layers not kept, over a store holding layer 1"
expect 0 "$CCPULL" "${OVL_PULL[@]}" --snapshotter copy --store "$T/s-part" "$REG/edges/img:base" "$T/b-base"
expect 0 "$CCPULL" "${OVL_PULL[@]}" --snapshotter copy --keep-layers=false --store "$T/s-part" \
	"$REG/edges/img:v1" "$T/n2"
[ "$(jq -c '[.layers[].reused]' "$T/out")" = '[true,false,false]' ] || fail "reused: $(jq -c '[.layers[].reused]' "$T/out")"
check_bundle "$T/n2/rootfs"
no_layer_dirs "$T/n2"

log "copy snapshotter, layers not kept, over a store holding all three"
expect 0 "$CCPULL" "${OVL_PULL[@]}" --snapshotter copy --keep-layers=false --store "$T/s-copy" \
	"$REG/edges/img:v1" "$T/n3"
[ "$(jq '[.layers[] | select(.reused == true)] | length' "$T/out")" = 3 ] || fail "the store's layers were not used"
check_bundle "$T/n3/rootfs"

[ "$FAILS" = 0 ] || fail "$FAILS mismatch(es) with umoci's tree (see MISMATCH lines above)"
