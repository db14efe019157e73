#!/usr/bin/python3
"""mkmany.py OUT.tar PREFIX FILES: a deterministic tar of FILES tiny files under PREFIX/.

PREFIX/dNNN/ directories of 1000 files each, fNNNN holding a line that names the file (tens of
bytes): a layer whose cost is in the number of entries, not in the bytes (bench/run.sh many-files
rows). Written as a stream: no memory in proportion to FILES.
"""
import io
import sys
import tarfile

out, prefix, files = sys.argv[1], sys.argv[2].strip("/"), int(sys.argv[3])


def info(name, kind, size=0):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    ti.mtime = 1600000000
    ti.uname = ti.gname = ""
    ti.size = size
    return ti


with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
    t.addfile(info(prefix, tarfile.DIRTYPE))
    for n in range(files):
        d = "%s/d%03d" % (prefix, n // 1000)
        if n % 1000 == 0:
            t.addfile(info(d, tarfile.DIRTYPE))
            t.members.clear()  # tarfile keeps every TarInfo otherwise
        data = ("%s/f%04d\n" % (d, n % 1000)).encode()
        t.addfile(info("%s/f%04d" % (d, n % 1000), tarfile.REGTYPE, len(data)), io.BytesIO(data))
