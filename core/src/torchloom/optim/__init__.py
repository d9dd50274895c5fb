"""torchloom.optim: Optimizers: the stepper-based ``Optimizer`` with its factories (``SGD``, ``Adam``, ...), the steppers
a plugin composes into new optimizers, and ``OptimWrapper`` around any ``torch.optim`` optimizer.

Every name here is also importable from ``torchloom``; the modules inside are private.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from torchloom._lazy import lazy_exports

if TYPE_CHECKING:
    from torchloom.optim._optimizer import (
        SGD,
        Adam,
        AdamW,
        Lookahead,
        Optimizer,
        RAdam,
        hyper_per_group,
        ranger,
    )
    from torchloom.optim._steppers import (
        Stepper,
        adam_step,
        average_grad,
        average_sqr_grad,
        bind_stepper,
        debias,
        l2_reg,
        momentum_step,
        radam_step,
        sgd_step,
        step_stat,
        weight_decay,
    )
    from torchloom.optim._wrapper import OptimWrapper

_LAZY: dict[str, str] = {
    # optim
    "Optimizer": "_optimizer",
    "SGD": "_optimizer",
    "Adam": "_optimizer",
    "AdamW": "_optimizer",
    "RAdam": "_optimizer",
    "Lookahead": "_optimizer",
    "ranger": "_optimizer",
    "hyper_per_group": "_optimizer",
    "OptimWrapper": "_wrapper",
    "Stepper": "_steppers",
    "sgd_step": "_steppers",
    "momentum_step": "_steppers",
    "adam_step": "_steppers",
    "radam_step": "_steppers",
    "average_grad": "_steppers",
    "average_sqr_grad": "_steppers",
    "step_stat": "_steppers",
    "l2_reg": "_steppers",
    "weight_decay": "_steppers",
    "debias": "_steppers",
    "bind_stepper": "_steppers",
}

__all__ = [
    "Adam", "AdamW", "Lookahead", "OptimWrapper", "Optimizer", "RAdam", "SGD", "Stepper", "adam_step",
    "average_grad", "average_sqr_grad", "bind_stepper", "debias", "hyper_per_group", "l2_reg", "momentum_step", "radam_step",
    "ranger", "sgd_step", "step_stat", "weight_decay",
]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, extra=__all__)
