"""Settings: defaults, then `.codeflash/setup.md`, then `[tool.perfscan]`, then the command line."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Tuple

from perfscan.errors import UsageError
from perfscan.models import DEFAULT_THRESHOLDS, DOMAINS, SEVERITIES, TEST_RUNNERS, Settings, Thresholds
from perfscan.report.formats import EXTRA_FORMATS
from perfscan.setupmd import parse_setup_md, split_test_command

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10
    import tomli as tomllib

FORMATS = tuple(EXTRA_FORMATS)  # the extra report formats --format accepts (the table in report/formats.py)
# [tool.perfscan] key -> (Settings field, kind)
TOOL_KEYS: Mapping[str, Tuple[str, str]] = {
    "test": ("tests", "list"),
    "tests": ("tests", "list"),
    "runner": ("runner", "str"),
    "out": ("out", "path"),
    "passes": ("passes", "passes"),
    "startup": ("startup", "bool"),
    "budget": ("budget", "float"),
    "quiet": ("quiet", "bool"),
    "pytest-args": ("pytest_args", "list"),
    "fail-on": ("fail_on", "severity"),
    "format": ("formats", "formats"),
    "formats": ("formats", "formats"),
    "blocking-calls": ("blocking_calls", "list"),
    "exclude": ("exclude", "list"),
    "cpu-engine": ("cpu_engine", "engine"),
    "memory-repeat": ("memory_repeat", "count"),
    "memory-screen": ("memory_screen", "bool"),
    "test-runner": ("test_runner", "test-runner"),
    "thresholds": ("thresholds", "thresholds"),
}


def read_pyproject(root: Path) -> Dict[str, Any]:
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        with open(path, "rb") as fh:
            data: Dict[str, Any] = tomllib.load(fh)
            return data
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not valid TOML ({exc}); fix it or move it aside to scan") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def parse_passes(value: Any, origin: str) -> Tuple[str, ...]:
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    names = tuple(dict.fromkeys(str(i).strip().lower() for i in items if str(i).strip()))
    bad = [n for n in names if n not in DOMAINS]
    if bad or not names:
        raise UsageError(f"{origin}: unknown pass {', '.join(bad) or '(none)'}; choose from {','.join(DOMAINS)}")
    return names


def parse_formats(value: Any, origin: str) -> Tuple[str, ...]:
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    names = tuple(dict.fromkeys(str(i).strip().lower() for i in items if str(i).strip()))
    bad = [n for n in names if n not in FORMATS + ("md", "markdown", "json")]
    if bad:
        raise UsageError(f"{origin}: unknown format {', '.join(bad)}; choose from {','.join(FORMATS)}")
    return tuple(n for n in names if n in FORMATS)


def parse_thresholds(value: Any, origin: str) -> Thresholds:
    """`{domain: {severity: bound}}` merged over docs/design.md's table; each level must stay above the next."""
    if not isinstance(value, dict):
        raise UsageError(f"{origin} must be a table such as {{ cpu = {{ high = 10 }} }}")
    table = {d: dict((s, b) for b, s in levels) for d, levels in DEFAULT_THRESHOLDS.table}
    for domain, levels in value.items():
        if domain not in table:
            raise UsageError(
                f"{origin}: unknown domain {domain!r}; choose from {', '.join(table)} "
                "(async severities are rules, not numbers)"
            )
        if not isinstance(levels, dict):
            raise UsageError(f"{origin}.{domain} must be a table such as {{ high = 10 }}")
        for severity, bound in levels.items():
            if severity not in table[domain]:
                raise UsageError(
                    f"{origin}.{domain}: unknown level {severity!r}; choose from {', '.join(table[domain])}"
                )
            if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not bound > 0:
                raise UsageError(f"{origin}.{domain}.{severity}: {bound!r} is not a positive number")
            table[domain][severity] = float(bound)
    for domain, levels in table.items():
        ordered = list(levels.items())
        for (upper, a), (lower, b) in zip(ordered, ordered[1:]):
            if not a > b:
                raise UsageError(f"{origin}.{domain}: {upper} ({a:g}) must be above {lower} ({b:g})")
    return Thresholds(tuple((d, tuple((b, s) for s, b in levels.items())) for d, levels in table.items()))


