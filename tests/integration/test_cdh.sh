#!/bin/bash
# ccpull as the Confidential Data Hub, launched the way kata-agent launches CDH (src/agent/src/main.rs):
# the binary under the name confidential-data-hub, `-c FILE` or nothing, OCICRYPT_KEYPROVIDER_CONFIG
# in the environment, and a poll for /run/confidential-containers/cdh.sock. Each instance runs in a
# private mount namespace whose /run is a directory of the test's (so CDH's fixed paths, the socket,
# /run/confidential-containers/cdh/kbs and /run/kata-containers/image, are the test's own) and whose
# /etc/containers holds a registries.conf that lets plain HTTP to the test registry.
# - with a cdh.toml and no policy: the socket within kata's 6 s, [[credentials]] written from the test
#   KBS before it, every image accepted (one log line), the store made only at the first pull under
#   the default work_dir, two pulls at once, SecureMount and an unknown method forwarded to a stand-in
#   CDH ([ccpull] forward_socket) with its answers relayed, SIGTERM -> the pull in flight answered,
#   exit 0, socket removed; the
#   image_pull_proxy (a dead one, the registry in its no_proxy) is not used for the KBS; an auth
#   failure and a decryption failure (KEK missing in the KBS) answered with CDH's openings
# - with a policy: a cosign-signed image accepted, an unsigned one refused with CDH's status and
#   message; SecureMount refused naming the method when nothing is forwarded; SIGINT -> exit 0
# - kbs_cert adds to the system's roots: a KBS whose CA only $SSL_CERT_FILE holds is trusted
# - without -c: agent.aa_kbc_params (first occurrence) and cdh.kbs_resources from the kernel command
#   line, AA_KBC_PARAMS overriding it; a file without [kbc] and an illegal credential path refused
# - everything kata uses, with kata's ocicrypt config (the attestation-agent keyprovider at the CDH
#   socket, served in-process) and the KBS reached with the token of a stand-in attestation agent at
#   [aa] aa_socket (the KBS sees the agent's attestation only): [[credentials]], the image policy a
#   kbs:/// resource (an image it does not accept refused with CDH's opening), a CoCo-encrypted pull
#   whose KEK the KBS releases and one whose KEK it lacks (CDH's opening), GetResource, UnsealSecret
#   (signed as CDH's secret tool signs it, the key a KBS resource or a file in CDH's sealed-secret
#   directory; another key's signature refused), UnWrapKey for another
#   client; every log line under CDH's name; without a config, the agent at its default socket
. "$(dirname "$0")/lib.sh"

"$PY" -c 'import cryptography, jwcrypto' 2>/dev/null || skip "python3-cryptography and python3-jwcrypto are needed (see .ci/packages)"
command -v openssl >/dev/null 2>&1 || skip "openssl is not installed"
command -v unshare >/dev/null 2>&1 && command -v nsenter >/dev/null 2>&1 || skip "unshare or nsenter is not installed (util-linux)"
unshare -m true 2>/dev/null || skip "cannot make a mount namespace"
build_ttrpc_client
SIGN="$PY $IT_DIR/cosign_sign.py"

