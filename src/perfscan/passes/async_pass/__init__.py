"""The async pass: static analysis of the project's async code (docs/design.md "The passes" -> Async).

Walks project code with `ast` (files that never mention `async` are skipped before parsing),
resolves imports and aliases per module, and runs the rule table (`registry.py`, one module
per pattern) on every function. A finding is on the hot path when the CPU pass saw its
function run (`ran_functions`, from the orchestrator); blocking-call findings are confirmed at
run time by asyncio debug mode's slow-callback records (`slow_callbacks`).
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from pathlib import Path, PurePosixPath
from typing import List, Mapping, Tuple

from perfscan.astutil import package_of
from perfscan.models import Finding, PassResult
from perfscan.passes import PassContext
from perfscan.passes.async_pass.analyze import analyze_module
from perfscan.passes.async_pass.blocking_call import ID as BLOCKING
from perfscan.passes.async_pass.blocking_calls import blocking_catalog
from perfscan.passes.async_pass.confirm import confirm
from perfscan.passes.async_pass.project_index import ProjectIndex
from perfscan.passes.async_pass.registry import PATTERNS, RULES
from perfscan.passes.async_pass.section import AsyncSection
from perfscan.passes.async_pass.slow_callbacks import parse_slow_callback_lines
from perfscan.sources import FunctionInfo, iter_project_files, module_name, parse_source, relative_posix

__all__ = ["run_async_pass", "parse_slow_callback_lines", "PATTERNS", "RULES", "blocking_catalog"]

NO_ASYNC = "No async code detected"
_SPAWNS = re.compile(r"create_task|ensure_future")  # what the rules for sync defs look for


def run_async_pass(ctx: PassContext) -> PassResult:
    started = time.perf_counter()
    root = Path(os.path.realpath(ctx.project.root))
    source_roots = tuple(Path(os.path.realpath(p)) for p in ctx.project.source_roots) or (root,)
    catalog = blocking_catalog(ctx.settings.blocking_calls)
    ran = frozenset(str(name) for name in ctx.inputs.ran)
    walk_notes: List[str] = []
    skipped: List[str] = []
    errors: List[str] = []
    found: List[Tuple[Finding, FunctionInfo]] = []
    files = async_files = async_functions = 0
    uses_asyncio = False
    paths = list(iter_project_files(root, ctx.settings.exclude, walk_notes))
    index = ProjectIndex(paths, root, source_roots, catalog)
    for path in paths:
        files += 1
        if not _mentions_async(path):
            continue  # no `async def`, `await` or asyncio without the word: nothing to analyse
        rel = relative_posix(path, root) or path.as_posix()
        parsed = parse_source(path)
        if parsed.tree is None:
            skipped.append(f"{rel}: {_reason(parsed.note, path)}")
            continue
        module = module_name(path, source_roots) or _module_from_path(rel)
        report = analyze_module(
            parsed.tree,
            module,
            rel,
            package_of(module, path.name == "__init__.py"),
            catalog,
            ran,
            sync_rules=_SPAWNS.search(parsed.text) is not None,
            project=index,
        )
        async_functions += report.async_functions
        async_files += report.async_functions > 0
        uses_asyncio = uses_asyncio or report.uses_asyncio
        errors.extend(report.errors)
        found.extend(zip(report.findings, report.ranges))

    has_async = async_functions > 0 or uses_asyncio
    if not has_async:
        found = []
    found.sort(key=lambda item: (item[0].file or "", item[0].line or 0, PATTERNS.index(item[0].pattern)))
    checked = confirm(found, ctx.inputs.asyncio_debug, _why_no_debug_run(ctx), has_async)
    found, waited_notes, waited = _confirm_waits(checked.found, ctx.inputs.waits)
    confirmed = list(checked.confirmed) + [q for q in waited if q not in checked.confirmed]
    runtime, runtime_notes = checked.status, list(checked.notes)
    if waited:  # measured waiting confirmed some: the status counts both ways of confirming
        blocking = [f for f, _ in found if f.pattern == BLOCKING]
        runtime = (
            f"{sum(f.runtime_confirmed for f in blocking)} of {len(blocking)} blocking-call "
            f"finding{'s' if len(blocking) != 1 else ''} confirmed"
        )
        runtime_notes = [n for n in runtime_notes if n != f"Run-time confirmation: {checked.status}"]

    notes: List[str] = []
    if has_async:
        notes.append(
            f"Async code: {_count(async_functions, 'async function')} in {_count(async_files, 'file')} "
            f"({_count(files, 'project file')} checked)"
        )
        if not ran:
            notes.append(
                "Hot path unknown: the CPU pass reported no functions that ran, so blocking calls "
                "are ranked as off the hot path"
            )
    else:
        notes.append(f"{NO_ASYNC} ({_count(files, 'project file')} checked)")
    notes.extend(f"Skipped (does not parse or decode): {item}" for item in skipped)
    notes.extend(walk_notes)
    notes.extend(f"Not analysed: {item}" for item in errors)
    notes.extend(runtime_notes)
    notes.extend(waited_notes)
    return PassResult(
        domain="async",
        status="ok",
        seconds=time.perf_counter() - started,
        findings=tuple(f for f, _ in found),
        notes=tuple(notes),
        data=AsyncSection(
            has_async=has_async,
            files=files,
            async_files=async_files,
            async_functions=async_functions,
            skipped=tuple(skipped),
            hot_path_known=bool(ran),
            confirmed=tuple(confirmed),
            runtime=runtime,
        ),
    )


def _why_no_debug_run(ctx: PassContext) -> str:
    """Why no test run in asyncio debug mode came with the context (it is the plain timing run)."""
    mode = ctx.target.mode
    if mode == "user":
        return "tests named with --test skip the plain run, where asyncio debug mode is on"
    if mode == "exec":
        return "a command was profiled, not the tests, and the plain run of the tests did not happen"
    if mode == "none":
        return f"no test run: {ctx.target.note}" if ctx.target.note else "no test run"
    return "the plain run of the tests wrote no asyncio records (it ended before it could)"


def _confirm_waits(
    found: List[Tuple[Finding, FunctionInfo]], waits: Mapping[str, Mapping[int, float]]
) -> Tuple[List[Tuple[Finding, FunctionInfo]], List[str], List[str]]:
    """Blocking calls the CPU pass measured waiting at (its waiting sampler): confirmed, with the seconds."""
    notes: List[str] = []
    confirmed: List[str] = []
    out = list(found)
    for i, (finding, fn) in enumerate(out):
        if finding.pattern != BLOCKING or finding.line is None:
            continue
        secs = waits.get(finding.qualname, {}).get(finding.line, 0.0)
        if secs <= 0:
            continue
        evidence = f"{finding.evidence}; measured at run time: waited {secs:.3f} s per run at this call"
        details = dict(finding.details, waited_seconds=round(secs, 6))
        out[i] = (dataclasses.replace(finding, runtime_confirmed=True, evidence=evidence, details=details), fn)
        notes.append(
            f"Confirmed at run time (waiting measured by the CPU pass): {finding.qualname} in {finding.file}:"
            f"{finding.line} waited {secs:.3f} s per run"
        )
        confirmed.append(finding.qualname)
    return out, notes, confirmed


# Every rule needs an `async def`, asyncio, or a task spawn; a file without any of these words
# cannot hold a finding, and skipping its parse is what keeps 10,000 files fast.
_ASYNC_WORDS = re.compile(rb"\basync\s+def\b|\basyncio\b|create_task|ensure_future")


def _mentions_async(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return True  # let parse_source say why it cannot be read
    if b"async" in data:  # a plain substring test first: the regex alone is 30x slower
        return _ASYNC_WORDS.search(data) is not None
    return b"create_task" in data or b"ensure_future" in data


def _reason(note: str, path: Path) -> str:
    prefix = f"{path}: "
    return note[len(prefix) :] if note.startswith(prefix) else (note or "skipped")


def _module_from_path(rel: str) -> str:
    parts = list(PurePosixPath(rel).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or rel


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
