#!/bin/bash
# The bundle of a pull and what a pull keeps:
#  - BUNDLE checks, made before any network I/O: an empty path, /, a file, a bundle already holding
#    rootfs or config.json are usage errors (exit 2; `ccpull umount` named for an overlay bundle);
#    a directory that cannot be made is local storage (exit 8); an empty existing directory is fine.
#  - One pull per bundle: a second pull into a bundle another pull holds (under any spelling of its
#    path) fails at once with exit 2 naming the holder's pid, reaches no registry, and leaves the
#    first pull's rootfs and config.json intact (overlay and copy). The first pull is held by
#    stallproxy.py, so nothing depends on timing.
#  - The config of an image is fetched only after the policy accepted its manifest, and kept in the
#    store only by a pull that succeeded (not for a rejected image, not for a config that does not
#    parse).
#  - The platform of a single-platform image is checked against --platform, or this machine's.
. "$(dirname "$0")/lib.sh"

case $HOST_ARCH in
amd64) OTHER_ARCH=arm64 ;;
*) OTHER_ARCH=amd64 ;;
esac

OCI=$T/oci
oci_new "$OCI" v1
mk_rich_tree "$T/l1"
add_tree_layer "$OCI:v1" "$T/l1"
mkdir -p "$T/l2/etc"
printf 'second layer\n' >"$T/l2/etc/second"
add_tree_layer "$OCI:v1" "$T/l2"
umoci_tree "$OCI:v1" "$T/ref"
mkdir -p "$T/tiny/etc"
printf 'tiny\n' >"$T/tiny/etc/tiny"
mk_tar "$T/tiny" "$T/tiny.tar"

start_registry
push "$OCI:v1" bundle/img:v1
push "$OCI:v1" bundle/rejected:v1
for mode in overlay copy; do push "$OCI:v1" "slow/$mode:v1"; done
CFG=$(skopeo inspect --tls-verify=false --raw "docker://$REG/bundle/img:v1" | jq -r .config.digest)
IMG=$REG/bundle/img:v1
# Nothing listens there: a pull that got past the bundle checks would fail with exit 4.
NOWHERE=127.0.0.1:$(free_port)/bundle/img:v1

log "BUNDLE checks come before any network I/O"
expect 2 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" "$NOWHERE" ""
expect_stderr 'bundle path is empty'
expect 2 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" "$NOWHERE" /
expect_stderr 'root directory'
# A policy the KBS would release is network I/O too: the bundle is refused before it is asked for.
expect 2 "$CCPULL" pull --policy kbs:///default/policy/1 --kbs "http://127.0.0.1:$(free_port)" --tls-verify=false \
	--snapshotter copy --store "$T/store" "$NOWHERE" /
expect_stderr 'root directory'
expect 2 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" "$NOWHERE" //
: >"$T/a-file"
expect 2 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" "$NOWHERE" "$T/a-file"
expect_stderr 'not a directory'
[ -f "$T/a-file" ] && [ ! -s "$T/a-file" ] || fail "the file named as bundle was changed"
expect 8 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" "$NOWHERE" "$T/no-such-parent/b"
expect_stderr 'cannot create bundle'
[ ! -e "$T/no-such-parent" ] || fail "a missing parent was created"
expect 8 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" "$NOWHERE" "$T/a-file/b"
# Permission denied is local storage too, like a missing parent (checked as nobody: root passes).
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
mkdir -m 0700 "$T/private"
if "${NOBODY[@]}" "$CCPULL" --version >/dev/null 2>&1; then
	expect 8 "${NOBODY[@]}" "$CCPULL" "${CCP_PULL[@]}" "$NOWHERE" "$T/private/b"
	expect_stderr 'permission denied'
else
	log "note: $CCPULL cannot run as nobody; permission denied not checked"
fi
# A bundle this pull made is removed again when the pull fails.
expect 4 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" "$NOWHERE" "$T/made"
[ ! -e "$T/made" ] || fail "a failed pull left the bundle directory it made"

log "a bundle that already holds config.json or rootfs is refused, its content untouched"
mkdir -p "$T/has-config"
printf '{"written": "by someone else"}\n' >"$T/has-config/config.json"
cp "$T/has-config/config.json" "$T/config.orig"
expect 2 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" "$IMG" "$T/has-config"
expect_stderr 'already holds a config.json'
cmp -s "$T/has-config/config.json" "$T/config.orig" || fail "an existing config.json was overwritten"
no_rootfs "$T/has-config"
# kata-agent makes the bundle directory, empty, before PullImage: that is fine.
mkdir -p "$T/kata"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" "$IMG" "$T/kata"
treecmp "$T/ref/rootfs" "$T/kata/rootfs"
cp "$T/kata/config.json" "$T/kata-config.orig"
for b in "$T/kata" "$T/kata/" "$T/./kata"; do
	expect 2 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store" "$IMG" "$b"
	expect_stderr 'already holds a rootfs'
done
treecmp "$T/ref/rootfs" "$T/kata/rootfs"
cmp -s "$T/kata/config.json" "$T/kata-config.orig" || fail "a refused pull changed config.json"

