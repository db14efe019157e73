#!/bin/bash
# TLS registries and what cannot change between attempts:
# - https to a plain-HTTP registry fails at once (no retries), saying the registry answered plain
#   HTTP and how to allow it (exit 4);
# - a certificate nobody trusts fails at once (exit 4);
# - --ca-file adds to the system roots: a registry signed by the extra CA and one signed by a system
#   root both work in the same pull configuration. The system roots are libcurl's default CA bundle
#   (`curl-config --ca`), replaced for the check by a bundle of a test CA bind-mounted over it in a
#   private mount namespace (nothing outside the namespace sees it).
. "$(dirname "$0")/lib.sh"

OCI=$T/oci
oci_new "$OCI" v1
mkdir -p "$T/l1/etc"
printf 'tls content\n' >"$T/l1/etc/data"
head -c 30000 /dev/urandom >"$T/l1/etc/blob"
add_tree_layer "$OCI:v1" "$T/l1"
umoci_tree "$OCI:v1" "$T/ref"

start_registry
push "$OCI:v1" tls/img:v1
PLAIN_REG=$REG
STORAGE=$REG_STORAGE
PULL=(pull --insecure-policy --snapshotter copy)

# ---------------------------------------------------------------------------------------------
log "https to a plain-HTTP registry: exit 4 at once, naming the way to allow plain HTTP"
start=$SECONDS
expect 4 "$CCPULL" "${PULL[@]}" --store "$T/s1" "$PLAIN_REG/tls/img:v1" "$T/b1"
no_rootfs "$T/b1"
expect_stderr 'plain HTTP'
expect_stderr 'tls-verify=false'
expect_stderr 'insecure = true'
if grep -q 'gave up after' "$T/err"; then fail "a plain-HTTP answer was retried: $(cat "$T/err")"; fi
[ $((SECONDS - start)) -lt 10 ] || fail "plain HTTP: took $((SECONDS - start)) s"
# and with --tls-verify=false the same registry works
expect 0 "$CCPULL" "${PULL[@]}" --tls-verify=false --store "$T/s1" "$PLAIN_REG/tls/img:v1" "$T/b1"
treecmp "$T/ref/rootfs" "$T/b1/rootfs"

# ---------------------------------------------------------------------------------------------
# tls_registry NAME: a registry on STORAGE with a self-signed certificate for 127.0.0.1 in
# $T/NAME.crt (its own CA); sets REG.
tls_registry() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=ccpull $1" \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$T/$1.key" -out "$T/$1.crt" 2>/dev/null
	REG_USE_STORAGE=$STORAGE _start_registry "  tls:
    certificate: $T/$1.crt
    key: $T/$1.key"
	curl -sf -o /dev/null --cacert "$T/$1.crt" "https://$REG/v2/" || fail "fixture: $1 does not serve TLS"
}
tls_registry extra
EXTRA_REG=$REG
tls_registry sysroot
SYS_REG=$REG

log "an untrusted certificate: exit 4 at once"
expect 4 "$CCPULL" "${PULL[@]}" --store "$T/s2" "$EXTRA_REG/tls/img:v1" "$T/b2"
no_rootfs "$T/b2"
expect_stderr 'certificate'
if grep -q 'gave up after' "$T/err"; then fail "a certificate error was retried: $(cat "$T/err")"; fi

log "--ca-file: the registry it signs works"
expect 0 "$CCPULL" "${PULL[@]}" --ca-file "$T/extra.crt" --store "$T/s3" "$EXTRA_REG/tls/img:v1" "$T/b3"
treecmp "$T/ref/rootfs" "$T/b3/rootfs"

log "--ca-file adds to the system roots, it does not replace them"
BUNDLE=$(curl-config --ca 2>/dev/null || true)
if [ -z "$BUNDLE" ] || [ ! -f "$BUNDLE" ] || ! unshare -m true 2>/dev/null; then
	skip "no libcurl default CA bundle ($BUNDLE) or no mount namespace: cannot stand in for the system roots"
fi
cat "$T/sysroot.crt" >"$T/system-bundle.pem"
# with_roots CMD...: CMD with the system bundle replaced by $T/system-bundle.pem, in its own mount namespace
with_roots() {
	unshare -m --propagation private bash -c 'mount --bind "$1" "$2" || exit 99; shift 2; exec "$@"' \
		_ "$T/system-bundle.pem" "$BUNDLE" "$@"
}
# the fixture: the test CA is a system root now, and only there
expect 0 with_roots "$CCPULL" "${PULL[@]}" --store "$T/s4" "$SYS_REG/tls/img:v1" "$T/b4"
treecmp "$T/ref/rootfs" "$T/b4/rootfs"
expect 4 "$CCPULL" "${PULL[@]}" --store "$T/s5" "$SYS_REG/tls/img:v1" "$T/b5"
# the same options reach both: the system root and the extra CA
expect 0 with_roots "$CCPULL" "${PULL[@]}" --ca-file "$T/extra.crt" --store "$T/s6" "$SYS_REG/tls/img:v1" "$T/b6"
treecmp "$T/ref/rootfs" "$T/b6/rootfs"
expect 0 with_roots "$CCPULL" "${PULL[@]}" --ca-file "$T/extra.crt" --store "$T/s7" "$EXTRA_REG/tls/img:v1" "$T/b7"
treecmp "$T/ref/rootfs" "$T/b7/rootfs"
