#!/usr/bin/python3
"""A minimal registry token server (the Docker "token" auth flow) for the integration tests.

It creates an ECDSA P-256 key and a self-signed certificate, writes the certificate to CERT (the
registry's auth.token.rootcertbundle), listens on 127.0.0.1 on a free port that it writes to
PORTFILE, and answers GET /token?service=S&scope=repository:NAME:pull with a JWT signed by that key
(header "x5c" holds the certificate), for users given as USER:PASS. Only "pull" is ever granted.
Requests without valid Basic credentials get 401. POST /token takes the OAuth2 refresh-token grant
(form fields grant_type=refresh_token, refresh_token, service, scope) for identity tokens given as
--refresh-token TOKEN:USER. --redirect PATH=URL answers GET and POST of PATH with a 307 to URL (the
query string appended), e.g. to another origin. Each request is logged on stderr (no secrets).
"""
import argparse
import base64
import datetime
import http.server
import json
import os
import sys
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_key_and_cert(issuer):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def sign_jwt(key, cert, claims):
    header = {"typ": "JWT", "alg": "ES256",
              "x5c": [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]}
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(claims, separators=(",", ":")).encode()))
    der = key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    # JWS ES256 wants the raw r||s form, not DER.
    return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True, help="where to write the signing certificate (PEM)")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--issuer", default="ccpull-test-issuer")
    ap.add_argument("--service", default="ccpull-test-registry")
    ap.add_argument("--user", action="append", default=[], help="USER:PASS (repeatable)")
    ap.add_argument("--refresh-token", action="append", default=[], help="TOKEN:USER (repeatable)")
    ap.add_argument("--redirect", action="append", default=[], help="PATH=URL (repeatable)")
    args = ap.parse_args()

    users = dict(u.split(":", 1) for u in args.user)
    refresh = dict(t.split(":", 1) for t in args.refresh_token)
    redirects = dict(r.split("=", 1) for r in args.redirect)
    key, cert = make_key_and_cert(args.issuer)
    with open(args.cert + ".tmp", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    os.rename(args.cert + ".tmp", args.cert)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):
            sys.stderr.write("tokenserver: " + (fmt % a) + "\n")

        def reply(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if code == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="token"')
            self.end_headers()
            self.wfile.write(data)

        def redirect(self, url):
            if url.path not in redirects:
                return False
            target = redirects[url.path] + ("?" + url.query if url.query else "")
            sys.stderr.write("tokenserver: redirecting %s %s\n" % (self.command, url.path))
            self.send_response(307)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True

        def do_POST(self):
            url = urllib.parse.urlsplit(self.path)
            n = int(self.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(self.rfile.read(min(n, 1 << 20)).decode())
            if self.redirect(url):
                return
            if url.path != "/token":
                return self.reply(404, {"error": "not found"})
            if form.get("grant_type", [""])[0] != "refresh_token" or \
                    form.get("service", [""])[0] != args.service:
                return self.reply(400, {"error": "unsupported_grant_type"})
            user = refresh.get(form.get("refresh_token", [""])[0])
            if user is None:
                sys.stderr.write("tokenserver: denied (unknown refresh token)\n")
                return self.reply(401, {"error": "invalid_grant"})
            self.issue(user, form.get("scope", []))

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            if self.redirect(url):
                return
            if url.path != "/token":
                return self.reply(404, {"error": "not found"})
            q = urllib.parse.parse_qs(url.query)
            if q.get("service", [""])[0] != args.service:
                return self.reply(400, {"error": "wrong service"})
            auth = self.headers.get("Authorization", "")
            user = None
            if auth.startswith("Basic "):
                try:
                    u, p = base64.b64decode(auth[6:], validate=True).decode().split(":", 1)
                except Exception:
                    return self.reply(400, {"error": "bad Authorization header"})
                if users.get(u) == p:
                    user = u
            if user is None:
                sys.stderr.write("tokenserver: denied (no or wrong credentials)\n")
                return self.reply(401, {"error": "authentication required"})
            self.issue(user, q.get("scope", []))

        def issue(self, user, scopes):
            access = []
            for scope in scopes:
                parts = scope.split(":")
                if len(parts) != 3 or parts[0] != "repository":
                    continue
                actions = [a for a in parts[2].split(",") if a == "pull"]
                access.append({"type": "repository", "name": parts[1], "actions": actions})
            now = int(time.time())
            claims = {"iss": args.issuer, "sub": user, "aud": args.service, "exp": now + 300,
                      "nbf": now - 30, "iat": now, "jti": b64url(os.urandom(12)), "access": access}
            tok = sign_jwt(key, cert, claims)
            sys.stderr.write("tokenserver: issued token for %s scopes=%s\n" % (user, scopes))
            self.reply(200, {"token": tok, "access_token": tok, "expires_in": 300,
                             "issued_at": datetime.datetime.fromtimestamp(
                                 now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