log "one pull per bundle (overlay and copy), the second fails at once"
start_stallproxy
for mode in overlay copy; do
	B=$T/race-$mode
	ln -s "$B" "$T/link-$mode"
	# The first pull takes the bundle, then is held at its first blob (the config).
	"$CCPULL" pull --insecure-policy --tls-verify=false -q --snapshotter "$mode" --store "$T/store-race-$mode" \
		"$PROXY/slow/$mode:v1" "$B" >"$T/first.out" 2>"$T/first.err" &
	first=$!
	for _ in $(seq 1 1200); do [ -e "$T/stall/$mode.stalled" ] && break; sleep 0.1; done
	[ -e "$T/stall/$mode.stalled" ] || fail "$mode: the first pull never reached its first blob"
	gets=$(grep -c '/v2/bundle/img/' "$REG_ACCESS_LOG" || true)
	for b in "$B" "$B/" "$T/link-$mode"; do
		expect 2 "$CCPULL" "${CCP_PULL[@]}" --snapshotter "$mode" --store "$T/store-second" "$IMG" "$b"
		expect_stderr "busy: another pull \(pid $first\)"
	done
	[ "$(grep -c '/v2/bundle/img/' "$REG_ACCESS_LOG" || true)" = "$gets" ] ||
		fail "$mode: a pull into a busy bundle reached the registry"
	[ ! -e "$T/store-second" ] || fail "$mode: a pull into a busy bundle opened its store"
	: >"$T/stall/$mode.release"
	rc=0
	wait "$first" || rc=$?
	if [ "$rc" != 0 ] || grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/first.err"; then
		cat "$T/first.err" >&2
		fail "$mode: the first pull exited $rc"
	fi
	treecmp "$T/ref/rootfs" "$B/rootfs"
	jq -e .process "$B/config.json" >/dev/null || fail "$mode: the first pull's config.json is gone"
	cp "$B/config.json" "$T/race-config.orig"
	# Done, the bundle holds a pull: refused, naming `ccpull umount` for an overlay bundle.
	expect 2 "$CCPULL" "${CCP_PULL[@]}" --snapshotter "$mode" --store "$T/store-race-$mode" "$IMG" "$B/"
	expect_stderr 'already holds'
	[ "$mode" = copy ] || expect_stderr "ccpull umount $B"
	treecmp "$T/ref/rootfs" "$B/rootfs"
	cmp -s "$B/config.json" "$T/race-config.orig" || fail "$mode: a refused pull changed config.json"
	[ "$mode" = copy ] || expect 0 "$CCPULL" umount "$B"
done

log "the config of a rejected image is not fetched, nothing of it kept"
printf '{"default": [{"type": "reject"}]}\n' >"$T/reject.json"
expect 3 "$CCPULL" pull --policy "$T/reject.json" --tls-verify=false --snapshotter copy --store "$T/store-rej" \
	"$REG/bundle/rejected:v1" "$T/b-rej"
[ ! -e "$T/b-rej" ] || fail "a rejected pull left the bundle directory it made"
! grep -q "GET /v2/bundle/rejected/blobs/" "$REG_ACCESS_LOG" || fail "a rejected image had a blob fetched"
[ -z "$(find "$T/store-rej/blobs" -type f)" ] || fail "a rejected image left $(ls "$T/store-rej/blobs") in the store"

log "a config that does not parse is not kept"
printf 'this is not an image config' >"$T/bad-config"
"$PY" "$IT_DIR/regpush.py" "$REG" bundle/badcfg:v1 "$T/tiny.tar:gzip" --raw-config "$T/bad-config" >/dev/null
expect 4 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-bad" "$REG/bundle/badcfg:v1" "$T/b-bad"
expect_stderr 'config'
no_rootfs "$T/b-bad"
[ -z "$(find "$T/store-bad/blobs" -type f)" ] || fail "an unparsable config was kept in the store"

log "the config of a pull that succeeded is kept, and read from the store next time"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-ok" "$IMG" "$T/b-ok1"
[ -f "$T/store-ok/blobs/sha256-${CFG#sha256:}" ] || fail "the config of a pulled image is not in the store"
cfg_gets=$(grep -c "GET /v2/bundle/img/blobs/$CFG" "$REG_ACCESS_LOG" || true)
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-ok" "$IMG" "$T/b-ok2"
[ "$(grep -c "GET /v2/bundle/img/blobs/$CFG" "$REG_ACCESS_LOG" || true)" = "$cfg_gets" ] ||
	fail "the config kept in the store was fetched again"

log "the platform of a single-platform image"
expect 4 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-plat" --platform "linux/$OTHER_ARCH" "$IMG" "$T/b-plat"
expect_stderr "image for linux/$HOST_ARCH, not for linux/$OTHER_ARCH"
[ ! -e "$T/b-plat" ] || fail "a pull for the wrong platform left its bundle"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-plat" --platform "$HOST_PLATFORM" "$IMG" "$T/b-plat-host"
# An image for another platform, pulled without --platform: this machine's platform is checked.
oci_new "$OCI" other
add_tree_layer "$OCI:other" "$T/tiny"
umoci config --image "$OCI:other" --os linux --architecture "$OTHER_ARCH"
push "$OCI:other" bundle/other:v1
expect 4 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-plat" "$REG/bundle/other:v1" "$T/b-other"
expect_stderr "image for linux/$OTHER_ARCH, not for linux/$HOST_ARCH"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-plat" --platform "linux/$OTHER_ARCH" --json \
	"$REG/bundle/other:v1" "$T/b-other-ok"
[ "$(json_get "$T/out" .platform)" = "linux/$OTHER_ARCH" ] || fail "--json platform is not linux/$OTHER_ARCH"
# A config that names no platform suits every platform.
"$PY" "$IT_DIR/regpush.py" "$REG" bundle/noplat:v1 "$T/tiny.tar:gzip" --no-platform >/dev/null
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-plat" "$REG/bundle/noplat:v1" "$T/b-noplat"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-plat" --platform "linux/$OTHER_ARCH" \
	"$REG/bundle/noplat:v1" "$T/b-noplat2"
[ -f "$T/b-noplat2/rootfs/etc/tiny" ] || fail "the image without a platform was not unpacked"
