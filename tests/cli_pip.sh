#!/bin/bash
# The documented pip install (README.md, "Python"): a venv of Debian's python3 that sees the
# system's packages, `pip install --no-build-isolation --no-index` of the repository (offline,
# setuptools from Debian); the package imports from the venv and, with the C library installed
# into PREFIX=$HOME/.local, finds it there and makes a mask.
set -u
build=${DM_BUILD_DIR:?} src=${DM_SOURCE_DIR:?}
py=/usr/bin/python3
# make asan's library carries the ASan runtime, which an uninstrumented python3 must load first:
# preload it for the Python checks (LeakSanitizer off: it would report python's own memory)
if ldd "$build/libdiffumask.so" 2>/dev/null | grep -q libasan; then
    export LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0
fi
if ! [ -x "$py" ] || ! "$py" -c 'import ensurepip, numpy, setuptools' 2>/dev/null ||
    ! "$py" -m pip --version >/dev/null 2>&1; then
    [ "${CI:-}" = true ] && { echo "FAIL: python3-venv / python3-pip / python3-setuptools missing in CI"; exit 1; }
    echo "SKIPPED: needs /usr/bin/python3 with venv, pip, setuptools and numpy (Debian packages)"
    exit 77
fi
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# a copy of what pip reads, so that its scratch folders land outside the source tree
mkdir -p "$tmp/repo"
cp -r "$src/pyproject.toml" "$src/README.md" "$src/python" "$tmp/repo/"
rm -rf "$tmp/repo/python/tests" "$tmp/repo/python/diffumask/_install.py"
"$py" -m venv --system-site-packages "$tmp/venv" || { echo "FAIL: venv"; exit 1; }
"$tmp/venv/bin/pip" install --no-build-isolation --no-index "$tmp/repo" >"$tmp/pip.log" 2>&1 ||
    { cat "$tmp/pip.log"; echo "FAIL: pip install"; exit 1; }
home=$tmp/home
mkdir -p "$home"
HOME=$home cmake --install "$build" --prefix "$home/.local" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; echo "FAIL: cmake --install"; exit 1; }
out=$(cd "$tmp" && env -u DIFFUMASK_LIB -u PYTHONPATH HOME=$home "$tmp/venv/bin/python" -c '
import diffumask as d
print(d.__file__)
print(d.library_path())
print(d.Engine(threads=1).generate_masked("a photo of a red circle", ["circle"], steps=2).mask.shape)') ||
    { echo "FAIL: the pip-installed package: $out"; fail=1; }
echo "$out"
site=$("$tmp/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
[ "$(sed -n 1p <<<"$out")" = "$site/diffumask/__init__.py" ] || { echo "FAIL: not the venv's package"; fail=1; }
[ "$(sed -n 2p <<<"$out")" = "$(realpath "$home/.local/lib/libdiffumask.so.0")" ] ||
    { echo "FAIL: did not load ~/.local/lib's library"; fail=1; }
[ "$(sed -n 3p <<<"$out")" = "(64, 64)" ] || { echo "FAIL: mask shape"; fail=1; }
[ $fail -eq 0 ] && echo "PASS"
exit $fail
