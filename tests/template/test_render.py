"""`torchloom new-plugin`: name validation, rendering, and the committed contrib/plugin-template."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

from torchloom._cli import main
from torchloom._newplugin import NewPluginError, name_taken_by, plugin_names, render_plugin, render_template

REPO = Path(__file__).resolve().parents[2]
CONTRIB = REPO / "contrib" / "plugin-template"
EXAMPLE = "example"
# build and test by-products that may sit in an author's checkout of the template
IGNORED_PARTS = {"__pycache__", ".pytest_cache", "build", "dist", ".venv", ".ruff_cache"}


def _tree(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_dir() or IGNORED_PARTS & set(rel.parts) or any(s.endswith(".egg-info") for s in rel.parts):
            continue
        out[rel.as_posix()] = p.read_text(encoding="utf-8")
    return out


def test_contrib_plugin_template_is_the_rendered_template():
    rendered = render_template(EXAMPLE)
    committed = _tree(CONTRIB)
    regen = f"rm -rf {CONTRIB} && torchloom new-plugin {EXAMPLE} --dir {CONTRIB}"
    assert sorted(committed) == sorted(rendered), f"file lists differ; regenerate with: {regen}"
    for rel, text in rendered.items():
        assert committed[rel] == text, f"{rel} differs from the kernel's template; regenerate with: {regen}"


@pytest.mark.parametrize(
    ("name", "dist", "package", "cls"),
    [
        ("ema", "torchloom-ema", "torchloom_ema", "EmaCallback"),
        ("grad-norm", "torchloom-grad-norm", "torchloom_grad_norm", "GradNormCallback"),
        ("lr_probe2", "torchloom-lr-probe2", "torchloom_lr_probe2", "LrProbe2Callback"),
    ],
)
def test_names_are_derived_from_the_plugin_name(name, dist, package, cls):
    n = plugin_names(name)
    assert (n.name, n.dist, n.package, n.class_name) == (name, dist, package, cls)


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("", "non-empty"),
        ("Ema", "lowercase"),
        ("torchloom-ema", "try 'ema'"),
        ("torchloom", "short name"),
        ("1ema", "start with a letter"),
        ("my plugin", "only lowercase letters"),
        ("a--b", "single '-'"),
        ("ema-", "only lowercase"),
        ("../evil", "only lowercase"),
    ],
)
def test_bad_names_are_refused_with_a_clear_message(bad, says, tmp_path):
    with pytest.raises(NewPluginError, match="plugin name") as info:
        render_plugin(bad, tmp_path / "out")
    assert says in str(info.value)
    assert repr(bad) in str(info.value)
    assert not (tmp_path / "out").exists()


def test_rendered_plugin_has_names_filled_in_and_valid_files(tmp_path):
    target = render_plugin("grad-norm", tmp_path / "gn")
    files = _tree(target)
    assert set(files) == {
        ".gitignore", ".github/workflows/test.yml", ".github/workflows/publish.yml",
        "README.md", "LICENSE", "pyproject.toml", "src/torchloom_grad_norm/__init__.py",
        "src/torchloom_grad_norm/plugin.py", "src/torchloom_grad_norm/callback.py",
        "src/torchloom_grad_norm/py.typed", "tests/test_torchloom_grad_norm.py",
    }
    for rel, text in files.items():
        assert not re.search(r"\{\{\w+\}\}", text), f"placeholder left in {rel}"
        if rel.endswith(".py"):
            ast.parse(text, filename=rel)
    meta = tomllib.loads(files["pyproject.toml"])
    assert meta["project"]["name"] == "torchloom-grad-norm"
    assert meta["project"]["entry-points"]["torchloom"] == {"grad-norm": "torchloom_grad_norm.plugin"}
    assert '"torchloom_grad_norm.callback:GradNormCallback"' in files["src/torchloom_grad_norm/plugin.py"]
    assert "class GradNormCallback(Callback)" in files["src/torchloom_grad_norm/callback.py"]


def test_empty_existing_folder_is_used_and_non_empty_one_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert render_plugin("probe", empty) == empty.absolute()
    assert (empty / "src" / "torchloom_probe" / "plugin.py").is_file()

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(NewPluginError, match="not empty"):
        render_plugin("probe", busy)
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]

    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(NewPluginError, match="not a folder"):
        render_plugin("probe", afile)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "busy", "empty"]  # no temp folders left


def test_cli_renders_into_dir_and_reports_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["new-plugin", "probe"]) == 0  # default folder: ./torchloom-probe
    out = capsys.readouterr().out
    assert "Created torchloom-probe" in out and "pip install -e torchloom-probe" in out
    assert (tmp_path / "torchloom-probe" / "pyproject.toml").is_file()

    assert main(["new-plugin", "probe"]) == 2
    assert "not empty" in capsys.readouterr().err

    assert main(["new-plugin", "Bad_Name", "--dir", "x"]) == 2
    err = capsys.readouterr().err
    assert "invalid plugin name 'Bad_Name'" in err
    assert not (tmp_path / "x").exists()


def test_console_script_help_lists_new_plugin():
    out = subprocess.run([sys.executable, "-m", "torchloom._cli", "new-plugin", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--dir DIR" in out and "NAME" in out


@pytest.mark.parametrize(("name", "dist"), [("mixup", "torchloom-mixup"), ("ema", "torchloom-ema"),
                                            ("fashion-mnist", "torchloom-vision")])
def test_names_other_distributions_provide_are_refused(name, dist, tmp_path):
    with pytest.raises(NewPluginError, match=f"already provided by {dist}.*pick another name"):
        render_plugin(name, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert render_plugin(name, tmp_path / "out", check_name=False).is_dir()  # the API can skip the check


def test_installed_names_count_unless_they_are_the_plugin_itself(monkeypatch, tmp_path):
    import torchloom._plugins.manager as registry

    providers: list[str] = []
    fake = SimpleNamespace(which=lambda name: [SimpleNamespace(dist=d) for d in providers])
    monkeypatch.setattr(registry, "get_registry", lambda: fake)
    names = plugin_names("example")
    assert name_taken_by(names) is None
    providers.append("torchloom_example")  # itself, installed (regenerating contrib/plugin-template)
    assert name_taken_by(names) is None
    providers.append("acme-example-tools")  # somebody else's plugin registers 'example'
    assert name_taken_by(names) == "acme-example-tools"
    assert main(["new-plugin", "example", "--dir", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


def test_rendered_github_workflows_are_valid_yaml(tmp_path):
    yaml = pytest.importorskip("yaml")
    files = render_template("grad-norm")
    test = yaml.safe_load(files[".github/workflows/test.yml"])
    steps = [s.get("run", "") for s in test["jobs"]["test"]["steps"]]
    assert any('-e ".[test]"' in s for s in steps) and any("pytest" in s for s in steps)
    assert test["jobs"]["test"]["steps"][1]["with"]["python-version"] == "${{ matrix.python-version }}"
    publish = yaml.safe_load(files[".github/workflows/publish.yml"])
    assert publish["jobs"]["publish"]["permissions"] == {"id-token": "write"}
    assert publish["jobs"]["publish"]["steps"][-1]["uses"].startswith("pypa/gh-action-pypi-publish")


def test_rendered_plugin_passes_its_own_lint_config(tmp_path):
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed next to this Python")
    target = render_plugin("grad-norm", tmp_path / "torchloom-grad-norm")
    proc = subprocess.run([str(ruff), "check", "--no-cache", "."], cwd=target, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
