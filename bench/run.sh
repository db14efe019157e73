#!/bin/bash
# bench/run.sh: ccpull against containerd (ctr images pull) and skopeo copy + umoci unpack, on the same
# loopback docker-registry, with the same images, alternating runs; medians of RUNS and peak RSS.
#
#   sudo bench/run.sh                 # RUNS=3, images from /usr/share/doc, /usr/include, /usr/bin
#   RUNS=5 CCPULL=build/ccpull sudo bench/run.sh
#   BENCH_BIG=1 sudo bench/run.sh     # also the 1 GiB single-layer image through a rate cap
#   BENCH_MANY=1 sudo bench/run.sh    # also the 100k- and 500k-file images (bench/mkmany.py)
#
# The images are made once from local directories (GNU tar --sort=name, gzip -n, zstd) and kept in
# BENCH_DIR (default /var/tmp/ccpull-bench) with the registry's storage; delete it to rebuild.
# Pulls unpack into a tmpfs mounted on BENCH_DIR/runs for the duration of the benchmark.
set -euo pipefail
shopt -s inherit_errexit

SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_DIR:-/var/tmp/ccpull-bench}
RUNS=${RUNS:-3}
CCPULL=${CCPULL:-$SRC/build/ccpull}
LAYER_DIRS=(${BENCH_LAYERS:-usr/share/doc usr/include usr/bin})
PORT=${BENCH_PORT:-5077}
REG=127.0.0.1:$PORT

[ "$(id -u)" -eq 0 ] || { echo "bench/run.sh: run as root (containerd, umoci unpack, overlay)" >&2; exit 2; }
for t in docker-registry skopeo umoci zstd gzip igzip mkfs.ext4 losetup /usr/bin/time /usr/bin/python3; do
	command -v "$t" >/dev/null || { echo "bench/run.sh: $t is missing (apt-get install containerd skopeo umoci docker-registry zstd isal time)" >&2; exit 2; }
done
# containerd rows are left out where containerd is not installed
HAVE_CONTAINERD=1
command -v containerd >/dev/null && command -v ctr >/dev/null || HAVE_CONTAINERD=0
[ -x "$CCPULL" ] || { echo "bench/run.sh: $CCPULL not built (cmake -S . -B build && cmake --build build)" >&2; exit 2; }

# Every tool unpacks into a tmpfs, as a confidential guest does (/run is tmpfs in encrypted memory).
mkdir -p "$WORK/layers" "$WORK/runs"
mount -t tmpfs -o size=${BENCH_TMPFS_SIZE:-12g} ccpull-bench "$WORK/runs"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	grep " $WORK/runs" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	if [ -n "${DISK_LOOP:-}" ] && [ "$DISK_LOOP" != skip ]; then
		umount "$WORK/disk" 2>/dev/null || true
		losetup -d "$DISK_LOOP" 2>/dev/null || true
		rm -f "$WORK/disk.img"
	fi
}
trap cleanup EXIT

# ---- images ----
DIFF_IDS=()
for d in "${LAYER_DIRS[@]}"; do
	n=$(echo "$d" | tr / _)
	if [ ! -s "$WORK/layers/$n.tar.zst" ]; then
		echo "bench: making layer /$d" >&2
		tar -C / --format=pax --numeric-owner --sort=name -cf "$WORK/layers/$n.tar" "$d"
		gzip -n -6 -c "$WORK/layers/$n.tar" >"$WORK/layers/$n.tar.gz"
		zstd -q -3 -T0 -c "$WORK/layers/$n.tar" >"$WORK/layers/$n.tar.zst"
		sha256sum "$WORK/layers/$n.tar" | cut -c1-64 >"$WORK/layers/$n.diffid"
		rm "$WORK/layers/$n.tar"
	fi
	DIFF_IDS+=("sha256:$(cat "$WORK/layers/$n.diffid")")
done

cat >"$WORK/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $WORK/registry}, delete: {enabled: true}}
http: {addr: $REG}
YML
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -fs "http://$REG/v2/" >/dev/null 2>&1 && break; sleep 0.1; done

