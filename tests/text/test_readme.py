"""Every Python example of plugins/text/README.md runs (in a temporary folder) and does what it says."""
from __future__ import annotations

from pathlib import Path

from torchloom.testing import code_blocks, run_markdown

README = Path(__file__).resolve().parents[2] / "plugins" / "text" / "README.md"


def test_readme_examples_run(tmp_path, capsys):
    blocks = code_blocks(README)
    assert len(blocks) >= 2 and all(b.skip is None for b in blocks)  # every block runs, none marked no-run
    ns = run_markdown(README, cwd=tmp_path)
    assert (tmp_path / "models" / "finetuned.safetensors").is_file()
    assert ns["label"] in ("fresh", "rotten")
    out = capsys.readouterr().out
    assert "i do n't think it 's THAT good … Really !!!" in out
