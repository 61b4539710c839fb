"""The sampling CPU engine: stack aggregation (host), call counters and sampler (probe), end to end.

- aggregate(): own, cumulative and attributable from hand-made stacks, with recursion (direct and
  through another function) and folded comprehensions, exactly as docs/design.md defines them.
- build_profile() on a hand-made cpu.json of the sampling engine: functions located in a real
  source tree, exact counts, the counters' cost taken out, C callees backed by line.
- calls.py: the compiled counters count exactly, keep docstrings and line numbers.
- sampler.py: installs and restores SIGPROF, refuses a SIGPROF that is taken.
- The probe in sample mode on a tiny project, under every Python 3.9-3.13 on the machine: the
  planted function dominates, setup-phase work lands in setup, threads are sampled, counts exact.
"""

from __future__ import annotations

import ast
import builtins
import signal
import sys
import tempfile
import textwrap
import time
import traceback
from pathlib import Path

import pytest
from conftest import REPO, probe_on, write_project

sys.path.insert(0, str(REPO / "src"))
from test_probe_pythons import VERSIONS, venv_with_pytest  # noqa: E402

from perfscan.models import Driver  # noqa: E402
from perfscan.passes.cpu.findings import findings_of as _findings  # noqa: E402
from perfscan.passes.cpu.findings import sampled_facts as _sampled_facts
from perfscan.passes.cpu.patterns import choose  # noqa: E402
from perfscan.passes.cpu.profile import build_profile as _build_profile  # noqa: E402
from perfscan.passes.cpu.records import CpuRun, Frame, Stack  # noqa: E402
from perfscan.passes.cpu.samples import aggregate, c_call_names, occurrences  # noqa: E402
from perfscan.probe import calls as probe_calls  # noqa: E402
from perfscan.probe import sampler as probe_sampler  # noqa: E402
from perfscan.probe_host import SCHEMA_VERSION, install_probe, run_probe  # noqa: E402

# -- aggregate() on hand-made stacks -------------------------------------------------------------

# frame index -> (function key, folded?) ; None = not project code
OWNERS = {0: None, 1: ("A", False), 2: ("B", False), 3: ("A", True), 4: None, 5: ("C", False)}
FRAMES = [
    Frame("/venv/pytest/python.py", 10, "runtest"),
    Frame("/p/a.py", 1, "a"),
    Frame("/p/b.py", 1, "b"),
    Frame("/p/a.py", 3, "<genexpr>"),
    Frame("/usr/lib/python3/json/__init__.py", 183, "dumps"),
    Frame("/p/c.py", 1, "c"),
]


def build_profile(cpu_json, root, source_roots):
    return _build_profile(CpuRun.from_json(cpu_json), root, source_roots)


def agg(*stacks):
    entries = [Stack(phase, 0, tuple(frames), w, 1) for phase, frames, w in stacks]
    return aggregate(entries, OWNERS.get, FRAMES, label=lambda k: f"mod:{k}", name=lambda k: k.lower())


def test_own_and_cumulative_count_once_under_recursion():
    out = agg(("call", [(0, 5), (1, 2), (1, 2), (1, 4)], 2.0))  # a -> a -> a, innermost
    a = out["A"]
    assert a.cumulative["call"] == 2.0  # once per sample, not three times
    assert a.own["call"] == 2.0 and a.attributable("call") == 2.0
    assert a.line_own == {4: 2.0}


def test_attributable_is_judged_at_the_innermost_occurrence():
    out = agg(
        ("call", [(0, 5), (1, 2), (2, 7), (1, 9)], 1.0),  # a -> b -> a(innermost): a's
        ("call", [(0, 5), (1, 2), (1, 3), (2, 8)], 3.0),
    )  # a -> a -> b(innermost): b's
    a, b = out["A"], out["B"]
    assert a.cumulative["call"] == 4.0 and b.cumulative["call"] == 4.0
    assert a.attributable("call") == 1.0  # recursion stays in, the direct project callee b goes out
    assert b.attributable("call") == 3.0  # b -> a(innermost) is under a direct project callee of b
    assert a.own["call"] == 1.0 and b.own["call"] == 3.0
    assert a.project_callee_by_name == {"b": 4.0}
    assert b.project_callee_by_name == {"a": 1.0}


