"""A last-resort runner for simple pytest-style test modules, for machines without pytest.

``bench/gpu_check.py`` uses it only when ``import pytest`` fails (a bare GPU image): it installs a
small stand-in ``pytest`` module (marks, ``parametrize``, ``approx``, ``raises``, ``warns``) and calls
each ``test_*`` function, giving ``tmp_path`` to those that ask for it. Fixtures beyond ``tmp_path``
are not supported: modules that need them are reported as errors.
"""
from __future__ import annotations

import contextlib
import importlib.util
import inspect
import math
import re
import sys
import tempfile
import traceback
import types
import warnings
from pathlib import Path
from typing import Any


class _Mark:
    """``pytest.mark.<name>``: used bare as a decorator, or called with arguments and then applied."""

    def __init__(self, name: str, args: tuple = (), kwargs: dict | None = None) -> None:
        self.name, self.args, self.kwargs = name, args, kwargs or {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        configured = bool(self.args or self.kwargs)
        if len(args) == 1 and callable(args[0]) and not kwargs and (configured or self.name != "parametrize"):
            args[0].__dict__.setdefault("_marks", []).append(self)
            return args[0]
        return _Mark(self.name, args, kwargs)


class _MarkGen:
    def __getattr__(self, name: str) -> _Mark:
        return _Mark(name)


class _Approx:
    def __init__(self, expected: Any, rel: float | None = None, abs: float | None = None) -> None:
        self.expected, self.rel, self.abs = expected, 1e-6 if rel is None else rel, 1e-12 if abs is None else abs

    def __eq__(self, other: Any) -> bool:
        exp = self.expected if isinstance(self.expected, (list, tuple)) else [self.expected]
        got = other if isinstance(other, (list, tuple)) else [other]
        return len(exp) == len(got) and all(
            math.isclose(float(g), float(e), rel_tol=self.rel, abs_tol=self.abs) for g, e in zip(got, exp))


class _Skip(Exception):
    pass


@contextlib.contextmanager
def _raises(exc: Any, match: str | None = None) -> Any:
    try:
        yield
    except exc as e:
        if match is not None and not re.search(match, str(e)):
            raise AssertionError(f"{type(e).__name__}({e}) does not match {match!r}") from e
        return
    raise AssertionError(f"did not raise {exc}")


@contextlib.contextmanager
def _warns(cat: Any, match: str | None = None) -> Any:
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        yield rec
    if not any(issubclass(w.category, cat) and (match is None or re.search(match, str(w.message))) for w in rec):
        raise AssertionError(f"no {cat.__name__} matching {match!r} was emitted")


def install_stub() -> None:
    """Make ``import pytest`` give the stand-in (only when the real one is missing)."""
    mod = types.ModuleType("pytest")
    mod.mark = _MarkGen()  # type: ignore[attr-defined]
    mod.approx = _Approx  # type: ignore[attr-defined]
    mod.raises = _raises  # type: ignore[attr-defined]
    mod.warns = _warns  # type: ignore[attr-defined]
    mod.fixture = lambda *a, **k: (a[0] if a and callable(a[0]) else (lambda f: f))  # type: ignore[attr-defined]
    mod.skip = lambda reason="": (_ for _ in ()).throw(_Skip(reason))  # type: ignore[attr-defined]
    mod.MonkeyPatch = mod.TempPathFactory = object  # type: ignore[attr-defined]
    sys.modules["pytest"] = mod


def _cases(fn: Any) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = [{}]
    for m in getattr(fn, "_marks", []):
        if m.name == "parametrize":
            names = [n.strip() for n in m.args[0].split(",")] if isinstance(m.args[0], str) else list(m.args[0])
            new = []
            for c in cases:
                for v in m.args[1]:
                    vals = v if len(names) > 1 else (v,)
                    new.append({**c, **dict(zip(names, vals))})
            cases = new
    return cases


def _skipped(marks: list[_Mark]) -> str | None:
    for m in marks:
        if m.name == "skipif" and m.args and m.args[0]:
            return m.kwargs.get("reason", "skipif")
    return None


def run_file(path: Path) -> tuple[int, int, int, list[str]]:
    """Run one test module: (passed, failed, skipped, failure reports)."""
    spec = importlib.util.spec_from_file_location(f"_minitest_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
    except Exception:
        return 0, 1, 0, [f"{path}: import failed\n{traceback.format_exc()}"]
    finally:
        sys.path.remove(str(path.parent))
    module_marks = getattr(mod, "pytestmark", [])
    module_marks = module_marks if isinstance(module_marks, list) else [module_marks]
    passed = failed = skipped = 0
    reports = []
    for name, fn in list(vars(mod).items()):
        if not name.startswith("test_") or not callable(fn):
            continue
        marks = module_marks + getattr(fn, "_marks", [])
        for case in _cases(fn):
            label = f"{path.name}::{name}{list(case.values()) if case else ''}"
            if _skipped(marks):
                skipped += 1
                continue
            params = inspect.signature(fn).parameters
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    kw = dict(case)
                    if "tmp_path" in params:
                        kw["tmp_path"] = Path(tmp)
                    missing = [p for p in params if p not in kw]
                    if missing:
                        raise TypeError(f"needs fixtures {missing}, which this runner does not provide")
                    fn(**kw)
                passed += 1
            except _Skip:
                skipped += 1
            except Exception:
                failed += 1
                reports.append(f"FAILED {label}\n{traceback.format_exc()[-3000:]}")
    return passed, failed, skipped, reports
