"""Plugins and contrib packages reach kernel objects through public attributes only.

Subclassing a kernel class (``DataLoader``, ``Callback``, ``Transform``...) is the extension model, but the
subclass must use the documented hooks (``get_idxs``, ``shuffle_fn``, ``epoch``, ``epoch_seed``...), not the
kernel's underscored state, which the kernel may rename at any time. Checked by AST over the library code:
``self._x`` inside a subclass of a kernel class where ``_x`` is private state of that class, and ``obj._x``
anywhere where ``_x`` is private kernel state that the plugin file does not define itself.
"""
from __future__ import annotations

import ast
import inspect
import textwrap
from functools import cache, lru_cache
from pathlib import Path

import pytest

import torchloom

ROOT = Path(__file__).resolve().parents[2]


@cache
def _own_kernel_private(k: type) -> frozenset[str]:
    """Single-underscore names kernel class ``k`` defines or sets on ``self`` (empty for non-kernel classes)."""
    if not (k.__module__ == "torchloom" or k.__module__.startswith("torchloom.")):
        return frozenset()
    names = {n for n in vars(k) if n.startswith("_") and not n.startswith("__")}
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(k)))
    except (OSError, TypeError, SyntaxError):
        return frozenset(names)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self" \
                and node.attr.startswith("_") and not node.attr.startswith("__"):
            names.add(node.attr)
    return frozenset(names)


def _kernel_private(cls: type) -> frozenset[str]:
    """Private names of a kernel class and its kernel bases."""
    return frozenset().union(*(_own_kernel_private(k) for k in cls.__mro__))


@lru_cache(maxsize=1)
def _kernel_classes() -> dict[str, type]:
    return {n: getattr(torchloom, n) for n in torchloom.__all__ if inspect.isclass(getattr(torchloom, n, None))}


@lru_cache(maxsize=1)
def _all_kernel_private() -> frozenset[str]:
    return frozenset().union(*(_kernel_private(c) for c in _kernel_classes().values()))


def _library_files() -> list[Path]:
    files = []
    for root in [*ROOT.glob("plugins/*/src"), *ROOT.glob("contrib/*/src")]:
        files += [f for f in root.rglob("*.py") if "__pycache__" not in f.parts]
    return sorted(files)


def _own_private(tree: ast.AST) -> set[str]:
    """Private names a plugin file defines itself (methods, class attributes, assignments to attributes)."""
    own: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            own.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            own.add(node.attr)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(t, ast.Name):
                    own.add(t.id)
    return own


def private_uses(source: str, kernel: dict[str, type]) -> list[str]:
    """``line: attribute`` for each use of a kernel object's private state in plugin ``source``."""
    tree = ast.parse(source)
    imported = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "torchloom":
            for a in node.names:
                if a.name in kernel:
                    imported[a.asname or a.name] = kernel[a.name]
    all_private = _all_kernel_private()
    own = _own_private(tree)
    bad = []
    in_subclass: set[int] = set()
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        bases = [imported[b.id] for b in cls.bases if isinstance(b, ast.Name) and b.id in imported]
        priv = set().union(*(_kernel_private(b) for b in bases)) if bases else set()
        for node in ast.walk(cls):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self" \
                    and node.attr in priv:
                bad.append(f"{node.lineno}: self.{node.attr} (private to kernel {bases[0].__name__})")
                in_subclass.add(id(node))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and id(node) not in in_subclass and node.attr in all_private \
                and node.attr not in own:
            bad.append(f"{node.lineno}: .{node.attr} (private kernel state)")
    return bad


def test_checker_catches_private_state_of_a_kernel_base() -> None:
    src = ("from torchloom import DataLoader\n"
           "class L(DataLoader):\n"
           "    def __iter__(self):\n"
           "        self._epoch += 1\n"
           "        return iter(self._get_idxs())\n"
           "def f(dl):\n"
           "    return dl._custom_create\n")
    bad = private_uses(src, _kernel_classes())
    assert [b.split(":")[0] for b in bad] == ["4", "5", "7"], bad
    ok = ("from torchloom import DataLoader\n"
          "class L(DataLoader):\n"
          "    def __iter__(self):\n"
          "        self.epoch += 1\n"
          "        self._mine = self.epoch_seed\n"
          "        return iter(self._mine and self.get_idxs())\n")
    assert private_uses(ok, _kernel_classes()) == []


@pytest.mark.parametrize("path", _library_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_use_no_private_kernel_state(path: Path) -> None:
    bad = private_uses(path.read_text(), _kernel_classes())
    assert not bad, f"{path.relative_to(ROOT)} uses private kernel attributes: {bad}"
