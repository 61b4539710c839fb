"""The icicle chart's tree in the CPU section of scan-report.json (`passes.cpu.data.flame`), from a
real scan of a small project: the planted hot function hangs under its test, the harness (pytest,
pluggy, the probe and the project's own pytest plugin) is never a root, and the chart names
functions as the findings do."""

from __future__ import annotations

import sys
from typing import Iterator, List

import pytest
from conftest import REPO, SLOW_UNIQUE, assert_unchanged, load_report, run_perfscan, tree_state, write_project

sys.path.insert(0, str(REPO / "src"))
from perfscan.passes.cpu.section import CpuSection  # noqa: E402

PROJECT = {
    "pyproject.toml": "[project]\nname = 'host'\nversion = '1'\n\n[project.entry-points.pytest11]\nhost = 'host.plugin'\n",
    "host/__init__.py": "",
    "host/work.py": SLOW_UNIQUE + "\n\ndef helper(n):\n    return slow_unique(list(range(n)) * 2)\n",
    # the project's own pytest plugin: it runs the tests (an autouse fixture), it is not the product
    "host/plugin.py": (
        "import pytest\n\n\ndef warm(n):\n    return sum(i * i for i in range(n))\n\n\n"
        "@pytest.fixture(autouse=True)\ndef warm_up():\n    yield warm(300000)\n"
    ),
    "conftest.py": "pytest_plugins = ['host.plugin']\n",
    "tests/test_work.py": (
        "from host.work import helper\n\n\ndef test_hot():\n    assert len(helper(2500)) == 2500\n\n\n"
        "def test_small():\n    assert helper(10)\n"
    ),
}
FLAME_KEYS = {"n", "q", "k", "t", "f", "c"}


def nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in node["c"]:
        yield from nodes(child)


def path_to(node: dict, qualname: str) -> List[dict]:
    if node["q"] == qualname:
        return [node]
    for child in node["c"]:
        found = path_to(child, qualname)
        if found:
            return [node] + found
    return []


@pytest.mark.parametrize("engine", ["sample", "cprofile"])
def test_flame_tree_in_the_cpu_section(tmp_path, engine):
    root = write_project(tmp_path / "p", PROJECT)
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", "cpu", "--cpu-engine", engine)
    assert proc.returncode == 0, proc.stderr
    assert_unchanged(before, root, allowed=(".codeflash",))
    report = load_report(root)
    data = report["passes"]["cpu"]["data"]
    # `calls` (every counted function's exact calls); `primitive_calls` only where recursion made them differ
    assert set(data) - {"primitive_calls"} == {
        "engine",
        "engine_id",
        "engine_asked",
        "wall_seconds",
        "phase_seconds",
        "threads",
        "counting_seconds",
        "functions_seen",
        "top",
        "functions",
        "flame",
        "waiting",
        "wait_seconds",
        "harness_wait_seconds",
        "waits",
        "wait_sites",
        "flame_wall",
        "calls",
    }  # `ran` and `waited_lines` stay out
    # the sampling engine measures waiting, and its wall chart has the CPU chart's shape
    assert bool(data["waiting"]) == (engine == "sample") and (data["flame_wall"] is not None) == (engine == "sample")
    flame = data["flame"]
    assert all(set(n) == FLAME_KEYS for n in nodes(flame))
    assert (flame["n"], flame["k"]) == ("all profiled code", "root") and flame["t"] > 0
    roots = flame["c"]
    # the harness is left out: its callees are the roots
    for r in roots:
        assert r["k"] != "harness" and not r["q"].startswith(("_pytest", "pluggy", "perfscan_probe")), r["q"]
    # the project's own pytest plugin is harness for the chart as for the findings: never a bar
    assert not [n["q"] for n in nodes(flame) if n["q"].startswith("host.plugin:")]
    assert not [f for f in report["findings"] if f["module"] == "host.plugin"]
    # the planted hotspot hangs under the test that runs it, named and placed as its finding
    test_root = next(r for r in roots if r["q"] == "tests.test_work:test_hot")
    assert test_root["k"] == "test" and test_root["f"] == "tests/test_work.py:4"
    chain = path_to(test_root, "host.work:slow_unique")
    assert [n["q"] for n in chain] == ["tests.test_work:test_hot", "host.work:helper", "host.work:slow_unique"], chain
    hot = chain[-1]
    assert (hot["n"], hot["k"], hot["f"]) == ("slow_unique", "project", "host/work.py:1")
    assert hot["t"] > 0.5 * test_root["t"]
    finding = next(f for f in report["findings"] if f["symbol"] == "slow_unique")
    assert finding["qualname"] == hot["q"]
    # the section reads back from the report as it was written
    assert CpuSection.from_json(data).to_json() == data
