#!/usr/bin/env bash
# The newcomer's one command (Debian 12): installs the packages that are missing, builds
# diffumask (Release, into build/), then runs the main job.
#
#   bash scripts/setup.sh              install + build + main job
#   bash scripts/setup.sh --deps-only  install only (what .ci/run uses)
#   bash scripts/setup.sh --extra NAME install one group of the real clients the CI tests drive
#                                      (torchvision | slurm | chromium | python), nothing else
#
# Everything is idempotent: run it again after a pull. The whole output is also kept in
# build/setup.log. To have `diffumask` on PATH afterwards: make install (see the last lines).
set -euo pipefail
cd "$(dirname "$0")/.."

deps_only=0
extra=
case "${1:-}" in
"") ;;
--deps-only) deps_only=1 ;;
--extra)
    extra=${2:-}
    deps_only=1
    ;;
-h | --help)
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
*)
    echo "setup.sh: unknown option '$1' (try --help)" >&2
    exit 2
    ;;
esac

# Build: gcc (OpenMP through libgomp), cmake, and the libraries CMakeLists.txt looks for.
# Tools: clang + libomp-dev (OpenMP under clang) + libclang-rt-14-dev (libFuzzer and the
# sanitizer runtimes) for `make fuzz`; clang-format for `make format`.
PACKAGES=(
    build-essential cmake
    libopenblas-dev libdnnl-dev libcjson-dev libutf8proc-dev libpng-dev libjpeg-dev
    clang libomp-dev libclang-rt-14-dev clang-format pkgconf
)
# The real third-party clients of the CI tests (tests skip with 77 without them; CI=true fails):
#   torchvision  tests/cli_torchvision.sh, tests/cli_coco_rle.sh (Debian's python3, not pyenv's)
#   slurm        .ci/slurm-test: a one-node Slurm cluster running docs/cluster-array.sbatch
#   chromium     tests/cli_report.sh: the report page in headless Chromium
#   python       the Python package's tests (python/tests, pytest), examples/heatmaps.py
#                (matplotlib), tests/cli_pip.sh (pip + venv + setuptools, offline)
#   emulation    .ci/emulated: qemu-user runs the build on other CPUs (Haswell, plain x86-64)
#   deb          make deb: dpkg-dev + debhelper (.ci/deb-test installs the package)
#   (arm64: scripts/cross-arm64.sh installs its cross compiler and arm64 libraries itself)
case "$extra" in
"") ;;
torchvision) PACKAGES=(python3-numpy python3-torchvision) ;;
slurm) PACKAGES=(slurm-wlm munge) ;;
chromium) PACKAGES=(chromium) ;;
emulation) PACKAGES=(qemu-user file) ;;
deb) PACKAGES=(dpkg-dev debhelper) ;;
python)
    PACKAGES=(python3-numpy python3-pil python3-pytest python3-matplotlib python3-pip python3-venv
        python3-setuptools)
    ;;
*)
    echo "setup.sh: --extra takes torchvision, slurm, chromium, python, emulation or deb, not '$extra'" >&2
    exit 2
    ;;
esac

say() { printf '\n==> %s\n' "$*"; }

install_missing() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "packages: all ${#PACKAGES[@]} present, skipping apt-get"
        return
    fi
    say "packages: installing ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null; then
            echo "setup.sh: not root and no sudo; as root run:" >&2
            echo "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
            exit 1
        fi
        sudo=(sudo)
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
}

mkdir -p build
exec > >(tee build/setup.log) 2>&1
install_missing
[ "$deps_only" -eq 1 ] && exit 0

say "build: cmake Release into build/"
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"

# The main job: a small segmentation dataset from the built-in demo model (models/toy-shapes,
# a real model trained on drawings of shapes; no download), and its contact sheet.
run() { # prints the command (arguments with spaces in quotes), then runs it
    local shown=() a
    for a in "$@"; do
        if [[ $a == *" "* ]]; then shown+=("\"$a\""); else shown+=("$a"); fi
    done
    printf '\n$ %s\n' "${shown[*]}"
    "$@"
}
say "main job: a demo dataset"
run build/diffumask generate --classes circle,square,triangle,star,heart --images-per-class 4 \
    --template "a photo of a red {} on a plain background" \
    --template "a photo of a blue {} on a striped background" \
    --template "a photo of a yellow {} on a noisy background" \
    --template "a photo of a green {} on a gradient background" \
    --steps 25 --guidance 5 --val-fraction 0.2 --save-heatmaps --out out/demo
run build/diffumask viz out/demo --out out/demo-sheet.png --n 10
run build/diffumask report out/demo --out out/demo-report.html

say "done: dataset in out/demo (VOC layout + annotations.json), contact sheet out/demo-sheet.png, report page out/demo-report.html; tests: make test; log: build/setup.log"
cat <<'MSG'
The CLI is build/diffumask. To have `diffumask` on PATH (and libdiffumask, diffumask.h,
diffumask.pc and the demo model installed):
    sudo make install                   # into /usr/local (bin/ is on PATH already)
  or, without root:
    make install PREFIX=$HOME/.local
    export PATH="$HOME/.local/bin:$PATH"                          # add to ~/.bashrc
    export PKG_CONFIG_PATH="$HOME/.local/lib/pkgconfig:$PKG_CONFIG_PATH"   # for the C library
MSG
