"""Every Python example in plugins/gan/README.md runs (in order, in one namespace, as a reader would)."""
from __future__ import annotations

import re
from pathlib import Path

from ganhelp import needs_fashion

README = Path(__file__).resolve().parents[2] / "plugins" / "gan" / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples():
    assert len(python_blocks()) >= 4


@needs_fashion
def test_readme_examples_run(scorer, tmp_path, monkeypatch, capsys):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)  # export() writes into the working directory
    ns: dict = {}
    for i, block in enumerate(python_blocks()):
        try:
            exec(compile(block, f"README.md block {i}", "exec"), ns)
        except Exception as e:
            raise AssertionError(f"README example {i} failed: {type(e).__name__}: {e}\n{block}") from e
    assert "Fréchet distance" in capsys.readouterr().out
