"""The icicle chart's data: an approximate call tree of the profiled tests, harness left out.

Built from the profile in pstats' shape (artifacts.pstats_table, the same table as `cpu.pstats`),
which keeps, per function, its callers and the cumulative time spent in it from each caller, not
whole stacks. The tree starts from the roots (functions with no profiled caller, or called only
by the test harness: pytest, pluggy, the probe, the project's own pytest plugins), and a node's
time is shared among its callees in proportion to the caller edges' cumulative time.
Comprehensions and lambdas fold into the function that defines them; recursion stops at the
first repeat. The tree is pruned so the JSON report stays small whatever the profile.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple

from perfscan.passes.cpu.artifacts import Key, Row
from perfscan.passes.cpu.frames import KINDS, FrameNamer

# bars below this share of the chart are pruned, the tree stops at this depth, and it holds at
# most this many bars (a page that opens fast whatever the profile)
FLAME_MIN_SHARE = 0.005
FLAME_MAX_DEPTH = 40
FLAME_MAX_NODES = 2500
ROOT_KIND = "root"


@dataclass(frozen=True)
class FlameNode:
    """One bar: JSON {"n": name, "q": module:qualname, "k": kind, "t": seconds, "f": file:line, "c": [children]}."""

    name: str
    qualname: str
    kind: str  # project, test, library, stdlib, builtin (harness below a root shows as library); "root" at the top
    seconds: float
    where: str
    children: Tuple[FlameNode, ...] = ()

    def to_json(self) -> Dict[str, Any]:
        return {
            "n": self.name,
            "q": self.qualname,
            "k": self.kind,
            "t": self.seconds,
            "f": self.where,
            "c": [c.to_json() for c in self.children],
        }

    @classmethod
    def from_json(cls, raw: Any, depth: int = 0) -> Optional[FlameNode]:
        """None for what is not a node; malformed children are left out."""
        if not isinstance(raw, dict) or depth > FLAME_MAX_DEPTH + 1:
            return None
        seconds = raw.get("t")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            return None
        kind = str(raw.get("k") or "")
        children = raw.get("c")
        if not isinstance(children, list):
            children = []
        nodes = (cls.from_json(c, depth + 1) for c in children)
        return cls(
            str(raw.get("n") or ""),
            str(raw.get("q") or ""),
            kind if kind in KINDS + (ROOT_KIND,) else "library",
            float(seconds),
            str(raw.get("f") or ""),
            tuple(n for n in nodes if n is not None),
        )


def flame_tree(table: Mapping[Key, Row], namer: FrameNamer) -> Optional[FlameNode]:
    """The call tree under "all profiled code", or None when the profile holds no time outside the harness."""
    return _CallTree(table, namer).build()


class _CallTree:
    def __init__(self, table: Mapping[Key, Row], namer: FrameNamer):
        self.table = table
        self.namer = namer
        self.callees: Dict[Key, Dict[Key, float]] = defaultdict(dict)
        for callee, row in table.items():
            for caller, edge in row.callers.items():
                if caller in table and caller != callee:
                    self.callees[caller][callee] = self.callees[caller].get(callee, 0.0) + edge[3]
        self.harness = self._harness()
        self.nodes = 0
        self.min_time = 0.0

    def _harness(self) -> FrozenSet[Key]:
        kind = {k: self.namer.kind(k) for k in self.table}
        harness = {k for k, kd in kind.items() if kd == "harness"}
        changed = True
        while changed:  # library code only the harness calls is the harness's too
            changed = False
            for k, row in self.table.items():
                if k in harness or kind[k] in ("project", "test"):
                    continue
                callers = set(row.callers) - {k}
                if callers and callers <= harness:
                    harness.add(k)
                    changed = True
        return frozenset(harness)

    def _label(self, key: Key) -> str:
        return self.namer.name(key).qualname

    def build(self) -> Optional[FlameNode]:
        roots: Dict[str, Dict[Key, float]] = defaultdict(dict)
        for k, row in self.table.items():
            if k in self.harness:
                continue
            callers = {c: edge[3] for c, edge in row.callers.items() if c != k and c in self.table}
            weight = row.ct if not callers else sum(t for c, t in callers.items() if c in self.harness)
            if weight > 0:
                roots[self._label(k)][k] = weight
        total = sum(sum(parts.values()) for parts in roots.values())
        if total <= 0:
            return None
        self.min_time = total * FLAME_MIN_SHARE
        children = []
        for label, parts in sorted(roots.items(), key=lambda kv: -sum(kv[1].values())):
            if sum(parts.values()) >= self.min_time and self.nodes < FLAME_MAX_NODES:
                children.append(self._expand(label, parts, 1, frozenset([label])))
        return FlameNode("all profiled code", "", ROOT_KIND, _round(total), "", tuple(children))

    def _expand(self, label: str, parts: Dict[Key, float], depth: int, path: FrozenSet[str]) -> FlameNode:
        self.nodes += 1
        total = sum(parts.values())
        first = max(parts, key=lambda k: parts[k])
        named = self.namer.name(first)
        kind = "library" if named.kind == "harness" else named.kind
        if depth >= FLAME_MAX_DEPTH:
            return FlameNode(named.short, named.qualname, kind, _round(total), named.where)
        child_parts: Dict[str, Dict[Key, float]] = defaultdict(lambda: defaultdict(float))
        work = list(parts.items())
        seen = set(parts)
        while work:
            key, t = work.pop()
            ct = self.table[key].ct if key in self.table else 0.0
            if ct <= 0 or t <= 0:
                continue
            scale = t / ct
            for callee, edge in self.callees.get(key, {}).items():
                share = edge * scale
                lab = self._label(callee)
                if lab == label:  # a comprehension of this function: its callees are ours
                    if callee not in seen:
                        seen.add(callee)
                        work.append((callee, share))
                    continue
                if lab in path:  # recursion: the outer frame already holds it
                    continue
                child_parts[lab][callee] += share
        child_total = sum(sum(p.values()) for p in child_parts.values())
        factor = min(1.0, total / child_total) if child_total > 0 else 1.0
        ordered = sorted(child_parts.items(), key=lambda kv: -sum(kv[1].values()))
        children: List[FlameNode] = []
        for lab, p in ordered:
            if sum(p.values()) * factor < self.min_time or self.nodes >= FLAME_MAX_NODES:
                continue
            children.append(self._expand(lab, {k: v * factor for k, v in p.items()}, depth + 1, path | {lab}))
        return FlameNode(named.short, named.qualname, kind, _round(total), named.where, tuple(children))


def _round(seconds: float) -> float:
    return float(f"{seconds:.4g}")
