#!/usr/bin/env bash
# Builds the release artefacts into dist/ and checks them (docs/release.md):
#   taskcred_<version>_amd64.deb                  CPack: /usr/lib/vault/plugins/taskcred,
#                                                 /usr/bin/taskcred-{verify,authz,register}, docs
#   taskcred-<version>-linux-amd64.tar.gz         the same, flat: binaries, register.sh, docs
#   taskcred-<version>-linux-amd64-debug.tar.gz   the binaries' debug info (<name>.debug)
#   SHA256SUMS
# Every binary is static and stripped. The version comes from project() in
# CMakeLists.txt. One command from a clean checkout (after
# scripts/install_deps.sh): a Release build in build-release/, with the test
# harness built too (not run): the plugin's code layout is made from a
# training run through it (docs/release.md, "Code layout"; BOLT needs a build
# without DWARF, so the .debug files hold symbols, not line tables).
# BUILD_DIR reuses a configured build (it must have TASKCRED_STATIC=ON).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-release}
DIST_DIR=${DIST_DIR:-dist}
die() { echo "package: $*" >&2; exit 1; }

if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" -DTASKCRED_STATIC=ON \
    -DTASKCRED_BUILD_TESTS=ON -DTASKCRED_WERROR="${TASKCRED_WERROR:-OFF}"
fi
grep -q '^TASKCRED_STATIC:BOOL=ON$' "$BUILD_DIR/CMakeCache.txt" ||
  die "$BUILD_DIR is not a static build (configure it with -DTASKCRED_STATIC=ON)"
cmake --build "$BUILD_DIR" --target release_binaries -j"$(nproc)"
if ! readelf -SW "$BUILD_DIR/plugin/taskcred" | grep -q '\.note\.bolt_info'; then
  echo "package: WARNING: the plugin's code is not laid out from a profile (TASKCRED_BOLT is off or" \
    "llvm-bolt is missing): it needs more memory and CPU than the figures in BENCHMARKS.md" >&2
fi

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD_DIR/CMakeCache.txt")
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "no project version in $BUILD_DIR/CMakeCache.txt"
release=$BUILD_DIR/release
name=taskcred-$version-linux-amd64
# Archive times: the commit's (reproducible), else now.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

rm -rf "$DIST_DIR" "$BUILD_DIR/package" "$BUILD_DIR/stage"
mkdir -p "$DIST_DIR" "$BUILD_DIR/stage/$name/docs" "$BUILD_DIR/stage/$name-debug"

# The .deb (CPack, the `release` install component).
(cd "$BUILD_DIR" && cpack -G DEB --config CPackConfig.cmake >/dev/null)
mv "$BUILD_DIR/package/taskcred_${version}_amd64.deb" "$DIST_DIR/"

# The tarballs.
stage=$BUILD_DIR/stage/$name
cp "$release/taskcred" "$release/taskcred-verify" "$release/taskcred-authz" "$stage/"
cp scripts/register.sh README.md BENCHMARKS.md "$stage/"
cp docs/*.md "$stage/docs/"
cp -r examples "$stage/examples"
cp "$release"/*.debug "$BUILD_DIR/stage/$name-debug/"
for dir in "$name" "$name-debug"; do
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -C "$BUILD_DIR/stage" -cf - "$dir" |
    gzip -n -9 >"$DIST_DIR/$dir.tar.gz"
done
(cd "$DIST_DIR" && sha256sum "taskcred_${version}_amd64.deb" "$name.tar.gz" "$name-debug.tar.gz" >SHA256SUMS)

# ---- checks: what an operator relies on.
for exe in taskcred taskcred-verify taskcred-authz; do
  f=$stage/$exe
  if readelf -lW "$f" | grep -q 'INTERP\|DYNAMIC'; then die "$exe is not static"; fi
  if readelf -SW "$f" | grep -q '\.debug_info\|\.symtab'; then die "$exe is not stripped"; fi
  readelf -nW "$f" | grep -q 'Build ID' || die "$exe has no build-id"
  readelf -lW "$f" | grep -Eq 'GNU_STACK +(0x0+ +){5}RW ' || die "$exe has no non-executable stack header"
  [[ $(readelf -p .gnu_debuglink "$f" 2>/dev/null) == *"$exe.debug"* ]] || die "$exe does not name $exe.debug"
done
"$stage/taskcred" --version | grep -qx "taskcred v$version" || die "taskcred --version does not say v$version"
"$stage/taskcred" --version | grep -qx "linked: static" || die "taskcred --version does not say static"
"$stage/taskcred-verify" --help >/dev/null || die "taskcred-verify --help failed"
"$stage/taskcred-authz" --help >/dev/null || die "taskcred-authz --help failed"

deb=$DIST_DIR/taskcred_${version}_amd64.deb
[[ $(dpkg-deb -f "$deb" Package) == taskcred ]] || die "deb: wrong Package"
[[ $(dpkg-deb -f "$deb" Version) == "$version" ]] || die "deb: wrong Version"
[[ $(dpkg-deb -f "$deb" Architecture) == amd64 ]] || die "deb: wrong Architecture"
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for path in ./usr/lib/vault/plugins/taskcred ./usr/bin/taskcred-verify ./usr/bin/taskcred-authz \
            ./usr/bin/taskcred-register ./usr/share/doc/taskcred/README.md ./usr/share/doc/taskcred/docs/release.md; do
  grep -qx -- "$path" <<<"$contents" || die "deb: $path missing"
done
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -x "$deb" "$unpacked"
cmp -s "$unpacked/usr/lib/vault/plugins/taskcred" "$stage/taskcred" || die "deb: the plugin differs from the tarball's"
(cd "$DIST_DIR" && sha256sum -c --quiet SHA256SUMS) || die "SHA256SUMS does not verify"

echo "package: $DIST_DIR/ (taskcred v$version, $(git rev-parse --short=12 HEAD 2>/dev/null || echo 'no git'))"
(cd "$DIST_DIR" && ls -l --time-style=+ | awk 'NR > 1 {printf "  %-48s %10d bytes\n", $6, $5}')
printf '  plugin binary (stripped): %d bytes, sha256 %s\n' "$(stat -c %s "$stage/taskcred")" \
  "$(sha256sum "$stage/taskcred" | cut -d' ' -f1)"