def test_a_project_function_reached_through_library_code_owns_its_time():
    # a -> json.dumps (library) -> c: c's time is c's, not a's (a context manager, sorted(key=...),
    # next() on a project generator all look like this); a keeps the library's own time
    out = agg(("call", [(0, 5), (1, 2), (4, 190), (5, 4)], 3.0), ("call", [(0, 5), (1, 2), (4, 190)], 1.0))
    a, c = out["A"], out["C"]
    assert a.cumulative["call"] == 4.0 and a.attributable("call") == 1.0
    assert c.attributable("call") == 3.0


def test_comprehension_frames_fold_into_their_function():
    # a -> a's genexpr (folded) is one occurrence of a: own time of a, at the genexpr's line
    out = agg(
        ("call", [(0, 5), (1, 2), (3, 3)], 1.5),
        # a -> genexpr -> json.dumps: a's callee time, no own time for anybody
        ("call", [(0, 5), (1, 2), (3, 3), (4, 190)], 0.5),
    )
    assert set(out) == {"A"}
    a = out["A"]
    assert a.own["call"] == 1.5 and a.line_own == {3: 1.5}
    assert a.cumulative["call"] == 2.0 and a.attributable("call") == 2.0
    assert a.callee_time == {("/usr/lib/python3/json/__init__.py", "dumps"): 0.5}
    assert len(occurrences([[1, 2], [3, 3], [2, 1], [3, 3]], OWNERS.get)) == 3  # a+genexpr, b, a's genexpr again


def test_phases_tests_and_callers():
    out = agg(("setup", [(0, 5), (5, 1), (1, 2)], 1.0), ("call", [(0, 5), (2, 1), (5, 2)], 2.0))
    c = out["C"]
    assert c.cumulative == {"setup": 1.0, "call": 2.0}
    assert c.attributable("setup") == 0.0 and c.attributable("call") == 2.0
    assert c.caller_seconds == {"python.py:10(runtest)": 1.0, "mod:B": 2.0}
    assert dict(c.tests) == {0: 2.0}


# -- build_profile() on a hand-made cpu.json -----------------------------------------------------

SOURCE = textwrap.dedent("""\
    def bfs(graph, queue):
        order = []
        while queue:
            v = queue.pop(0)
            order.append(v)
            for w in graph[v]:
                queue.append(w)
        return order


    def dedupe(words):
        seen = []
        for w in words:
            if w not in seen:
                seen.append(w)
        return [s for s in seen]


    def fib(n):
        if n < 2:
            return n
        return fib(n - 1) + fib(n - 2)
    """)


def sample_json(root: Path, cost_ns=None):
    f = str(root / "pkg" / "algo.py")
    frames = [
        ["/venv/_pytest/python.py", 1, "pytest_pyfunc_call"],
        [f, 1, "bfs"],
        [f, 11, "dedupe"],
        [f, 16, "<listcomp>"],
        [f, 19, "fib"],
    ]
    stacks = [
        ["call", 0, [[0, 2], [1, 4]], 3.0, 300],  # bfs at its pop(0) line
        ["call", 0, [[0, 2], [1, 6]], 0.5, 50],  # bfs at the inner loop
        ["call", 1, [[0, 2], [2, 14]], 2.0, 200],  # dedupe at the `in` test
        ["call", 1, [[0, 2], [2, 16], [3, 16]], 0.2, 20],
        ["setup", 1, [[0, 2], [4, 22], [4, 22], [4, 20]], 0.8, 80],
    ]
    return {
        "engine": "sample",
        "python": "3.11.7",
        "threads": "all",
        "phases": {
            "setup": {"wall": 1.0, "stats": []},
            "call": {"wall": 9.0, "stats": []},
            "teardown": {"wall": 0.0, "stats": []},
        },
        "samples": {
            "timer": "ITIMER_PROF",
            "interval": 0.001,
            "mean_interval": 0.004,
            "clock": "runnable",
            "tests": ["t::one", "t::two"],
            "frames": frames,
            "stacks": stacks,
        },
        "calls": {
            "functions": [
                [f, 1, "bfs", False],
                [f, 11, "dedupe", False],
                [f, 19, "fib", True],
                ["<perfscan-calibration>", 5, "counted", False],
            ],
            "phases": {"setup": [[2, 21891, 21890]], "call": [[0, 1, 0], [1, 2, 0], [3, 99, 0]], "teardown": []},
            "cost_ns": cost_ns or {},
        },
        "errors": [],
    }


@pytest.fixture
def tiny_tree(tmp_path):
    root = write_project(tmp_path / "proj", {"pkg/__init__.py": "", "pkg/algo.py": SOURCE})
    return root


