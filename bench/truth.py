#!/usr/bin/env python3
"""Ground truth of the corpus, measured with no profiler.

    python bench/truth.py [--corpus DIR] [--projects a,b] [--rounds N] [--runner PY] [--write]

For each project of the corpus (default bench/corpus) that names its planted problems in the
"truth" section of its EXPECTED.json, on a private copy:

- CPU (time): the project's own test run (`<runner> -m pytest -q -p no:cacheprovider`) with
  bench/truth_plugin.py loaded, which times each planted function at its call sites
  (perf_counter around the call: wall time, computing and waiting) and its direct project
  callees; the share printed is the attributable time (inclusive minus those callees) over the
  wall time of all test phases (setup, call, teardown), the quantity perfscan's CPU pass
  estimates. A function's listed waits (a sleep, a socket read, a lock) are timed too: its
  waiting share. A function run by worker threads is scaled per test phase as perfscan scales
  threads side by side (`shares`).
- memory: in the same run, the bytes newly held by what a planted function returned (a deep
  sizeof walk, no tracemalloc), and the deep size of a planted module-level value when the tests
  start (made at import) and how much it grew by the end of one run of the suite.
- import: `<runner> -X importtime -c "import MOD"` in a fresh process, one warm-up then the
  minimum over the rounds: the module's self and cumulative milliseconds.

Figures are the median over --rounds (default 3) runs. Markdown goes to stdout; with --write
also to each project's TRUTH.md (machine and date included), next to its EXPECTED.json, from
which the expected severities are set. Standard library only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

BENCH_DIR = Path(__file__).resolve().parent
CORPUS = BENCH_DIR / "corpus"
PYTEST_ARGS = ("-q", "-p", "no:cacheprovider")
MIB = 1024 * 1024
_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)")


def log(msg: str) -> None:
    print(f"[truth] {msg}", file=sys.stderr, flush=True)


def targets_of(project: Path) -> Dict[str, Any]:
    expected = json.loads((project / "EXPECTED.json").read_text(encoding="utf-8"))
    return expected.get("truth") or {}


def source_root(project: Path) -> Path:
    return project / "src" if (project / "src").is_dir() else project


def clean_env(pycache: Path, extra_path: Optional[Path] = None) -> Dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "PERFSCAN_", "TRUTH_")) and k not in ("PYTHONPATH", "PYTHONHOME")
    }
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env["PYTHONHASHSEED"] = "0"
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)
    return env


def run_tests(copy: Path, runner: str, targets: Dict[str, Any], work: Path, timeout: float) -> Dict[str, Any]:
    """One run of the project's tests with the truth plugin; its JSON document."""
    out = work / "truth-out.json"
    out.unlink(missing_ok=True)
    env = clean_env(work / "pycache", BENCH_DIR)
    env["TRUTH_TARGETS"] = json.dumps({k: targets.get(k, []) for k in ("cpu", "memory")})
    env["TRUTH_OUT"] = str(out)
    proc = subprocess.run(
        [runner, "-m", "pytest", *PYTEST_ARGS, "-p", "truth_plugin"],
        cwd=str(copy),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if not out.is_file():
        raise RuntimeError(
            f"the test run wrote no figures (exit {proc.returncode}): {proc.stdout[-500:]}{proc.stderr[-500:]}"
        )
    data = json.loads(out.read_text(encoding="utf-8"))
    if data.get("exitstatus"):
        log(f"{copy.name}: the tests did not all pass (exit {data['exitstatus']}); figures still taken")
    return data


def import_times(copy: Path, runner: str, module: str, work: Path, rounds: int, timeout: float) -> Dict[str, float]:
    """Self and cumulative ms of `module` imported alone in a fresh process: the minimum over rounds."""
    env = clean_env(work / "pycache", source_root(copy))
    best: Dict[str, float] = {}
    for i in range(rounds + 1):  # the first run writes the bytecode and is not counted
        proc = subprocess.run(
            [runner, "-X", "importtime", "-c", f"import {module}"],
            cwd=str(copy),
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"import {module} failed: {proc.stderr.strip().splitlines()[-1:]}")
        if i == 0:
            continue
        # the first line of a module is its import; `import a.b` lists a.b again once a is done
        rows = [(int(s), int(c)) for s, c, name in _IMPORTTIME.findall(proc.stderr) if name == module][:1]
        for self_us, cum_us in rows:
            best["self_ms"] = min(best.get("self_ms", 1e18), self_us / 1000)
            best["cumulative_ms"] = min(best.get("cumulative_ms", 1e18), cum_us / 1000)
    return best


def measure(project: Path, runner: str, rounds: int, timeout: float) -> Dict[str, Any]:
    targets = targets_of(project)
    work = Path(tempfile.mkdtemp(prefix="perfscan-truth-"))
    try:
        copy = work / project.name
        shutil.copytree(project, copy, ignore=shutil.ignore_patterns("__pycache__", ".codeflash", ".pytest_cache"))
        runs: List[Dict[str, Any]] = []
        if targets.get("cpu") or targets.get("memory"):
            run_tests(copy, runner, {}, work, timeout)  # warm-up: bytecode and file cache
            for i in range(rounds):
                runs.append(run_tests(copy, runner, targets, work, timeout))
                log(f"{project.name}: test run {i + 1}/{rounds}, phases {runs[-1]['phases']['wall']:.2f} s")
        modules = [_import_entry(e)[0] for e in targets.get("import", [])]
        imports = {m: import_times(copy, runner, m, work, rounds, timeout) for m in modules}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"targets": targets, "runs": runs, "imports": imports}


