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
from typing import Dict

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
_LINE = re.compile(r"^\s*(?:[-*+]|\d+[.)])?\s*(?:\*\*|__)?([A-Za-z][A-Za-z _-]{0,40}?)(?:\*\*|__)?\s*[:=]\s*(?:\*\*|__)?\s*(.*?)\s*$")


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
