from ledger import balances, first_seen_accounts, merge_journals, running_total
from ledger.books import rate_on


def entries(n):
    return [("acct%d" % (i * 7 % 4000), (i % 97) - 40) for i in range(n)]


def test_first_seen_accounts():
    assert len(first_seen_accounts(entries(300_000))) == 4000


def test_balances():
    totals = balances(entries(300_000))
    assert len(totals) == 4000


def test_merge_and_running_total():
    journals = [list(range(s, 150_000, 5)) for s in range(5)]
    merged = merge_journals(*journals)
    assert merged == list(range(150_000))
    assert running_total(merged, 10)[-1] == sum(range(149_990, 150_000))


def test_rate_on():
    dates = list(range(0, 1000, 10))
    rates = [d / 1000 for d in dates]
    assert [rate_on(dates, rates, d) for d in (0, 15, 995)] == [0.0, 0.01, 0.99]
