#!/bin/bash
# Encrypted layers, the other ocicrypt schemes and transports: images encrypted by skopeo with
# pkcs7 (X.509 recipient) and pgp (a gpg key), some with only one layer encrypted, and keyprovider
# images (ocicrypt_encrypt.py) unwrapped over the grpc transport by a Python gRPC keyprovider. Each
# rootfs must equal umoci's unpack of the plain image, and ccpull's result must equal skopeo's own
# decryption (skopeo copy --decryption-key + umoci unpack). Wrong keys fail with exit 6 and leave nothing.
. "$(dirname "$0")/lib.sh"

"$PY" -c 'import jwcrypto, cryptography' 2>/dev/null || skip "python3-jwcrypto and python3-cryptography are needed"
"$PY" -c 'import grpc' 2>/dev/null || skip "python3-grpcio is needed"
command -v gpg >/dev/null 2>&1 || skip "gpg is needed"

K=$T/keys
mkdir -p "$K"
# pkcs7: self-signed RSA certificates; a key+certificate bundle; a password-protected key.
for n in a b; do
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$K/p7$n.key" -out "$K/p7$n.crt" -days 2 \
		-subj "/CN=ccpull pkcs7 $n" 2>/dev/null
done
cat "$K/p7a.crt" "$K/p7a.key" >"$K/p7a-bundle.pem"
openssl pkcs8 -topk8 -in "$K/p7a.key" -out "$K/p7a-pass.key" -passout pass:s3cret
openssl x509 -in "$K/p7a.crt" -outform DER -out "$K/p7a.der"

# pgp: keys in a private GNUPGHOME (skopeo reads recipients from $GNUPGHOME's public keyring).
export GNUPGHOME=$T/gnupg
mkdir -m 0700 "$GNUPGHOME"
# gpg starts an agent for this home: stop it whatever the outcome (lib.sh's _cleanup takes $?).
trap 'rc=$?; gpgconf --homedir "$GNUPGHOME" --kill gpg-agent 2>/dev/null; (exit $rc); _cleanup' EXIT
gpgkey() { # UID PASSPHRASE
	gpg --batch --pinentry-mode loopback --passphrase "$2" --quick-gen-key "$1" rsa2048 cert,sign never 2>/dev/null
	local fpr
	fpr=$(gpg --with-colons -K "$1" | awk -F: '/^fpr/ {print $10; exit}')
	gpg --batch --pinentry-mode loopback --passphrase "$2" --quick-add-key "$fpr" rsa2048 encr never 2>/dev/null
}
gpgkey 'Alice <alice@example.com>' ''
gpgkey 'Bob <bob@example.com>' ''
gpgkey 'Carol <carol@example.com>' 'hunter2'
gpg --batch --export-secret-keys alice@example.com >"$K/alice.gpg"
gpg --batch --armor --export-secret-keys alice@example.com >"$K/alice.asc"
gpg --batch --export-secret-keys bob@example.com >"$K/bob.gpg"
gpg --batch --pinentry-mode loopback --passphrase hunter2 --export-secret-keys carol@example.com >"$K/carol.gpg"
openssl genrsa -out "$K/rsa.pem" 2048 2>/dev/null
openssl rsa -in "$K/rsa.pem" -pubout -out "$K/rsa_pub.pem" 2>/dev/null
head -c 32 /dev/urandom >"$K/kek"
head -c 32 /dev/urandom >"$K/kek-other"

# The plain image: two layers.
OCI=$T/oci
oci_new "$OCI" base
mk_rich_tree "$T/l1"
add_tree_layer "$OCI:base" "$T/l1"
mkdir -p "$T/l2/opt" "$T/l2/etc"
head -c 200000 /dev/urandom >"$T/l2/opt/payload"
printf 'second layer\n' >"$T/l2/etc/motd"
add_tree_layer "$OCI:base" "$T/l2"
umoci tag --image "$OCI:base" v1
umoci_tree "$OCI:v1" "$T/ref"

