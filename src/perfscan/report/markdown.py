"""`.codeflash/scan-report.md` in docs/design.md's layout (a router parses it: keep the headings' words)."""

from __future__ import annotations

from typing import Dict, List, Sequence

from perfscan.models import (
    DEFAULT_THRESHOLDS,
    DOMAIN_TITLES,
    DOMAINS,
    HotLine,
    PassResult,
    RankedFinding,
    ScanResult,
    hot_lines_of,
)
from perfscan.passes.cpu.section import CpuSection
from perfscan.passes.imports.section import ImportSection
from perfscan.passes.memory.section import MemorySection
from perfscan.report.describe import PATTERN_WORDS, describe_thresholds, one_line, target_name

SECTION_TITLES = {"cpu": "CPU", "memory": "Memory", "import": "Import Time", "async": "Async (static analysis)"}


def cell(text: object) -> str:
    """Escape a table cell: `|`, backticks and newlines must not break the row."""
    s = str(text if text is not None else "")
    s = s.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")
    return " ".join(s.replace("\r", " ").replace("\n", " ").split())


def table_row(*cells: object) -> str:
    """One Markdown table row of escaped cells."""
    return "| " + " | ".join(cell(x) for x in cells) + " |"


def inline(text: object) -> str:
    """Text outside tables: one line, no stray code spans."""
    return " ".join(str(text).replace("`", "'").split())


def _scanned(result: ScanResult) -> str:
    # the header line's fields are split on `|`: a pipe in a test id or a command must not add one
    return _scanned_text(result).replace("|", "\\|")


def _scanned_text(result: ScanResult) -> str:
    t = result.target
    if t.mode == "exec":
        return "command `" + inline(" ".join(t.exec_command)) + "`"
    if t.mode == "none":
        return "no tests"
    n = len(t.tests)
    how = {
        "all": "the whole suite",
        "selected": f"selected from {t.collected}",
        "user": "named by the user",
        "merged": "merged from shards",
    }.get(t.mode, t.mode)
    if n <= 3:
        return ", ".join(inline(x) for x in t.tests) + f" ({how})"
    return f"{n} tests ({how})"


def _pass_line(name: str, p: PassResult) -> str:
    line = f"- {DOMAIN_TITLES.get(name, name)}: {p.status}, {p.seconds:.1f} s"
    if p.error:
        line += f" ({inline(p.error)[:400]})"
    return line


