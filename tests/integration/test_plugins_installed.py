"""Every distribution of the repository installed together: all load, nothing clashes, all targets import."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from torchloom._cli import main
from torchloom._plugins import KINDS, get_registry, reset_registry
from torchloom._plugins.firstparty import FIRST_PARTY

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
    assert wrong == {}, "update torchloom/plugins/firstparty.py: name -> (registered by, mapped to)"


def test_cli_lists_every_plugin(registry, capsys) -> None:
    assert main(["plugins", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    listed = {p["dist"]: p for p in data["plugins"]}
    for dist in _repo_plugin_dists():
        assert dist in listed and listed[dist]["status"] == "loaded", f"{dist} not listed as loaded"
        assert listed[dist]["provides"] or listed[dist]["commands"], f"{dist} registers nothing"
