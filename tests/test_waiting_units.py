"""The waiting parts one at a time: statement shapes and counting (probe/queries.py), call-site
counters (probe/sitecounts.py), where a waiting sample goes (passes/cpu/waited.py), threads side by
side scaled to the wall time, and the call a line waits in (patterns/waitcalls.py)."""

from __future__ import annotations

import ast
import builtins
import sqlite3
import sys
import textwrap

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "src"))

from perfscan.passes.cpu.patterns.waitcalls import call_at  # noqa: E402
from perfscan.passes.cpu.profile import _without_probe  # noqa: E402
from perfscan.passes.cpu.records import Frame, Samples, Stack  # noqa: E402
from perfscan.passes.cpu.waited import aggregate_waits, counted_by_test, place  # noqa: E402
from perfscan.passes.cpu.waitrecords import WaitStack  # noqa: E402
from perfscan.probe import queries as probe_queries  # noqa: E402
from perfscan.probe import sitecounts  # noqa: E402


@pytest.mark.parametrize(
    "statement, shape",
    [
        ("SELECT amount, item_id FROM price WHERE item_id = 5", "SELECT ... FROM price WHERE item_id = ?"),
        ("select * from t where a = 'x''y' and b in (1, 2, 3)", "SELECT ... from t where a = ? and b in (...)"),
        (
            'SELECT "shop_price"."id" FROM "shop_price" WHERE "shop_price"."item_id" = 5 LIMIT 21',
            'SELECT ... FROM "shop_price" WHERE "shop_price"."item_id" = ? LIMIT ?',
        ),
        ("insert into t1 values (5, -2.5e3, X'ab')", "insert into t1 values (...)"),
        ("UPDATE t SET a = :a WHERE id = %s", "UPDATE t SET a = ? WHERE id = ?"),
        ("  SELECT\n  DISTINCT a\n  FROM t\n WHERE x = 1", "SELECT DISTINCT ... FROM t WHERE x = ?"),
        ("BEGIN ", None),
        ("PRAGMA foreign_keys = ON", None),
    ],
)
def test_statement_shapes(statement, shape):
    assert probe_queries.shape(statement) == shape


def test_a_table_named_with_digits_keeps_its_name():
    # shapes are cached by the text without digits: t1 and t2 must not share one
    assert probe_queries.shape("SELECT a FROM t1 WHERE id = 4") == "SELECT ... FROM t1 WHERE id = ?"
    assert probe_queries.shape("SELECT a FROM t2 WHERE id = 4") == "SELECT ... FROM t2 WHERE id = ?"


def test_statements_are_counted_by_project_line_and_put_back(tmp_path):
    project = tmp_path / "proj"
    (project / "pkg").mkdir(parents=True)
    src = (
        "import sqlite3\n\n"
        "def per_row(ids):\n"
        "    db = sqlite3.connect(':memory:')\n"
        "    db.execute('CREATE TABLE t (id INTEGER, v TEXT)')\n"
        "    db.executemany('INSERT INTO t VALUES (?, ?)', [(i, 'v%d' % i) for i in ids])\n"
        "    return [db.execute('SELECT v FROM t WHERE id = ?', (i,)).fetchone() for i in ids]\n"
    )
    path = project / "pkg" / "rows.py"
    path.write_text(src, encoding="utf-8")
    ns: dict = {}
    exec(compile(src, str(path), "exec"), ns)
    original = sqlite3.connect
    rec = probe_queries.QueryRecorder(str(project))
    assert rec.install() == ""
    try:
        assert sqlite3.connect is not original
        rec.start_phase("call")
        ns["per_row"](list(range(50)))
        rec.stop_phase()
    finally:
        rec.stop()
    assert sqlite3.connect is original
    rows = {(r[1][0][1], r[2]): r[3] for r in rec.export()["statements"]}
    assert rows[(7, "SELECT ... FROM t WHERE id = ?")] == 50
    assert rows[(6, "INSERT INTO t VALUES (...)")] == 50
    assert all(r[0] == "call" for r in rec.export()["statements"])
    spent = rec.export()["spent"]
    assert set(spent) == {"call"} and 0 < spent["call"] < 1.0, spent


