"""The segmenters the trial trainer (`python3 -m diffumask.train`) can build, by name.

`unet`: a small UNet (about 0.94 M parameters) for toy-sized images (the demo model's 64x64);
the torchvision names: the real-image segmenters of torchvision 0.14, built without weights
unless asked (`pretrained=True`), because their builders would otherwise try to download an
ImageNet backbone, which fails offline. Every model maps (N, 3, H, W) to (N, classes, H, W) logits.
Needs torch (and torchvision for the torchvision names)."""

import torch
from torch import nn

TORCHVISION_ARCHS = ("lraspp_mobilenet_v3_large", "deeplabv3_mobilenet_v3_large", "deeplabv3_resnet50")
ARCHS = ("unet",) + TORCHVISION_ARCHS


def _block(cin, cout):
    # Two 3x3 convolutions with batch norm: the UNet's unit at every scale.
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """Three poolings (1/8 of the image at the bottom: a 64x64 image's shapes of 12-38 px still
    span a few cells there) with skip connections and bilinear upsampling. Narrow at full
    resolution and wide at the bottom, where a convolution costs 1/64 as much: most of its
    0.94 M parameters sit where they are cheap to run, which matters when it trains on a CPU."""

    def __init__(self, classes, width=24, bottom=160):
        super().__init__()
        w = width
        self.enc = nn.ModuleList([_block(3, w), _block(w, 2 * w), _block(2 * w, 4 * w)])
        self.mid = _block(4 * w, bottom)
        self.dec = nn.ModuleList([_block(bottom + 4 * w, 4 * w), _block(6 * w, 2 * w), _block(3 * w, w)])
        self.head = nn.Conv2d(w, classes, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        h, w = x.shape[-2:]
        # Pad to a multiple of 8 (three poolings), so any image size works; cropped back below.
        ph, pw = (-h) % 8, (-w) % 8
        if ph or pw:
            x = nn.functional.pad(x, (0, pw, 0, ph), mode="replicate")
        skips = []
        for enc in self.enc:
            x = enc(x)
            skips.append(x)
            x = self.pool(x)
        x = self.mid(x)
        for dec, skip in zip(self.dec, reversed(skips)):
            x = nn.functional.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = dec(torch.cat([x, skip], 1))
        return self.head(x)[..., :h, :w]


class _TorchvisionSeg(nn.Module):
    # torchvision's segmenters return {"out": logits, ...}; the trainer wants the logits alone.
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)["out"]


def build(arch, classes, pretrained=False):
    """The segmenter `arch` with `classes` outputs (background included)."""
    if arch == "unet":
        return UNet(classes)
    if arch not in TORCHVISION_ARCHS:
        raise ValueError(f"--arch {arch}: unknown architecture (known: {', '.join(ARCHS)})")
    from torchvision.models import segmentation

    builder = getattr(segmentation, arch)
    if pretrained:
        # The ImageNet backbone only: the COCO-trained heads have VOC's 21 classes, not ours.
        net = builder(weights=None, weights_backbone="DEFAULT", num_classes=classes)
    else:
        net = builder(weights=None, weights_backbone=None, num_classes=classes)
    return _TorchvisionSeg(net)


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())
