#!/usr/bin/env bash
# The arm64 (aarch64) cross build, into build-arm64/: Debian's gcc-aarch64-linux-gnu and the
# arm64 packages of the dependencies, installed beside the machine's own (multiarch). All six
# exist for arm64 in Debian 12: OpenBLAS, oneDNN (2.6), cJSON, utf8proc, libpng, libjpeg-turbo.
# Only libdnnl-dev cannot be installed beside its amd64 twin (both own
# /usr/include/oneapi/dnnl/dnnl_config.h, which differs by architecture): its headers are
# unpacked into build-arm64-deps/ instead and the build points there; the library itself
# (libdnnl2:arm64) installs normally. Run the tests with .ci/emulated arm64 (qemu-aarch64).
#   bash scripts/cross-arm64.sh            install what is missing, configure, build
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
pkgs=(gcc-aarch64-linux-gnu qemu-user libopenblas-dev:arm64 libdnnl2:arm64 libcjson-dev:arm64
    libutf8proc-dev:arm64 libpng-dev:arm64 libjpeg-dev:arm64 libgomp1:arm64)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    dpkg --print-foreign-architectures | grep -qx arm64 || "${sudo[@]}" dpkg --add-architecture arm64
    "${apt[@]}" update -q
    "${apt[@]}" install -y -q --no-install-recommends "${missing[@]}"
fi
deps=$PWD/build-arm64-deps
if [ ! -f "$deps/usr/include/dnnl.h" ]; then
    rm -rf "$deps" && mkdir -p "$deps"
    (cd "$deps" && apt-get download libdnnl-dev:arm64 && dpkg -x libdnnl-dev_*_arm64.deb .)
fi
cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
    -DCMAKE_BUILD_TYPE=Release -DDNNL_INCLUDE_DIR="$deps/usr/include" \
    -DDNNL_LIB=/usr/lib/aarch64-linux-gnu/libdnnl.so.2
cmake --build build-arm64 -j"${JOBS:-2}"
file build-arm64/diffumask
