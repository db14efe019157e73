#!/bin/bash -eu
# Builds every ccpull fuzz target the way OSS-Fuzz does: the library and harnesses with $CC $CFLAGS,
# linked with $CXX $CXXFLAGS ... $LIB_FUZZING_ENGINE; seed corpora zipped into $OUT, with each
# target's .dict and .options. Works inside the OSS-Fuzz image ($SRC/ccpull) and outside it, run
# from the project root with the variables set by hand, e.g.:
#
#   CC=clang CXX=clang++ CFLAGS="-g -fsanitize=address,undefined,fuzzer-no-link" \
#   CXXFLAGS="$CFLAGS" LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=/tmp/fuzz-out SRC=$PWD/.. \
#   WORK=/tmp/fuzz-work fuzz/oss-fuzz/build.sh
#
# FUZZ_TARGETS="reference manifest" limits the build to those targets.

if [ -f "$SRC/ccpull/CMakeLists.txt" ]; then
	ROOT=$SRC/ccpull
else
	ROOT=$(cd "$(dirname "$0")/../.." && pwd)
fi
CXXFLAGS=${CXXFLAGS:-$CFLAGS}
WORK=${WORK:-$(mktemp -d)}
OBJ=$WORK/ccpull-obj
mkdir -p "$OUT" "$OBJ"

PKGS="libcurl libssl libcrypto jansson libarchive libzstd zlib gpgme yaml-0.1 libprotobuf-c"
# shellcheck disable=SC2086
DEP_CFLAGS=$(pkg-config --cflags $PKGS)
# shellcheck disable=SC2086
DEP_LIBS=$(pkg-config --libs $PKGS)
VERSION=$(sed -n 's/^project(ccpull VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
COMMON="-std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DCCPULL_VERSION=\"$VERSION\" -I$ROOT/include -I$ROOT/src -I$ROOT"

# The protobuf code of the library's ttrpc module and of the service, generated as the CMake build does.
GEN=$WORK/service-gen
mkdir -p "$GEN"
for proto in "$ROOT"/src/ttrpc/*.proto "$ROOT"/src/service/*.proto; do
	protoc-c --c_out="$GEN" -I"$(dirname "$proto")" "$proto"
done
COMMON="$COMMON -I$GEN"

# The library (with the service), once.
rm -f "$OBJ"/*.o "$WORK/libccpull_fuzz.a"
for src in "$ROOT"/src/*/*.c "$ROOT"/keyproviders/*/*.c "$GEN"/*.pb-c.c; do
	[ -f "$src" ] || continue
	# the CLI is not linked; *_none.c replace gpgme in builds without it (CCPULL_WITH_GPGME=OFF)
	case $src in "$ROOT"/src/cli/* | */gpg_none.c | */pgp_none.c) continue ;; esac
	obj=$OBJ/$(echo "${src#"$ROOT"/}" | tr / _ | tr -d .).o
	# shellcheck disable=SC2086
	$CC $CFLAGS $COMMON $DEP_CFLAGS -c "$src" -o "$obj"
done
ar rcs "$WORK/libccpull_fuzz.a" "$OBJ"/*.o

# Each harness, its corpus, dictionary and options.
for harness in "$ROOT"/fuzz/*_fuzzer.c; do
	name=$(basename "$harness" .c)
	target=${name%_fuzzer}
	if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" $target "* ]]; then
		continue
	fi
	# shellcheck disable=SC2086
	$CC $CFLAGS $COMMON $DEP_CFLAGS -c "$harness" -o "$WORK/$name.o"
	# shellcheck disable=SC2086
	$CXX $CXXFLAGS "$WORK/$name.o" "$WORK/libccpull_fuzz.a" $LIB_FUZZING_ENGINE $DEP_LIBS -lpthread \
		-o "$OUT/$name"
	if [ -d "$ROOT/fuzz/corpora/$target" ]; then
		rm -f "$OUT/${name}_seed_corpus.zip"
		(cd "$ROOT/fuzz/corpora/$target" && /usr/bin/python3 -m zipfile -c "$OUT/${name}_seed_corpus.zip" .)
	fi
	for dict in "$ROOT/fuzz/$target.dict" "$ROOT/fuzz/${name}.dict"; do
		[ -f "$dict" ] && cp "$dict" "$OUT/$name.dict" && break
	done
	if [ -f "$ROOT/fuzz/$target.options" ]; then
		cp "$ROOT/fuzz/$target.options" "$OUT/$name.options"
	fi
done
echo "fuzz/oss-fuzz/build.sh: harnesses in $OUT"
