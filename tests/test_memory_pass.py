"""The memory pass: what is alive at each test's peak, per project function; per-request growth.

- Unit: the probe's summary of raw traces (innermost project frame; tests and libraries apart),
  the deep size of what a value holds, the host's grouping (comprehension lines folded into their
  def, a group kept at the peak where it held the most), the category of an allocating line, the
  definition line of a module-level name, the growth rule.
- End to end on copies of the corpus (bench/corpus): cli_logstats' sliding_windows (a temporary
  freed before the test ends), lib_mesh's distance_matrix, srv_inventory's per-request growth of
  `_RECENT_EXPORTS` (deployment detected as a server), clean_ledger with no finding above 10 MiB.
  No finding points outside the project, and the project tree is unchanged but for .codeflash/.
- Bad input: a failing test still yields the memory it used; a run cut by its timeout reports
  what was measured; a heap too big to snapshot is skipped, not copied; library allocations are
  attributed by the 25-frame run; the probe runs under every Python 3.9-3.13 on the machine.
"""

from __future__ import annotations

import ast
import atexit
import io
import os
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from conftest import CORPUS, REPO, assert_unchanged, copy_project, tree_state, write_project

sys.path.insert(0, str(REPO / "src"))
from perfscan.deployment import detect_deployment  # noqa: E402
from perfscan.locate import Locator  # noqa: E402
from perfscan.models import (
    Driver,  # noqa: E402
    Target,  # noqa: E402
)
from perfscan.passes import PassContext  # noqa: E402
from perfscan.passes.memory import (  # noqa: E402
    MIB,
    categorize,
    definition_line,
    group_phase_lines,
    growth_findings,
    merge_peaks,
    run_memory_pass,
)
from perfscan.passes.memory.records import Growth, LineRow, Phase  # noqa: E402
from perfscan.probe_host import install_probe, run_probe  # noqa: E402
from perfscan.project import discover_project  # noqa: E402
from perfscan.settings import load_settings  # noqa: E402

_PROBE_HOME = tempfile.mkdtemp(prefix="perfscan-test-probe-")
atexit.register(shutil.rmtree, _PROBE_HOME, True)
_PROBE_DIR = install_probe(Path(_PROBE_HOME))
sys.path.insert(0, str(_PROBE_DIR))
from perfscan_probe import memory as probe_memory  # noqa: E402


def make_ctx(root: Path, runner: str = sys.executable, timeout: float = 240.0) -> PassContext:
    settings = load_settings(root, {"runner": runner})
    project = discover_project(settings, dict(os.environ))
    dep = detect_deployment(project)
    workdir = Path(tempfile.mkdtemp(prefix="perfscan-work-", dir=root.parent))  # removed with pytest's tmp_path
    probe = install_probe(workdir)
    return PassContext(settings, project, dep, Target((), (), "all", 0), workdir, probe, root / ".codeflash", timeout)


def run_pass(root: Path, **kw):
    before = tree_state(root)
    ctx = make_ctx(root, **kw)
    result = run_memory_pass(ctx)
    assert_unchanged(before, root, allowed=(".codeflash",))
    for f in result.findings:
        assert f.domain == "memory"
        assert f.file and not f.file.startswith(("/", "..", "<")) and "\\" not in f.file, f.file
        assert not f.file.startswith("tests/") and "site-packages" not in f.file, f.file
        assert (root / f.file).is_file()
    return ctx, result


def by_symbol(result, symbol):
    return [f for f in result.findings if f.symbol == symbol]


# -- the probe's summary of traces -------------------------------------------------------------