push() { # push TAG SUFFIX MEDIATYPE
	local args=() i=0
	for d in "${LAYER_DIRS[@]}"; do
		args+=("${DIFF_IDS[$i]}:$WORK/layers/$(echo "$d" | tr / _).$2")
		i=$((i + 1))
	done
	/usr/bin/python3 "$SRC/bench/push.py" "$REG" "bench/img:$1" "$3" "${args[@]}" >/dev/null
}
push gzip tar.gz application/vnd.oci.image.layer.v1.tar+gzip
push zstd tar.zst application/vnd.oci.image.layer.v1.tar+zstd

# Scaling: images of 1, 2 and 3 distinct layers, each a copy of /usr/include under its own
# directory, so bytes and files grow 1:2:3 and every layer adds new files.
scale_args=()
if [ -d /usr/include ]; then
	for n in 1 2 3; do
		if [ ! -s "$WORK/layers/scale$n.tar.gz" ]; then
			tar -C / --format=pax --numeric-owner --sort=name --transform "s,^usr/include,copy$n," \
				-cf "$WORK/layers/scale$n.tar" usr/include
			gzip -n -6 -c "$WORK/layers/scale$n.tar" >"$WORK/layers/scale$n.tar.gz"
			sha256sum "$WORK/layers/scale$n.tar" | cut -c1-64 >"$WORK/layers/scale$n.diffid"
			rm "$WORK/layers/scale$n.tar"
		fi
		scale_args+=("sha256:$(cat "$WORK/layers/scale$n.diffid"):$WORK/layers/scale$n.tar.gz")
		/usr/bin/python3 "$SRC/bench/push.py" "$REG" "bench/img:scale$n" \
			application/vnd.oci.image.layer.v1.tar+gzip "${scale_args[@]}" >/dev/null
	done
fi

# ---- many files (issue #20 item 7): memory flat in the number of entries ----
# many100k: one layer of 100k empty-ish files; many500k: five such layers (500k entries), applied
# side by side. Made by bench/mkmany.py (a streamed tar, directories of 1000 files), gzip -1. Built
# and measured only with BENCH_MANY=1 or when BENCH_ROWS names them (a 500k pull takes a minute).
MANY_ROWS=()
if [ "${BENCH_MANY:-0}" = 1 ] || [[ "${BENCH_ROWS:-}" == *many* ]]; then
	many_args=()
	for n in 1 2 3 4 5; do
		if [ ! -s "$WORK/layers/many$n.tar.gz" ]; then
			echo "bench: making layer many$n (100k files)" >&2
			/usr/bin/python3 "$SRC/bench/mkmany.py" "$WORK/layers/many$n.tar" "many$n" 100000
			gzip -n -1 -c "$WORK/layers/many$n.tar" >"$WORK/layers/many$n.tar.gz"
			sha256sum "$WORK/layers/many$n.tar" | cut -c1-64 >"$WORK/layers/many$n.diffid"
			rm "$WORK/layers/many$n.tar"
		fi
		many_args+=("sha256:$(cat "$WORK/layers/many$n.diffid"):$WORK/layers/many$n.tar.gz")
	done
	/usr/bin/python3 "$SRC/bench/push.py" "$REG" bench/img:many100k application/vnd.oci.image.layer.v1.tar+gzip \
		"${many_args[0]}" >/dev/null
	/usr/bin/python3 "$SRC/bench/push.py" "$REG" bench/img:many500k application/vnd.oci.image.layer.v1.tar+gzip \
		"${many_args[@]}" >/dev/null
	[ "${BENCH_MANY:-0}" = 1 ] && MANY_ROWS=(ccpull:many100k ccpull-copy:many100k ccpull:many500k)
fi
# ---- end of many files ----

# Encrypted + signed: skopeo encrypts every layer for a JWE key and signs with a GPG key (simple
# signing, lookaside in a local directory); ccpull pulls it with a signedBy policy and the private key.
SEC=$WORK/secure
if [ ! -s "$SEC/policy.json" ]; then
	rm -rf "$SEC"
	mkdir -p "$SEC/gnupg" "$SEC/sigstore" "$SEC/registries.d"
	chmod 700 "$SEC/gnupg"
	openssl genrsa -out "$SEC/priv.pem" 2048 2>/dev/null
	openssl rsa -in "$SEC/priv.pem" -pubout -out "$SEC/pub.pem" 2>/dev/null
	GNUPGHOME=$SEC/gnupg gpg --batch --passphrase '' --quick-gen-key bench@ccpull.invalid rsa2048 sign never 2>/dev/null
	GNUPGHOME=$SEC/gnupg gpg --batch --export bench@ccpull.invalid >"$SEC/pub.gpg"
	cat >"$SEC/registries.d/bench.yaml" <<YML
