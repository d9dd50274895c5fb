"""Write the bundled Fashion-MNIST samples shipped in torchloom_vision/assets/ (run once; output is committed).

Reads the Debian package ``dataset-fashion-mnist`` (/usr/share/datasets/fashion-mnist, MIT/Expat licence) and writes
* ``fashion_sample/{train,valid}/<class>/<class>_<index>.png`` -- N_TRAIN images per class from the official
  training set and N_VALID per class from the official test set (grey 28x28 PNGs);
* ``fashion_seg_sample/images/<name>.png`` + ``labels/<name>_P.png`` -- a segmentation sample whose masks are
  *derived* from the pixels (mask = (pixel > 30) * (class + 1), background 0), not human annotations.

Usage: python plugins/vision/tools/make_sample.py [--src DIR] [--out DIR]
"""
from __future__ import annotations

import argparse
import gzip
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"]
N_TRAIN, N_VALID, N_SEG = 100, 30, 20
SEED = 42
THRESHOLD = 30
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "torchloom_vision" / "assets"


def load_idx(path: Path) -> np.ndarray:
    b = gzip.open(path, "rb").read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i : 8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)


def pick(labels: np.ndarray, n: int, rng: np.random.Generator, skip: set[int] | None = None) -> dict[int, list[int]]:
    out = {}
    for c in range(len(CLASSES)):
        idx = [int(i) for i in np.flatnonzero(labels == c) if skip is None or int(i) not in skip]
        out[c] = sorted(rng.choice(idx, size=n, replace=False).tolist())
    return out


def save_png(arr: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode="L").save(path, optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    rng = np.random.default_rng(SEED)
    xtr, ytr = load_idx(args.src / "train-images-idx3-ubyte.gz"), load_idx(args.src / "train-labels-idx1-ubyte.gz")
    xte, yte = load_idx(args.src / "t10k-images-idx3-ubyte.gz"), load_idx(args.src / "t10k-labels-idx1-ubyte.gz")

    cls_root, seg_root = args.out / "fashion_sample", args.out / "fashion_seg_sample"
    for root in (cls_root, seg_root):
        if root.exists():
            shutil.rmtree(root)
    train_idx = pick(ytr, N_TRAIN, rng)
    for c, idxs in train_idx.items():
        for i in idxs:
            save_png(xtr[i], cls_root / "train" / CLASSES[c] / f"{CLASSES[c]}_{i:05d}.png")
    for c, idxs in pick(yte, N_VALID, rng).items():
        for i in idxs:
            save_png(xte[i], cls_root / "valid" / CLASSES[c] / f"{CLASSES[c]}_{i:05d}.png")

    used = {i for idxs in train_idx.values() for i in idxs}
    for c, idxs in pick(ytr, N_SEG, rng, skip=used).items():
        for i in idxs:
            name = f"{CLASSES[c]}_{i:05d}"
            save_png(xtr[i], seg_root / "images" / f"{name}.png")
            save_png(((xtr[i] > THRESHOLD) * (c + 1)).astype(np.uint8), seg_root / "labels" / f"{name}_P.png")
    (seg_root / "codes.txt").write_text("\n".join(["background", *CLASSES]) + "\n")
    print(f"wrote {cls_root} and {seg_root}")


if __name__ == "__main__":
    main()
