"""torchloom-ema: an exponential moving average of the weights, ``learn.use("ema", decay=0.999)``.

Import-light: torchloom imports ``torchloom_ema.plugin`` (and so this file) while discovering
plugins; the callback module (and torch) is imported only when ``EMA`` is first used.
"""
from __future__ import annotations

from torchloom import lazy_exports

__all__ = ["EMA"]

__getattr__, __dir__ = lazy_exports(__name__, {"EMA": "ema"}, extra=__all__, dist="torchloom-ema")
