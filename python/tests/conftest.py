"""Shared set-up of the Python tests: the build tree's library and CLI, ../shared, a golden
safetensors reader and one small dataset made by the CLI.

Run from the repository root: /usr/bin/python3 -m pytest python/tests (CI sets DIFFUMASK_LIB,
DM_CLI and DM_SHARED_DIR; without them the build/ and ../shared of this checkout are used).
Without the library or ../shared the tests that need them are skipped, by name, except under
CI=true, where a missing library fails."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "python"))

os.environ.setdefault("DIFFUMASK_LIB", os.path.join(REPO, "build", "libdiffumask.so"))
LIB = os.environ["DIFFUMASK_LIB"]
CLI = os.environ.get("DM_CLI", os.path.join(REPO, "build", "diffumask"))
SHARED = os.environ.get("DM_SHARED_DIR", os.path.join(os.path.dirname(REPO), "shared"))


def _need(path, what):
    if os.path.exists(path):
        return path
    if os.environ.get("CI") == "true" and what != "../shared":
        pytest.fail(f"{what} missing in CI: {path}")
    pytest.skip(f"SKIPPED: {what} not found: {path}")


@pytest.fixture(scope="session")
def lib():
    return _need(LIB, "libdiffumask (make build)")


@pytest.fixture(scope="session")
def cli():
    return _need(CLI, "the diffumask CLI (make build)")


@pytest.fixture(scope="session")
def shared():
    return _need(SHARED, "../shared")


def run_cli(*args):
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    p = subprocess.run([CLI, *args], capture_output=True, text=True, env=env)
    assert p.returncode == 0, f"diffumask {' '.join(args)}: exit {p.returncode}: {p.stderr}"
    return p


def read_safetensors(path):
    """{name: numpy array} of a safetensors file (F32 / I64 / F16 / I32 tensors)."""
    dtypes = {"F32": np.float32, "I64": np.int64, "F16": np.float16, "I32": np.int32}
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=dtypes[t["dtype"]]).reshape(t["shape"])
    return out


@pytest.fixture(scope="session")
def engine(lib):
    """The demo model in fp32, one thread: the same bytes in every process."""
    import diffumask

    with diffumask.Engine(threads=1, precision="fp32") as e:
        yield e


@pytest.fixture(scope="session")
def cli_dataset(cli, tmp_path_factory):
    """A small dataset by `diffumask generate` (PNG images, so they compare exactly), with a
    val split: 2 classes x 2 samples, 4 steps, none pruned."""
    out = str(tmp_path_factory.mktemp("ds") / "ds")
    run_cli("generate", "--classes", "circle,square", "--images-per-class", "2", "--steps", "4",
            "--seed", "5", "--precision", "fp32", "--threads", "1", "--image-format", "png",
            "--val-fraction", "0.5", "--prune-fraction", "0", "--out", out, "--quiet")
    with open(os.path.join(out, "manifest.jsonl")) as f:
        manifest = [json.loads(line) for line in f if line.strip()]
    return out, manifest
