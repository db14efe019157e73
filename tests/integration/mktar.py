#!/usr/bin/python3
"""mktar.py OUT.tar < SPEC: a deterministic pax tar, entries exactly as listed (no implicit parents).

Layer tars made from a directory always name every parent; this one names only what SPEC lists, in
its order, so a test can build layers with implicit parents, whiteouts and replacements in any order.
SPEC: one entry per line, '#' starts a comment line:
    KIND PATH [key=value ...]
KIND: dir, file, symlink, hardlink. Keys: mode (octal; default 0755 dir, 0644 otherwise), uid, gid
(default 0), mtime (default 1600000000), data (file content, %20 stands for a space; default empty),
target (symlink or hardlink target), xattr.NAME=VALUE (PAX SCHILY.xattr.NAME).
"""
import io
import sys
import tarfile

KINDS = {"dir": tarfile.DIRTYPE, "file": tarfile.REGTYPE, "symlink": tarfile.SYMTYPE,
         "hardlink": tarfile.LNKTYPE}


def entry(line):
    words = line.split()
    kind, path = words[0], words[1]
    if kind not in KINDS:
        raise SystemExit("mktar: unknown kind %r in %r" % (kind, line))
    opts = {}
    for w in words[2:]:
        k, sep, v = w.partition("=")
        if not sep:
            raise SystemExit("mktar: %r is not key=value in %r" % (w, line))
        opts[k] = v
    ti = tarfile.TarInfo(path)
    ti.type = KINDS[kind]
    ti.mode = int(opts.pop("mode", "0755" if kind == "dir" else "0644"), 8)
    ti.uid = int(opts.pop("uid", "0"))
    ti.gid = int(opts.pop("gid", "0"))
    ti.uname = ti.gname = ""
    ti.mtime = int(opts.pop("mtime", "1600000000"))
    data = opts.pop("data", "").replace("%20", " ").encode()
    if kind in ("symlink", "hardlink"):
        ti.linkname = opts.pop("target")
    pax = {}
    for k in list(opts):
        if k.startswith("xattr."):
            pax["SCHILY.xattr." + k[len("xattr."):]] = opts.pop(k)
    if opts:
        raise SystemExit("mktar: unknown keys %s in %r" % (sorted(opts), line))
    ti.pax_headers = pax
    if kind == "file":
        ti.size = len(data)
        return ti, io.BytesIO(data)
    return ti, None


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: mktar.py OUT.tar < SPEC\n")
        return 2
    with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as tf:
        for line in sys.stdin:
            line = line.strip()
            if line and not line.startswith("#"):
                tf.addfile(*entry(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
