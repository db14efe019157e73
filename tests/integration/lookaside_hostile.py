#!/usr/bin/python3
"""lookaside_hostile.py DIR: a hostile lookaside store on 127.0.0.1 for test_lookaside_limits.sh.

Plain HTTP (port written to DIR/http.port):
  /big/...      every signature-N exists and is 4 MiB - 1 bytes long (Content-Length given); the first
                byte is an OpenPGP packet tag, so each passes for a simple signing signature
  /stream/...   the same without Content-Length (the body ends when the connection closes)
  /good/...     signature-1 is DIR/good.sig, every later signature-N is as in /big/
  /slow/...     signature-1 declares 4 MiB - 1 bytes and sends 2 KiB per second
  /plain/...    404, and the path is appended to DIR/plain.log (the target of a downgrade)
HTTPS with DIR/cert.pem and DIR/key.pem (port written to DIR/https.port):
  /down/...     302 to http://127.0.0.1:<http port>/plain/...
  /up/...       302 to https://127.0.0.1:<https port>/none/... (404)
Requests are logged, one "METHOD PATH" a line, to stderr.
"""
import http.server
import os
import ssl
import sys
import threading
import time

DIR = sys.argv[1]
SIG = (4 << 20) - 1
PGP = b"\xa3"  # an old-format compressed-data packet: what a simple signing signature starts with
PORTS = {}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.command, self.path))

    def send(self, code, length=None, headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def do_GET(self):
        p = self.path
        try:
            if p.startswith("/good/") and p.endswith("/signature-1"):
                with open(os.path.join(DIR, "good.sig"), "rb") as f:
                    body = f.read()
                self.send(200, len(body))
                self.wfile.write(body)
            elif p.startswith("/big/") or p.startswith("/good/"):
                self.send(200, SIG)
                self.wfile.write(PGP + b"x" * (SIG - 1))
            elif p.startswith("/stream/"):
                self.close_connection = True
                self.send(200, None, [("Connection", "close")])
                self.wfile.write(PGP + b"y" * 65535)
                for _ in range(SIG // 65536 - 1):
                    self.wfile.write(b"y" * 65536)
            elif p.startswith("/slow/"):
                self.send(200, SIG)
                for _ in range(SIG // 2048):
                    self.wfile.write(b"z" * 2048)
                    self.wfile.flush()
                    time.sleep(1)
            elif p.startswith("/plain/"):
                with open(os.path.join(DIR, "plain.log"), "a") as f:
                    f.write(p + "\n")
                self.send(404, 0)
            elif p.startswith("/down/"):
                self.send(302, 0, [("Location", "http://127.0.0.1:%d/plain/%s" % (PORTS["http"], p[6:]))])
            elif p.startswith("/up/"):
                self.send(302, 0, [("Location", "https://127.0.0.1:%d/none/%s" % (PORTS["https"], p[4:]))])
            else:
                self.send(404, 0)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True


def serve(name, srv):
    PORTS[name] = srv.server_address[1]
    with open(os.path.join(DIR, name + ".port.tmp"), "w") as f:
        f.write(str(PORTS[name]))


plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
tls = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.path.join(DIR, "cert.pem"), os.path.join(DIR, "key.pem"))
tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
serve("http", plain)
serve("https", tls)
threading.Thread(target=tls.serve_forever, daemon=True).start()
# the ports are published once both servers listen
os.rename(os.path.join(DIR, "https.port.tmp"), os.path.join(DIR, "https.port"))
os.rename(os.path.join(DIR, "http.port.tmp"), os.path.join(DIR, "http.port"))
plain.serve_forever()
