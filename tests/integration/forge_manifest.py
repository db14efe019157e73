#!/usr/bin/python3
"""forge_manifest.py REGISTRY SRC_REPO:TAG DST_REPO:TAG [--layer K=FILE] [--layer-from K=REPO:TAG]
                    [--annotations-from REPO:TAG]

Pushes (plain HTTP) a copy of SRC's single-platform image manifest, with SRC's config unchanged
(so the same diff_ids), and some layer descriptors replaced, the way a hostile host forges an image:
  --layer K=FILE           layer K becomes FILE's bytes, a plain ...tar+gzip blob, no annotations
  --layer-from K=REPO:TAG  layer K becomes layer K's descriptor of another image
  --annotations-from REF   every layer keeps SRC's digest but takes REF's annotations (another
                           image's wrapped keys for a blob they were not made for)
Every blob the new manifest names is copied into DST's repository. Prints the manifest digest.
"""
import argparse
import copy
import hashlib
import json
import urllib.parse
import urllib.request

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = OCI_MANIFEST + ", application/vnd.docker.distribution.manifest.v2+json"


def request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read(), r.headers


def manifest(base, ref):
    repo, tag = ref.rsplit(":", 1)
    body, _ = request("GET", "%s/v2/%s/manifests/%s" % (base, repo, tag), headers={"Accept": ACCEPT})
    return repo, json.loads(body)


def blob(base, repo, digest):
    body, _ = request("GET", "%s/v2/%s/blobs/%s" % (base, repo, digest))
    return body


def push_blob(base, repo, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    _, h = request("POST", "%s/v2/%s/blobs/uploads/" % (base, repo), b"")
    loc = urllib.parse.urljoin(base, h["Location"])
    sep = "&" if "?" in loc else "?"
    request("PUT", loc + sep + "digest=" + urllib.parse.quote(d), data,
            {"Content-Type": "application/octet-stream"})
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("registry")
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--layer", action="append", default=[])
    ap.add_argument("--layer-from", action="append", default=[])
    ap.add_argument("--annotations-from")
    args = ap.parse_args()
    base = "http://" + args.registry
    src_repo, m = manifest(base, args.src)
    dst_repo, dst_tag = args.dst.rsplit(":", 1)
    origin = {d["digest"]: src_repo for d in m["layers"] + [m["config"]]}
    out = copy.deepcopy(m)

    if args.annotations_from:
        _, other = manifest(base, args.annotations_from)
        for k, layer in enumerate(out["layers"]):
            layer.pop("annotations", None)
            if "annotations" in other["layers"][k]:
                layer["annotations"] = other["layers"][k]["annotations"]
    for spec in args.layer_from:
        k, ref = spec.split("=", 1)
        repo, other = manifest(base, ref)
        out["layers"][int(k)] = other["layers"][int(k)]
        origin[other["layers"][int(k)]["digest"]] = repo
    for spec in args.layer:
        k, path = spec.split("=", 1)
        data = open(path, "rb").read()
        d = push_blob(base, dst_repo, data)
        out["layers"][int(k)] = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                 "digest": d, "size": len(data)}
        origin[d] = None  # already there

    for d in [x["digest"] for x in out["layers"]] + [out["config"]["digest"]]:
        if origin.get(d):
            push_blob(base, dst_repo, blob(base, origin[d], d))
    body = json.dumps(out).encode()
    request("PUT", "%s/v2/%s/manifests/%s" % (base, dst_repo, dst_tag), body,
            {"Content-Type": out.get("mediaType", OCI_MANIFEST)})
    print("sha256:" + hashlib.sha256(body).hexdigest())


if __name__ == "__main__":
    main()
