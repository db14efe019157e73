#!/usr/bin/python3
"""push.py REGISTRY NAME:TAG MEDIATYPE DIFFID:BLOBFILE...

Pushes a single-platform OCI image whose layers are already compressed files, streaming each
blob from disk through the registry API (plain HTTP). DIFFID is the sha256 of the uncompressed tar.
Prints the manifest digest.
"""
import hashlib
import http.client
import json
import os
import sys
import urllib.parse


def sha_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def conn(reg):
    host, port = reg.split(":")
    return http.client.HTTPConnection(host, int(port), timeout=300)


def push_blob(reg, name, digest, size, body):
    c = conn(reg)
    c.request("HEAD", "/v2/%s/blobs/%s" % (name, digest))
    r = c.getresponse()
    r.read()
    if r.status == 200:
        return
    c.request("POST", "/v2/%s/blobs/uploads/" % name, body=b"")
    r = c.getresponse()
    r.read()
    loc = urllib.parse.urlparse(r.headers["Location"])
    path = loc.path + "?" + (loc.query + "&" if loc.query else "") + "digest=" + digest
    c.request("PUT", path, body=body, headers={"Content-Length": str(size),
                                               "Content-Type": "application/octet-stream"})
    r = c.getresponse()
    r.read()
    if r.status != 201:
        sys.exit("push of %s failed: %d" % (digest, r.status))


def main():
    reg, ref, mediatype = sys.argv[1:4]
    name, tag = ref.rsplit(":", 1)
    layers, diff_ids = [], []
    for arg in sys.argv[4:]:
        diff_id, path = arg.split(":", 2)[0] + ":" + arg.split(":", 2)[1], arg.split(":", 2)[2]
        digest, size = sha_file(path), os.path.getsize(path)
        with open(path, "rb") as f:
            push_blob(reg, name, digest, size, f)
        layers.append({"mediaType": mediatype, "digest": digest, "size": size})
        diff_ids.append(diff_id)
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    config = json.dumps({"architecture": arch, "os": "linux",
                         "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    cd = "sha256:" + hashlib.sha256(config).hexdigest()
    push_blob(reg, name, cd, len(config), config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": cd, "size": len(config)},
                           "layers": layers}).encode()
    c = conn(reg)
    c.request("PUT", "/v2/%s/manifests/%s" % (name, tag), body=manifest,
              headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    r = c.getresponse()
    r.read()
    if r.status != 201:
        sys.exit("manifest push failed: %d" % r.status)
    print("sha256:" + hashlib.sha256(manifest).hexdigest())


main()
