"""torchloom-mixup: MixUp and CutMix callbacks, switched on with ``learn.use("mixup")`` / ``"cutmix"``.

Names load lazily so plugin discovery stays cheap.
"""
from __future__ import annotations

from torchloom import lazy_exports

_LAZY = {"MixUp": "mixup", "CutMix": "mixup", "MixHandler": "mixup", "MixedLoss": "loss",
         "per_sample_loss": "loss"}
__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, extra=__all__, dist="torchloom-mixup")
