"""VOCDataset on a dataset the CLI made; StreamingDataset through a DataLoader with 2 workers."""

import os

import numpy as np
import pytest
from PIL import Image

import diffumask
from diffumask import voc
from diffumask.datasets import fill_template


def test_voc_dataset_on_generated(cli_dataset):
    root, manifest = cli_dataset
    names = {}
    for split in ("train", "val"):
        path = os.path.join(root, "ImageSets", "Segmentation", f"{split}.txt")
        if os.path.exists(path) and os.path.getsize(path):
            names[split] = [line.strip() for line in open(path) if line.strip()]
    assert sum(len(v) for v in names.values()) == 4
    by_name = {m["name"]: m for m in manifest}
    for split, want in names.items():
        ds = diffumask.VOCDataset(root, split=split)
        assert len(ds) == len(want) and ds.names == want
        assert ds.classes == ["background", "circle", "square"]
        for i, name in enumerate(want):
            image, mask = ds[i]
            assert image.shape == (64, 64, 3) and image.dtype == np.uint8
            assert mask.shape == (64, 64) and mask.dtype == np.uint8
            with Image.open(os.path.join(root, "SegmentationClass", name + ".png")) as im:
                assert np.array_equal(mask, np.asarray(im))
            # the values are the sample's class id, background and ignore only
            assert set(np.unique(mask)) <= {0, by_name[name]["class_id"], 255}
        with pytest.raises(IndexError):
            ds[len(want)]
    split = next(iter(names))
    t = diffumask.VOCDataset(root, split=split,
                             transform=lambda im, m: (im.mean(), int((m == 255).sum())))
    image, mask = diffumask.VOCDataset(root, split=split)[0]
    assert t[0] == (image.mean(), int((mask == 255).sum()))
    with pytest.raises(FileNotFoundError, match="nosuch.txt"):
        diffumask.VOCDataset(root, split="nosuch")


def test_voc_dataset_with_dataloader(cli_dataset):
    torch = pytest.importorskip("torch")
    root, _ = cli_dataset
    ds = diffumask.VOCDataset(root, split="train")
    loader = torch.utils.data.DataLoader(ds, batch_size=len(ds), num_workers=2)
    images, masks = next(iter(loader))
    assert images.shape == (len(ds), 64, 64, 3) and masks.shape == (len(ds), 64, 64)
    assert torch.equal(masks[0], torch.from_numpy(ds[0][1]))


def test_fill_template_as_the_cli():
    assert fill_template("a photo of a {}", "apple") == "a photo of an apple"
    assert fill_template("a {} on grass", "ant") == "an ant on grass"
    assert fill_template("a photo of a {}", "circle") == "a photo of a circle"
    assert fill_template("banana {}", "owl") == "banana owl"
    with pytest.raises(ValueError):
        fill_template("no placeholder", "x")


def test_streaming_two_workers_no_duplicates_reproducible():
    torch = pytest.importorskip("torch")
    kw = dict(engine_args={"threads": 1, "precision": "fp32"},
              classes=["circle", "square", "triangle"],
              templates=["a photo of a {}", "a drawing of a {}"], num_samples=6, seed=4,
              steps=3, return_sample=True)
    ds = diffumask.StreamingDataset(**kw)
    assert isinstance(ds, torch.utils.data.IterableDataset) and len(ds) == 6
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    stream = list(loader)
    # every sample once: no worker repeats another's
    assert sorted(s.index for s in stream) == list(range(6))
    got = {s.index: s for s in stream}
    seeds = [got[i].seed for i in range(6)]
    assert len(set(seeds)) == 6
    images = {got[i].image.tobytes() for i in range(6)}
    assert len(images) == 6
    found = 0
    for i, s in got.items():
        cid = i % 3 + 1  # the class of sample i, with the dataset's id
        assert s.classes == [kw["classes"][i % 3]]
        assert set(np.unique(s.mask)) <= {0, cid, 255}
        found += bool((s.mask == cid).any())
    assert found >= 3  # (a 3-step sample may come out empty; most do not)
    # the same seed gives the same stream in one process; another seed another one
    again = diffumask.StreamingDataset(**kw)
    for s in again:
        assert s.seed == got[s.index].seed and np.array_equal(s.mask, got[s.index].mask)
        assert np.array_equal(s.image, got[s.index].image)
    other = diffumask.StreamingDataset(**dict(kw, seed=5, num_samples=1))
    assert next(iter(other)).seed != got[0].seed
    # plain (image, mask) pairs batch through the default collate
    pairs = diffumask.StreamingDataset(**dict(kw, return_sample=False, num_samples=2))
    images, masks = next(iter(torch.utils.data.DataLoader(pairs, batch_size=2)))
    assert images.shape == (2, 64, 64, 3) and masks.shape == (2, 64, 64)


def test_streaming_bad_arguments():
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="template"):
        diffumask.StreamingDataset({}, ["circle"], ["no placeholder"])
    with pytest.raises(ValueError, match="classes"):
        diffumask.StreamingDataset({}, [], ["a {}"])
    with pytest.raises(TypeError, match="endless"):
        len(diffumask.StreamingDataset({}, ["circle"], ["a {}"]))


def test_voc_module_untouched_names():
    # the trial trainer relies on these names of voc.py
    for name in ("read_labels", "read_split", "load_pair", "class_map", "canonical_name"):
        assert callable(getattr(voc, name))
