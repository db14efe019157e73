#!/usr/bin/python3
"""mkhostile.py: the hostile-layer suite of ccpull's unpacker.

  mkhostile.py gen OUTDIR --outside ABS   writes OUTDIR/<case>/{case.json,L<k>.blob}; ABS is the
                                          sentinel tree outside the bundle that layers aim at
  mkhostile.py list OUTDIR                prints "name rc" per case
  mkhostile.py push OUTDIR REGISTRY       pushes every case as REGISTRY/hostile/<case>:v1
  mkhostile.py check OUTDIR/<case> ROOTFS [--owner UID:GID]
                                          compares ROOTFS with the case's exact expected tree
                                          (--owner: unprivileged pull, everything owned by UID:GID,
                                          no device nodes, no security.* xattrs)
  mkhostile.py seeds DIR                  writes the layers as unpack fuzzer seeds

Deterministic: the same arguments give the same bytes. Tar headers are built by hand so that the
malformed ones (size mismatches, bodies on links, odd typeflags) are exactly what the case says.
"""
import argparse
import hashlib
import json
import os
import platform
import stat
import struct
import sys
import zlib

MT = 1234567890
BLOCK = 512
UP = "../" * 24
LAYER_MT = {"gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
            "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
            "none": "application/vnd.oci.image.layer.v1.tar"}

# ---------------------------------------------------------------------------------------------
# tar


def _num(v, width):
    """Octal field of width bytes (NUL terminated), or GNU base-256 when it does not fit."""
    s = b"%o" % v
    if len(s) < width:
        return s.rjust(width - 1, b"0") + b"\0"
    return bytes([0x80]) + v.to_bytes(width - 1, "big")


def header(name, typ=b"0", size=0, mode=0o644, uid=0, gid=0, mtime=MT, link=b"", major=0, minor=0,
           size_field=None, magic=b"ustar\x0000"):
    name = name.encode() if isinstance(name, str) else name
    link = link.encode() if isinstance(link, str) else link
    h = bytearray(BLOCK)
    h[0:len(name[:100])] = name[:100]
    h[100:108] = _num(mode, 8)
    h[108:116] = _num(uid, 8)
    h[116:124] = _num(gid, 8)
    h[124:136] = size_field if size_field is not None else _num(size, 12)
    h[136:148] = _num(mtime, 12)
    h[148:156] = b" " * 8
    h[156:157] = typ
    h[157:157 + len(link[:100])] = link[:100]
    h[257:265] = magic
    h[265:269] = b"root"
    h[297:301] = b"root"
    h[329:337] = _num(major, 8)
    h[337:345] = _num(minor, 8)
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def pad(data):
    return data + b"\0" * (-len(data) % BLOCK)


def pax(records, name="PaxHeaders/x", typ=b"x"):
    body = b""
    for k, v in records:
        k = k.encode() if isinstance(k, str) else k
        v = v.encode() if isinstance(v, str) else v
        rest = b" " + k + b"=" + v + b"\n"
        n = len(rest) + 1
        while len(str(n).encode()) + len(rest) != n:
            n = len(str(n).encode()) + len(rest)
        body += str(n).encode() + rest
    return header(name, typ, size=len(body)) + pad(body)


def entry(name, typ=b"0", data=b"", mode=0o644, uid=0, gid=0, link="", major=0, minor=0, xattrs=(),
          extra_pax=(), size=None, size_field=None, body=None):
    """One entry; PAX records are added for long names/links, big ids and xattrs."""
    recs = list(extra_pax)
    bname = name.encode() if isinstance(name, str) else name
    blink = link.encode() if isinstance(link, str) else link
    if len(bname) > 100:
        recs.append(("path", bname))
    if len(blink) > 100:
        recs.append(("linkpath", blink))
    if uid > 0o7777777:
        recs.append(("uid", str(uid)))
    if gid > 0o7777777:
        recs.append(("gid", str(gid)))
    for k, v in xattrs:
        recs.append(("SCHILY.xattr." + k, v))
    size = len(data) if size is None else size
    out = pax(recs) if recs else b""
    out += header(bname, typ, size=size if size <= 0o77777777777 else 0, mode=mode,
                  uid=min(uid, 0o7777777), gid=min(gid, 0o7777777), link=blink, major=major, minor=minor,
                  size_field=size_field)
    return out + pad(data if body is None else body)


def F(name, data=b"", mode=0o644, **kw):
    return entry(name, b"0", data.encode() if isinstance(data, str) else data, mode, **kw)


def D(name, mode=0o755, **kw):
    return entry(name, b"5", mode=mode, **kw)


