"""AWD-LSTM (Merity et al. 2017) as in fastai: embedding dropout, variational dropout, DropConnect on the
hidden-to-hidden weights, a stateful hidden state with ``reset``, and a tied language-model decoder.

Weight dropout is applied with ``torch.func.functional_call``: the dropped ``weight_hh`` replaces the
parameter for one call of the ``nn.LSTM``, so the fused LSTM kernels (cuDNN on GPU, the aten op on CPU)
still run and the state dict keeps the usual names, with no ``flatten_parameters`` workaround.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

__all__ = ["RNNDropout", "WeightDropout", "EmbeddingDropout", "AWD_LSTM", "lstm_loop", "LinearDecoder", "SequentialRNN",
           "get_language_model", "awd_lstm_lm_config", "awd_lstm_clas_config", "awd_lstm_lm_split"]

awd_lstm_lm_config = dict(emb_sz=400, n_hid=1152, n_layers=3, pad_token=1, bidir=False, output_p=0.1,
                          hidden_p=0.15, input_p=0.25, embed_p=0.02, weight_p=0.2, tie_weights=True, out_bias=True)
awd_lstm_clas_config = dict(emb_sz=400, n_hid=1152, n_layers=3, pad_token=1, bidir=False, output_p=0.4,
                            hidden_p=0.3, input_p=0.4, embed_p=0.05, weight_p=0.5)


class RNNDropout(nn.Module):
    """Variational dropout: one mask per sequence, the same at every time step (``x``: batch, seq, features)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        mask = x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1 - self.p).div_(1 - self.p)
        return x * mask


class WeightDropout(nn.Module):
    """DropConnect on ``layer_names`` of ``module`` (default: an LSTM's ``weight_hh_l0``) during training."""

    def __init__(self, module: nn.Module, weight_p: float, layer_names: str | list[str] = "weight_hh_l0") -> None:
        super().__init__()
        self.module, self.weight_p = module, weight_p
        self.layer_names = [layer_names] if isinstance(layer_names, str) else list(layer_names)

    def forward(self, *args: Any) -> Any:
        if not self.training or self.weight_p == 0.0:
            return self.module(*args)
        dropped = {n: F.dropout(getattr(self.module, n), p=self.weight_p, training=True) for n in self.layer_names}
        return functional_call(self.module, dropped, args, strict=False)

    def reset(self) -> None:
        if hasattr(self.module, "reset"):
            self.module.reset()


class EmbeddingDropout(nn.Module):
    """Drop whole rows of the embedding (every occurrence of a word) with probability ``embed_p``."""

    def __init__(self, emb: nn.Embedding, embed_p: float) -> None:
        super().__init__()
        self.emb, self.embed_p = emb, embed_p

    def forward(self, words: Tensor, scale: float | None = None) -> Tensor:
        if self.training and self.embed_p != 0:
            size = (self.emb.weight.size(0), 1)
            mask = F.dropout(self.emb.weight.new_ones(size), self.embed_p, training=True)
            w = self.emb.weight * mask
        else:
            w = self.emb.weight
        if scale:
            w = w * scale
        return F.embedding(words, w, self.emb.padding_idx, self.emb.max_norm, self.emb.norm_type,
                           self.emb.scale_grad_by_freq, self.emb.sparse)


