#!/bin/bash
# The hostile-layer suite (testdata/mkhostile.py): every case is pushed as an image and pulled
# as root through the store (layer k applied through an overlay of layers 0..k-1), again with
# openat2 blocked by a seccomp filter (tests/helpers/no_openat2: the fallback walk), and once as an
# unprivileged user (layers applied straight into the rootfs). Each pull must give the case's exit
# code and exact tree; after every pull a sentinel tree outside the bundle and the store (and the
# host's /etc/passwd, which one case aims at) must be unchanged down to ctime, no ".wh." marker may
# survive, and a failed pull must leave no rootfs and nothing in the store's staging area.
. "$(dirname "$0")/lib.sh"

GEN=$CCPULL_SRC/testdata/mkhostile.py
NOBODY=65534
NO_OPENAT2=$CCPULL_BUILD/no_openat2
[ -x "$NO_OPENAT2" ] || fail "$NO_OPENAT2 was not built"

OUT=$T/outside
mkdir -p "$OUT/keep/inner" "$OUT/etc"
printf 'secret\n' >"$OUT/file"
printf 'root:x:0:0::/root:/bin/sh\n' >"$OUT/etc/passwd"
printf 'inner\n' >"$OUT/keep/inner/data"
ln -s file "$OUT/link"
ln -s /nonexistent "$OUT/dangling"
mkfifo -m 0600 "$OUT/fifo"
ln "$OUT/file" "$OUT/keep/file-hardlink"
chmod 0640 "$OUT/file"
chmod 0750 "$OUT/keep"
chown 1234:5678 "$OUT/keep/inner/data"
"$PY" -c 'import os, sys; os.setxattr(sys.argv[1], "user.sentinel", b"1")' "$OUT/file" ||
	skip "the temp file system has no user xattrs"
find "$OUT" -exec touch -h -d @1000000000 {} +

# Everything that could betray a write: type, mode, owner, size, links, mtime, ctime, content, xattrs.
state() {
	"$PY" - "$OUT" /etc/passwd <<-'EOF'
		import hashlib, os, stat, sys
		def rec(p):
		    st = os.lstat(p)
		    line = [p, oct(st.st_mode), st.st_uid, st.st_gid, st.st_size, st.st_nlink, st.st_ino,
		            st.st_mtime_ns, st.st_ctime_ns]
		    if stat.S_ISREG(st.st_mode):
		        with open(p, "rb") as f:
		            line.append(hashlib.sha256(f.read()).hexdigest())
		    if stat.S_ISLNK(st.st_mode):
		        line.append(os.readlink(p))
		    for x in sorted(os.listxattr(p, follow_symlinks=False)):
		        line.append((x, os.getxattr(p, x, follow_symlinks=False)))
		    print(*line)
		for top in sys.argv[1:]:
		    rec(top)
		    if os.path.isdir(top):
		        for dp, dns, fns in os.walk(top):
		            for n in sorted(dns + fns):
		                rec(os.path.join(dp, n))
	EOF
}
state >"$T/sentinel.before"

"$PY" "$GEN" gen "$T/cases" --outside "$OUT"
mapfile -t CASES < <("$PY" "$GEN" list "$T/cases" | grep -E "${HOSTILE_CASES:-.}")
[ -n "${HOSTILE_CASES:-}" ] || [ "${#CASES[@]}" -ge 40 ] || fail "only ${#CASES[@]} hostile cases"

start_registry
"$PY" "$GEN" push "$T/cases" "$REG" --regpush-dir "$IT_DIR"

# bad CASE MSG: records a failed case; the suite goes on so that one run lists every failure.
BAD=()
bad() {
	BAD+=("$1")
	log "FAIL: $1: $2"
}

# run_suite MODE: MODE is root, walk (root, openat2 blocked) or nobody.
run_suite() {
	local mode=$1 line name want bundle rc n=0 markers
	local pre=() opts=("${CCP_PULL[@]}") owner=() base=$T/$mode
	mkdir -p "$base"
	case $mode in
	root) opts+=(--store "$base/store") ;;
	walk) opts+=(--store "$base/store"); pre=("$NO_OPENAT2") ;;
	nobody)
		chown "$NOBODY:$NOBODY" "$base"
		pre=(setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups --)
		owner=(--owner "$NOBODY:$NOBODY")
		;;
	esac
	for line in "${CASES[@]}"; do
		name=${line% *}
		want=${line#* }
		bundle=$base/b-$name
		rc=0
		"${pre[@]}" "$CCPULL" "${opts[@]}" -q "$REG/hostile/${name//_/-}:v1" "$bundle" >"$T/out" 2>"$T/err" || rc=$?
		n=$((n + 1))
		if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/err"; then
			bad "$mode/$name" "sanitizer report: $(head -c 3000 "$T/err")"
		elif [ "$rc" != "$want" ]; then
			bad "$mode/$name" "exit $rc, expected $want: $(head -c 600 "$T/err")"
		elif [ "$want" = 0 ]; then
			"$PY" "$GEN" check "$T/cases/$name" "$bundle/rootfs" "${owner[@]}" >&2 || bad "$mode/$name" "wrong tree"
		else
			grep -q . "$T/err" || bad "$mode/$name" "failed without a message"
			[ ! -e "$bundle/rootfs" ] || bad "$mode/$name" "failed pull left a rootfs"
		fi
		markers=$(find "$base" -name '.wh.*' | head -n 3)
		[ -z "$markers" ] || bad "$mode/$name" "whiteout markers survive: $markers"
		if [ -d "$base/store/staging" ] && [ -n "$(ls -A "$base/store/staging")" ]; then
			bad "$mode/$name" "staging leftovers: $(ls -A "$base/store/staging")"
		fi
		state >"$T/sentinel.after"
		if ! cmp -s "$T/sentinel.before" "$T/sentinel.after"; then
			bad "$mode/$name" "the sentinel outside the bundle changed: $(diff "$T/sentinel.before" "$T/sentinel.after" | head -n 10)"
			cp "$T/sentinel.after" "$T/sentinel.before"
		fi
		rm -rf "$bundle"
	done
	log "$mode: $n cases run"
}

# HOSTILE_MODES / HOSTILE_CASES (a regex) narrow a run down while debugging.
MODES=${HOSTILE_MODES:-root walk nobody}
[[ " $MODES " != *" root "* ]] || run_suite root
[[ " $MODES " != *" walk "* ]] || run_suite walk

# Unprivileged: the user must reach the binary and the temp dir.
chmod 0711 "$T"
if [[ " $MODES " != *" nobody "* ]]; then
	:
elif setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups -- test -x "$CCPULL"; then
	run_suite nobody
else
	log "note: user $NOBODY cannot run $CCPULL; unprivileged run skipped"
fi

[ "${#BAD[@]}" -eq 0 ] || fail "${#BAD[@]} failed case(s): ${BAD[*]}"