def S(name, target, **kw):
    return entry(name, b"2", mode=0o777, link=target, **kw)


def H(name, target, **kw):
    return entry(name, b"1", link=target, **kw)


def gnu_long(kind, value):
    value = value.encode() + b"\0"
    return header("././@LongLink", kind, size=len(value), magic=b"ustar  \0") + pad(value)


def tar(*entries, end=True):
    return b"".join(entries) + (b"\0" * (2 * BLOCK) if end else b"")


# ---------------------------------------------------------------------------------------------
# compression (zstd frames by hand: raw and RLE blocks need no library)

ZMAX = 128 * 1024


def zstd_frame(chunks):
    """chunks: list of bytes (raw blocks) or (byte, count) (RLE blocks)."""
    blocks = []
    for c in chunks:
        if isinstance(c, tuple):
            b, n = c
            while n > 0:
                k = min(n, ZMAX)
                blocks.append((1, k, bytes([b])))
                n -= k
        else:
            for i in range(0, max(len(c), 1), ZMAX):
                blocks.append((0, len(c[i:i + ZMAX]), c[i:i + ZMAX]))
    out = bytearray(b"\x28\xb5\x2f\xfd\x00\x38")  # magic, no size/checksum, 128 KiB window
    for i, (t, n, payload) in enumerate(blocks):
        last = 1 if i == len(blocks) - 1 else 0
        out += struct.pack("<I", last | (t << 1) | (n << 3))[:3] + payload
    return bytes(out)


def gzip_zeros(prefix, zero_mib, suffix=b""):
    """gzip of prefix + zero_mib MiB of zeros + suffix, built from one repeated flushed block."""
    zeros = b"\0" * (1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    blk = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    assert blk == again, "deflate of a flushed block is not repeatable"
    crc = zlib.crc32(prefix)
    for _ in range(zero_mib):
        crc = zlib.crc32(zeros, crc)
    crc = zlib.crc32(suffix, crc)
    tail = c.compress(suffix) + c.flush()
    size = len(prefix) + (zero_mib << 20) + len(suffix)
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + body + blk * (zero_mib - 1) + tail +
            struct.pack("<II", crc & 0xffffffff, size & 0xffffffff))


def encode(data, enc):
    if enc == "gzip":
        c = zlib.compressobj(6, zlib.DEFLATED, 31)
        g = c.compress(data) + c.flush()
        return g[:4] + b"\0\0\0\0" + g[8:]  # mtime 0
    if enc == "zstd":
        return zstd_frame([data])
    return data


# ---------------------------------------------------------------------------------------------
# expected trees


class Tree:
    """The exact expected rootfs: path -> (kind, mode, uid, gid, detail, xattrs)."""

    def __init__(self):
        self.e = {}
        self.links = []

    def _parents(self, path):
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            p = "/".join(parts[:i])
            self.e.setdefault(p, ["d", 0o755, 0, 0, "", []])

    def f(self, path, data=b"", mode=0o644, uid=0, gid=0, xattrs=()):
        data = data.encode() if isinstance(data, str) else data
        self._parents(path)
        self.e[path] = ["f", mode, uid, gid, hashlib.sha256(data).hexdigest(), sorted(xattrs)]
        return self

    def d(self, path, mode=0o755, uid=0, gid=0, xattrs=()):
        self._parents(path)
        self.e[path] = ["d", mode, uid, gid, "", sorted(xattrs)]
        return self

    def s(self, path, target, uid=0, gid=0):
        self._parents(path)
        self.e[path] = ["l", 0o777, uid, gid, target, []]
        return self

    def c(self, path, major, minor, mode=0o644, kind="c"):
        self._parents(path)
        self.e[path] = [kind, mode, 0, 0, "%d:%d" % (major, minor), []]
        return self

    def p(self, path, mode=0o644):
        self._parents(path)
        self.e[path] = ["p", mode, 0, 0, "", []]
        return self

    def hardlinks(self, *paths):
        self.links.append(sorted(paths))
        return self


CASES = []


def case(name, cls, layers, rc=0, tree=None, note=""):
    """layers: list of tar bytes, or (tar bytes, encoding), or ("blob", bytes, media type key)."""
    CASES.append({"name": name, "class": cls, "layers": layers, "rc": rc, "tree": tree, "note": note})


