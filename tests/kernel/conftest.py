"""Shared fixtures for the kernel's tests (only the kernel is installed in the tox ``kernel`` env)."""
from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kernel.fakedist import Site
from torchloom._plugins import Registry, get_registry, reset_registry


@pytest.fixture
def fresh_registry() -> Iterator[Registry]:
    """A registry discovered anew for this test, forgotten afterwards (no state leaks between tests)."""
    reset_registry()
    yield get_registry()
    reset_registry()


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """A fake site on sys.path for this test, with TORCHLOOM_PLUGINS selecting only its plugins."""
    s = Site(tmp_path / "site")
    monkeypatch.syspath_prepend(str(s.root))
    for var in ("TORCHLOOM_PLUGINS", "TORCHLOOM_DISABLE_PLUGINS", "TORCHLOOM_STRICT_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    reset_registry()
    yield s
    reset_registry()
    for name in [m for m in sys.modules if m.split(".")[0] in s.packages]:
        del sys.modules[name]
    importlib.invalidate_caches()