def test_build_profile_from_samples(tiny_tree):
    prof = build_profile(sample_json(tiny_tree), tiny_tree, [tiny_tree])
    assert prof.engine == "sample" and "exact call counts" in prof.engine_detail
    fns = {fp.qualname: fp for fp in prof.functions.values()}
    assert set(fns) == {"bfs", "dedupe", "fib"}
    assert prof.ran == frozenset({"pkg.algo:bfs", "pkg.algo:dedupe", "pkg.algo:fib"})
    bfs, dedupe, fib = fns["bfs"], fns["dedupe"], fns["fib"]
    assert bfs.attributable() == pytest.approx(3.5) and bfs.line_own == {4: 3.0, 6: 0.5}
    assert dedupe.own_total() == pytest.approx(2.2)  # its list comprehension folded in
    assert fib.attributable("setup") == pytest.approx(0.8) and fib.main_phase() == "setup"
    assert (fib.calls_total, fib.calls_primitive) == (21891, 1)
    assert (bfs.calls_total, dedupe.calls_total) == (1, 2)
    assert dict(bfs.tests) == {"t::one": 3.5}
    assert prof.total_wall == pytest.approx(10.0)


def test_counter_cost_comes_out_of_the_function_and_the_wall(tiny_tree):
    prof = build_profile(sample_json(tiny_tree, cost_ns={"count": 50.0, "depth": 10000.0}), tiny_tree, [tiny_tree])
    fib = next(fp for fp in prof.functions.values() if fp.qualname == "fib")
    taken = 21891 * 10000e-9  # 0.219 s of the 0.8 s sampled in fib
    assert fib.attributable("setup") == pytest.approx(0.8 - taken)
    assert prof.wall["setup"] == pytest.approx(1.0 - taken)
    assert prof.counting_seconds == pytest.approx(taken + 3 * 50e-9)


def test_threads_side_by_side_never_hold_more_than_all_of_the_profiled_time(tiny_tree):
    # 5.7 s of samples in "call" over 1.5 s of main-thread wall: worker threads ran side by side
    data = sample_json(tiny_tree)
    data["phases"]["call"]["wall"] = 1.5
    prof = build_profile(data, tiny_tree, [tiny_tree])
    assert prof.wall["call"] == pytest.approx(5.7)
    shares = {fp.qualname: fp.attributable() / prof.total_wall for fp in prof.functions.values()}
    assert sum(shares.values()) <= 1.0 and shares["bfs"] == pytest.approx(3.5 / 6.7)  # setup 1.0 s + call 5.7 s


def test_patterns_from_samples_c_callees_by_line(tiny_tree):
    prof = build_profile(sample_json(tiny_tree), tiny_tree, [tiny_tree])
    found = {f.symbol: f for f in _findings(prof)}
    # pop(0) has no frame of its own: its time is bfs's own time at line 4, which backs pop-front
    # and is not also counted as the structural own time that would back nested-loop
    assert found["bfs"].pattern == "pop-front" and found["bfs"].line == 4
    assert found["dedupe"].pattern == "quadratic-membership"
    assert found["fib"].pattern == "repeated-computation"
    assert "21,891 calls (1 primitive)" in found["fib"].evidence
    assert found["fib"].phase == "setup"


def test_structural_own_excludes_lines_a_call_pattern_claims(tiny_tree):
    prof = build_profile(sample_json(tiny_tree), tiny_tree, [tiny_tree])
    bfs = next(fp for fp in prof.functions.values() if fp.qualname == "bfs")
    facts = _sampled_facts(bfs, None, {}, bfs.attributable())
    assert facts.own_seconds == pytest.approx(0.5)  # 3.5 own, 3.0 of it at the pop(0) line
    assert choose(facts).pattern == "pop-front"


def test_c_call_names():
    tree = ast.parse(
        textwrap.dedent("""\
        import pickle
        from json import dumps as enc
        def f(items):
            out = sorted(items)
            x = items.pop(0)
            blob = pickle.dumps(out)
            def inner():
                return len(items)
            return enc(out), any(i for i in items)
        """)
    )
    names = c_call_names(tree.body[2], {"pickle": "pickle", "enc": "json.dumps"})
    assert names[4] == ["<built-in method builtins.sorted>"]
    assert "<method 'pop' of 'list' objects>" in names[5]
    assert names[6] == ["<built-in method _pickle.dumps>"]
    assert 8 not in names  # a nested def's calls are its own
    assert set(names[9]) == {"<built-in method json.dumps>", "<built-in method builtins.any>"}


# -- probe: compiled call counters -----------------------------------------------------------------


