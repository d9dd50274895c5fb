"""Run any ``torch.optim`` optimizer under the torchloom Optimizer API (hypers, set_hyper, freezing)."""
from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import torch
from torch import Tensor

from torchloom.optim._optimizer import BaseOptimizer, _split_groups

__all__ = ["OptimWrapper"]


def _fastai_to_torch(group: MutableMapping, name: str) -> tuple[str, int | None]:
    """Where fastai's hyper ``name`` lives in a torch param group: (key, tuple index or None)."""
    if name == "mom":
        return ("betas", 0) if "betas" in group else ("momentum", None)
    if name == "sqr_mom":
        return ("betas", 1) if "betas" in group else ("alpha", None)
    if name == "wd":
        return "weight_decay", None
    return name, None


_TORCH_NAMES = {"betas", "momentum", "alpha", "weight_decay", "params"}
_TORCH_ZERO_GRAD = torch.optim.Optimizer.zero_grad
_profiler_enabled: Callable[[], bool] = getattr(torch.autograd, "_profiler_enabled", lambda: True)


class _HyperView(MutableMapping):
    """A torch param group seen with fastai hyper names (``mom``, ``sqr_mom``, ``wd``)."""

    def __init__(self, group: dict):
        self.group = group

    def __getitem__(self, k: str) -> Any:
        key, i = _fastai_to_torch(self.group, k)
        if key == "params" or key not in self.group:
            raise KeyError(k)
        v = self.group[key]
        return v if i is None else v[i]

    def __setitem__(self, k: str, v: Any) -> None:
        key, i = _fastai_to_torch(self.group, k)
        if i is None:
            self.group[key] = v
        else:
            t = list(self.group[key])
            t[i] = v
            self.group[key] = tuple(t)

    def __delitem__(self, k: str) -> None:
        del self.group[_fastai_to_torch(self.group, k)[0]]

    def __iter__(self) -> Iterator[str]:
        g = self.group
        if "betas" in g:
            yield from ("mom", "sqr_mom")
        else:
            if "momentum" in g:
                yield "mom"
            if "alpha" in g:
                yield "sqr_mom"
        if "weight_decay" in g:
            yield "wd"
        yield from (k for k in g if k not in _TORCH_NAMES)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return repr(dict(self))


def _torch_kwargs(ctor: Callable, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Translate fastai names in ``kwargs`` to what the torch optimizer's constructor takes."""
    try:
        sig = set(inspect.signature(ctor).parameters)
    except (TypeError, ValueError):
        sig = set()
    out = {}
    mom, sqr = kwargs.pop("mom", None), kwargs.pop("sqr_mom", None)
    if "betas" in sig and (mom is not None or sqr is not None):
        out["betas"] = (0.9 if mom is None else mom, 0.999 if sqr is None else sqr)
    else:
        if mom is not None:
            out["momentum"] = mom
        if sqr is not None:
            out["alpha"] = sqr
    if "wd" in kwargs:
        out["weight_decay"] = kwargs.pop("wd")
    out.update(kwargs)
    return out


class OptimWrapper(BaseOptimizer):
    """Wrap ``opt`` (a ``torch.optim`` class, or an already built optimizer) with fastai's API.

    Example: ``opt_func=partial(OptimWrapper, opt=torch.optim.SGD)``. Hyper-parameters can be given
    with fastai names (``mom``, ``sqr_mom``, ``wd``) or torch's; ``hypers`` is a live view of
    ``opt.param_groups`` so ParamScheduler and discriminative rates work. The ``do_wd`` flag cannot be
    honoured by a torch optimizer per parameter (weight decay is per group there); split norm/bias
    parameters into their own group with ``wd=0`` instead.
    """

    def __init__(self, params: Any = None, opt: Callable[..., torch.optim.Optimizer] | torch.optim.Optimizer
                 = torch.optim.AdamW, **kwargs: Any):
        if isinstance(opt, torch.optim.Optimizer):
            if params is not None or kwargs:
                raise ValueError("OptimWrapper got a built optimizer: pass no params or hyper-parameters")
            self.opt = opt
        else:
            if params is None:
                raise ValueError("OptimWrapper needs `params` when `opt` is an optimizer class")
            groups, extra = _split_groups(params)
            torch_groups = [{"params": g, **_torch_kwargs(opt, dict(e))} for g, e in zip(groups, extra)]
            self.opt = opt(torch_groups, **_torch_kwargs(opt, dict(kwargs)))
        self.flags: dict[Tensor, dict[str, Any]] = {}
        self.frozen_idx = 0

    @property
    def param_lists(self) -> list[list[Tensor]]:  # type: ignore[override]
        return [g["params"] for g in self.opt.param_groups]

    @property
    def hypers(self) -> list[_HyperView]:  # type: ignore[override]
        return [_HyperView(g) for g in self.opt.param_groups]

    @property
    def param_groups(self) -> list[dict]:
        return self.opt.param_groups

    @property
    def state(self) -> Any:
        return self.opt.state

    def _flags(self, p: Tensor) -> dict:
        return self.flags.setdefault(p, {})

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        return self.opt.step(closure)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients; with ``set_to_none`` (the default) they are set to None here directly.

        That is all ``torch.optim.Optimizer.zero_grad(set_to_none=True)`` does, minus its profiler
        range and Python set-up (about 7 us a call, paid on every batch). An optimizer class with its
        own ``zero_grad``, and any call while the torch profiler runs, go through ``opt.zero_grad``."""
        opt = self.opt
        if set_to_none and type(opt).zero_grad is _TORCH_ZERO_GRAD and not _profiler_enabled():
            for group in opt.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.grad = None
            return
        opt.zero_grad(set_to_none=set_to_none)

    def clear_state(self) -> None:
        """Forget the wrapped optimizer's statistics."""
        self.opt.state.clear()

    def state_dict(self) -> dict[str, Any]:
        flags = {f"{gi}.{pi}": dict(self.flags[p]) for gi, pg in enumerate(self.param_lists)
                 for pi, p in enumerate(pg) if self.flags.get(p)}
        return {"torch": self.opt.state_dict(), "flags": flags}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        theirs = sd.get("torch", sd)
        sizes = [len(pg) for pg in self.param_lists]
        their_sizes = [len(g["params"]) for g in theirs["param_groups"]]
        if sizes != their_sizes:
            raise ValueError(f"optimizer state has {len(their_sizes)} parameter groups of sizes {their_sizes}, "
                             f"but this optimizer has {len(sizes)} groups of sizes {sizes}")
        self.opt.load_state_dict(theirs)
        self.flags = {}
        for key, f in sd.get("flags", {}).items():
            gi, pi = (int(x) for x in str(key).split("."))
            self.flags[self.param_lists[gi][pi]] = dict(f)

    def __repr__(self) -> str:
        return f"OptimWrapper({self.opt.__class__.__name__}, groups={len(self.opt.param_groups)})"
