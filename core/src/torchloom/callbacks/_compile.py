"""``learn.use("compile")``: run the model through ``torch.compile``, falling back to eager with one warning.

The module is compiled in place (``nn.Module.compile``), so ``learn.model`` stays the same object:
its ``state_dict`` keys do not change (no ``_orig_mod.`` prefix), optimizers, hooks and DDP keep
working, and ``save``/``export``/``load_learner`` are unaffected. Compilation happens on the first
batch; if the backend is unavailable or fails (no C++ compiler, unsupported Python, an op it cannot
handle), the batch is rerun eagerly, one warning says why, and training continues uncompiled. An
error that the eager model raises too is a real error and propagates.
"""
from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from torchloom._unwrap import unwrap_model
from torchloom.callbacks._base import Callback

__all__ = ["CompileModel"]


class _GuardedCall:
    """Stands in for the module's compiled ``__call__``: compiled first, eager forever after a failure."""

    def __init__(self, owner: CompileModel, module: nn.Module, compiled: Any) -> None:
        self.owner, self.module, self.compiled = owner, module, compiled

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.owner.__dict__.get("learn") is None:  # the callback was removed (learn.unuse("compile"))
            self.module._compiled_call_impl = None
            return self.module._call_impl(*args, **kwargs)
        try:
            return self.compiled(*args, **kwargs)
        except Exception as e:
            self.module._compiled_call_impl = None  # eager from now on
            out = self.module._call_impl(*args, **kwargs)  # a genuine model error raises here
            self.owner._fell_back(e)
            return out


class CompileModel(Callback):
    """Compile ``learn.model`` with ``torch.compile(**kwargs)`` for as long as the callback is active.

    Keyword arguments go to ``torch.compile``: ``mode`` ("default", "reduce-overhead",
    "max-autotune"), ``backend`` ("inductor", "aot_eager", ... or a callable), ``fullgraph``,
    ``dynamic``, ``options``. ``compiled`` says whether the model currently runs compiled.
    """

    order = -5  # before other callbacks see the model in before_fit

    def __init__(self, **compile_kwargs: Any) -> None:
        super().__init__()
        self.compile_kwargs = compile_kwargs
        self.failed: str | None = None
        self._module: nn.Module | None = None

    @property
    def compiled(self) -> bool:
        m = self._module
        return m is not None and isinstance(getattr(m, "_compiled_call_impl", None), _GuardedCall)

    def _fell_back(self, e: BaseException) -> None:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        self.failed = f"{type(e).__name__}: {' '.join(lines[:2])}"[:300]
        warnings.warn(f"torch.compile is unavailable or failed for {type(self._module).__name__} "
                      f"({self.failed}); the model runs eagerly (uncompiled) from here on", RuntimeWarning,
                      stacklevel=2)

    def before_fit(self) -> None:
        model = unwrap_model(self.learn.model)
        if self.failed is not None or not isinstance(model, nn.Module):
            return
        if model is self._module and self.compiled:
            return
        if not hasattr(torch, "compile") or not hasattr(model, "_compiled_call_impl"):
            self.failed = f"torch {torch.__version__} has no nn.Module.compile"
            warnings.warn(f"{self.failed}; the model runs eagerly", RuntimeWarning, stacklevel=2)
            return
        try:
            compiled = torch.compile(model._call_impl, **self.compile_kwargs)
        except Exception as e:  # bad kwargs or a backend that cannot even be looked up
            self._module = model
            self._fell_back(e)
            return
        model._compiled_call_impl = _GuardedCall(self, model, compiled)
        self._module = model

    def uncompile(self) -> None:
        """Back to the eager module (also when the callback is removed with ``learn.unuse``)."""
        m = self._module
        if m is not None and isinstance(getattr(m, "_compiled_call_impl", None), _GuardedCall):
            m._compiled_call_impl = None
        self._module = None