start_registry
push "$OCI:v1" enc/pkcs7:v1 --encryption-key "pkcs7:$K/p7a.crt"
push "$OCI:v1" enc/pkcs7-two:v1 --encryption-key "pkcs7:$K/p7b.crt" --encryption-key "pkcs7:$K/p7a.crt"
push "$OCI:v1" enc/pgp:v1 --encryption-key pgp:alice@example.com
push "$OCI:v1" enc/pgp-carol:v1 --encryption-key pgp:carol@example.com
push "$OCI:v1" enc/first:v1 --encryption-key "pkcs7:$K/p7a.crt" --encrypt-layer 0
push "$OCI:v1" enc/mixed:v1 --encryption-key pgp:bob@example.com --encryption-key "pkcs7:$K/p7b.crt" \
	--encryption-key "jwe:$K/rsa_pub.pem"

mt() { skopeo inspect --tls-verify=false --raw "docker://$REG/$1" | jq -r '[.layers[].mediaType] | join(" ")'; }
ENC=application/vnd.oci.image.layer.v1.tar+gzip+encrypted
PLAIN=application/vnd.oci.image.layer.v1.tar+gzip
[ "$(mt enc/pkcs7:v1)" = "$ENC $ENC" ] || fail "skopeo did not encrypt both layers: $(mt enc/pkcs7:v1)"
[ "$(mt enc/first:v1)" = "$ENC $PLAIN" ] || fail "skopeo --encrypt-layer 0: $(mt enc/first:v1)"
ann() { skopeo inspect --tls-verify=false --raw "docker://$REG/$1" | jq -r ".layers[0].annotations | keys | join(\" \")"; }
[[ "$(ann enc/mixed:v1)" == *keys.jwe*keys.pgp*keys.pkcs7* ]] || fail "mixed image annotations: $(ann enc/mixed:v1)"

pull_ok() { # NAME REF [ccpull options]
	local name=$1 ref=$2
	shift 2
	log "pull: $name"
	expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-$name" "$@" "$REG/$ref" "$T/b-$name"
	treecmp "$T/ref/rootfs" "$T/b-$name/rootfs"
}
pull_fail() { # NAME RC REF REGEX [ccpull options]
	local name=$1 want=$2 ref=$3 re=$4
	shift 4
	log "pull: $name (expect exit $want)"
	expect "$want" "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-$name" "$@" "$REG/$ref" "$T/b-$name"
	expect_stderr "$re"
	no_rootfs "$T/b-$name"
	if [ -d "$T/store-$name/layers" ] && [ -n "$(find "$T/store-$name/layers" -mindepth 1 -maxdepth 1 ! -name '*.lock' -print -quit)" ]; then
		fail "$name: a failed pull left layers in the store"
	fi
}
# skopeo_tree NAME REF [skopeo --decryption-key options]: skopeo's own decryption, unpacked by umoci.
skopeo_tree() {
	local name=$1 ref=$2
	shift 2
	skopeo copy --quiet --src-tls-verify=false "$@" "docker://$REG/$ref" "oci:$T/sk-$name:x" >/dev/null ||
		fail "skopeo cannot decrypt $ref"
	umoci_tree "$T/sk-$name:x" "$T/sk-tree-$name"
}

# --- pkcs7 ---
pull_ok pkcs7 enc/pkcs7:v1 --decryption-key "pkcs7:$K/p7a.key" --decryption-key "pkcs7:$K/p7a.crt"
pull_ok pkcs7-bundle enc/pkcs7:v1 --decryption-key "pkcs7:$K/p7a-bundle.pem"
pull_ok pkcs7-pass enc/pkcs7:v1 --decryption-key "pkcs7:$K/p7a-pass.key:pass=s3cret" \
	--decryption-key "pkcs7:$K/p7a.der"
pull_ok pkcs7-two enc/pkcs7-two:v1 --decryption-key "pkcs7:$K/p7a-bundle.pem"
pull_ok pkcs7-two-b enc/pkcs7-two:v1 --decryption-key "pkcs7:$K/p7b.key" --decryption-key "pkcs7:$K/p7b.crt"
skopeo_tree pkcs7 enc/pkcs7:v1 --decryption-key "$K/p7a.key" --decryption-key "$K/p7a.crt"
treecmp "$T/sk-tree-pkcs7/rootfs" "$T/b-pkcs7/rootfs"
pull_fail pkcs7-wrong 6 enc/pkcs7:v1 'no decryption key opens it.*pkcs7:.*p7b.*not encrypted for this certificate' \
	--decryption-key "pkcs7:$K/p7b.key" --decryption-key "pkcs7:$K/p7b.crt"
