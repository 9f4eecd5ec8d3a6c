#!/usr/bin/env bash
# Runs one kernel test on one SIMD path: simd_path.sh PATH TEST [ARGS...], PATH avx2 or plain.
# The path is forced the way a user forces it (DM_CPU_NO_AVX512=1 / DM_CPU_NO_AVX2=1, set by
# CMake for this test), and checked before the test runs: the CLI's --version must name that
# kernel family, else the CPU lacks it and the test is skipped by name (exit 77), never passed.
set -u
want=$1
shift
kernels=$("$DM_CLI" --version | sed -n 's/^kernels: //p')
case "$kernels" in
"$want"*) ;;
*)
    echo "skipped: the $want path needs a CPU with it; with DM_CPU_NO_AVX512=${DM_CPU_NO_AVX512:-} DM_CPU_NO_AVX2=${DM_CPU_NO_AVX2:-} this one runs '${kernels:-?}'"
    exit 77
    ;;
esac
echo "kernels: $kernels"
exec "$@"
