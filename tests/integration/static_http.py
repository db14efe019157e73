#!/usr/bin/python3
"""static_http.py DIR PORT_FILE: serves DIR over plain HTTP on 127.0.0.1 (a lookaside for tests).

It binds a free port and writes its number to PORT_FILE, so tests running side by side never race
for a port.
"""
import functools
import http.server
import os
import sys

DIR, PORT_FILE = sys.argv[1], sys.argv[2]


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.command, self.path))


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=DIR))
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
srv.serve_forever()
