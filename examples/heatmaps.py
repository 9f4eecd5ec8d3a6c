"""Notebook-style tour of the Python package: a prompt -> the image, its mask and each class's
cross-attention heat map, saved as one matplotlib figure.

    python3 examples/heatmaps.py --out heatmaps.png
    python3 examples/heatmaps.py --prompt "a photo of a blue square" --classes square \\
        --seed 3 --out heatmaps.png

Runs on the built-in demo model (64 x 64 drawings of shapes) unless --model is given. Needs
numpy and matplotlib (Debian: python3-matplotlib; scripts/setup.sh --extra python). In a
notebook the same is the four lines under "the sample" below and plt.show()."""

import argparse
import os
import sys
import time

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompt", default="a photo of a red circle")
    ap.add_argument("--classes", default="circle", help="comma-separated class words")
    ap.add_argument("--model", default=None, help="model folder (default: the demo model)")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True, help="PNG file to write")
    a = ap.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    import diffumask

    classes = [c.strip() for c in a.classes.split(",") if c.strip()]
    # the sample
    with diffumask.Engine(a.model) as engine:
        t0 = time.perf_counter()
        s = engine.generate_masked(a.prompt, classes, steps=a.steps, seed=a.seed)
        seconds = time.perf_counter() - t0
    print(f"{s!r} in {seconds:.2f} s (library {diffumask.library_path()})")

    n = 2 + len(classes)
    fig, axes = plt.subplots(1, n, figsize=(3 * n, 3.4))
    axes[0].imshow(s.image)
    axes[0].set_title("image")
    # mask: 0 background (black), k + 1 = classes[k] (a colour each), 255 ignore (white)
    colours = plt.get_cmap("tab10")
    rgb = np.zeros(s.mask.shape + (3,))
    for k in range(len(classes)):
        rgb[s.mask == k + 1] = colours(k)[:3]
    rgb[s.mask == 255] = 1.0
    axes[1].imshow(rgb, interpolation="nearest")
    axes[1].set_title(f"mask (score {s.score:.2f})")
    for k, (name, heat) in enumerate(s.heatmaps.items()):
        ax = axes[2 + k]
        ax.imshow(s.image)
        ax.imshow(heat, cmap="jet", alpha=0.5, vmin=0, vmax=1)
        ax.contour(s.mask == k + 1, levels=[0.5], colors="white", linewidths=1)
        ax.set_title(f"'{name}' attention")
    for ax in axes:
        ax.axis("off")
    fig.suptitle(a.prompt, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    tmp = a.out + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, a.out)  # written under a temporary name, then renamed
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
