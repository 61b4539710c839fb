"""`perfscan merge`: the reports of a suite scanned in shards, as one report (docs/design.md "Sharded scans").

`merge_reports` reads the shards' `scan-report.json` files (`inputs.py`), merges each domain by
its own rule (`cpu.py`, `domains.py`), ranks the merged findings again with `ranking.rank` and
returns a `ScanResult` the ordinary report writers lay out, so the merged report is a
`scan-report.json` like any other.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from perfscan.merge.cpu import merge_cpu
from perfscan.merge.domains import (
    Found,
    merge_async_findings,
    merge_async_section,
    merge_import_findings,
    merge_import_section,
    merge_memory_findings,
    merge_memory_section,
)
from perfscan.merge.inputs import Shard, load_shards
from perfscan.models import DOMAINS, Finding, PassResult, RankedFinding, ScanResult, Target
from perfscan.ranking import ADJUSTMENTS, rank
from perfscan.report.saved import section_from_json

__all__ = ["merge_reports", "merge_shards"]

# what ranking wrote that the JSON keeps only in its words: a library's third-party import
_THIRD_PARTY_NOTE = next(note for model, _, _, note, _ in ADJUSTMENTS if model == "library")
_STARTUP_NOTE = "--startup:"
TESTS_NAMED = 3  # tests named per shard in the target note


def _as_scanned(r: RankedFinding) -> Finding:
    """The finding as its pass gave it: what ranking read and the JSON keeps only in its result."""
    f = r.finding
    if f.domain == "async":
        return replace(f, hot_path=r.magnitude >= 1.0)  # ranking.magnitude: 1.0 on the hot path, else 0.5
    if f.domain == "import" and r.note == _THIRD_PARTY_NOTE:
        return replace(f, third_party=True)
    return f


def _found(shards: Sequence[Shard], domain: str) -> List[Found]:
    return [(s.name, _as_scanned(r)) for s in shards for r in s.result.findings if r.finding.domain == domain]


def _raw_section(shard: Shard, domain: str) -> Mapping[str, Any]:
    passes = shard.data.get("passes")
    p = passes.get(domain) if isinstance(passes, Mapping) else None
    data = p.get("data") if isinstance(p, Mapping) else None
    return data if isinstance(data, Mapping) else {}


def _pass(domain: str, shards: Sequence[Shard], data: Any, extra: Sequence[str]) -> PassResult:
    ran = [(s, s.result.passes[domain]) for s in shards if domain in s.result.passes]
    ok = [p for _, p in ran if p.status == "ok"]
    notes = list(dict.fromkeys(n for _, p in ran for n in p.notes))
    notes += [f"{s.name}: pass {p.status}" + (f" ({p.error})" if p.error else "") for s, p in ran if p.status != "ok"]
    return PassResult(
        domain=domain,
        status="ok" if ok else ran[0][1].status,
        seconds=sum(p.seconds for _, p in ran),
        error="" if ok else "; ".join(dict.fromkeys(f"{s.name}: {p.error}" for s, p in ran if p.error)),
        notes=tuple(list(extra) + notes),
        data=data,
    )


def _tests_text(t: Target) -> str:
    if t.mode == "exec":
        return "command " + " ".join(t.exec_command)
    if not t.tests:
        return "no tests" + (f" ({t.note})" if t.note else "")
    shown = ", ".join(t.tests[:TESTS_NAMED])
    more = len(t.tests) - TESTS_NAMED
    return f"{len(t.tests)} test{'s' if len(t.tests) != 1 else ''}: {shown}" + (f" and {more} more" if more > 0 else "")


def _target(shards: Sequence[Shard]) -> Target:
    targets = [s.result.target for s in shards]
    note = f"merged from {len(shards)} shard{'s' if len(shards) != 1 else ''}: " + "; ".join(
        f"{s.name} ({_tests_text(s.result.target)})" for s in shards
    )
    return Target(
        tests=tuple(dict.fromkeys(nid for t in targets for nid in t.tests)),
        pytest_args=(),
        mode="merged",
        collected=sum(t.collected for t in targets),
        note=note,
        neutralized=tuple(dict.fromkeys(x for t in targets for x in t.neutralized)),
        left_out=tuple(dict.fromkeys(x for t in targets for x in t.left_out)),
        driver=targets[0].driver,
    )


def _differs(shards: Sequence[Shard], what: str, value: Any) -> List[str]:
    values: Dict[str, List[str]] = {}
    for s in shards:
        values.setdefault(str(value(s.result)), []).append(s.name)
    if len(values) < 2:
        return []
    shown = "; ".join(f"{v or 'none'} ({', '.join(names)})" for v, names in values.items())
    return [f"the shards differ in {what}: {shown}; the merged report takes {shards[0].name}'s"]


def merge_shards(shards: Sequence[Shard]) -> ScanResult:
    """One scan result of the whole suite from the shards' reports (at least one)."""
    first = shards[0].result
    thresholds = first.settings.thresholds
    startup = any(r.note.startswith(_STARTUP_NOTE) for s in shards for r in s.result.findings)
    domains = [d for d in DOMAINS if any(d in s.result.passes for s in shards)]
    passes: Dict[str, PassResult] = {}
    findings: List[Finding] = []
    for domain in domains:
        extra: List[str] = []
        raw = [_raw_section(s, domain) for s in shards if domain in s.result.passes]
        data: Any
        if domain == "cpu":
            what = "run" if all(s.result.target.mode == "exec" for s in shards) else "tests"
            section, found, extra = merge_cpu(shards, thresholds.floor("cpu"), what)
            data = section if section is not None else (raw[0] if raw else {})
        elif domain == "memory":
            data = section_from_json(domain, merge_memory_section(raw))
            found = merge_memory_findings(_found(shards, domain), len(shards))
        elif domain == "import":
            data = section_from_json(domain, merge_import_section(raw))
            found = merge_import_findings(_found(shards, domain))
        else:
            data = section_from_json(domain, merge_async_section(raw))
            found = merge_async_findings(_found(shards, domain))
        passes[domain] = _pass(domain, shards, data, extra)
        findings += found
    unmeasured = [s for s in shards if s.result.unmeasured]
    warnings: List[str] = list(dict.fromkeys(w for s in shards for w in s.result.warnings))
    warnings += [f"{s.name} measured nothing of the project ({s.result.unmeasured})" for s in unmeasured]
    warnings += _differs(shards, "Python", lambda r: r.project.python_version)
    warnings += _differs(shards, "deployment model", lambda r: r.deployment.model)
    warnings += _differs(shards, "test runner", lambda r: r.target.driver.name)
    return ScanResult(
        settings=replace(first.settings, passes=tuple(domains), startup=startup),
        project=first.project,
        deployment=first.deployment,
        target=_target(shards),
        passes=passes,
        findings=rank(findings, first.deployment.model, startup, thresholds),
        date=max(s.result.date for s in shards),
        tool_version=first.tool_version,
        warnings=tuple(warnings),
        # a merge that measured nothing is an error as a scan is; one empty shard is a warning
        unmeasured="; ".join(s.result.unmeasured for s in unmeasured) if len(unmeasured) == len(shards) else "",
        failed_tests=sum(s.result.failed_tests for s in shards),
        environment=tuple(dict.fromkeys(x for s in shards for x in s.result.environment)),
    )


def merge_reports(paths: Sequence[str]) -> Tuple[ScanResult, List[Shard]]:
    """Read and merge the shards' reports; a UsageError when one cannot be merged."""
    shards = load_shards(paths)
    return merge_shards(shards), shards
