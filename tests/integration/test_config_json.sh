#!/bin/bash
# config.json: User resolved from the image's own /etc/passwd and /etc/group (names, numbers,
# user:group, uid:gid; additional gids from group membership; also with openat2 blocked, where the
# rootfs is read through the fallback walk; a missing user or group fails the
# pull with exit 2 and leaves no rootfs and no mount), StopSignal and Labels as annotations, and
# the same config in `pull --json`.
. "$(dirname "$0")/lib.sh"

NO_OPENAT2=$CCPULL_BUILD/no_openat2
[ -x "$NO_OPENAT2" ] || fail "$NO_OPENAT2 was not built"

OCI=$T/oci
L=$T/l1
mkdir -p "$L/etc" "$L/bin"
cat >"$L/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
app:x:1001:1002:App:/srv:/bin/sh
daemon:x:2:2::/:/bin/false
PW
cat >"$L/etc/group" <<'GR'
root:x:0:
appgrp:x:1002:
video:x:44:app,daemon
audio:x:29:daemon,app
staff:x:50:
GR
printf '#!/bin/sh\n' >"$L/bin/app"
oci_new "$OCI" base
add_tree_layer "$OCI:base" "$L"

# tag user-spec expected-uid expected-gid expected-additional-gids (JSON)
CASES=(
	"name app 1001 1002 [44,29]"
	"uidnum 1001 1001 1002 [44,29]"
	"unknownuid 4242 4242 0 null"
	"usergrp app:staff 1001 50 null"
	"uidgid 7:8 7 8 null"
	"usergid app:9 1001 9 null"
	"empty - 0 0 null"
)
for c in "${CASES[@]}"; do
	read -r tag spec _ <<<"$c"
	umoci tag --image "$OCI:base" "$tag"
	[ "$spec" = - ] || umoci config --image "$OCI:$tag" --config.user "$spec"
done
umoci tag --image "$OCI:base" meta
umoci config --image "$OCI:meta" --config.stopsignal SIGQUIT --config.label org.example.team=storage \
	--config.volume /data --config.entrypoint /bin/app --config.cmd serve --config.env FOO=bar
umoci tag --image "$OCI:base" nouser
umoci config --image "$OCI:nouser" --config.user nobody-here
umoci tag --image "$OCI:base" nogroup
umoci config --image "$OCI:nogroup" --config.user app:no-such-group

start_registry
for t in "${CASES[@]%% *}" meta nouser nogroup; do push "$OCI:$t" cfg/img:$t; done
STORE=$T/store

for c in "${CASES[@]}"; do
	read -r tag spec uid gid gids <<<"$c"
	# walk: overlay with openat2 blocked, so that the rootfs is read through the fallback walk
	for mode in overlay copy walk; do
		B=$T/b-$tag-$mode
		pre=()
		snap=$mode
		if [ "$mode" = walk ]; then
			pre=("$NO_OPENAT2")
			snap=overlay
		fi
		expect 0 "${pre[@]}" "$CCPULL" pull --insecure-policy --tls-verify=false --snapshotter "$snap" --store "$STORE" --json \
			"$REG/cfg/img:$tag" "$B"
		got=$(jq -c '[.process.user.uid, .process.user.gid, .process.user.additionalGids]' "$B/config.json")
		[ "$got" = "[$uid,$gid,$gids]" ] || fail "User \"$spec\" ($mode): got $got, want [$uid,$gid,$gids]"
		[ "$(jq -c .config "$T/out")" = "$(jq -c . "$B/config.json")" ] || fail "pull --json config differs from $B/config.json"
		[ "$(json_get "$T/out" .config_path)" = "$B/config.json" ] || fail "config_path is wrong"
		[ "$mode" = copy ] || expect 0 "$CCPULL" umount "$B"
	done
	log "User \"$spec\" -> $uid:$gid additional $gids"
done

expect 0 "$CCPULL" pull --insecure-policy --tls-verify=false --store "$STORE" "$REG/cfg/img:meta" "$T/meta"
C=$T/meta/config.json
[ "$(jq -r '.annotations["org.opencontainers.image.stopSignal"]' "$C")" = SIGQUIT ] || fail "StopSignal not annotated: $(cat "$C")"
[ "$(jq -r '.annotations["org.example.team"]' "$C")" = storage ] || fail "label not annotated"
[ "$(jq -c .process.args "$C")" = '["/bin/app","serve"]' ] || fail "args: $(jq -c .process.args "$C")"
jq -e '.process.env | index("FOO=bar")' "$C" >/dev/null || fail "env: $(jq -c .process.env "$C")"
# Volumes are left to the runtime, as umoci does: no mount for /data.
[ "$(jq '[.mounts[] | select(.destination == "/data")] | length' "$C")" = 0 ] || fail "a volume became a mount"
expect 0 "$CCPULL" umount "$T/meta"

for t in nouser nogroup; do
	for mode in overlay copy; do
		B=$T/b-$t-$mode
		expect 2 "$CCPULL" pull --insecure-policy --tls-verify=false --snapshotter "$mode" --store "$STORE" \
			"$REG/cfg/img:$t" "$B"
		expect_stderr "(nobody-here|no-such-group).*(/etc/passwd|/etc/group)"
		[ ! -e "$B" ] || fail "a failed pull left $B behind: $(ls -A "$B")"
		if findmnt -rn -o TARGET | grep -qF "$B"; then fail "a failed pull left a mount under $B"; fi
	done
done
expect 0 "$CCPULL" store ls --store "$STORE" --json
[ "$(jq '.bundles | length' "$T/out")" = 0 ] || fail "failed or unmounted pulls left mount records: $(jq -c .bundles "$T/out")"
