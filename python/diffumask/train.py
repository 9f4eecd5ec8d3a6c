"""Trial training: train a segmenter on a dataset and score it on real images (the DiffuMask
paper's protocol), `python3 -m diffumask.train --train DATASET[:SPLIT] --val REAL[:SPLIT]`.

Classes are matched by name through each folder's labels.txt (VOC's 21 names without one), so
the model predicts the classes of --val; a training class --val lacks is ignored (255). Scoring is
VOC's: one confusion matrix over the whole split, IoU per class, mIoU over the classes present.
Needs torch (torchvision for its architectures), numpy and PIL; never the C library. On CPU a
seed gives the same numbers run after run (same thread count)."""

import argparse
import json
import os
import sys
import time

from . import voc


class UsageError(Exception):
    """A bad argument or input: one line, exit status 2 (1 for a failed run)."""


def parse_spec(spec):
    """'DIR[:SPLIT][@K]' -> (DIR, SPLIT, K or None): @K keeps the first K names of the split
    (the few-labels experiments: 50 real images + a synthetic set)."""
    limit = None
    head, at, tail = spec.rpartition("@")
    if at and tail.isdigit() and not os.path.exists(spec):
        spec, limit = head, int(tail)
        if limit < 1:
            raise UsageError(f"{spec}@{tail}: K must be at least 1")
    root, split = voc.split_path(spec)
    return root, split, limit


def load_split(root, split, dst_names, limit=None):
    """Images and masks of ROOT's SPLIT with class ids mapped to dst_names' (by name)."""
    import numpy as np

    if not os.path.isdir(root):
        raise UsageError(f"{root}: no such dataset folder")
    names = voc.read_split(root, split)
    if limit is not None:
        if limit > len(names):
            raise UsageError(f"{root}:{split}@{limit}: the split has only {len(names)} samples")
        names = names[:limit]
    src_names = voc.read_labels(root)
    lut = voc.class_map(src_names, dst_names)
    images, masks, labelled, ignored = [], [], 0, 0
    for n in names:
        image, mask = voc.load_pair(root, n)
        mapped = lut[mask]
        images.append(image)
        masks.append(mapped)
        labelled += int((mask != voc.IGNORE).sum())
        ignored += int(((mask != voc.IGNORE) & (mapped == voc.IGNORE)).sum())
    matched = {
        voc.canonical_name(n): (dst_names[lut[i]] if lut[i] != voc.IGNORE else None)
        for i, n in enumerate(src_names)
        if i < voc.IGNORE
    }
    # ignored_pixels: labelled pixels of a class the target does not have (now 255).
    info = {"path": root, "split": split, "samples": len(names), "classes": matched,
            "labelled_pixels": labelled, "ignored_pixels": ignored}
    return images, masks, info


def _stack(arrays):
    import numpy as np

    if len({a.shape for a in arrays}) == 1:
        return np.stack(arrays)
    return None


