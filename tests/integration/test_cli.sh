#!/bin/bash
# The command line itself: --help, --version, usage errors (exit 2 with a message), and
# registries.conf as the way to allow plain HTTP.
. "$(dirname "$0")/lib.sh"

log "--help"
expect 0 "$CCPULL" --help
for cmd in pull inspect; do
	grep -qE "(^|[[:space:]])$cmd([[:space:]]|$)" "$T/out" || fail "--help does not mention the '$cmd' command"
done
for opt in --insecure-policy --tls-verify --registries-conf --authfile --creds --store --platform --json; do
	grep -qF -- "$opt" "$T/out" || fail "--help does not mention $opt"
done

log "--version"
expect 0 "$CCPULL" --version
grep -qE '^ccpull [0-9]+\.[0-9]+\.[0-9]+' "$T/out" || fail "--version printed '$(cat "$T/out")', not 'ccpull X.Y.Z'"
if [ -n "${CCPULL_SRC:-}" ] && [ -f "$CCPULL_SRC/CMakeLists.txt" ]; then
	v=$(sed -n 's/^project(ccpull VERSION \([0-9.]*\).*/\1/p' "$CCPULL_SRC/CMakeLists.txt")
	[ -z "$v" ] || grep -qF "ccpull $v" "$T/out" || fail "--version does not print the project version $v"
fi

if [ -n "${CCPULL_SRC:-}" ] && [ -f "$CCPULL_SRC/README.md" ]; then
	log "README: commands that work in a fresh root shell; build, install and the documented options"
	R=$CCPULL_SRC/README.md
	# the indented command lines of Try it and Test it
	sed -n '/^## Try it/,/^## CLI tour/p' "$R" | grep -E '^    [^ ]' >"$T/readme-cmds" || true
	grep -qxF '    ./examples/demo.sh' "$T/readme-cmds" || fail "README: 'Try it' does not run ./examples/demo.sh as is"
	grep -qxF '    tests/run.sh' "$T/readme-cmds" || fail "README: 'Test it' does not run tests/run.sh as is"
	grep -q 'sudo' "$T/readme-cmds" && fail "README: a command needs sudo: $(grep sudo "$T/readme-cmds")"
	grep -qF 'exec tests/run.sh' "$CCPULL_SRC/.ci/run" || fail ".ci/run no longer runs tests/run.sh, the README's test command"
	grep -qF 'cmake --install build' "$R" || fail "README: no build and install section (cmake --install)"
	grep -qF 'CCPULL_DEMO_KEEP=1' "$R" || fail "README does not document CCPULL_DEMO_KEEP"
	for opt in --policy --ca-file; do
		grep -qE "^\| \`$opt " "$R" || fail "README: the options table does not list $opt"
	done
fi

log "usage errors"
# usage_err ARGS...: exit 2, a message on stderr, nothing created.
usage_err() {
	expect 2 "$CCPULL" "$@"
	[ -s "$T/err" ] || fail "'ccpull $*' exited 2 without a message"
}
usage_err
usage_err --no-such-option
expect_stderr 'no-such-option'
usage_err no-such-command
expect_stderr 'no-such-command'
usage_err pull
usage_err pull --insecure-policy
usage_err pull --insecure-policy 127.0.0.1:1/img:v1
usage_err pull --insecure-policy 127.0.0.1:1/img:v1 "$T/b" extra-argument
no_rootfs "$T/b"
usage_err pull --insecure-policy --no-such-option 127.0.0.1:1/img:v1 "$T/b"
expect_stderr 'no-such-option'
no_rootfs "$T/b"
usage_err pull --insecure-policy --store
usage_err pull --insecure-policy --platform 'not a platform' 127.0.0.1:1/img:v1 "$T/b"
usage_err pull --insecure-policy --snapshotter no-such-snapshotter 127.0.0.1:1/img:v1 "$T/b"
usage_err pull --insecure-policy --parallel-layers 0 127.0.0.1:1/img:v1 "$T/b"
expect_stderr 'parallel-layers'
usage_err pull --insecure-policy --parallel-layers 1025 127.0.0.1:1/img:v1 "$T/b"
usage_err inspect --parallel-layers 2 127.0.0.1:1/img:v1
usage_err pull --insecure-policy 'UPPERCASE/Is/Invalid:tag' "$T/b"
usage_err pull --insecure-policy '127.0.0.1:1/img@sha256:short' "$T/b"
usage_err pull --insecure-policy --tls-verify=maybe 127.0.0.1:1/img:v1 "$T/b"
no_rootfs "$T/b"
usage_err inspect
usage_err inspect --no-such-option 127.0.0.1:1/img:v1
printf 'this is = not [valid toml\n' >"$T/bad-registries.conf"
usage_err pull --insecure-policy --registries-conf "$T/bad-registries.conf" 127.0.0.1:1/img:v1 "$T/b"
usage_err pull --insecure-policy --registries-conf "$T/missing.conf" 127.0.0.1:1/img:v1 "$T/b"
printf '{"auths": ' >"$T/bad-auth.json"
usage_err pull --insecure-policy --authfile "$T/bad-auth.json" 127.0.0.1:1/img:v1 "$T/b"
no_rootfs "$T/b"

