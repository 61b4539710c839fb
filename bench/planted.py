#!/usr/bin/env python3
"""Planted regressions in open-source projects: does a scan find each one where it was planted?

    python bench/planted.py [--plants a,b] [--rounds N] [--runner-timeout S] [--keep]

Each file in bench/planted/ is one regression: a project of bench/oss.py (set up from its pinned
PyPI sdist into its root, ~/.cache/perfscan-bench/oss/), a file, the exact old texts and the new ones (a small patch), and
what a scan should report: the domain, the function (or module-level name, or module), the
pattern, the least severity and the worst rank. For each, on a private copy of the project
(the set-up project is never changed):

1. truth, with no profiler: for a time regression, the wall time of the project's test phases
   (pytest with bench/truth_plugin.py, nothing timed) on the patched copy against an unpatched
   copy, in interleaved rounds; the regression's share is the added time over the patched run's
   test time (medians). For memory, the growth of a module-level value over one run of the
   suite (truth_plugin's deep sizeof walk), or the size of what the patched line builds for the
   tests' largest input. For import, the module's own time under `-X importtime` (minimum).
2. a scan of the patched copy: `python -m perfscan COPY --runner <the project's venv python>
   --quiet` with this checkout's src/ (the project's own runner: Markdown runs under unittest).
3. the score: found (a finding of the right domain at the right function), its rank, severity
   and pattern against the expectation.

The table and a summary (detection rate, pattern rate) go to stdout and bench/planted-last-run.md.
Progress goes to stderr. Exit 0 when every plant was set up and scanned (misses are reported,
not failed), 2 when one could not be.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import tomllib

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
PLANTS_DIR = BENCH_DIR / "planted"
OUT_MD = BENCH_DIR / "planted-last-run.md"
sys.path.insert(0, str(BENCH_DIR))

import oss  # noqa: E402
from score import matches, rank_of  # noqa: E402
from truth import import_times  # noqa: E402

SEVERITIES = ("info", "low", "medium", "high", "critical")
PYTEST_ARGS = ("-q", "-p", "no:cacheprovider")
MIB = 1024 * 1024


def log(msg: str) -> None:
    print(f"[planted] {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Plant:
    name: str
    what: str
    project: str
    file: str
    edits: tuple  # ((old, new), ...)
    settings: str  # [tool.perfscan] lines added to the copy's pyproject.toml, "" for none
    expect: Dict[str, Any]
    truth: Dict[str, Any]


def load_plants(names: Optional[List[str]] = None) -> List[Plant]:
    plants = []
    for path in sorted(PLANTS_DIR.glob("*.toml")):
        if names and path.stem not in names:
            continue
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        plants.append(
            Plant(
                path.stem,
                data["what"],
                data["project"],
                data["file"],
                tuple((e["old"], e["new"]) for e in data["edit"]),
                data.get("perfscan", ""),
                dict(data["expect"]),
                dict(data["truth"]),
            )
        )
    if names and len(plants) != len(names):
        raise SystemExit(f"planted.py: unknown plant in {names}; see {PLANTS_DIR}")
    return plants


def copy_project(src: Path, dst: Path) -> None:
    shutil.copytree(
        src,
        dst,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".codeflash", ".pytest_cache", ".hypothesis"),
    )


def apply(plant: Plant, copy: Path) -> None:
    """The plant's edits on the copy; each old text must occur exactly once."""
    path = copy / plant.file
    text = path.read_text(encoding="utf-8")
    for old, new in plant.edits:
        if text.count(old) != 1:
            raise RuntimeError(f"{plant.name}: the old text occurs {text.count(old)} times in {plant.file}")
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    if plant.settings:
        pyproject = copy / "pyproject.toml"
        old = pyproject.read_text(encoding="utf-8") if pyproject.is_file() else ""
        pyproject.write_text(old + "\n[tool.perfscan]\n" + plant.settings.strip() + "\n", encoding="utf-8")


def source_root(copy: Path) -> Path:
    return copy / "src" if (copy / "src").is_dir() else copy


