"""The memory probe's output read into typed records, and the memory section's JSON both ways.

A damaged memory.json (a record missing, a field of the wrong type) must give defaults or a
note in the report, never a traceback; the section's JSON must keep the report's keys and shapes.
"""

from __future__ import annotations

import json
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "src"))
from perfscan.models import PassResult  # noqa: E402
from perfscan.passes.memory.notes import probe_notes, unattributed_note  # noqa: E402
from perfscan.passes.memory.records import Growth, LineRow, MemoryRun, MemrayCapture, ModuleValue, Phase, Repeat  # noqa: E402
from perfscan.passes.memory.section import MemorySection  # noqa: E402
from perfscan.report.markdown import _domain_tables, _memory_table  # noqa: E402

MIB = 1024 * 1024

GOOD_PHASE = {
    "test": "tests/test_a.py::test_a",
    "phase": "call",
    "start": 100,
    "peak": 5 * MIB,
    "end": 200,
    "snapshot": 4 * MIB,
    "snapshots": 2,
    "caught": "return",
    "lines": [["/p/a.py", 3, 2 * MIB, 10]],
    "rest": 0,
    "tests": 1000,
    "libs": 2000,
    "lib_files": [["/lib/x.py", 2000]],
}


# -- records ------------------------------------------------------------------------------------


def test_a_well_formed_phase_reads_every_field():
    p = Phase.from_json(GOOD_PHASE)
    assert (p.test, p.phase, p.start, p.peak, p.snapshot, p.snapshots) == (
        "tests/test_a.py::test_a",
        "call",
        100,
        5 * MIB,
        4 * MIB,
        2,
    )
    assert p.lines == (LineRow("/p/a.py", 3, 2 * MIB, 10),)
    assert (p.tests, p.libs, p.unattributed, p.note, p.dropped) == (1000, 2000, 3000, "", 0)


def test_a_phase_with_missing_keys_takes_defaults():
    p = Phase.from_json({})
    assert p == Phase(test="", phase="call")
    assert p.lines == () and p.peak == 0 and p.dropped == 0


def test_a_phase_with_wrong_types_takes_defaults_and_counts_bad_lines():
    p = Phase.from_json(
        {
            "test": None,
            "phase": 3,
            "peak": "lots",
            "snapshot": [1],
            "libs": None,
            "note": 0,
            "lines": [["/p/a.py", "x", 1, 1], ["/p/a.py", 4], "row", None, ["/p/a.py", 5, 7, 1]],
        }
    )
    assert (p.test, p.phase, p.peak, p.snapshot, p.libs, p.note) == ("", "3", 0, 0, 0, "")
    assert p.lines == (LineRow("/p/a.py", 5, 7, 1),)
    assert p.dropped == 4


def test_lines_that_are_not_a_list_are_no_lines():
    assert Phase.from_json({"lines": {"a": 1}}).lines == ()
    assert Phase.from_json({"lines": "abc"}).dropped == 0


