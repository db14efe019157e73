#!/bin/bash
# ccpull serve against hostile input and scarce resources:
# - a registry whose media type holds a newline, a forged log line and terminal escapes: the CLI's
#   stderr, the serve log and the ttrpc status carry no raw control byte and no forged line
# - one bundle spelled three ways (/x/b, /x/b/ and a symlink to it) by three concurrent PullImage
#   calls: the later two wait for the first, exactly one pull succeeds and its config.json and
#   rootfs survive (copy snapshotter, where a loser running at once would delete the winner's)
# - RLIMIT_NOFILE smaller than the connections clients open: accept failing with EMFILE neither
#   spins nor floods the log, and the server serves again once the connections close
# - 64 connections that begin a frame and stop, or that stay idle, do not lock other clients out: a
#   begun frame has 10 s to arrive, an idle connection makes room for a new one
# Pulls are held open by stallproxy.py (until a file exists), never by timing.
. "$(dirname "$0")/lib.sh"

build_ttrpc_client

# raw_controls FILE: true when FILE holds a byte outside printable ASCII other than newline.
raw_controls() {
	"$PY" -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(0 if any((b < 0x20 and b != 10) or b >= 0x7f for b in d) else 1)' "$1"
}

# clean_text FILE WHAT: FILE has no raw control byte and no line that a registry forged.
clean_text() {
	if raw_controls "$1"; then
		od -c "$1" | head -n 20 >&2
		fail "$2: raw control or non-ASCII bytes in $1"
	fi
	! grep -q '^ccpull serve: FORGED' "$1" || fail "$2: a forged line in $1"
}

SOCK=$T/run/cdh.sock
SERVE_N=0
# start_server ARGS...: a server on $SOCK logging to $SERVE_LOG (a new log per server).
start_server() {
	SERVE_N=$((SERVE_N + 1))
	SERVE_LOG=$T/serve$SERVE_N.log
	start_serve "$SOCK" "$SERVE_LOG" --insecure-policy --tls-verify=false --store "$T/store" "$@"
}

stop_server() {
	local rc=0
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID" || rc=$?
	[ "$rc" = 0 ] || { tail -n 30 "$SERVE_LOG" >&2; fail "serve exited $rc after SIGTERM"; }
	! grep -qE 'AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:' "$SERVE_LOG" || {
		grep -A 30 -E 'AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:' "$SERVE_LOG" |
			head -n 80 >&2
		fail "sanitizer report from the server"
	}
}

# ---- a media type with a newline and escape sequences
PLOG=$T/liar-requests.log
"$PY" "$IT_DIR/liarregistry.py" "$T/liar.port" "$PLOG" &
await_port $! "$T/liar.port" "liarregistry.py"
LIAR=127.0.0.1:$PORT

log "hostile media type: CLI"
expect 4 "$CCPULL" pull --insecure-policy --tls-verify=false --retry-times 0 --store "$T/store" \
	"$LIAR/huge:evilmt" "$T/b-evil-cli"
expect_stderr 'media type'
expect_stderr 'FORGED line\\x1b\[31m'
clean_text "$T/err" "CLI"
no_rootfs "$T/b-evil-cli"

start_server --snapshotter copy
log "hostile media type: serve"
expect 1 "$CLIENT" pull "$SOCK" "$LIAR/huge:evilmt" "$T/b-evil-serve"
grep -q '^ERROR .*media type.*FORGED line\\x1b\[31m' "$T/out" || fail "serve status: $(cat "$T/out")"
clean_text "$T/out" "ttrpc status"
grep -q 'PullImage .*evilmt failed.*FORGED line\\x1b\[31m' "$SERVE_LOG" || fail "serve log: $(cat "$SERVE_LOG")"
no_rootfs "$T/b-evil-serve"
# the host's strings are quoted in the serve log as well
expect 1 "$CLIENT" pull "$SOCK" "$LIAR/huge:v1"$'\n''ccpull serve: FORGED by the host'$'\e''[2J' "$T/b-evil-serve"
grep -q 'PullImage .*huge:v1\\x0accpull serve: FORGED by the host\\x1b\[2J' "$SERVE_LOG" ||
	fail "serve log: $(cat "$SERVE_LOG")"
clean_text "$T/out" "ttrpc status"
clean_text "$SERVE_LOG" "serve log"

# ---- one bundle, three spellings, at once
OCI=$T/oci
mkdir -p "$T/t-held/etc" "$T/t-other/etc"
printf 'held image\n' >"$T/t-held/etc/name"
printf 'other image\n' >"$T/t-other/etc/name"
oci_new "$OCI" held
add_tree_layer "$OCI:held" "$T/t-held"
umoci_tree "$OCI:held" "$T/ref-held"
oci_new "$OCI" other
add_tree_layer "$OCI:other" "$T/t-other"
start_registry
push "$OCI:held" slow/bundle:v1
push "$OCI:other" plain/other:v1

start_stallproxy
# hold the layer only: the held pull gets past its config and into the bundle before it waits
skopeo inspect --tls-verify=false --raw "docker://$REG/slow/bundle:v1" | jq -r '.layers[0].digest' \
	>"$T/stall/bundle.only"

