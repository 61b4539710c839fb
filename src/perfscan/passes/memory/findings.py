"""The memory pass's findings: large allocations alive at a peak or held from import, and growth.

- `large-allocation` at a peak: a project function's group holds the floor (1 MiB by default)
  or more at one test's peak; objects another project function made and a container of this
  one keeps alive count here, named in the evidence (holders.py).
- `large-allocation` in phase "import": a module-level value holds the floor or more before the
  first test runs (made at import, alive in every test).
- `per-request-growth`: a module-level value grew on every repetition of the tests (in bytes or
  in entries), by 1 MiB or more in all; in a long-running server, whatever it grew by when its
  rate projected over PROJECTED_RUNS runs of the tests reaches the floor: a server runs its
  requests without end, so a steady 20 KB per request is a leak. A server's growth is ranked by
  that projection.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Sequence

from perfscan import catalog
from perfscan.locate import Locator
from perfscan.models import Finding, Metric
from perfscan.passes.memory.categorize import categorize_at, import_category
from perfscan.passes.memory.groups import Group
from perfscan.passes.memory.records import Growth, ModuleValue
from perfscan.passes.memory.units import MIB, mib

GROWTH_MIB = 1.0  # growth on every repetition, by 1 MiB or more in all
PROJECTED_RUNS = 1000  # a server's growth rate is projected over this many runs of the tests


def source_line(text: str, line: int) -> str:
    lines = text.splitlines()
    if 1 <= line <= len(lines):
        return lines[line - 1].strip()
    return ""


def allocation_finding(g: Group) -> Finding:
    """A group alive at a test's peak, named by its biggest line."""
    line = g.biggest_line
    size = mib(g.bytes)
    cat = categorize_at(g.location, line)
    src = source_line(g.location.source.text, line)
    line_bytes, line_count = g.lines.get(line, (g.bytes, g.count))
    evidence = f"line {line}: `{src[:120]}`" if src else f"line {line}"
    evidence += f" holds {mib(line_bytes):.1f} MiB in {line_count:,} allocation(s)"
    exec_run = g.test == "exec"  # `perfscan exec`: one run of a command, no test
    where_peak = "the command's run" if exec_run else f"{g.test} ({g.phase})"
    whose = "the run's" if exec_run else "the test's"
    for h in g.held:
        evidence += (
            f"; {mib(h.bytes):.1f} MiB of it ({h.count:,} allocation(s)) allocated in {h.qualname} "
            f"({h.rel}:{h.line}: `{h.source[:80]}`) and kept alive by the container built at line {h.holder_line}"
        )
    evidence += f"; {g.count:,} allocation(s) in all, alive at the peak of {where_peak}"
    share = 100.0 * g.bytes / g.phase_peak if g.phase_peak else 0.0
    impact = f"up to {size:.1f} MiB less peak memory" + (
        f" ({min(share, 100.0):.0f}% of {whose} peak)" if share else ""
    )
    top_lines = sorted(g.lines.items(), key=lambda kv: kv[1][0], reverse=True)[:5]
    return Finding(
        domain="memory",
        symbol=g.symbol,
        qualname=f"{g.module}:{g.qualname}",
        module=g.module,
        file=g.rel,
        line=line,
        metric=Metric(round(size, 1), "MiB", f"{size:.1f} MiB alive at the peak"),
        pattern=catalog.LARGE_ALLOCATION.id,
        evidence=evidence,
        estimated_impact=impact,
        phase=g.phase,
        details={
            "category": cat.category,
            "reducibility": cat.reducibility,
            "reason": cat.reason,
            "count": g.count,
            "test": g.test,
            "def_line": g.def_line,
            "test_peak_mib": round(mib(g.phase_peak), 1),
            "lines": [{"line": ln, "mib": round(mib(b), 2), "count": c} for ln, (b, c) in top_lines],
            "allocated_in": [
                {
                    "qualname": h.qualname,
                    "file": h.rel,
                    "line": h.line,
                    "mib": round(mib(h.bytes), 2),
                    "count": h.count,
                    "held_at": h.holder_line,
                }
                for h in g.held
            ],
        },
    )


# -- module-level values: import-time tables and per-request growth


def definition_line(tree: ast.Module, name: str) -> Optional[int]:
    """Line of the module-level assignment of `name` (or `Class.attr` in a class body)."""
    parts = name.split(".")
    body: Sequence[ast.stmt] = tree.body
    if len(parts) == 2:
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name == parts[0]:
                body = node.body
                break
        else:
            return None
    target = parts[-1]
    found: Optional[int] = None
    for node in body:
        names: List[str] = []
        if isinstance(node, ast.Assign):
            for t in node.targets:
                names += [n.id for n in ast.walk(t) if isinstance(n, ast.Name)]
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.If, ast.Try)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Assign):
                    for t in sub.targets:
                        if isinstance(t, ast.Name) and t.id == target and found is None:
                            found = sub.lineno
        if target in names:
            return node.lineno
    return found


