# shellcheck shell=bash
# Common part of the integration tests: sourced by every tests/integration/test_*.sh.
#
# Each test gets its own temp dir ($T) and starts its own servers on 127.0.0.1 with free ports, so
# tests can run in parallel. Environment (set by ctest): CCPULL (the CLI), CCPULL_SRC, CCPULL_BUILD.
# CCPULL_KEEP_TMP=1 keeps $T for debugging. Exit 77 = skipped.
set -euo pipefail

PY=/usr/bin/python3
IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_NAME=$(basename "$0" .sh)

log() { printf '[%s] %s\n' "$TEST_NAME" "$*" >&2; }
skip() { log "SKIP: $*"; exit 77; }
fail() { log "FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "must run as root (image fixtures and unpacking set owners and make devices)"
for _tool in docker-registry skopeo umoci tar jq htpasswd curl sha256sum findmnt; do
	command -v "$_tool" >/dev/null 2>&1 || skip "$_tool is not installed (see .ci/packages)"
done
[ -x "$PY" ] || skip "$PY is not installed (see .ci/packages)"

if [ -z "${CCPULL:-}" ] && [ -n "${CCPULL_BUILD:-}" ]; then
	CCPULL=$CCPULL_BUILD/ccpull
fi
[ -n "${CCPULL:-}" ] || fail "CCPULL (path of the ccpull binary) is not set"
[ -x "$CCPULL" ] || fail "ccpull binary '$CCPULL' does not exist or is not executable"

# Host platform in OCI terms.
case "$(uname -m)" in
x86_64) HOST_ARCH=amd64 ;;
aarch64) HOST_ARCH=arm64 ;;
s390x) HOST_ARCH=s390x ;;
ppc64le) HOST_ARCH=ppc64le ;;
riscv64) HOST_ARCH=riscv64 ;;
*) skip "unknown host architecture $(uname -m)" ;;
esac
HOST_PLATFORM=linux/$HOST_ARCH

T=$(mktemp -d "${TMPDIR:-/tmp}/ccpull-$TEST_NAME.XXXXXX")
_PIDS=()
_REG_N=0
REG_LOG=
TOKEN_LOG=