def env_for(copy: Path, work: Path, extra: Optional[List[Path]] = None) -> Dict[str, str]:
    """The caller's environment with the copy's sources first on the path (the venv's editable
    install points at oss.py's copy, not at this one) and bytecode in a private folder."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "PERFSCAN_", "TRUTH_")) and k not in ("PYTHONPATH", "PYTHONHOME")
    }
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in [source_root(copy), *(extra or [])])
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    env["PYTHONHASHSEED"] = "0"
    return env


def run(cmd: List[str], cwd: Path, env: Dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=timeout, start_new_session=True
    )


# truth ----------------------------------------------------------------------


def test_phases(copy: Path, python: str, work: Path, timeout: float, targets: Dict[str, Any]) -> Dict[str, Any]:
    """One run of the project's own tests under pytest with truth_plugin: its JSON document."""
    out = work / f"truth-{copy.parent.name}.json"
    out.unlink(missing_ok=True)
    env = env_for(copy, work, [BENCH_DIR])
    env["TRUTH_TARGETS"] = json.dumps(targets)
    env["TRUTH_OUT"] = str(out)
    args = oss.PROJECTS[copy.name].pytest_args
    # as the scan runs them: a module that pytest cannot collect (Markdown's unittest `TestSuite`
    # classes, an error under its warning filters) does not stop the others
    cmd = [python, "-m", "pytest", *PYTEST_ARGS, "--continue-on-collection-errors", "-p", "truth_plugin", *args]
    proc = run(cmd, copy, env, timeout)
    if not out.is_file():
        raise RuntimeError(f"{copy.name}: the truth run wrote nothing (exit {proc.returncode}): {proc.stdout[-400:]}")
    return json.loads(out.read_text(encoding="utf-8"))


def time_truth(base: Path, copy: Path, python: str, work: Path, rounds: int, timeout: float) -> Dict[str, Any]:
    """The added wall time of the test phases, patched against unpatched, interleaved rounds."""
    test_phases(base, python, work, timeout, {})  # warm-up: bytecode and file cache
    test_phases(copy, python, work, timeout, {})
    plain, patched = [], []
    failed = 0
    for _ in range(rounds):
        plain.append(test_phases(base, python, work, timeout, {})["phases"]["wall"])
        doc = test_phases(copy, python, work, timeout, {})
        patched.append(doc["phases"]["wall"])
        failed = max(failed, doc["exitstatus"])
    p, q = statistics.median(plain), statistics.median(patched)
    return {
        "plain_s": p,
        "patched_s": q,
        "added_s": q - p,
        "share": 100.0 * (q - p) / q if q > 0 else 0.0,
        "tests_failed": bool(failed),
    }


def function_truth(copy: Path, python: str, work: Path, rounds: int, timeout: float, truth: Dict[str, Any]):
    """The planted function's share of the patched run's test time, timed at its call sites
    (its listed project callees taken out: attributable time, as a scan ranks)."""
    target = {"function": truth["function"], "callees": truth.get("callees", [])}
    test_phases(copy, python, work, timeout, {})  # warm-up: bytecode and file cache
    shares, walls = [], []
    for _ in range(rounds):
        doc = test_phases(copy, python, work, timeout, {"cpu": [target]})
        spent = doc["spent"].get(target["function"], 0.0) - doc["callees"].get(target["function"], 0.0)
        walls.append(doc["phases"]["wall"])
        shares.append(100.0 * spent / doc["phases"]["wall"] if doc["phases"]["wall"] > 0 else 0.0)
    return {"function_share": statistics.median(shares), "patched_s": statistics.median(walls)}


def measure_truth(plant: Plant, base: Path, copy: Path, python: str, work: Path, rounds: int, timeout: float):
    kind = plant.truth["kind"]
    if kind == "time" and "function" in plant.truth:
        return function_truth(copy, python, work, rounds, timeout, plant.truth)
    if kind == "time":
        return time_truth(base, copy, python, work, rounds, timeout)
    if kind == "import":
        patched = import_times(copy, python, plant.truth["module"], work, rounds, timeout)
        plain = import_times(base, python, plant.truth["module"], work, rounds, timeout)
        return {"self_ms": patched.get("self_ms"), "plain_self_ms": plain.get("self_ms")}
    if kind == "growth":
        target = {"memory": [{"value": plant.truth["value"], "growth": True}]}
        sizes = test_phases(copy, python, work, timeout, target)["values"][plant.truth["value"]]
        return {"bytes": sizes[-1] - sizes[0]}
    if kind == "static":  # an async finding is by rule (a blocking call in a coroutine), not by time
        return {"static": plant.truth.get("note", "")}
    if kind == "size":
        proc = run([python, "-c", plant.truth["code"]], copy, env_for(copy, work), timeout)
        return {"bytes": int(proc.stdout.strip())}
    raise ValueError(f"{plant.name}: unknown truth kind {kind!r}")


def truth_text(truth: Dict[str, Any]) -> str:
    if "function_share" in truth:
        return f"{truth['function_share']:.1f}% of {truth['patched_s']:.2f} s (timed at its call sites)"
    if "share" in truth:
        return f"+{truth['added_s']:.2f} s = {truth['share']:.1f}% of {truth['patched_s']:.2f} s"
    if "static" in truth:
        return f"by rule: {truth['static']}"
    if "self_ms" in truth:
        return f"{truth['self_ms']:.0f} ms self (was {truth['plain_self_ms']:.0f})"
    return f"{truth['bytes'] / MIB:.1f} MiB"


