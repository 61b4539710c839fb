"""Memory recorder: what is alive at each test phase's peak, and which module-level containers grow.

How the peak is caught (peakhook.py): tracemalloc traces from the start of the test loop; at
each phase's start the peak is reset, and a hook at Python function returns takes a snapshot at
each new high-water mark and at once reduces it to a per-line summary (attribution.py).

Why 1 frame by default. tracemalloc's cost grows with the frames per allocation: on 3.12+ each
frame's line number is found by scanning the code's location table, and most of the 25 frames
above a test are pytest's. Measured on the corpus (3.12, test loop only): 1 frame 2.2 s, 25
frames 31 s (clean_lib, plain 0.25 s). With 1 frame an allocation made directly by project code
(including C calls it makes: slicing, list(), json.loads) is attributed exactly; one made
inside a Python library or the stdlib called from project code shows only the library frame.
The host then asks for a second, deep run (`--opt deep=FILE --opt frames=25`) that traces with
25 frames only during the phases whose peak holds 1 MiB or more in library frames, and
attributes those bytes to their innermost project frame.

Measured cost (whole memory pass, host included, against a plain `pytest -q` of the same tests
side by side, median of 2, on a shared 2-core machine; wsgi_orders includes its 2 repetitions):
cli_wordfreq 1.9x, lib_graph 2.2x, wsgi_orders 3.6x, clean_lib 2.4x on 3.11; 1.3-4.5x on 3.12
and 3.13; 3.2-10.6x on 3.9, whose profile hook is slowest (wsgi_orders' 4.5 million generator
steps in one fixture). These are the figures the method was chosen by; `bench/run.py` measures
the current ones ("memory pass / plain", README "Performance"), which move with the machine's load.

Two steps (the host's catch.py): once the hook costs too much (`_weigh_hook`) the garbage
collector's runs and a CPU-time tick arm it only where a phase's memory gets halfway to its next
mark (a phase that passed a mark before the hook was armed is marked "full"); `--opt
catch=FILE` ({"phases": [[nodeid, phase, rise], ...]}) runs the hook from the start of those
phases only, its first mark at 80% of the rise the first run saw.

The screen (`--opt screen=1`, screen.py): the first run of the tests traces nothing; each
phase's rise is estimated from the resident memory's high-water mark and the count of live
small objects ("peak", with "start" 0), and the host traces only the tests of the phases that
rose half the floor or more, in a run of their own (`--opt census=0`: the screen took the census
and ran the repetitions). Where the screen cannot run, that run measures as above and says why.

Per-request growth (`--opt repeat=N`): after the measured loop the tests that changed the entry
count of a module-level container of the project (read after each phase: census.watch_list)
run N more times in the same process, untraced and unlogged (outcomes.json keeps the measured
run's), and every module-level value of the project's modules (and what it holds, walked with a
node cap, estimated from a sample of entries past it) is measured before and after each
repetition.

Options (all strings): root (project root, absolute), exclude (JSON list of globs, root-relative),
frames (1), min_mib (1), repeat (0), screen ("1": screen first), census ("0": none), rises ("1": the
hook armed where memory rises from the first phase on), marks (path of a JSON file, as catch: each
phase's first mark), catch (path of a JSON file), deep (path of a JSON file {"phases": [[nodeid, phase,
target_bytes, full], ...]}: full 1 runs the hook from the phase's start, 0 arms it as above), max_snapshot_seconds (60), max_trace_mib (128). A snapshot's Python copy
takes about 3 times tracemalloc's own memory (about 50 bytes per live allocation): above
max_trace_mib and above an eighth of the machine's available memory no snapshot is taken, so a
test holding GiBs of small objects cannot make the probe copy them all; the phase's peak is
still recorded.

memory.json:
{
  "python": "3.11.7", "frames": 1, "hook": "sys.monitoring" | "setprofile" | "none",
  "mode": "screen" | "measure" | "deep", "peaks_ok": per-phase peaks (reset_peak),
  "phases": [{
      "test": nodeid, "phase": "setup"|"call"|"teardown",
      "start": bytes traced at the phase's start, "peak": tracemalloc's peak during the phase,
      "end": bytes at its end, "snapshot": bytes traced when the kept snapshot was taken (0: none),
      "snapshots": number taken, "caught": "return" | "end" | "", "seconds": the phase's time,
      "lines": [[file, line, bytes, count], ...]   (innermost project frame; top 300 by bytes)
      "rest": bytes of project lines beyond the top 300,
      "tests": bytes whose innermost frame is test code, "libs": bytes whose innermost frame is
      a library or the stdlib (no project frame seen), "libs_new": those of them that were not
      alive at the last snapshot of an earlier phase, "imports": bytes whose innermost frame is
      the import system (modules loaded since the test loop began), "runner": those of the test
      runner (pytest's reports of the tests so far), "lib_files": [[file, bytes], ...] (top 5),
      "lib_lines": [[file, line, bytes], ...] (the innermost library lines of "libs", top 50),
      "hooked": false when its peak is to be caught again (the hook was off, or a mark passed while
      it was not armed), "full": true when the hook ran, or must run, from the phase's start (the
      whole-loop hook, a catching run, or the hook was not armed in time where memory rose),
      "note": why no snapshot was taken, if so,
      "screened": true in a screen ("peak" the estimated rise, "resident" and "blocks" its two figures)}],
  "import": [{"module", "name", "file", "bytes", "truncated", "estimated", "entries", "type"}]   (module-level values
      of 1 MiB or more at the start of the test loop: made at import or collection time)
  "growth": [{"module", "name", "file", "type", "sizes": [before, after1, after2, ...],
      "entries": [n, ...], "truncated", "estimated"}]   (values that grew by 64 KiB or more over
      the repetitions, or at every repetition in bytes or entries)
  "repeat": {"asked": N, "done": n, "failures": k, "seconds": s, "tests": repeated, "skipped": why},
  "touched": [nodeid, ...]   (tests after which a module-level container's entry count changed),
  "overhead": {"loop_seconds", "snapshot_seconds", "snapshots", "census_seconds", "skipped": n},
  "errors": [str]
}
In deep mode "lines" hold only the bytes that a 1-frame run saw in library frames, attributed
to the innermost project frame within 25 frames; "libs" what still has none.
"""

