"""Which test runner runs the project's tests: pytest, unittest or Django's (docs/design.md "Test runner").

Asked for (`--test-runner`, `[tool.perfscan] test-runner`, or what `.codeflash/setup.md`'s test
command runs), it must be usable, else a usage error says why and what to do. Otherwise, from the
runner's environment and the project: pytest when the environment has it (in a project with
manage.py, only with pytest-django, without which pytest cannot set Django up); else Django's
runner where manage.py exists; else unittest, which is always there.
"""

from __future__ import annotations

import ast
import os
import shlex
from pathlib import Path
from typing import Optional

from perfscan.errors import UsageError
from perfscan.models import Driver, Project, Settings, Target

SETTINGS_VARIABLE = "DJANGO_SETTINGS_MODULE"


def choose_driver(settings: Settings, project: Project) -> Driver:
    asked = settings.test_runner
    manage = project.root / "manage.py"
    runner = shlex.join(project.runner)
    if asked:
        origin = settings.origins.get("test_runner", "--test-runner")
        why = f"asked for by {origin}"
        if asked == "pytest" and not project.has_pytest:
            raise UsageError(
                f"the test runner pytest (from {origin}) cannot be imported by the runner {runner}; "
                "pass --runner with the python of the project's test environment, or another --test-runner"
            )
        if asked == "django":
            return _django(project, manage, why, origin)
        return Driver(asked, why)
    if manage.is_file():
        if project.has_pytest and project.has_pytest_django:
            return Driver("pytest", "the runner's python has pytest and pytest-django")
        if project.has_django:
            return _django(project, manage, "manage.py, and Django without pytest-django in the runner's python", "")
        raise UsageError(
            f"the project has manage.py but the runner {runner} ({project.runner_origin}) cannot import django; "
            "pass --runner with the python of the project's environment, or --test-runner unittest"
        )
    if project.has_pytest:
        return Driver("pytest", "the runner's python has pytest")
    return Driver("unittest", "the runner's python has no pytest and the project has no manage.py")


def _django(project: Project, manage: Path, why: str, origin: str) -> Driver:
    where = f" (from {origin})" if origin else ""
    if not manage.is_file():
        raise UsageError(
            f"the test runner django{where} needs manage.py in {project.root}; "
            "scan the folder that holds manage.py, or choose another --test-runner"
        )
    if not project.has_django:
        raise UsageError(
            f"the test runner django{where} cannot be used: the runner {shlex.join(project.runner)} cannot import "
            "django; pass --runner with the python of the project's environment"
        )
    module = settings_module(manage)
    if not module and not os.environ.get(SETTINGS_VARIABLE):
        raise UsageError(
            f"manage.py does not set {SETTINGS_VARIABLE} to a plain string; "
            f"set {SETTINGS_VARIABLE} in the environment to run Django's tests"
        )
    shown = module or f"${SETTINGS_VARIABLE}"
    return Driver("django", f"{why}; settings {shown}" if why else f"settings {shown}", module)


def settings_module(manage: Path) -> str:
    """The settings module manage.py names: `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "x")`
    or `os.environ["DJANGO_SETTINGS_MODULE"] = "x"`, read with ast (manage.py is never run to find it)."""
    try:
        tree = ast.parse(manage.read_bytes(), str(manage))
    except (OSError, SyntaxError, ValueError):
        return ""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "setdefault"
            and _is_environ(node.func.value)
            and len(node.args) == 2
        ):
            value = _setting(node.args[0], node.args[1])
            if value:
                return value
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Subscript) and _is_environ(target.value):
                value = _setting(target.slice, node.value)
                if value:
                    return value
    return ""


def _is_environ(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def _setting(key: ast.expr, value: ast.expr) -> Optional[str]:
    if (
        isinstance(key, ast.Constant)
        and key.value == SETTINGS_VARIABLE
        and isinstance(value, ast.Constant)
        and isinstance(value.value, str)
    ):
        return value.value
    return None


def with_hint(target: Target, project: Project) -> Target:
    """A unittest run that found no test, in an environment without pytest, was most likely the
    wrong python for a pytest suite: the note says so."""
    from dataclasses import replace

    driver = target.driver
    if target.mode != "none" or driver.name != "unittest" or project.has_pytest or not target.note:
        return target
    if not target.note.startswith("no tests"):
        return target
    hint = (
        f" (unittest found no test case; the runner {shlex.join(project.runner)} cannot import pytest: "
        "for a pytest suite pass --runner with the python of the project's test environment)"
    )
    return replace(target, note=target.note + hint)
