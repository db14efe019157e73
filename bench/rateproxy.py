#!/usr/bin/python3
"""rateproxy.py LISTEN_PORT UPSTREAM(host:port) RATE LATENCY_MS

A streaming HTTP proxy for the benchmark (standard library only): forwards GET and HEAD to a
plain-HTTP registry, Range and Authorization included, and sends each response body at no more than
RATE bytes per second per connection, after LATENCY_MS milliseconds per request, as a registry or
CDN that caps each connection does. Bodies are streamed, never held whole: a 1 GB blob costs a few
64 KiB buffers.
"""
import http.client
import http.server
import sys
import time

STEP = 65536


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def forward(self, method):
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        up = http.client.HTTPConnection(UPSTREAM, timeout=120)
        up.request(method, self.path, headers=headers)
        resp = up.getresponse()
        time.sleep(LATENCY)
        self.send_response(resp.status)
        length = None
        for k, v in resp.getheaders():
            if k.lower() in ("connection", "transfer-encoding"):
                continue
            if k.lower() == "content-length":
                length = int(v)
            self.send_header(k, v)
        if length is None:
            body = resp.read()
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            up.close()
            return
        self.end_headers()
        start, sent = time.monotonic(), 0
        while method != "HEAD" and sent < length:
            chunk = resp.read(min(STEP, length - sent))
            if not chunk:
                break
            self.wfile.write(chunk)
            sent += len(chunk)
            ahead = sent / RATE - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
        up.close()

    def do_GET(self):
        self.forward("GET")

    def do_HEAD(self):
        self.forward("HEAD")


if __name__ == "__main__":
    PORT, UPSTREAM, RATE, LATENCY = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4]) / 1000
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    srv.daemon_threads = True
    srv.serve_forever()
