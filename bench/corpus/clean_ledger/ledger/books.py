"""Ledger utilities, written with the right containers."""
import bisect
import heapq
from collections import defaultdict, deque


def first_seen_accounts(entries):
    """Accounts in the order they first appear."""
    seen = set()
    out = []
    for entry in entries:
        account = entry[0]
        if account not in seen:
            seen.add(account)
            out.append(account)
    return out


def balances(entries):
    totals = defaultdict(int)
    for account, amount in entries:
        totals[account] += amount
    return dict(totals)


def merge_journals(*journals):
    """Journals sorted by time, merged into one sorted journal."""
    return list(heapq.merge(*journals))


def running_total(amounts, window):
    """Sum of the last `window` amounts at each step."""
    recent = deque()
    total = 0
    out = []
    for amount in amounts:
        recent.append(amount)
        total += amount
        if len(recent) > window:
            total -= recent.popleft()
        out.append(total)
    return out


def rate_on(dates, rates, day):
    """The rate in force on `day` (dates sorted)."""
    i = bisect.bisect_right(dates, day) - 1
    return rates[max(i, 0)]
