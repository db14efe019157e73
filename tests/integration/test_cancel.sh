#!/bin/bash
# One cancellation and one deadline for the whole pull (ccp_context_cancel, --timeout):
# - SIGINT during a pull held by a slow registry: exit 130, says so, no bundle, staging empty
# - SIGTERM: the same with exit 143
# - SIGINT while a big layer is unpacked (the image's other layer held by the proxy): the same
# - SIGKILL leaves staging behind: `store ls` shows it with its size, `store gc` removes it and counts it
# - --timeout while waiting for another pull's layer lock (held here with flock): exit 9 within
#   the timeout + 5 s, the bundle and staging removed
# - serve: a request whose deadline passes while its pull waits for that lock stops the pull (staging
#   and the bundle directory removed), and the bundle can be pulled again at once
# Pulls are held open by stallproxy.py and by a lock this test holds, never by timing.
. "$(dirname "$0")/lib.sh"

build_ttrpc_client

OCI=$T/oci
mkdir -p "$T/small/etc" "$T/big/opt" "$T/top/etc"
printf 'small image\n' >"$T/small/etc/name"
head -c $((32 << 20)) /dev/urandom >"$T/big/opt/payload"
printf 'top layer\n' >"$T/top/etc/top"
oci_new "$OCI" small
add_tree_layer "$OCI:small" "$T/small"
oci_new "$OCI" big
add_tree_layer "$OCI:big" "$T/big"
add_tree_layer "$OCI:big" "$T/top"

start_registry
for n in int term lock; do push "$OCI:small" "slow/$n:v1"; done
for n in big kill; do push "$OCI:big" "slow/$n:v1"; done

mkdir -p "$T/stall"
# the big image's proxy holds its top layer, and its big layer after the first half: that layer is
# caught half unpacked in staging however fast the machine is (else it could be committed before
# the test looks, and the next pull would reuse it)
for n in big kill; do
	skopeo inspect --tls-verify=false --raw "docker://$REG/slow/$n:v1" >"$T/$n.manifest"
	jq -r '.layers[1].digest' "$T/$n.manifest" >"$T/stall/$n.only"
	jq -r '.layers[0].digest' "$T/$n.manifest" >"$T/stall/$n.half"
done
start_stallproxy

# Background jobs of a script start with SIGINT ignored, which ccpull respects: they are started
# through this (an exec, so that $! is ccpull's pid) with the signals as a terminal leaves them.
WITH_SIGINT=("$PY" -c 'import os, signal, sys
for s in (signal.SIGINT, signal.SIGPIPE, signal.SIGXFSZ):
    signal.signal(s, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])')

ST=$T/store
PULL=(pull --insecure-policy --tls-verify=false --snapshotter copy --retry-times 0 --store "$ST")

staging_empty() {
	[ -z "$(ls -A "$ST/staging")" ] || fail "$1: staging not empty: $(ls -A "$ST/staging")"
}

# interrupt NAME SIGNAL STATUS READY...: starts a pull of slow/NAME, waits until READY succeeds,
# sends SIGNAL; the pull must exit STATUS, say it was interrupted and leave no bundle nor staging.
interrupt() {
	local n=$1 sig=$2 want=$3 b=$T/b-$1 pid rc=0
	shift 3
	"${WITH_SIGINT[@]}" "$CCPULL" "${PULL[@]}" --parallel-layers 2 "$PROXY/slow/$n:v1" "$b" >"$T/out" 2>"$T/err" &
	pid=$!
	_PIDS+=("$pid")
	wait_for "$@"
	kill "-$sig" "$pid"
	wait_for eval "! kill -0 $pid 2>/dev/null || grep -q '^State:.*zombie' /proc/$pid/status"
	wait "$pid" || rc=$?
	touch "$T/stall/$n.release"
	[ "$rc" = "$want" ] || { cat "$T/err" >&2; fail "$n: SIG$sig gave exit $rc, expected $want"; }
	grep -qF "ccpull: interrupted (SIG$sig); removed $b" "$T/err" || { cat "$T/err" >&2; fail "$n: no message"; }
	! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/err" || { cat "$T/err" >&2; fail "sanitizer"; }
	[ ! -e "$b" ] || fail "$n: the bundle directory $b is left behind: $(ls -A "$b")"
	staging_empty "$n"
}

log "SIGINT while the registry holds the blob"
interrupt int INT 130 test -e "$T/stall/int.stalled"

