#!/bin/bash
# Hostile and careless use of generate / merge (issue 12 items 2, 3, 6, 7, 8), on the built-in
# toy-shapes model (no ../shared needed): every case ends with one clear line, the right exit
# status, and a dataset that is complete or resumable.
set -u
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
# --prune-fraction 0: these checks count samples (generate prunes 30 % by default)
gen() { "$DM_CLI" generate --steps 2 --width 32 --height 32 --image-format png --prune-fraction 0 "$@"; }
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
bad() { echo "FAIL: $*"; fail=1; }

# --- item 2: class names that sanitise to '..' are written AND listed (and not redone)
gen --classes 'a...b,../x' --images-per-class 1 --out "$tmp/dots" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || bad "classes a...b,../x: rc=$rc: $(cat "$tmp/err")"
[ "$(lines "$tmp/dots/ImageSets/Segmentation/train.txt")" -eq 2 ] ||
    bad "train.txt lacks the dotted classes: $(cat "$tmp/dots/ImageSets/Segmentation/train.txt")"
[ "$(lines "$tmp/dots/manifest.jsonl")" -eq 2 ] || bad "manifest.jsonl lacks the dotted classes"
[ "$(grep -o '"file_name"' "$tmp/dots/annotations.json" | wc -l)" -eq 2 ] ||
    bad "annotations.json lacks the dotted classes"
ls "$tmp/dots/JPEGImages" | grep -q '\.\.' && bad "a file name contains '..': $(ls "$tmp/dots/JPEGImages")"
gen --classes 'a...b,../x' --images-per-class 1 --out "$tmp/dots" 2>"$tmp/err"
grep -q "generate: [0-9]*/2" "$tmp/err" && bad "the resume regenerated a sample: $(cat "$tmp/err")"
[ -e "$tmp/x" ] && bad "class ../x wrote outside OUT"

# --- item 8: the small ones
err=$(gen --classes 'circle,Background' --images-per-class 1 --out "$tmp/bg" 2>&1)
rc=$?
want="diffumask generate: --classes: a class cannot be named 'background' (label 0 is the background)"
[ $rc -eq 2 ] && [ "$err" == "$want" ] || bad "class background: rc=$rc: $err"
err=$(gen --classes circle --template 'a {} and a {}' --images-per-class 1 --out "$tmp/t2" 2>&1)
rc=$?
want="diffumask generate: --template 'a {} and a {}' has more than one {} (give exactly one, for the class word)"
[ $rc -eq 2 ] && [ "$err" == "$want" ] || bad "two {}: rc=$rc: $err"
"$DM_CLI" generate --help | grep -q "exactly one {}" || bad "generate --help does not say: exactly one {}"
printf '{"prompt": "a red circle", "class": "circle", "class": "square"}\n' >"$tmp/dup.jsonl"
err=$(gen --prompts "$tmp/dup.jsonl" --out "$tmp/dup" 2>&1)
rc=$?
want="diffumask generate: $tmp/dup.jsonl:1:47: key \"class\" is given twice"
[ $rc -eq 2 ] && [ "$err" == "$want" ] || bad "duplicate key: rc=$rc: $err"
gen --classes 'Crème  Brûlée' --images-per-class 1 --out "$tmp/cb" 2>"$tmp/err" || bad "crème brûlée: $(cat "$tmp/err")"
[ "$(sed -n 2p "$tmp/cb/labels.txt")" == "crème brûlée" ] || bad "labels.txt: $(cat "$tmp/cb/labels.txt")"
grep -q '"class":"crème brûlée"' "$tmp/cb/manifest.jsonl" || bad "manifest class: $(cat "$tmp/cb/manifest.jsonl")"
grep -q '"name":"crème brûlée"' "$tmp/cb/annotations.json" || bad "annotations.json category"
err=$(gen --classes circle --images-per-class 1 --width 4 --height 4 --out "$tmp/small" 2>&1)
rc=$?
want="diffumask generate: --width/--height 4x4 is too small for this model (at least 16x16)"
[ $rc -eq 2 ] && [ "$err" == "$want" ] || bad "--width 4 --height 4: rc=$rc: $err"

# --- item 7: a first run killed before any sample finished does not pin its settings
"$DM_CLI" generate --classes circle --images-per-class 1 --steps 200 --width 64 --height 64 \
    --out "$tmp/first" --quiet 2>/dev/null &
pid=$!
for _ in $(seq 200); do [ -f "$tmp/first/config.json" ] && break; sleep 0.05; done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
[ -f "$tmp/first/config.json" ] || bad "the first run wrote no config.json (test setup)"
[ "$(lines "$tmp/first/manifest.jsonl")" -eq 0 ] || bad "the first run finished a sample (test setup)"
gen --classes circle --images-per-class 1 --out "$tmp/first" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || bad "corrected command after a failed first run: rc=$rc: $(cat "$tmp/err")"
grep -q '"steps":[[:space:]]*2,' "$tmp/first/config.json" || bad "config.json kept the failed run's settings"
gen --classes circle --images-per-class 1 --steps 3 --out "$tmp/first" 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "different settings (key steps differs)" "$tmp/err" ||
    bad "a folder with a finished sample took other settings: $(cat "$tmp/err")"

