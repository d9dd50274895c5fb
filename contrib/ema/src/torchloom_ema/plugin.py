"""Hook implementations of torchloom-ema (kept tiny: the callback is named, not imported)."""
from __future__ import annotations

from typing import Any

import torchloom

PLUGIN_API = 1


@torchloom.hookimpl
def register_callbacks(register: Any) -> None:
    register(
        "ema",
        "torchloom_ema.ema:EMA",
        doc="Exponential moving average of the weights; validation runs with the averaged weights",
    )