class AWD_LSTM(nn.Module):
    """The AWD-LSTM encoder: ``forward(tokens) -> last layer's output`` (batch, seq, emb_sz).

    The hidden state is kept between calls (truncated BPTT over a stream) until ``reset()``. The outputs of
    every layer before and after dropout of the last call are kept in ``raw_outputs``/``outputs`` for the
    AR/TAR regularizer (``keep_outputs``).
    """

    initrange = 0.1

    def __init__(self, vocab_sz: int, emb_sz: int, n_hid: int, n_layers: int, pad_token: int = 1,
                 hidden_p: float = 0.2, input_p: float = 0.6, embed_p: float = 0.1, weight_p: float = 0.5,
                 bidir: bool = False) -> None:
        super().__init__()
        if bidir:
            raise ValueError("AWD_LSTM: bidir=True is not supported (a language model reads one way)")
        self.vocab_sz, self.emb_sz, self.n_hid, self.n_layers = vocab_sz, emb_sz, n_hid, n_layers
        self.pad_token, self.bs = pad_token, 1
        self.encoder = nn.Embedding(vocab_sz, emb_sz, padding_idx=pad_token)
        self.encoder_dp = EmbeddingDropout(self.encoder, embed_p)
        self.rnns = nn.ModuleList([
            WeightDropout(nn.LSTM(emb_sz if i == 0 else n_hid, emb_sz if i == n_layers - 1 else n_hid, 1,
                                  batch_first=True), weight_p)
            for i in range(n_layers)])
        self.encoder.weight.data.uniform_(-self.initrange, self.initrange)
        self.input_dp = RNNDropout(input_p)
        self.hidden_dps = nn.ModuleList([RNNDropout(hidden_p) for _ in range(n_layers)])
        self.keep_outputs = False
        self.raw_outputs: list[Tensor] = []
        self.outputs: list[Tensor] = []
        self.reset()

    def forward(self, inp: Tensor, from_embeds: bool = False) -> Tensor:
        bs = inp.shape[0]
        if self.hidden[0][0].device != inp.device:
            self.bs = bs
            self.reset(device=inp.device)
        elif bs != self.bs:
            self._change_hidden(bs)
        out = self.input_dp(inp if from_embeds else self.encoder_dp(inp))
        new_hidden, raw, outs = [], [], []
        for i, (rnn, hid_dp) in enumerate(zip(self.rnns, self.hidden_dps)):
            out, h = rnn(out, self.hidden[i])
            new_hidden.append(h)
            if self.keep_outputs:
                raw.append(out)
            if i != self.n_layers - 1:
                out = hid_dp(out)
            if self.keep_outputs:
                outs.append(out)
        self.hidden = [(h.detach(), c.detach()) for h, c in new_hidden]
        self.raw_outputs, self.outputs = raw, outs
        return out

    def forward_stateless(self, inp: Tensor) -> Tensor:
        """One pass over ``inp`` from a zero state, without dropout or kept state: the eval-mode path that
        ``torch.export`` traces (no Python-side state, so batch and sequence length stay symbolic).

        While exporting, each LSTM runs as a ``torch.while_loop`` over time (ONNX ``Loop``), because
        ``nn.LSTM``'s decomposition unrolls it over the example's length and fixes the sequence axis."""
        out = self.encoder(inp)
        exporting = torch.compiler.is_exporting()
        for i, rnn in enumerate(self.rnns):
            if exporting:
                out = lstm_loop(rnn.module, out)
            else:
                h0 = out.new_zeros(1, inp.shape[0], self.n_hid if i != self.n_layers - 1 else self.emb_sz)
                out, _ = rnn.module(out, (h0, h0))
        return out

    def _change_hidden(self, bs: int) -> None:
        """Keep the state of the first ``bs`` rows (new rows start from zeros): ``SentenceEncoder`` feeds only
        the rows whose text has started, the batch being sorted by decreasing length."""
        new = []
        for h, c in self.hidden:
            if bs > self.bs:
                z = h.new_zeros(1, bs - self.bs, h.shape[2])
                new.append((torch.cat([h, z], dim=1), torch.cat([c, z], dim=1)))
            else:
                new.append((h[:, :bs].contiguous(), c[:, :bs].contiguous()))
        self.hidden, self.bs = new, bs

    def _one_hidden(self, i: int, device: Any) -> Tensor:
        nh = self.n_hid if i != self.n_layers - 1 else self.emb_sz
        return torch.zeros(1, self.bs, nh, device=device)

    def reset(self, device: Any = None) -> None:
        """Zero the hidden state (call between independent texts)."""
        if device is None:
            device = self.encoder.weight.device
        self.hidden = [(self._one_hidden(i, device), self._one_hidden(i, device)) for i in range(self.n_layers)]


