#!/usr/bin/python3
"""A registry proxy that injects faults, for the reliability tests (standard library only).

Usage: faultproxy.py PORT_FILE UPSTREAM(host:port) RULES_FILE LOG_FILE

Forwards every request to UPSTREAM (a plain-HTTP registry) unless a rule of RULES_FILE matches it.
RULES_FILE is read at every request, so a test changes the faults by replacing it (write + rename);
a missing file means no faults. It holds a JSON list of rules:

  {"id": "m503", "match": "GET /v2/.*/manifests/", "times": 1, "fault": "status", ...}

"match" is a regular expression searched in "METHOD PATH"; "times" is how many matching requests
the rule applies to (default: all of them), counted per "id" from the time RULES_FILE was last
replaced. The first rule that matches and has times left applies. Faults:

  status        answer "code" (503, 429, ...) with an OCI error body and "retry_after" (a header
                value) if given; nothing is forwarded
  reset         close the connection with a TCP reset before answering
  cut           forward, send the headers (the true Content-Length) and the first "after" bytes of
                the body, then close the connection (a FIN: the client gets every byte sent)
  cut_reset     the same, ending with a TCP reset
  stall         forward, send the headers and "after" bytes, then send nothing for "seconds"
  corrupt       forward, flip one bit of the byte at offset "at" of the body
  long          forward, append "extra" bytes to the body (Content-Length says so)
  short         forward, drop the last "drop" bytes of the body (Content-Length says so)
  ignore_range  forward without the Range header: a 200 with the whole body
  range_lie     forward; a 206 claims to start "shift" bytes later than it does
  swap          answer with the upstream's response for "path" instead
  auth_loop     answer 401 with a Bearer challenge whose realm is this proxy's /token, which hands
                out tokens that are never accepted
  token_redirect  like auth_loop, but /token redirects to itself forever
  redirect      answer "code" (default 307) with Location "location", in which {path} stands for
                the request's path (another origin, for the redirect tests); nothing is forwarded
  throttle      forward, sending the body at "rate" bytes per second (a per-connection cap, as
                registries and CDNs have), after "latency" seconds (default 0)

Writes one JSON line per request to LOG_FILE: {"method", "path", "range", "rule", "fault",
"status", "sent", "auth", "body", "conn"} ("sent": body bytes written; "auth": the Authorization
header, or null; "body": the request body of a POST as text, or null; "conn": the client's port,
one per connection). POSTs are never forwarded: they get
the fault of their rule, or 405. Writes its port to PORT_FILE once listening.
"""
import http.client
import http.server
import json
import os
import re
import socket
import struct
import sys
import threading
import time

LOCK = threading.Lock()
USED = {}


def load_rules():
    """The rules and a key that changes whenever RULES_FILE is replaced."""
    try:
        with open(RULES_FILE) as f:
            st = os.fstat(f.fileno())
            return json.load(f), (st.st_ino, st.st_mtime_ns)
    except FileNotFoundError:
        return [], None


def pick_rule(method, path):
    line = method + " " + path
    with LOCK:
        rules, version = load_rules()
        for rule in rules:
            if not re.search(rule["match"], line):
                continue
            rid = (version, rule.get("id", rule["match"]))
            times = rule.get("times", -1)
            if times >= 0 and USED.get(rid, 0) >= times:
                continue
            USED[rid] = USED.get(rid, 0) + 1
            return rule
    return None


