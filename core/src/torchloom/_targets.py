"""The one resolver of ``"module:Name"`` targets, and the allow rules of every load path.

A file (an export, a DataLoaders spec) names classes and functions to rebuild. This module is the
security boundary between such a name and running code, so every rule lives here:

* **Syntax first.** ``module`` is a dotted name of identifiers, ``Name`` one identifier: relative
  names (``.mod``), dunder parts (``__import__``, ``mod.__dict__``) and attribute paths
  (``torch:os.system``) are refused before anything else happens.
* **No import of a stranger.** A module is imported only if it belongs to the kernel (``torchloom``)
  or to an installed plugin (its package appears in the plugin registry). Any other module must
  already be imported by the program; nothing named in a file makes torchloom import it, so no
  top-level code of an unknown ``.py`` runs. This check runs before any import.
* **The object must be allowed for its role.** An :class:`Allow` lists the :class:`Rule` s of one
  role (a model factory, a loss, a transform...): a registered plugin name, a class or function
  explicitly marked (``@model_factory``, ``@exportable_loss``), a subclass of a kernel base
  (``Transform``, ``BaseLoss``), or a short explicit list of torch names.

Installed plugins are trusted code; files are not. ``import_target(..., trusted=True)`` is only for
targets written by installed code (a plugin's ``register`` call), never for strings read from a file.
"""
from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from torchloom._target_syntax import MissingTargetError, TargetError, split_target

__all__ = [
    "Allow", "MissingTargetError", "Rule", "TargetError", "exportable_loss", "import_target", "is_marked",
    "mark", "model_factory", "target_of",
]

F = TypeVar("F", bound=Callable[..., Any])
KERNEL = "torchloom"


# --- marks --------------------------------------------------------------------------------------

_MARK = "__torchloom_targets__"


def mark(obj: F, role: str) -> F:
    """Mark ``obj`` as safe to rebuild from a file in ``role`` (``"model"``, ``"loss"``...)."""
    roles = set(getattr(obj, _MARK, ()) or ())
    roles.add(role)
    setattr(obj, _MARK, frozenset(roles))
    if role == "model":
        obj.__torchloom_model_factory__ = True  # type: ignore[attr-defined]
    return obj


def is_marked(obj: Any, role: str) -> bool:
    """Whether ``obj`` itself (not a parent class) was marked for ``role``."""
    try:
        roles = vars(obj).get(_MARK, ())
    except TypeError:
        return False
    return isinstance(roles, frozenset) and role in roles


def model_factory(fn: F) -> F:
    """Mark ``fn`` as safe to call when ``load_learner`` rebuilds a model from a file's ``model_spec``."""
    return mark(fn, "model")


def exportable_loss(obj: F) -> F:
    """Mark a loss class or function as safe to rebuild by name when ``load_learner`` reads an export."""
    return mark(obj, "loss")


# --- rules --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """One reason an object may be rebuilt from a file; ``name`` appears in refusals."""

    name: str
    test: Callable[[Any], bool]

    def __call__(self, obj: Any) -> bool:
        try:
            return bool(self.test(obj))
        except Exception:
            return False


def _subclass(obj: Any, base: type) -> bool:
    return isinstance(obj, type) and issubclass(obj, base)


def _is_module_class(o: Any) -> bool:
    from torch import nn

    return _subclass(o, nn.Module)


def _is_loss_class(o: Any) -> bool:
    from torch.nn.modules.loss import _Loss

    from torchloom._losses import BaseLoss

    return _subclass(o, _Loss) or _subclass(o, BaseLoss) or (isinstance(o, type) and is_marked(o, "loss"))


# torch loss functions a file may name (by module and name, checked on the object found).
TORCH_LOSS_FUNCTIONS: tuple[str, ...] = (
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cosine_embedding_loss", "cross_entropy",
    "ctc_loss", "gaussian_nll_loss", "hinge_embedding_loss", "huber_loss", "kl_div", "l1_loss", "margin_ranking_loss",
    "mse_loss", "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss", "nll_loss",
    "poisson_nll_loss", "smooth_l1_loss", "soft_margin_loss", "triplet_margin_loss",
)


def _is_loss_function(o: Any) -> bool:
    import torch.nn.functional as F_

    if callable(o) and not isinstance(o, type) and is_marked(o, "loss"):
        return True
    return any(o is getattr(F_, n, None) for n in TORCH_LOSS_FUNCTIONS)


