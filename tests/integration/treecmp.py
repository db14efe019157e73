#!/usr/bin/python3
"""treecmp.py A B: compare two unpacked rootfs trees entry by entry.

Compared for every path (the roots included): file type, permission bits with setuid/setgid/sticky,
uid, gid, size (not for directories, whose size depends on the file system), sha256 of regular file
content, symlink target, device numbers, and which paths are hard links of one another.
Symlinks are never followed. Prints every difference; exit 0 if none, 1 otherwise, 2 on usage errors.
"""
import hashlib
import os
import stat
import sys

TYPES = [(stat.S_ISDIR, "dir"), (stat.S_ISREG, "file"), (stat.S_ISLNK, "symlink"),
         (stat.S_ISFIFO, "fifo"), (stat.S_ISCHR, "chardev"), (stat.S_ISBLK, "blockdev"),
         (stat.S_ISSOCK, "socket")]


def ftype(mode):
    for test, name in TYPES:
        if test(mode):
            return name
    return "unknown"


def sha256_file(path):
    h = hashlib.sha256()
    # O_NOFOLLOW: the tree is untrusted output, never read through a link.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            h.update(chunk)
    finally:
        os.close(fd)
    return h.hexdigest()


def scan(root):
    """Return {relpath: attrs} and {relpath: hardlink group (tuple of relpaths)}."""
    entries = {}
    inodes = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        names = ["."] if dirpath == root else []
        names += dirnames + filenames
        for name in names:
            full = dirpath if name == "." else os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            t = ftype(st.st_mode)
            a = {"type": t, "mode": "%04o" % stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
            if t != "dir":
                a["size"] = st.st_size
            if t == "file":
                a["sha256"] = sha256_file(full)
            elif t == "symlink":
                a["target"] = os.readlink(full)
            elif t in ("chardev", "blockdev"):
                a["rdev"] = "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
            entries[rel] = a
            if t != "dir":
                inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
    groups = {}
    for paths in inodes.values():
        if len(paths) > 1:
            g = tuple(sorted(paths))
            for p in paths:
                groups[p] = g
    return entries, groups


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: treecmp.py TREE_A TREE_B\n")
        return 2
    a_root, b_root = sys.argv[1], sys.argv[2]
    for r in (a_root, b_root):
        if not os.path.isdir(r) or os.path.islink(r):
            sys.stderr.write("treecmp: %s is not a directory\n" % r)
            return 2
    a, ga = scan(a_root)
    b, gb = scan(b_root)
    diffs = []
    for p in sorted(set(a) | set(b)):
        if p not in b:
            diffs.append("only in %s: %s (%s)" % (a_root, p, a[p]["type"]))
            continue
        if p not in a:
            diffs.append("only in %s: %s (%s)" % (b_root, p, b[p]["type"]))
            continue
        for k in sorted(set(a[p]) | set(b[p])):
            if a[p].get(k) != b[p].get(k):
                diffs.append("%s: %s differs: %s vs %s" % (p, k, a[p].get(k), b[p].get(k)))
        if ga.get(p) != gb.get(p):
            diffs.append("%s: hardlink group differs: %s vs %s" % (p, ga.get(p), gb.get(p)))
    for d in diffs:
        print("treecmp: " + d)
    if diffs:
        print("treecmp: %d difference(s) between %s and %s" % (len(diffs), a_root, b_root))
        return 1
    print("treecmp: %d entries identical" % len(a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
