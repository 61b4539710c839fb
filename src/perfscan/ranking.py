"""Ranking: base severity by domain and metric, deployment adjustments, order (docs/design.md "Ranking").

Pure: takes findings and the deployment, runs nothing. Every rule is a row in a table below.
"""

from __future__ import annotations

from typing import Iterable, List, Tuple

from perfscan.models import DEFAULT_THRESHOLDS, DOMAIN_ORDER, SEVERITIES, Finding, RankedFinding, Thresholds

# The measured domains' bounds are `Thresholds` (models.py): docs/design.md's table, adjustable in
# [tool.perfscan.thresholds]. Async has no metric to bound: its levels are rules.
ASYNC_HIGH = ("sequential-awaits",)  # high wherever found; blocking calls are high on the hot path


def base_severity(finding: Finding, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> str:
    if finding.domain == "async":
        if finding.pattern == "blocking-call-in-async" and finding.hot_path:
            return "high"
        if finding.pattern in ASYNC_HIGH:
            return "high"
        return "medium"
    value = finding.metric.value
    for bound, severity in thresholds.levels(finding.domain):
        if value > bound:
            return severity
    # at or below the lowest threshold: the lowest level the table has (passes report above it)
    return "low" if finding.domain != "import" else "info"


def magnitude(finding: Finding, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> float:
    if finding.domain == "async":
        return 1.0 if finding.hot_path else 0.5
    unit = thresholds.high(finding.domain)
    return finding.metric.value / unit if unit else 0.0


# Deployment adjustments: (model, rule name, predicate, new severity, note). Specific beats general:
# the first matching row wins.
def _import_third_party(f: Finding) -> bool:
    return f.domain == "import" and f.third_party


def _import(f: Finding) -> bool:
    return f.domain == "import"


def _cpu_fixture(f: Finding) -> bool:
    return f.domain == "cpu" and f.phase in ("setup", "teardown")


def _memory_growth(f: Finding) -> bool:
    return f.domain == "memory" and f.pattern == "per-request-growth"


def _memory_startup(f: Finding) -> bool:
    return f.domain == "memory" and f.pattern != "per-request-growth" and f.phase in ("import", "setup")


ADJUSTMENTS = (
    (
        "long-running-server",
        _import,
        "info",
        "paid once per process: a server imports at start-up, not per request",
        True,
    ),
    (
        "long-running-server",
        _cpu_fixture,
        "low",
        "in test {phase}: one-time start-up work for a server, not per request",
        False,
    ),
    (
        "long-running-server",
        _memory_growth,
        "critical",
        "grows with every request: a long-running server runs out of memory",
        False,
    ),
    ("long-running-server", _memory_startup, "low", "fixed at start-up: allocated once per server process", False),
    (
        "serverless",
        _import,
        "critical",
        "cold starts are user-facing latency: every new instance pays this import",
        False,
    ),
    ("library", _import_third_party, "info", "a third-party import of a library: the consumer's choice", False),
    ("unknown", _import, "info", "deployment unknown: import cost may be paid once; use --startup to rank it", True),
)
CLI_IMPORT_NOTE = "start-up is user-facing for a CLI: every invocation pays this import"


def adjust(finding: Finding, base: str, model: str, startup: bool) -> Tuple[str, str]:
    """Severity after the deployment model, and the note that says why."""
    for row_model, predicate, severity, note, startup_restores in ADJUSTMENTS:
        if row_model != model or not predicate(finding):
            continue
        if startup and startup_restores:
            return base, "--startup: start-up cost ranked at its base severity"
        return severity, note.format(phase=finding.phase)
    if model == "cli" and finding.domain == "import":
        return base, CLI_IMPORT_NOTE
    return base, ""


def rank(
    findings: Iterable[Finding], model: str, startup: bool = False, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> Tuple[RankedFinding, ...]:
    """Severity, then magnitude (multiple of the domain's high threshold), then domain order."""
    rows: List[Tuple[Finding, str, str, str, float]] = []
    for f in findings:
        base = base_severity(f, thresholds)
        severity, note = adjust(f, base, model, startup)
        rows.append((f, severity, base, note, magnitude(f, thresholds)))
    order = {d: i for i, d in enumerate(DOMAIN_ORDER)}
    sev = {s: i for i, s in enumerate(SEVERITIES)}
    rows.sort(key=lambda r: (sev[r[1]], -r[4], order.get(r[0].domain, 9), r[0].qualname))
    return tuple(RankedFinding(f, i + 1, s, b, n, round(m, 3)) for i, (f, s, b, n, m) in enumerate(rows))


def at_or_above(severity: str, threshold: str) -> bool:
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)
