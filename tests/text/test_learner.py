"""Learners: encoder save/load (safe format, vocab remapping, architecture check), predict, get_preds order,
the RNN callbacks and gradual unfreezing."""
from __future__ import annotations

import pytest
import torch
from torchloom_text import (
    EncoderMismatchError,
    GradualUnfreeze,
    ModelResetter,
    RNNRegularizer,
    TextDataLoaders,
    language_model_learner,
    text_classifier_learner,
)

TINY = dict(emb_sz=16, n_hid=24, n_layers=2)


@pytest.fixture(scope="module")
def lm_dls(rt_small):
    return TextDataLoaders.from_df(rt_small, text_col="text", is_lm=True, valid_pct=0.1, seed=0, bs=8, seq_len=20,
                                   n_workers=1, device="cpu")


def test_lm_learner_trains_and_generates(lm_dls, tmp_path):
    torch.manual_seed(0)
    learn = language_model_learner(lm_dls, config=TINY, path=tmp_path, progress=False)
    assert any(isinstance(c, ModelResetter) for c in learn.cbs) and any(isinstance(c, RNNRegularizer)
                                                                         for c in learn.cbs)
    before = learn.validate()
    learn.fit(1, 3e-3)
    after = learn.validate()
    # perplexity weights tokens (the last LM batch is shorter), the loss column weights rows: close, not equal
    assert after[0] < before[0] and after[2] == pytest.approx(torch.tensor(after[0]).exp().item(), rel=3e-2)
    text = learn.predict("This movie is", n_words=5, seed=0)
    assert text.startswith("This movie is") and len(text.split()) >= 6 and "xxunk" not in text
    assert text == learn.predict("This movie is", n_words=5, seed=0)


def test_encoder_roundtrip_remaps_vocab_rows(lm_dls, rt_small, tmp_path):
    torch.manual_seed(0)
    lm = language_model_learner(lm_dls, config=TINY, path=tmp_path, progress=False)
    f = lm.save_encoder("enc")
    assert f == tmp_path / "models" / "enc.safetensors" and f.read_bytes()[:8] != b"\x80\x04"  # not a pickle
    # a classifier with its own (different) vocabulary
    dls = TextDataLoaders.from_df(rt_small[:500], text_col="text", label_col="label", seed=1, bs=8, n_workers=1,
                                  device="cpu", min_freq=1)
    lm_vocab, clas_vocab = lm_dls.vocab, dls.vocab[0]
    assert lm_vocab != clas_vocab
    clf = text_classifier_learner(dls, config=TINY, path=tmp_path, progress=False)
    clf.load_encoder("enc")
    old = lm.model[0].encoder.weight.detach()
    new = clf.model[0].module.encoder.weight.detach()
    shared = [w for w in clas_vocab if w in lm_vocab and w != "xxfake"]
    missing = [w for w in clas_vocab if w not in lm_vocab]
    assert len(shared) > 50 and len(missing) > 50
    for w in shared[:200]:
        assert torch.equal(new[clas_vocab.index(w)], old[lm_vocab.index(w)]), w
    assert torch.allclose(new[clas_vocab.index(missing[0])], old.mean(0))
    lstm_old = lm.model[0].rnns[1].module.weight_hh_l0
    assert torch.equal(clf.model[0].module.rnns[1].module.weight_hh_l0, lstm_old)
    assert not any(p.requires_grad for p in clf.model[0].parameters())  # frozen up to the head


def test_load_encoder_refuses_another_architecture(lm_dls, tmp_path):
    lm = language_model_learner(lm_dls, config=TINY, path=tmp_path, progress=False)
    lm.save_encoder("small")
    other = language_model_learner(lm_dls, config=dict(emb_sz=16, n_hid=32, n_layers=3), path=tmp_path,
                                   progress=False)
    with pytest.raises(EncoderMismatchError, match=r"AWD_LSTM \(emb_sz=16, n_hid=24, n_layers=2\) encoder, but "
                                                   r"this model's encoder is a AWD_LSTM \(emb_sz=16, n_hid=32"):
        other.load_encoder("small")
    (tmp_path / "models" / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="junk.safetensors is not a safetensors encoder file"):
        other.load_encoder("junk")


