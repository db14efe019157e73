#!/usr/bin/python3
"""A registry front with the OCI 1.1 referrers API, for tests (standard library only).

Usage: referrers_proxy.py PORT_FILE UPSTREAM(host:port) LOG_FILE (it binds a free port and writes its
number to PORT_FILE)

docker-registry 2.8 has no referrers API. This front forwards every request to UPSTREAM (plain HTTP),
but answers GET /v2/<name>/referrers/<digest> itself, as distribution-spec 1.1 describes: 200 with an
OCI index of the referrers (the entries of UPSTREAM's Referrers Tag Schema index sha256-<hex>, an empty
index when there is none), filtered by ?artifactType= with the OCI-Filters-Applied header. To make sure a
client uses the API, the tag schema itself is hidden: GET/HEAD of a manifest tagged sha256-<64 hex> is 404.
Logs "METHOD PATH STATUS" per request to LOG_FILE.
"""
import http.client
import json
import re
import sys
import urllib.parse

from relay import Relay, serve

PORT_FILE, UPSTREAM, LOG = sys.argv[1], sys.argv[2], sys.argv[3]
REFERRERS = re.compile(r"^/v2/(.+)/referrers/sha256:([0-9a-f]{64})$")
TAG_SCHEMA = re.compile(r"^/v2/.+/manifests/sha256-[0-9a-f]{64}$")
INDEX = "application/vnd.oci.image.index.v1+json"


def upstream(method, path, headers=()):
    conn = http.client.HTTPConnection(UPSTREAM, timeout=60)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", UPSTREAM)
    for k, v in headers:
        conn.putheader(k, v)
    return conn


class Handler(Relay):
    def referrers(self, m, query):
        name, hexd = m.groups()
        conn = upstream("GET", "/v2/%s/manifests/sha256-%s" % (name, hexd))
        conn.putheader("Accept", INDEX)
        conn.endheaders()
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        manifests = json.loads(data).get("manifests", []) if resp.status == 200 else []
        headers = [("Content-Type", INDEX)]
        want = urllib.parse.parse_qs(query).get("artifactType")
        if want:
            manifests = [d for d in manifests if d.get("artifactType") in want]
            headers.append(("OCI-Filters-Applied", "artifactType"))
        body = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests}).encode()
        self.reply(200, body, headers)

    def handle_any(self):
        path, _, query = self.path.partition("?")
        m = REFERRERS.match(path)
        if m and self.command == "GET":
            return self.referrers(m, query)
        if TAG_SCHEMA.match(path) and self.command in ("GET", "HEAD"):
            return self.reply(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"hidden by the proxy"}]}',
                              [("Content-Type", "application/json")])
        return self.forward()

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


serve(Handler, PORT_FILE, UPSTREAM, LOG)