def test_samples_in_the_statement_callback_are_the_probes_only_up_to_its_measured_time():
    # sqlite calls the callback as a statement starts: a signal from sqlite's own work is handled
    # at the callback's first instruction, so 40 ms sampled there with 10 ms measured inside it
    # are 30 ms of the statement (the project line's) and 10 ms of the probe's
    frames = (
        Frame("tests/test_rows.py", 1, "test_rows"),
        Frame("pkg/rows.py", 3, "per_row"),
        Frame("scan-temp/perfscan_probe/queries.py", 160, "_trace"),
        Frame("scan-temp/perfscan_probe/calls.py", 10, "count"),
    )
    stacks = (
        Stack("call", 0, ((0, 5), (1, 7), (2, 170)), 0.04),
        Stack("call", 0, ((0, 5), (1, 7)), 0.02),
        Stack("call", 0, ((0, 5), (1, 7), (3, 12)), 0.005),  # other probe code: all the probe's
    )
    samples = Samples(tests=("t",), frames=frames, stacks=stacks, walls=(("call", 0, 0.1),))
    kept, taken = _without_probe(samples, {"call": 0.01})
    assert taken == {"call": pytest.approx(0.015)}
    assert all(st.frames[-1][0] == 1 for st in kept.stacks)
    assert sum(st.seconds for st in kept.stacks) == pytest.approx(0.05)
    assert kept.walls == (("call", 0, pytest.approx(0.085)),)
    # measured longer than sampled: every sample in it is the probe's
    kept, taken = _without_probe(samples, {"call": 0.5})
    assert taken == {"call": pytest.approx(0.045)}
    assert sum(st.seconds for st in kept.stacks) == pytest.approx(0.02)


def test_site_counters_count_waiting_calls_and_keep_the_code_as_written():
    src = textwrap.dedent(
        """
        import time

        class Q:
            def __init__(self):
                self.n = 0
            def get(self):
                self.n += 1
                return self.n

        def work(lock, queue, d):
            out = []
            for i in range(3):
                time.sleep(0)
                with lock:
                    out.append(queue.get())
                out.append(d.get(i))
            return out
        """
    )
    counter = sitecounts.SiteCounter()
    tree = ast.parse(src)
    counter.instrument(tree, "<sites>")
    code = compile(tree, "<sites>", "exec")
    setattr(builtins, sitecounts.SITES, counter.table("call"))
    try:
        ns: dict = {}
        exec(code, ns)
        import threading

        assert ns["work"](threading.Lock(), ns["Q"](), {1: "a"}) == [1, None, 2, "a", 3, None]
    finally:
        delattr(builtins, sitecounts.SITES)
    counted = {(line, name): n for (_f, line, name), n in zip(counter.sites, counter.table("call"))}
    # the sleep, the lock's `with` and the queue's get: 3 each; a dict's get is no wait
    assert counted == {(14, "sleep"): 3, (15, "__enter__"): 3, (16, "get"): 3}


FRAMES = [
    Frame("/site/_pytest/python.py", 1, "pytest_pyfunc_call"),  # 0 harness
    Frame("pkg/mod.py", 10, "fetch"),  # 1 project
    Frame("/usr/lib/python3.11/socket.py", 700, "readinto"),  # 2 library
    Frame("/usr/lib/python3.11/asyncio/base_events.py", 1800, "_run_once"),  # 3 event loop
    Frame("/usr/lib/python3.11/selectors.py", 450, "select"),  # 4
    Frame("tests/test_mod.py", 3, "test_fetch"),  # 5 test
]


def owners(fi):
    return (("pkg/mod.py", "fetch"), False) if fi == 1 else None


def test_a_waiting_sample_goes_to_the_innermost_project_line_with_the_library_call():
    p = place(WaitStack("call", 0, ((0, 0), (1, 14), (2, 720)), 0.5), owners, FRAMES)
    assert (p.key, p.line, p.via, p.counted) == (("pkg/mod.py", "fetch"), 14, (FRAMES[2].file, "readinto"), True)


def test_an_idle_event_loop_and_the_harness_are_nobodys_waiting():
    idle = place(WaitStack("call", 0, ((5, 4), (1, 20), (3, 1810), (4, 460)), 0.4), owners, FRAMES)
    assert idle.key is None and idle.counted  # the main thread's: in the wall time, on no function
    test_sleep = place(WaitStack("call", 0, ((0, 0), (5, 4)), 0.3), owners, FRAMES)
    assert test_sleep.key is None and test_sleep.counted
    idle_thread = place(WaitStack("call", 0, ((4, 460),), 2.0, main=False), owners, FRAMES)
    assert idle_thread.key is None and not idle_thread.counted  # another thread idling: not the tests' time
    waits = aggregate_waits([idle, test_sleep, idle_thread], lambda phase, test: 1.0)
    assert waits == {}
    assert counted_by_test([idle, test_sleep, idle_thread]) == {("call", 0): pytest.approx(0.7)}


