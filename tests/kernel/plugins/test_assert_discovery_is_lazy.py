"""torchloom.testing.assert_discovery_is_lazy on fake distributions: passes for a lazy plugin, fails
with a message naming the module for one that imports it at discovery or never imports it."""
from __future__ import annotations

import os

import pytest

from tests.kernel.fakedist import Site
from torchloom.testing import assert_discovery_is_lazy

EAGER_PLUGIN = """
import torchloom
import {pkg}.heavy  # imported at discovery: what the check must catch

@torchloom.hookimpl
def register_callbacks(register):
    register("sparkle", "{pkg}.heavy:Sparkle")
"""


def site_env(site: Site) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(site.root), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, "TORCHLOOM_PLUGINS": site.only_env()}


def test_lazy_plugin_passes(site: Site) -> None:
    site.add("tl-lazy")
    assert_discovery_is_lazy("callback", "sparkle", "tl_lazy.heavy", env=site_env(site))


def test_plugin_importing_its_target_at_discovery_fails(site: Site) -> None:
    site.add("tl-eager", EAGER_PLUGIN)
    with pytest.raises(AssertionError, match="discovery imported tl_eager.heavy"):
        assert_discovery_is_lazy("callback", "sparkle", "tl_eager.heavy", env=site_env(site))


def test_entry_whose_load_does_not_import_the_module_fails(site: Site) -> None:
    site.add("tl-lazy")
    with pytest.raises(AssertionError, match="did not import tl_lazy.cmd"):
        assert_discovery_is_lazy("callback", "sparkle", "tl_lazy.cmd", env=site_env(site))


def test_unknown_entry_fails_naming_it(site: Site) -> None:
    site.add("tl-lazy")
    with pytest.raises(AssertionError, match="nosuch"):
        assert_discovery_is_lazy("callback", "nosuch", "tl_lazy.heavy", env=site_env(site))
