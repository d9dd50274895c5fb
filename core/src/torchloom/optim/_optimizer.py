"""fastai-style Optimizer built from steppers, with a vectorised (``torch._foreach``) path.

Hyper-parameters live per parameter group in ``opt.hypers``; per-parameter state (moving averages,
step counts and the ``do_wd`` / ``force_train`` flags) lives in ``opt.state``.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from torchloom.optim._steppers import (
    Stepper,
    adam_step,
    average_grad,
    average_sqr_grad,
    bind_stepper,
    l2_reg,
    momentum_step,
    radam_step,
    sgd_step,
    step_stat,
    weight_decay,
)

__all__ = [
    "SGD", "Adam", "AdamW", "BaseOptimizer", "Lookahead", "Optimizer", "RAdam", "even_mults", "hyper_per_group", "norm_bias_params",
    "ranger", "set_norm_bias_flags",
]

FLAG_KEYS = ("force_train", "do_wd")
CPU_FOREACH_CHUNK = 1 << 18  # elements per vectorised pass on CPU (working set of a few MB)
_NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)


def even_mults(start: float, stop: float, n: int) -> list[float]:
    """``n`` values from ``start`` to ``stop`` spaced geometrically (discriminative learning rates)."""
    if n == 1:
        return [stop]
    mult = (stop / start) ** (1 / (n - 1))
    return [start * mult**i for i in range(n)]


def hyper_per_group(k: str, v: Any, n: int) -> list[Any]:
    """One value of hyper-parameter ``k`` for each of ``n`` parameter groups, from a scalar, one value per
    group (list, tensor, array), ``slice(lo, hi)`` (geometric from ``lo`` to ``hi``) or ``slice(hi)``
    (``hi / 10`` for every group but the last). Optimizers that own parameter groups share this rule."""
    if isinstance(v, slice):
        if v.start:
            v = even_mults(v.start, v.stop, n)
        else:
            v = [v.stop / 10] * (n - 1) + [v.stop]
    elif isinstance(v, Tensor):
        v = v.flatten().tolist()
    elif hasattr(v, "tolist"):  # numpy arrays and scalars
        v = v.tolist()
    if not isinstance(v, (list, tuple)):
        v = [v]
    if len(v) == 1:
        v = list(v) * n
    if len(v) != n:
        raise ValueError(f"Trying to set {len(v)} values for {k!r} but there are {n} parameter groups.")
    return list(v)


def _split_groups(params: Any) -> tuple[list[list[Tensor]], list[dict[str, Any]]]:
    """Accept an iterable of tensors, of lists of tensors (splitter output) or torch-style group dicts."""
    items = list(params)
    if not items:
        raise ValueError("Optimizer got an empty parameter list")
    if isinstance(items[0], Tensor):
        return [items], [{}]
    groups, extra = [], []
    for g in items:
        if isinstance(g, dict):
            if "params" not in g:
                raise ValueError(f"a parameter group dict needs a 'params' key, got keys {sorted(g)}")
            ps = g["params"]
            groups.append([ps] if isinstance(ps, Tensor) else list(ps))
            extra.append({k: v for k, v in g.items() if k != "params"})
        else:
            groups.append([g] if isinstance(g, Tensor) else list(g))
            extra.append({})
    seen: set[int] = set()
    for i, g in enumerate(groups):
        for p in g:
            if not isinstance(p, Tensor):
                raise TypeError(f"parameter group {i} holds a {type(p).__name__}, expected tensors")
            if id(p) in seen:
                raise ValueError(f"a parameter of shape {tuple(p.shape)} appears in more than one group "
                                 f"(found again in group {i})")
            seen.add(id(p))
    return groups, extra


class _GroupView(MutableMapping):
    """torch-style param group dict whose writes go to the optimizer's hypers (for GradScaler & co)."""

    def __init__(self, params: list[Tensor], hyper: dict[str, Any]):
        self._params, self._hyper = params, hyper

    def __getitem__(self, k: str) -> Any:
        return self._params if k == "params" else self._hyper[k]

    def __setitem__(self, k: str, v: Any) -> None:
        if k == "params":
            self._params[:] = list(v)
        else:
            self._hyper[k] = v

    def __delitem__(self, k: str) -> None:
        del self._hyper[k]

    def __iter__(self) -> Iterator[str]:
        yield "params"
        yield from self._hyper

    def __len__(self) -> int:
        return len(self._hyper) + 1

    def __repr__(self) -> str:
        return f"ParamGroup(n_params={len(self._params)}, {self._hyper})"


