#!/usr/bin/python3
"""Makes the JWE test vectors of tests/unit/test_ocicrypt.c in testdata/ocicrypt/ (python3-jwcrypto).

Keys: RSA 2048 (PEM; also password-protected PKCS#8 and DER), EC P-256, P-384, P-521. Each vector
wraps PLAIN (an ocicrypt PrivateLayerBlockCipherOptions document) for one or more recipients in
the serializations ocicrypt's peers write: go-jose's flattened and general JSON, and compact.
Run: testdata/mkjwe.py [OUTDIR]
"""
import json
import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwcrypto import jwe, jwk
from jwcrypto.common import json_encode

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "ocicrypt")
os.makedirs(OUT, exist_ok=True)

PLAIN = json.dumps({
    "symkey": "Bj0wJ3xNYvhzN2l9b1f8bQ2mTgC7q7X0A4y1sI8m6xE=",
    "digest": "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
    "cipheroptions": {"nonce": "AAECAwQFBgcICQoLDA0ODw=="},
}, separators=(",", ":")).encode()


def write(name, data, mode=0o644):
    p = os.path.join(OUT, name)
    with open(p, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    os.chmod(p, mode)


def pem(key, password=None):
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
rsa2_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ec_keys = {n: ec.generate_private_key(c) for n, c in
           (("p256", ec.SECP256R1()), ("p384", ec.SECP384R1()), ("p521", ec.SECP521R1()))}

write("rsa.pem", pem(rsa_key), 0o600)
write("rsa_other.pem", pem(rsa2_key), 0o600)
write("rsa_pass.pem", pem(rsa_key, b"s3cret"), 0o600)
write("rsa.der", rsa_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()), 0o600)
for n, k in ec_keys.items():
    write("ec_%s.pem" % n, pem(k), 0o600)
write("plain.json", PLAIN)


def jwk_of(key):
    return jwk.JWK.from_pem(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))


def make(recipients, compact=False, protected=None):
    """recipients: [(key, alg, extra header)]; enc is always A256GCM in the protected header."""
    prot = {"enc": "A256GCM"}
    if protected:
        prot.update(protected)
    if compact:
        key, alg, extra = recipients[0]
        prot["alg"] = alg
        prot.update(extra)
        t = jwe.JWE(PLAIN, json_encode(prot))
        t.add_recipient(jwk_of(key))
        return t.serialize(compact=True)
    t = jwe.JWE(PLAIN, json_encode(prot))
    for key, alg, extra in recipients:
        h = {"alg": alg}
        h.update(extra)
        t.add_recipient(jwk_of(key), header=json_encode(h))
    return t.serialize()


write("rsa_oaep_flat.jwe", make([(rsa_key, "RSA-OAEP", {})]))
write("rsa_oaep256_compact.jwe", make([(rsa_key, "RSA-OAEP-256", {})], compact=True))
write("ecdh_p256_flat.jwe", make([(ec_keys["p256"], "ECDH-ES+A256KW", {})]))
write("ecdh_p384_compact.jwe", make([(ec_keys["p384"], "ECDH-ES+A256KW", {})], compact=True))
write("ecdh_p521_flat.jwe", make([(ec_keys["p521"], "ECDH-ES+A256KW", {})]))
write("ecdh_p256_apu_compact.jwe", make([(ec_keys["p256"], "ECDH-ES+A256KW",
                                          {"apu": "QWxpY2U", "apv": "Qm9i"})], compact=True))
# Several recipients: general serialization, as go-jose writes for more than one public key.
write("multi_general.jwe", make([(rsa2_key, "RSA-OAEP", {}), (ec_keys["p384"], "ECDH-ES+A256KW", {}),
                                 (rsa_key, "RSA-OAEP-256", {})]))
# go-jose's general serialization also repeats the first recipient's encrypted_key at the top.
_g = json.loads(open(os.path.join(OUT, "multi_general.jwe")).read())
_g["encrypted_key"] = _g["recipients"][0]["encrypted_key"]
write("multi_gojose.jwe", json.dumps(_g))
# Algorithms ccpull refuses.
write("a128gcm_compact.jwe", (lambda: (lambda t: (t.add_recipient(jwk_of(rsa_key)), t.serialize(compact=True))[1])(
    jwe.JWE(PLAIN, json_encode({"alg": "RSA-OAEP", "enc": "A128GCM"}))))())
write("ecdh_direct_compact.jwe", make([(ec_keys["p256"], "ECDH-ES", {})], compact=True))
print("wrote", OUT)

# Seeds of fuzz/jwe_fuzzer.c (first byte: 0 RSA key, 1 EC P-256 key) and the keys it embeds.
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if len(sys.argv) <= 1:
    seeds = os.path.join(SRC, "fuzz", "corpora", "jwe")
    os.makedirs(seeds, exist_ok=True)
    for name, sel in (("rsa_oaep_flat.jwe", 0), ("rsa_oaep256_compact.jwe", 0), ("multi_general.jwe", 0),
                      ("ecdh_p256_flat.jwe", 1), ("ecdh_p256_apu_compact.jwe", 1), ("ecdh_direct_compact.jwe", 1),
                      ("a128gcm_compact.jwe", 0)):
        with open(os.path.join(OUT, name), "rb") as f:
            data = f.read()
        with open(os.path.join(seeds, name), "wb") as f:
            f.write(bytes([sel]) + data)

    def c_string(b):
        return "\n".join('\t"%s\\n"' % line for line in b.decode().splitlines())

    with open(os.path.join(SRC, "fuzz", "jwe_fuzzer_keys.h"), "w") as f:
        f.write("/* Generated by testdata/mkjwe.py: the keys of testdata/ocicrypt/{rsa,ec_p256}.pem. */\n")
        f.write("static const char fuzz_rsa_pem[] =\n%s;\n" % c_string(pem(rsa_key)))
        f.write("static const char fuzz_ec_pem[] =\n%s;\n" % c_string(pem(ec_keys["p256"])))
