#!/bin/bash
# Signature policy: images signed by skopeo (--sign-by, GPG key made here) into a lookaside store read
# over file:// and http://; for every policy x image pair ccpull's decision (exit 0 or 3) must agree
# with skopeo's own copy under the same policy and registries.d.
. "$(dirname "$0")/lib.sh"

command -v gpg >/dev/null 2>&1 || skip "gpg is not installed (see .ci/packages)"
command -v openssl >/dev/null 2>&1 || skip "openssl is not installed"

gpg_home
TRUSTED=$(gpg_signing_key 'ccpull trusted <trusted@example.com>' trusted@example.com "$T/trusted.gpg")
OTHER=$(gpg_signing_key 'ccpull other <other@example.com>' other@example.com "$T/other.gpg")
KEYDATA=$(base64 -w0 "$T/trusted.gpg")
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/cosign.key" 2>/dev/null
openssl pkey -in "$T/cosign.key" -pubout -out "$T/cosign.pub"

start_registry
SIGS=$T/sigstore
mkdir -p "$SIGS" "$T/regd-file" "$T/regd-http"
printf 'default-docker:\n  lookaside: file://%s\n  lookaside-staging: file://%s\n' "$SIGS" "$SIGS" \
	>"$T/regd-file/default.yaml"

OCI=$T/oci
oci_new "$OCI" v1
mkdir -p "$T/l1/etc"
printf 'signed content\n' >"$T/l1/etc/hello"
add_tree_layer "$OCI:v1" "$T/l1"

sk() { skopeo --registries.d "$T/regd-file" "$@"; }
sk copy --quiet --dest-tls-verify=false "oci:$OCI:v1" "docker://$REG/pol/unsigned:v1" >/dev/null
sk copy --quiet --dest-tls-verify=false --sign-by "$TRUSTED" "oci:$OCI:v1" "docker://$REG/pol/signed:v1" >/dev/null
sk copy --quiet --dest-tls-verify=false --sign-by "$OTHER" "oci:$OCI:v1" "docker://$REG/pol/other:v1" >/dev/null
# Signed for another name: what a mirror serves (remapIdentity) or a wrong identity.
sk copy --quiet --dest-tls-verify=false --sign-by "$TRUSTED" --sign-identity "$REG/pol/signed:v1" \
	"oci:$OCI:v1" "docker://$REG/mirror/signed:v1" >/dev/null
[ -n "$(find "$SIGS" -name 'signature-1')" ] || fail "skopeo wrote no signatures under $SIGS"

# Lookaside over HTTP: a static server on loopback for the same directory.
"$PY" "$IT_DIR/static_http.py" "$SIGS" "$T/http.port" 2>"$T/http.log" &
await_port $! "$T/http.port" "the lookaside HTTP server"
HTTP_PORT=$PORT
printf 'docker:\n  %s/pol:\n    lookaside: http://127.0.0.1:%s\n  %s/mirror:\n    sigstore: http://127.0.0.1:%s\n' \
	"$REG" "$HTTP_PORT" "$REG" "$HTTP_PORT" >"$T/regd-http/default.yaml"

signed_by() { # KEY-SOURCE-JSON [IDENTITY-JSON]
	local id=""
	[ $# -ge 2 ] && id=", \"signedIdentity\": $2"
	printf '{"type": "signedBy", "keyType": "GPGKeys", %s%s}' "$1" "$id"
}
P=$T/policies
mkdir -p "$P"
mkpol() { printf '%s\n' "$2" >"$P/$1.json"; }
mkpol reject '{"default": [{"type": "reject"}]}'
mkpol accept '{"default": [{"type": "insecureAcceptAnything"}]}'
mkpol trusted "{\"default\": [$(signed_by "\"keyPath\": \"$T/trusted.gpg\"")]}"
mkpol keydata "{\"default\": [$(signed_by "\"keyData\": \"$KEYDATA\"")]}"
mkpol other "{\"default\": [$(signed_by "\"keyPath\": \"$T/other.gpg\"")]}"
mkpol keypaths "{\"default\": [$(signed_by "\"keyPaths\": [\"$T/other.gpg\", \"$T/trusted.gpg\"]")]}"
mkpol repo "{\"default\": [$(signed_by "\"keyPath\": \"$T/trusted.gpg\"" '{"type": "matchRepository"}')]}"
mkpol exact "{\"default\": [$(signed_by "\"keyPath\": \"$T/trusted.gpg\"" '{"type": "matchExact"}')]}"
mkpol exactref "{\"default\": [$(signed_by "\"keyPath\": \"$T/trusted.gpg\"" \
	"{\"type\": \"exactReference\", \"dockerReference\": \"$REG/pol/signed:v1\"}")]}"
