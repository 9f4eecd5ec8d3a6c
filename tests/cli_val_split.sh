#!/bin/bash
# generate --val-fraction: val.txt holds round(F*n) samples, those with the smallest SHA-256 of
# their name (checked here with sha256sum), train.txt the rest, trainval.txt all; two shards
# merged split exactly like one machine; without the option there is no val.txt.
set -u
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# --prune-fraction 0: the split is checked on all 10 samples (generate prunes 30 % by default)
gen() { "$DM_CLI" generate --classes circle,square --images-per-class 5 --steps 3 --prune-fraction 0 --quiet "$@"; }
gen --val-fraction 0.3 --out "$tmp/one" || { echo "FAIL: generate"; exit 1; }
sets=$tmp/one/ImageSets/Segmentation
[ "$(wc -l <"$sets/val.txt")" -eq 3 ] || { echo "FAIL: val.txt has $(wc -l <"$sets/val.txt") lines, want 3"; fail=1; }
[ "$(wc -l <"$sets/train.txt")" -eq 7 ] || { echo "FAIL: train.txt has $(wc -l <"$sets/train.txt") lines, want 7"; fail=1; }
cmp -s <(sort "$sets/train.txt" "$sets/val.txt") "$sets/trainval.txt" || { echo "FAIL: train + val != trainval"; fail=1; }
cmp -s <(sed -n 's/.*"name":"\([^"]*\)".*/\1/p' "$tmp/one/manifest.jsonl" | sort) "$sets/trainval.txt" ||
    { echo "FAIL: trainval.txt is not every sample"; fail=1; }
want=$(while read -r n; do printf '%s %s\n' "$(printf '%s' "$n" | sha256sum | cut -c1-64)" "$n"; done <"$sets/trainval.txt" |
    sort | head -n 3 | cut -d' ' -f2 | sort)
[ "$want" = "$(cat "$sets/val.txt")" ] || { echo "FAIL: val.txt is not the 3 smallest SHA-256 names:"; echo "$want"; fail=1; }

for k in 0 1; do gen --val-fraction 0.3 --shard $k/2 --out "$tmp/shard$k" || fail=1; done
"$DM_CLI" merge "$tmp/merged" "$tmp/shard0" "$tmp/shard1" || { echo "FAIL: merge"; fail=1; }
for f in train val trainval; do
    cmp -s "$sets/$f.txt" "$tmp/merged/ImageSets/Segmentation/$f.txt" || { echo "FAIL: merged $f.txt differs"; fail=1; }
done

gen --out "$tmp/plain" || fail=1
[ ! -e "$tmp/plain/ImageSets/Segmentation/val.txt" ] && [ "$(wc -l <"$tmp/plain/ImageSets/Segmentation/train.txt")" -eq 10 ] ||
    { echo "FAIL: without --val-fraction: val.txt present or train.txt incomplete"; fail=1; }
err=$(gen --val-fraction 1 --out "$tmp/bad" 2>&1)
[ $? -eq 2 ] && grep -q -- "--val-fraction" <<<"$err" || { echo "FAIL: --val-fraction 1 accepted: $err"; fail=1; }
[ $fail -eq 0 ] && echo PASS
exit $fail