def build(out):
    O = out.rstrip("/")
    Orel = O.lstrip("/")

    # --- names ---
    case("name_dotdot", "../ in names", [tar(F(UP + "dotdot", "a"), F("x/../../../up2", "b"))],
         tree=Tree().f("dotdot", "a").f("up2", "b"), note="'..' never climbs above the root")
    case("name_absolute", "absolute names", [tar(F(O + "/abs", "a"), F("/etc/abs2", "b"))],
         tree=Tree().f(Orel + "/abs", "a").f("etc/abs2", "b"))
    case("name_dot_root_file", "root entry not a dir (CVE-2021-29136)", [tar(F("./", "x"))], rc=7)
    case("name_root_symlink", "root entry as symlink (CVE-2021-29136)",
         [tar(F("a", "1")), tar(S(".", O), F("b", "2"))], rc=7)
    case("name_root_hardlink", "root entry as hardlink", [tar(F("a", "1"), H("/", "a"))], rc=7)
    case("name_root_dir_ok", "root entry as dir (metadata only)", [tar(D("./", 0o755), F("f", "x"))],
         tree=Tree().f("f", "x"))

    # --- symlinks in parents, same layer ---
    case("sym_abs_parent", "symlink parent, absolute", [tar(S("l", O), F("l/pwn", "x"))],
         tree=Tree().s("l", O).f(Orel + "/pwn", "x"))
    case("sym_rel_parent", "symlink parent, relative to outside",
         [tar(S("l", UP + Orel), F("l/pwn", "x"))],
         tree=Tree().s("l", UP + Orel).f(Orel + "/pwn", "x"))
    case("sym_chain", "symlink chain to outside",
         [tar(S("a", "b"), S("b", "c/d"), D("c"), S("c/d", "../../../../.." + O), F("a/pwn", "x"))],
         tree=Tree().s("a", "b").s("b", "c/d").d("c").s("c/d", "../../../../.." + O).f(Orel + "/pwn", "x"))
    case("sym_loop", "symlink loop in a parent", [tar(S("a", "b"), S("b", "a"), F("a/f", "x"))], rc=7)
    case("sym_self_loop", "symlink to itself in a parent", [tar(S("a", "a/x"), F("a/f", "x"))], rc=7)
    case("sym_long_chain", "symlink chain over the follow limit",
         [tar(*[S("s%d" % i, "s%d" % (i + 1)) for i in range(45)], D("s45"), F("s0/f", "x"))], rc=7)
    case("sym_to_host_file", "symlink parent to a host file",
         [tar(S("l", "/etc/passwd"), F("l/x", "x"))],
         tree=Tree().s("l", "/etc/passwd").f("etc/passwd/x", "x"))
    case("sym_then_dir", "symlink replaced by a dir (same layer)",
         [tar(S("d", O), D("d", 0o700), F("d/f", "x"))], tree=Tree().d("d", 0o700).f("d/f", "x"))
    case("dir_then_sym", "dir replaced by a symlink, deferred dir times (CVE-2021-31566)",
         [tar(D("d", 0o777), F("d/f", "x"), S("d", O), F("d/g", "y"))],
         tree=Tree().s("d", O).f(Orel + "/g", "y"))
    case("sym_dir_prefix", "symlink then dir path through it (libarchive #745)",
         [tar(S("sym", O), D("sym/"), F("sym/f", "x"))],
         tree=Tree().d("sym").f("sym/f", "x"), note="the dir entry replaces the symlink")

    # --- across layers (applied through overlayfs over the lower layers) ---
    case("xl_sym_abs", "symlink from an earlier layer, absolute",
         [tar(S("etc", O)), tar(F("etc/pwn", "x"), F("etc/keep", "x"))],
         tree=Tree().s("etc", O).f(Orel + "/pwn", "x").f(Orel + "/keep", "x"))
    case("xl_sym_rel", "symlink from an earlier layer, relative",
         [tar(D("a"), S("a/l", UP + Orel)), tar(F("a/l/pwn", "x"))],
         tree=Tree().d("a").s("a/l", UP + Orel).f(Orel + "/pwn", "x"))
    case("xl_sym_dotdot", "symlink '..' from an earlier layer",
         [tar(S("up", "..")), tar(F("up/up/up/pwn", "x"))], tree=Tree().s("up", "..").f("pwn", "x"))
    case("xl_sym_then_dir", "lower symlink replaced by a dir",
         [tar(S("d", O)), tar(D("d"), F("d/f", "x"))], tree=Tree().d("d").f("d/f", "x"))
    case("xl_dir_then_sym", "lower dir replaced by a symlink, then written through",
         [tar(D("d"), F("d/f", "x")), tar(S("d", O)), tar(F("d/g", "y"))],
         tree=Tree().s("d", O).f(Orel + "/g", "y"))
    case("xl_wh_through_sym", "whiteout through a lower symlink to outside",
         [tar(S("s", O)), tar(F("s/.wh.file", ""), F("s/.wh.keep", ""))], tree=Tree().s("s", O))
    case("xl_opaque_through_sym", "opaque through a lower symlink to outside",
         [tar(S("s", O)), tar(F("s/.wh..wh..opq", ""))], tree=Tree().s("s", O))
    case("xl_opaque_via_inroot_sym", "opaque through a lower in-root symlink",
         [tar(D("real"), F("real/a", "1"), S("s", "/real")), tar(F("s/.wh..wh..opq", ""), F("real/b", "2"))],
         tree=Tree().d("real").f("real/b", "2").s("s", "/real"))
    case("xl_wh_symlink_itself", "whiteout of a lower symlink to outside",
         [tar(S("s", O), F("t", "t")), tar(F(".wh.s", ""))], tree=Tree().f("t", "t"))
    case("xl_wh_lower_only", "same-layer whiteout does not hide that layer's file",
         [tar(F("a", "1"), F("c", "3")), tar(F("b", "2"), F(".wh.b", ""), F(".wh.a", ""))],
         tree=Tree().f("b", "2").f("c", "3"))
    case("xl_opaque_applied_first", "opaque marker after this layer's files",
         [tar(D("d"), F("d/old", "o"), D("d/sub"), F("d/sub/x", "x")),
          tar(D("d"), F("d/new", "n"), F("d/.wh..wh..opq", ""))],
         tree=Tree().d("d").f("d/new", "n"))
    case("xl_hardlink_lower", "hardlink to a lower layer's file",
         [tar(F("f", "data", 0o600)), tar(H("g", "/f"))],
         tree=Tree().f("f", "data", 0o600).f("g", "data", 0o600).hardlinks("f", "g"))
    case("xl_hardlink_lower_symlink", "hardlink to a lower symlink to outside, then chmod entry",
         [tar(S("ls", O + "/file")), tar(H("h", "ls"), D("h", 0o777))],
         tree=Tree().s("ls", O + "/file").d("h", 0o777))
    case("xl_trusted_opaque_xattr", "trusted.overlay.opaque smuggled in a PAX header",
         [tar(D("d"), F("d/old", "o")), tar(D("d", xattrs=[("trusted.overlay.opaque", "y")]), F("d/new", "n"))],
         tree=Tree().d("d").f("d/old", "o").f("d/new", "n"))
    case("xl_wh_dir_sym_loop", "whiteout below a lower symlink loop",
         [tar(S("a", "b"), S("b", "a")), tar(F("a/.wh.x", ""))], rc=7)

    case("xl_replace_over_syms", "lower symlinks to outside replaced by every entry type",
         [tar(S("a", O + "/file"), S("b", O + "/file"), S("c", O + "/file"), S("d", O + "/file"),
              S("e", O + "/keep"), F("t", "t")),
          tar(F("a", "pwn", 0o666), entry("b", b"6", mode=0o666), S("c", "t"), H("d", "t"),
              D("e", 0o777), F("e/f", "f"))],
         tree=Tree().f("a", "pwn", 0o666).p("b", 0o666).s("c", "t").f("d", "t").f("t", "t")
         .d("e", 0o777).f("e/f", "f").hardlinks("d", "t"))
    case("xl_wh_dir_with_outside_links", "whiteout and opaque of dirs holding links to outside",
         [tar(D("d"), S("d/l", O), S("d/lf", O + "/file"), F("d/x", "x"),
              D("o"), S("o/l", O), S("o/lf", O + "/file")),
          tar(F(".wh.d", ""), F("o/.wh..wh..opq", ""))],
         tree=Tree().d("o"))
    case("xl_opaque_root", "opaque marker at the root",
         [tar(F("a", "1"), D("b"), F("b/c", "2"), S("s", O)), tar(F(".wh..wh..opq", ""), F("n", "n"))],
         tree=Tree().f("n", "n"))
    case("xl_parent_is_file", "lower file used as a parent", [tar(F("f", "1")), tar(F("f/x", "x"))], rc=7)
    case("sym_proc_self_root", "symlink parent to /proc/self/root (magic link)",
         [tar(S("l", "/proc/self/root"), F("l/pwn", "x"), S("m", "/proc/self/cwd"), F("m/pwn", "y"))],
         tree=Tree().s("l", "/proc/self/root").f("proc/self/root/pwn", "x").s("m", "/proc/self/cwd")
         .f("proc/self/cwd/pwn", "y"))

    # --- hardlinks ---
    case("hl_absolute_ok", "absolute hardlink target (kaniko)",
         [tar(F("bin/busybox", "bb", 0o755), H("bin/sh", "/bin/busybox"))],
         tree=Tree().f("bin/busybox", "bb", 0o755).f("bin/sh", "bb", 0o755).hardlinks("bin/busybox", "bin/sh"))
    case("hl_outside_abs", "hardlink to an outside file, absolute", [tar(H("h", O + "/file"))], rc=7)
    case("hl_outside_dotdot", "hardlink to outside via ..", [tar(H("h", UP + Orel + "/file"))], rc=7)
    case("hl_dir", "hardlink to a directory", [tar(D("d"), H("h", "d"))], rc=7)
    case("hl_symlink", "hardlink to a symlink to outside",
         [tar(S("s", O + "/file"), H("h", "s"))],
         tree=Tree().s("s", O + "/file").s("h", O + "/file"),
         note="h is a hardlink of the symlink itself; the bundle copy does not keep symlink hardlinks")
    case("hl_through_sym_parent", "hardlink target through a symlinked parent",
         [tar(S("s", O), H("h", "s/file"))], rc=7)
    case("hl_with_body", "hardlink with a body (CVE-2016-5418)",
         [tar(F("f", "x"), entry("h", b"1", data=b"OVERWRITE", link="f"))], rc=7)
    case("hl_self", "hardlink to itself", [tar(H("h", "h"))], rc=7)

    # --- whiteouts ---
    case("wh_dotdot", "whiteout '.wh..'", [tar(F("a", "1")), tar(F("d/.wh..", ""))], rc=7)
    case("wh_bare", "bare '.wh.'", [tar(F("a", "1")), tar(F("etc/.wh.", ""))], rc=7)
    case("wh_escape_parent", "'../.wh.x' escaping the root",
         [tar(F("x", "1"), F("y", "2")), tar(F("../.wh.x", ""))], tree=Tree().f("y", "2"))
    case("wh_dir_component", "'.wh.' name used as a directory", [tar(F("a/.wh.b/c", "x"))], rc=7)
    case("wh_missing", "whiteout of a missing path", [tar(F("a", "1")), tar(F(".wh.nothing", ""), F("b/.wh.c", ""))],
         tree=Tree().f("a", "1"))
    case("wh_dir_opaque_markers", "opaque + whiteouts in one layer, markers hidden",
         [tar(D("o"), F("o/1", "1"), D("k"), F("k/2", "2")),
          tar(F("o/.wh..wh..opq", ""), F("k/.wh.2", ""), F("o/n", "n"), F(".wh..wh.plnk", ""))],
         tree=Tree().d("o").f("o/n", "n").d("k"))

    # --- parser agreement ---
    smuggled = F("smuggled", "evil")
    case("pax_size_over_ustar0", "TARmageddon: PAX size > ustar size 0",
         [tar(entry("carrier", data=smuggled, size_field=_num(0, 12),
                    extra_pax=[("size", str(len(smuggled)))]), F("after", "ok"))],
         tree=Tree().f("carrier", smuggled).f("after", "ok"))
    case("pax_size0_ustar_size", "TARmageddon: PAX size 0 < ustar size",
         [tar(entry("carrier", data=b"", size=0, size_field=_num(len(smuggled), 12),
                    extra_pax=[("size", "0")]), smuggled, F("after", "ok"))],
         tree=Tree().f("carrier", "").f("smuggled", "evil").f("after", "ok"),
         note="PAX size wins, as in Go's archive/tar")
    case("dup_entries", "duplicate entries: last wins",
         [tar(F("f", "one"), F("f", "two", 0o600), F("d", "file"), D("d"), F("d/x", "x"),
              D("e"), F("e/y", "y"), F("e", "now a file"), S("g", "t1"), S("g", "t2"))],
         tree=Tree().f("f", "two", 0o600).d("d").f("d/x", "x").f("e", "now a file").s("g", "t2"))
    case("nonreg_body_symlink", "symlink with a body", [tar(entry("s", b"2", data=b"body", link="t"))], rc=7)
    case("nonreg_body_dir", "directory with a body", [tar(entry("d", b"5", data=b"body", mode=0o755))], rc=7)
    case("nonreg_body_fifo", "fifo with a body", [tar(entry("p", b"6", data=b"body"))], rc=7)
    case("sparse_gnu", "GNU sparse entry", [tar(entry("s", b"S", data=b"x" * 512))], rc=7)
    case("sparse_pax", "PAX GNU.sparse 0.1", [tar(entry("s", data=b"x" * 512, extra_pax=[
        ("GNU.sparse.size", "4096"), ("GNU.sparse.numblocks", "1"), ("GNU.sparse.map", "0,512")]))], rc=7)
    case("typeflag_unknown", "unknown typeflag 'Z'", [tar(entry("z", b"Z"))], rc=7)
    case("typeflag_cont", "typeflag '7' (contiguous)", [tar(entry("c", b"7", data=b"x"))], rc=7)
    case("gnu_long_names", "GNU long name and long link",
         [tar(gnu_long(b"L", "d/" + "n" * 200) + header("trunc", b"0", size=2) + pad(b"ok"),
              gnu_long(b"K", "/" + "t" * 150) + header("lnk", b"2", mode=0o777, link="trunc"))],
         tree=Tree().f("d/" + "n" * 200, "ok").s("lnk", "/" + "t" * 150))
    case("truncated", "stream cut inside a body", [tar(F("a", "x" * 2000))[:1024 + 300]], rc=7)
    case("garbage", "not a tar at all", [(b"\x01" * 700, "none")], rc=7)

    # --- ids, devices, modes, special files ---
    case("uid_huge", "uid beyond 32 bits", [tar(F("f", "x", uid=1 << 32))], rc=7)
    case("uid_minus_one", "uid 4294967295", [tar(F("f", "x", uid=4294967295))], rc=7)
    case("uid_big_ok", "large valid uid/gid",
         [tar(F("f", "x", uid=3000000000, gid=3000000001))], tree=Tree().f("f", "x", uid=3000000000, gid=3000000001))
    case("dev_insane_major", "char device with an insane major",
         [tar(entry("dev/x", b"3", major=0o7777777, minor=1))], rc=7)
    case("dev_insane_minor", "block device with an insane minor",
         [tar(entry("dev/y", b"4", major=8, minor=0o7777777))], rc=7)
    case("dev_ok", "char device 1:3, fifo, setuid root file",
         [tar(D("dev"), entry("dev/null", b"3", mode=0o666, major=1, minor=3), entry("run/fifo", b"6", mode=0o620),
              F("bin/su", "su", 0o4755), F("bin/sg", "sg", 0o2711, gid=42), D("tmp", 0o1777))],
         tree=Tree().c("dev/null", 1, 3, 0o666).p("run/fifo", 0o620).f("bin/su", "su", 0o4755)
         .f("bin/sg", "sg", 0o2711, gid=42).d("tmp", 0o1777))
    case("dev_whiteout_char00", "char 0:0 device entry (overlay whiteout form)",
         [tar(F("a", "1")), tar(entry("a", b"3", mode=0o644, major=0, minor=0))], rc=7)

    # --- xattrs ---
    case("xattr_filter", "xattr allow-list",
         [tar(F("f", "x", 0o755, xattrs=[("security.capability", b"\x01\x00\x00\x02\x00\x20\x00\x00" + b"\0" * 12),
                                        ("security.selinux", "system_u:object_r:shadow_t:s0"),
                                        ("trusted.evil", "1"), ("trusted.overlay.redirect", "/x"),
                                        ("user.overlay.opaque", "y"), ("system.posix_acl_access", "\x02\0\0\0"),
                                        ("user.ok", "fine"), ("user.empty", "")]))],
         tree=Tree().f("f", "x", 0o755, xattrs=["security.capability", "user.empty", "user.ok"]))
    case("xattr_too_many", "too many xattrs", [tar(F("f", "x", xattrs=[("user.x%d" % i, "v") for i in range(300)]))],
         rc=7)
    case("xattr_too_big", "xattr value too big", [tar(F("f", "x", xattrs=[("user.big", "v" * 70000)]))], rc=7)
    case("xattr_name_long", "xattr name too long", [tar(F("f", "x", xattrs=[("user." + "n" * 300, "v")]))], rc=7)

    # --- limits ---
    case("path_too_long", "entry name too long", [tar(F("a/" * 2100 + "f", "x"))], rc=7)
    case("component_too_long", "name component > 255 bytes", [tar(F("d/" + "c" * 300, "x"))], rc=7)
    case("link_too_long", "symlink target too long", [tar(S("s", "t" * 5000))], rc=7)
    case("too_deep", "too many components", [tar(F("d/" * 300 + "f", "x"))], rc=7)
    case("pax_header_chain", "a run of PAX headers over 1 MiB",
         [tar(pax([("comment", "c" * 600000)]) * 3 + F("f", "x"))], rc=7)
    case("pax_header_huge", "oversized PAX header", [tar(entry("f", extra_pax=[("comment", "c" * (2 << 20))]))], rc=7)

    # --- decompression bombs (blobs built directly; they fail long before their end) ---
    small = tar(F("ok", "ok"), end=True)
    decl = pax([("size", str(1 << 40))]) + header("big", b"0", size=0)
    case("bomb_gzip_declared", "gzip bomb: 1 TiB file declared", [("blob", gzip_zeros(decl, 1024), "gzip")], rc=7)
    case("bomb_gzip_trailer", "gzip bomb: 1 GiB of zeros after the tar end", [("blob", gzip_zeros(small, 1024), "gzip")],
         rc=7)
    case("bomb_zstd_declared", "zstd bomb: 1 TiB file declared", [("blob", zstd_frame([decl, (0, 1 << 36)]), "zstd")],
         rc=7)
    case("bomb_zstd_trailer", "zstd bomb: 64 GiB of zeros after the tar end",
         [("blob", zstd_frame([small, (0, 1 << 36)]), "zstd")], rc=7)

    # --- plain formats for the record ---
    case("zstd_plain", "zstd layer, whiteout across layers",
         [(tar(D("a"), F("a/x", "1"), F("a/y", "2")), "zstd"), (tar(F("a/.wh.x", "")), "zstd")],
         tree=Tree().d("a").f("a/y", "2"))
    case("uncompressed_plain", "uncompressed layer, no end blocks",
         [(tar(F("f", "data"), end=False), "none")], tree=Tree().f("f", "data"))