def test_summarize_attributes_to_innermost_project_frame(tmp_path):
    root = write_project(tmp_path, {"pkg/mod.py": "x = 1\n", "tests/test_x.py": "", "pkg/conftest.py": ""})
    cl = probe_memory.Classifier(str(root))
    mod, test, lib = str(root / "pkg" / "mod.py"), str(root / "tests" / "test_x.py"), "/usr/lib/python3/json/decoder.py"
    tb_direct = ((mod, 10),)
    tb_via_lib = ((lib, 5), (mod, 12), (test, 3))
    tb_test = ((test, 4),)
    tb_lib = ((lib, 7),)
    traces = [
        (0, 1000, tb_direct, 1),
        (0, 500, tb_direct, 1),
        (0, 300, tb_via_lib, 3),
        (0, 40, tb_test, 1),
        (0, 7, tb_lib, 1),
        (0, 3, ((str(root / "pkg" / "conftest.py"), 1),), 1),
    ]
    s = probe_memory.summarize(traces, cl)
    assert [mod, 10, 1500, 2] in s["lines"] and [mod, 12, 300, 1] in s["lines"]
    assert s["tests"] == 43 and s["libs"] == 7
    assert s["lib_files"] == [[lib, 7]]
    deep = probe_memory.summarize(traces, cl, deep=True)
    assert deep["lines"] == [[mod, 12, 300, 1]]  # only what a 1-frame run saw in library frames


def test_imports_are_not_library_bytes_and_the_probes_own_bytes_are_left_out(tmp_path):
    root = write_project(tmp_path, {"pkg/mod.py": "x = 1\n"})
    cl = probe_memory.Classifier(str(root))
    lib = "/usr/lib/python3/json/decoder.py"
    probe_file = os.path.join(os.path.dirname(probe_memory.__file__), "session.py")
    traces = [
        (0, 700, (("<frozen importlib._bootstrap_external>", 729), (lib, 3)), 2),
        (0, 50, (("/usr/lib/python3.11/importlib/_bootstrap.py", 241),), 1),
        (0, 90, ((probe_file, 88),), 1),
        (0, 7, ((lib, 7),), 1),
    ]
    s = probe_memory.summarize(traces, cl)
    assert (s["imports"], s["libs"], s["tests"]) == (750, 7, 0)
    assert s["lib_files"] == [[lib, 7]]
    assert s["by_lib_file"] == {lib: 7}
    # the test runner's reports and bookkeeping are the runner's: no deeper trace leads to the project
    site = "/venv/lib/python3.11/site-packages"
    runner = [
        (0, 400, ((site + "/_pytest/reports.py", 345),), 1),
        (0, 30, ((site + "/pluggy/_callers.py", 77),), 1),
        (0, 20, (("/usr/lib/python3.11/unittest/case.py", 678),), 1),
        (0, 5, (("/usr/lib/python3.11/unittest/mock.py", 1100),), 1),  # a test's mock: a library's
        (0, 2, (("/srv/pluggy/.venv/lib/python3.11/site-packages/requests/models.py", 3),), 1),  # a checkout's venv
    ]
    s = probe_memory.summarize(traces + runner, cl)
    assert (s["runner"], s["libs"], s["imports"]) == (450, 14, 750)
    assert probe_memory.summarize(runner, cl, deep=True)["lines"] == []
    # a deeper trace is asked for library bytes only: an import leads to an import statement
    assert probe_memory.summarize(traces, cl, deep=True)["lines"] == []
    # at more frames: a library called by test code is the test's, library code run by an import
    # (a module's top level) the import's, even with a project frame further out
    mod, test = str(root / "pkg" / "mod.py"), str(root / "tests" / "test_x.py")
    deeper = [
        (0, 300, ((lib, 1), (test, 9), (mod, 4)), 1),
        (0, 200, (("/usr/lib/python3/email/errors.py", 12), ("<frozen importlib._bootstrap>", 241), (mod, 2)), 1),
        (0, 100, ((lib, 2), (mod, 6), (test, 3)), 1),
        (0, 50, ((lib, 3), ("<frozen importlib._bootstrap>", 241), (test, 5)), 1),  # a test's import
    ]
    s = probe_memory.summarize(deeper, cl, deep=True)
    assert (s["tests"], s["imports"], s["libs"]) == (300, 250, 0)
    assert s["lines"] == [[mod, 6, 100, 1]]


