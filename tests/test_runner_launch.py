"""A runner that wraps the python (a pyenv shim, `uv run`, `poetry run`) is started once; every
run starts its python directly, with the environment the runner gives it (docs/design.md "Runner")."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Dict

import pytest
from conftest import assert_unchanged, load_report, run_perfscan, tree_state, write_project

from perfscan.runner import detect_runner, direct_launch, inspect_interpreter, poetry_run


def wrapper(where: Path, body: str) -> Path:
    """A runner named like a python that is a shell script: it notes each start in `starts`, does
    `body` and runs this interpreter (as a pyenv shim runs the version's python)."""
    where.mkdir(parents=True, exist_ok=True)
    script = where / "python3"
    starts = where / "starts"
    script.write_text(
        f'#!/bin/sh\necho started >> {shlex.quote(str(starts))}\n{body}\nexec {shlex.quote(sys.executable)} "$@"\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


def starts(script: Path) -> int:
    path = script.parent / "starts"
    return len(path.read_text().splitlines()) if path.exists() else 0


def launch_of(script: Path, root: Path) -> tuple:
    env: Dict[str, str] = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    interp = inspect_interpreter((str(script),), "test", root, env)
    return direct_launch((str(script),), "test", root, env, interp)


@pytest.mark.slow
def test_a_wrapping_runner_starts_once_and_its_environment_reaches_the_tests(tmp_path):
    root = write_project(
        tmp_path / "proj",
        {
            "pyproject.toml": '[project]\nname = "app"\n',
            "app/__init__.py": "",
            "app/work.py": "def unique(xs):\n    out = []\n    for x in xs:\n        if x not in out:\n"
            "            out.append(x)\n    return out\n",
            "tests/test_work.py": "import os\n\nfrom app.work import unique\n\n\n"
            "def test_unique():\n    assert len(unique([i % 900 for i in range(9000)])) == 900\n\n\n"
            "def test_the_runner_environment():\n    assert os.environ.get('PYENV_VERSION') == 'shim-test'\n",
        },
    )
    script = wrapper(tmp_path / "shims", "export PYENV_VERSION=shim-test")
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", str(script), "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_unchanged(before, root)
    report = load_report(root)
    # every child (import runs, timing, memory, cpu) started the python itself, never the script again
    assert starts(script) == 1
    change = report["environment"][0]
    assert change.startswith(f"runner: {script} started once; every run starts its python, {sys.executable},")
    assert "PYENV_VERSION" in change
    # the variable the runner sets reached the tests in every run: none failed
    notes = [n for p in report["passes"].values() for n in p["notes"]] + list(report["warnings"])
    assert not [n for n in notes if "failed" in n or "differ from the plain run" in n]
    assert all(p["status"] == "ok" for p in report["passes"].values()), report["passes"]


def test_a_wrapper_that_sets_a_python_variable_stays_the_runner(tmp_path):
    # PYTHONWARNINGS is the runner's: perfscan composes PYTHON* variables for each child itself
    script = wrapper(tmp_path / "shims", "export PYTHONWARNINGS=ignore")
    assert launch_of(script, tmp_path) == ((), ())


def test_a_wrapper_that_adds_interpreter_options_stays_the_runner(tmp_path):
    script = tmp_path / "shims" / "python3"
    wrapper(tmp_path / "shims", "")
    text = script.read_text().replace('"$@"', '-X dev "$@"')
    script.write_text(text)
    assert launch_of(script, tmp_path) == ((), ())


def test_a_shim_is_resolved_to_its_python_with_what_it_sets(tmp_path):
    script = wrapper(tmp_path / "shims", "export PYENV_VERSION=x\nexport VIRTUAL_ENV=/srv/venv")
    launch, env = launch_of(script, tmp_path)
    assert launch == (sys.executable,)
    assert ("PYENV_VERSION", "x") in env and ("VIRTUAL_ENV", "/srv/venv") in env
    assert not [k for k, _ in env if k in ("PWD", "OLDPWD", "_", "SHLVL")]  # the script's own shell's


@pytest.mark.parametrize(
    "folder, body",
    [
        ("shims", "export RUN_TOKEN=$$"),  # drawn at each start: one start's value would be every child's
        ("shims", "export DBUS_SESSION_BUS_ADDRESS=unix:path=/srv/bus"),  # a session the runner keeps
        ("bin", "export PYENV_VERSION=x"),  # not a shim: a script may do what no variable shows
    ],
)
def test_a_runner_that_does_more_than_choose_the_python_stays_the_runner(tmp_path, folder, body):
    assert launch_of(wrapper(tmp_path / folder, body), tmp_path) == ((), ())


def test_a_command_in_front_of_the_python_stays_the_runner(tmp_path):
    # nice, taskset, timeout, unshare: what they do is no variable of the environment
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    runner = ("nice", "-n", "5", sys.executable)
    interp = inspect_interpreter(runner, "test", tmp_path, env)
    assert direct_launch(runner, "test", tmp_path, env, interp) == ((), ())


def test_a_plain_python_runner_is_left_as_it_is(tmp_path):
    assert launch_of(Path(sys.executable), tmp_path) == ((), ())


def test_poetry_run_ends_its_own_options_before_the_python(tmp_path):
    # poetry 2 reads `-m` as its own option where a `--` comes later in the command line, as it
    # does in every run of the tests: `poetry run -- python ...` hands everything to the python
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").write_text("")
    given, _ = detect_runner(tmp_path, "poetry run python", "--runner")
    assert given == ("poetry", "run", "--", "python")
    assert poetry_run(given) == given
    assert poetry_run(("poetry", "run", "python3", "-X", "dev")) == ("poetry", "run", "--", "python3", "-X", "dev")
    # poetry's own options stay its own
    assert poetry_run(("poetry", "run", "-q", "python")) == ("poetry", "run", "-q", "--", "python")
    assert poetry_run(("poetry", "run", "-q", "--", "python")) == ("poetry", "run", "-q", "--", "python")