def layer_blobs(c):
    out = []
    for L in c["layers"]:
        if isinstance(L, tuple) and L[0] == "blob":
            blob, enc = L[1], L[2]
            # Bombs never reach the diff_id check: the layer fails first (exit 7).
            out.append((blob, enc, "sha256:" + hashlib.sha256(blob).hexdigest()))
            continue
        data, enc = (L if isinstance(L, tuple) else (L, "gzip"))
        out.append((encode(data, enc), enc, "sha256:" + hashlib.sha256(data).hexdigest()))
    return out


def cmd_gen(a):
    build(a.outside)
    os.makedirs(a.outdir, exist_ok=True)
    for c in CASES:
        d = os.path.join(a.outdir, c["name"])
        os.makedirs(d, exist_ok=True)
        layers = []
        for k, (blob, enc, diff) in enumerate(layer_blobs(c)):
            fn = "L%d.blob" % k
            with open(os.path.join(d, fn), "wb") as f:
                f.write(blob)
            layers.append({"blob": fn, "media_type": LAYER_MT[enc], "diff_id": diff})
        t = c["tree"]
        meta = {"name": c["name"], "class": c["class"], "rc": c["rc"], "note": c["note"], "layers": layers,
                "tree": t.e if t else None, "hardlinks": t.links if t else []}
        with open(os.path.join(d, "case.json"), "w") as f:
            json.dump(meta, f, indent=1, sort_keys=True)