log "usage errors: one line, naming the option or listing the operands taken"
# one_line: the last command's stderr is exactly one line.
one_line() {
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "expected one line on stderr, got: $(cat "$T/err")"
}
usage_err pull --insecure-policy a b c
expect_stderr "pull: expected IMAGE and BUNDLE; got 3 operands: 'a' 'b' 'c'"
one_line
usage_err pull --insecure-policy 127.0.0.1:1/img:v1
expect_stderr "got 1 operand: '127.0.0.1:1/img:v1'"
grep -qF 'arguments' "$T/err" && fail "operand count still worded as 'got N arguments'"
usage_err inspect
expect_stderr 'expected exactly one IMAGE; got no operands'
usage_err pull --insecure-policy --tls-verify false 127.0.0.1:1/img:v1 "$T/b"
expect_stderr "write --tls-verify=false"
one_line
no_rootfs "$T/b"
usage_err pull --no-such-option 127.0.0.1:1/img:v1 "$T/b"
expect_stderr "unknown option --no-such-option"
one_line
usage_err pull 127.0.0.1:1/img:v1 "$T/b" --store
expect_stderr "option --store needs a value"
one_line
usage_err pull 127.0.0.1:1/img:v1 "$T/b" --json=yes
expect_stderr "option --json(=yes)? takes no value"
usage_err inspect --parallel-layers 2 127.0.0.1:1/img:v1
expect_stderr "inspect: --parallel-layers does not apply to inspect"
one_line
usage_err pull --raw 127.0.0.1:1/img:v1 "$T/b"
expect_stderr "pull: --raw applies to inspect only"
usage_err pull --insecure-policy http://127.0.0.1:1/img:v1 "$T/b"
expect_stderr 'a reference has no scheme'
usage_err verify http://127.0.0.1:1/img:v1
expect_stderr 'a reference has no scheme'
usage_err pull --insecure-policy --creds alice 127.0.0.1:1/img:v1 "$T/b"
expect_stderr 'pull: --creds expects USER:PASSWORD; "alice" has no password'
usage_err pull --insecure-policy --creds :s3cret 127.0.0.1:1/img:v1 "$T/b"
expect_stderr 'user name is missing'
grep -qF s3cret "$T/err" && fail "the --creds error printed the password"
usage_err store ls extra
expect_stderr "got 1 operand: 'extra'"
usage_err store
expect_stderr 'store needs a verb'
usage_err umount
expect_stderr 'expected exactly one BUNDLE'
no_rootfs "$T/b"

log "policy errors: where and what; --insecure-policy suggested only when there is no policy"
printf '{\n  "default": [\n    {"type": "insecureAcceptAnything"}\n' >"$T/bad_syntax.json"
printf '{\n  "default": [\n    {"type": "reject"},\n    {"type": "acceptAnything"}\n  ]\n}\n' >"$T/bad_type.json"
for cmd in pull verify; do
	args=(127.0.0.1:1/img:v1)
	[ "$cmd" = pull ] && args+=("$T/b")
	expect 2 "$CCPULL" $cmd --policy "$T/bad_syntax.json" "${args[@]}"
	expect_stderr "invalid policy $T/bad_syntax.json, line 4 column 0: not valid JSON"
	grep -qF 'insecure-policy' "$T/err" && fail "$cmd: a broken policy suggests --insecure-policy: $(cat "$T/err")"
	expect 2 "$CCPULL" $cmd --policy "$T/bad_type.json" "${args[@]}"
	expect_stderr "invalid policy $T/bad_type.json, line 4 column 5 \\(default\\[1\\]\\): Unknown policy requirement type \"acceptAnything\""
	grep -qF 'insecure-policy' "$T/err" && fail "$cmd: a broken policy suggests --insecure-policy: $(cat "$T/err")"
	expect 2 "$CCPULL" $cmd --policy "$T/no-such-policy.json" "${args[@]}"
	expect_stderr 'no signature policy .*pull with --insecure-policy'
done
no_rootfs "$T/b"

log "each command has its own --help (exit 0)"
for cmd in pull inspect verify umount serve store "store ls" "store rm" "store gc"; do
	# shellcheck disable=SC2086 # $cmd is one or two words
	expect 0 "$CCPULL" $cmd --help
	grep -q "^Usage: ccpull ${cmd%% *}" "$T/out" || fail "'ccpull $cmd --help' printed: $(head -n 2 "$T/out")"