# --- item 3: merge refuses an incomplete run and names what is missing
for k in 0 1; do
    gen --classes circle,square --images-per-class 2 --shard $k/2 --out "$tmp/s$k" 2>/dev/null ||
        bad "shard $k/2 failed"
done
err=$("$DM_CLI" merge "$tmp/m1" "$tmp/s0" 2>&1 >/dev/null)
rc=$?
want="diffumask merge: $tmp/m1: incomplete run, not merged: shard 1/2 is missing (--allow-partial merges anyway)"
[ $rc -eq 1 ] && [ "$err" == "$want" ] || bad "merge of shard 0 of 2: rc=$rc: $err"
[ -e "$tmp/m1/manifest.jsonl" ] && bad "the refused merge wrote $tmp/m1"
out=$("$DM_CLI" merge "$tmp/m2" "$tmp/s0" --allow-partial 2>"$tmp/err")
rc=$?
[ $rc -eq 0 ] && grep -q "(partial)" <<<"$out" &&
    grep -q "partial merge (--allow-partial): shard 1/2 is missing" "$tmp/err" ||
    bad "merge --allow-partial: rc=$rc: $out $(cat "$tmp/err")"
[ "$(lines "$tmp/m2/manifest.jsonl")" -eq 2 ] || bad "partial merge: not the 2 samples of shard 0"
cp -r "$tmp/s1" "$tmp/s1k"
rm "$tmp/s1k/annotations.json"
err=$("$DM_CLI" merge "$tmp/m3" "$tmp/s0" "$tmp/s1k" 2>&1 >/dev/null)
rc=$?
want="diffumask merge: $tmp/m3: incomplete run, not merged: $tmp/s1k (shard 1/2) is unfinished: no annotations.json (--allow-partial merges anyway)"
[ $rc -eq 1 ] && [ "$err" == "$want" ] || bad "merge of a killed shard: rc=$rc: $err"
cp -r "$tmp/s1" "$tmp/s1s"
sed -i '$d' "$tmp/s1s/manifest.jsonl"
err=$("$DM_CLI" merge "$tmp/m4" "$tmp/s0" "$tmp/s1s" 2>&1 >/dev/null)
rc=$?
want="diffumask merge: $tmp/m4: incomplete run, not merged: $tmp/s1s (shard 1/2) is unfinished: 1 of its 2 samples (--allow-partial merges anyway)"
[ $rc -eq 1 ] && [ "$err" == "$want" ] || bad "merge of a short shard: rc=$rc: $err"
"$DM_CLI" merge "$tmp/m5" "$tmp/s1" "$tmp/s0" >/dev/null 2>"$tmp/err" || bad "complete merge: $(cat "$tmp/err")"
[ "$(lines "$tmp/m5/manifest.jsonl")" -eq 4 ] || bad "complete merge: not 4 samples"

# --- item 6: SIGINT / SIGTERM finish the file being written, say so, exit 130 / 143, resume
for sig in INT TERM; do
    out="$tmp/sig$sig"
    args=(--classes circle,square --images-per-class 2 --steps 10 --width 32 --height 32 --prune-fraction 0 --out "$out")
    "$DM_CLI" generate "${args[@]}" 2>"$tmp/err$sig" &
    pid=$!
    for _ in $(seq 600); do grep -q "generate: 1/4" "$tmp/err$sig" && break; sleep 0.05; done
    kill -$sig $pid
    wait $pid
    rc=$?
    want=$([ $sig = INT ] && echo 130 || echo 143)
    n=$(lines "$out/manifest.jsonl")
    last=$(tail -n 1 "$tmp/err$sig")
    [ $rc -eq "$want" ] || bad "SIG$sig: rc=$rc, want $want"
    [ "$last" == "diffumask generate: stopped after $n of 4 samples; run the same command to resume" ] ||
        bad "SIG$sig: last line: $last"
    [ "$n" -ge 1 ] && [ "$n" -lt 4 ] || bad "SIG$sig: $n samples finished"
    [ "$(ls "$out/JPEGImages" | wc -l)" -eq "$n" ] || bad "SIG$sig: images != manifest lines"
    find "$out" -name '.tmp-*' | grep -q . && bad "SIG$sig: temporary files left"
    "$DM_CLI" generate "${args[@]}" --quiet 2>"$tmp/err" || bad "SIG$sig: resume failed: $(cat "$tmp/err")"
    [ "$(lines "$out/manifest.jsonl")" -eq 4 ] || bad "SIG$sig: resume did not finish"
done

[ $fail -eq 0 ] && echo "cli_robust: all passed"
exit $fail
