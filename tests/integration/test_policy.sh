#!/bin/bash
# Signature policy: images signed by skopeo (--sign-by, GPG key made here) into a lookaside store read
# over file:// and http://; for every policy x image pair ccpull's decision (exit 0 or 3) must agree
# with skopeo's own copy under the same policy and registries.d.
. "$(dirname "$0")/lib.sh"

command -v gpg >/dev/null 2>&1 || skip "gpg is not installed (see .ci/packages)"
command -v openssl >/dev/null 2>&1 || skip "openssl is not installed"

export GNUPGHOME=$T/gnupg
mkdir -m 0700 "$GNUPGHOME"
gpg --batch --passphrase '' --quick-gen-key 'ccpull trusted <trusted@example.com>' ed25519 sign never 2>/dev/null
gpg --batch --passphrase '' --quick-gen-key 'ccpull other <other@example.com>' ed25519 sign never 2>/dev/null
fpr() { gpg --with-colons --list-keys "$1" | awk -F: '$1 == "fpr" { print $10; exit }'; }
TRUSTED=$(fpr trusted@example.com)
OTHER=$(fpr other@example.com)
gpg --export "$TRUSTED" >"$T/trusted.gpg"
gpg --export "$OTHER" >"$T/other.gpg"
KEYDATA=$(base64 -w0 "$T/trusted.gpg")
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/cosign.key" 2>/dev/null
openssl pkey -in "$T/cosign.key" -pubout -out "$T/cosign.pub"

start_registry
SIGS=$T/sigstore
mkdir -p "$SIGS" "$T/regd-file" "$T/regd-http"
cat >"$T/regd-file/default.yaml" <<-EOF
	default-docker:
	  lookaside: file://$SIGS
	  lookaside-staging: file://$SIGS
