"""``Transform`` (encodes/decodes/setups overloaded by annotation) and ``Pipeline`` (an ordered composition).

Define several ``encodes`` in one class body; each is picked by the annotation of its argument (MRO
resolution, ``Union``), unmatched types pass through, tuples are mapped element-wise and results keep the
input's semantic type. Extending a transform from another package is explicit: ``@Cls.extend``.
"""
from __future__ import annotations

import inspect
import json
import random
import sys
from collections.abc import Callable, Iterable
from typing import Any

from torch import Tensor

from torchloom._dispatch import NO_ANNOTATION, DispatchAttr, TypeDispatch, annotated_types, return_annotation

__all__ = ["transform_error", "SkipItemException", "Transform", "ItemTransform", "DisplayedTransform", "RandTransform", "Pipeline", "TransformError",
           "mk_transform"]

_KINDS = ("encodes", "decodes", "setups")
_NoneType = type(None)
_MISS = object()


class TransformError(Exception):
    """A transform failed on an item; the message names the transform (and the item, when known).

    ``transform_error(msg, cause)`` raises it as a subclass of the original exception's type too (for
    built-in exception types), so ``except FileNotFoundError`` around a DataLoader still works.
    """

    def __init__(self, msg: str, transform: Any = None) -> None:
        super().__init__(msg)
        self.transform = transform

    def __str__(self) -> str:  # KeyError-derived variants would otherwise quote the message
        return str(self.args[0]) if self.args else ""

    def __reduce__(self) -> Any:  # survives the trip back from DataLoader workers
        return (type(self), (str(self),))


_ERROR_TYPES: dict[type, type] = {}


def _error_type(base: type) -> type:
    """``TransformError`` mixed with a built-in exception type (module-level name, so it unpickles)."""
    if not (isinstance(base, type) and issubclass(base, Exception) and base.__module__ == "builtins"):
        return TransformError
    if issubclass(base, TransformError):
        return base
    t = _ERROR_TYPES.get(base)
    if t is None:
        name = f"TransformError_{base.__name__}"
        try:
            t = type(name, (TransformError, base), {"__module__": __name__})
            t("probe")  # some built-ins need more constructor arguments (UnicodeDecodeError...)
        except TypeError:
            return TransformError
        _ERROR_TYPES[base] = t
        globals()[name] = t
    return t


def __getattr__(name: str) -> Any:
    # unpickling a TransformError_<Builtin> raised in a worker process
    if name.startswith("TransformError_"):
        import builtins

        base = getattr(builtins, name[len("TransformError_"):], None)
        t = _error_type(base) if base is not None else TransformError
        if t is not TransformError:
            return t
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def transform_error(msg: str, cause: BaseException | None, transform: Any = None) -> TransformError:
    """A ``TransformError`` with ``msg`` that is also an instance of ``cause``'s built-in type."""
    if cause is None or isinstance(cause, TransformError):
        base: type = type(cause) if cause is not None else TransformError
    else:  # the nearest built-in type: LabelNotInVocabError -> KeyError
        base = next((c for c in type(cause).__mro__ if c.__module__ == "builtins"), Exception)
    return _error_type(base)(msg, transform=transform)


class SkipItemException(Exception):
    """Raise in an item transform to drop that item (the DataLoader leaves it out of its batch)."""


class _TfmDict(dict):
    """Class namespace that collects every ``encodes``/``decodes``/``setups`` defined in a class body."""

    def __setitem__(self, k: str, v: Any) -> None:
        if k in _KINDS and callable(v):
            self.setdefault("__tl_" + k, []).append(v)
            v = None
        if v is None and k in _KINDS:
            return
        super().__setitem__(k, v)


