"""The probe runs inside the project's interpreter: every Python from 3.9 to 3.13 on this machine.

pyenv's interpreters have no pytest, so each gets a venv with pytest, made once and cached
(PERFSCAN_TEST_CACHE, default ~/.cache/perfscan-tests).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import REPO, write_project

sys.path.insert(0, str(REPO / "src"))
from perfscan.models import Driver  # noqa: E402
from perfscan.probe_host import SCHEMA_VERSION, install_probe, run_probe  # noqa: E402

VERSIONS = ["3.9", "3.10", "3.11", "3.12", "3.13"]
CACHE = Path(os.environ.get("PERFSCAN_TEST_CACHE", Path.home() / ".cache" / "perfscan-tests"))


def find_python(version: str):
    pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    found = sorted(glob.glob(os.path.join(pyenv, "versions", f"{version}.*", "bin", "python")))
    if found:
        return found[-1]
    return shutil.which(f"python{version}")


def venv_with_pytest(version: str) -> Path:
    base = find_python(version)
    if base is None:
        pytest.skip(f"no Python {version} on this machine")
    venv = CACHE / f"venv-{version}"
    python = venv / "bin" / "python"
    marker = venv / ".perfscan-ready"
    if not marker.exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=300, capture_output=True)
        proc = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "pytest"], timeout=600, capture_output=True, text=True
        )
        if proc.returncode != 0:
            pytest.skip(f"cannot install pytest for Python {version}: {proc.stderr.strip()[-200:]}")
        marker.write_text("ok")
    return python


PROJECT = {
    "pyproject.toml": "[project]\nname='tiny'\nversion='1'\n[tool.pytest.ini_options]\ntestpaths=['tests']\n",
    "tiny/__init__.py": "",
    "tiny/work.py": (
        "import threading\n\n"
        "def hot(n):\n"
        "    seen = []\n"
        "    for i in range(n):\n"
        "        if i % 500 not in seen:\n"
        "            seen.append(i % 500)\n"
        "    return seen\n\n"
        "def in_thread(n):\n"
        "    out = []\n"
        "    t = threading.Thread(target=lambda: out.append(len(hot(n))))\n"
        "    t.start(); t.join()\n"
        "    return out[0]\n"
    ),
    "tests/test_tiny.py": (
        "import pytest\nfrom tiny.work import hot, in_thread\n\n"
        "@pytest.fixture\ndef data():\n    return hot(5000)\n\n"
        "def test_hot(data):\n    assert len(hot(20000)) == 500\n\n"
        "def test_thread():\n    assert in_thread(20000) == 500\n"
    ),
}


@pytest.mark.parametrize("version", VERSIONS)
def test_probe_cpu_mode(version, tmp_path):
    python = venv_with_pytest(version)
    root = write_project(tmp_path / "tiny", PROJECT)
    workdir = Path(tempfile.mkdtemp(dir=tmp_path))
    probe = install_probe(workdir)
    run = run_probe(
        "cpu",
        runner=[str(python)],
        root=root,
        workdir=workdir,
        probe_path=probe,
        pytest_args=[],
        timeout=120,
        driver=Driver(),
    )
    assert run.child.returncode == 0, run.child.tail(20)
    collected = run.read("collected.json")
    assert collected is not None and len(collected["nodeids"]) == 2
    data = run.read("cpu.json")
    assert data is not None and data["schema_version"] == SCHEMA_VERSION
    assert data["python"].startswith(version)
    phases = data["phases"]
    assert set(phases) == {"setup", "call", "teardown"}
    hot_calls = {p: sum(e[4] for e in phases[p]["stats"] if e[2] == "hot" and e[0].endswith("work.py")) for p in phases}
    assert hot_calls["setup"] == 1  # the fixture's call, in its phase
    # the main thread's call plus the worker thread's call: threads are profiled too
    assert hot_calls["call"] == 2, hot_calls
    assert all(phases[p]["wall"] >= 0 for p in phases) and phases["call"]["wall"] > 0
    assert not list(root.rglob("__pycache__")) and not (root / ".pytest_cache").exists()
