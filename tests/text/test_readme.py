"""Every Python example of plugins/text/README.md runs (in a temporary folder) and does what it says."""
from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "plugins" / "text" / "README.md"


def test_readme_examples_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"README.md[python block {i}]", "exec"), ns)
    assert (tmp_path / "models" / "finetuned.safetensors").is_file()
    assert ns["label"] in ("fresh", "rotten")
    out = capsys.readouterr().out
    assert "i do n't think it 's THAT good … Really !!!" in out
