"""blocking-call-in-async through sync project functions: a small project on disk, the whole pass."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

from test_async_pass import make_ctx, write

from perfscan.models import Finding
from perfscan.passes.async_pass import run_async_pass

BLOCKING = "blocking-call-in-async"

RATES = """
import time

import requests


def fetch_rates(currency):
    resp = requests.get("https://rates.example/" + currency)
    return resp.json()


def _backoff(n):
    time.sleep(0.1 * n)


def _retry(url):
    for i in range(3):
        _backoff(i)
    return url


def cached_rates():
    return _retry("x")


def level1():
    return level2()


def level2():
    return level3()


def level3():
    return level4()


def level4():
    time.sleep(1)


def countdown(n):
    if n:
        return countdown(n - 1)
    return time.sleep(0)


def report(currencies):
    # blocks, and only sync code calls it
    return [fetch_rates(c) for c in currencies]
"""

API = """
import asyncio

from shop import fetch_rates
from shop.rates import cached_rates, countdown, level1, report
from shop.wrap import offloaded_helper
from . import rates
from .client import RatesClient


class Quotes:
    def _load(self):
        return rates.fetch_rates("USD")

    async def quote(self):
        return self._load()

    async def in_a_thread(self):
        return await asyncio.to_thread(fetch_rates, "USD")

    async def in_a_lambda(self):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: fetch_rates("USD"))


async def quote(currency):
    rates_now = fetch_rates(currency)
    return rates_now


async def three_deep():
    return cached_rates()


async def four_deep():
    return level1()


async def recursive():
    return countdown(3)


async def constructs():
    return RatesClient().rate("EUR")


async def decorated():
    return offloaded_helper()


def sync_entry():
    return report(["EUR"])
"""

FILES: Dict[str, str] = {
    "shop/__init__.py": "from .rates import fetch_rates\n",
    "shop/rates.py": RATES,
    "shop/api.py": API,
    "shop/client.py": (
        "import sqlite3\n\n\nclass RatesClient:\n    def __init__(self):\n"
        "        self.db = sqlite3.connect('rates.db')\n\n    def rate(self, c):\n        return 1.0\n"
    ),
    "shop/wrap.py": (
        "import time\n\nfrom asgiref.sync import sync_to_async\n\n\n@sync_to_async\n"
        "def offloaded_helper():\n    time.sleep(1)\n"
    ),
}


def scan(tmp_path: Path) -> Dict[str, Finding]:
    root = write(tmp_path / "p", FILES)
    result = run_async_pass(make_ctx(root))
    assert result.status == "ok"
    return {f.qualname: f for f in result.findings if f.pattern == BLOCKING}


def test_blocking_call_one_level_down_through_a_package_reexport(tmp_path):
    found = scan(tmp_path)
    f = found["shop.api:quote"]
    assert f.line == 27 and f.file == "shop/api.py"  # the call into the chain
    assert f.metric.label == "requests.get via fetch_rates() (hot path unknown)"
    assert f.evidence.startswith("fetch_rates() at line 27 -> requests.get (shop/rates.py:8);")
    (call,) = f.details["calls"]
    assert call["name"] == "requests.get" and call["line"] == 27
    assert call["via"] == [{"function": "shop.rates:fetch_rates", "file": "shop/rates.py", "line": 8}]


def test_blocking_call_through_a_method_of_the_same_class(tmp_path):
    f = scan(tmp_path)["shop.api:Quotes.quote"]
    assert "_load() at line 16 -> fetch_rates() (shop/api.py:13) -> requests.get (shop/rates.py:8)" in f.evidence


def test_three_calls_deep_is_followed_four_is_not(tmp_path):
    found = scan(tmp_path)
    chain = found["shop.api:three_deep"].evidence
    assert chain.startswith(
        "cached_rates() at line 32 -> _retry() (shop/rates.py:23) -> _backoff() (shop/rates.py:18) "
        "-> time.sleep (shop/rates.py:13)"
    )
    assert "shop.api:four_deep" not in found


def test_a_constructor_is_followed_into_its_init(tmp_path):
    f = scan(tmp_path)["shop.api:constructs"]
    assert f.evidence.startswith("RatesClient() at line 44 -> sqlite3.connect (shop/client.py:6)")


def test_recursion_is_cut(tmp_path):
    assert scan(tmp_path)["shop.api:recursive"].evidence.startswith("countdown() at line 40 -> time.sleep")


def test_not_reported_when_the_blocking_helper_is_not_run_by_the_coroutine(tmp_path):
    found = scan(tmp_path)
    # handed to a thread uncalled, or called in a lambda run by an executor
    assert "shop.api:Quotes.in_a_thread" not in found and "shop.api:Quotes.in_a_lambda" not in found
    # a decorator perfscan does not know may run the function elsewhere (sync_to_async does)
    assert "shop.api:decorated" not in found


def test_a_blocking_sync_helper_only_reached_from_sync_code_is_not_reported(tmp_path):
    found = scan(tmp_path)
    assert not {q for q in found if q.startswith(("shop.rates:", "shop.client:", "shop.wrap:"))}
    assert "shop.api:sync_entry" not in found
    assert set(found) == {
        "shop.api:quote",
        "shop.api:Quotes.quote",
        "shop.api:three_deep",
        "shop.api:constructs",
        "shop.api:recursive",
    }


def test_direct_and_reached_calls_make_one_finding(tmp_path):
    root = write(
        tmp_path / "p",
        {
            "app/util.py": "import subprocess\n\n\ndef archive():\n    subprocess.run(['true'])\n",
            "app/main.py": (
                "import time\n\nfrom app.util import archive\n\n\nasync def handle():\n"
                "    archive()\n    time.sleep(0.1)\n"
            ),
        },
    )
    (f,) = run_async_pass(make_ctx(root)).findings
    assert (f.line, f.metric.value) == (7, 2)
    assert f.evidence.startswith("archive() at line 7 -> subprocess.run (app/util.py:5), time.sleep at line 8;")
    assert f.metric.label == "subprocess.run via archive(), time.sleep (hot path unknown)"