# --- fixtures: one image, pushed plain, cosign-signed and unsigned; a KBS holding the credentials ---
start_registry
OCI=$T/oci
oci_new "$OCI" app
mkdir -p "$T/l1/etc"
printf 'pulled by ccpull as CDH\n' >"$T/l1/etc/motd"
add_tree_layer "$OCI:app" "$T/l1"
push "$OCI:app" plain/app:v1
push "$OCI:app" signed/app:v1
push "$OCI:app" unsigned/app:v1
DIGEST=$(reg_digest plain/app:v1)
$SIGN keygen "$T/cosign.key" "$T/cosign.pub"
$SIGN sign "$REG" signed/app "$(reg_digest signed/app:v1)" "$REG/signed/app" "$T/cosign.key"
# CoCo-encrypted, its KEK a resource the KBS does not have
head -c 32 /dev/urandom >"$T/kek"
cp -a "$OCI" "$T/enc"
"$PY" "$IT_DIR/ocicrypt_encrypt.py" "$T/enc" app enc --coco "kbs:///default/image-kek/missing" --kek "$T/kek"
push "$T/enc:enc" enc/app:v1
# CoCo-encrypted, its KEK released by the KBS
"$PY" "$IT_DIR/ocicrypt_encrypt.py" "$T/enc" app enc-ok --coco "kbs:///default/image-kek/k1" --kek "$T/kek"
push "$T/enc:enc-ok" enc/app:ok
ENC_DIGEST=$(reg_digest enc/app:ok)
# keys of CDH's secret tool (seal_secret.py): the verification key a KBS resource; and another key
SEAL=("$PY" "$IT_DIR/seal_secret.py")
"${SEAL[@]}" keygen "$T/seal-priv.json" "$T/seal-pub.json"
"${SEAL[@]}" keygen "$T/wrong-priv.json" "$T/wrong-pub.json"
PLAIN_REG=$REG
# a pull held open by stallproxy.py (until a file exists) to be in flight when SIGTERM comes
# (a layer of its own: a layer already in the store is not fetched again)
oci_new "$T/oci-slow" app
mkdir -p "$T/l2/etc"
printf 'held by stallproxy\n' >"$T/l2/etc/slow"
add_tree_layer "$T/oci-slow:app" "$T/l2"
push "$T/oci-slow:app" slow/drain:v1
SLOW_DIGEST=$(reg_digest slow/drain:v1)
start_stallproxy
SLOW=$PROXY
# a registry that wants credentials nobody gave
htpasswd -Bbn carol 'cdh-s3cret' >"$T/htpasswd"
start_registry "$T/htpasswd"
push "$OCI:app" private/app:v1 --dest-creds 'carol:cdh-s3cret'
AUTH_REG=$REG
REG=$PLAIN_REG

b64s() { printf '%s' "$1" | base64 -w0; }
# (the policy for kata's launch, 5.: the encrypted images accepted, the rest refused)
printf '{"default": [{"type": "reject"}], "transports": {"docker": {"%s/enc": [{"type": "insecureAcceptAnything"}]}}}\n' \
	"$REG" >"$T/kbs-policy.json"
printf '{"default/credential/test": "%s", "default/cmdline/res": "%s", "default/image-kek/k1": "%s",
 "default/secret/one": "%s", "default/sign/pub": "%s", "default/security-policy/test": "%s"}\n' \
	"$(b64s 'kms-credential-1')" "$(b64s 'from-the-cmdline')" "$(base64 -w0 "$T/kek")" "$(b64s 'sealed value')" \
	"$(base64 -w0 "$T/seal-pub.json")" "$(base64 -w0 "$T/kbs-policy.json")" >"$T/resources.json"
start_kbs main

mkdir -p "$T/etc-containers" "$T/bin"
cat >"$T/etc-containers/registries.conf" <<-EOF
	[[registry]]
	location = "$REG"
	insecure = true
	[[registry]]
	location = "$AUTH_REG"
	insecure = true
	[[registry]]
	location = "$SLOW"
	insecure = true
EOF
# kata's ocicrypt config for CoCo (hub/src/image/ocicrypt_config.json)
printf '{"key-providers": {"attestation-agent": {"ttrpc": "unix:///run/confidential-containers/cdh.sock"}}}\n' \
	>"$T/ocicrypt.json"
ln -s "$CCPULL" "$T/bin/confidential-data-hub"

# start_cdh NAME [VAR=VALUE...] -- [ARGS...]: confidential-data-hub ARGS with /run = $T/run-NAME; sets
# CDH_PID, CDH_RUN, CDH_SOCK and CDH_LOG (its stderr). Waits for the socket as kata-agent does.
start_cdh() {
	local name=$1
	shift
	local envs=()
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	CDH_RUN=$T/run-$name
	CDH_LOG=$T/cdh-$name.log
	CDH_SOCK=$CDH_RUN/confidential-containers/cdh.sock
	mkdir -p "$CDH_RUN"
	unshare -m --propagation private sh -c \
		'mount --bind "$1" /run && mount --bind "$2" /etc/containers && shift 2 && exec "$@"' sh \
		"$CDH_RUN" "$T/etc-containers" env OCICRYPT_KEYPROVIDER_CONFIG="$T/ocicrypt.json" "${envs[@]}" \
		"$T/bin/confidential-data-hub" "$@" 2>"$CDH_LOG" &
	CDH_PID=$!
	_PIDS+=("$CDH_PID")
}

