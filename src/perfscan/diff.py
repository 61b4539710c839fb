"""`perfscan diff BASE.json HEAD.json`: what a change did to the diagnosis.

Findings are matched by identity: (domain, qualname or module, pattern), then, for what is left,
(domain, qualname or module) with the pattern changed. A metric change inside the run-to-run
spread of that domain is not a change (NOISE below; the spread was measured on the corpus,
see docs/design.md "Diff"): it is reported as unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from perfscan.models import SEVERITIES, RankedFinding
from perfscan.report.json_report import finding_dict
from perfscan.report.markdown import table_row
from perfscan.report.saved import ranked_findings, read_report_json

# domain -> (absolute band, relative band): a delta must exceed both to count. CPU compares each
# function's wall seconds, its attributable CPU plus its waiting (a share moves when another
# function gets faster); a report made before waiting was measured has CPU seconds alone.
# Bands from the spread of repeated scans of the corpus on a shared 2-core machine (docs/design.md "Diff"):
# import times moved by up to 2x under load, CPU seconds by up to a third, memory by under 5%.
NOISE = {"cpu": (0.05, 0.35), "memory": (1.0, 0.10), "import": (50.0, 0.50), "async": (0.0, 0.0)}


@dataclass(frozen=True)
class Change:
    kind: str  # new | gone | worsened | improved | unchanged
    domain: str
    target: str
    pattern: str
    base: Optional[RankedFinding]
    head: Optional[RankedFinding]

    @property
    def severity(self) -> str:
        found = self.head or self.base
        return found.severity if found else "info"


def _target(r: RankedFinding) -> str:
    f = r.finding
    return f.qualname or f.module or f.symbol or "?"


def significant(domain: str, base: float, head: float) -> bool:
    absolute, relative = NOISE.get(domain, (0.0, 0.0))
    return abs(head - base) > max(absolute, relative * abs(base))


def compare(base: Mapping[str, Any], head: Mapping[str, Any]) -> List[Change]:
    """What changed between two `scan-report.json` documents."""
    base_f = ranked_findings(base)
    head_f = ranked_findings(head)
    changes: List[Change] = []
    used: Set[int] = set()
    used_base: Set[int] = set()

    def take(key_fn: Callable[[RankedFinding], Tuple[Any, ...]]) -> None:
        index: Dict[Tuple[Any, ...], List[int]] = {}
        for i, r in enumerate(base_f):
            if i not in used_base:
                index.setdefault(key_fn(r), []).append(i)
        for j, r in enumerate(head_f):
            if j in used:
                continue
            cands = index.get(key_fn(r))
            if cands:
                i = cands.pop(0)
                used_base.add(i)
                used.add(j)
                changes.append(_changed(base_f[i], r))

    take(lambda r: (r.finding.domain, _target(r), r.finding.pattern))
    take(lambda r: (r.finding.domain, _target(r)))
    base_seconds = _cpu_seconds(base)
    for j, r in enumerate(head_f):
        if j in used:
            continue
        f = r.finding
        seen = base_seconds.get(_target(r)) if f.domain == "cpu" else None
        if seen is not None:
            # it ran before too, under the reporting threshold: new only if it got slower
            worse = significant("cpu", seen, _seconds(r))
            changes.append(
                Change(
                    "worsened" if worse and _seconds(r) > seen else "unchanged", "cpu", _target(r), f.pattern, None, r
                )
            )
        else:
            changes.append(Change("new", f.domain, _target(r), f.pattern, None, r))
    for i, r in enumerate(base_f):
        if i not in used_base:
            changes.append(Change("gone", r.finding.domain, _target(r), r.finding.pattern, r, None))
    order = {"new": 0, "worsened": 1, "improved": 2, "gone": 3, "unchanged": 4}
    changes.sort(key=lambda c: (order[c.kind], SEVERITIES.index(c.severity) if c.severity in SEVERITIES else 9))
    return changes


def _cpu_data(report: Mapping[str, Any]) -> Mapping[str, Any]:
    # read from the JSON as written: the comparison needs two of its keys, whatever class holds the section
    data: Any = report
    for key in ("passes", "cpu", "data"):
        data = data.get(key) if isinstance(data, Mapping) else None
    return data if isinstance(data, Mapping) else {}


def _cpu_seconds(report: Mapping[str, Any]) -> Dict[str, float]:
    """Every function's wall seconds in a report's CPU section: CPU (`functions`) plus waiting (`waits`)."""
    data = _cpu_data(report)
    funcs, waits = data.get("functions"), data.get("waits")
    if not isinstance(funcs, Mapping):
        return {}
    out = {str(k): float(v) for k, v in funcs.items() if isinstance(v, (int, float))}
    if isinstance(waits, Mapping):
        for k, v in waits.items():
            if isinstance(v, (int, float)):
                out[str(k)] = out.get(str(k), 0.0) + float(v)
    return out


def _detail(r: RankedFinding, key: str) -> Optional[float]:
    value = r.finding.details.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _attributable(r: RankedFinding) -> Optional[float]:
    """The function's wall seconds (CPU plus waiting), or its CPU seconds in a report without waiting."""
    wall = _detail(r, "wall_seconds")
    return wall if wall is not None else _detail(r, "attributable_seconds")