docker:
  $REG:
    lookaside: file://$SEC/sigstore
    lookaside-staging: file://$SEC/sigstore
YML
	cat >"$SEC/policy.json" <<JSON
{"default": [{"type": "reject"}],
 "transports": {"docker": {"$REG/bench": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "$SEC/pub.gpg"}]}}}
JSON
fi
FPR=$(GNUPGHOME=$SEC/gnupg gpg --batch --with-colons --list-keys bench@ccpull.invalid | awk -F: '/^fpr/ {print $10; exit}')
if ! curl -fs -o /dev/null "http://$REG/v2/bench/img/manifests/secure" || [ ! -d "$SEC/sigstore/bench" ]; then
	GNUPGHOME=$SEC/gnupg skopeo --registries.d "$SEC/registries.d" copy -q --src-tls-verify=false \
		--dest-tls-verify=false --encryption-key "jwe:$SEC/pub.pem" --sign-by "$FPR" \
		"docker://$REG/bench/img:gzip" "docker://$REG/bench/img:secure"
fi

# ---- runners: each prints "SECONDS PEAK_RSS_KIB" ----
timed() { # timed OUTFILE CMD...: wall seconds and max RSS of CMD (and its children)
	/usr/bin/time -f "%e %M" -o "$1" "${@:2}" >/dev/null 2>"$1.err" || { cat "$1.err" >&2; return 1; }
}

run_ccpull() { # run_ccpull TAG SNAPSHOTTER
	local d=$WORK/runs/ccpull-$$-$RANDOM
	mkdir -p "$d"
	timed "$d/t" "$CCPULL" pull -q --insecure-policy --tls-verify=false --store "$d/store" \
		${2:+--snapshotter "$2"} "$REG/bench/img:$1" "$d/bundle"
	cat "$d/t"
	"$CCPULL" umount "$d/bundle" >/dev/null 2>&1 || true
	rm -rf "$d"
}

run_ccpull_secure() { # the encrypted + signed image, policy evaluated and every layer decrypted
	local d=$WORK/runs/ccpull-secure-$$
	mkdir -p "$d"
	timed "$d/t" "$CCPULL" pull -q --policy "$SEC/policy.json" --registries-d "$SEC/registries.d" \
		--decryption-key "jwe:$SEC/priv.pem" --tls-verify=false --store "$d/store" "$REG/bench/img:secure" \
		"$d/bundle"
	cat "$d/t"
	"$CCPULL" umount "$d/bundle" >/dev/null 2>&1 || true
	rm -rf "$d"
}

run_ccpull_warm() { # a second pull with the same store: policy and manifests still checked
	local d=$WORK/runs/ccpull-warm-$$
	mkdir -p "$d"
	"$CCPULL" pull -q --insecure-policy --tls-verify=false --store "$d/store" "$REG/bench/img:$1" "$d/b1"
	timed "$d/t" "$CCPULL" pull -q --insecure-policy --tls-verify=false --store "$d/store" \
		"$REG/bench/img:$1" "$d/b2"
	cat "$d/t"
	"$CCPULL" umount "$d/b1" >/dev/null 2>&1 || true
	"$CCPULL" umount "$d/b2" >/dev/null 2>&1 || true
	rm -rf "$d"
}

run_containerd() { # run_containerd TAG: a private containerd, fresh root each run
	local d=$WORK/runs/containerd-$$ reg=$REG
	[ "$1" = big ] && reg=127.0.0.1:$RATE_PORT
	mkdir -p "$d"
	cat >"$d/config.toml" <<TOML
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$d/containerd.sock"
TOML
	containerd --config "$d/config.toml" >"$d/log" 2>&1 &
	local pid=$!
	for _ in $(seq 100); do [ -S "$d/containerd.sock" ] && break; sleep 0.1; done
	timed "$d/t" ctr -a "$d/containerd.sock" -n bench images pull --plain-http "$reg/bench/img:$1"
	local hwm
	hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	grep " $d/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	read -r secs rss <"$d/t"
	echo "$secs $((rss > hwm ? rss : hwm))"
	rm -rf "$d"
}

