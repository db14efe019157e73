#!/bin/bash
# Deletions across layers: whiteouts of files and directories, an opaque directory, a directory
# replaced by a file and a file by a directory (with and without a whiteout in the same layer), a
# whiteout of a path that never existed, and a path re-created after its deletion.
. "$(dirname "$0")/lib.sh"

OCI=$T/oci
oci_new "$OCI" v1

# Layer 1: the base.
L=$T/l1
mkdir -p "$L"/{a/sub/deeper,b,c/inner,o/olddir,e,h,keep}
printf 'f1\n' >"$L/a/f1"
printf 'f2\n' >"$L/a/sub/f2"
printf 'f3\n' >"$L/a/sub/deeper/f3"
printf 'b3\n' >"$L/b/f3"
printf 'keep\n' >"$L/b/keep"
printf 'cx\n' >"$L/c/inner/x"
printf 'd\n' >"$L/d"
printf 'old1\n' >"$L/o/old1"
printf 'y\n' >"$L/o/olddir/y"
ln -s old1 "$L/o/oldlink"
printf 'gone\n' >"$L/gone"
printf 'g\n' >"$L/e/q"
printf 'h\n' >"$L/h/inside"
head -c 20000 /dev/urandom >"$L/keep/data"
ln "$L/keep/data" "$L/keep/data-link"
ln -s /keep/data "$L/keep/abs-link"
add_tree_layer "$OCI:v1" "$L"

# Layer 2: deletions and type changes.
L=$T/l2
mkdir -p "$L"/{a,b,o,d,e,keep}
: >"$L/.wh.gone"                 # file deleted
: >"$L/a/.wh.sub"                # directory with content deleted
: >"$L/b/.wh.f3"                 # file in a kept directory deleted
: >"$L/o/.wh..wh..opq"           # opaque: lower content of o/ hidden ...
printf 'new\n' >"$L/o/new"       # ... but this layer's own o/ content stays
printf 'c is a file now\n' >"$L/c" # directory replaced by a file, no whiteout
printf 'inner\n' >"$L/d/inner"   # file replaced by a directory, no whiteout
: >"$L/.wh.h"                    # directory replaced by a file, with a whiteout (Docker style)
printf 'h file\n' >"$L/h"
: >"$L/e/.wh.q"                  # leaves e/ empty
: >"$L/.wh.never-existed"        # nothing to delete: a no-op
: >"$L/keep/.wh.data-link"           # one name of a hardlinked pair deleted
add_tree_layer "$OCI:v1" "$L"

# Layer 3: re-create some of what was deleted, delete something layer 2 added.
L=$T/l3
mkdir -p "$L/a/sub" "$L/o"
printf 'f2 again\n' >"$L/a/sub/f2"
printf 'gone is back\n' >"$L/gone"
: >"$L/o/.wh.new"
printf 'newer\n' >"$L/o/newer"
add_tree_layer "$OCI:v1" "$L"

umoci_tree "$OCI:v1" "$T/ref"
# The oracle must show the deletions, or this test tests nothing.
R=$T/ref/rootfs
[ ! -e "$R/a/sub/deeper" ] && [ ! -e "$R/b/f3" ] && [ ! -e "$R/o/old1" ] && [ -f "$R/c" ] && [ -d "$R/d" ] &&
	[ -f "$R/h" ] && [ -f "$R/o/newer" ] && [ ! -e "$R/o/new" ] && [ -f "$R/gone" ] ||
	fail "fixture: umoci's tree does not show the expected deletions"

start_registry
push "$OCI:v1" wh/img:v1
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" "$REG/wh/img:v1" "$T/b"
treecmp "$R" "$T/b/rootfs"
found=$(find "$T/b/rootfs" -name '.wh.*' | head -n 5)
[ -z "$found" ] || fail "whiteout markers left in the rootfs: $found"

# The same through a second store and zstd: layers reused from another image must not change the
# result of applying whiteouts.
push "$OCI:v1" wh/zstd:v1 --dest-compress-format zstd
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" "$REG/wh/zstd:v1" "$T/bz"
treecmp "$R" "$T/bz/rootfs"
