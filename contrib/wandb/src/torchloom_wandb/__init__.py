"""torchloom-wandb: log torchloom training runs to Weights & Biases, ``learn.use("wandb", project=...)``.

Import-light: torchloom imports ``torchloom_wandb.plugin`` (and so this file) while discovering
plugins; the callback module and wandb itself are imported only when the callback is first used.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["WandbCallback"]


def __getattr__(name: str) -> Any:
    if name == "WandbCallback":
        from .callback import WandbCallback

        return WandbCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
