"""The pattern catalog: every id a pass can emit has a row, and the reports' words come from it."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import REPO

from perfscan import catalog
from perfscan.models import (
    Deployment,
    Finding,
    Metric,
    PassResult,
    Project,
    RankedFinding,
    ScanResult,
    Settings,
    Target,
)
from perfscan.passes.async_pass.registry import RULES
from perfscan.passes.cpu.patterns import REGISTRY
from perfscan.report.describe import one_line
from perfscan.report.sarif import render_sarif

PASSES = REPO / "src" / "perfscan" / "passes"
# `pattern=` values in the passes that are not a catalog row themselves: the CPU pass's chosen
# match (an ID from REGISTRY, or "none") and the async analysis's rule (an ID from RULES)
FROM_A_REGISTRY = {"pattern", "rule.pattern"}

# What the reports printed for each pattern before the catalog existed: the words must not move.
REPORT_WORDS = {
    "quadratic-membership": "quadratic membership test",
    "nested-loop": "nested loop",
    "pop-front": "pop from the front of a list",
    "sort-in-loop": "sort inside a loop",
    "deepcopy": "deepcopy",
    "repeated-computation": "repeated computation",
    "string-concat-in-loop": "string concatenation in a loop",
    "serialize-in-loop": "serialization in a loop",
    "regex-in-loop": "regex built in a loop",
    "large-allocation": "large allocation",
    "per-request-growth": "grows on every request",
    "import-time-computation": "work at import time",
    "heavy-eager-import": "heavy eager import",
    "barrel-import": "barrel import",
    "blocking-call-in-async": "blocking call in async code",
    "sequential-awaits": "independent sequential awaits",
    "await-in-loop": "await in a loop",
    "cache-on-async": "cache on an async def",
    "unbounded-gather": "unbounded gather",
    "dangling-task": "dangling task",
}


def _pattern_arguments():
    """(file, line, value) of every `pattern=` given to a Finding in the passes (directly, or through a
    helper method named `finding`), as source text."""
    for path in sorted(PASSES.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            makes_finding = isinstance(node, ast.Call) and (
                (isinstance(node.func, ast.Name) and node.func.id == "Finding")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "finding")
            )
            if makes_finding:
                for kw in node.keywords:
                    if kw.arg == "pattern":
                        yield path.relative_to(REPO).as_posix(), node.lineno, kw.value


def _declared_ids():
    """Every id the passes name: the CPU and async registries' IDs, and catalog rows named in Finding(pattern=...)."""
    ids = {module.ID for module in REGISTRY} | {rule.pattern for rule in RULES}
    ids.add(catalog.rule_id("cpu", catalog.NO_PATTERN))  # a CPU hotspot with no pattern
    unknown = []
    for where, line, value in _pattern_arguments():
        text = ast.unparse(value)
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            ids.add(value.value)
        elif text.startswith("catalog.") and text.endswith(".id") and text.count(".") == 2:
            ids.add(getattr(catalog, text.split(".")[1]).id)
        elif text not in FROM_A_REGISTRY:
            unknown.append(f"{where}:{line}: pattern={text}")
    assert not unknown, f"pattern ids the test cannot trace to the catalog: {unknown}"
    return ids


def test_every_pattern_a_pass_can_emit_is_in_the_catalog():
    emitted = _declared_ids()
    assert emitted - {p.id for p in catalog.PATTERNS} == set()
    # and no row documents a pattern nothing emits
    assert {p.id for p in catalog.PATTERNS} - emitted == set()


def test_pattern_modules_declare_their_id_the_same_way():
    for module in list(REGISTRY) + [__import__(r.check.__module__, fromlist=["ID"]) for r in RULES]:
        row = catalog.get(module.ID)
        assert module.__doc__.startswith(f"{row.id}: "), module.__name__
        assert row.domain == ("cpu" if ".cpu." in module.__name__ else "async")


def test_every_row_has_the_doc_block():
    assert len({p.id for p in catalog.PATTERNS}) == len(catalog.PATTERNS)
    for p in catalog.PATTERNS:
        assert p.domain in ("cpu", "memory", "import", "async"), p.id
        assert [s for s in catalog.SECTIONS if not p.section(s)] == [], p.id
        assert "```python\n" in p.section("Example"), p.id


def test_report_words_are_the_catalog_titles_and_did_not_change():
    titles = catalog.titles()
    assert {k: titles[k] for k in REPORT_WORDS} == REPORT_WORDS
    finding = Finding(
        domain="import",
        symbol="pkg.slow",
        qualname="pkg.slow",
        module="pkg.slow",
        file=None,
        line=None,
        metric=Metric(600.0, "ms", "600 ms self"),
        pattern="import-time-computation",
        evidence="",
        estimated_impact="",
        phase="import",
    )
    assert (
        one_line(RankedFinding(finding, 1, "high", "high", "", 1.0))
        == "pkg.slow: 600 ms self, work at import time [high Import]"
    )


@pytest.mark.parametrize(
    "text,first",
    [
        ("quadratic", "quadratic-membership"),
        ("nested_loops", "nested-loop"),
        ("deep-copy", "deepcopy"),
        ("await", "await-in-loop"),
    ],
)
def test_closest_ids_for_a_typo_or_a_part(text, first):
    assert first in catalog.closest(text)


def _result(root: Path) -> ScanResult:
    project = Project(
        root=root,
        name="p",
        packages=("pkg",),
        source_roots=(root,),
        tests_dir=None,
        console_scripts=(),
        dependencies=(),
        runner=(sys.executable,),
        runner_origin="test",
        python_version="3.11.7",
        has_pytest=True,
    )
    hot = Finding(
        domain="cpu",
        symbol="f",
        qualname="pkg.mod:f",
        module="pkg.mod",
        file="pkg/mod.py",
        line=3,
        metric=Metric(42.0, "%", "42% of profiled test time"),
        pattern=catalog.NO_PATTERN,
        evidence="e",
        estimated_impact="i",
        phase="call",
    )
    member = Finding(
        domain="cpu",
        symbol="g",
        qualname="pkg.mod:g",
        module="pkg.mod",
        file="pkg/mod.py",
        line=9,
        metric=Metric(30.0, "%", "30% of profiled test time"),
        pattern="quadratic-membership",
        evidence="e",
        estimated_impact="i",
        phase="call",
    )
    ranked = (
        RankedFinding(hot, 1, "critical", "critical", "", 9.0),
        RankedFinding(member, 2, "critical", "critical", "", 8.0),
    )
    return ScanResult(
        settings=Settings(path=root),
        project=project,
        deployment=Deployment("library", (), ()),
        target=Target(("tests/test_x.py::test",), (), "all", 1),
        passes={"cpu": PassResult("cpu", "ok", 1.0, findings=(hot, member))},
        findings=ranked,
        date="2024-01-02",
        tool_version="0.1.0",
    )


def test_sarif_rules_carry_the_catalog_doc(tmp_path):
    sarif = json.loads(render_sarif(_result(tmp_path)))
    jsonschema.validate(sarif, json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text()))
    rules = {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert list(rules) == ["cpu-hotspot", "quadratic-membership"]
    for rule_id, rule in rules.items():
        row = catalog.get(rule_id)
        assert rule["shortDescription"]["text"] == row.title
        assert rule["fullDescription"]["text"] == row.section("What it does")
        assert rule["help"]["text"] == row.doc
    assert rules["cpu-hotspot"]["shortDescription"]["text"] == "cpu hotspot"
    assert [r["ruleIndex"] for r in sarif["runs"][0]["results"]] == [0, 1]
