#!/usr/bin/python3
"""regpush.py REGISTRY NAME:TAG LAYER.tar:ENCODING...

Pushes a single-platform OCI image straight through the registry API (plain HTTP), for images
skopeo will not produce. Each layer is an uncompressed tar and an encoding:
  gzip          gzip-compressed, media type ...tar+gzip
  none          uncompressed, media type ...tar
  raw-as-gzip   uncompressed bytes, but labelled ...tar+gzip (a lying media type)
The config gets the right diff_ids (sha256 of each tar) and the host platform unless --arch/--os
are given; --no-platform leaves os and architecture out; --raw-config FILE pushes FILE's bytes as
the config, as they are. Prints the manifest digest.
"""
import argparse
import gzip
import hashlib
import json
import urllib.parse
import urllib.request

MT = {"gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
      "none": "application/vnd.oci.image.layer.v1.tar",
      "raw-as-gzip": "application/vnd.oci.image.layer.v1.tar+gzip"}


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def request(method, url, data=None, ctype=None):
    req = urllib.request.Request(url, data=data, method=method)
    if ctype:
        req.add_header("Content-Type", ctype)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.headers


def push_blob(base, name, data):
    d = sha(data)
    _, h = request("POST", "%s/v2/%s/blobs/uploads/" % (base, name), b"")
    loc = urllib.parse.urljoin(base, h["Location"])
    sep = "&" if "?" in loc else "?"
    request("PUT", loc + sep + "digest=" + urllib.parse.quote(d), data, "application/octet-stream")
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("registry")
    ap.add_argument("ref")
    ap.add_argument("layers", nargs="+")
    ap.add_argument("--arch", default=None)
    ap.add_argument("--os", default="linux")
    ap.add_argument("--no-platform", action="store_true")
    ap.add_argument("--raw-config", default=None)
    args = ap.parse_args()
    import platform
    arch = args.arch or {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    base = "http://" + args.registry
    name, tag = args.ref.rsplit(":", 1)

    descs, diff_ids = [], []
    for spec in args.layers:
        path, enc = spec.rsplit(":", 1)
        with open(path, "rb") as f:
            tar = f.read()
        diff_ids.append(sha(tar))
        blob = gzip.compress(tar, mtime=0) if enc == "gzip" else tar
        descs.append({"mediaType": MT[enc], "digest": push_blob(base, name, blob), "size": len(blob)})
    config = {"architecture": arch, "os": args.os,
              "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/bin:/bin"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    if args.no_platform:
        del config["architecture"], config["os"]
    cdata = json.dumps(config, separators=(",", ":")).encode()
    if args.raw_config:
        with open(args.raw_config, "rb") as f:
            cdata = f.read()
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": push_blob(base, name, cdata), "size": len(cdata)},
                "layers": descs}
    mdata = json.dumps(manifest, separators=(",", ":")).encode()
    request("PUT", "%s/v2/%s/manifests/%s" % (base, name, tag), mdata, manifest["mediaType"])
    print(sha(mdata))


if __name__ == "__main__":
    main()
