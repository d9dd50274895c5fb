"""TORCHLOOM_PLUGINS / TORCHLOOM_DISABLE_PLUGINS choose what loads; skipped plugins are never imported."""
from __future__ import annotations

from tests.kernel.fakedist import Site, probe


def _by_name(state: dict) -> dict[str, dict]:
    return {p["name"]: p for p in state["plugins"]}


def test_without_selection_every_plugin_loads(site: Site) -> None:
    site.add("tl-a")
    site.add("tl-b", prefix="b_")
    plugins = _by_name(probe(site, select=False))
    assert plugins["tl-a"]["status"] == plugins["tl-b"]["status"] == "loaded"
    assert plugins["builtin"]["status"] == "loaded"


def test_only_listed_plugins_load_by_entry_point_or_distribution_name(site: Site) -> None:
    site.add("tl-a")
    site.add("tl-b", prefix="b_", ep_name="bee")
    site.add("tl-c", prefix="c_")
    state = probe(site, env={"TORCHLOOM_PLUGINS": " tl-a , TL_B "})  # dist names, case and spaces ignored
    plugins = _by_name(state)
    assert plugins["tl-a"]["status"] == "loaded" and plugins["bee"]["status"] == "loaded"
    assert plugins["tl-c"]["status"] == "disabled"
    assert plugins["tl-c"]["cause"] == "not listed in TORCHLOOM_PLUGINS= tl-a , TL_B "
    assert state["modules"] == ["tl_a", "tl_a.plugin", "tl_b", "tl_b.plugin"]  # tl_c never imported
    assert plugins["builtin"]["status"] == "loaded"  # the kernel cannot be deselected
    state = probe(site, env={"TORCHLOOM_PLUGINS": "bee"})  # entry-point name
    assert [p["name"] for p in state["plugins"] if p["status"] == "loaded"] == ["builtin", "bee"]


def test_disabled_plugins_are_skipped_and_not_imported(site: Site) -> None:
    site.add("tl-a")
    site.add("tl-b", prefix="b_")
    state = probe(site, env={"TORCHLOOM_DISABLE_PLUGINS": "tl-b"})
    plugins = _by_name(state)
    assert plugins["tl-a"]["status"] == "loaded"
    assert plugins["tl-b"]["status"] == "disabled" and "TORCHLOOM_DISABLE_PLUGINS=tl-b" in plugins["tl-b"]["cause"]
    assert "tl_b.plugin" not in state["modules"]
    assert state["warnings"] == []


def test_disabling_a_broken_plugin_silences_it(site: Site) -> None:
    site.add("tl-a")
    site.add("tl-broken", "raise ImportError('nope')\n")
    assert len(probe(site)["warnings"]) == 1
    assert probe(site, env={"TORCHLOOM_DISABLE_PLUGINS": "tl-broken"})["warnings"] == []


def test_empty_selection_loads_only_the_kernel(site: Site) -> None:
    site.add("tl-a")
    state = probe(site, env={"TORCHLOOM_PLUGINS": ""})
    assert [p["name"] for p in state["plugins"] if p["status"] == "loaded"] == ["builtin"]
    assert state["modules"] == []


def test_selecting_an_unknown_plugin_warns(site: Site) -> None:
    site.add("tl-a")
    state = probe(site, env={"TORCHLOOM_PLUGINS": "tl-a,tl-typo"})
    assert state["warnings"] == ["torchloom: TORCHLOOM_PLUGINS names tl-typo, but no installed plugin "
                                 "(entry point or distribution) has that name"]
