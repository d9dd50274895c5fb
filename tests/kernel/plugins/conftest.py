"""Fixtures for the plugin-machinery tests; the helpers live in fakedist.py."""
from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakedist import Site

from torchloom.plugins import reset_registry


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


@pytest.fixture
def select(site: Site, monkeypatch: pytest.MonkeyPatch):
    """Call after adding distributions: restrict discovery to them (in-process)."""
    def apply() -> None:
        monkeypatch.setenv("TORCHLOOM_PLUGINS", site.only_env())
        reset_registry()
    return apply
