"""The public line: what ``torchloom`` and its namespaces export, typed for checkers, and that plugins,
contrib packages and the template use nothing else."""
from __future__ import annotations

import ast
import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import torchloom

ROOT = Path(__file__).resolve().parents[2]
PKG = Path(torchloom.__file__).parent
NAMESPACES = ["torchloom", "torchloom.data", "torchloom.optim", "torchloom.callbacks"]
PUBLIC_MODULES = {*NAMESPACES, "torchloom.testing"}


def _type_checking_imports(module: str) -> dict[str, str]:
    """name -> defining module of the ``if TYPE_CHECKING:`` imports of a namespace ``__init__``."""
    path = PKG.parent / Path(*module.split(".")) / "__init__.py"
    out: dict[str, str] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module
                out.update({a.asname or a.name: imp.module for a in imp.names})
    return out


@pytest.mark.parametrize("module", NAMESPACES)
def test_namespace_exports_match_lazy_table_and_type_checking_imports(module: str) -> None:
    ns = importlib.import_module(module)
    extra = {"PLUGIN_API", "__version__"} if module == "torchloom" else set()
    assert sorted(ns.__all__) == ns.__all__ and len(set(ns.__all__)) == len(ns.__all__)
    assert set(ns.__all__) == set(ns._LAZY) | extra
    checked = _type_checking_imports(module)
    lazy = {n: f"{module}.{m}" for n, m in ns._LAZY.items() if m != "_lazy"}
    assert checked == lazy, "the TYPE_CHECKING imports and _LAZY must name the same modules"
    assert sorted(dir(ns)) == sorted(set(ns.__all__) | extra)


@pytest.mark.parametrize("module", NAMESPACES)
def test_every_public_name_resolves_to_a_kernel_object(module: str) -> None:
    ns = importlib.import_module(module)
    for name in ns.__all__:
        obj = getattr(ns, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__module__.startswith("torchloom"), f"{module}.{name} comes from {obj.__module__}"


def test_namespace_names_are_the_top_level_objects() -> None:
    for module in NAMESPACES[1:]:
        ns = importlib.import_module(module)
        assert set(ns.__all__) <= set(torchloom.__all__), module
        for name in ns.__all__:
            assert getattr(ns, name) is getattr(torchloom, name), f"{module}.{name}"


def test_private_modules_and_names_are_underscored() -> None:
    """Every module file outside the public namespaces is underscored, so its path says it is private."""
    public_files = {"__init__.py", "py.typed"}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        if "plugin_template" in rel.parts or path.name in public_files:
            continue
        assert any(p.startswith("_") for p in rel.parts), f"torchloom/{rel} is not marked private"
    assert not [n for n in torchloom.__all__ if n.startswith("_") and n != "__version__"]


def test_import_is_lazy_and_unknown_names_are_clear() -> None:
    code = ("import sys, torchloom, torchloom.data, torchloom.optim, torchloom.callbacks\n"
            "print(sorted(m for m in sys.modules if m.startswith('torchloom')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert eval(out) == ["torchloom", "torchloom._lazy", "torchloom._version", "torchloom.callbacks",
                         "torchloom.data", "torchloom.optim"]
    with pytest.raises(AttributeError, match="module 'torchloom' has no attribute 'Lerner'"):
        torchloom.Lerner  # noqa: B018


# -- plugins, contrib and the template import public names only ---------------------------------------

_FROM = re.compile(r"^\s*from\s+(torchloom(?:\.\w+)*)\s+import\s+(\([^)]*\)|[^\n#]+)", re.M)
_IMPORT = re.compile(r"^\s*import\s+(torchloom(?:\.\w+)*)", re.M)
_ATTR = re.compile(r"(?<!from )(?<!import )\btorchloom\.(\w+)")


def private_kernel_uses(text: str) -> list[str]:
    """Kernel names in ``text`` (source, template or README) that are not public."""
    bad = []
    for mod, names in _FROM.findall(text):
        if mod not in PUBLIC_MODULES:
            bad.append(f"from {mod} import ...")
            continue
        exported = set(importlib.import_module(mod).__all__)
        for name in re.split(r"[\s,()]+", names):
            name = name.split(" as ")[0].strip()
            if name and name not in exported:
                bad.append(f"from {mod} import {name}")
    bad += [f"import {m}" for m in _IMPORT.findall(text) if m not in PUBLIC_MODULES]
    public_attrs = set(torchloom.__all__) | {m.split(".")[1] for m in PUBLIC_MODULES if "." in m}
    bad += [f"torchloom.{a}" for a in _ATTR.findall(text) if a not in public_attrs]
    return bad


def _plugin_files() -> list[Path]:
    roots = [*ROOT.glob("plugins/*"), *ROOT.glob("contrib/*"), ROOT / "core/src/torchloom/plugin_template"]
    dists = [p.name for p in ROOT.glob("plugins/*")] + [p.name for p in ROOT.glob("contrib/*")]
    roots += [ROOT / "tests" / d for d in dists if (ROOT / "tests" / d).is_dir()]
    skip = {".tox", "build", "dist", "__pycache__"}
    files = []
    for root in roots:
        for f in root.rglob("*"):
            parts = f.relative_to(root).parts
            if f.is_file() and f.suffix in {".py", ".tmpl", ".md"} and not skip & set(parts) \
                    and not any(p.endswith(".egg-info") for p in parts):
                files.append(f)
    return files


def test_plugins_contrib_and_template_import_only_public_kernel_names() -> None:
    files = _plugin_files()
    assert any("plugin_template" in f.parts for f in files) and any("vision" in f.parts for f in files)
    bad = {str(f.relative_to(ROOT)): uses for f in files
           if (uses := private_kernel_uses(f.read_text(errors="replace")))}
    assert bad == {}


def test_the_private_name_check_catches_each_form() -> None:
    assert private_kernel_uses("from torchloom import Learner, Callback\nimport torchloom\n"
                               "torchloom.hookimpl\nfrom torchloom.testing import synth_learner\n") == []
    assert private_kernel_uses("from torchloom._learner import Learner") == ["from torchloom._learner import ..."]
    assert private_kernel_uses("from torchloom.data._lists import Datasets") == [
        "from torchloom.data._lists import ..."]
    assert private_kernel_uses("from torchloom import (\n    Learner,\n    _noop,\n)") == ["from torchloom import _noop"]
    assert private_kernel_uses("import torchloom._plugins.registry as r") == ["import torchloom._plugins.registry"]
    assert private_kernel_uses("x = torchloom._lazy.lazy_exports") == ["torchloom._lazy"]
    assert private_kernel_uses("from torchloom.lazy import lazy_exports") == ["from torchloom.lazy import ..."]
