"""``load_learner`` tokenizes raw text exactly as the exported learner did: the base tokenizer (a trained
subword model, as its JSON) and the rules travel in the export as data."""
from __future__ import annotations

import pytest
import torch
from torchloom_text import (
    SubwordTokenizer,
    TextDataLoaders,
    Tokenizer,
    WordTokenizer,
    text_classifier_learner,
)
from torchloom_text.rules import fix_html, lowercase, replace_rep

from torchloom import load_learner

pytest.importorskip("tokenizers")

TINY = dict(emb_sz=16, n_hid=24, n_layers=2)
TEXTS = ["A gorgeous, funny and deeply moving film.", "Tedious!!! A witless mess of a MOVIE..."]


def _learner(df, tmp_path, **kwargs):
    torch.manual_seed(0)
    dls = TextDataLoaders.from_df(df, text_col="text", label_col="label", valid_pct=0.25, seed=0, bs=16,
                                  n_workers=1, device="cpu", **kwargs)
    return text_classifier_learner(dls, config=TINY, path=tmp_path, progress=False)


def _tok_tfm(learn):
    return next(t for t in learn.dls.train_ds.tls[0].tfms.fs if isinstance(t, Tokenizer))


@pytest.mark.parametrize("model", ["bpe", "unigram"])
def test_subword_tokenizer_survives_export(rt_small, tmp_path, model):
    learn = _learner(rt_small[:600], tmp_path, tok=SubwordTokenizer(vocab_sz=300, model=model))
    learn.fit(1, 1e-3)
    learn.export(tmp_path / "clf")
    loaded = load_learner(tmp_path / "clf")
    tok, back = _tok_tfm(learn), _tok_tfm(loaded)
    assert isinstance(back.tok, SubwordTokenizer) and back.tok.model == model
    for t in TEXTS:
        pieces = tok(t)
        assert back(t) == pieces and any(p.startswith("▁") for p in pieces)  # subword pieces, not words
        a, b = learn.predict(t), loaded.predict(t)
        assert a[0] == b[0] and torch.allclose(a[2], b[2], atol=1e-6)


def test_rules_survive_export_and_unknown_ones_are_refused(rt_small, tmp_path):
    rules = [fix_html, replace_rep, lowercase]  # no case markers: "MOVIE" stays one lowercase word
    learn = _learner(rt_small[:400], tmp_path, rules=rules)
    learn.export(tmp_path / "clf")
    back = _tok_tfm(load_learner(tmp_path / "clf"))
    assert back.rules == rules and isinstance(back.tok, WordTokenizer)
    assert back(TEXTS[1]) == _tok_tfm(learn)(TEXTS[1]) and "xxup" not in back(TEXTS[1])

    def shout(t: str) -> str:
        return t.upper()

    bad = _learner(rt_small[:400], tmp_path, rules=[shout, lowercase])
    with pytest.raises(TypeError, match="rule .*shout.* is not one of torchloom_text.rules"):
        bad.export(tmp_path / "bad")
    assert not (tmp_path / "bad").exists() and not (tmp_path / "bad.pt").exists()