class Progress:
    """tqdm where it is installed; else one line rewritten in place (a terminal) or a line per
    tenth of the run (a log)."""

    def __init__(self, total, quiet):
        self.total, self.quiet, self.n, self.bar, self.t0 = total, quiet, 0, None, time.time()
        if quiet:
            return
        try:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="train", unit="it", file=sys.stderr)
        except ImportError:
            self.tty = sys.stderr.isatty()

    def update(self, loss):
        self.n += 1
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4f}")
            return
        step = max(1, self.total // 10)
        if self.tty or self.n % step == 0 or self.n == self.total:
            el = time.time() - self.t0
            eta = el / self.n * (self.total - self.n)
            line = f"train {self.n}/{self.total} loss {loss:.4f} {el:.0f}s elapsed, {eta:.0f}s left"
            sys.stderr.write(("\r" + line) if self.tty else (line + "\n"))
            sys.stderr.flush()

    def close(self):
        if self.bar is not None:
            self.bar.close()
        elif not self.quiet and getattr(self, "tty", False):
            sys.stderr.write("\n")


MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def _to_input(batch_u8, device):
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float normalised as the torchvision backbones expect."""
    import torch

    x = torch.from_numpy(batch_u8).to(device).permute(0, 3, 1, 2).float().div_(255)
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
    return (x - mean) / std


def _random_crop(image, mask, size, rng):
    """A size x size crop (padded with 0 / ignore where the image is smaller): how images of
    different sizes (real VOC) make a batch."""
    import numpy as np

    h, w = mask.shape
    ph, pw = max(0, size - h), max(0, size - w)
    if ph or pw:
        image = np.pad(image, ((0, ph), (0, pw), (0, 0)))
        mask = np.pad(mask, ((0, ph), (0, pw)), constant_values=voc.IGNORE)
        h, w = mask.shape
    y = int(rng.integers(0, h - size + 1))
    x = int(rng.integers(0, w - size + 1))
    return image[y : y + size, x : x + size], mask[y : y + size, x : x + size]


def predictions(model, images, device, batch):
    """The model's argmax labels for a list of (H, W, 3) uint8 images, in order: batches of
    `batch` when all have one size, one at a time otherwise."""
    import numpy as np
    import torch

    model.eval()
    same = _stack(images)
    step = batch if same is not None else 1
    with torch.no_grad():
        for i in range(0, len(images), step):
            x = same[i : i + step] if same is not None else images[i][None]
            yield from model(_to_input(np.ascontiguousarray(x), device)).argmax(1).cpu().numpy()


def confusion(model, images, masks, classes, device, batch):
    """The classes x classes confusion matrix (rows: truth, columns: prediction) over a split;
    pixels marked 255 are not counted."""
    import numpy as np

    conf = np.zeros((classes, classes), dtype=np.int64)
    for pred, y in zip(predictions(model, images, device, batch), masks):
        keep = y != voc.IGNORE
        idx = y[keep].astype(np.int64) * classes + pred[keep]
        conf += np.bincount(idx, minlength=classes * classes).reshape(classes, classes)
    return conf


def scores(conf, names):
    """VOC's scores of a confusion matrix: IoU per class (None where a class is neither in the
    truth nor predicted), mIoU over the others, pixel accuracy."""
    import numpy as np

    inter = np.diag(conf).astype(np.float64)
    union = conf.sum(0) + conf.sum(1) - np.diag(conf)
    iou = {n: (float(inter[i] / union[i]) if union[i] > 0 else None) for i, n in enumerate(names)}
    present = [v for v in iou.values() if v is not None]
    return {
        "miou": float(np.mean(present)) if present else 0.0,
        "iou": iou,
        "pixel_accuracy": float(inter.sum() / max(1, conf.sum())),
    }


def predict_to(model, root, split, limit, names, out_dir, device, batch=64):
    """The paper's noise learning, first half: the trained model's prediction for every sample
    of ROOT's SPLIT, written as OUT_DIR/NAME.png in ROOT's own class ids (matched by name; a
    class ROOT lacks becomes 255), the input of `diffumask filter ROOT --pred OUT_DIR`."""
    from PIL import Image

    samples = voc.read_split(root, split)[:limit]
    back = voc.class_map(names, voc.read_labels(root))  # our index -> ROOT's id
    os.makedirs(out_dir, exist_ok=True)
    for i in range(0, len(samples), batch):
        chunk = samples[i : i + batch]
        images = [voc.load_pair(root, n)[0] for n in chunk]
        for pred, n in zip(predictions(model, images, device, batch), chunk):
            img = Image.fromarray(back[pred], "P")
            img.putpalette(voc.palette())
            tmp = os.path.join(out_dir, n + ".png.tmp")
            img.save(tmp, format="PNG")
            os.replace(tmp, os.path.join(out_dir, n + ".png"))
    return len(samples)


def _save(model, path, meta):
    import torch

    tmp = path + ".tmp"
    torch.save({"state_dict": model.state_dict(), **meta}, tmp)
    os.replace(tmp, path)


def run(args):
    import numpy as np
    import torch

    from . import segmodels

    if args.device == "cuda" and not torch.cuda.is_available():
        raise UsageError(
            f"--device cuda: this torch ({torch.__version__}) has no CUDA device"
            " (Debian's python3-torch is CPU-only); use --device cpu"
        )
    if args.iters < 1 or args.batch < 1:
        raise UsageError("--iters and --batch must be at least 1")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    if args.device == "cpu":
        torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(args.seed)

    val_root, val_split, val_limit = parse_spec(args.val)
    if not os.path.isdir(val_root):
        raise UsageError(f"--val {val_root}: no such dataset folder")
    names = voc.read_labels(val_root)
    val_images, val_masks, val_info = load_split(val_root, val_split, names, val_limit)

    images, masks, train_info = [], [], []
    for spec in args.train:
        root, split, limit = parse_spec(spec)
        im, ma, info = load_split(root, split, names, limit)
        images += im
        masks += ma
        train_info.append(info)
    shared = {v for info in train_info for k, v in info["classes"].items() if v is not None}
    if not shared - {"background"}:
        raise UsageError(
            f"--train: no class of the training data but background is one of --val's"
            f" ({', '.join(names[:6])}{', ...' if len(names) > 6 else ''}): check labels.txt"
        )

    model = segmodels.build(args.arch, len(names), args.pretrained).to(device)
    params = segmodels.count_parameters(model)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.iters)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=voc.IGNORE)
    same = _stack(images)
    same_masks = _stack(masks) if same is not None else None
    crop = args.crop

    t0 = time.time()
    progress = Progress(args.iters, args.quiet)
    order, pos, losses = rng.permutation(len(images)), 0, []
    model.train()
    for _ in range(args.iters):
        # Epochs of a seeded permutation: every sample once before any twice.
        if pos + args.batch > len(order):
            order, pos = np.concatenate([order[pos:], rng.permutation(len(images))]), 0
        idx, pos = order[pos : pos + args.batch], pos + args.batch
        if same is not None and not crop:
            x, y = same[idx].copy(), same_masks[idx].copy()
        else:
            size = crop or 320
            pairs = [_random_crop(images[i], masks[i], size, rng) for i in idx]
            x, y = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
        flip = rng.random(len(idx)) < 0.5
        x[flip], y[flip] = x[flip, :, ::-1], y[flip, :, ::-1]
        if args.vflip:
            flip = rng.random(len(idx)) < 0.5
            x[flip], y[flip] = x[flip, ::-1], y[flip, ::-1]
        out = model(_to_input(np.ascontiguousarray(x), device))
        loss = loss_fn(out, torch.from_numpy(np.ascontiguousarray(y)).to(device).long())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss))
        progress.update(losses[-1])
    progress.close()
    train_s = time.time() - t0

    conf = confusion(model, val_images, val_masks, len(names), device, 64)
    report = {
        "train": train_info,
        "val": val_info,
        "classes": names,
        "arch": args.arch,
        "parameters": params,
        "pretrained": args.pretrained,
        "iters": args.iters,
        "batch": args.batch,
        "lr": args.lr,
        "seed": args.seed,
        "device": args.device,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "train_samples": len(images),
        "final_loss": float(np.mean(losses[-10:])),
        "train_seconds": round(train_s, 1),
        **scores(conf, names),
        "confusion": conf.tolist(),
    }
    if args.predict:
        root, split, limit = parse_spec(args.train[0])
        report["predicted"] = {"dir": args.predict, "samples": predict_to(
            model, root, split, limit, names, args.predict, device)}
    if args.out:
        _save(model, args.out, {"arch": args.arch, "classes": names})
        report["checkpoint"] = args.out
    return report


def print_table(report, out):
    names = report["classes"]
    out.write(f"{report['arch']} ({report['parameters']} parameters), {report['iters']} iterations "
              f"of {report['batch']}, {report['train_samples']} training samples, "
              f"{report['train_seconds']} s\n")
    out.write(f"val {report['val']['path']}:{report['val']['split']} ({report['val']['samples']} images)\n")
    for n in names:
        v = report["iou"][n]
        out.write(f"  {n:<16} {'-' if v is None else f'{v:.3f}'}\n")
    out.write(f"  {'mIoU':<16} {report['miou']:.3f}\n")


def parser():
    from .segmodels import ARCHS

    ap = argparse.ArgumentParser(
        prog="python3 -m diffumask.train",
        description="Train a segmenter on a VOC-layout dataset and score it on real images "
        "(classes matched by name through labels.txt).",
    )
    ap.add_argument("--train", action="append", required=True, metavar="DIR[:SPLIT][@K]",
                    help="training set (split default train; @K: its first K samples); repeatable: the sets are joined")
    ap.add_argument("--val", required=True, metavar="DIR[:SPLIT][@K]",
                    help="the real images it is scored on, classes from its labels.txt (split default train: give :val)")
    ap.add_argument("--arch", default="unet", choices=ARCHS, help="segmenter (default unet, for toy-sized images)")
    ap.add_argument("--pretrained", action="store_true", help="torchvision archs: ImageNet backbone weights (downloads them)")
    ap.add_argument("--iters", type=int, default=400, help="iterations (default 400)")
    ap.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    ap.add_argument("--lr", type=float, default=1e-2, help="peak learning rate of the one-cycle schedule (default 1e-2)")
    ap.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay (default 1e-4)")
    ap.add_argument("--crop", type=int, default=0, help="train on random SIZE x SIZE crops (default: whole images when all have one size, else 320)")
    ap.add_argument("--vflip", action="store_true", help="also flip vertically (default: horizontal flips only)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (default 0: torch's choice)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", metavar="FILE.pt", help="save the trained model (state_dict, arch, classes)")
    ap.add_argument("--predict", metavar="DIR",
                    help="after training, write its prediction for every sample of the first --train set as "
                    "DIR/NAME.png (that set's class ids): the input of `diffumask filter SET --pred DIR` "
                    "(the paper's noise learning)")
    ap.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    ap.add_argument("--quiet", action="store_true", help="no progress output")
    return ap


def main(argv=None):
    try:
        import numpy  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        print(f"diffumask.train: error: needs numpy and torch ({e}; Debian: apt-get install "
              "python3-torch python3-torchvision)", file=sys.stderr)
        return 2
    args = parser().parse_args(argv)
    try:
        report = run(args)
    except UsageError as e:
        print(f"diffumask.train: error: {e}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as e:
        print(f"diffumask.train: error: {e}", file=sys.stderr)
        return 1
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_table(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