class BaseOptimizer:
    """What Optimizer and OptimWrapper share: param groups, hyper setting, freezing."""

    param_lists: list[list[Tensor]]
    hypers: Any  # list of dicts (or a view that behaves like one)

    def all_params(self, n: slice | int = slice(None), with_grad: bool = False
                   ) -> list[tuple[Tensor, list[Tensor], dict, dict]]:
        """(param, its group, its state, its group's hypers) for the groups selected by ``n``."""
        groups = list(zip(self.param_lists, self.hypers))
        sel = groups[n] if isinstance(n, slice) else [groups[n]]
        return [(p, pg, self._flags(p), hyper) for pg, hyper in sel for p in pg
                if not with_grad or p.grad is not None]

    def _flags(self, p: Tensor) -> dict:
        raise NotImplementedError

    def _set_require_grad(self, rg: bool, p: Tensor, state: dict) -> None:
        p.requires_grad_(rg or bool(state.get("force_train", False)))

    def freeze_to(self, n: int) -> None:
        """Train only groups ``n`` onwards (params with ``force_train``, e.g. norm layers, stay trainable)."""
        self.frozen_idx = n if n >= 0 else len(self.param_lists) + n
        if self.frozen_idx >= len(self.param_lists):
            warnings.warn(f"Freezing {self.frozen_idx} groups; model has {len(self.param_lists)}; "
                          "whole model is frozen.", stacklevel=2)
        for p, _, state, _ in self.all_params(slice(n, None)):
            self._set_require_grad(True, p, state)
        for p, _, state, _ in self.all_params(slice(None, n)):
            self._set_require_grad(False, p, state)

    def freeze(self) -> None:
        """Train only the last parameter group (a no-op for a model with one group, as in fastai)."""
        self.freeze_to(-1)

    def unfreeze(self) -> None:
        self.freeze_to(0)

    def _expand(self, k: str, v: Any) -> list[Any]:
        return hyper_per_group(k, v, len(self.param_lists))

    def set_hyper(self, k: str, v: Any) -> None:
        """Set hyper ``k`` per group: a scalar, one value per group, or ``slice(lo, hi)`` / ``slice(hi)``."""
        for v_, h in zip(self._expand(k, v), self.hypers):
            h[k] = v_

    def set_hypers(self, **kwargs: Any) -> None:
        for k, v in kwargs.items():
            self.set_hyper(k, v)