class _TfmMeta(type):
    @classmethod
    def __prepare__(mcs, name: str, bases: tuple, **kwargs: Any) -> _TfmDict:
        return _TfmDict()

    def __new__(mcs, name: str, bases: tuple, ns: _TfmDict, **kwargs: Any) -> _TfmMeta:
        collected = {k: ns.pop("__tl_" + k, []) for k in _KINDS}
        cls = super().__new__(mcs, name, bases, dict(ns), **kwargs)
        # the scope defining the class, to resolve string annotations naming local classes
        caller = sys._getframe(1)
        localns = {**caller.f_locals, name: cls} if caller.f_code.co_name != "<module>" else {name: cls}
        for k in _KINDS:
            parent = getattr(cls, "_tl_" + k, None)
            disp = parent.copy() if parent is not None else TypeDispatch(name=f"{name}.{k}")
            disp.name = f"{name}.{k}"
            own: set[type] = set()
            for f in collected[k]:
                before = set(disp.funcs.items())
                disp.add(f, localns=localns)
                own |= {t for t, v in disp.funcs.items() if (t, v) not in before}
            setattr(cls, "_tl_own_" + k, own)  # types this class defines itself (``extend`` leaves them alone)
            setattr(cls, "_tl_" + k, disp)
            setattr(cls, k, DispatchAttr(disp))  # descriptor: ``tfm.encodes(x)`` dispatches
        return cls


def _is_plain_tuple(x: Any) -> bool:
    return isinstance(x, tuple) and not hasattr(x, "_fields")


def _cast_to(res: Any, typ: type) -> Any:
    if isinstance(res, typ):
        return res
    if isinstance(res, Tensor) and issubclass(typ, Tensor):
        return res.as_subclass(typ)
    try:
        return typ(res)
    except Exception:
        return res


