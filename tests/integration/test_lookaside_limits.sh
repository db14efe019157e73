#!/bin/bash
# A hostile lookaside store (lookaside_hostile.py) costs a pull bounded memory and time:
# - signatures of 4 MiB without end (with and without Content-Length, and five in a file:// store):
#   exit 4 once the signatures of the image pass 16 MiB in total, naming the cap, in far less memory
#   than 128 x 4 MiB;
# - a good signature first, then signatures of 4 MiB without end: the pull is allowed once the first is
#   checked, and no other signature is asked for (signatures are verified as they arrive);
# - a server sending 2 KiB/s (above the low-speed limit): exit 4 within --timeout + 5 s;
# - an https:// store redirecting to http:// is refused (exit 4) and the http URL is never asked;
#   a redirect from https:// to https:// is still followed.
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null 2>&1 || skip "openssl is not installed"
command -v gpg >/dev/null 2>&1 || skip "gpg is not installed (see .ci/packages)"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=127.0.0.1" \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/cosign.key" 2>/dev/null
openssl pkey -in "$T/cosign.key" -pubout -out "$T/cosign.pub"
"$PY" "$IT_DIR/lookaside_hostile.py" "$T" 2>"$T/hostile.log" &
await_port $! "$T/http.port" "the hostile lookaside server"
HTTP=$PORT
HTTPS=$(cat "$T/https.port")

start_registry
OCI=$T/oci
oci_new "$OCI" v1
mkdir -p "$T/l1/etc"
printf 'lookaside limits\n' >"$T/l1/etc/hello"
add_tree_layer "$OCI:v1" "$T/l1"
push "$OCI:v1" la/img:v1

# Any signed requirement makes the pull read the lookaside store; nothing there can satisfy it.
printf '{"default": [{"type": "sigstoreSigned", "keyPath": "%s", "signedIdentity": {"type": "matchRepository"}}]}\n' \
	"$T/cosign.pub" >"$T/policy.json"

# regd NAME BASE: a registries.d directory whose default lookaside is BASE.
regd() {
	mkdir -p "$T/regd-$1"
	printf 'default-docker:\n  lookaside: %s\n' "$2" >"$T/regd-$1/default.yaml"
}
regd big "http://127.0.0.1:$HTTP/big"
regd stream "http://127.0.0.1:$HTTP/stream"
regd slow "http://127.0.0.1:$HTTP/slow"
regd down "https://127.0.0.1:$HTTPS/down"
regd up "https://127.0.0.1:$HTTPS/up"

# pull NAME [options]: a pull with the lookaside of regd NAME, its peak RSS (KiB) in $T/rss.
pull() {
	local name=$1
	shift
	/usr/bin/time -o "$T/rss" -f %M timeout 300 "$CCPULL" pull --tls-verify=false --ca-file "$T/cert.pem" \
		--retry-times 0 --policy "${POLICY:-$T/policy.json}" --registries-d "$T/regd-$name" --store "$T/store" "$@" \
		"$REG/la/img:v1" "$T/b-$name"
}

for mode in big stream; do
	log "endless 4 MiB signatures ($mode): exit 4 at the total cap, in bounded memory"
	expect 4 pull "$mode"
	expect_stderr 'larger than 16777216 bytes in total'
	no_rootfs "$T/b-$mode"
	rss=$(tail -n 1 "$T/rss")
	log "peak RSS $rss KiB"
	[ "$rss" -lt $((96 * 1024)) ] || fail "$mode: peak RSS $rss KiB"
	n=$(grep -c "GET /$mode/.*/signature-" "$T/hostile.log")
	[ "$n" -le 6 ] || fail "$mode: $n signatures read, expected at most 6"
done

log "a file:// lookaside of five 4 MiB signatures: exit 4 at the total cap"
DIGEST=$(reg_digest la/img:v1)
[ -n "$DIGEST" ] || fail "no digest for la/img:v1"
SIGDIR="$T/filesigs/la/img@${DIGEST/:/=}"
mkdir -p "$SIGDIR"
# each starts like a simple signing signature, which the sigstoreSigned policy passes over
for i in 1 2 3 4 5; do
	{ printf '\243'; head -c $(((4 << 20) - 2)) /dev/zero; } >"$SIGDIR/signature-$i"
done
regd file "file://$T/filesigs"
expect 4 pull file
expect_stderr 'larger than 16777216 bytes in total'

log "a 2 KiB/s lookaside: exit 4 within --timeout 5 + 5 s"
start=$SECONDS
expect 4 pull slow --timeout 5
took=$((SECONDS - start))
log "ended after $took s: $(head -c 300 "$T/err")"
expect_stderr "time limit"
[ "$took" -le 10 ] || fail "slow lookaside: the pull took $took s with --timeout 5"

log "https lookaside redirected to http: refused, the http URL never asked"
expect 4 pull down
expect_stderr 'cannot fetch signature https://127\.0\.0\.1:[0-9]+/down/'
[ ! -e "$T/plain.log" ] || fail "the lookaside was followed to plain HTTP: $(cat "$T/plain.log")"
grep -q "GET /down/.*/signature-1" "$T/hostile.log" || fail "the https lookaside was not asked"

log "https lookaside redirected to https: followed (no signature there: rejected, exit 3)"
expect 3 pull up
grep -q "GET /none/.*/signature-1" "$T/hostile.log" || fail "the https redirect was not followed"

log "a good signature first, then 4 MiB signatures without end: allowed after reading the first only"
gpg_home
FPR=$(gpg_signing_key 'ccpull lookaside <la@example.com>' la@example.com "$T/la.gpg")
skopeo inspect --raw --tls-verify=false "docker://$REG/la/img:v1" >"$T/manifest.json"
skopeo standalone-sign -o "$T/good.sig" "$T/manifest.json" "$REG/la/img:v1" "$FPR"
printf '{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "%s"}]}\n' "$T/la.gpg" \
	>"$T/policy-gpg.json"
regd good "http://127.0.0.1:$HTTP/good"
POLICY=$T/policy-gpg.json expect 0 pull good
[ -f "$T/b-good/rootfs/etc/hello" ] || fail "the signed image was not unpacked"
n=$(grep -c "GET /good/.*/signature-" "$T/hostile.log" || true)
[ "$n" -eq 1 ] || fail "good first: $n signatures read, expected 1: $(grep "GET /good/" "$T/hostile.log")"
