#!/bin/bash
# Every numeric option goes through one strict parser (src/cli/args.c): overflow, nan, inf,
# trailing junk and out-of-range values are refused with exit 2 and one line naming the option
# and its allowed range, before any model is opened. Needs no model and no ../shared.
set -u
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect_usage "expected stderr line" CMD ARGS...
expect_usage() {
    local want=$1
    shift
    local err rc
    err=$("$DM_CLI" "$@" 2>&1 >/dev/null)
    rc=$?
    if [ $rc -ne 2 ] || [ "$err" != "$want" ]; then
        echo "FAIL: diffumask $*: rc=$rc (want 2)"
        echo "  got:  $err"
        echo "  want: $want"
        fail=1
    fi
}

g="diffumask generate"
see="(see diffumask generate --help)"
expect_usage "$g: --width must be an integer in 1..16384, not '4294967360' $see" \
    generate --width 4294967360
expect_usage "$g: --width must be an integer in 1..16384, not '0' $see" generate --width 0
expect_usage "$g: --height must be an integer in 1..16384, not '-512' $see" generate --height -512
expect_usage "$g: --guidance must be a number in 0..100, not 'nan' $see" generate --guidance nan
expect_usage "$g: --guidance must be a number in 0..100, not 'inf' $see" generate --guidance inf
expect_usage "$g: --guidance must be a number in 0..100, not '1e999' $see" generate --guidance 1e999
expect_usage "$g: --guidance must be a number in 0..100, not '7.5x' $see" generate --guidance=7.5x
expect_usage "$g: --prune-fraction must be a number in 0..1, not 'nan' $see" \
    generate --prune-fraction nan
expect_usage "$g: --prune-fraction must be in [0, 1), not 1 $see" \
    generate --classes a --out "$tmp/out" --images-per-class 1 --prune-fraction 1
expect_usage "$g: --images-per-class must be an integer in 1..1000000, not '99999999999999' $see" \
    generate --images-per-class 99999999999999
expect_usage "$g: --steps must be an integer in 1..1000, not '10 ' $see" generate --steps "10 "
expect_usage "$g: --steps must be an integer in 1..1000, not ' 10' $see" generate --steps " 10"
expect_usage "$g: --steps must be an integer in 1..1000, not '0x10' $see" generate --steps 0x10
expect_usage "$g: --seed must be an integer in 0..9007199254740991, not '99999999999999999999' $see" \
    generate --seed 99999999999999999999
expect_usage "$g: --seed must be an integer in 0..9007199254740991, not '-1' $see" generate --seed -1
expect_usage "$g: --threads must be an integer in 0..1024, not '-1' $see" generate --threads -1
expect_usage "$g: --threshold must be a number in [0, 1] or otsu, not 'nan' $see" \
    generate --classes a --out "$tmp/out" --images-per-class 1 --threshold nan
expect_usage "$g: --threshold must be a number in [0, 1] or otsu, not 'inf' $see" \
    generate --classes a --out "$tmp/out" --images-per-class 1 --threshold inf
expect_usage "$g: --num-shards must be an integer in 1..1000000, not '0' $see" generate --num-shards 0
expect_usage "diffumask txt2img: --eta must be a number in 0..1, not '-inf' (see diffumask txt2img --help)" \
    txt2img --eta -inf
expect_usage "diffumask bench: --threads must be an integer in 0..1024, not '1025' (see diffumask bench --help)" \
    bench --threads 1025
expect_usage "diffumask eval: --num-classes must be an integer in 1..256, not '0' (see diffumask eval --help)" \
    eval --num-classes 0
expect_usage "diffumask viz: --tile must be an integer in 128..1024, not '127' (see diffumask viz --help)" \
    viz --tile 127
expect_usage "diffumask filter: --drop must be a number in 0..1, not 'NaN' (see diffumask filter --help)" \
    filter --drop NaN

# --threads 0 means all cores, and says so in --help; it is accepted (the next error is another one)
"$DM_CLI" generate --help | grep -q -- "--threads T .*0 = all cores" ||
    { echo "FAIL: generate --help does not document --threads 0"; fail=1; }
err=$("$DM_CLI" generate --threads 0 --classes a --out "$tmp/out" 2>&1)
grep -q -- "--threads" <<<"$err" && { echo "FAIL: --threads 0 refused: $err"; fail=1; }
# plain valid numbers still parse
err=$("$DM_CLI" generate --width 512 --height=64 --guidance 7.5 --guidance .5 --guidance 1e1 \
    --seed 9007199254740991 --steps +10 --classes a --out "$tmp/out" 2>&1)
grep -q "images-per-class" <<<"$err" || { echo "FAIL: valid numbers refused: $err"; fail=1; }

[ -e "$tmp/out" ] && { echo "FAIL: a refused command wrote $tmp/out"; fail=1; }
[ $fail -eq 0 ] && echo "cli_numbers: all passed"
exit $fail
