#!/bin/bash
# Builds every fuzz target with clang + libFuzzer (ASan + UBSan) through fuzz/oss-fuzz/build.sh and
# fuzzes each for FUZZ_SECONDS (default 20) from its seed corpus. Fails on any crash, leak or timeout;
# the input that triggered it is kept in build-fuzz/artifacts/ (add it to fuzz/corpora/<target>/
# with the fix). Prints executions per second and coverage per target.
#
#   fuzz/run.sh                       # all targets, 20 s each
#   FUZZ_SECONDS=600 fuzz/run.sh unpack   # one target for longer
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_EACH=${FUZZ_SECONDS:-20}
BUILD=$ROOT/build-fuzz
OUT=$BUILD/out
ART=$BUILD/artifacts
mkdir -p "$OUT" "$ART"

export CC=${CC:-clang} CXX=${CXX:-clang++}
export CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined"
export CXXFLAGS=$CFLAGS LIB_FUZZING_ENGINE="-fsanitize=fuzzer" OUT SRC=$ROOT/.. WORK=$BUILD/work
[ $# -gt 0 ] && export FUZZ_TARGETS="$*"
"$ROOT/fuzz/oss-fuzz/build.sh" >"$BUILD/build.log" 2>&1 || { cat "$BUILD/build.log" >&2; exit 1; }

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
failed=()
printf '%-20s %10s %8s %8s\n' target "exec/s" cov ft
for bin in "$OUT"/*_fuzzer; do
	name=$(basename "$bin")
	target=${name%_fuzzer}
	if [ $# -gt 0 ] && [[ " $* " != *" $target "* ]]; then continue; fi
	corpus=$BUILD/corpus/$target
	rm -rf "$corpus"
	mkdir -p "$corpus"
	[ -d "$ROOT/fuzz/corpora/$target" ] && cp -r "$ROOT/fuzz/corpora/$target/." "$corpus/"
	args=(-seed=1 -max_total_time="$SECONDS_EACH" -print_final_stats=1 -artifact_prefix="$ART/$name-"
	      -rss_limit_mb=2048 -timeout=25)
	[ -f "$OUT/$name.dict" ] && args+=(-dict="$OUT/$name.dict")
	if [ -f "$OUT/$name.options" ]; then
		max_len=$(sed -n 's/^max_len *= *//p' "$OUT/$name.options")
		[ -n "$max_len" ] && args+=(-max_len="$max_len")
	fi
	if "$bin" "${args[@]}" "$corpus" >"$BUILD/$name.log" 2>&1; then
		execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$BUILD/$name.log")
		cov=$(grep -o 'cov: [0-9]*' "$BUILD/$name.log" | tail -1 | cut -d' ' -f2)
		ft=$(grep -o 'ft: [0-9]*' "$BUILD/$name.log" | tail -1 | cut -d' ' -f2)
		printf '%-20s %10s %8s %8s\n' "$target" "$execs" "$cov" "$ft"
	else
		printf '%-20s FAILED (see %s)\n' "$target" "$BUILD/$name.log"
		tail -40 "$BUILD/$name.log" >&2
		failed+=("$target")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz/run.sh: findings in: ${failed[*]}; inputs in $ART" >&2
	exit 1
fi
echo "fuzz/run.sh: no findings"
