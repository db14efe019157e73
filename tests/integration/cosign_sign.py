#!/usr/bin/python3
"""cosign_sign.py: what cosign writes, for tests (Debian's skopeo cannot sign sigstore).

  cosign_sign.py keygen OUT.key OUT.pub
      an ECDSA P-256 key pair (PKCS#8 / PKIX PEM)
  cosign_sign.py generate-key-pair OUT.key OUT.pub [--pem-type SIGSTORE|COSIGN] [--scrypt-n N]
      what `cosign generate-key-pair` writes: an ECDSA P-256 key as "ENCRYPTED <TYPE> PRIVATE KEY" PEM
      holding {"kdf": scrypt N r=8 p=1 + salt, "cipher": nacl/secretbox + nonce, "ciphertext"} (the
      secretbox of the PKCS#8 DER under scrypt(COSIGN_PASSWORD)), and OUT.pub (PKIX PEM)
  cosign_sign.py decrypt-key IN.key OUT.key
      decrypts an encrypted key file with COSIGN_PASSWORD into PKCS#8 PEM (for openssl)
  cosign_sign.py ca DIR ISSUER EMAIL NOT_BEFORE NOT_AFTER
      a Fulcio-like root (DIR/ca.pem) and a leaf (DIR/leaf.pem, DIR/leaf.key) valid from NOT_BEFORE to
      NOT_AFTER (Unix times) with code-signing EKU, the email SAN and the OIDC issuer in both extensions
      (1.3.6.1.4.1.57264.1.1 raw, 1.3.6.1.4.1.57264.1.8 UTF8String); DIR/chain.pem = root
  cosign_sign.py sign REGISTRY REPO DIGEST IDENTITY KEY [options]
      pushes the sha256-<hex>.sig manifest for DIGEST in REPO: one simplesigning layer holding the payload,
      ECDSA over the exact payload bytes in dev.cosignproject.cosign/signature.
      --cert PEM --chain PEM     certificate annotations (the key is then the leaf's)
      --rekor-key KEY --time T   a Rekor SET (dev.sigstore.cosign/bundle) for integrated time T
      --signed-digest D          the digest written into the payload (default DIGEST)
      --tamper-payload           change the payload after signing
      --bad-set                  change the SET body after the log signed it
      --append                   keep the signatures already there
      --out-sig FILE --out-payload FILE   also write the raw signature and payload (for openssl dgst)
      KEY may be an encrypted key file (password in COSIGN_PASSWORD, as for cosign).
  cosign_sign.py tamper REGISTRY REPO DIGEST OUTDIR [--positions N]
      reads the sha256-<hex>.sig manifest of DIGEST (first layer) and writes OUTDIR/orig.json (the
      manifest as served) and, for N positions spread over each field (first and last byte included),
      OUTDIR/<field>-<pos>.json with one byte changed: "signature" (annotation text), "certificate"
      (its DER, PEM re-encoded), "bundle" (JSON text), "payload" (pushed as a new blob). Prints
      "field pos file" lines.
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

import nacl.exceptions
import nacl.secret
import nacl.utils
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def b64(data):
    return base64.b64encode(data).decode()


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


# cosign's encrypted key file (go-securesystemslib encrypted.Encrypt): scrypt + NaCl secretbox.
ENC_TYPES = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")
SCRYPT_NS = (32768, 65536, 131072)


def password():
    pw = os.environ.get("COSIGN_PASSWORD")
    if pw is None:
        sys.exit("COSIGN_PASSWORD is not set")
    return pw.encode()


def scrypt_key(pw, salt, n, r, p):
    return hashlib.scrypt(pw, salt=salt, n=n, r=r, p=p, dklen=32, maxmem=256 << 20)


def pem_wrap(pem_type, der):
    body = base64.b64encode(der).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return ("-----BEGIN %s-----\n%s\n-----END %s-----\n" % (pem_type, "\n".join(lines), pem_type)).encode()


def pem_unwrap(data):
    lines = data.decode().strip().splitlines()
    if len(lines) < 3 or not lines[0].startswith("-----BEGIN ") or not lines[-1].startswith("-----END "):
        sys.exit("not a PEM block")
    return lines[0][11:-5], base64.b64decode("".join(lines[1:-1]), validate=True)


def encrypt_key(der, pw, n):
    salt = nacl.utils.random(32)
    nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    box = nacl.secret.SecretBox(scrypt_key(pw, salt, n, 8, 1))
    # SecretBox.encrypt(...).ciphertext is tag || ciphertext, as Go's secretbox.Seal.
    return json.dumps({"kdf": {"name": "scrypt", "params": {"N": n, "r": 8, "p": 1}, "salt": b64(salt)},
                       "cipher": {"name": "nacl/secretbox", "nonce": b64(nonce)},
                       "ciphertext": b64(box.encrypt(der, nonce).ciphertext)}, separators=(",", ":")).encode()


def decrypt_key(blob, pw):
    d = json.loads(blob)
    kdf, cipher = d["kdf"], d["cipher"]
    params = kdf["params"]
    if kdf["name"] != "scrypt" or cipher["name"] != "nacl/secretbox":
        sys.exit("unsupported kdf or cipher: %s, %s" % (kdf["name"], cipher["name"]))
    if params["N"] not in SCRYPT_NS or params["r"] != 8 or params["p"] != 1:
        sys.exit("unsupported scrypt parameters %r" % params)
    key = scrypt_key(pw, base64.b64decode(kdf["salt"], validate=True), params["N"], 8, 1)
    nonce = base64.b64decode(cipher["nonce"], validate=True)
    try:
        return nacl.secret.SecretBox(key).decrypt(base64.b64decode(d["ciphertext"], validate=True), nonce)
    except nacl.exceptions.CryptoError:
        sys.exit("decryption failed: wrong password or corrupt key file")


def load_key(path):
    with open(path, "rb") as f:
        data = f.read()
    if data.lstrip().startswith(b"-----BEGIN ENCRYPTED "):
        pem_type, blob = pem_unwrap(data)
        if pem_type not in ENC_TYPES:
            sys.exit("%s: unsupported PEM type %s" % (path, pem_type))
        return serialization.load_der_private_key(decrypt_key(blob, password()), None)
    return serialization.load_pem_private_key(data, None)


def pub_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def keygen(args):
    key = ec.generate_private_key(ec.SECP256R1())
    with open(args[0], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(args[1], "wb") as f:
        f.write(pub_pem(key))


def generate_key_pair(argv):
    p = argparse.ArgumentParser(prog="cosign_sign.py generate-key-pair")
    p.add_argument("key")
    p.add_argument("pub")
    p.add_argument("--pem-type", choices=("SIGSTORE", "COSIGN"), default="SIGSTORE")
    p.add_argument("--scrypt-n", type=int, choices=SCRYPT_NS, default=32768)
    a = p.parse_args(argv)
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    with open(a.key, "wb") as f:
        f.write(pem_wrap("ENCRYPTED %s PRIVATE KEY" % a.pem_type, encrypt_key(der, password(), a.scrypt_n)))
    with open(a.pub, "wb") as f:
        f.write(pub_pem(key))


def decrypt_key_file(args):
    key = load_key(args[0])
    with open(args[1], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


def ca(args):
    out, issuer, email = args[0], args[1], args[2]
    nb = datetime.datetime.fromtimestamp(int(args[3]), datetime.timezone.utc)
    na = datetime.datetime.fromtimestamp(int(args[4]), datetime.timezone.utc)
    root_key = ec.generate_private_key(ec.SECP384R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ccpull-test"),
                           x509.NameAttribute(NameOID.COMMON_NAME, "ccpull-test-fulcio-root")])
    now = datetime.datetime.now(datetime.timezone.utc)
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(min(nb, now) - datetime.timedelta(days=1))
            .not_valid_after(max(na, now) + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(root_key, hashes.SHA384()))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    raw = issuer.encode()
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(root_name)
            .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(nb).not_valid_after(na)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=True)
            .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1"), raw),
                           critical=False)
            .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8"),
                                                      b"\x0c" + bytes([len(raw)]) + raw), critical=False)
            .sign(root_key, hashes.SHA384()))
    pem = serialization.Encoding.PEM
    with open(out + "/ca.pem", "wb") as f:
        f.write(root.public_bytes(pem))
    with open(out + "/chain.pem", "wb") as f:
        f.write(root.public_bytes(pem))
    with open(out + "/leaf.pem", "wb") as f:
        f.write(leaf.public_bytes(pem))
    with open(out + "/leaf.key", "wb") as f:
        f.write(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def request(method, url, data=None, ctype=None, accept=None):
    req = urllib.request.Request(url, data=data, method=method)
    if ctype:
        req.add_header("Content-Type", ctype)
    if accept:
        req.add_header("Accept", accept)
    return urllib.request.urlopen(req, timeout=30)


def push_blob(base, repo, data):
    with request("POST", f"{base}/v2/{repo}/blobs/uploads/", b"") as r:
        loc = urllib.parse.urljoin(base, r.headers["Location"])
    sep = "&" if "?" in loc else "?"
    request("PUT", f"{loc}{sep}digest={sha(data)}", data, "application/octet-stream").close()


def rekor_set(rekor_key, t, sig_b64, key_or_cert_pem, payload, bad):
    body = {"apiVersion": "0.0.1", "kind": "hashedrekord",
            "spec": {"data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}},
                     "signature": {"content": sig_b64, "publicKey": {"content": b64(key_or_cert_pem)}}}}
    entry = {"body": b64(json.dumps(body, separators=(",", ":")).encode()), "integratedTime": t,
             "logIndex": 42, "logID": hashlib.sha256(pub_pem(rekor_key)).hexdigest()}
    # RFC 8785 for ASCII strings and integers is sorted keys, no white space.
    canonical = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
    set_sig = rekor_key.sign(canonical, ec.ECDSA(hashes.SHA256()))
    if bad:
        body["spec"]["data"]["hash"]["value"] = hashlib.sha256(payload + b" ").hexdigest()
        entry["body"] = b64(json.dumps(body, separators=(",", ":")).encode())
    return json.dumps({"SignedEntryTimestamp": b64(set_sig), "Payload": entry})


def sign(argv):
    p = argparse.ArgumentParser(prog="cosign_sign.py sign")
    for a in ("registry", "repo", "digest", "identity", "key"):
        p.add_argument(a)
    p.add_argument("--cert")
    p.add_argument("--chain")
    p.add_argument("--rekor-key")
    p.add_argument("--time", type=int)
    p.add_argument("--signed-digest")
    p.add_argument("--tamper-payload", action="store_true")
    p.add_argument("--bad-set", action="store_true")
    p.add_argument("--append", action="store_true")
    p.add_argument("--out-sig")
    p.add_argument("--out-payload")
    a = p.parse_args(argv)
    key = load_key(a.key)
    payload = json.dumps({"critical": {"identity": {"docker-reference": a.identity},
                                       "image": {"docker-manifest-digest": a.signed_digest or a.digest},
                                       "type": "cosign container image signature"},
                          "optional": None}, separators=(",", ":")).encode()
    sig = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    if a.out_sig:
        open(a.out_sig, "wb").write(sig)
        open(a.out_payload, "wb").write(payload)
    ann = {"dev.cosignproject.cosign/signature": b64(sig)}
    cert_pem = None
    if a.cert:
        cert_pem = open(a.cert, "rb").read()
        ann["dev.sigstore.cosign/certificate"] = cert_pem.decode()
    if a.chain:
        ann["dev.sigstore.cosign/chain"] = open(a.chain).read()
    if a.rekor_key:
        ann["dev.sigstore.cosign/bundle"] = rekor_set(load_key(a.rekor_key), a.time, b64(sig),
                                                      cert_pem or pub_pem(key), payload, a.bad_set)
    if a.tamper_payload:
        payload = payload.replace(b"docker-reference", b"docker-reference ", 1)
    base = "http://" + a.registry
    tag = "sha256-" + a.digest.split(":", 1)[1] + ".sig"
    layers = []
    if a.append:
        try:
            with request("GET", f"{base}/v2/{a.repo}/manifests/{tag}", accept=OCI_MANIFEST) as r:
                layers = json.load(r)["layers"]
        except urllib.error.HTTPError as e:
            if e.code != 404:
                raise
    push_blob(base, a.repo, payload)
    layers.append({"mediaType": SIMPLESIGNING, "size": len(payload), "digest": sha(payload), "annotations": ann})
    config = json.dumps({"architecture": "", "created": "0001-01-01T00:00:00Z", "history": [{"created": "0001-01-01T00:00:00Z"}],
                         "os": "", "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]},
                         "config": {}}).encode()
    push_blob(base, a.repo, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "size": len(config), "digest": sha(config)},
                           "layers": layers}).encode()
    request("PUT", f"{base}/v2/{a.repo}/manifests/{tag}", manifest, OCI_MANIFEST).close()


def positions(length, n):
    n = min(n, length)
    return sorted({i * (length - 1) // max(n - 1, 1) for i in range(n)})


def tamper(argv):
    p = argparse.ArgumentParser(prog="cosign_sign.py tamper")
    for a in ("registry", "repo", "digest", "outdir"):
        p.add_argument(a)
    p.add_argument("--positions", type=int, default=16)
    a = p.parse_args(argv)
    base = "http://" + a.registry
    tag = "sha256-" + a.digest.split(":", 1)[1] + ".sig"
    with request("GET", f"{base}/v2/{a.repo}/manifests/{tag}", accept=OCI_MANIFEST) as r:
        orig = r.read()
    with open(os.path.join(a.outdir, "orig.json"), "wb") as f:
        f.write(orig)
    manifest = json.loads(orig)
    layer = manifest["layers"][0]
    ann = layer["annotations"]
    with request("GET", f"{base}/v2/{a.repo}/blobs/{layer['digest']}") as r:
        payload = r.read()

    def flip(data, i):
        b = bytearray(data)
        b[i] ^= 0x01
        return bytes(b)

    def emit(field, pos, new_layer):
        m = json.loads(orig)
        m["layers"][0] = new_layer
        out = os.path.join(a.outdir, f"{field}-{pos}.json")
        with open(out, "wb") as f:
            f.write(json.dumps(m).encode())
        print(field, pos, out)

    def with_annotation(name, value):
        return dict(layer, annotations=dict(ann, **{name: value}))

    sig = ann["dev.cosignproject.cosign/signature"].encode()
    for i in positions(len(sig), a.positions):
        emit("signature", i, with_annotation("dev.cosignproject.cosign/signature", flip(sig, i).decode()))
    if "dev.sigstore.cosign/certificate" in ann:
        # Flipping PEM text can leave the DER unchanged (base64 padding bits): change the DER itself.
        cert_type, cert_der = pem_unwrap(ann["dev.sigstore.cosign/certificate"].encode())
        for i in positions(len(cert_der), a.positions):
            emit("certificate", i, with_annotation("dev.sigstore.cosign/certificate",
                                                   pem_wrap(cert_type, flip(cert_der, i)).decode()))
    if "dev.sigstore.cosign/bundle" in ann:
        bundle = ann["dev.sigstore.cosign/bundle"].encode()
        for i in positions(len(bundle), a.positions):
            emit("bundle", i, with_annotation("dev.sigstore.cosign/bundle", flip(bundle, i).decode()))
    for i in positions(len(payload), a.positions):
        bad = flip(payload, i)
        push_blob(base, a.repo, bad)
        emit("payload", i, dict(layer, digest=sha(bad), size=len(bad)))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    {"keygen": keygen, "generate-key-pair": generate_key_pair, "decrypt-key": decrypt_key_file, "ca": ca,
     "sign": sign, "tamper": tamper}.get(cmd, lambda _: sys.exit(__doc__))(args)


if __name__ == "__main__":
    main()