def test_classifier_kinds(tmp_path):
    cl = probe_memory.Classifier(str(tmp_path), ["pkg/gen/*"])
    assert cl.kind(str(tmp_path / "pkg" / "a.py")) == "p"
    assert cl.kind(str(tmp_path / "tests" / "helpers.py")) == "t"
    assert cl.kind(str(tmp_path / "pkg" / "test_a.py")) == "t"
    assert cl.kind(str(tmp_path / ".venv" / "lib" / "site-packages" / "x.py")) == "l"
    assert cl.kind(str(tmp_path / "pkg" / "gen" / "big.py")) == "l"
    assert cl.kind("/usr/lib/python3.11/json/__init__.py") == "l"
    assert cl.kind("<frozen importlib._bootstrap>") == "l"


def test_deep_size_counts_what_a_container_holds():
    payload = [io.BytesIO(b"x" * 200_000) for _ in range(5)]
    holder = [{"environ": {"wsgi.input": b}} for b in payload]
    size, nodes, truncated = probe_memory.deep_size(holder)
    assert 5 * 200_000 <= size < 5 * 200_000 * 1.5  # the buffers once, not twice
    assert not truncated
    size, nodes, truncated = probe_memory.deep_size(list(range(1000)), cap=100)
    assert truncated and nodes == 100
    _size, nodes, _t = probe_memory.deep_size({"f": test_classifier_kinds, "m": os})
    assert nodes == 3  # the dict and its two keys: never into a function's globals or a module


# -- the host's grouping and categories --------------------------------------------------------

SOURCE = textwrap.dedent("""\
    import functools
    import json


    def snapshots(words, every=10):
        snaps = []
        for end in range(every, len(words) + 1, every):
            snaps.append(words[:end])
        return snaps


    def matrix(n):
        m = [[0.0] * n for _ in range(n)]
        return m


    def parse(text):
        return json.loads(text)


    def slurp(fh):
        data = fh.read()
        return data


    @functools.lru_cache(maxsize=None)
    def cached(x):
        return [x] * 1000


    def concat(parts):
        s = ""
        for p in parts:
            s = s + p
        return s


    def plain(n):
        return [i for i in range(n)]


    TABLE = {i: str(i) for i in range(10)}


    class Store:
        items = []

        def add(self, x):
            self.items.append(x)
    """)


@pytest.fixture
def src_tree(tmp_path):
    root = write_project(tmp_path, {"pkg/__init__.py": "", "pkg/mod.py": SOURCE})
    return root, ast.parse(SOURCE)


def _func(tree, name):
    return next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name)


@pytest.mark.parametrize(
    "name,line,category,reducibility",
    [
        ("snapshots", 8, "data structure", "high"),
        ("matrix", 13, "array", "medium"),
        ("parse", 18, "parsed data", "medium"),
        ("slurp", 22, "buffer", "medium"),
        ("cached", 28, "cache", "medium"),
        ("concat", 34, "buffer", "high"),
        ("plain", 39, "data structure", "medium"),
    ],
)
def test_categorize(src_tree, name, line, category, reducibility):
    _root, tree = src_tree
    cat = categorize(tree, _func(tree, name), line)
    assert (cat.category, cat.reducibility) == (category, reducibility), cat
    assert cat.reason


