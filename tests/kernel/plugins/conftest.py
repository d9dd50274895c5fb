"""Fixtures for the plugin-machinery tests (``site`` and fakedist.py live one folder up, shared with the Learner tests)."""
from __future__ import annotations

import pytest

from tests.kernel.fakedist import Site
from torchloom._plugins import reset_registry


@pytest.fixture
def select(site: Site, monkeypatch: pytest.MonkeyPatch):
    """Call after adding distributions: restrict discovery to them (in-process).

    The slow-import report is pushed far out so that warning counts do not depend on how busy the machine is
    (its own tests set a low threshold)."""
    def apply() -> None:
        monkeypatch.setenv("TORCHLOOM_PLUGINS", site.only_env())
        monkeypatch.setenv("TORCHLOOM_SLOW_PLUGIN_SECONDS", "600")
        reset_registry()
    return apply