@pytest.fixture
def counter():
    c = probe_calls.CallCounter(tempfile.gettempdir())
    saved = {n: getattr(builtins, n, None) for n in (probe_calls.CALLS, probe_calls.REC, probe_calls.DEPTH)}
    setattr(builtins, probe_calls.DEPTH, c.depth)
    c.start("call")
    yield c
    for n, v in saved.items():
        if v is None:
            if hasattr(builtins, n):
                delattr(builtins, n)
        else:
            setattr(builtins, n, v)


COUNTED = '''\
def paths(r, c):
    """Lattice paths."""
    if r == 0 or c == 0:
        return 1
    return paths(r - 1, c) + paths(r, c - 1)


def walk(n):
    if n:
        yield from walk(n - 1)
    yield n


def size(node):
    return 1 + sum(size(k) for k in node)


def only_doc():
    """Nothing else."""


def boom():
    x = 1
    raise ValueError(x)
'''


def test_counters_count_exactly_and_keep_the_code_as_written(counter, tmp_path):
    path = str(tmp_path / "m.py")
    ns = {}
    exec(counter.compile(COUNTED.encode(), path), ns)
    assert ns["paths"](4, 4) == 70
    assert list(ns["walk"](2)) == [0, 1, 2]
    assert ns["size"]([[], [[]]]) == 4
    assert ns["paths"].__doc__ == "Lattice paths." and ns["only_doc"].__doc__ == "Nothing else."
    with pytest.raises(ValueError) as info:
        ns["boom"]()
    assert traceback.extract_tb(info.tb)[-1].lineno == 24  # line numbers unchanged
    assert ns["paths"].__code__.co_firstlineno == 1
    counter.stop("call")
    rows = {counter.functions[i][2]: (total, rec) for i, total, rec in counter.export()["phases"]["call"]}
    assert rows["paths"] == (139, 138)  # 2 * C(8,4) - 1 calls, one primitive
    assert rows["walk"] == (3, 0)  # generators are counted, not depth-counted
    assert rows["size"] == (4, 3)  # recursion through a generator expression is still recursion
    assert rows["boom"] == (1, 0) and "only_doc" not in rows
    assert ns["paths"](1, 1) == 2 and counter.depth == [0] * len(counter.depth)  # depth unwinds, exceptions too


def test_counter_finds_project_files_only(tmp_path):
    c = probe_calls.CallCounter(str(tmp_path))
    assert c.is_project(str(tmp_path / "pkg" / "mod.py"))
    assert not c.is_project(str(tmp_path / "tests" / "helpers.py"))
    assert not c.is_project(str(tmp_path / "test_x.py"))
    assert not c.is_project(str(tmp_path / ".venv" / "lib" / "site-packages" / "x.py"))
    assert not c.is_project("/usr/lib/python3.11/json/__init__.py")


# -- probe: the sampler in this process ------------------------------------------------------------


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no ITIMER_PROF")
def test_sampler_samples_and_restores_sigprof():
    before = signal.getsignal(signal.SIGPROF)
    s = probe_sampler.Sampler(0.001)
    assert s.install() == ""
    s.start("t::x", "call", None)
    t0 = time.process_time()
    n = 0
    while time.process_time() - t0 < 0.3:
        n += sum(i * i for i in range(1000))
    s.stop("t::x", "call")
    s.uninstall()
    assert signal.getsignal(signal.SIGPROF) == before
    assert signal.getitimer(signal.ITIMER_PROF)[0] == 0
    out = s.export()
    assert out["samples"] > 10 and 0.15 < out["sampled_seconds"] < 1.5
    names = {f[2] for f in out["frames"]}
    assert "test_sampler_samples_and_restores_sigprof" in names


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no ITIMER_PROF")
def test_sampler_leaves_a_taken_sigprof_alone():
    def theirs(signum, frame):
        pass

    old = signal.signal(signal.SIGPROF, theirs)
    try:
        s = probe_sampler.Sampler(0.001)
        assert "already has a handler" in s.install()
        assert signal.getsignal(signal.SIGPROF) is theirs
    finally:
        signal.signal(signal.SIGPROF, old)


# -- the probe in sample mode, every Python ----------------------------------------------------------

