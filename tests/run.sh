#!/bin/bash
# The test command: configures and builds ccpull twice, build/ (normal) and build-asan/
# (AddressSanitizer + UBSan), and runs the whole ctest suite (unit, conformance, fuzz corpus replay,
# integration against a real registry on 127.0.0.1) in both; then builds build-tsan/
# (ThreadSanitizer) and runs the threaded part there: serve, pulls (layers in parallel) and
# concurrent pulls; then links the static guest binary (tools/guest-build.sh) and runs the pull,
# serve and KBS integration tests against it; then fuzzes every harness briefly. Exits non-zero if
# anything fails.
#
# Run as root (the integration tests set file owners and create device nodes; without root they
# are skipped). Environment: JOBS (build parallelism, default: number of CPUs), CTEST_JOBS
# (default 2), CCPULL_WERROR=ON to turn warnings into errors, CTEST_ARGS (extra ctest arguments,
# e.g. "-L integration"; not applied to the TSan phase), TSAN_TESTS (the ctest regex of that phase;
# empty skips it). With CI=true (set by .ci/run) a test that skips (exit 77) fails the run unless
# tests/skip-allowlist names it with its reason.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
JOBS=${JOBS:-$(nproc)}
CTEST_JOBS=${CTEST_JOBS:-2}
read -r -a EXTRA_CTEST <<<"${CTEST_ARGS:-}"

[ "$(id -u)" -eq 0 ] || echo "tests/run.sh: not root: the integration tests will be skipped" >&2

failed=()

# run_config DIR CMAKE_ARGS...: configure, build and test one configuration.
run_config() {
	local dir=$SRC/$1
	shift
	echo "=== $dir: configure and build"
	cmake -S "$SRC" -B "$dir" -DCCPULL_WERROR="${CCPULL_WERROR:-OFF}" "$@"
	cmake --build "$dir" -j "$JOBS"
	echo "=== $dir: ctest"
	if ! ctest --test-dir "$dir" --output-on-failure -j "$CTEST_JOBS" --output-junit "$dir/ctest.xml" \
		"${EXTRA_CTEST[@]}"; then
		failed+=("$dir")
	fi
	check_skips "$dir" || failed+=("$dir (skipped tests)")
}