_cleanup() {
	local rc=$? p m
	trap - EXIT
	set +e
	for p in "${_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		if [ -n "$REG_LOG" ] && [ -f "$REG_LOG" ]; then
			log "last registry log lines ($REG_LOG):"
			grep -E 'level=(warning|error|fatal|panic)' "$REG_LOG" | grep -v 'http.request.method=HEAD' |
				tail -n 10 >&2 || true
		fi
		if [ -n "$TOKEN_LOG" ] && [ -f "$TOKEN_LOG" ]; then
			log "last token server log lines:"
			tail -n 10 "$TOKEN_LOG" >&2 || true
		fi
	fi
	# A pull with an overlay bundle may leave mounts: never rm -rf across a mount point.
	findmnt -rn -o TARGET | grep -F "$T/" | sort -r | while read -r m; do
		umount -l "$m" || true
	done || true
	if [ "${CCPULL_KEEP_TMP:-0}" = 1 ]; then
		log "kept $T"
	else
		rm -rf "$T"
	fi
	if [ "$rc" -eq 0 ]; then log "PASS"; fi
	exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# gpg_home: a private GNUPGHOME ($T/gnupg, exported) for the signing keys a test makes.
gpg_home() {
	export GNUPGHOME=$T/gnupg
	mkdir -m 0700 "$GNUPGHOME"
}

# gpg_signing_key 'NAME <EMAIL>' EMAIL FILE: an ed25519 signing key without passphrase in $GNUPGHOME
# (gpg_home first); its public key is exported to FILE and its fingerprint printed.
gpg_signing_key() {
	local fpr
	gpg --batch --passphrase '' --quick-gen-key "$1" ed25519 sign never 2>/dev/null
	fpr=$(gpg --with-colons --list-keys "$2" | awk -F: '$1 == "fpr" { print $10; exit }')
	[ -n "$fpr" ] || fail "gpg made no key for $1"
	gpg --export "$fpr" >"$3"
	printf '%s\n' "$fpr"
}

# free_port: a port nothing listens on now (for "nothing listens there" checks; servers the tests
# start bind port 0 themselves and report it through await_port).
free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# await_port PID FILE WHAT: waits until the server PID, started in the background, has bound a free
# port and written it to FILE; sets PORT and stops the server at exit. Fails showing WHAT otherwise.
await_port() {
	local pid=$1 file=$2 what=$3 i
	for i in $(seq 1 100); do
		if [ -s "$file" ]; then
			_PIDS+=("$pid")
			PORT=$(cat "$file")
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	fail "$what did not start"
}

# _start_registry AUTH_YAML: starts docker-registry with the given "auth:" section (or none).
# REG_USE_STORAGE=DIR serves an existing storage dir. Exports REG (127.0.0.1:PORT), REG_STORAGE, REG_ACCESS_LOG (one line per request), REG_LOG.
_start_registry() {
	local auth=$1 dir port pid attempt i storage
	_REG_N=$((_REG_N + 1))
	dir=$T/registry$_REG_N
	storage=${REG_USE_STORAGE:-$dir/storage}
	mkdir -p "$dir" "$storage"
	for attempt in 1 2 3 4 5; do
		port=$(free_port)
		cat >"$dir/config.yml" <<-EOF
			version: 0.1
			log:
			  level: info
			  accesslog:
			    disabled: false
			storage:
			  filesystem:
			    rootdirectory: $storage
			  delete:
			    enabled: true
			http:
			  addr: 127.0.0.1:$port
			  secret: ccpull-integration-test
			$auth
		EOF
		: >"$dir/access.log"
		: >"$dir/registry.log"
		docker-registry serve "$dir/config.yml" >"$dir/access.log" 2>"$dir/registry.log" &
		pid=$!
		# "listening on" is logged only once the socket is bound, so a collision on the port
		# (another test took it in between) shows up as an exit, never as someone else's answer.
		for i in $(seq 1 100); do
			if ! kill -0 "$pid" 2>/dev/null; then
				break
			fi
			if grep -q "listening on 127.0.0.1:$port" "$dir/registry.log"; then
				_PIDS+=("$pid")
				export REG=127.0.0.1:$port REG_STORAGE=$storage REG_ACCESS_LOG=$dir/access.log
				export REG_LOG=$dir/registry.log REG_PID=$pid
				curl -s -o /dev/null --max-time 5 "http://$REG/v2/" ||
					fail "registry on $REG does not answer"
				return 0
			fi
			sleep 0.1
		done
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		log "registry did not start on port $port (attempt $attempt):"
		tail -n 3 "$dir/registry.log" >&2 || true
	done
	fail "could not start docker-registry"
}

# start_registry [HTPASSWD_FILE]: plain registry, or one that demands Basic auth.
start_registry() {
	local auth=""
	if [ $# -ge 1 ] && [ -n "$1" ]; then
		auth="auth:
  htpasswd:
    realm: ccpull-test
    path: $1"
	fi
	_start_registry "$auth"
}

# start_token_server USER:PASS... [--OPTION=VALUE...]: the Bearer token server (tokenserver.py;
# options such as --refresh-token=TOKEN:USER go to it as they are). Exports TOKEN_REALM and
# TOKEN_CERT; start_token_registry then starts a registry that demands its tokens (at TOKEN_REALM).
start_token_server() {
	local dir=$T/tokenserver u
	local args=()
	mkdir -p "$dir"
	for u in "$@"; do
		case $u in
		--*) args+=("$u") ;;
		*) args+=(--user "$u") ;;
		esac
	done
	"$PY" "$IT_DIR/tokenserver.py" --cert "$dir/cert.pem" --port-file "$dir/port" \
		--issuer ccpull-test-issuer --service ccpull-test-registry "${args[@]}" 2>"$dir/log" &
	TOKEN_LOG=$dir/log
	# the certificate is written before the port
	await_port $! "$dir/port" "token server (log: $dir/log)"
	export TOKEN_REALM="http://127.0.0.1:$PORT/token" TOKEN_CERT=$dir/cert.pem
}

start_token_registry() {
	_start_registry "auth:
  token:
    realm: $TOKEN_REALM
    service: ccpull-test-registry
    issuer: ccpull-test-issuer
    rootcertbundle: $TOKEN_CERT"
}

# start_kbs NAME [kbs_server.py options]: the test KBS (kbs_server.py) serving $T/resources.json.
# Sets KBS_PORT, KBS (its http:// URL) and KBS_LOG ($T/kbs-NAME.log: one line per request).
start_kbs() {
	local name=$1 dir=$T/kbs-$1
	shift
	mkdir -p "$dir"
	KBS_LOG=$T/kbs-$name.log
	: >"$KBS_LOG"
	"$PY" "$IT_DIR/kbs_server.py" --resources "$T/resources.json" --port-file "$dir/port" --log "$KBS_LOG" "$@" \
		2>"$dir/stderr" &
	await_port $! "$dir/port" "KBS $name (stderr: $dir/stderr)"
	KBS_PORT=$PORT
	KBS=http://127.0.0.1:$KBS_PORT
}

