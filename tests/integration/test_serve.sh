#!/bin/bash
# ccpull serve: the Confidential Data Hub's ttrpc ImagePullService, called by a second ttrpc
# implementation (containerd's Go ttrpc, ttrpc_client/main.go) as kata-agent calls it.
# - PullImage returns the registry's manifest digest and BUNDLE/rootfs equals umoci's tree
# - unknown services and methods: UNIMPLEMENTED; a missing image: an error status, server goes on
# - malformed frames end only their connection; an oversized frame is refused, its connection goes on
# - two pulls on one connection are served concurrently (one is held by a proxy until the other is done)
# - a request's timeout answers DEADLINE_EXCEEDED and the late pull is cancelled, leaving nothing (overlay and copy)
# - SIGTERM: no new connections, the pull in flight completes and is answered, exit 0
# Pulls are held open by stallproxy.py (until a file exists), never by timing.
. "$(dirname "$0")/lib.sh"

build_ttrpc_client

# Images: "app" (a rich tree) and one small image of its own per held pull, so that no held pull
# shares a layer with another pull (the store makes concurrent pulls of one layer wait for each other).
OCI=$T/oci
mk_rich_tree "$T/l1"
mkdir -p "$T/l2/app"
printf 'hello from serve\n' >"$T/l2/app/hello"
oci_new "$OCI" app
add_tree_layer "$OCI:app" "$T/l1"
add_tree_layer "$OCI:app" "$T/l2"
umoci_tree "$OCI:app" "$T/ref-app"
SLOW="conc tmo tmo2 drain"
for n in $SLOW; do
	mkdir -p "$T/s-$n/etc"
	printf 'held image %s\n' "$n" >"$T/s-$n/etc/name"
	oci_new "$OCI" "$n"
	add_tree_layer "$OCI:$n" "$T/s-$n"
	umoci_tree "$OCI:$n" "$T/ref-$n"
done

start_registry
push "$OCI:app" serve/app:v1
for n in $SLOW; do push "$OCI:$n" "slow/$n:v1"; done
DIGEST=$(reg_digest serve/app:v1)
[ -n "$DIGEST" ] || fail "fixture: no digest for serve/app:v1"

start_stallproxy

SOCK=$T/run/cdh.sock
SERVE_LOG=
SERVE_N=0
start_server() {
	SERVE_N=$((SERVE_N + 1))
	SERVE_LOG=$T/serve$SERVE_N.log
	start_serve "$SOCK" "$SERVE_LOG" --insecure-policy --tls-verify=false --store "$T/store" "$@"
}

sanitizers_quiet() {
	! grep -qE 'AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:' "$1" || {
		cat "$1" >&2
		fail "sanitizer report in $1"
	}
}

# held_timeout NAME: a pull held by the proxy gets DEADLINE_EXCEEDED; the deadline cancels the pull
# (or, should it have completed meanwhile, the server takes the bundle back down); a retry into the
# same bundle then succeeds.
held_timeout() {
	local n=$1 b=$T/b-$1
	expect 0 "$CLIENT" raw-timeout "$SOCK" "$PROXY/slow/$n:v1" "$b" 1500
	[ "$(cat "$T/out")" = DeadlineExceeded ] || fail "timeout: got $(cat "$T/out")"
	[ -e "$T/stall/$n.stalled" ] || fail "timeout: the pull never reached the registry"
	touch "$T/stall/$n.release"
	wait_for grep -qF -e "pull into $b undone" -e "PullImage $PROXY/slow/$n:v1 failed" "$SERVE_LOG"
	no_rootfs "$b"
	[ ! -e "$b/config.json" ] || fail "timeout: $b/config.json left behind"
	! findmnt -rn -o TARGET | grep -qF "$b/" || fail "timeout: $b is still mounted"
	expect 0 "$CLIENT" pull "$SOCK" "$PROXY/slow/$n:v1" "$b"
	treecmp "$T/ref-$n/rootfs" "$b/rootfs"
}

start_server

log "PullImage"
expect 0 "$CLIENT" pull "$SOCK" "$REG/serve/app:v1" "$T/b1"
[ "$(cat "$T/out")" = "$DIGEST" ] || fail "manifest_digest $(cat "$T/out"), registry says $DIGEST"
treecmp "$T/ref-app/rootfs" "$T/b1/rootfs"
jq -e .process "$T/b1/config.json" >/dev/null || fail "no config.json in the bundle"

log "unknown service and method"
expect 0 "$CLIENT" call "$SOCK" api.ImagePullService NoSuchMethod
[ "$(cat "$T/out")" = Unimplemented ] || fail "unknown method: $(cat "$T/out")"
expect 0 "$CLIENT" call "$SOCK" api.NoSuchService GetResource
[ "$(cat "$T/out")" = Unimplemented ] || fail "unknown service: $(cat "$T/out")"

