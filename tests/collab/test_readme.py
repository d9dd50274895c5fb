"""The README's code runs as written."""
from __future__ import annotations

from pathlib import Path

from torchloom.testing import code_blocks, run_markdown

README = Path(__file__).resolve().parents[2] / "plugins" / "collab" / "README.md"


def test_readme_examples(tmp_path, capsys):
    assert not [b.line for b in code_blocks(README) if b.skip], "every block of this README must run"
    ns = run_markdown(README, cwd=tmp_path)  # every python block, in order, in one namespace
    assert ns["learn"].validate()[1] < 0.95
    assert ns["pcs"].shape[1] == 3
