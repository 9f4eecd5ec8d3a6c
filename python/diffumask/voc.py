"""Reading a dataset in PASCAL VOC layout — ours (`diffumask generate`), toy-real, or real VOC.

A folder holds JPEGImages/NAME.jpg, SegmentationClass/NAME.png (class id per pixel, 255 ignore),
ImageSets/Segmentation/SPLIT.txt and, in our datasets, labels.txt (line i = name of class id i).
Real PASCAL VOC has no labels.txt: it gets VOC's 21 names. Classes of two datasets are matched
by name (`canonical_name`), so a segmenter trained on one is scored on the other.
Needs numpy only (and PIL to decode the images)."""

import os

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
)

# Other spellings of VOC's names (our --preset voc, COCO, everyday words) -> VOC's own.
_ALIASES = {
    "airplane": "aeroplane", "aeroplanes": "aeroplane", "plane": "aeroplane",
    "dining table": "diningtable", "dining-table": "diningtable", "table": "diningtable",
    "motorcycle": "motorbike", "motor bike": "motorbike",
    "potted plant": "pottedplant", "potted-plant": "pottedplant", "plant": "pottedplant",
    "tv": "tvmonitor", "tv monitor": "tvmonitor", "tv/monitor": "tvmonitor", "monitor": "tvmonitor",
    "television": "tvmonitor", "couch": "sofa", "people": "person", "bg": "background",
}

IGNORE = 255


def canonical_name(name):
    """The name two datasets compare: lower case, single spaces, VOC's spelling where known."""
    n = " ".join(name.strip().lower().split())
    return _ALIASES.get(n, n)


def split_path(spec):
    """'DIR[:SPLIT]' -> (DIR, SPLIT); SPLIT defaults to 'train'. A ':' that is part of an
    existing path (or a Windows drive) is not taken for the split."""
    if ":" in spec and not os.path.exists(spec):
        root, split = spec.rsplit(":", 1)
        if root and split and "/" not in split:
            return root, split
    return spec, "train"


def read_labels(root):
    """Class names, index = class id: labels.txt's lines, or VOC's 21 names without one."""
    path = os.path.join(root, "labels.txt")
    if not os.path.exists(path):
        return list(VOC_CLASSES)
    with open(path, encoding="utf-8") as f:
        names = [line.rstrip("\n") for line in f]
    while names and not names[-1].strip():
        names.pop()
    if not names:
        raise ValueError(f"{path}: no class names")
    return names


def read_split(root, split="train"):
    """The sample names of ImageSets/Segmentation/SPLIT.txt, in file order."""
    path = os.path.join(root, "ImageSets", "Segmentation", f"{split}.txt")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such split list (split '{split}' of {root})")
    with open(path, encoding="utf-8") as f:
        names = [line.strip() for line in f if line.strip()]
    if not names:
        raise ValueError(f"{path}: empty split list")
    return names


def image_path(root, name):
    """JPEGImages/NAME.jpg, or .png where the dataset was written with --image-format png."""
    for ext in (".jpg", ".png", ".jpeg"):
        p = os.path.join(root, "JPEGImages", name + ext)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(os.path.join(root, "JPEGImages", name + ".jpg") + ": no such image")


def mask_path(root, name):
    return os.path.join(root, "SegmentationClass", name + ".png")


def class_map(src_names, dst_names):
    """A 256-entry lookup table taking src ids to dst ids by class name; a class dst does not
    have becomes IGNORE, and IGNORE stays IGNORE."""
    import numpy as np

    dst = {canonical_name(n): i for i, n in enumerate(dst_names)}
    lut = np.full(256, IGNORE, dtype=np.uint8)
    for i, n in enumerate(src_names):
        if i < IGNORE:
            lut[i] = dst.get(canonical_name(n), IGNORE)
    return lut


def load_pair(root, name):
    """(image (H, W, 3) uint8, mask (H, W) uint8) of one sample, decoded with PIL."""
    import numpy as np
    from PIL import Image

    with Image.open(image_path(root, name)) as im:
        image = np.asarray(im.convert("RGB"), dtype=np.uint8)
    with Image.open(mask_path(root, name)) as m:
        if m.mode not in ("P", "L"):
            raise ValueError(f"{mask_path(root, name)}: mask mode {m.mode}, expected P or L")
        mask = np.asarray(m, dtype=np.uint8)
    if mask.shape != image.shape[:2]:
        raise ValueError(f"{mask_path(root, name)}: mask {mask.shape} vs image {image.shape[:2]}")
    return image, mask


def palette():
    """PASCAL VOC's colour map as a flat 768-entry list for PIL's putpalette: class i's colour
    spreads the bits of i over R, G and B from the high bit down (0 black, 1 dark red, ...),
    255 (ignore) the near-white VOC uses for its outlines."""
    out = []
    for i in range(256):
        r = g = b = 0
        c = i
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        out += [r, g, b]
    return out
