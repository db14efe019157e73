#!/bin/bash
# What a layer's commit guarantees (--store-sync, ccpull.toml [image] store_sync): a store on tmpfs
# (cannot outlive the machine) commits without syncing by default; a store on a disk syncs its
# filesystem before each layer's rename unless told "none"; "full" syncs even on tmpfs. Counted with
# strace (syncfs and fsync calls), never timed. Every mode gives the exact tree and a store the next
# pull reuses. (Kills mid-pull with "none": test_crash.sh.)
. "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || skip "strace is not installed (see .ci/packages)"
# LeakSanitizer cannot run under ptrace: the ASan build checks leaks in the other tests
NOLEAKS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

OCI=$T/oci
oci_new "$OCI" v1
mk_rich_tree "$T/l1"
add_tree_layer "$OCI:v1" "$T/l1"
mkdir -p "$T/l2/data"
head -c 2000000 /dev/urandom >"$T/l2/data/blob"
add_tree_layer "$OCI:v1" "$T/l2"
umoci_tree "$OCI:v1" "$T/ref"
start_registry
push "$OCI:v1" sync/img:v1
IMG=$REG/sync/img:v1

MEM=$T/mem
mkdir -p "$MEM"
mount -t tmpfs -o size=64m,mode=0755 ccpull-sync "$MEM" || fail "cannot mount a tmpfs"
[ "$(stat -f -c %T "$T")" != tmpfs ] || fail "$T is a tmpfs: the disk cases need a disk"

# pull_counted NAME STORE BUNDLE [OPTIONS]: a pull under strace; $T/NAME.syncfs and $T/NAME.fsync
# hold how many syncfs calls it made and how many files of the store's records it fsynced (the
# store's layout-version, written once when the store is made, and the bundle's files are not counted).
pull_counted() {
	local name=$1 store=$2 bundle=$3
	shift 3
	expect 0 env ASAN_OPTIONS="$NOLEAKS" strace -f -qq -y -e trace=syncfs,fsync -o "$T/$name.trace" \
		"$CCPULL" "${CCP_PULL[@]}" -q --store "$store" "$@" "$IMG" "$bundle"
	grep -c 'syncfs(' "$T/$name.trace" >"$T/$name.syncfs" || true
	grep 'fsync(' "$T/$name.trace" | grep -F "<$store/" | grep -c -v 'layout-version' >"$T/$name.fsync" || true
	treecmp "$T/ref/rootfs" "$bundle/rootfs"
}
count() { cat "$T/$1.$2"; }

# tmpfs, default: no sync at all for the store
pull_counted mem-default "$MEM/store" "$T/b1"
[ "$(count mem-default syncfs)" = 0 ] || fail "a store on tmpfs was synced $(count mem-default syncfs) times"
[ "$(count mem-default fsync)" = 0 ] || fail "a store on tmpfs fsynced $(count mem-default fsync) records"

# disk, default: durable, one syncfs per layer made
pull_counted disk-default "$T/store-d" "$T/b2"
[ "$(count disk-default syncfs)" = 2 ] || fail "a store on disk: $(count disk-default syncfs) syncfs, expected 2"
# two layer records, the image record and the config blob
[ "$(count disk-default fsync)" = 4 ] || fail "a store on disk fsynced $(count disk-default fsync) records, expected 4"

# disk, --store-sync none: ordering only
pull_counted disk-none "$T/store-n" "$T/b3" --store-sync none
[ "$(count disk-none syncfs)" = 0 ] || fail "--store-sync none synced $(count disk-none syncfs) times"
[ "$(count disk-none fsync)" = 0 ] || fail "--store-sync none fsynced $(count disk-none fsync) records"
# ... and the layers it committed serve the next pull, which makes nothing (nothing to sync either)
expect 0 "$CCPULL" "${CCP_PULL[@]}" --json --store "$T/store-n" --store-sync none "$IMG" "$T/b4"
[ "$(jq '[.layers[] | select(.reused)] | length' "$T/out")" = 2 ] || fail "layers not reused: $(cat "$T/out")"
treecmp "$T/ref/rootfs" "$T/b4/rootfs"

# tmpfs, --store-sync full: durable even there
pull_counted mem-full "$MEM/store-f" "$T/b5" --store-sync full
[ "$(count mem-full syncfs)" = 2 ] || fail "--store-sync full: $(count mem-full syncfs) syncfs, expected 2"

# ccpull.toml [image] store_sync; the command line wins over it
printf '[image]\nstore_sync = "none"\n' >"$T/none.toml"
pull_counted toml-none "$T/store-t" "$T/b6" --config "$T/none.toml"
[ "$(count toml-none syncfs)" = 0 ] || fail "store_sync = \"none\" synced $(count toml-none syncfs) times"
pull_counted toml-cli "$T/store-t2" "$T/b7" --config "$T/none.toml" --store-sync full
[ "$(count toml-cli syncfs)" = 2 ] || fail "--store-sync full over the file: $(count toml-cli syncfs) syncfs"

# CDH mode (kata's guest): the store under work_dir never outlives the VM, so it is not synced even on a
# disk unless [image] store_sync says "full". Counted over the whole life of the server.
build_ttrpc_client
printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REG" >"$T/registries.conf"
cdh_counted() { # cdh_counted NAME [EXTRA TOML LINE]: one PullImage through `ccpull cdh`, syncfs traced
	printf 'socket = "unix://%s"\n[kbc]\nname = "cc_kbc"\nurl = "http://127.0.0.1:9"\n[image]\nwork_dir = "%s"\nregistry_configuration_uri = "file://%s"\n%s\n' \
		"$T/$1.sock" "$T/work-$1" "$T/registries.conf" "${2:-}" >"$T/$1.toml"
	env ASAN_OPTIONS="$NOLEAKS" "$CCPULL" cdh -c "$T/$1.toml" 2>"$T/$1.log" &
	local pid=$! tracer
	_PIDS+=("$pid")
	wait_for test -S "$T/$1.sock"
	strace -f -qq -e trace=syncfs -o "$T/$1.trace" -p "$pid" &
	tracer=$!
	_PIDS+=("$tracer")
	wait_for sh -c "grep -q '^TracerPid:[[:space:]]*[1-9]' /proc/$pid/status"
	expect 0 "$CLIENT" pull "$T/$1.sock" "$IMG" "$T/$1-bundle"
	kill -TERM "$pid"
	wait "$pid" || fail "ccpull cdh ($1) did not exit 0: $(cat "$T/$1.log")"
	wait "$tracer" || true
	treecmp "$T/ref/rootfs" "$T/$1-bundle/rootfs"
	grep -c 'syncfs(' "$T/$1.trace" >"$T/$1.syncfs" || true
}
cdh_counted cdh-default
[ "$(count cdh-default syncfs)" = 0 ] || fail "CDH mode synced a store on disk $(count cdh-default syncfs) times"
cdh_counted cdh-full 'store_sync = "full"'
[ "$(count cdh-full syncfs)" = 2 ] || fail "CDH mode with store_sync = \"full\": $(count cdh-full syncfs) syncfs"

# bad values: usage (2) on the command line, invalid configuration (2) in the file
expect 2 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-x" --store-sync fast "$IMG" "$T/b8"
expect_stderr 'store-sync expects none or full'
printf '[image]\nstore_sync = "always"\n' >"$T/bad.toml"
expect 2 "$CCPULL" "${CCP_PULL[@]}" --store "$T/store-x" --config "$T/bad.toml" "$IMG" "$T/b9"
expect_stderr 'store_sync must be "none" or "full"'
no_rootfs "$T/b8"
no_rootfs "$T/b9"
