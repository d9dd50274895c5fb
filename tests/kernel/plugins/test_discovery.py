"""Discovery through real importlib.metadata entry points, manifests, and lazy targets."""
from __future__ import annotations

import sys

import pytest

from tests.kernel.fakedist import Site, probe
from torchloom._plugins import KINDS, PluginError, get_registry


def test_plugin_names_manifest_and_provenance(site: Site, select) -> None:
    site.add("tl-good", version="2.3.1")
    select()
    reg = get_registry()
    e = reg.entry("callback", "sparkle")
    assert (e.dist, e.version, e.plugin, e.kind) == ("tl-good", "2.3.1", "tl-good", "callback")
    assert e.target == "tl_good.heavy:Sparkle"
    assert (e.order, e.after, e.conflicts, e.slot, e.requires) == (5, ("recorder",), ("glitter",), "fx", ("recorder",))
    assert e.doc == "adds sparkle" and e.extra == {"flavour": "gold"}
    assert reg.entry("optimizer", "sparkle_opt").extra == {} and reg.get("stepper", "sparkle_opt") is None
    assert reg.names("dataset") == ["tiny"]
    assert reg.commands["hello"].dist == "tl-good"
    info = reg.plugin("tl-good")
    assert info.status == "loaded" and info.provides == {"callback": ["sparkle"], "optimizer": ["sparkle_opt"],
                                                         "dataset": ["tiny"]}
    assert info.commands == ["hello"]


def test_builtin_plugin_is_first_and_registers_kernel_defaults(site: Site, select) -> None:
    site.add("tl-good")
    select()
    reg = get_registry()
    assert reg.plugins[0].name == "builtin" and reg.plugins[0].dist == "torchloom"
    assert [e.name for e in reg.defaults("callback")] == ["train_eval", "cast_to_tensor", "recorder", "fit_guard", "progress"]
    assert reg.entry("callback", "train_eval").target == "torchloom.callbacks._core:TrainEvalCallback"
    assert {"sgd", "adam", "adamw", "radam"} <= set(reg.names("optimizer"))
    assert not {"sgd", "adam", "adamw", "radam"} & set(reg.names("stepper"))
    assert reg.entry("transform", "int_to_float").target == "torchloom.data._transforms:IntToFloatTensor"
    assert {"plugins", "new-plugin"} <= set(reg.commands)
    assert set(KINDS) == {"callback", "transform", "stepper", "optimizer", "dataset"}


def test_third_party_default_flag_does_not_auto_enable(site: Site, select) -> None:
    site.add("tl-pushy", """
        import torchloom
        @torchloom.hookimpl
        def register_callbacks(register):
            register("pushy", "tl_pushy.heavy:Sparkle", default=True)
    """)
    select()
    reg = get_registry()
    assert reg.entry("callback", "pushy").extra["default"] is True
    assert "pushy" not in [e.name for e in reg.defaults("callback")]


def test_registry_is_cached_until_reset(site: Site, select) -> None:
    site.add("tl-good")
    select()
    assert get_registry() is get_registry()


def test_targets_are_imported_lazily_and_cached(site: Site) -> None:
    site.add("tl-lazy")
    out = site.run("""
        import sys
        from torchloom._plugins import get_registry
        reg = get_registry()
        e = reg.entry("callback", "sparkle")
        print("plugin" , "tl_lazy.plugin" in sys.modules)
        print("before", "tl_lazy.heavy" in sys.modules, e.is_loaded)
        cls = e.load()
        print("after", "tl_lazy.heavy" in sys.modules, cls.__name__, e.load() is cls)
        print("resolve", reg.resolve("optimizer", "sparkle_opt")([1], lr=0.5))
        print("reverse", reg.find_name_for(cls), reg.find_name_for(reg.entry("dataset", "tiny").load()))
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "plugin True",
        "before False False",
        "after True Sparkle True",
        "resolve ('opt', [1], 0.5)",
        "reverse ('callback', 'sparkle') ('dataset', 'tiny')",
    ]


def test_find_name_for_does_not_import_targets(site: Site, select) -> None:
    site.add("tl-rev")
    select()
    reg = get_registry()

    class Sparkle:  # same module:qualname as the registered target, without importing it
        pass

    Sparkle.__module__, Sparkle.__qualname__ = "tl_rev.heavy", "Sparkle"
    assert reg.find_name_for(Sparkle) == ("callback", "sparkle")
    assert "tl_rev.heavy" not in sys.modules
    assert reg.find_name_for(object()) is None


def test_import_torchloom_discovers_nothing(site: Site) -> None:
    site.add("tl-idle")
    out = site.run("""
        import sys, torchloom
        from torchloom._plugins import PluginError
        print("pluggy" in sys.modules, "importlib.metadata" in sys.modules)
        torchloom.PLUGIN_API, torchloom.hookimpl, torchloom.__version__
        print(sorted(m for m in sys.modules if m.startswith(("tl_", "torchloom._plugins.manager", "torch."))))
        print("torch" in sys.modules)
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["False False", "[]", "False"]


def test_unused_installed_plugin_costs_only_its_tiny_module(site: Site) -> None:
    site.add("tl-a")
    site.add("tl-b", prefix="b_")
    state = probe(site)
    assert state["modules"] == ["tl_a", "tl_a.plugin", "tl_b", "tl_b.plugin"]
    assert state["warnings"] == []


def test_load_error_names_target_and_distribution(site: Site, select) -> None:
    site.add("tl-gone", """
        import torchloom
        @torchloom.hookimpl
        def register_transforms(register):
            register("vanish", "tl_gone.nothere:Vanish")
            register("typo", "tl_gone.heavy:Sparkel")
    """)
    select()
    reg = get_registry()
    with pytest.raises(PluginError, match=r"transform 'vanish'.*tl_gone\.nothere:Vanish.*tl-gone 1\.0.*ModuleNotFound"):
        reg.resolve("transform", "vanish")
    with pytest.raises(PluginError, match=r"tl_gone\.heavy:Sparkel.*AttributeError"):
        reg.resolve("transform", "typo")


def test_load_dataset_resolves_registered_loader(site: Site, select) -> None:
    import torchloom

    site.add("tl-data")
    select()
    assert torchloom.load_dataset("tiny", n=4) == [0, 1, 2, 3]
    from torchloom.data._load_dataset import list_datasets

    assert list_datasets() == ["tiny"]
