#!/usr/bin/env python3
"""The CPU engines side by side: overhead and share error against ground truth, on the corpus.

    python bench/engines.py [--rounds N] [--projects a,b] [--engines default,sample-counting,cprofile]
                            [--runner PY] [--corpus DIR] [--timeout S]

For each corpus project (copied to a private temp folder), in interleaved rounds (every variant
once per round, the order rotated from round to round), it runs the probe the way the CPU pass
does:

- plain: the probe's `time` mode (no profiler; time.json has the phases' wall time), nothing
  else loaded: the baseline of the overhead ratios.
- truth: the same with a small pytest plugin that times each planted function at its call sites
  (perf_counter around the call, the way the corpus README's ground truth was measured): the
  ground truth of this machine, this round. (Its timers cost a little, so it is not the baseline.)
- one run per engine (`cpu` mode, `--opt engine=...`): the overhead ratio is the phases' wall
  time in cpu.json over the plain run's; the shares are what the CPU pass computes from
  cpu.json (perfscan.passes.cpu.profile: attributable seconds over the phases' wall).

Engines: default (what `--cpu-engine auto` runs for a suite the plain run already counted:
sampling alone, the exact call counts taken in the plain run); sample-counting (sampling with the
call counters in the same run, what auto runs when no plain run counted the same tests, e.g.
`perfscan exec`); cprofile.

Output: Markdown on stdout and in bench/engines-last-run.md (not committed): the overhead per
project and engine, each planted function's share per engine with its absolute error in
percentage points against the in-run truth and against the corpus README's table, and the two
medians the acceptance of the engine is judged by. Figures are median (min-max) over rounds.
Progress goes to stderr. Standard library and this checkout's src/ only.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO / "src"))

from perfscan.passes.cpu.profile import build_profile  # noqa: E402
from perfscan.probe_host import install_probe, run_probe  # noqa: E402

# project -> [(module, qualname, README truth % or None, recursive, direct project callees)]: the
# README's six, then extensions measured the same way (marked "+"; no README figure). A call-site
# timer measures inclusive time; the engines rank by attributable time (inclusive minus the
# direct project callees), so the callees listed are timed too and taken out of the truth.
TARGETS = {
    "cli_wordfreq": [("wordfreq.analysis", "unique_words", 91.0, False, ()),
                     ("wordfreq.analysis", "normalize", 3.4, False, ())],
    "lib_graph": [("graphkit.search", "bfs_order", 75.0, False, ()),
                  ("graphkit.search", "count_paths", 7.5, True, ())],
    "lambda_thumbs": [("thumbs.handler", "median_brightness", 96.0, False, ())],
    "wsgi_orders": [("orders.app", "list_orders", 36.0, False,
                     (("orders.store", "OrderStore.for_customer"), ("orders.store", "OrderStore.total"))),
                    ("orders.store", "OrderStore.add_many", None, False, (("orders.store", "OrderStore.add"),))],
    "clean_lib": [],
}
ENGINES = {
    "default": {"engine": "sample", "count": "0"},
    "sample-counting": {"engine": "sample"},
    "cprofile": {"engine": "cprofile"},
}
LIMIT_OVERHEAD = 1.25
LIMIT_ERROR = 5.0

TRUTH_PLUGIN = '''"""Times planted functions at their call sites (bench/engines.py ground truth), and the phases' CPU."""
import importlib, json, os, sys, time

import pytest

_SPENT = {}
_CALLEES = {}  # target -> seconds in its direct project callees, called from it
_ACTIVE = []  # targets running, innermost last
_CPU = [0.0]


def _cpu_of_phase():
    t0 = time.process_time()
    yield
    _CPU[0] += time.process_time() - t0


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_setup(item):
    yield from _cpu_of_phase()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_call(item):
    yield from _cpu_of_phase()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    yield from _cpu_of_phase()


def _timed(key, fn):
    _SPENT.setdefault(key, 0.0)
    _CALLEES.setdefault(key, 0.0)

    def timed(*args, **kwargs):
        _ACTIVE.append(key)
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _SPENT[key] += time.perf_counter() - t0
            _ACTIVE.pop()
    timed.__wrapped__ = fn
    return timed


def _callee(parent, fn):
    def timed(*args, **kwargs):
        if not _ACTIVE or _ACTIVE[-1] != parent:
            return fn(*args, **kwargs)
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _CALLEES[parent] += time.perf_counter() - t0
    timed.__wrapped__ = fn
    return timed


