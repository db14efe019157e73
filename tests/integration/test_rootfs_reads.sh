#!/bin/bash
# Files ccpull reads out of a rootfs the image made (/etc/passwd and /etc/group, for the image's
# User): a FIFO there blocked the pull for ever, a device node was opened and read. Each image
# below is pulled through the overlay and the copy snapshotter and with openat2 blocked (the
# fallback walk); the pull must end promptly with exit 7 (unsafe layer content) naming the file,
# leave no rootfs and no mount. A symlink out of the rootfs reads the rootfs' own path, never the
# host's file.
. "$(dirname "$0")/lib.sh"

NO_OPENAT2=$CCPULL_BUILD/no_openat2
[ -x "$NO_OPENAT2" ] || fail "$NO_OPENAT2 was not built"
# A pull that hangs is a failure, not a stuck test: generous for a busy machine.
LIMIT=180

OCI=$T/oci
B0=$T/base
mkdir -p "$B0/etc" "$B0/bin" "$B0/dev"
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1001:1002::/srv:/bin/sh\n' >"$B0/etc/passwd"
printf 'root:x:0:\nappgrp:x:1002:\nvideo:x:44:app\n' >"$B0/etc/group"
printf '#!/bin/sh\n' >"$B0/bin/app"
oci_new "$OCI" base
add_tree_layer "$OCI:base" "$B0"

# The host file a symlink aims at: it must never be read.
printf 'app:x:4242:4242::/:/bin/sh\n' >"$T/host-passwd"

# variant TAG USER: an image of base plus a layer made from $T/v-TAG, with User USER.
variant() {
	umoci tag --image "$OCI:base" "$1"
	add_tree_layer "$OCI:$1" "$T/v-$1"
	[ -z "$2" ] || umoci config --image "$OCI:$1" --config.user "$2"
}
vdir() {
	rm -rf "$T/v-$1"
	mkdir -p "$T/v-$1/etc" "$T/v-$1/dev"
	echo "$T/v-$1"
}

# tag user expected-exit file-named-in-the-message
CASES=()
d=$(vdir fifo) && mkfifo "$d/etc/passwd" && variant fifo "" && CASES+=("fifo - 7 /etc/passwd")
d=$(vdir fifoapp) && mkfifo "$d/etc/passwd" && variant fifoapp app && CASES+=("fifoapp app 7 /etc/passwd")
d=$(vdir grpfifo) && mkfifo "$d/etc/group" && variant grpfifo app && CASES+=("grpfifo app 7 /etc/group")
d=$(vdir chardev) && mknod "$d/etc/passwd" c 1 5 && variant chardev 0 && CASES+=("chardev 0 7 /etc/passwd")
d=$(vdir zerolink) && mknod "$d/dev/zero" c 1 5 && ln -s /dev/zero "$d/etc/passwd" && variant zerolink 0 &&
	CASES+=("zerolink 0 7 /etc/passwd")
d=$(vdir loop) && ln -s passwd "$d/etc/passwd" && variant loop 0 && CASES+=("loop 0 7 /etc/passwd")
d=$(vdir big) && head -c $((2 << 20)) /dev/zero | tr '\0' 'x' >"$d/etc/passwd" && variant big 0 &&
	CASES+=("big 0 7 /etc/passwd")
d=$(vdir outside) && ln -s "../../../../../../../../..$T/host-passwd" "$d/etc/passwd" && variant outside app &&
	CASES+=("outside app 2 /etc/passwd")

start_registry
for c in "${CASES[@]}"; do push "$OCI:${c%% *}" "rootfs-reads/img:${c%% *}"; done
STORE=$T/store

for c in "${CASES[@]}"; do
	read -r tag user want file <<<"$c"
	for mode in overlay copy walk; do
		B=$T/b-$tag-$mode
		pre=()
		snap=$mode
		if [ "$mode" = walk ]; then
			pre=("$NO_OPENAT2")
			snap=overlay
		fi
		expect "$want" timeout "$LIMIT" "${pre[@]}" "$CCPULL" pull --insecure-policy --tls-verify=false \
			--snapshotter "$snap" --store "$STORE" "$REG/rootfs-reads/img:$tag" "$B"
		expect_stderr "$file"
		if grep -q 4242 "$T/err"; then fail "$tag ($mode): the host's file was read: $(cat "$T/err")"; fi
		[ ! -e "$B" ] || fail "$tag ($mode): a failed pull left $B behind: $(ls -A "$B")"
		if findmnt -rn -o TARGET | grep -qF "$B"; then fail "$tag ($mode): a failed pull left a mount under $B"; fi
		log "$tag (User \"$user\", $mode): exit $want: $(head -c 300 "$T/err")"
	done
done
expect 0 "$CCPULL" store ls --store "$STORE" --json
[ "$(jq '.bundles | length' "$T/out")" = 0 ] || fail "failed pulls left mount records: $(jq -c .bundles "$T/out")"