# wait_socket SECONDS: the socket exists within SECONDS (kata-agent's agent.launch_process_timeout is 6 s)
wait_socket() {
	local i
	for i in $(seq 1 $(($1 * 10))); do
		[ -S "$CDH_SOCK" ] && return 0
		kill -0 "$CDH_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$CDH_LOG" >&2
	fail "no socket $CDH_SOCK within $1 s"
}

# stop_cdh SIGNAL: the instance exits 0 after SIGNAL, its socket removed, its log clean
stop_cdh() {
	local rc=0
	kill -"$1" "$CDH_PID" 2>/dev/null || true  # (after a drain it may be gone already)
	wait "$CDH_PID" || rc=$?
	[ "$rc" = 0 ] || { cat "$CDH_LOG" >&2; fail "exit status $rc after SIG$1"; }
	[ ! -e "$CDH_SOCK" ] || fail "the socket is left after SIG$1"
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$CDH_LOG"; then
		cat "$CDH_LOG" >&2
		fail "sanitizer report"
	fi
}

# in_ns CMD...: CMD in the instance's mount namespace, where its overlay rootfs mounts are
in_ns() { nsenter -t "$CDH_PID" -m "$@"; }

# pull_ok IMAGE BUNDLE: PullImage must succeed with the image's digest and a rootfs
pull_ok() {
	expect 0 "$CLIENT" pull "$CDH_SOCK" "$1" "$2"
	[ "$(cat "$T/out")" = "$DIGEST" ] || fail "PullImage $1: digest $(cat "$T/out"), expected $DIGEST"
	in_ns cmp -s "$2/rootfs/etc/motd" "$T/l1/etc/motd" || fail "PullImage $1: rootfs content"
}

# --- 1. kata's launch with a cdh.toml: no policy, credentials, forwarding ---
"$CLIENT" securemount-server "$T/rust-cdh.sock" "$T/securemount.log" >"$T/standin.out" 2>&1 &
_PIDS+=("$!")
wait_for test -S "$T/rust-cdh.sock"
KBS_DIR=/run/confidential-containers/cdh/kbs
cat >"$T/cdh.toml" <<-EOF
	socket = "unix:///run/confidential-containers/cdh.sock"

	[kbc]
	name = "cc_kbc"
	url = "http://localhost:$KBS_PORT"

	[image.image_pull_proxy]
	https_proxy = "http://127.0.0.1:9"
	http_proxy = "http://127.0.0.1:9"
	no_proxy = "127.0.0.1"

	[[credentials]]
	resource_uri = "kbs:///default/credential/test"
	path = "$KBS_DIR/kms-credential/test/config"

	[ccpull]
	forward_socket = "unix://$T/rust-cdh.sock"

	[log]
	level = "info"
EOF
start_cdh one -- -c "$T/cdh.toml"
wait_socket 6
WORK=$CDH_RUN/kata-containers/image
[ ! -e "$WORK" ] || fail "the store was made before the first pull"
CRED=$CDH_RUN/confidential-containers/cdh/kbs/kms-credential/test/config
[ "$(cat "$CRED")" = kms-credential-1 ] || fail "[[credentials]]: $(cat "$CRED" 2>&1)"
[ "$(stat -c %a "$CRED")" = 600 ] || fail "credential mode $(stat -c %a "$CRED")"
grep -q 'resource default/credential/test 200' "$KBS_LOG" || fail "the credential did not come from the KBS"
grep -q 'signatures are not checked' "$CDH_LOG" || fail "no log line about the missing policy"

pull_ok "$REG/plain/app:v1" "$T/b1"
[ -d "$WORK" ] || fail "the store is not under the default work_dir"
# two pulls at once, on two connections
"$CLIENT" pull "$CDH_SOCK" "$REG/unsigned/app:v1" "$T/b2" >"$T/p2.out" 2>&1 &
P2=$!
"$CLIENT" pull "$CDH_SOCK" "$REG/signed/app:v1" "$T/b3" >"$T/p3.out" 2>&1 &
P3=$!
wait "$P2" || fail "the first of two pulls at once: $(cat "$T/p2.out")"
wait "$P3" || fail "the second of two pulls at once: $(cat "$T/p3.out")"
in_ns test -f "$T/b2/rootfs/etc/motd" && in_ns test -f "$T/b3/rootfs/etc/motd" || fail "two pulls at once: no rootfs"

