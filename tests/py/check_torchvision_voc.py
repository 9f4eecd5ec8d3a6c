"""torchvision's VOCSegmentation (the real one, Debian python3-torchvision) on a diffumask
dataset: root/VOCdevkit/VOC2012 -> the dataset (a symlink, as docs/training.md says); train and
val load, every target equals SegmentationClass/NAME.png decoded by our own zlib reader, every
image is RGB of the mask's size.

usage: python3 check_torchvision_voc.py ROOT DATASET"""
import os
import sys

import numpy as np
from torchvision.datasets import VOCSegmentation

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngdecode import read_png  # noqa: E402


def main(root, dataset):
    total = 0
    for split in ("train", "val"):
        want = open(os.path.join(dataset, "ImageSets/Segmentation", split + ".txt")).read().split()
        ds = VOCSegmentation(root, year="2012", image_set=split, download=False)
        assert len(ds) == len(want) > 0, (split, len(ds), len(want))
        for i, name in enumerate(want):
            img, target = ds[i]
            t = np.array(target)
            png = read_png(os.path.join(dataset, "SegmentationClass", name + ".png"))
            assert target.mode == "P", (name, target.mode)
            assert t.shape == png.shape and (t == png).all(), (split, name)
            assert img.mode == "RGB" and img.size == (png.shape[1], png.shape[0]), (name, img.size)
            total += 1
        print(f"torchvision VOCSegmentation {split}: {len(ds)} samples, every target equals the PNG")
    return total


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
