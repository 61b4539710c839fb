"""What the import pass hands the reports: its typed section (tables, waterfall) and the `imports.json` tree."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, List

from perfscan.passes.imports.classify import Classifier
from perfscan.passes.imports.findings import Blamer, Seen
from perfscan.passes.imports.importtime import ImportNode
from perfscan.passes.imports.measure import Measurement
from perfscan.passes.imports.section import ImportSection, ModuleRow, RootRow
from perfscan.passes.imports.waterfall import waterfall
from perfscan.safetext import clean_data

TOP_MODULES = 20
SLOW_MS = 5.0  # below this a module is not part of the tree's slow part


def _ms(us: int) -> float:
    return round(us / 1000.0, 1)


def section_data(measurement: Measurement, seen: Dict[str, Seen], classifier: Classifier) -> ImportSection:
    """The slowest modules (by cumulative time), one root per import, and the waterfall of the trees."""
    blamer = Blamer(classifier)
    slow = [s for s in seen.values() if s.cumulative_ms >= SLOW_MS or s.self_ms >= SLOW_MS]
    slow.sort(key=lambda s: (-s.cumulative_ms, -s.self_ms, s.node.name))
    modules = tuple(
        ModuleRow(
            name=s.node.name,
            self_ms=round(s.self_ms, 1),
            cumulative_ms=round(s.cumulative_ms, 1),
            kind=classifier.kind(s.node.name),
            imported_by=blamer.blame(s).text,
            target=s.target,
        )
        for s in slow[:TOP_MODULES]
    )
    roots = []
    trees = []
    for t in measurement.targets:
        tree = t.merged()
        trees.append((t.module, tree))
        roots.append(
            RootRow(
                module=t.module,
                runs=t.runs,
                error=t.error,
                self_ms=_ms(tree.self_us) if tree else None,
                cumulative_ms=_ms(tree.cumulative_us) if tree else None,
            )
        )
    return ImportSection(
        runs=measurement.runs,
        modules=modules,
        roots=tuple(roots),
        python=str(measurement.interpreter.get("version", "")),
        waterfall=waterfall(trees, classifier.kind, modules),
    )


def tree_document(measurement: Measurement, classifier: Classifier) -> Dict[str, Any]:
    """The whole merged tree of each import, minimum times, every node with its kind."""
    targets = []
    for t in measurement.targets:
        tree = t.merged()
        targets.append(
            {
                "module": t.module,
                "runs": t.runs,
                "error": t.error,
                "tree": _annotated(tree, classifier) if tree else None,
            }
        )
    return {
        "schema_version": 1,
        "unit": "us",
        "runs": measurement.runs,
        "python": measurement.interpreter.get("version", ""),
        "note": "minimum self and cumulative time of each module over the runs, warm bytecode cache",
        "imports": targets,
    }


def _annotated(root: ImportNode, classifier: Classifier) -> Dict[str, Any]:
    doc = root.to_dict()
    stack: List[Dict[str, Any]] = [doc]
    while stack:
        node = stack.pop()
        node["kind"] = classifier.kind(node["name"])
        node["self_ms"] = _ms(node["self_us"])
        node["cumulative_ms"] = _ms(node["cumulative_us"])
        stack.extend(node["children"])
    return doc


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json_atomic(path: Path, data: Any) -> None:
    """Write, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(clean_data(data), fh, indent=1)
            fh.write("\n")
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; the reports beside it are not
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
