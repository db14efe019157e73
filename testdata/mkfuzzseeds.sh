#!/bin/sh
# Regenerates the seed corpora of fuzz/unpack_fuzzer.c and fuzz/decompress_fuzzer.c.
# unpack seeds: first byte selects the path (0 unpacker, 1 layer/none, 2 layer/gzip, 3 layer/zstd),
# the rest is the layer. decompress seeds: first byte 0 gzip, 1 zstd, 2 sniff.
# Needs /usr/bin/python3 (tarfile, gzip) and zstd. Output is deterministic (fixed mtimes, gzip mtime 0).
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
out_u="$src/fuzz/corpora/unpack"
out_d="$src/fuzz/corpora/decompress"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out_u" "$out_d"

/usr/bin/python3 - "$tmp" <<'PY'
import io, os, sys, tarfile
tmp = sys.argv[1]

def tar(name, entries, fmt=tarfile.PAX_FORMAT, cut=None):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=fmt) as t:
        for e in entries:
            ti = tarfile.TarInfo(e[1])
            ti.mtime = 1000000
            data = b""
            if e[0] == "f":
                data = e[2].encode() if len(e) > 2 else b""
                ti.size = len(data)
                if len(e) > 3:
                    ti.mode = e[3]
            elif e[0] == "d":
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
            elif e[0] == "l":
                ti.type = tarfile.SYMTYPE
                ti.linkname = e[2]
            elif e[0] == "h":
                ti.type = tarfile.LNKTYPE
                ti.linkname = e[2]
            elif e[0] == "p":
                ti.type = tarfile.FIFOTYPE
            elif e[0] == "c":
                ti.type = tarfile.CHRTYPE
                ti.devmajor, ti.devminor = 1, 3
            elif e[0] == "x":
                ti.size = 0
                ti.pax_headers = e[2]
            t.addfile(ti, io.BytesIO(data))
    raw = b.getvalue()
    if cut is not None:
        raw = raw[:cut]
    open(os.path.join(tmp, name + ".tar"), "wb").write(raw)

tar("basic", [("d", "etc"), ("f", "etc/passwd", "root:x:0:0\n"), ("l", "etc/link", "passwd"),
              ("h", "etc/hl", "etc/passwd"), ("f", "bin/su", "su", 0o4755), ("p", "run/fifo"),
              ("c", "dev/null"), ("l", "usr/lib64", "/usr/lib")])
tar("whiteouts", [("f", "lower/.wh.f"), ("f", ".wh.rel"), ("f", "lower/.wh..wh..opq"), ("f", "lower/new", "n"),
                  ("f", ".wh..wh.plnk"), ("f", ".wh.missing")])
tar("opaque_after", [("f", "lower/mine", "m"), ("f", "lower/.wh..wh..opq")])
tar("escape", [("f", "../x", "x"), ("f", "/abs/y", "y"), ("f", "abs/through_root", "r"),
               ("f", "rel/sentinel/pwn", "p"), ("l", "s", "../../outside"), ("f", "s/sentinel/pwn2", "p"),
               ("h", "hl", "../outside/sentinel/keep"), ("h", "hl2", "rel/sentinel/keep")])
tar("loop", [("l", "a", "b"), ("l", "b", "a"), ("f", "a/x", "x")])
tar("replace", [("f", "lower", "now a file"), ("d", "abs"), ("l", "lower", "/"), ("f", "lower/z", "z"),
                ("f", "dup", "1"), ("f", "dup", "2")])
tar("root", [("d", "./"), ("f", "f", "f")])
tar("root_symlink", [("l", "./", "/")])
tar("bad_wh", [("f", "a/.wh."), ("f", ".wh..")])
tar("xattrs", [("x", "xa", {"SCHILY.xattr.user.a": "1", "SCHILY.xattr.trusted.overlay.opaque": "y",
                            "SCHILY.xattr.security.capability": "", "SCHILY.xattr.user.overlay.x": "z"})])
tar("gnu_long", [("f", "d/" + "n" * 150, "long"), ("l", "ll", "t" * 200)], fmt=tarfile.GNU_FORMAT)
tar("ustar", [("d", "u"), ("f", "u/f", "ustar")], fmt=tarfile.USTAR_FORMAT)
tar("truncated", [("f", "big", "A" * 3000)], cut=512 * 3 + 700)
# No end blocks and no final padding, as umoci insert writes.
tar("noend", [("f", "noend", "hello"), ("f", "noend2", "bye")])
raw = open(os.path.join(tmp, "noend.tar"), "rb").read().rstrip(b"\0")
open(os.path.join(tmp, "noend.tar"), "wb").write(raw)
PY

for f in "$tmp"/*.tar; do
	n=$(basename "$f" .tar)
	printf '\000' > "$out_u/$n"; cat "$f" >> "$out_u/$n"
	printf '\001' > "$out_u/$n.none"; cat "$f" >> "$out_u/$n.none"
	printf '\002' > "$out_u/$n.gz"; gzip -9n -c "$f" >> "$out_u/$n.gz"
	printf '\003' > "$out_u/$n.zst"; zstd -q -c "$f" >> "$out_u/$n.zst"
done
# Decompression seeds: multi-member gzip, gzip with trailing zeros, multi-frame zstd, plain (sniffed).
b="$tmp/basic.tar"
{ printf '\000'; head -c 1024 "$b" | gzip -9n -c; tail -c +1025 "$b" | gzip -9n -c; } > "$out_d/gzip_members"
{ printf '\000'; gzip -9n -c "$b"; head -c 64 /dev/zero; } > "$out_d/gzip_zeros"
{ printf '\000'; gzip -9n -c "$b"; printf 'junk'; } > "$out_d/gzip_junk"
{ printf '\001'; head -c 1024 "$b" | zstd -q -c; tail -c +1025 "$b" | zstd -q -c; } > "$out_d/zstd_frames"
{ printf '\002'; gzip -9n -c "$b"; } > "$out_d/sniff_gzip"
{ printf '\002'; zstd -q -c "$b"; } > "$out_d/sniff_zstd"
{ printf '\002'; cat "$b"; } > "$out_d/sniff_plain"
{ printf '\000'; gzip -9n -c "$b" | head -c 100; } > "$out_d/gzip_truncated"
