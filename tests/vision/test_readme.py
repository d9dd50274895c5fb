"""The Python example in plugins/vision/README.md runs as written, on the bundled sample, and learns."""
from __future__ import annotations

from pathlib import Path

import torch

from torchloom.testing import run_markdown

README = Path(__file__).resolve().parents[2] / "plugins" / "vision" / "README.md"


def test_readme_example_trains_and_exports(tmp_path, one_torch_thread):
    torch.manual_seed(0)
    ns = run_markdown(README, cwd=tmp_path)
    assert (tmp_path / "fashion.safetensors").exists()
    assert ns["learn"].recorder.values[-1][2] > 0.35  # 10 classes: chance is 0.1
