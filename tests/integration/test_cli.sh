#!/bin/bash
# The command line itself: --help, --version, usage errors (exit 2 with a message), and
# registries.conf as the way to allow plain HTTP.
. "$(dirname "$0")/lib.sh"

log "--help"
expect 0 "$CCPULL" --help
for cmd in pull inspect; do
	grep -qE "(^|[[:space:]])$cmd([[:space:]]|$)" "$T/out" || fail "--help does not mention the '$cmd' command"
done
for opt in --insecure-policy --tls-verify --registries-conf --authfile --creds --store --platform --json; do
	grep -qF -- "$opt" "$T/out" || fail "--help does not mention $opt"
done

log "--version"
expect 0 "$CCPULL" --version
grep -qE '^ccpull [0-9]+\.[0-9]+\.[0-9]+' "$T/out" || fail "--version printed '$(cat "$T/out")', not 'ccpull X.Y.Z'"
if [ -n "${CCPULL_SRC:-}" ] && [ -f "$CCPULL_SRC/CMakeLists.txt" ]; then
	v=$(sed -n 's/^project(ccpull VERSION \([0-9.]*\).*/\1/p' "$CCPULL_SRC/CMakeLists.txt")
	[ -z "$v" ] || grep -qF "ccpull $v" "$T/out" || fail "--version does not print the project version $v"
fi

log "usage errors"
# usage_err ARGS...: exit 2, a message on stderr, nothing created.
usage_err() {
	expect 2 "$CCPULL" "$@"
	[ -s "$T/err" ] || fail "'ccpull $*' exited 2 without a message"
}
usage_err
usage_err --no-such-option
expect_stderr 'no-such-option'
usage_err no-such-command
expect_stderr 'no-such-command'
usage_err pull
usage_err pull --insecure-policy
usage_err pull --insecure-policy 127.0.0.1:1/img:v1
usage_err pull --insecure-policy 127.0.0.1:1/img:v1 "$T/b" extra-argument
no_rootfs "$T/b"
usage_err pull --insecure-policy --no-such-option 127.0.0.1:1/img:v1 "$T/b"
expect_stderr 'no-such-option'
no_rootfs "$T/b"
usage_err pull --insecure-policy --store
usage_err pull --insecure-policy --platform 'not a platform' 127.0.0.1:1/img:v1 "$T/b"
usage_err pull --insecure-policy --snapshotter no-such-snapshotter 127.0.0.1:1/img:v1 "$T/b"
usage_err pull --insecure-policy --parallel-layers 0 127.0.0.1:1/img:v1 "$T/b"
expect_stderr 'parallel-layers'
usage_err pull --insecure-policy --parallel-layers 1025 127.0.0.1:1/img:v1 "$T/b"
usage_err inspect --parallel-layers 2 127.0.0.1:1/img:v1
usage_err pull --insecure-policy 'UPPERCASE/Is/Invalid:tag' "$T/b"
usage_err pull --insecure-policy '127.0.0.1:1/img@sha256:short' "$T/b"
usage_err pull --insecure-policy --tls-verify=maybe 127.0.0.1:1/img:v1 "$T/b"
no_rootfs "$T/b"
usage_err inspect
usage_err inspect --no-such-option 127.0.0.1:1/img:v1
printf 'this is = not [valid toml\n' >"$T/bad-registries.conf"
usage_err pull --insecure-policy --registries-conf "$T/bad-registries.conf" 127.0.0.1:1/img:v1 "$T/b"
usage_err pull --insecure-policy --registries-conf "$T/missing.conf" 127.0.0.1:1/img:v1 "$T/b"
printf '{"auths": ' >"$T/bad-auth.json"
usage_err pull --insecure-policy --authfile "$T/bad-auth.json" 127.0.0.1:1/img:v1 "$T/b"
no_rootfs "$T/b"

log "plain HTTP needs --tls-verify=false or an insecure registries.conf entry"
OCI=$T/oci
oci_new "$OCI" v1
mkdir -p "$T/l1/etc"
printf 'hello\n' >"$T/l1/etc/hello"
add_tree_layer "$OCI:v1" "$T/l1"
umoci_tree "$OCI:v1" "$T/ref"
start_registry
push "$OCI:v1" cli/img:v1
cat >"$T/empty-registries.conf" <<-EOF
	unqualified-search-registries = []
EOF
expect 4 "$CCPULL" pull --insecure-policy --snapshotter copy --registries-conf "$T/empty-registries.conf" \
	--store "$T/store" "$REG/cli/img:v1" "$T/b-tls"
no_rootfs "$T/b-tls"
cat >"$T/registries.conf" <<-EOF
	unqualified-search-registries = []

	[[registry]]
	location = "$REG"
	insecure = true
EOF
expect 0 "$CCPULL" pull --insecure-policy --snapshotter copy --registries-conf "$T/registries.conf" \
	--store "$T/store" "$REG/cli/img:v1" "$T/b-conf"
treecmp "$T/ref/rootfs" "$T/b-conf/rootfs"
