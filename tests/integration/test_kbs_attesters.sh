#!/bin/bash
# The aa attester: the evidence comes from an attestation agent's ttrpc API (GetTeeType, GetEvidence
# with the runtime data digest), served by containerd's Go ttrpc (ttrpc_client/main.go aa-server,
# Trustee's sample evidence), and the KBS (kbs_server.py, the sample verifier's report-data check)
# releases the policy and the KEK: the CoCo-encrypted image pulls to the plain rootfs. The socket
# comes from --aa-socket or ccpull.toml's [aa] aa_socket; auto picks the agent whenever its socket
# exists. These agents have no GetToken (UNIMPLEMENTED): ccpull attests with their evidence
# (test_kbs_token.sh has the token path). An agent that is down or refuses GetEvidence is exit 6
# naming the agent and its socket.
. "$(dirname "$0")/lib.sh"

. "$IT_DIR/kbs_setup.sh"

build_ttrpc_client

# start_aa NAME MODE: an attestation agent on $T/NAME.sock logging to $T/NAME.log
start_aa() {
	local i
	"$CLIENT" aa-server "$T/$1.sock" "$T/$1.log" "$2" >"$T/$1.out" 2>&1 &
	_PIDS+=("$!")
	for i in $(seq 1 100); do
		[ -S "$T/$1.sock" ] && return 0
		sleep 0.1
	done
	cat "$T/$1.out" >&2
	fail "attestation agent $1 did not start"
}
start_aa aa ok
start_aa aa-fail fail
start_kbs main

kbs_pull_ok aa --kbs "$KBS" --attester aa --aa-socket "$T/aa.sock"
grep -q '"method":"GetTeeType"' "$T/aa.log" || fail "the agent was not asked for its TEE: $(cat "$T/aa.log")"
# the agent got the 48-byte sha384 digest of the runtime data (the KBS checked it as the report data)
[ "$(jq -r 'select(.method == "GetEvidence") | .runtime_data' "$T/aa.log" | head -n1 | base64 -d | wc -c)" = 48 ] ||
	fail "GetEvidence did not carry the runtime data digest: $(cat "$T/aa.log")"
grep -q '^attest ok$' "$KBS_LOG" || fail "the KBS did not accept the agent's evidence: $(cat "$KBS_LOG")"

# [aa] aa_socket of ccpull.toml
cat >"$T/ccpull.toml" <<-EOF
	[aa]
	aa_socket = "unix://$T/aa.sock"
EOF
: >"$T/aa.log"
kbs_pull_ok aa-config --kbs "$KBS" --attester aa --config "$T/ccpull.toml"
grep -q '"method":"GetEvidence"' "$T/aa.log" || fail "[aa] aa_socket was not used: $(cat "$T/aa.log")"

# auto: an agent's socket: the agent (before any TEE device, as CDH)
: >"$T/aa.log"
kbs_pull_ok aa-auto --kbs "$KBS" --aa-socket "$T/aa.sock"
grep -q '"method":"GetEvidence"' "$T/aa.log" || fail "auto did not use the agent: $(cat "$T/aa.log")"

# failures: exit 6, naming the agent, its socket and the call
kbs_pull_fail aa-down 6 "attestation agent at $T/nowhere.sock: GetToken: connect" \
	--kbs "$KBS" --attester aa --aa-socket "$T/nowhere.sock"
kbs_pull_fail aa-refuses 6 "attestation agent at $T/aa-fail.sock: GetEvidence: INTERNAL: test attestation agent: no evidence" \
	--kbs "$KBS" --attester aa --aa-socket "$T/aa-fail.sock"
kbs_pull_fail snp-no-tsm 6 "snp attester needs the configfs-tsm" --kbs "$KBS" --attester snp

log "ok"
