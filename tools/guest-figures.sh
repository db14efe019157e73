#!/bin/bash
# The figures of the README's "Guest build" table, for the dynamic build and the guest build:
# stripped size, libraries loaded, total size of what is loaded (the stripped binary plus every
# shared library on disk), idle `ccpull serve` RSS (VmRSS of /proc/PID/status, 2 s after its socket
# appears) and the code compiled into it.
#
# Usage: tools/guest-figures.sh [DYNAMIC_BUILD_DIR [GUEST_DIR]]   (defaults: build, build-guest)
# The guest build must have been made by tools/guest-build.sh (its link map, ccpull.map, and the
# curl and libarchive sources under GUEST_DIR/deps/src are read). The Debian source packages of the
# static libraries it links are fetched into GUEST_DIR/deps/figures-src to count their lines of C
# (FIGURES_SOURCES=0: not fetched, not counted).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
DYN=${1:-$SRC/build}
GUEST=${2:-$SRC/build-guest}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

[ -x "$DYN/ccpull" ] || { echo "no $DYN/ccpull" >&2; exit 1; }
[ -x "$GUEST/ccpull/ccpull" ] || { echo "no $GUEST/ccpull/ccpull: run tools/guest-build.sh" >&2; exit 1; }

mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }

# The shared libraries the dynamic loader maps for BIN (none for a static binary).
libs_of() { ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u; }

# idle_rss BIN: VmRSS of a `ccpull serve` that has started and has served nothing.
idle_rss() {
	local bin=$1 sock=$TMP/serve.$RANDOM.sock pid rss
	"$bin" serve --socket "$sock" --insecure-policy --store "$TMP/store.$RANDOM" --quiet 2>"$TMP/serve.log" &
	pid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
	[ -S "$sock" ] || { cat "$TMP/serve.log" >&2; kill "$pid"; echo "?"; return 0; }
	sleep 2
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	echo "$rss"
}

# figures NAME BIN: one line of the table.
figures() {
	local name=$1 bin=$2 stripped total n lib rss
	strip -o "$TMP/$name" "$bin"
	stripped=$(stat -c %s "$TMP/$name")
	total=$stripped
	n=1
	for lib in $(libs_of "$bin"); do
		total=$((total + $(stat -L -c %s "$lib")))
		n=$((n + 1))
	done
	rss=$(idle_rss "$bin")
	printf '| %s | %s | %d | %s | %s KiB |\n' "$name" "$(mib "$stripped")" "$n" "$(mib "$total")" "$rss"
}

echo "ldd $DYN/ccpull: $(libs_of "$DYN/ccpull" | wc -l) libraries"
echo "ldd $GUEST/ccpull/ccpull: $(ldd "$GUEST/ccpull/ccpull" 2>&1 | head -n 1 | sed 's/^[[:space:]]*//')"
echo
echo "| build | stripped binary | files loaded (with itself) | total size loaded | idle serve RSS |"
echo "|---|---|---|---|---|"
figures dynamic "$DYN/ccpull"
figures guest "$GUEST/ccpull/ccpull"

