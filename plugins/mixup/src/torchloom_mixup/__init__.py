"""torchloom-mixup: MixUp and CutMix callbacks, switched on with ``learn.use("mixup")`` / ``"cutmix"``.

Names load lazily so plugin discovery stays cheap.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
_LAZY = {"MixUp": "mixup", "CutMix": "mixup", "MixHandler": "mixup", "MixedLoss": "loss",
         "per_sample_loss": "loss"}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'torchloom_mixup' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return [*__all__, "__version__"]
