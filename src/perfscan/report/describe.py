"""Short descriptions of findings shared by every format."""

from __future__ import annotations

from typing import Mapping

from perfscan import catalog
from perfscan.models import DOMAIN_TITLES, RankedFinding, Thresholds

# id -> the words printed after a finding's metric; the catalog's titles, under the name the
# renderers import
PATTERN_WORDS: Mapping[str, str] = catalog.titles()


def target_name(r: RankedFinding) -> str:
    f = r.finding
    if f.domain == "import":
        return f.module or f.symbol
    where = f"{f.file}:{f.line}" if f.file and f.line else (f.file or "")
    name = f.qualname.split(":")[-1] if f.qualname else f.symbol
    return f"{name} ({where})" if where else name


def one_line(r: RankedFinding) -> str:
    f = r.finding
    pattern = PATTERN_WORDS.get(f.pattern, "") if f.pattern != catalog.NO_PATTERN else ""
    text = f"{target_name(r)}: {f.metric.label}"
    if pattern:
        text += f", {pattern}"
    return f"{text} [{r.severity} {DOMAIN_TITLES.get(f.domain, f.domain)}]"


_THRESHOLD_UNITS = {"cpu": "%", "memory": " MiB", "import": " ms"}


def describe_thresholds(thresholds: Thresholds) -> str:
    """`cpu: critical > 30%, high > 10%, medium > 2%; ...`"""
    return "; ".join(
        f"{d}: " + ", ".join(f"{s} > {b:g}{_THRESHOLD_UNITS.get(d, '')}" for b, s in levels)
        for d, levels in thresholds.table
    )