def test_grouping_folds_comprehension_lines_and_keeps_biggest_line(src_tree):
    root, _tree = src_tree
    f = str(root / "pkg" / "mod.py")
    locator = Locator(root, [root], ())
    groups = group_phase_lines(
        [
            LineRow.from_json(r)
            for r in [
                [f, 13, 30 * MIB, 4000],
                [f, 14, 1000, 1],
                [f, 8, 5 * MIB, 90],
                [f, 42, 2 * MIB, 10],
                ["/usr/lib/python3/x.py", 1, 9 * MIB, 1],
            ]
        ],
        locator,
    )
    m = groups[("pkg/mod.py", "matrix")]
    assert m.bytes == 30 * MIB + 1000 and m.count == 4001 and m.biggest_line == 13 and m.symbol == "matrix"
    assert groups[("pkg/mod.py", "snapshots")].bytes == 5 * MIB
    assert groups[("pkg/mod.py", "<module>")].bytes == 2 * MIB  # module level: import-time work
    assert len(groups) == 3  # the library line is nobody's


def test_merge_keeps_each_group_at_its_biggest_peak(src_tree):
    root, _tree = src_tree
    f = str(root / "pkg" / "mod.py")
    locator = Locator(root, [root], ())
    phases = [
        {"test": "t::a", "phase": "setup", "peak": 12 * MIB, "snapshot": 11 * MIB, "lines": [[f, 8, 10 * MIB, 5]]},
        {
            "test": "t::b",
            "phase": "call",
            "peak": 40 * MIB,
            "snapshot": 40 * MIB,
            "lines": [[f, 8, 10 * MIB + 10, 5], [f, 13, 20 * MIB, 9]],
        },
        {"test": "t::c", "phase": "call", "peak": 50 * MIB, "snapshot": 50 * MIB, "lines": [[f, 13, 31 * MIB, 9]]},
    ]
    best = merge_peaks([Phase.from_json(p) for p in phases], locator)
    snaps = best[("pkg/mod.py", "snapshots")]
    assert (snaps.test, snaps.phase) == ("t::a", "setup")  # the same data seen again later stays where it was made
    mat = best[("pkg/mod.py", "matrix")]
    assert (mat.test, mat.bytes) == ("t::c", 31 * MIB)


