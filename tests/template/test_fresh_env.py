"""What a plugin author does, in a fresh virtual environment: `torchloom new-plugin NAME`, `pip install`,
`torchloom plugins`, `learn.use(NAME)`, and the rendered plugin's own tests.

The venv is made without pip or packages; a `.pth` line makes the dev environment's site-packages
(torch, pluggy, pytest, pip) visible so nothing is downloaded. torchloom itself is installed into it
from a copy of `core/` (a regular, non-editable install: the template must ship as package data),
and the rendered plugin is installed editable, as the README's guide says. A wheel built from it
shows it is ready to publish. `TORCHLOOM_PLUGINS` limits discovery to the new plugin so whatever
else the dev environment holds cannot interfere, and strict mode turns a quarantine into a failure.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NAME = "loom-probe"
DIST, PACKAGE, CLASS = "torchloom-loom-probe", "torchloom_loom_probe", "LoomProbeCallback"


def _run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> str:
    proc = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
                    f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}")
    return proc.stdout


class FreshEnv:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.venv = root / "venv"
        self.bin = self.venv / ("Scripts" if os.name == "nt" else "bin")
        self.python = self.bin / "python"
        self.plugin_dir = root / "work" / DIST
        self.env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        self.env.update(
            PATH=f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            VIRTUAL_ENV=str(self.venv),
            TORCHLOOM_PLUGINS=NAME,
            TORCHLOOM_STRICT_PLUGINS="1",
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            PIP_NO_INDEX="1",
            PYTHONDONTWRITEBYTECODE="1",
        )

    def run(self, *cmd: object, cwd: Path | None = None) -> str:
        return _run([str(c) for c in cmd], self.env, cwd or self.root)

    def pip_install(self, *args: object) -> None:
        self.run(self.python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--quiet", *args)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> FreshEnv:
    env = FreshEnv(tmp_path_factory.mktemp("fresh"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", env.venv], check=True)
    purelib = _run([env.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                   env.env, env.root).strip()
    dev_site = sysconfig.get_paths()["purelib"]
    Path(purelib, "_torchloom_dev_deps.pth").write_text(f"import site; site.addsitedir({dev_site!r})\n")
    # torchloom from PyPI, as a user would have it: a regular install of a clean copy of core/
    core = env.root / "core"
    shutil.copytree(REPO / "core", core,
                    ignore=shutil.ignore_patterns("*.egg-info", "build", "dist", "__pycache__"))
    env.pip_install(core)
    # the author's steps
    out = env.run(env.bin / "torchloom", "new-plugin", NAME, "--dir", env.plugin_dir)
    assert f"Created {DIST}" in out
    env.pip_install("-e", env.plugin_dir)  # as the guide says: an editable install while developing
    return env


def test_kernel_comes_from_the_fresh_env(fresh):
    where = fresh.run(fresh.python, "-c", "import torchloom, torchloom._newplugin as n; print(n.__file__)")
    assert where.strip().startswith(str(fresh.venv)), where


def test_torchloom_plugins_lists_the_new_plugin(fresh):
    text = fresh.run(fresh.bin / "torchloom", "plugins")
    assert f"{NAME}  {DIST} 0.1.0  [loaded]" in text
    data = json.loads(fresh.run(fresh.bin / "torchloom", "plugins", "--json"))
    (info,) = [p for p in data["plugins"] if p["dist"] == DIST]
    assert info["status"] == "loaded"
    assert info["provides"]["callback"] == [NAME]
    which = fresh.run(fresh.bin / "torchloom", "plugins", "which", NAME)
    assert f"from {DIST} 0.1.0" in which and f"{PACKAGE}.callback:{CLASS}" in which


def test_learn_use_works_in_a_script(fresh):
    script = fresh.root / "train.py"
    script.write_text(
        "import json, sys\n"
        "from torchloom.testing import synth_learner\n"
        f"learn = synth_learner().use({NAME!r}, every=1)\n"
        "learn.fit(1)\n"
        f"cb = next(c for c in learn.cbs if type(c).__name__ == {CLASS!r})\n"
        "print(json.dumps({'module': type(cb).__module__, 'file': sys.modules[type(cb).__module__].__file__,\n"
        "                  'n_steps': cb.n_steps, 'norms': cb.norms, 'n_batches': len(learn.dls.train),\n"
        "                  'used': {k: dict(v) for k, v in learn.plugins_used.items()}}))\n"
    )
    result = json.loads(fresh.run(fresh.python, script).strip().splitlines()[-1])
    assert result["module"] == f"{PACKAGE}.callback"
    assert result["file"].startswith(str(fresh.plugin_dir))  # the editable install: the author's source
    assert result["n_steps"] == result["n_batches"] == len(result["norms"])
    assert all(v > 0 for v in result["norms"])
    assert result["used"][NAME]["dist"] == DIST


def test_rendered_plugin_tests_pass(fresh):
    out = fresh.run(fresh.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=fresh.plugin_dir)
    assert " passed" in out and " failed" not in out


def test_rendered_plugin_builds_a_publishable_wheel(fresh, tmp_path):
    fresh.run(fresh.python, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
              "--wheel-dir", tmp_path, fresh.plugin_dir)
    (wheel,) = tmp_path.glob(f"{PACKAGE}-0.1.0-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = zf.read(f"{PACKAGE}-0.1.0.dist-info/entry_points.txt").decode()
    assert {f"{PACKAGE}/plugin.py", f"{PACKAGE}/callback.py", f"{PACKAGE}/py.typed"} <= names
    assert not any(n.startswith("tests/") for n in names)
    assert f"[torchloom]\n{NAME} = {PACKAGE}.plugin" in entry_points
