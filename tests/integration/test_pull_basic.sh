#!/bin/bash
# A multi-layer gzip OCI image: pull by tag and by digest, compare with umoci's tree, check --json,
# --quiet, BUNDLE/config.json and `ccpull inspect`.
. "$(dirname "$0")/lib.sh"

OCI=$T/oci
oci_new "$OCI" v1
mk_rich_tree "$T/l1"
add_tree_layer "$OCI:v1" "$T/l1"
# Layer 2 changes things of layer 1: new content, a directory's mode and owner, a new file type.
mkdir -p "$T/l2/usr/bin" "$T/l2/srv/data" "$T/l2/etc"
printf '#!/bin/sh\necho hello v2\n' >"$T/l2/usr/bin/hello-v2"
printf 'changed\n' >"$T/l2/etc/passwd"
chmod 0640 "$T/l2/etc/passwd"
chown 0:42 "$T/l2/etc/passwd"
chown 1001:1001 "$T/l2/srv/data"
chmod 0700 "$T/l2/srv/data"
ln -s hello-v2 "$T/l2/usr/bin/hello-link"
add_tree_layer "$OCI:v1" "$T/l2"
mkdir -p "$T/l3/app"
head -c 30000 /dev/urandom >"$T/l3/app/data.bin"
add_tree_layer "$OCI:v1" "$T/l3"
umoci config --image "$OCI:v1" --config.entrypoint /usr/bin/hello --config.cmd arg1 \
	--config.env FOO=bar --config.workingdir /home/user --config.user 1000:1000

start_registry
push "$OCI:v1" basic/img:v1
DIGEST=$(reg_digest basic/img:v1)
[[ $DIGEST == sha256:* ]] || fail "no manifest digest from the registry"
MANIFEST=$T/manifest.json
skopeo inspect --tls-verify=false --raw "docker://$REG/basic/img:v1" >"$MANIFEST"
SK_DIGEST=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG/basic/img:v1")
[ "$SK_DIGEST" = "$DIGEST" ] || fail "skopeo digest $SK_DIGEST != registry digest $DIGEST"
skopeo inspect --tls-verify=false --config --raw "docker://$REG/basic/img:v1" >"$T/config.json"
umoci_tree "$OCI:v1" "$T/ref"

log "pull by tag with --json"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" --json "$REG/basic/img:v1" "$T/b1"
cp "$T/out" "$T/pull1.json"
treecmp "$T/ref/rootfs" "$T/b1/rootfs"

J=$T/pull1.json
[ "$(json_get "$J" .manifest_digest)" = "$DIGEST" ] || fail "--json manifest_digest is not $DIGEST"
[ "$(json_get "$J" .config_digest)" = "$(jq -r .config.digest "$MANIFEST")" ] || fail "--json config_digest wrong"
[ "$(json_get "$J" .platform)" = "$HOST_PLATFORM" ] || fail "--json platform is not $HOST_PLATFORM"
[ "$(json_get "$J" .rootfs)" = "$T/b1/rootfs" ] || fail "--json rootfs is not $T/b1/rootfs"
json_get "$J" .image | grep -qF "basic/img" || fail "--json image does not name the image"
[ "$(jq '.layers | length' "$J")" = 3 ] || fail "--json should list 3 layers"
for i in 0 1 2; do
	[ "$(json_get "$J" ".layers[$i].digest")" = "$(jq -r ".layers[$i].digest" "$MANIFEST")" ] ||
		fail "layer $i digest"
	[ "$(json_get "$J" ".layers[$i].size")" = "$(jq -r ".layers[$i].size" "$MANIFEST")" ] ||
		fail "layer $i size"
	[ "$(json_get "$J" ".layers[$i].media_type")" = "$(jq -r ".layers[$i].mediaType" "$MANIFEST")" ] ||
		fail "layer $i media_type"
	[ "$(json_get "$J" ".layers[$i].diff_id")" = "$(jq -r ".rootfs.diff_ids[$i]" "$T/config.json")" ] ||
		fail "layer $i diff_id"
	[ "$(jq -r ".layers[$i].reused" "$J")" = false ] || fail "layer $i reused on a first pull"
done

log "BUNDLE/config.json"
[ -f "$T/b1/config.json" ] || fail "no BUNDLE/config.json"
jq -e '.root.path == "rootfs"' "$T/b1/config.json" >/dev/null || fail "config.json: root.path is not rootfs"
jq -e '.process.args | type == "array"' "$T/b1/config.json" >/dev/null || fail "config.json: no process.args"

log "pull by digest, quiet"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store2" -q "$REG/basic/img@$DIGEST" "$T/b2"
[ ! -s "$T/out" ] || fail "--quiet printed on stdout: $(cat "$T/out")"
treecmp "$T/ref/rootfs" "$T/b2/rootfs"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store3" --json "$REG/basic/img@$DIGEST" "$T/b3"
[ "$(json_get "$T/out" .manifest_digest)" = "$DIGEST" ] || fail "pull by digest: manifest_digest"
treecmp "$T/ref/rootfs" "$T/b3/rootfs"

log "pull by tag@digest"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store3" --json "$REG/basic/img:v1@$DIGEST" "$T/b4"
[ "$(json_get "$T/out" .manifest_digest)" = "$DIGEST" ] || fail "pull by tag@digest: manifest_digest"
treecmp "$T/ref/rootfs" "$T/b4/rootfs"

log "a bundle that already has a rootfs is refused and left alone (ccpull(1))"
mkdir -p "$T/b5/rootfs"
: >"$T/b5/rootfs/marker"
rc=0
"$CCPULL" "${CCP_PULL[@]}" --store "$T/store3" -q "$REG/basic/img:v1" "$T/b5" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] || fail "a pull over an existing BUNDLE/rootfs succeeded"
if [ "$rc" -ge 9 ] || grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/err"; then
	fail "a pull over an existing BUNDLE/rootfs exited $rc: $(cat "$T/err")"
fi
[ "$(ls -A "$T/b5/rootfs")" = marker ] || fail "the existing BUNDLE/rootfs was changed"

log "inspect"
expect 0 "$CCPULL" inspect --tls-verify=false --json "$REG/basic/img:v1"
cp "$T/out" "$T/inspect.json"
[ "$(json_get "$T/inspect.json" .manifest_digest)" = "$DIGEST" ] || fail "inspect manifest_digest"
[ "$(json_get "$T/inspect.json" .media_type)" = application/vnd.oci.image.manifest.v1+json ] ||
	fail "inspect media_type"
[ "$(json_get "$T/inspect.json" .config.architecture)" = "$HOST_ARCH" ] || fail "inspect config.architecture"
[ "$(jq -c .config.config.Env "$T/inspect.json")" = "$(jq -c .config.Env "$T/config.json")" ] ||
	fail "inspect config Env differs from the image config"
expect 0 "$CCPULL" inspect --tls-verify=false --raw "$REG/basic/img:v1"
[ "sha256:$(sha256sum <"$T/out" | cut -c1-64)" = "$DIGEST" ] || fail "inspect --raw bytes do not hash to $DIGEST"
