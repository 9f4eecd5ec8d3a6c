#!/usr/bin/python3
"""Pruned splits of a generated dataset, for the pruning rows of BENCHMARKS.md's training tables:
writes ImageSets/Segmentation/NAME.txt into each folder given (the dataset and its oracle copy:
the same kept samples with both kinds of masks), keeping
  --by score      the samples outside the lowest fraction F of the manifest's quality score
                  (what `generate --prune-fraction F` drops), or
  --by class      the same within each class: the lowest F of every class's samples, so a class
                  whose masks score low everywhere (the demo model's stars) is not erased;
  --by frame      the samples whose mask covers at most --max-border of the image's border
                  pixels (default 0.3): a class mask that lines the frame is most often the
                  background taken for the object (the demo model's "star" attention); from the
                  mask alone, class-blind;
  --first K       the first K samples of train.txt (the images-per-class rows);
  --from DIR      the samples DIR's train.txt lists: a dataset `diffumask filter DATASET --pred P
                  --drop F --out DIR` wrote (noise learning: a segmenter's disagreement).

usage: prune_splits.py DATASET --name NAME (--by score|class --fraction F | --by frame | --first K | --from DIR) [--also DIR...]"""
import argparse
import json
import math
import os


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset")
    ap.add_argument("--name", required=True)
    ap.add_argument("--by", choices=("score", "class", "frame"))
    ap.add_argument("--max-border", type=float, default=0.3)
    ap.add_argument("--fraction", type=float, default=0.3)
    ap.add_argument("--first", type=int)
    ap.add_argument("--from", dest="source")
    ap.add_argument("--also", nargs="*", default=[])
    a = ap.parse_args()
    with open(os.path.join(a.dataset, "ImageSets", "Segmentation", "train.txt")) as f:
        train = [l.strip() for l in f if l.strip()]
    if a.first:
        kept = train[: a.first]
    elif a.source:
        with open(os.path.join(a.source, "ImageSets", "Segmentation", "train.txt")) as f:
            listed = {l.strip() for l in f if l.strip()}
        kept = [n for n in train if n in listed]
    elif a.by == "frame":
        import numpy as np
        from PIL import Image

        kept = []
        for n in train:
            with Image.open(os.path.join(a.dataset, "SegmentationClass", n + ".png")) as m:
                fg = (lambda x: (x != 0) & (x != 255))(np.asarray(m))
            border = np.concatenate([fg[0], fg[-1], fg[1:-1, 0], fg[1:-1, -1]])
            if border.mean() <= a.max_border:
                kept.append(n)
    else:
        rows = {}
        with open(os.path.join(a.dataset, "manifest.jsonl")) as f:
            for line in f:
                m = json.loads(line)
                rows[m["name"]] = (m["quality"]["score"], m.get("class", "?"))
        groups = {}
        for n in train:
            groups.setdefault("all" if a.by == "score" else rows[n][1], []).append(n)
        drop = set()
        for names in groups.values():
            worst = sorted(names, key=lambda n: (rows[n][0], n))
            drop.update(worst[: math.floor(a.fraction * len(names))])
        kept = [n for n in train if n not in drop]
    for d in [a.dataset] + a.also:
        path = os.path.join(d, "ImageSets", "Segmentation", a.name + ".txt")
        with open(path + ".tmp", "w") as f:
            f.write("".join(n + "\n" for n in kept))
        os.replace(path + ".tmp", path)
    print(f"{a.name}: {len(kept)} of {len(train)} kept")


if __name__ == "__main__":
    main()
