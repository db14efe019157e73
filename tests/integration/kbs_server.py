#!/usr/bin/python3
"""A test Key Broker Service following Trustee's KBS attestation protocol (kbs_attestation_protocol.md).

  kbs_server.py --resources FILE --port-file FILE [--log FILE] [--hash sha256|sha384|sha512]
                [--session-uses N] [--token-uses N] [--refuse] [--tamper-jwe] [--deny REPO/TYPE/TAG]...
                [--stall-auth]

POST /kbs/v0/auth      {version, tee, extra-params} -> challenge {nonce, extra-params} + kbs-session-id cookie
POST /kbs/v0/attest    {runtime-data: {nonce, tee-pubkey}, tee-evidence: {primary_evidence, additional_evidence}}
                       -> {"token": JWT}; the sample verifier's check: the evidence's report_data must equal
                       hash(canonical JSON {additional-evidence, nonce, tee-pubkey}) (sha384 unless --hash)
GET  /kbs/v0/resource/REPO/TYPE/TAG  (cookie of an attested session, or "Authorization: Bearer" with a
                       token this KBS issued, as an attestation agent's token reaches it through CDH's
                       cc_kbc) -> flattened JWE to the session's (or the token's) tee-pubkey:
                       ECDH-ES+A256KW (P-256) or RSA-OAEP-256, enc A256GCM
Errors are RFC 7807 {"type": ".../kbs/errors/<T>", "detail"}. --resources is a JSON object mapping
REPO/TYPE/TAG to base64 contents. --session-uses N forgets a session after N resources (the client must
re-attest after a 401); --token-uses N refuses a Bearer token after N resources (the client must get a
new token). --refuse fails every attestation; --tamper-jwe flips a ciphertext bit;
--stall-auth never answers an attestation request (logged "auth stalled").
The log records one line per event (auth, attest ok|refused, tee-pubkey KTY, bearer ok|refused,
resource PATH STATUS).
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

ERR = "https://github.com/confidential-containers/kbs/errors/"
HASHES = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}

b64u = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64u_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def canonical(v):
    # RFC 8785 for the strings, objects and integers of the runtime data (ASCII keys).
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def concat_kdf(z, alg):
    # RFC 7518 4.6.2, one SHA-256 round for a 256-bit key, empty apu/apv.
    info = len(alg).to_bytes(4, "big") + alg.encode() + (0).to_bytes(4, "big") * 2 + (256).to_bytes(4, "big")
    return hashlib.sha256((1).to_bytes(4, "big") + z + info).digest()


def jwe_for(jwk, plain):
    cek, iv = os.urandom(32), os.urandom(12)
    if jwk.get("kty") == "EC":
        if jwk.get("crv") != "P-256":
            raise ValueError("unsupported curve")
        x, y = int.from_bytes(b64u_dec(jwk["x"]), "big"), int.from_bytes(b64u_dec(jwk["y"]), "big")
        peer = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        eph = ec.generate_private_key(ec.SECP256R1())
        kek = concat_kdf(eph.exchange(ec.ECDH(), peer), "ECDH-ES+A256KW")
        ek = aes_key_wrap(kek, cek)
        n = eph.public_key().public_numbers()
        prot = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM",
                "epk": {"crv": "P-256", "kty": "EC", "x": b64u(n.x.to_bytes(32, "big")),
                        "y": b64u(n.y.to_bytes(32, "big"))}}
    elif jwk.get("kty") == "RSA":
        n, e = int.from_bytes(b64u_dec(jwk["n"]), "big"), int.from_bytes(b64u_dec(jwk["e"]), "big")
        pub = rsa.RSAPublicNumbers(e, n).public_key()
        ek = pub.encrypt(cek, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
        prot = {"alg": "RSA-OAEP-256", "enc": "A256GCM"}
    else:
        raise ValueError("unsupported key type")
    prot_b64 = b64u(json.dumps(prot, separators=(",", ":")).encode())
    ct = AESGCM(cek).encrypt(iv, plain, prot_b64.encode())
    return {"protected": prot_b64, "encrypted_key": b64u(ek), "iv": b64u(iv),
            "ciphertext": b64u(ct[:-16]), "tag": b64u(ct[-16:])}


class KBS:
    def __init__(self, a):
        self.a = a
        with open(a.resources) as f:
            self.resources = {k: base64.b64decode(v) for k, v in json.load(f).items()}
        self.sessions = {}
        self.token_uses = {}
        self.secret = os.urandom(32)
        self.lock = threading.Lock()

    def log(self, line):
        if self.a.log:
            with self.lock, open(self.a.log, "a") as f:
                f.write(line + "\n")

    def token(self, claims):
        h = b64u(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        p = b64u(json.dumps(claims).encode())
        sig = hmac.new(self.secret, (h + "." + p).encode(), hashlib.sha256).digest()
        return h + "." + p + "." + b64u(sig)

    def verify(self, token):
        # the claims of a token this KBS issued and that has not expired, else None
        try:
            h, p, sig = token.split(".")
            want = hmac.new(self.secret, (h + "." + p).encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(b64u_dec(sig), want):
                return None
            claims = json.loads(b64u_dec(p))
            return claims if claims.get("exp", 0) > time.time() and "tee-pubkey" in claims else None
        except (ValueError, TypeError, AttributeError):
            return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, cookie=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if cookie:
            self.send_header("Set-Cookie", "kbs-session-id=%s; Path=/kbs; HttpOnly" % cookie)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, kind, detail):
        self.reply(status, {"type": ERR + kind, "detail": detail})

    def body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return json.loads(self.rfile.read(n) or b"null")

    def session(self):
        m = re.search(r"kbs-session-id=([^;\s]+)", self.headers.get("Cookie", ""))
        return m.group(1) if m else None

    def do_POST(self):
        kbs = self.server.kbs
        try:
            req = self.body()
        except ValueError:
            return self.error(400, "SerdeError", "request is not JSON")
        if self.path == "/kbs/v0/auth":
            if kbs.a.stall_auth:
                kbs.log("auth stalled")
                time.sleep(3600)
                return None
            v = str(req.get("version", "")) if isinstance(req, dict) else ""
            if not re.fullmatch(r"0\.4\.\d+", v):
                kbs.log("auth refused version=%s" % v)
                return self.error(401, "AttestationError",
                                  "KBS Client Protocol Version Mismatch: expect ^0.4.0 while the request is %s" % v)
            if req.get("tee") != "sample":
                kbs.log("auth refused tee=%s" % req.get("tee"))
                return self.error(401, "AttestationError", "this KBS has only the sample verifier")
            extra, algs = {}, req.get("extra-params", {}).get("supported-hash-algorithms", [])
            hash_name = "sha384"
            if kbs.a.hash:
                if kbs.a.hash not in algs:
                    return self.error(401, "AttestationError", "client does not support %s" % kbs.a.hash)
                hash_name = kbs.a.hash
                extra["selected-hash-algorithm"] = hash_name.upper()
            sid, nonce = secrets.token_hex(16), base64.b64encode(os.urandom(32)).decode()
            kbs.sessions[sid] = {"nonce": nonce, "hash": hash_name, "attested": False}
            kbs.log("auth")
            return self.reply(200, {"nonce": nonce, "extra-params": extra}, cookie=sid)
        if self.path == "/kbs/v0/attest":
            sid = self.session()
            s = kbs.sessions.get(sid)
            if not s:
                return self.error(401, "AttestationError", "session not found")
            try:
                rd, ev = req["runtime-data"], req["tee-evidence"]
                if rd["nonce"] != s["nonce"]:
                    raise ValueError("the nonce differs from the session's")
                material = canonical({"tee-pubkey": rd["tee-pubkey"], "nonce": s["nonce"],
                                      "additional-evidence": ev["additional_evidence"]})
                want = HASHES[s["hash"]](material).digest()
                got = base64.b64decode(ev["primary_evidence"]["report_data"], validate=True)
                if ev["primary_evidence"].get("svn") != "1":
                    raise ValueError("sample evidence without svn 1")
                if got != want or kbs.a.refuse:
                    raise ValueError("REPORT_DATA is different from that in Sample Quote")
            except (KeyError, TypeError, ValueError) as ex:
                kbs.log("attest refused")
                return self.error(401, "AttestationError", "verify TEE evidence failed: %s" % ex)
            s.update(attested=True, pubkey=rd["tee-pubkey"], uses=0,
                     token=kbs.token({"exp": int(time.time()) + 3600, "iat": int(time.time()),
                                      "tee-pubkey": rd["tee-pubkey"]}))
            kbs.log("attest ok")
            kbs.log("tee-pubkey %s" % rd["tee-pubkey"].get("kty"))
            return self.reply(200, {"token": s["token"]}, cookie=sid)
        self.error(404, "InvalidRequestPath", "no such endpoint")

    def do_GET(self):
        kbs = self.server.kbs
        m = re.fullmatch(r"/kbs/v0/resource/([^/]+/[^/]+/[^/]+)", self.path)
        if not m:
            return self.error(404, "InvalidRequestPath", "no such endpoint")
        path = m.group(1)
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            tok = auth[7:]
            claims = kbs.verify(tok)
            uses = kbs.token_uses.get(tok, 0)
            if not claims or (kbs.a.token_uses and uses >= kbs.a.token_uses):
                kbs.log("bearer refused")
                kbs.log("resource %s 401" % path)
                return self.error(401, "TokenVerifierError", "token not valid")
            kbs.token_uses[tok] = uses + 1
            kbs.log("bearer ok")
            s = {"attested": True, "pubkey": claims["tee-pubkey"], "uses": 0}
        else:
            s = kbs.sessions.get(self.session())
        if not s or not s["attested"]:
            kbs.log("resource %s 401" % path)
            return self.error(401, "TokenNotFound", "no attested session")
        if kbs.a.session_uses and s["uses"] >= kbs.a.session_uses and not auth.startswith("Bearer "):
            del kbs.sessions[self.session()]
            kbs.log("resource %s 401" % path)
            return self.error(401, "TokenVerifierError", "session expired")
        s["uses"] += 1
        if path in kbs.a.deny:
            kbs.log("resource %s 403" % path)
            return self.error(403, "PolicyDeny", "resource policy denies %s" % path)
        if path not in kbs.resources:
            kbs.log("resource %s 404" % path)
            return self.error(404, "PluginInternalError", "resource %s not found" % path)
        jwe = jwe_for(s["pubkey"], kbs.resources[path])
        if kbs.a.tamper_jwe:
            ct = bytearray(b64u_dec(jwe["ciphertext"]))
            ct[0] ^= 1
            jwe["ciphertext"] = b64u(bytes(ct))
        kbs.log("resource %s 200" % path)
        self.reply(200, jwe)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--resources", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--hash", choices=sorted(HASHES))
    ap.add_argument("--session-uses", type=int, default=0)
    ap.add_argument("--token-uses", type=int, default=0)
    ap.add_argument("--refuse", action="store_true")
    ap.add_argument("--tamper-jwe", action="store_true")
    ap.add_argument("--deny", action="append", default=[])
    ap.add_argument("--stall-auth", action="store_true")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve HTTPS with this certificate chain and key")
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        # the handshake runs in the request's thread: a client that gives up cannot stall accept()
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    srv.kbs = KBS(a)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
