"""Run-time confirmation of blocking calls in async code: the probe's asyncio debug mode, the
stacks it samples while a callback blocks, matching them to findings, and saying why when
nothing is confirmed; end to end on a FastAPI app tested with pytest-asyncio 1.x and httpx's
ASGITransport."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict

import pytest
from conftest import assert_unchanged, load_report, run_perfscan, tree_state, write_project
from test_async_pass import make_ctx

from perfscan.models import Target
from perfscan.passes.async_pass import run_async_pass
from perfscan.passes.async_pass.records import AsyncioDebugRun
from perfscan.probe_host import install_probe

APP: Dict[str, str] = {
    "pyproject.toml": textwrap.dedent("""\
        [project]
        name = "quotes"
        version = "0.1"

        [tool.setuptools]
        packages = ["quotes"]

        [tool.pytest.ini_options]
        testpaths = ["tests"]
        asyncio_default_fixture_loop_scope = "function"
    """),
    "quotes/__init__.py": "",
    "quotes/rates.py": textwrap.dedent("""\
        import time


        def _download(currency):
            time.sleep(0.12)  # stands for a sync HTTP client's request
            return {"EUR": 1.08, "GBP": 1.27}.get(currency, 1.0)


        def fetch_rates(currency):
            return {"rate": _download(currency)}


        def report(currencies):
            # blocks too, and only sync code calls it
            return [fetch_rates(c) for c in currencies]
    """),
    "quotes/app.py": textwrap.dedent("""\
        from fastapi import FastAPI

        from quotes.rates import fetch_rates

        app = FastAPI()


        @app.get("/quote/{currency}")
        async def quote(currency: str):
            rates = fetch_rates(currency)
            return {"currency": currency, "rate": rates["rate"]}


        @app.get("/health")
        async def health():
            return {"ok": True}
    """),
    "tests/test_app.py": textwrap.dedent("""\
        import httpx
        import pytest

        from quotes.app import app
        from quotes.rates import report


        async def get(path):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.get(path)


        @pytest.mark.asyncio
        async def test_quote():
            assert (await get("/quote/EUR")).json() == {"currency": "EUR", "rate": 1.08}


        @pytest.mark.asyncio
        async def test_health():
            assert (await get("/health")).json() == {"ok": True}


        def test_report():
            assert len(report(["EUR"])) == 1
    """),
}


def quotes_app(root: Path, reach_quote: bool = True) -> Path:
    files = dict(APP)
    if not reach_quote:  # the tests never call the endpoint that blocks
        files["tests/test_app.py"] = files["tests/test_app.py"].replace('get("/quote/EUR")', 'get("/health")')
        files["tests/test_app.py"] = files["tests/test_app.py"].replace(
            '{"currency": "EUR", "rate": 1.08}', '{"ok": True}'
        )
    return write_project(root, files)


# --- matching records to findings ----------------------------------------------------------------

# As the probe writes it when the app runs inside the test's task (httpx's ASGITransport): the
# record names the test's coroutine, the stack sampled while it blocked runs through the endpoint.
ASGI_RECORD = (
    "Executing <Task pending name='Task-3' coro=<test_quote() running at {root}/tests/test_app.py:16> "
    "cb=[_run_until_complete_cb() at /usr/lib/python3.11/asyncio/base_events.py:180]> took 0.131 seconds"
)
ASGI_STACK = [
    [
        [
            ["quotes/rates.py", 5, "_download"],
            ["quotes/rates.py", 10, "fetch_rates"],
            ["quotes/app.py", 10, "quote"],
        ],
        11,
    ]
]


def test_a_slow_callback_confirms_the_finding_on_its_sampled_stack(tmp_path):
    root = quotes_app(tmp_path / "quotes")
    run = AsyncioDebugRun.from_json(
        {"records": [ASGI_RECORD.format(root=root)], "stacks": [ASGI_STACK], "loops": 2, "callbacks": 40}, root
    )
    result = run_async_pass(make_ctx(root, asyncio_debug=run))
    (f,) = result.findings
    assert f.qualname == "quotes.app:quote" and f.runtime_confirmed
    assert f.evidence.endswith(
        "confirmed at run time: blocked the event loop 0.131 s, sampled in _download at quotes/rates.py:5"
    )
    assert (
        result.data.confirmed == ("quotes.app:quote",)
        and result.data.runtime == "1 of 1 blocking-call finding confirmed"
    )


def test_without_its_stack_the_test_named_by_the_record_confirms_nothing(tmp_path):
    root = quotes_app(tmp_path / "quotes")
    run = AsyncioDebugRun.from_json({"records": [ASGI_RECORD.format(root=root)], "loops": 2, "callbacks": 40}, root)
    result = run_async_pass(make_ctx(root, asyncio_debug=run))
    assert not any(f.runtime_confirmed for f in result.findings)
    assert result.data.runtime.startswith("none (1 slow callback recorded, but no function with a blocking-call")
    assert f"Run-time confirmation: {result.data.runtime}" in result.notes


def test_a_stack_through_code_with_no_finding_is_listed_not_confirmed(tmp_path):
    root = quotes_app(tmp_path / "quotes")
    stack = [[[["quotes/rates.py", 5, "_download"], ["quotes/rates.py", 15, "report"]], 3]]
    run = AsyncioDebugRun.from_json({"records": [ASGI_RECORD.format(root=root)], "stacks": [stack]}, root)
    result = run_async_pass(make_ctx(root, asyncio_debug=run))
    assert not any(f.runtime_confirmed for f in result.findings)
    assert (
        "Run time: quotes/rates.py:5 (_download) held the event loop 0.131 s (no static finding there)" in result.notes
    )


@pytest.mark.parametrize(
    "data, why",
    [
        ({"records": [], "loops": 0, "callbacks": 0}, "none (the tests started no asyncio event loop in debug mode"),
        (
            {"records": [], "loops": 3, "callbacks": 120},
            "none (no callback held the event loop 45 ms or more; 120 callbacks ran in 3 event loops",
        ),
    ],
)
def test_when_nothing_is_confirmed_the_section_says_why(tmp_path, data, why):
    root = quotes_app(tmp_path / "quotes")
    result = run_async_pass(make_ctx(root, asyncio_debug=AsyncioDebugRun.from_json(data, root)))
    assert result.data.runtime.startswith(why)
    assert result.data.to_json()["runtime"] == result.data.runtime
    assert f"Run-time confirmation: {result.data.runtime}" in result.notes


@pytest.mark.parametrize(
    "target, why",
    [
        (Target(("tests/test_app.py::test_quote",), (), "user", 1, "tests named with --test"), "--test skip"),
        (Target((), (), "none", 0, "no test pass selected"), "none (no test run: no test pass selected)"),
    ],
)
def test_without_a_debug_mode_run_the_section_says_why(tmp_path, target, why):
    root = quotes_app(tmp_path / "quotes")
    result = run_async_pass(make_ctx(root, target=target))
    assert why in result.data.runtime and result.data.runtime.startswith("none (")


def test_nothing_to_confirm_says_nothing(tmp_path):
    root = write_project(tmp_path / "p", {"app.py": "import asyncio\n\nasync def f():\n    await asyncio.sleep(0)\n"})
    result = run_async_pass(make_ctx(root))
    assert result.data.runtime == "" and not any("Run-time confirmation" in n for n in result.notes)


# --- the probe ---------------------------------------------------------------------------------

RUN_BLOCKING = """
import asyncio, sys
sys.path.insert(0, ".")
import perfscan_probe.asyncdebug as debug
debug.enable()
import blocker
asyncio.run(blocker.main(), debug=False)   # a runner asking debug mode off, as pytest-asyncio's does
debug.dump(sys.argv[1])
"""


def test_probe_keeps_debug_mode_on_and_samples_the_stack_that_blocked(tmp_path):
    project = write_project(
        tmp_path / "proj",
        {
            "blocker.py": (
                "import asyncio, time\n\n\ndef work():\n    time.sleep(0.15)\n\n\n"
                "async def handler():\n    work()\n\n\nasync def main():\n    await asyncio.sleep(0)\n"
                "    await handler()\n"
            )
        },
    )
    probe = install_probe(tmp_path / "work")
    out = tmp_path / "out"
    out.mkdir()
    env = {"PYTHONPATH": str(probe), "PATH": "/usr/bin:/bin"}
    subprocess.run(
        [sys.executable, "-c", RUN_BLOCKING, str(out)],
        cwd=project,
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
    )
    data = json.loads((out / "asyncio.json").read_text())
    assert data["loops"] == 1 and data["debug_kept_on"] == 1 and data["callbacks"] > 0
    (record,) = [r for r in data["records"] if "took" in r]
    assert "main()" in record  # the record names the task's outermost coroutine ...
    (stacks,) = data["stacks"]
    frames, samples = stacks[0]
    assert samples >= 1  # ... the stack says what blocked, innermost first
    assert frames == [["blocker.py", 5, "work"], ["blocker.py", 9, "handler"], ["blocker.py", 14, "main"]]


# --- end to end ----------------------------------------------------------------------------------


def _runner_has(*modules: str) -> bool:
    code = "import " + ", ".join(modules) + "; import pytest_asyncio as p; assert int(p.__version__.split('.')[0]) >= 1"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60).returncode == 0


needs_app_stack = pytest.mark.skipif(
    not _runner_has("fastapi", "httpx", "pytest_asyncio"),
    reason="needs fastapi, httpx and pytest-asyncio>=1 (perfscan's test extra) in this interpreter",
)


def _scan(root: Path) -> dict:
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", "cpu,async", "--budget", "240", "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert_unchanged(before, root)
    return load_report(root)


@pytest.mark.slow
@needs_app_stack
def test_fastapi_app_under_pytest_asyncio_and_asgi_transport_is_confirmed(tmp_path):
    root = quotes_app(tmp_path / "quotes")
    report = _scan(root)
    (f,) = [f for f in report["findings"] if f["domain"] == "async"]
    assert f["qualname"] == "quotes.app:quote" and f["pattern"] == "blocking-call-in-async"
    assert f["evidence"].startswith("fetch_rates() at line 10 -> _download() (quotes/rates.py:10) -> time.sleep")
    assert f["runtime_confirmed"] and "sampled in _download at quotes/rates.py:5" in f["evidence"]
    section = report["passes"]["async"]
    assert section["data"]["runtime"] == "1 of 1 blocking-call finding confirmed"
    assert any(n.startswith("asyncio debug mode kept on") for n in section["notes"])
    md = (root / ".codeflash" / "scan-report.md").read_text(encoding="utf-8")
    assert "- Confirmed at run time (asyncio debug mode): quote in quotes/app.py:10 blocked the event loop" in md


@pytest.mark.slow
@needs_app_stack
def test_fastapi_app_whose_tests_never_block_says_why_nothing_was_confirmed(tmp_path):
    root = quotes_app(tmp_path / "quotes", reach_quote=False)
    report = _scan(root)
    (f,) = [f for f in report["findings"] if f["domain"] == "async"]
    assert f["qualname"] == "quotes.app:quote" and not f["runtime_confirmed"]
    runtime = report["passes"]["async"]["data"]["runtime"]
    assert runtime.startswith("none (no callback held the event loop 45 ms or more; ")
    md = (root / ".codeflash" / "scan-report.md").read_text(encoding="utf-8")
    assert f"- Run-time confirmation: {runtime}" in md