# scan and score -----------------------------------------------------------------


def scan(copy: Path, python: str, work: Path, timeout: float) -> Dict[str, Any]:
    argv = [sys.executable, "-m", "perfscan", str(copy), "--runner", python, "--quiet"]
    if oss.PROJECTS[copy.name].unittest:
        argv += ["--test-runner", "unittest"]
    env = env_for(copy, work)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env["PYTHONPATH"]])
    t0 = time.perf_counter()
    proc = run(argv, copy, env, timeout)
    seconds = time.perf_counter() - t0
    report = copy / ".codeflash" / "scan-report.json"
    if proc.returncode not in (0, 1) or not report.is_file():
        raise RuntimeError(f"scan failed (exit {proc.returncode}): {proc.stderr[-600:]}")
    kept = work / "scan-report.json"
    shutil.copyfile(report, kept)
    shutil.copyfile(copy / ".codeflash" / "scan-report.md", kept.with_suffix(".md"))
    shutil.rmtree(copy / ".codeflash")
    return {"seconds": seconds, "report": json.loads(kept.read_text(encoding="utf-8"))}


@dataclass
class Result:
    plant: Plant
    truth: Dict[str, Any] = field(default_factory=dict)
    found: bool = False
    rank: Optional[int] = None
    severity: Optional[str] = None
    pattern: Optional[str] = None
    scan_s: float = 0.0
    error: str = ""
    before: str = "?"  # what the unpatched project's scan reports at that place

    @property
    def pattern_ok(self) -> bool:
        return self.found and self.pattern in self.plant.expect["pattern"]

    @property
    def severity_ok(self) -> bool:
        return self.found and SEVERITIES.index(self.severity or "info") >= SEVERITIES.index(
            self.plant.expect["severity"]
        )

    @property
    def rank_ok(self) -> bool:
        return self.found and self.rank is not None and self.rank <= self.plant.expect["max_rank"]


def at_place(finding: Dict[str, Any], expect: Dict[str, Any], file: str) -> bool:
    """The finding's domain, and its module (import) or its file and function: the expected
    symbol is the function's qualname within its module ("Lexer.get_tokens") or a module-level name."""
    if finding.get("domain") != expect["domain"]:
        return False
    if "module" in expect:
        return finding.get("module") == expect["module"]
    if not matches(finding, {"file": file}, strict=False):
        return False
    qualname = str(finding.get("qualname") or "").split(":")[-1]
    return expect["symbol"] in (qualname, finding.get("symbol"))


def judge(result: Result, report: Dict[str, Any]) -> None:
    """The best finding at the planted place: the one with the expected pattern if there is one,
    else the best-ranked."""
    e = result.plant.expect
    near = [f for f in report.get("findings", []) if at_place(f, e, result.plant.file)]
    if not near:
        return
    right = [f for f in near if f.get("pattern") in e["pattern"]]
    best = min(right or near, key=rank_of)
    result.found = True
    result.rank = rank_of(best)
    result.severity = best.get("severity")
    result.pattern = best.get("pattern")


BASELINES: Dict[tuple, Dict[str, Any]] = {}  # (project, settings) -> the unpatched copy's report


def baseline(plant: Plant, src: Path, python: str, work: Path, timeout: float) -> Dict[str, Any]:
    """The scan of the unpatched project (with the plant's settings), once per project: what
    was at the planted place before the patch."""
    key = (plant.project, plant.settings)
    if key not in BASELINES:
        folder = work / f"baseline-{len(BASELINES)}"
        copy = folder / plant.project
        copy_project(src, copy)
        apply(Plant(plant.name, "", plant.project, plant.file, (), {}, {}, plant.settings), copy)
        log(f"{plant.project}: scanning the unpatched copy")
        BASELINES[key] = scan(copy, python, folder, timeout)["report"]
    return BASELINES[key]


def describe(report: Dict[str, Any], expect: Dict[str, Any], file: str) -> str:
    near = sorted((f for f in report.get("findings", []) if at_place(f, expect, file)), key=rank_of)
    return "; ".join(f"#{rank_of(f)} {f.get('severity')} {f.get('pattern')}" for f in near[:2]) or "-"


