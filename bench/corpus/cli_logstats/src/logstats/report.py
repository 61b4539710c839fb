"""Summaries of parsed records."""
import copy
from collections import Counter

from .geoip import region_of


def distinct_paths(records):
    """Paths in first-seen order."""
    paths = []
    for rec in records:
        if rec["path"] not in paths:
            paths.append(rec["path"])
    return paths


def redact(records):
    """Copies of the records with the client address hidden."""
    out = []
    for rec in records:
        clean = copy.deepcopy(rec)
        clean["host"] = region_of(rec["host"])
        out.append(clean)
    return out


def sliding_windows(sizes, width, step):
    """Every window of `width` consecutive sizes, `step` apart, for the moving average."""
    windows = []
    for start in range(0, len(sizes) - width + 1, step):
        windows.append(sizes[start:start + width])
    return windows


def moving_average(sizes, width=15_000, step=50):
    return [sum(w) / width for w in sliding_windows(sizes, width, step)]


def status_counts(records):
    return Counter(rec["status"] for rec in records)
