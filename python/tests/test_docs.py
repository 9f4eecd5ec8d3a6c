"""The Python shown in README.md ("Python") and docs/training.md (the `import diffumask` section)
runs as written (paths and sample counts shrunk to a test's)."""

import contextlib
import io
import os
import re

import pytest

from conftest import REPO


def _blocks(path, heading):
    text = open(os.path.join(REPO, path), encoding="utf-8").read()
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return re.findall(r"```python\n(.*?)```", text[start:end if end > 0 else None], re.S)


def test_readme_example(lib):
    (code,) = _blocks("README.md", "\n## Python\n")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    shapes = out.getvalue().split(") (")
    assert out.getvalue().startswith("(64, 64, 3) (64, 64) ") and len(shapes) == 2


def test_training_doc_loops(lib, cli_dataset):
    pytest.importorskip("torch")
    root, _ = cli_dataset
    voc_loop, stream = _blocks("docs/training.md", "## `import diffumask`")
    g = {}
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(compile(voc_loop.replace('"out/demo"', repr(root)), "training.md", "exec"), g)
    assert len(out.getvalue().splitlines()) == 2  # one line per epoch
    exec(compile(stream.replace("num_samples=600", "num_samples=2").replace("steps=25", "steps=2"),
                 "training.md", "exec"), g)
    images, masks = next(iter(g["loader"]))
    assert images.shape[1:] == (3, 64, 64) and masks.shape[1:] == (64, 64)