# failures answered as CDH answers them: INTERNAL, the openings kata's CoCo tests look for
expect 1 "$CLIENT" pull "$CDH_SOCK" "$AUTH_REG/private/app:v1" "$T/b-auth"
grep -q "^ERROR Internal: \[CDH\] \[ERROR\]: Image Pull error: Failed to pull image $AUTH_REG/private/app:v1 from all mirror/mapping locations or original location: image: .*, error: Not authorized: " \
	"$T/out" || fail "auth failure: $(cat "$T/out")"

# SecureMount and an unknown method go to the stand-in; its answers come back unchanged
expect 0 "$CLIENT" securemount "$CDH_SOCK" block-device /run/kata-containers/image deviceId=/dev/vdb \
	encryptType=LUKS +ro
[ "$(cat "$T/out")" = OK ] || fail "SecureMount forwarded: $(cat "$T/out")"
jq -e --arg mp /run/kata-containers/image '.volume_type == "block-device" and .mount_point == $mp and
	.options == {"deviceId": "/dev/vdb", "encryptType": "LUKS"} and .flags == ["ro"]' \
	<(head -n 1 "$T/securemount.log") >/dev/null || fail "the stand-in got: $(cat "$T/securemount.log")"
expect 1 "$CLIENT" securemount "$CDH_SOCK" refuse /mnt
[ "$(cat "$T/out")" = "ERROR PermissionDenied: stand-in CDH: refused" ] || fail "refusal relayed: $(cat "$T/out")"
expect 0 "$CLIENT" status "$CDH_SOCK" api.NoSuchService Method
grep -q '^Unimplemented: service api.NoSuchService' "$T/out" || fail "unknown method forwarded: $(cat "$T/out")"
[ "$(wc -l <"$T/securemount.log")" = 2 ] || fail "the stand-in saw $(wc -l <"$T/securemount.log") SecureMount calls"
# SIGTERM with a pull in flight: it is finished and answered, then exit 0
"$CLIENT" pull "$CDH_SOCK" "$SLOW/slow/drain:v1" "$T/b-drain" >"$T/drain.out" 2>&1 &
DRAIN=$!
wait_for test -e "$T/stall/drain.stalled"
kill -TERM "$CDH_PID"
wait_for grep -q 'signal 15' "$CDH_LOG"
touch "$T/stall/drain.release"
wait "$DRAIN" || fail "the pull in flight at SIGTERM: $(cat "$T/drain.out")"
[ "$(cat "$T/drain.out")" = "$SLOW_DIGEST" ] || fail "the pull in flight at SIGTERM: $(cat "$T/drain.out")"
stop_cdh TERM

# --- 2. a policy: signed accepted, unsigned refused as CDH refuses; nothing to forward to ---
printf '{"default": [{"type": "reject"}], "transports": {"docker": {"%s/signed": [{"type": "sigstoreSigned",
 "keyPath": "%s", "signedIdentity": {"type": "matchRepository"}}]}}}\n' "$REG" "$T/cosign.pub" >"$T/policy.json"
cat >"$T/cdh-policy.toml" <<-EOF
	socket = "unix:///run/confidential-containers/cdh.sock"
	[kbc]
	name = "offline_fs_kbc"
	url = ""
	[image]
	work_dir = "/run/image-work"
	image_security_policy_uri = "file://$T/policy.json"
	sigstore_config = """
	default-docker:
	  use-sigstore-attachments: true
	"""
EOF
start_cdh two -- -c "$T/cdh-policy.toml"
wait_socket 60
pull_ok "$REG/signed/app:v1" "$T/b4"
[ -d "$CDH_RUN/image-work" ] || fail "[image] work_dir is not the store"
grep -q 'signatures are not checked' "$CDH_LOG" && fail "a policy is configured, yet the log says otherwise"
expect 1 "$CLIENT" pull "$CDH_SOCK" "$REG/unsigned/app:v1" "$T/b5"
grep -q '^ERROR Internal: \[CDH\] \[ERROR\]: Image Pull error: Image policy rejected: Denied by policy: ' "$T/out" ||
	fail "policy denial: $(cat "$T/out")"