def _replace(module, qualname, make, skip_own_module=False):
    mod = importlib.import_module(module)
    if "." in qualname:
        cls_name, meth = qualname.split(".", 1)
        cls = getattr(mod, cls_name)
        setattr(cls, meth, make(cls.__dict__[meth]))
        return
    fn = getattr(mod, qualname)
    wrapped = make(fn)
    for other in list(sys.modules.values()):
        names = getattr(other, "__dict__", None)
        if not isinstance(names, dict) or (skip_own_module and other is mod):
            continue  # a recursive function's own calls stay unwrapped: only outside calls are timed
        for name, value in list(names.items()):
            if value is fn:
                names[name] = wrapped


def pytest_collection_finish(session):
    for module, qualname, recursive, callees in json.loads(os.environ.get("ENGINES_BENCH_TARGETS", "[]")):
        key = module + ":" + qualname
        _replace(module, qualname, lambda fn, key=key: _timed(key, fn), skip_own_module=recursive)
        for cmod, cqual in callees:
            _replace(cmod, cqual, lambda fn, key=key: _callee(key, fn))


def pytest_sessionfinish(session, exitstatus):
    with open(os.environ["ENGINES_BENCH_OUT"], "w") as fh:
        json.dump({"spent": _SPENT, "callees": _CALLEES, "cpu": _CPU[0]}, fh)
