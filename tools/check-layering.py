#!/usr/bin/env python3
"""Checks every #include of the library, the CLI, the service and the examples against the module
order of tools/layering.conf: a file may include its own module, and the modules its module may use
(directly or through others), and of a module with an export list only the files listed.

Usage: tools/check-layering.py [--order] [SRCDIR]
  SRCDIR   the top of the repository (default: this script's parent folder)
  --order  prints the modules from the bottom up (the order docs/internals/README.md writes down)

Exit status: 0 when every include respects the order, 1 when one does not (each named with its file
and line), 2 when the table itself is wrong (unknown module, a cycle, a file no "place" covers)."""

import fnmatch
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
SCANNED = ("src", "keyproviders", "include", "examples")
SOURCE_EXT = (".c", ".h")


class TableError(Exception):
    pass


def read_table(path):
    deps, exports, generated, search, places = {}, {}, {}, {}, []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if ":" not in line:
                raise TableError("%s:%d: no ':' in %r" % (path, n, line))
            head, _, rest = line.partition(":")
            words = rest.split()
            kind, _, name = head.strip().partition(" ")
            name = name.strip()
            if kind == "place" and len(words) == 1:
                places.append((name, words[0]))
            elif kind == "export":
                exports[name] = set(words)
            elif kind == "generated" and len(words) == 1:
                generated[name] = words[0]
            elif kind == "search":
                search[name] = words
            elif not name:
                if kind in deps:
                    raise TableError("%s:%d: module %s listed twice" % (path, n, kind))
                deps[kind] = words
            else:
                raise TableError("%s:%d: cannot read %r" % (path, n, line))
    for m, ds in deps.items():
        for d in ds:
            if d not in deps:
                raise TableError("%s: %s may use %s, which is no module" % (path, m, d))
    for what in (exports, search):
        for m in what:
            if m not in deps:
                raise TableError("%s: %s is no module" % (path, m))
    for h, m in generated.items():
        if m not in deps:
            raise TableError("%s: generated %s belongs to %s, which is no module" % (path, h, m))
    return deps, exports, generated, search, places


def order_of(deps):
    """The modules bottom-up (each after all it may use); TableError on a cycle."""
    done, busy, out = set(), [], []

    def visit(m):
        if m in done:
            return
        if m in busy:
            raise TableError("cycle in the module table: %s" % " -> ".join(busy[busy.index(m):] + [m]))
        busy.append(m)
        for d in deps[m]:
            visit(d)
        busy.pop()
        done.add(m)
        out.append(m)

    for m in deps:
        visit(m)
    return out


def closure(deps):
    reach = {}
    for m in order_of(deps):
        r = set()
        for d in deps[m]:
            r.add(d)
            r |= reach[d]
        reach[m] = r
    return reach


def module_of(rel, places, deps):
    parts = rel.split("/")
    for glob, mod in places:
        if "{m}" in glob:
            gparts = glob.split("/")
            i = gparts.index("{m}")
            if len(parts) > i + 1 and fnmatch.fnmatch(rel, glob.replace("{m}", "*")):
                name = parts[i]
                if name not in deps:
                    raise TableError("%s: its folder %s is no module of tools/layering.conf" % (rel, name))
                return name
        elif fnmatch.fnmatch(rel, glob):
            return mod
    return None


def resolve(top, rel, inc, angle, search):
    """The repository path of an include, or None for a system header."""
    here = os.path.dirname(rel)
    cands = [] if angle else [os.path.join(here, inc)]
    cands += [os.path.join("include", inc), os.path.join("src", inc), inc]
    cands += [os.path.join(d, inc) for d in search]
    for c in cands:
        c = os.path.normpath(c)
        if not c.startswith("..") and os.path.isfile(os.path.join(top, c)):
            return c
    return None


def main(argv):
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    show_order = False
    for a in argv[1:]:
        if a == "--order":
            show_order = True
        elif a.startswith("-"):
            print(__doc__, file=sys.stderr)
            return 2
        else:
            top = os.path.abspath(a)
    table = os.path.join(top, "tools", "layering.conf")
    try:
        deps, exports, generated, search, places = read_table(table)
        reach = closure(deps)
        if show_order:
            print(" < ".join(order_of(deps)))
            return 0
        files = []
        for d in SCANNED:
            for root, dirs, names in os.walk(os.path.join(top, d)):
                dirs.sort()
                for nm in sorted(names):
                    if nm.endswith(SOURCE_EXT):
                        files.append(os.path.relpath(os.path.join(root, nm), top))
        bad = 0
        for rel in files:
            mod = module_of(rel, places, deps)
            if mod is None:
                raise TableError("%s: no \"place\" line of tools/layering.conf covers it" % rel)
            with open(os.path.join(top, rel), encoding="utf-8", errors="replace") as f:
                for n, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    angle, inc = m.group(1) == "<", m.group(2)
                    target = resolve(top, rel, inc, angle, search.get(mod, []))
                    if target is None:
                        tmod = generated.get(os.path.basename(inc))
                        if tmod is None:
                            if not angle:
                                print("%s:%d: #include \"%s\": no such file in the repository, and no "
                                      "\"generated\" line names it" % (rel, n, inc))
                                bad += 1
                            continue
                    else:
                        tmod = module_of(target, places, deps)
                        if tmod is None:
                            print("%s:%d: #include \"%s\": %s is in no module" % (rel, n, inc, target))
                            bad += 1
                            continue
                    if tmod == mod:
                        continue
                    if tmod not in reach[mod]:
                        print("%s:%d: #include \"%s\": module %s may not use module %s (tools/layering.conf)"
                              % (rel, n, inc, mod, tmod))
                        bad += 1
                    elif target is not None and tmod in exports and target not in exports[tmod]:
                        print("%s:%d: #include \"%s\": %s is internal to module %s; its interface is %s"
                              % (rel, n, inc, target, tmod, " ".join(sorted(exports[tmod]))))
                        bad += 1
        if bad:
            print("check-layering: %d include(s) against the module order: %s"
                  % (bad, " < ".join(order_of(deps))))
            return 1
        print("check-layering: %d files follow the module order" % len(files))
        return 0
    except TableError as ex:
        print("check-layering: %s" % ex, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
