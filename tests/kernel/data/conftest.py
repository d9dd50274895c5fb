"""Fixtures for the data-layer tests: a small folder tree of text 'images'."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def folder_tree(tmp_path: Path) -> Path:
    """train/{cat,dog}/*.txt and valid/{cat,dog}/*.txt; each file holds an integer."""
    for split, n in (("train", 6), ("valid", 3)):
        for lbl in ("cat", "dog"):
            d = tmp_path / split / lbl
            d.mkdir(parents=True)
            for i in range(n):
                (d / f"{lbl}_{i}.txt").write_text(str(i))
    (tmp_path / "train" / ".hidden.txt").write_text("0")
    (tmp_path / "notes.md").write_text("not an item")
    return tmp_path
