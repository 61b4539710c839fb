import asyncio
import json

from inventory.alerts import current_prices, restock_alert
from inventory.wsgi import application


def get(path):
    seen = {}

    def start_response(status, headers):
        seen["status"] = status

    body = b"".join(application({"PATH_INFO": path, "REQUEST_METHOD": "GET"}, start_response))
    return seen["status"], body


def test_export(stocked):
    for _ in range(10):
        for w in range(20):
            status, body = get("/warehouses/wh%d/export" % w)
            assert status == "200 OK"
            lines = body.decode().split("}\n")
            assert len(lines) == 91
            assert json.loads(lines[0] + "}")["warehouse"] == "wh%d" % w


def test_not_found():
    status, _ = get("/nope")
    assert status.startswith("404")


def test_restock_alert():
    assert asyncio.run(restock_alert("ART000001", "low")) == 9


def test_current_prices():
    assert asyncio.run(current_prices(["ART000001", "ART000002"])) == [9.5, 9.5]
