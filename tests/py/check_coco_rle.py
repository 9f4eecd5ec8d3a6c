"""COCO annotations.json of a diffumask dataset against its mask PNGs, decoded here (numpy and
the zlib PNG reader beside this file only; nothing of diffumask's code):
every annotation's uncompressed RLE (column-major runs, starting with background) decodes to a
connected set of one class, annotations of an image are disjoint, their union per class equals
the pixels of that class in SegmentationClass/NAME.png, and area / bbox agree with the pixels.

usage: python3 check_coco_rle.py DATASET"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngdecode import read_png  # noqa: E402


def rle_decode(counts, h, w):
    flat = np.zeros(h * w, dtype=np.uint8)
    pos, value = 0, 0
    for n in counts:
        flat[pos : pos + n] = value
        pos += n
        value ^= 1
    if pos != h * w:
        raise AssertionError(f"RLE covers {pos} pixels, not {h * w}")
    return flat.reshape(w, h).T  # column-major


def main(root):
    coco = json.load(open(os.path.join(root, "annotations.json")))
    labels = open(os.path.join(root, "labels.txt")).read().split("\n")[:-1]
    cats = {c["id"]: c["name"] for c in coco["categories"]}
    assert cats == {i: labels[i] for i in range(1, len(labels))}, (cats, labels)
    by_image = {}
    for a in coco["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    sets = os.path.join(root, "ImageSets/Segmentation")
    listing = "trainval.txt" if os.path.exists(os.path.join(sets, "trainval.txt")) else "train.txt"
    names = open(os.path.join(sets, listing)).read().split()
    assert sorted(os.path.splitext(i["file_name"])[0] for i in coco["images"]) == sorted(names)
    n_ann = 0
    for img in coco["images"]:
        name = os.path.splitext(img["file_name"])[0]
        png = read_png(os.path.join(root, "SegmentationClass", name + ".png"))
        h, w = png.shape
        assert (img["height"], img["width"]) == (h, w), name
        cover = np.zeros((h, w), dtype=np.int32)
        union = np.zeros((h, w), dtype=np.uint8)
        for a in by_image.get(img["id"], []):
            seg = a["segmentation"]
            assert seg["size"] == [h, w] and a["iscrowd"] == 0, (name, a["id"])
            m = rle_decode(seg["counts"], h, w)
            assert m.any(), (name, a["id"], "empty")
            assert (png[m == 1] == a["category_id"]).all(), (name, a["id"], "pixels of another class")
            assert a["area"] == int(m.sum()), (name, a["id"], a["area"], int(m.sum()))
            ys, xs = np.nonzero(m)
            x0, y0 = xs.min(), ys.min()
            bw, bh = xs.max() - x0 + 1, ys.max() - y0 + 1
            assert np.allclose(a["bbox"], [x0, y0, bw, bh]), (name, a["id"], a["bbox"])
            cover += m
            union[m == 1] = a["category_id"]
            n_ann += 1
        assert cover.max() <= 1, (name, "annotations overlap")
        want = np.where((png >= 1) & (png < 255), png, 0)
        assert (union == want).all(), (name, "annotations != PNG", int((union != want).sum()), "pixels")
    print(f"coco rle: {len(coco['images'])} images, {n_ann} annotations equal the PNGs")


if __name__ == "__main__":
    main(sys.argv[1])
