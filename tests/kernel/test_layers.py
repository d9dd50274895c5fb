"""The kernel's modules form layers without import circles.

Every module of ``torchloom`` belongs to one layer below; a module may import (at the top or inside
a function) only modules of its own layer or of lower ones, and the import graph has no cycle.
``if TYPE_CHECKING:`` imports are not counted: they never run. A new module must be placed in a
layer here, which is the point: its place in the order is a design decision.
"""
from __future__ import annotations

import ast
from pathlib import Path

import torchloom

PKG = Path(torchloom.__file__).parent

#: lowest first. "base" holds the modules that import nothing else from torchloom (version, the lazy
#: helper, typed tensors, losses, the stepper-based optimizers, atomic writes, the target syntax);
#: "registry" the plugin registry (plain data) with its discovery; "targets" the one resolver of
#: ``"module:Name"`` targets (it asks the registry for registered names) and the safe file format.
LAYERS: list[tuple[str, list[str]]] = [
    ("base", ["_version", "_lazy", "_download", "_plotting", "_tensors", "_losses", "optim._steppers", "optim._optimizer",
              "optim._wrapper", "_persist.atomic", "_target_syntax", "data._workers", "optim._fused", "_unwrap",
              "_distributed", "_distributed.env", "_distributed.sampler", "_distributed.comm"]),
    ("registry", ["_plugins.errors", "_plugins.firstparty", "_plugins.hookspecs", "_plugins.registry",
                  "_plugins.builtin", "_plugins.manager"]),
    ("dispatch/transform", ["_dispatch", "_transform"]),
    ("targets", ["_targets", "_persist.safe"]),
    ("data", ["data._splitters", "data._getters", "data._show", "data._transforms", "data._dataloader",
              "data._dataloaders", "data._lists", "data._block", "data._spec", "data._load_dataset"]),
    ("callback", ["callbacks._base", "callbacks._guards", "_metrics", "callbacks._core", "callbacks._progress",
                  "callbacks._training", "callbacks._trackers", "callbacks._checkpoint", "callbacks._schedule",
                  "callbacks._compile", "_distributed.sync", "_distributed.ddp", "callbacks._notebook",
                  "callbacks._logger", "callbacks._csv_logger", "callbacks._tensorboard"]),
    ("learner", ["_summary", "_learner", "_learner_cbs", "_learner_use", "_learner_infer", "_learner_fit",
                 "_learner_guard", "_learner_opt", "_learner_quiet",
                 "_persist.learner_io", "_tta", "_deploy.spec", "_deploy.readers", "_deploy.export"]),
    ("features", ["_interpret", "testing._markdown", "_persist.load_learner", "testing._events", "testing._synth", "testing._contract",
                  "testing._discovery", "testing", "_cli", "_newplugin", "_deploy", "_deploy.pt2check",
                  "_deploy.learner_runtime", "_deploy.runtime", "_deploy.predict"]),
]
#: package ``__init__`` files that only re-export names lazily (they import ``_lazy`` and ``_version``).
NAMESPACES = ["", "data", "optim", "callbacks", "_plugins", "_persist"]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(path: Path) -> set[str]:
    """torchloom modules imported by ``path`` (relative names), TYPE_CHECKING blocks excluded."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import; the kernel uses absolute imports"
            found.add(node.module or "")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m.removeprefix("torchloom").lstrip(".") for m in found if m == "torchloom" or
            m.startswith("torchloom.")}


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PKG.rglob("*.py") if "plugin_template" not in p.parts}


def test_every_module_has_a_layer() -> None:
    placed = [m for _, mods in LAYERS for m in mods]
    assert len(placed) == len(set(placed)), "a module is listed in two layers"
    modules = set(_graph()) - set(NAMESPACES)
    assert sorted(modules - set(placed)) == [], "new modules: give them a layer in LAYERS"
    assert sorted(set(placed) - modules) == [], "LAYERS lists modules that no longer exist"


def test_imports_only_point_down_the_layers() -> None:
    layer = {m: i for i, (_, mods) in enumerate(LAYERS) for m in mods}
    names = [name for name, _ in LAYERS]
    wrong = []
    for mod, deps in _graph().items():
        if mod in NAMESPACES:
            assert deps <= {"_lazy", "_version"}, f"namespace torchloom.{mod} imports {deps - {'_lazy', '_version'}}"
            continue
        for dep in deps:
            if dep in NAMESPACES and dep != "_lazy":
                wrong.append(f"{mod} imports the namespace 'torchloom.{dep}'; import the defining module")
            elif dep in layer and layer[dep] > layer[mod]:
                wrong.append(f"{mod} ({names[layer[mod]]}) imports {dep} ({names[layer[dep]]})")
    assert wrong == []


def test_no_import_cycles() -> None:
    graph = {m: {d for d in deps if d != m} for m, deps in _graph().items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def dfs(m: str, stack: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                dfs(d, [*stack, d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            dfs(m, [m])
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_checks_see_a_circle(tmp_path: Path) -> None:
    """The parser behind these tests finds function-local imports and skips TYPE_CHECKING ones."""
    f = tmp_path / "m.py"
    f.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from torchloom._learner import L\n"
                 "def f():\n    from torchloom.data._lists import Datasets\n    import torchloom._tensors as t\n")
    assert _imports(f) == {"data._lists", "_tensors"}
