"""diffumask for Python: the engine, its masks and its datasets as numpy / torch objects.

Pure Python. The parts that run the engine (``Engine``, ``Sample``, ``Error``, ``library_path``)
load ``libdiffumask.so`` through ctypes the first time they are used; the dataset readers
(``diffumask.voc``) and the trial trainer (``python3 -m diffumask.train``) need no C library —
they import with numpy (and torch for the trainer) alone."""

__version__ = "0.1.0"

# Names resolved on first use, so that `import diffumask` never loads the C library or torch.
_LAZY = {
    "Engine": "engine",
    "Sample": "engine",
    "Error": "engine",
    "library_path": "engine",
    "VOCDataset": "datasets",
    "StreamingDataset": "datasets",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'diffumask' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
