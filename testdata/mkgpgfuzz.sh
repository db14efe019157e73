#!/bin/bash
# Makes the gpg_verify fuzz target's key and seeds: a throwaway OpenPGP key (its public half in
# fuzz/gpg_fuzz_key.h), a simple signature it made over a simple-signing payload, and the same
# signature truncated and with a flipped byte. Run from the project root; needs gpg.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
G=$(mktemp -d)
trap 'gpgconf --homedir "$G" --kill all 2>/dev/null || true; rm -rf "$G"' EXIT
chmod 700 "$G"
export GNUPGHOME=$G
gpg --batch --passphrase '' --quick-gen-key fuzz@ccpull.invalid ed25519 sign never 2>/dev/null
OUT=$ROOT/fuzz/corpora/gpg_verify
mkdir -p "$OUT"
{
	echo "/* Made by testdata/mkgpgfuzz.sh: the public key the gpg_verify fuzz target trusts. */"
	echo "static const char gpg_fuzz_key[] ="
	gpg --batch --armor --export fuzz@ccpull.invalid | sed 's/.*/\t"&\\n"/'
	printf "\t;\n"
} >"$ROOT/fuzz/gpg_fuzz_key.h"
payload='{"critical":{"identity":{"docker-reference":"registry.example.com/app:1"},"image":{"docker-manifest-digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"},"type":"atomic container signature"},"optional":null}'
printf '%s' "$payload" | gpg --batch --sign >"$OUT/valid.sig"
head -c 40 "$OUT/valid.sig" >"$OUT/truncated.sig"
/usr/bin/python3 - "$OUT/valid.sig" "$OUT/flipped.sig" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 0x01
open(sys.argv[2], "wb").write(bytes(b))
PY
printf '%s' "$payload" | gpg --batch --clearsign >"$OUT/clearsigned.asc"