def _table(findings: Sequence[RankedFinding]) -> List[str]:
    rows = [
        "| # | Severity | Domain | Target | Metric | Pattern | Est. Impact | Note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in findings:
        f = r.finding
        rows.append(
            table_row(
                r.rank,
                r.severity,
                DOMAIN_TITLES.get(f.domain, f.domain),
                target_name(r),
                f.metric.label,
                f.pattern,
                f.estimated_impact,
                r.note,
            )
        )
    return rows


def code_span(text: str) -> str:
    """`text` as one inline code span whatever backticks it holds (CommonMark: a longer fence)."""
    text = text.replace("\r", " ").replace("\n", " ")
    run = longest = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def hot_line_text(h: HotLine) -> str:
    """`L42 61% (55% waiting) `total += price * qty``: line, share of the function's time, the
    part of it spent waiting (when there was any), the source text. A loop reads `L11-13`: its
    header's line holds the work in its body that makes no call."""
    text = f"L{h.line}" + (f"-{h.end_line}" if h.end_line else "") + f" {h.share_pct:.0f}%"
    if h.shows_waiting():
        text += f" ({h.waiting_pct():.0f}% waiting)"
    return text + (f" {code_span(h.text)}" if h.text else "")


def _recommendations(result: ScanResult) -> List[str]:
    by_domain: Dict[str, List[RankedFinding]] = {}
    for r in result.findings:
        by_domain.setdefault(r.finding.domain, []).append(r)
    lines = []
    for i, (domain, items) in enumerate(sorted(by_domain.items(), key=lambda kv: kv[1][0].rank), 1):
        best = items[0]
        what = inline(one_line(best))
        lines.append(
            f"{i}. **{DOMAIN_TITLES.get(domain, domain)}** — {len(items)} target{'s' if len(items) != 1 else ''} found, "
            f"highest estimated impact: {what}; {inline(best.finding.estimated_impact)}"
        )
    if not lines:
        lines.append("No findings: nothing above the thresholds in the passes that ran.")
    return lines


def _finding_block(r: RankedFinding) -> List[str]:
    f = r.finding
    where = f"{f.file}:{f.line}" if f.file else (f.module or "")
    sev = r.severity if r.severity == r.base_severity else f"{r.severity} (base {r.base_severity})"
    lines = [
        f"#### {r.rank}. {inline(f.qualname or f.symbol)} — {inline(f.metric.label)}",
        f"- Where: {inline(where)}; phase: {f.phase}",
        f"- Severity: {sev}" + (f"; {inline(r.note)}" if r.note else ""),
        f"- Pattern: {f.pattern}" + (f" ({PATTERN_WORDS[f.pattern]})" if f.pattern in PATTERN_WORDS else ""),
        f"- Evidence: {inline(f.evidence)}",
    ]
    hot = hot_lines_of(f.details)
    if hot:
        lines.append("- Hot lines: " + "; ".join(hot_line_text(h) for h in hot))
    lines.append(f"- Estimated impact: {inline(f.estimated_impact)}")
    if f.runtime_confirmed:
        lines.append("- Confirmed at run time")
    return lines


def _section(domain: str, result: ScanResult) -> List[str]:
    p = result.passes.get(domain)
    title = SECTION_TITLES[domain]
    if domain == "cpu" and p is not None:
        title = f"CPU ({p.data.engine if isinstance(p.data, CpuSection) else 'cProfile'})"
    if domain == "memory" and p is not None:
        tool = _memory_data(p.data).tool
        title = f"Memory ({tool})" if tool else title
    lines = [f"### {title}", ""]
    if p is None:
        lines.append("Not run: this pass was not selected (--passes).")
        return lines + [""]
    if p.status != "ok":
        lines.append(f"Pass {p.status}" + (f": {inline(p.error)}" if p.error else "") + ".")
    for note in p.notes:
        lines.append(f"- {inline(note)}")
    lines += _domain_tables(domain, p)
    items = [r for r in result.findings if r.finding.domain == domain]
    if items:
        lines.append("")
        for r in items:
            lines += _finding_block(r) + [""]
    elif p.status == "ok":
        lines.append("No findings above the thresholds.")
    for a in p.artifacts:
        lines.append(
            f"- Artifact: `{a.path.name}` ({inline(a.description)})"
            + (f"; open with `{inline(a.open_with)}`" if a.open_with else "")
        )
    return lines + [""]


def _calls_cell(calls: object, primitive: object) -> str:
    # a function loaded before the counters were in place (a pytest plugin of the project) has none
    if not isinstance(calls, int):
        return "not counted"
    if isinstance(primitive, int) and primitive != calls:
        return f"{calls:,} ({primitive:,} primitive)"
    return f"{calls:,}"


def _cpu_table(d: object) -> List[str]:
    if not isinstance(d, CpuSection) or not d.top:
        return []
    phases = d.phase_seconds
    lines = [
        f"Profiled wall time {d.wall_seconds:.2f} s (setup {phases.get('setup', 0):.2f} s, "
        f"call {phases.get('call', 0):.2f} s, teardown {phases.get('teardown', 0):.2f} s); threads: {d.threads}."
    ]
    if d.waiting:
        lines[0] += (
            f" Waiting in project functions {d.wait_seconds:.2f} s; outside project code "
            f"{d.harness_wait_seconds:.2f} s ({d.waiting})."
        )
    lines += [
        "",
        "| Function | File:line | Wall | CPU | Waiting | Own | Cumulative | Calls |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in d.top:
        calls = _calls_cell(row.calls, row.primitive_calls)
        wall = row.wall_pct if row.wall_pct is not None else row.attributable_pct
        lines.append(
            table_row(
                row.function,
                f"{row.file}:{row.line}",
                f"{wall}%",
                f"{row.attributable_pct}%",
                f"{row.wait_pct}%",
                f"{row.own_pct}%",
                f"{row.cumulative_pct}%",
                calls,
            )
        )
    if d.wait_sites:
        lines += [
            "",
            "Where the profiled tests waited (per run):",
            "",
            "| Call site | Function | Call | Kind | Waiting | Share | Calls |",
            "|---|---|---|---|---|---|---|",
        ]
        for w in d.wait_sites:
            lines.append(
                table_row(
                    f"{w.file}:{w.line}",
                    w.function,
                    w.call,
                    w.kind or "-",
                    f"{w.seconds:.3f} s",
                    f"{w.pct}%",
                    f"{w.count:,}" if w.count is not None else "not counted",
                )
            )
    return lines


def _import_table(d: object) -> List[str]:
    if not isinstance(d, ImportSection) or not d.modules:
        return []
    lines = [f"Slowest modules (minimum of {d.runs} runs):"]
    lines += ["", "| Module | Kind | Self | Cumulative | Imported by |", "|---|---|---|---|---|"]
    for row in d.modules[:15]:
        lines.append(
            table_row(row.name, row.kind, f"{row.self_ms:.1f} ms", f"{row.cumulative_ms:.1f} ms", row.imported_by)
        )
    return lines


def _memory_data(data: object) -> MemorySection:
    # the pass gives a MemorySection; a result read back from JSON (or a skipped pass) a dict
    return data if isinstance(data, MemorySection) else MemorySection.from_json(data)


def _memory_table(d: object) -> List[str]:
    m = _memory_data(d)
    return _memory_top(m) + _memory_growth(m)


def _memory_growth(m: MemorySection) -> List[str]:
    if not m.growth:
        return []
    lines = [
        "",
        "Module-level values that grew across the repetitions of the tests (sizes before and after each):",
        "",
        "| Value | File | MiB | Per repetition | Entries |",
        "|---|---|---|---|---|",
    ]
    for row in m.growth:
        per = row.per_repetition_mib
        per_text = f"{per * 1024:+.1f} KiB" if abs(per) < 1 else f"{per:+.2f} MiB"
        sizes = " → ".join(f"{s:.2f}" for s in row.sizes_mib) + (" (estimated)" if row.estimated else "")
        entries = " → ".join(f"{n:,}" for n in row.entries) if row.entries else ""
        lines.append(table_row(row.name, row.file or "", sizes, per_text, entries))
    return lines


def _memory_top(m: MemorySection) -> List[str]:
    if not m.top:
        return []
    # the table is the peak view only; without this line readers took it for every memory finding
    lines = [
        "",
        "Largest project allocation groups alive at a test's peak (a finding from 1 MiB; "
        "memory held from import and growth across repetitions are in the findings below):",
        "",
        "| Function | File:line | MiB at peak | Allocations | Category | Reducibility |",
        "|---|---|---|---|---|---|",
    ]
    for row in m.top[:15]:
        lines.append(
            table_row(
                row.function, f"{row.file}:{row.line}", f"{row.mib:.1f}", row.count, row.category, row.reducibility
            )
        )
    return lines


_TABLES = {"cpu": _cpu_table, "import": _import_table, "memory": _memory_table}


def _domain_tables(domain: str, p: PassResult) -> List[str]:
    table = _TABLES.get(domain)
    return table(p.data) if table else []


def render_markdown(result: ScanResult) -> str:
    project = result.project
    dep = result.deployment
    lines = [
        "# Codeflash Scan Report",
        f"**Scanned**: {_scanned(result)} | **Date**: {result.date} | **Python**: {project.python_version} | "
        f"**Deployment**: {dep.model}",
        "",
    ]
    for name in DOMAINS:
        if name in result.passes:
            lines.append(_pass_line(name, result.passes[name]))
        else:
            lines.append(f"- {DOMAIN_TITLES[name]}: skipped (not selected)")
    lines.append(f"- Deployment evidence: {inline('; '.join(dep.evidence)) or 'none'}")
    driver = result.target.driver
    if driver.name:
        lines.append(f"- Test runner: {driver.name}" + (f" ({inline(driver.why)})" if driver.why else ""))
    if result.target.note:
        lines.append(f"- Target: {inline(result.target.note)}")
    for change in result.environment + result.target.neutralized:
        lines.append(f"- Changed for profiling: {inline(change)}")
    if result.settings.thresholds != DEFAULT_THRESHOLDS:
        # severities are not docs/design.md's: whoever reads or compares the report must know
        lines.append(
            f"- Thresholds (from [tool.perfscan.thresholds]): {describe_thresholds(result.settings.thresholds)}"
        )
    if result.unmeasured:
        lines.append(
            f"- Warning: the CPU and memory passes measured nothing of the project ({inline(result.unmeasured)}); the scan exits 2"
        )
    for w in result.warnings:
        lines.append(f"- Warning: {inline(w)}")
    lines += ["", "## Top Targets (ranked by estimated impact)", ""] + _table(result.findings)
    lines += ["", "## Domain Recommendations", ""] + _recommendations(result)
    lines += ["", "## Detailed Findings", ""]
    for domain in ("cpu", "memory", "import", "async"):
        lines += _section(domain, result)
    return "\n".join(lines).rstrip() + "\n"
