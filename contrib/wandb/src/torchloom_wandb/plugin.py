"""Hook implementations of torchloom-wandb (kept tiny: wandb is imported only when a run starts)."""
from __future__ import annotations

from typing import Any

import torchloom

PLUGIN_API = 1


@torchloom.hookimpl
def register_callbacks(register: Any) -> None:
    register(
        "wandb",
        "torchloom_wandb.callback:WandbCallback",
        doc="Log losses, metrics, learning rate, hyper-parameters and sample predictions to Weights & Biases",
    )
