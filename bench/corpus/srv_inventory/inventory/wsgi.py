"""WSGI application: GET /warehouses/<name>/export"""
import json

from .stock import Stock

STOCK = Stock()
_RECENT_EXPORTS = []


def export_rows(warehouse):
    rows = STOCK.in_warehouse(warehouse)
    body = ""
    for row in rows:
        line = json.dumps({"article": row["article"], "barcode": row["barcode"], "quantity": row["quantity"],
                           "warehouse": warehouse}, indent=1, sort_keys=True)
        body = body + line + "\n"
    return body


def application(environ, start_response):
    parts = [p for p in environ.get("PATH_INFO", "").split("/") if p]
    if len(parts) == 3 and parts[0] == "warehouses" and parts[2] == "export":
        body = export_rows(parts[1])
        # kept so a client can fetch the same export again
        _RECENT_EXPORTS.append((parts[1], body))
        start_response("200 OK", [("Content-Type", "application/x-ndjson")])
        return [body.encode()]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]
