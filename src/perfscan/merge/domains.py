"""Memory, import and async across shards (docs/design.md "Sharded scans").

Each rule works on the shards' findings and on their sections as written in the JSON, so a field
a pass adds later is kept (from the shard the rule picks) without a change here.

- Memory: each shard ran in its own process, so peaks do not add: a finding's merged figure is
  the highest of the shards', with the shard named; per-request growth likewise.
- Import: the same interpreter imports the same modules in every job: the median of the shards'
  figures, so one job on a slower runner does not inflate them.
- Async: static findings are the same in every shard: one per rule, file and line; a run-time
  confirmation in any shard confirms it.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import Any, Callable, Dict, List, Mapping, Sequence, Tuple

from perfscan.models import Finding, Metric

Found = Tuple[str, Finding]  # (shard name, the finding in that shard)


def _group(found: Sequence[Found], key: Callable[[Finding], Tuple[Any, ...]]) -> Dict[Tuple[Any, ...], List[Found]]:
    out: Dict[Tuple[Any, ...], List[Found]] = {}
    for name, f in found:
        out.setdefault(key(f), []).append((name, f))
    return out


def _identity(f: Finding) -> Tuple[Any, ...]:
    return (f.qualname or f.module or f.symbol, f.pattern, f.file)


def merge_memory_findings(found: Sequence[Found], shards: int) -> List[Finding]:
    out = []
    for group in _group(found, _identity).values():
        name, top = max(group, key=lambda t: t[1].metric.value)
        details = dict(top.details)
        details["shard"] = name
        evidence = top.evidence
        if shards > 1:
            evidence += f"; the highest of {len(group)} of {shards} shards: {name}"
        out.append(replace(top, evidence=evidence, details=details))
    return out


def merge_import_findings(found: Sequence[Found]) -> List[Finding]:
    out = []
    for group in _group(found, _identity).values():
        values = sorted(f.metric.value for _, f in group)
        median = round(float(statistics.median(values)), 1)
        # the shard whose figure is the median (the lower middle one for an even count) lends its evidence
        name, base = min(group, key=lambda t: (abs(t[1].metric.value - median), t[1].metric.value))
        label = base.metric.label
        what = label.split(" ms ", 1)[1] if " ms " in label else ""
        metric = Metric(median, base.metric.unit, f"{median:.0f} ms {what}".strip() if what else label)
        details = dict(base.details)
        if len(group) > 1:
            details["shard_values"] = values
        evidence = base.evidence
        if len(group) > 1:
            shown = ", ".join(f"{v:g}" for v in values)
            evidence += f"; median of {len(group)} shards ({shown} {base.metric.unit})"
        out.append(replace(base, metric=metric, evidence=evidence, details=details))
    return out


def merge_async_findings(found: Sequence[Found]) -> List[Finding]:
    out = []
    for group in _group(found, lambda f: (f.pattern, f.file, f.line)).values():
        confirmed = [f for _, f in group if f.runtime_confirmed]
        base = confirmed[0] if confirmed else group[0][1]
        out.append(replace(base, runtime_confirmed=bool(confirmed), hot_path=any(f.hot_path for _, f in group)))
    return out


# -- sections, as JSON objects -------------------------------------------------------------------


def _rows(data: Mapping[str, Any], key: str) -> List[Mapping[str, Any]]:
    value = data.get(key)
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else []


def _num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _highest(rows: Sequence[Mapping[str, Any]], key: Callable[[Mapping[str, Any]], Any], value: str) -> List[Any]:
    best: Dict[Any, Mapping[str, Any]] = {}
    for r in rows:
        k = key(r)
        if k not in best or _num(r.get(value)) > _num(best[k].get(value)):
            best[k] = r
    return sorted(best.values(), key=lambda r: _num(r.get(value)), reverse=True)


def _growth(row: Mapping[str, Any]) -> float:
    sizes = row.get("sizes_mib")
    if not isinstance(sizes, list) or len(sizes) < 2:
        return 0.0
    return (_num(sizes[-1]) - _num(sizes[0])) / (len(sizes) - 1)


def merge_memory_section(sections: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    measured = [s for s in sections if "top" in s]
    if not measured:
        return dict(sections[0]) if sections else {}
    out = dict(measured[0])
    out["top"] = _highest(
        [r for s in measured for r in _rows(s, "top")],
        lambda r: (r.get("function"), r.get("file"), r.get("line")),
        "mib",
    )
    peaks: Dict[str, float] = {}
    for s in measured:
        table = s.get("peak_mib_by_test")
        for test, mib in table.items() if isinstance(table, Mapping) else ():
            peaks[str(test)] = max(peaks.get(str(test), 0.0), _num(mib))
    out["peak_mib_by_test"] = peaks
    out["unattributed_mib"] = max(_num(s.get("unattributed_mib")) for s in measured)
    growth: Dict[Any, Mapping[str, Any]] = {}
    for r in (r for s in measured for r in _rows(s, "growth")):
        if r.get("name") not in growth or _growth(r) > _growth(growth[r.get("name")]):
            growth[r.get("name")] = r
    out["growth"] = list(growth.values())
    out["overhead"] = {}  # the probe's own timings are each run's, not the merge's
    memray = [s["memray"] for s in measured if isinstance(s.get("memray"), Mapping)]
    if memray:
        out["memray"] = max(memray, key=lambda m: _num(m.get("peak_mib")))
    return out


def _median_rows(rows: Sequence[Mapping[str, Any]], key: str, figures: Tuple[str, ...]) -> List[Dict[str, Any]]:
    by: Dict[Any, List[Mapping[str, Any]]] = {}
    for r in rows:
        by.setdefault(r.get(key), []).append(r)
    out = []
    for group in by.values():
        row = dict(group[0])
        for f in figures:
            values = [_num(r.get(f)) for r in group if r.get(f) is not None]
            row[f] = round(float(statistics.median(values)), 1) if values else row.get(f)
        out.append(row)
    return out


def merge_import_section(sections: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    usable = [s for s in sections if s]
    if not usable:
        return {}
    # the waterfall is drawn from one import's timeline: the shard whose slowest import is the median's
    ordered = sorted(usable, key=lambda s: max([_num(r.get("cumulative_ms")) for r in _rows(s, "roots")] or [0.0]))
    out = dict(ordered[(len(ordered) - 1) // 2])
    modules = _median_rows([r for s in usable for r in _rows(s, "modules")], "name", ("self_ms", "cumulative_ms"))
    out["modules"] = sorted(modules, key=lambda r: _num(r.get("cumulative_ms")), reverse=True)[
        : max(len(_rows(s, "modules")) for s in usable)
    ]
    out["roots"] = _median_rows([r for s in usable for r in _rows(s, "roots")], "module", ("self_ms", "cumulative_ms"))
    out["runs"] = min(int(_num(s.get("runs"))) for s in usable)
    return out


def merge_async_section(sections: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    usable = [s for s in sections if s]
    if not usable:
        return {}
    out = dict(usable[0])
    for key in ("has_async", "hot_path_known"):
        out[key] = any(bool(s.get(key)) for s in usable)
    for key in ("files", "async_files", "async_functions"):
        out[key] = max(int(_num(s.get(key))) for s in usable)
    for key in ("skipped", "confirmed"):
        out[key] = list(dict.fromkeys(str(x) for s in usable for x in (s.get(key) or ())))
    out["runtime"] = "; ".join(dict.fromkeys(str(s.get("runtime")) for s in usable if s.get("runtime")))
    return out
