"""Fashion-MNIST loader: the local Debian copy, and the checksum-verified download path (no real network)."""
from __future__ import annotations

import gzip
import hashlib
import socket
from pathlib import Path

import numpy as np
import pytest
from torchloom_vision.datasets import FASHION_FILES, LOCAL_DIRS, fashion_mnist, load_idx

import torchloom
from torchloom import DownloadError


def write_idx(path: Path, arr: np.ndarray) -> str:
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def tiny_mirror(tmp_path):
    """A 'server' folder with tiny IDX files under the canonical names, and their checksums."""
    src = tmp_path / "mirror"
    src.mkdir()
    rng = np.random.default_rng(0)
    sums = {}
    for name in FASHION_FILES:
        n = 20 if name.startswith("train") else 10
        arr = rng.integers(0, 255, (n, 28, 28)) if "images" in name else rng.integers(0, 10, (n,))
        sums[name] = write_idx(src / name, arr)
    return src, sums


@pytest.mark.skipif(not all((LOCAL_DIRS[0] / f).exists() for f in FASHION_FILES), reason="no Debian copy")
def test_registered_dataset_loads_local_copy():
    assert "fashion-mnist" in torchloom.get_registry().names("dataset")
    ds = torchloom.load_dataset("fashion-mnist")
    assert ds.x_train.shape == (60000, 28, 28) and ds.x_test.shape == (10000, 28, 28)
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert ds.classes[9] == "Ankle_boot"


def test_download_from_url_verifies_checksums(tmp_path, tiny_mirror):
    src, sums = tiny_mirror
    cache = tmp_path / "cache"
    ds = fashion_mnist(root=cache, url=src.as_uri(), checksums=sums, search_local=False)
    assert ds.x_train.shape == (20, 28, 28) and ds.y_test.shape == (10,)
    assert sorted(p.name for p in cache.iterdir()) == sorted(FASHION_FILES)
    # a second call uses the cached copy: works with the mirror gone
    for f in src.iterdir():
        f.unlink()
    assert fashion_mnist(root=cache, url=src.as_uri(), checksums=sums, search_local=False).x_train.shape[0] == 20


def test_corrupted_download_is_refused(tmp_path, tiny_mirror):
    src, sums = tiny_mirror
    bad = dict(sums, **{"train-images-idx3-ubyte.gz": "0" * 64})
    with pytest.raises(DownloadError, match="checksum"):
        fashion_mnist(root=tmp_path / "c", url=src.as_uri(), checksums=bad, search_local=False)
    assert not (tmp_path / "c" / "train-images-idx3-ubyte.gz").exists()


def test_offline_error_is_clear(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(DownloadError, match="offline|could not download"):
        fashion_mnist(root=tmp_path / "c", url=f"http://127.0.0.1:{port}/", search_local=False)
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        fashion_mnist(root=tmp_path / "c", download=False, search_local=False)


def test_load_idx_rejects_bad_files(tmp_path):
    p = tmp_path / "x.gz"
    with gzip.open(p, "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (5).to_bytes(4, "big") + b"abc")
    with pytest.raises(ValueError, match="x.gz"):
        load_idx(p)