import json
import os
import sys
import threading
import tracemalloc
from typing import Any, Dict, List, Optional, Tuple

from . import state
from .attribution import Classifier as Classifier
from .attribution import summarize as summarize
from .census import census, entries, growth_records, watch_list
from .census import deep_size as deep_size
from .clocks import perf_counter
from .contract import write_json
from .peakhook import INF, MONITORING, arm_where_memory_rises, install, stop_arming, uninstall, watch_memory
from .screen import Screen

MIB = 1 << 20
MAX_SNAPSHOTS = 50  # per phase; past it the steps widen to 25%
HOOK_SHARE = 0.2  # past this share of the loop's time in the hook, it runs only where memory rises
_IMPORTED = perf_counter()  # the probe imports this module at its start: the loop's start minus this is start-up
HOOK_MIN_SECONDS = 1.0  # of the loop, before the hook's share is judged
WEIGH_EVERY = 50000  # returns between two weighings of the hook's cost, inside a phase too


def give_line_tables():
    """For a deep run on 3.11: a profile function that does nothing until the hook replaces it at
    the first traced phase.

    On 3.11 a code object gets its table of line numbers by offset the first time a profile
    function sees one of its frames; without it tracemalloc finds each frame's line by scanning
    the code's line table, for every frame of every allocation. At 10 or 25 frames the frames
    around a test (the test runner's, the probe's) are read at every allocation too, and the
    hook, put in place at a phase's start, never sees them. Set at the test loop's start
    (`begin_run`), it sees the frames of every test's protocol: a Markdown test at 10 frames,
    11.5 s without it, 4.3 s with it. 25 frames reach the runner's frames below the loop too: for
    them the probe's entry point sets it before the test runner starts (37.8 s → 23.7 s). Not
    earlier for 10 frames: under a profile function the start-up (imports, collection) takes 2-3
    times as long (cli_logstats' deep run started in 2.4 s, its measured run in 0.9 s)."""
    if sys.version_info[:2] == (3, 11) and sys.getprofile() is None:
        sys.setprofile(_line_tables)


def _line_tables(frame, event, arg):
    return None


