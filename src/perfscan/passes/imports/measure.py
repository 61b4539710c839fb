"""Running `-X importtime` children and keeping each module's minimum over the runs.

One warm-up run per module fills the private bytecode cache (and reports, after the import,
where every loaded module lives, for classification); then every module is measured in rounds,
one run of each per round, so a time-out still leaves each module measured about equally.

On a busy machine a process waits for a core, and `-X importtime` counts that wait as import
time: a 200 ms import measured 600 ms beside two other busy processes on two cores. Where Linux
tells it (`/proc/self/schedstat`: the time the thread was runnable but waiting for a core), each
measured run reads it before and after the import, and the run's times are scaled by the share
of the import's wall time it really ran (`run_share`); the minimum is then taken over the scaled
runs. The wait is spread over the run's modules in proportion to their times: it is a queue, not
a property of any one module.

Importing a submodule imports its package first, in the same fresh interpreter, and `-X
importtime` nests the package's tree inside the submodule's. A target that is the package of
another target (`inventory` beside `inventory.wsgi`) is therefore measured in that target's runs
(`TargetRuns.carrier`), not in runs of its own: the same figures for one interpreter start fewer.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from perfscan import children
from perfscan.models import Project
from perfscan.passes.imports.importtime import ImportNode, find_root, parse_importtime

MIN_RUNS = 3
MAX_RUNS = 8
# After MIN_RUNS, another round runs while one of the last two still lowered some import's
# minimum by this much: on a busy machine the minimum needs more tries to find a quiet moment.
CONVERGED = 0.05
CHILD_CAP_SECONDS = 120.0  # one import that hangs must not eat the whole scan budget
RUNQUEUE_MARK = "perfscan-runqueue:"
# Never scale a run below this share of its measured time: a clock that went wrong must not make
# a slow import look free.
MIN_RUN_SHARE = 0.2

# The measured run: the import alone, between two reads of the thread's scheduler statistics
# (open and str.split import nothing, so importtime's lines are the module's own). A failing import
# still writes the line before its traceback, so the traceback's last line stays the error.
MEASURED_SCRIPT = """\
import sys
def _q():
    try:
        with open('/proc/self/schedstat') as f:
            return f.read().split()[1]
    except Exception:
        return ''
_a = _q()
try:
    import {module}
finally:
    _b = _q()
    if _a and _b:
        sys.stderr.write('%s %s %s\\n' % ({mark!r}, _a, _b))
"""

# Runs in the project's interpreter (3.9+, stdlib only). It imports the module first, so what it
# imports afterwards to write its answer is not part of the import; a failing import still
# reports what got loaded.
WARMUP_SCRIPT = """\
import sys
_out, _name = sys.argv[1], sys.argv[2]
_error = ""
_missing = None
try:
    __import__(_name)
except BaseException as _exc:
    _error = "%s: %s" % (type(_exc).__name__, _exc)
    if isinstance(_exc, ImportError):
        _missing = _exc.name
import json, site, sysconfig
_mods = {}
for _n, _m in list(sys.modules.items()):
    _f = getattr(_m, "__file__", None)
    if not isinstance(_f, str):
        _spec = getattr(_m, "__spec__", None)
        _f = getattr(_spec, "origin", None)
        if not isinstance(_f, str) or _f in ("built-in", "frozen", "namespace"):
            _p = list(getattr(_m, "__path__", []) or [])
            _f = _p[0] if _p and isinstance(_p[0], str) else None
    _mods[_n] = _f
_paths = sysconfig.get_paths()
try:
    _site = list(site.getsitepackages())
except Exception:
    _site = []
try:
    _site.append(site.getusersitepackages())
except Exception:
    pass
_info = {
    "error": _error,
    "missing": _missing,
    "modules": _mods,
    "stdlib_names": sorted(getattr(sys, "stdlib_module_names", ())),
    "builtin_names": sorted(sys.builtin_module_names),
    "stdlib_dirs": [p for p in (_paths.get("stdlib"), _paths.get("platstdlib")) if p],
    "site_dirs": [p for p in [_paths.get("purelib"), _paths.get("platlib")] + _site if p],
    "pycache_prefix": getattr(sys, "pycache_prefix", None),
    "dont_write_bytecode": sys.dont_write_bytecode,
    "version": "%d.%d.%d" % sys.version_info[:3],
}
with open(_out, "w", encoding="utf-8") as _fh:
    json.dump(_info, _fh)
