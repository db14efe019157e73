"""The relay the test fronts of a registry share (standard library only): a request handler that forwards
every request to a plain-HTTP upstream (a docker-registry) and logs "METHOD PATH STATUS" per answer, and
serve(), which binds a free loopback port and writes its number to a file.

A front subclasses Relay, answers what it serves itself with reply(), passes the rest to forward(), and
may add headers to forwarded answers through extra_headers().
"""
import http.client
import http.server
import os

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class Relay(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None  # "host:port", set by serve()
    log_file = None

    def log_message(self, fmt, *args):
        pass

    def log(self, line):
        with open(self.log_file, "a") as f:
            f.write(line + "\n")

    def reply(self, status, body, headers=(), length=None):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.log("%s %s %d" % (self.command, self.path, status))

    def extra_headers(self):
        """Headers added to the answer of a forwarded request."""
        return []

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(self.upstream, timeout=60)
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
        out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP and k.lower() != "content-length"]
        # a HEAD answer has no body but the upstream's length
        self.reply(resp.status, data, out + self.extra_headers(),
                   resp.getheader("Content-Length") if self.command == "HEAD" else None)
        conn.close()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def serve(handler, port_file, upstream, log_file):
    """Relays to upstream with handler on a free port of 127.0.0.1, whose number goes to port_file."""
    handler.upstream, handler.log_file = upstream, log_file
    srv = Server(("127.0.0.1", 0), handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()
