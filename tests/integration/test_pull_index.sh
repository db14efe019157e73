#!/bin/bash
# A two-platform image index: --platform picks each instance, the default is the host's platform,
# and a platform the index lacks is a registry-content error (exit 4) that names the platform.
. "$(dirname "$0")/lib.sh"

if [ "$HOST_ARCH" = amd64 ]; then OTHER_ARCH=arm64; else OTHER_ARCH=amd64; fi
OCI=$T/oci
mkdir -p "$T/base/etc"
printf 'shared base\n' >"$T/base/etc/base"
for arch in "$HOST_ARCH" "$OTHER_ARCH"; do
	oci_new "$OCI" "$arch"
	add_tree_layer "$OCI:$arch" "$T/base"
	mkdir -p "$T/l-$arch/etc"
	printf '%s\n' "$arch" >"$T/l-$arch/etc/arch-$arch"
	add_tree_layer "$OCI:$arch" "$T/l-$arch"
	umoci config --image "$OCI:$arch" --os linux --architecture "$arch"
	umoci_tree "$OCI:$arch" "$T/ref-$arch"
done
"$PY" "$IT_DIR/mkindex.py" "$OCI" multi "$HOST_ARCH=linux/$HOST_ARCH" "$OTHER_ARCH=linux/$OTHER_ARCH" >/dev/null

start_registry
push "$OCI:multi" idx/img:v1 --all
INDEX_DIGEST=$(reg_digest idx/img:v1)
skopeo inspect --tls-verify=false --raw "docker://$REG/idx/img:v1" >"$T/index.json"
[ "$(jq -r '.manifests | length' "$T/index.json")" = 2 ] || fail "fixture: the pushed index has not 2 entries"

for arch in "$HOST_ARCH" "$OTHER_ARCH"; do
	log "--platform linux/$arch"
	expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" --json --platform "linux/$arch" "$REG/idx/img:v1" "$T/b-$arch"
	treecmp "$T/ref-$arch/rootfs" "$T/b-$arch/rootfs"
	[ -f "$T/b-$arch/rootfs/etc/arch-$arch" ] || fail "linux/$arch pull lacks etc/arch-$arch"
	[ "$(json_get "$T/out" .platform)" = "linux/$arch" ] || fail "--json platform is not linux/$arch"
	want=$(jq -r --arg a "$arch" '.manifests[] | select(.platform.architecture == $a) | .digest' "$T/index.json")
	[ "$(json_get "$T/out" .manifest_digest)" = "$want" ] ||
		fail "--json manifest_digest for linux/$arch is not the index entry $want (index is $INDEX_DIGEST)"
done

log "default platform is the host's ($HOST_PLATFORM)"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store2" --json "$REG/idx/img:v1" "$T/b-default"
treecmp "$T/ref-$HOST_ARCH/rootfs" "$T/b-default/rootfs"
[ "$(json_get "$T/out" .platform)" = "$HOST_PLATFORM" ] || fail "default pull: platform is not $HOST_PLATFORM"

log "pull of the index by digest"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store2" --platform "linux/$OTHER_ARCH" "$REG/idx/img@$INDEX_DIGEST" "$T/b-bydigest"
treecmp "$T/ref-$OTHER_ARCH/rootfs" "$T/b-bydigest/rootfs"

log "a platform the index lacks"
expect 4 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store3" --platform linux/s390x "$REG/idx/img:v1" "$T/b-missing"
expect_stderr 's390x'
no_rootfs "$T/b-missing"

log "inspect lists the platforms"
expect 0 "$CCPULL" inspect --tls-verify=false --json "$REG/idx/img:v1"
cp "$T/out" "$T/inspect.json"
[ "$(json_get "$T/inspect.json" .manifest_digest)" = "$INDEX_DIGEST" ] || fail "inspect: manifest_digest is not the index's"
[ "$(json_get "$T/inspect.json" .media_type)" = application/vnd.oci.image.index.v1+json ] || fail "inspect: media_type"
for arch in "$HOST_ARCH" "$OTHER_ARCH"; do
	jq -c '.platforms' "$T/inspect.json" | grep -q "$arch" || fail "inspect: platforms lack $arch"
done
