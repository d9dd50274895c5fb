"""The plain module inside wrappers (``DistributedDataParallel``, ``torch.compile``), and clean keys.

Weights are always saved from the plain module, so a file written under DDP or from a compiled
model loads into a plain Learner and vice versa. ``clean_state_dict`` also repairs files written
from a ``torch.compile``-wrapped model elsewhere (keys prefixed ``_orig_mod.``).
"""
from __future__ import annotations

from typing import Any

from torch import nn

__all__ = ["clean_state_dict", "unwrap_model"]


def unwrap_model(model: Any) -> Any:
    """Strip DDP (``.module``) and compile (``._orig_mod``) wrappers, however nested."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):
            model = model._orig_mod
        else:
            return model


def clean_state_dict(sd: dict[str, Any]) -> dict[str, Any]:
    """Drop ``_orig_mod.`` segments that a compiled model adds to every key (other keys untouched)."""
    if not any("_orig_mod." in k for k in sd):
        return sd
    return {k.replace("_orig_mod.", ""): v for k, v in sd.items()}