run_skopeo_umoci() { # run_skopeo_umoci TAG (umoci cannot read zstd layers)
	local d=$WORK/runs/skopeo-$$
	mkdir -p "$d"
	local start end
	start=$(date +%s.%N)
	timed "$d/t1" skopeo copy -q --src-tls-verify=false "docker://$REG/bench/img:$1" "oci:$d/oci:img"
	timed "$d/t2" umoci unpack --image "$d/oci:img" "$d/bundle"
	end=$(date +%s.%N)
	read -r _ r1 <"$d/t1"
	read -r _ r2 <"$d/t2"
	echo "$(echo "$end - $start" | bc -l) $((r1 > r2 ? r1 : r2))"
	rm -rf "$d"
}

# ---- the floor, disk runs and the large layer (perf rows) ----
# floor: an unverified pull of the same blobs from the same registry, its layers in parallel:
# curl | igzip -dc (zstd -dc) | tar -x, no digest, no metadata care; the lower bound of a pull.
# *-disk rows run on a fresh ext4 made for the benchmark (BENCH_DISK_MB MiB, default 8192, in a file
# of BENCH_DIR on a loop device with direct I/O, mounted with ext4's defaults), as a guest's trusted
# storage is ext4 on a block device formatted at boot; BENCH_DISK=DIR runs them in DIR instead (the
# host's own filesystem may be mounted with `discard`, whose TRIMs of the previous run's files land in
# the next run). ccpull-disk runs with the default commit (durable there: syncfs), ccpull-disk-nosync
# with --store-sync none (a store that cannot outlive its VM). big: one layer of BENCH_BIG_MB MiB
# (default 1024, incompressible, uncompressed tar) fetched through bench/rateproxy.py at BENCH_RATE
# bytes/s per connection (default 25 MB/s) and BENCH_LATENCY_MS per request (default 20):
# ccpull-ranges1 (one connection) against ccpull-ranges4 and ccpull-ranges8 (--parallel-ranges), and
# containerd through the same proxy.
DISK=${BENCH_DISK:-$WORK/disk}
DISK_LOOP=''
RATE_PORT=$((PORT + 1))

perf_default_rows() {
	echo floor:gzip floor:zstd floor-disk:gzip ccpull-disk:gzip ccpull-disk-nosync:gzip floor-disk:zstd \
		ccpull-disk-nosync:zstd ccpull-copy-disk:gzip ccpull-unkept:gzip ccpull-unkept-disk:gzip
	[ "${BENCH_BIG:-0}" = 1 ] && echo ccpull-ranges1:big ccpull-ranges4:big ccpull-ranges8:big containerd:big
	return 0
}

perf_setup() { # the disk directory; the big image and the rate-capping proxy when a big row runs
	mkdir -p "$DISK"
	case " ${ROWS[*]} " in *-disk:*) ;; *) DISK_LOOP=skip ;; esac
	if [ -z "${BENCH_DISK:-}" ] && [ -z "$DISK_LOOP" ]; then
		rm -f "$WORK/disk.img"
		truncate -s "${BENCH_DISK_MB:-8192}M" "$WORK/disk.img"
		mkfs.ext4 -q -F "$WORK/disk.img"
		DISK_LOOP=$(losetup -f --show --direct-io=on "$WORK/disk.img")
		mount "$DISK_LOOP" "$DISK"
	fi
	case " ${ROWS[*]} " in *:big\ *) ;; *) return 0 ;; esac
	local mb=${BENCH_BIG_MB:-1024} n=$WORK/layers/big${BENCH_BIG_MB:-1024}
	if [ ! -s "$n.tar" ]; then
		echo "bench: making the ${mb} MiB layer" >&2
		rm -rf "$WORK/bigsrc" && mkdir -p "$WORK/bigsrc/data"
		for i in $(seq 0 $((mb / 64 - 1))); do head -c 64M /dev/urandom >"$WORK/bigsrc/data/part$i"; done
		tar -C "$WORK/bigsrc" --format=pax --numeric-owner --sort=name -cf "$n.tar" data
		rm -rf "$WORK/bigsrc"
		sha256sum "$n.tar" | cut -c1-64 >"$n.diffid"
	fi
	/usr/bin/python3 "$SRC/bench/push.py" "$REG" bench/img:big application/vnd.oci.image.layer.v1.tar \
		"sha256:$(cat "$n.diffid"):$n.tar" >/dev/null
	/usr/bin/python3 "$SRC/bench/rateproxy.py" "$RATE_PORT" "$REG" "${BENCH_RATE:-25000000}" \
		"${BENCH_LATENCY_MS:-20}" &
	PIDS+=($!)
	for _ in $(seq 100); do curl -fs "http://127.0.0.1:$RATE_PORT/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
}