no_rootfs "$T/b5"
expect 1 "$CLIENT" securemount "$CDH_SOCK" block-device /mnt
grep -q '^ERROR Unimplemented: .*api.SecureMountService/SecureMount' "$T/out" || fail "SecureMount: $(cat "$T/out")"
stop_cdh INT

# --- 3. no -c: the kernel command line; AA_KBC_PARAMS wins over it ---
printf 'console=hvc0 agent.aa_kbc_params=cc_kbc::http://127.0.0.1:9 cdh.kbs_resources=kbs:///default/cmdline/res::%s/cmdline/res\n' \
	"$KBS_DIR" >"$T/cmdline-env"
start_cdh three CCPULL_KERNEL_CMDLINE="$T/cmdline-env" AA_KBC_PARAMS="cc_kbc::$KBS" --
wait_socket 60
[ "$(cat "$CDH_RUN/confidential-containers/cdh/kbs/cmdline/res")" = from-the-cmdline ] ||
	fail "cdh.kbs_resources with AA_KBC_PARAMS"
[ ! -e "$CDH_RUN/kata-containers/image" ] || fail "the store was made before the first pull"
pull_ok "$REG/plain/app:v1" "$T/b6"
expect 1 "$CLIENT" pull "$CDH_SOCK" "$REG/enc/app:v1" "$T/b-enc"
grep -q '^ERROR Internal: \[CDH\] \[ERROR\]: Image Pull error: Errors happened when pulling image: Failed to decrypt layer: Failed to decrypt the image layer' \
	"$T/out" || fail "decryption failure: $(cat "$T/out")"
no_rootfs "$T/b-enc"
[ -d "$CDH_RUN/kata-containers/image" ] || fail "no store under the default work_dir"
stop_cdh TERM

# the first agent.aa_kbc_params counts
printf 'agent.aa_kbc_params=cc_kbc::%s agent.aa_kbc_params=cc_kbc::http://127.0.0.1:9 cdh.kbs_resources=kbs:///default/cmdline/res::%s/r\n' \
	"$KBS" "$KBS_DIR" >"$T/cmdline-only"
start_cdh four CCPULL_KERNEL_CMDLINE="$T/cmdline-only" --
wait_socket 60
[ "$(cat "$CDH_RUN/confidential-containers/cdh/kbs/r")" = from-the-cmdline ] || fail "agent.aa_kbc_params"
stop_cdh TERM

# --- 5. everything kata uses, as kata uses it: the KBS reached with the attestation agent's token ---
# (a stand-in agent at [aa] aa_socket attests to the KBS itself and hands over its token, as CDH's
# cc_kbc asks for it); kata's ocicrypt config (start_cdh) points the attestation-agent keyprovider
# back at the CDH socket, which ccpull serves in-process
start_kbs token
start_aa aa ok AA_KBS_URL="$KBS"
cat >"$T/cdh-kata.toml" <<-EOF
	socket = "unix:///run/confidential-containers/cdh.sock"
	[kbc]
	name = "cc_kbc"
	url = "$KBS"
	[aa]
	aa_socket = "unix://$T/aa.sock"
	[image]
	image_security_policy_uri = "kbs:///default/security-policy/test"
	[[credentials]]
	resource_uri = "kbs:///default/credential/test"
	path = "$KBS_DIR/token"
EOF
start_cdh kata -- -c "$T/cdh-kata.toml"
wait_socket 6
[ "$(cat "$CDH_RUN/confidential-containers/cdh/kbs/token")" = kms-credential-1 ] || fail "credential with the token"
# a CoCo-encrypted pull, its KEK released by the KBS to the agent's token
expect 0 "$CLIENT" pull "$CDH_SOCK" "$REG/enc/app:ok" "$T/b-enc-ok"
[ "$(cat "$T/out")" = "$ENC_DIGEST" ] || fail "encrypted pull: digest $(cat "$T/out"), expected $ENC_DIGEST"
in_ns cmp -s "$T/b-enc-ok/rootfs/etc/motd" "$T/l1/etc/motd" || fail "encrypted pull: rootfs content"
grep -q '^resource default/image-kek/k1 200$' "$KBS_LOG" || fail "the KEK was not fetched: $(cat "$KBS_LOG")"
grep -q '^resource default/security-policy/test 200$' "$KBS_LOG" || fail "the policy was not fetched: $(cat "$KBS_LOG")"
# the policy from the KBS refuses what it does not accept
expect 1 "$CLIENT" pull "$CDH_SOCK" "$REG/unsigned/app:v1" "$T/b-kata-denied"
grep -q '^ERROR Internal: \[CDH\] \[ERROR\]: Image Pull error: Image policy rejected: Denied by policy: ' "$T/out" ||
	fail "policy denial (policy from the KBS): $(cat "$T/out")"