def _is_transform_class(o: Any) -> bool:
    from torchloom._transform import Transform

    return _subclass(o, Transform)


def _is_tensor_type(o: Any) -> bool:
    from torch import Tensor

    return _subclass(o, Tensor)


def _is_exportable_getter(o: Any) -> bool:
    return callable(o) and not isinstance(o, type) and getattr(o, "__torchloom_exportable__", False) is True


def _is_model_factory(o: Any) -> bool:
    return callable(o) and not isinstance(o, type) and (
        is_marked(o, "model") or getattr(o, "__torchloom_model_factory__", False) is True)


NN_MODULE_CLASS = Rule("an nn.Module subclass", _is_module_class)
MODEL_FACTORY = Rule("a function marked @torchloom.model_factory", _is_model_factory)
LOSS_CLASS = Rule("a loss class (torch loss, torchloom BaseLoss subclass or @torchloom.exportable_loss)",
                  _is_loss_class)
LOSS_FUNCTION = Rule("a torch.nn.functional loss or a function marked @torchloom.exportable_loss",
                     _is_loss_function)
TRANSFORM_CLASS = Rule("a Transform subclass", _is_transform_class)
TENSOR_TYPE = Rule("a torch.Tensor subclass", _is_tensor_type)
EXPORTABLE_GETTER = Rule("a getter marked @exportable", _is_exportable_getter)
ANYTHING = Rule("anything (installed code)", lambda o: True)


@dataclass(frozen=True)
class Allow:
    """What one role accepts: its rules, and the registry kind whose plain names it also accepts."""

    what: str
    rules: tuple[Rule, ...]
    registry_kind: str | None = None

    # the kernel's roles, also reachable as ``Allow.MODEL`` etc. (set below)
    MODEL: ClassVar[Allow]
    LOSS_INSTANCE: ClassVar[Allow]
    LOSS_FUNC: ClassVar[Allow]
    TRANSFORM: ClassVar[Allow]
    TYPE: ClassVar[Allow]
    GETTER: ClassVar[Allow]

    def accepts(self, obj: Any) -> bool:
        return any(r(obj) for r in self.rules)


MODEL = Allow("model factory", (NN_MODULE_CLASS, MODEL_FACTORY))
LOSS_INSTANCE = Allow("loss class", (LOSS_CLASS,))
LOSS_FUNC = Allow("loss function", (LOSS_FUNCTION,))
TRANSFORM = Allow("transform", (TRANSFORM_CLASS,), registry_kind="transform")
TYPE = Allow("tensor type", (TENSOR_TYPE,))
GETTER = Allow("getter", (EXPORTABLE_GETTER,))
PLUGIN = Allow("plugin target", (ANYTHING,))  # only with trusted=True: written by installed code
Allow.MODEL, Allow.LOSS_INSTANCE, Allow.LOSS_FUNC = MODEL, LOSS_INSTANCE, LOSS_FUNC
Allow.TRANSFORM, Allow.TYPE, Allow.GETTER = TRANSFORM, TYPE, GETTER


# --- the resolver --------------------------------------------------------------------------------

def _where(source: Any, field: str | None) -> str:
    parts = [str(source) if source is not None else "", field or ""]
    return ": ".join(p for p in parts if p)





def plugin_packages() -> frozenset[str]:
    """Top-level packages of the installed plugins the registry knows (loaded ones only)."""
    from torchloom._plugins.hookspecs import KINDS
    from torchloom._plugins.manager import get_registry

    reg = get_registry()
    pkgs = {p.module.split(".")[0] for p in reg.plugins if p.status == "loaded" and p.module}
    for kind in KINDS:
        for e in reg.entries(kind):
            if isinstance(e.target, str):
                pkgs.add(e.target.split(":")[0].split(".")[0])
    return frozenset(pkgs)


# torch modules a file may name although no plugin owns them (``import torch`` loads them all anyway)
TORCH_MODULES: frozenset[str] = frozenset({"torch", "torch.nn", "torch.nn.functional", "torch.nn.modules"})


def _may_import(mod: str) -> bool:
    root = mod.split(".")[0]
    if root == KERNEL or mod in TORCH_MODULES or mod.startswith("torch.nn.modules."):
        return True
    try:
        return root in plugin_packages()
    except Exception:
        return False


