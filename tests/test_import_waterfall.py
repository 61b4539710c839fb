"""The import waterfall the import pass hands the HTML page: bars from merged import trees."""

from __future__ import annotations

import json

from perfscan.passes.imports.importtime import ImportNode
from perfscan.passes.imports.section import ImportSection, ModuleRow, RootRow
from perfscan.passes.imports.waterfall import MAX_ROWS, waterfall


def node(name: str, self_ms: float, cum_ms: float, *children: ImportNode, cached: bool = False) -> ImportNode:
    return ImportNode(name, int(self_ms * 1000), int(cum_ms * 1000), 0, list(children), cached)


KINDS = {"app": "project", "app.db": "project", "sqlite3": "stdlib", "yaml": "third-party", "app.cli": "project"}


def test_bars_start_where_the_previous_sibling_ended():
    app = node(
        "app",
        10,
        300,
        node("sqlite3", 2, 0.5),  # under 1% of the slowest import: left out
        node("app.db", 40, 200, node("yaml", 150, 160)),
        node("json", 0, 0, cached=True),  # already loaded: no bar
        node("sqlite3", 5, 89.5),
    )
    cli = node("app.cli", 50, 50)
    wf = waterfall([("app.cli", cli), ("app", app), ("broken", None)], lambda m: KINDS.get(m, "stdlib"))
    assert wf.kind == "tree" and wf.scale_ms == 300.0 and wf.min_ms == 3.0
    got = [(r.target, r.name, r.kind, r.depth, r.start_ms, r.cumulative_ms, r.self_ms) for r in wf.rows]
    assert got == [
        ("app", "app", "project", 0, 0.0, 300.0, 10.0),  # the slowest import first
        ("app", "app.db", "project", 1, 0.5, 200.0, 40.0),
        ("app", "yaml", "third-party", 2, 0.5, 160.0, 150.0),
        ("app", "sqlite3", "stdlib", 1, 200.5, 89.5, 5.0),
        ("app.cli", "app.cli", "project", 0, 0.0, 50.0, 50.0),
    ]


def test_a_big_tree_keeps_only_its_slowest_bars_in_tree_order():
    kids = [node(f"m{i}", 1, 10 + i) for i in range(MAX_ROWS + 20)]
    wf = waterfall([("big", node("big", 1, 1000, *kids))], lambda m: "project")
    assert len(wf.rows) == MAX_ROWS
    names = [r.name for r in wf.rows]
    assert names[0] == "big" and "m0" not in names and names[-1] == f"m{MAX_ROWS + 19}"
    assert [r.start_ms for r in wf.rows] == sorted(r.start_ms for r in wf.rows)


def test_without_a_tree_the_slowest_modules_make_the_bars():
    modules = (
        ModuleRow("app", 5.0, 120.0, "project", "", "app"),
        ModuleRow("yaml", 80.0, 90.0, "third-party", "app/x.py:1", "app"),
    )
    wf = waterfall([("app", None)], lambda m: "project", modules)
    assert wf.kind == "modules" and wf.scale_ms == 120.0
    assert [(r.name, r.start_ms, r.imported_by) for r in wf.rows] == [("app", 0.0, ""), ("yaml", 0.0, "app/x.py:1")]
    assert waterfall([], lambda m: "project").rows == ()


def test_the_section_reads_back_what_it_writes():
    app = node("app", 10, 300, node("app.db", 40, 200))
    section = ImportSection(
        runs=3,
        modules=(ModuleRow("app.db", 40.0, 200.0, "project", "app/__init__.py:1", "app"),),
        roots=(RootRow("app", 3, "", 10.0, 300.0), RootRow("gone", 0, "ModuleNotFoundError", None, None)),
        python="3.11.7",
        waterfall=waterfall([("app", app)], lambda m: "project"),
    )
    text = json.dumps(section.to_json())
    assert set(json.loads(text)) == {"runs", "modules", "roots", "python", "waterfall"}
    assert ImportSection.from_json(json.loads(text)) == section
    # a report written before the waterfall: no key, none read
    old = {k: v for k, v in json.loads(text).items() if k != "waterfall"}
    assert ImportSection.from_json(old).waterfall is None and ImportSection.from_json(old).to_json() == old