def _seconds(r: RankedFinding) -> float:
    seconds = _attributable(r)
    return seconds if seconds is not None else float(r.finding.metric.value)


def _by_seconds(b: RankedFinding, h: RankedFinding) -> bool:
    """CPU findings are compared by the function's own seconds, not its share, when both have them."""
    return h.finding.domain == "cpu" and _attributable(b) is not None and _attributable(h) is not None


def _changed(b: RankedFinding, h: RankedFinding) -> Change:
    domain = h.finding.domain
    if _by_seconds(b, h):
        bv, hv = _seconds(b), _seconds(h)
    else:
        bv, hv = float(b.finding.metric.value), float(h.finding.metric.value)
    if significant(domain, bv, hv):
        kind = "worsened" if hv > bv else "improved"
    else:
        kind = "unchanged"
    bp, hp = b.finding.pattern, h.finding.pattern
    return Change(kind, domain, _target(h), hp if bp == hp else f"{bp} -> {hp}", b, h)


def _metric(r: Optional[RankedFinding]) -> str:
    if r is None:
        return "-"
    m = r.finding.metric
    return f"{m.value} {m.unit}".strip()


def _sev(c: Change) -> str:
    b = c.base.severity if c.base else ""
    h = c.head.severity if c.head else ""
    if b and h and b != h:
        return f"{b} -> {h}"
    return h or b


def _delta(c: Change) -> str:
    if c.base is None or c.head is None:
        return ""
    if _by_seconds(c.base, c.head):
        # what the classification used: the function's own seconds, not its share, and how they split
        text = f"{_seconds(c.head) - _seconds(c.base):+.3f} s"
        split = [(_detail(r, "cpu_seconds"), _detail(r, "wall_seconds")) for r in (c.base, c.head)]
        (cpu_b, wall_b), (cpu_h, wall_h) = split
        if cpu_b is not None and wall_b is not None and cpu_h is not None and wall_h is not None:
            text += f" (CPU {cpu_h - cpu_b:+.3f} s, waiting {(wall_h - cpu_h) - (wall_b - cpu_b):+.3f} s)"
        return text
    d = float(c.head.finding.metric.value) - float(c.base.finding.metric.value)
    return f"{d:+.1f} {c.head.finding.metric.unit}".strip()


def engine_note(base: Mapping[str, Any], head: Mapping[str, Any]) -> str:
    """CPU seconds from two engines are not comparable: say so."""

    def engine(report: Mapping[str, Any]) -> str:
        data = _cpu_data(report)
        return str(data.get("engine_id") or data.get("engine") or "")

    b, h = engine(base), engine(head)
    if b and h and b != h:
        return f"Note: the scans measured CPU with different engines ({b} / {h}); CPU changes may be the engines' difference."
    return ""


def render_markdown(changes: Sequence[Change], note: str = "") -> str:
    counts = {k: sum(1 for c in changes if c.kind == k) for k in ("new", "worsened", "improved", "gone", "unchanged")}
    lines = (
        ["## perfscan diff", ""]
        + ([note, ""] if note else [])
        + [
            ", ".join(f"{n} {k}" for k, n in counts.items()),
            "",
            "| Change | Severity | Domain | Target | Pattern | Base | Head | Delta |",
            "|---|---|---|---|---|---|---|---|",
        ]
    )
    for c in changes:
        lines.append(
            table_row(c.kind, _sev(c), c.domain, c.target, c.pattern, _metric(c.base), _metric(c.head), _delta(c))
        )
    return "\n".join(lines) + "\n"


def to_json(changes: Sequence[Change]) -> str:
    def finding(r: Optional[RankedFinding]) -> Optional[Dict[str, Any]]:
        return finding_dict(r) if r is not None else None

    return (
        json.dumps(
            {
                "changes": [
                    {
                        "kind": c.kind,
                        "domain": c.domain,
                        "target": c.target,
                        "pattern": c.pattern,
                        "severity": _sev(c),
                        "base": finding(c.base),
                        "head": finding(c.head),
                    }
                    for c in changes
                ],
                "noise": {d: {"absolute": a, "relative": r} for d, (a, r) in NOISE.items()},
            },
            indent=2,
        )
        + "\n"
    )


def _load(path: str) -> Dict[str, Any]:
    return read_report_json(path, "pass two scan-report.json files")
