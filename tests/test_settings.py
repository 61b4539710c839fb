"""Settings layers and the lenient setup.md parser."""

from __future__ import annotations

import pytest
from conftest import write_project
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from perfscan.errors import UsageError
from perfscan.settings import load_settings
from perfscan.setupmd import parse_setup_md

SETUP_MD = """# Setup
- **Runner**: `uv run`
- Test command: `$RUNNER -m pytest tests/`
* Profilers: cProfile, memray
Project root: `.`
"""


def test_setup_md_bullets_bold_and_code_spans():
    got = parse_setup_md(SETUP_MD)
    assert got == {
        "runner": "uv run",
        "test_command": "$RUNNER -m pytest tests/",
        "profilers": "cProfile, memray",
        "root": ".",
    }


def test_setup_md_ignores_prose_and_unknown_keys():
    assert parse_setup_md("Some text with a colon: here\nNote: nothing\n") == {}


@given(st.text())
@hsettings(max_examples=300, deadline=None)
def test_setup_md_never_raises(text):
    out = parse_setup_md(text)
    assert isinstance(out, dict) and all(isinstance(v, str) and v for v in out.values())


def test_precedence_defaults_setupmd_pyproject_cli(tmp_path):
    root = write_project(
        tmp_path,
        {
            ".codeflash/setup.md": "- Runner: `uv run`\n",
            "pyproject.toml": "[tool.perfscan]\nbudget = 90\npasses = ['cpu', 'import']\npytest-args = ['-m', 'not slow']\n",
        },
    )
    s = load_settings(root, {})
    assert s.runner == "uv run" and s.origins["runner"] == ".codeflash/setup.md"
    assert s.budget == 90.0 and s.passes == ("cpu", "import") and s.pytest_args == ("-m", "not slow")
    s = load_settings(root, {"budget": 30.0, "runner": "python3"})
    assert s.budget == 30.0 and s.runner == "python3" and s.origins["budget"] == "command line"
    (tmp_path / "empty").mkdir()
    assert load_settings(tmp_path / "empty", {}).budget == 300.0


def test_pyproject_runner_beats_setup_md(tmp_path):
    root = write_project(
        tmp_path,
        {".codeflash/setup.md": "Runner: uv run\n", "pyproject.toml": "[tool.perfscan]\nrunner = '.venv/bin/python'\n"},
    )
    assert load_settings(root, {}).runner == ".venv/bin/python"


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[tool.perfscan]\nbudget = 'soon'\n", "budget"),
        ("[tool.perfscan]\npasses = ['gpu']\n", "unknown pass"),
        ("[tool.perfscan]\ncolour = true\n", "unknown key"),
        ("[project\nname = 'x'\n", "not valid TOML"),
        ("[tool.perfscan.thresholds]\nasync = { high = 1 }\n", "unknown domain 'async'"),
        ("[tool.perfscan.thresholds]\ncpu = { low = 1 }\n", "unknown level 'low'; choose from critical, high, medium"),
        ("[tool.perfscan.thresholds]\ncpu = { high = 30 }\n", r"critical \(20\) must be above high \(30\)"),
        ("[tool.perfscan.thresholds]\nmemory = { medium = -1 }\n", "not a positive number"),
        ("[tool.perfscan]\nthresholds = 5\n", "must be a table"),
    ],
)
def test_bad_configuration_is_a_usage_error(tmp_path, toml, message):
    write_project(tmp_path, {"pyproject.toml": toml})
    with pytest.raises(UsageError, match=message):
        load_settings(tmp_path, {})


def test_malformed_setup_md_runner_is_ignored_with_a_note(tmp_path):
    write_project(tmp_path, {".codeflash/setup.md": "Runner: `uv run 'unclosed`\n"})
    s = load_settings(tmp_path, {})
    assert s.runner is None
    assert any("not a valid command line" in n for n in s.notes)


def test_thresholds_from_pyproject_merge_over_the_design_table(tmp_path):
    write_project(tmp_path, {"pyproject.toml": "[tool.perfscan.thresholds]\nimport = { low = 20, medium = 80 }\n"})
    t = load_settings(tmp_path, {}).thresholds
    assert t.levels("import") == ((500.0, "high"), (80.0, "medium"), (20.0, "low"))
    assert t.floor("import") == 20.0 and t.levels("cpu") == ((20.0, "critical"), (5.0, "high"), (2.0, "medium"))


@pytest.mark.parametrize(
    "command, runner, args, test_runner",
    [
        ("$RUNNER -m pytest tests/ -x", None, ("tests/", "-x"), "pytest"),
        ("uv run pytest -q tests/unit", "uv run", ("-q", "tests/unit"), "pytest"),
        ("poetry run python -m pytest", "poetry run python", (), "pytest"),
        ('python -m pytest -m "not slow"', None, ("-m", "not slow"), "pytest"),
        (
            "python -m unittest discover -s tests -p 'test_*.py'",
            None,
            ("discover", "-s", "tests", "-p", "test_*.py"),
            "unittest",
        ),
        ("$RUNNER -m unittest", None, (), "unittest"),
        ("uv run python -m unittest pkg.tests", "uv run python", ("pkg.tests",), "unittest"),
        ("python manage.py test orders --keepdb", None, ("orders", "--keepdb"), "django"),
        ("./manage.py test", None, (), "django"),
        ("poetry run python manage.py test", "poetry run python", (), "django"),
        ("django-admin test --settings=site.settings", None, ("--settings=site.settings",), "django"),
    ],
)
def test_setup_md_test_command_gives_the_test_runner_its_args_and_runner(tmp_path, command, runner, args, test_runner):
    write_project(tmp_path, {".codeflash/setup.md": f"- Test command: `{command}`\n"})
    s = load_settings(tmp_path, {})
    assert (s.runner, s.pytest_args, s.notes, s.test_runner) == (runner, args, (), test_runner)
    assert s.origins["test_runner"] == ".codeflash/setup.md (test command)"


def test_test_runner_layers_and_bad_values(tmp_path):
    write_project(
        tmp_path,
        {
            ".codeflash/setup.md": "- Test command: `python -m unittest`\n",
            "pyproject.toml": "[tool.perfscan]\ntest-runner = 'django'\n",
        },
    )
    assert load_settings(tmp_path, {}).test_runner == "django"
    assert load_settings(tmp_path, {"test_runner": "pytest"}).test_runner == "pytest"
    (tmp_path / "pyproject.toml").write_text("[tool.perfscan]\ntest-runner = 'nose'\n")
    with pytest.raises(UsageError, match="test-runner"):
        load_settings(tmp_path, {})


def test_setup_md_test_command_is_the_lowest_layer(tmp_path):
    write_project(
        tmp_path,
        {
            ".codeflash/setup.md": "- Runner: `.venv/bin/python`\n- Test command: `uv run pytest tests/a`\n",
            "pyproject.toml": "[tool.perfscan]\npytest-args = ['tests/b']\n",
        },
    )
    s = load_settings(tmp_path, {})
    assert s.runner == ".venv/bin/python" and s.pytest_args == ("tests/b",)
    assert load_settings(tmp_path, {"pytest_args": ("tests/c",)}).pytest_args == ("tests/c",)


def test_setup_md_test_command_that_runs_no_known_test_runner_is_a_note(tmp_path):
    write_project(tmp_path, {".codeflash/setup.md": "Test command: `make test`\n"})
    s = load_settings(tmp_path, {})
    assert s.pytest_args == () and s.test_runner is None
    assert any("runs neither pytest, `python -m unittest` nor `manage.py test`" in n for n in s.notes), s.notes
