#!/usr/bin/python3
"""A test encryptor that writes ocicrypt's layer encryption format into an OCI layout.

  ocicrypt_encrypt.py LAYOUT SRC_TAG DST_TAG [--jwe PUB.pem]... [--provider NAME --kek FILE]
                      [--coco KID --kek FILE [--coco-wrap A256GCM|A256CTR] [--coco-v2]]
                      [--bad-hmac] [--hmac-in-cipheroptions] [--only-last]

Each layer (or only the last) is encrypted the way containers/ocicrypt does it: a random 32-byte key
and 16-byte nonce, AES-256-CTR, HMAC-SHA256 with the same key over the ciphertext; the private options
{"symkey","digest","cipheroptions":{"nonce"}} are wrapped per scheme:
  jwe:              a JWE (RSA-OAEP for RSA keys, ECDH-ES+A256KW for EC keys, enc A256GCM), flattened
                    JSON serialization like go-jose, in org.opencontainers.image.enc.keys.jwe;
  provider.NAME:    the test keyprovider's packet {"kid","iv","wrapped_data"} (AES-256-GCM under KEK)
                    in org.opencontainers.image.enc.keys.provider.NAME (keyprovider.py unwraps it);
  --coco KID:       CoCo's annotation packet as coco_keyprovider writes it, {"kid": KID, "wrapped_data",
                    "iv", "wrap_type"} with the private options encrypted under the KEK (a KBS resource
                    named by KID) with A256GCM (12-byte iv, tag appended) or A256CTR (16-byte iv), in
                    org.opencontainers.image.enc.keys.provider.attestation-agent; --coco-v2 adds the
                    v2 fields (version "0.1.0", provider "kbs", provider_settings, annotations).
--bad-hmac writes a wrong HMAC (blob and diff_id digests stay right).
"""
import argparse
import base64
import hashlib
import hmac
import json
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jwcrypto import jwe, jwk
from jwcrypto.common import json_encode

b64 = lambda b: base64.b64encode(b).decode()


def blob_path(layout, digest):
    return os.path.join(layout, "blobs", *digest.split(":", 1))


def put_blob(layout, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(blob_path(layout, d), "wb") as f:
        f.write(data)
    return d, len(data)


def wrap_jwe(pub_paths, plain):
    t = jwe.JWE(plain, json_encode({"enc": "A256GCM"}))
    for p in pub_paths:
        with open(p, "rb") as f:
            data = f.read()
        key = serialization.load_pem_public_key(data)
        alg = "ECDH-ES+A256KW" if isinstance(key, ec.EllipticCurvePublicKey) else "RSA-OAEP"
        t.add_recipient(jwk.JWK.from_pem(data), header=json_encode({"alg": alg}))
    return t.serialize().encode()


def wrap_provider(kek, plain):
    iv = os.urandom(12)
    packet = {"kid": "test-kek", "iv": b64(iv), "wrapped_data": b64(AESGCM(kek).encrypt(iv, plain, None))}
    return json.dumps(packet).encode()


def wrap_coco(kek, plain, kid, wrap, v2):
    if wrap == "A256CTR":
        iv = os.urandom(16)
        enc = Cipher(algorithms.AES(kek), modes.CTR(iv)).encryptor()
        wrapped = enc.update(plain) + enc.finalize()
    else:
        iv = os.urandom(12)
        wrapped = AESGCM(kek).encrypt(iv, plain, None)
    packet = {"kid": kid, "wrapped_data": b64(wrapped), "iv": b64(iv), "wrap_type": wrap}
    if v2:
        packet.update(version="0.1.0", provider="kbs", provider_settings={}, annotations={})
    return json.dumps(packet).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("layout")
    ap.add_argument("src_tag")
    ap.add_argument("dst_tag")
    ap.add_argument("--jwe", action="append", default=[])
    ap.add_argument("--provider")
    ap.add_argument("--kek")
    ap.add_argument("--coco")
    ap.add_argument("--coco-wrap", default="A256GCM", choices=["A256GCM", "A256CTR"])
    ap.add_argument("--coco-v2", action="store_true")
    ap.add_argument("--bad-hmac", action="store_true")
    ap.add_argument("--hmac-in-cipheroptions", action="store_true")
    ap.add_argument("--only-last", action="store_true")
    a = ap.parse_args()

    with open(os.path.join(a.layout, "index.json")) as f:
        index = json.load(f)
    src = [m for m in index["manifests"]
           if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == a.src_tag]
    if len(src) != 1:
        raise SystemExit("tag %s not found" % a.src_tag)
    with open(blob_path(a.layout, src[0]["digest"]), "rb") as f:
        manifest = json.load(f)

    for i, layer in enumerate(manifest["layers"]):
        if a.only_last and i != len(manifest["layers"]) - 1:
            continue
        with open(blob_path(a.layout, layer["digest"]), "rb") as f:
            plain_blob = f.read()
        key, nonce = os.urandom(32), os.urandom(16)
        enc = Cipher(algorithms.AES(key), modes.CTR(nonce)).encryptor()
        ct = enc.update(plain_blob) + enc.finalize()
        mac = hmac.new(key, ct, hashlib.sha256).digest()
        if a.bad_hmac:
            mac = bytes([mac[0] ^ 1]) + mac[1:]
        priv = json.dumps({"symkey": b64(key), "digest": layer["digest"],
                           "cipheroptions": {"nonce": b64(nonce)}}).encode()
        pub = {"cipher": "AES_256_CTR_HMAC_SHA256", "hmac": b64(mac), "cipheroptions": {}}
        if a.hmac_in_cipheroptions:
            pub = {"cipher": "AES_256_CTR_HMAC_SHA256", "hmac": None, "cipheroptions": {"hmac": b64(mac)}}
        ann = dict(layer.get("annotations", {}))
        if a.jwe:
            ann["org.opencontainers.image.enc.keys.jwe"] = b64(wrap_jwe(a.jwe, priv))
        if a.provider:
            with open(a.kek, "rb") as f:
                kek = f.read()
            ann["org.opencontainers.image.enc.keys.provider." + a.provider] = b64(wrap_provider(kek, priv))
        if a.coco:
            with open(a.kek, "rb") as f:
                kek = f.read()
            ann["org.opencontainers.image.enc.keys.provider.attestation-agent"] = b64(
                wrap_coco(kek, priv, a.coco, a.coco_wrap, a.coco_v2))
        ann["org.opencontainers.image.enc.pubopts"] = b64(json.dumps(pub).encode())
        digest, size = put_blob(a.layout, ct)
        layer.update({"mediaType": layer["mediaType"] + "+encrypted", "digest": digest, "size": size,
                      "annotations": ann})

    data = json.dumps(manifest).encode()
    digest, size = put_blob(a.layout, data)
    index["manifests"] = [m for m in index["manifests"]
                          if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != a.dst_tag]
    index["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest,
                               "size": size, "annotations": {"org.opencontainers.image.ref.name": a.dst_tag}})
    with open(os.path.join(a.layout, "index.json"), "w") as f:
        json.dump(index, f)


main()