def load(outdir):
    for n in sorted(os.listdir(outdir)):
        p = os.path.join(outdir, n, "case.json")
        if os.path.exists(p):
            with open(p) as f:
                yield os.path.join(outdir, n), json.load(f)


def cmd_list(a):
    for _, c in load(a.outdir):
        print(c["name"], c["rc"])


def cmd_push(a):
    sys.path.insert(0, a.regpush_dir)
    import regpush
    base = "http://" + a.registry
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    for d, c in load(a.outdir):
        name = "hostile/" + c["name"].replace("_", "-")
        descs = []
        for L in c["layers"]:
            with open(os.path.join(d, L["blob"]), "rb") as f:
                blob = f.read()
            descs.append({"mediaType": L["media_type"], "digest": regpush.push_blob(base, name, blob),
                          "size": len(blob)})
        config = {"architecture": arch, "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                  "rootfs": {"type": "layers", "diff_ids": [L["diff_id"] for L in c["layers"]]}}
        cdata = json.dumps(config, separators=(",", ":")).encode()
        man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                          "digest": regpush.push_blob(base, name, cdata), "size": len(cdata)},
               "layers": descs}
        regpush.request("PUT", "%s/v2/%s/manifests/v1" % (base, name),
                        json.dumps(man, separators=(",", ":")).encode(), man["mediaType"])


