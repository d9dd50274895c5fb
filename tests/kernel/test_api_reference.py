"""docs/API.md lists exactly the public names, with their current signatures and docstrings."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import torchloom

ROOT = Path(__file__).resolve().parents[2]


def _apiref():
    spec = importlib.util.spec_from_file_location("apiref", ROOT / "tools" / "apiref.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_page_is_current() -> None:
    page = (ROOT / "docs" / "API.md").read_text()
    assert page == _apiref().render(), "docs/API.md is out of date: run python tools/apiref.py"


def test_api_page_documents_every_public_name_once() -> None:
    page = (ROOT / "docs" / "API.md").read_text()
    headings = re.findall(r"^### (\S+)$", page, re.M)
    public = [n for n in headings if not n.startswith("testing.")]
    assert sorted(public) == sorted(set(torchloom.__all__) - {"PLUGIN_API", "__version__"})
    assert "(no docstring)" not in page
