#!/bin/bash
# diffumask bench on the tiny model: the JSON report has every key, and every number is
# positive and finite. No timing thresholds (speed lives in BENCHMARKS.md).
set -u
SHARED=${DM_SHARED_DIR:-}
MODEL="$SHARED/golden/tiny-sd1"
[ -n "$SHARED" ] && [ -d "$MODEL" ] || { echo "SKIPPED: ../shared not found"; exit 77; }
[ -n "${DM_CLI:-}" ] || { echo "DM_CLI is not set"; exit 1; }
"$DM_CLI" bench --help >/dev/null 2>&1 || { echo "FAIL: bench --help exits $?"; exit 1; }

out=$("$DM_CLI" bench --model "$MODEL" --width 64 --height 64 --batch 2 --threads 2 --json) || {
    echo "FAIL: bench exited with $?"; exit 1; }
echo "$out"
fail=0
for key in unet_seconds unet_gflop unet_gflops sgemm_gflops ratio capture_overhead \
           text_encoder_seconds vae_decode_seconds peak_rss_mb; do
    v=$(printf '%s' "$out" | grep -o "\"$key\":[-0-9.eE+a-z]*" | head -1 | cut -d: -f2)
    if [ -z "$v" ]; then
        echo "FAIL: key $key missing"; fail=1; continue
    fi
    # capture_overhead is a difference of two timings: it may be slightly negative
    if [ "$key" = capture_overhead ]; then
        awk -v v="$v" 'BEGIN { exit !(v == v + 0 && v > -1) }' || { echo "FAIL: $key = $v"; fail=1; }
    else
        awk -v v="$v" 'BEGIN { exit !(v == v + 0 && v > 0) }' || { echo "FAIL: $key = $v is not positive"; fail=1; }
    fi
done
# the table form runs too
"$DM_CLI" bench --model "$MODEL" --width 64 --height 64 --batch 1 >/dev/null || { echo "FAIL: table form"; fail=1; }
# usage errors are exit 2
"$DM_CLI" bench --model "$MODEL" --batch 0 2>/dev/null; [ $? -eq 2 ] || { echo "FAIL: --batch 0 should be a usage error"; fail=1; }
# a random checkpoint in the original layout (the hidden tiny arch) opens and benches
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$DM_CLI" tools random-checkpoint --arch tiny --dtype f16 --seed 3 --out "$tmp/r.safetensors" >/dev/null || {
    echo "FAIL: tools random-checkpoint"; fail=1; }
"$DM_CLI" bench --model "$tmp/r.safetensors" --width 64 --height 64 --batch 1 --json >/dev/null || {
    echo "FAIL: bench on a random checkpoint"; fail=1; }
# the SDXL (SGM) layout too (the hidden tinyxl arch): two text towers, added conditioning
"$DM_CLI" tools random-checkpoint --arch tinyxl --dtype f16 --seed 3 --out "$tmp/xl.safetensors" >/dev/null || {
    echo "FAIL: tools random-checkpoint --arch tinyxl"; fail=1; }
"$DM_CLI" bench --model "$tmp/xl.safetensors" --width 64 --height 64 --batch 2 --f16-weights --json >/dev/null || {
    echo "FAIL: bench on a random SDXL checkpoint"; fail=1; }
"$DM_CLI" tools random-checkpoint --arch sd3 --out "$tmp/x.safetensors" 2>/dev/null; [ $? -eq 2 ] || {
    echo "FAIL: --arch sd3 should be a usage error"; fail=1; }
[ $fail -eq 0 ] && echo "cli_bench: ok"
exit $fail