done
expect 0 "$CCPULL" pull --help
grep -qF -- '--decryption-key' "$T/out" || fail "pull --help does not list --decryption-key"
grep -qF -- '--raw' "$T/out" && fail "pull --help lists inspect's --raw"
expect 0 "$CCPULL" inspect --help
grep -qF -- '--image-config' "$T/out" || fail "inspect --help does not list --image-config"
expect 0 "$CCPULL" store --help
grep -qF 'store gc' "$T/out" || fail "store --help does not describe store gc"
if [ -n "${CCPULL_SRC:-}" ] && [ -f "$CCPULL_SRC/docs/ccpull.1" ]; then
	for scheme in 'jwe:' 'pkcs7:' 'pgp:' 'provider:'; do
		grep -A8 'decryption\\-key' "$CCPULL_SRC/docs/ccpull.1" | grep -qF "fB$scheme" ||
			fail "ccpull(1) does not describe --decryption-key $scheme"
	done
fi

log "plain HTTP needs --tls-verify=false or an insecure registries.conf entry"
OCI=$T/oci
oci_new "$OCI" v1
mkdir -p "$T/l1/etc"
printf 'hello\n' >"$T/l1/etc/hello"
add_tree_layer "$OCI:v1" "$T/l1"
umoci_tree "$OCI:v1" "$T/ref"
start_registry
push "$OCI:v1" cli/img:v1
cat >"$T/empty-registries.conf" <<-EOF
	unqualified-search-registries = []
EOF
expect 4 "$CCPULL" pull --insecure-policy --snapshotter copy --registries-conf "$T/empty-registries.conf" \
	--store "$T/store" "$REG/cli/img:v1" "$T/b-tls"
no_rootfs "$T/b-tls"
cat >"$T/registries.conf" <<-EOF
	unqualified-search-registries = []

	[[registry]]
	location = "$REG"
	insecure = true
EOF
expect 0 "$CCPULL" pull --insecure-policy --snapshotter copy --registries-conf "$T/registries.conf" \
	--store "$T/store" "$REG/cli/img:v1" "$T/b-conf"
treecmp "$T/ref/rootfs" "$T/b-conf/rootfs"

log "options after the operands, as 'ccpull --help' shows them"
expect 0 "$CCPULL" pull --snapshotter copy --store "$T/store" "$REG/cli/img:v1" "$T/b-late" \
	--insecure-policy --tls-verify=false --json
jq -e . "$T/out" >/dev/null || fail "pull --json after the operands printed no JSON: $(head -c 2000 "$T/out")"
json_get "$T/out" '.manifest_digest' >/dev/null
treecmp "$T/ref/rootfs" "$T/b-late/rootfs"
expect 0 "$CCPULL" inspect "$REG/cli/img:v1" --tls-verify=false --json
json_get "$T/out" '.config_digest' >/dev/null
# "--" ends the options: what follows is an operand even when it starts with '-'
expect 2 "$CCPULL" pull --insecure-policy -- a b --json
expect_stderr "got 3 operands: 'a' 'b' '--json'"

log "store: every name kept, blob digests shown, reading creates nothing"
push "$OCI:v1" cli/other:v2
expect 0 "$CCPULL" store ls --store "$T/no-store"
[ ! -e "$T/no-store" ] || fail "store ls created the store directory"
chmod 755 "$T"
expect 0 setpriv --reuid=65534 --regid=65534 --clear-groups "$CCPULL" store ls --store "$T/no-store" --json
[ ! -e "$T/no-store" ] || fail "store ls as non-root created the store directory"
json_get "$T/out" '.images == [] and .layers == []' >/dev/null
S=$T/store2
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$S" "$REG/cli/img:v1" "$T/b-n1" --json
blob=$(json_get "$T/out" '.layers[0].digest')
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$S" "$REG/cli/other:v2" "$T/b-n2"
expect 0 "$CCPULL" store ls --store "$S" --json
json_get "$T/out" ".images | length == 1" >/dev/null
json_get "$T/out" ".images[0].names | sort == [\"$REG/cli/img:v1\", \"$REG/cli/other:v2\"]" >/dev/null
json_get "$T/out" ".layers[0].digest == \"$blob\" and (.layers[0].chain_id | startswith(\"sha256:\"))" >/dev/null
expect 0 "$CCPULL" store ls --store "$S"
grep -qF "$REG/cli/img:v1" "$T/out" || fail "store ls does not list the first name: $(cat "$T/out")"
grep -qF "$REG/cli/other:v2" "$T/out" || fail "store ls does not list the second name: $(cat "$T/out")"
grep -qF "${blob:0:19}" "$T/out" || fail "store ls does not show the layer by its blob digest $blob: $(cat "$T/out")"
expect 0 "$CCPULL" store rm --store "$S" "$REG/cli/img:v1"
expect 0 "$CCPULL" store ls --store "$S" --json
json_get "$T/out" ".images[0].names == [\"$REG/cli/other:v2\"] and .images[0].image == \"$REG/cli/other:v2\"" >/dev/null
expect 2 "$CCPULL" store rm --store "$S" "$REG/cli/img:v1"
expect_stderr 'has no image'
# a store that is not there holds no image, and is not made to say so
expect 2 "$CCPULL" store rm --store "$T/no-store" "$REG/cli/img:v1"
expect_stderr 'has no image'
[ ! -e "$T/no-store" ] || fail "store rm made the store it was asked to remove from"
expect 0 "$CCPULL" store rm --store "$S" "$REG/cli/other:v2"
expect 0 "$CCPULL" store ls --store "$S" --json
json_get "$T/out" '.images == []' >/dev/null
expect 0 "$CCPULL" store gc --store "$S"
grep -qF 'stale entr' "$T/out" && fail "store gc still speaks of unexplained 'stale entries': $(cat "$T/out")"
grep -qE 'removed 1 unused layer\(s\) .* leftover' "$T/out" || fail "store gc printed: $(cat "$T/out")"

