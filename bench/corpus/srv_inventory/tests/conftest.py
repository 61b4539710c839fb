import pytest

from inventory.wsgi import STOCK


@pytest.fixture(scope="session")
def stocked():
    rows = [("ART%06d" % ((i * 37) % 90_000), "wh%d" % (i % 20), i % 50) for i in range(1_800)]
    STOCK.load(rows)
    return STOCK
