"""Single-argument type dispatch with a per-type cache (hits *and* misses), used by ``Transform``.

fastai resolves overloads through plum on every call and never caches a miss (~30 µs per unmatched call);
here a resolution is one dict lookup after the first call for each input type.
"""
from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, Union

__all__ = ["TypeDispatch", "DispatchAttr", "annotated_types", "return_annotation", "NO_ANNOTATION"]

NO_ANNOTATION = inspect.Parameter.empty
_UNION_TYPES = (Union, getattr(types, "UnionType", Union))


def _hints(f: Callable, localns: dict | None = None) -> dict[str, Any]:
    try:
        return typing.get_type_hints(f, localns=localns)
    except Exception:  # unresolvable forward reference: fall back to what can be evaluated
        raw = dict(getattr(f, "__annotations__", {}) or {})
        g = getattr(f, "__globals__", {})
        out = {}
        for k, v in raw.items():
            if isinstance(v, str):
                try:
                    v = eval(v, g)
                except Exception as e:
                    raise TypeError(f"cannot resolve the annotation {k}: {v!r} of {f.__qualname__}: {e}") from e
            out[k] = v
        return out


def _flatten(a: Any) -> tuple[type, ...]:
    if a is NO_ANNOTATION or a is Any or a is None:
        return (object,)
    origin = typing.get_origin(a)
    if origin in _UNION_TYPES:
        return tuple(t for arg in typing.get_args(a) for t in _flatten(arg))
    if origin is not None:  # list[int] -> list
        return (origin,)
    if isinstance(a, tuple):
        return tuple(t for arg in a for t in _flatten(arg))
    if not isinstance(a, type):
        raise TypeError(f"annotation {a!r} is not a type")
    return (a,)


def annotated_types(f: Callable, skip_self: bool = True, localns: dict | None = None) -> tuple[type, ...]:
    """The types the first dispatched parameter of ``f`` is annotated with (``object`` when unannotated).

    ``localns`` resolves string annotations naming local classes (``from __future__ import annotations``).
    """
    params = [p for p in inspect.signature(f).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if skip_self and params and params[0].name == "self":
        params = params[1:]
    if not params:
        return (object,)
    hints = _hints(f, localns)
    return _flatten(hints.get(params[0].name, NO_ANNOTATION))


def return_annotation(f: Callable, localns: dict | None = None) -> Any:
    """``NO_ANNOTATION``, ``type(None)`` for ``-> None`` (do not cast), or the annotated return type."""
    raw = getattr(f, "__annotations__", {}) or {}
    if "return" not in raw:
        return NO_ANNOTATION
    r = _hints(f, localns).get("return", NO_ANNOTATION)
    if r is None or r is type(None):
        return type(None)
    if r is Any:
        return NO_ANNOTATION
    return r if isinstance(r, type) else NO_ANNOTATION


class TypeDispatch:
    """A table ``type -> (function, return annotation)`` resolved along the argument type's MRO.

    ``resolve(t)`` caches its answer for ``t`` (``None`` for "no function": the caller passes the input
    through unchanged), so repeated calls cost one dict lookup.
    """

    def __init__(self, funcs: Iterable[Callable] = (), name: str | None = None, skip_self: bool = True) -> None:
        self.name = name
        self.skip_self = skip_self
        self.funcs: dict[type, tuple[Callable, Any]] = {}
        self.cache: dict[type, tuple[Callable, Any] | None] = {}
        self.handles_tuple = False
        for f in funcs:
            self.add(f)

    def add(self, f: Callable, types: Iterable[type] | None = None, localns: dict | None = None) -> None:
        """Register ``f`` for ``types`` (default: its annotation); a later function for a type replaces it."""
        ts = tuple(types) if types is not None else annotated_types(f, self.skip_self, localns)
        ret = return_annotation(f, localns)
        for t in ts:
            self.funcs[t] = (f, ret)
            if isinstance(t, type) and issubclass(t, tuple):
                self.handles_tuple = True
        self.cache.clear()

    def resolve(self, typ: type) -> tuple[Callable, Any] | None:
        """The ``(function, return annotation)`` for ``typ`` (most specific along its MRO), or ``None``."""
        try:
            return self.cache[typ]
        except KeyError:
            pass
        t = self.resolved_type(typ)
        hit = None if t is None else self.funcs[t]
        self.cache[typ] = hit
        return hit

    def resolved_type(self, typ: type) -> type | None:
        """The registered type that ``typ`` resolves to: the nearest along its MRO, then ABCs it is a virtual
        subclass of (``os.PathLike``, ``collections.abc.Sequence``...), then ``object``; ``None`` if none."""
        for t in typ.__mro__[:-1]:
            if t in self.funcs:
                return t
        for t in self.funcs:
            if t is not object and issubclass(typ, t):
                return t
        return object if object in self.funcs else None

    def copy(self) -> TypeDispatch:
        res = TypeDispatch(name=self.name, skip_self=self.skip_self)
        res.funcs = dict(self.funcs)
        res.handles_tuple = self.handles_tuple
        return res

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        hit = self.resolve(type(x))
        return x if hit is None else hit[0](x, *args, **kwargs)

    def __contains__(self, typ: type) -> bool:
        return self.resolve(typ) is not None

    def __len__(self) -> int:
        return len(self.funcs)

    def __bool__(self) -> bool:
        return bool(self.funcs)

    def types(self) -> list[type]:
        return list(self.funcs)

    def __repr__(self) -> str:
        names = ", ".join(t.__qualname__ for t in self.funcs)
        return f"TypeDispatch({self.name or ''}: {names})"


class DispatchAttr:
    """Class attribute exposing a ``TypeDispatch`` as a method: ``transform.encodes(x)``."""

    def __init__(self, disp: TypeDispatch) -> None:
        self.disp = disp

    def __get__(self, inst: Any, owner: type | None = None) -> Any:
        return self.disp if inst is None else _BoundDispatch(self.disp, inst)


class _BoundDispatch:
    """``transform.encodes`` as a callable: dispatches on the argument and passes the transform as ``self``."""

    __slots__ = ("disp", "inst")

    def __init__(self, disp: TypeDispatch, inst: Any) -> None:
        self.disp, self.inst = disp, inst

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        hit = self.disp.resolve(type(x))
        return x if hit is None else hit[0](self.inst, x, *args, **kwargs)

    def __repr__(self) -> str:
        return f"bound {self.disp!r}"
