"""Every Python example of plugins/text/README.md runs (in a temporary folder) and does what it says; its
deployment command runs, and its consumer (ONNX Runtime, numpy and the standard library only) gives
``learn.predict``'s label and probabilities on real snippets and on text that exercises every rule."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from torchloom.testing import code_blocks, run_markdown

README = Path(__file__).resolve().parents[2] / "plugins" / "text" / "README.md"

TRICKY = ["I don't think it's THAT good... Really!!! <br />A  so-so, so so so so film &amp; a #1 hit/miss.",
          "WOW. Ok ok ok OK. &quot;Brilliant&quot; -- 10/10, would watch again; A+ \\n The End",
          ""]


def test_readme_examples_run(tmp_path, capsys):
    pytest.importorskip("onnxscript")
    blocks = code_blocks(README)
    assert len(blocks) >= 2 and all(b.skip is None for b in blocks)  # every block runs, none marked no-run
    ns = run_markdown(README, cwd=tmp_path)
    assert (tmp_path / "models" / "finetuned.safetensors").is_file()
    assert ns["label"] in ("fresh", "rotten")
    out = capsys.readouterr().out
    assert "i do n't think it 's THAT good … Really !!!" in out

    learn, df = ns["learn"], ns["df"]
    texts = df["text"].tolist()[:150] + TRICKY
    for text in texts:
        label, _, probs = learn.predict(text)
        got_label, got_probs = ns["predict_text"](text)
        assert got_label == label, text
        np.testing.assert_allclose(got_probs, probs.numpy(), atol=1e-5, err_msg=text)

    (cmd,) = [b.code.strip() for b in code_blocks(README, "bash")]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(cmd, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(open(tmp_path / "preds.csv", encoding="utf-8")))
    assert [r["item"] for r in rows] == texts[:50]
    assert [r["prediction"] for r in rows] == [learn.predict(t)[0] for t in texts[:50]]
