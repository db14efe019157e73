#!/bin/bash
# The KBS the way the Confidential Data Hub reaches it in a kata guest, and the configuration kata
# hands over:
# - a KBS token from the attestation agent (GetToken "kbs", as CDH's cc_kbc asks kbs_protocol's
#   AATokenProvider): the stand-in agent (ttrpc_client aa-server with AA_KBS_URL) attests to the test
#   KBS itself and hands over {token, tee_keypair}; ccpull presents the token as a Bearer token and
#   opens the resources with the agent's TEE key, without attesting itself; a token the KBS stops
#   taking is renewed; auto prefers the agent; an agent without GetToken gets ccpull's handshake, and
#   its kbs-types TEE name az-snp-vtpm goes to the KBS as it is;
# - kata's ocicrypt config, {"attestation-agent": {"ttrpc": "unix:///run/confidential-containers/cdh.sock"}},
#   served in-process (it was exit 2), and a ttrpc keyprovider on another socket called over ttrpc;
# - offline_fs_kbc's keys file and OFFLINE_FS_KBC_EXTRA_FILE_PATH.
. "$(dirname "$0")/lib.sh"

. "$IT_DIR/kbs_setup.sh"

build_ttrpc_client

count() { grep -c "^$1\$" "$2" || true; }
methods() { jq -r .method "$1" | sort | uniq -c | tr -s ' ' | tr '\n' ';'; }

start_kbs main
start_aa aa ok AA_KBS_URL="$KBS"

# --- the agent's token: one GetToken, no evidence asked of the agent, no handshake by ccpull ---
kbs_pull_ok token --kbs "$KBS" --attester aa --aa-socket "$T/aa.sock"
[ "$(methods "$T/aa.log")" = " 1 GetToken;" ] || fail "expected one GetToken and nothing else: $(cat "$T/aa.log")"
[ "$(jq -r 'select(.method == "GetToken") | .token_type' "$T/aa.log")" = kbs ] || fail "token type is not kbs"
# the agent's own handshake is the only one; the two resources came with its token
[ "$(count 'attest ok' "$KBS_LOG")" = 1 ] || fail "expected the agent's attestation only: $(cat "$KBS_LOG")"
[ "$(count 'bearer ok' "$KBS_LOG")" = 2 ] || fail "the resources were not fetched with the token: $(cat "$KBS_LOG")"
grep -q '^resource default/image-kek/k1 200$' "$KBS_LOG" || fail "KEK not fetched: $(cat "$KBS_LOG")"

# auto, with the agent's socket: the agent's token (whatever TEE device there is)
: >"$T/aa.log"
: >"$KBS_LOG"
kbs_pull_ok token-auto --kbs "$KBS" --aa-socket "$T/aa.sock"
[ "$(methods "$T/aa.log")" = " 1 GetToken;" ] || fail "auto did not use the agent's token: $(cat "$T/aa.log")"

# a token the KBS takes only once: ccpull asks the agent for a new one after the 401
start_kbs once --token-uses 1
start_aa aa-once ok AA_KBS_URL="$KBS"
kbs_pull_ok token-renew --kbs "$KBS" --attester aa --aa-socket "$T/aa-once.sock"
[ "$(methods "$T/aa-once.log")" = " 2 GetToken;" ] || fail "the token was not renewed: $(cat "$T/aa-once.log")"
[ "$(count 'bearer refused' "$KBS_LOG")" = 1 ] || fail "expected one refused token: $(cat "$KBS_LOG")"

# an agent whose GetToken fails: exit 6 naming the agent, the call and its message
start_aa aa-fail fail AA_KBS_URL="$KBS"
kbs_pull_fail token-fail 6 "attestation agent at $T/aa-fail.sock: GetToken: INTERNAL: test attestation agent: no token" \
	--kbs "$KBS" --attester aa --aa-socket "$T/aa-fail.sock"

# an agent without GetToken (UNIMPLEMENTED): its evidence in ccpull's handshake, as before
start_aa aa-old ok
: >"$T/aa-old.log"
kbs_pull_ok token-old --kbs "$KBS" --attester aa --aa-socket "$T/aa-old.sock"
grep -q '"method":"GetEvidence"' "$T/aa-old.log" || fail "no evidence asked of the older agent: $(cat "$T/aa-old.log")"

# kbs-types TEE names with '-': the agent's az-snp-vtpm reaches the KBS as is (this KBS verifies only
# sample evidence, so it refuses it: exit 6 with the KBS's answer)
start_aa aa-azure ok AA_TEE_TYPE=az-snp-vtpm
start_kbs azure
kbs_pull_fail tee-azure 6 "KBS .* refused the attestation request.*only the sample verifier" \
	--kbs "$KBS" --attester aa --aa-socket "$T/aa-azure.sock"
