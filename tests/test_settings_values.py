"""Every [tool.perfscan] key: the value it becomes, the values it refuses (one line each, exit 2),
and where each setting says it came from (docs/design.md "Settings")."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import write_project

from perfscan.errors import UsageError
from perfscan.models import Thresholds
from perfscan.settings import TOOL_KEYS, load_settings, parse_formats, parse_passes, parse_thresholds


def settings_from(tmp_path, tool: str, cli=None, files=None):
    write_project(tmp_path, dict({"pyproject.toml": f"[tool.perfscan]\n{tool}\n"}, **(files or {})))
    return load_settings(tmp_path, cli or {})


@pytest.mark.parametrize(
    "line, field, value",
    [
        ('test = "tests/a.py::t"', "tests", ("tests/a.py::t",)),
        ('tests = ["a", "b"]', "tests", ("a", "b")),
        ('runner = "uv run"', "runner", "uv run"),
        ('passes = "cpu, Import"', "passes", ("cpu", "import")),
        ("passes = ['async']", "passes", ("async",)),
        ("startup = true", "startup", True),
        ("startup = false", "startup", False),
        ("budget = 30", "budget", 30.0),
        ("budget = 2.5", "budget", 2.5),
        ("quiet = true", "quiet", True),
        ("pytest-args = \"-k 'not slow' -x\"", "pytest_args", ("-k", "not slow", "-x")),
        ('fail-on = "low"', "fail_on", "low"),
        ('format = "SARIF,md"', "formats", ("sarif",)),
        ("formats = ['html', 'json', 'markdown']", "formats", ("html",)),
        ("blocking-calls = ['mydb.query']", "blocking_calls", ("mydb.query",)),
        ("exclude = ['vendor/*']", "exclude", ("vendor/*",)),
        ('cpu-engine = " Sample "', "cpu_engine", "sample"),
        ('cpu-engine = "cprofile"', "cpu_engine", "cprofile"),
        ('cpu-engine = "auto"', "cpu_engine", "auto"),
        ("memory-repeat = 0", "memory_repeat", 0),
        ("memory-repeat = 10", "memory_repeat", 10),
    ],
)
def test_each_key_becomes_its_setting(tmp_path, line, field, value):
    s = settings_from(tmp_path, line)
    assert getattr(s, field) == value
    assert type(getattr(s, field)) is type(value)
    assert s.origins[field] == "pyproject.toml [tool.perfscan]"


def test_out_from_pyproject_is_relative_to_the_project(tmp_path):
    s = settings_from(tmp_path, 'out = "reports"')
    assert s.out == (tmp_path / "reports").resolve()
    s = settings_from(tmp_path, f'out = "{tmp_path / "abs"}"')
    assert s.out == tmp_path / "abs"


def test_out_from_the_command_line_is_relative_to_where_the_user_stands(tmp_path, monkeypatch):
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    s = settings_from(tmp_path / "proj", 'out = "ignored"', cli={"out": Path("mine")})
    assert s.out == (tmp_path / "here" / "mine").resolve() and s.origins["out"] == "command line"


@pytest.mark.parametrize(
    "line, message",
    [
        ("startup = 1", "[tool.perfscan] startup: unexpected value 1; see `perfscan --help`"),
        ('quiet = "yes"', "[tool.perfscan] quiet: unexpected value 'yes'"),
        ("budget = 0", "[tool.perfscan] budget: must be a positive number of seconds"),
        ("budget = -1.5", "[tool.perfscan] budget: must be a positive number of seconds"),
        ("budget = true", "[tool.perfscan] budget: unexpected value True"),
        ('budget = "60"', "[tool.perfscan] budget: unexpected value '60'"),
        ("runner = 3", "[tool.perfscan] runner: unexpected value 3"),
        ("out = 3", "[tool.perfscan] out: unexpected value 3"),
        ("tests = 3", "[tool.perfscan] tests: unexpected value 3"),
        ('pytest-args = "-k \'open"', '[tool.perfscan] pytest-args: "-k \'open" is not a valid command line'),
        ('fail-on = "severe"', "[tool.perfscan] fail-on: unexpected value 'severe'"),
        ("fail-on = 1", "[tool.perfscan] fail-on: unexpected value 1"),
        ('cpu-engine = "fast"', "[tool.perfscan] cpu-engine: unexpected value 'fast'"),
        ("cpu-engine = 1", "[tool.perfscan] cpu-engine: unexpected value 1"),
        ("memory-repeat = 11", "[tool.perfscan] memory-repeat: unexpected value 11"),
        ("memory-repeat = -1", "[tool.perfscan] memory-repeat: unexpected value -1"),
        ("memory-repeat = true", "[tool.perfscan] memory-repeat: unexpected value True"),
        ("memory-repeat = 2.0", "[tool.perfscan] memory-repeat: unexpected value 2.0"),
        ('passes = "gpu"', "[tool.perfscan] passes: unknown pass gpu; choose from cpu,memory,import,async"),
        ('passes = ""', "[tool.perfscan] passes: unknown pass (none); choose from cpu,memory,import,async"),
        ('format = "pdf"', "[tool.perfscan] format: unknown format pdf; choose from sarif,html"),
        ("speed = 1", "[tool.perfscan] has an unknown key 'speed'; known keys: " + ", ".join(sorted(TOOL_KEYS))),
        ("thresholds = 3", "[tool.perfscan] thresholds must be a table such as { cpu = { high = 10 } }"),
    ],
)
def test_a_value_the_key_does_not_take_is_one_line(tmp_path, line, message):
    with pytest.raises(UsageError) as info:
        settings_from(tmp_path, line)
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


def test_tool_perfscan_must_be_a_table(tmp_path):
    write_project(tmp_path, {"pyproject.toml": '[tool]\nperfscan = "fast"\n'})
    with pytest.raises(UsageError, match=r"^\[tool.perfscan\] in pyproject.toml must be a table$"):
        load_settings(tmp_path, {})


def test_an_unreadable_pyproject_is_one_line(tmp_path):
    write_project(tmp_path, {"pyproject.toml": "x = 1\n"})
    os.chmod(tmp_path / "pyproject.toml", 0)
    try:
        if os.access(tmp_path / "pyproject.toml", os.R_OK):
            pytest.skip("running as a user who reads any file")
        with pytest.raises(UsageError, match=r"cannot read .*pyproject.toml: Permission denied$"):
            load_settings(tmp_path, {})
    finally:
        os.chmod(tmp_path / "pyproject.toml", 0o644)


@pytest.mark.parametrize(
    "table, message",
    [
        (
            {"gpu": {"high": 1}},
            "t: unknown domain 'gpu'; choose from cpu, memory, import (async severities are rules, not numbers)",
        ),
        ({"cpu": 3}, "t.cpu must be a table such as { high = 10 }"),
        ({"cpu": {"low": 1}}, "t.cpu: unknown level 'low'; choose from critical, high, medium"),
        ({"cpu": {"high": 0}}, "t.cpu.high: 0 is not a positive number"),
        ({"cpu": {"high": True}}, "t.cpu.high: True is not a positive number"),
        ({"cpu": {"high": "5"}}, "t.cpu.high: '5' is not a positive number"),
        ({"cpu": {"high": 30}}, "t.cpu: critical (20) must be above high (30)"),
        ({"import": {"low": 100}}, "t.import: medium (100) must be above low (100)"),
    ],
)
def test_thresholds_that_are_not_a_ladder_are_refused(table, message):
    with pytest.raises(UsageError) as info:
        parse_thresholds(table, "t")
    assert str(info.value) == message


def test_thresholds_merge_and_keep_the_order_of_levels():
    t = parse_thresholds({"memory": {"critical": 500, "medium": 2.5}}, "t")
    assert isinstance(t, Thresholds)
    assert t.levels("memory") == ((500.0, "critical"), (10.0, "high"), (2.5, "medium"))
    assert t.levels("cpu") == ((20.0, "critical"), (5.0, "high"), (2.0, "medium"))
    assert parse_thresholds({}, "t") == Thresholds()


def test_passes_and_formats_parse_lists_and_strings():
    assert parse_passes(["CPU", " memory ", "cpu", ""], "o") == ("cpu", "memory")
    assert parse_passes("import,async", "o") == ("import", "async")
    assert parse_formats(["Markdown", "sarif", "SARIF"], "o") == ("sarif",)
    assert parse_formats("", "o") == ()


SETUP = "- Runner: `{runner}`\n- Test command: `{command}`\n"


def test_setup_md_layers_and_their_origins(tmp_path):
    files = {".codeflash/setup.md": SETUP.format(runner="uv run", command="$RUNNER -m pytest -q tests/unit")}
    s = settings_from(tmp_path, "", files=files)
    assert (s.runner, s.origins["runner"]) == ("uv run", ".codeflash/setup.md")
    assert (s.test_command, s.origins["test_command"]) == ("$RUNNER -m pytest -q tests/unit", ".codeflash/setup.md")
    assert (s.pytest_args, s.origins["pytest_args"]) == (("-q", "tests/unit"), ".codeflash/setup.md (test command)")
    assert s.notes == ()


def test_setup_md_runner_from_the_test_command_when_no_runner_line(tmp_path):
    files = {".codeflash/setup.md": "- Test command: `poetry run pytest -x`\n"}
    s = settings_from(tmp_path, "", files=files)
    assert (s.runner, s.origins["runner"]) == ("poetry run", ".codeflash/setup.md (test command)")
    assert s.pytest_args == ("-x",)


def test_setup_md_runner_line_beats_the_test_commands(tmp_path):
    files = {".codeflash/setup.md": SETUP.format(runner=".venv/bin/python", command="poetry run pytest")}
    s = settings_from(tmp_path, "", files=files)
    assert (s.runner, s.origins["runner"]) == (".venv/bin/python", ".codeflash/setup.md")


def test_a_setup_md_with_nothing_perfscan_reads_is_noted(tmp_path):
    s = settings_from(tmp_path, "", files={".codeflash/setup.md": "# Notes\nsome prose\n"})
    assert s.notes == (
        ".codeflash/setup.md has no Runner, Test command, Profilers or Project root line; it was ignored",
    )
    s = settings_from(tmp_path / "blank", "", files={".codeflash/setup.md": "\n \n"})
    assert s.notes == ()


def test_a_setup_md_runner_that_does_not_split_is_ignored_with_a_note(tmp_path):
    s = settings_from(tmp_path, "", files={".codeflash/setup.md": "- Runner: `uv run 'x`\n"})
    assert s.runner is None and "runner" not in s.origins
    assert s.notes == (
        '.codeflash/setup.md: the runner "uv run \'x" is not a valid command line and was ignored; '
        "fix the file or pass --runner",
    )


def test_a_setup_md_that_cannot_be_read_is_one_line(tmp_path):
    write_project(tmp_path, {".codeflash/setup.md": "- Runner: `uv run`\n"})
    os.chmod(tmp_path / ".codeflash" / "setup.md", 0)
    try:
        if os.access(tmp_path / ".codeflash" / "setup.md", os.R_OK):
            pytest.skip("running as a user who reads any file")
        with pytest.raises(UsageError, match="fix its permissions or remove it$"):
            load_settings(tmp_path, {})
    finally:
        os.chmod(tmp_path / ".codeflash" / "setup.md", 0o644)


def test_undecodable_setup_md_is_read_with_replacement(tmp_path):
    write_project(tmp_path, {})
    (tmp_path / ".codeflash").mkdir()
    (tmp_path / ".codeflash" / "setup.md").write_bytes(b"- Runner: `uv run`\n\xff\xfe\n")
    assert load_settings(tmp_path, {}).runner == "uv run"


def test_the_command_line_beats_pyproject_and_none_is_not_a_value(tmp_path):
    s = settings_from(tmp_path, 'runner = "uv run"\nbudget = 30', cli={"runner": "py", "budget": None})
    assert (s.runner, s.origins["runner"]) == ("py", "command line")
    assert (s.budget, s.origins["budget"]) == (30.0, "pyproject.toml [tool.perfscan]")


def test_small_positive_numbers_are_numbers_and_every_bad_name_is_named(tmp_path):
    assert settings_from(tmp_path, "budget = 0.5").budget == 0.5
    assert parse_thresholds({"memory": {"medium": 0.5}}, "t").levels("memory")[-1] == (0.5, "medium")
    with pytest.raises(UsageError, match=r"^o: unknown pass gpu, tpu; "):
        parse_passes("cpu,gpu,tpu", "o")
    with pytest.raises(UsageError, match=r"^o: unknown format pdf, doc; "):
        parse_formats("pdf,doc", "o")
