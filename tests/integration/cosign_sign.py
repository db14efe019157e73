#!/usr/bin/python3
"""cosign_sign.py: what cosign writes, for tests (Debian's skopeo cannot sign sigstore).

  cosign_sign.py keygen OUT.key OUT.pub
      an ECDSA P-256 key pair (PKCS#8 / PKIX PEM)
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
"""
import argparse
import base64
import datetime
import hashlib
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

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


def load_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


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


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    {"keygen": keygen, "ca": ca, "sign": sign}.get(cmd, lambda _: sys.exit(__doc__))(args)


if __name__ == "__main__":
    main()
