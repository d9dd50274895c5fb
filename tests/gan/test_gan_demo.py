"""``python -m torchloom_gan.demo`` writes a PNG grid of samples and the score beside it."""
from __future__ import annotations

import json

from tests.gan.helpers import needs_fashion

pytestmark = needs_fashion


def test_demo_writes_a_grid_and_the_score(scorer, tmp_path, capsys):
    from PIL import Image
    from torchloom_gan.demo import main

    assert main(["--n-train", "640", "--epochs", "1", "--features", "8", "--out", str(tmp_path)]) == 0
    img = Image.open(tmp_path / "samples.png")
    assert img.size == ((8 * 34 + 2) * 3, (8 * 34 + 2) * 3)
    report = json.loads((tmp_path / "score.json").read_text())
    assert report["iterations"] == 10 and report["classifier_accuracy"] >= 0.9
    for key in ("trained", "untrained"):
        assert report[key]["fid"] > 0 and 0 <= report[key]["coverage"] <= 1 and report[key]["n"] == 2000
    assert "trained generator:" in capsys.readouterr().out
