"""The async pass: each pattern on positive and negative cases, aliases, and the whole pass."""

from __future__ import annotations

import ast
import re
import sys
import textwrap
import time
from pathlib import Path
from typing import Dict, FrozenSet, List, Set, Tuple

import pytest
from conftest import CORPUS, assert_unchanged, copy_project, load_report, run_perfscan, tree_state, write_project

from perfscan.models import Deployment, Project, Settings, Target
from perfscan.passes import PassContext, PassInputs
from perfscan.passes.async_pass import PATTERNS, parse_slow_callback_lines, run_async_pass
from perfscan.passes.async_pass.aliases import Aliases
from perfscan.passes.async_pass.analyze import analyze_module
from perfscan.passes.async_pass.blocking_calls import blocking_catalog
from perfscan.passes.async_pass.records import AsyncioDebugRun
from perfscan.passes.async_pass.registry import RULES

FIXTURE = Path(__file__).parent / "fixtures" / "async_cases.py"
EXPECT = re.compile(r"#\s*expect:\s*(.+)$")


def analyze(src: str, ran: FrozenSet[str] = frozenset(), extra: Tuple[str, ...] = (), module: str = "m"):
    tree = ast.parse(textwrap.dedent(src))
    return analyze_module(tree, module, f"{module}.py", "", blocking_catalog(extra), ran).findings


def patterns(src: str, **kw) -> Dict[str, Set[str]]:
    out: Dict[str, Set[str]] = {}
    for f in analyze(src, **kw):
        out.setdefault(f.symbol, set()).add(f.pattern)
    return out


# --- the fixture: every function's `# expect:` comment -------------------------------------


def _fixture_cases() -> List[Tuple[str, Set[str]]]:
    cases = []
    for line in FIXTURE.read_text(encoding="utf-8").splitlines():
        m = EXPECT.search(line)
        d = re.match(r"\s*(?:async\s+)?def\s+(\w+)", line)
        if m and d:
            want = {p.strip() for p in m.group(1).split(",")} - {"none"}
            cases.append((d.group(1), want))
    return cases


FIXTURE_CASES = _fixture_cases()


def test_fixture_covers_every_pattern_both_ways():
    positives = {p for _, want in FIXTURE_CASES for p in want}
    assert positives == set(PATTERNS)
    assert sum(1 for _, want in FIXTURE_CASES if not want) >= len(PATTERNS)


@pytest.mark.parametrize("name,want", FIXTURE_CASES, ids=[c[0] for c in FIXTURE_CASES])
def test_fixture_case(name, want):
    got = patterns(FIXTURE.read_text(encoding="utf-8"), module="async_cases")
    assert got.get(name, set()) == want


def test_registry_modules_declare_a_catalog_pattern():
    import importlib

    from perfscan import catalog

    for rule in RULES:
        mod = importlib.import_module(rule.check.__module__)
        assert mod.ID == rule.pattern, rule.pattern
        assert (mod.__doc__ or "").startswith(rule.pattern + ":"), rule.pattern
        row = catalog.get(rule.pattern)
        assert row.domain == "async" and all(row.section(s) for s in catalog.SECTIONS), rule.pattern


# --- blocking calls ----------------------------------------------------------------------------


def test_blocking_line_metric_and_evidence():
    (f,) = analyze("""
        import time
        async def notify():
            x = 1
            time.sleep(0.05)
    """)
    assert (f.pattern, f.line, f.metric.value, f.metric.unit) == ("blocking-call-in-async", 5, 1, "calls")
    assert f.evidence.startswith("time.sleep at line 5;") and "asyncio.sleep" in f.evidence
    assert f.phase == "static" and f.domain == "async" and f.qualname == "m:notify" and f.file == "m.py"