def scan(root):
    got, inodes = {}, {}
    for dp, dns, fns in os.walk(root):
        for n in dns + fns:
            p = os.path.join(dp, n)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            m = st.st_mode
            if stat.S_ISREG(m):
                with open(p, "rb") as f:
                    kind, det = "f", hashlib.sha256(f.read()).hexdigest()
                if st.st_mtime != MT:
                    det += " mtime=%d" % st.st_mtime
            elif stat.S_ISDIR(m):
                kind, det = "d", ""
            elif stat.S_ISLNK(m):
                kind, det = "l", os.readlink(p)
            elif stat.S_ISCHR(m) or stat.S_ISBLK(m):
                kind = "c" if stat.S_ISCHR(m) else "b"
                det = "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
            elif stat.S_ISFIFO(m):
                kind, det = "p", ""
            else:
                kind, det = "?", ""
            try:
                xs = sorted(os.listxattr(p, follow_symlinks=False))
            except OSError:
                xs = []
            got[rel] = [kind, stat.S_IMODE(m) if kind != "l" else 0o777, st.st_uid, st.st_gid, det, xs]
            if kind == "f" and st.st_nlink > 1:
                inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
    return got, sorted(sorted(v) for v in inodes.values() if len(v) > 1)


def cmd_check(a):
    with open(os.path.join(a.casedir, "case.json")) as f:
        c = json.load(f)
    want = c["tree"]
    links = sorted(c["hardlinks"])
    if a.owner:
        uid, gid = (int(x) for x in a.owner.split(":"))
        nw = {}
        for p, (k, mode, ouid, ogid, det, xs) in want.items():
            if k in ("c", "b"):
                continue  # devices are made only with privileges
            xs = [x for x in xs if not x.startswith("security.")]
            if k in ("f", "d") and (ouid, ogid) != (0, 0):
                xs = sorted(xs + ["user.rootlesscontainers"])  # the owner, recorded as umoci does
            nw[p] = [k, mode, uid, gid, det, xs]
        want = nw
    got, glinks = scan(a.rootfs)
    bad = []
    for p in sorted(set(want) | set(got)):
        w, g = want.get(p), got.get(p)
        if w != g:
            bad.append("  %s: want %s, got %s" % (p[:120], w, g))
    if links != glinks:
        bad.append("  hardlinks: want %s, got %s" % (links, glinks))
    if bad:
        print("%s: rootfs differs from the expected tree:\n%s" % (c["name"], "\n".join(bad[:30])))
        sys.exit(1)