# Sources of the Debian static libraries the guest binary links (FIGURES_SOURCES=0: none; their lines
# of C are then not counted), fetched once into GUEST/deps/figures-src with apt-get source.
SRCMAP=$TMP/srcmap
: >"$SRCMAP"
if [ "${FIGURES_SOURCES:-1}" != 0 ]; then
	mkdir -p "$GUEST/deps/figures-src"
	for a in $(grep -oE '^/[^(]+\.a\(' "$GUEST/ccpull/ccpull.map" | tr -d '(' | xargs -r realpath | sort -u); do
		case $a in */deps/* | */libc.a | */libc_nonshared.a | */gcc/*) continue ;; esac
		bin=$(dpkg -S "$a" 2>/dev/null | head -n 1 | cut -d: -f1) || continue
		[ -n "$bin" ] || continue
		srcpkg=$(dpkg-query -W -f='${source:Package}' "$bin" 2>/dev/null | head -n 1)
		ver=$(dpkg-query -W -f='${source:Version}' "$bin" 2>/dev/null | head -n 1)
		dir=$GUEST/deps/figures-src/$srcpkg
		# the installed version, else the newest the archive still serves (for counting lines only)
		for v in $ver $(apt-cache showsrc "$srcpkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -rVu); do
			[ -f "$dir/.unpacked" ] && break
			rm -rf "$dir" "$dir.dl"
			mkdir -p "$dir.dl"
			if (cd "$dir.dl" && apt-get source --download-only "$srcpkg=$v" >/dev/null 2>&1) &&
				dpkg-source --no-check -x "$dir.dl/"*.dsc "$dir" >/dev/null 2>&1; then
				echo "$v" >"$dir/.unpacked"
			fi
			rm -rf "$dir.dl"
		done
		[ -f "$dir/.unpacked" ] || echo "figures: no source for $srcpkg $ver" >&2
		[ -f "$dir/.unpacked" ] && printf '%s %s\n' "$(basename "$a" .a | sed 's/^lib//')" "$dir" >>"$SRCMAP"
	done
fi

# Code compiled in. Guest: from the link map, the archive members the linker took (after
# --gc-sections only their used functions remain: .text bytes below are what is in the binary); lines
# of C are those of the .c files of the members taken (the sources of Debian's *.a found by name in
# their source packages). Dynamic: every library is loaded whole; its .text size is that of the .so, and the
# lines of C of curl and libarchive are those of all their library sources (Debian builds them all).
echo
# shellcheck disable=SC2046 # one library path per word
SRCMAP=$SRCMAP python3 - "$SRC" "$GUEST" "$DYN" $(libs_of "$DYN/ccpull") <<'PY'
import os, re, subprocess, sys, glob, collections
src, guest, dyn, dynlibs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
mapf = open(os.path.join(guest, "ccpull", "ccpull.map")).read()
head, _, body = mapf.partition("Linker script and memory map")
body = body.split("/DISCARD/")[0]

def comp(path):
    path = os.path.normpath(path)
    b = os.path.basename(path.split("(")[0])
    if "/deps/" not in path and ("CMakeFiles" in path or b.startswith("libccpull")):
        return "ccpull"
    if "/gcc/" in path or re.match(r"(lib(c|c_nonshared|pthread|dl|m|rt|gcc|gcc_eh)\.a|.*crt.*\.o)$", b):
        return "glibc+libgcc"
    return re.sub(r"^lib|\.a$", "", b)

text = collections.Counter()
members = collections.defaultdict(set)
# entries: " .text[.name]  0xADDR  0xSIZE file" possibly wrapped after the section name
lines = body.splitlines()
i = 0
while i < len(lines):
    l = lines[i]
    m = re.match(r"^ (\.text\S*|\.rodata\S*|\.data\S*)\s*$", l)
    if m and i + 1 < len(lines):
        l = l.rstrip() + " " + lines[i + 1].strip(); i += 1
    m = re.match(r"^ (\.\S+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$", l)
    if m:
        sec, size, f = m.group(1), int(m.group(2), 16), m.group(3).strip()
        c = comp(f)
        if sec.startswith(".text") and size:
            text[c] += size
            mm = re.match(r"(.*\.a)\((.*)\)$", f)
            members[c].add(mm.group(2) if mm else os.path.basename(f))
    i += 1

def c_lines(files):
    n = 0
    for f in files:
        with open(f, "rb") as fh: n += fh.read().count(b"\n")
    return n

index = {}
def find_src(root, obj):
    # libcurl_la-easy.o, libcrypto-lib-bio_addr.o, archive_read.c.o, adler32.o: the first suffix after
    # a '-' (or the whole name) that is a .c file of the source tree
    if root not in index:
        index[root] = {}
        for f in glob.glob(os.path.join(root, "**", "*.c"), recursive=True):
            if not re.search(r"/(tests?|fuzz|examples?|demos?|apps)/", f[len(root):]):
                index[root].setdefault(os.path.basename(f), f)
    stem = re.sub(r"(\.c)?\.(o|lo)$", "", obj).split("-")
    for k in range(len(stem)):
        f = index[root].get("-".join(stem[k:]) + ".c")
        if f:
            return [f]
    return []

srcdirs = {os.path.basename(d).split("-")[0]: d for d in glob.glob(os.path.join(guest, "deps", "src", "*-*"))
           if os.path.isdir(d) and not d.endswith("-dl")}
debsrc = dict(l.split(None, 1) for l in open(os.environ["SRCMAP"]).read().splitlines() if l.strip())
def guest_lines(c):
    if c == "ccpull":  # everything CMake compiles into the CLI, generated protobuf-c code included
        none = re.compile(r"/(gpg|pgp)_none\.c$" if "gpgme" in members else r"/(signature/gpg|pgp/pgp)\.c$")
        fs = [f for f in glob.glob(os.path.join(src, "src", "*", "*.c")) + glob.glob(os.path.join(src, "keyproviders", "*", "*.c"))
              + glob.glob(os.path.join(guest, "ccpull", "*-gen", "*.c")) if not none.search(f)]
        return c_lines(fs)
    root = srcdirs.get("libarchive" if c == "archive" else c) or debsrc.get(c)
    if not root: return None
    fs = []
    for o in members[c]: fs += find_src(root, o)
    return c_lines(fs)

def all_lines(c):
    root = srcdirs.get(c)
    if not root: return None
    sub = {"curl": "lib", "libarchive": "libarchive"}[c]
    fs = [f for f in glob.glob(os.path.join(root, sub, "**", "*.c"), recursive=True) if "/test" not in f]
    return c_lines(fs)

def text_of_so(path):
    out = subprocess.run(["size", "-A", path], capture_output=True, text=True).stdout
    return sum(int(l.split()[1]) for l in out.splitlines() if l.startswith(".text"))

fmt = lambda n: "-" if n is None else f"{n:,}"
print("| component | guest: .text bytes | guest: lines of C | dynamic: .text bytes | dynamic: lines of C |")
print("|---|---|---|---|---|")
dyn_text = {}
for p in dynlibs:
    b = re.sub(r"\.so.*$", "", os.path.basename(p)); b = re.sub(r"^lib|-0$", "", b)
    if b in ("c", "m", "dl", "pthread", "rt", "resolv", "gcc_s", "ld-linux-x86-64", "ld-linux-aarch64"):
        dyn_text["glibc+libgcc"] = dyn_text.get("glibc+libgcc", 0) + text_of_so(p)
        continue
    dyn_text[b] = text_of_so(p)
dyn_text["ccpull"] = text_of_so(os.path.join(dyn, "ccpull"))
names = ["ccpull", "curl", "archive"] + sorted(set(text) - {"ccpull", "curl", "archive", "glibc+libgcc"}) + ["glibc+libgcc"]
glines = 0
for c in names:
    g = text.get(c)
    dn = dyn_text.get(c)
    gl = guest_lines(c) if c != "glibc+libgcc" else None
    dl = None
    if c == "ccpull": dl = gl
    elif c == "curl": dl = all_lines("curl")
    elif c == "archive": dl = all_lines("libarchive")
    glines += gl or 0
    print(f"| {c if c != 'archive' else 'libarchive'} | {fmt(g)} | {fmt(gl)} | {fmt(dn)} | {fmt(dl)} |")
rest = {k: v for k, v in dyn_text.items() if k not in names}
print(f"| other libraries loaded only by the dynamic build ({len(rest)}) | - | - | {sum(rest.values()):,} | - |")
print(f"| total | {sum(text.values()):,} | {glines:,} (without glibc) | {sum(dyn_text.values()):,} | |")
PY