def test_blocking_hot_path_follows_ran_functions():
    src = """
        import time
        async def hot():
            time.sleep(1)
        async def cold():
            time.sleep(1)
    """
    found = {f.symbol: f for f in analyze(src, ran=frozenset({"m:hot"}))}
    assert found["hot"].hot_path and found["hot"].metric.label == "time.sleep on the hot path"
    assert not found["cold"].hot_path and "not seen running" in found["cold"].metric.label
    unknown = {f.symbol: f for f in analyze(src)}
    assert not unknown["hot"].hot_path and "hot path unknown" in unknown["hot"].metric.label


def test_blocking_method_qualname_for_hot_path():
    src = """
        import time
        class Notifier:
            async def send(self):
                time.sleep(1)
    """
    (f,) = analyze(src, ran=frozenset({"m:Notifier.send"}))
    assert f.qualname == "m:Notifier.send" and f.hot_path


def test_blocking_counts_calls_once_per_function():
    (f,) = analyze("""
        import subprocess
        async def archive(path):
            with open(path, "a") as fh:
                fh.write("x")
            subprocess.run(["true"])
    """)
    assert f.metric.value == 2 and f.line == 4
    assert "open at line 4" in f.evidence and "subprocess.run at line 6" in f.evidence


def test_blocking_user_extension():
    src = """
        from mylib import fetch
        import redis
        async def f():
            fetch()
        async def g():
            client = redis.Redis()
            client.get("k")
    """
    assert patterns(src) == {}
    assert patterns(src, extra=("mylib.fetch", "redis.Redis.get")) == {
        "f": {"blocking-call-in-async"},
        "g": {"blocking-call-in-async"},
    }


def test_blocking_not_fooled_by_own_definitions():
    assert (
        patterns("""
        import time
        def sleep(x):
            return x
        async def f():
            sleep(1)
        async def g():
            import time
            time = None
    """)
        == {}
    )


def test_blocking_ambiguous_import_is_not_guessed():
    assert (
        patterns("""
        try:
            from time import sleep
        except ImportError:
            from mylib import sleep
        async def f():
            sleep(1)
    """)
        == {}
    )


def test_blocking_function_level_import_and_sqlite_chain():
    (f,) = analyze("""
        async def f(db):
            import sqlite3
            conn = sqlite3.connect(db)
            conn.execute("select 1")
            conn.cursor().fetchall()
    """)
    assert f.metric.value == 3


def test_nested_async_def_is_its_own_function():
    found = analyze("""
        import time
        def outer():
            async def inner():
                time.sleep(1)
            return inner
    """)
    assert [(f.symbol, f.qualname) for f in found] == [("inner", "m:outer.<locals>.inner")]


def test_enclosing_parameter_shadows_import():
    assert (
        patterns("""
        from time import sleep
        def make(sleep):
            async def inner():
                sleep(1)
            return inner
    """)
        == {}
    )


# --- aliases --------------------------------------------------------------------------------


def test_aliases_resolve_every_spelling():
    tree = ast.parse(
        textwrap.dedent("""
        import time as t
        import os.path
        import urllib.request as ur
        from requests import get
        from . import sibling
        from ..pkg import thing as other
        def helper(): pass
        X = 1
    """)
    )
    a = Aliases.from_tree(tree, "pkg.sub.mod", "pkg.sub")
    r = lambda s: a.resolve(ast.parse(s, mode="eval").body)  # noqa: E731
    assert r("t.sleep") == "time.sleep"
    assert r("os.path.join") == "os.path.join"
    assert r("ur.urlopen") == "urllib.request.urlopen"
    assert r("get") == "requests.get"
    assert r("sibling.f") == "pkg.sub.sibling.f"
    assert r("other") == "pkg.pkg.thing"
    assert r("helper") == "pkg.sub.mod.helper" and r("X") == "pkg.sub.mod.X"
    assert r("open") == "builtins.open" and r("unknown_name") is None
    assert a.resolve(ast.parse("t.sleep", mode="eval").body, frozenset({"t"})) is None
    assert a.is_module("t") and a.is_module("os") and not a.is_module("get")


# --- sequential awaits ----------------------------------------------------------------------


