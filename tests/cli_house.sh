#!/bin/bash
# The house rules the layout depends on, checked on the tree and the build: no file of src/ or
# include/ over 600 lines, and the
# developer tools (src/tools/: random checkpoints) stay out of libdiffumask — neither the static
# nor the shared library holds a dm_rck_ symbol, while the CLI's tools library does.
set -u
build=${DM_BUILD_DIR:?} src=${DM_SOURCE_DIR:?}
command -v nm >/dev/null || { echo "SKIPPED: nm not installed (binutils)"; exit 77; }
fail=0

long=$(find "$src/src" "$src/include" -name '*.[ch]' -exec wc -l {} + | awk '$2 != "total" && $1 > 600 {print}')
[ -z "$long" ] || { echo "FAIL: files over 600 lines:"; echo "$long"; fail=1; }

for lib in "$build/libdiffumask.a" "$build/libdiffumask.so"; do
    [ -f "$lib" ] || { echo "FAIL: $lib missing"; fail=1; continue; }
    n=$(nm "$lib" 2>/dev/null | grep -c ' [TtDdBbRr] dm_rck_')
    [ "$n" -eq 0 ] || { echo "FAIL: $lib holds $n dm_rck_ symbols (src/tools/ belongs outside the library)"; fail=1; }
done
n=$(nm "$build/libdiffumask_tools.a" 2>/dev/null | grep -c ' T dm_rck_')
[ "$n" -gt 0 ] || { echo "FAIL: libdiffumask_tools.a has no dm_rck_ functions (the check above would pass on nothing)"; fail=1; }

[ $fail -eq 0 ] && echo PASS
exit $fail
