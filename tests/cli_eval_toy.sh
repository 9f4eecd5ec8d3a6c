#!/bin/bash
# diffumask eval-toy: the toy-shapes protocol end to end on 2 prompts with 5 steps (structure
# only, no quality thresholds): table and JSON output, --two-object, --out files, the sample
# cache, and usage errors (exit 2).
set -u
model="${DM_SOURCE_DIR:-.}/models/toy-shapes"
[ -f "$model/eval-prompts.json" ] || { echo "SKIPPED: no toy model at $model"; exit 77; }
# eval-toy is part of every build: a --help that fails (or crashes) is a failure, not a skip
"$DM_CLI" eval-toy --help >/dev/null 2>&1 || { echo "FAIL: eval-toy --help exits $?"; exit 1; }
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { OMP_WAIT_POLICY=PASSIVE "$DM_CLI" eval-toy --model "$model" --threads 1 --steps 5 "$@"; }

out=$(run --n 2 --methods basic@0.5,basic@best,default --json --cache "$tmp/c.bin" 2>"$tmp/err")
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: json run rc=$rc: $(cat "$tmp/err")"; fail=1; }
python3 - "$out" <<'PY' || fail=1
import json, sys
o = json.loads(sys.argv[1])
assert o["set"] == "single-object" and o["samples"] == 2 and o["tune_samples"] == 1, o
assert [m["method"] for m in o["methods"]] == ["basic@0.5", "basic@best", "default"], o
for m in o["methods"]:
    for part in ("all", "tune", "held_out", "kept"):
        assert set(m[part]["per_class"]) == {"background", "circle", "square", "triangle", "star", "heart"}, m
    assert m["all"]["images"] == 2 and 0 <= m["ignore_fraction"] <= 1
assert o["methods"][0]["threshold"] == 0.5 and o["methods"][2]["parts"] == "selfattn+crf+border"
PY
[ -s "$tmp/c.bin" ] || { echo "FAIL: no cache written"; fail=1; }

# from the cache (no generation), as a table
out=$(run --methods basic@0.5 --cache "$tmp/c.bin" 2>/dev/null)
echo "$out" | grep -q "^basic@0.5 " || { echo "FAIL: table from the cache: $out"; fail=1; }
echo "$out" | grep -q "background" || { echo "FAIL: table lacks the class columns"; fail=1; }

# the cache reports the recipe it was made with (5 steps, not the default 25), and refuses a
# generation option that differs from it
out=$(OMP_WAIT_POLICY=PASSIVE "$DM_CLI" eval-toy --model "$model" --threads 1 --methods basic@0.5 \
      --json --cache "$tmp/c.bin" 2>/dev/null)
python3 - "$out" <<'PY' || { echo "FAIL: recipe from the cache: $out"; fail=1; }
import json, sys
o = json.loads(sys.argv[1])
assert o["steps"] == 5 and o["sampler"] == "ddim" and o["samples"] == 2, o
PY
run --methods basic@0.5 --sampler euler --cache "$tmp/c.bin" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && grep -q "c.bin holds samples made with --sampler 'ddim'; this run asks for --sampler 'euler'" "$tmp/err" ||
    { echo "FAIL: cache with another sampler: rc=$rc $(cat "$tmp/err")"; fail=1; }
run --methods basic@0.5 --steps 6 --cache "$tmp/c.bin" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "steps 5; this run asks for --steps 6" "$tmp/err" ||
    { echo "FAIL: cache with other steps: $(cat "$tmp/err")"; fail=1; }
run --methods basic@0.5 --prompts "$model/eval-prompts.json" --cache "$tmp/c.bin" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "prompts '(default)'" "$tmp/err" ||
    { echo "FAIL: cache with another prompts file: $(cat "$tmp/err")"; fail=1; }
# the same options spelt as their defaults are no conflict
run --methods basic@0.5 --sampler ddim --precision auto --cache "$tmp/c.bin" >/dev/null 2>"$tmp/err" ||
    { echo "FAIL: cache with the default sampler spelt out: $(cat "$tmp/err")"; fail=1; }

out=$(run --two-object --n 1 --methods default:margin=0.1 --out "$tmp/o" 2>/dev/null)
echo "$out" | grep -q "1 two-object prompts" || { echo "FAIL: two-object: $out"; fail=1; }
for f in 000_image.png 000_gt.png 000_m00.png methods.txt; do
    [ -s "$tmp/o/$f" ] || { echo "FAIL: --out lacks $f"; fail=1; }
done

# the few-step recipe options: LCM at 2 steps without guidance, recorded in the JSON
out=$(run --n 2 --sampler lcm --guidance 1 --timestep-spacing trailing --methods default --json 2>/dev/null)
python3 - "$out" <<'PY' || { echo "FAIL: few-step recipe json"; fail=1; }
import json, sys
o = json.loads(sys.argv[1])
assert o["sampler"] == "lcm" and o["guidance"] == 1 and o["steps"] == 5, o
assert o["timestep_spacing"] == "trailing" and o["methods"][0]["all"]["images"] == 2, o
PY

for bad in "--methods blur" "--methods basic@2" "--prune 1" "--n -1" "--sampler heun" "--timestep-spacing x"; do
    run $bad >/dev/null 2>&1
    rc=$?
    [ $rc -eq 2 ] || { echo "FAIL: eval-toy $bad: rc=$rc, want 2"; fail=1; }
done
[ $fail -eq 0 ] && echo "cli_eval_toy: ok"
exit $fail
