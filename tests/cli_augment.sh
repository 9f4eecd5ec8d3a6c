#!/bin/bash
# diffumask augment and filter end to end on the synthetic squares-and-discs dataset, which the
# test_augment binary (built next to the CLI) writes with `--fixture DIR`: byte-identical
# re-runs, resume, usage errors (exit 2), failures (exit 1, one line), pruning into a new folder
# and in place.
set -u
fixture="$(dirname "${DM_CLI:-}")/test_augment"
# the fixture writer is built with the CLI and augment / filter are registered: both missing
# is a broken build, not a skip
[ -x "$fixture" ] || { echo "FAIL: $fixture not built"; exit 1; }
"$DM_CLI" augment --help >/dev/null 2>&1 || { echo "FAIL: augment --help exits $?"; exit 1; }
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$fixture" --fixture "$tmp" >/dev/null || { echo "FAIL: fixture"; exit 1; }

# --- augment
out=$("$DM_CLI" augment "$tmp/ds" --out "$tmp/a1" --seed 3 --copies 3)
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: augment rc=$rc"; fail=1; }
grep -q "augmented 4 source samples into $tmp/a1: 12 written, 0 already there" <<<"$out" ||
    { echo "FAIL: augment summary: $out"; fail=1; }
"$DM_CLI" augment "$tmp/ds" --out "$tmp/a2" --seed 3 --copies 3 >/dev/null || { echo "FAIL: second augment rc=$?"; fail=1; }
diff -r "$tmp/a1" "$tmp/a2" >/dev/null || { echo "FAIL: two runs with one seed differ"; fail=1; }
[ "$(wc -l <"$tmp/a1/manifest.jsonl")" -eq 12 ] || { echo "FAIL: manifest lines"; fail=1; }
[ "$(wc -l <"$tmp/a1/ImageSets/Segmentation/train.txt")" -eq 12 ] || { echo "FAIL: train.txt lines"; fail=1; }
[ -f "$tmp/a1/JPEGImages/000003_aug2.png" ] && [ -f "$tmp/a1/SegmentationClass/000003_aug2.png" ] ||
    { echo "FAIL: 000003_aug2 missing"; fail=1; }
cmp -s "$tmp/ds/labels.txt" "$tmp/a1/labels.txt" || { echo "FAIL: labels.txt not copied"; fail=1; }

# resume: a run that lost its last 5 samples finishes them, byte for byte
head -n 7 "$tmp/a2/manifest.jsonl" >"$tmp/m" && mv "$tmp/m" "$tmp/a2/manifest.jsonl"
out=$("$DM_CLI" augment "$tmp/ds" --out "$tmp/a2" --seed 3 --copies 3)
grep -q "5 written, 7 already there" <<<"$out" || { echo "FAIL: resume: $out"; fail=1; }
diff -r "$tmp/a1" "$tmp/a2" >/dev/null || { echo "FAIL: resumed run differs"; fail=1; }

# other settings into the same folder: refused, one line naming the key
err=$("$DM_CLI" augment "$tmp/ds" --out "$tmp/a1" --seed 4 --copies 3 2>&1 >/dev/null)
rc=$?
if [ $rc -ne 1 ] || [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] || ! grep -q "augment.seed" <<<"$err"; then
    echo "FAIL: changed seed: rc=$rc, stderr: $err"
    fail=1
fi
"$DM_CLI" augment "$tmp/ds" --out "$tmp/b" --ops blur >/dev/null || { echo "FAIL: --ops blur"; fail=1; }
cmp -s "$tmp/ds/SegmentationClass/000001.png" "$tmp/b/SegmentationClass/000001_aug0.png" ||
    { echo "FAIL: blur changed a mask"; fail=1; }

for args in "--out $tmp/c --ops blur,twirl" "--out $tmp/c --copies 0" "--seed 1" "--out $tmp/c --bogus 1"; do
    # shellcheck disable=SC2086
    "$DM_CLI" augment "$tmp/ds" $args >/dev/null 2>&1
    rc=$?
    [ $rc -eq 2 ] || { echo "FAIL: augment $args: rc=$rc, want 2"; fail=1; }
done
err=$("$DM_CLI" augment "$tmp/nowhere" --out "$tmp/c" 2>&1 >/dev/null)
rc=$?
[ $rc -eq 1 ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || { echo "FAIL: missing dataset: rc=$rc $err"; fail=1; }

# --- filter (the prediction of sample 000002 is wrong)
out=$("$DM_CLI" filter "$tmp/ds" --pred "$tmp/pred" --drop 0.25 --out "$tmp/kept")
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: filter --out rc=$rc"; fail=1; }
grep -q "^dropped 000002 (IoU " <<<"$out" || { echo "FAIL: filter did not drop 000002: $out"; fail=1; }
grep -q "4 samples: kept 3, dropped 1; mean IoU 0\.[0-9]* -> 1\.0000" <<<"$out" ||
    { echo "FAIL: filter summary: $out"; fail=1; }
[ "$(cat "$tmp/kept/ImageSets/Segmentation/train.txt")" == "$(printf '000000\n000001\n000003')" ] ||
    { echo "FAIL: kept train.txt"; fail=1; }
[ "$(wc -l <"$tmp/ds/manifest.jsonl")" -eq 4 ] || { echo "FAIL: --out changed the source"; fail=1; }

cp -r "$tmp/ds" "$tmp/ip"
out=$("$DM_CLI" filter "$tmp/ip" --pred "$tmp/pred" --drop 0.25)
[ $? -eq 0 ] && grep -q "pruned in place" <<<"$out" || { echo "FAIL: filter in place: $out"; fail=1; }
[ "$(cat "$tmp/ip/ImageSets/Segmentation/train.txt")" == "$(printf '000000\n000001\n000003')" ] ||
    { echo "FAIL: in-place train.txt"; fail=1; }
[ -f "$tmp/ip/pruned/JPEGImages/000002.png" ] && [ ! -f "$tmp/ip/JPEGImages/000002.png" ] ||
    { echo "FAIL: 000002 not moved to pruned/"; fail=1; }
grep -q '"name":"000002"' "$tmp/ip/pruned/manifest.jsonl" || { echo "FAIL: pruned/manifest.jsonl"; fail=1; }

rm "$tmp/pred/000003.png"
err=$("$DM_CLI" filter "$tmp/ds" --pred "$tmp/pred" --drop 0.25 2>&1 >/dev/null)
rc=$?
if [ $rc -ne 1 ] || [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] || ! grep -q "no prediction for sample 000003" <<<"$err"; then
    echo "FAIL: missing prediction: rc=$rc, stderr: $err"
    fail=1
fi
for args in "--pred $tmp/pred" "--pred $tmp/pred --drop 1.5" "--drop 0.5" "--pred $tmp/pred --drop x"; do
    # shellcheck disable=SC2086
    "$DM_CLI" filter "$tmp/ds" $args >/dev/null 2>&1
    rc=$?
    [ $rc -eq 2 ] || { echo "FAIL: filter $args: rc=$rc, want 2"; fail=1; }
done

[ $fail -eq 0 ] && echo "cli_augment: all passed"
exit $fail
