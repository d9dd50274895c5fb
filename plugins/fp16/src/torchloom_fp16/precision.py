"""Mixed-precision training callbacks: fp16 autocast with a dynamic loss scaler, and bf16 autocast.

Weights, optimizer state and exported models stay float32: only the forward pass and the loss run
under ``torch.autocast`` (on the model's device type, CPU included), and predictions are cast back to
float32 so metrics, ``get_preds`` and later callbacks see ordinary tensors.

fp16 has a narrow range, so the loss is multiplied by a large scale before backward and the
gradients are divided by it again (*unscaled*) in ``before_step``. That happens after gradient
accumulation has decided to step and before gradient clipping runs (declared with ``after`` /
``before``), so clipping sees true gradients. A step whose gradients hold inf/NaN is skipped
(``CancelStepException``) and the scale shrinks; after ``growth_interval`` good steps it grows. The
scaling itself is ``torch.amp.GradScaler``'s.

The autocast context is always exited: after the loss, after each batch, and in ``cleanup_fit``
(so an exception or KeyboardInterrupt mid-forward does not leave autocast on for the caller).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from torchloom import Callback, CancelStepException, num_distrib

__all__ = ["BF16", "FP16", "MixedPrecision", "to_float"]

_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def to_float(x: Any) -> Any:
    """``x`` with every float16/bfloat16 tensor cast to float32 (tuples, lists and dicts walked)."""
    if isinstance(x, Tensor):
        return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    if isinstance(x, tuple):
        return type(x)(*map(to_float, x)) if hasattr(x, "_fields") else tuple(map(to_float, x))
    if isinstance(x, list):
        return [to_float(o) for o in x]
    if isinstance(x, dict):
        return {k: to_float(v) for k, v in x.items()}
    return x


class _GradHolder:
    """The smallest optimizer-like object GradScaler accepts: parameter groups and a ``step`` that only
    records that the scaler found the gradients finite (the Learner takes the real step afterwards)."""

    def __init__(self, params: list[Tensor]) -> None:
        self.param_groups = [{"params": params}]
        self.finite = False

    def step(self, *args: Any, **kwargs: Any) -> None:
        self.finite = True


def _params_with_grad(opt: Any) -> list[Tensor]:
    groups: Iterable[Any] = getattr(opt, "param_groups", None) or ()
    return [p for g in groups for p in g["params"] if p.grad is not None]


class MixedPrecision(Callback):
    """Autocast to ``amp_mode`` ("fp16" or "bf16"); fp16 also scales the loss dynamically.

    ``init_scale``, ``growth_factor``, ``backoff_factor`` and ``growth_interval`` configure the fp16
    loss scaler (torch's defaults); ``device_type`` defaults to the device of the model's parameters.
    """

    order = 10
    after = ("gradient_accumulation",)
    before = ("gradient_clip",)

    def __init__(self, amp_mode: str = "fp16", init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, device_type: str | None = None) -> None:
        super().__init__()
        if amp_mode not in _DTYPES:
            raise ValueError(f"MixedPrecision: amp_mode must be one of {sorted(_DTYPES)}, got {amp_mode!r}")
        if not init_scale > 0:
            raise ValueError(f"MixedPrecision: init_scale must be positive, got {init_scale!r}")
        if not growth_factor > 1.0:
            raise ValueError(f"MixedPrecision: growth_factor must be > 1, got {growth_factor!r}")
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError(f"MixedPrecision: backoff_factor must be in (0, 1), got {backoff_factor!r}")
        if isinstance(growth_interval, bool) or not isinstance(growth_interval, int) or growth_interval < 1:
            raise ValueError(f"MixedPrecision: growth_interval must be a positive int, got {growth_interval!r}")
        self.amp_mode, self.dtype = amp_mode, _DTYPES[amp_mode]
        self.scaler_kwargs = dict(init_scale=float(init_scale), growth_factor=float(growth_factor),
                                  backoff_factor=float(backoff_factor), growth_interval=growth_interval)
        self.device_type = device_type
        self.scaler: torch.amp.GradScaler | None = None
        self._scaler_device: str | None = None
        self.n_skipped = 0  # steps skipped because of inf/NaN gradients (fp16), over the callback's life
        self._autocast: torch.autocast | None = None
        self._in_autocast = False
        self._update_due = False
        self._pending_state: dict[str, Any] | None = None
        self._world = 1  # DDP ranks the loss is divided over before backward (see before_backward)

    @property
    def use_scaler(self) -> bool:
        return self.dtype is torch.float16

    # -- setup ---------------------------------------------------------------------------------------
    def _resolve_device_type(self) -> str:
        if self.device_type is not None:
            return self.device_type
        model = getattr(self.learn, "model", None)
        p = next(iter(model.parameters()), None) if isinstance(model, torch.nn.Module) else None
        return p.device.type if p is not None else "cpu"

    def before_fit(self) -> None:
        dev = self._resolve_device_type()
        if not torch.amp.is_autocast_available(dev):
            raise RuntimeError(f"{self.amp_mode}: torch.autocast does not support device type {dev!r}")
        if self.amp_mode == "bf16" and dev == "cuda" and not torch.cuda.is_bf16_supported():
            raise RuntimeError("bf16: this CUDA device does not support bfloat16; use 'fp16' instead")
        self._autocast = torch.autocast(dev, dtype=self.dtype)
        if self.use_scaler and (self.scaler is None or self._scaler_device != dev):
            if self.scaler is not None:  # the model moved to another device: carry the learned scale over
                self._pending_state = self.state_dict()
            self.scaler = torch.amp.GradScaler(dev, **self.scaler_kwargs)
            self._scaler_device = dev
            if self._pending_state is not None:
                self.scaler.load_state_dict(self._pending_state)
                self._pending_state = None

    # -- autocast around forward and loss -----------------------------------------------------------
    def before_batch(self) -> None:
        self._exit_autocast()
        if self._autocast is not None:
            self._autocast.__enter__()
            self._in_autocast = True

    def after_pred(self) -> None:
        self.learn.pred = to_float(self.learn.pred)

    def after_loss(self) -> None:
        self._exit_autocast()

    def _exit_autocast(self) -> None:
        if self._in_autocast:
            self._in_autocast = False
            self._autocast.__exit__(None, None, None)

    # -- loss scaling (fp16) -------------------------------------------------------------------------
    def before_backward(self) -> None:
        if self.scaler is not None and self.use_scaler:
            loss = self.learn.loss_grad
            # Under DDP each rank's loss averages over its own bs items, so its fp16 gradients are `world`
            # times one process's on the global batch and would overflow at a `world` times smaller
            # scale. Dividing the loss by `world` here (and multiplying the unscaled gradients back in
            # before_step) makes the scaler skip the same steps and keep the same scale as one process.
            ddp = isinstance(self.learn.model, torch.nn.parallel.DistributedDataParallel)
            self._world = num_distrib() if ddp else 1
            if self._world > 1:
                loss = loss / self._world
            self.learn.loss_grad = self.scaler.scale(loss)

    def before_step(self) -> None:
        """Unscale the gradients in place; skip the step (and shrink the scale) if any is inf/NaN."""
        if self.scaler is None or not self.use_scaler:
            return
        params = _params_with_grad(self.learn.opt)
        if not params:
            return
        holder = _GradHolder(params)
        self.scaler.unscale_(holder)
        self.scaler.step(holder)  # calls holder.step() only when every gradient is finite
        self._update_due = True
        if not holder.finite:
            self.n_skipped += 1
            raise CancelStepException()
        if self._world > 1:
            torch._foreach_mul_([p.grad for p in params], float(self._world))

    def after_batch(self) -> None:
        self._exit_autocast()
        if self._update_due:
            self._update_due = False
            self.scaler.update()

    after_cancel_batch = after_batch

    def after_fit(self) -> None:
        self.after_batch()

    cleanup_fit = after_fit

    @property
    def loss_scale(self) -> float | None:
        """The current fp16 loss scale (None for bf16 or before the first fit)."""
        return float(self.scaler.get_scale()) if self.scaler is not None else None

    # -- checkpoint state ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The loss scaler's state (scale and growth tracker), so a resumed run scales the same way."""
        if self.scaler is not None:
            return {k: (float(v) if isinstance(v, Tensor) else v) for k, v in self.scaler.state_dict().items()}
        return dict(self._pending_state or {})

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state:
            return
        if self.scaler is not None:
            self.scaler.load_state_dict(state)
        else:
            self._pending_state = dict(state)

    def __repr__(self) -> str:
        scale = f", scale={self.loss_scale}" if self.scaler is not None else ""
        return f"{type(self).__name__}(amp_mode={self.amp_mode!r}{scale})"


class FP16(MixedPrecision):
    """``learn.use("fp16")``: float16 autocast with a dynamic loss scaler."""

    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, device_type: str | None = None) -> None:
        super().__init__("fp16", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval, device_type=device_type)


class BF16(MixedPrecision):
    """``learn.use("bf16")``: bfloat16 autocast (float32's range, so no loss scaling)."""

    def __init__(self, device_type: str | None = None) -> None:
        super().__init__("bf16", device_type=device_type)