def _median(values: List[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def shares(run: Dict[str, Any], target: Dict[str, Any]) -> Tuple[float, float]:
    """(wall share %, waiting share %) of a target in one truth run, as perfscan defines them.

    A function that worker threads run (`threads`: the main-thread function that waits for them)
    is counted per test phase: the phase's time is its wall time less the entry's time on the
    main thread (given to the workers) plus the workers' time; where that exceeds the wall time
    the workers' figures are scaled down to it."""
    key = target["function"]
    wall = run["phases"]["wall"]
    if wall <= 0:
        return 0.0, 0.0
    spent = run["spent"].get(key, 0.0) - run["callees"].get(key, 0.0)
    waited = run.get("waited", {}).get(key, 0.0)
    if not target.get("threads"):
        return 100.0 * spent / wall, 100.0 * waited / wall
    main_spent, main_waited = spent, waited
    scaled_spent = scaled_waited = 0.0
    for phase in (run.get("by_phase") or {}).values():
        t_w = phase["threads"].get(key, 0.0)
        l_w = phase["waited_threads"].get(key, 0.0)
        main_spent -= t_w
        main_waited -= l_w
        total = phase["wall"] - phase["entry"].get(key, 0.0) + t_w
        scale = phase["wall"] / total if total > phase["wall"] > 0 else 1.0
        scaled_spent += t_w * scale
        scaled_waited += l_w * scale
    return 100.0 * (main_spent + scaled_spent) / wall, 100.0 * (main_waited + scaled_waited) / wall


def cpu_rows(result: Dict[str, Any]) -> List[List[str]]:
    rows = []
    for t in result["targets"].get("cpu", []):
        key = t["function"]
        walls, inclusive, waits = [], [], []
        for run in result["runs"]:
            share, waited = shares(run, t)
            walls.append(share)
            waits.append(waited)
            inclusive.append(100.0 * run["spent"].get(key, 0.0) / run["phases"]["wall"])
        rows.append(
            [
                f"`{key}`",
                _fmt(walls, "%"),
                _fmt(waits, "%") if t.get("waits") else "-",
                _fmt(inclusive, "%") if t.get("callees") else "same",
                level("cpu", _median(walls)),
            ]
        )
    return rows


def memory_rows(result: Dict[str, Any]) -> List[List[str]]:
    rows = []
    for t in result["targets"].get("memory", []):
        if "function" in t:
            key = t["function"]
            held = [run["memory"].get(key, 0) / MIB for run in result["runs"]]
            rows.append(
                [f"`{key}`", "returned, alive at its caller's peak", _fmt(held, " MiB"), level("memory", _median(held))]
            )
        elif t.get("growth"):
            key = t["value"]
            grown = [(run["values"][key][-1] - run["values"][key][0]) / MIB for run in result["runs"]]
            rows.append(
                [
                    f"`{key}`",
                    "module-level value: growth over one run of the suite",
                    _fmt(grown, " MiB"),
                    "critical on a server when it grows on every run",
                ]
            )
        else:
            key = t["value"]
            start = [run["values"][key][0] / MIB for run in result["runs"]]
            rows.append(
                [
                    f"`{key}`",
                    "module-level value at the first test (made at import)",
                    _fmt(start, " MiB"),
                    level("memory", _median(start)),
                ]
            )
    return rows


def import_rows(result: Dict[str, Any]) -> List[List[str]]:
    rows = []
    for entry in result["targets"].get("import", []):
        name, barrel = _import_entry(entry)
        t = result["imports"].get(name, {})
        # a barrel package's cost to a consumer is what it pulls in: its cumulative time
        figure = t.get("cumulative_ms") if barrel else t.get("self_ms")
        rows.append(
            [
                f"`{name}`" + (" (barrel)" if barrel else ""),
                f"{t.get('self_ms', float('nan')):.0f} ms",
                f"{t.get('cumulative_ms', float('nan')):.0f} ms",
                level("import", figure),
            ]
        )
    return rows


def _import_entry(entry: Any) -> Tuple[str, bool]:
    """An import target: "pkg.mod", or {"module": "pkg", "barrel": true}."""
    if isinstance(entry, dict):
        return str(entry["module"]), bool(entry.get("barrel"))
    return str(entry), False


# The base levels of perfscan's default thresholds (before deployment adjustments).
LEVELS = {
    "cpu": ((20, "critical"), (5, "high"), (2, "medium")),
    "memory": ((100, "critical"), (10, "high"), (1, "medium")),
    "import": ((500, "high"), (100, "medium"), (50, "low")),
}


def level(domain: str, value: Optional[float]) -> str:
    if value is None:
        return "-"
    for bound, name in LEVELS[domain]:
        if value > bound:
            return name
    return "low" if domain != "import" else "info"


def _fmt(values: List[float], unit: str) -> str:
    if not values:
        return "n/a"
    med = statistics.median(values)
    digits = 1 if unit == "%" or med < 100 else 0
    text = f"{med:.{digits}f}{unit}"
    return text if len(values) == 1 else f"{text} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def table(header: List[str], rows: List[List[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def render(name: str, result: Dict[str, Any], runner_version: str, rounds: int) -> str:
    now = datetime.datetime.now().strftime("%Y-%m-%d")
    lines = [
        f"# {name}: ground truth",
        "",
        f"Measured by `bench/truth.py` with no profiler on {now}: {os.cpu_count()} CPUs, {platform.platform()}, "
        f"Python {runner_version}; median (min-max) of {rounds} runs. Levels are perfscan's default "
        "thresholds before the deployment adjustment; EXPECTED.json allows the neighbouring level "
        "where a figure sits near a threshold.",
        "",
    ]
    if result["targets"].get("cpu"):
        lines += [
            "## CPU: share of the test phases' wall time",
            "",
            "The share is the function's wall time (computing and waiting) at its call sites, less its "
            "listed project callees; the waiting share is the time in its listed waits (a sleep, a socket "
            "read, a lock), timed at those calls.",
            "",
            table(["function", "attributable share", "waiting share", "inclusive share", "level"], cpu_rows(result)),
            "",
        ]
    if result["targets"].get("memory"):
        lines += [
            "## Memory: deep size (sys.getsizeof walk, no tracemalloc)",
            "",
            table(["what", "measured", "size", "level"], memory_rows(result)),
            "",
        ]
    if result["targets"].get("import"):
        lines += [
            "## Import time: `-X importtime`, minimum over the runs",
            "",
            table(["module", "self", "cumulative", "level"], import_rows(result)),
            "",
        ]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=str(CORPUS), help="corpus folder (default bench/corpus)")
    ap.add_argument("--projects", help="comma-separated projects (default: every project with a truth section)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runner", default=sys.executable, help="the projects' python (default: this one)")
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--write", action="store_true", help="write each project's TRUTH.md")
    args = ap.parse_args(argv)
    corpus = Path(args.corpus).resolve()
    names = (
        args.projects.split(",")
        if args.projects
        else sorted(p.name for p in corpus.iterdir() if (p / "EXPECTED.json").is_file() and targets_of(p))
    )
    version = (
        subprocess.run(
            [args.runner, "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
        or "?"
    )
    for name in names:
        project = corpus / name
        if not (project / "EXPECTED.json").is_file():
            print(f"truth: no project {name!r} in {corpus}", file=sys.stderr)
            return 2
        try:
            text = render(name, measure(project, args.runner, args.rounds, args.timeout), version, args.rounds)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"truth: {name}: {exc}", file=sys.stderr)
            return 2
        print(text)
        if args.write:
            (project / "TRUTH.md").write_text(text, encoding="utf-8")
            log(f"written {project / 'TRUTH.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