run_floor() { # run_floor TAG BASE
	local d=$2/floor-$$-$RANDOM dec=igzip i=0 digests
	[ "$1" = zstd ] && dec=zstd
	mkdir -p "$d"
	digests=$(curl -fs -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/bench/img/manifests/$1" |
		/usr/bin/python3 -c 'import json, sys; print(" ".join(l["digest"] for l in json.load(sys.stdin)["layers"]))')
	for dg in $digests; do
		mkdir -p "$d/l$i"
		echo "curl -fs http://$REG/v2/bench/img/blobs/$dg | $dec -dc | tar -x -C $d/l$i &"
		i=$((i + 1))
	done >"$d/floor.sh"
	echo wait >>"$d/floor.sh"
	timed "$d/t" bash "$d/floor.sh"
	cat "$d/t"
	rm -rf "$d"
}

run_ccpull_at() { # run_ccpull_at TAG BASE [ccpull options]: a pull into BASE (a fresh store)
	local d=$2/ccpull-$$-$RANDOM tag=$1 reg=$REG
	shift 2
	[ "$tag" = big ] && reg=127.0.0.1:$RATE_PORT
	mkdir -p "$d"
	timed "$d/t" "$CCPULL" pull -q --insecure-policy --tls-verify=false --store "$d/store" "$@" \
		"$reg/bench/img:$tag" "$d/bundle"
	cat "$d/t"
	"$CCPULL" umount "$d/bundle" >/dev/null 2>&1 || true
	rm -rf "$d"
}

perf_row() { # perf_row TOOL TAG: prints "SECONDS PEAK_RSS_KIB"
	case $1 in
	floor) run_floor "$2" "$WORK/runs" ;;
	floor-disk) run_floor "$2" "$DISK" ;;
	ccpull-disk) run_ccpull_at "$2" "$DISK" ;;
	ccpull-disk-nosync) run_ccpull_at "$2" "$DISK" --store-sync none ;;
	ccpull-copy-disk) run_ccpull_at "$2" "$DISK" --store-sync none --snapshotter copy ;;
	# the copy snapshotter without keeping the layers: the data written once
	ccpull-unkept) run_ccpull_at "$2" "$WORK/runs" --snapshotter copy --keep-layers=false ;;
	ccpull-unkept-disk) run_ccpull_at "$2" "$DISK" --snapshotter copy --keep-layers=false ;;
	ccpull-ranges*) run_ccpull_at "$2" "$WORK/runs" --parallel-ranges "${1#ccpull-ranges}" ;;
	*) echo "bench: unknown row $1" >&2; return 1 ;;
	esac
}