grep -q '^auth refused tee=az-snp-vtpm$' "$KBS_LOG" || fail "the TEE name did not reach the KBS: $(cat "$KBS_LOG")"

# --- kata's ocicrypt config: the attestation-agent provider on the CDH socket is ccpull itself ---
cat >"$T/kata-ocicrypt.json" <<-EOF
	{"key-providers": {"attestation-agent": {"ttrpc": "unix:///run/confidential-containers/cdh.sock"}}}
EOF
start_kbs kata
OCICRYPT_KEYPROVIDER_CONFIG=$T/kata-ocicrypt.json kbs_pull_ok kata-config --kbs "$KBS" --attester sample
grep -q '^resource default/image-kek/k1 200$' "$KBS_LOG" || fail "KEK not fetched in-process: $(cat "$KBS_LOG")"
# without a KBS for the key (the policy comes from an offline file): exit 6 saying what is missing
cat >"$T/policy-only.json" <<-EOF
	{"default/security-policy/test": "$(base64 -w0 "$T/policy.json")"}
EOF
OCICRYPT_KEYPROVIDER_CONFIG=$T/kata-ocicrypt.json kbs_pull_fail kata-nokbs 6 \
	"not in the offline resources" --kbs-resources "$T/policy-only.json"
expect 6 env OCICRYPT_KEYPROVIDER_CONFIG="$T/kata-ocicrypt.json" "$CCPULL" pull --tls-verify=false \
	--snapshotter copy --insecure-policy --store "$T/store-kata-none" "$REG/kbs/enc:gcm" "$T/b-kata-none"
expect_stderr "in-process.*no KBS is configured"
# grpc-tls: refused with a message, not downgraded to cleartext
cat >"$T/tls-ocicrypt.json" <<-EOF
	{"key-providers": {"remote": {"grpc": "127.0.0.1:1", "grpc-tls": {"root-ca-file": "/etc/ca.pem"}}}}
EOF
kbs_pull_fail grpc-tls 2 '"grpc-tls" \(gRPC over TLS\) is not supported' --kbs "$KBS" \
	--keyprovider-config "$T/tls-ocicrypt.json"

# --- a ttrpc keyprovider on another socket: keyprovider.KeyProviderService/UnWrapKey over ttrpc ---
"$PY" "$IT_DIR/ocicrypt_encrypt.py" "$T/enc" base kp --provider ttrpckp --kek "$T/keys/kek"
skopeo copy --quiet --dest-tls-verify=false "oci:$T/enc:kp" "docker://$REG/kbs/enc:kp" >/dev/null
start_aa kp ok AA_KEYPROVIDER_CMD="$PY $IT_DIR/keyprovider.py $T/keys/kek $T/kp-requests.log"
cat >"$T/ttrpc-ocicrypt.json" <<-EOF
	{"key-providers": {"ttrpckp": {"ttrpc": "unix://$T/kp.sock"}}}
EOF
log "pull: ttrpc keyprovider"
expect 0 "$CCPULL" "${PULL[@]}" --store "$T/store-kp" --kbs "$KBS" --keyprovider-config "$T/ttrpc-ocicrypt.json" \
	"$REG/kbs/enc:kp" "$T/b-kp"
treecmp "$T/ref/rootfs" "$T/b-kp/rootfs"
[ "$(methods "$T/kp.log")" = " 1 UnWrapKey;" ] || fail "the ttrpc keyprovider was not called: $(cat "$T/kp.log")"
grep -q '"op": "keyunwrap"' "$T/kp-requests.log" || fail "UnWrapKey did not carry the keyunwrap request"

# --- offline_fs_kbc: the keys file beside the resources file, and OFFLINE_FS_KBC_EXTRA_FILE_PATH ---
mkdir -p "$T/offfs"
cat >"$T/offfs/aa-offline_fs_kbc-keys.json" <<-EOF
	{"default/image-kek/k1": "$(base64 -w0 "$T/keys/kek")"}
EOF
cat >"$T/offfs-extra.json" <<-EOF
	{"default/security-policy/test": "$(base64 -w0 "$T/policy.json")"}
EOF
# no resources file at all (missing is empty), the policy from the extra file, the KEK from the keys file
OFFLINE_FS_KBC_EXTRA_FILE_PATH="$T/nonexistent.json,$T/offfs-extra.json" kbs_pull_ok offline-fs \
	--kbs-resources "$T/offfs/aa-offline_fs_kbc-resources.json"
# without the extra file the policy is missing
kbs_pull_fail offline-fs-noextra 6 "security-policy/test" --kbs-resources "$T/offfs/aa-offline_fs_kbc-resources.json"

log "ok"
