"""Lenient parser for `.codeflash/setup.md`, which an optimizing agent may write before a scan.

It reads `Key: value` lines, with or without list bullets, bold markers or code spans, e.g.

    - **Runner**: `uv run`
    - Test command: `$RUNNER -m pytest tests/`
    - Profilers: cProfile, memray
    - Project root: `.`

Unknown keys are ignored; nothing here ever raises on odd text.
"""

from __future__ import annotations

import re
import shlex
from typing import Dict, List, Optional, Tuple

_KEYS = {
    "runner": "runner",
    "python runner": "runner",
    "test runner": "runner",
    "test command": "test_command",
    "tests command": "test_command",
    "test cmd": "test_command",
    "command": "test_command",
    "profilers": "profilers",
    "tools": "profilers",
    "available profilers": "profilers",
    "project root": "root",
    "root": "root",
}
_LINE = re.compile(
    r"^\s*(?:[-*+]|\d+[.)])?\s*(?:\*\*|__)?([A-Za-z][A-Za-z _-]{0,40}?)(?:\*\*|__)?\s*[:=]\s*(?:\*\*|__)?\s*(.*?)\s*$"
)


def _clean(value: str) -> str:
    value = value.strip()
    spans = re.findall(r"`([^`]*)`", value)
    if spans:
        value = spans[0]
    return value.strip().strip("*_").strip()


def parse_setup_md(text: str) -> Dict[str, str]:
    """Return the keys found: runner, test_command, profilers, root (first occurrence wins)."""
    found: Dict[str, str] = {}
    for raw in text.splitlines():
        m = _LINE.match(raw)
        if not m:
            continue
        key = " ".join(m.group(1).lower().replace("_", " ").replace("-", " ").split())
        canon = _KEYS.get(key)
        if canon is None or canon in found:
            continue
        value = _clean(m.group(2))
        if value:
            found[canon] = value
    return found


_PYTESTS = ("pytest", "py.test")
_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")


def _find_test_runner(argv: List[str]) -> Optional[Tuple[str, int, int]]:
    """(test runner, index where the runner's own command starts, index where its arguments start),
    for the first of: pytest, `-m unittest`, `manage.py test`, `django-admin test`."""
    for i, arg in enumerate(argv):
        name = arg.rsplit("/", 1)[-1]
        if name in _PYTESTS:
            return "pytest", i, i + 1
        if arg == "unittest" and i > 0 and argv[i - 1] == "-m":
            return "unittest", i, i + 1
        if name in ("manage.py", "django-admin", "django-admin.py") and i + 1 < len(argv) and argv[i + 1] == "test":
            return "django", i, i + 2
    return None


def split_test_command(command: str) -> Tuple[Optional[str], Tuple[str, ...], Optional[str], Optional[str]]:
    """`$RUNNER -m pytest tests/ -x` -> (runner or None, the test runner's arguments, note or None,
    test runner or None).

    The test runner is pytest, unittest (`python -m unittest ...`) or django (`python manage.py
    test ...`); the runner is what stands before it (`uv run`), unless that is only `$RUNNER` or
    a bare python; the arguments are what follows. Any other command gives a note."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return None, (), f"the test command {command!r} is not a valid command line and was ignored", None
    found = _find_test_runner(argv)
    if found is None:
        return (
            None,
            (),
            (
                f"the test command {command!r} runs neither pytest, `python -m unittest` nor `manage.py test`; "
                "perfscan chooses the test runner itself (name its arguments after `--`)"
            ),
            None,
        )
    test_runner, at, args_at = found
    prefix = [a for a in argv[:at] if a not in ("$RUNNER", "${RUNNER}")]
    if prefix and prefix[-1] == "-m":
        prefix = prefix[:-1]
    runner = (
        " ".join(shlex.quote(a) for a in prefix)
        if prefix and not (len(prefix) == 1 and _PYTHON.match(prefix[0]))
        else None
    )
    return runner, tuple(argv[args_at:]), None, test_runner
