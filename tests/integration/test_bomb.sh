#!/bin/bash
# Decompression bombs. A gzip layer of ~8 MiB holding one 8 GiB file of zeros fails (exit 7) at the
# decompression ratio cap, long before 8 GiB are written, naming the layer digest, the bytes, the
# ratio and the option that raises it, and leaves no rootfs and no staging data. A legitimate
# sparse-ish layer (600 MiB of zeros) is refused by default too, pulls with the cap raised, and its
# file takes almost no disk (zeros are written as holes) with the right size and content.
. "$(dirname "$0")/lib.sh"

start_registry
BOMB_SHA=$("$PY" "$IT_DIR/mkbomb.py" "$REG" bomb/zeros:v1 $((8 << 30)))
SPARSE_SHA=$("$PY" "$IT_DIR/mkbomb.py" "$REG" bomb/sparse:v1 $((600 << 20)))
[ -n "$BOMB_SHA" ] && [ -n "$SPARSE_SHA" ] || fail "mkbomb.py printed no hash"

# no_staging STORE: nothing is left in the store's staging area but lock files.
no_staging() {
	[ ! -d "$1/staging" ] || [ -z "$(find "$1/staging" -mindepth 1 -maxdepth 1 ! -name '*.lock')" ] ||
		fail "staging leftovers in $1: $(ls -la "$1/staging")"
}

# store_kib STORE: disk the store takes, in KiB (allocated blocks, not apparent sizes).
store_kib() {
	du -sk "$1" | cut -f1
}

pull() {
	timeout 600 "$CCPULL" pull --insecure-policy --tls-verify=false --retry-times 0 "$@"
}

log "8 GiB of zeros: exit 7 at the ratio cap"
start=$SECONDS
expect 7 pull --store "$T/store" "$REG/bomb/zeros:v1" "$T/b1"
log "refused after $((SECONDS - start)) s: $(head -c 600 "$T/err")"
expect_stderr 'decompression bomb'
expect_stderr 'sha256:[0-9a-f]{64}'
expect_stderr 'times their size'
expect_stderr 'raise with --max-decompression-ratio'
expect_stderr 'max_decompression_ratio'
no_rootfs "$T/b1"
no_staging "$T/store"
# Bounded disk: far below the 800 MiB the cap lets decompress, let alone the 8 GiB.
kib=$(store_kib "$T/store")
[ "$kib" -lt $((64 * 1024)) ] || fail "the failed pull left $kib KiB in the store"

log "600 MiB of zeros: refused by default, past the 512 MiB floor"
expect 7 pull --store "$T/store" "$REG/bomb/sparse:v1" "$T/b2"
expect_stderr 'decompression bomb.*max-decompression-ratio'
no_rootfs "$T/b2"
no_staging "$T/store"

log "600 MiB of zeros with the cap raised: pulled, as holes"
expect 0 pull --store "$T/store" --max-decompression-ratio 2000 "$REG/bomb/sparse:v1" "$T/b3"
f=$(find "$T/store" -type f -name zeros | head -1)
[ -n "$f" ] || fail "no layer file 'zeros' in the store"
[ "$(stat -c %s "$f")" = $((600 << 20)) ] || fail "store file size $(stat -c %s "$f")"
blocks=$(stat -c %b "$f")
[ "$blocks" -lt 2048 ] || fail "the zeros take $blocks blocks of 512 bytes in the store"
[ "$(stat -c %s "$T/b3/rootfs/zeros")" = $((600 << 20)) ] || fail "rootfs file size"
[ "$(sha256sum <"$T/b3/rootfs/zeros" | cut -d' ' -f1)" = "$SPARSE_SHA" ] || fail "rootfs file content"

log "the same limit from ccpull.toml"
printf '[image]\nmax_decompression_ratio = 2000\n' >"$T/ccpull.toml"
expect 0 pull --store "$T/store2" --config "$T/ccpull.toml" "$REG/bomb/sparse:v1" "$T/b4"
[ "$(stat -c %s "$T/b4/rootfs/zeros")" = $((600 << 20)) ] || fail "rootfs file size (config)"

log "bad values are usage errors"
expect 2 "$CCPULL" pull --insecure-policy --max-decompression-ratio 0 "$REG/bomb/sparse:v1" "$T/b5"
expect_stderr 'max-decompression-ratio'
log "ok"
