"""The kernel's tests follow its source: each subpackage of ``torchloom`` has its folder here.

``torchloom/data/`` is tested in ``tests/kernel/data/``, a private ``torchloom/_persist/`` in
``tests/kernel/persist/``; the README (Development) says where tests of the top-level modules live.
"""
from __future__ import annotations

from pathlib import Path

import torchloom

PKG = Path(torchloom.__file__).parent
HERE = Path(__file__).parent


def test_each_subpackage_has_its_test_folder() -> None:
    subpackages = sorted(p.name for p in PKG.iterdir() if (p / "__init__.py").is_file())
    assert {"data", "callbacks", "_persist"} <= set(subpackages)
    missing = [f"torchloom/{n}/ -> tests/kernel/{n.lstrip('_')}/" for n in subpackages
               if not (HERE / n.lstrip("_")).is_dir()]
    assert missing == [], "give each subpackage a test folder"


def test_test_folders_hold_tests() -> None:
    folders = [d for d in HERE.iterdir() if d.is_dir() and d.name != "__pycache__"]
    empty = [d.name for d in folders if not any(d.glob("test_*.py"))]
    assert empty == []