def run_plant(plant: Plant, work: Path, rounds: int, timeout: float) -> Result:
    result = Result(plant)
    src = oss.setup(plant.project)
    python = str(oss.venv_python(src))
    base = work / plant.name / "plain" / plant.project
    copy = work / plant.name / "planted" / plant.project
    copy_project(src, base)
    copy_project(src, copy)
    try:
        apply(plant, copy)
        log(f"{plant.name}: truth ({plant.truth['kind']})")
        result.truth = measure_truth(plant, base, copy, python, work / plant.name, rounds, timeout)
        log(f"{plant.name}: truth {truth_text(result.truth)}; scanning")
        before = baseline(plant, src, python, work, timeout)
        result.before = describe(before, plant.expect, plant.file)
        out = scan(copy, python, work / plant.name, timeout)
        result.scan_s = out["seconds"]
        judge(result, out["report"])
        log(
            f"{plant.name}: scan {out['seconds']:.0f} s, "
            + (f"found #{result.rank} {result.severity} {result.pattern}" if result.found else "not found")
        )
    except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as exc:
        result.error = str(exc)[:300]
        log(f"{plant.name}: {result.error}")
    return result


# report ------------------------------------------------------------------------


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def table(results: List[Result]) -> str:
    rows = [
        "| plant | project | domain | function | truth (no profiler) | unpatched scan there | found | rank (at most) | severity (at least) | pattern (expected) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        e = r.plant.expect
        where = e.get("symbol") or e.get("module")
        if r.error:
            rows.append(
                f"| {r.plant.name} | {r.plant.project} | {e['domain']} | `{where}` | error: {r.error} | | | | | |"
            )
            continue
        rows.append(
            f"| {r.plant.name} | {r.plant.project} | {e['domain']} | `{where}` | {truth_text(r.truth)} | "
            f"{r.before} | {yes(r.found)} | "
            + (
                f"#{r.rank} ({e['max_rank']}{'' if r.rank_ok else ': **worse**'}) | "
                f"{r.severity} ({e['severity']}{'' if r.severity_ok else ': **lower**'}) | "
                f"{r.pattern} ({' or '.join(e['pattern'])}{'' if r.pattern_ok else ': **other**'}) |"
                if r.found
                else "- | - | - |"
            )
        )
    return "\n".join(rows)


def summary(results: List[Result]) -> str:
    n = len(results)
    found = sum(r.found for r in results)
    pattern = sum(r.pattern_ok for r in results)
    severity = sum(r.severity_ok for r in results)
    rank = sum(r.rank_ok for r in results)
    domains = sorted({r.plant.expect["domain"] for r in results})
    projects = sorted({r.plant.project for r in results})
    return (
        f"{n} planted regressions in {len(projects)} projects ({', '.join(projects)}), domains {', '.join(domains)}: "
        f"found at the right function and domain {found}/{n} ({100 * found / max(n, 1):.0f}%), "
        f"right pattern {pattern}/{n} ({100 * pattern / max(n, 1):.0f}%), "
        f"severity at least the expected {severity}/{n}, rank within the bound {rank}/{n}."
    )


def check(plants: List[Plant]) -> int:
    """Apply each plant to a temp copy of its project's file; exit 2 when one does not apply."""
    bad = 0
    with tempfile.TemporaryDirectory(prefix="perfscan-planted-") as tmp:
        for plant in plants:
            src = oss.setup(plant.project)
            copy = Path(tmp) / plant.name
            (copy / plant.file).parent.mkdir(parents=True)
            shutil.copyfile(src / plant.file, copy / plant.file)
            try:
                apply(plant, copy)
                print(f"ok   {plant.name}")
            except RuntimeError as exc:
                bad += 1
                print(f"FAIL {exc}")
    return 2 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plants", help=f"comma-separated names from {PLANTS_DIR.name}/ (default: all)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved truth rounds (default 3)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per child (default 900)")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (copies, reports)")
    ap.add_argument("--check", action="store_true", help="only check that every patch applies")
    args = ap.parse_args()
    plants = load_plants(args.plants.split(",") if args.plants else None)
    if args.check:
        return check(plants)
    work = Path(tempfile.mkdtemp(prefix="perfscan-planted-"))
    started = time.perf_counter()
    try:
        results = [run_plant(p, work, args.rounds, args.timeout) for p in plants]
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    head = (
        f"# Planted regressions ({datetime.date.today()}, {platform.system()}, Python "
        f"{platform.python_version()}, {os.cpu_count()} cores, load {load:.1f}, "
        f"{args.rounds} truth rounds, {time.perf_counter() - started:.0f} s)"
    )
    text = "\n\n".join([head, table(results), summary(results)]) + "\n"
    print(text)
    OUT_MD.write_text(text, encoding="utf-8")
    return 2 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