def test_sequential_metric_and_line():
    (f,) = [
        f
        for f in analyze("""
        async def a(x): return x
        async def b(x): return x
        async def c(x): return x
        async def run(x):
            y = 0
            p = await a(x)
            q = await b(x)
            r = await c(x)
            return p, q, r
    """)
        if f.pattern == "sequential-awaits"
    ]
    assert (f.symbol, f.line, f.metric.value, f.metric.unit) == ("run", 7, 3, "awaits")
    assert f.metric.label == "3 independent sequential awaits" and "asyncio.gather" in f.evidence


def test_sequential_finds_the_independent_tail_after_a_dependency():
    found = patterns("""
        async def run(x):
            a = await f(x)
            b = await g(a)
            c = await h(x)
            d = await k(x)
    """)
    assert found == {"run": {"sequential-awaits"}}


def test_sequential_attribute_writes_conflict_with_reads_of_the_owner():
    assert (
        patterns("""
        async def run(self, x):
            self.a = await f(x)
            b = await g(self)
            c = await h(x)
    """)
        == {}
    )


def test_sequential_different_receivers_do_not_conflict_but_related_ones_do():
    assert patterns("""
        async def run(self):
            a = await self.users.get(1)
            b = await self.orders.get(2)
            c = await self.stock.get(3)
    """) == {"run": {"sequential-awaits"}}
    assert (
        patterns("""
        async def run(self):
            a = await self.users.get(1)
            b = await self.load()
            c = await self.stock.get(3)
    """)
        == {}
    )


# --- runtime records ----------------------------------------------------------------------


def test_parse_slow_callback_task_and_handle(tmp_path):
    root = tmp_path / "proj"
    text = (
        "garbage line\n"
        f"WARNING:asyncio:Executing <Task finished name='Task-1' coro=<notify() done, defined at "
        f"{root}/orders/notify.py:23> result=15> took 0.051 seconds\n"
        f"Executing <Handle cb(1, 'a') at {root}/orders/app.py:12 created at /usr/lib/x.py:5> took 0.2 seconds\n"
        f"Executing <Task pending name='Task-2' coro=<Svc.run() running at /elsewhere/lib.py:40> "
        f"wait_for=<Future pending cb=[Task.task_wakeup()]>> took 1.5 seconds\n"
        "Executing <Task finished> took soon seconds\n"
        "Executing <Handle cb()> took 0.3 seconds\n"
        "Executing <Task pending coro=<x() running at"
    )
    recs = parse_slow_callback_lines(text, root)
    assert [r[:3] for r in recs] == [
        ("orders/notify.py", 23, 0.051),
        ("orders/app.py", 12, 0.2),
        ("/elsewhere/lib.py", 40, 1.5),
    ]
    assert recs[0][3].startswith("Executing <Task finished")


JUNK = [
    "",
    "Executing",
    "took 1 seconds",
    "\x00" * 100,
    "Executing <" * 1000 + " seconds",
    None,
    42,
    "Executing <Task coro=<f() done, defined at x.py:1> took 1 seconds" + "x" * 70000,
]


@pytest.mark.parametrize("junk", JUNK, ids=[f"junk{i}" for i in range(len(JUNK))])
def test_parse_slow_callback_garbage(junk):
    started = time.perf_counter()
    assert parse_slow_callback_lines(junk, "/tmp") == ()
    # not a speed claim: a backtracking regex would take minutes on the 70,000-character line
    assert time.perf_counter() - started < 5


# --- the whole pass on a project on disk ------------------------------------------------------


def make_ctx(root: Path, ran=frozenset(), asyncio_debug=None, target=None, **settings) -> PassContext:
    project = Project(
        root=root,
        name=root.name,
        packages=(),
        source_roots=(root,),
        tests_dir=None,
        console_scripts=(),
        dependencies=(),
        runner=("python",),
        runner_origin="test",
        python_version="3.11",
        has_pytest=True,
    )
    return PassContext(
        Settings(path=root, **settings),
        project,
        Deployment("unknown", (), ()),
        target or Target((), (), "none", 0),
        root,
        root,
        root / ".codeflash",
        60.0,
        PassInputs(ran=frozenset(ran), asyncio_debug=asyncio_debug),
    )


