"""The report page as Chromium left it (--dump-dom, after its scripts ran, sorted by the URL's
#sort=score-asc) against the dataset itself: sample / pruned counts, per-class sample and pixel
counts from the mask PNGs (decoded here), the score histogram from the manifest, the grid in
ascending score order, every picture an embedded JPEG, no error recorded by the page.

usage: python3 check_report.py DATASET DOM.html REPORT.html"""
import base64
import json
import os
import sys
from html.parser import HTMLParser

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngdecode import read_png  # noqa: E402


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.rows, self.cards, self.imgs, self.body = {}, {}, [], [], {}
        self.section, self.capture = None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if "id" in a:
            self.ids[a["id"]] = a
            if a["id"] in ("grid", "pruned-grid"):
                self.section = a["id"]
            if a["id"] in ("n-samples", "n-pruned", "n-classes"):
                self.capture = a["id"]
        if tag == "tr" and "data-id" in a:
            self.rows[int(a["data-id"])] = a
        if tag == "figure":
            self.cards.append((self.section, a["data-name"], float(a["data-score"])))
        if tag == "img":
            self.imgs.append(a["src"])

    def handle_data(self, data):
        if self.capture:
            self.ids[self.capture]["text"] = data
            self.capture = None


def manifest(path):
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path) if line.strip()]


def main(root, dom_path, report_path):
    page = Page()
    page.feed(open(dom_path).read())
    raw = open(report_path).read()
    assert "http://" not in raw and "https://" not in raw, "the report names a network address"
    assert "data-errors" not in page.body, page.body.get("data-errors")
    kept = manifest(os.path.join(root, "manifest.jsonl"))
    pruned = manifest(os.path.join(root, "pruned", "manifest.jsonl"))
    labels = open(os.path.join(root, "labels.txt")).read().split("\n")[:-1]
    assert int(page.ids["n-samples"]["text"]) == len(kept)
    assert int(page.ids["n-pruned"]["text"]) == len(pruned)
    assert int(page.ids["n-classes"]["text"]) == len(labels) - 1
    samples, pixels = np.zeros(256, np.int64), np.zeros(256, np.int64)
    for s in kept:
        png = read_png(os.path.join(root, s["mask"]))
        h = np.bincount(png.ravel(), minlength=256)
        pixels += h
        samples += h > 0
    for c in list(range(len(labels))) + [255]:
        row = page.rows[c]
        assert row["data-class"] == (labels[c] if c < 255 else "ignore"), row
        assert int(row["data-samples"]) == samples[c], (labels[c], row["data-samples"], samples[c])
        assert int(row["data-pixels"]) == pixels[c], (labels[c], row["data-pixels"], pixels[c])
    hist = [0] * 10
    for s in kept:
        hist[min(int(s["quality"]["score"] * 10), 9)] += 1
    assert page.ids["histogram"]["data-counts"] == ",".join(map(str, hist)), page.ids["histogram"]
    grid = [c for c in page.cards if c[0] == "grid"]
    assert page.ids["grid"].get("data-sorted") == "score-asc", "the sorting script did not run"
    assert sorted(n for _, n, _ in grid) == sorted(s["name"] for s in kept)
    scores = [sc for _, _, sc in grid]
    assert scores == sorted(scores), scores
    assert sorted(n for sec, n, _ in page.cards if sec == "pruned-grid") == sorted(s["name"] for s in pruned)
    assert len(page.imgs) == 2 * len(page.cards)
    for src in page.imgs:
        head = "data:image/jpeg;base64,"
        assert src.startswith(head), src[:40]
        assert base64.b64decode(src[len(head):])[:3] == b"\xff\xd8\xff"
    print(f"report: {len(kept)} samples, {len(pruned)} pruned, classes {samples[1:len(labels)].tolist()} "
          f"samples / {pixels[1:len(labels)].tolist()} pixels, histogram {hist}: equal to the dataset")


if __name__ == "__main__":
    main(*sys.argv[1:4])
