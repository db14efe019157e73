#!/usr/bin/python3
"""A registry proxy that holds the blob requests of repositories slow/NAME until a file exists.

Usage: stallproxy.py PORT_FILE UPSTREAM(host:port) DIR

With DIR/NAME.only holding a digest, only that blob of slow/NAME is held (the others pass), so a
pull can be held at a chosen layer. With DIR/NAME.half holding a digest, that blob is answered at
once with its first half, then held (DIR/NAME.halfway created) until DIR/NAME.release exists: the
pull is caught in the middle of that layer, its staging half written, whatever the machine's speed.

Forwards every request to UPSTREAM. A GET or HEAD of /v2/slow/NAME/blobs/... first creates
DIR/NAME.stalled (so the test knows that pull is in flight), then waits until DIR/NAME.release
exists. Writes its port to PORT_FILE once listening. Lets tests hold a pull open without timing
assumptions.
"""
import http.client
import http.server
import os
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("stallproxy: " + (fmt % args) + "\n")

    def relay(self, method):
        if self.path.startswith("/v2/slow/") and "/blobs/" in self.path and self.held(self.path.split("/")[3]):
            name = self.path.split("/")[3]
            open(os.path.join(DIR, name + ".stalled"), "a").close()
            while not os.path.exists(os.path.join(DIR, name + ".release")):
                time.sleep(0.05)
        conn = http.client.HTTPConnection(UPSTREAM, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(method, self.path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if method != "HEAD":
            name = self.path.split("/")[3] if self.path.startswith("/v2/slow/") else ""
            if name and "/blobs/" in self.path and self.marked(name, ".half"):
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                open(os.path.join(DIR, name + ".halfway"), "a").close()
                while not os.path.exists(os.path.join(DIR, name + ".release")):
                    time.sleep(0.05)
                body = body[len(body) // 2 :]
            try:
                self.wfile.write(body)
            except OSError:
                pass  # the client went away meanwhile (an interrupted pull)
        conn.close()

    def held(self, name):
        try:
            with open(os.path.join(DIR, name + ".only")) as f:
                return f.read().strip() in self.path
        except FileNotFoundError:
            return True

    def marked(self, name, suffix):
        try:
            with open(os.path.join(DIR, name + suffix)) as f:
                return f.read().strip() in self.path
        except FileNotFoundError:
            return False

    def do_GET(self):
        self.relay("GET")

    def do_HEAD(self):
        self.relay("HEAD")


if __name__ == "__main__":
    PORT_FILE, UPSTREAM, DIR = sys.argv[1:4]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(PORT_FILE + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(PORT_FILE + ".tmp", PORT_FILE)
    srv.serve_forever()