def write(root: Path, files: Dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


RAN = frozenset(
    {
        "inventory.alerts:restock_alert",
        "inventory.alerts:email_supplier",
        "inventory.alerts:post_webhook",
        "inventory.alerts:page_buyer",
        "inventory.alerts:current_prices",
        "inventory.alerts:fetch_price",
    }
)


@pytest.fixture
def inventory(tmp_path) -> Path:
    root = tmp_path / "srv_inventory"
    copy_project(CORPUS / "srv_inventory", root)
    return root


def test_srv_inventory_expectations(inventory):
    result = run_async_pass(make_ctx(inventory, ran=RAN))
    assert result.status == "ok" and result.domain == "async"
    got = {(f.symbol, f.pattern): f for f in result.findings}
    assert set(got) == {
        ("restock_alert", "blocking-call-in-async"),
        ("restock_alert", "sequential-awaits"),
        ("supplier_of", "cache-on-async"),
        ("current_prices", "await-in-loop"),
        ("alert_all", "unbounded-gather"),
        ("archive_alert", "blocking-call-in-async"),
    }
    assert got["restock_alert", "blocking-call-in-async"].hot_path
    assert got["restock_alert", "blocking-call-in-async"].metric.label == "time.sleep on the hot path"
    assert got["restock_alert", "sequential-awaits"].metric.value == 3
    archive = got["archive_alert", "blocking-call-in-async"]
    assert not archive.hot_path and archive.metric.value == 1
    assert all(f.file == "inventory/alerts.py" and f.module == "inventory.alerts" for f in result.findings)
    assert not {f.symbol for f in result.findings} & {"email_supplier", "post_webhook", "page_buyer", "fetch_price"}
    assert result.data.has_async and result.data.async_functions == 9
    assert not any(f.runtime_confirmed for f in result.findings)


def test_srv_inventory_runtime_confirmation(inventory):
    log = (
        f"Executing <Task finished name='Task-1' coro=<restock_alert() done, defined at "
        f"{inventory}/inventory/alerts.py:27> result=9> took 0.041 seconds"
    )
    run = AsyncioDebugRun.from_json({"records": [log], "loops": 1, "callbacks": 9}, inventory)
    result = run_async_pass(make_ctx(inventory, ran=RAN, asyncio_debug=run))
    confirmed = [f for f in result.findings if f.runtime_confirmed]
    assert [(f.symbol, f.pattern) for f in confirmed] == [("restock_alert", "blocking-call-in-async")]
    assert "0.041 s" in confirmed[0].evidence
    assert any(n.startswith("Confirmed at run time") and "restock_alert" in n for n in result.notes)
    assert result.data.confirmed == ("inventory.alerts:restock_alert",)


def test_hot_path_unknown_without_ran_functions(inventory):
    result = run_async_pass(make_ctx(inventory, ran=frozenset()))
    assert not any(f.hot_path for f in result.findings)
    assert any("Hot path unknown" in n for n in result.notes)


def test_no_async_code(tmp_path):
    root = write(
        tmp_path / "p",
        {
            "pkg/__init__.py": "",
            "pkg/core.py": "import time\ndef f():\n    time.sleep(1)\n",
            "tests/test_x.py": "async def test(): pass\n",
        },
    )
    result = run_async_pass(make_ctx(root, ran=frozenset()))
    assert result.findings == () and result.status == "ok"
    assert any(n.startswith("No async code detected") for n in result.notes)
    assert result.data.has_async is False


def test_unparsable_files_are_listed_and_skipped(tmp_path):
    root = write(
        tmp_path / "p",
        {
            "pkg/__init__.py": "",
            "pkg/good.py": "import time\nasync def f():\n    time.sleep(1)\n",
            "pkg/broken.py": "async def f(:\n    pass\n",
            "pkg/latin.py": b"async def f():\n    x = '\xff\xfe'\n",
        },
    )
    result = run_async_pass(make_ctx(root, ran=frozenset()))
    assert [f.symbol for f in result.findings] == ["f"]
    skipped = result.data.skipped
    assert any(s.startswith("pkg/broken.py: ") and "does not parse" in s for s in skipped)
    assert any(s.startswith("pkg/latin.py: ") and "does not decode" in s for s in skipped)
    assert sum("Skipped (does not parse or decode)" in n for n in result.notes) == 2


def test_exclude_and_tests_are_not_project_code(tmp_path):
    root = write(
        tmp_path / "p",
        {
            "app/main.py": "import time\nasync def f():\n    time.sleep(1)\n",
            "app/gen/stub.py": "import time\nasync def g():\n    time.sleep(1)\n",
            "tests/test_app.py": "import time\nasync def test_h():\n    time.sleep(1)\n",
        },
    )
    result = run_async_pass(make_ctx(root, exclude=("app/gen",), ran=frozenset()))
    assert [f.qualname for f in result.findings] == ["app.main:f"]


def test_settings_blocking_calls_extend_the_list(tmp_path):
    root = write(tmp_path / "p", {"svc.py": "from mydb import query\nasync def f():\n    query()\n"})
    assert run_async_pass(make_ctx(root)).findings == ()
    result = run_async_pass(make_ctx(root, blocking_calls=("mydb.query",), ran=frozenset()))
    assert [(f.symbol, f.pattern) for f in result.findings] == [("f", "blocking-call-in-async")]


def test_large_tree(tmp_path):
    # its speed is measured in bench/run.py (the async pass over 10,000 files), not asserted here
    plain = "import os\n\ndef f(x):\n    return os.path.join(x, 'a')\n" * 20
    files = {f"pkg{i // 100}/m{i}.py": plain for i in range(2000)}
    files.update({f"pkg{i}/aio.py": "import asyncio, time\nasync def f():\n    time.sleep(1)\n" for i in range(20)})
    root = write(tmp_path / "big", files)
    result = run_async_pass(make_ctx(root, ran=frozenset()))
    assert len(result.findings) == 20 and result.data.files == 2020


def test_parse_slow_callback_task_without_a_file_is_not_blamed_on_its_callback(tmp_path):
    text = (
        "WARNING:asyncio:Executing <Task pending name='Task-1' coro=<go() running at <string>:7> "
        f"cb=[_done() at {tmp_path}/app.py:180] created at /usr/lib/asyncio/runners.py:100> took 0.080 seconds"
    )
    assert parse_slow_callback_lines(text, tmp_path) == ()


def test_real_debug_mode_line_confirms_restock_alert(inventory):
    # As asyncio 3.11 logs it when restock_alert() runs as the task's coroutine (loop debug, 0.04 s threshold).
    log = (
        f"WARNING:asyncio:Executing <Task pending name='Task-1' coro=<restock_alert() running at "
        f"{inventory}/inventory/alerts.py:29> wait_for=<Future pending cb=[Task.task_wakeup()] created at "
        f"/usr/lib/python3.11/asyncio/base_events.py:427> cb=[_run_until_complete_cb() at "
        f"/usr/lib/python3.11/asyncio/base_events.py:180] created at /usr/lib/python3.11/asyncio/tasks.py:680>"
        f" took 0.052 seconds"
    )
    records = parse_slow_callback_lines(log, inventory)
    assert [r[:3] for r in records] == [("inventory/alerts.py", 29, 0.052)]
    run = AsyncioDebugRun.from_json({"records": [log]}, inventory)
    result = run_async_pass(make_ctx(inventory, ran=RAN, asyncio_debug=run))
    assert [(f.symbol, f.pattern) for f in result.findings if f.runtime_confirmed] == [
        ("restock_alert", "blocking-call-in-async")
    ]


@pytest.mark.parametrize(
    "spread, shown",
    [
        ("*[send(u) for u in users]", "gather(*[...])"),
        ("*(send(u) for u in users)", "gather(*(... for ...))"),
        ("*map(send, users)", "gather(*map(...))"),
    ],
)
def test_unbounded_gather_evidence_quotes_the_shape_in_the_source(spread, shown):
    (f,) = [
        f
        for f in analyze(f"""
        import asyncio

        async def send(u):
            await asyncio.sleep(0)

        async def blast(users):
            await asyncio.gather({spread})
    """)
        if f.pattern == "unbounded-gather"
    ]
    assert f.evidence.startswith(f"asyncio.{shown} at line 8 "), f.evidence


# --- run-time confirmation on a real scan -----------------------------------------------------------

BLOCKING_PROJECT = {
    "pyproject.toml": "[project]\nname = 'app'\nversion = '1'\n",
    "app/__init__.py": "",
    "app/notify.py": (
        "import asyncio\nimport time\n\n\n"
        "async def notify(user):\n"
        "    time.sleep(0.12)  # blocks the event loop\n"
        "    await asyncio.sleep(0)\n"
        "    return user\n\n\n"
        "async def archive(path):\n"
        "    with open(path) as fh:  # blocking too, but never run: stays unconfirmed\n"
        "        return fh.read()\n"
    ),
    "tests/test_notify.py": (
        "import asyncio\n\nfrom app.notify import notify\n\n\n"
        "def test_notify():\n    assert asyncio.run(notify('ann')) == 'ann'\n"
    ),
}


@pytest.mark.slow
def test_a_real_scan_confirms_a_blocking_call_that_held_the_loop(tmp_path):
    # asyncio debug mode in the plain timing run of the project's tests logs the slow step, and the
    # async pass marks the static finding it falls in: nothing here is a made-up log line
    root = write_project(tmp_path / "app", BLOCKING_PROJECT)
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", "cpu,async")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = load_report(root)
    blocking = {f["symbol"]: f for f in report["findings"] if f["pattern"] == "blocking-call-in-async"}
    assert set(blocking) == {"notify", "archive"}
    notify = blocking["notify"]
    assert notify["runtime_confirmed"] is True, report["passes"]["async"]["notes"]
    assert 0.1 <= notify["details"]["runtime_seconds"] < 5
    assert "confirmed at run time: blocked the event loop" in notify["evidence"]
    assert notify["severity"] == "high"  # on the hot path: the CPU pass saw it run
    assert blocking["archive"]["runtime_confirmed"] is False and blocking["archive"]["severity"] == "medium"
    assert report["passes"]["async"]["data"]["confirmed"] == ["app.notify:notify"]
    assert any(
        n.startswith("Confirmed at run time (asyncio debug mode): notify") for n in report["passes"]["async"]["notes"]
    )
    assert_unchanged(before, root)


def test_a_blocking_call_the_cpu_pass_measured_waiting_at_is_confirmed(tmp_path):
    # no asyncio debug run (the tests were named with --test), but the CPU pass's waiting sampler
    # measured the event loop's thread waiting at the call: confirmed, and the status counts it
    import dataclasses

    root = write(
        tmp_path / "proj",
        {
            "m.py": """
                import time
                async def hot():
                    time.sleep(1)
                async def cold():
                    time.sleep(1)
            """
        },
    )
    ctx = make_ctx(root, ran={"m:hot", "m:cold"}, target=Target((), (), "user", 0))
    ctx = dataclasses.replace(ctx, inputs=dataclasses.replace(ctx.inputs, waits={"m:hot": {4: 0.25}}))
    res = run_async_pass(ctx)
    found = {f.symbol: f for f in res.findings}
    assert found["hot"].runtime_confirmed and "waited 0.250 s per run" in found["hot"].evidence
    assert found["hot"].details["waited_seconds"] == 0.25
    assert not found["cold"].runtime_confirmed
    assert res.data.confirmed == ("m:hot",)
    assert res.data.runtime == "1 of 2 blocking-call findings confirmed"
    assert not any(n.startswith("Run-time confirmation: none") for n in res.notes)