@dataclass(frozen=True)
class ValueSite:
    """Where a module-level value the probe measured is defined."""

    name: str  # `NAME`, or `Class.attr`
    rel: str
    module: str
    tree: ast.Module
    line: Optional[int]  # None: no assignment found
    source: str  # the defining line's text, "" when unknown

    def describe(self, type_name: Optional[str], width: int = 80) -> str:
        """`module-level dict `pkg.mod.NAME` (line 3: `NAME = {...}`)`."""
        kind = "value" if type_name is None else type_name
        return f"module-level {kind} `{self.module}.{self.name}`" + (
            f" (line {self.line}: `{self.source[:width]}`)" if self.source else ""
        )

    def finding(self, **measured: Any) -> Finding:
        """A memory finding about this value; `measured` gives the metric, pattern, evidence and the rest."""
        return Finding(
            domain="memory",
            symbol=self.name.split(".")[-1],
            qualname=f"{self.module}:{self.name}",
            module=self.module,
            file=self.rel,
            line=self.line,
            **measured,
        )


def value_site(name: str, file: str, locator: Locator, root: Path) -> Optional[ValueSite]:
    src = locator.source(str(root / file))
    if src is None:
        return None
    line = definition_line(src.tree, name)
    return ValueSite(name, src.rel, src.module, src.tree, line, source_line(src.text, line) if line else "")


def _rising(series: Sequence[int]) -> bool:
    return len(series) >= 2 and all(b > a for a, b in zip(series, series[1:]))


def growing(rec: Growth) -> bool:
    """Grew at every repetition: in bytes, or in entries (the sizes of a value too big to walk
    whole are estimates, its entry count is exact)."""
    return len(rec.sizes) >= 2 and rec.sizes[-1] > rec.sizes[0] and (_rising(rec.sizes) or _rising(rec.entries))


def size_text(n: float) -> str:
    """Bytes as KiB under a MiB, MiB above."""
    return f"{n / 1024:.1f} KiB" if abs(n) < MIB else f"{mib(n):.1f} MiB"


def growth_findings(
    growth: Sequence[Growth], locator: Locator, root: Path, server: bool = False, floor_mib: float = 1.0
) -> List[Finding]:
    out = []
    for rec in growth:
        sizes = rec.sizes
        if not growing(rec):
            continue
        grown = sizes[-1] - sizes[0]
        reps = len(sizes) - 1
        per = grown / reps
        projected = per * PROJECTED_RUNS
        if grown < GROWTH_MIB * MIB and not (server and projected >= floor_mib * MIB):
            continue
        site = value_site(rec.name, rec.file or "", locator, root)
        if site is None:
            continue
        series = " → ".join(f"{mib(s):.2f}" for s in sizes)
        evidence = (
            site.describe(rec.type)
            + f" held {series} MiB across {reps} repetitions of the target tests, growing on every one"
        )
        if len(rec.entries) == len(sizes) and rec.entries[-1] != rec.entries[0]:
            evidence += " (" + " → ".join(f"{n:,}" for n in rec.entries) + " entries)"
        if rec.estimated:
            evidence += " (sizes estimated from a sample of its entries: too big to walk whole)"
        elif rec.truncated:
            evidence += " (sizes are lower bounds: the walk was capped)"
        if server:
            metric = Metric(
                round(mib(projected), 1),
                "MiB",
                f"{mib(projected):.1f} MiB per {PROJECTED_RUNS:,} runs of the tests, projected "
                f"({size_text(per)} per run, measured over {reps} repetitions)",
            )
            impact = (
                f"about {size_text(per)} kept per run of the tests' requests: {mib(projected):.0f} MiB after "
                f"{PROJECTED_RUNS:,} such runs, without bound in the server process"
            )
        else:
            metric = Metric(round(mib(grown), 1), "MiB", f"{mib(grown):.1f} MiB more after {reps} repetitions")
            impact = f"about {mib(per):.1f} MiB kept per run of the tests, without bound in a long-running process"
        out.append(
            site.finding(
                metric=metric,
                pattern=catalog.PER_REQUEST_GROWTH.id,
                evidence=evidence,
                estimated_impact=impact,
                phase="call",
                details={
                    "category": "data structure",
                    "reducibility": "high",
                    "reason": "module-level container that every request adds to and nothing empties: bound it (deque(maxlen), an LRU) or keep it outside the process",
                    "sizes_mib": [round(mib(s), 2) for s in sizes],
                    "per_repetition_mib": round(mib(per), 3),
                    "entries": list(rec.entries),
                    "type": rec.type,
                },
            )
        )
    return out


def import_findings(
    values: Sequence[ModuleValue], locator: Locator, root: Path, floor_mib: float = 1.0
) -> List[Finding]:
    out = []
    for rec in values:
        if rec.bytes < floor_mib * MIB:
            continue
        site = value_site(rec.name, rec.file, locator, root)
        if site is None:
            continue
        size = mib(rec.bytes)
        at_least = "at least " if rec.truncated else ""
        cat = import_category(site.tree, site.line)
        out.append(
            site.finding(
                metric=Metric(round(size, 1), "MiB", f"{at_least}{size:.1f} MiB held from import"),
                pattern=catalog.LARGE_ALLOCATION.id,
                evidence=(
                    site.describe(rec.type)
                    + f" holds {at_least}{size:.1f} MiB before the first test runs: made at import, alive in every test"
                ),
                estimated_impact=f"up to {size:.1f} MiB less resident memory in every process that imports {site.module}",
                phase="import",
                details={
                    "category": cat.category,
                    "reducibility": cat.reducibility,
                    "reason": cat.reason,
                    "type": rec.type,
                    "truncated": rec.truncated,
                },
            )
        )
    return out
