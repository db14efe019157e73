#!/bin/bash
# The guest build: one statically linked ccpull whose run-time closure is only itself, for a
# confidential guest's rootfs (README, "Guest build"). Needs nothing but Debian's archive:
#   - libcurl and libarchive are built here from their Debian source packages (apt-get source, from a
#     deb-src entry for the running suite, added and `apt-get update`d when missing) with only what
#     ccpull uses: curl with HTTP/1.1 + HTTP/2 (nghttp2), HTTPS on OpenSSL, proxies and c-ares (no NSS
#     module needed at run time); libarchive with no compressor, crypto, XML, ACL, xattr or iconv
#     library (ccpull decompresses itself and reads only tar/pax, so only those readers get linked);
#   - OpenSSL, zlib, libzstd, jansson, libyaml, protobuf-c, nghttp2, c-ares and gpgme/libassuan/
#     libgpg-error are Debian's static libraries (*.a, from the -dev packages in .ci/packages).
#
# Usage: tools/guest-build.sh [cmake args...]   (run as root on Debian 12; e.g. -DCCPULL_WITH_GPGME=OFF)
# Environment: GUEST_DIR (default: build-guest in the checkout), GUEST_CCPULL_DIR (ccpull's CMake build
# dir, default $GUEST_DIR/ccpull), JOBS (default 2).
# Output: $GUEST_CCPULL_DIR/ccpull (ctest in that dir runs the tests against it) and, stripped,
# $GUEST_CCPULL_DIR/ccpull.stripped.
# Built dependencies are cached under $GUEST_DIR/deps (keyed by the Debian source version and this
# script's configure flags): a rerun only rebuilds ccpull.
set -euo pipefail
shopt -s inherit_errexit

SRC=$(cd "$(dirname "$0")/.." && pwd)
GUEST_DIR=${GUEST_DIR:-$SRC/build-guest}
JOBS=${JOBS:-2}
DEPS=$GUEST_DIR/deps
PREFIX=$DEPS/prefix
mkdir -p "$DEPS/src" "$PREFIX"
GUEST_DIR=$(cd "$GUEST_DIR" && pwd)
DEPS=$GUEST_DIR/deps
PREFIX=$DEPS/prefix
BUILD=${GUEST_CCPULL_DIR:-$GUEST_DIR/ccpull}