class Optimizer(BaseOptimizer):
    """Optimizer running ``steppers`` over each parameter group, vectorised where possible.

    ``params``: tensors, a list of tensor lists (one per group, as splitters return) or torch-style
    group dicts. ``foreach``: None uses the vectorised path when every stepper has a ``foreach`` form;
    False forces the per-parameter loop (fastai's behaviour); True requires the vectorised path.
    """

    def __init__(self, params: Any, steppers: Sequence[Stepper] | Stepper, foreach: bool | None = None,
                 **defaults: Any):
        steppers = list(steppers) if isinstance(steppers, (list, tuple)) else [steppers]
        if not steppers:
            raise ValueError("Optimizer needs at least one stepper")
        self.steppers = steppers
        merged: dict[str, Any] = {}
        for s in steppers:
            if not callable(s):
                raise TypeError(f"stepper {s!r} is not callable")
            merged.update(getattr(s, "defaults", None) or getattr(getattr(s, "func", None), "defaults", {}))
        merged.update(defaults)
        if "lr" not in merged:
            raise ValueError("Optimizer needs a learning rate: pass lr=...")
        self.param_lists, extra = _split_groups(params)
        self.hypers = [{**merged, **e} for e in extra]
        self.state: dict[Tensor, dict[str, Any]] = {}
        has_foreach = all(callable(getattr(s, "foreach", None)) for s in steppers)
        if foreach and not has_foreach:
            missing = [getattr(s, "__name__", repr(s)) for s in steppers if not hasattr(s, "foreach")]
            raise ValueError(f"foreach=True but these steppers have no vectorised form: {missing}")
        self.foreach = has_foreach if foreach is None else bool(foreach)
        self.foreach_chunk: int | None = None  # elements per vectorised pass; None: automatic
        self.frozen_idx = 0

    def _flags(self, p: Tensor) -> dict:
        return self._state(p)

    def _chunks(self, ps: list[Tensor]) -> list[list[Tensor]]:
        """Split a group so each vectorised pass stays cache-sized on CPU (on GPUs: one chunk).

        Running every stepper over one chunk before the next keeps its tensors in cache; without it
        a CPU foreach step over a ResNet sweeps ~50 MB per operation and is slower than the loop.
        """
        limit = self.foreach_chunk
        if limit is None:
            limit = CPU_FOREACH_CHUNK if ps[0].device.type == "cpu" else 0
        if not limit:
            return [ps]
        chunks, cur, n = [], [], 0
        for p in ps:
            if cur and n + p.numel() > limit:
                chunks.append(cur)
                cur, n = [], 0
            cur.append(p)
            n += p.numel()
        chunks.append(cur)
        return chunks

    def _state(self, p: Tensor) -> dict[str, Any]:
        s = self.state.get(p)
        if s is None:
            s = self.state[p] = {}
        return s

    @property
    def param_groups(self) -> list[MutableMapping]:
        """torch-compatible view: writing ``group['lr']`` sets the hyper."""
        return [_GroupView(pg, hp) for pg, hp in zip(self.param_lists, self.hypers)]

    @param_groups.setter
    def param_groups(self, groups: list[dict]) -> None:
        for pg, hp, g in zip(self.param_lists, self.hypers, groups):
            pg[:] = list(g["params"])
            hp.update({k: v for k, v in g.items() if k != "params"})

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear gradients (to None by default, as torch does; ``set_to_none=False`` zeroes them)."""
        for p, *_ in self.all_params(with_grad=True):
            if set_to_none:
                p.grad = None
            else:
                p.grad.detach_()
                p.grad.zero_()

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter with a gradient; ``closure`` re-evaluates the loss first."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for pg, hyper in zip(self.param_lists, self.hypers):
            ps = [p for p in pg if p.grad is not None]
            if not ps:
                continue
            if any(p.grad.is_sparse for p in ps):
                raise RuntimeError("torchloom Optimizer does not support sparse gradients; "
                                   "use OptimWrapper(opt=torch.optim.SparseAdam)")
            if self.foreach:
                for chunk in self._chunks(ps):
                    states = [self._state(p) for p in chunk]
                    for s in self.steppers:
                        s.foreach(chunk, states, **hyper)
            else:
                for p in ps:
                    state = self._state(p)
                    for s in self.steppers:
                        upd = s(p, **{**state, **hyper})
                        if upd:
                            state.update(upd)
        return loss

    def clear_state(self) -> None:
        """Forget the statistics (moving averages, step counts), keeping the ``do_wd``/``force_train`` flags."""
        for p, *_ in self.all_params():
            old = self.state.get(p, {})
            self.state[p] = {k: old[k] for k in FLAG_KEYS if k in old}

    def state_dict(self) -> dict[str, Any]:
        """``{"hypers": [...], "group_sizes": [...], "state": {"g.i": {...}}}``, keyed by group and position."""
        state = {}
        for gi, pg in enumerate(self.param_lists):
            for pi, p in enumerate(pg):
                s = self.state.get(p)
                if s:
                    state[f"{gi}.{pi}"] = dict(s)
        return {"hypers": [dict(h) for h in self.hypers], "group_sizes": [len(pg) for pg in self.param_lists],
                "shapes": [[list(p.shape) for p in pg] for pg in self.param_lists], "state": state}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        """Load a ``state_dict``; a different number of groups/params or a shape mismatch is a clear error."""
        sizes = [len(pg) for pg in self.param_lists]
        their = sd.get("group_sizes") or [len(s) for s in sd.get("shapes", [])]
        if len(sd["hypers"]) != len(self.hypers) or (their and list(their) != sizes):
            raise ValueError(f"optimizer state has {len(sd['hypers'])} parameter groups of sizes {their}, "
                             f"but this optimizer has {len(self.hypers)} groups of sizes {sizes}")
        self.state = {}
        for key, s in sd["state"].items():
            gi, pi = (int(x) for x in str(key).split("."))
            p = self.param_lists[gi][pi]
            new = {}
            for k, v in s.items():
                if isinstance(v, Tensor):
                    if v.shape != p.shape and v.ndim == p.ndim:
                        raise ValueError(f"optimizer state {k!r} of group {gi} param {pi} has shape "
                                         f"{tuple(v.shape)} but the parameter has shape {tuple(p.shape)}")
                    v = v.to(device=p.device, dtype=p.dtype if v.is_floating_point() else v.dtype).clone()
                new[k] = v
            self.state[p] = new
        for h, their_h in zip(self.hypers, sd["hypers"]):
            h.clear()
            h.update(their_h)

    def __repr__(self) -> str:
        names = [getattr(s, "__name__", repr(s)) for s in self.steppers]
        return (f"Optimizer(groups={len(self.param_lists)}, steppers={names}, foreach={self.foreach}, "
                f"hypers={self.hypers[-1]})")


# --- factories ----------------------------------------------------------------------------------

def _wd_stepper(decouple_wd: bool) -> Stepper:
    return weight_decay if decouple_wd else l2_reg


def SGD(params: Any, lr: float = 1e-3, mom: float = 0.0, wd: float = 0.0, decouple_wd: bool = True,
        foreach: bool | None = None) -> Optimizer:
    """SGD (with momentum when ``mom > 0``); ``decouple_wd=False`` gives torch's L2 weight decay."""
    steppers = [_wd_stepper(decouple_wd)]
    if mom != 0:
        steppers.append(average_grad)
    steppers.append(sgd_step if mom == 0 else momentum_step)
    return Optimizer(params, steppers, lr=lr, mom=mom, wd=wd, foreach=foreach)


