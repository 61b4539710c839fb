"""Which test runner runs a project's tests (docs/design.md "Test runner"): the zero-config choice,
what overrides it, the one-line errors, and manage.py's settings read without running it."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import write_project

from perfscan.errors import UsageError
from perfscan.models import Driver, Project, Settings, Target
from perfscan.testdriver import choose_driver, settings_module, with_hint

MANAGE = (
    "import os\nimport sys\n\n\ndef main():\n"
    "    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site_cfg.settings')\n"
    "    from django.core.management import execute_from_command_line\n\n"
    "    execute_from_command_line(sys.argv)\n"
)


def project(root: Path, **has: bool) -> Project:
    return Project(
        root=root,
        name="p",
        packages=(),
        source_roots=(root,),
        tests_dir=None,
        console_scripts=(),
        dependencies=(),
        runner=("/venv/bin/python",),
        runner_origin="--runner",
        python_version="3.11.7",
        has_pytest=has.get("pytest", False),
        has_django=has.get("django", False),
        has_pytest_django=has.get("pytest_django", False),
    )


@pytest.mark.parametrize(
    "manage, has, chosen",
    [
        (False, {"pytest": True}, "pytest"),
        (False, {}, "unittest"),
        (False, {"django": True}, "unittest"),  # Django installed, but no manage.py to run
        (True, {"django": True}, "django"),
        (True, {"django": True, "pytest": True}, "django"),  # pytest cannot set Django up without pytest-django
        (True, {"django": True, "pytest": True, "pytest_django": True}, "pytest"),
    ],
)
def test_zero_config_choice(tmp_path, manage, has, chosen):
    if manage:
        write_project(tmp_path, {"manage.py": MANAGE})
    driver = choose_driver(Settings(path=tmp_path), project(tmp_path, **has))
    assert driver.name == chosen and driver.why
    expect_settings = "site_cfg.settings" if chosen == "django" else driver.django_settings
    assert driver.django_settings == expect_settings
    assert chosen != "django" or "site_cfg.settings" in driver.why


def test_asked_for_test_runner_wins_and_says_where_it_came_from(tmp_path):
    settings = Settings(
        path=tmp_path, test_runner="unittest", origins={"test_runner": "pyproject.toml [tool.perfscan]"}
    )
    driver = choose_driver(settings, project(tmp_path, pytest=True))
    assert driver == Driver("unittest", "asked for by pyproject.toml [tool.perfscan]")


@pytest.mark.parametrize(
    "asked, manage, has, words",
    [
        ("pytest", False, {}, ["pytest", "cannot be imported", "--runner"]),
        ("django", False, {"django": True}, ["needs manage.py", "--test-runner"]),
        ("django", True, {}, ["cannot import django", "--runner"]),
        (None, True, {"pytest": True}, ["manage.py", "cannot import django", "--test-runner unittest"]),
    ],
)
def test_a_test_runner_that_cannot_run_is_a_one_line_error(tmp_path, asked, manage, has, words):
    if manage:
        write_project(tmp_path, {"manage.py": MANAGE})
    settings = Settings(path=tmp_path, test_runner=asked, origins={"test_runner": "--test-runner"} if asked else {})
    with pytest.raises(UsageError) as err:
        choose_driver(settings, project(tmp_path, **has))
    message = str(err.value)
    assert "\n" not in message and all(w in message for w in words), message


@pytest.mark.parametrize(
    "source, module",
    [
        (MANAGE, "site_cfg.settings"),
        ('import os\nos.environ["DJANGO_SETTINGS_MODULE"] = "a.b"\n', "a.b"),
        ("from os import environ\nenviron.setdefault('DJANGO_SETTINGS_MODULE', 'c.settings')\n", "c.settings"),
        # not a plain string, another variable, a comment, a file that does not parse: nothing
        ("import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', NAME)\n", ""),
        ("import os\nos.environ.setdefault('OTHER', 'x.settings')\n", ""),
        ("# os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'x.settings')\n", ""),
        ("def broken(:\n", ""),
    ],
)
def test_settings_module_is_read_from_manage_py_without_running_it(tmp_path, source, module):
    (tmp_path / "manage.py").write_text(source + "\nraise SystemExit('manage.py was run')\n")
    assert settings_module(tmp_path / "manage.py") == module


def test_manage_py_without_settings_needs_the_environment(tmp_path, monkeypatch):
    write_project(tmp_path, {"manage.py": "import django\n"})
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    with pytest.raises(UsageError, match="DJANGO_SETTINGS_MODULE"):
        choose_driver(Settings(path=tmp_path), project(tmp_path, django=True))
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "env.settings")
    driver = choose_driver(Settings(path=tmp_path), project(tmp_path, django=True))
    assert driver.name == "django" and driver.django_settings == "" and os.environ["DJANGO_SETTINGS_MODULE"]


def test_chosen_ids_keep_the_unittest_arguments_and_drop_pytest_paths():
    args = ("discover", "-s", "tests")
    ids = ("tests/test_a.py::A::test_x",)
    unittest_target = Target(ids, args, "selected", 3, driver=Driver("unittest", "why"))
    assert unittest_target.pytest_argv() == args + ids  # the probe loads what the arguments say, then keeps the ids
    pytest_target = replace(unittest_target, pytest_args=("tests/unit", "-x"), driver=Driver())
    assert pytest_target.pytest_argv() == ("-x",) + ids
    assert Target((), args, "all", 3, driver=Driver("django", "why")).pytest_argv() == args


def test_an_empty_unittest_run_without_pytest_hints_at_the_wrong_python(tmp_path):
    target = Target((), (), "none", 0, "no tests collected", driver=Driver("unittest", "why"))
    hinted = with_hint(target, project(tmp_path))
    assert "cannot import pytest" in hinted.note and "--runner" in hinted.note
    assert with_hint(target, project(tmp_path, pytest=True)) == target
