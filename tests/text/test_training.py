"""A real (small) training on Rotten Tomatoes: the classifier learns well above chance; export round-trips."""
from __future__ import annotations

import time

import pytest
import torch
from torchloom_text import TextDataLoaders, text_classifier_learner

from torchloom import load_learner

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(rt_df, tmp_path_factory):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    df = rt_df.sample(8000, random_state=1).reset_index(drop=True)
    start = time.perf_counter()
    dls = TextDataLoaders.from_df(df, text_col="text", label_col="label", valid_pct=0.25, seed=0, bs=64,
                                  n_workers=1, device="cpu")
    learn = text_classifier_learner(dls, config=dict(emb_sz=64, n_hid=128, n_layers=2), drop_mult=0.5,
                                    path=tmp_path_factory.mktemp("clf"), progress=False)
    learn.fit_one_cycle(2, 1e-2)
    return learn, time.perf_counter() - start


def test_classifier_reaches_70_percent(trained):
    """Majority class: 57.8 %; TF-IDF + logistic regression on the full set: 78.3 %. A 2-epoch AWD-LSTM from
    scratch on 6,000 snippets reaches ~73 % (70 % asserted)."""
    learn, took = trained
    acc = float(learn.validate()[1])
    print(f"accuracy {acc:.3f} in {took:.0f} s")
    assert acc >= 0.70


def test_predict_agrees_with_get_preds_on_raw_text(trained):
    learn, _ = trained
    texts = ["One of the most exhilarating, beautifully acted films of the year.",
             "A tedious, witless mess that wastes a fine cast."]
    labels = [learn.predict(t)[0] for t in texts]
    assert labels == ["fresh", "rotten"]


def test_export_and_load_learner_predict_the_same(trained, tmp_path):
    learn, _ = trained
    learn.export(tmp_path / "clf")
    loaded = load_learner(tmp_path / "clf")
    text = "Funny, smart and moving."
    a, b = learn.predict(text), loaded.predict(text)
    assert a[0] == b[0] and torch.allclose(a[2], b[2], atol=1e-5)