PROJECT = {
    "pyproject.toml": "[project]\nname='tiny'\nversion='1'\n[tool.pytest.ini_options]\ntestpaths=['tests']\n",
    "tiny/__init__.py": "",
    "tiny/work.py": (
        "import threading\nimport time\n\n"
        "def burn(seconds):\n"
        "    t0 = time.process_time()\n"
        "    n = 0\n"
        "    while time.process_time() - t0 < seconds:\n"
        "        n += sum([i % 7 for i in range(200)])\n"
        "    return n\n\n"
        "def hot():\n"
        "    return burn(0.6)\n\n"
        "def prepare():\n"
        "    return burn(0.25)\n\n"
        "def helper(x):\n"
        "    return x + 1\n\n"
        "def sleeper():\n"
        "    time.sleep(0.3)\n\n"
        "def in_thread():\n"
        "    out = []\n"
        "    t = threading.Thread(target=lambda: out.append(worker()))\n"
        "    t.start(); t.join()\n"
        "    return out[0]\n\n"
        "def worker():\n"
        "    return burn(0.25)\n\n"
        "def fib(n):\n"
        "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
    ),
    "tests/conftest.py": "import pytest\nfrom tiny.work import prepare\n\n@pytest.fixture\ndef data():\n    return prepare()\n",
    "tests/test_tiny.py": (
        "from tiny.work import fib, helper, hot, in_thread, sleeper\n\n"
        "def test_hot(data):\n    assert hot() > 0 and helper(1) == 2 and fib(15) == 610\n\n"
        "def test_thread():\n    assert in_thread() > 0\n\n"
        "def test_sleep():\n    sleeper()\n"
    ),
}


@pytest.mark.parametrize("version", VERSIONS)
def test_probe_sample_mode(version, tmp_path):
    if not hasattr(signal, "setitimer"):
        pytest.skip("no ITIMER_PROF")
    python = venv_with_pytest(version)
    root = write_project(tmp_path / "tiny", PROJECT)
    workdir = Path(tempfile.mkdtemp(dir=tmp_path))
    probe = install_probe(workdir)
    run = run_probe(
        "cpu",
        runner=[str(python)],
        driver=Driver(),
        root=root,
        workdir=workdir,
        probe_path=probe,
        pytest_args=[],
        timeout=120,
        options={"engine": "sample"},
    )
    assert run.child.returncode == 0, run.child.tail(20)
    data = run.read("cpu.json")
    assert data is not None and data["schema_version"] == SCHEMA_VERSION
    assert data["engine"] == "sample" and data["python"].startswith(version), data.get("errors")
    assert not data["errors"], data["errors"]
    prof = build_profile(data, root, [root])
    fns = {fp.qualname: fp for fp in prof.functions.values()}
    share = {q: 100 * fp.attributable() / prof.total_wall for q, fp in fns.items()}
    # burn() does the work: its callers get nothing attributable, burn gets it all, in its phases
    assert share["burn"] > 60, share
    assert fns["burn"].attributable("setup") > 0.1, "the fixture's work is setup-phase work"
    assert fns["burn"].attributable("call") > 0.6
    assert set(fns["burn"].tests) >= {"tests/test_tiny.py::test_hot", "tests/test_tiny.py::test_thread"}
    # the worker thread was sampled: burn() under worker() (the main thread waits in join)
    assert fns["worker"].cumulative_total() > 0.1
    assert fns["in_thread"].own_total() < 0.05  # waiting is not CPU
    assert share.get("sleeper", 0.0) < 2  # sleeping is not CPU either
    # exact counts, including functions too quick to be sampled
    assert (fns["fib"].calls_total, fns["fib"].calls_primitive) == (1973, 1)
    assert fns["helper"].calls_total == 1 and "tiny.work:helper" in prof.ran and "tiny.work:sleeper" in prof.ran
    assert fns["prepare"].calls_total == 1  # conftest imported tiny.work before the probe's hook: patched in place
    # waiting, on the wall clock: the sleep waits at its line; the main thread's join() is the
    # worker's time, given to it; the CPU-bound function waits for nothing
    assert data["samples"]["waits"] is not None, data["errors"]
    sleep_line = PROJECT["tiny/work.py"].splitlines().index("    time.sleep(0.3)") + 1
    assert 0.2 < fns["sleeper"].waited() < 0.5 and set(fns["sleeper"].wait_lines) == {sleep_line}
    assert fns["in_thread"].waited() < 0.1, fns["in_thread"].waited()
    assert fns["burn"].waited() < 0.2 * fns["burn"].attributable()
    assert not list(root.rglob("__pycache__")) and not (root / ".pytest_cache").exists()


