"""Order totals from the order database (sqlite)."""
import sqlite3


def open_db(orders, lines_per_order):
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT)")
    db.execute("CREATE TABLE line (order_id INTEGER, sku TEXT, price REAL, qty INTEGER)")
    db.execute("CREATE INDEX line_order ON line (order_id)")
    db.executemany("INSERT INTO orders VALUES (?, ?)", [(i, "c%d" % (i % 97)) for i in range(orders)])
    db.executemany(
        "INSERT INTO line VALUES (?, ?, ?, ?)",
        [(i, "sku%d" % j, 1.5 + j, 1 + (i + j) % 3) for i in range(orders) for j in range(lines_per_order)],
    )
    return db


def order_totals(db, order_ids):
    """Total of each order: one query per order."""
    totals = {}
    for order_id in order_ids:
        rows = db.execute("SELECT price, qty FROM line WHERE order_id = ?", (order_id,)).fetchall()
        totals[order_id] = sum(price * qty for price, qty in rows)
    return totals


def order_totals_joined(db, order_ids):
    """The same totals in one query."""
    marks = ",".join("?" * len(order_ids))
    rows = db.execute(
        f"SELECT order_id, SUM(price * qty) FROM line WHERE order_id IN ({marks}) GROUP BY order_id", order_ids
    ).fetchall()
    return dict(rows)