def import_target(path: str, allow: Allow, *, source: Any = None, field: str | None = None,
                  trusted: bool = False) -> Any:
    """The object ``path`` names, if ``allow`` accepts it; otherwise a :class:`TargetError`.

    ``path`` is ``"module:Name"`` or, when ``allow.registry_kind`` is set, a registered plugin name.
    ``source`` (a file) and ``field`` (where in it) are named in every error. The module is checked
    before it is imported (see the module docstring); ``trusted=True`` is for targets written by
    installed code and skips only that check.
    """
    where = _where(source, field)
    pre = f"{where}: " if where else ""
    if allow.registry_kind is not None and isinstance(path, str) and ":" not in path:
        from torchloom._plugins.manager import get_registry

        try:
            return get_registry().resolve(allow.registry_kind, path)
        except Exception as e:
            raise TargetError(f"{pre}{allow.what} {path!r}: {e}") from e
    try:
        mod, attr = split_target(path)
    except TargetError as e:
        raise TargetError(f"{pre}refusing {allow.what} target: {e}") from None
    if trusted:  # installed code named it: plain import errors, as the plugin machinery reports them
        return getattr(importlib.import_module(mod), attr)
    module = sys.modules.get(mod)
    if module is None:
        if not _may_import(mod):
            raise TargetError(
                f"{pre}refusing {allow.what} target {path!r}: module {mod!r} is not imported and belongs neither "
                "to torchloom nor to an installed plugin, so a file may not make torchloom import it. If you "
                f"trust it, `import {mod}` before loading.")
        try:
            module = importlib.import_module(mod)
        except ImportError as e:
            raise MissingTargetError(f"{pre}cannot import module {mod!r} for {allow.what} {path!r}: {e}. "
                                     "Install the package that defines it.") from e
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise MissingTargetError(f"{pre}{allow.what} {path!r}: module {mod!r} has no attribute {attr!r}") from None
    if not allow.accepts(obj):
        allowed = " or ".join(r.name for r in allow.rules)
        raise TargetError(f"{pre}refusing {allow.what} target {path!r}: it is not {allowed}")
    return obj


def target_of(obj: Any) -> str:
    """``"module:Name"`` of a module-level class or function (or of an instance's class)."""
    o = obj if isinstance(obj, type) or inspect.isfunction(obj) or inspect.isbuiltin(obj) else type(obj)
    mod, qual = getattr(o, "__module__", None), getattr(o, "__qualname__", None)
    if not mod or not qual or "." in qual or "<" in qual:
        raise TargetError(f"{qual or o!r} cannot be named in a file: only classes and functions defined at the "
                          "top level of a module can be rebuilt by name")
    return f"{mod}:{qual}"


def check_kwargs(fn: Any, kwargs: Any, *, what: str, source: Any = None, field: str | None = None,
                 tensors: bool = False) -> dict[str, Any]:
    """``kwargs`` read from a file, checked: a dict of JSON values (and tensors when allowed) that binds
    to ``fn``'s signature. Returns it; raises :class:`TargetError` naming the file and field."""
    where = _where(source, field)
    pre = f"{where}: " if where else ""
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise TargetError(f"{pre}{what} arguments must be a JSON object, got {type(kwargs).__name__}")
    _check_values(kwargs, pre, what, tensors, 0)
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return kwargs
    try:
        sig.bind(**kwargs)
    except TypeError as e:
        raise TargetError(f"{pre}{what} arguments {sorted(kwargs)} do not match {getattr(fn, '__qualname__', fn)}"
                          f"{sig}: {e}") from None
    return kwargs


def _check_values(v: Any, pre: str, what: str, tensors: bool, depth: int) -> None:
    if depth > 32:
        raise TargetError(f"{pre}{what} arguments are nested too deeply")
    if v is None or isinstance(v, (bool, int, float, str)):
        return
    if isinstance(v, (list, tuple)):
        for x in v:
            _check_values(x, pre, what, tensors, depth + 1)
        return
    if isinstance(v, dict):
        for k, x in v.items():
            if not isinstance(k, str):
                raise TargetError(f"{pre}{what} arguments: dict keys must be strings, got {k!r}")
            _check_values(x, pre, what, tensors, depth + 1)
        return
    if tensors:
        from torch import Tensor

        if isinstance(v, Tensor):
            return
    raise TargetError(f"{pre}{what} arguments may hold only JSON numbers, strings, lists and objects"
                      f"{' and tensors' if tensors else ''}, got {type(v).__name__}")

