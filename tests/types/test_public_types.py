"""mypy resolves ``from torchloom import Learner`` (and the other public names) to their real types."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_mypy_sees_real_types_through_the_public_names() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(HERE / "mypy.ini"), "--no-incremental",
                           str(HERE / "user_script.py")], capture_output=True, text=True, cwd=HERE)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out  # every assert_type held: no public name is Any
    assert 'Revealed type is "torchloom._learner.Learner"' in out, out
    assert "-> torchloom._learner.Learner" in out, out  # load_learner's signature
    assert '"Any"' not in out, out


def test_the_check_fails_when_a_name_is_any(tmp_path: Path) -> None:
    script = tmp_path / "bad.py"
    script.write_text("from typing import Any, assert_type\nfrom torchloom import Learner\n"
                      "def f(x: Any) -> None:\n    assert_type(x, Learner)\n")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(HERE / "mypy.ini"), "--no-incremental",
                           str(script)], capture_output=True, text=True, cwd=HERE)
    assert proc.returncode == 1 and 'Expression is of type "Any", not "Learner"' in proc.stdout, proc.stdout
