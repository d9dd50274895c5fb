"""torchloom-lamb: the LAMB optimizer (layer-wise adaptive moments) for torchloom.

``from torchloom_lamb import Lamb, lamb_step``; or by name: ``Learner(..., opt_func="lamb")`` /
``learn.use("lamb")``. Names load lazily so plugin discovery stays cheap.
"""
from __future__ import annotations

from torchloom import lazy_exports

__all__ = ["MAX_TRUST", "Lamb", "lamb_step", "trust_ratio"]

__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(__all__, "optimizer"), extra=__all__,
                                    dist="torchloom-lamb")