log "one bundle, three spellings"
B=$T/x/b
mkdir -p "$B"
ln -s b "$T/x/link"
"$CLIENT" pull "$SOCK" "$PROXY/slow/bundle:v1" "$B" >"$T/pa.out" 2>&1 &
PA=$!
wait_for test -e "$T/stall/bundle.stalled"
# settled PID N: the client PID has ended, or N requests wait for the bundle
settled() { ! kill -0 "$1" 2>/dev/null || [ "$(grep -c 'waits: another request holds' "$SERVE_LOG")" -ge "$2" ]; }
"$CLIENT" pull "$SOCK" "$REG/plain/other:v1" "$B/" >"$T/pb.out" 2>&1 &
PB=$!
wait_for settled "$PB" 1
"$CLIENT" pull "$SOCK" "$REG/plain/other:v1" "$T/x/link" >"$T/pc.out" 2>&1 &
PC=$!
wait_for settled "$PC" 2
touch "$T/stall/bundle.release"
ok=0
for p in "$PA" "$PB" "$PC"; do
	if wait "$p"; then ok=$((ok + 1)); fi
done
log "results: $(cat "$T/pa.out") | $(cat "$T/pb.out") | $(cat "$T/pc.out")"
[ "$ok" = 1 ] || fail "$ok of 3 pulls into one bundle succeeded"
[ "$(cat "$T/pa.out")" = "$(reg_digest slow/bundle:v1)" ] || fail "the first pull did not win: $(cat "$T/pa.out")"
jq -e .process "$B/config.json" >/dev/null || fail "the winner's config.json is gone"
treecmp "$T/ref-held/rootfs" "$B/rootfs"
grep -q 'already holds a rootfs' "$T/pb.out" || fail "second pull: $(cat "$T/pb.out")"
grep -q 'already holds a rootfs' "$T/pc.out" || fail "third pull: $(cat "$T/pc.out")"
stop_server

# ---- more connections than file descriptors
log "RLIMIT_NOFILE 32, 60 connections"
cat >"$T/hold.py" <<'PY'
import os, socket, sys, time
sock, n, ready, release = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
# with a fifth argument: each connection sends the first 5 bytes of a 10-byte frame header
partial = len(sys.argv) > 5
held = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(sock)
    except BlockingIOError:
        pass  # the backlog is full: the socket stays pending
    if partial:
        s.send(b"\x00\x00\x00\x10\x00")
    held.append(s)
open(ready, "w").close()
while not os.path.exists(release):
    time.sleep(0.1)
for s in held:
    s.close()
PY
# the hard limit as well, so that the server cannot raise its soft limit past it
(
	ulimit -n 32
	exec "$CCPULL" serve --socket "$SOCK" --insecure-policy --tls-verify=false --store "$T/store" \
		--snapshotter copy 2>"$T/serve-nofile.log"
) &
SERVE_PID=$!
SERVE_LOG=$T/serve-nofile.log
_PIDS+=("$SERVE_PID")
wait_for test -S "$SOCK"
"$PY" "$T/hold.py" "$SOCK" 60 "$T/held.ready" "$T/held.release" &
HOLD=$!
_PIDS+=("$HOLD")
wait_for test -e "$T/held.ready"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVE_PID/stat"; }
# a server that retries a failing accept at once burns a whole core; an idle one next to nothing
C0=$(cpu_ticks)
sleep 3
C1=$(cpu_ticks)
HZ=$(getconf CLK_TCK)
log "CPU over 3 s with the descriptors exhausted: $((C1 - C0)) ticks of 1/$HZ s"
[ $((C1 - C0)) -le $((HZ / 2)) ] || { tail -n 5 "$SERVE_LOG" >&2; fail "serve spins: $((C1 - C0)) ticks in 3 s"; }
lines=$(grep -cE 'accept|refus' "$SERVE_LOG" || true)
[ "$lines" -le 4 ] || { head -n 10 "$SERVE_LOG" >&2; fail "serve logged $lines lines about connections it could not take"; }
touch "$T/held.release"
wait "$HOLD"
expect 0 "$CLIENT" pull "$SOCK" "$REG/plain/other:v1" "$T/b-after"
[ "$(cat "$T/out")" = "$(reg_digest plain/other:v1)" ] || fail "after the descriptors came back: $(cat "$T/out")"
log "$(grep -E 'accept|refus|NOFILE' "$SERVE_LOG" | head -n 5)"
stop_server

# ---- connections that take every slot
log "64 connections idle, then 64 that begin a frame and stop"
start_server --snapshotter copy
rm -f "$T/held.ready" "$T/held.release"
"$PY" "$T/hold.py" "$SOCK" 64 "$T/held.ready" "$T/held.release" &
HOLD=$!
_PIDS+=("$HOLD")
wait_for test -e "$T/held.ready"
expect 0 "$CLIENT" pull "$SOCK" "$REG/plain/other:v1" "$T/b-idle"
[ "$(cat "$T/out")" = "$(reg_digest plain/other:v1)" ] || fail "past 64 idle connections: $(cat "$T/out")"
grep -q 'idle, to make room for a new connection' "$SERVE_LOG" || fail "no idle connection made room"
touch "$T/held.release"
wait "$HOLD"
rm -f "$T/held.ready" "$T/held.release"
"$PY" "$T/hold.py" "$SOCK" 64 "$T/held.ready" "$T/held.release" partial &
HOLD=$!
_PIDS+=("$HOLD")
wait_for test -e "$T/held.ready"
# the pull waits in the backlog until the begun frames run out of time (a wait, not a measure)
expect 0 "$CLIENT" pull "$SOCK" "$REG/plain/other:v1" "$T/b-partial"
[ "$(cat "$T/out")" = "$(reg_digest plain/other:v1)" ] || fail "past 64 begun frames: $(cat "$T/out")"
wait_for grep -q 'a frame header did not arrive in time' "$SERVE_LOG"
touch "$T/held.release"
wait "$HOLD"
lines=$(grep -cE 'accept|refus|busy' "$SERVE_LOG" || true)
[ "$lines" -le 4 ] || { head -n 20 "$SERVE_LOG" >&2; fail "serve logged $lines lines about connections it could not take"; }
stop_server
