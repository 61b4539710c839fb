"""The import patterns, from the merged import trees (docs/design.md "The passes", Import time).

- `import-time-computation`: a project module whose own (self) time is over 50 ms; names the
  module-level statement most likely doing the work.
- `heavy-eager-import`: a third-party module costing over 50 ms (cumulative), imported at the top
  of a project module that reads it in at most 3 functions and not at import time.
- `barrel-import`: a project `__init__.py` importing two or more of its submodules. Metric: what
  a consumer who needs only the cheapest of them pays for the others, i.e. the sum of the eager
  submodules' cumulative times minus the cheapest one's; reported when over 50 ms. Time that
  another import finding already reports is left out (no double counting): a module below a
  submodule with its own `import-time-computation` finding takes out its self time, a third-party
  module with its own `heavy-eager-import` finding its cumulative time. The barrel's evidence
  names what it left out, and those findings name the package that loads them eagerly.

Each finding is blamed on the project import statement that pulled the module in: the first
project module above it in the tree, and the line of that module's statement importing the
branch that leads to it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import AbstractSet, Dict, List, Mapping, Optional, Tuple

from perfscan import catalog
from perfscan.models import Finding, Metric
from perfscan.passes.imports.astinfo import Statement, bound_names, find_import, uses_of, work_statement
from perfscan.passes.imports.classify import PROJECT, THIRD_PARTY, Classifier
from perfscan.passes.imports.importtime import ImportNode, flatten
from perfscan.sources import parse_source

DEFAULT_FLOOR_MS = 50.0  # docs/design.md's `low` bound; [tool.perfscan.thresholds] may move it
FEW_FUNCTIONS = 3


@dataclass(frozen=True)
class Seen:
    """A module where it was first imported (targets in order), with its minimum times."""

    node: ImportNode
    ancestors: Tuple[ImportNode, ...]
    target: str
    runs: int
    self_ms: float
    cumulative_ms: float


@dataclass(frozen=True)
class Blame:
    text: str  # "src/pkg/mod.py:5", "src/pkg/mod.py", or a phrase when no statement did it
    file_line: Optional[str]  # for details["imported_by"]


def first_seen(trees: List[Tuple[str, int, ImportNode]]) -> Dict[str, Seen]:
    """Each module's first import across the targets' trees; its self time is the minimum over
    every run of every target (a module's own work does not depend on who imports it)."""
    best_self: Dict[str, int] = {}
    for _, _, root in trees:
        for node in root.walk():
            if not node.cached:
                best_self[node.name] = min(node.self_us, best_self.get(node.name, node.self_us))
    seen: Dict[str, Seen] = {}
    for target, runs, root in trees:
        for node, ancestors in flatten([root]):
            if node.cached or node.name in seen:
                continue
            seen[node.name] = Seen(
                node, ancestors, target, runs, best_self[node.name] / 1000.0, node.cumulative_us / 1000.0
            )
    return seen


class Blamer:
    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier

    def importer(self, seen: Seen) -> Optional[Tuple[ImportNode, ImportNode]]:
        """(nearest project module above, its child on the path down to this module)."""
        path = seen.ancestors + (seen.node,)
        for i in range(len(path) - 2, -1, -1):
            if self.classifier.kind(path[i].name) == PROJECT:
                return path[i], path[i + 1]
        return None

    def statement(self, importer: str, imported: str) -> Optional[Statement]:
        path = self.classifier.file_of(importer)
        if path is None or path.is_dir():
            return None
        parsed = parse_source(path)
        if parsed.tree is None:
            return None
        found = find_import(parsed.tree, parsed.text, importer, path.name == "__init__.py", imported)
        return found[1] if found else None

    def blame(self, seen: Seen) -> Blame:
        pair = self.importer(seen)
        if pair is None:
            return Blame(f"the entry import (import {seen.target})", None)
        importer, child = pair
        rel = self.classifier.relative(importer.name) or importer.name
        if importer.name.startswith(child.name + "."):
            return Blame(f"the import system, as the package of {importer.name}", None)
        stmt = self.statement(importer.name, child.name)
        if stmt is None:
            return Blame(rel, rel)
        return Blame(f"{rel}:{stmt.line}", f"{rel}:{stmt.line}")


def _ms(ms: float, what: str) -> Metric:
    # The label is formatted from the stored value, not the raw one, so that the two never disagree
    # (363.45 stored as 363.5 would otherwise read "363 ms" beside a value that rounds to 364).
    value = round(ms, 1)
    return Metric(value, "ms", f"{value:.0f} ms {what}")


def _details(seen: Seen, blame: Blame, **extra: object) -> Dict[str, object]:
    out: Dict[str, object] = {
        "self_ms": round(seen.self_ms, 1),
        "cumulative_ms": round(seen.cumulative_ms, 1),
        "runs": seen.runs,
        "imported_by": blame.file_line,
        "target": seen.target,
    }
    out.update(extra)
    return out


def computation_findings(
    seen: Dict[str, Seen], classifier: Classifier, blamer: Blamer, floor_ms: float = DEFAULT_FLOOR_MS
) -> List[Finding]:
    out = []
    for name, s in seen.items():
        if s.self_ms <= floor_ms or classifier.kind(name) != PROJECT:
            continue
        path = classifier.file_of(name)
        rel = classifier.relative(name)
        stmt = None
        if path is not None and path.is_file():
            parsed = parse_source(path)
            stmt = work_statement(parsed.tree, parsed.text) if parsed.tree is not None else None
        blame = blamer.blame(s)
        work = (
            f"work at line {stmt.line}: {stmt.text}"
            if stmt
            else "no module-level statement stands out (the module's size, or work hidden in a decorator)"
        )
        out.append(
            Finding(
                domain="import",
                symbol=name,
                qualname=name,
                module=name,
                file=rel,
                line=stmt.line if stmt else None,
                metric=_ms(s.self_ms, "self"),
                pattern=catalog.IMPORT_TIME_COMPUTATION.id,
                evidence=f"imported by {blame.text}; {work}",
                estimated_impact=f"up to {s.self_ms:.0f} ms off every start-up that imports {name} "
                f"(compute it on first use, or cache it)",
                phase="import",
                third_party=False,
                details=_details(s, blame),
            )
        )
    return out


def heavy_import_findings(
    seen: Dict[str, Seen], classifier: Classifier, blamer: Blamer, floor_ms: float = DEFAULT_FLOOR_MS
) -> List[Finding]:
    out = []
    for name, s in seen.items():
        if s.cumulative_ms <= floor_ms or not s.ancestors or classifier.kind(name) != THIRD_PARTY:
            continue
        importer = s.ancestors[-1]
        if classifier.kind(importer.name) != PROJECT:
            continue  # pulled in by another library: that library's import is the one to move
        path = classifier.file_of(importer.name)
        if path is None or not path.is_file():
            continue
        parsed = parse_source(path)
        if parsed.tree is None:
            continue
        is_package = path.name == "__init__.py"
        found = find_import(parsed.tree, parsed.text, importer.name, is_package, name)
        if found is None:
            continue
        node, stmt = found
        names = bound_names(node, name, importer.name, is_package)
        if not names:
            continue  # a star import: where it is used cannot be told
        functions, at_import = uses_of(parsed.tree, names)
        if at_import or len(functions) > FEW_FUNCTIONS or (not functions and is_package):
            continue  # needed when imported, used widely, or re-exported by a package
        rel = classifier.relative(importer.name) or importer.name
        blame = Blame(f"{rel}:{stmt.line}", f"{rel}:{stmt.line}")
        if functions:
            where = f"used only in {', '.join(functions)}: a local import there defers it to the first call"
        else:
            where = f"not used by name in {rel}: import it where it is needed, or drop it"
        out.append(
            Finding(
                domain="import",
                symbol=name,
                qualname=name,
                module=name,
                file=None,
                line=None,
                metric=_ms(s.cumulative_ms, "cumulative"),
                pattern=catalog.HEAVY_EAGER_IMPORT.id,
                evidence=f"imported at the top of {rel}:{stmt.line} ({stmt.text}); {where}",
                estimated_impact=f"up to {s.cumulative_ms:.0f} ms off start-ups that never call "
                f"{'/'.join(functions) if functions else 'it'}",
                phase="import",
                third_party=True,
                details=_details(s, blame, importer=importer.name, used_in=list(functions)),
            )
        )
    return out


def eager_submodules(name: str, s: Seen, classifier: Classifier) -> List[ImportNode]:
    """The project submodules a package's `__init__.py` imports when it is imported (none for a module)."""
    path = classifier.file_of(name)
    if path is None or path.name != "__init__.py" or classifier.kind(name) != PROJECT:
        return []
    return [
        c
        for c in s.node.children
        if not c.cached and c.name.startswith(name + ".") and classifier.kind(c.name) == PROJECT
    ]


def reported_elsewhere(node: ImportNode, owned: Mapping[str, str]) -> List[Tuple[str, str, float]]:
    """(module, pattern, ms) in an import's subtree that another import finding reports: a module's
    self time for `import-time-computation` (its children are looked at too), a module's whole
    cumulative time for `heavy-eager-import`."""
    out: List[Tuple[str, str, float]] = []
    stack = [node]
    while stack:
        cur = stack.pop()
        if cur.cached:
            continue
        pattern = owned.get(cur.name)
        if pattern == catalog.HEAVY_EAGER_IMPORT.id:
            out.append((cur.name, pattern, cur.cumulative_us / 1000.0))
            continue
        if pattern == catalog.IMPORT_TIME_COMPUTATION.id:
            out.append((cur.name, pattern, cur.self_us / 1000.0))
        stack.extend(cur.children)
    return out


def barrel_findings(
    seen: Dict[str, Seen],
    classifier: Classifier,
    blamer: Blamer,
    floor_ms: float = DEFAULT_FLOOR_MS,
    owned: Optional[Mapping[str, str]] = None,
) -> List[Finding]:
    """`owned`: module -> pattern of the other import findings, whose time a barrel leaves out."""
    out = []
    for name, s in seen.items():
        subs = eager_submodules(name, s, classifier)
        if len(subs) < 2:
            continue
        elsewhere = {c.name: reported_elsewhere(c, owned or {}) for c in subs}
        cost = {c.name: max(c.cumulative_us / 1000.0 - sum(ms for _m, _p, ms in elsewhere[c.name]), 0.0) for c in subs}
        cheapest = min(subs, key=lambda c: cost[c.name])
        heaviest = max(subs, key=lambda c: cost[c.name])
        waste_ms = sum(cost.values()) - cost[cheapest.name]
        if waste_ms <= floor_ms:
            continue
        rel = classifier.relative(name) or name
        stmt = blamer.statement(name, heaviest.name)
        at = f"line {stmt.line}: {stmt.text}" if stmt else "its import"
        blame = blamer.blame(s)
        left_out = [item for c in subs for item in elsewhere[c.name]]
        not_here = (
            "; not counted here, reported by their own findings: "
            + ", ".join(f"{m} ({ms:.0f} ms, {p})" for m, p, ms in left_out)
            if left_out
            else ""
        )
        out.append(
            Finding(
                domain="import",
                symbol=name,
                qualname=name,
                module=name,
                file=rel,
                line=stmt.line if stmt else None,
                metric=_ms(waste_ms, "of unneeded submodules"),
                pattern=catalog.BARREL_IMPORT.id,
                evidence=(
                    f"{rel} imports {len(subs)} submodules eagerly; a consumer of {cheapest.name} alone also "
                    f"pays {waste_ms:.0f} ms, most of it {heaviest.name} ({cost[heaviest.name]:.0f} ms, "
                    f"{at}){not_here}; load submodules lazily (module __getattr__, PEP 562)"
                ),
                estimated_impact=f"up to {waste_ms:.0f} ms off importing any one submodule of {name}",
                phase="import",
                third_party=False,
                details=_details(
                    s,
                    blame,
                    submodules=[c.name for c in subs],
                    heaviest=heaviest.name,
                    heaviest_ms=round(cost[heaviest.name], 1),
                    excluded=[{"module": m, "pattern": p, "ms": round(ms, 1)} for m, p, ms in left_out],
                ),
            )
        )
    return out


def all_findings(seen: Dict[str, Seen], classifier: Classifier, floor_ms: float = DEFAULT_FLOOR_MS) -> List[Finding]:
    blamer = Blamer(classifier)
    own = computation_findings(seen, classifier, blamer, floor_ms) + heavy_import_findings(
        seen, classifier, blamer, floor_ms
    )
    owned = {f.module: f.pattern for f in own if f.module}
    barrels = barrel_findings(seen, classifier, blamer, floor_ms, owned)
    return link_to_barrels(own, seen, classifier, {b.module for b in barrels if b.module}) + barrels


def link_to_barrels(
    findings: List[Finding], seen: Dict[str, Seen], classifier: Classifier, barrels: AbstractSet[str]
) -> List[Finding]:
    """Each finding on a module that a package's `__init__.py` loads eagerly names that package:
    the barrel is why every consumer of the package pays it (and, with a barrel-import finding of
    its own, why that finding left this time out)."""
    holder: Dict[str, str] = {}
    for name, s in seen.items():
        subs = eager_submodules(name, s, classifier)
        if len(subs) < 2:
            continue
        for c in subs:
            for node in c.walk():
                holder.setdefault(node.name, name)
    out = []
    for f in findings:
        package = holder.get(f.module or "")
        if package is None:
            out.append(f)
            continue
        also = (
            f"; loaded eagerly by the package {package} (its __init__.py imports it): every consumer of any "
            f"{package} submodule pays it"
            + (f"; counted here, not in {package}'s barrel-import finding" if package in barrels else "")
        )
        out.append(replace(f, evidence=f.evidence + also, details={**f.details, "barrel": package}))
    return out
