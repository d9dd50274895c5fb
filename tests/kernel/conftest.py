"""Shared fixtures for the kernel's tests (only the kernel is installed in the tox ``kernel`` env)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from torchloom.plugins import Registry, get_registry, reset_registry


@pytest.fixture
def fresh_registry() -> Iterator[Registry]:
    """A registry discovered anew for this test, forgotten afterwards (no state leaks between tests)."""
    reset_registry()
    yield get_registry()
    reset_registry()
