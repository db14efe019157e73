#!/usr/bin/python3
"""A registry front with the X-Registry-Supports-Signatures API extension, for tests (standard library only).

Usage: sigext_proxy.py PORT_FILE UPSTREAM(host:port) SIGDIR LOG_FILE (it binds a free port and writes
its number to PORT_FILE)

Forwards every request to UPSTREAM (a plain-HTTP docker-registry). The answer to GET /v2/ carries
"X-Registry-Supports-Signatures: 1" unless SIGDIR/.no-header exists (checked at every request).
GET /extensions/v2/<name>/signatures/<digest> answers the signatures skopeo --sign-by wrote to a
lookaside staging directory: SIGDIR/<name>@<algo>=<hex>/signature-1, -2, ... as
{"signatures": [{"schemaVersion": 2, "name": "<digest>@<n>", "type": "atomic", "content": base64}]}.
When that directory holds list.json, its bytes are the answer instead (for malformed lists), and
status.txt, when present, gives the HTTP status. Logs "METHOD PATH STATUS" per request to LOG_FILE.
"""
import base64
import http.client
import http.server
import json
import os
import re
import sys

PORT_FILE, UPSTREAM, SIGDIR, LOG = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
EXT = re.compile(r"^/extensions/v2/(.+)/signatures/(sha256):([0-9a-f]{64})$")
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def log(line):
    with open(LOG, "a") as f:
        f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, headers=(), length=None):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        log("%s %s %d" % (self.command, self.path, status))

    def extension(self, m):
        name, algo, hexd = m.groups()
        d = os.path.join(SIGDIR, "%s@%s=%s" % (name, algo, hexd))
        if ".." in name or name.startswith("/"):
            return self.reply(400, b"bad name")
        status = 200
        if os.path.exists(os.path.join(d, "status.txt")):
            with open(os.path.join(d, "status.txt")) as f:
                status = int(f.read().strip())
        if os.path.exists(os.path.join(d, "list.json")):
            with open(os.path.join(d, "list.json"), "rb") as f:
                return self.reply(status, f.read(), [("Content-Type", "application/json")])
        sigs, n = [], 1
        while os.path.exists(os.path.join(d, "signature-%d" % n)):
            with open(os.path.join(d, "signature-%d" % n), "rb") as f:
                sigs.append({"schemaVersion": 2, "name": "%s:%s@%032x" % (algo, hexd, n), "type": "atomic",
                             "content": base64.b64encode(f.read()).decode()})
            n += 1
        body = json.dumps({"signatures": sigs}).encode()
        self.reply(status, body, [("Content-Type", "application/json")])

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(UPSTREAM, timeout=60)
        # header by header: clients send Accept more than once
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in HOP and k.lower() != "content-length":
                conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        extra = []
        if self.path == "/v2/" and not os.path.exists(os.path.join(SIGDIR, ".no-header")):
            extra.append(("X-Registry-Supports-Signatures", "1"))
        out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP and k.lower() != "content-length"]
        # a HEAD answer has no body but the upstream's length
        self.reply(resp.status, data, out + extra, resp.getheader("Content-Length") if self.command == "HEAD" else None)
        conn.close()

    def handle_any(self):
        m = EXT.match(self.path)
        if m and self.command == "GET":
            return self.extension(m)
        return self.forward()

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
srv.serve_forever()
