#!/bin/bash
# generate with a class word the vocabulary splits: a one-line warning naming its pieces (and the
# run goes on), or with --strict-classes a refusal before any sample is made; --help shows
# --model as optional with the demo model as its default.
set -u
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
err=$("$DM_CLI" generate --classes circel,square --images-per-class 1 --steps 2 --out "$tmp/a" --quiet 2>&1)
rc=$?
want="diffumask generate: warning: class word 'circel' is not one token of the model's vocabulary ('circel' = 'circ' + 'e' + 'l')"
[ $rc -eq 0 ] && grep -qF "$want" <<<"$err" && [ "$(wc -l <<<"$err")" -eq 1 ] ||
    { echo "FAIL: warning: rc=$rc: $err"; fail=1; }
[ "$(wc -l <"$tmp/a/manifest.jsonl")" -eq 2 ] || { echo "FAIL: the warned run did not finish"; fail=1; }
err=$("$DM_CLI" generate --classes circel,square --images-per-class 1 --steps 2 --out "$tmp/b" --quiet --strict-classes 2>&1)
rc=$?
[ $rc -eq 1 ] && grep -qF "class word 'circel' is not one token" <<<"$err" && [ ! -s "$tmp/b/manifest.jsonl" ] ||
    { echo "FAIL: --strict-classes: rc=$rc: $err"; fail=1; }
err=$("$DM_CLI" generate --classes circle,square --images-per-class 1 --steps 2 --out "$tmp/c" --quiet --strict-classes 2>&1)
[ $? -eq 0 ] && [ -z "$err" ] || { echo "FAIL: good words under --strict-classes: $err"; fail=1; }
help=$("$DM_CLI" generate --help)
grep -q "^usage: diffumask generate \[--model PATH\]" <<<"$help" && grep -q "default: the built-in demo model" <<<"$help" ||
    { echo "FAIL: generate --help:"; head -5 <<<"$help"; fail=1; }
[ $fail -eq 0 ] && echo PASS
exit $fail
