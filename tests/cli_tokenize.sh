#!/bin/bash
# diffumask tokenize: the 77 ids of a prompt from a diffusers folder and from a single file
# (tokenizer/ beside it), exit codes 2 (usage) and 1 (no tokenizer) with a one-line message.
set -u
[ -d "${DM_SHARED_DIR:-}/golden" ] || { echo "SKIPPED: ../shared not found"; exit 77; }
fail=0
want="49406 320 8853 539 550 18376 6765 320 4558 49407$(printf ' 49407%.0s' $(seq 67))"
prompt="a photograph of an astronaut riding a horse"

for model in "$DM_SHARED_DIR/golden/tiny-sd1" "$DM_SHARED_DIR/golden/tiny-sd1-original.safetensors"; do
    got=$("$DM_CLI" tokenize --model "$model" "$prompt")
    rc=$?
    if [ $rc -ne 0 ] || [ "$got" != "$want" ]; then
        echo "FAIL: tokenize --model $model: rc=$rc, got: $got"
        fail=1
    fi
done
got=$("$DM_CLI" tokenize --model "$DM_SHARED_DIR/golden/sd1" --tokenizer "$DM_SHARED_DIR/golden/tokenizer" "$prompt")
[ "$got" == "$want" ] || { echo "FAIL: --tokenizer override: $got"; fail=1; }

"$DM_CLI" tokenize --help | grep -q -- "--tokenizer DIR" || { echo "FAIL: --help lacks --tokenizer"; fail=1; }

"$DM_CLI" tokenize --model "$DM_SHARED_DIR/golden/tiny-sd1" >/dev/null 2>&1
rc=$?
[ $rc -eq 2 ] || { echo "FAIL: missing TEXT: rc=$rc, want 2"; fail=1; }
"$DM_CLI" tokenize "$prompt" >/dev/null 2>&1
rc=$?
[ $rc -eq 2 ] || { echo "FAIL: missing --model: rc=$rc, want 2"; fail=1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/lonely.safetensors"
err=$("$DM_CLI" tokenize --model "$tmp/lonely.safetensors" "$prompt" 2>&1 >/dev/null)
rc=$?
if [ $rc -ne 1 ] || [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] || ! grep -q "no tokenizer found" <<<"$err"; then
    echo "FAIL: model without tokenizer: rc=$rc, stderr: $err"
    fail=1
fi
err=$("$DM_CLI" tokenize --model "$tmp/missing" "$prompt" 2>&1 >/dev/null)
rc=$?
if [ $rc -ne 1 ] || ! grep -q "$tmp/missing" <<<"$err"; then
    echo "FAIL: missing model path: rc=$rc, stderr: $err"
    fail=1
fi
[ $fail -eq 0 ] && echo "cli_tokenize: all passed"
exit $fail