# The right certificate with another key: the pair does not match, refused before any pull.
pull_fail pkcs7-mismatch 2 enc/pkcs7:v1 'needs a private key and the X.509 certificate' \
	--decryption-key "pkcs7:$K/p7b.key" --decryption-key "pkcs7:$K/p7a.crt"
pull_fail pkcs7-nocert 2 enc/pkcs7:v1 'needs a private key and the X.509 certificate' \
	--decryption-key "pkcs7:$K/p7a.key"
pull_fail pkcs7-badpass 2 enc/pkcs7:v1 'password' --decryption-key "pkcs7:$K/p7a-pass.key:pass=wrong" \
	--decryption-key "pkcs7:$K/p7a.crt"
pull_fail pkcs7-jwekey 6 enc/pkcs7:v1 'encrypted for pkcs7.*no decryption key given handles' \
	--decryption-key "jwe:$K/rsa.pem"

# --- pgp --- (ccpull's private GNUPGHOMEs go to $TMPDIR: a directory of this test's own)
TMPGPG=$T/tmp
mkdir -p "$TMPGPG"
export TMPDIR=$TMPGPG
pull_ok pgp enc/pgp:v1 --decryption-key "pgp:$K/alice.gpg"
pull_ok pgp-armored enc/pgp:v1 --decryption-key "pgp:$K/alice.asc"
pull_ok pgp-pass enc/pgp-carol:v1 --decryption-key "pgp:$K/carol.gpg:pass=hunter2"
skopeo_tree pgp enc/pgp:v1 --decryption-key "$K/alice.gpg"
treecmp "$T/sk-tree-pgp/rootfs" "$T/b-pgp/rootfs"
pull_fail pgp-wrong 6 enc/pgp:v1 'no decryption key opens it.*pgp:.*bob\.gpg.*not encrypted for this secret key' \
	--decryption-key "pgp:$K/bob.gpg"
pull_fail pgp-nopass 6 enc/pgp-carol:v1 'needs a password' --decryption-key "pgp:$K/carol.gpg"
pull_fail pgp-badpass 6 enc/pgp-carol:v1 'needs another password' --decryption-key "pgp:$K/carol.gpg:pass=wrong"
pull_fail pgp-notakey 2 enc/pgp:v1 'holds no OpenPGP secret key' --decryption-key "pgp:$K/p7a.crt"
# No gpg-agent or GNUPGHOME of ccpull's is left behind.
# (gpgconf --kill asks the agent to exit: give it a while to do so on a busy machine.)
for i in $(seq 1 100); do
	pgrep -f "gpg-agent.*$TMPGPG/ccpull-gpg-" >/dev/null || break
	sleep 0.2
done
if pgrep -f "gpg-agent.*$TMPGPG/ccpull-gpg-" >/dev/null; then
	fail "a gpg-agent of ccpull is still running: $(pgrep -af "gpg-agent.*$TMPGPG/ccpull-gpg-")"
fi
[ -z "$(find "$TMPGPG" -maxdepth 1 -name 'ccpull-gpg-*' -print -quit)" ] || fail "ccpull left a GNUPGHOME in $TMPGPG"

unset TMPDIR

# --- one image, three schemes: any one key opens it ---
pull_ok mixed-pgp enc/mixed:v1 --decryption-key "pgp:$K/bob.gpg"
pull_ok mixed-pkcs7 enc/mixed:v1 --decryption-key "pkcs7:$K/p7b.key" --decryption-key "pkcs7:$K/p7b.crt"
pull_ok mixed-jwe enc/mixed:v1 --decryption-key "jwe:$K/rsa.pem"
pull_fail mixed-wrong 6 enc/mixed:v1 'encrypted for (jwe|pgp|pkcs7).*tried' --decryption-key "pgp:$K/alice.gpg" \
	--decryption-key "pkcs7:$K/p7a-bundle.pem"

