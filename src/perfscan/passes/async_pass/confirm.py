"""Run-time confirmation of blocking-call findings by asyncio debug mode's slow callbacks.

A slow callback confirms the blocking-call finding of the innermost function that holds a frame
of a stack sampled while it ran (innermost frame first, most sampled stack first): with an
in-process ASGI transport the record names the test's coroutine, but the stack runs through the
endpoint that called the blocking code. A record with no stack that falls on a finding's
function confirms it by its own line (a task's outermost coroutine). When nothing is confirmed,
the status says why (docs/design.md "The passes" -> Async).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from perfscan.models import Finding
from perfscan.passes.async_pass.blocking_call import ID as BLOCKING
from perfscan.passes.async_pass.records import AsyncioDebugRun, Frame, SlowCallback
from perfscan.sources import FunctionInfo, is_project_path

Found = List[Tuple[Finding, FunctionInfo]]
MAX_UNMATCHED_NOTES = 5


@dataclass(frozen=True)
class Confirmation:
    found: Found  # the findings, confirmed ones marked
    notes: List[str]
    confirmed: List[str]  # qualnames
    status: str  # what was confirmed or why nothing was; "" when no finding needed confirming


def confirm(found: Found, run: Optional[AsyncioDebugRun], no_run: str, has_async: bool) -> Confirmation:
    """Mark the blocking-call findings a slow callback confirms; `no_run` says why `run` is None."""
    blocking = [i for i, (f, _) in enumerate(found) if f.pattern == BLOCKING]
    notes: List[str] = []
    if run is None:
        status = f"none ({no_run})" if blocking else ""
        return Confirmation(found, [f"Run-time confirmation: {status}"] if status else [], [], status)
    if run.debug_kept_on and has_async:
        notes.append(
            f"asyncio debug mode kept on: the tests' event-loop runner asked it off {run.debug_kept_on} "
            f"time{'s' if run.debug_kept_on != 1 else ''} (pytest-asyncio does unless run with --asyncio-debug)"
        )
    per_finding: Dict[int, List[Tuple[SlowCallback, Optional[Frame]]]] = {}
    unmatched: List[SlowCallback] = []
    for rec in run.records:
        hit = _assign(rec, found, blocking)
        if hit is None:
            unmatched.append(rec)
        else:
            per_finding.setdefault(hit[0], []).append((rec, hit[1]))
    out = list(found)
    confirmed: List[str] = []
    for i, recs in sorted(per_finding.items()):
        finding, fn = out[i]
        rec, frame = max(recs, key=lambda r: r[0].seconds)
        secs = rec.seconds
        times = f" ({len(recs)} times)" if len(recs) > 1 else ""
        where = f", sampled in {frame[2]} at {frame[0]}:{frame[1]}" if frame is not None else ""
        evidence = f"{finding.evidence}; confirmed at run time: blocked the event loop {secs:.3f} s{times}{where}"
        details = dict(finding.details, runtime_seconds=secs, runtime_records=len(recs))
        out[i] = (dataclasses.replace(finding, runtime_confirmed=True, evidence=evidence, details=details), fn)
        confirmed.append(finding.qualname)
        notes.append(
            f"Confirmed at run time (asyncio debug mode): {finding.symbol} in {finding.file}:"
            f"{finding.line} blocked the event loop {secs:.3f} s{times}{where}"
        )
    status = _status(run, len(blocking), len(confirmed))
    if status.startswith("none"):
        notes.append(f"Run-time confirmation: {status}")
    if has_async:
        notes.extend(_unmatched_notes(unmatched))
    return Confirmation(out, notes, confirmed, status)


def _status(run: AsyncioDebugRun, blocking: int, confirmed: int) -> str:
    if not blocking:
        return ""
    if confirmed:
        return f"{confirmed} of {blocking} blocking-call finding{'s' if blocking != 1 else ''} confirmed"
    ms = f"{run.threshold * 1000:.0f} ms"
    if run.loops == 0:
        return (
            "none (the tests started no asyncio event loop in debug mode; a loop other than "
            "asyncio's own, such as uvloop, is not watched)"
        )
    if not run.records:
        ran = f"; {run.callbacks} callbacks ran in {run.loops} event loops" if run.loops and run.callbacks else ""
        return (
            f"none (no callback held the event loop {ms} or more{ran}: the tests may not reach the "
            "blocking calls, or the calls return sooner under test)"
        )
    n = len(run.records)
    return (
        f"none ({n} slow callback{'s' if n != 1 else ''} recorded, but no function with a blocking-call "
        "finding was on a stack sampled while one ran, nor at its own line)"
    )


def _assign(rec: SlowCallback, found: Found, blocking: Sequence[int]) -> Optional[Tuple[int, Optional[Frame]]]:
    """The finding a record confirms, and the innermost project frame sampled, if by a stack."""
    for frames, _ in rec.stacks:
        for frame in frames:
            i = _holder(found, blocking, frame[0], frame[1])
            if i is not None:
                return i, frames[0]
    if rec.file is not None and rec.line is not None:
        i = _holder(found, blocking, rec.file, rec.line)
        if i is not None:
            return i, None
    return None


def _holder(found: Found, blocking: Sequence[int], file: str, line: int) -> Optional[int]:
    """The blocking-call finding whose function holds (file, line); the innermost function wins."""
    holders = [
        i for i in blocking if found[i][0].file == file and found[i][1].first_line <= line <= found[i][1].end_lineno
    ]
    return min(holders, key=lambda i: found[i][1].end_lineno - found[i][1].first_line) if holders else None


def _unmatched_notes(unmatched: List[SlowCallback]) -> List[str]:
    """Slow callbacks in project code with no finding there: where the loop was held, by seconds."""
    places: List[Tuple[float, str]] = []
    for rec in unmatched:
        frame = rec.stacks[0][0][0] if rec.stacks and rec.stacks[0][0] else None
        if frame is not None:
            places.append((rec.seconds, f"{frame[0]}:{frame[1]} ({frame[2]})"))
        elif rec.file is not None and is_project_path(rec.file):
            places.append((rec.seconds, f"{rec.file}:{rec.line}" if rec.line is not None else rec.file))
    places.sort(key=lambda p: -p[0])
    return [
        f"Run time: {where} held the event loop {secs:.3f} s (no static finding there)"
        for secs, where in places[:MAX_UNMATCHED_NOTES]
    ]
