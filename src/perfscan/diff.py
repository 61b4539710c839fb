"""`perfscan diff BASE.json HEAD.json`: what a change did to the diagnosis.

Findings are matched by identity: (domain, qualname or module, pattern), then, for what is left,
(domain, qualname or module) with the pattern changed. A metric change inside the run-to-run
spread of that domain is not a change (NOISE below; the spread was measured on the corpus,
see README "Comparing scans"): it is reported as unchanged.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from perfscan.models import SEVERITIES

# domain -> (absolute band, relative band): a delta must exceed both to count. CPU compares each
# function's attributable seconds (a share moves when another function gets faster).
# Bands from the spread of repeated scans of the corpus on a shared 2-core machine (docs/design-notes.md):
# import times moved by up to 2x under load, CPU seconds by up to a third, memory by under 5%.
NOISE = {"cpu": (0.05, 0.35), "memory": (1.0, 0.10), "import": (50.0, 0.50), "async": (0.0, 0.0)}


@dataclass(frozen=True)
class Change:
    kind: str  # new | gone | worsened | improved | unchanged
    domain: str
    target: str
    pattern: str
    base: Optional[Dict[str, Any]]
    head: Optional[Dict[str, Any]]

    @property
    def severity(self) -> str:
        f = self.head or self.base or {}
        return str(f.get("severity", "info"))


def _target(f: Dict[str, Any]) -> str:
    return str(f.get("qualname") or f.get("module") or f.get("symbol") or "?")


def significant(domain: str, base: float, head: float) -> bool:
    absolute, relative = NOISE.get(domain, (0.0, 0.0))
    return abs(head - base) > max(absolute, relative * abs(base))


def compare(base: Dict[str, Any], head: Dict[str, Any]) -> List[Change]:
    base_f = list(base.get("findings") or [])
    head_f = list(head.get("findings") or [])
    changes: List[Change] = []
    used = set()

    def take(key_fn) -> None:
        index: Dict[Tuple, List[int]] = {}
        for i, f in enumerate(base_f):
            if i not in used_base:
                index.setdefault(key_fn(f), []).append(i)
        for j, f in enumerate(head_f):
            if j in used:
                continue
            cands = index.get(key_fn(f))
            if cands:
                i = cands.pop(0)
                used_base.add(i)
                used.add(j)
                changes.append(_changed(base_f[i], f))

    used_base: set = set()
    take(lambda f: (f.get("domain"), _target(f), f.get("pattern")))
    take(lambda f: (f.get("domain"), _target(f)))
    base_seconds = _cpu_seconds(base)
    for j, f in enumerate(head_f):
        if j in used:
            continue
        seen = base_seconds.get(_target(f)) if f.get("domain") == "cpu" else None
        if seen is not None:
            # it ran before too, under the reporting threshold: new only if it got slower
            worse = significant("cpu", seen, _seconds(f))
            changes.append(Change("worsened" if worse and _seconds(f) > seen else "unchanged", "cpu", _target(f),
                                  str(f.get("pattern")), None, f))
        else:
            changes.append(Change("new", str(f.get("domain")), _target(f), str(f.get("pattern")), None, f))
    for i, f in enumerate(base_f):
        if i not in used_base:
            changes.append(Change("gone", str(f.get("domain")), _target(f), str(f.get("pattern")), f, None))
    order = {"new": 0, "worsened": 1, "improved": 2, "gone": 3, "unchanged": 4}
    changes.sort(key=lambda c: (order[c.kind], SEVERITIES.index(c.severity) if c.severity in SEVERITIES else 9))
    return changes


def _value(f: Dict[str, Any]) -> float:
    try:
        return float((f.get("metric") or {}).get("value") or 0.0)
    except (TypeError, ValueError):
        return 0.0


def _cpu_seconds(report: Dict[str, Any]) -> Dict[str, float]:
    data = ((report.get("passes") or {}).get("cpu") or {}).get("data") or {}
    funcs = data.get("functions") or {}
    return {str(k): float(v) for k, v in funcs.items() if isinstance(v, (int, float))}


def _seconds(f: Dict[str, Any]) -> float:
    try:
        return float((f.get("details") or {}).get("attributable_seconds"))
    except (TypeError, ValueError):
        return _value(f)


def _changed(b: Dict[str, Any], h: Dict[str, Any]) -> Change:
    domain = str(h.get("domain"))
    bv, hv = _value(b), _value(h)
    if domain == "cpu" and (b.get("details") or {}).get("attributable_seconds") is not None \
            and (h.get("details") or {}).get("attributable_seconds") is not None:
        bv, hv = _seconds(b), _seconds(h)
    if significant(domain, bv, hv):
        kind = "worsened" if hv > bv else "improved"
    else:
        kind = "unchanged"
    pattern = str(h.get("pattern")) if b.get("pattern") == h.get("pattern") else f"{b.get('pattern')} -> {h.get('pattern')}"
    return Change(kind, domain, _target(h), pattern, b, h)


def _metric(f: Optional[Dict[str, Any]]) -> str:
    if not f:
        return "-"
    m = f.get("metric") or {}
    return f"{m.get('value')} {m.get('unit', '')}".strip()


def _sev(c: Change) -> str:
    b = (c.base or {}).get("severity")
    h = (c.head or {}).get("severity")
    if b and h and b != h:
        return f"{b} -> {h}"
    return str(h or b)


def _cell(text: object) -> str:
    return " ".join(str(text).replace("|", "\\|").replace("`", "\\`").split())


def engine_note(base: Dict[str, Any], head: Dict[str, Any]) -> str:
    """CPU seconds from two engines are not comparable: say so."""
    def engine(report: Dict[str, Any]) -> str:
        data = ((report.get("passes") or {}).get("cpu") or {}).get("data") or {}
        return str(data.get("engine_id") or data.get("engine") or "")
    b, h = engine(base), engine(head)
    if b and h and b != h:
        return f"Note: the scans measured CPU with different engines ({b} / {h}); CPU changes may be the engines' difference."
    return ""


def render_markdown(changes: Sequence[Change], note: str = "") -> str:
    counts = {k: sum(1 for c in changes if c.kind == k) for k in ("new", "worsened", "improved", "gone", "unchanged")}
    lines = ["## perfscan diff", ""] + ([note, ""] if note else []) + [
             ", ".join(f"{n} {k}" for k, n in counts.items()), "",
             "| Change | Severity | Domain | Target | Pattern | Base | Head | Delta |",
             "|---|---|---|---|---|---|---|---|"]
    for c in changes:
        delta = ""
        if c.base and c.head:
            if c.domain == "cpu" and (c.base.get("details") or {}).get("attributable_seconds") is not None \
                    and (c.head.get("details") or {}).get("attributable_seconds") is not None:
                # what the classification used: the function's own seconds, not its share
                delta = f"{_seconds(c.head) - _seconds(c.base):+.3f} s"
            else:
                d = _value(c.head) - _value(c.base)
                delta = f"{d:+.1f} {(c.head.get('metric') or {}).get('unit', '')}".strip()
        lines.append("| " + " | ".join(_cell(x) for x in (c.kind, _sev(c), c.domain, c.target, c.pattern, _metric(c.base),
                                                           _metric(c.head), delta)) + " |")
    return "\n".join(lines) + "\n"


def to_json(changes: Sequence[Change]) -> str:
    return json.dumps({"changes": [{"kind": c.kind, "domain": c.domain, "target": c.target, "pattern": c.pattern,
                                    "severity": _sev(c), "base": c.base, "head": c.head} for c in changes],
                       "noise": {d: {"absolute": a, "relative": r} for d, (a, r) in NOISE.items()}}, indent=2) + "\n"


def _load(path: str) -> Dict[str, Any]:
    from perfscan.errors import UsageError
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise UsageError(f"cannot read {path} ({exc.strerror}); pass two scan-report.json files") from None
    except ValueError:
        raise UsageError(f"{path} is not JSON; pass two scan-report.json files") from None
    if not isinstance(data, dict) or "findings" not in data:
        raise UsageError(f"{path} is not a perfscan scan report (no findings); pass two scan-report.json files")
    return data
