"""The measured run across pytest-xdist workers: each worker's memory.json merged into one
(docs/design.md "Every core").

Each worker traced its own tests in its own process, so its phases are its tests' own: the
merged run has every worker's phases. The census of values held from import is the same in
every worker (the same modules, imported the same way): the first worker's is kept. A value
that grows is seen in each worker that ran tests adding to it, each from its own share of the
tests: the merged sizes start from the largest first size and add every worker's growth, which
is what one process running all the tests would have gained.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

GROWTH_ROWS = 50  # the probe's own cap on the values it reports growing


def merge_workers(raws: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """One memory.json from the workers' (each a dict as the probe wrote it)."""
    first = raws[0]
    merged: Dict[str, Any] = dict(first)
    merged["phases"] = [p for raw in raws for p in _list(raw.get("phases"))]
    merged["import"] = next((raw["import"] for raw in raws if _list(raw.get("import"))), [])
    merged["growth"] = _merged_growth(raws)
    merged["errors"] = [e for raw in raws for e in _list(raw.get("errors"))]
    merged["mode"] = "measure" if any(raw.get("mode") == "measure" for raw in raws) else first.get("mode")
    merged["hook_off"] = next((raw.get("hook_off") for raw in raws if raw.get("hook_off")), "")
    merged["repeat"] = _merged_repeat([raw.get("repeat") for raw in raws])
    # the slowest worker's own timings: the run took as long as it did
    overheads = [_dict(raw.get("overhead")) for raw in raws]
    slowest = max(overheads, key=lambda o: float(o.get("loop_seconds") or 0.0))
    merged["overhead"] = dict(slowest, workers=len(raws))
    return merged


def _merged_growth(raws: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Every worker's growing values, summed by value: most growth first, 50 at most (as the
    probe writes them: the report's growth table takes the first)."""
    by_value: Dict[Tuple[str, str], List[Dict[str, Any]]] = {}
    for raw in raws:
        for row in _list(raw.get("growth")):
            if isinstance(row, dict):
                by_value.setdefault((str(row.get("module")), str(row.get("name"))), []).append(row)
    merged = [_add_growth(rows) for rows in by_value.values()]
    merged.sort(key=_grown, reverse=True)
    return merged[:GROWTH_ROWS]


def _grown(row: Dict[str, Any]) -> int:
    sizes = _ints(row.get("sizes"))
    return sizes[-1] - sizes[0] if sizes else 0


def _add_growth(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    """A value's sizes (and entry counts) over the repetitions, summed over the workers that saw it."""
    if len(rows) == 1:
        return rows[0]
    out = dict(rows[0])
    for key in ("sizes", "entries"):
        series = [_ints(r.get(key)) for r in rows]
        series = [s for s in series if s]
        if not series:
            continue
        length = min(len(s) for s in series)
        base = max(s[0] for s in series)
        out[key] = [base + sum(s[i] - s[0] for s in series) for i in range(length)]
    out["truncated"] = any(bool(r.get("truncated")) for r in rows)
    out["estimated"] = any(bool(r.get("estimated")) for r in rows)
    return out


def _merged_repeat(repeats: Sequence[Any]) -> Dict[str, Any]:
    """Repetitions: as many as every worker that repeated finished; failures and repeated tests
    add up. A worker none of whose tests changed a module-level container repeats nothing: it is
    left out, and the repetitions are skipped only when every worker skipped them."""
    found = [r for r in repeats if isinstance(r, dict)]
    ran = [r for r in found if not r.get("skipped")]
    if not ran:
        return dict(found[0]) if found else {}
    out = {k: v for k, v in ran[0].items() if k != "skipped"}
    out["done"] = min(int(r.get("done") or 0) for r in ran)
    out["failures"] = sum(int(r.get("failures") or 0) for r in ran)
    out["seconds"] = max(float(r.get("seconds") or 0.0) for r in ran)
    tests = [r.get("tests") for r in ran]
    out["tests"] = sum(int(t) for t in tests if t is not None) if all(t is not None for t in tests) else None
    return out


def _list(value: Any) -> List[Any]:
    return list(value) if isinstance(value, list) else []


def _dict(value: Any) -> Dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _ints(value: Any) -> List[int]:
    try:
        return [int(v) for v in value] if isinstance(value, list) else []
    except (TypeError, ValueError):
        return []