mkpol exactrepo "{\"default\": [$(signed_by "\"keyPath\": \"$T/trusted.gpg\"" \
	"{\"type\": \"exactRepository\", \"dockerRepository\": \"$REG/pol/signed\"}")]}"
mkpol remap "{\"default\": [$(signed_by "\"keyPath\": \"$T/trusted.gpg\"" \
	"{\"type\": \"remapIdentity\", \"prefix\": \"$REG/mirror\", \"signedPrefix\": \"$REG/pol\"}")]}"
mkpol both "{\"default\": [{\"type\": \"insecureAcceptAnything\"}, $(signed_by "\"keyPath\": \"$T/other.gpg\"")]}"
mkpol scopes "{\"default\": [{\"type\": \"reject\"}], \"transports\": {\"docker\": {
	\"$REG/pol\": [{\"type\": \"insecureAcceptAnything\"}],
	\"$REG/pol/signed\": [$(signed_by "\"keyPath\": \"$T/other.gpg\"")],
	\"$REG/pol/other:v1\": [$(signed_by "\"keyPath\": \"$T/other.gpg\"")],
	\"$REG\": [$(signed_by "\"keyPath\": \"$T/trusted.gpg\"")]}}}"
mkpol wildcard "{\"default\": [{\"type\": \"insecureAcceptAnything\"}], \"transports\": {\"docker\": {
	\"*.0.1\": [{\"type\": \"reject\"}], \"\": [{\"type\": \"reject\"}]}}}"
mkpol emptyscope "{\"default\": [{\"type\": \"reject\"}], \"transports\": {\"docker\": {
	\"\": [$(signed_by "\"keyPath\": \"$T/trusted.gpg\"")]}, \"dir\": {\"\": [{\"type\": \"reject\"}]}}}"
mkpol sigstore "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyPath\": \"$T/cosign.pub\"}]}"

