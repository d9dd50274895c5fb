"""core/README.md (the kernel's package page) runs as written, with only the kernel installed."""
from __future__ import annotations

from pathlib import Path

from torchloom.testing import run_markdown

README = Path(__file__).resolve().parents[3] / "core" / "README.md"


def test_core_readme_runs_and_the_model_learns(tmp_path, capsys, one_torch_thread):
    ns = run_markdown(README, cwd=tmp_path)
    assert ns["learn"].csv_logger.read()[-1]["accuracy"] > 0.8
    assert int(ns["interp"].confusion_matrix().sum()) == 100
    assert "Total params: 99\n" in capsys.readouterr().out  # (2*16 + 16) + (16*3 + 3)
    assert (tmp_path / "history.csv").exists()
