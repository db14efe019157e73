#!/bin/bash
# The layer store: a second pull of the same image with the same --store reuses every layer and
# fetches no blob; a bundle changed after the pull does not change the store; a third image that
# shares only the base layer reuses only that layer.
. "$(dirname "$0")/lib.sh"

OCI=$T/oci
mk_rich_tree "$T/l1"
mk_tar "$T/l1" "$T/l1.tar"
mkdir -p "$T/l2/etc" "$T/l3/opt"
printf 'second\n' >"$T/l2/etc/second"
head -c 30000 /dev/urandom >"$T/l2/etc/second.bin"
mk_tar "$T/l2" "$T/l2.tar"
printf 'third\n' >"$T/l3/opt/third"
mk_tar "$T/l3" "$T/l3.tar"

oci_new "$OCI" v1
add_layer "$OCI:v1" "$T/l1.tar"
add_layer "$OCI:v1" "$T/l2.tar"
oci_new "$OCI" other
add_layer "$OCI:other" "$T/l1.tar"
add_layer "$OCI:other" "$T/l3.tar"
umoci config --image "$OCI:other" --config.cmd /opt/third
umoci_tree "$OCI:v1" "$T/ref"
umoci_tree "$OCI:other" "$T/ref-other"

start_registry
push "$OCI:v1" store/img:v1
push "$OCI:other" store/other:v1
skopeo inspect --tls-verify=false --raw "docker://$REG/store/img:v1" >"$T/m1.json"
skopeo inspect --tls-verify=false --raw "docker://$REG/store/other:v1" >"$T/m3.json"
BASE=$(jq -r '.layers[0].digest' "$T/m1.json")
[ "$(jq -r '.layers[0].digest' "$T/m3.json")" = "$BASE" ] || fail "fixture: the two images do not share the base layer blob"

STORE=$T/store
log "first pull"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$STORE" --json "$REG/store/img:v1" "$T/b1"
cp "$T/out" "$T/p1.json"
treecmp "$T/ref/rootfs" "$T/b1/rootfs"
[ "$(jq '[.layers[] | select(.reused == false)] | length' "$T/p1.json")" = 2 ] ||
	fail "first pull into an empty store should reuse nothing: $(cat "$T/p1.json")"
[ "$(reg_blob_gets)" -ge 3 ] || fail "first pull fetched fewer than 3 blobs (2 layers + config)?"

# Change the first bundle: the store (and so the next bundle) must not see it.
printf 'tampered\n' >>"$T/b1/rootfs/etc/passwd"
chmod 0777 "$T/b1/rootfs/usr/bin/hello"
rm -f "$T/b1/rootfs/etc/second"

log "second pull, same store"
before_log=$(wc -l <"$REG_ACCESS_LOG")
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$STORE" --json "$REG/store/img:v1" "$T/b2"
cp "$T/out" "$T/p2.json"
[ "$(jq '[.layers[] | select(.reused == true)] | length' "$T/p2.json")" = 2 ] ||
	fail "second pull should report both layers reused: $(cat "$T/p2.json")"
tail -n +$((before_log + 1)) "$REG_ACCESS_LOG" >"$T/access2.log"
for d in $(jq -r '.layers[].digest' "$T/m1.json"); do
	if grep -q "GET /v2/[^ ]*/blobs/$d" "$T/access2.log"; then fail "second pull fetched layer $d again"; fi
done
# The config is in the store too (verified metadata of the image): no blob at all is fetched.
if grep '"GET /v2/[^ ]*/blobs/' "$T/access2.log" >&2; then
	fail "second pull fetched the blob(s) above although the image is in the store"
fi
treecmp "$T/ref/rootfs" "$T/b2/rootfs"
[ "$(json_get "$T/p2.json" .manifest_digest)" = "$(json_get "$T/p1.json" .manifest_digest)" ] ||
	fail "the two pulls report different manifest digests"

log "third image sharing only the base layer"
before_log=$(wc -l <"$REG_ACCESS_LOG")
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$STORE" --json "$REG/store/other:v1" "$T/b3"
cp "$T/out" "$T/p3.json"
treecmp "$T/ref-other/rootfs" "$T/b3/rootfs"
[ "$(jq -r '.layers[0].reused' "$T/p3.json")" = true ] || fail "third image: the shared base layer was not reused"
[ "$(jq -r '.layers[1].reused' "$T/p3.json")" = false ] || fail "third image: its own layer cannot be reused"
tail -n +$((before_log + 1)) "$REG_ACCESS_LOG" >"$T/access3.log"
if grep -q "GET /v2/[^ ]*/blobs/$BASE" "$T/access3.log"; then fail "third image: the shared base layer was fetched again"; fi
grep -q "GET /v2/[^ ]*/blobs/$(jq -r '.layers[1].digest' "$T/m3.json")" "$T/access3.log" ||
	fail "third image: its own layer was not fetched"

log "pulls into separate stores do not share"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-b" --json "$REG/store/img:v1" "$T/b4"
[ "$(jq '[.layers[] | select(.reused == true)] | length' "$T/out")" = 0 ] || fail "a fresh store reported reused layers"
treecmp "$T/ref/rootfs" "$T/b4/rootfs"

log "two concurrent pulls of one image into one fresh store"
pids=()
for i in 1 2; do
	"$CCPULL" "${CCP_PULL[@]}" --store "$T/store-c" -q "$REG/store/img:v1" "$T/bc$i" >"$T/c$i.out" 2>"$T/c$i.err" &
	pids+=($!)
done
for i in 1 2; do
	rc=0
	wait "${pids[$((i - 1))]}" || rc=$?
	if [ "$rc" -ne 0 ] || grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/c$i.err"; then
		cat "$T/c$i.err" >&2
		fail "concurrent pull $i exited $rc"
	fi
	treecmp "$T/ref/rootfs" "$T/bc$i/rootfs"
done
