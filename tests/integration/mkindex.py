#!/usr/bin/python3
"""mkindex.py LAYOUT NEWTAG TAG=OS/ARCH[/VARIANT]...

Builds an OCI image index in the OCI layout LAYOUT from the manifests tagged TAG (one per
platform), stores it as a blob and tags it NEWTAG in LAYOUT/index.json, so that
`skopeo copy --all oci:LAYOUT:NEWTAG docker://...` pushes a multi-platform image.
"""
import hashlib
import json
import os
import sys

REF = "org.opencontainers.image.ref.name"


def main():
    if len(sys.argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    layout, newtag, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(os.path.join(layout, "index.json")) as f:
        top = json.load(f)
    by_tag = {d.get("annotations", {}).get(REF): d for d in top["manifests"]}
    manifests = []
    for spec in specs:
        tag, plat = spec.split("=", 1)
        parts = plat.split("/")
        if tag not in by_tag or len(parts) not in (2, 3):
            sys.stderr.write("mkindex: bad spec or unknown tag: %s\n" % spec)
            return 2
        d = by_tag[tag]
        p = {"architecture": parts[1], "os": parts[0]}
        if len(parts) == 3:
            p["variant"] = parts[2]
        manifests.append({"mediaType": d["mediaType"], "digest": d["digest"], "size": d["size"], "platform": p})
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}
    data = json.dumps(index, separators=(",", ":")).encode()
    hexd = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", hexd), "wb") as f:
        f.write(data)
    top["manifests"] = [d for d in top["manifests"] if d.get("annotations", {}).get(REF) != newtag]
    top["manifests"].append({"mediaType": index["mediaType"], "digest": "sha256:" + hexd, "size": len(data),
                             "annotations": {REF: newtag}})
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(top, f)
    print("sha256:" + hexd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
