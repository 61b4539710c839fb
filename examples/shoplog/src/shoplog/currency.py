"""Exchange rates, expanded to a table of every cent amount when imported."""
import math

_RATES = {"EUR": 1.0, "USD": 1.08, "GBP": 0.86, "CHF": 0.95}


def _table():
    table = {}
    for code, rate in _RATES.items():
        for cents in range(40_000):
            table[(code, cents)] = round(cents * rate / 100 + math.sin(cents) * 1e-9, 2)
    return table


TABLE = _table()


def to_eur(code, amount):
    return amount / _RATES[code]
