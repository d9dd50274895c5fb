"""Shared helpers of the hostile-file suite: a trap module on sys.path and a sys.modules guard."""
from __future__ import annotations

import sys
import textwrap

import pytest


@pytest.fixture
def trap(tmp_path, monkeypatch):
    """A module ``tl_trap_<n>`` on sys.path whose import writes a marker file; returns (name, marker)."""
    marker = tmp_path / "PWNED"
    name = f"tl_trap_{abs(hash(str(tmp_path))) % 10**8}"
    src = tmp_path / "site"
    src.mkdir()
    (src / f"{name}.py").write_text(textwrap.dedent(f"""
        import pathlib, torch
        pathlib.Path({str(marker)!r}).write_text("imported")
        class Net(torch.nn.Module):
            def __init__(self, **kw):
                super().__init__()
                pathlib.Path({str(marker)!r}).write_text("called")
        class T(torch.Tensor):
            pass
        def loss(*a, **k):
            pathlib.Path({str(marker)!r}).write_text("called")
    """))
    monkeypatch.syspath_prepend(str(src))
    yield name, marker
    sys.modules.pop(name, None)


@pytest.fixture(scope="session", autouse=True)
def _kernel_imported():
    """Import the kernel's load paths up front, so that a module appearing during a test is the attack's."""
    import importlib

    for m in ("torchloom._learner", "torchloom._persist.learner_io", "torchloom.data._spec", "torchloom.data._getters",
              "torchloom._plugins.manager", "torchloom._losses", "torchloom._targets"):
        importlib.import_module(m)
    import torchloom

    torchloom.get_registry()


@pytest.fixture
def no_new_modules():
    """Assert at the end of the test that no module entered sys.modules (beyond torchloom's own)."""
    before = set(sys.modules)
    yield
    new = {m for m in set(sys.modules) - before if not m.startswith(("torchloom", "_pytest", "pytest"))}
    assert not new, f"modules imported by a load path: {sorted(new)}"

