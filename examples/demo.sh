#!/bin/bash
# ccpull in one command: installs what it needs (Debian 12), builds ccpull, builds a small image from
# examples/image/ with umoci, serves it from a local docker-registry on 127.0.0.1, pulls it with
# ccpull into a bundle and shows the result. Run as root: ./examples/demo.sh in a root shell, or
# sudo ./examples/demo.sh where sudo exists.
# CCPULL_DEMO_KEEP=1 keeps the work directory (image layout, bundle, store) for a look around.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root (in a root shell, or sudo $0): ccpull sets file owners when it unpacks layers" >&2
	exit 1
fi

say "Debian packages (.ci/packages)"
mapfile -t pkgs < <(grep -v '^#' "$SRC/.ci/packages" | grep -v '^[[:space:]]*$')
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "all installed"
else
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y "${missing[@]}"
fi

say "Build ccpull (build/)"
cmake -S "$SRC" -B "$SRC/build" >/dev/null
cmake --build "$SRC/build" -j "$(nproc)" --target ccpull_cli
CCPULL=$SRC/build/ccpull
"$CCPULL" --version

WORK=$(mktemp -d /tmp/ccpull-demo.XXXXXX)
REG_PID=
cleanup() {
	# Overlay bundles are mounts: unmount them before the work directory goes.
	for b in "$WORK"/bundle*; do
		[ -d "$b" ] && "$CCPULL" umount "$b" >/dev/null 2>&1 || true
	done
	if [ -n "$REG_PID" ]; then
		kill "$REG_PID" 2>/dev/null || true
		wait "$REG_PID" 2>/dev/null || true
	fi
	if [ "${CCPULL_DEMO_KEEP:-0}" = 1 ]; then
		echo "kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

say "Build the example image from examples/image/ (umoci)"
OCI=$WORK/oci
umoci init --layout "$OCI"
umoci new --image "$OCI:1.0"
tar -C "$SRC/examples/image/rootfs" --format=pax --numeric-owner --owner=0 --group=0 --mode=go-w \
	--sort=name -cf "$WORK/rootfs.tar" .
umoci raw add-layer --history.created_by "examples/image/rootfs" --image "$OCI:1.0" "$WORK/rootfs.tar"
umoci insert --image "$OCI:1.0" "$SRC/examples/image/extra" /opt/extra >/dev/null
umoci config --image "$OCI:1.0" --config.cmd /usr/bin/hello --config.env PATH=/usr/bin:/bin \
	--config.label org.opencontainers.image.title=ccpull-demo
umoci ls --layout "$OCI"

say "Start a local registry on 127.0.0.1"
PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$WORK/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: 127.0.0.1:$PORT
  secret: ccpull-demo
EOF
docker-registry serve "$WORK/registry.yml" 2>"$WORK/registry.log" &
REG_PID=$!
for _ in $(seq 1 50); do
	curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/" && break
	sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$PORT/v2/" || {
	cat "$WORK/registry.log" >&2
	echo "demo.sh: the registry did not start" >&2
	exit 1
}
IMAGE=127.0.0.1:$PORT/demo/hello:1.0
echo "registry at 127.0.0.1:$PORT"

say "Push the image with skopeo"
skopeo copy --dest-tls-verify=false "oci:$OCI:1.0" "docker://$IMAGE"

say "ccpull inspect $IMAGE"
"$CCPULL" inspect --tls-verify=false "$IMAGE"

say "ccpull pull $IMAGE $WORK/bundle"
"$CCPULL" pull --insecure-policy --tls-verify=false --store "$WORK/store" --json "$IMAGE" "$WORK/bundle" \
	>"$WORK/pull.json"
# The useful part of the result; the whole of it (with the runtime spec) stays in pull.json.
jq '{image, manifest_digest, platform, snapshotter, rootfs, config_path,
     layers: [.layers[] | {digest, size, reused}],
     process: (.config.process | {args, env, cwd, user: .user | {uid, gid}})}' "$WORK/pull.json"

say "The bundle"
ls -l "$WORK/bundle"
say "The rootfs"
(cd "$WORK/bundle/rootfs" && find . -mindepth 1 -printf '%M %U:%G %8s  %p\n' | sort -k4)
echo
cat "$WORK/bundle/rootfs/etc/motd"

say "A second pull reuses the layers from the store"
"$CCPULL" pull --insecure-policy --tls-verify=false --store "$WORK/store" --json "$IMAGE" "$WORK/bundle2" |
	jq -c '.layers[] | {digest, reused}'

say "Unmount the overlay bundles (ccpull umount) and collect unused layers (ccpull store gc)"
"$CCPULL" umount "$WORK/bundle"
"$CCPULL" umount "$WORK/bundle2"
"$CCPULL" store gc --store "$WORK/store"

say "Done (the registry is stopped on exit)"