def Adam(params: Any, lr: float = 1e-3, mom: float = 0.9, sqr_mom: float = 0.99, eps: float = 1e-5,
         wd: float = 0.01, decouple_wd: bool = True, foreach: bool | None = None) -> Optimizer:
    """Adam with fastai's defaults (betas 0.9/0.99, eps 1e-5, decoupled wd 0.01, i.e. AdamW)."""
    steppers = [_wd_stepper(decouple_wd), bind_stepper(average_grad, dampening=True), average_sqr_grad,
                step_stat, adam_step]
    return Optimizer(params, steppers, lr=lr, mom=mom, sqr_mom=sqr_mom, eps=eps, wd=wd, foreach=foreach)


def AdamW(params: Any, lr: float = 1e-3, mom: float = 0.9, sqr_mom: float = 0.99, eps: float = 1e-5,
          wd: float = 0.01, foreach: bool | None = None) -> Optimizer:
    """Adam with decoupled weight decay (the same as ``Adam``'s default; named for torch users)."""
    return Adam(params, lr=lr, mom=mom, sqr_mom=sqr_mom, eps=eps, wd=wd, decouple_wd=True, foreach=foreach)


def RAdam(params: Any, lr: float = 1e-3, mom: float = 0.9, sqr_mom: float = 0.99, eps: float = 1e-5,
          wd: float = 0.0, beta: float = 0.0, decouple_wd: bool = True, foreach: bool | None = None
          ) -> Optimizer:
    """Rectified Adam (``beta > 0``: softplus-smoothed denominator, SAdam)."""
    steppers = [_wd_stepper(decouple_wd), bind_stepper(average_grad, dampening=True), average_sqr_grad,
                step_stat, radam_step]
    return Optimizer(params, steppers, lr=lr, mom=mom, sqr_mom=sqr_mom, eps=eps, wd=wd, beta=beta,
                     foreach=foreach)


