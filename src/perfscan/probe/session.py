"""One run of the tests under the probe, whichever test runner drives it (pytest, unittest, Django's).

Every driver calls the same functions, so every pass works the same under each runner:
- `start` and `stop` around each phase of each test (setup, call, teardown) hand the phase to
  the mode's recorder (the timing run's clock and call counter, the CPU engine, tracemalloc);
- `outcomes` records what happened to each test (`add_seconds`, `outcome`, and `finished` when
  its teardown is over, which in `time` mode appends its progress line);
- `begin_loop` and `end_loop` bracket the measured test loop (`begin_loop` first forks the loop
  for pooled runs where they are asked: forkpool.py), `repeat` runs the memory pass's
  repetitions (the driver says how to run its tests once more, unlogged);
- `finish` writes every file.
The drivers differ only in how they find, order and run the tests.
"""

import atexit
import json
import os
import sys

from . import projectmap, state
from .clocks import getframe, perf_counter
from .contract import PROGRESS, write_json
from .forkpool import pooled_loops
from .spare import serve

# an outcome replaces another of a lower rank (a failure beats a skip, a skip beats a pass)
_RANK = {"passed": 0, "skipped": 1, "xfailed": 1, "failed": 2, "error": 2}


def make_recorder(mode, out_dir, options):
    """The mode's recorder (None in `collect` mode): objects with start(nodeid, phase, base) and
    stop(nodeid, phase), and emergency_dump() that writes their file."""
    if mode == "time":
        from .wallclock import WallClock

        clock = WallClock(out_dir, count=options.get("count") == "1")
        if options.get("sample") == "1":
            # one run, two jobs: the timing run is also the CPU pass's sampled run (wallclock.py)
            from .wallclock import SampledWallClock

            return SampledWallClock(clock, out_dir, options)
        return clock
    if mode == "cpu":
        from .cpu import CpuRecorder

        return CpuRecorder(out_dir)
    if mode == "memory":
        from .memory import MemoryRecorder

        return MemoryRecorder(out_dir, options)
    return None


def left_out_ids():
    """`--opt deselect=FILE`: the node ids a restarted timing run leaves out, exactly (a JSON list)."""
    path = state.options.get("deselect")
    if not path:
        return frozenset()
    with open(path, encoding="utf-8") as fh:
        return frozenset(json.load(fh))


def runner_frame(frame):
    """The test runner's frame around a phase, where samples are cut (the runner's own frames
    above it are the same in every sample). A pytest hook wrapper is a generator suspended while
    the phase runs, so the first frame outside generators is the one that stays on the stack."""
    f = frame
    while f is not None and f.f_code.co_flags & 0x20:  # CO_GENERATOR
        f = f.f_back
    return f


