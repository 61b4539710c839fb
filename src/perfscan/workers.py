"""One run of the tests across pytest-xdist workers, as one run's files (docs/design.md "Every core").

The probe runs in every worker and each writes its own folder (`workers/<id>/` under the run's
output folder); the controller writes the outcomes and the collection. Here the workers' files
become the run's: call counts summed by function (each worker numbers the functions it compiled
in its own order), loop and call-site counts summed, statements concatenated; samples are pooled
by the CPU pass (records.merge_workers), since a worker's share of the tests is one part of one run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from perfscan.probe.contract import WORKERS_DIR

PHASES = ("setup", "call", "teardown")


def worker_dirs(out_dir: Path) -> List[Path]:
    """The folders the run's xdist workers wrote, in worker order (none for a run in one process)."""
    root = out_dir / WORKERS_DIR
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.name)


def merge_counts(found: Sequence[Any]) -> Optional[Dict[str, Any]]:
    """The workers' call counts (time.json's `calls`) as one run's; None when a worker counted nothing."""
    parts: List[Mapping[str, Any]] = [p for p in found if isinstance(p, Mapping) and p.get("functions") is not None]
    if len(parts) != len(found):
        return None  # a worker's tests would be missing from the counts
    if not parts:
        return None
    if len(parts) == 1:
        return dict(parts[0])
    functions: List[Any] = []
    index: Dict[Tuple[Any, ...], int] = {}
    totals: Dict[str, Dict[int, List[int]]] = {p: {} for p in PHASES}
    sites: List[Any] = []
    site_index: Dict[Tuple[Any, ...], int] = {}
    site_totals: Dict[str, Dict[int, int]] = {p: {} for p in PHASES}
    cost: Dict[str, float] = {}
    loops: List[Any] = []
    statements: List[Any] = []
    queries: Optional[Dict[str, Any]] = None
    for part in parts:
        mine = []
        for f in part.get("functions") or []:
            key = tuple(f[:3]) if isinstance(f, list) else (f,)
            if key not in index:
                index[key] = len(functions)
                functions.append(f)
            mine.append(index[key])
        for phase, rows in (part.get("phases") or {}).items():
            for row in rows or []:
                if phase in totals and 0 <= row[0] < len(mine):
                    acc = totals[phase].setdefault(mine[row[0]], [0, 0])
                    acc[0] += int(row[1])
                    acc[1] += int(row[2])
        raw_sites = part.get("sites") or {}
        mine_sites = []
        for s in raw_sites.get("sites") or []:
            key = tuple(s)
            if key not in site_index:
                site_index[key] = len(sites)
                sites.append(s)
            mine_sites.append(site_index[key])
        for phase, rows in (raw_sites.get("phases") or {}).items():
            for row in rows or []:
                if phase in site_totals and 0 <= row[0] < len(mine_sites):
                    j = mine_sites[row[0]]
                    site_totals[phase][j] = site_totals[phase].get(j, 0) + int(row[1])
        for kind, ns in (part.get("cost_ns") or {}).items():
            cost[kind] = min(cost.get(kind, ns), ns)  # each worker measured it; the lower, as the probe does
        loops += list(part.get("loops") or [])
        q = part.get("queries")
        if isinstance(q, Mapping):
            if queries is None:
                queries = {k: v for k, v in q.items() if k != "statements"}
                queries["errors"] = list(q.get("errors") or [])
            else:
                queries["errors"] = list(queries["errors"]) + [
                    e for e in q.get("errors") or [] if e not in queries["errors"]
                ]
            statements += list(q.get("statements") or [])
    if queries is not None:
        queries["statements"] = statements
    merged = dict(parts[0])
    merged.update(
        functions=functions,
        phases={p: [[i, n, rec] for i, (n, rec) in sorted(rows.items())] for p, rows in totals.items()},
        sites={"sites": sites, "phases": {p: [[i, n] for i, n in sorted(r.items())] for p, r in site_totals.items()}},
        cost_ns=cost,
        loops=loops,
        queries=queries,
    )
    return merged
