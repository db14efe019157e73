#!/usr/bin/python3
"""liarregistry.py PORT_FILE LOG: a registry that serves oversized documents, for the resource limits.

/v2/huge/manifests/layers: an OCI manifest listing 10,000 layers.
/v2/huge/manifests/config: a manifest whose config descriptor claims 100 MB.
/v2/huge/manifests/bigdoc: a 64 MiB manifest body.
/v2/huge/manifests/evilmt: a manifest whose mediaType holds a newline, a forged log line and terminal
escapes (ESC [ and the C1 CSI U+009B), for the escaping of registry strings in messages.
Any blob request is logged and answered with 404, so the test can see that nothing was fetched.
It binds a free port and writes its number to PORT_FILE.
"""
import hashlib
import http.server
import json
import os
import sys

PORT_FILE, LOG = sys.argv[1], sys.argv[2]
MT = "application/vnd.oci.image.manifest.v1+json"


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def desc(mt, n, size=100):
    return {"mediaType": mt, "digest": "sha256:%064x" % n, "size": size}


DOCS = {
    "layers": json.dumps({"schemaVersion": 2, "mediaType": MT,
                          "config": desc("application/vnd.oci.image.config.v1+json", 1),
                          "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip", i + 2)
                                     for i in range(10000)]}).encode(),
    "config": json.dumps({"schemaVersion": 2, "mediaType": MT,
                          "config": desc("application/vnd.oci.image.config.v1+json", 1, 100 * 1000 * 1000),
                          "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip", 2)]}).encode(),
    "evilmt": json.dumps({"schemaVersion": 2,
                          "mediaType": MT + "\nccpull serve: FORGED line\x1b[31mred\x1b]0;title\x07\u009b2J",
                          "config": desc("application/vnd.oci.image.config.v1+json", 1),
                          "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip", 2)]},
                         ensure_ascii=False).encode(),
    "bigdoc": b'{"schemaVersion": 2, "pad": "' + b"x" * (64 << 20) + b'"}',
}


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        with open(LOG, "a") as f:
            f.write(self.path + "\n")
        if self.path == "/v2/":
            body, ctype = b"{}", "application/json"
        elif self.path.startswith("/v2/huge/manifests/") and self.path.rsplit("/", 1)[1] in DOCS:
            body, ctype = DOCS[self.path.rsplit("/", 1)[1]], MT
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Content-Digest", digest(body))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_HEAD = do_GET


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
srv.serve_forever()
