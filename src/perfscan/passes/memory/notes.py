"""The memory section's notes: what the figures leave out, and how the runs went."""

from __future__ import annotations

from typing import List, Sequence

from perfscan.passes.memory.records import MemoryRun, Phase, Repeat, worst_unattributed
from perfscan.passes.memory.units import MIB, mib


def probe_notes(run: MemoryRun) -> List[str]:
    notes = [f"probe: {err}" for err in run.errors]
    if run.dropped:
        notes.append(f"probe: {run.dropped} record(s) of its memory data could not be read and are left out")
    return notes


def unattributed_note(phases: Sequence[Phase]) -> List[str]:
    worst = worst_unattributed(phases)
    if worst is None:
        return []
    return [
        f"allocations with no project frame (made by test code or by libraries called from tests) are not findings: "
        f"up to {mib(worst.unattributed):.1f} MiB at one test's peak ({worst.test}: "
        f"{mib(worst.tests):.1f} MiB by test code, {mib(worst.libs):.1f} MiB in libraries"
        + (
            f", {mib(worst.imports):.1f} MiB by the import system: modules loaded since the tests began"
            if worst.imports
            else ""
        )
        + (
            f", {mib(worst.runner):.1f} MiB by the test runner: its reports of the tests so far and its bookkeeping"
            if worst.runner
            else ""
        )
        + ")"
    ]


def repeat_notes(asked: int, repeat: Repeat, timed_out: bool) -> List[str]:
    if not asked:
        return []
    if repeat.skipped:
        return [f"per-request growth: no repetition ran: {repeat.skipped} during the measured run"]
    which = (
        "the target tests"
        if repeat.tests is None
        else f"the {repeat.tests} test(s) that changed a module-level container"
    )
    if repeat.done < asked:
        notes = [
            f"per-request growth: only {repeat.done} of {asked} repetitions of {which} ran"
            + (" (timed out)" if timed_out else "")
        ]
    else:
        notes = [
            f"per-request growth: {which} ran {asked} more times in the same process ({repeat.seconds:.1f} s); "
            "the project's module-level values were measured before and after each (growth table below)"
        ]
    if repeat.failures:
        notes.append(f"{repeat.failures} test run(s) failed during the repetitions")
    return notes


def source_notes(locator_notes: Sequence[str]) -> List[str]:
    return [f"skipped source: {note}" for note in locator_notes[:5]]


def missed_peak_notes(phases: Sequence[Phase]) -> List[str]:
    """Phases whose kept snapshot holds well under their peak: the peak fell between two checks."""
    caught = [p for p in phases if p.snapshots and p.peak - p.start >= MIB]
    missed = [p for p in caught if p.snapshot < 0.9 * p.peak and p.peak - p.snapshot >= MIB]
    if not missed:
        return []
    return [
        f"{len(missed)} test phase(s) peaked between two checked returns: the snapshot holds less than 90% of "
        "the peak ("
        + ", ".join(f"{p.test} ({p.phase}): {mib(p.snapshot):.1f} of {mib(p.peak):.1f} MiB" for p in missed[:3])
        + ")"
    ]


def snapshot_notes(phases: Sequence[Phase]) -> List[str]:
    return [f"snapshot: {note}" for note in sorted({p.note for p in phases if p.note})[:3]]
