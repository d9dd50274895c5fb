"""Every Python block of the root README runs, in order, with every plugin installed (the Quickstart on
the bundled Fashion-MNIST sample)."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from torchloom.testing import code_blocks, run_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(autouse=True)
def _agg():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_root_readme_runs(tmp_path, one_torch_thread):
    torch.manual_seed(0)
    ns = run_markdown(README, cwd=tmp_path)
    with open(tmp_path / "history.csv", newline="") as f:  # the Quickstart's csv_logger (later blocks
        rows = list(csv.DictReader(f))                     # rebind `learn`; the file is the record)
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert float(rows[-1]["accuracy"]) > 0.3  # 10 classes, with mixup: chance is 0.1
    assert int(ns["interp"].confusion_matrix().sum()) == len(ns["interp"].dl.dataset) == 300


def test_only_documented_blocks_are_skipped():
    skipped = [b for b in code_blocks(README) if b.skip]
    assert [("grad-norm" in b.code) for b in skipped] == [True]
