#!/bin/bash
# diffumask report in a real browser: Debian's Chromium, headless, loads the page (file://, no
# network: the page's Content-Security-Policy forbids fetches), with no console message and no
# error the page recorded; its counts equal the dataset's (tests/py/check_report.py). Also: viz
# draws two columns for a dataset without heat maps. DM_KEEP_REPORT=DIR keeps the page, a
# screenshot and the contact sheet there.
set -u
here=$(dirname "$0")
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    [ "${CI:-}" = true ] && { echo "FAIL: chromium missing in CI (.ci/run: scripts/setup.sh --extra chromium)"; exit 1; }
    echo "SKIPPED: chromium not installed (apt-get install chromium)"
    exit 77
fi
. "$here/py_dataset.sh" numpy:python3-numpy
fail=0
"$DM_CLI" generate --classes circle,square,star --images-per-class 3 --steps 8 --guidance 5 \
    --template "a photo of a red {} on a plain background" --prune-fraction 0.25 \
    --out "$tmp/pr" --quiet || { echo "FAIL: generate"; exit 1; }
for ds in ds pr; do
    "$DM_CLI" report "$tmp/$ds" --out "$tmp/$ds.html" || { echo "FAIL: report $ds"; exit 1; }
    rm -rf "$tmp/profile"
    flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
        --disable-background-networking --disable-component-update --disable-sync
        --user-data-dir="$tmp/profile" --enable-logging=stderr --v=0)
    timeout 120 "$CHROMIUM" "${flags[@]}" --dump-dom "file://$tmp/$ds.html#sort=score-asc" \
        >"$tmp/$ds.dom.html" 2>"$tmp/$ds.chromium.log" || { echo "FAIL: chromium"; tail "$tmp/$ds.chromium.log"; fail=1; }
    if grep -q ':CONSOLE' "$tmp/$ds.chromium.log"; then
        echo "FAIL: console messages on the $ds page:"
        grep ':CONSOLE' "$tmp/$ds.chromium.log"
        fail=1
    fi
    "$PY" "$here/py/check_report.py" "$tmp/$ds" "$tmp/$ds.dom.html" "$tmp/$ds.html" || fail=1
done
[ "$(ls "$tmp/pr/pruned/SegmentationClass" | wc -l)" -gt 0 ] || { echo "FAIL: nothing pruned"; fail=1; }

# viz without heat maps: two 192-pixel columns (the PNG width is bytes 16..19)
"$DM_CLI" viz "$tmp/ds" --out "$tmp/sheet.png" --n 3 || fail=1
w=$(od -An -tu1 -j16 -N4 "$tmp/sheet.png" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
[ "$w" -eq $((2 * 192 + 3 * 4)) ] || { echo "FAIL: viz without heat maps is $w px wide, want 396"; fail=1; }

if [ -n "${DM_KEEP_REPORT:-}" ]; then
    mkdir -p "$DM_KEEP_REPORT"
    cp "$tmp/pr.html" "$DM_KEEP_REPORT/report.html"
    cp "$tmp/sheet.png" "$DM_KEEP_REPORT/sheet.png"
    rm -rf "$tmp/profile"
    timeout 120 "$CHROMIUM" "${flags[@]}" --window-size=1280,1600 \
        --screenshot="$DM_KEEP_REPORT/report.png" "file://$tmp/pr.html#sort=score-asc" 2>/dev/null
fi
[ $fail -eq 0 ] && echo PASS
exit $fail
