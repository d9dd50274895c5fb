"""One optimizer per network behind the single ``learn.opt`` the Learner steps.

fastai trains both networks with one optimizer, so Adam's moving averages of the generator keep
moving (and weight decay keeps shrinking it) while only the critic learns. ``GANOptimizer`` holds a
generator optimizer and a critic optimizer: ``step`` steps only the network being trained,
``zero_grad`` clears both, hyper-parameters set through it (``fit(lr=...)``, schedules) reach the
parameter groups of both (generator groups first, then critic groups), and its ``state_dict`` holds
both states, so checkpoints and ``learn.save`` keep everything needed to resume.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from torchloom import hyper_per_group

__all__ = ["GANOptimizer", "make_gan_optimizer"]


class GANOptimizer:
    """The generator's and the critic's optimizers seen as one (``gen_mode`` says which one steps)."""

    def __init__(self, gen_opt: Any, crit_opt: Any, gen_mode: bool = False) -> None:
        for what, o in (("gen_opt", gen_opt), ("crit_opt", crit_opt)):
            for need in ("step", "zero_grad", "state_dict", "load_state_dict", "hypers", "param_lists"):
                if not hasattr(o, need):
                    raise TypeError(f"GANOptimizer: {what} ({type(o).__name__}) has no {need!r}; use a torchloom "
                                    "optimizer (Adam, SGD, RAdam...) or OptimWrapper")
        self.gen_opt, self.crit_opt, self.gen_mode = gen_opt, crit_opt, bool(gen_mode)

    # -- what the Learner and the schedulers use ------------------------------------------------------
    @property
    def active(self) -> Any:
        """The optimizer of the network being trained."""
        return self.gen_opt if self.gen_mode else self.crit_opt

    @property
    def param_lists(self) -> list[list[Tensor]]:
        return list(self.gen_opt.param_lists) + list(self.crit_opt.param_lists)

    @property
    def hypers(self) -> list[Any]:
        return list(self.gen_opt.hypers) + list(self.crit_opt.hypers)

    @property
    def param_groups(self) -> list[Any]:
        return list(self.gen_opt.param_groups) + list(self.crit_opt.param_groups)

    def _expand(self, k: str, v: Any) -> list[Any]:
        try:
            return hyper_per_group(k, v, len(self.param_lists))
        except ValueError as e:
            raise ValueError(f"{e} The GAN optimizer's groups: {len(self.gen_opt.param_lists)} generator, "
                             f"{len(self.crit_opt.param_lists)} critic.") from None

    def set_hyper(self, k: str, v: Any) -> None:
        """Set ``k`` per group over generator then critic groups (a scalar, a list or a slice)."""
        for val, h in zip(self._expand(k, v), self.hypers):
            h[k] = val

    def set_hypers(self, **kwargs: Any) -> None:
        for k, v in kwargs.items():
            self.set_hyper(k, v)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        return self.active.step(closure) if closure is not None else self.active.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.gen_opt.zero_grad(set_to_none=set_to_none)
        self.crit_opt.zero_grad(set_to_none=set_to_none)

    def clear_state(self) -> None:
        for o in (self.gen_opt, self.crit_opt):
            if hasattr(o, "clear_state"):
                o.clear_state()

    def freeze_to(self, n: int) -> None:
        raise NotImplementedError("GANOptimizer: the GAN trainer decides which network trains; freeze the generator "
                                  "or critic learner before building the GAN (GANLearner.from_learners) instead")

    freeze = unfreeze = freeze_to

    # -- persistence ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"gen": self.gen_opt.state_dict(), "crit": self.crit_opt.state_dict(), "gen_mode": self.gen_mode}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        if not isinstance(sd, dict) or "gen" not in sd or "crit" not in sd:
            keys = sorted(sd) if isinstance(sd, dict) else type(sd).__name__
            raise ValueError(f"GANOptimizer.load_state_dict expects the state of a GAN optimizer with 'gen' and "
                             f"'crit' entries, got {keys} (a checkpoint of a non-GAN learner?)")
        self.gen_opt.load_state_dict(sd["gen"])
        self.crit_opt.load_state_dict(sd["crit"])
        self.gen_mode = bool(sd.get("gen_mode", self.gen_mode))

    def __repr__(self) -> str:
        return f"GANOptimizer(gen_mode={self.gen_mode}, gen={self.gen_opt!r}, crit={self.crit_opt!r})"


def _resolve_opt_func(opt_func: Any) -> Callable[..., Any]:
    if isinstance(opt_func, str):
        from torchloom import get_registry

        return get_registry().entry("optimizer", opt_func).load()  # unknown names: the registry lists them
    if not callable(opt_func):
        raise TypeError(f"opt_func must be an optimizer name or a callable, got {opt_func!r}")
    return opt_func


def _all_params(m: nn.Module) -> list[nn.Parameter]:
    return list(m.parameters())


def make_gan_optimizer(generator: nn.Module, critic: nn.Module, opt_func: Any, lr: Any,
                       splitter: Callable[[nn.Module], Any] | None = None, gen_mode: bool = False,
                       **hypers: Any) -> GANOptimizer:
    """Build ``opt_func(splitter(net), lr=lr)`` for each network (every parameter, frozen or not: the
    trainer freezes one network at a time) and wrap plain ``torch.optim`` optimizers."""
    from torchloom import OptimWrapper

    f = _resolve_opt_func(opt_func)
    split = splitter or _all_params
    lr0 = lr.stop if isinstance(lr, slice) else lr

    def build(net: nn.Module, what: str) -> Any:
        params = split(net)
        if not list(params if not isinstance(params, nn.Module) else params.parameters()):
            raise ValueError(f"the {what} ({type(net).__name__}) has no parameters to optimize")
        opt = f(params, lr=lr0)
        if isinstance(opt, torch.optim.Optimizer):
            opt = OptimWrapper(opt=opt)
        return opt

    opt = GANOptimizer(build(generator, "generator"), build(critic, "critic"), gen_mode=gen_mode)
    if hypers:
        opt.set_hypers(**hypers)
    return opt