class Lookahead(BaseOptimizer):
    """Lookahead (Zhang et al. 2019) around any optimizer: every ``k`` steps the slow weights move
    ``alpha`` of the way to the fast ones, and the fast weights restart from there."""

    def __init__(self, opt: BaseOptimizer, k: int = 6, alpha: float = 0.5):
        if int(k) < 1 or not 0 < alpha <= 1:
            raise ValueError(f"Lookahead(k={k}, alpha={alpha}): need k >= 1 and 0 < alpha <= 1")
        self.opt, self.k, self.alpha = opt, int(k), float(alpha)
        self.count, self.slow_weights = 0, None
        self.frozen_idx = 0

    param_lists = property(lambda self: self.opt.param_lists)  # type: ignore[assignment]
    hypers = property(lambda self: self.opt.hypers)
    state = property(lambda self: self.opt.state)
    param_groups = property(lambda self: self.opt.param_groups)

    def _flags(self, p: Tensor) -> dict:
        return self.opt._flags(p)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.opt.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        if self.slow_weights is None:
            self.slow_weights = [[p.detach().clone() for p in pg] for pg in self.param_lists]
        loss = self.opt.step(closure)
        self.count += 1
        if self.count % self.k == 0:
            slow = [s for pg in self.slow_weights for s in pg]
            fast = [p for pg in self.param_lists for p in pg]
            torch._foreach_lerp_(slow, fast, self.alpha)
            torch._foreach_copy_(fast, slow)
        return loss

    def clear_state(self) -> None:
        self.opt.clear_state()
        self.count, self.slow_weights = 0, None

    def state_dict(self) -> dict[str, Any]:
        return {**self.opt.state_dict(), "lookahead_count": self.count, "slow_weights": self.slow_weights}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        sd = dict(sd)
        self.count = int(sd.pop("lookahead_count", 0))
        slow = sd.pop("slow_weights", None)
        self.opt.load_state_dict(sd)
        self.slow_weights = None if slow is None else [
            [s.to(p.device, p.dtype).clone() for s, p in zip(spg, pg)] for spg, pg in zip(slow, self.param_lists)]

    def __repr__(self) -> str:
        return f"Lookahead({self.opt!r}, k={self.k}, alpha={self.alpha})"


def ranger(params: Any, lr: float = 1e-3, mom: float = 0.95, wd: float = 0.01, eps: float = 1e-6,
           sqr_mom: float = 0.99, beta: float = 0.0, k: int = 6, alpha: float = 0.5, foreach: bool | None = None
           ) -> Lookahead:
    """fastai's ``ranger``: Lookahead around RAdam."""
    return Lookahead(RAdam(params, lr=lr, mom=mom, wd=wd, eps=eps, sqr_mom=sqr_mom, beta=beta, foreach=foreach),
                     k=k, alpha=alpha)


# --- norm / bias flags (used by Learner.create_opt) ---------------------------------------------

def norm_bias_params(model: nn.Module, with_bias: bool = True) -> list[Tensor]:
    """Parameters of normalisation layers, plus every other layer's bias when ``with_bias``."""
    out: list[Tensor] = []
    seen: set[int] = set()
    for m in model.modules():
        if isinstance(m, _NORM_TYPES):
            ps = list(m.parameters(recurse=False))
        elif with_bias:
            b = getattr(m, "bias", None)
            ps = [b] if isinstance(b, nn.Parameter) else []
        else:
            ps = []
        for p in ps:
            if id(p) not in seen:
                seen.add(id(p))
                out.append(p)
    return out


def set_norm_bias_flags(opt: BaseOptimizer, model: nn.Module, wd_bn_bias: bool = False,
                        train_bn: bool = True) -> None:
    """fastai's create_opt rules: no weight decay on norm/bias params unless ``wd_bn_bias``; norm params
    keep training when frozen if ``train_bn``."""
    owned = {id(p) for pg in opt.param_lists for p in pg}
    if not wd_bn_bias:
        for p in norm_bias_params(model, with_bias=True):
            if id(p) in owned:
                opt._flags(p)["do_wd"] = False
    if train_bn:
        for p in norm_bias_params(model, with_bias=False):
            if id(p) in owned:
                opt._flags(p)["force_train"] = True