def snapshot_step(grown, spent, snapshots, phase_snapshot_seconds, worked):
    """Bytes above this snapshot to the phase's next mark. A snapshot costs in proportion to the
    live allocations: the costlier it was, the wider the step (5%, 10%, 25% of the phase's growth,
    1 MiB at least). Once the phase's snapshots took as long as its own work, a quarter: on
    lib_mesh's suite 30 snapshots took 7.0 s of a 15.8 s loop, 21 then took 4.2 s."""
    if snapshots >= MAX_SNAPSHOTS or spent > 0.5 or phase_snapshot_seconds > worked:
        return max(MIB, grown // 4)
    if spent > 0.1:
        return max(MIB, grown // 10)
    return max(MIB, grown // 20)


def _available_memory():
    """Bytes of memory still available on this machine (0 when unknown)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


class MemoryRecorder:
    def __init__(self, out_dir, options=None):
        options = options or {}
        self.out_dir = out_dir
        self.frames = max(1, int(options.get("frames") or 1))
        self.threshold = int(float(options.get("min_mib") or 1) * MIB)
        self.repeat = max(0, int(options.get("repeat") or 0))
        self.max_snapshot_seconds = float(options.get("max_snapshot_seconds") or 60)
        self.max_trace_bytes = int(float(options.get("max_trace_mib") or 128) * MIB)
        try:
            exclude = json.loads(options.get("exclude") or "[]")
        except ValueError:
            exclude = [p for p in str(options.get("exclude")).split(",") if p]
        self.classifier = Classifier(options.get("root") or os.getcwd(), exclude)
        self.deep = {}
        self.errors = []
        # deep-run phases whose hook runs from their start: the run before caught their peak with
        # the hook on from the start (peakhook.arm_where_memory_rises did not arm it); a 4th item of 1
        self.full = set()
        if options.get("deep"):
            try:
                with open(options["deep"], encoding="utf-8") as fh:
                    for entry in json.load(fh).get("phases", []):
                        self.deep[(entry[0], entry[1])] = int(entry[2])
                        if len(entry) > 3 and entry[3]:
                            self.full.add((entry[0], entry[1]))
            except (OSError, ValueError, TypeError) as exc:
                self.errors.append("deep run: cannot read %s: %s" % (options["deep"], exc))
        # the peak-catching run (`--opt catch=FILE`, {"phases": [[nodeid, phase, rise], ...]}): the
        # hook runs only in those phases, its first mark near the rise the first run measured
        self.catch: Optional[Dict[Tuple[str, str], int]] = None
        if options.get("catch"):
            self.catch = self._read_phases(options["catch"], "catching run")
        self._hooked = False  # the hook is in place for the phase under way
        self._phase_peak = 0  # a lazily armed phase's peak before tracemalloc's was last reset
        self._missed = False  # the phase's peak passed a mark while the hook was not armed
        self._arm = [INF]  # traced size at which a collection or a tick arms the hook in this phase
        self._live = [False]  # the hook checks returns (a thread it was armed in disarms itself when False)
        self._armed_threads = set()  # before 3.12 the hook is per thread: the threads armed in this phase
        self._arming = None
        self._lazy = False  # the phase under way is armed where its memory rises, not from its start
        self._lib_base: Dict[str, int] = {}  # library file -> bytes at the last snapshot of an earlier phase
        self._lib_latest: Dict[str, int] = {}  # the same at the phase's latest snapshot
        # [returns the hook saw, the count at which its cost is weighed next] (peakhook.py counts them)
        self._events = [0, WEIGH_EVERY]
        self._event_cost = 0.0  # seconds per hooked return, measured at the start of the loop
        self.hook_off = ""  # the test after which the hook was turned off for costing too much
        self._phase_events = 0  # returns seen when the phase under way began
        self._phase_t0 = 0.0  # when the phase under way began
        self._phase_snapshot_seconds = 0.0  # its snapshots' time so far
        self._wasted_events = 0  # returns seen in phases whose peak stayed under the threshold
        self._most_wasted = 0  # the most of them in one phase
        self._startup = 0.0  # seconds from the probe's start to the loop's: what another run pays first
        # a spare's worker (spare.py) starts when it is made: it pays no start-up
        self._origin = perf_counter() if state.forked else _IMPORTED
        self.mode = "deep" if options.get("deep") else "measure"
        # screen mode: each phase's rise estimated untraced (screen.py); where it cannot run, measure
        self.screen: Optional[Screen] = None
        if options.get("screen") == "1" and self.mode == "measure":
            screen = Screen()
            why = screen.unavailable()
            if why:
                self.errors.append("no untraced screen: %s; every test was traced" % why)
            else:
                self.screen, self.mode = screen, "screen"
        self.census_wanted = options.get("census") != "0"  # a run of some tests after the screen: taken there
        self.peaks_ok = hasattr(tracemalloc, "reset_peak")
        # the hook armed where memory rises from the first phase on (the traced run after the
        # screen: its tests all rise, and under a hook from their start one of Markdown's took 5 s
        # for 0.4 s); a phase that passed a mark unarmed is caught again. Needs reset_peak (3.9+).
        self.rises = options.get("rises") == "1" and self.peaks_ok
        # the traced run after the screen (`--opt marks=FILE`, as catch): a phase's first mark that
        # many bytes above its start, below what the screen saw it rise (the snapshots below it
        # would be replaced by the last; on lib_mesh 23 snapshots, 4.4 s, became 9, 2.1 s). Not on
        # 3.8: with no reset_peak a peak below the mark could not be told from the run's
        self.marks = self._read_phases(options["marks"], "traced run") if options.get("marks") and self.peaks_ok else {}
        # the tests after whose phases a module-level container's entry count changed: only they are repeated
        self.touched = set()
        # (modules seen, containers, their entry counts) while repetitions are asked
        self._watch: Optional[Tuple[int, List[Any], List[Optional[int]]]] = None
        self.phases = []
        self.current = None  # the phase being measured: dict
        self.import_values = []
        self.growth = []
        self.repeat_info: Dict[str, Any] = {"asked": self.repeat, "done": 0, "failures": 0, "seconds": 0.0}
        self.overhead = {
            "loop_seconds": 0.0,
            "snapshot_seconds": 0.0,
            "snapshots": 0,
            "census_seconds": 0.0,
            "skipped": 0,
        }
        self.hook = "none"
        self._next = [INF]  # next high-water mark, read by the hook
        self._calls = {}
        self._measuring = False
        self._tool_id = None
        self._dumped = False
        self._loop_t0 = None

    def _read_phases(self, path, run):
        """{(nodeid, phase): bytes} from a file {"phases": [[nodeid, phase, bytes], ...]}."""
        out = {}
        try:
            with open(path, encoding="utf-8") as fh:
                for nodeid, phase, size in json.load(fh).get("phases", []):
                    out[(nodeid, phase)] = int(size)
        except (OSError, ValueError, TypeError) as exc:
            self.errors.append("%s: cannot read %s: %s" % (run, path, exc))
        return out

    def _snapshot(self, cur, how):
        try:
            self._take_snapshot(cur, how)
        finally:
            if self._lazy and self._next[0] == INF:
                self._disarm()  # no snapshot, so no next mark: an armed hook would check every return for nothing

    def _take_snapshot(self, cur, how):
        rec = self.current
        nxt = self._next
        nxt[0] = INF  # no re-entry while we work
        self._arm[0] = INF  # nor arming from the collector or the timer, set again below
        if rec is None or not tracemalloc.is_tracing():
            return
        if self.overhead["snapshot_seconds"] > self.max_snapshot_seconds:
            rec["note"] = "snapshot time budget spent; no snapshot"
            self.overhead["skipped"] += 1
            return
        used = tracemalloc.get_tracemalloc_memory()
        if used > self.max_trace_bytes and used > _available_memory() // 8:
            # the snapshot's Python copy takes about 3 times tracemalloc's own memory
            rec["note"] = "too many live allocations to snapshot (tracemalloc uses %d MiB)" % (used // MIB)
            self.overhead["skipped"] += 1
            return
        segment_peak = tracemalloc.get_traced_memory()[1]
        t0 = perf_counter()
        spent = 0.0
        try:
            traces = tracemalloc._get_traces()  # type: ignore[attr-defined]  # private: the raw traces, no Snapshot copy
            summary = summarize(traces, self.classifier, deep=self.mode == "deep")
            del traces
        except Exception as exc:  # never break the test for a measurement
            self.errors.append("%s (%s): snapshot failed: %s" % (rec["test"], rec["phase"], exc))
            return
        finally:
            spent = perf_counter() - t0
            self.overhead["snapshot_seconds"] += spent
        self.overhead["snapshots"] += 1
        # library bytes alive at this snapshot that were not at the last one of an earlier phase:
        # modules imported by earlier tests stay alive, and a deeper trace of this test alone
        # would not see them made
        by_file = summary.pop("by_lib_file")
        base = self._lib_base
        summary["libs_new"] = sum(max(0, n - base.get(f, 0)) for f, n in by_file.items())
        self._lib_latest = by_file
        rec.update(summary)
        rec["snapshot"] = cur
        rec["snapshots"] += 1
        rec["caught"] = how
        self._phase_snapshot_seconds += spent
        worked = perf_counter() - self._phase_t0 - self._phase_snapshot_seconds
        nxt[0] = cur + snapshot_step(
            max(0, cur - rec["start"]), spent, rec["snapshots"], self._phase_snapshot_seconds, worked
        )
        if self._lazy:
            # off until the traced size is seen halfway to the next mark: a phase that stays high
            # after its peak (or falls) no longer pays a check at every return
            self._disarm()
            self._arm[0] = cur + (nxt[0] - cur) // 2
            # tracemalloc's peak from here on is the unarmed stretch's (with the phase's so far
            # kept aside): whether the next mark was passed before the hook was armed again
            if self.peaks_ok:
                self._phase_peak = max(self._phase_peak, segment_peak)
                tracemalloc.reset_peak()

    # -- phases (called through session.Session by every test driver)
    def start(self, nodeid, phase, base=None):
        if not self._measuring:
            return
        if self.mode == "deep":
            target = self.deep.get((nodeid, phase))
            if target is None:
                return
            tracemalloc.start(max(self.frames, 2))
        elif self.mode == "measure" and not tracemalloc.is_tracing():
            # a test stopped tracemalloc (its own measurement): what it held before is lost
            self.errors.append("%s: tracemalloc was stopped by an earlier test; restarted here" % nodeid)
            tracemalloc.start(self.frames)
        rec = {
            "test": nodeid,
            "phase": phase,
            "start": 0,
            "peak": 0,
            "end": 0,
            "snapshot": 0,
            "snapshots": 0,
            "caught": "",
            "lines": [],
            "rest": 0,
            "tests": 0,
            "libs": 0,
            "imports": 0,
            "runner": 0,
            "lib_files": [],
            "lib_lines": [],
            "hooked": True,
        }
        self.current = rec
        if self.screen is not None:
            rec["screened"] = True
            self._phase_t0 = perf_counter()
            self.screen.start()
            return
        self._phase_peak = 0
        self._missed = False
        self._phase_t0 = perf_counter()
        self._phase_snapshot_seconds = 0.0
        self._calls.clear()
        if self.peaks_ok:
            tracemalloc.reset_peak()
        rec["start"] = tracemalloc.get_traced_memory()[0]
        self._phase_events = self._events[0]
        measuring = self.mode == "measure" and self.catch is None
        if measuring and self.hook_off and not self.peaks_ok:
            rec["hooked"] = False
            return
        if self.mode == "deep":
            self._next[0] = rec["start"] + max(MIB, int(self.deep[(nodeid, phase)] * 0.95))
        elif self.catch is not None:
            rise = self.catch.get((nodeid, phase))
            if rise is None:
                return  # not a phase whose peak matters: its peak only, as in the first run
            # the snapshots before the last are replaced by it: start near the peak already seen
            self._next[0] = rec["start"] + max(self.threshold, int(rise * 0.8))
        else:
            self._next[0] = rec["start"] + max(self.threshold, self.marks.get((nodeid, phase), 0))
        if measuring and not (self.hook_off or self.rises):
            # the hook is in place for the whole loop until it costs too much (_weigh_hook); a
            # deep run of the phase runs it from its start too: armed where memory rises, it
            # would miss a large buffer a library makes in one call and the project returns at once
            rec["full"] = True
            if not MONITORING and sys.getprofile() is not getattr(self, "_profile_fn", None):
                install(self)  # a test replaced our hook: put it back for this phase
        elif measuring or (self.mode == "deep" and (nodeid, phase) not in self.full):
            # after the hook cost too much, and in a deep run of a phase whose peak was caught so
            # the first time: armed where memory rises (peakhook.arm_where_memory_rises)
            self._lazy = True
            self._arm[0] = rec["start"] + (self._next[0] - rec["start"]) // 2
            if self._arming is None:
                # only from here: under the hook the callback's own return is a check, and in a
                # comprehension that builds a large list it would take a snapshot at each mark
                self._arming = arm_where_memory_rises(self)
        else:
            # the catching run, and a deep run of a phase caught with the hook from its start, or
            # seen only at its end
            rec["full"] = True
            if self._arming is not None:  # its return would be a check (see below)
                stop_arming(self._arming)
                self._arming = None
            self._live[0] = True
            install(self)
            self._hooked = True

    def _arm_hook(self):
        """Put the hook in place for the rest of the phase (peakhook.arm_where_memory_rises calls it)."""
        if self.current is None or not self._measuring:
            return
        if MONITORING:
            self._arm[0] = INF  # in place for every thread at once
        else:
            thread = threading.get_ident()
            if thread in self._armed_threads:
                return  # before 3.12 the level stays: later ticks and collections call again
            self._armed_threads.add(thread)
        if not self._hooked and self._lazy and self.peaks_ok and tracemalloc.get_traced_memory()[1] >= self._next[0]:
            self._missed = True  # the peak since the last snapshot passed the mark before now
        self._live[0] = True
        install(self)
        self._hooked = True

    def stop(self, nodeid, phase):
        rec = self.current
        if rec is None or not self._measuring:
            return
        pending = self._next[0]  # the mark no snapshot was taken at yet
        self._next[0] = INF
        self._arm[0] = INF
        lazy, self._lazy = self._lazy, False
        if self.screen is not None:
            # start 0 and peak the estimated rise: the host traces the phases that rose the most
            rec["peak"], rec["resident"], rec["blocks"] = self.screen.stop()
        elif tracemalloc.is_tracing():
            cur, peak = tracemalloc.get_traced_memory()
            # passed unarmed: before an arming (_arm_hook), or since the last snapshot with none
            missed = self._missed or (not self._hooked and peak >= pending)
            peak = max(peak, self._phase_peak)
            rec["end"] = cur
            rec["peak"] = peak
            # Memory kept past the phase (a fixture's data) is complete only at its end; and when
            # the hook missed the peak (a test replaced it, or the peak was inside one C call),
            # the end is the best that can still be seen.
            wanted = (self.catch is None or (nodeid, phase) in self.catch) and rec.get("hooked", True)
            if self.mode == "measure" and wanted and cur - rec["start"] >= self.threshold and cur > rec["snapshot"]:
                self._snapshot(cur, "end")
                # the end holds what the phase kept: a peak within a step of it is caught
                pending = max(pending, self._next[0])
                if lazy:
                    rec["full"] = True  # no return saw it: a deep run of the phase hooks it from its start
            if lazy and self.mode == "measure" and self.catch is None and rec["hooked"] and missed and peak >= pending:
                # the peak passed a mark while the hook was not armed (no collection or tick saw
                # the traced size halfway to it): the host runs the phase again with the hook on
                # from its start. Passed while armed, between two checked returns, it would be
                # passed the same way there.
                rec["hooked"] = False
                rec["full"] = True
            if lazy and self.mode == "deep" and missed and peak >= pending and not rec["snapshots"]:
                # armed where memory rises, the hook missed its target (a buffer a library made in
                # one call, returned at once, with no collection or tick between): the host runs
                # the phase again with the hook from its start
                rec["hooked"] = False
            mark = self.marks.get((nodeid, phase), 0)
            if mark > self.threshold and self.catch is None and peak - rec["start"] >= self.threshold:
                if peak < rec["start"] + mark:
                    # the screen's figure put the first mark above the traced peak (memory made
                    # outside tracemalloc's sight): the host catches it with the peak now known
                    rec["hooked"] = False
                    rec["full"] = True
        self._next[0] = INF
        self.current = None
        rec["seconds"] = round(perf_counter() - self._phase_t0, 6)
        self.phases.append(rec)
        if rec["peak"] - rec["start"] < self.threshold:
            wasted = self._events[0] - self._phase_events
            self._wasted_events += wasted
            self._most_wasted = max(self._most_wasted, wasted)
            self._weigh_hook()
        if self._watch is not None:
            self._check_watch(nodeid)
        if self._hooked:  # put in place for this phase (the measured run's stays for the loop)
            self._disarm()
        if rec["snapshots"]:
            self._lib_base = self._lib_latest
        if self.mode == "deep":
            tracemalloc.stop()

    def _disarm(self):
        self._live[0] = False
        self._armed_threads.clear()
        if self._hooked:
            uninstall(self)
            self._hooked = False
            if self.mode == "deep" and self._measuring:
                give_line_tables()  # the hook replaced it: the next phases' new code gets its line tables too

    def _weigh_hook(self):
        """Take the whole-loop hook away when its returns cost more than HOOK_SHARE of the loop's
        time (iterator-heavy code: every generator step is a return): from the next phase on the
        collector's runs and a CPU-time tick arm it where memory rises (on 3.8, no hook: peaks
        only); the host catches the peaks it missed, and the phase under way, in a run of their
        tests alone. Called by the hook every WEIGH_EVERY returns (a long test is weighed while it
        runs)."""
        self._events[1] = self._events[0] + WEIGH_EVERY
        if self._loop_t0 is None or self.mode != "measure" or self.catch is not None or self.hook_off or self.rises:
            return
        elapsed = perf_counter() - self._loop_t0
        rec = self.current
        if (
            rec is not None
            and tracemalloc.is_tracing()
            and tracemalloc.get_traced_memory()[1] - rec["start"] >= self.threshold
        ):
            return  # a phase whose peak already rose the threshold would run again: finish it hooked
        # the hook's cost in the finished phases that did not need it (their peak stayed under the
        # threshold): what turning it off saves, against another run's start-up
        # less the phase that cost the most: one test's burst of returns (a deep recursion) says
        # little about the tests still to come, and once it is over turning the hook off saves
        # only what those cost, against a catching run
        wasted = (self._wasted_events - self._most_wasted) * self._event_cost
        if elapsed >= HOOK_MIN_SECONDS and wasted > max(HOOK_SHARE * elapsed, self._startup):
            last = self.phases[-1]["test"] if self.phases else "the first test"
            self.hook_off = rec["test"] if rec is not None else last
            self._next[0] = INF
            self._arm[0] = INF
            if rec is not None:
                rec["hooked"] = False  # what it caught before is partial: the catching run redoes it
            try:
                self._disarm()
                uninstall(self)  # in place since the loop began
            except Exception as exc:
                self.errors.append("turning the peak hook off: %s" % exc)

    def _calibrate_hook(self):
        """Seconds the hook adds to one return: timed on a function's returns, with and without it,
        and doubled (a project function's return costs a check of the traced size too). Timed with
        tracemalloc tracing, as in the loop (the hook's own allocations are traced too), on a
        function that makes one C call: under setprofile a C call is two more events."""

        def nop():
            return len(())

        n = 20000
        t0 = perf_counter()
        for _ in range(n):
            nop()
        bare = perf_counter() - t0
        self._live[0] = True
        install(self)
        t0 = perf_counter()
        for _ in range(n):
            nop()
        hooked = perf_counter() - t0
        uninstall(self)
        self._live[0] = False
        self._events[:] = [0, WEIGH_EVERY]
        self._event_cost = 2 * max(0.0, hooked - bare) / n
        self.overhead["hook_us_per_return"] = round(self._event_cost * 1e6, 3)

    # -- the loop
    def _watch_modules(self):
        """(Re)build the list of module-level containers whose entry counts are watched."""
        try:
            found = watch_list(self.classifier)
        except Exception as exc:
            self.errors.append("watching module-level containers: %s" % exc)
            found = []
        self._watch = (len(sys.modules), found, [entries(v) for v in found])

    def _check_watch(self, nodeid):
        """Mark the test when a watched container's entry count changed since the last phase."""
        t0 = perf_counter()
        if self._watch is None:
            return
        seen, found, counts = self._watch
        now = [entries(v) for v in found]
        if now != counts:
            self.touched.add(nodeid)
            self._watch = (seen, found, now)
        if len(sys.modules) != seen:  # a project module imported during the test: watch its values too
            self._watch_modules()
        self.overhead["watch_seconds"] = self.overhead.get("watch_seconds", 0.0) + perf_counter() - t0

    def begin_run(self):
        """Start measuring: called around the test loop, or around the command of `perfscan exec`."""
        if self.mode in ("measure", "screen"):
            t0 = perf_counter()
            try:
                if self.census_wanted:
                    self.import_values = [v for v in census(self.classifier) if v["bytes"] >= self.threshold]
            except Exception as exc:
                self.errors.append("census at start: %s" % exc)
            if self.repeat:
                self._watch_modules()
            self.overhead["census_seconds"] += perf_counter() - t0
            if self.screen is not None:
                self._arming = watch_memory(
                    self.screen.check, self.errors, "the screen counts live objects at garbage collections alone: "
                )
            else:
                tracemalloc.start(self.frames)
            if self.mode == "measure" and self.catch is None and not self.rises:
                self._calibrate_hook()
                self._live[0] = True
                install(self)
        elif self.mode == "deep":
            give_line_tables()  # for 25 frames the probe's entry point has set it already
        self._measuring = True
        self._loop_t0 = perf_counter()
        self._startup = self._loop_t0 - self._origin
        self.overhead["startup_seconds"] = round(self._startup, 3)

    def end_run(self):
        self._measuring = False
        if sys.getprofile() is _line_tables:
            sys.setprofile(None)
        self.overhead["hook_returns"] = self._events[0]
        self.overhead["loop_seconds"] = perf_counter() - self._loop_t0
        self._loop_t0 = None
        if self._arming is not None:
            stop_arming(self._arming)
            self._arming = None
        self._disarm()
        if self.mode == "measure":
            uninstall(self)
            tracemalloc.stop()

    def repetitions(self, run_once):
        """Per-request growth: `run_once(keep)` runs the target tests once more, untraced and
        unlogged (the driver's way; only the node ids in `keep` when the driver can select), and
        returns how many failed; the census runs before and after each. Only the tests after which
        a module-level container's entry count changed are repeated: the others add nothing to
        module-level state."""
        if self.mode == "deep" or not self.repeat:
            return
        keep = sorted(self.touched)
        self.repeat_info["tests"] = len(keep)
        if not keep:
            self.repeat_info["skipped"] = "no test changed the entry count of a module-level container"
            return
        t0 = perf_counter()
        try:
            before = census(self.classifier)
        except Exception as exc:
            self.errors.append("census before the repetitions: %s" % exc)
            return
        sizes = {(v["module"], v["name"]): [v["bytes"]] for v in before}
        counts = {(v["module"], v["name"]): [v["entries"]] for v in before}
        info = {(v["module"], v["name"]): v for v in before}
        truncated = {k: v["truncated"] for k, v in info.items()}
        self._write_partial_growth = (sizes, info, truncated, counts)
        for _ in range(self.repeat):
            try:
                self.repeat_info["failures"] += run_once(set(keep))
            except Exception as exc:  # a repetition that breaks ends the repetitions, not the run
                self.errors.append(str(exc))
                self.repeat_info["seconds"] = perf_counter() - t0
                return
            t1 = perf_counter()
            after = census(self.classifier)
            self.overhead["census_seconds"] += perf_counter() - t1
            for v in after:
                key = (v["module"], v["name"])
                if key in sizes:
                    sizes[key].append(v["bytes"])
                    counts[key].append(v["entries"])
                    truncated[key] = truncated[key] or v["truncated"]
                    if v["estimated"]:
                        info[key]["estimated"] = True
            self.repeat_info["done"] += 1
            self.repeat_info["seconds"] = perf_counter() - t0
            self.growth = growth_records(sizes, info, truncated, counts)

    # -- output
    def emergency_dump(self):
        if self._dumped:
            return
        self._dumped = True
        self._next[0] = INF
        if self._loop_t0 is not None:
            self.overhead["loop_seconds"] = perf_counter() - self._loop_t0
        phases = list(self.phases)
        rec = self.current
        if rec is not None:
            if self.screen is not None:
                rec["peak"] = self.screen.stop()[0]
            elif tracemalloc.is_tracing():
                cur, peak = tracemalloc.get_traced_memory()
                rec["end"], rec["peak"] = cur, max(peak, self._phase_peak)
            rec["note"] = (rec.get("note", "") + " interrupted").strip()
            phases.append(rec)
        partial = getattr(self, "_write_partial_growth", None)
        if not self.growth and partial is not None:
            self.growth = growth_records(*partial)
        try:
            uninstall(self)
        except Exception:
            pass
        write_json(
            os.path.join(self.out_dir, "memory.json"),
            {
                "python": "%d.%d.%d" % sys.version_info[:3],
                "frames": self.frames,
                "hook": self.hook,
                "mode": self.mode,
                "peaks_ok": self.peaks_ok,
                "hook_off": self.hook_off,
                "rises": self.rises,
                "threshold": self.threshold,
                "phases": phases,
                "import": self.import_values,
                "growth": self.growth,
                "repeat": self.repeat_info,
                "touched": sorted(self.touched),
                "overhead": self.overhead,
                "errors": self.errors,
            },
        )
