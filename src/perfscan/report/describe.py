"""Short descriptions of findings shared by every format."""
from __future__ import annotations

from perfscan.models import DOMAIN_TITLES, RankedFinding, Thresholds

PATTERN_WORDS = {
    "quadratic-membership": "quadratic membership test",
    "nested-loop": "nested loop",
    "pop-front": "pop from the front of a list",
    "sort-in-loop": "sort inside a loop",
    "deepcopy": "deepcopy",
    "repeated-computation": "repeated computation",
    "string-concat-in-loop": "string concatenation in a loop",
    "serialize-in-loop": "serialization in a loop",
    "regex-in-loop": "regex built in a loop",
    "large-allocation": "large allocation",
    "per-request-growth": "grows on every request",
    "import-time-computation": "work at import time",
    "heavy-eager-import": "heavy eager import",
    "barrel-import": "barrel import",
    "blocking-call-in-async": "blocking call in async code",
    "sequential-awaits": "independent sequential awaits",
    "await-in-loop": "await in a loop",
    "cache-on-async": "cache on an async def",
    "unbounded-gather": "unbounded gather",
    "dangling-task": "dangling task",
}


def target_name(r: RankedFinding) -> str:
    f = r.finding
    if f.domain == "import":
        return f.module or f.symbol
    where = f"{f.file}:{f.line}" if f.file and f.line else (f.file or "")
    name = f.qualname.split(":")[-1] if f.qualname else f.symbol
    return f"{name} ({where})" if where else name


def one_line(r: RankedFinding) -> str:
    f = r.finding
    pattern = PATTERN_WORDS.get(f.pattern, "") if f.pattern != "none" else ""
    text = f"{target_name(r)}: {f.metric.label}"
    if pattern:
        text += f", {pattern}"
    return f"{text} [{r.severity} {DOMAIN_TITLES.get(f.domain, f.domain)}]"


_THRESHOLD_UNITS = {"cpu": "%", "memory": " MiB", "import": " ms"}


def describe_thresholds(thresholds: Thresholds) -> str:
    """`cpu: critical > 30%, high > 10%, medium > 2%; ...`"""
    return "; ".join(f"{d}: " + ", ".join(f"{s} > {b:g}{_THRESHOLD_UNITS.get(d, '')}" for b, s in levels)
                     for d, levels in thresholds.table)
