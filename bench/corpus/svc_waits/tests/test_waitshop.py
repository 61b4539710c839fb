from waitshop.delivery import GatewayDown, send_with_retry
from waitshop.orders import open_db, order_totals, order_totals_joined
from waitshop.quotes import fetch_quotes, fetch_quotes_batched
from waitshop.ranking import top_customers
from waitshop.stock import LEDGER, reserve_all

SKUS = ["sku%03d" % i for i in range(150)]


def test_quotes(quote_service):
    quotes = fetch_quotes(*quote_service, SKUS)
    assert quotes["sku001"] == 16.0 and len(quotes) == 150


def test_quotes_batched(quote_service):
    assert fetch_quotes_batched(*quote_service, SKUS[:20])["sku002"] == 16.0


def test_order_totals():
    db = open_db(10000, 2)
    ids = list(range(10000))
    for _ in range(2):  # the monthly and the quarterly report
        assert order_totals(db, ids) == order_totals_joined(db, ids)


def test_reserve_all():
    skus = ["sku%d" % (i % 30) for i in range(160)]
    assert len(reserve_all(skus)) == 160
    assert sum(LEDGER.values()) >= 160


def test_send_with_retry():
    failures = [3]

    def send(message):
        if failures[0]:
            failures[0] -= 1
            raise GatewayDown(message)
        return "sent " + message

    assert send_with_retry(send, "order 42") == "sent order 42"


def test_top_customers():
    orders = [(i, "customer%d" % ((i * 7919) % 2000)) for i in range(6000)]
    top = top_customers(orders)
    assert len(top) == 10
