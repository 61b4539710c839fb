"""Which tests the test passes profile.

`--test` wins. Otherwise one timing run of the whole suite (through the probe, in its `time`
mode) within a slice of the budget: if the suite finishes, all of it is profiled; a test that
cuts it short (hangs, or kills the process) is left out and the run goes on without it; if the
suite still does not finish, the fastest non-trivial tests measured so far are profiled,
integration tests first, within a smaller slice.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from perfscan.models import Driver, Project, Settings, Target, other_rootdir
from perfscan.probe_host import ProbeRun
from perfscan.timing import TimingRun, time_suite

TRIVIAL_SECONDS = 0.002  # a test this fast profiles nothing but pytest
INTEGRATION = re.compile(r"integration|e2e|end_to_end|endtoend|functional|system|acceptance", re.I)


def select_target(
    settings: Settings,
    project: Project,
    workdir: Path,
    probe_path: Path,
    slice_seconds: float,
    options: Optional[Dict[str, str]] = None,
    restart_seconds: float = 0.0,
    *,
    driver: Driver,
    cores: int = 1,
    after_first: Optional[Callable[[ProbeRun], None]] = None,
) -> Tuple[Target, Optional[TimingRun]]:
    """The target, and the timing run (a plain run: the baseline of the profilers' overhead), run
    by `driver`, the test runner (testdriver.py); a test that cuts the timing run short is left out
    and the run restarted without it, within `restart_seconds` more (perfscan.timing)."""
    pytest_args = tuple(settings.pytest_args)
    if settings.exec_command:
        shown = " ".join(settings.exec_command)
        return Target((), (), "exec", 0, f"the command {shown}", exec_command=tuple(settings.exec_command)), None
    if settings.tests:
        return Target(tuple(settings.tests), pytest_args, "user", len(settings.tests), "tests named with --test"), None

    timing = time_suite(
        project=project,
        workdir=workdir,
        probe_path=probe_path,
        pytest_args=list(pytest_args),
        options=options,
        slice_seconds=slice_seconds,
        restart_seconds=restart_seconds,
        driver=driver,
        cores=cores,
        after_first=after_first,
    )
    first = timing.runs[0]
    collected = first.read("collected.json")
    if collected is None:
        tail = first.child.tail(4).replace("\n", " | ")
        note = f"no tests: collection {first.child.describe_exit()}" + (f" ({tail})" if tail else "")
        return Target((), pytest_args, "none", 0, note), timing
    nodeids = tuple(str(n) for n in collected.get("nodeids") or ())
    errors = [str(e) for e in collected.get("errors") or ()]
    if not nodeids:
        note = "no tests collected" + (f"; collection errors: {'; '.join(errors[:3])}" if errors else "")
        return Target((), pytest_args, "none", 0, note), timing
    neutralized = timing.neutralized()
    rootdir = other_rootdir(collected.get("rootdir"), project.root)
    err_note = f"; {len(errors)} collection error(s), the other tests ran: {'; '.join(errors[:2])}" if errors else ""
    left = tuple((x.nodeid, x.reason) for x in timing.left_out)
    left_note = "".join(f"left out {nid} ({why}); " for nid, why in left)
    if len(timing.runs) > 1:
        left_note += f"the timing run restarted without {'it' if len(left) == 1 else 'them'}; "
    if timing.note:
        left_note += timing.note + "; "
    if timing.complete and not left:
        return Target(
            nodeids,
            pytest_args,
            "all",
            len(nodeids),
            f"the whole suite ({len(nodeids)} tests) runs within the time slice"
            + (f" across {timing.workers} pytest-xdist workers" if timing.workers else "")
            + err_note,
            neutralized=neutralized,
            rootdir=rootdir,
        ), timing
    if timing.complete:
        # every other test finished: all of them are candidates, the ones left out are not
        gone = {nid for nid, _ in left}
        rest = tuple(n for n in nodeids if n not in gone)
        note = left_note + f"profiling the other {len(rest)} of {len(nodeids)} tests" + err_note
        mode = "selected" if rest else "none"
        return (
            Target(
                rest, pytest_args, mode, len(nodeids), note, neutralized=neutralized, left_out=left, rootdir=rootdir
            ),
            timing,
        )
    outcomes = timing.outcomes()
    gone = {nid for nid, _ in left}
    # pytest runs in collection order: the first test not done is the one the slice's end cut
    unfinished = next((n for n in nodeids if not outcomes.get(n, {}).get("done") and n not in gone), None)
    chosen = pick_fast_tests(outcomes, slice_seconds / 3)
    if not chosen:
        # nothing finished in the slice: profile the first test alone rather than nothing
        chosen = [n for n in nodeids if n not in gone][:1]
    note = (
        left_note
        + f"the suite did not finish within {slice_seconds:.0f} s"
        + (f" (still running: {unfinished})" if unfinished and timing.child.timed_out else "")
        + f"; profiling {len(chosen)} of {len(nodeids)} tests "
        "(the fastest non-trivial ones, integration tests first)" + err_note
    )
    mode = "selected" if chosen else "none"
    return (
        Target(
            tuple(chosen),
            pytest_args,
            mode,
            len(nodeids),
            note,
            neutralized=neutralized,
            left_out=left,
            rootdir=rootdir,
        ),
        timing,
    )


def pick_fast_tests(outcomes: Dict[str, Dict[str, Any]], seconds: float) -> List[str]:
    """Fastest non-trivial passing tests, integration tests first, within `seconds` in total."""
    rows = []
    for nid, t in outcomes.items():
        # not done: still running when the slice ended, and its time so far is only its setup's
        if not isinstance(t, dict) or t.get("outcome") not in ("passed", "failed") or not t.get("done"):
            continue
        secs = float(t.get("seconds") or 0.0)
        if secs < TRIVIAL_SECONDS:
            continue
        rows.append((0 if INTEGRATION.search(nid) else 1, secs, nid))
    rows.sort()
    chosen: List[str] = []
    total = 0.0
    for _, secs, nid in rows:
        if total + secs > seconds and chosen:
            continue
        chosen.append(nid)
        total += secs
    return chosen
