"""EMA: an exponential moving average of the model's weights, used for validation.

After every ``every``-th optimizer step the average moves towards the live weights,
``avg = decay * avg + (1 - decay) * live`` (one vectorised ``torch._foreach_*`` call per update).
During validation inside ``fit`` the averaged weights are swapped into the model and the live
weights are put back afterwards, so training always continues from the live weights. The swap is
undone in ``cleanup_fit`` too, so an exception (KeyboardInterrupt included) never leaves the
averaged weights behind.

Buffers (BatchNorm running statistics): by default they are *not* averaged; validation uses the
live model's current buffers with the averaged weights (the usual practice, cheap). With
``average_buffers=True`` floating-point buffers are averaged like the weights and swapped too;
integer buffers (``num_batches_tracked``) are always left live.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from torchloom import Callback

__all__ = ["EMA"]

_COUNTERS = ("n_steps", "n_updates")
_PREFIX = "avg."


class EMA(Callback):
    """Keep an exponential moving average of the weights and validate with it.

    Args:
        decay: weight of the old average at each update, in [0, 1).
        every: update the average after every ``every``-th optimizer step.
        warmup: use ``min(decay, (1 + n) / (10 + n))`` at the n-th update, so that early averages
            are not dominated by the random initial weights.
        average_buffers: also average floating-point buffers (BatchNorm statistics).
        ema_at_end: leave the averaged weights in the model when ``fit`` ends normally.
        validate_with_ema: swap the averaged weights in for validation during ``fit``.
    """

    def __init__(
        self,
        decay: float = 0.999,
        every: int = 1,
        warmup: bool = False,
        average_buffers: bool = False,
        ema_at_end: bool = False,
        validate_with_ema: bool = True,
    ) -> None:
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 <= decay < 1.0:
            raise ValueError(f"ema: `decay` must be a number in [0, 1), got {decay!r}")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"ema: `every` must be a positive integer, got {every!r}")
        super().__init__()
        self.decay = float(decay)
        self.every = every
        self.warmup = bool(warmup)
        self.average_buffers = bool(average_buffers)
        self.ema_at_end = bool(ema_at_end)
        self.validate_with_ema = bool(validate_with_ema)
        self.n_steps = 0  # optimizer steps seen
        self.n_updates = 0  # updates applied to the average
        self._names: list[str] = []  # names of the averaged tensors (model state_dict keys)
        self._avg: list[torch.Tensor] = []  # the averages, same order as _names
        self._live: list[torch.Tensor] = []  # the model's tensors they average (cached during fit)
        self._pending: dict[str, torch.Tensor] | None = None  # loaded state waiting for a model
        self._backup: list[torch.Tensor] | None = None  # live weights while the averages are swapped in
        self._in_fit = False
        self._skip_step = False

    # -- which tensors ----------------------------------------------------------------------------
    def _tracked(self, model: nn.Module) -> tuple[list[str], list[torch.Tensor]]:
        """Names and tensors of the model that are averaged: float parameters (and buffers)."""
        named = list(model.named_parameters())
        if self.average_buffers:
            named += list(model.named_buffers())
        pairs = [(n, t) for n, t in named if t.is_floating_point()]
        return [n for n, _ in pairs], [t for _, t in pairs]

    def _bind(self, model: nn.Module) -> None:
        """Attach to ``model``: reuse the average if it matches, load pending state, or start from the weights."""
        names, live = self._tracked(model)
        if self._pending is not None:
            pending = self._pending
            self._check_names(set(pending), set(names))  # on error the state stays pending, untouched
            self._check_shapes(pending, dict(zip(names, live)))
            self._avg = [pending[n].detach().to(device=t.device, dtype=t.dtype).clone() for n, t in zip(names, live)]
            self._pending = None
        elif names == self._names and all(a.shape == t.shape for a, t in zip(self._avg, live)):
            self._avg = [a if a.device == t.device and a.dtype == t.dtype else a.to(t.device, t.dtype)
                         for a, t in zip(self._avg, live)]
        else:  # first fit, or another model: start averaging from the current weights
            self._avg = [t.detach().clone() for t in live]
            self.n_steps = self.n_updates = 0
        self._names, self._live = names, live

    @staticmethod
    def _check_names(have: set[str], want: set[str]) -> None:
        if have != want:
            raise ValueError(
                "ema: the saved averaged weights do not match the model: "
                f"missing {sorted(want - have)}, unexpected {sorted(have - want)}"
            )

    @staticmethod
    def _check_shapes(saved: dict[str, torch.Tensor], model: dict[str, torch.Tensor]) -> None:
        bad = [f"{n}: saved {tuple(saved[n].shape)}, model {tuple(t.shape)}"
               for n, t in model.items() if n in saved and saved[n].shape != t.shape]
        if bad:
            raise ValueError("ema: the saved averaged weights do not fit the model: " + "; ".join(bad))

    # -- the average ------------------------------------------------------------------------------
    def current_decay(self) -> float:
        """The decay the next update uses (lower during warm-up)."""
        if self.warmup:
            return min(self.decay, (1 + self.n_updates) / (10 + self.n_updates))
        return self.decay

    @torch.no_grad()
    def update(self) -> None:
        """Move the average towards the live weights once."""
        d = self.current_decay()
        torch._foreach_mul_(self._avg, d)
        torch._foreach_add_(self._avg, self._live, alpha=1.0 - d)
        self.n_updates += 1

    @torch.no_grad()
    def _swap_in(self) -> bool:
        if self._backup is not None or not self._avg:
            return False
        self._backup = [t.detach().clone() for t in self._live]
        torch._foreach_copy_(self._live, self._avg)
        return True

    @torch.no_grad()
    def _swap_out(self) -> None:
        if self._backup is None:
            return
        torch._foreach_copy_(self._live, self._backup)
        self._backup = None

    @property
    def swapped(self) -> bool:
        """True while the model holds the averaged weights (during validation)."""
        return self._backup is not None

    def averaged_state(self) -> dict[str, torch.Tensor]:
        """The averaged tensors by model ``state_dict`` key, loadable with ``model.load_state_dict(..., strict=False)``.

        Like ``nn.Module.state_dict()`` it returns the tensors themselves (updated in place), not copies.
        """
        if self._pending is not None:
            return dict(self._pending)
        return dict(zip(self._names, self._avg))

    @contextmanager
    def averaged(self) -> Iterator[nn.Module]:
        """``with learn.ema.averaged(): learn.validate()`` -- evaluate with the averaged weights, then restore."""
        self._bind(self.learn.model)
        if self.n_updates == 0:
            raise RuntimeError("ema: no averaged weights yet; train with learn.use('ema') first")
        swapped = self._swap_in()
        try:
            yield self.learn.model
        finally:
            if swapped:
                self._swap_out()

    # -- events -----------------------------------------------------------------------------------
    def before_fit(self) -> None:
        self._bind(self.learn.model)
        self._in_fit, self._skip_step = True, False

    def after_cancel_step(self) -> None:
        self._skip_step = True  # the optimizer did not step: nothing new to average

    def after_step(self) -> None:
        if self._skip_step:
            self._skip_step = False
            return
        self.n_steps += 1
        if self.n_steps % self.every == 0:
            self.update()

    def before_validate(self) -> None:
        # Before any update the average is just the starting weights: validate the live ones.
        if self._in_fit and self.validate_with_ema and self.n_updates > 0:
            self._swap_in()

    def after_validate(self) -> None:
        self._swap_out()

    @torch.no_grad()
    def after_fit(self) -> None:
        self._swap_out()
        # validate()/get_preds() fire the fit events too: they must not change the weights
        if self.ema_at_end and self.n_updates > 0 and not getattr(self.learn, "is_inference", False):
            torch._foreach_copy_(self._live, self._avg)

    def cleanup_fit(self) -> None:
        self._swap_out()  # after an exception: the live weights go back into the model
        self._in_fit = False

    # -- checkpointing ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Step counters and the averaged tensors (keys ``avg.<model state_dict key>``)."""
        state: dict[str, Any] = {"n_steps": self.n_steps, "n_updates": self.n_updates}
        state.update({_PREFIX + n: t for n, t in self.averaged_state().items()})
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore counters and averages; they are matched to the model by name at the next ``fit``."""
        unknown = [k for k in state if k not in _COUNTERS and not k.startswith(_PREFIX)]
        missing = [k for k in _COUNTERS if k not in state]
        if unknown or missing:
            raise ValueError(f"ema: bad state: missing keys {missing}, unexpected keys {unknown}")
        tensors = {k[len(_PREFIX):]: v for k, v in state.items() if k.startswith(_PREFIX)}
        bad = [k for k, v in tensors.items() if not isinstance(v, torch.Tensor)]
        if bad:
            raise ValueError(f"ema: bad state: {[_PREFIX + k for k in bad]} must be tensors")
        attached = bool(tensors) and bool(self._names) and set(tensors) == set(self._names)
        if attached:
            self._check_shapes(tensors, dict(zip(self._names, self._avg)))  # before changing anything
        self._swap_out()
        self.n_steps, self.n_updates = int(state["n_steps"]), int(state["n_updates"])
        if attached:
            with torch.no_grad():
                for n, a in zip(self._names, self._avg):
                    a.copy_(tensors[n])
        else:
            self._pending = {k: v.detach().clone() for k, v in tensors.items()} if tensors else None
            if not tensors:
                self._names, self._avg, self._live = [], [], []
