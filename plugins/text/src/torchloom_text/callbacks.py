"""RNN callbacks: reset the hidden state, AR/TAR regularization, gradual unfreezing (ULMFiT)."""
from __future__ import annotations

from typing import Any

from torchloom import Callback, unwrap_model

__all__ = ["ModelResetter", "RNNRegularizer", "GradualUnfreeze", "rnn_outputs"]


def _reset(model: Any) -> None:
    model = unwrap_model(model)  # under DDP (or a compiled model) the wrapper has no ``reset``
    if hasattr(model, "reset"):
        model.reset()


class ModelResetter(Callback):
    """Reset the model's hidden state before training, before validation and after fitting, so a stream
    never continues from the other split's state."""

    order = -20

    def before_train(self) -> None:
        _reset(self.learn.model)

    def before_validate(self) -> None:
        _reset(self.learn.model)

    def after_fit(self) -> None:
        _reset(self.learn.model)


def _encoder(model: Any) -> Any:
    """The module that keeps the last raw/dropped outputs: the LM's AWD-LSTM or the classifier's encoder."""
    model = unwrap_model(model)  # DDP / compile wrappers hide the encoder
    first = model[0] if hasattr(model, "__getitem__") else model
    return first


def rnn_outputs(model: Any) -> tuple[Any, Any]:
    """``(raw, dropped)`` outputs of the last layer from the last forward (``None``s when not kept)."""
    enc = _encoder(model)
    if hasattr(enc, "raw_out"):  # SentenceEncoder: the concatenated chunks
        return getattr(enc, "raw_out", None), getattr(enc, "out", None)
    raw, out = getattr(enc, "raw_outputs", []), getattr(enc, "outputs", [])
    return (raw[-1] if raw else None), (out[-1] if out else None)


class RNNRegularizer(Callback):
    """Activation (AR, ``alpha``) and temporal activation (TAR, ``beta``) regularization of the last LSTM
    layer, added to the training loss (Merity et al.): ``alpha * mean(out²) + beta * mean((h_t - h_{t-1})²)``."""

    order = 10
    run_valid = False

    def __init__(self, alpha: float = 2.0, beta: float = 1.0) -> None:
        self.alpha, self.beta = alpha, beta

    def _enc_module(self) -> Any:
        enc = _encoder(self.learn.model)
        return getattr(enc, "module", enc)

    def before_fit(self) -> None:
        self._mod = self._enc_module()
        self._old = getattr(self._mod, "keep_outputs", None)
        if self._old is not None:
            self._mod.keep_outputs = True

    def after_loss(self) -> None:
        if not self.training:
            return
        raw, out = rnn_outputs(self.learn.model)
        if raw is None or out is None:
            return
        extra = 0.0
        if self.alpha != 0.0:
            extra = extra + self.alpha * out.float().pow(2).mean()
        if self.beta != 0.0 and raw.shape[1] > 1:
            extra = extra + self.beta * (raw[:, 1:] - raw[:, :-1]).float().pow(2).mean()
        self.learn.loss_grad = self.learn.loss_grad + extra

    def cleanup_fit(self) -> None:
        mod = getattr(self, "_mod", None)
        if mod is not None and self._old is not None:
            mod.keep_outputs = self._old

    after_fit = cleanup_fit


class GradualUnfreeze(Callback):
    """ULMFiT's gradual unfreezing inside one ``fit``: epoch 0 trains the last parameter group, epoch 1 the
    last two, epoch 2 the last three, then everything; each group's rate is ``lr / lr_decay**depth``
    (discriminative fine-tuning, ``lr_decay=2.6`` as in the paper), set from the scheduled rate of the last
    group.

    ``learn.use("gradual_unfreeze")`` then ``learn.fit_one_cycle(4, lr)``; ``TextLearner.ulmfit`` runs the
    paper's recipe instead (one one-cycle fit per stage).
    """

    order = 70  # after the scheduler (60) has set this batch's rate

    def __init__(self, lr_decay: float = 2.6, epochs_per_stage: int = 1) -> None:
        self.lr_decay, self.epochs_per_stage = lr_decay, epochs_per_stage

    def before_fit(self) -> None:
        self._stage = None
        self._apply(0)

    def before_epoch(self) -> None:
        self._apply(self.epoch // self.epochs_per_stage)

    def _apply(self, stage: int) -> None:
        if self.learn.opt is None:
            self.learn.create_opt()
        n_groups = len(self.learn.opt.param_groups)
        n = min(stage + 1, n_groups)
        if n == self._stage:
            return
        self._stage = n
        self.learn.freeze_to(-n if n < n_groups else 0)

    def before_batch(self) -> None:
        if not self.training:
            return
        hypers = self.learn.opt.hypers
        top = hypers[-1]["lr"]
        for k, h in enumerate(hypers):
            h["lr"] = top / self.lr_decay ** (len(hypers) - 1 - k)
