#!/usr/bin/python3
"""Sealed secrets as the Confidential Data Hub's `secret` tool makes them (guest-components
confidential-data-hub/hub/src/bin/secret_cli.rs, hub/src/secret/mod.rs to_signed_base64_string):
"sealed." + base64url(header) + "." + base64url(payload) + "." + base64url(ES256 r||s), base64url
without padding; header {"alg":"ES256","kid":KID}; payload the secret's JSON (serde's field order).

  seal_secret.py keygen PRIV.json PUB.json          a P-256 key pair as JWKs (secret keygen)
  seal_secret.py vault KEY.json KID NAME [PROVIDER]  a vault secret (provider kbs by default)
  seal_secret.py envelope KEY.json KID PROVIDER      an envelope secret (KMS-wrapped key)
  seal_secret.py raw KEY.json HEADER_JSON PAYLOAD_JSON  any header and payload, signed
The secret is printed on stdout.
"""
import base64
import json
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def load_key(path):
    with open(path) as f:
        jwk = json.load(f)
    d = int.from_bytes(unb64u(jwk["d"]), "big")
    return ec.derive_private_key(d, ec.SECP256R1())


def jwk_of(key, private):
    pub = key.public_key().public_numbers()
    j = {"kty": "EC", "crv": "P-256", "x": b64u(pub.x.to_bytes(32, "big")), "y": b64u(pub.y.to_bytes(32, "big")),
         "alg": "ES256", "use": "sig"}
    if private:
        j["d"] = b64u(key.private_numbers().private_value.to_bytes(32, "big"))
    return j


def seal(key, header, payload):
    signing_input = b64u(header.encode()) + "." + b64u(payload.encode())
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return "sealed." + signing_input + "." + b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


def main(argv):
    cmd = argv[1]
    if cmd == "keygen":
        key = ec.generate_private_key(ec.SECP256R1())
        for path, private in ((argv[2], True), (argv[3], False)):
            with open(path, "w") as f:
                json.dump(jwk_of(key, private), f)
        return
    key = load_key(argv[2])
    if cmd == "raw":
        print(seal(key, argv[3], argv[4]))
        return
    header = compact({"alg": "ES256", "kid": argv[3]})
    if cmd == "vault":
        payload = {"version": "0.1.0", "type": "vault", "name": argv[4],
                   "provider": argv[5] if len(argv) > 5 else "kbs", "provider_settings": {}, "annotations": {}}
    elif cmd == "envelope":
        payload = {"version": "0.1.0", "type": "envelope", "provider": argv[4], "key_id": "xxx",
                   "encrypted_key": "eXl5", "encrypted_data": "enp6", "wrap_type": "A256GCM", "iv": "d3d3",
                   "provider_settings": {}, "annotations": {}}
    else:
        sys.exit("unknown command " + cmd)
    print(seal(key, header, compact(payload)))


if __name__ == "__main__":
    main(sys.argv)