def test_classifier_get_preds_in_dataset_order_predict_and_show_results(clas_dls, tmp_path):
    torch.manual_seed(0)
    learn = text_classifier_learner(clas_dls, config=TINY, path=tmp_path, progress=False)
    learn.fit(1, 1e-2)
    assert clas_dls.valid.get_idxs() != sorted(clas_dls.valid.get_idxs())  # the loader sorts by length
    preds, targs = learn.get_preds()
    ds = clas_dls.valid_ds
    assert targs.tolist() == [int(ds[i][1]) for i in range(len(ds))]
    learn.model.eval()
    for i in (0, 7, len(ds) - 1):
        with torch.no_grad():
            one = torch.softmax(learn.model(ds[i][0].as_subclass(torch.Tensor)[None]), -1)[0]
        assert torch.allclose(preds[i], one, atol=1e-5), i
    label, idx, probs = learn.predict("An utterly charming, funny and moving film.")
    assert label in ("fresh", "rotten") and label == ["fresh", "rotten"][int(idx)]
    assert probs.shape == (2,) and float(probs.sum()) == pytest.approx(1.0)
    res = learn.show_results(max_n=4, show=False)
    assert list(res.columns) == ["text", "category", "category_"] and len(res) == 4


def test_long_text_is_truncated_to_max_len(clas_dls, tmp_path):
    learn = text_classifier_learner(clas_dls, config=TINY, max_len=8, seq_len=4, path=tmp_path, progress=False)
    long = " ".join(["great"] * 500)
    label, _, probs = learn.predict(long)
    assert label in ("fresh", "rotten") and torch.isfinite(probs).all()


def test_rnn_regularizer_adds_ar_tar_to_the_training_loss(clas_dls, tmp_path):
    torch.manual_seed(0)
    learn = text_classifier_learner(clas_dls, config=TINY, path=tmp_path, progress=False)
    seen = []

    from torchloom import Callback

    class Spy(Callback):
        order = 50

        def after_loss(self):
            if self.training:
                seen.append((float(self.learn.loss), float(self.learn.loss_grad.detach())))
                raise __import__("torchloom").CancelFitException()

    learn.fit(1, 1e-3, cbs=[Spy()])
    loss, loss_grad = seen[0]
    assert loss_grad > loss  # alpha*out² + beta*Δraw² > 0
    learn.use("rnn_regularizer", alpha=0.0, beta=0.0)
    seen.clear()
    learn.fit(1, 1e-3, cbs=[Spy()])
    assert seen[0][1] == pytest.approx(seen[0][0])


def test_gradual_unfreeze_callback_unfreezes_one_group_per_epoch(clas_dls, tmp_path):
    torch.manual_seed(0)
    learn = text_classifier_learner(clas_dls, config=TINY, path=tmp_path, progress=False).use("gradual_unfreeze")
    assert any(isinstance(c, GradualUnfreeze) for c in learn.cbs)
    n_groups = len(learn.opt.param_groups) if learn.opt is not None else 4
    trainable = []
    lrs = []
    from torchloom import Callback

    class Watch(Callback):
        order = 80

        def before_epoch(self):
            trainable.append([any(p.requires_grad for p in g["params"]) for g in self.learn.opt.param_groups])

        def after_batch(self):
            if self.training and self.iter == 0:
                lrs.append([h["lr"] for h in self.learn.opt.hypers])
            if self.training and self.iter == 1:
                raise __import__("torchloom").CancelEpochException()

    learn.fit(4, 1e-2, cbs=[Watch()])
    assert n_groups == 4
    assert trainable == [[False, False, False, True], [False, False, True, True], [False, True, True, True],
                         [True, True, True, True]]
    assert lrs[0][2] == pytest.approx(lrs[0][3] / 2.6) and lrs[0][0] == pytest.approx(lrs[0][3] / 2.6**3)