class Transform(metaclass=_TfmMeta):
    """A reversible, type-dispatched function with optional setup on training data.

    Subclass and define ``encodes``/``decodes``/``setups`` (several of each, by annotation), or build one
    from functions: ``Transform(f)`` / ``Transform(enc=f, dec=g)``. ``split_idx`` 0 applies it to the
    training split only, 1 to the validation split only; ``order`` sorts it within a ``Pipeline``.
    """

    split_idx: int | None = None
    order: int = 0
    train_setup: bool | None = None
    _retain: bool = False  # ItemTransform: take the whole tuple
    _fn: Callable | None = None

    def __init__(self, enc: Callable | None = None, dec: Callable | None = None, split_idx: int | None = None,
                 order: int | None = None) -> None:
        if split_idx is not None:
            self.split_idx = split_idx
        if enc is not None:
            if not callable(enc):
                raise TypeError(f"Transform(enc=...) needs a callable, got {enc!r}")
            self._tl_encodes = _plain_dispatch(enc, "encodes")
            self.name = getattr(enc, "__name__", type(enc).__name__)
            if order is None and hasattr(enc, "order"):
                order = enc.order
        if dec is not None:
            if not callable(dec):
                raise TypeError(f"Transform(dec=...) needs a callable, got {dec!r}")
            self._tl_decodes = _plain_dispatch(dec, "decodes")
        if order is not None:
            self.order = order
        self._fn = enc

    # --- naming / repr ---------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.__dict__.get("_name") or type(self).__name__

    @name.setter
    def name(self, v: str) -> None:
        self.__dict__["_name"] = v

    def __repr__(self) -> str:
        enc = ", ".join(t.__name__ for t in self._tl_encodes.types())
        dec = ", ".join(t.__name__ for t in self._tl_decodes.types())
        return f"{self.name}:\nencodes: ({enc})\ndecodes: ({dec})"

    # --- calling ---------------------------------------------------------------------------------------
    def __call__(self, x: Any, split_idx: int | None = None, **kwargs: Any) -> Any:
        si = self.split_idx
        if si is not None and split_idx != si:
            return x
        disp = self._tl_encodes
        if kwargs or self._retain or isinstance(x, tuple):
            return self._call(disp, x, kwargs)
        # fast path (one non-tuple argument): a cached dict lookup, the call, the type-retention check
        t = type(x)
        hit = disp.cache.get(t, _MISS)
        if hit is _MISS:
            hit = disp.resolve(t)
        if hit is None:
            return x
        f, ret = hit
        res = f(self, x)
        if ret is NO_ANNOTATION:
            tr = type(res)
            if tr is not t and isinstance(res, Tensor) and isinstance(x, tr):
                res = res.as_subclass(t)
                d = x.__dict__
                if d:
                    res.__dict__.update(d)
            return res
        return res if ret is _NoneType else _cast_to(res, ret)

    def decode(self, x: Any, split_idx: int | None = None, **kwargs: Any) -> Any:
        """Undo ``encodes`` (identity for types without a ``decodes``)."""
        if self.split_idx is not None and split_idx != self.split_idx:
            return x
        return self._call(self._tl_decodes, x, kwargs)

    def _call(self, disp: TypeDispatch, x: Any, kwargs: dict) -> Any:
        if self._retain:
            res = self._do(disp, x, kwargs)
            if isinstance(res, list) and isinstance(x, tuple):
                res = tuple(res)
            return _cast_to(res, type(x)) if _is_plain_tuple(res) and type(x) is not tuple and \
                isinstance(x, tuple) else res
        if _is_plain_tuple(x) and not (disp.handles_tuple and _tuple_hit(disp, type(x))):
            res = tuple([self._call(disp, o, kwargs) for o in x])
            return res if type(x) is tuple else _cast_to(res, type(x))
        return self._do(disp, x, kwargs)

    def _do(self, disp: TypeDispatch, x: Any, kwargs: dict) -> Any:
        t = type(x)
        hit = disp.cache.get(t, _MISS)
        if hit is _MISS:
            hit = disp.resolve(t)
        if hit is None:
            return x
        f, ret = hit
        res = f(self, x, **kwargs) if kwargs else f(self, x)
        if ret is NO_ANNOTATION:
            # retain the input's semantic type when the result is one of its parents (fastai's rule)
            tr = type(res)
            if tr is not t and isinstance(res, Tensor) and isinstance(x, tr):
                res = res.as_subclass(t)
                d = x.__dict__
                if d:
                    res.__dict__.update(d)
            return res
        if ret is _NoneType:
            return res
        return _cast_to(res, ret)

    # --- setup -----------------------------------------------------------------------------------------
    def setup(self, items: Any = None, train_setup: bool = False) -> None:
        """Run ``setups`` on ``items`` (their training subset when ``train_setup``); errors propagate."""
        ts = self.train_setup if self.train_setup is not None else train_setup
        if ts and hasattr(items, "train"):
            items = items.train
        hit = self._tl_setups.resolve(type(items))
        if hit is not None:
            hit[0](self, items)

    # --- extension and serialisation -------------------------------------------------------------------
    @classmethod
    def extend(cls, f: Callable) -> Callable:
        """Add an ``encodes``/``decodes``/``setups`` overload to this class (and its subclasses), explicitly.

        ``@Categorize.extend`` over ``def encodes(self, x: MyType)``; the function's name says which table.
        """
        kind = f.__name__
        if kind not in _KINDS:
            raise ValueError(f"{cls.__name__}.extend: function must be named one of {_KINDS}, got {kind!r}")
        caller = sys._getframe(1)
        localns = caller.f_locals if caller.f_code.co_name != "<module>" else None
        types = annotated_types(f, True, localns)
        cls.__dict__["_tl_" + kind].add(f, types)
        cls.__dict__["_tl_own_" + kind].update(types)
        todo = list(cls.__subclasses__())
        while todo:  # subclasses inherit the overload unless they define one for that type themselves
            c = todo.pop()
            mine = [t for t in types if t not in c.__dict__["_tl_own_" + kind]]
            if mine:
                c.__dict__["_tl_" + kind].add(f, mine)
            todo.extend(c.__subclasses__())
        return f

    def get_config(self) -> dict:
        """JSON-able ``__init__`` arguments needed to rebuild this transform (``{}`` by default).

        The default collects each ``__init__`` parameter stored on the instance under the same name;
        tensors are left to ``state_dict``.
        """
        if type(self).__init__ is Transform.__init__:
            if self._fn is not None:
                raise TypeError(f"transform {self.name!r} wraps a plain function and cannot be exported; "
                                "define a Transform subclass instead")
            return {}
        cfg = {}
        for p in list(inspect.signature(type(self).__init__).parameters.values())[1:]:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name not in self.__dict__:
                continue
            v = self.__dict__[p.name]
            if isinstance(v, Tensor):
                continue
            try:
                json.dumps(v)
            except TypeError as e:
                raise TypeError(f"transform {self.name!r}: __init__ argument {p.name!r}={v!r} is not JSON-able; "
                                "override get_config/state_dict to export it") from e
            cfg[p.name] = v
        return cfg

    def state_dict(self) -> dict:
        """Setup state (vocab, statistics...) as tensors or JSON-able values (``{}`` by default)."""
        return {}

    def load_state_dict(self, d: dict) -> None:
        """Restore what ``state_dict`` returned."""
        for k, v in d.items():
            setattr(self, k, v)

    def to(self, device: Any) -> Transform:
        """Move tensor attributes (statistics such as mean/std) to ``device``."""
        for k, v in list(self.__dict__.items()):
            if isinstance(v, Tensor):
                setattr(self, k, v.to(device))
        return self