log "a non-root pull says that --store is not used"
mkdir "$T/nonroot"
chown 65534:65534 "$T/nonroot"
expect 0 setpriv --reuid=65534 --regid=65534 --clear-groups "$CCPULL" "${CCP_PULL[@]}" --store "$T/nr-store" \
	"$REG/cli/img:v1" "$T/nonroot/b"
expect_stderr 'warning: --store .*nr-store is not used without root'
[ ! -e "$T/nr-store" ] || fail "a non-root pull created the store"

log "progress: nothing but the success line off a terminal; stages and layers cut to a narrow terminal"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store3" "$REG/cli/img:v1" "$T/b-log"
[ ! -s "$T/out" ] || fail "a pull printed on stdout: $(cat "$T/out")"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "off a terminal a pull printed more than its success line: $(cat "$T/err")"
digest=$(reg_digest cli/img:v1)
grep -qxF "pulled $REG/cli/img:v1 $digest into $T/b-log" "$T/err" ||
	fail "the success line does not name the image, manifest digest and bundle: $(cat "$T/err")"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store3" "$REG/cli/img:v1" "$T/b-json" --json
[ ! -s "$T/err" ] || fail "pull --json printed on stderr: $(cat "$T/err")"
jq -e . "$T/out" >/dev/null || fail "pull --json stdout is not pure JSON"
expect 0 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store3" -q "$REG/cli/img:v1" "$T/b-quiet"
[ ! -s "$T/err" ] && [ ! -s "$T/out" ] || fail "pull -q printed something"
# tty COLS BUNDLE: a pull on a terminal COLS wide; what it showed, one line per \r or \n, in $T/tty.txt
tty() {
	expect 0 script -qefc "stty cols $1 rows 24; $CCPULL ${CCP_PULL[*]} --store $T/store4 $REG/cli/img:v1 $2" \
		/dev/null
	tr '\r' '\n' <"$T/out" | sed 's/\x1b\[K//g' >"$T/tty.txt"
	grep -qF "pulled $REG/cli/img:v1 $digest into $2" "$T/tty.txt" || fail "no success line on the terminal"
}
tty 200 "$T/b-tty1"
grep -qxF "$REG/cli/img:v1: manifest, config..." "$T/tty.txt" ||
	fail "nothing shown before the first layer: $(cat "$T/tty.txt")"
grep -qxF "$REG/cli/img:v1: manifest (no signature policy: --insecure-policy) and config verified; 1 layer" \
	"$T/tty.txt" || fail "no stage line on the terminal: $(cat "$T/tty.txt")"
grep -qE '^layer 1/1 sha256:[0-9a-f]{12}  [0-9.]+ [KM]?i?B  verified$' "$T/tty.txt" ||
	fail "no line for the layer: $(cat "$T/tty.txt")"
# A terminal 40 columns wide: no progress line may be wider (it would wrap into many lines).
tty 40 "$T/b-tty2"
grep -qF "$REG/cli/img:v1: manifest" "$T/tty.txt" || fail "no stage line on a narrow terminal: $(cat "$T/tty.txt")"
grep -qE '^layer 1/1 sha256:' "$T/tty.txt" || fail "no layer line on a narrow terminal: $(cat "$T/tty.txt")"
if grep -v '^pulled ' "$T/tty.txt" | awk 'length($0) > 39 { bad = 1 } END { exit !bad }'; then
	fail "progress lines wider than the 40-column terminal: $(grep -v '^pulled ' "$T/tty.txt")"
fi
