#!/bin/bash
# The store never hands a layer made from an encrypted blob to a pull that could not have made it
# (issue 17 item 1). After an encrypted image is pulled with its key, into the same store and with
# both snapshotters, through `ccpull pull` and through `ccpull serve`:
# - an unencrypted image whose config copies the victim's diff_ids but whose layers point at other
#   blobs (no key) fails as integrity (exit 5) and gets no rootfs, no secret;
# - the victim's encrypted blobs with another image's wrapped keys (a key the puller holds, but
#   not the blobs' key) fail as integrity too;
# - a plain image that has the genuine base layer but a decoy top layer fails at the top layer;
# - the encrypted image pulled again with its key reuses every layer (no layer blob fetched); the
#   same plaintext encrypted for another key, and the genuine plain image, are fetched once, proven
#   by their diff_ids, and then reuse the store's layers;
# - layer metadata without an origin (an older store) is not public;
# - a forged pull waiting on a layer's lock while the keyed pull commits that layer does not take it.
. "$(dirname "$0")/lib.sh"

"$PY" -c 'import jwcrypto, cryptography' 2>/dev/null || skip "python3-jwcrypto and python3-cryptography are needed"

build_ttrpc_client

K=$T/keys
mkdir -p "$K"
openssl genrsa -out "$K/victim.pem" 2048 2>/dev/null
openssl rsa -in "$K/victim.pem" -pubout -out "$K/victim_pub.pem" 2>/dev/null
openssl genrsa -out "$K/other.pem" 2048 2>/dev/null
openssl rsa -in "$K/other.pem" -pubout -out "$K/other_pub.pem" 2>/dev/null

# The confidential workload: a secret in each of its two layers.
SECRET0=base-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
SECRET1=top-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
mkdir -p "$T/l1/etc" "$T/l2/etc"
printf '%s\n' "$SECRET0" >"$T/l1/etc/base-secret"
printf '%s\n' "$SECRET1" >"$T/l2/etc/top-secret"
OCI=$T/oci
mk_two_layer_image "$OCI" 20000

# A third layer that needs its lowers in view (a hardlink to a file of the base layer): applied
# again through an overlay of them, also when it is only proven.
printf 'hardlink usr/bin/hello-link3 target=usr/bin/hello\n' | "$PY" "$IT_DIR/mktar.py" "$T/l3.tar"
umoci raw add-layer --history.created_by test --image "$OCI:v1" --tag hl "$T/l3.tar"
umoci_tree "$OCI:hl" "$T/ref-hl"

# Decoys: plain layers the forged images point at instead.
mkdir -p "$T/decoy0/etc" "$T/decoy1/etc"
printf 'decoy 0\n' >"$T/decoy0/etc/decoy"
printf 'decoy 1\n' >"$T/decoy1/etc/decoy"
mk_tar "$T/decoy0" "$T/decoy0.tar"
mk_tar "$T/decoy1" "$T/decoy1.tar"
gzip -n -c "$T/decoy0.tar" >"$T/decoy0.tar.gz"
gzip -n -c "$T/decoy1.tar" >"$T/decoy1.tar.gz"

start_registry
push "$OCI:v1" enc/victim:v1 --encryption-key "jwe:$K/victim_pub.pem"
push "$OCI:v1" enc/other:v1 --encryption-key "jwe:$K/other_pub.pem"
push "$OCI:v1" plain/genuine:v1
push "$OCI:hl" enc/hl:v1 --encryption-key "jwe:$K/victim_pub.pem"
push "$OCI:hl" plain/hl:v1
FORGE=("$PY" "$IT_DIR/forge_manifest.py" "$REG")
"${FORGE[@]}" enc/victim:v1 forged/decoy:v1 --layer "0=$T/decoy0.tar.gz" --layer "1=$T/decoy1.tar.gz" >/dev/null
"${FORGE[@]}" enc/victim:v1 forged/keyswap:v1 --annotations-from enc/other:v1 >/dev/null
"${FORGE[@]}" enc/victim:v1 forged/half:v1 --layer-from 0=plain/genuine:v1 --layer "1=$T/decoy1.tar.gz" >/dev/null

skopeo inspect --tls-verify=false --raw "docker://$REG/enc/victim:v1" >"$T/m-victim.json"
skopeo inspect --tls-verify=false --raw "docker://$REG/forged/decoy:v1" >"$T/m-decoy.json"
skopeo inspect --tls-verify=false --raw "docker://$REG/forged/half:v1" >"$T/m-half.json"
skopeo inspect --tls-verify=false --raw "docker://$REG/enc/other:v1" >"$T/m-other.json"
skopeo inspect --tls-verify=false --config "docker://$REG/forged/decoy:v1" >"$T/c-decoy.json"
skopeo inspect --tls-verify=false --config "docker://$REG/enc/victim:v1" >"$T/c-victim.json"
[ "$(jq -c .rootfs.diff_ids "$T/c-decoy.json")" = "$(jq -c .rootfs.diff_ids "$T/c-victim.json")" ] ||
	fail "fixture: the forged image does not carry the victim's diff_ids"