# --- only the first layer encrypted ---
pull_ok first enc/first:v1 --decryption-key "pkcs7:$K/p7a-bundle.pem"
skopeo_tree first enc/first:v1 --decryption-key "$K/p7a.key" --decryption-key "$K/p7a.crt"
treecmp "$T/sk-tree-first/rootfs" "$T/b-first/rootfs"
pull_fail first-nokey 6 enc/first:v1 'layer 1/2 .*no decryption key'

# --- the keyprovider protocol over grpc ---
EOCI=$T/enc-oci
cp -a "$OCI" "$EOCI"
"$PY" "$IT_DIR/ocicrypt_encrypt.py" "$EOCI" v1 kp --provider grpckp --kek "$K/kek"
"$PY" "$IT_DIR/ocicrypt_encrypt.py" "$EOCI" v1 kp-badhmac --provider grpckp --kek "$K/kek" --bad-hmac
for tag in kp kp-badhmac; do
	skopeo copy --quiet --dest-tls-verify=false "oci:$EOCI:$tag" "docker://$REG/enc/grpc:$tag" >/dev/null
done

# start_kp NAME [keyprovider_grpc.py options]: a gRPC keyprovider; its config in $T/kp-NAME.json.
start_kp() {
	local name=$1 i
	shift
	"$PY" "$IT_DIR/keyprovider_grpc.py" "$@" "$T/port-$name" 2>"$T/kp-$name.log" &
	_PIDS+=("$!")
	for i in $(seq 1 300); do
		[ -s "$T/port-$name" ] && break
		kill -0 "$!" 2>/dev/null || fail "gRPC keyprovider $name exited: $(cat "$T/kp-$name.log")"
		sleep 0.1
	done
	[ -s "$T/port-$name" ] || fail "gRPC keyprovider $name did not start"
	printf '{"key-providers": {"grpckp": {"grpc": "127.0.0.1:%s"}}}\n' "$(cat "$T/port-$name")" >"$T/kp-$name.json"
}
start_kp ok "$K/kek" --log "$T/grpc-requests.log"
start_kp array "$K/kek" --array
start_kp other "$K/kek-other"
start_kp deny "$K/kek" --deny
start_kp garbage "$K/kek" --garbage

pull_ok grpc enc/grpc:kp --keyprovider-config "$T/kp-ok.json" --decryption-key provider:grpckp:param-1
grep -q '"dc": {"Parameters": {"grpckp": \["cGFyYW0tMQ=="\]}}' "$T/grpc-requests.log" ||
	fail "the gRPC keyprovider did not get the provider parameters: $(cat "$T/grpc-requests.log")"
grep -q '"op": "keyunwrap"' "$T/grpc-requests.log" || fail "gRPC keyprovider request without op"
log "pull: grpc-env"
OCICRYPT_KEYPROVIDER_CONFIG=$T/kp-array.json expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-grpc-env" \
	"$REG/enc/grpc:kp" "$T/b-grpc-env"
treecmp "$T/ref/rootfs" "$T/b-grpc-env/rootfs"
pull_fail grpc-other 6 enc/grpc:kp 'provider:grpckp \(grpc 127.0.0.1:[0-9]+\).*gRPC status 9.*does not open' \
	--keyprovider-config "$T/kp-other.json"
pull_fail grpc-deny 6 enc/grpc:kp 'gRPC status 7: test keyprovider: denied 100% by policy' \
	--keyprovider-config "$T/kp-deny.json"
pull_fail grpc-garbage 6 enc/grpc:kp 'truncated length-delimited field' --keyprovider-config "$T/kp-garbage.json"
printf '{"key-providers": {"grpckp": {"grpc": "127.0.0.1:%s"}}}\n' "$(free_port)" >"$T/kp-down.json"
pull_fail grpc-down 6 enc/grpc:kp 'gRPC call failed' --keyprovider-config "$T/kp-down.json"
pull_fail grpc-badhmac 5 enc/grpc:kp-badhmac 'HMAC mismatch' --keyprovider-config "$T/kp-ok.json"
