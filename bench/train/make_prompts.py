#!/usr/bin/python3
"""README-style prompts for the demo model (toy-shapes) for the training benchmark of BENCHMARKS.md:
`a photo of a {colour} {shape} on a {background} background`, N per shape, colour and background
drawn at random (seeded), one JSON object a line for `diffumask generate --prompts`. Every line
carries its colour too ("colour" is ignored by generate; the oracle script reads it).
--two-shape F: that fraction of the lines (picked at random) names a second, different shape in
another colour, `a photo of a {c1} {s1} and a {c2} {s2} on a {background} background` (the demo
model's two-object captions; toy-real has two shapes in 30 % of its images), both classes masked."""
import argparse
import json
import random

SHAPES = ("circle", "square", "triangle", "star", "heart")
COLOURS = ("red", "green", "blue", "yellow", "purple", "orange")
BACKGROUNDS = ("plain", "noisy", "striped", "gradient")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--per-shape", type=int, default=400)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--two-shape", type=float, default=0.0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    with open(a.out, "w", encoding="utf-8") as f:
        # Interleaved by shape, so the first K lines are balanced too (the images-per-class rows).
        for i in range(a.per_shape):
            for shape in SHAPES:
                colour, bg = rng.choice(COLOURS), rng.choice(BACKGROUNDS)
                line = {
                    "prompt": f"a photo of a {colour} {shape} on a {bg} background",
                    "class": shape,
                    "word": shape,
                    "colour": colour,
                }
                if a.two_shape > 0 and rng.random() < a.two_shape:
                    other = rng.choice([s for s in SHAPES if s != shape])
                    colour2 = rng.choice([c for c in COLOURS if c != colour])
                    line = {
                        "prompt": f"a photo of a {colour} {shape} and a {colour2} {other} on a {bg} background",
                        "classes": [shape, other],
                        "words": [shape, other],
                        "colours": [colour, colour2],
                    }
                f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
