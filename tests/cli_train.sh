#!/bin/bash
# The trial trainer end to end (python3 -m diffumask.train, docs/training.md): a small generated
# demo dataset against toy-real val, a few dozen iterations — not a benchmark. Checks: classes are
# matched by name (a copy with the class ids permuted and labels.txt to match trains to the very
# same numbers; a class val lacks is ignored pixel for pixel), the JSON report's fields,
# determinism (same seed, same numbers), clear errors for bad input.
set -u
PY=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${DM_SHARED_DIR:-$root/../shared}
real=$shared/toy-real
if ! "$PY" -c "import torch, numpy, PIL" 2>/dev/null; then
    if [ "${CI:-}" = true ]; then
        echo "FAIL: $PY cannot import torch: CI must install python3-torch"
        exit 1
    fi
    echo "SKIPPED: cli_train: $PY cannot import torch (apt-get install python3-torch)"
    exit 77
fi
if [ ! -f "$real/ImageSets/Segmentation/val.txt" ]; then
    echo "SKIPPED: cli_train: no toy-real dataset at $real"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}"

# Classes in another order than toy-real's (heart first), two of them in one prompt.
cat >"$tmp/prompts.jsonl" <<'JSONL'
{"prompt": "a photo of a red heart on a plain background", "class": "heart"}
{"prompt": "a photo of a blue circle on a striped background", "class": "circle"}
{"prompt": "a photo of a green square on a noisy background", "class": "square"}
{"prompt": "a photo of a yellow circle and a red heart on a plain background", "classes": ["circle", "heart"]}
{"prompt": "a photo of a purple heart on a gradient background", "class": "heart"}
{"prompt": "a photo of a orange square on a plain background", "class": "square"}
{"prompt": "a photo of a green circle on a noisy background", "class": "circle"}
{"prompt": "a photo of a blue square and a yellow circle", "classes": ["square", "circle"]}
JSONL
"$DM_CLI" generate --prompts "$tmp/prompts.jsonl" --classes heart,circle,square --steps 8 --prune-fraction 0 \
    --guidance 5 --out "$tmp/ds" --quiet --threads 1 || { echo "FAIL: generate"; exit 1; }

# The same dataset with ids permuted (square=1, heart=2, circle=3) and labels.txt to match;
# and one whose labels.txt calls class 1 (heart) a name toy-real lacks.
"$PY" - "$tmp/ds" "$tmp/perm" "$tmp/unknown" <<'PY' || { echo "FAIL: making the copies"; exit 1; }
import os, shutil, sys
import numpy as np
from PIL import Image
src, perm, unknown = sys.argv[1:]
for dst in (perm, unknown):
    shutil.copytree(src, dst)
labels = open(os.path.join(src, "labels.txt")).read().splitlines()
assert labels == ["background", "heart", "circle", "square"], labels
new_id = {0: 0, 1: 2, 2: 3, 3: 1, 255: 255}
with open(os.path.join(perm, "labels.txt"), "w") as f:
    f.write("background\nsquare\nheart\ncircle\n")
for name in os.listdir(os.path.join(src, "SegmentationClass")):
    with Image.open(os.path.join(src, "SegmentationClass", name)) as m:
        a, pal = np.array(m), m.getpalette()
    b = np.vectorize(new_id.get)(a).astype(np.uint8)
    out = Image.fromarray(b, mode="P")
    out.putpalette(pal)
    out.save(os.path.join(perm, "SegmentationClass", name))
with open(os.path.join(unknown, "labels.txt"), "w") as f:
    f.write("background\nhexagon\ncircle\nsquare\n")
PY

train() { # OUT.json ARGS...
    local out=$1
    shift
    "$PY" -m diffumask.train --val "$real:val@100" --iters 30 --batch 8 --threads 1 --seed 3 \
        --json --quiet "$@" >"$out" 2>"$out.err" || { echo "FAIL: train $*:"; cat "$out.err"; exit 1; }
}
train "$tmp/a.json" --train "$tmp/ds"
train "$tmp/b.json" --train "$tmp/ds"
train "$tmp/p.json" --train "$tmp/perm" --predict "$tmp/pred-perm"
train "$tmp/a2.json" --train "$tmp/ds" --predict "$tmp/pred"
train "$tmp/u.json" --train "$tmp/unknown"

"$PY" - "$tmp" "$real" <<'PY' || exit 1
import json, os, sys
import numpy as np
from PIL import Image
tmp, real = sys.argv[1:]
a, b, p, u = (json.load(open(os.path.join(tmp, n + ".json"))) for n in "abpu")
fail = []
def check(ok, what):
    if not ok:
        fail.append(what)
names = open(os.path.join(real, "labels.txt")).read().splitlines()
# the report's fields
for key in ("train", "val", "classes", "arch", "parameters", "iters", "batch", "lr", "seed", "device",
            "threads", "train_samples", "final_loss", "miou", "iou", "pixel_accuracy", "confusion"):
    check(key in a, f"report lacks '{key}'")
check(a["classes"] == names, f"classes {a['classes']} are not toy-real's {names}")
check(set(a["iou"]) == set(names), f"iou keys {sorted(a['iou'])}")
check(a["arch"] == "unet" and a["iters"] == 30 and a["batch"] == 8 and a["seed"] == 3, "run settings")
check(a["train_samples"] == 8 and a["val"]["samples"] == 100, f"sample counts {a['train_samples']} {a['val']['samples']}")
check(0.9e6 < a["parameters"] < 1.0e6, f"unet has {a['parameters']} parameters, not about 0.94 M")
conf = np.array(a["confusion"])
check(conf.shape == (6, 6), f"confusion {conf.shape}")
# every labelled pixel of the 100 val masks counted once (toy-real has no ignore pixels)
gt = sum(np.array(Image.open(os.path.join(real, "SegmentationClass", n.strip() + ".png"))).size
         for n in open(os.path.join(real, "ImageSets/Segmentation/val.txt")).readlines()[:100])
