"""The CPU profile as files other tools open: `cpu.pstats` and `cpu.collapsed`.

`pstats_table` is also what the pass's icicle chart (flame.py) is built from, so the chart and the
pstats file show the same profile. With `waits=True` it holds the waiting samples too, each under
a leaf of its own (`waiting`, `waiting for the GIL`): the chart of wall time. `cpu.pstats` stays a
CPU profile; `cpu.collapsed` holds both clocks, waiting stacks ending in that leaf.
"""

from __future__ import annotations

import marshal
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

from perfscan.passes.cpu.records import CpuRun, Samples
from perfscan.safetext import clean_text

Key = Tuple[str, int, str]  # (file, first line, name) of a code object, as pstats names it
Edge = Tuple[int, int, float, float]  # a caller's (primitive calls, calls, own s, cumulative s) of the callee


@dataclass
class Row:
    """One function in pstats' shape (filled while merging, hence not frozen)."""

    cc: int = 0  # primitive calls
    nc: int = 0  # calls
    tt: float = 0.0  # own seconds
    ct: float = 0.0  # cumulative seconds
    callers: Dict[Key, Edge] = field(default_factory=dict)


WAITING = ("~", 0, "waiting")  # the leaf under which a waiting stack's time shows
WAITING_GIL = ("~", 0, "waiting for the GIL")


def pstats_table(run: CpuRun, waits: bool = False) -> Dict[Key, Row]:
    """All phases merged into pstats' shape (snakeviz, tuna, `python -m pstats`)."""
    merged: Dict[Key, Row] = _pstats_of_samples(run, run.samples, waits) if run.samples is not None else {}
    for phase in run.phases.values():
        keys = [e.key for e in phase.stats]
        for key, e in zip(keys, phase.stats):
            cur = merged.setdefault(key, Row())
            cur.cc += e.cc
            cur.nc += e.nc
            cur.tt += e.tt
            cur.ct += e.ct
            for c in e.callers:
                ckey = keys[c.index]
                prev = cur.callers.get(ckey, (0, 0, 0.0, 0.0))
                cur.callers[ckey] = (prev[0] + c.cc, prev[1] + c.nc, prev[2] + c.tt, prev[3] + c.ct)
    return merged


def write_pstats(table: Dict[Key, Row], out_dir: Path) -> Optional[Path]:
    if not table:
        return None
    stats = {k: (v.cc, v.nc, v.tt, v.ct, v.callers) for k, v in table.items()}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "cpu.pstats"
        tmp = out_dir / f".cpu.pstats.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            marshal.dump(stats, fh)
        os.replace(tmp, path)
        return path
    except OSError:
        return None


def write_collapsed(run: CpuRun, out_dir: Path) -> Optional[Path]:
    """The samples as collapsed stacks ("a;b;c <microseconds>", outermost first, by phase)."""
    samples = run.samples
    if samples is None or not samples.stacks:
        return None
    names = [f"{os.path.basename(f.file)}:{f.name}" for f in samples.frames]
    totals: Dict[str, float] = {}
    for frames, phase, seconds, leaf in _all_stacks(samples, True):
        parts = [phase] + [names[fi] for fi, _line in frames] + ([f"[{leaf[2]}]"] if leaf else [])
        key = ";".join(p.replace(";", ",").replace(" ", "_") for p in parts)
        totals[key] = totals.get(key, 0.0) + seconds
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "cpu.collapsed"
        tmp = out_dir / f".cpu.collapsed.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            for key, secs in sorted(totals.items()):
                micros = int(round(secs * 1e6))
                if micros > 0:
                    fh.write(f"{clean_text(key)} {micros}\n")
        os.replace(tmp, path)
        return path
    except OSError:
        return None


def _all_stacks(
    samples: Samples, waits: bool
) -> Iterator[Tuple[Tuple[Tuple[int, int], ...], str, float, Optional[Key]]]:
    """(frames, phase, seconds, leaf): the CPU stacks, then (with `waits`) the waiting ones under their leaf."""
    for entry in samples.stacks:
        yield entry.frames, entry.phase, entry.seconds, None
    if waits and samples.waits is not None:
        for w in samples.waits.stacks:
            yield w.frames, w.phase, w.seconds, WAITING_GIL if w.gil else WAITING


def _pstats_of_samples(run: CpuRun, samples: Samples, waits: bool = False) -> Dict[Key, Row]:
    """The samples in pstats' shape, so the same viewers (and the icicle chart) read them.

    tottime: samples whose innermost frame is the function; cumtime: samples with it on the
    stack (once per sample); caller edges: samples under that caller -> callee step. Call counts
    are the exact counts where the probe counted them, else 0 (unknown). C functions, which
    have no frames, are absent: their time is their caller's tottime.
    """
    keys = [(f.file, f.line, f.name) for f in samples.frames]
    merged: Dict[Key, Row] = {}
    for frames, _phase, weight, leaf in _all_stacks(samples, waits):
        stack = [keys[fi] for fi, _line in frames] + ([leaf] if leaf is not None else [])
        if not stack:
            continue
        # each function and each caller -> callee step once per sample, in stack order (a stable table)
        for key in dict.fromkeys(stack):
            merged.setdefault(key, Row()).ct += weight
        merged[stack[-1]].tt += weight
        for caller, callee in dict.fromkeys(zip(stack, stack[1:])):
            if caller == callee:
                continue
            callers = merged[callee].callers
            prev = callers.get(caller, (0, 0, 0.0, 0.0))
            own = weight if callee == stack[-1] else 0.0
            callers[caller] = (0, 0, prev[2] + own, prev[3] + weight)
    if run.calls is not None:
        table = run.calls.functions
        for rows in run.calls.phases.values():
            for i, n, nonprimitive in rows:
                f = table[i]
                key = (f.file, f.line, f.name)
                if key in merged:
                    merged[key].cc += n - nonprimitive
                    merged[key].nc += n
    return merged
