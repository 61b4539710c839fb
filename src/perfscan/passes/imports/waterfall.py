"""The import waterfall: the slow part of each measured import tree, as bars on one time axis.

The pass computes it once, from the merged trees (each module's minimum over the runs), and
hands it to the reports in its section; the HTML page only draws the rows.
"""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple

from perfscan.passes.imports.importtime import ImportNode
from perfscan.passes.imports.section import ModuleRow, Waterfall, WaterfallRow

# Modules below this share of the slowest import (or this many ms) are left out, and the chart
# keeps at most this many bars (the slowest ones), so the page stays readable.
MIN_SHARE = 0.01
MIN_MS = 1.0
MAX_ROWS = 60


def waterfall(
    trees: Sequence[Tuple[str, Optional[ImportNode]]], kind_of: Callable[[str], str], modules: Sequence[ModuleRow] = ()
) -> Waterfall:
    """Bars for the (top-level module, merged tree) pairs; without any tree, the slowest-modules table."""
    measured = [(target, tree) for target, tree in trees if tree is not None]
    if not measured:
        return _from_modules(modules)
    scale = max(_ms(tree.cumulative_us) for _, tree in measured)
    threshold = max(MIN_MS, scale * MIN_SHARE)
    rows: List[WaterfallRow] = []
    for target, tree in sorted(measured, key=lambda mt: -mt[1].cumulative_us):
        stack = [(tree, 0.0, 0)]
        while stack:
            node, start, depth = stack.pop()
            cumulative = _ms(node.cumulative_us)
            if cumulative < threshold or node.cached:
                continue
            rows.append(
                WaterfallRow(
                    name=node.name,
                    kind=kind_of(node.name),
                    depth=depth,
                    start_ms=round(start, 2),
                    cumulative_ms=round(cumulative, 2),
                    self_ms=round(_ms(node.self_us), 2),
                    target=target,
                )
            )
            # children run one after another: each starts where the previous one ended
            starts, at = [], start
            for child in node.children:
                starts.append(at)
                at += _ms(child.cumulative_us)
            for child, child_start in reversed(list(zip(node.children, starts))):
                stack.append((child, child_start, depth + 1))
    if len(rows) > MAX_ROWS:
        keep = {id(r) for r in sorted(rows, key=lambda r: -r.cumulative_ms)[:MAX_ROWS]}
        rows = [r for r in rows if id(r) in keep]
    return Waterfall(rows=tuple(rows), scale_ms=scale, kind="tree", min_ms=threshold)


def _from_modules(modules: Sequence[ModuleRow]) -> Waterfall:
    rows = tuple(
        WaterfallRow(
            name=m.name, kind=m.kind, cumulative_ms=m.cumulative_ms, self_ms=m.self_ms, imported_by=m.imported_by
        )
        for m in modules[:MAX_ROWS]
        if m.name
    )
    return Waterfall(rows=rows, scale_ms=max([r.cumulative_ms for r in rows] or [0.0]), kind="modules" if rows else "")


def _ms(us: int) -> float:
    return float(us or 0) / 1000.0
