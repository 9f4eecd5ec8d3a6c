# Sourced by the tests that hand a fresh dataset to Python clients: finds Debian's python3 with
# the modules given (skips, exit 77, naming the missing package, unless CI=true), then makes a
# small two-class JPEG dataset with a val split in $tmp/ds (some images hold two classes).
# usage: . py_dataset.sh MODULE:PACKAGE...
PY=/usr/bin/python3
for need in "$@"; do
    mod=${need%%:*} pkg=${need#*:}
    if ! "$PY" -c "import $mod" 2>/dev/null; then
        if [ "${CI:-}" = true ]; then
            echo "FAIL: $PY cannot import $mod: CI must install $pkg (.ci/run: scripts/setup.sh --extra torchvision)"
            exit 1
        fi
        echo "SKIPPED: $PY cannot import $mod (apt-get install $pkg)"
        exit 77
    fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/prompts.jsonl" <<'JSONL'
{"prompt": "a photo of a red circle and a blue square on a plain background", "classes": ["circle", "square"]}
{"prompt": "a photo of a yellow square and a green circle on a striped background", "classes": ["square", "circle"]}
{"prompt": "a photo of a blue circle on a noisy background", "class": "circle"}
{"prompt": "a photo of a purple square on a gradient background", "class": "square"}
{"prompt": "a photo of a green circle and a red square", "classes": ["circle", "square"]}
{"prompt": "a photo of a orange square on a plain background", "class": "square"}
JSONL
"$DM_CLI" generate --prompts "$tmp/prompts.jsonl" --classes circle,square --steps 8 --guidance 5 \
    --val-fraction 0.34 --out "$tmp/ds" --quiet || { echo "FAIL: generate"; exit 1; }
