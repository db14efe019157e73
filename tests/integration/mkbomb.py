#!/usr/bin/python3
"""mkbomb.py REGISTRY NAME:TAG SIZE: pushes a one-layer image whose gzip layer holds one file, /zeros,
of SIZE bytes of zeros (a decompression bomb when SIZE is large), without ever holding or writing
SIZE bytes: the gzip blob is multi-member, one member for the tar header, the same member of 64 MiB of
zeros repeated, and one for the rest. The diff_id is the sha256 of the whole tar stream, hashed as
it would be produced. Prints the sha256 of the file's content.
"""
import hashlib
import sys
import tarfile
import zlib

sys.path.insert(0, __import__("os").path.dirname(__file__))
import regpush  # noqa: E402

CHUNK = 64 << 20


def gz(data):
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def main():
    registry, ref, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ti = tarfile.TarInfo("zeros")
    ti.size, ti.mode, ti.mtime, ti.uname, ti.gname = size, 0o644, 1600000000, "", ""
    header = ti.tobuf(tarfile.PAX_FORMAT)
    pad = (512 - size % 512) % 512
    trailer = b"\0" * (pad + 1024)

    diff, content = hashlib.sha256(header), hashlib.sha256()
    zeros = bytes(CHUNK)
    parts = [gz(header)]
    full, rest = divmod(size, CHUNK)
    member = gz(zeros)
    for _ in range(full):
        diff.update(zeros)
        content.update(zeros)
        parts.append(member)
    diff.update(zeros[:rest])
    content.update(zeros[:rest])
    diff.update(trailer)
    parts.append(gz(zeros[:rest] + trailer))
    blob = b"".join(parts)

    base = "http://" + registry
    name, tag = ref.rsplit(":", 1)
    import platform
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    config = {"architecture": arch, "os": "linux", "config": {"Cmd": ["/bin/sh"]},
              "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff.hexdigest()]}}
    cdata = regpush.json.dumps(config, separators=(",", ":")).encode()
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": regpush.push_blob(base, name, cdata), "size": len(cdata)},
                "layers": [{"mediaType": regpush.MT["gzip"], "digest": regpush.push_blob(base, name, blob),
                            "size": len(blob)}]}
    mdata = regpush.json.dumps(manifest, separators=(",", ":")).encode()
    regpush.request("PUT", "%s/v2/%s/manifests/%s" % (base, name, tag), mdata, manifest["mediaType"])
    sys.stderr.write("mkbomb: %s: %d bytes of zeros in a %d-byte blob %s\n"
                     % (ref, size, len(blob), manifest["layers"][0]["digest"]))
    print(content.hexdigest())


if __name__ == "__main__":
    main()
