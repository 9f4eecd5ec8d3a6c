#!/bin/bash
# annotations.json decoded independently (numpy + our own zlib PNG reader, tests/py) equals the
# mask PNGs: every RLE, area, bbox, class; see tests/py/check_coco_rle.py.
set -u
here=$(dirname "$0")
. "$here/py_dataset.sh" numpy:python3-numpy
"$PY" "$here/py/check_coco_rle.py" "$tmp/ds" || { echo "FAIL: COCO RLE check"; exit 1; }
echo PASS
