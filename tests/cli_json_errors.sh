#!/bin/bash
# JSON syntax errors name the file, line and column: a prompts JSONL line (the file's line
# number, blank lines counted) and a dataset's config.json read by merge and augment.
set -u
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
expect() { # expect WHAT WANT-SUBSTRING COMMAND...: exit status non-zero, one line naming the place
    local what=$1 want=$2 out rc
    shift 2
    out=$("$@" 2>&1 >/dev/null)
    rc=$?
    [ $rc -ne 0 ] && [ "$(wc -l <<<"$out")" -eq 1 ] && grep -qF "$want" <<<"$out" ||
        { echo "FAIL: $what: rc=$rc: $out (want: $want)"; fail=1; }
}
printf '{"prompt": "a photo of a red circle", "class": "circle"}\n\n{"prompt": "a blue circle", "class" circle}\n' >"$tmp/p.jsonl"
expect "JSONL" "$tmp/p.jsonl: invalid JSON at line 3, column 37 (near 'circle}')" \
    "$DM_CLI" generate --prompts "$tmp/p.jsonl" --classes circle --steps 2 --out "$tmp/x" --quiet
for k in 0 1; do
    "$DM_CLI" generate --classes circle --images-per-class 2 --steps 2 --shard $k/2 --out "$tmp/s$k" --quiet || fail=1
done
printf '{\n  "tool": "x",\n  "steps" 2\n}\n' >"$tmp/s1/config.json"
expect "merge" "$tmp/s1/config.json: invalid JSON at line 3, column 11" "$DM_CLI" merge "$tmp/m" "$tmp/s0" "$tmp/s1"
expect "augment" "$tmp/s1/config.json: invalid JSON at line 3, column 11" "$DM_CLI" augment "$tmp/s1" --out "$tmp/a" --copies 1
printf '[1, 2]\n' >"$tmp/s1/config.json"
expect "not an object" "$tmp/s1/config.json: a JSON object {...} was expected, found an array" \
    "$DM_CLI" merge "$tmp/m2" "$tmp/s0" "$tmp/s1"
[ $fail -eq 0 ] && echo PASS
exit $fail
