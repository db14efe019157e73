#!/bin/bash
# Layer and manifest formats: zstd layers, Docker schema 2 media types, uncompressed layers and a
# layer written by `umoci insert` (a tar stream without the end-of-archive blocks). Every pull is
# compared with umoci's tree of the same (or, for zstd, the gzip twin's) image.
. "$(dirname "$0")/lib.sh"

OCI=$T/oci
oci_new "$OCI" v1
mk_rich_tree "$T/l1"
add_tree_layer "$OCI:v1" "$T/l1"
mkdir -p "$T/l2/opt/app"
head -c 40000 /dev/urandom >"$T/l2/opt/app/payload"
printf 'v2\n' >"$T/l2/usr-version"
add_tree_layer "$OCI:v1" "$T/l2"
umoci_tree "$OCI:v1" "$T/ref"

start_registry

# pull_cmp NAME:TAG REF_TREE [expected layer media type regex]
pull_cmp() {
	local ref=$1 tree=$2 mt=${3:-} b
	b=$T/bundle-${ref//[:\/]/-}
	expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-${ref//[:\/]/-}" --json "$REG/$ref" "$b"
	treecmp "$tree" "$b/rootfs"
	if [ -n "$mt" ]; then
		jq -r '.layers[].media_type' "$T/out" | grep -qE "$mt" || fail "$ref: no layer of media type /$mt/ in --json"
	fi
}

log "zstd layers"
push "$OCI:v1" fmt/zstd:v1 --dest-compress-format zstd
skopeo inspect --tls-verify=false --raw "docker://$REG/fmt/zstd:v1" >"$T/zstd.json"
[ "$(jq '[.layers[].mediaType | select(endswith("+zstd"))] | length' "$T/zstd.json")" = 2 ] ||
	fail "fixture: skopeo did not push zstd layers: $(cat "$T/zstd.json")"
pull_cmp fmt/zstd:v1 "$T/ref/rootfs" '\+zstd$'

log "Docker schema 2 (v2s2)"
push "$OCI:v1" fmt/docker:v1 --format v2s2
skopeo inspect --tls-verify=false --raw "docker://$REG/fmt/docker:v1" >"$T/v2s2.json"
[ "$(jq -r .mediaType "$T/v2s2.json")" = application/vnd.docker.distribution.manifest.v2+json ] ||
	fail "fixture: skopeo did not push a v2s2 manifest"
pull_cmp fmt/docker:v1 "$T/ref/rootfs" '^application/vnd\.docker\.image\.rootfs\.diff\.tar\.gzip$'

log "umoci insert layer (no end-of-archive blocks)"
oci_new "$OCI" ins
add_tree_layer "$OCI:ins" "$T/l1"
mkdir -p "$T/insdir/sub"
printf 'inserted\n' >"$T/insdir/sub/file"
head -c 5000 /dev/urandom >"$T/insdir/rand"
umoci insert --image "$OCI:ins" "$T/insdir" /opt/inserted >/dev/null
printf 'single\n' >"$T/single"
umoci insert --image "$OCI:ins" "$T/single" /etc/inserted-file >/dev/null
# Check the fixture really is what this case is about: the last layer's tar stream ends without
# the two zero blocks.
last=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "ins") | .digest' \
	"$OCI/index.json")
last=$(jq -r '.layers[-1].digest' "$OCI/blobs/sha256/${last#sha256:}")
gzip -dc "$OCI/blobs/sha256/${last#sha256:}" >"$T/insert.tar"
if [ "$(tail -c 1024 "$T/insert.tar" | tr -d '\0' | wc -c)" -eq 0 ]; then
	fail "fixture: umoci insert wrote end-of-archive blocks; this case no longer tests their absence"
fi
umoci_tree "$OCI:ins" "$T/ref-ins"
push "$OCI:ins" fmt/insert:v1
pull_cmp fmt/insert:v1 "$T/ref-ins/rootfs"

log "uncompressed layers (media type ...tar)"
mk_tar "$T/l1" "$T/l1.tar"
mk_tar "$T/l2" "$T/l2.tar"
"$PY" "$IT_DIR/regpush.py" "$REG" fmt/plain:v1 "$T/l1.tar:none" "$T/l2.tar:gzip" >/dev/null
oci_new "$OCI" plain
add_layer "$OCI:plain" "$T/l1.tar"
add_layer "$OCI:plain" "$T/l2.tar"
umoci_tree "$OCI:plain" "$T/ref-plain"
pull_cmp fmt/plain:v1 "$T/ref-plain/rootfs" '^application/vnd\.oci\.image\.layer\.v1\.tar$'