perf_summary() { # ratios of the perf rows, for the README table
	local a b
	echo
	for p in ccpull:gzip/floor:gzip ccpull:zstd/floor:zstd ccpull-disk:gzip/floor-disk:gzip \
		ccpull-disk-nosync:gzip/floor-disk:gzip ccpull-disk-nosync:zstd/floor-disk:zstd \
		ccpull-copy-disk:gzip/ccpull-disk-nosync:gzip ccpull-ranges4:big/ccpull-ranges1:big \
		ccpull-ranges8:big/ccpull-ranges1:big ccpull-ranges4:big/containerd:big ccpull-ranges8:big/containerd:big \
		ccpull-copy:gzip/ccpull:gzip ccpull-unkept:gzip/ccpull:gzip ccpull-unkept-disk:gzip/ccpull-disk-nosync:gzip; do
		a=${p%/*} b=${p#*/}
		[ -n "${T[$a]:-}" ] && [ -n "${T[$b]:-}" ] || continue
		printf '%-46s %.2f\n' "$a vs $b" "$(echo "${T[$a]} / ${T[$b]}" | bc -l)"
	done
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A T M
# Alternate the tools within each round so that machine noise spreads over all of them.
ROWS=(ccpull-copy:gzip ccpull:gzip containerd:gzip skopeo+umoci:gzip ccpull:zstd containerd:zstd ccpull-warm:gzip
      ccpull-secure:gzip)
[ ${#scale_args[@]} -eq 3 ] && ROWS+=(ccpull:scale1 ccpull:scale2 ccpull:scale3)
read -r -a _perf_rows <<<"$(perf_default_rows | tr '\n' ' ')"
ROWS+=("${_perf_rows[@]}")
ROWS+=(${MANY_ROWS[@]+"${MANY_ROWS[@]}"}) # many files: see above
# BENCH_ROWS="ccpull:gzip ccpull-secure:gzip" measures only those rows.
[ -n "${BENCH_ROWS:-}" ] && read -r -a ROWS <<<"$BENCH_ROWS"
if [ "$HAVE_CONTAINERD" = 0 ]; then
	echo "bench: containerd is not installed: its rows are left out" >&2
	read -r -a ROWS <<<"$(printf '%s\n' "${ROWS[@]}" | grep -v '^containerd:' | tr '\n' ' ')"
fi
perf_setup
declare -A SECS RSS
for round in $(seq "$RUNS"); do
	for row in "${ROWS[@]}"; do
		tool=${row%%:*} tag=${row##*:}
		# Let the previous run's teardown (a killed containerd, lazy unmounts, freed tmpfs pages)
		# finish before the next run starts, whichever tool comes next.
		sync
		sleep 1
		case $tool in
		ccpull-copy) out=$(run_ccpull "$tag" copy) ;;
		ccpull) out=$(run_ccpull "$tag" "") ;;
		ccpull-warm) out=$(run_ccpull_warm "$tag") ;;
		ccpull-secure) out=$(run_ccpull_secure) ;;
		containerd) out=$(run_containerd "$tag") ;;
		skopeo+umoci) out=$(run_skopeo_umoci "$tag") ;;
		*) out=$(perf_row "$tool" "$tag") ;;
		esac
		SECS[$row]+="${out%% *} "
		RSS[$row]+="${out##* } "
		echo "bench: round $round $row: $out" >&2
	done
done

printf '\n%-22s %10s %14s %14s %16s\n' "tool:image" "median s" "peak RSS MiB" "vs containerd" "vs skopeo+umoci"
for row in "${ROWS[@]}"; do
	T[$row]=$(printf '%s\n' ${SECS[$row]} | median)
	M[$row]=$(printf '%s\n' ${RSS[$row]} | sort -n | tail -1)
done
for row in "${ROWS[@]}"; do
	tag=${row##*:}
	if [ -z "${T[containerd:$tag]:-}" ]; then
		printf '%-22s %10.2f %14d %14s %16s\n' "$row" "${T[$row]}" $((${M[$row]} / 1024)) - -
		continue
	fi
	vc=$(echo "${T[$row]} / ${T[containerd:$tag]}" | bc -l)
	vs=-
	[ -n "${T[skopeo+umoci:$tag]:-}" ] && vs=$(printf '%.2f' "$(echo "${T[$row]} / ${T[skopeo+umoci:$tag]}" | bc -l)")
	printf '%-22s %10.2f %14d %14.2f %16s\n' "$row" "${T[$row]}" $((${M[$row]} / 1024)) "$vc" "$vs"
done
if [ -n "${T[ccpull:scale3]:-}" ]; then
	printf '\nscaling (1, 2, 3 distinct /usr/include-sized layers): %.2f s, %.2f s, %.2f s; per layer %.2f, %.2f, %.2f\n' \
		"${T[ccpull:scale1]}" "${T[ccpull:scale2]}" "${T[ccpull:scale3]}" "${T[ccpull:scale1]}" \
		"$(echo "${T[ccpull:scale2]} / 2" | bc -l)" "$(echo "${T[ccpull:scale3]} / 3" | bc -l)"
fi
perf_summary
if [ -n "${T[ccpull-secure:gzip]:-}" ] && [ -n "${T[ccpull:gzip]:-}" ]; then
	printf '\nencrypted + signed vs plain (ccpull, overlay): %.2f\n' "$(echo "${T[ccpull-secure:gzip]} / ${T[ccpull:gzip]}" | bc -l)"
fi
echo "image layers: ${LAYER_DIRS[*]}; $(du -ch "$WORK"/layers/usr_*.tar.gz | tail -1 | cut -f1) gzip, $(du -ch "$WORK"/layers/usr_*.tar.zst | tail -1 | cut -f1) zstd; runs: $RUNS"