no_rootfs "$T/b-kata-denied"
# the KEK missing in the KBS: CDH's opening
expect 1 "$CLIENT" pull "$CDH_SOCK" "$REG/enc/app:v1" "$T/b-enc-missing"
grep -q '^ERROR Internal: \[CDH\] \[ERROR\]: Image Pull error: Errors happened when pulling image: Failed to decrypt layer: Failed to decrypt the image layer' \
	"$T/out" || fail "decryption failure (kata's ocicrypt config): $(cat "$T/out")"
no_rootfs "$T/b-enc-missing"
# GetResource
expect 0 "$CLIENT" get-resource "$CDH_SOCK" kbs:///default/secret/one "$T/got-resource"
[ "$(cat "$T/got-resource")" = 'sealed value' ] || fail "GetResource: $(cat "$T/got-resource")"
# UnsealSecret: signed as CDH's secret tool signs it (the key a KBS resource); signed by another key
"${SEAL[@]}" vault "$T/seal-priv.json" kbs:///default/sign/pub kbs:///default/secret/one | tr -d '\n' >"$T/sealed-ok"
expect 0 "$CLIENT" unseal "$CDH_SOCK" "$T/sealed-ok" "$T/got-unsealed"
[ "$(cat "$T/got-unsealed")" = 'sealed value' ] || fail "UnsealSecret: $(cat "$T/got-unsealed")"
# the key a file under CDH's sealed-secret directory (/run/confidential-containers/cdh/sealed-secret)
mkdir -p "$CDH_RUN/confidential-containers/cdh/sealed-secret/team"
cp "$T/seal-pub.json" "$CDH_RUN/confidential-containers/cdh/sealed-secret/team/signer"
"${SEAL[@]}" vault "$T/seal-priv.json" team/signer kbs:///default/secret/one | tr -d '\n' >"$T/sealed-file"
expect 0 "$CLIENT" unseal "$CDH_SOCK" "$T/sealed-file" "$T/got-unsealed-file"
[ "$(cat "$T/got-unsealed-file")" = 'sealed value' ] || fail "UnsealSecret (key file): $(cat "$T/got-unsealed-file")"
"${SEAL[@]}" vault "$T/wrong-priv.json" kbs:///default/sign/pub kbs:///default/secret/one | tr -d '\n' >"$T/sealed-bad"
expect 1 "$CLIENT" unseal "$CDH_SOCK" "$T/sealed-bad" "$T/got-unsealed-bad"
grep -q '^ERROR PermissionDenied: .*signature does not verify' "$T/out" || fail "bad signature: $(cat "$T/out")"
[ ! -e "$T/got-unsealed-bad" ] || fail "a secret with a bad signature was unsealed"
# keyprovider UnWrapKey for another client on the CDH socket
coco_unwrap_request "$T/enc" enc-ok "$T/unwrap-in.json"
expect 0 "$CLIENT" unwrap-key "$CDH_SOCK" "$T/unwrap-in.json" "$T/unwrap-out.json"
unwrap_opens "$T/enc" "$T/unwrap-in.json" "$T/unwrap-out.json"
# every KBS request came with the agent's token: one attestation (the agent's), ccpull none
grep -q '"method":"GetToken"' "$T/aa.log" || fail "the agent's GetToken was not used: $(cat "$T/aa.log")"
[ "$(grep -c '^attest ok$' "$KBS_LOG")" = 1 ] || fail "expected the agent's attestation only: $(cat "$KBS_LOG")"
grep -q '^bearer ok$' "$KBS_LOG" || fail "no resource fetched with the token: $(cat "$KBS_LOG")"
! grep -q '^bearer refused$' "$KBS_LOG" || fail "a token was refused: $(cat "$KBS_LOG")"
! grep -q 'sealed value' "$CDH_LOG" || fail "a secret was logged"
# every line under CDH's name (the plain-HTTP KBS warnings of GetResource/UnsealSecret/UnWrapKey included)
grep -q 'GetResource: warning: KBS .* plain HTTP' "$CDH_LOG" || fail "no warning about the plain-HTTP KBS"
! grep -v '^ccpull cdh: ' "$CDH_LOG" >&2 || fail "log lines not under CDH's name"
stop_cdh TERM