'''


def log(msg: str) -> None:
    print(f"[engines] {msg}", file=sys.stderr, flush=True)


def fmt_range(values, digits=2, suffix=""):
    vals = [v for v in values if v is not None]
    if not vals:
        return "n/a"
    med = statistics.median(vals)
    if len(vals) == 1:
        return f"{med:.{digits}f}{suffix}"
    return f"{med:.{digits}f}{suffix} ({min(vals):.{digits}f}-{max(vals):.{digits}f})"


class Project:
    def __init__(self, name: str, corpus: Path, tmp: Path, runner: str, timeout: float):
        self.name = name
        self.root = tmp / name / name
        shutil.copytree(corpus / name, self.root)
        self.workdir = tmp / name / "work"
        self.workdir.mkdir(parents=True)
        self.probe = install_probe(self.workdir)
        (self.probe / "engines_bench_truth.py").write_text(TRUTH_PLUGIN, encoding="utf-8")
        self.runner = runner
        self.timeout = timeout
        self.source_roots = [self.root / "src"] if (self.root / "src").is_dir() else [self.root]
        self.targets = TARGETS.get(name, [])
        self.runs = 0

    def _run(self, mode, pytest_args, options=None):
        self.runs += 1
        return run_probe(mode, runner=[self.runner], root=self.root, workdir=self.workdir, probe_path=self.probe,
                         pytest_args=pytest_args, timeout=self.timeout, options=options, name=f"{mode}-{self.runs}")

    def bare(self):
        """(phases' wall, {}, None): a plain run with nothing loaded, the overhead baseline."""
        run = self._run("time", [])
        data = run.read("time.json")
        if data is None:
            log(f"{self.name}: plain run failed: {run.child.tail(5)}")
            return None, {}, None
        return sum(float(v) for v in (data.get("phases") or {}).values()), {}, None

    def truth(self):
        """(phases' wall, {qualname: truth share %}, phases' CPU)"""
        out = self.workdir / f"truth-{self.runs}.json"
        os.environ["ENGINES_BENCH_TARGETS"] = json.dumps([[m, q, r, [list(c) for c in cs]] for m, q, _t, r, cs in self.targets])
        os.environ["ENGINES_BENCH_OUT"] = str(out)
        run = self._run("time", ["-p", "engines_bench_truth"])
        data = run.read("time.json")
        if data is None:
            log(f"{self.name}: truth run failed: {run.child.tail(5)}")
            return None, {}, None
        wall = sum(float(v) for v in (data.get("phases") or {}).values())
        try:
            timed = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            timed = {}
        spent = timed.get("spent") or {}
        callees = timed.get("callees") or {}
        shares = {}
        for m, q, _t, _r, _c in self.targets:
            inclusive = float(spent.get(f"{m}:{q}", 0.0))
            attributable = inclusive - float(callees.get(f"{m}:{q}", 0.0))
            shares[q] = 100.0 * attributable / wall if wall > 0 else None
            shares[q + " (inclusive)"] = 100.0 * inclusive / wall if wall > 0 else None
        return wall, shares, timed.get("cpu")

    def engine(self, options):
        """(phases' wall, {qualname: attributable share %}, phases' CPU, cpu.json's engine)"""
        run = self._run("cpu", [], options)
        data = run.read("cpu.json")
        if data is None:
            log(f"{self.name}: cpu run {options} failed: {run.child.tail(5)}")
            return None, {}, None, None
        phases = (data.get("phases") or {}).values()
        wall = sum(float(p.get("wall") or 0.0) for p in phases)
        cpu = sum(float(p.get("cpu") or 0.0) for p in phases) if all("cpu" in p for p in phases) else None
        profile = build_profile(data, self.root, self.source_roots)
        shares = {}
        total = profile.total_wall
        for _m, q, _t, _r, _c in self.targets:
            found = [fp for fp in profile.functions.values() if fp.qualname == q]
            shares[q] = 100.0 * sum(fp.attributable() for fp in found) / total if total > 0 else None
            shares[q + " (inclusive)"] = 100.0 * sum(fp.cumulative_total() for fp in found) / total if total > 0 else None
        return wall, shares, cpu, profile.engine_detail


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--projects", default=",".join(TARGETS))
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--runner", default=sys.executable, help="the project's python (default: this one)")
    ap.add_argument("--corpus", default=os.environ.get("PERFSCAN_CORPUS", str(REPO.parent / "shared" / "corpus")))
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args(argv)
    corpus = Path(args.corpus)
    projects = [p for p in args.projects.split(",") if p]
    engines = [e for e in args.engines.split(",") if e]
    for e in engines:
        if e not in ENGINES:
            print(f"engines: unknown engine {e!r} (one of {', '.join(ENGINES)})", file=sys.stderr)
            return 2
    for p in projects:
        if not (corpus / p).is_dir():
            print(f"engines: no project {p!r} in {corpus}", file=sys.stderr)
            return 2
    tmp = Path(tempfile.mkdtemp(prefix="perfscan-engines-"))
    started = time.monotonic()
    # results[project][variant] = list over rounds of (wall, shares)
    results = {p: {v: [] for v in ["plain", "truth"] + engines} for p in projects}
    details = {}
    try:
        objs = {p: Project(p, corpus, tmp, args.runner, args.timeout) for p in projects}
        variants = ["plain", "truth"] + engines
        for rnd in range(args.rounds):
            order = variants[rnd % len(variants):] + variants[:rnd % len(variants)]
            for p in projects:
                for v in order:
                    log(f"round {rnd + 1}/{args.rounds} {p} {v}")
                    if v == "plain":
                        results[p][v].append(objs[p].bare())
                    elif v == "truth":
                        results[p][v].append(objs[p].truth())
                    else:
                        wall, shares, cpu, detail = objs[p].engine(ENGINES[v])
                        results[p][v].append((wall, shares, cpu))
                        if detail:
                            details[v] = detail
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = render(results, projects, engines, details, args, time.monotonic() - started)
    print(text)
    try:
        (BENCH_DIR / "engines-last-run.md").write_text(text, encoding="utf-8")
    except OSError:
        pass
    return 0


def render(results, projects, engines, details, args, seconds) -> str:
    py = os.popen(f"{args.runner} -c 'import sys; print(sys.version.split()[0])'").read().strip() or "?"
    lines = [f"# CPU engines: overhead and share error ({args.rounds} rounds, interleaved; Python {py}; "
             f"{os.cpu_count()} CPUs; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}; {seconds:.0f} s)", ""]
    for e in engines:
        lines.append(f"- {e}: {details.get(e, 'n/a')}")
    lines += ["", "## Overhead: wall time of the test phases under the engine / without a profiler (same round)", "",
              "| project | plain (s) | " + " | ".join(engines) + " |", "|---|---|" + "---|" * len(engines)]
    per_engine_medians = {e: [] for e in engines}
    per_engine_cpu = {e: [] for e in engines}
    for p in projects:
        plain = [r[0] for r in results[p]["plain"]]
        plain_cpu = [r[2] for r in results[p]["truth"]]
        row = [p, fmt_range(plain, 2)]
        for e in engines:
            ratios = [r[0] / b for r, b in zip(results[p][e], plain) if r[0] is not None and b]
            cpu_ratios = [r[2] / b for r, b in zip(results[p][e], plain_cpu) if r[2] is not None and b]
            row.append(fmt_range(ratios, 2, "x") + (f"; CPU {statistics.median(cpu_ratios):.2f}x" if cpu_ratios else ""))
            if ratios:
                per_engine_medians[e].append(statistics.median(ratios))
            if cpu_ratios:
                per_engine_cpu[e].append(statistics.median(cpu_ratios))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("| **median over projects** | | " + " | ".join(
        (f"**{statistics.median(per_engine_medians[e]):.2f}x**" if per_engine_medians[e] else "n/a")
        + (f"; CPU {statistics.median(per_engine_cpu[e]):.2f}x" if per_engine_cpu[e] else "") for e in engines) + " |")
    lines += ["", "Wall is the issue's figure, over a plain run with nothing loaded; CPU (process CPU time of the same "
              "phases, over the truth run's, whose call-site timers cost a little) is less sensitive to other load "
              "on the machine."]
    lines += ["", "## Attributable share (%) and absolute error (percentage points) against ground truth", "",
              "Truth here: this machine's, in the same rounds: call-site timers with no profiler, minus the time of the "
              "function's direct project callees (attributable, as the engines rank). README: the corpus table "
              "(inclusive time, compared with the engine's inclusive share where the function has project callees). "
              "Each engine cell: share median (min-max) / error vs the same round's truth / error vs README.", "",
              "| function | truth here | README | " + " | ".join(engines) + " |", "|---|---|---|" + "---|" * len(engines)]
    errors_here = {e: [] for e in engines}
    errors_readme = {e: [] for e in engines}
    for p in projects:
        for module, qual, readme, _rec, callees in TARGETS.get(p, []):
            truth = [r[1].get(qual) if r[1] else None for r in results[p]["truth"]]
            # the README's figure is inclusive time: for a function with project callees it is
            # compared with the engine's inclusive (cumulative) share
            readme_key = qual + " (inclusive)" if callees else qual
            truth_med = statistics.median([t for t in truth if t is not None]) if any(t is not None for t in truth) else None
            inclusive_truth = [r[1].get(readme_key) if r[1] else None for r in results[p]["truth"]]
            row = [f"{p} `{qual}`" + ("" if readme is not None else " +"),
                   fmt_range(truth, 1) + (f"; inclusive {fmt_range(inclusive_truth, 1)}" if callees else ""),
                   (f"{readme:g}" + (" (inclusive)" if callees else "")) if readme is not None else "-"]
            for e in engines:
                shares = [r[1].get(qual) if r[1] else None for r in results[p][e]]
                vals = [v for v in shares if v is not None]
                if not vals:
                    row.append("n/a")
                    continue
                med = statistics.median(vals)
                # per-round error against the same round's truth, then the median
                paired = [abs(s - t) for s, t in zip(shares, truth) if s is not None and t is not None]
                err_here = statistics.median(paired) if paired else None
                readme_vals = [r[1].get(readme_key) for r in results[p][e] if r[1] and r[1].get(readme_key) is not None]
                err_readme = abs(statistics.median(readme_vals) - readme) if readme is not None and readme_vals else None
                if readme is not None:  # the acceptance figures use the README's six functions
                    if err_here is not None:
                        errors_here[e].append(err_here)
                    errors_readme[e].append(err_readme)
                cell = fmt_range(vals, 1)
                if callees and readme_vals:
                    cell += f" (inclusive {statistics.median(readme_vals):.1f})"
                cell += f" / {err_here:.1f}" if err_here is not None else " / n/a"
                cell += f" / {err_readme:.1f}" if err_readme is not None else ""
                row.append(cell)
            lines.append("| " + " | ".join(row) + " |")
    lines.append("| **median error, README's six (here / README)** | | | " + " | ".join(
        (f"**{statistics.median(errors_here[e]):.1f} / {statistics.median(errors_readme[e]):.1f}**"
         if errors_here[e] and errors_readme[e] else "n/a") for e in engines) + " |")
    lines += ["", "## Acceptance (issue 9): median overhead <= %.2fx, median share error <= %g points" % (LIMIT_OVERHEAD, LIMIT_ERROR), ""]
    for e in engines:
        ov = statistics.median(per_engine_medians[e]) if per_engine_medians[e] else None
        er = statistics.median(errors_here[e]) if errors_here[e] else None
        er2 = statistics.median(errors_readme[e]) if errors_readme[e] else None
        ok = ov is not None and er is not None and ov <= LIMIT_OVERHEAD and er <= LIMIT_ERROR
        lines.append(f"- {e}: overhead {ov:.2f}x, error {er:.1f} points (vs README {er2:.1f}): {'meets' if ok else 'does not meet'} both"
                     if ov is not None and er is not None and er2 is not None else f"- {e}: n/a")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
