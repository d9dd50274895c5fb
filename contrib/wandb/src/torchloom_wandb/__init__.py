"""torchloom-wandb: log torchloom training runs to Weights & Biases, ``learn.use("wandb", project=...)``.

Import-light: torchloom imports ``torchloom_wandb.plugin`` (and so this file) while discovering
plugins; the callback module and wandb itself are imported only when the callback is first used.
"""
from __future__ import annotations

from torchloom import lazy_exports

__all__ = ["WandbCallback"]

__getattr__, __dir__ = lazy_exports(__name__, {"WandbCallback": "callback"}, extra=__all__, dist="torchloom-wandb")