check(conf.sum() == gt, f"confusion counts {conf.sum()} pixels, val has {gt}")
inter, union = np.diag(conf), conf.sum(0) + conf.sum(1) - np.diag(conf)
iou = {n: inter[i] / union[i] for i, n in enumerate(names) if union[i] > 0}
check(all(abs(a["iou"][n] - v) < 1e-12 for n, v in iou.items()), "iou is not the confusion's")
check(abs(a["miou"] - np.mean(list(iou.values()))) < 1e-12, "miou is not the mean of the ious")
check(0 <= a["miou"] <= 1 and a["iou"]["background"] > 0.5, f"miou {a['miou']}, background {a['iou']['background']}")
# classes matched by name
check(a["train"][0]["classes"] == {"background": "background", "heart": "heart", "circle": "circle",
                                   "square": "square"}, f"class map {a['train'][0]['classes']}")
check(a["train"][0]["ignored_pixels"] == 0, "pixels ignored with all classes known")
# determinism: the same seed gives the same numbers; permuted ids with their labels.txt too
for other, what in ((b, "second run"), (p, "permuted class ids")):
    for key in ("miou", "iou", "confusion", "final_loss"):
        check(a[key] == other[key], f"{what}: {key} differs: {a[key]} vs {other[key]}")
# a class toy-real lacks: its pixels ignored (exactly the heart pixels of the masks)
check(u["train"][0]["classes"].get("hexagon", "x") is None, f"unknown class mapped: {u['train'][0]['classes']}")
hearts = sum(int((np.array(Image.open(os.path.join(tmp, "ds/SegmentationClass", f))) == 1).sum())
             for f in os.listdir(os.path.join(tmp, "ds/SegmentationClass")))
check(hearts > 0 and u["train"][0]["ignored_pixels"] == hearts,
      f"ignored {u['train'][0]['ignored_pixels']} pixels, the masks have {hearts} heart pixels")
check(u["confusion"] != a["confusion"], "ignoring a class changed nothing")
# --predict: one prediction per training sample in that set's own ids; the permuted set's
# predictions are the same pixels under its permutation (the same model: determinism)
a2 = json.load(open(os.path.join(tmp, "a2.json")))
check(a2["predicted"]["samples"] == 8 and a2["miou"] == a["miou"], f"predicted {a2.get('predicted')}")
names_ds = [l.strip() for l in open(os.path.join(tmp, "ds/ImageSets/Segmentation/train.txt")) if l.strip()]
perm_of = np.array([0, 2, 3, 1] + [0] * 252, dtype=np.uint8)  # ds id -> perm id (new_id above)
for n in names_ds:
    pa = np.array(Image.open(os.path.join(tmp, "pred", n + ".png")))
    pp = np.array(Image.open(os.path.join(tmp, "pred-perm", n + ".png")))
    check(pa.shape == (64, 64) and set(np.unique(pa)) <= {0, 1, 2, 3}, f"prediction {n}: {pa.shape} {np.unique(pa)}")
    check((perm_of[pa] == pp).all(), f"prediction {n}: permuted set's ids do not follow labels.txt")
if fail:
    print("FAIL: " + "; ".join(fail))
    sys.exit(1)
print(f"report ok: miou {a['miou']:.3f} (30 iterations), deterministic, classes by name")
PY

# the predictions drive generate's noise-learning filter (diffumask filter --pred)
"$DM_CLI" filter "$tmp/ds" --pred "$tmp/pred" --drop 0.25 --out "$tmp/kept" >/dev/null ||
    { echo "FAIL: filter --pred on the trainer's predictions"; exit 1; }
[ "$(grep -c . "$tmp/kept/ImageSets/Segmentation/train.txt")" = 6 ] ||
    { echo "FAIL: filter --drop 0.25 kept $(grep -c . "$tmp/kept/ImageSets/Segmentation/train.txt") of 8"; exit 1; }

# bad input: one line naming the problem, non-zero exit
expect_error() { # WORDS ARGS...
    local words=$1
    shift
    "$PY" -m diffumask.train --quiet "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ $rc -eq 0 ] || ! grep -q -- "$words" "$tmp/err" || [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
        echo "FAIL: $* -> exit $rc, stderr:"
        cat "$tmp/err"
        exit 1
    fi
}
expect_error "$tmp/nowhere: no such dataset folder" --train "$tmp/nowhere" --val "$real:val"
expect_error "no such split list" --train "$tmp/ds:test" --val "$real:val"
expect_error "the split has only 8 samples" --train "$tmp/ds@9" --val "$real:val"
if "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "note: this torch has CUDA; the --device cuda error is not checked"
else
    expect_error "no CUDA device" --train "$tmp/ds" --val "$real:val" --device cuda
fi
cp -r "$tmp/ds" "$tmp/alien"
printf 'background\nhexagon\noctagon\nrhombus\n' >"$tmp/alien/labels.txt"
expect_error "no class of the training data but background is one of --val's" --train "$tmp/alien" --val "$real:val"
echo PASS
