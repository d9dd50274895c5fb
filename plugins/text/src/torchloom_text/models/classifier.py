"""The ULMFiT classifier: the AWD-LSTM encoder read in BPTT chunks, masked concat pooling, a linear head."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .awdlstm import AWD_LSTM, SequentialRNN, awd_lstm_clas_config

__all__ = ["SentenceEncoder", "masked_concat_pool", "PoolingLinearClassifier", "get_text_classifier",
           "awd_lstm_clas_split"]


class SentenceEncoder(nn.Module):
    """Feed ``(bs, n)`` token ids to ``module`` ``bptt`` tokens at a time; keep the outputs of the last
    ``max_len`` tokens (earlier chunks run without gradient and only set the hidden state).

    Returns ``(outputs, mask)`` with ``mask`` True at padding. Texts longer than ``max_len`` are read whole
    (their start sets the hidden state) but only the outputs of their last ``max_len`` tokens (rounded up
    to whole ``bptt`` chunks) are pooled, as in fastai.
    """

    def __init__(self, bptt: int, module: AWD_LSTM, pad_idx: int = 1, max_len: int | None = None) -> None:
        super().__init__()
        self.bptt, self.module, self.pad_idx, self.max_len = bptt, module, pad_idx, max_len

    def reset(self) -> None:
        self.module.reset()

    def forward(self, inp: Tensor) -> tuple[Tensor, Tensor]:
        if torch.compiler.is_exporting():
            return self.forward_export(inp)
        bs, sl = inp.shape
        self.module.bs = bs
        self.module.reset(device=inp.device)
        mask = inp == self.pad_idx
        outs, masks = [], []
        keep = self.module.keep_outputs
        raws: list[Tensor] = []
        lasts: list[Tensor] = []
        for i in range(0, sl, self.bptt):
            chunk = inp[:, i:min(i + self.bptt, sl)]
            # padding comes first, in whole chunks; with rows sorted by decreasing length (SortedDL) feed only
            # the rows whose text has started (the others keep a zero state), as fastai does
            started = ~mask[:, i]
            real_bs = int(started.sum())
            prefix = 0 < real_bs < bs and bool(started[:real_bs].all())
            if prefix:
                chunk = chunk[:real_bs]
            o = self.module(chunk)
            if real_bs < bs and not prefix:  # rows in any order: those still in their padding restart from zero
                on = started.to(o.dtype)[None, :, None]
                self.module.hidden = [(h * on, c * on) for h, c in self.module.hidden]
            if self.max_len is None or sl - i <= self.max_len:
                outs.append(_pad_rows(o, bs))
                masks.append(mask[:, i:min(i + self.bptt, sl)])
                if keep:
                    raws.append(_pad_rows(self.module.raw_outputs[-1], bs))
                    lasts.append(_pad_rows(self.module.outputs[-1], bs))
        if keep:
            self.raw_out, self.out = torch.cat(raws, dim=1), torch.cat(lasts, dim=1)
        return torch.cat(outs, dim=1), torch.cat(masks, dim=1)

    def forward_export(self, inp: Tensor) -> tuple[Tensor, Tensor]:
        """The eval-mode forward ``torch.export`` traces: each row's text (between its leading and trailing
        padding) is read from a zero state in one pass, and its outputs are laid out at the end of the row
        with the padding before them, so every row gives what it gives alone, whatever the padding.

        Same results as ``forward`` on one text (``predict``) and on length-sorted batches; only the
        outputs of the last ``max_len`` tokens (rounded up to whole ``bptt`` chunks) are pooled.
        """
        sl = inp.shape[1]
        pos = torch.arange(sl, device=inp.device)[None]
        real = inp != self.pad_idx
        first = torch.where(real, pos, sl).amin(dim=1, keepdim=True)
        last = torch.where(real, pos, -1).amax(dim=1, keepdim=True)
        n = (last - first + 1).clamp(min=0)
        left = inp.gather(1, (pos + first).clamp(max=sl - 1))  # text first; what follows it does not matter
        out = self.module.forward_stateless(left)
        shift = sl - n
        right = out.gather(1, (pos - shift).clamp(min=0)[..., None].expand(-1, -1, out.shape[2]))
        skip = shift
        if self.max_len is not None:  # as forward: leading bptt chunks beyond max_len only set the state
            dropped = torch.div(n - self.max_len + self.bptt - 1, self.bptt, rounding_mode="floor").clamp(min=0)
            skip = shift + dropped * self.bptt
        return right, pos < skip


def _pad_rows(t: Tensor, bs: int) -> Tensor:
    if t.shape[0] >= bs:
        return t
    return torch.cat([t, t.new_zeros(bs - t.shape[0], *t.shape[1:])])


def masked_concat_pool(output: Tensor, mask: Tensor, bptt: int | None = None) -> Tensor:
    """``[last, max, mean]`` of the non-padding outputs of each sequence.

    ``last`` is the output at the last position that is not padding, wherever the padding is (fastai
    counts the padding in the last ``bptt`` positions instead, which picks a wrong position when the
    batch's length is not a whole number of chunks). ``bptt`` is accepted for fastai's signature."""
    pos = torch.arange(output.shape[1], device=output.device)
    last_pos = torch.where(mask, -1, pos[None]).amax(dim=1)
    last = output[torch.arange(output.shape[0], device=output.device), last_pos]
    return torch.cat([last, *_max_avg_pool(output, mask)], 1)


def _max_avg_pool(output: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    lens = output.shape[1] - mask.long().sum(dim=1)
    avg_pool = output.masked_fill(mask[:, :, None], 0).sum(dim=1)
    avg_pool = avg_pool / lens.clamp(min=1).type(avg_pool.dtype)[:, None]
    max_pool = output.masked_fill(mask[:, :, None], -float("inf")).max(dim=1)[0]
    return max_pool, avg_pool


class PoolingLinearClassifier(nn.Module):
    """Concat pooling then ``[BatchNorm, Dropout, Linear, ReLU]`` blocks (fastai's head)."""

    def __init__(self, dims: list[int], ps: list[float], bptt: int, y_range: tuple[float, float] | None = None
                 ) -> None:
        super().__init__()
        if len(ps) != len(dims) - 1:
            raise ValueError(f"PoolingLinearClassifier: {len(dims)} sizes need {len(dims) - 1} dropout values, "
                             f"got {len(ps)}")
        layers: list[nn.Module] = []
        for i, (n_in, n_out, p) in enumerate(zip(dims[:-1], dims[1:], ps)):
            layers += [nn.BatchNorm1d(n_in), nn.Dropout(p), nn.Linear(n_in, n_out)]
            if i < len(ps) - 1:
                layers.append(nn.ReLU(inplace=True))
        self.layers = nn.Sequential(*layers)
        self.bptt, self.y_range = bptt, y_range

    def forward(self, inp: tuple[Tensor, Tensor]) -> Tensor:
        out, mask = inp
        x = self.layers(masked_concat_pool(out, mask, self.bptt))
        if self.y_range is not None:
            lo, hi = self.y_range
            x = torch.sigmoid(x) * (hi - lo) + lo
        return x


def get_text_classifier(vocab_sz: int, n_class: int, seq_len: int = 72, config: dict | None = None,
                        drop_mult: float = 1.0, lin_ftrs: list[int] | None = None, ps: list[float] | None = None,
                        pad_idx: int = 1, max_len: int | None = 72 * 20) -> SequentialRNN:
    """``SentenceEncoder(AWD_LSTM)`` + ``PoolingLinearClassifier``, dropouts scaled by ``drop_mult``."""
    cfg = {**awd_lstm_clas_config, **(config or {})}
    for k in cfg:
        if k.endswith("_p"):
            cfg[k] = cfg[k] * drop_mult
    lin_ftrs = [50] if lin_ftrs is None else list(lin_ftrs)
    ps = [0.1] * len(lin_ftrs) if ps is None else list(ps)
    layers = [cfg["emb_sz"] * 3] + lin_ftrs + [n_class]
    ps = [cfg.pop("output_p")] + ps
    enc = AWD_LSTM(vocab_sz, **{k: v for k, v in cfg.items() if k not in ("tie_weights", "out_bias")})
    return SequentialRNN(SentenceEncoder(seq_len, enc, pad_idx=pad_idx, max_len=max_len),
                         PoolingLinearClassifier(layers, ps, bptt=seq_len))


def awd_lstm_clas_split(model: nn.Module) -> list[list[nn.Parameter]]:
    """Groups for gradual unfreezing: embedding, each LSTM layer, then the head (frozen up to the head)."""
    enc = model[0].module
    groups = [list(enc.encoder.parameters())] + [list(r.parameters()) for r in enc.rnns]
    groups.append(list(model[1].parameters()))
    return groups