# without a config (no initdata): the agent at its default socket, the KBS from AA_KBC_PARAMS
: >"$T/aa.log"
: >"$KBS_LOG"
mkdir -p "$T/run-kata2/confidential-containers/attestation-agent"
ln -s "$T/aa.sock" "$T/run-kata2/confidential-containers/attestation-agent/attestation-agent.sock"
start_cdh kata2 AA_KBC_PARAMS="cc_kbc::$KBS" CCPULL_KERNEL_CMDLINE=/dev/null --
wait_socket 6
expect 0 "$CLIENT" get-resource "$CDH_SOCK" kbs:///default/secret/one "$T/got-resource2"
[ "$(cat "$T/got-resource2")" = 'sealed value' ] || fail "GetResource (default agent socket): $(cat "$T/got-resource2")"
grep -q '"method":"GetToken"' "$T/aa.log" || fail "the agent at its default socket was not asked: $(cat "$T/aa.log")"
[ "$(grep -c '^attest ok$' "$KBS_LOG")" = 1 ] || fail "expected the agent's attestation only: $(cat "$KBS_LOG")"
stop_cdh TERM

# --- kbs_cert adds to the system's roots (CDH: reqwest add_root_certificate), it does not replace them:
# the KBS's certificate comes from a CA only the "system" bundle ($SSL_CERT_FILE) holds; kbs_cert is another CA
C=$T/tls
mkdir -p "$C"
for ca in sys other; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=ccpull test $ca CA" \
		-keyout "$C/$ca.key" -out "$C/$ca.pem" 2>/dev/null
done
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
	-keyout "$C/kbs.key" -out "$C/kbs.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$C/ext"
openssl x509 -req -in "$C/kbs.csr" -CA "$C/sys.pem" -CAkey "$C/sys.key" -CAcreateserial -days 2 \
	-extfile "$C/ext" -out "$C/kbs.pem" 2>/dev/null
start_kbs tls --tls "$C/kbs.pem" "$C/kbs.key"
{
	printf '[kbc]\nname = "cc_kbc"\nurl = "https://127.0.0.1:%s"\nkbs_cert = """\n' "$KBS_PORT"
	cat "$C/other.pem"
	printf '"""\n[[credentials]]\nresource_uri = "kbs:///default/credential/test"\npath = "%s/tls"\n' "$KBS_DIR"
} >"$T/cdh-tls.toml"
start_cdh five SSL_CERT_FILE="$C/sys.pem" -- -c "$T/cdh-tls.toml"
wait_socket 60
[ "$(cat "$CDH_RUN/confidential-containers/cdh/kbs/tls")" = kms-credential-1 ] || fail "credential over HTTPS"
stop_cdh TERM

# --- 4. refused at start, as CDH refuses: no [kbc]; a credential outside CDH's directory ---
printf '[image]\nwork_dir = "/run/w"\n' >"$T/nokbc.toml"
expect 2 "$CCPULL" cdh -c "$T/nokbc.toml"
expect_stderr '\[kbc\] is missing'
printf '[kbc]\nname = "cc_kbc"\nurl = "%s"\n[[credentials]]\nresource_uri = "kbs:///default/credential/test"\npath = "%s/../../../etc/x"\n' \
	"$KBS" "$KBS_DIR" >"$T/badpath.toml"
expect 2 "$CCPULL" cdh -c "$T/badpath.toml"
expect_stderr 'illegal path to put credential'
expect 0 "$T/bin/confidential-data-hub" --help
grep -q 'CDH MODE' "$T/out" || fail "confidential-data-hub --help"
log "PASS"
