"""The screen's spare, host side: the memory pass's later runs made by a fork of the screen's
process, taken after collection (probe/spare.py), instead of a process of their own each.

The screen's run is asked for a spare (`spare_options`); once it has ended, `open_spare` finds it
(or None: it was refused, and the later runs start processes as before). `Spare.run` hands it one
run (its folder, options and node ids) and waits for it, with the same timeout a process would
have: at the timeout the worker gets SIGTERM (the probe writes what it measured); a worker still
there after GRACE_SECONDS is killed with the spare, and later runs start processes. A spare that
dies during a run gives None (the caller starts a process). `Spare.close` ends it, and the
worker if one is left; a scan that is interrupted, or a memory pass called off, kills both with
the other children.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Dict, FrozenSet, Optional, Sequence, Tuple

from perfscan import children
from perfscan.passes import PassContext
from perfscan.probe.contract import write_json
from perfscan.probe_host import ProbeRun

SPARE_ARGV0 = "perfscan spare"  # a spare's run's stand-in command line
FORKED = "forked from the screen's process after collection"  # said of a run the spare made
POLL_SECONDS = 0.01
GRACE_SECONDS = 3.0  # after SIGTERM, for the worker to write what it measured


def by_spare(run: ProbeRun) -> bool:
    """Whether the spare made this run."""
    return run.child.argv[:1] == (SPARE_ARGV0,)


def spare_folder(ctx: PassContext) -> Path:
    return ctx.workdir / "runs" / "memory-spare"


def spare_options(ctx: PassContext, seconds: float) -> Dict[str, str]:
    """The screen's options that ask for a spare, which lives at most `seconds` (the pass's time)
    and then some: the host times out a run first, with SIGTERM and its grace, so that the worker
    writes what it measured; a spare ending at the same moment would SIGKILL it first."""
    folder = spare_folder(ctx)
    folder.mkdir(parents=True, exist_ok=True)
    until = time.time() + seconds + 2 * GRACE_SECONDS
    return {"spare": str(folder), "spare_host": str(os.getpid()), "spare_until": str(until)}


def open_spare(ctx: PassContext, first: ProbeRun) -> Optional[Spare]:
    """The spare the first run left, or None (refused, or the run died before its loop)."""
    folder = spare_folder(ctx)
    try:
        said = json.loads((folder / "spare.json").read_text(encoding="utf-8"))
        pid = int(said["pid"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    began = _start_time(pid)
    if began is None:
        return None  # gone already
    children.adopt(pid)
    passed = frozenset(nodeid for nodeid, (outcome, _) in first.facts().outcomes.items() if outcome == "passed")
    return Spare(ctx, folder, pid, began, passed)


def _start_time(pid: int) -> Optional[str]:
    """When the process started (clock ticks since boot, /proc/PID/stat's 22nd field), which
    tells it from a later process given the same pid; "" where /proc cannot say; None when the
    process is gone or a zombie (its parent, the first run, is gone, and where no init reaps
    orphans it stays one)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except FileNotFoundError:
        return None
    except OSError:
        fields = []
    if len(fields) > 19:
        return None if fields[0] in ("Z", "X") else fields[19]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except OSError:
        pass
    return ""


class Spare:
    """A live spare: it makes one run at a time."""

    def __init__(self, ctx: PassContext, folder: Path, pid: int, began: str, passed: FrozenSet[str]) -> None:
        self.ctx = ctx
        self.folder = folder
        self.pid = pid
        self.began = began
        self.passed = passed
        self.requests = 0
        self.alive = True
        self.worker: Optional[Tuple[int, str]] = None  # the running worker's pid and start time

    def run(self, name: str, tests: Sequence[str], options: Dict[str, str], timeout: float) -> Optional[ProbeRun]:
        """A run of these tests, in the order they were collected, into runs/NAME; None when the
        spare is gone or dies during the run (the caller starts a process with the time left)."""
        if not self._running():
            self.close()
            return None
        self.requests += 1
        n = self.requests
        out = self.ctx.workdir / "runs" / name
        out.mkdir(parents=True, exist_ok=True)
        # the worker keeps the first run's `packages` option (probe/spare.py)
        write_json(str(self.folder / f"request-{n}.json"), {"out": str(out), "options": options, "tests": list(tests)})
        start = time.monotonic()
        done = self._wait(n, start + max(timeout, 0.1))
        timed_out = done is None and self._running()
        if done is None and not timed_out:
            self.close()  # it died (the system's OOM killer, its deadline): a process makes the run
            return None
        if timed_out:
            self._signal_worker(signal.SIGTERM)  # the probe writes what it measured
            done = self._wait(n, time.monotonic() + GRACE_SECONDS)
            if done is None:
                self.close()
        self._end_worker()
        code = done.get("returncode") if done else -int(signal.SIGKILL)
        child = children.ChildResult(
            (SPARE_ARGV0, name),
            code if isinstance(code, int) else None,
            timed_out,
            time.monotonic() - start,
            out / "child.stdout",
            out / "child.stderr",
        )
        return ProbeRun(child, out)

    def trusted(self, run: ProbeRun, tests: Sequence[str]) -> bool:
        """Whether a run of the spare stands for a fresh process's: it measured, it ran every test
        asked, and no test that passed in the screen failed in it."""
        if run.read("memory.json") is None:
            return False
        outcomes = run.outcomes()
        if any(t not in outcomes for t in tests):
            return False
        return not any(nodeid in self.passed for nodeid, _ in run.failed_tests())

    def close(self) -> None:
        if self.alive:
            self.alive = False
            if _start_time(self.pid) == self.began:
                children.kill_adopted(self.pid)
        self._end_worker()

    def _wait(self, n: int, until: float) -> Optional[Dict[str, object]]:
        """done-N, or None at `until` or when the spare is gone. The worker's group is adopted
        as soon as the spare names it (an interrupted scan kills it with the other children)."""
        path = self.folder / f"done-{n}.json"
        while time.monotonic() < until:
            try:
                return dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                pass
            if self.worker is None:
                self._adopt_worker(n)
            if not self._running():
                return None
            time.sleep(POLL_SECONDS)
        return None

    def _adopt_worker(self, n: int) -> None:
        try:
            pid = int(json.loads((self.folder / f"worker-{n}.json").read_text(encoding="utf-8"))["pid"])
        except (OSError, ValueError, TypeError, KeyError):
            return
        began = _start_time(pid)
        if began is not None:
            self.worker = (pid, began)
            children.adopt(pid)

    def _signal_worker(self, signum: int) -> None:
        if self.worker is not None and _start_time(self.worker[0]) == self.worker[1]:
            try:
                os.kill(self.worker[0], signum)
            except OSError:
                pass

    def _end_worker(self) -> None:
        """A worker still there (the spare was killed under it) goes, with what its tests started."""
        if self.worker is not None:
            pid, began = self.worker
            self.worker = None
            if _start_time(pid) == began:
                children.kill_adopted(pid)
            else:  # reaped by the spare, which killed what it left (probe/spare.py)
                children.release(pid)

    def _running(self) -> bool:
        return self.alive and _start_time(self.pid) == self.began
