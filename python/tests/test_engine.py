"""The Engine against the references: the tiny SD 1 golden through latents= (and the CLI's bytes),
the demo model's masks against `diffumask generate`, heat maps, progress, Ctrl-C, errors."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

import diffumask
from conftest import LIB, REPO, read_safetensors, run_cli


def test_txt2img_golden_latents_matches_golden_and_cli(lib, cli, shared, tmp_path):
    model = os.path.join(shared, "golden", "tiny-sd1")
    golden = os.path.join(shared, "golden", "sd1", "pipe_ddim.safetensors")
    g = read_safetensors(golden)
    with diffumask.Engine(model, precision="fp32") as e:
        assert e.latent_shape(128, 128) == (1, 4, 16, 16)
        args = dict(negative_prompt="", steps=10, guidance=7.5, sampler="ddim", width=128,
                    height=128, latents=g["initial_noise"])
        image = e.txt2img("a photograph of a bird", **args)
        # the seed is unused with latents; (4, h, w) is taken as well as (1, 4, h, w)
        again = e.txt2img("a photograph of a bird", seed=7,
                          **dict(args, latents=g["initial_noise"][0]))
    assert image.shape == (128, 128, 3) and image.dtype == np.uint8
    # the CLI's tolerance on the float image (1e-3), plus half a level of uint8 rounding
    err = np.abs(image / 255.0 - g["image"][0]).max()
    assert err <= 1e-3 + 0.5 / 255, err
    assert np.array_equal(image, again)
    png = tmp_path / "cli.png"
    run_cli("txt2img", "--precision", "fp32", "--model", model, "--prompt",
            "a photograph of a bird", "--negative-prompt", "", "--steps", "10", "--guidance",
            "7.5", "--sampler", "ddim", "--width", "128", "--height", "128", "--init-noise",
            golden, "--out", str(png))
    with Image.open(png) as im:
        assert np.array_equal(np.asarray(im.convert("RGB")), image)


def test_generate_masked_equals_cli_generate(engine, cli_dataset):
    root, manifest = cli_dataset
    assert len(manifest) == 4
    for m in manifest:
        s = engine.generate_masked(m["prompt"], [m["class"]], words=[m["word"]], seed=int(m["seed"]),
                                   steps=m["steps"], guidance=m["guidance"], sampler=m["sampler"])
        with Image.open(os.path.join(root, m["mask"])) as im:
            want = np.asarray(im)
        with Image.open(os.path.join(root, m["image"])) as im:
            want_image = np.asarray(im.convert("RGB"))
        # the CLI writes class ids of the dataset (circle 1, square 2); the engine 1 = classes[0]
        mine = np.where(s.mask == 1, np.uint8(m["class_id"]), s.mask)
        assert np.array_equal(mine, want), m["name"]
        assert np.array_equal(s.image, want_image), m["name"]
        assert s.score == pytest.approx(m["quality"]["score"], abs=1e-6)


def test_sample_contract(engine):
    s = engine.generate_masked("a photo of a red circle and a blue square", ["circle", "square"],
                               steps=6, seed=3)
    assert s.image.shape == (64, 64, 3) and s.image.dtype == np.uint8
    assert s.mask.shape == (64, 64) and s.mask.dtype == np.uint8
    assert set(np.unique(s.mask)) <= {0, 1, 2, 255}
    assert list(s.heatmaps) == ["circle", "square"]
    for k, (name, h) in enumerate(s.heatmaps.items()):
        assert h.shape == (64, 64) and h.dtype == np.float32
        assert h.min() >= 0 and h.max() <= 1
        inside = s.mask == k + 1
        if inside.any():  # a class's map is hotter where its mask is
            assert h[inside].mean() > h[~inside].mean()
    assert 0 <= s.score <= 1
    # the words may differ from the class names; same sample
    w = engine.generate_masked("a photo of a red circle and a blue square", ["round", "box"],
                               words=["circle", "square"], steps=6, seed=3)
    assert np.array_equal(w.mask, s.mask) and list(w.heatmaps) == ["round", "box"]
    # deterministic, and the image is txt2img's
    img = engine.txt2img("a photo of a red circle and a blue square", steps=6, seed=3)
    assert np.array_equal(img, s.image)


def test_progress_sees_every_step(engine):
    seen = []
    engine.txt2img("a red circle", steps=5, progress=lambda i, n: seen.append((i, n)))
    assert seen == [(i, 5) for i in range(1, 6)]


def test_progress_exception_stops_the_call(engine):
    seen = []

    def cb(i, n):
        seen.append(i)
        if i == 2:
            raise RuntimeError("enough")

    with pytest.raises(RuntimeError, match="enough"):
        engine.txt2img("a red circle", steps=6, progress=cb)
    assert seen == [1, 2]  # (later steps are not forwarded; the stop itself is tested below)


def test_sigint_interrupts_cleanly(engine):
    seen = []

    def cb(i, n):
        seen.append(i)
        if i == 2:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C does

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        engine.generate_masked("a red circle", ["circle"], steps=8, progress=cb)
    assert 2 <= len(seen) < 8
    assert signal.getsignal(signal.SIGINT) is before  # the call's handler is gone again
    # the engine works after the interruption, with the same bytes as before
    a = engine.txt2img("a red circle", steps=3, seed=1)
    b = engine.txt2img("a red circle", steps=3, seed=1)
    assert np.array_equal(a, b)


def test_ctrl_c_from_outside(lib):
    """A real SIGINT from another process while the engine runs: KeyboardInterrupt, no crash."""
    code = textwrap.dedent("""
        import sys, diffumask
        e = diffumask.Engine(threads=1, precision="fp32")
        steps = []
        def cb(i, n):
            steps.append(i)
            if i == 1:
                print("running", flush=True)
        try:
            e.txt2img("a red circle", steps=500, progress=cb)
            print("finished")
        except KeyboardInterrupt:
            print("interrupted at step", steps[-1], "of 500")
            e.txt2img("a red circle", steps=2)
            print("engine fine")
    """)
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    assert p.stdout.readline().strip() == "running"
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=300)
    assert p.returncode == 0, out
    lines = out.split("\n")
    assert lines[0].startswith("interrupted at step") and lines[1] == "engine fine", out
    assert int(lines[0].split()[3]) < 500, out  # stopped there, not after the last step


def test_errors(engine, tmp_path):
    with pytest.raises(diffumask.Error, match="/nonexistent/model"):
        diffumask.Engine("/nonexistent/model")
    with pytest.raises(diffumask.Error, match="star"):
        engine.generate_masked("a red circle", ["star"], steps=2)
    with pytest.raises(diffumask.Error) as e:
        engine.txt2img("a red circle", steps=2, width=62)
    assert e.value.status == 2 and "62" in str(e.value)
    with pytest.raises(diffumask.Error, match="sampler"):
        engine.txt2img("a red circle", steps=2, sampler="frobnicate")
    with pytest.raises(diffumask.Error, match="frobnicate"):
        engine.generate_masked("a red circle", ["circle"], steps=2, mask_method="frobnicate")
    with pytest.raises(diffumask.Error, match=r"latents: shape \(1, 4, 8, 8\)"):
        engine.txt2img("a red circle", latents=np.zeros((1, 4, 8, 8), np.float32))
    with pytest.raises(diffumask.Error, match="prompt must be a string"):
        engine.txt2img(None)
    with pytest.raises(diffumask.Error, match="NUL"):
        engine.txt2img("a red\0circle")
    with pytest.raises(diffumask.Error, match="steps"):
        engine.txt2img("a red circle", steps=0)
    with pytest.raises(diffumask.Error, match="seed"):
        engine.txt2img("a red circle", seed=-1)
    with pytest.raises(diffumask.Error, match="words: 1 words for 2 classes"):
        engine.generate_masked("a red circle", ["circle", "x"], words=["circle"])
    with pytest.raises(diffumask.Error, match="precision"):
        diffumask.Engine(precision="fp8")
    bad = tmp_path / "lora.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(diffumask.Error, match="lora.safetensors"):
        diffumask.Engine(lora=[(str(bad), 0.5)])
    e = diffumask.Engine(threads=1)
    e.close()
    e.close()
    with pytest.raises(diffumask.Error, match="closed"):
        e.txt2img("a red circle")


def _python(code, **env):
    full = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"), **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full)


def test_missing_and_mismatched_library(lib, tmp_path):
    # import and the pure-Python parts work without the library; the engine says what is wrong
    p = _python("import diffumask as d\n"
                "print(d.VOCDataset.__name__)\n"
                "try:\n    d.Engine()\nexcept d.Error as e:\n    print('Error:', e)\n",
                DIFFUMASK_LIB="/nonexistent/libdiffumask.so")
    assert p.returncode == 0, p.stderr
    assert "VOCDataset" in p.stdout
    assert "Error: libdiffumask not found" in p.stdout and "/nonexistent/libdiffumask.so" in p.stdout
    # another library in its place: named, and refused
    import ctypes.util
    other = ctypes.util.find_library("z") or "libz.so.1"
    p = _python("import diffumask as d\n"
                "try:\n    d.library_path()\nexcept d.Error as e:\n    print('Error:', e)\n",
                DIFFUMASK_LIB=other)
    assert "Error:" in p.stdout and "not a diffumask library" in p.stdout, p.stdout + p.stderr


def test_library_path_is_the_one_loaded(lib):
    assert os.path.realpath(diffumask.library_path()) == os.path.realpath(LIB)


def test_library_search_order(lib, tmp_path):
    """Without DIFFUMASK_LIB: a package copy outside the repository finds the library on the
    loader path (LD_LIBRARY_PATH), and one beside it before that."""
    import shutil

    pkg = tmp_path / "site" / "diffumask"
    shutil.copytree(os.path.join(REPO, "python", "diffumask"), pkg,
                    ignore=shutil.ignore_patterns("__pycache__", "_install.py"))
    real = os.path.realpath(LIB)
    env = {k: v for k, v in os.environ.items() if k != "DIFFUMASK_LIB"}
    env.update(PYTHONPATH=str(tmp_path / "site"), HOME=str(tmp_path),
               LD_LIBRARY_PATH=os.path.dirname(real))
    code = "import diffumask; print(diffumask.library_path())"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       cwd=tmp_path)
    assert p.returncode == 0 and p.stdout.strip() == real, p.stdout + p.stderr
    shutil.copy(real, pkg / "libdiffumask.so.0")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       cwd=tmp_path)
    assert p.returncode == 0 and p.stdout.strip() == str(pkg / "libdiffumask.so.0"), p.stdout