class Outcomes:
    """collected.json, outcomes.json and (time mode) progress.jsonl."""

    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.tests = {}
        self._progress_fh = None
        self.running = None  # (nodeid, perf_counter at its start): what a timeout cut, if it comes

    def begin(self, nodeid):
        self.running = (nodeid, perf_counter())

    def collected(self, nodeids, errors, rootdir=None):
        data = {"nodeids": list(nodeids), "errors": list(errors)}
        if rootdir:
            data["rootdir"] = rootdir  # pytest's: its node ids are relative to it
        write_json(os.path.join(self.out_dir, "collected.json"), data)

    def _entry(self, nodeid):
        return self.tests.setdefault(nodeid, {"outcome": "passed", "seconds": 0.0, "message": ""})

    def add_seconds(self, nodeid, seconds):
        self._entry(nodeid)["seconds"] += float(seconds or 0.0)

    def outcome(self, nodeid, outcome, message=""):
        """A failure (`failed` in the call, `error` around it) replaces what was there; a skip
        or an expected failure replaces only a pass."""
        entry = self._entry(nodeid)
        if _RANK.get(outcome, 0) >= 2 or _RANK.get(outcome, 0) > _RANK.get(entry["outcome"], 0):
            entry["outcome"] = outcome
            if message or _RANK.get(outcome, 0) >= 2:
                entry["message"] = str(message)[:300]

    def finished(self, nodeid):
        entry = self._entry(nodeid)
        self.running = None
        entry["done"] = True  # a dump cut short by a timeout also holds the setup of the test that was running
        if state.mode == "time":
            self._progress(nodeid, entry)

    def _progress(self, nodeid, entry):
        """A timing run may die (a crash, SIGKILL) before any dump: one line per finished test,
        appended, keeps what is known. (Rewriting outcomes.json after each test cost O(n^2):
        108 s on a suite of 5,344 tests.)"""
        if self._progress_fh is None:
            self._progress_fh = open(os.path.join(self.out_dir, PROGRESS), "a", encoding="utf-8")
        self._progress_fh.write(json.dumps([nodeid, entry], ensure_ascii=True, separators=(",", ":")) + "\n")
        self._progress_fh.flush()

    def close(self):
        if self._progress_fh is not None:
            self._progress_fh.close()
            self._progress_fh = None

    def emergency_dump(self):
        self.dump(None)

    def dump(self, exitstatus=None):
        data = {
            "tests": self.tests,
            "exitstatus": exitstatus,
            "neutralized": list(state.neutralized),
            "imports": projectmap.current().report(state.options.get("root") or os.getcwd()),
        }
        if self.running is not None:
            data["running"] = {"nodeid": self.running[0], "seconds": perf_counter() - self.running[1]}
        write_json(os.path.join(self.out_dir, "outcomes.json"), data)


class Session:
    def __init__(self, out_dir, mode, options):
        self.outcomes = Outcomes(out_dir)
        state.recorders.append(self.outcomes)
        self.recorder = make_recorder(mode, out_dir, options)
        if self.recorder is not None:
            state.recorders.insert(0, self.recorder)  # on SIGTERM its file is written first

    def start(self, nodeid, phase, base=None):
        """`base`: the runner's frame that stays on the stack through the phase; by default the
        caller's frame (past a hook wrapper's generator frame)."""
        if phase == "setup":
            self.outcomes.begin(nodeid)
        if self.recorder is not None:
            self.recorder.start(nodeid, phase, base if base is not None else runner_frame(getframe(1)))

    def stop(self, nodeid, phase):
        if self.recorder is not None:
            self.recorder.stop(nodeid, phase)

    def begin_loop(self):
        """Returns None, or in a spare's worker the node ids it runs (the driver runs only those)."""
        wanted = serve(self)  # `--opt spare=DIR`: the host's later runs forked from here (spare.py)
        pooled_loops()  # `--opt pool=N`: N more runs of the loop, forked from here (forkpool.py)
        begin = getattr(self.recorder, "begin_run", None)
        if begin is not None:
            begin()
        return wanted

    def rerun_as(self, out_dir, options):
        """A spare's worker (spare.py): a run of its own, written into out_dir, with these options."""
        if self.recorder is not None:
            state.recorders.remove(self.recorder)
        self.outcomes.out_dir = out_dir
        self.outcomes.tests = {}
        self.recorder = make_recorder(state.mode, out_dir, options)
        if self.recorder is not None:
            state.recorders.insert(0, self.recorder)

    def end_loop(self):
        end = getattr(self.recorder, "end_run", None)
        if end is not None:
            end()

    def repeat(self, run_once):
        """The memory pass's repetitions: `run_once(keep)` runs the tests once more (only the node
        ids in the set `keep` where the driver can select them), unlogged, and returns how many failed."""
        repetitions = getattr(self.recorder, "repetitions", None)
        if repetitions is not None:
            repetitions(run_once)

    def finish(self, exitstatus):
        if self.recorder is not None:
            self.recorder.emergency_dump()
        self.outcomes.close()
        self.outcomes.dump(exitstatus)
        if state.forked:  # a pooled loop's fork: its run is written, the rest is the parent's (forkpool.py)
            try:
                getattr(atexit, "_run_exitfuncs", lambda: None)()  # only those registered since the fork
            except Exception:
                pass
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exitstatus if 0 <= exitstatus < 256 else 1)
