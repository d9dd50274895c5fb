"""The README's code runs as written."""
from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "plugins" / "tabular" / "README.md"


def test_readme_examples(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks
    ns: dict = {}
    for code in blocks:
        exec(compile(code, str(README), "exec"), ns)
    assert ns["learn"].validate()[1] > 0.83
    assert ns["preds"].shape == (100, 2) and (tmp_path / "adult_export.safetensors").is_file()