log "SIGTERM while the registry holds the blob"
interrupt term TERM 143 test -e "$T/stall/term.stalled"

log "SIGINT while a big layer is unpacked"
big_unpacking() { test -e "$T/stall/big.halfway" && find "$ST/staging" -name payload -size +1M 2>/dev/null | grep -q .; }
interrupt big INT 130 big_unpacking

log "SIGKILL leaves staging: store ls shows it, store gc frees it"
"$CCPULL" "${PULL[@]}" --parallel-layers 2 "$PROXY/slow/kill:v1" "$T/b-kill" >"$T/out" 2>"$T/err" &
pid=$!
_PIDS+=("$pid")
wait_for eval "find '$ST/staging' -name payload -size +1M 2>/dev/null | grep -q ."
kill -KILL "$pid"
wait "$pid" || true
touch "$T/stall/kill.release"
expect 0 "$CCPULL" store ls --store "$ST"
grep -qE '^staging [0-9a-f]+ [0-9.]+ [KMG]i?B \(left by an interrupted pull' "$T/out" ||
	fail "store ls does not show the leftover: $(cat "$T/out")"
expect 0 "$CCPULL" store ls --store "$ST" --json
left=$(jq '[.staging[] | select(.live == false) | .disk_usage] | add // 0' "$T/out")
[ "$left" -gt $((1 << 20)) ] || fail "store ls --json: staging leftovers of $left bytes: $(cat "$T/out")"
expect 0 "$CCPULL" store gc --store "$ST" --json
freed=$(jq .bytes_freed "$T/out")
[ "$freed" -ge "$left" ] || fail "store gc freed $freed bytes, the leftovers held $left: $(cat "$T/out")"
staging_empty "gc"
rm -rf "$T/b-kill"

# hold_lock: takes the small image's layer lock in the store as another pull would, until killed.
DIFF_ID=$(skopeo inspect --tls-verify=false --config --raw "docker://$REG/slow/lock:v1" | jq -r '.rootfs.diff_ids[0]')
LOCK=$ST/layers/${DIFF_ID#sha256:}.lock
hold_lock() {
	rm -f "$T/locked"
	"$PY" -c 'import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(600)' "$LOCK" "$T/locked" &
	HOLDER=$!
	_PIDS+=("$HOLDER")
	wait_for test -e "$T/locked"
}

log "--timeout while another pull holds the layer's lock"
hold_lock
start=$(date +%s)
expect 9 timeout 60 "$CCPULL" "${PULL[@]}" --timeout 3 "$REG/slow/lock:v1" "$T/b-lock"
took=$(($(date +%s) - start))
[ "$took" -le 8 ] || fail "--timeout 3 ended after $took s"
expect_stderr "waiting for another pull's lock on layer .*time limit"
[ ! -e "$T/b-lock" ] || fail "--timeout: the bundle directory is left behind"
staging_empty "timeout"
kill -0 "$HOLDER" || fail "the lock holder is gone: the wait did not end by the deadline"

log "serve: a request whose deadline passes stops its pull"
SOCK=$T/run/cdh.sock
"$CCPULL" serve --socket "$SOCK" --insecure-policy --tls-verify=false --store "$ST" 2>"$T/serve.log" &
SERVE_PID=$!
_PIDS+=("$SERVE_PID")
wait_for test -S "$SOCK"
expect 0 "$CLIENT" raw-timeout "$SOCK" "$REG/slow/lock:v1" "$T/b-srv" 1500
[ "$(cat "$T/out")" = DeadlineExceeded ] || fail "serve: got $(cat "$T/out")"
# the lock is still held: the pull can only have ended by its cancellation
for _ in $(seq 1 300); do grep -qF "PullImage $REG/slow/lock:v1 failed" "$T/serve.log" && break; sleep 0.1; done
grep -qF "PullImage $REG/slow/lock:v1 failed" "$T/serve.log" ||
	{ cat "$T/serve.log" >&2; fail "serve: the pull of a request past its deadline goes on"; }
kill -0 "$HOLDER" || fail "the lock holder is gone"
[ ! -e "$T/b-srv" ] || fail "serve: the bundle directory is left behind"
staging_empty "serve"
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null || true
expect 0 "$CLIENT" pull "$SOCK" "$REG/slow/lock:v1" "$T/b-srv"
treecmp "$T/small" "$T/b-srv/rootfs"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || fail "serve did not exit cleanly"
! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/serve.log" || { cat "$T/serve.log" >&2; fail "sanitizer"; }

log "PASS"
