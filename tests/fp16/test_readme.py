"""The Python examples in plugins/fp16/README.md run as written (the reader's `dls` and `model`: synthetic data)."""
from __future__ import annotations

from pathlib import Path

from torchloom.testing import run_markdown, synth_learner

README = Path(__file__).resolve().parents[2] / "plugins/fp16" / "README.md"


def test_readme_examples_run(tmp_path, one_torch_thread):
    base = synth_learner(task="classification")
    reader = {"dls": base.dls, "model": base.model, "loss": base.loss_func}
    ns = run_markdown(README, namespace=reader, cwd=tmp_path)
    assert "learn" in ns or "opt" in ns
