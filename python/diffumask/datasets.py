"""Datasets for PyTorch training loops: ``VOCDataset`` reads a dataset in VOC layout (what
``diffumask generate`` writes, toy-real, PASCAL VOC) as (image, mask) numpy pairs;
``StreamingDataset`` makes DiffuMask samples on the fly with an ``Engine``, one shard of the
sample stream per DataLoader worker.

VOCDataset needs numpy and PIL; torch is imported only by StreamingDataset (and only when it is
constructed), so the module imports without torch or the C library."""

import numpy as np

from . import voc


class VOCDataset:
    """A map-style dataset (works with ``torch.utils.data.DataLoader``) of one split of a VOC
    layout folder: item i is ``(image (H, W, 3) uint8, mask (H, W) uint8)`` of the i-th name
    of ImageSets/Segmentation/SPLIT.txt, or ``transform(image, mask)`` when a transform is
    given. ``classes``: the class names by id (labels.txt, or VOC's 21); ``names``: the split's
    sample names."""

    def __init__(self, root, split="train", transform=None):
        self.root = str(root)
        self.split = split
        self.transform = transform
        self.classes = voc.read_labels(self.root)
        self.names = voc.read_split(self.root, split)

    def __len__(self):
        return len(self.names)

    def __getitem__(self, i):
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"VOCDataset index must be an integer, not {type(i).__name__}")
        n = len(self.names)
        if not -n <= i < n:
            raise IndexError(f"VOCDataset index {i} out of range for {n} samples")
        image, mask = voc.load_pair(self.root, self.names[i])
        # PIL's arrays are read-only, which torch warns about when it wraps them
        image, mask = np.array(image), np.array(mask)
        if self.transform is not None:
            return self.transform(image, mask)
        return image, mask

    def __repr__(self):
        return (f"VOCDataset({self.root!r}, split={self.split!r}: {len(self)} samples, "
                f"{len(self.classes)} classes)")


def fill_template(template, word):
    """The prompt of a template with one "{}" for the class word ("a {}" becomes "an {}" before
    a vowel), as ``diffumask generate --template`` fills it."""
    if template.count("{}") != 1:
        raise ValueError(f"template {template!r}: needs exactly one {{}} for the class word")
    at = template.index("{}")
    before = template[:at]
    if word[:1] in "aeiouAEIOU" and word and (before == "a " or before.endswith(" a ")):
        before = before[:-1] + "n "
    return before + word + template[at + 2:]


def sample_seed(seed, index):
    """The seed of sample `index` of a stream: a hash of (seed, index), below 2**53 so that JSON
    keeps it exactly. Independent of the worker that makes the sample."""
    state = np.random.SeedSequence([int(seed) & (2**64 - 1), int(index)]).generate_state(2, np.uint64)
    return int(state[0]) & ((1 << 53) - 1), int(state[1])


def _iterable_base():
    import torch.utils.data

    return torch.utils.data.IterableDataset


class StreamingDataset:
    """DiffuMask samples made on the fly: an ``IterableDataset`` (constructing one imports
    torch).

    engine_args: the keyword arguments of ``Engine`` (a dict; each worker opens its own engine
    on first use, so the dataset pickles into worker processes); classes: class names (mask id
    k + 1 = classes[k]); templates: prompts with one "{}" for the class word.

    Sample i has class classes[i % len(classes)], a template and a seed drawn from (seed, i):
    the stream is the same for a given seed whatever the number of workers, and DataLoader
    worker w of W makes samples i = w, w + W, w + 2W, ... — no two workers make the same one.
    num_samples: the stream's length (None = endless). Items are ``(image, mask)`` numpy pairs,
    ``transform(image, mask)``, or with ``return_sample=True`` the ``Sample`` itself (with its
    ``index``), mask ids remapped to the dataset's. Remaining keywords (steps, guidance,
    sampler, width, height, mask_method, negative_prompt) go to ``generate_masked``."""

    def __new__(cls, *args, **kwargs):
        # the class becomes a torch IterableDataset the first time one is made, so that the
        # module itself never imports torch
        base = _iterable_base()
        if not issubclass(cls, base):
            cls = _torch_streaming_class(base)
        return object.__new__(cls)

    def __init__(self, engine_args, classes, templates, *, num_samples=None, seed=0,
                 transform=None, return_sample=False, **generate_args):
        if isinstance(classes, str) or not classes:
            raise ValueError("classes: a non-empty list of class names")
        if isinstance(templates, str):
            templates = [templates]
        if not templates:
            raise ValueError("templates: at least one template")
        for t in templates:
            fill_template(t, "x")  # checks the placeholder
        if num_samples is not None and num_samples < 0:
            raise ValueError(f"num_samples must be >= 0, not {num_samples}")
        self.engine_args = dict(engine_args or {})
        self.classes = list(classes)
        self.templates = list(templates)
        self.num_samples = num_samples
        self.seed = seed
        self.transform = transform
        self.return_sample = return_sample
        self.generate_args = generate_args
        self._engine = None

    def __reduce__(self):
        # an engine is a C handle: each worker opens its own. Rebuilt through _rebuild because
        # the torch subclass is made at run time and pickle cannot find it by name.
        state = dict(self.__dict__)
        state["_engine"] = None
        return (_rebuild, (state,))

    def __len__(self):
        if self.num_samples is None:
            raise TypeError("an endless StreamingDataset (num_samples=None) has no length")
        return self.num_samples

    def plan(self, index):
        """(class id, class name, prompt, seed) of sample `index`."""
        k = index % len(self.classes)
        seed, pick = sample_seed(self.seed, index)
        prompt = fill_template(self.templates[pick % len(self.templates)], self.classes[k])
        return k + 1, self.classes[k], prompt, seed

    def make(self, index):
        """Sample `index` of the stream (a Sample; its mask ids are the dataset's)."""
        if self._engine is None:
            from .engine import Engine

            self._engine = Engine(**self.engine_args)
        cid, name, prompt, seed = self.plan(index)
        s = self._engine.generate_masked(prompt, [name], seed=seed, **self.generate_args)
        if cid != 1:
            s.mask = np.where(s.mask == 1, np.uint8(cid), s.mask)
        s.index = index
        return s

    def _indices(self):
        import torch.utils.data

        info = torch.utils.data.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        i = start
        while self.num_samples is None or i < self.num_samples:
            yield i
            i += step

    def __iter__(self):
        for i in self._indices():
            s = self.make(i)
            if self.return_sample:
                yield s
            elif self.transform is not None:
                yield self.transform(s.image, s.mask)
            else:
                yield s.image, s.mask


_torch_class = None


def _rebuild(state):
    obj = StreamingDataset.__new__(StreamingDataset)
    obj.__dict__.update(state)
    return obj


def _torch_streaming_class(base):
    global _torch_class
    if _torch_class is None:
        _torch_class = type("StreamingDataset", (StreamingDataset, base),
                            {"__module__": __name__, "__doc__": StreamingDataset.__doc__})
    return _torch_class
