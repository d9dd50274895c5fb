"""Every distribution of the repository, as installed: metadata for the package index and py.typed."""
from __future__ import annotations

import importlib.metadata as md
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _dists() -> list[tuple[str, Path]]:
    out = []
    for pyproject in [ROOT / "core" / "pyproject.toml", *ROOT.glob("plugins/*/pyproject.toml"),
                      *ROOT.glob("contrib/*/pyproject.toml")]:
        name = re.search(r'^name\s*=\s*"([^"]+)"', pyproject.read_text(), re.M).group(1)
        if name != "torchloom-example":  # the template's metadata is the plugin author's to fill in
            out.append((name, pyproject.parent))
    return out


@pytest.mark.parametrize("name,folder", _dists(), ids=[n for n, _ in _dists()])
def test_index_page_metadata(name, folder):
    meta = md.metadata(name)
    assert meta["Author"] or meta["Author-email"], name
    assert "Typing :: Typed" in meta.get_all("Classifier", []), name
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL", []))
    assert {"Homepage", "Source", "Changelog"} <= set(urls), name
    assert meta["Requires-Python"] and meta["License-Expression"] == "Apache-2.0"
    readme = (folder / "README.md").read_text()
    assert len(readme) > 800 and meta.get_payload().strip() == readme.strip(), f"{name}: README is the long description"


@pytest.mark.parametrize("name,folder", _dists(), ids=[n for n, _ in _dists()])
def test_py_typed_is_installed(name, folder):
    files = [str(f) for f in md.files(name) or []]
    assert any(f.endswith("/py.typed") for f in files), f"{name} ships no py.typed"


def test_changelog_has_an_unreleased_section():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog") and "## Unreleased" in text
