"""``python -m torchloom_text.demo --quick`` runs end to end: LM fine-tuning, ULMFiT classifier, predictions."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_demo_quick_runs_and_classifies_new_sentences(tmp_path, monkeypatch, capsys):
    from torchloom_text.demo import SENTENCES, main

    monkeypatch.chdir(tmp_path)
    res = main(["--quick", "--lm-epochs", "1"])
    assert set(res["predictions"]) == set(SENTENCES)
    assert all(label in ("fresh", "rotten") and 0.5 <= p <= 1 for label, p in res["predictions"].values())
    assert 0.5 <= res["accuracy"] <= 1
    out = capsys.readouterr().out
    assert "language model says: This movie is" in out and "validation accuracy" in out
