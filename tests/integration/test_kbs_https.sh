#!/bin/bash
# The KBS over HTTPS: kbs_server.py with a server certificate of a CA made here by openssl. With
# --kbs-cert CA the CoCo-encrypted image pulls; without it the certificate is not trusted (exit 6,
# saying so, before any request reaches the KBS); an https:// URL never falls back to plain HTTP.
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null 2>&1 || skip "openssl is not installed"
. "$IT_DIR/kbs_setup.sh"

C=$T/tls
mkdir -p "$C"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=ccpull test KBS CA" \
	-keyout "$C/ca.key" -out "$C/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
	-keyout "$C/kbs.key" -out "$C/kbs.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$C/ext"
openssl x509 -req -in "$C/kbs.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial -days 2 \
	-extfile "$C/ext" -out "$C/kbs.pem" 2>/dev/null

start_kbs tls --tls "$C/kbs.pem" "$C/kbs.key"
TLS_PORT=$KBS_PORT TLS_LOG=$KBS_LOG
start_kbs plain
PLAIN_PORT=$KBS_PORT PLAIN_LOG=$KBS_LOG

kbs_pull_ok https --kbs "https://127.0.0.1:$TLS_PORT" --kbs-cert "$C/ca.pem"
grep -q '^attest ok$' "$TLS_LOG" || fail "no attestation over HTTPS: $(cat "$TLS_LOG")"

: >"$TLS_LOG"
kbs_pull_fail untrusted 6 "KBS https://127.0.0.1:$TLS_PORT.*certificate.*not trusted" --kbs "https://127.0.0.1:$TLS_PORT"
[ ! -s "$TLS_LOG" ] || fail "a request reached the KBS through an untrusted certificate: $(cat "$TLS_LOG")"

# https:// against a plain-HTTP KBS: the TLS handshake fails, nothing is sent in clear text
kbs_pull_fail no-downgrade 6 "KBS https://127.0.0.1:$PLAIN_PORT" --kbs "https://127.0.0.1:$PLAIN_PORT" --kbs-cert "$C/ca.pem"
[ ! -s "$PLAIN_LOG" ] || fail "an https:// KBS URL sent a plain-HTTP request: $(cat "$PLAIN_LOG")"
# and plain HTTP works where the URL says http://
kbs_pull_ok http --kbs "http://127.0.0.1:$PLAIN_PORT"

log "ok"
