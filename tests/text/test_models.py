"""AWD-LSTM pieces: dropouts, weight dropout through the fused LSTM, stateful hidden + reset, the classifier's
BPTT encoder and masked pooling (padding must not change a text's features)."""
from __future__ import annotations

import torch
from torch import nn
from torchloom_text import (
    AWD_LSTM,
    EmbeddingDropout,
    RNNDropout,
    SentenceEncoder,
    WeightDropout,
    get_language_model,
    get_text_classifier,
    masked_concat_pool,
    pad_input_chunk,
)


def test_rnn_dropout_is_one_mask_per_sequence():
    torch.manual_seed(0)
    x = torch.ones(4, 10, 8)
    y = RNNDropout(0.5).train()(x)
    assert torch.equal(y[:, :1].expand_as(y), y)  # same mask at every step
    assert set(y.unique().tolist()) <= {0.0, 2.0}
    assert torch.equal(RNNDropout(0.5).eval()(x), x)


def test_embedding_dropout_drops_whole_words():
    torch.manual_seed(0)
    emb = nn.Embedding(50, 6)
    ed = EmbeddingDropout(emb, 0.5).train()
    words = torch.arange(50).repeat(2, 1)
    out = ed(words)
    zero_rows = (out[0] == 0).all(-1)
    assert 5 < int(zero_rows.sum()) < 45 and torch.equal(zero_rows, (out[1] == 0).all(-1))
    assert torch.allclose(ed.eval()(words), emb(words))


def test_weight_dropout_drops_hidden_weights_and_keeps_the_parameter():
    torch.manual_seed(0)
    lstm = nn.LSTM(4, 5, batch_first=True)
    wd = WeightDropout(lstm, 0.9)
    x = torch.randn(2, 3, 4)
    wd.eval()
    ref = wd(x)[0]
    wd.train()
    out = wd(x)[0]
    assert not torch.allclose(out, ref)
    assert isinstance(lstm.weight_hh_l0, nn.Parameter) and set(dict(lstm.named_parameters())) == {
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}
    out.sum().backward()
    assert lstm.weight_hh_l0.grad is not None and (lstm.weight_hh_l0.grad == 0).float().mean() > 0.5
    wd.eval()
    assert torch.allclose(wd(x)[0], ref)  # the real weights were not changed by the dropped copy


def test_awd_lstm_carries_state_until_reset():
    torch.manual_seed(0)
    m = AWD_LSTM(30, 8, 12, 2, hidden_p=0, input_p=0, embed_p=0, weight_p=0).eval()
    x = torch.randint(2, 30, (3, 10))
    whole = m(x)
    m.reset()
    first, second = m(x[:, :6]), m(x[:, 6:])
    assert torch.allclose(torch.cat([first, second], 1), whole, atol=1e-6)  # state carried between calls
    m.reset()
    from_zero = m(x[:, 6:])
    assert not torch.allclose(from_zero, second)
    m(x[:, :6])
    m.reset()
    assert torch.allclose(m(x[:, 6:]), from_zero, atol=1e-6)  # reset really forgets


def test_language_model_is_tied_and_shapes():
    lm = get_language_model(40, dict(emb_sz=8, n_hid=12, n_layers=3))
    assert lm[1].decoder.weight is lm[0].encoder.weight
    out = lm(torch.randint(0, 40, (2, 7)))
    assert out.shape == (2, 7, 40)


def test_masked_concat_pool_ignores_padding():
    out = torch.arange(2 * 5 * 1, dtype=torch.float).view(2, 5, 1)
    mask = torch.tensor([[False] * 5, [True, True, False, False, True]])
    pooled = masked_concat_pool(out, mask, bptt=2)  # padding: one whole chunk first, the rest at the end
    assert pooled[0].tolist() == [4.0, 4.0, 2.0]
    assert pooled[1].tolist() == [8.0, 8.0, 7.5]  # last real token, max, mean of positions 2-3


def test_classifier_features_do_not_depend_on_padding_or_batch():
    """A text gets the same prediction alone and padded inside a batch of longer texts (fastai's invariant)."""
    torch.manual_seed(0)
    clf = get_text_classifier(50, 3, seq_len=4, config=dict(emb_sz=8, n_hid=10, n_layers=2), max_len=None).eval()
    texts = [torch.randint(2, 50, (n,)) for n in (13, 9, 6, 3)]
    batch = torch.stack([s[0] for s in pad_input_chunk([(t,) for t in texts], pad_idx=1, seq_len=4)])
    together = clf(batch)
    for t, row in zip(texts, together):
        assert torch.allclose(clf(t[None]), row[None], atol=1e-5)


def test_sentence_encoder_max_len_keeps_the_last_chunks():
    enc = SentenceEncoder(4, AWD_LSTM(30, 6, 8, 1, hidden_p=0, input_p=0, embed_p=0, weight_p=0), max_len=8).eval()
    out, mask = enc(torch.randint(2, 30, (2, 20)))
    assert out.shape == (2, 8, 6) and mask.shape == (2, 8)
