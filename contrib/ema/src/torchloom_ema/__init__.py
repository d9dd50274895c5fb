"""torchloom-ema: an exponential moving average of the weights, ``learn.use("ema", decay=0.999)``.

Import-light: torchloom imports ``torchloom_ema.plugin`` (and so this file) while discovering
plugins; the callback module (and torch) is imported only when ``EMA`` is first used.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["EMA"]


def __getattr__(name: str) -> Any:
    if name == "EMA":
        from .ema import EMA

        return EMA
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