def lstm_loop(lstm: nn.LSTM, x: Tensor) -> Tensor:
    """``lstm(x)[0]`` from a zero state for a one-layer, one-way, ``batch_first`` LSTM, written as a
    ``torch.while_loop`` over the time steps: traced once whatever the sequence length (ONNX ``Loop``)."""
    if lstm.num_layers != 1 or lstm.bidirectional or lstm.proj_size or not lstm.batch_first:
        raise ValueError("lstm_loop: needs a one-layer, one-way, batch_first LSTM without projection")
    if not hasattr(torch, "while_loop"):
        raise RuntimeError(f"exporting the LSTM with a variable sequence length needs torch.while_loop (torch>=2.14); "
                           f"this is torch {torch.__version__}")
    w_hh = lstm.weight_hh_l0
    bias = lstm.bias_ih_l0 + lstm.bias_hh_l0 if lstm.bias else None
    steps = F.linear(x, lstm.weight_ih_l0, bias).transpose(0, 1).contiguous()  # (seq, bs, 4 * n_hid)

    def cond(t: Tensor, out: Tensor, h: Tensor, c: Tensor) -> Tensor:
        return t < steps.shape[0]

    def body(t: Tensor, out: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        i, f, g, o = (steps.index_select(0, t.view(1))[0] + F.linear(h, w_hh)).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return t + 1, out.index_copy(0, t.view(1), h[None]), h, c

    start = torch.zeros((), dtype=torch.long, device=x.device)
    out0 = x.new_zeros(steps.shape[0], x.shape[0], w_hh.shape[1])
    h0, c0 = (x.new_zeros(x.shape[0], w_hh.shape[1]) for _ in range(2))  # carried tensors must not alias
    _, out, _, _ = torch.while_loop(cond, body, (start, out0, h0, c0))
    return out.transpose(0, 1)


class LinearDecoder(nn.Module):
    """Hidden states -> vocabulary logits, optionally sharing the embedding matrix (``tie_encoder``)."""

    initrange = 0.1

    def __init__(self, n_out: int, n_hid: int, output_p: float = 0.1, tie_encoder: nn.Embedding | None = None,
                 bias: bool = True) -> None:
        super().__init__()
        self.decoder = nn.Linear(n_hid, n_out, bias=bias)
        self.decoder.weight.data.uniform_(-self.initrange, self.initrange)
        self.output_dp = RNNDropout(output_p)
        if bias:
            self.decoder.bias.data.zero_()
        if tie_encoder is not None:
            self.decoder.weight = tie_encoder.weight

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.output_dp(x))


class SequentialRNN(nn.Sequential):
    """An ``nn.Sequential`` whose ``reset`` resets every child that has one."""

    def reset(self) -> None:
        for c in self.children():
            if hasattr(c, "reset"):
                c.reset()


def get_language_model(vocab_sz: int, config: dict | None = None, drop_mult: float = 1.0) -> SequentialRNN:
    """AWD-LSTM encoder + tied ``LinearDecoder``; dropouts scaled by ``drop_mult``."""
    cfg = {**awd_lstm_lm_config, **(config or {})}
    for k in cfg:
        if k.endswith("_p"):
            cfg[k] = cfg[k] * drop_mult
    tie, out_bias, output_p = cfg.pop("tie_weights"), cfg.pop("out_bias"), cfg.pop("output_p")
    enc = AWD_LSTM(vocab_sz, **cfg)
    dec = LinearDecoder(vocab_sz, cfg["emb_sz"], output_p, tie_encoder=enc.encoder if tie else None, bias=out_bias)
    return SequentialRNN(enc, dec)


def awd_lstm_lm_split(model: nn.Module) -> list[list[nn.Parameter]]:
    """Parameter groups for discriminative rates: each LSTM layer, then embedding + decoder."""
    enc, dec = model[0], model[1]
    groups = [list(r.parameters()) for r in enc.rnns]
    groups.append(list(enc.encoder.parameters()) + [p for p in dec.parameters()
                                                    if all(p is not q for q in enc.encoder.parameters())])
    return groups
