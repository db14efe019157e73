#!/bin/bash
# A hostile registry: blobs and manifests changed in the registry's storage (it serves the stored
# bytes without checking them). Every case must fail with the right exit status, leave no
# BUNDLE/rootfs and no layer in the store that was not committed before; the same store must then
# still give a correct pull once the registry serves the right bytes again.
. "$(dirname "$0")/lib.sh"

# flip_byte FILE: changes one byte in the middle (same size).
flip_byte() {
	"$PY" - "$1" <<-'EOF'
		import sys
		p = sys.argv[1]
		b = bytearray(open(p, "rb").read())
		b[len(b) // 2] ^= 0x01
		open(p, "wb").write(b)
	EOF
}

# flip_hex FILE: changes the first hex digit after the first "sha256:" (stays valid JSON, same size).
flip_hex() {
	"$PY" - "$1" <<-'EOF'
		import sys
		p = sys.argv[1]
		b = open(p, "rb").read()
		i = b.index(b"sha256:") + 7
		c = b"0" if b[i:i + 1] != b"0" else b"1"
		open(p, "wb").write(b[:i] + c + b[i + 1:])
	EOF
}

# store_layers: the committed layers of $STORE (layout: ccpull store, STORE/layers/<chain>/).
store_layers() {
	[ -d "$STORE/layers" ] || fail "store layout changed: no $STORE/layers (update this test)"
	find "$STORE/layers" -mindepth 1 -maxdepth 1 ! -name '*.lock' -printf '%f\n' | sort
}

# check_store_clean BEFORE_LIST: no new layer and no staging leftovers.
check_store_clean() {
	store_layers >"$T/layers.after"
	diff -u "$1" "$T/layers.after" >&2 || fail "a failed pull left layers in the store"
	if [ -d "$STORE/staging" ] && [ -n "$(find "$STORE/staging" -mindepth 1 ! -name '*.lock' -print -quit)" ]; then
		find "$STORE/staging" >&2
		fail "a failed pull left staging leftovers in the store"
	fi
}

# tamper_case NAME EXPECTED_RC FILE FLIPPER REF [STDERR_REGEX]: corrupts FILE, pulls REF (must exit
# RC, and the message must match STDERR_REGEX: it names what failed), restores FILE.
tamper_case() {
	local name=$1 want=$2 file=$3 flipper=$4 ref=$5 re=${6:-} b=$T/b-$1
	log "tamper: $name (expect exit $want)"
	cp -p "$file" "$T/saved"
	"$flipper" "$file"
	if cmp -s "$file" "$T/saved"; then fail "fixture: $file did not change"; fi
	store_layers >"$T/layers.before"
	expect "$want" "$CCPULL" "${CCP_PULL[@]}" --store "$STORE" "$ref" "$b"
	[ -z "$re" ] || expect_stderr "$re"
	no_rootfs "$b"
	check_store_clean "$T/layers.before"
	cp -p "$T/saved" "$file"
}

# append_bytes FILE: the blob grows beyond its descriptor's size.
append_bytes() { printf 'extra bytes' >>"$1"; }

OCI=$T/oci
mk_two_layer_image "$OCI" 60000

start_registry
push "$OCI:base" tamper/base:v1
push "$OCI:v1" tamper/img:v1
IMG=$REG/tamper/img:v1
skopeo inspect --tls-verify=false --raw "docker://$IMG" >"$T/m.json"
MDIGEST=$(reg_digest tamper/img:v1)
L2=$(jq -r '.layers[1].digest' "$T/m.json")
CFG=$(jq -r '.config.digest' "$T/m.json")

# The store already holds the base layer: the cases below may add nothing to it.
STORE=$T/store
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$STORE" "$REG/tamper/base:v1" "$T/b-base"
[ "$(store_layers | wc -l)" -ge 1 ] || fail "the base pull committed no layer to the store"

tamper_case layer-byte 5 "$(reg_blob_file "$L2")" flip_byte "$IMG" "${L2#sha256:}"
tamper_case layer-longer 5 "$(reg_blob_file "$L2")" append_bytes "$IMG" "${L2#sha256:}"
# A config is kept in the store only by a pull that succeeded (the failed pulls above kept nothing);
# a fresh store makes sure the tampered registry copy is the one read.
SHARED_STORE=$STORE
STORE=$T/store-config
mkdir -p "$STORE/layers"
tamper_case config 5 "$(reg_blob_file "$CFG")" flip_hex "$IMG" "${CFG#sha256:}"
STORE=$SHARED_STORE
log "a config kept by the store is used instead of the registry's tampered copy"
[ ! -e "$STORE/blobs/sha256-${CFG#sha256:}" ] || fail "the failed pulls kept the image's config in the store"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$STORE" "$IMG" "$T/b-keeps-config"
cp -p "$(reg_blob_file "$CFG")" "$T/saved-config"
flip_hex "$(reg_blob_file "$CFG")"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$STORE" "$IMG" "$T/b-cached-config"
cp -p "$T/saved-config" "$(reg_blob_file "$CFG")"
tamper_case manifest-by-tag 5 "$(reg_blob_file "$MDIGEST")" flip_hex "$IMG" "manifest"
tamper_case manifest-by-digest 5 "$(reg_blob_file "$MDIGEST")" flip_hex "$REG/tamper/img@$MDIGEST" "manifest"

log "after all that, the same store gives the right tree"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$STORE" "$IMG" "$T/b-good"
treecmp "$T/ref/rootfs" "$T/b-good/rootfs"

log "pull by a digest the registry does not have"
expect 4 "$CCPULL" "${CCP_PULL[@]}" --store "$STORE" "$REG/tamper/img@sha256:$(printf x | sha256sum | cut -c1-64)" "$T/b-nodigest"
no_rootfs "$T/b-nodigest"

# A layer labelled gzip whose bytes are a plain tar: malformed layer (7). The same layer with a
# wrong blob digest as well: the digest is the root cause (5).
log "layer content does not match its media type"
"$PY" "$IT_DIR/regpush.py" "$REG" tamper/liar:v1 "$T/l2.tar:raw-as-gzip" >/dev/null
skopeo inspect --tls-verify=false --raw "docker://$REG/tamper/liar:v1" >"$T/liar.json"
LIAR=$(jq -r '.layers[0].digest' "$T/liar.json")
store_layers >"$T/layers.before"
expect 7 "$CCPULL" "${CCP_PULL[@]}" --store "$STORE" "$REG/tamper/liar:v1" "$T/b-liar"
no_rootfs "$T/b-liar"
check_store_clean "$T/layers.before"
tamper_case liar-and-digest 5 "$(reg_blob_file "$LIAR")" flip_byte "$REG/tamper/liar:v1"

log "unknown image and tag"
expect 4 "$CCPULL" "${CCP_PULL[@]}" --store "$STORE" "$REG/tamper/nosuchimage:v1" "$T/b-unknown"
no_rootfs "$T/b-unknown"
expect 4 "$CCPULL" "${CCP_PULL[@]}" --store "$STORE" "$REG/tamper/img:nosuchtag" "$T/b-unknown-tag"
no_rootfs "$T/b-unknown-tag"

log "no registry listening"
port=$(free_port)
expect 4 "$CCPULL" "${CCP_PULL[@]}" --store "$STORE" "127.0.0.1:$port/tamper/img:v1" "$T/b-noreg"
no_rootfs "$T/b-noreg"

log "no policy decision"
# Without --insecure-policy the policy decides: a policy that is invalid or does not exist is
# invalid configuration (the default /etc/containers/policy.json may exist on this machine).
printf '{"default": [{"type": "insecureAcceptAnything"}], "unknownKey": 1}\n' >"$T/bad-policy.json"
expect 2 "$CCPULL" pull --policy "$T/bad-policy.json" --tls-verify=false --snapshotter copy --store "$STORE" \
	"$IMG" "$T/b-nopolicy"
expect_stderr 'unknownKey'
no_rootfs "$T/b-nopolicy"
expect 2 "$CCPULL" pull --policy "$T/no-such-policy.json" --tls-verify=false --snapshotter copy --store "$STORE" \
	"$IMG" "$T/b-nopolicy2"
no_rootfs "$T/b-nopolicy2"