"""


@dataclass
class TargetRuns:
    """One imported module: its merged tree (minimum times) and how it went."""

    module: str
    runs: int = 0
    tree: Optional[ImportNode] = None
    error: str = ""
    found: bool = False  # the warm-up printed an importtime line for it
    min_self: Dict[str, int] = field(default_factory=dict)
    min_cumulative: Dict[str, int] = field(default_factory=dict)
    gains: List[float] = field(default_factory=list)  # how much each run lowered the minimum (a fraction)
    carrier: str = ""  # the target whose runs measure this one (its submodule), else its own runs

    def add_run(self, root: ImportNode, share: float = 1.0) -> None:
        """One run's tree; `share` scales its times (run_share: the part the import really ran)."""
        if share < 1.0:
            for node in root.walk():
                node.self_us = round(node.self_us * share)
                node.cumulative_us = round(node.cumulative_us * share)
        before = self.min_cumulative.get(root.name)
        self.gains.append(max(0.0, (before - root.cumulative_us) / before) if before else 1.0)
        for node in root.walk():
            if node.cached:
                continue
            self.min_self[node.name] = min(node.self_us, self.min_self.get(node.name, node.self_us))
            self.min_cumulative[node.name] = min(
                node.cumulative_us, self.min_cumulative.get(node.name, node.cumulative_us)
            )
        if self.tree is None:
            self.tree = root
        self.runs += 1

    def merged(self) -> Optional[ImportNode]:
        """The first run's tree carrying every module's minimum over the runs."""
        if self.tree is None:
            return None
        for node in self.tree.walk():
            if not node.cached:
                node.self_us = self.min_self.get(node.name, node.self_us)
                node.cumulative_us = self.min_cumulative.get(node.name, node.cumulative_us)
        return self.tree


@dataclass
class Measurement:
    targets: List[TargetRuns]
    interpreter: Dict[str, Any]  # from the warm-up: stdlib names and folders, site folders
    module_files: Dict[str, Optional[str]]  # module name -> file, as the project's interpreter saw it
    timed_out: bool = False
    start_error: str = ""
    notes: List[str] = field(default_factory=list)
    waited_share: float = 0.0  # the most of a measured import's time spent waiting for a core

    @property
    def runs(self) -> int:
        measured = [t.runs for t in self.targets if t.tree is not None]
        return min(measured) if measured else 0


def exception_line(stderr_text: str) -> str:
    """The last line of a traceback on stderr ("ValueError: boom"), ignoring importtime lines."""
    lines = [
        ln.strip()
        for ln in stderr_text.splitlines()
        if ln.strip() and "import time:" not in ln and not ln.startswith(RUNQUEUE_MARK)
    ]
    return lines[-1][:300] if lines else ""


def run_share(stderr_text: str, import_us: int) -> float:
    """The share of an import's `import_us` the thread ran, not waited for a core: 1 - (runqueue
    wait during the import) / import_us, from the measured script's line; 1.0 without one."""
    for line in reversed(stderr_text.splitlines()):
        if line.startswith(RUNQUEUE_MARK):
            fields = line[len(RUNQUEUE_MARK) :].split()
            try:
                waited_us = (int(fields[1]) - int(fields[0])) / 1000.0
            except (IndexError, ValueError):
                return 1.0
            if import_us <= 0 or waited_us <= 0:
                return 1.0
            return max(1.0 - waited_us / import_us, MIN_RUN_SHARE)
    return 1.0


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


class _Clock:
    def __init__(self, budget: float) -> None:
        self.deadline = time.monotonic() + max(budget, 0.0)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def child_timeout(self) -> float:
        return max(0.1, min(self.remaining(), CHILD_CAP_SECONDS))


