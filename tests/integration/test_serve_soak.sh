#!/bin/bash
# A long-running `ccpull serve`: 200 sequential PullImage calls (the containerd Go ttrpc client, as
# kata-agent calls it) leave the server's file descriptors and threads where they were after the
# warm-up and its resident memory within a small bound. The calls mix store hits, full pulls (the
# image is removed from the store and collected now and then) and failing pulls (a missing tag).
# Under AddressSanitizer the server then exits cleanly on SIGTERM with no leak report.
. "$(dirname "$0")/lib.sh"

build_ttrpc_client

OCI=$T/oci
oci_new "$OCI" v1
mk_rich_tree "$T/l1"
add_tree_layer "$OCI:v1" "$T/l1"
mkdir -p "$T/l2/app"
head -c 300000 /dev/urandom >"$T/l2/app/data"
add_tree_layer "$OCI:v1" "$T/l2"
umoci_tree "$OCI:v1" "$T/ref"
start_registry
push "$OCI:v1" soak/img:v1
DIGEST=$(reg_digest soak/img:v1)
IMG=$REG/soak/img:v1

ASAN=0 TSAN=0
if [ -n "${CCPULL_BUILD:-}" ] && grep -q '^CCPULL_SANITIZE:BOOL=ON' "$CCPULL_BUILD/CMakeCache.txt" 2>/dev/null; then
	ASAN=1
fi
if [ -n "${CCPULL_BUILD:-}" ] && grep -q '^CCPULL_SANITIZE:BOOL=thread' "$CCPULL_BUILD/CMakeCache.txt" 2>/dev/null; then
	TSAN=1
fi

SOCK=$T/cdh.sock
STORE=$T/store
# ASan's quarantine keeps freed memory on purpose (256 MB by default): keep it small so that VmRSS
# still says something; the leak checker at exit is the exact check
if [ "$ASAN" = 1 ]; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16
fi
start_serve "$SOCK" "$T/serve.log" --insecure-policy --tls-verify=false --snapshotter copy --store "$STORE"

fds() { find "/proc/$SERVE_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
threads() { awk '/^Threads:/ { print $2 }' "/proc/$SERVE_PID/status"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVE_PID/status"; }

# settle: the server's worker threads end after their request; wait (not a timing assertion) until
# the thread count stops changing.
settle() {
	local prev=-1 cur i
	for i in $(seq 1 100); do
		cur=$(threads)
		[ "$cur" = "$prev" ] && return 0
		prev=$cur
		sleep 0.2
	done
}

# one_pull I: pull number I (1-based); every 10th is preceded by dropping the image from the store,
# every 7th asks for a missing tag.
one_pull() {
	local i=$1 b=$T/bundle
	if [ $((i % 7)) = 0 ]; then
		expect 1 "$CLIENT" pull "$SOCK" "$REG/soak/img:missing" "$b"
		grep -q '^ERROR .*exit status 4' "$T/out" || fail "pull $i (missing tag): $(cat "$T/out")"
		no_rootfs "$b"
		return
	fi
	if [ $((i % 10)) = 0 ]; then
		expect 0 "$CCPULL" store rm --store "$STORE" "$IMG"
		expect 0 "$CCPULL" store gc --store "$STORE"
	fi
	expect 0 "$CLIENT" pull "$SOCK" "$IMG" "$b"
	[ "$(cat "$T/out")" = "$DIGEST" ] || fail "pull $i: digest $(cat "$T/out")"
	[ -f "$b/rootfs/usr/bin/hello" ] || fail "pull $i: no rootfs"
	rm -rf "$b"
}

treecmp_once() {
	expect 0 "$CLIENT" pull "$SOCK" "$IMG" "$T/check"
	treecmp "$T/ref/rootfs" "$T/check/rootfs"
	rm -rf "$T/check"
}

WARMUP=10
TOTAL=200
for i in $(seq 1 $WARMUP); do one_pull "$i"; done
settle
FD0=$(fds) TH0=$(threads) RSS0=$(rss_kb)
log "after $WARMUP pulls: $FD0 fds, $TH0 threads, VmRSS $RSS0 kB"

for i in $(seq $((WARMUP + 1)) $TOTAL); do one_pull "$i"; done
treecmp_once
settle
FD1=$(fds) TH1=$(threads) RSS1=$(rss_kb)
log "after $TOTAL pulls: $FD1 fds, $TH1 threads, VmRSS $RSS1 kB (growth $((RSS1 - RSS0)) kB)"
[ "$(grep -c 'PullImage .* in [0-9.]* s$' "$T/serve.log" || true)" -ge $((TOTAL * 6 / 7 - 2)) ] ||
	fail "the server logged fewer successful pulls than were made"

[ "$FD1" -le "$FD0" ] || { ls -l "/proc/$SERVE_PID/fd" >&2; fail "file descriptors grew from $FD0 to $FD1"; }
[ "$TH1" -le "$TH0" ] || fail "threads grew from $TH0 to $TH1"
# ThreadSanitizer keeps a history of accesses per thread that grows with the threads made
if [ "$ASAN" = 1 ] || [ "$TSAN" = 1 ]; then
	LIMIT_KB=49152
else
	LIMIT_KB=8192
fi
[ $((RSS1 - RSS0)) -le $LIMIT_KB ] || fail "VmRSS grew by $((RSS1 - RSS0)) kB over $((TOTAL - WARMUP)) pulls"

kill -TERM "$SERVE_PID"
rc=0
wait "$SERVE_PID" || rc=$?
[ "$rc" = 0 ] || { tail -n 50 "$T/serve.log" >&2; fail "serve exited $rc after SIGTERM"; }
! grep -qE 'AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:' "$T/serve.log" || {
	grep -A 30 -E 'AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:' "$T/serve.log" | head -n 80 >&2
	fail "sanitizer report from the server"
}
[ ! -e "$SOCK" ] || fail "serve left its socket behind"
