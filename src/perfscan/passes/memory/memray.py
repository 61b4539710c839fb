"""memray, when the project's interpreter has it: the whole run's heap, native allocations included.

tracemalloc sees Python allocations only, per test; memray --native sees every allocation of the
run. Its high-water mark is read back in the project's interpreter (memray is not perfscan's
dependency) and summed per project function, as a second opinion beside the findings.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Dict, Optional, Sequence, Tuple

from perfscan import children
from perfscan.locate import Location, Locator
from perfscan.passes import PassContext, child_env
from perfscan.passes.memory.records import MemrayCapture
from perfscan.passes.memory.section import MemrayRow, MemraySummary
from perfscan.passes.memory.units import MIB, mib
from perfscan.probe_host import driver_args

# Runs in the project's interpreter: reads memray's capture at the run's high-water mark.
MEMRAY_READER = """
import json, sys
from memray import FileReader
reader = FileReader(sys.argv[1])
meta = reader.metadata
rows = []
for rec in reader.get_high_watermark_allocation_records(merge_threads=True):
    try:
        stack = rec.hybrid_stack_trace(max_stacks=40) if meta.has_native_traces else rec.stack_trace(max_stacks=40)
    except Exception:
        stack = rec.stack_trace(max_stacks=40)
    rows.append([rec.size, rec.n_allocations, [[f[1], f[2], f[0]] for f in stack]])
rows.sort(key=lambda r: r[0], reverse=True)
out = {"peak": meta.peak_memory, "allocations": meta.total_allocations, "native": bool(meta.has_native_traces),
       "records": rows[:2000]}
with open(sys.argv[2], "w") as fh:
    json.dump(out, fh)
"""


def run_memray(
    ctx: PassContext, pytest_args: Sequence[str], timeout: float
) -> Tuple[Optional[MemrayCapture], float, str]:
    """memray --native over the same tests: its high-water mark, the seconds it took, and why not
    when it gave nothing."""
    out_dir = ctx.workdir / "runs" / "memray"
    out_dir.mkdir(parents=True, exist_ok=True)
    capture = out_dir / "capture.bin"
    result = out_dir / "memray.json"
    env = child_env(ctx.workdir, ctx.probe_path, ctx.project.launch_env)
    # the probe in its plain `time` mode: the same test runner and set-up as the other runs (pytest:
    # no cache folder, workers and coverage off, benchmark storage in the temp folder)
    argv = (
        list(ctx.project.command())
        + [
            "-m",
            "memray",
            "run",
            "--native",
            "--aggregate",
            "-q",
            "-f",
            "-o",
            str(capture),
            "-m",
            "perfscan_probe",
            "time",
            "--out",
            str(out_dir),
        ]
        + driver_args(ctx.target.driver)
        + ["--"]
        + list(pytest_args)
    )
    t0 = time.monotonic()
    run = children.run(argv, cwd=ctx.project.root, env=env, timeout=timeout * 0.8, log_dir=out_dir, name="memray-run")
    if not capture.is_file():
        return None, 0.0, f"memray: the run {run.describe_exit()} and wrote no capture; figures are tracemalloc's"
    left = max(5.0, timeout - (time.monotonic() - t0))
    read = children.run(
        list(ctx.project.command()) + ["-c", MEMRAY_READER, str(capture), str(result)],
        cwd=out_dir,
        env=env,
        timeout=left,
        log_dir=out_dir,
        name="memray-read",
    )
    try:
        data = json.loads(result.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        tail = read.tail(3)
        return (
            None,
            0.0,
            (
                f"memray: its capture could not be read ({read.describe_exit()}{': ' + tail if tail else ''}); "
                "figures are tracemalloc's"
            ),
        )
    return MemrayCapture.from_json(data), round(time.monotonic() - t0, 2), ""


def memray_summary(
    capture: MemrayCapture, seconds: Optional[float], locator: Locator, limit: int = 10
) -> MemraySummary:
    """memray's high-water mark per project function (innermost project frame of each stack)."""
    first: Dict[Tuple[str, str], MemrayRow] = {}  # the function and the line where it was first seen
    sizes: Dict[Tuple[str, str], int] = {}
    unattributed = 0
    for rec in capture.records:
        found = _innermost_project_frame(rec.frames, locator)
        if found is None:
            unattributed += rec.size
            continue
        where, line = found
        qual = where.function.qualname if where.function else "<module>"
        key = (where.rel, qual)
        first.setdefault(key, MemrayRow(f"{where.module}:{qual}", where.rel, line, 0.0))
        sizes[key] = sizes.get(key, 0) + rec.size
    top = sorted(first, key=lambda k: sizes[k], reverse=True)[:limit]
    return MemraySummary(
        peak_mib=round(mib(capture.peak), 1),
        native=capture.native,
        seconds=seconds,
        unattributed_mib=round(mib(unattributed), 1),
        top=tuple(replace(first[k], mib=round(mib(sizes[k]), 1)) for k in top if sizes[k] >= MIB // 10),
    )


def _innermost_project_frame(
    frames: Sequence[Tuple[str, Optional[int]]], locator: Locator
) -> Optional[Tuple[Location, int]]:
    for filename, line in frames:
        if filename.endswith(".py") and line is not None:
            where = locator.function_at(filename, line)
            if where is not None:
                return where, line
    return None


def memray_note(summary: MemraySummary) -> str:
    held = ", ".join(f"{r.function} {r.mib:.1f} MiB" for r in summary.top[:5])
    return (
        f"memray{' --native' if summary.native else ''} measured the whole run's heap, Python and native "
        f"allocations alike: peak {summary.peak_mib:.1f} MiB"
        + (f"; at that moment project code held {held}" if held else "")
        + f"; {summary.unattributed_mib:.1f} MiB had no project frame. "
        "tracemalloc measured the per-test peaks, the findings and the growth"
    )
