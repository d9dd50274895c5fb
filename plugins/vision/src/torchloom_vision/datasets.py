"""Data that ships with the plugin (Fashion-MNIST samples as PNG folders) and the full Fashion-MNIST loader.

The full set is registered as dataset ``"fashion-mnist"``: ``torchloom.load_dataset("fashion-mnist")`` reads the
Debian package's copy (``/usr/share/datasets/fashion-mnist``) when present, otherwise downloads the canonical files
(checksum-verified) into ``torchloom.cache_dir() / "fashion-mnist"``.
"""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FASHION_CLASSES", "fashion_sample_path", "fashion_seg_sample_path", "load_idx", "FashionMNIST",
           "fashion_mnist", "FASHION_FILES", "FASHION_URL"]

_DATA = Path(__file__).resolve().parent / "assets"
FASHION_CLASSES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle_boot"]
LOCAL_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)
FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# sha256 of the files as published upstream (Zalando Research; MD5s as in its README)
FASHION_FILES = {
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}


def fashion_sample_path() -> Path:
    """Bundled sample: ``train/<class>/*.png`` (100 per class) and ``valid/<class>/*.png`` (30 per class)."""
    return _DATA / "fashion_sample"


def fashion_seg_sample_path() -> Path:
    """Bundled segmentation sample: ``images/*.png``, derived masks ``labels/*_P.png`` and ``codes.txt``."""
    return _DATA / "fashion_seg_sample"


def load_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (optionally gzipped) as a numpy array; a malformed file raises naming the path."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            b = f.read()
    except (OSError, EOFError) as e:
        raise ValueError(f"cannot read IDX file {path}: {e}") from e
    if len(b) < 4 or b[0] != 0 or b[1] != 0 or b[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    if len(b) - 4 - 4 * nd != int(np.prod(dims)):
        raise ValueError(f"{path}: IDX header says {dims} but the file holds {len(b) - 4 - 4 * nd} bytes")
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)


@dataclass
class FashionMNIST:
    """The full Fashion-MNIST arrays: 60,000 train and 10,000 test 28x28 uint8 images with labels 0-9."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    root: Path


def _find_local(dirs: list[Path], files: dict[str, str]) -> Path | None:
    for d in dirs:
        if all((d / f).is_file() for f in files):
            return d
    return None


def fashion_mnist(root: str | os.PathLike[str] | None = None, download: bool = True, url: str = FASHION_URL,
                  checksums: dict[str, str] | None = None, search_local: bool = True) -> FashionMNIST:
    """Load the full Fashion-MNIST: files already in ``root``, else the Debian copy (``search_local``), else a
    checksum-verified download of ``url`` + file name into ``root`` (default: the torchloom cache dir)."""
    files = dict(FASHION_FILES if checksums is None else checksums)
    dirs = ([Path(root)] if root is not None else []) + (list(LOCAL_DIRS) if search_local else [])
    local = _find_local(dirs, files)
    if local is None:
        from torchloom import cache_dir, download_file

        local = Path(root) if root is not None else cache_dir() / "fashion-mnist"
        if not download:
            missing = [f for f in files if not (local / f).is_file()]
            raise FileNotFoundError(f"Fashion-MNIST files {missing} not found in {local} or {LOCAL_DIRS[0]} "
                                    "(apt-get install dataset-fashion-mnist, or call with download=True)")
        for f, sha in files.items():
            download_file(url.rstrip("/") + "/" + f, local / f, sha)
    arr = {f: load_idx(local / f) for f in files}
    return FashionMNIST(arr["train-images-idx3-ubyte.gz"], arr["train-labels-idx1-ubyte.gz"],
                        arr["t10k-images-idx3-ubyte.gz"], arr["t10k-labels-idx1-ubyte.gz"],
                        list(FASHION_CLASSES), local)