def cmd_seeds(a):
    """Unpack fuzzer seeds: first byte 0 (raw unpacker) / 1,2,3 (pipeline none/gzip/zstd)."""
    build("/tmp/ccp_fuzz_outside")
    # Aimed at the fuzzer's own lower layer (fuzz/fuzz_tree.h): out -> its sentinel dir (absolute),
    # outf -> the sentinel file, rel -> ../outside, abs -> /.
    case("fuzz_lower_links", "writes through the fuzz tree's lower symlinks",
         [tar(F("out/pwn", "x"), F("rel/sentinel/pwn", "x"), F("abs/tmp/pwn", "x"), H("h", "outf"),
              H("h2", "out/sentinel/keep"), D("out/sentinel", 0o777), F("outf", "x", 0o777))])
    case("fuzz_lower_wh", "whiteouts through the fuzz tree's lower symlinks",
         [tar(F("out/.wh.sentinel", ""), F("rel/sentinel/.wh.keep", ""), F("out/sentinel/.wh..wh..opq", ""),
              F("abs/.wh.tmp", ""), F(".wh.outf", ""), F("lower/.wh..wh..opq", ""))])
    os.makedirs(a.dir, exist_ok=True)
    for c in CASES:
        for k, L in enumerate(c["layers"]):
            if isinstance(L, tuple) and L[0] == "blob":
                continue  # bombs: larger than the fuzzer's input cap
            data, enc = (L if isinstance(L, tuple) else (L, "gzip"))
            if len(data) > 60000:
                continue
            sel = {"none": 1, "gzip": 2, "zstd": 3}[enc]
            name = "hostile_%s_L%d" % (c["name"], k)
            for pre, blob, suf in ((0, data, ""), (sel | 0x80, encode(data, enc), "." + enc + ".walk")):
                with open(os.path.join(a.dir, name + suf), "wb") as f:
                    f.write(bytes([pre]) + blob)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp = ap.add_subparsers(dest="cmd", required=True)
    g = sp.add_parser("gen")
    g.add_argument("outdir")
    g.add_argument("--outside", required=True)
    g.set_defaults(fn=cmd_gen)
    g = sp.add_parser("list")
    g.add_argument("outdir")
    g.set_defaults(fn=cmd_list)
    g = sp.add_parser("push")
    g.add_argument("outdir")
    g.add_argument("registry")
    g.add_argument("--regpush-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                         "tests", "integration"))
    g.set_defaults(fn=cmd_push)
    g = sp.add_parser("check")
    g.add_argument("casedir")
    g.add_argument("rootfs")
    g.add_argument("--owner")
    g.set_defaults(fn=cmd_check)
    g = sp.add_parser("seeds")
    g.add_argument("dir")
    g.set_defaults(fn=cmd_seeds)
    a = ap.parse_args()
    if getattr(a, "outside", None) and not os.path.isabs(a.outside):
        ap.error("--outside must be an absolute path")
    a.fn(a)


if __name__ == "__main__":
    main()