def log_request(entry):
    with LOCK:
        with open(LOG_FILE, "a") as f:
            f.write(json.dumps(entry) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def upstream(self, method, path, headers):
        conn = http.client.HTTPConnection(UPSTREAM, timeout=60)
        conn.request(method, path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        return resp.status, [(k, v) for k, v in resp.getheaders()
                             if k.lower() not in ("connection", "transfer-encoding", "content-length")], body

    def reset(self):
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def send_head(self, status, headers, length):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def handle_one(self, method):
        rule = pick_rule(method, self.path)
        fault = rule["fault"] if rule else "pass"
        body = None
        if method == "POST":
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(n, 1 << 20)).decode("utf-8", "replace")
        entry = {"method": method, "path": self.path, "range": self.headers.get("Range"),
                 "rule": rule.get("id", rule["match"]) if rule else None, "fault": fault,
                 "status": None, "sent": 0, "auth": self.headers.get("Authorization"), "body": body,
                 "conn": self.client_address[1]}
        try:
            self.serve(method, rule or {}, fault, entry)
        finally:
            log_request(entry)

    def serve(self, method, rule, fault, entry):
        if fault == "redirect":
            entry["status"] = rule.get("code", 307)
            self.send_head(entry["status"], [("Location", rule["location"].replace("{path}", self.path))], 0)
            return
        if self.path.startswith("/token"):
            return self.token(rule, entry)
        if method == "POST":
            entry["status"] = 405
            self.send_head(405, [], 0)
            return
        if fault == "reset":
            return self.reset()
        if fault == "status":
            body = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": "injected fault"}]}).encode()
            headers = [("Content-Type", "application/json")]
            if "retry_after" in rule:
                headers.append(("Retry-After", str(rule["retry_after"])))
            entry["status"] = rule["code"]
            self.send_head(rule["code"], headers, len(body))
            self.wfile.write(body)
            entry["sent"] = len(body)
            return
        if fault in ("auth_loop", "token_redirect"):
            port = self.server.server_address[1]
            body = b'{"errors":[{"code":"UNAUTHORIZED","message":"injected"}]}'
            entry["status"] = 401
            self.send_head(401, [("WWW-Authenticate", 'Bearer realm="http://127.0.0.1:%d/token%s",'
                                  'service="faultproxy"' % (port, "-redirect" if fault == "token_redirect" else ""))],
                           len(body))
            self.wfile.write(body)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        if fault == "ignore_range":
            headers.pop("Range", None)
        status, rheaders, body = self.upstream(method, rule.get("path", self.path) if fault == "swap" else self.path,
                                               headers)
        if fault == "corrupt" and len(body) > rule.get("at", 0):
            at = rule.get("at", 0)
            body = body[:at] + bytes([body[at] ^ 1]) + body[at + 1:]
        elif fault == "long":
            body += b"\0" * rule.get("extra", 1)
        elif fault == "short":
            body = body[:max(0, len(body) - rule.get("drop", 1))]
        elif fault == "range_lie" and status == 206:
            rheaders = [(k, v) for k, v in rheaders if k.lower() != "content-range"]
            start = int(re.match(r"bytes=(\d+)-", self.headers.get("Range", "bytes=0-")).group(1)) + rule.get("shift", 1)
            rheaders.append(("Content-Range", "bytes %d-%d/*" % (start, start + len(body) - 1)))
        entry["status"] = status
        send = len(body) if method != "HEAD" else 0
        if fault in ("cut", "cut_reset", "stall"):
            send = min(send, rule.get("after", 0))
        self.send_head(status, rheaders, len(body))
        if fault == "throttle":
            time.sleep(rule.get("latency", 0))
            step = 65536
            for off in range(0, send, step):
                self.wfile.write(body[off:min(send, off + step)])
                time.sleep(min(send - off, step) / rule["rate"])
        elif send:
            self.wfile.write(body[:send])
        entry["sent"] = send
        if fault == "cut":
            self.connection.shutdown(socket.SHUT_WR)
            self.close_connection = True
        elif fault == "cut_reset":
            self.reset()
        elif fault == "stall":
            time.sleep(rule.get("seconds", 300))
            self.close_connection = True

    def token(self, rule, entry):
        port = self.server.server_address[1]
        if self.path.startswith("/token-redirect"):
            entry["status"] = 302
            self.send_head(302, [("Location", "http://127.0.0.1:%d/token-redirect?again=1" % port)], 0)
            return
        body = json.dumps({"token": "never-accepted", "expires_in": 300}).encode()
        entry["status"] = 200
        self.send_head(200, [("Content-Type", "application/json")], len(body))
        self.wfile.write(body)

    def do_GET(self):
        self.handle_one("GET")

    def do_HEAD(self):
        self.handle_one("HEAD")

    def do_POST(self):
        self.handle_one("POST")


if __name__ == "__main__":
    PORT_FILE, UPSTREAM, RULES_FILE, LOG_FILE = sys.argv[1:5]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(PORT_FILE + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(PORT_FILE + ".tmp", PORT_FILE)
    srv.serve_forever()
