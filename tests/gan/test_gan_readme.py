"""Every Python example in plugins/gan/README.md runs (in order, in one namespace, as a reader would)."""
from __future__ import annotations

from pathlib import Path

from tests.gan.helpers import needs_fashion
from torchloom.testing import code_blocks, run_markdown

README = Path(__file__).resolve().parents[2] / "plugins" / "gan" / "README.md"


def test_readme_has_examples():
    blocks = code_blocks(README)
    assert len(blocks) >= 4 and all(b.skip is None for b in blocks)  # every block runs, none marked no-run


@needs_fashion
def test_readme_examples_run(scorer, tmp_path, capsys):
    import matplotlib

    matplotlib.use("Agg")
    run_markdown(README, cwd=tmp_path)  # export() writes into the working directory
    assert "Fréchet distance" in capsys.readouterr().out