log() { printf 'guest-build: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (apt-get source may need a deb-src entry and apt-get update)"
command -v apt-get >/dev/null || die "not a Debian system"
command -v dpkg-source >/dev/null || die "dpkg-source missing: install dpkg-dev (see .ci/packages)"

# A deb-src entry for the running suite, added once: .ci/run's `apt-get update` ran before it
# existed, so adding it needs an update of its own.
ensure_deb_src() {
	if [ -n "$(apt-cache showsrc curl 2>/dev/null | head -n 1)" ]; then
		return 0
	fi
	# shellcheck disable=SC1091 # os-release is the system's
	. /etc/os-release
	[ -n "${VERSION_CODENAME:-}" ] || die "cannot tell the Debian suite from /etc/os-release"
	log "adding deb-src entries for $VERSION_CODENAME (/etc/apt/sources.list.d/ccpull-src.sources)"
	cat >/etc/apt/sources.list.d/ccpull-src.sources <<SOURCES
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $VERSION_CODENAME $VERSION_CODENAME-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: $VERSION_CODENAME-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
	apt-get update
	[ -n "$(apt-cache showsrc curl 2>/dev/null | head -n 1)" ] || die "no source package for curl after adding deb-src"
}

# fetch_source PKG: unpacks the Debian source package PKG (patches applied) under $DEPS/src and
# prints its directory. The version is the candidate of apt's newest deb-src.
fetch_source() {
	local pkg=$1 ver dir
	ver=$(apt-cache showsrc "$pkg" | sed -n 's/^Version: //p' | sort -V | tail -n 1)
	[ -n "$ver" ] || die "no source version for $pkg"
	dir=$DEPS/src/$pkg-${ver#*:}
	if [ ! -f "$dir/.unpacked" ]; then
		rm -rf "$dir" "$DEPS/src/$pkg-dl"
		mkdir -p "$DEPS/src/$pkg-dl"
		log "apt-get source $pkg=$ver"
		# apt checks the files against the signed Sources index (so dpkg-source need not check the
		# .dsc signature); as root it warns that it cannot drop to _apt, which is harmless.
		(cd "$DEPS/src/$pkg-dl" && apt-get source --download-only "$pkg=$ver" 2>&1) |
			{ grep -v '^W: Download is performed unsandboxed' >&2 || true; }
		ls "$DEPS/src/$pkg-dl/"*.dsc >/dev/null 2>&1 || die "apt-get source $pkg failed"
		dpkg-source --no-check -x "$DEPS/src/$pkg-dl/"*.dsc "$dir" >&2
		touch "$dir/.unpacked"
	fi
	printf '%s\n' "$dir"
}

# Flags of the libraries built here: position independent (the CLI is a static PIE), hardened like
# Debian's own builds, one section per function for --gc-sections; no debug info (the guest binary
# is stripped anyway; leaving it out shortens the build).
DEP_CFLAGS="-O2 -fPIC -fstack-protector-strong -D_FORTIFY_SOURCE=2 -ffunction-sections -fdata-sections"

CURL_CONFIGURE=(--disable-shared --enable-static --with-pic
	--with-openssl --with-nghttp2 --enable-ares --without-nghttp3 --without-ngtcp2 --without-quiche
	--with-zlib --without-brotli --without-zstd --without-libpsl --without-libidn2 --without-librtmp
	--without-libssh2 --without-libssh --without-wolfssh --without-gssapi --without-libgsasl --without-hyper
	--disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet --disable-tftp
	--disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt --disable-ftp
	--disable-file --disable-ntlm --disable-ntlm-wb --disable-kerberos-auth --disable-negotiate-auth
	--disable-alt-svc --disable-hsts --disable-manual --disable-docs --disable-doh --disable-netrc
	--disable-verbose --disable-websockets --disable-tls-srp
	--with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --with-ca-path=/etc/ssl/certs)
# libarchive with its own CMake build (its Debian patches touch configure.ac and Makefile.am, which
# would need autotools): the static library only, none of its optional libraries.
LIBARCHIVE_CMAKE=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DENABLE_WERROR=OFF
	-DENABLE_MBEDTLS=OFF -DENABLE_NETTLE=OFF -DENABLE_OPENSSL=OFF -DENABLE_LIBB2=OFF -DENABLE_LZ4=OFF
	-DENABLE_LZO=OFF -DENABLE_LZMA=OFF -DENABLE_ZSTD=OFF -DENABLE_ZLIB=OFF -DENABLE_BZip2=OFF
	-DENABLE_LIBXML2=OFF -DENABLE_EXPAT=OFF -DENABLE_PCREPOSIX=OFF -DENABLE_LIBGCC=OFF -DENABLE_CNG=OFF
	-DENABLE_TAR=OFF -DENABLE_CPIO=OFF -DENABLE_CAT=OFF -DENABLE_XATTR=OFF -DENABLE_ACL=OFF
	-DENABLE_ICONV=OFF -DENABLE_TEST=OFF -DENABLE_COVERAGE=OFF)

# build_dep NAME DIR CONFIGURE_ARGS...: ./configure && make in DIR, installed into $PREFIX, skipped
# when the stamp for this source and these flags exists.
build_dep() {
	local name=$1 dir=$2 stamp key
	shift 2
	key=$(printf '%s\n' "$(basename "$dir")" "$DEP_CFLAGS" "$@" | sha256sum | cut -c1-16)
	stamp=$DEPS/$name.$key.done
	if [ -f "$stamp" ]; then
		log "$name: cached ($(basename "$dir"))"
		return 0
	fi
	log "$name: building $(basename "$dir")"
	rm -f "$DEPS/$name".*.done
	(
		cd "$dir"
		if [ "$name" = libarchive ]; then
			rm -rf "$DEPS/build-$name"
			CFLAGS="$DEP_CFLAGS" cmake -S . -B "$DEPS/build-$name" "$@" >"$DEPS/$name.configure.log" 2>&1 ||
				{ tail -n 30 "$DEPS/$name.configure.log" >&2; exit 1; }
			cmake --build "$DEPS/build-$name" -j "$JOBS" --target archive_static >"$DEPS/$name.make.log" 2>&1 ||
				{ tail -n 30 "$DEPS/$name.make.log" >&2; exit 1; }
			mkdir -p "$PREFIX/include" "$PREFIX/lib/pkgconfig"
			install -m 644 libarchive/archive.h libarchive/archive_entry.h "$PREFIX/include/"
			install -m 644 "$DEPS/build-$name/libarchive/libarchive.a" "$PREFIX/lib/"
			# shellcheck disable=SC2016 # ${prefix} and friends are pkg-config's, not the shell's
			printf '%s\n' "prefix=$PREFIX" 'libdir=${prefix}/lib' 'includedir=${prefix}/include' '' \
				'Name: libarchive' 'Description: library that can create and read several streaming archive formats' \
				"Version: $(sed -n 's/^#define ARCHIVE_VERSION_ONLY_STRING "\(.*\)"/\1/p' libarchive/archive.h)" \
				'Cflags: -I${includedir}' 'Libs: -L${libdir} -larchive' >"$PREFIX/lib/pkgconfig/libarchive.pc"
			exit 0
		fi
		# autotools (curl), built out of the source tree
		rm -rf "$DEPS/build-$name"
		mkdir -p "$DEPS/build-$name"
		cd "$DEPS/build-$name"
		CFLAGS="$DEP_CFLAGS" PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" \
			"$dir/configure" --prefix="$PREFIX" --libdir="$PREFIX/lib" "$@" >"$DEPS/$name.configure.log" 2>&1 ||
			{ tail -n 30 "$DEPS/$name.configure.log" >&2; exit 1; }
		# the library, its headers and curl.pc only, not the curl tool
		make -j "$JOBS" -C lib >"$DEPS/$name.make.log" 2>&1 || { tail -n 30 "$DEPS/$name.make.log" >&2; exit 1; }
		{ make -C lib install && make -C include install && make install-pkgconfigDATA; } >>"$DEPS/$name.make.log" 2>&1
	)
	touch "$stamp"
}

start=$(date +%s)
ensure_deb_src
curl_dir=$(fetch_source curl)
libarchive_dir=$(fetch_source libarchive)
build_dep curl "$curl_dir" "${CURL_CONFIGURE[@]}"
build_dep libarchive "$libarchive_dir" "${LIBARCHIVE_CMAKE[@]}"

# ccpull itself: the static link mode of CMakeLists.txt, the CLI only.
log "ccpull: configure and build in $BUILD"
PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
	-DCCPULL_STATIC=ON -DCCPULL_SANITIZE=OFF -DCCPULL_WITH_ISAL=OFF -DCMAKE_PREFIX_PATH="$PREFIX" \
	-DCCPULL_WERROR="${CCPULL_WERROR:-OFF}" "$@" >"$BUILD.cmake.log" || { cat "$BUILD.cmake.log" >&2; exit 1; }
cmake --build "$BUILD" -j "$JOBS" --target ccpull_cli 2>&1 | tee "$BUILD/build.log" >&2
BIN=$BUILD/ccpull
[ -x "$BIN" ] || die "no $BIN"
# A static-pie binary: no program interpreter, no shared library needed (ldd: "statically linked").
if readelf -lW "$BIN" | grep -q 'INTERP' || readelf -dW "$BIN" | grep -q 'NEEDED'; then
	die "$BIN is dynamically linked: $(ldd "$BIN" 2>&1 | tr '\n' ' ')"
fi
# glibc's warnings about functions that would load NSS modules or shared objects at run time. Each
# one allowed here is in code ccpull does not reach (README, "Guest build"); any other fails the build.
#   dlopen: OpenSSL's DSO, only for engines and providers named by an openssl.cnf;
#   getaddrinfo, gethostbyname: OpenSSL's BIO_lookup and BIO_gethostbyname (curl and c-ares resolve);
#   getservbyname, getservbyport_r: c-ares, for non-numeric services only (curl passes
#     ARES_AI_NUMERICSERV) and ares_getnameinfo (not called);
#   getpwnam, getpwuid: libgpg-error's "~" expansion of file names (gpgme is given absolute homes).
unexpected=$(sed -n "s/.*warning: Using '\([a-z_]*\)' in statically linked.*/\1/p" "$BUILD/build.log" |
	grep -vxE 'dlopen|getaddrinfo|gethostbyname|getservbyname|getservbyport_r|getpwnam|getpwuid' | sort -u || true)
[ -z "$unexpected" ] || die "the static link uses NSS or dlopen in: $unexpected (see $BUILD/build.log)"
strip -o "$BUILD/ccpull.stripped" "$BIN"
log "done in $(($(date +%s) - start)) s: $BIN ($(stat -c %s "$BUILD/ccpull.stripped") bytes stripped)"