def test_waiting_for_the_gil_is_apart_from_waiting_in_a_call():
    gil = place(WaitStack("call", 0, ((0, 0), (1, 12)), 0.2, gil=True), owners, FRAMES)
    call = place(WaitStack("call", 0, ((0, 0), (1, 14), (2, 720)), 0.5), owners, FRAMES)
    w = aggregate_waits([gil, call], lambda phase, test: 0.5)[("pkg/mod.py", "fetch")]
    assert dict(w.gil) == {"call": pytest.approx(0.1)} and dict(w.wait) == {"call": pytest.approx(0.25)}
    assert dict(w.gil_lines) == {12: pytest.approx(0.1)} and dict(w.lines) == {14: pytest.approx(0.25)}


@pytest.mark.parametrize(
    "line, text, kind",
    [
        (3, "db.execute", "query"),
        (4, "sock.recv", "io"),
        (5, "with LOCK", "lock"),
        (6, "time.sleep", "sleep"),
        (7, "jobs_queue.get", "lock"),
        (8, "worker.join", "thread"),
        (9, "config.get", None),
    ],
)
def test_the_call_a_line_waits_in(line, text, kind):
    src = (
        "def f(db, sock, LOCK, jobs_queue, worker, config):\n"
        "    for i in range(3):\n"
        "        row = db.execute('SELECT a FROM t WHERE id = ?', (i,)).fetchone()\n"
        "        data = json.loads(sock.recv(64))\n"
        "        with LOCK:\n"
        "            time.sleep(0.1)\n"
        "        job = jobs_queue.get()\n"
        "        worker.join()\n"
        "        config.get('x')\n"
    )
    fn = ast.parse(src).body[0]
    found = call_at(fn, line, {"json": "json", "time": "time"})
    assert found is not None and (found.text, found.kind) == (text, kind)


def test_a_line_with_no_call_the_library_ran_is_named_by_the_library():
    # an ORM's attribute access (`item.price.amount`) ran the query: the line's only call is not it
    fn = ast.parse("def view(items, rows):\n    for item in items:\n        rows.append(item.price.amount)\n").body[0]
    via = [("/venv/lib/python3.11/site-packages/django/db/models/fields/related_descriptors.py", "__get__")]
    found = call_at(fn, 3, {}, via)
    assert found is not None and found.node is None
    assert (found.text, found.kind) == ("django.db.models.fields.related_descriptors.__get__", "query")


def test_a_known_waiting_call_on_the_line_is_named_whatever_library_frame_it_reached():
    # `reader.readline()` reaches socket.py's readinto through C: the call as written names it
    fn = ast.parse("def f(reader, skus):\n    for s in skus:\n        line = reader.readline()\n").body[0]
    found = call_at(fn, 3, {}, [("/usr/lib/python3.11/socket.py", "readinto")])
    assert found is not None and (found.text, found.kind) == ("reader.readline", "io")


def test_an_installed_copy_of_the_project_waits_and_counts_under_its_scanned_file(tmp_path, monkeypatch):
    # the project's package running from site-packages: the probe's project rule (which thread
    # works in project code, where a statement came from) and the site counters name the scanned source
    import types

    from perfscan.probe import projectmap
    from perfscan.probe.projectcode import ProjectFiles

    root = tmp_path / "proj"
    scanned = root / "src" / "wdemo"
    copy = tmp_path / "venv" / "lib" / "site-packages" / "wdemo"
    for folder in (scanned, copy):
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
        (folder / "core.py").write_text("def f():\n    return 1\n")
    package = types.ModuleType("wdemo")
    package.__path__ = [str(copy)]
    package.__file__ = str(copy / "__init__.py")
    monkeypatch.setitem(sys.modules, "wdemo", package)
    monkeypatch.setattr(projectmap, "_CURRENT", [projectmap.ProjectMap({"wdemo": str(scanned)})])

    project = ProjectFiles(str(root))
    assert project.file(str(copy / "core.py"))
    assert not project.file(str(tmp_path / "venv" / "lib" / "site-packages" / "other.py"))
    counter = sitecounts.SiteCounter()
    counter.register(str(copy / "core.py"), 2, "sleep")
    assert counter.export()["sites"] == [[str(scanned / "core.py"), 2, "sleep"]]
