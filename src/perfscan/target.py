"""Which tests the test passes profile.

`--test` wins. Otherwise one timing run of the whole suite (through the probe, in its `time`
mode) within a slice of the budget: if the suite finishes, all of it is profiled; if not, the
fastest non-trivial tests measured so far are, integration tests first, within a smaller slice.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from perfscan.errors import UsageError
from perfscan.models import Project, Settings, Target
from perfscan.probe_host import ProbeRun, package_paths, run_probe

TRIVIAL_SECONDS = 0.002  # a test this fast profiles nothing but pytest
INTEGRATION = re.compile(r"integration|e2e|end_to_end|endtoend|functional|system|acceptance", re.I)


def _has_tests(project: Project) -> bool:
    if project.tests_dir is not None:
        return True
    try:
        return any(p.name.startswith("test_") and p.suffix == ".py" for p in project.root.iterdir())
    except OSError:
        return False


def select_target(
    settings: Settings,
    project: Project,
    workdir: Path,
    probe_path: Path,
    slice_seconds: float,
    options: Optional[Dict[str, str]] = None,
) -> Tuple[Target, Optional[ProbeRun]]:
    """The target, and the timing run (a plain run: the baseline of the profilers' overhead)."""
    pytest_args = tuple(settings.pytest_args)
    if settings.exec_command:
        shown = " ".join(settings.exec_command)
        return Target((), (), "exec", 0, f"the command {shown}", exec_command=tuple(settings.exec_command)), None
    if not project.has_pytest:
        if _has_tests(project) or settings.tests:
            raise UsageError(
                f"the runner {' '.join(project.runner)} ({project.runner_origin}) cannot import pytest; "
                "pass --runner with the python of the project's test environment"
            )
        return Target(
            (), pytest_args, "none", 0, "no tests: pytest is not installed for the project and no tests were found"
        ), None
    if settings.tests:
        return Target(tuple(settings.tests), pytest_args, "user", len(settings.tests), "tests named with --test"), None

    run = run_probe(
        "time",
        runner=project.runner,
        root=project.root,
        workdir=workdir,
        probe_path=probe_path,
        pytest_args=list(pytest_args),
        timeout=slice_seconds,
        options=options,
        packages=package_paths(project),
    )
    collected = run.read("collected.json")
    if collected is None:
        tail = run.child.tail(4).replace("\n", " | ")
        note = f"no tests: collection {run.child.describe_exit()}" + (f" ({tail})" if tail else "")
        return Target((), pytest_args, "none", 0, note), run
    nodeids = tuple(str(n) for n in collected.get("nodeids") or ())
    errors = [str(e) for e in collected.get("errors") or ()]
    if not nodeids:
        note = "no tests collected" + (f"; collection errors: {'; '.join(errors[:3])}" if errors else "")
        return Target((), pytest_args, "none", 0, note), run
    neutralized = run.neutralized()
    err_note = f"; {len(errors)} collection error(s), the other tests ran: {'; '.join(errors[:2])}" if errors else ""
    outcomes = run.outcomes()
    # pytest runs in collection order: the first test not done is the one a crash or the slice's end cut
    unfinished = next((n for n in nodeids if not (outcomes.get(n) or {}).get("done")), None)
    # a crash is a process that died inside a test; pytest's own exit codes (2 interrupted, 3
    # internal error, 4 usage) come after its session finished
    crashed = (
        run.child.returncode is not None
        and not run.child.timed_out
        and run.child.returncode not in (0, 1, 5)
        and not run.finished()
    )
    if crashed:
        # the process died inside a test (os._exit, a signal): leave that test out, keep the rest
        rest = tuple(n for n in nodeids if n != unfinished)
        note = (
            f"the test process {run.child.describe_exit()} during {unfinished or 'the run'}; "
            f"profiling the other {len(rest)} test(s) without it" + err_note
        )
        if not rest:
            return Target((), pytest_args, "none", len(nodeids), note), run
        return Target(rest, pytest_args, "selected", len(nodeids), note, neutralized=neutralized), run
    if not run.child.timed_out:
        return Target(
            nodeids,
            pytest_args,
            "all",
            len(nodeids),
            f"the whole suite ({len(nodeids)} tests) runs within the time slice" + err_note,
            neutralized=neutralized,
        ), run
    chosen = pick_fast_tests(outcomes, slice_seconds / 3)
    if not chosen:
        # nothing finished in the slice: profile the first test alone rather than nothing
        chosen = [nodeids[0]]
    note = (
        f"the suite did not finish within {slice_seconds:.0f} s"
        + (f" (still running: {unfinished})" if unfinished else "")
        + f"; profiling {len(chosen)} of {len(nodeids)} tests "
        "(the fastest non-trivial ones, integration tests first)" + err_note
    )
    return Target(tuple(chosen), pytest_args, "selected", len(nodeids), note, neutralized=neutralized), run


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