def test_probe_falls_back_to_cprofile_when_the_project_owns_sigprof(tmp_path):
    if not hasattr(signal, "setitimer"):
        pytest.skip("no ITIMER_PROF")
    files = dict(PROJECT)
    files["tests/conftest.py"] = (
        "import signal\nsignal.signal(signal.SIGPROF, lambda *a: None)\n" + PROJECT["tests/conftest.py"]
    )
    root = write_project(tmp_path / "tiny", files)
    workdir = Path(tempfile.mkdtemp(dir=tmp_path))
    probe = install_probe(workdir)
    run = run_probe(
        "cpu",
        runner=[sys.executable],
        driver=Driver(),
        root=root,
        workdir=workdir,
        probe_path=probe,
        pytest_args=["-k", "hot"],
        timeout=120,
        options={"engine": "auto"},
    )
    data = run.read("cpu.json")
    assert data is not None and data["engine"] == "cProfile" and data["engine_asked"] == "auto"
    assert any("sampling unavailable (SIGPROF already has a handler" in e for e in data["errors"]), data["errors"]
    prof = build_profile(data, root, [root])
    assert prof.engine == "cprofile" and "sampling unavailable" in prof.engine_detail
    assert any(fp.qualname == "hot" for fp in prof.functions.values())


def test_threads_finishing_while_the_main_thread_joins_do_not_crash_the_sampler(tmp_path):
    # a finishing thread leaves threading's list while sys._current_frames() still shows it;
    # reading its CPU clock once crashed the test process with SIGSEGV on every run of this test
    if not hasattr(signal, "setitimer"):
        pytest.skip("no ITIMER_PROF")
    root = write_project(
        tmp_path / "threads",
        {
            "pyproject.toml": "[project]\nname = 'threads'\nversion = '1'\n",
            "threads/__init__.py": "def spin(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n",
            "tests/test_threads.py": (
                "import threading\nfrom threads import spin\n\n"
                "def test_finish_together():\n"
                "    for _ in range(30):\n"
                "        barrier = threading.Barrier(100)\n"
                "        def worker():\n            spin(20000)\n            barrier.wait()\n"
                "        workers = [threading.Thread(target=worker) for _ in range(100)]\n"
                "        for w in workers:\n            w.start()\n"
                "        for w in workers:\n            w.join()\n"
            ),
        },
    )
    run = probe_on(root, "cpu", {"engine": "sample", "count": "0"})
    assert run.child.returncode == 0, run.child.describe_exit() + ": " + run.child.tail(20)
    samples = run.read("cpu.json")["samples"]
    in_workers = sum(st[3] for st in samples["stacks"] if any(samples["frames"][fi][2] == "worker" for fi, _ in st[2]))
    assert in_workers > 0.05, in_workers  # the workers, alive, were still sampled


PATCHING_TESTS = {
    "pyproject.toml": "[project]\nname = 'patchy'\nversion = '1'\n",
    "patchy/__init__.py": "def spin(seconds):\n    import time\n    t0 = time.process_time()\n    while time.process_time() - t0 < seconds:\n        pass\n",
    "tests/test_patching.py": (
        "import sys, time\nfrom patchy import spin\n\n"
        "def test_a_without_getframe(monkeypatch):\n"
        "    monkeypatch.delattr(sys, '_getframe')  # attrs tests its fallback this way\n"
        "    spin(0.05)\n\n"
        "def test_b_frozen_clock(monkeypatch):\n"
        "    monkeypatch.setattr(time, 'perf_counter', lambda: 0.0)  # freezegun does this\n"
        "    monkeypatch.setattr(time, 'process_time', lambda: 0.0)\n"
        "    import patchy\n"
        "    t0 = time.thread_time()\n"
        "    while time.thread_time() - t0 < 0.3:\n"
        "        pass\n\n"
        "def test_c_after():\n    spin(0.05)\n"
    ),
}


@pytest.mark.parametrize(
    "mode, options", [("cpu", {"engine": "sample"}), ("cpu", {"engine": "cprofile"}), ("time", {})]
)
def test_tests_that_patch_the_clock_or_frames_do_not_fool_the_probe(tmp_path, mode, options):
    root = write_project(tmp_path / "patchy", PATCHING_TESTS)
    run = probe_on(root, mode, options)
    assert run.child.returncode == 0, run.child.tail(20)
    assert run.failed_tests() == (), run.failed_summary()
    data = run.read("cpu.json" if mode == "cpu" else "time.json")
    call = data["phases"]["call"]
    wall = call["wall"] if isinstance(call, dict) else call
    assert wall > 0.3, data["phases"]  # the frozen test's 0.3 s of work is measured with the real clock