def _tuple_hit(disp: TypeDispatch, typ: type) -> bool:
    t = disp.resolved_type(typ)
    return t is not None and t is not object


def _plain_dispatch(f: Callable, kind: str) -> TypeDispatch:
    d = TypeDispatch(name=f"{getattr(f, '__name__', 'fn')}.{kind}", skip_self=False)
    inner = f if inspect.isfunction(f) or inspect.ismethod(f) else getattr(f, "__call__", f)  # noqa: B004
    try:
        types = annotated_types(inner, skip_self=False)
        ret = return_annotation(inner)
    except (TypeError, ValueError):
        types, ret = (object,), NO_ANNOTATION

    def call(_self: Any, x: Any, **kwargs: Any) -> Any:
        return f(x, **kwargs)

    d.add(call, types)
    for t in types:
        d.funcs[t] = (call, ret)
    d.cache.clear()
    return d


class ItemTransform(Transform):
    """A transform that receives the whole (x, y) tuple instead of each element."""

    _retain = True


class DisplayedTransform(Transform):
    """A transform whose name shows its ``get_config`` arguments (used in ``summary`` output)."""

    @property
    def name(self) -> str:
        base = self.__dict__.get("_name") or type(self).__name__
        try:
            cfg = self.get_config()
        except TypeError:
            cfg = {}
        return f"{base} -- {cfg}" if cfg else base

    @name.setter
    def name(self, v: str) -> None:
        self.__dict__["_name"] = v


