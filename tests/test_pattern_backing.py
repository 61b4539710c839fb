"""The measured seconds that back a CPU pattern come from real calls (docs/design.md "The passes",
CPU): each call pattern's test of which callee is its call ("the time in re's functions", "the
time in list.pop") is run against a real profile of real code, not a stub that answers 1.0.

In this process: the functions below run under cProfile, the probe's own serialiser turns the
profile into `cpu.json`'s table, and the CPU pass's host code (records, profile, findings) labels
them. End to end (slow): the same functions in a project scanned with each CPU engine.
"""

from __future__ import annotations

import cProfile
import importlib
import sys
import time
from pathlib import Path
from typing import Dict

import pytest
from conftest import assert_unchanged, load_report, run_perfscan, tree_state, write_project

from perfscan.passes.cpu.findings import findings_of
from perfscan.passes.cpu.profile import build_profile
from perfscan.passes.cpu.records import CpuRun
from perfscan.probe.cpu import _stats_of

WORK = """import copy
import json
import re


def clone_all(records):
    out = []
    for record in records:
        out.append(copy.deepcopy(record))
    return out


def keep_sorted(values):
    acc = []
    for v in values:
        acc.append(v)
        acc.sort()
    return acc


def grep_words(lines, words):
    hits = 0
    for word in words:
        for line in lines:
            if re.search(word + "[0-9]+$", line):
                hits += 1
    return hits


def export_rows(rows):
    parts = []
    for row in rows:
        parts.append(json.dumps(row, sort_keys=True))
    return parts


def drain(items):
    queue = list(items)
    total = 0
    while queue:
        total += queue.pop(0)
    return total


def positions(items, wanted):
    known = list(items)
    out = []
    for w in wanted:
        out.append(known.index(w))
    return out


def settings_value(config):
    return sum(sorted(config))


def scale_all(values, config):
    out = []
    for v in values:
        scaled = v
        for _ in range(40):
            scaled = (scaled * 31 + 7) % 1000003
        out.append(scaled * settings_value(config))
    return out
"""

# function -> the pattern its measured calls back
EXPECTED = {
    "clone_all": "deepcopy",
    "keep_sorted": "sort-in-loop",
    "grep_words": "regex-in-loop",
    "export_rows": "serialize-in-loop",
    "drain": "pop-front",
    "positions": "quadratic-membership",
    "scale_all": "loop-invariant-call",  # settings_value(config): the same arguments on every iteration
}

CALLS = """from app.work import clone_all, drain, export_rows, grep_words, keep_sorted, positions, scale_all


def run_all(n=1):
    for _ in range(n):
        clone_all([{"k": [i, {"v": list(range(8))}]} for i in range(400)])
        keep_sorted([(i * 7919) % 1000 for i in range(2500)])
        grep_words(["line %d" % i for i in range(1500)], ["a", "line ", "b", "c", "d", "e"])
        export_rows([{"id": i, "tags": ["x", "y", "z"], "n": {"a": i}} for i in range(3000)])
        drain(range(12000))
        positions(list(range(3000)), list(range(0, 3000, 3)))
        scale_all(range(3000), list(range(300)))
"""


def project(root: Path) -> Path:
    return write_project(
        root,
        {
            "pyproject.toml": "[project]\nname = 'app'\nversion = '1'\n",
            "app/__init__.py": "",
            "app/work.py": WORK,
            "app/calls.py": CALLS,
            "tests/test_work.py": "from app.calls import run_all\n\n\ndef test_all():\n    run_all(10)\n",
        },
    )


def labels(findings) -> Dict[str, str]:
    return {f.symbol: f.pattern for f in findings if f.symbol in EXPECTED}


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    """The host's CPU findings from a real cProfile run of the functions, in this process."""
    root = project(tmp_path_factory.mktemp("backing") / "proj")
    sys.path.insert(0, str(root))
    try:
        calls = importlib.import_module("app.calls")
        prof = cProfile.Profile()
        start = time.perf_counter()
        prof.enable()
        calls.run_all()
        prof.disable()
        wall = time.perf_counter() - start
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == "app" or m.startswith("app.")]:
            del sys.modules[name]
    raw = {"engine": "cProfile", "phases": {"call": {"wall": wall, "cpu": wall, "stats": _stats_of([prof])}}}
    profile = build_profile(CpuRun.from_json(raw), root, [root])
    return findings_of(profile)


def test_every_call_pattern_is_backed_by_its_measured_calls(profiled):
    assert labels(profiled) == EXPECTED


@pytest.mark.parametrize("symbol", sorted(EXPECTED))
def test_the_backing_is_a_real_share_of_the_function(profiled, symbol):
    (f,) = [f for f in profiled if f.symbol == symbol]
    assert f.pattern == EXPECTED[symbol]
    # the evidence names the line of the call that backs it, inside the function
    assert f.file == "app/work.py" and f.line > f.details["def_line"]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["cprofile", "sample"])
def test_a_scan_labels_each_function_by_its_calls(tmp_path, engine):
    root = project(tmp_path / "proj")
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", "cpu", "--cpu-engine", engine)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = load_report(root)
    assert report["passes"]["cpu"]["data"]["engine_id"] == engine
    got = {f["symbol"]: f["pattern"] for f in report["findings"] if f["symbol"] in EXPECTED}
    assert got == EXPECTED
    assert_unchanged(before, root)