def measure_imports(
    project: Project, modules: Sequence[str], env: Dict[str, str], workdir: Path, budget: float
) -> Measurement:
    """Warm up, then measure `import <module>` for each module, within `budget` seconds."""
    clock = _Clock(budget)
    logs = workdir / "import-logs"
    result = Measurement([TargetRuns(m) for m in modules], {}, {})
    warm_seconds = 0.0
    warm_trees: Dict[str, ImportNode] = {}
    for i, target in enumerate(result.targets):
        if clock.remaining() <= 0:
            result.timed_out = True
            return result
        info_path = logs / f"warmup-{i}.json"
        argv = list(project.command()) + ["-X", "importtime", "-c", WARMUP_SCRIPT, str(info_path), target.module]
        child = children.run(
            argv, cwd=project.root, env=env, timeout=clock.child_timeout(), log_dir=logs, name=f"warmup-{i}"
        )
        warm_seconds += child.seconds
        if child.start_error:
            result.start_error = child.start_error
            return result
        if child.timed_out:
            target.error = f"warm-up import {child.describe_exit()}"
            result.timed_out = True
            return result
        stderr = _read(child.stderr_path)
        # A module that raises still gets its line; one that is missing (or was already loaded
        # at start-up) gets none and has nothing to measure.
        warm_tree = find_root(parse_importtime(stderr), target.module)
        target.found = warm_tree is not None
        if warm_tree is not None:
            warm_trees[target.module] = warm_tree
        info = _load_json(info_path)
        if info is None:
            target.error = exception_line(stderr) or f"warm-up {child.describe_exit()}"
            continue
        target.error = str(info.get("error") or "")
        missing = info.get("missing")
        if isinstance(missing, str) and (target.module == missing or target.module.startswith(missing + ".")):
            target.found = False  # importtime times even a failed search: nothing real to measure
        for name, path in (info.get("modules") or {}).items():
            result.module_files.setdefault(str(name), path if isinstance(path, str) else None)
        if not result.interpreter:
            result.interpreter = {k: v for k, v in info.items() if k not in ("modules", "error", "missing")}
        if not target.found and not target.error:
            target.error = "no importtime line for it (already loaded when the interpreter started?)"
    found = [t for t in result.targets if t.found]
    _assign_carriers(found, warm_trees)
    todo = [t for t in found if not t.carrier]
    round_cost = warm_seconds  # a warm-up compiles too, so this overestimates a measured round
    for r in range(MAX_RUNS):
        if r >= MIN_RUNS and (not _still_improving(found) or round_cost > clock.remaining() / 2):
            break
        started = time.monotonic()
        for target in todo:
            if not _measure_once(project, target, env, clock, logs, f"run-{result.targets.index(target)}-{r}", result):
                return result
        round_cost = time.monotonic() - started
    for target in [t for t in found if t.carrier and t.runs < MIN_RUNS]:
        # its carrier's runs did not hold it (no line of it in them): runs of its own
        target.carrier = ""
        for r in range(target.runs, MIN_RUNS):
            if not _measure_once(project, target, env, clock, logs, f"run-{result.targets.index(target)}-{r}", result):
                return result
    result.notes += [
        f"{t.module}: measured in the runs of {t.carrier}, which import it first" for t in found if t.carrier
    ]
    return result


def _measure_once(
    project: Project, target: TargetRuns, env: Dict[str, str], clock: _Clock, logs: Path, name: str, result: Measurement
) -> bool:
    """One measured run; False when the pass must stop (cannot start, or out of time)."""
    if clock.remaining() <= 0:
        result.timed_out = True
        return False
    script = MEASURED_SCRIPT.format(module=target.module, mark=RUNQUEUE_MARK)
    argv = list(project.command()) + ["-X", "importtime", "-c", script]
    child = children.run(argv, cwd=project.root, env=env, timeout=clock.child_timeout(), log_dir=logs, name=name)
    if child.start_error:
        result.start_error = child.start_error
        return False
    if child.timed_out:
        result.timed_out = True
        result.notes.append(f"{target.module}: a measured run {child.describe_exit()}")
        return False
    stderr = _read(child.stderr_path)
    forest = parse_importtime(stderr)
    root = find_root(forest, target.module)
    for carried in [t for t in result.targets if t.carrier == target.module]:
        # inside the carrier's tree, or a root of its own where the run ended before the
        # carrier's line; copied before the carrier's times are scaled, and scaled alike
        node = _package_node(forest, carried.module)
        if node is not None:
            carried.add_run(copy.deepcopy(node), run_share(stderr, (root or node).cumulative_us))
    if root is not None:
        share = run_share(stderr, root.cumulative_us)
        target.add_run(root, share)
        result.waited_share = max(result.waited_share, 1.0 - share)
    if child.returncode != 0 and not target.error:
        target.error = exception_line(stderr) or child.describe_exit()
    return True


def _assign_carriers(found: Sequence[TargetRuns], warm_trees: Dict[str, ImportNode]) -> None:
    """Each target whose import another target's warm-up already held (its package, imported first
    in the same fresh interpreter) is measured in that target's runs; the deepest such target
    carries it, so a chain `a`, `a.b`, `a.b.c` runs only `a.b.c`."""
    for target in found:
        below = [
            other
            for other in found
            if other.module.startswith(target.module + ".")
            and _package_node([warm_trees[other.module]], target.module) is not None
        ]
        deepest = [o for o in below if not any(p.module.startswith(o.module + ".") for p in below)]
        if deepest:
            target.carrier = deepest[0].module


def _package_node(trees: Sequence[ImportNode], package: str) -> Optional[ImportNode]:
    """The package's own import in a run's trees (its first timed line)."""
    return next((n for tree in trees for n in tree.walk() if n.name == package and not n.cached), None)


def _still_improving(targets: Sequence[TargetRuns]) -> bool:
    """A target with no run yet (a carried package its carrier's runs did not hold) does not keep
    the rounds going: it gets runs of its own after them."""
    return any(max(t.gains[-2:]) > CONVERGED for t in targets if t.gains)


def _load_json(path: Path) -> Optional[Dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