def test_definition_line_and_growth_rule(src_tree):
    root, tree = src_tree
    assert definition_line(tree, "TABLE") == 42
    assert definition_line(tree, "Store.items") == 46
    assert definition_line(tree, "missing") is None
    locator = Locator(root, [root], ())
    growth = [
        {
            "module": "pkg.mod",
            "name": "TABLE",
            "file": "pkg/mod.py",
            "type": "dict",
            "sizes": [1 * MIB, 2 * MIB, 3 * MIB],
        },
        {
            "module": "pkg.mod",
            "name": "Store.items",
            "file": "pkg/mod.py",
            "type": "list",
            "sizes": [0, 3 * MIB, 3 * MIB],
        },
        {"module": "pkg.mod", "name": "TABLE", "file": "pkg/mod.py", "type": "dict", "sizes": [0, MIB // 4, MIB // 2]},
    ]
    found = growth_findings([Growth.from_json(g) for g in growth], locator, root)
    assert len(found) == 1  # not the one that stopped growing, not the small one
    f = found[0]
    assert (f.pattern, f.symbol, f.qualname, f.file, f.line, f.phase) == (
        "per-request-growth",
        "TABLE",
        "pkg.mod:TABLE",
        "pkg/mod.py",
        42,
        "call",
    )
    assert f.metric.value == 2.0 and f.metric.unit == "MiB" and "2 repetitions" in f.metric.label


# -- end to end on the corpus ------------------------------------------------------------------


def test_cli_logstats_sliding_windows(tmp_path):
    root = copy_project(CORPUS / "cli_logstats", tmp_path / "cli_logstats")
    _ctx, result = run_pass(root)
    assert result.status == "ok", result.error
    [f] = by_symbol(result, "sliding_windows")
    assert f.pattern == "large-allocation" and f.file == "src/logstats/report.py"
    assert f.qualname == "logstats.report:sliding_windows" and f.module == "logstats.report"
    assert 25 <= f.metric.value <= 45 and f.metric.unit == "MiB", f.metric  # 34.5 MiB in TRUTH.md
    assert f.phase == "call" and f.details["test"].endswith("test_summarize_a_day")
    assert f.details["category"] == "data structure" and f.details["reducibility"] == "high"
    assert "windows.append(sizes[start:start + width])" in f.evidence
    assert result.data.to_json()["tool"] == "tracemalloc"
    assert result.data.to_json()["top"][0]["function"] == "logstats.report:sliding_windows"
    assert result.data.to_json()["peak_mib_by_test"]["tests/test_logstats.py::test_summarize_a_day"] >= f.metric.value
    assert any("memray" in n for n in result.notes)


def test_lib_mesh_distance_matrix(tmp_path):
    root = copy_project(CORPUS / "lib_mesh", tmp_path / "lib_mesh")
    _ctx, result = run_pass(root)
    assert result.status == "ok", result.error
    [f] = by_symbol(result, "distance_matrix")
    assert f.file == "mesh/dense.py" and 25 <= f.metric.value <= 45, f.metric  # 37.0 MiB in TRUTH.md
    assert f.details["test"].endswith("test_distance_matrix")


def test_srv_inventory_per_request_growth(tmp_path):
    root = copy_project(CORPUS / "srv_inventory", tmp_path / "srv_inventory")
    ctx, result = run_pass(root)
    assert ctx.deployment.model == "long-running-server"
    assert result.status == "ok", result.error
    [f] = [f for f in result.findings if f.pattern == "per-request-growth"]
    assert (f.symbol, f.qualname, f.module, f.file, f.line) == (
        "_RECENT_EXPORTS",
        "inventory.wsgi:_RECENT_EXPORTS",
        "inventory.wsgi",
        "inventory/wsgi.py",
        7,
    )
    assert f.metric.value > 1 and "2 repetitions" in f.metric.label and f.phase == "call"
    barcodes = by_symbol(result, "BARCODES")
    assert barcodes and barcodes[0].phase == "import"  # made at import: low for a server, by ranking


def test_clean_ledger_has_nothing_big(tmp_path):
    root = copy_project(CORPUS / "clean_ledger", tmp_path / "clean_ledger")
    _ctx, result = run_pass(root)
    assert result.status == "ok", result.error
    assert all(f.metric.value <= 10 for f in result.findings), [(f.symbol, f.metric) for f in result.findings]
    assert not [f for f in result.findings if f.pattern == "per-request-growth"]


# -- bad input ---------------------------------------------------------------------------------

BIG = {
    "pyproject.toml": "[project]\nname='big'\nversion='1'\n[tool.pytest.ini_options]\ntestpaths=['tests']\n",
    "big/__init__.py": "",
    "big/work.py": (
        "import copy\n\n"
        "def build(n):\n"
        "    return [bytes(1000) for _ in range(n)]\n\n"
        "def clone(rows):\n"
        "    return copy.deepcopy(rows)\n"
    ),
}


def test_failing_test_still_yields_its_memory(tmp_path):
    root = write_project(
        tmp_path / "p",
        dict(
            BIG,
            **{
                "tests/test_big.py": (
                    "from big.work import build\n\n"
                    "def test_fails():\n"
                    "    data = build(20000)\n"
                    "    assert len(data) == 0\n"
                )
            },
        ),
    )
    _ctx, result = run_pass(root)
    [f] = by_symbol(result, "build")
    assert f.metric.value >= 15
    assert any("failed" in n and "test_fails" in n for n in result.notes)


def test_timeout_reports_what_was_measured(tmp_path):
    root = write_project(
        tmp_path / "p",
        dict(
            BIG,
            **{
                "tests/test_big.py": (
                    "import time\nfrom big.work import build\n\n"
                    "def test_a_big():\n"
                    "    assert len(build(20000)) == 20000\n\n"
                    "def test_b_hangs():\n"
                    "    time.sleep(60)\n"
                )
            },
        ),
    )
    _ctx, result = run_pass(root, timeout=8.0)
    assert result.status == "timed-out"
    assert by_symbol(result, "build")  # measured before the timeout


def test_library_allocations_attributed_by_the_deep_run(tmp_path):
    root = write_project(
        tmp_path / "p",
        dict(
            BIG,
            **{
                "tests/test_big.py": (
                    "from big.work import clone\n\n"
                    "def test_clone():\n"
                    "    rows = [[i, i + 1] for i in range(30000)]\n"
                    "    copies = clone(rows)\n"
                    "    assert len(copies) == len(rows)\n"
                )
            },
        ),
    )
    _ctx, result = run_pass(root)
    [f] = by_symbol(result, "clone")
    assert f.metric.value >= 1.5 and f.line == 7
    # deepcopy of rows allocates a few frames below clone: 10 frames reach it, no 25-frame run
    assert any("10-frame run of 1 test phase(s) attributed" in n for n in result.notes), result.notes
    assert not any("25-frame run" in n for n in result.notes), result.notes


def test_a_buffer_a_library_makes_in_one_call_is_attributed_by_the_deep_run(tmp_path):
    # the project returns the library's 3 MB at once and the test lets it go: only a check at the
    # project function's return sees it, so the deep run runs the hook from the phase's start as
    # the measured run did (armed where memory rises, no tick falls between the call and the return)
    root = write_project(
        tmp_path / "p",
        {
            "pyproject.toml": BIG["pyproject.toml"],
            "big/__init__.py": "",
            "big/grab.py": "from vendor.buflib import make\n\ndef grab():\n    return make(3_000_000)\n",
            "vendor/buflib.py": "def make(n):\n    return bytearray(n)\n",
            "tests/test_big.py": "from big.grab import grab\n\ndef test_grab():\n    assert len(grab()) == 3_000_000\n",
        },
    )
    _ctx, result = run_pass(root)
    [f] = by_symbol(result, "grab")
    assert f.metric.value >= 2.5 and f.line == 4, f.metric
    assert any("10-frame run of 1 test phase(s) attributed 2.9 MiB" in n for n in result.notes), result.notes


def test_a_library_deeper_than_ten_frames_gets_the_25_frame_run(tmp_path):
    # the leaves of a nest 9 lists deep: deepcopy recurses two frames a level, so a leaf's copy
    # is made about 20 frames below clone, out of a 10-frame traceback's reach
    nest = (
        "def nest():\n    x = [[i] * 8 for i in range(12000)]\n    for _ in range(9):\n        x = [x]\n    return x\n"
    )
    root = write_project(
        tmp_path / "p",
        dict(
            BIG,
            **{
                "big/nest.py": nest,
                "tests/test_big.py": (
                    "from big.nest import nest\nfrom big.work import clone\n\n"
                    "def test_clone():\n"
                    "    copies = clone(nest())\n"
                    "    assert len(copies) == 1\n"
                ),
            },
        ),
    )
    _ctx, result = run_pass(root)
    [f] = by_symbol(result, "clone")
    assert f.metric.value >= 1.0 and f.line == 7
    notes = " ".join(result.notes)
    assert "10-frame run of 1 test phase(s)" in notes and "25-frame run of 1 test phase(s)" in notes, notes


def test_heap_too_big_to_snapshot_is_skipped(tmp_path):
    root = write_project(
        tmp_path / "p",
        dict(
            BIG,
            **{
                "tests/test_big.py": (
                    "from big.work import build\n\ndef test_big():\n    assert len(build(30000)) == 30000\n"
                )
            },
        ),
    )
    workdir = Path(tempfile.mkdtemp(prefix="perfscan-work-", dir=tmp_path))
    probe = install_probe(workdir)
    # a machine with 4 MiB left: the project's conftest stands in for /proc/meminfo
    (root / "conftest.py").write_text(
        "import perfscan_probe.memory as m\nm._available_memory = lambda: 4 * 1024 * 1024\n", encoding="utf-8"
    )
    run = run_probe(
        "memory",
        runner=[sys.executable],
        driver=Driver(),
        root=root,
        workdir=workdir,
        probe_path=probe,
        pytest_args=[],
        timeout=120,
        options={"root": str(root), "max_trace_mib": "0.5"},
    )
    data = run.read("memory.json")
    [phase] = [p for p in data["phases"] if p["phase"] == "call"]
    assert phase["snapshots"] == 0 and "too many live allocations" in phase["note"]
    assert phase["peak"] - phase["start"] >= 25 * MIB  # the peak is still known
    assert data["overhead"]["skipped"] >= 1


PYPROJECT = "[project]\nname='tiny'\nversion='1'\n[tool.pytest.ini_options]\ntestpaths=['tests']\n"
TINY = {
    "pyproject.toml": PYPROJECT,
    "tiny/__init__.py": "",
    "tiny/work.py": (
        "AUDIT = []\n\n"
        "def prefixes(words):\n"
        "    snaps = []\n"
        "    for end in range(1000, len(words) + 1, 1000):\n"
        "        snaps.append(words[:end])\n"
        "    return snaps\n\n"
        "def handle(n):\n"
        "    AUDIT.append(bytearray(n))\n"
        "    return len(prefixes(list(range(40000))))\n"
    ),
    "tests/test_tiny.py": "from tiny.work import handle\n\ndef test_handle():\n    assert handle(400000) == 40\n",
}


@pytest.mark.parametrize("version", ["3.9", "3.10", "3.11", "3.12", "3.13"])
def test_probe_under_each_python(version, tmp_path):
    from test_probe_pythons import venv_with_pytest

    python = venv_with_pytest(version)
    root = write_project(tmp_path / "tiny", TINY)
    workdir = Path(tempfile.mkdtemp(prefix="perfscan-work-", dir=tmp_path))
    probe = install_probe(workdir)
    run = run_probe(
        "memory",
        runner=[str(python)],
        driver=Driver(),
        root=root,
        workdir=workdir,
        probe_path=probe,
        pytest_args=[],
        timeout=180,
        options={"root": str(root), "repeat": "2"},
    )
    data = run.read("memory.json")
    assert data is not None, run.child.tail(20)
    assert data["python"].startswith(version + ".")
    assert data["hook"] == ("sys.monitoring" if version in ("3.12", "3.13") else "setprofile")
    [call] = [p for p in data["phases"] if p["phase"] == "call"]
    lines = {(os.path.basename(f), ln): b for f, ln, b, _c in call["lines"]}
    assert lines.get(("work.py", 6), 0) >= 4 * MIB  # the prefix copies, freed before the test ends
    [growth] = [g for g in data["growth"] if g["name"] == "AUDIT"]
    assert growth["sizes"][2] - growth["sizes"][0] >= 700_000 and data["repeat"]["done"] == 2


def _python_with_memray():
    import importlib.util
    import shutil

    if importlib.util.find_spec("memray") is not None:
        return sys.executable
    other = os.environ.get("PERFSCAN_TEST_MEMRAY_PYTHON")
    return other if other and shutil.which(other) else None


@pytest.mark.skipif(
    _python_with_memray() is None, reason="no Python with memray here (set PERFSCAN_TEST_MEMRAY_PYTHON)"
)
def test_memray_measures_the_whole_run_when_importable(tmp_path):
    root = write_project(tmp_path / "tiny", TINY)
    ctx, result = run_pass(root, runner=_python_with_memray())
    assert ctx.project.has_memray
    assert result.data.to_json()["tool"] == "tracemalloc + memray"
    memray = result.data.to_json()["memray"]
    assert memray["peak_mib"] > 4 and memray["top"][0]["function"] == "tiny.work:prefixes"
    assert any(n.startswith("memray") and "tracemalloc measured" in n for n in result.notes)
