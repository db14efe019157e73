#!/bin/bash
# ccpull serve --config: a CoCo-style cdh.toml configures the pulls, and each pull is recorded in
# the runtime measurement through the attestation agent's ttrpc ExtendRuntimeMeasurement.
# - the signature policy and the registries.conf (a mirror that holds the image while the origin
#   does not; plain HTTP allowed only by `insecure = true`) come from the file: no --insecure-policy,
#   no --tls-verify=false on the command line
# - the policy is inline (multi-line string) in one server, a file:// URI in the other
# - one ExtendRuntimeMeasurement per successful pull, with CDH's domain, operation and content;
#   none for a pull the policy refuses; an agent that refuses makes the pull fail and leaves nothing
# - ccpull pull and inspect --config: the same file; its image_pull_proxy is used (no_proxy)
. "$(dirname "$0")/lib.sh"

build_ttrpc_client

OCI=$T/oci
mkdir -p "$T/l1/etc"
printf 'configured by cdh.toml\n' >"$T/l1/etc/motd"
oci_new "$OCI" app
add_tree_layer "$OCI:app" "$T/l1"
umoci_tree "$OCI:app" "$T/ref-app"

# the origin holds only the image the policy refuses; the mirror holds the one that is pulled
start_registry
ORIGIN=$REG
push "$OCI:app" denied/app:v1
start_registry
MIRROR=$REG
push "$OCI:app" mirrored/app:v1
DIGEST=$(reg_digest mirrored/app:v1)
[ -n "$DIGEST" ] || fail "fixture: no digest"
curl -sf -o /dev/null "http://$ORIGIN/v2/cfg/app/manifests/v1" && fail "fixture: the origin has the image"

POLICY_JSON='{"default": [{"type": "insecureAcceptAnything"}],
 "transports": {"docker": {"'$ORIGIN'/denied": [{"type": "reject"}]}}}'
printf '%s\n' "$POLICY_JSON" >"$T/policy.json"

# write_config FILE POLICY_LINES AA_SOCKET: a cdh.toml as CoCo ships it (unknown tables and keys included)
write_config() {
	cat >"$1" <<-EOF
		socket = "unix:///run/confidential-containers/cdh.sock"

		[aa]
		aa_socket = "unix://$3"

		[kbc]
		name = "offline_fs_kbc"
		url = ""
		kbs_cert = ""

		[[credentials]]
		path = "/run/confidential-containers/cdh/kbs/test/file"
		resource_uri = "kbs:///default/test/file"

		[image]
		max_concurrent_layer_downloads_per_image = 3
		some_future_key = "ignored"
		$2

		[image.registry_config]
		unqualified-search-registries = ["docker.io"]

		[[image.registry_config.registry]]
		prefix = "$ORIGIN"
		location = "$ORIGIN"
		insecure = true

		[[image.registry_config.registry]]
		prefix = "$ORIGIN/cfg"
		location = "$ORIGIN/cfg"
		insecure = true

		[[image.registry_config.registry.mirror]]
		location = "$MIRROR/mirrored"
		insecure = true

		[image.image_pull_proxy]
		http_proxy = "http://127.0.0.1:9"
		no_proxy = "127.0.0.1"

		[log]
		level = "info"
	EOF
}

# start_aa MODE: the test attestation agent on $T/aa-MODE.sock, logging to $T/aa-MODE.log
start_aa() {
	: >"$T/aa-$1.log"
	"$CLIENT" aa-server "$T/aa-$1.sock" "$T/aa-$1.log" "$1" >"$T/aa-$1.out" 2>&1 &
	_PIDS+=($!)
	wait_for test -S "$T/aa-$1.sock"
}

SOCK=$T/run/cdh.sock
# serve CONFIG: ccpull serve with nothing but --config, a socket and a store
serve() {
	SERVE_LOG=$T/serve-$(basename "$1").log
	start_serve "$SOCK" "$SERVE_LOG" --store "$T/store" --snapshotter copy --config "$1"
}

stop_serve() {
	local rc=0
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID" || rc=$?
	[ "$rc" = 0 ] || { cat "$SERVE_LOG" >&2; fail "serve exited $rc after SIGTERM"; }
	! grep -qE 'AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:' "$SERVE_LOG" || { cat "$SERVE_LOG" >&2; fail "sanitizer report"; }
}

# measured LOG N IMAGE: LOG holds N requests, the last one for IMAGE with CDH's event
measured() {
	local n
	n=$(wc -l <"$1")
	[ "$n" = "$2" ] || fail "$1: $n ExtendRuntimeMeasurement requests, expected $2: $(cat "$1")"
	[ "$2" = 0 ] && return 0
	tail -n 1 "$1" >"$T/last.json"
	[ "$(jq -r .domain "$T/last.json")" = github.com/confidential-containers ] || fail "domain: $(cat "$T/last.json")"
	[ "$(jq -r .operation "$T/last.json")" = PullImage ] || fail "operation: $(cat "$T/last.json")"
	[ "$(jq -r .content "$T/last.json")" = "{\"image\":\"$3\", \"digest\":\"$DIGEST\"}" ] ||
		fail "content: $(cat "$T/last.json")"
	[ "$(jq -r .content "$T/last.json" | jq -r .digest)" = "$DIGEST" ] || fail "content is not JSON"
	[ "$(jq -r .register_index_set "$T/last.json")" = false ] || fail "RegisterIndex was sent"
}

