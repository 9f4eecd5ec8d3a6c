#!/usr/bin/python3
"""Exact masks for a dataset `diffumask generate` made with the demo model (toy-shapes): the colour
oracle of models/toy-shapes/README.md (the same rule as src/dataset/toy_oracle.c) applied to each
sample's image, the colour taken from its prompt ("... a {colour} {shape} ..."). Writes a copy of
the dataset (same images, same splits, same labels.txt) whose SegmentationClass/ holds the oracle's
masks: the "O" rows of BENCHMARKS.md's training tables, the same images as "D" with exact labels.
A benchmark tool for the toy world only; nothing in `generate` uses it.

usage: oracle_masks.py DATASET --out DIR"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
from PIL import Image

# The README's RGB values of the colours; a pixel is the object of colour C where its HSV
# saturation >= 0.45, value >= 0.25 and hue within 22 degrees of C's (closest colour wins).
COLOURS = {
    "red": (220, 30, 30), "green": (30, 180, 40), "blue": (30, 60, 220),
    "yellow": (235, 215, 20), "purple": (140, 40, 190), "orange": (245, 130, 20),
}
MIN_SAT, MIN_VAL, HUE_TOL = 0.45, 0.25, 22.0


def hsv(rgb):
    x = rgb.astype(np.float32) / 255.0
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    mx, mn = x.max(-1), x.min(-1)
    d = mx - mn
    safe = np.where(d > 0, d, 1.0)
    h = np.where(mx == r, 60.0 * np.fmod((g - b) / safe, 6.0),
                 np.where(mx == g, 60.0 * ((b - r) / safe + 2.0), 60.0 * ((r - g) / safe + 4.0)))
    h = np.where(d > 0, h, 0.0)
    h = np.where(h < 0, h + 360.0, h)
    h = np.where(h >= 360.0, h - 360.0, h)
    s = np.where(mx > 0, d / np.where(mx > 0, mx, 1.0), 0.0)
    return h, s, mx


def hue_distance(a, b):
    d = np.fmod(np.abs(a - b), 360.0)
    return np.where(d > 180.0, 360.0 - d, d)


def oracle(rgb, objects):
    """objects: [(colour name, class id)] -> (H, W) uint8 class ids (0 background)."""
    h, s, v = hsv(rgb)
    out = np.zeros(rgb.shape[:2], dtype=np.uint8)
    best = np.full(rgb.shape[:2], HUE_TOL, dtype=np.float32)
    ok = (s >= MIN_SAT) & (v >= MIN_VAL)
    for colour, cid in objects:
        ch, _, _ = hsv(np.array(COLOURS[colour], dtype=np.uint8))
        d = hue_distance(h, float(ch))
        win = ok & (d <= best)
        out[win], best[win] = cid, d[win]
    return out


def objects_of(prompt, labels):
    """(colour, class id) of every '{colour} {class}' in the prompt."""
    words = prompt.replace(",", " ").split()
    ids = {n: i for i, n in enumerate(labels)}
    found = []
    for i in range(1, len(words)):
        if words[i] in ids and words[i - 1] in COLOURS:
            found.append((words[i - 1], ids[words[i]]))
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    src = a.dataset
    with open(os.path.join(src, "labels.txt"), encoding="utf-8") as f:
        labels = f.read().splitlines()
    tmp = a.out.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "SegmentationClass"))
    shutil.copytree(os.path.join(src, "ImageSets"), os.path.join(tmp, "ImageSets"))
    shutil.copy(os.path.join(src, "labels.txt"), tmp)
    os.symlink(os.path.realpath(os.path.join(src, "JPEGImages")), os.path.join(tmp, "JPEGImages"))
    n = 0
    with open(os.path.join(src, "manifest.jsonl"), encoding="utf-8") as f:
        for line in f:
            m = json.loads(line)
            objs = objects_of(m["prompt"], labels)
            if not objs:
                sys.exit(f"{src}/manifest.jsonl: sample {m['name']}: no '{{colour}} {{class}}' in its prompt")
            ref = Image.open(os.path.join(src, m["mask"]))
            with Image.open(os.path.join(src, m["image"])) as im:
                gt = oracle(np.asarray(im.convert("RGB")), objs)
            out = Image.fromarray(gt, mode="P")
            out.putpalette(ref.getpalette())  # the dataset's own palette: same look as its masks
            out.save(os.path.join(tmp, "SegmentationClass", m["name"] + ".png"))
            n += 1
    shutil.rmtree(a.out, ignore_errors=True)
    os.replace(tmp, a.out)
    print(f"{a.out}: {n} oracle masks")


if __name__ == "__main__":
    main()
