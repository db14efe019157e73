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
import json
import os
import re
import sys

from relay import Relay, serve

PORT_FILE, UPSTREAM, SIGDIR, LOG = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
EXT = re.compile(r"^/extensions/v2/(.+)/signatures/(sha256):([0-9a-f]{64})$")


class Handler(Relay):
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

    def extra_headers(self):
        if self.path == "/v2/" and not os.path.exists(os.path.join(SIGDIR, ".no-header")):
            return [("X-Registry-Supports-Signatures", "1")]
        return []

    def handle_any(self):
        m = EXT.match(self.path)
        if m and self.command == "GET":
            return self.extension(m)
        return self.forward()

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


serve(Handler, PORT_FILE, UPSTREAM, LOG)