[ "$(jq -r '.layers[].mediaType' "$T/m-decoy.json" | sort -u)" = application/vnd.oci.image.layer.v1.tar+gzip ] ||
	fail "fixture: the forged image is not a plain image"
[ "$(jq -r '.layers[0].mediaType' "$T/m-half.json")" = application/vnd.oci.image.layer.v1.tar+gzip ] ||
	fail "fixture: half:v1 does not have the plain base layer"
[ "$(jq -c '[.layers[].digest]' "$T/m-victim.json")" != "$(jq -c '[.layers[].digest]' "$T/m-other.json")" ] ||
	fail "fixture: the two encryptions made the same blobs"
D0=$(jq -r '.rootfs.diff_ids[0]' "$T/c-victim.json")
D1=$(jq -r '.rootfs.diff_ids[1]' "$T/c-victim.json")
CHAIN0=${D0#sha256:}
CHAIN1=$(printf '%s %s' "$D0" "$D1" | sha256sum | cut -d' ' -f1)

PULL=(pull --insecure-policy --tls-verify=false)

# no_secret BUNDLE [SECRET...]: nothing under BUNDLE holds a secret (default: both).
no_secret() {
	local b=$1 s
	shift
	[ $# -gt 0 ] || set -- "$SECRET0" "$SECRET1"
	[ -e "$b" ] || return 0
	for s in "$@"; do
		if grep -rqaF -- "$s" "$b" 2>/dev/null; then fail "$b holds a secret of the encrypted image"; fi
	done
}

# origin STORE CHAIN_HEX: the layer's recorded origin.
origin() { jq -r .origin "$1/layers/$2.json"; }

layer_gets() {
	local d n=0
	for d in $(jq -r '.layers[].digest' "$1"); do
		n=$((n + $(tail -n +"$2" "$REG_ACCESS_LOG" | grep -c "GET /v2/[^ ]*/blobs/$d" || true)))
	done
	echo "$n"
}

# reused FILE: the pull's layers' reused flags, e.g. "true false".
reused() { jq -r '[.layers[].reused | tostring] | join(" ")' "$1"; }

for S in copy overlay; do
	ST=$T/store-$S
	P=("${PULL[@]}" --snapshotter "$S" --store "$ST" --json)
	B=$T/b-$S

	log "$S: the encrypted image, with its key"
	expect 0 "$CCPULL" "${P[@]}" --decryption-key "jwe:$K/victim.pem" "$REG/enc/victim:v1" "$B-victim"
	treecmp "$T/ref/rootfs" "$B-victim/rootfs"
	grep -qF "$SECRET1" "$B-victim/rootfs/etc/top-secret" || fail "$S: the victim's rootfs lacks its secret"

	log "$S: a plain image with the victim's diff_ids and decoy blobs, no key"
	expect 5 "$CCPULL" "${P[@]}" "$REG/forged/decoy:v1" "$B-decoy"
	expect_stderr 'layer 1/2 .*diff_id mismatch'
	no_rootfs "$B-decoy"
	no_secret "$B-decoy"
	[ -z "$(ls -A "$ST/staging")" ] || fail "$S: the failed pull left staging entries: $(ls -A "$ST/staging")"

	log "$S: the victim's encrypted blobs with keys wrapped for another image"
	expect 5 "$CCPULL" "${P[@]}" --decryption-key "jwe:$K/other.pem" "$REG/forged/keyswap:v1" "$B-keyswap"
	expect_stderr 'layer 1/2 .*HMAC mismatch'
	no_rootfs "$B-keyswap"
	no_secret "$B-keyswap"

	[ "$(origin "$ST" "$CHAIN0")" = encrypted ] && [ "$(origin "$ST" "$CHAIN1")" = encrypted ] ||
		fail "$S: layers made from encrypted blobs are not recorded as such: $(cat "$ST/layers/$CHAIN1.json")"
	jq -e '.encrypted_blobs | length == 1 and (.[0].key_id | startswith("sha256:"))' "$ST/layers/$CHAIN1.json" \
		>/dev/null || fail "$S: no key id for the encrypted blob: $(cat "$ST/layers/$CHAIN1.json")"

	log "$S: the encrypted image again, with its key: every layer reused"
	mark=$(($(wc -l <"$REG_ACCESS_LOG") + 1))
	expect 0 "$CCPULL" "${P[@]}" --decryption-key "jwe:$K/victim.pem" "$REG/enc/victim:v1" "$B-victim2"
	[ "$(reused "$T/out")" = "true true" ] || fail "$S: the keyed re-pull did not reuse: $(cat "$T/out")"
	[ "$(layer_gets "$T/m-victim.json" "$mark")" = 0 ] || fail "$S: the keyed re-pull fetched layer blobs"
	treecmp "$T/ref/rootfs" "$B-victim2/rootfs"

	log "$S: the same plaintext encrypted for another key: fetched, proven, then reused"
	expect 0 "$CCPULL" "${P[@]}" --decryption-key "jwe:$K/other.pem" "$REG/enc/other:v1" "$B-other"
	[ "$(reused "$T/out")" = "false false" ] || fail "$S: another encryption reused unproven layers: $(cat "$T/out")"
	treecmp "$T/ref/rootfs" "$B-other/rootfs"
	[ "$(jq '.encrypted_blobs | length' "$ST/layers/$CHAIN1.json")" = 2 ] ||
		fail "$S: the proven blob was not recorded: $(cat "$ST/layers/$CHAIN1.json")"
	expect 0 "$CCPULL" "${P[@]}" --decryption-key "jwe:$K/other.pem" "$REG/enc/other:v1" "$B-other2"
	[ "$(reused "$T/out")" = "true true" ] || fail "$S: the proven encryption is not reused: $(cat "$T/out")"
	treecmp "$T/ref/rootfs" "$B-other2/rootfs"

	log "$S: the decoy image again (two keyed origins, still not public)"
	expect 5 "$CCPULL" "${P[@]}" "$REG/forged/decoy:v1" "$B-decoy2"
	expect_stderr 'diff_id mismatch'
	no_rootfs "$B-decoy2"
	no_secret "$B-decoy2"

	log "$S: the genuine plain base layer under a decoy top layer"
	expect 5 "$CCPULL" "${P[@]}" "$REG/forged/half:v1" "$B-half"
	expect_stderr 'layer 2/2 .*diff_id mismatch'
	no_rootfs "$B-half"
	no_secret "$B-half" "$SECRET1"
	[ "$(origin "$ST" "$CHAIN0")" = plain ] || fail "$S: the base layer proven by a plain blob is not public"
	[ "$(origin "$ST" "$CHAIN1")" = encrypted ] || fail "$S: the unproven top layer changed origin"

	log "$S: the genuine plain image: base reused, top fetched and proven"
	expect 0 "$CCPULL" "${P[@]}" "$REG/plain/genuine:v1" "$B-plain"
	[ "$(reused "$T/out")" = "true false" ] || fail "$S: plain image reuse: $(cat "$T/out")"
	treecmp "$T/ref/rootfs" "$B-plain/rootfs"
	[ "$(origin "$ST" "$CHAIN1")" = plain ] || fail "$S: the top layer proven by a plain blob is not public"
	expect 0 "$CCPULL" "${P[@]}" "$REG/plain/genuine:v1" "$B-plain2"
	[ "$(reused "$T/out")" = "true true" ] || fail "$S: the public layers are not reused: $(cat "$T/out")"
	treecmp "$T/ref/rootfs" "$B-plain2/rootfs"
done

# Older metadata without an origin: not public; a keyed pull proves the layers again and records them.
log "metadata without an origin"
ST=$T/store-copy
for c in "$CHAIN0" "$CHAIN1"; do
	jq -c 'del(.origin, .encrypted_blobs)' "$ST/layers/$c.json" >"$T/meta" && cp "$T/meta" "$ST/layers/$c.json"
done
expect 5 "$CCPULL" "${PULL[@]}" --snapshotter copy --store "$ST" "$REG/forged/decoy:v1" "$T/b-old-decoy"
no_rootfs "$T/b-old-decoy"
no_secret "$T/b-old-decoy"
expect 0 "$CCPULL" "${PULL[@]}" --snapshotter copy --store "$ST" --json --decryption-key "jwe:$K/victim.pem" \
	"$REG/enc/victim:v1" "$T/b-old-victim"
[ "$(reused "$T/out")" = "false false" ] || fail "layers of unknown origin were reused: $(cat "$T/out")"
treecmp "$T/ref/rootfs" "$T/b-old-victim/rootfs"
[ "$(origin "$ST" "$CHAIN1")" = encrypted ] || fail "the proven layer's origin was not recorded"

log "a proven layer that is applied again through its lowers"
ST=$T/store-hl
expect 0 "$CCPULL" "${PULL[@]}" --snapshotter copy --store "$ST" --decryption-key "jwe:$K/victim.pem" \
	"$REG/enc/hl:v1" "$T/b-hl-enc"
treecmp "$T/ref-hl/rootfs" "$T/b-hl-enc/rootfs"
expect 0 "$CCPULL" "${PULL[@]}" --snapshotter copy --store "$ST" --json "$REG/plain/hl:v1" "$T/b-hl-plain"
[ "$(reused "$T/out")" = "false false false" ] || fail "unproven layers were reused: $(cat "$T/out")"
treecmp "$T/ref-hl/rootfs" "$T/b-hl-plain/rootfs"
[ "$(jq -r .origin "$ST"/layers/*.json | sort -u)" = plain ] || fail "proven layers are not public"

# --- concurrent: the forged pull waits on the top layer's lock while the keyed pull makes it ---
# The keyed pull is held by stallproxy.py at the top layer's blob (it holds that layer's lock); the
# forged pull (genuine plain base, decoy top) is started and seen blocked on the same lock in
# /proc/locks; then the keyed pull is released and commits. The waiter must not take the layer.
log "concurrent: a forged pull waiting for the layer the keyed pull commits"
push "$OCI:v1" slow/victim:v1 --encryption-key "jwe:$K/victim_pub.pem"
skopeo inspect --tls-verify=false --raw "docker://$REG/slow/victim:v1" >"$T/m-slow.json"
mkdir -p "$T/stall"
jq -r '.layers[1].digest' "$T/m-slow.json" >"$T/stall/victim.only"
start_stallproxy
ST=$T/store-conc
"$CCPULL" "${PULL[@]}" --snapshotter copy --store "$ST" --decryption-key "jwe:$K/victim.pem" \
	"$PROXY/slow/victim:v1" "$T/b-conc-victim" >"$T/conc-victim.out" 2>"$T/conc-victim.err" &
VICTIM_PID=$!
wait_for test -e "$T/stall/victim.stalled"
"$CCPULL" "${PULL[@]}" --snapshotter copy --store "$ST" "$REG/forged/half:v1" "$T/b-conc-half" \
	>"$T/conc-half.out" 2>"$T/conc-half.err" &
HALF_PID=$!
LOCK_INODE=$(stat -c %i "$ST/layers/$CHAIN1.lock")
blocked_on_top() { grep -qE -- "-> FLOCK +ADVISORY +WRITE +$HALF_PID [0-9a-f]+:[0-9a-f]+:$LOCK_INODE " /proc/locks; }
wait_for blocked_on_top
touch "$T/stall/victim.release"
rc=0
wait "$VICTIM_PID" || rc=$?
[ "$rc" = 0 ] || fail "the keyed pull failed ($rc): $(cat "$T/conc-victim.err")"
treecmp "$T/ref/rootfs" "$T/b-conc-victim/rootfs"
rc=0
wait "$HALF_PID" || rc=$?
[ "$rc" = 5 ] || fail "the forged pull that waited for the lock exited $rc, not 5: $(cat "$T/conc-half.err")"
grep -qE 'layer 2/2 .*diff_id mismatch' "$T/conc-half.err" || fail "forged pull: $(cat "$T/conc-half.err")"
no_rootfs "$T/b-conc-half"
no_secret "$T/b-conc-half" "$SECRET1"

# --- through ccpull serve (kata-agent's path): the server has the workload's key, the host adds
# --- the forged image as another container's image.
for S in overlay copy; do
	SOCK=$T/run-$S/cdh.sock
	"$CCPULL" serve --socket "$SOCK" --insecure-policy --tls-verify=false --snapshotter "$S" \
		--store "$T/store-serve-$S" --decryption-key "jwe:$K/victim.pem" 2>"$T/serve-$S.log" &
	SERVE_PID=$!
	_PIDS+=("$SERVE_PID")
	wait_for test -S "$SOCK"

	log "serve $S: the encrypted image"
	expect 0 "$CLIENT" pull "$SOCK" "$REG/enc/victim:v1" "$T/bs-$S-victim"
	treecmp "$T/ref/rootfs" "$T/bs-$S-victim/rootfs"

	log "serve $S: the forged plain image"
	expect 1 "$CLIENT" pull "$SOCK" "$REG/forged/decoy:v1" "$T/bs-$S-decoy"
	grep -q '^ERROR DataLoss: .*diff_id mismatch.*exit status 5' "$T/out" || fail "serve $S: $(cat "$T/out")"
	no_rootfs "$T/bs-$S-decoy"
	no_secret "$T/bs-$S-decoy"

	log "serve $S: the encrypted image again"
	expect 0 "$CLIENT" pull "$SOCK" "$REG/enc/victim:v1" "$T/bs-$S-victim2"
	treecmp "$T/ref/rootfs" "$T/bs-$S-victim2/rootfs"

	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID" || fail "serve $S did not exit cleanly: $(tail -n 5 "$T/serve-$S.log")"
	! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/serve-$S.log" || {
		cat "$T/serve-$S.log" >&2
		fail "sanitizer report from serve $S"
	}
done
