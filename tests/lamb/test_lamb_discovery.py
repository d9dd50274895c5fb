"""Discovery is not activation: finding the plugin imports only its tiny `plugin` module."""
from __future__ import annotations

from torchloom.testing import assert_discovery_is_lazy


def test_discovery_imports_only_the_plugin_module():
    assert_discovery_is_lazy("optimizer", "lamb", "torchloom_lamb.optimizer")