log "missing image, bad request"
expect 1 "$CLIENT" pull "$SOCK" "$REG/serve/missing:v1" "$T/b-missing"
grep -q '^ERROR Unavailable: .*exit status 4' "$T/out" || fail "missing image: $(cat "$T/out")"
no_rootfs "$T/b-missing"
expect 1 "$CLIENT" pull "$SOCK" "$REG/serve/app:v1" relative/bundle
grep -q '^ERROR InvalidArgument' "$T/out" || fail "relative bundle: $(cat "$T/out")"
expect 1 "$CLIENT" pull "$SOCK" "$REG/serve/app:v1" "$T/b1"
grep -q '^ERROR ' "$T/out" || fail "pull into a bundle that has a rootfs: $(cat "$T/out")"

log "malformed and oversized frames"
expect 0 "$CLIENT" malformed "$SOCK"
expect 0 "$CLIENT" oversize "$SOCK"

log "two pulls at once on one connection"
expect 0 "$CLIENT" concurrent "$SOCK" "$PROXY/slow/conc:v1" "$T/b-conc" "$REG/serve/app:v1" "$T/b2" \
	"$T/stall/conc.release"
[ "$(sed -n 1p "$T/out")" = "$(reg_digest slow/conc:v1)" ] || fail "concurrent: held pull digest"
[ "$(sed -n 2p "$T/out")" = "$DIGEST" ] || fail "concurrent: other pull digest"
treecmp "$T/ref-conc/rootfs" "$T/b-conc/rootfs"
treecmp "$T/ref-app/rootfs" "$T/b2/rootfs"

log "request timeout (overlay)"
held_timeout tmo

log "SIGTERM drains"
"$CLIENT" pull "$SOCK" "$PROXY/slow/drain:v1" "$T/b-drain" >"$T/drain.out" 2>"$T/drain.err" &
DRAIN_CLIENT=$!
wait_for test -e "$T/stall/drain.stalled"
kill -TERM "$SERVE_PID"
# new connections are refused while the pull in flight goes on
wait_for grep -q 'no new connections' "$SERVE_LOG"
expect 2 "$CLIENT" call "$SOCK" api.ImagePullService PullImage
expect_stderr 'dial .*refused'
kill -0 "$SERVE_PID" 2>/dev/null || fail "the server exited before its pull in flight was answered"
touch "$T/stall/drain.release"
rc=0
wait "$DRAIN_CLIENT" || rc=$?
[ "$rc" = 0 ] || fail "pull in flight during SIGTERM: rc $rc: $(cat "$T/drain.out" "$T/drain.err")"
[ "$(cat "$T/drain.out")" = "$(reg_digest slow/drain:v1)" ] || fail "drain: digest $(cat "$T/drain.out")"
treecmp "$T/ref-drain/rootfs" "$T/b-drain/rootfs"
rc=0
wait "$SERVE_PID" || rc=$?
[ "$rc" = 0 ] || { cat "$SERVE_LOG" >&2; fail "serve exited $rc after SIGTERM"; }
[ ! -e "$SOCK" ] || fail "serve left its socket behind"
sanitizers_quiet "$SERVE_LOG"

log "request timeout (copy)"
start_server --snapshotter copy
held_timeout tmo2
kill -TERM "$SERVE_PID"
rc=0
wait "$SERVE_PID" || rc=$?
[ "$rc" = 0 ] || { cat "$SERVE_LOG" >&2; fail "serve exited $rc after SIGTERM"; }
sanitizers_quiet "$SERVE_LOG"

if command -v systemd-socket-activate >/dev/null 2>&1; then
	log "systemd socket activation"
	ASOCK=$T/activated.sock
	systemd-socket-activate -l "$ASOCK" "$CCPULL" serve --socket "$T/not-used.sock" --insecure-policy \
		--tls-verify=false --store "$T/store" 2>"$T/serve-act.log" &
	SERVE_PID=$!
	_PIDS+=("$SERVE_PID")
	wait_for test -S "$ASOCK"
	expect 0 "$CLIENT" pull "$ASOCK" "$REG/serve/app:v1" "$T/b-act"
	[ "$(cat "$T/out")" = "$DIGEST" ] || fail "activated: manifest_digest $(cat "$T/out")"
	grep -q 'the socket passed by systemd' "$T/serve-act.log" || fail "activated: did not use the passed socket"
	[ ! -e "$T/not-used.sock" ] || fail "activated: bound --socket as well"
	kill -TERM "$SERVE_PID"
	rc=0
	wait "$SERVE_PID" || rc=$?
	[ "$rc" = 0 ] || { cat "$T/serve-act.log" >&2; fail "activated serve exited $rc after SIGTERM"; }
	sanitizers_quiet "$T/serve-act.log"
fi
