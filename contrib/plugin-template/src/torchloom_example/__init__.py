"""torchloom-example: the 'example' callback for torchloom (``learn.use("example")``).

Kept import-light on purpose: torchloom imports ``torchloom_example.plugin`` (and so this file) when it
discovers plugins, so the callback module is only imported when the callback is first used.
"""
from __future__ import annotations

from torchloom import lazy_exports

__all__ = ["ExampleCallback"]

__getattr__, __dir__ = lazy_exports(__name__, {"ExampleCallback": "callback"}, extra=__all__,
                                    dist="torchloom-example")