class RandTransform(DisplayedTransform):
    """A random transform: ``before_call`` draws its parameters once per call on the whole item/batch.

    So an (image, mask) tuple gets the same crop. Applies with probability ``p`` on the training split.
    """

    split_idx = 0

    def __init__(self, p: float = 1.0, nm: str | None = None, before_call: Callable | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.p = p
        if nm is not None:
            self.name = nm
        if before_call is not None:
            self.before_call = before_call  # type: ignore[method-assign]
        self.do = True

    def before_call(self, b: Any, split_idx: int | None) -> None:
        """Draw this call's random parameters (override to draw more; ``self.do`` gates the call)."""
        self.do = self.p == 1.0 or random.random() < self.p

    def __call__(self, b: Any, split_idx: int | None = None, **kwargs: Any) -> Any:
        if self.split_idx is not None and split_idx != self.split_idx:
            return b
        self.before_call(b, split_idx=split_idx)
        return super().__call__(b, split_idx=split_idx, **kwargs) if self.do else b


def mk_transform(f: Any) -> Transform:
    """A ``Transform`` from a transform, a transform class (instantiated) or a plain callable."""
    if isinstance(f, Transform):
        return f
    if isinstance(f, type) and issubclass(f, Transform):
        return f()
    if callable(f):
        return Transform(f)
    raise TypeError(f"cannot make a transform from {f!r}: expected a Transform, a Transform class or a callable")


def _describe(o: Any) -> str:
    if isinstance(o, Tensor):
        return f"{type(o).__name__}(shape={tuple(o.shape)}, dtype={o.dtype})"
    if isinstance(o, tuple) and len(o) < 10:
        return "(" + ", ".join(_describe(x) for x in o) + ")"
    r = repr(o)
    return r if len(r) < 120 else r[:117] + "..."


def _is_showable(o: Any) -> bool:
    if isinstance(o, tuple):
        return all(hasattr(x, "show") for x in o)
    return hasattr(o, "show")


class Pipeline:
    """Transforms applied in ``order`` (stable sort); ``decode`` runs their ``decodes`` backwards.

    ``setup(items)`` adds the transforms back one by one, so each one's ``setups`` sees items already
    processed by the earlier ones.
    """

    def __init__(self, funcs: Any = None, split_idx: int | None = None) -> None:
        self.split_idx = split_idx
        if funcs is None:
            funcs = []
        elif isinstance(funcs, Pipeline):
            funcs = funcs.fs
        elif not isinstance(funcs, (list, tuple)):
            funcs = [funcs]
        fs: list[Transform] = []
        for f in funcs:
            if isinstance(f, Pipeline):
                fs.extend(f.fs)
            else:
                fs.append(mk_transform(f))
        self.fs = sorted(fs, key=lambda t: t.order)

    def add(self, ts: Iterable[Any], items: Any = None, train_setup: bool = False) -> None:
        for t in ts:
            t = mk_transform(t)
            t.setup(items, train_setup)
            self.fs.append(t)
        self.fs.sort(key=lambda t: t.order)

    def setup(self, items: Any = None, train_setup: bool = False) -> None:
        tfms, self.fs = self.fs, []
        for t in tfms:
            try:
                self.add([t], items, train_setup)
            except Exception as e:
                self.fs = tfms  # leave the pipeline whole
                if _reraisable(e):
                    raise type(e)(f"setup of transform {t.name!r} failed: {e}") from e
                raise

    def __call__(self, o: Any) -> Any:
        si = self.split_idx
        for f in self.fs:
            try:
                o = f(o, split_idx=si)
            except (TransformError, SkipItemException):
                raise
            except Exception as e:
                raise transform_error(f"transform {f.name!r} failed on {_describe(o)}: {type(e).__name__}: {e}",
                                      e, transform=f) from e
        return o

    def decode(self, o: Any, full: bool = True) -> Any:
        si = self.split_idx
        for f in reversed(self.fs):
            if not full and _is_showable(o):
                break
            o = f.decode(o, split_idx=si)
        return o

    def show(self, o: Any, ctx: Any = None, **kwargs: Any) -> Any:
        o = self.decode(o, full=False)
        if not _is_showable(o):
            raise TypeError(f"cannot show {_describe(o)}: no decoded element has a `show` method")
        if isinstance(o, tuple):
            for x in o:
                ctx = x.show(ctx=ctx, **kwargs)
            return ctx
        return o.show(ctx=ctx, **kwargs)

    def to(self, device: Any) -> Pipeline:
        for f in self.fs:
            if hasattr(f, "to"):
                f.to(device)
        return self

    def __getattr__(self, k: str) -> Any:
        # gather ``k`` from the transforms: one value, a list when several have it (fastai's dls.vocab path)
        if k.startswith("_") or k in ("fs", "split_idx"):
            raise AttributeError(k)
        vals = [getattr(f, k) for f in self.__dict__.get("fs", []) if hasattr(f, k)]
        if not vals:
            raise AttributeError(f"no transform in the pipeline has an attribute {k!r}")
        return vals[0] if len(vals) == 1 else vals

    def __getitem__(self, i: int) -> Transform:
        return self.fs[i]

    def __len__(self) -> int:
        return len(self.fs)

    def __iter__(self):
        return iter(self.fs)

    def __repr__(self) -> str:
        return f"Pipeline: {' -> '.join(f.name for f in self.fs) if self.fs else '(empty)'}"


def _reraisable(e: Exception) -> bool:
    """True when ``type(e)(msg)`` rebuilds the exception (so its type is kept with a better message)."""
    try:
        type(e)("x")
        return type(e).__init__ is BaseException.__init__ or isinstance(e, (ValueError, TypeError, KeyError,
                                                                           RuntimeError, AttributeError))
    except Exception:
        return False