IMAGES=(pol/unsigned:v1 pol/signed:v1 pol/other:v1 mirror/signed:v1)
n=0
for regd in regd-file regd-http; do
	for pol in "$P"/*.json; do
		for img in "${IMAGES[@]}"; do
			n=$((n + 1))
			rc=0
			skopeo --policy "$pol" --registries.d "$T/$regd" copy --quiet --src-tls-verify=false \
				"docker://$REG/$img" "dir:$T/sk-$n" >/dev/null 2>"$T/sk.err" || rc=$?
			if [ "$rc" -eq 0 ]; then
				want=0
			elif grep -qiE 'rejected|signature|not accepted|policy' "$T/sk.err"; then
				want=3
			else
				cat "$T/sk.err" >&2
				fail "skopeo failed for another reason ($(basename "$pol") x $img)"
			fi
			rm -rf "$T/sk-$n"
			got=0
			"$CCPULL" pull --policy "$pol" --registries-d "$T/$regd" --tls-verify=false --snapshotter copy \
				--store "$T/store" "$REG/$img" "$T/b-$n" >"$T/out" 2>"$T/err" || got=$?
			if [ "$got" != "$want" ]; then
				cat "$T/err" "$T/sk.err" >&2
				fail "$(basename "$pol") x $img via $regd: ccpull exit $got, skopeo says $want"
			fi
			if [ "$want" -eq 3 ]; then
				no_rootfs "$T/b-$n"
				grep -q "$REG/$img" "$T/err" || fail "rejection does not name the image: $(cat "$T/err")"
			fi
			if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/err"; then
				fail "sanitizer report: $(cat "$T/err")"
			fi
			log "$(basename "$pol" .json) x $img ($regd): $want"
			rm -rf "$T/b-$n"
		done
	done
done
log "$n policy x image pairs agree with skopeo"

log "file:// policy URI, kbs:// refusal, invalid policies"
expect 0 "$CCPULL" pull --policy "file://$P/trusted.json" --registries-d "$T/regd-file" --tls-verify=false \
	--snapshotter copy --store "$T/store" "$REG/pol/signed:v1" "$T/b-uri"
expect 2 "$CCPULL" pull --policy "kbs:///default/policy/1" --tls-verify=false --snapshotter copy \
	--store "$T/store" "$REG/pol/signed:v1" "$T/b-kbs"
expect_stderr 'kbs'
expect 2 "$CCPULL" pull --policy "$T/nonexistent.json" --tls-verify=false --snapshotter copy \
	--store "$T/store" "$REG/pol/signed:v1" "$T/b-none"
printf '{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k", "bogus": 1}]}\n' >"$T/bad.json"
expect 2 "$CCPULL" pull --policy "$T/bad.json" --tls-verify=false --snapshotter copy \
	--store "$T/store" "$REG/pol/signed:v1" "$T/b-bad"
expect_stderr 'bogus'

log "tampered signatures are refused before any layer is fetched"
sig=$(find "$SIGS/pol/signed@"* -name signature-1)
layer=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/pol/signed/manifests/v1" |
	jq -r '.layers[0].digest')
layer_gets() { grep -c "\"GET /v2/pol/signed/blobs/$layer " "$REG_ACCESS_LOG" || true; }
cp "$sig" "$T/sig.orig"
size=$(stat -c %s "$sig")
# An OpenPGP message is zlib-less deflate without a checksum, and its literal packet's name and date
# are not signed: a flipped bit may leave a good signature over the same payload. gpg is the judge:
# what it still verifies over the same payload must be accepted, everything else refused (exit 3)
# before any layer is fetched. Flips of the first two bytes (packet tag, compression algorithm)
# always break the message, so at least two refusals are checked.
gpg --batch --decrypt "$T/sig.orig" >"$T/payload.orig" 2>/dev/null || fail "gpg cannot read the signature"
still_good() {
	gpg --batch --status-file "$T/status.t" --decrypt "$1" >"$T/payload.t" 2>/dev/null &&
		grep -q '^\[GNUPG:\] GOODSIG ' "$T/status.t" && cmp -s "$T/payload.t" "$T/payload.orig"
}
refused=0
for off in 0 1 5 $((size / 2)) $((size - 1)); do
	cp "$T/sig.orig" "$sig"
	"$PY" -c 'import sys; p, o = sys.argv[1], int(sys.argv[2]); b = bytearray(open(p, "rb").read()); b[o] ^= 1; open(p, "wb").write(b)' "$sig" "$off"
	gets=$(layer_gets)
	if still_good "$sig"; then
		expect 0 "$CCPULL" pull --policy "$P/trusted.json" --registries-d "$T/regd-file" --tls-verify=false \
			--snapshotter copy --store "$T/store-harmless" "$REG/pol/signed:v1" "$T/b-harmless-$off"
		continue
	fi
	expect 3 "$CCPULL" pull --policy "$P/trusted.json" --registries-d "$T/regd-file" --tls-verify=false \
		--snapshotter copy --store "$T/store-tamper" "$REG/pol/signed:v1" "$T/b-tamper"
	no_rootfs "$T/b-tamper"
	[ "$(layer_gets)" = "$gets" ] || fail "a rejected image had its layer fetched"
	refused=$((refused + 1))
done
[ "$refused" -ge 2 ] || fail "only $refused tampered signatures were refused"
cp "$T/sig.orig" "$sig"
expect 0 "$CCPULL" pull --policy "$P/trusted.json" --registries-d "$T/regd-file" --tls-verify=false \
	--snapshotter copy --store "$T/store-tamper" "$REG/pol/signed:v1" "$T/b-tamper"
[ "$(layer_gets)" -gt "$gets" ] || fail "the access log does not show layer fetches: the check above proves nothing"
