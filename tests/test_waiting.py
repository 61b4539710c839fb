"""Waiting time beside CPU time (docs/design.md "The passes", CPU, Waiting): real projects written
here, scanned for real, the report read back. The three cases that motivated it first: a function
that waits per item ranked first with its waiting share, a query per row labelled
n-plus-one-query, an I/O-bound suite that gets a waiting finding; then the harness's own waiting,
threads contending for a lock, an idle event loop and a blocking call in a coroutine."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import assert_unchanged, load_report, run_perfscan, tree_state, write_project

pytestmark = pytest.mark.slow

PYPROJECT = "[project]\nname = '{name}'\nversion = '1'\n[tool.pytest.ini_options]\ntestpaths = ['tests']\n"


def scan(root, passes="cpu"):
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", passes)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_unchanged(before, root)
    return load_report(root)


def finding(report, symbol):
    found = [f for f in report["findings"] if f["symbol"] == symbol]
    assert found, [(f["symbol"], f["pattern"], f["metric"]["label"]) for f in report["findings"]]
    return found[0]


def line_of(text, needle):
    return text.splitlines().index(needle) + 1


UPSTREAM = (
    "import time\n\n\n"
    "def enrich(items):\n"
    "    out = []\n"
    "    for item in items:\n"
    "        time.sleep(0.02)  # the upstream service's round trip\n"
    "        out.append(item * 2)\n"
    "    return out\n\n\n"
    "def checksum(n):\n"
    "    total = 0\n"
    "    for i in range(n):\n"
    "        total = (total * 31 + i) % 1000003\n"
    "    return total\n"
)


def test_a_function_waiting_per_item_is_ranked_first_with_its_waiting_share(tmp_path):
    root = write_project(
        tmp_path / "upstream",
        {
            "pyproject.toml": PYPROJECT.format(name="upstream"),
            "upstream/__init__.py": "",
            "upstream/enrich.py": UPSTREAM,
            "tests/test_enrich.py": (
                "from upstream.enrich import checksum, enrich\n\n"
                "def test_enrich():\n    assert enrich(list(range(40)))[3] == 6\n\n"
                "def test_checksum():\n    assert checksum(300_000) >= 0\n"
            ),
        },
    )
    report = scan(root)
    top = report["findings"][0]
    assert top["symbol"] == "enrich" and top["pattern"] == "sleep-in-code", top
    assert top["line"] == line_of(UPSTREAM, "        time.sleep(0.02)  # the upstream service's round trip")
    # the share is of wall time, and says how it splits
    assert "waiting in `time.sleep`" in top["metric"]["label"] and "CPU)" in top["metric"]["label"]
    details = top["details"]
    assert details["wait_seconds"] > 0.8 * details["wall_seconds"]
    site = details["wait_sites"][0]
    assert (site["call"], site["kind"], site["count"]) == ("time.sleep", "sleep", 40)
    # the CPU-bound function is there too, below it, and waited for nothing
    cpu = finding(report, "checksum")
    assert cpu["rank"] > top["rank"] and cpu["details"]["wait_seconds"] < 0.1 * cpu["details"]["wall_seconds"]
    data = report["passes"]["cpu"]["data"]
    assert data["waiting"] and data["wait_sites"][0]["function"] == "upstream.enrich:enrich"
    md = (root / ".codeflash" / "scan-report.md").read_text(encoding="utf-8")
    assert "| Function | File:line | Wall | CPU | Waiting | Own | Cumulative | Calls |" in md
    assert "| upstream/enrich.py:7 | upstream.enrich:enrich | time.sleep | sleep |" in md


SHOP_DB = (
    "import sqlite3\n\n\n"
    "def open_db(n):\n"
    "    db = sqlite3.connect(':memory:')\n"
    "    db.execute('CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)')\n"
    "    db.execute('CREATE TABLE price (item_id INTEGER, amount REAL)')\n"
    "    db.executemany('INSERT INTO item VALUES (?, ?)', [(i, 'item%d' % i) for i in range(n)])\n"
    "    db.executemany('INSERT INTO price VALUES (?, ?)', [(i, i * 1.5) for i in range(n)])\n"
    "    return db\n\n\n"
    "def total_price(db):\n"
    "    total = 0.0\n"
    "    for (item_id,) in db.execute('SELECT id FROM item').fetchall():\n"
    "        row = db.execute('SELECT amount FROM price WHERE item_id = ?', (item_id,)).fetchone()\n"
    "        total += row[0]\n"
    "    return total\n\n\n"
    "def total_price_joined(db):\n"
    "    return db.execute('SELECT SUM(amount) FROM item JOIN price ON price.item_id = item.id').fetchone()[0]\n"
)


def test_a_query_per_row_is_n_plus_one_query_with_its_shape_and_count(tmp_path):
    root = write_project(
        tmp_path / "shopdb",
        {
            "pyproject.toml": PYPROJECT.format(name="shopdb"),
            "shopdb/__init__.py": "",
            "shopdb/prices.py": SHOP_DB,
            "tests/test_prices.py": (
                "from shopdb.prices import open_db, total_price, total_price_joined\n\n"
                "def test_total():\n"
                "    db = open_db(3000)\n"
                "    for _ in range(3):\n"
                "        assert total_price(db) == total_price_joined(db)\n"
            ),
        },
    )
    report = scan(root)
    f = finding(report, "total_price")
    assert f["pattern"] == "n-plus-one-query", f
    query = "        row = db.execute('SELECT amount FROM price WHERE item_id = ?', (item_id,)).fetchone()"
    assert f["line"] == line_of(SHOP_DB, query)
    loop = line_of(SHOP_DB, "    for (item_id,) in db.execute('SELECT id FROM item').fetchall():")
    assert (
        f"9,000 x `SELECT ... FROM price WHERE item_id = ?` from line {f['line']} inside the loop at line {loop}"
        in (f["evidence"])
    )
    assert f["details"]["statements"][0]["count"] == 9000
    # the join and the batch inserts are no N+1
    assert all(
        g["pattern"] != "n-plus-one-query"
        for g in report["findings"]
        if g["symbol"] in ("total_price_joined", "open_db")
    )


QUOTES = (
    "import socket\n\n\n"
    "def fetch_quotes(port, skus):\n"
    "    quotes = {}\n"
    "    with socket.create_connection(('127.0.0.1', port)) as sock:\n"
    "        for sku in skus:\n"
    "            sock.sendall(sku.encode() + b'\\n')\n"
    "            quotes[sku] = float(sock.recv(64).decode())\n"
    "    return quotes\n"
)
SERVER = (
    "import socket, socketserver, threading, time\n"
    "import pytest\n\n\n"
    "class Slow(socketserver.StreamRequestHandler):\n"
    "    def handle(self):\n"
    "        for line in self.rfile:\n"
    "            time.sleep(0.003)  # the service's latency\n"
    "            self.wfile.write(b'%d' % len(line))\n\n\n"
    "@pytest.fixture(scope='session')\n"
    "def port():\n"
    "    server = socketserver.ThreadingTCPServer(('127.0.0.1', 0), Slow)\n"
    "    server.daemon_threads = True\n"
    "    threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True).start()\n"
    "    time.sleep(0.3)  # the harness waits for its server: not the project's time\n"
    "    yield server.server_address[1]\n"
    "    server.shutdown()\n"
)


def test_an_io_bound_suite_gets_a_waiting_finding_and_the_harness_waiting_is_not_blamed(tmp_path):
    root = write_project(
        tmp_path / "quotes",
        {
            "pyproject.toml": PYPROJECT.format(name="quotes"),
            "quotes/__init__.py": "",
            "quotes/client.py": QUOTES,
            "tests/conftest.py": SERVER,
            "tests/test_client.py": (
                "import time\nfrom quotes.client import fetch_quotes\n\n"
                "def test_quotes(port):\n"
                "    assert len(fetch_quotes(port, ['sku%d' % i for i in range(120)])) == 120\n"
                "    time.sleep(0.2)  # the test's own wait\n"
            ),
        },
    )
    report = scan(root)
    f = finding(report, "fetch_quotes")
    assert f["pattern"] == "io-in-loop" and f["line"] == line_of(
        QUOTES, "            quotes[sku] = float(sock.recv(64).decode())"
    )
    assert "waiting in `sock.recv`" in f["metric"]["label"] and "inside the loop at line 7" in f["evidence"]
    # the fixture's and the test's own sleeps are the harness's: in the wall time, on no function
    assert all(g["file"].startswith("quotes/") for g in report["findings"])
    data = report["passes"]["cpu"]["data"]
    assert data["harness_wait_seconds"] > 0.3
    assert any("waiting outside project code" in n for n in report["passes"]["cpu"]["notes"])


STOCK = (
    "import threading\nimport time\nfrom concurrent.futures import ThreadPoolExecutor\n\n"
    "LEDGER = {}\nLOCK = threading.Lock()\n\n\n"
    "def reserve(sku):\n"
    "    with LOCK:\n"
    "        time.sleep(0.002)\n"
    "        LEDGER[sku] = LEDGER.get(sku, 0) + 1\n"
    "    return sku\n\n\n"
    "def reserve_all(skus):\n"
    "    with ThreadPoolExecutor(4) as pool:\n"
    "        return list(pool.map(reserve, skus))\n"
)


def test_workers_contending_for_one_lock_are_lock_contention_and_the_pool_owner_is_not_blamed(tmp_path):
    root = write_project(
        tmp_path / "stock",
        {
            "pyproject.toml": PYPROJECT.format(name="stock"),
            "stock/__init__.py": "",
            "stock/ledger.py": STOCK,
            "tests/test_ledger.py": (
                "from stock.ledger import reserve_all\n\n"
                "def test_reserve():\n    assert len(reserve_all(['s%d' % (i % 9) for i in range(150)])) == 150\n"
            ),
        },
    )
    report = scan(root)
    f = finding(report, "reserve")
    assert f["pattern"] == "lock-contention" and f["line"] == line_of(STOCK, "    with LOCK:"), f
    assert "to acquire `LOCK`" in f["evidence"] and "(150 acquisitions)" in f["evidence"]
    # threads side by side are scaled to the wall time: shares stay shares
    assert sum(g["metric"]["value"] for g in report["findings"]) <= 100.5
    # the main thread's waiting in the pool is the workers' time, not the pool owner's
    assert not [g for g in report["findings"] if g["symbol"] == "reserve_all"]


LOOPS = (
    "import asyncio\nimport time\n\n\n"
    "async def tick():\n"
    "    await asyncio.sleep(0.4)\n\n\n"
    "def run_ticks():\n"
    "    asyncio.run(tick())\n\n\n"
    "async def blocking_handler():\n"
    "    time.sleep(0.25)\n"
    "    await asyncio.sleep(0)\n\n\n"
    "def run_handler():\n"
    "    asyncio.run(blocking_handler())\n"
)


def test_an_idle_event_loop_is_no_finding_and_a_blocking_call_in_a_coroutine_is_confirmed(tmp_path):
    root = write_project(
        tmp_path / "loops",
        {
            "pyproject.toml": PYPROJECT.format(name="loops"),
            "loops/__init__.py": "",
            "loops/run.py": LOOPS,
            "tests/test_run.py": (
                "from loops.run import run_handler, run_ticks\n\n"
                "def test_ticks():\n    run_ticks()\n\n"
                "def test_handler():\n    run_handler()\n"
            ),
        },
    )
    report = scan(root, passes="cpu,async")
    cpu = {f["symbol"]: f for f in report["findings"] if f["domain"] == "cpu"}
    # the loop awaiting asyncio.sleep is idle: neither the coroutine nor the function running the loop waited
    assert "run_ticks" not in cpu and "tick" not in cpu, sorted(cpu)
    # the coroutine that blocks waits at its time.sleep line, and the async finding is confirmed by it
    assert cpu["blocking_handler"]["pattern"] == "sleep-in-code"
    blocking = [f for f in report["findings"] if f["domain"] == "async" and f["symbol"] == "blocking_handler"]
    assert blocking and blocking[0]["pattern"] == "blocking-call-in-async" and blocking[0]["runtime_confirmed"]
    assert "measured at run time: waited" in blocking[0]["evidence"]


def test_diff_compares_wall_seconds_and_says_how_they_split(tmp_path):
    def report(cpu, wait):
        details = {"attributable_seconds": cpu, "cpu_seconds": cpu, "wall_seconds": cpu + wait}
        f = {
            "domain": "cpu",
            "qualname": "m:fetch",
            "pattern": "io-in-loop",
            "severity": "high",
            "metric": {"value": 12.0, "unit": "%"},
            "details": details,
        }
        return {"findings": [f]}

    (tmp_path / "a.json").write_text(json.dumps(report(0.1, 0.5)))
    (tmp_path / "b.json").write_text(json.dumps(report(0.1, 1.5)))
    proc = run_perfscan("diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--fail-on", "high")
    assert proc.returncode == 1, proc.stdout
    assert "| worsened | high | cpu | m:fetch |" in proc.stdout
    assert "+1.000 s (CPU +0.000 s, waiting +1.000 s)" in proc.stdout
