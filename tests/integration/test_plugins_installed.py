"""Every distribution of the repository installed together: all load, nothing clashes, all targets import."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from torchloom import KINDS, get_registry
from torchloom._cli import main
from torchloom._plugins.firstparty import _PROVIDERS, FIRST_PARTY
from torchloom._plugins.manager import reset_registry

ROOT = Path(__file__).resolve().parents[2]


def _repo_plugin_dists() -> set[str]:
    names = set()
    for pyproject in [*ROOT.glob("plugins/*/pyproject.toml"), *ROOT.glob("contrib/*/pyproject.toml")]:
        match = re.search(r'^name\s*=\s*"([^"]+)"', pyproject.read_text(), re.M)
        assert match, f"no project name in {pyproject}"
        names.add(match.group(1))
    return names


@pytest.fixture(scope="module")
def registry():
    reset_registry()
    yield get_registry()
    reset_registry()


def test_every_repository_plugin_is_discovered_and_loaded(registry) -> None:
    loaded = {p.dist for p in registry.plugins if p.status == "loaded"}
    missing = _repo_plugin_dists() - loaded
    assert not missing, f"not installed or not loaded: {sorted(missing)} (the integration env installs all of them)"
    assert registry.quarantined == []
    assert registry.to_dict()["clashes"] == []


def test_every_registered_target_imports(registry) -> None:
    failures = {}
    for kind in KINDS:
        for entry in registry.entries(kind):
            try:
                entry.load()
            except Exception as e:  # collect all, report together
                failures[f"{kind} {entry.name} ({entry.dist})"] = str(e)
    assert failures == {}


def test_first_party_map_names_the_right_distribution(registry) -> None:
    """The unknown-name hint ("pip install torchloom-x") must match what each plugin really registers."""
    wrong = {}
    for kind in KINDS:
        for entry in registry.entries(kind):
            if entry.dist.startswith("torchloom-") and FIRST_PARTY.get(entry.name) != entry.dist:
                wrong[f"{kind} {entry.name}"] = (entry.dist, FIRST_PARTY.get(entry.name))
    first_party_dists = {d for d in _repo_plugin_dists() if d != "torchloom-example"}
    wrong = {k: v for k, v in wrong.items() if v[0] in first_party_dists}
    assert wrong == {}, "update torchloom/_plugins/firstparty.py: name -> (registered by, mapped to)"


def test_first_party_map_lists_only_names_the_installed_plugins_register(registry) -> None:
    """No hint sends a user to install a distribution for a name it does not provide (e.g. ``to_fp16``)."""
    installed = {p.dist: {n for names in p.provides.values() for n in names} for p in registry.plugins
                 if p.status == "loaded"}
    stale = {dist: sorted(set(names) - installed[dist]) for dist, names in _PROVIDERS.items() if dist in installed}
    assert {d: s for d, s in stale.items() if s} == {}, "torchloom/_plugins/firstparty.py lists unregistered names"
    assert set(_PROVIDERS) >= {d for d in _repo_plugin_dists() if d != "torchloom-example"}


def test_cli_lists_every_plugin(registry, capsys) -> None:
    assert main(["plugins", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    listed = {p["dist"]: p for p in data["plugins"]}
    for dist in _repo_plugin_dists():
        assert dist in listed and listed[dist]["status"] == "loaded", f"{dist} not listed as loaded"
        assert listed[dist]["provides"] or listed[dist]["commands"], f"{dist} registers nothing"


def test_every_distribution_carries_its_license_and_reads_its_version_from_metadata():
    import importlib
    import importlib.metadata

    for dist_name, package in (("torchloom-vision", "torchloom_vision"), ("torchloom-mixup", "torchloom_mixup"),
                               ("torchloom-fp16", "torchloom_fp16"), ("torchloom-lamb", "torchloom_lamb"),
                               ("torchloom-ema", "torchloom_ema"), ("torchloom-example", "torchloom_example"),
                               ("torchloom-tabular", "torchloom_tabular"), ("torchloom-collab", "torchloom_collab")):
        dist = importlib.metadata.distribution(dist_name)
        assert [f for f in dist.files or [] if f.name == "LICENSE"], f"{dist_name}: no LICENSE in the wheel"
        assert dist.metadata["Requires-Python"] == ">=3.11", dist_name
        assert [f for f in dist.files or [] if f.name == "py.typed"], f"{dist_name}: no py.typed"
        assert importlib.import_module(package).__version__ == dist.version, dist_name