# check_skips DIR: lists the tests ctest skipped in DIR; under CI=true, any not on the allow-list
# is a failure: a skip is not a pass.
check_skips() {
	local skipped name unexplained=0
	skipped=$(python3 -c 'import sys, xml.etree.ElementTree as E
for t in E.parse(sys.argv[1]).getroot().iter("testcase"):
    if t.find("skipped") is not None: print(t.get("name"))' "$1/ctest.xml")
	for name in $skipped; do
		if grep -qE "^${name}[[:space:]]+[^[:space:]]" "$SRC/tests/skip-allowlist"; then
			echo "tests/run.sh: $name skipped (allowed: $(sed -nE "s/^${name}[[:space:]]+//p" "$SRC/tests/skip-allowlist"))"
		else
			echo "tests/run.sh: $name skipped, and tests/skip-allowlist does not explain why" >&2
			unexplained=1
		fi
	done
	[ "${CI:-}" != true ] || [ $unexplained -eq 0 ]
}

run_config build -DCCPULL_SANITIZE=OFF

# Sanitizers: any UBSan report aborts the process; leak checking where LeakSanitizer can run (it
# needs ptrace-like access, which some containers deny).
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1
cmake -S "$SRC" -B "$SRC/build-asan" -DCCPULL_WERROR="${CCPULL_WERROR:-OFF}" -DCCPULL_SANITIZE=ON >/dev/null
cmake --build "$SRC/build-asan" -j "$JOBS" --target ccpull_cli
if ! lsan_out=$("$SRC/build-asan/ccpull" --version 2>&1) && grep -q LeakSanitizer <<<"$lsan_out"; then
	echo "tests/run.sh: LeakSanitizer does not work here; running ASan without leak detection" >&2
	export ASAN_OPTIONS=${ASAN_OPTIONS/detect_leaks=1/detect_leaks=0}
fi
run_config build-asan -DCCPULL_SANITIZE=ON

# ThreadSanitizer: the tests that run threads against each other (serve's connection, request and
# timer threads; the layers of a pull in parallel; the ranges of a blob; pulls sharing a store; the
# file workers of a rootfs copy; ccp_init and ccp_shutdown from many threads). A report makes the
# process exit 66, which fails its test. No suppressions: none has been needed (the system's libcurl,
# OpenSSL and gpgme are not instrumented, so TSan sees only our side of them).
TSAN_TESTS=${TSAN_TESTS-'^(integration_test_(serve.*|pull_.*|concurrent|many_layers|store_reuse|kbs_contexts|ranges|copy_snapshotter|layer_edges)|unit_test_(bundle|lifecycle))$'}
if [ -n "$TSAN_TESTS" ]; then
	echo "=== $SRC/build-tsan: configure and build"
	cmake -S "$SRC" -B "$SRC/build-tsan" -DCCPULL_WERROR="${CCPULL_WERROR:-OFF}" -DCCPULL_SANITIZE=thread
	cmake --build "$SRC/build-tsan" -j "$JOBS"
	echo "=== $SRC/build-tsan: ctest -R '$TSAN_TESTS'"
	if ! TSAN_OPTIONS=halt_on_error=0:exitcode=66:second_deadlock_stack=1 \
		ctest --test-dir "$SRC/build-tsan" --output-on-failure -j "$CTEST_JOBS" -R "$TSAN_TESTS" \
			--output-junit "$SRC/build-tsan/ctest.xml"; then
		failed+=("$SRC/build-tsan")
	fi
	check_skips "$SRC/build-tsan" || failed+=("$SRC/build-tsan (skipped tests)")
fi

# Guest build (README, "Guest build"): tools/guest-build.sh links one static ccpull (curl and
# libarchive from Debian's source packages, cached in build-guest/deps), then the integration tests
# of pull, serve and KBS run against that binary from its own build dir (but test_kbs_contexts, which
# drives the library in one process through a helper program, not the binary). It needs root (apt-get
# source, the tests) and Debian's archive; GUEST_BUILD=0 skips this phase.
if [ "${GUEST_BUILD:-1}" != 0 ] && [ "$(id -u)" -ne 0 ]; then
	echo "tests/run.sh: not root: no guest build" >&2
elif [ "${GUEST_BUILD:-1}" != 0 ]; then
	echo "=== build-guest: the static guest binary and its integration tests"
	if JOBS=$JOBS CCPULL_WERROR="${CCPULL_WERROR:-OFF}" "$SRC/tools/guest-build.sh"; then
		if ! ctest --test-dir "$SRC/build-guest/ccpull" --output-on-failure -j "$CTEST_JOBS" \
			--output-junit "$SRC/build-guest/ccpull/ctest.xml" -L integration -R 'pull|serve|kbs' \
			-E '^integration_test_kbs_contexts$'; then
			failed+=(build-guest)
		fi
		check_skips "$SRC/build-guest/ccpull" || failed+=("build-guest (skipped tests)")
	else
		failed+=("build-guest (build)")
	fi
fi

# Fuzzing: every harness built with clang + libFuzzer (ASan + UBSan) and fuzzed for FUZZ_SECONDS
# (default 20) from its corpus; FUZZ_SECONDS=0 skips this phase.
if [ "${FUZZ_SECONDS:-20}" != 0 ]; then
	echo "=== fuzzing each target for ${FUZZ_SECONDS:-20} s"
	"$SRC/fuzz/run.sh" || failed+=(fuzz)
fi

if [ ${#failed[@]} -ne 0 ]; then
	echo "tests/run.sh: FAILED in: ${failed[*]}" >&2
	exit 1
fi
echo "tests/run.sh: all tests passed in build/, build-asan/, build-tsan/ and build-guest/"
