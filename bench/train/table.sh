#!/bin/bash
# The training tables of BENCHMARKS.md ("Training on it"): one trial training per row, scored on
# toy-real val, one JSON report per row in OUT/NAME.json. Rows run one after another (one core
# each, nice'd: a shared machine). The datasets come from the commands in BENCHMARKS.md:
#   D = generate's defaults on the README-style prompts (bench/train/make_prompts.py),
#   O = the same images with oracle masks (bench/train/oracle_masks.py).
# usage: table.sh OUT D O ROW...   (ROW: R D O RD F100 F100D F100O Dscore Oscore Dclass Oclass)
set -u
out=$1 D=$2 O=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
real=${REAL:-$here/../../../shared/toy-real}
export PYTHONPATH=$here/../../python
mkdir -p "$out"
for row in "$@"; do
    case $row in
    R) args=(--train "$real:train") ;;
    D) args=(--train "$D") ;;
    O) args=(--train "$O") ;;
    RD) args=(--train "$real:train" --train "$D") ;;
    RO) args=(--train "$real:train" --train "$O") ;;
    F100) args=(--train "$real:train@100") ;;
    F100D) args=(--train "$real:train@100" --train "$D") ;;
    F100O) args=(--train "$real:train@100" --train "$O") ;;
    D*|O*) # D<split> / O<split>: a split written by prune_splits.py
        if [ "${row:0:1}" = D ]; then args=(--train "$D:${row:1}"); else args=(--train "$O:${row:1}"); fi ;;
    esac
    echo "$(date +%T) $row: ${args[*]}"
    nice -n 10 /usr/bin/python3 -m diffumask.train "${args[@]}" --val "$real:val" --threads 1 \
        --seed 0 --json --quiet >"$out/$row.json.tmp" 2>"$out/$row.err" && mv "$out/$row.json.tmp" "$out/$row.json"
    /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(' ', sys.argv[2], 'mIoU %.3f' % r['miou'], ' '.join('%s %.2f' % (k[:3], v) for k, v in r['iou'].items()), '%.0f s' % r['train_seconds'])" "$out/$row.json" "$row"
done
