# shellcheck shell=bash
# Shared by the KBS tests that need one CoCo-encrypted image (sourced after lib.sh): an image whose
# layers are encrypted the way coco_keyprovider does it (KEK kbs:///default/image-kek/k1), pushed as
# $REG/kbs/enc:gcm; its plain rootfs in $T/ref/rootfs; the resources ($T/resources.json: the policy
# accepting $REG/kbs and the KEK, served by start_kbs of lib.sh); PULL, the pull options taking the
# policy from the KBS.

"$PY" -c 'import jwcrypto, cryptography' 2>/dev/null || skip "python3-jwcrypto and python3-cryptography are needed"

mkdir -p "$T/keys"
head -c 32 /dev/urandom >"$T/keys/kek"
oci_new "$T/oci" base
mk_rich_tree "$T/l1"
add_tree_layer "$T/oci:base" "$T/l1"
umoci_tree "$T/oci:base" "$T/ref"
cp -a "$T/oci" "$T/enc"
"$PY" "$IT_DIR/ocicrypt_encrypt.py" "$T/enc" base gcm --coco "kbs:///default/image-kek/k1" --kek "$T/keys/kek"
start_registry
skopeo copy --quiet --dest-tls-verify=false "oci:$T/enc:gcm" "docker://$REG/kbs/enc:gcm" >/dev/null

cat >"$T/policy.json" <<-EOF
	{"default": [{"type": "reject"}],
	 "transports": {"docker": {"$REG/kbs": [{"type": "insecureAcceptAnything"}]}}}
EOF
cat >"$T/resources.json" <<-EOF
	{"default/security-policy/test": "$(base64 -w0 "$T/policy.json")",
	 "default/image-kek/k1": "$(base64 -w0 "$T/keys/kek")"}
EOF

PULL=(pull --tls-verify=false --snapshotter copy --policy kbs:///default/security-policy/test)

# kbs_pull_ok NAME [options]: pulls $REG/kbs/enc:gcm into $T/b-NAME and compares with the plain image.
kbs_pull_ok() {
	local name=$1
	shift
	log "pull: $name"
	expect 0 "$CCPULL" "${PULL[@]}" --store "$T/store-$name" "$@" "$REG/kbs/enc:gcm" "$T/b-$name"
	treecmp "$T/ref/rootfs" "$T/b-$name/rootfs"
}

# kbs_pull_fail NAME RC REGEX [options]: fails with RC and a message matching REGEX, leaving no rootfs.
kbs_pull_fail() {
	local name=$1 want=$2 re=$3
	shift 3
	log "pull: $name (expect exit $want)"
	expect "$want" "$CCPULL" "${PULL[@]}" --store "$T/store-$name" "$@" "$REG/kbs/enc:gcm" "$T/b-$name"
	expect_stderr "$re"
	no_rootfs "$T/b-$name"
}
