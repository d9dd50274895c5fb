"""torchloom-fp16: mixed precision, ``learn.use("fp16")`` (float16 + dynamic loss scaling) or ``"bf16"``.

Names load lazily so plugin discovery stays cheap.
"""
from __future__ import annotations

from torchloom import lazy_exports

__all__ = ["BF16", "FP16", "MixedPrecision", "to_float"]

__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(__all__, "precision"), extra=__all__,
                                    dist="torchloom-fp16")