# reg_blob_file DIGEST: where the registry stores a blob (it serves these bytes unverified).
reg_blob_file() {
	local hex=${1#sha256:}
	echo "$REG_STORAGE/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
}

# reg_blob_gets: number of blob GETs the current registry has answered so far.
reg_blob_gets() {
	grep -c '"GET /v2/[^ ]*/blobs/sha256:' "$REG_ACCESS_LOG" || true
}

# reg_digest NAME:TAG: the manifest digest the registry reports (Docker-Content-Digest).
reg_digest() {
	local name=${1%%:*} tag=${1#*:}
	curl -sf -I --max-time 10 \
		-H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json' \
		"http://$REG/v2/$name/manifests/$tag" |
		tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" { print $2 }'
}

# ---------------------------------------------------------------------------------------------
# Images

# mk_tar SRC_DIR OUT.tar: a reproducible pax tar of SRC_DIR's content, numeric owners.
mk_tar() {
	tar -C "$1" --format=pax --numeric-owner --sort=name \
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
		-cf "$2" .
}

# mk_two_layer_image LAYOUT PAYLOAD_BYTES: LAYOUT:base holds one layer of mk_rich_tree; LAYOUT:v1
# adds a second layer of $T/l2 (files a test put there first, and PAYLOAD_BYTES random bytes in
# opt/payload). umoci's unpack of v1 is left in $T/ref.
mk_two_layer_image() {
	oci_new "$1" base
	mk_rich_tree "$T/l1"
	add_tree_layer "$1:base" "$T/l1"
	mkdir -p "$T/l2/opt"
	head -c "$2" /dev/urandom >"$T/l2/opt/payload"
	mk_tar "$T/l2" "$T/l2.tar"
	umoci raw add-layer --history.created_by test --image "$1:base" --tag v1 "$T/l2.tar"
	umoci_tree "$1:v1" "$T/ref"
}

# oci_new LAYOUT TAG: a new empty image (the layout is created if needed).
oci_new() {
	[ -e "$1/index.json" ] || umoci init --layout "$1"
	umoci new --image "$1:$2"
}

# add_layer LAYOUT:TAG TAR [umoci options]: appends TAR as a gzip layer.
add_layer() {
	local img=$1 tar=$2
	shift 2
	umoci raw add-layer --history.created_by "ccpull integration test" "$@" --image "$img" "$tar"
}

# add_tree_layer LAYOUT:TAG DIR: tars DIR (mk_tar) and appends it.
add_tree_layer() {
	local tar
	tar=$(mktemp "$T/layer.XXXXXX.tar")
	mk_tar "$2" "$tar"
	add_layer "$1" "$tar"
}

# push LAYOUT:TAG NAME:TAG [skopeo copy options]
push() {
	local src=$1 dst=$2
	shift 2
	skopeo copy --quiet --dest-tls-verify=false "$@" "oci:$src" "docker://$REG/$dst" >/dev/null
}

# umoci_tree LAYOUT:TAG BUNDLE: the oracle tree, in BUNDLE/rootfs.
umoci_tree() {
	umoci unpack --image "$1" "$2" >/dev/null
}

treecmp() {
	"$PY" "$IT_DIR/treecmp.py" "$1" "$2" || fail "trees differ: $1 vs $2"
}

# mk_rich_tree DIR: a small tree with every kind of entry an image carries: owners (incl. a uid
# beyond the ustar range), setuid/setgid/sticky modes, absolute, relative, dangling and long
# symlinks, hardlinks across directories, a fifo, a device (when mknod works), long and
# non-ASCII names, a read-only directory with content.
mk_rich_tree() {
	local d=$1 long
	mkdir -p "$d"/{bin,etc,usr/bin,usr/lib,var/spool,tmp,home/user,srv/data,dev,ro}
	head -c 120000 /dev/urandom >"$d/usr/lib/blob.bin"
	seq 1 20000 >"$d/usr/lib/numbers.txt"
	printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n' >"$d/etc/passwd"
	: >"$d/etc/empty"
	printf '#!/bin/sh\necho hello\n' >"$d/usr/bin/hello"
	chmod 0755 "$d/usr/bin/hello"
	cp "$d/usr/bin/hello" "$d/usr/bin/suid-tool"
	chown 0:0 "$d/usr/bin/suid-tool"
	chmod 4755 "$d/usr/bin/suid-tool"
	printf 'sgid\n' >"$d/usr/bin/sgid-tool"
	chown 0:42 "$d/usr/bin/sgid-tool"
	chmod 2711 "$d/usr/bin/sgid-tool"
	chmod 1777 "$d/tmp"
	printf 'export PS1=x\n' >"$d/home/user/.profile"
	chmod 0600 "$d/home/user/.profile"
	chown -R 1000:1000 "$d/home/user"
	chown 1000:2000 "$d/srv/data"
	chmod 2775 "$d/srv/data"
	printf 'big ids\n' >"$d/srv/data/big-ids"
	chown 3000000:3000001 "$d/srv/data/big-ids"
	ln -s /etc/passwd "$d/etc/passwd-abs"
	ln -s ../lib/blob.bin "$d/usr/bin/blob-rel"
	ln -s /nonexistent/dangling "$d/etc/dangling"
	ln -s usr/bin "$d/bin/usrbin"
	long=$(printf 'segment-%02d/' $(seq 1 12))
	mkdir -p "$d/srv/$long"
	printf 'deep\n' >"$d/srv/${long}file-with-a-long-path"
	ln -s "/srv/${long}file-with-a-long-path" "$d/srv/long-target-link"
	chown -h 1000:1000 "$d/srv/long-target-link"
	ln "$d/usr/bin/hello" "$d/usr/bin/hello-hardlink"
	ln "$d/usr/bin/hello" "$d/bin/hello-other-dir"
	mkfifo -m 0620 "$d/var/spool/fifo"
	mknod -m 0666 "$d/dev/null-like" c 1 3 2>/dev/null || log "note: mknod not permitted, no device in fixture"
	printf 'a space\n' >"$d/etc/with space"
	printf 'unicode\n' >"$d/etc/ünïcødé-名前"
	printf 'ro\n' >"$d/ro/inside"
	chmod 0555 "$d/ro"
}

# ---------------------------------------------------------------------------------------------
# Running ccpull

# Options every pull in the tests uses: no policy file, plain HTTP, copy bundles.
CCP_PULL=(pull --insecure-policy --tls-verify=false --snapshotter copy)

# expect RC CMD...: runs CMD with stdout in $T/out and stderr in $T/err; fails unless it exits RC
# and unless the sanitizers stayed quiet.
expect() {
	local want=$1 rc=0
	shift
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	if [ "$rc" != "$want" ] || grep -qE 'AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:' "$T/err"; then
		log "command: $*"
		log "stdout:"
		head -c 4000 "$T/out" >&2 || true
		log "stderr:"
		head -c 8000 "$T/err" >&2 || true
		fail "exit code $rc, expected $want"
	fi
}

# expect_stderr REGEX: the last expect's stderr matches REGEX (extended, case-insensitive).
expect_stderr() {
	grep -qiE "$1" "$T/err" || {
		cat "$T/err" >&2
		fail "stderr does not match /$1/"
	}
}

# no_rootfs BUNDLE: a failed pull left no rootfs behind.
no_rootfs() {
	[ ! -e "$1/rootfs" ] || fail "failed pull left $1/rootfs behind"
}

# json_get FILE JQ_FILTER: prints the value; fails if the filter errors or yields null/false.
json_get() {
	jq -er "$2" "$1" || fail "JSON $1: '$2' is missing or false: $(head -c 2000 "$1")"
}

# wait_for CONDITION...: polls a command for up to 120 s (a wait, not a timing assertion).
wait_for() {
	local i
	for i in $(seq 1 1200); do
		"$@" && return 0
		sleep 0.1
	done
	fail "gave up waiting for: $*"
}

# start_stallproxy: stallproxy.py in front of $REG, held by the files of $T/stall (see stallproxy.py),
# logging to $T/proxy.log; sets PROXY (127.0.0.1:PORT).
start_stallproxy() {
	mkdir -p "$T/stall"
	"$PY" "$IT_DIR/stallproxy.py" "$T/proxy.port" "$REG" "$T/stall" 2>"$T/proxy.log" &
	_PIDS+=($!)
	wait_for test -s "$T/proxy.port"
	PROXY=127.0.0.1:$(cat "$T/proxy.port")
}

# start_serve SOCKET LOG ARGS...: `ccpull serve --socket SOCKET ARGS...` in the background, its stderr in
# LOG; sets SERVE_PID (stopped at exit) and returns once the socket exists.
start_serve() {
	local sock=$1 log=$2
	shift 2
	"$CCPULL" serve --socket "$sock" "$@" 2>"$log" &
	SERVE_PID=$!
	_PIDS+=("$SERVE_PID")
	wait_for test -S "$sock"
}

# build_ttrpc_client: builds the Go ttrpc client of the serve tests (ttrpc_client/*.go, on
# Debian's containerd ttrpc) into $CLIENT; skips the test when Go or that package is missing.
build_ttrpc_client() {
	command -v go >/dev/null 2>&1 || skip "go is not installed (golang-go)"
	[ -d /usr/share/gocode/src/github.com/containerd/ttrpc ] ||
		skip "containerd's Go ttrpc is not installed (golang-github-containerd-ttrpc-dev)"
	CLIENT=$T/ttrpc_client
	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=${CCPULL_BUILD:-$T}/go-cache HOME=$T \
		go build -o "$CLIENT" "$IT_DIR"/ttrpc_client/*.go || fail "cannot build the Go ttrpc client"
}

# start_aa NAME MODE [VAR=VALUE...]: a stand-in attestation agent ($CLIENT aa-server, see
# ttrpc_client/main.go and aa_token.go; VAR=VALUE such as AA_KBS_URL=$KBS for GetToken) on
# $T/NAME.sock, logging its calls to $T/NAME.log; waits for its socket.
start_aa() {
	local name=$1 mode=$2 i
	shift 2
	env "$@" "$CLIENT" aa-server "$T/$name.sock" "$T/$name.log" "$mode" >"$T/$name.out" 2>&1 &
	_PIDS+=("$!")
	for i in $(seq 1 100); do
		[ -S "$T/$name.sock" ] && return 0
		sleep 0.1
	done
	cat "$T/$name.out" >&2
	fail "attestation agent $name did not start"
}

# coco_unwrap_request OCI REF OUT: OUT is the keyprovider UnWrapKey request (ocicrypt's keyunwrap JSON)
# for the first layer of OCI:REF, encrypted for the attestation-agent (CoCo) keyprovider by
# ocicrypt_encrypt.py --coco; OUT.layer holds that layer's (encrypted) digest.
coco_unwrap_request() {
	"$PY" - "$1" "$2" "$3" <<-'EOF' || fail "cannot make an UnWrapKey request from $1:$2"
		import json, os, sys
		lay, ref, out = sys.argv[1:4]
		blob = lambda d: os.path.join(lay, "blobs", *d.split(":", 1))
		idx = json.load(open(os.path.join(lay, "index.json")))
		m = next(x for x in idx["manifests"] if x["annotations"]["org.opencontainers.image.ref.name"] == ref)
		man = json.load(open(blob(m["digest"])))
		ann = man["layers"][0]["annotations"]["org.opencontainers.image.enc.keys.provider.attestation-agent"]
		req = {"op": "keyunwrap", "keywrapparams": {"ec": None, "optsdata": None},
		       "keyunwrapparams": {"dc": {"Parameters": {"attestation-agent": []}}, "annotation": ann.split(",")[0]}}
		json.dump(req, open(out, "w"))
		open(out + ".layer", "w").write(man["layers"][0]["digest"])
	EOF
}

# unwrap_opens OCI REQUEST ANSWER: the key options of UnWrapKey's ANSWER (to coco_unwrap_request's
# REQUEST) decrypt the encrypted layer to the plaintext digest they name.
unwrap_opens() {
	"$PY" - "$1" "$3" "$(cat "$2.layer")" <<-'EOF' || fail "UnWrapKey: the key does not open the layer"
		import base64, hashlib, json, os, sys
		from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
		out = json.load(open(sys.argv[2]))
		opts = json.loads(bytes(out["keyunwrapresults"]["optsdata"]))
		key, nonce = base64.b64decode(opts["symkey"]), base64.b64decode(opts["cipheroptions"]["nonce"])
		enc = open(os.path.join(sys.argv[1], "blobs", *sys.argv[3].split(":", 1)), "rb").read()
		d = Cipher(algorithms.AES(key), modes.CTR(nonce)).decryptor()
		plain = d.update(enc) + d.finalize()
		assert "sha256:" + hashlib.sha256(plain).hexdigest() == opts["digest"], "digest mismatch"
	EOF
}