def _convert(kind: str, value: Any, origin: str) -> Any:
    if kind == "list":
        if isinstance(value, str):
            try:
                return tuple(shlex.split(value))
            except ValueError as exc:  # an unclosed quote
                raise UsageError(f"{origin}: {value!r} is not a valid command line ({exc}); fix its quoting") from None
        if isinstance(value, (list, tuple)):
            return tuple(str(v) for v in value)
    elif kind == "str" and isinstance(value, str):
        return value
    elif kind == "path" and isinstance(value, str):
        return Path(value)
    elif kind == "bool" and isinstance(value, bool):
        return value
    elif kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
        if value <= 0:
            raise UsageError(f"{origin}: must be a positive number of seconds")
        return float(value)
    elif kind == "thresholds":
        return parse_thresholds(value, origin)
    elif kind == "passes":
        return parse_passes(value, origin)
    elif kind == "formats":
        return parse_formats(value, origin)
    elif kind == "severity" and isinstance(value, str) and value in SEVERITIES:
        return value
    elif kind == "count" and isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10:
        return value
    elif kind == "engine" and isinstance(value, str) and value.strip().lower() in ("auto", "sample", "cprofile"):
        return value.strip().lower()
    elif kind == "test-runner" and isinstance(value, str) and value.strip().lower() in TEST_RUNNERS:
        return value.strip().lower()
    raise UsageError(f"{origin}: unexpected value {value!r}; see `perfscan --help`")


def load_settings(path: Path, cli: Mapping[str, Any]) -> Settings:
    """Merge the layers. `cli` holds only what the user gave on the command line."""
    root = path
    values: Dict[str, Any] = {}
    origins: Dict[str, str] = {}
    notes: List[str] = []

    setup_path = root / ".codeflash" / "setup.md"
    if setup_path.is_file():
        try:
            text = setup_path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise UsageError(f"cannot read {setup_path}: {exc.strerror}; fix its permissions or remove it") from None
        setup = parse_setup_md(text)
        if not setup and text.strip():
            notes.append(
                ".codeflash/setup.md has no Runner, Test command, Profilers or Project root line; it was ignored"
            )
        runner = setup.get("runner")
        if runner:
            try:
                shlex.split(runner)
            except ValueError:
                # configuration, not code: a runner that does not split is ignored, never run
                notes.append(
                    f".codeflash/setup.md: the runner {runner!r} is not a valid command line and was ignored; "
                    "fix the file or pass --runner"
                )
                runner = None
        if runner:
            values["runner"] = runner
            origins["runner"] = ".codeflash/setup.md"
        command = setup.get("test_command")
        if command:
            values["test_command"] = command
            origins["test_command"] = ".codeflash/setup.md"
            command_runner, command_args, problem, command_test_runner = split_test_command(command)
            if problem:
                notes.append(f".codeflash/setup.md: {problem}")
            if command_test_runner:
                values["test_runner"] = command_test_runner
                origins["test_runner"] = ".codeflash/setup.md (test command)"
            if command_args:
                values["pytest_args"] = command_args
                origins["pytest_args"] = ".codeflash/setup.md (test command)"
            if command_runner and "runner" not in values:
                values["runner"] = command_runner
                origins["runner"] = ".codeflash/setup.md (test command)"

    tool = read_pyproject(root).get("tool", {}).get("perfscan", {})
    if not isinstance(tool, dict):
        raise UsageError("[tool.perfscan] in pyproject.toml must be a table")
    for key, value in tool.items():
        if key not in TOOL_KEYS:
            raise UsageError(f"[tool.perfscan] has an unknown key {key!r}; known keys: {', '.join(sorted(TOOL_KEYS))}")
        name, kind = TOOL_KEYS[key]
        values[name] = _convert(kind, value, f"[tool.perfscan] {key}")
        origins[name] = "pyproject.toml [tool.perfscan]"

    for name, value in cli.items():
        if value is not None:
            values[name] = value
            origins[name] = "command line"

    out = values.get("out")
    if out is not None and not Path(out).is_absolute():
        # a relative --out is relative to where the user stands; from pyproject, to the project
        base = Path.cwd() if origins.get("out") == "command line" else root
        values["out"] = (base / out).resolve()
    return Settings(path=root, origins=origins, notes=tuple(notes), **values)
