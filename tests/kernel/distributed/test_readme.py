"""The README's scale examples run: the training script alone and under torchrun, and the compile line."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from torchloom.testing import synth_learner

README = Path(__file__).resolve().parents[3] / "README.md"


def _block(marker: str) -> str:
    m = re.search(rf"<!-- {marker} -->\s*```python\n(.*?)```", README.read_text(), re.S)
    assert m, f"README.md has no python block after <!-- {marker} -->"
    return m.group(1)


def _table(out: str) -> list[str]:
    return [ln for ln in out.splitlines() if re.match(r"\d+\s+\d", ln)]


def test_readme_training_script_runs_alone_and_under_torchrun(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(_block("readme-ddp-example"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    alone = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=120)
    assert alone.returncode == 0, alone.stderr[-3000:]
    rows = _table(alone.stdout)
    assert len(rows) == 3 and float(rows[-1].split()[3]) > 0.8  # epoch table: the accuracy column
    (tmp_path / "models" / "model.safetensors").unlink()
    dist = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert dist.returncode == 0, dist.stderr[-3000:]
    assert len(_table(dist.stdout)) == 3  # the epoch table comes from rank 0 only
    assert dist.stdout.count("train_loss") == 1
    assert (tmp_path / "models" / "model.safetensors").exists()


def test_readme_compile_line_configures_torch_compile() -> None:
    learn = synth_learner()
    exec(_block("readme-compile-example"), {"learn": learn})
    assert learn.compile.compile_kwargs == {"mode": "max-autotune"}