log "inline policy, registries.conf with a mirror, attestation agent"
start_aa ok
write_config "$T/inline.toml" "image_security_policy = '''
$POLICY_JSON
'''" "$T/aa-ok.sock"
serve "$T/inline.toml"
expect 0 "$CLIENT" pull "$SOCK" "$ORIGIN/cfg/app:v1" "$T/b1"
[ "$(cat "$T/out")" = "$DIGEST" ] || fail "manifest_digest $(cat "$T/out"), registry says $DIGEST"
treecmp "$T/ref-app/rootfs" "$T/b1/rootfs"
measured "$T/aa-ok.log" 1 "$ORIGIN/cfg/app:v1"
grep -q "recorded in the runtime measurement" "$SERVE_LOG" || fail "no log line for the measurement"
expect 1 "$CLIENT" pull "$SOCK" "$ORIGIN/denied/app:v1" "$T/b-denied"
grep -q '^ERROR PermissionDenied' "$T/out" || fail "denied image: $(cat "$T/out")"
no_rootfs "$T/b-denied"
measured "$T/aa-ok.log" 1 "$ORIGIN/cfg/app:v1"
stop_serve

log "policy from a file:// URI; an attestation agent that refuses"
start_aa fail
write_config "$T/uri.toml" "image_security_policy_uri = \"file://$T/policy.json\"" "$T/aa-fail.sock"
serve "$T/uri.toml"
expect 1 "$CLIENT" pull "$SOCK" "$ORIGIN/cfg/app:v1" "$T/b2"
grep -q '^ERROR Internal: .*runtime measurement.*extend refused' "$T/out" || fail "refused extend: $(cat "$T/out")"
no_rootfs "$T/b2"
[ ! -e "$T/b2/config.json" ] || fail "refused extend left config.json"
measured "$T/aa-fail.log" 1 "$ORIGIN/cfg/app:v1"
expect 1 "$CLIENT" pull "$SOCK" "$ORIGIN/denied/app:v1" "$T/b-denied2"
grep -q '^ERROR PermissionDenied' "$T/out" || fail "denied image (file policy): $(cat "$T/out")"
measured "$T/aa-fail.log" 1 "$ORIGIN/cfg/app:v1"
stop_serve

log "no attestation agent socket: pulls are not measured"
write_config "$T/noaa.toml" "image_security_policy_uri = \"$T/policy.json\"" "$T/aa-none.sock"
start_aa not-supported
write_config "$T/ns.toml" "image_security_policy_uri = \"$T/policy.json\"" "$T/aa-not-supported.sock"
serve "$T/noaa.toml"
expect 0 "$CLIENT" pull "$SOCK" "$ORIGIN/cfg/app:v1" "$T/b3"
! grep -q "runtime measurement" "$SERVE_LOG" || fail "measured without an agent"
stop_serve
serve "$T/ns.toml"
expect 0 "$CLIENT" pull "$SOCK" "$ORIGIN/cfg/app:v1" "$T/b4"
grep -q "does not support runtime measurement" "$SERVE_LOG" || fail "NOT_SUPPORTED not logged"
measured "$T/aa-not-supported.log" 1 "$ORIGIN/cfg/app:v1"
stop_serve

log "ccpull pull and inspect --config"
expect 0 "$CCPULL" pull --config "$T/uri.toml" --store "$T/store" --snapshotter copy "$ORIGIN/cfg/app:v1" "$T/b5"
treecmp "$T/ref-app/rootfs" "$T/b5/rootfs"
expect 3 "$CCPULL" pull --config "$T/uri.toml" --store "$T/store" "$ORIGIN/denied/app:v1" "$T/b6"
no_rootfs "$T/b6"
# the command line wins over the file
expect 0 "$CCPULL" pull --config "$T/uri.toml" --insecure-policy --store "$T/store" --snapshotter copy \
	"$ORIGIN/denied/app:v1" "$T/b7"
expect 0 "$CCPULL" inspect --config "$T/uri.toml" --json "$ORIGIN/cfg/app:v1"
[ "$(jq -r .manifest_digest "$T/out")" = "$DIGEST" ] || fail "inspect: $(cat "$T/out")"
# without no_proxy, the file's http_proxy (a closed port) is used: the pull cannot reach the registry
sed -i '/^no_proxy/d' "$T/uri.toml"
expect 4 "$CCPULL" pull --config "$T/uri.toml" --retry-times 0 --store "$T/store" "$ORIGIN/cfg/app:v1" "$T/b8"
expect_stderr 'connect to 127\.0\.0\.1 port 9\b'
# errors name the file, the line and the key
printf '[image]\nwork_dir = 3\n' >"$T/bad.toml"
expect 2 "$CCPULL" pull --config "$T/bad.toml" "$ORIGIN/cfg/app:v1" "$T/b9"
expect_stderr 'bad\.toml.*line 2: image\.work_dir must be a string'
printf '[image]\nregistry_configuration_uri = "kbs:///default/registry"\n' >"$T/kbs.toml"
expect 2 "$CCPULL" serve --socket "$T/x.sock" --config "$T/kbs.toml"
expect_stderr 'registry_configuration_uri.*REPOSITORY/TYPE/TAG'
[ ! -e "$T/x.sock" ] || fail "serve bound its socket with an invalid config"