def test_module_values_and_growth_default_or_drop():
    v = ModuleValue.from_json({"name": "TABLE", "bytes": "2"})
    assert (v.module, v.name, v.file, v.type, v.bytes, v.truncated) == ("", "TABLE", "", None, 2, False)
    assert ModuleValue.from_json({"bytes": float("inf")}).bytes == 0
    g = Growth.from_json({"module": "m", "name": "N", "sizes": [1, 2.0, 3]})
    assert g.sizes == (1, 2, 3) and g.file is None
    assert Growth.from_json({"sizes": None}).sizes == ()
    for bad in ({"sizes": ["x"]}, {"sizes": "123"}, {"sizes": [float("nan")]}, ["not", "an", "object"], None):
        try:
            Growth.from_json(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was read as growth")


def test_a_damaged_memory_json_reads_with_a_note_not_a_traceback():
    raw = {
        "python": 3.11,
        "frames": "1",
        "hook": None,
        "phases": [GOOD_PHASE, "not a phase", None, dict(GOOD_PHASE, lines=[["/p/a.py"]])],
        "import": [{"name": "T", "file": "a.py", "bytes": MIB}, 7],
        "growth": [{"name": "G", "sizes": [0, MIB, 2 * MIB]}, {"name": "H", "sizes": "big"}],
        "repeat": {"done": "two", "failures": None, "seconds": "x"},
        "overhead": ["not", "a", "dict"],
        "errors": "one error",
    }
    run = MemoryRun.from_json(raw)
    assert (run.python, run.frames, run.hook) == ("3.11", 1, None)
    assert (
        len(run.phases) == 2 and [v.name for v in run.import_values] == ["T"] and [g.name for g in run.growth] == ["G"]
    )
    assert run.repeat == Repeat(0, 0, 0.0) and run.overhead == {} and run.errors == ()
    assert run.dropped == 2 + 1 + 1 + 1  # two phases, one value, one growth record, one line row
    assert probe_notes(run) == ["probe: 5 record(s) of its memory data could not be read and are left out"]


def test_memory_json_of_the_wrong_shape_reads_as_empty():
    for raw in (None, [], "text", 3, {}):
        run = MemoryRun.from_json(raw)
        assert run == MemoryRun() and probe_notes(run) == []


def test_probe_errors_become_notes():
    run = MemoryRun.from_json({"errors": ["deep run: cannot read x", 5]})
    assert probe_notes(run) == ["probe: deep run: cannot read x", "probe: 5"]


def test_memray_capture_keeps_readable_records_and_frames():
    cap = MemrayCapture.from_json(
        {
            "peak": "9",
            "native": 1,
            "records": [
                [4096, 2, [["/p/a.py", 3, "f"], ["/lib/x.so", "?", "g"], "junk", ["short"]]],
                ["big", 1, []],
                [10],
                None,
            ],
        }
    )
    assert (cap.peak, cap.native, cap.dropped) == (9, True, 3)
    [rec] = cap.records
    assert rec.size == 4096 and rec.frames == (("/p/a.py", 3), ("/lib/x.so", None))
    assert MemrayCapture.from_json(None) == MemrayCapture()


# -- the section --------------------------------------------------------------------------------

# today's shape of passes.memory.data in scan-report.json (a server scan with memray beside)
SECTION = {
    "tool": "tracemalloc + memray",
    "python": "3.11.7",
    "top": [
        {
            "function": "orders.app:list_orders",
            "file": "orders/app.py",
            "line": 16,
            "mib": 1.6,
            "count": 162,
            "category": "data structure",
            "reducibility": "low",
            "test": "tests/test_app.py::test_orders_endpoint",
            "phase": "call",
        },
        {
            "function": "orders.store:<module>",
            "file": "orders/store.py",
            "line": 3,
            "mib": 0.8,
            "count": 11948,
            "category": "cache",
            "reducibility": "medium",
            "test": "tests/test_app.py::test_not_found",
            "phase": "import",
        },
    ],
    "peak_mib_by_test": {"tests/test_app.py::test_orders_endpoint": 34.4, "tests/test_app.py::test_not_found": 34.5},
    "unattributed_mib": 31.8,
    "growth": [
        {
            "name": "orders.app._AUDIT",
            "file": "orders/app.py",
            "sizes_mib": [32.22, 64.45, 96.67],
            "entries": [10, 20, 30],
            "estimated": False,
        }
    ],
    "overhead": {
        "loop_seconds": 4.54,
        "snapshot_seconds": 0.8,
        "snapshots": 32,
        "census_seconds": 0.69,
        "skipped": 0,
        "frames": 1,
        "hook": "setprofile",
        "run_seconds": 6.91,
        "deep_run": {
            "phases": 1,
            "attributed_mib": 4.7,
            "seconds": 3.3,
            "overhead": {"loop_seconds": 2.76, "snapshots": 1},
            "stopped": False,
        },
    },
    "memray": {
        "peak_mib": 120.5,
        "native": True,
        "seconds": 12.25,
        "unattributed_mib": 80.1,
        "top": [{"function": "orders.app:list_orders", "file": "orders/app.py", "line": 16, "mib": 30.2}],
    },
}


def test_section_json_round_trips_with_the_same_keys_in_the_same_order():
    section = MemorySection.from_json(json.loads(json.dumps(SECTION)))
    out = section.to_json()
    assert out == SECTION
    assert json.dumps(out) == json.dumps(SECTION)  # key order too: the report's JSON does not move
    assert MemorySection.from_json(out) == section
    assert section.top[0].function == "orders.app:list_orders" and section.memray is not None
    assert section.memray.top[0].mib == 30.2


def test_section_without_memray_has_no_memray_key():
    raw = {k: v for k, v in SECTION.items() if k != "memray"}
    out = MemorySection.from_json(raw).to_json()
    assert "memray" not in out and out == raw


def test_a_pass_that_measured_nothing_names_its_tool_alone():
    section = MemorySection("tracemalloc", measured=False)
    assert section.to_json() == {"tool": "tracemalloc"}
    assert MemorySection.from_json({"tool": "tracemalloc"}) == section


def test_a_damaged_section_reads_with_defaults():
    section = MemorySection.from_json(
        {
            "top": [1, {"mib": "x", "line": None}],
            "peak_mib_by_test": [1, 2],
            "growth": "none",
            "overhead": None,
            "memray": [],
            "unattributed_mib": "?",
        }
    )
    assert section.tool == "" and section.measured
    [row] = section.top
    assert (row.function, row.file, row.line, row.mib, row.count) == ("", "", 0, 0.0, 0)
    assert section.peak_mib_by_test == () and section.growth == () and section.overhead == {}
    assert section.memray is None and section.unattributed_mib == 0.0
    assert MemorySection.from_json(None) == MemorySection("", measured=False)


def test_markdown_memory_table_reads_the_section_or_its_json():
    typed = _memory_table(MemorySection.from_json(SECTION))
    assert typed == _memory_table(SECTION)
    assert "| orders.app:list_orders | orders/app.py:16 | 1.6 | 162 | data structure | low |" in typed
    assert "| orders.store:<module> | orders/store.py:3 | 0.8 | 11948 | cache | medium |" in typed
    assert _domain_tables("memory", PassResult("memory", "ok", 1.0, data=MemorySection.from_json(SECTION))) == typed
    assert _memory_table(MemorySection("tracemalloc", measured=False)) == []
    assert _memory_table({}) == []


def test_memray_summary_sums_stacks_by_their_innermost_project_function(tmp_path):
    from perfscan.locate import Locator
    from perfscan.passes.memory.memray import memray_note, memray_summary

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "work.py").write_text("def build(n):\n    return [bytes(100) for _ in range(n)]\n")
    work = str(tmp_path / "pkg" / "work.py")
    cap = MemrayCapture.from_json(
        {
            "peak": 50 * MIB,
            "native": True,
            "records": [
                [3 * MIB, 1, [["/usr/lib/libc.so", None, "malloc"], [work, 2, "<listcomp>"], [work, 1, "build"]]],
                [MIB, 1, [[work, 2, "build"]]],
                [5 * MIB, 1, [["/usr/lib/python3/json/decoder.py", 10, "decode"]]],
                [MIB // 20, 1, [[work, 0, "<module>"]]],
            ],
        }
    )
    summary = memray_summary(cap, 1.5, Locator(tmp_path, [tmp_path]))
    assert (summary.peak_mib, summary.native, summary.seconds, summary.unattributed_mib) == (50.0, True, 1.5, 5.0)
    assert [(r.function, r.file, r.line, r.mib) for r in summary.top] == [("pkg.work:build", "pkg/work.py", 2, 4.0)]
    assert memray_note(summary).startswith("memray --native measured the whole run's heap")
    assert "project code held pkg.work:build 4.0 MiB" in memray_note(summary)


def test_the_unattributed_note_names_the_test_runners_bytes_apart():
    phase = Phase("t::many", snapshots=1, tests=MIB // 2, libs=MIB, imports=0, runner=2 * MIB, libs_new=MIB)
    runner = Phase.from_json({"test": "t::many", "snapshots": 1, "runner": 2 * MIB})
    assert runner.runner == 2 * MIB and runner.unattributed == 2 * MIB
    [note] = unattributed_note([phase])
    assert "up to 3.5 MiB at one test's peak (t::many: 0.5 MiB by test code, 1.0 MiB in libraries" in note
    assert note.endswith(", 2.0 MiB by the test runner: its reports of the tests so far and its bookkeeping)")
