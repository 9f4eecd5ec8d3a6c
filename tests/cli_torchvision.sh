#!/bin/bash
# A real client: Debian's python3-torchvision VOCSegmentation loads a fresh dataset (train and
# val, the VOCdevkit/VOC2012 link of docs/training.md) and every target equals the mask PNG.
set -u
here=$(dirname "$0")
. "$here/py_dataset.sh" numpy:python3-numpy torchvision:python3-torchvision
mkdir -p "$tmp/root/VOCdevkit"
ln -s "$tmp/ds" "$tmp/root/VOCdevkit/VOC2012"
"$PY" "$here/py/check_torchvision_voc.py" "$tmp/root" "$tmp/ds" || { echo "FAIL: torchvision check"; exit 1; }
echo PASS
