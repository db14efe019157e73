#!/bin/bash
# TLS registries and what cannot change between attempts: https to a plain-HTTP registry fails at
# once (no retries), saying the registry answered plain HTTP and how to allow it (exit 4).
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
