#!/usr/bin/env python3
"""The CPU engines side by side: overhead and share error against ground truth, on the corpus.

    python bench/engines.py [--rounds N] [--projects a,b] [--engines default,sample-counting,cprofile]
                            [--runner PY] [--corpus DIR] [--timeout S]

For each corpus project (copied to a private temp folder), in interleaved rounds (every variant
once per round, the order rotated from round to round), it runs the probe the way the CPU pass
does:

- plain: the probe's `time` mode (no profiler; time.json has the phases' wall time), nothing
  else loaded: the baseline of the overhead ratios.
- truth: the same with bench/truth_plugin.py, which times each planted function at its call sites
  (perf_counter around the call, as bench/truth.py measures each project's TRUTH.md): the
  ground truth of this machine, this round. (Its timers cost a little, so it is not the baseline.)
- one run per engine (`cpu` mode, `--opt engine=...`): the overhead ratio is the phases' wall
  time in cpu.json over the plain run's; the shares are what the CPU pass computes from
  cpu.json (perfscan.passes.cpu.profile: attributable seconds over the phases' wall).

Engines: default (what `--cpu-engine auto` runs for a suite the plain run already counted:
sampling alone with its waiting sampler, the exact call counts taken in the plain run);
cpu-only (the same with the waiting sampler off: what measuring waiting costs); sample-counting
(sampling with the call counters in the same run, what auto runs when no plain run counted the
same tests, e.g. `perfscan exec`); cprofile. A function's share is its wall share, as the CPU
pass ranks (attributable CPU plus waiting; cProfile's times are wall times already).

Output: Markdown on stdout and in bench/engines-last-run.md (not committed): the overhead per
project and engine, each planted function's share per engine with its absolute error in
percentage points against the in-run truth (and, for the external corpus's six functions, against
its README's table), and the two medians the acceptance of the engine is judged by. The functions
measured are the "truth" section of each project's EXPECTED.json (bench/corpus by default;
--corpus DIR or $PERFSCAN_CORPUS for an external corpus). Figures are median (min-max) over rounds.
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

from truth import shares as truth_shares  # noqa: E402

from perfscan.models import Driver  # noqa: E402
from perfscan.passes.cpu.profile import build_profile  # noqa: E402
from perfscan.passes.cpu.records import CpuRun  # noqa: E402
from perfscan.probe_host import install_probe, run_probe  # noqa: E402

# The external corpus's README table: project -> [(module, qualname, README truth %, recursive,
# direct project callees)], used when a project has no "truth" section in its EXPECTED.json. A
# call-site timer measures inclusive time; the engines rank by attributable time (inclusive minus
# the direct project callees), so the callees listed are timed too and taken out of the truth.
EXTERNAL_TARGETS = {
    "cli_wordfreq": [
        ("wordfreq.analysis", "unique_words", 91.0, False, ()),
        ("wordfreq.analysis", "normalize", 3.4, False, ()),
    ],
    "lib_graph": [("graphkit.search", "bfs_order", 75.0, False, ()), ("graphkit.search", "count_paths", 7.5, True, ())],
    "lambda_thumbs": [("thumbs.handler", "median_brightness", 96.0, False, ())],
    "wsgi_orders": [
        (
            "orders.app",
            "list_orders",
            36.0,
            False,
            (("orders.store", "OrderStore.for_customer"), ("orders.store", "OrderStore.total")),
        ),
        ("orders.store", "OrderStore.add_many", None, False, (("orders.store", "OrderStore.add"),)),
    ],
    "clean_lib": [],
}


def targets_of(project: Path):
    """[(module, qualname, reference % or None, recursive, callees)] of a corpus project."""
    truth = json.loads((project / "EXPECTED.json").read_text(encoding="utf-8")).get("truth")
    if truth is None:
        return EXTERNAL_TARGETS.get(project.name, [])
    out = []
    for t in truth.get("cpu", []):
        module, qualname = t["function"].split(":")
        callees = tuple(tuple(c.split(":")) for c in t.get("callees", []))
        out.append((module, qualname, None, bool(t.get("recursive")), callees))
    return out


ENGINES = {
    "default": {"engine": "sample", "count": "0"},
    "cpu-only": {"engine": "sample", "count": "0", "wait_interval": "0"},
    "sample-counting": {"engine": "sample"},
    "cprofile": {"engine": "cprofile"},
}
LIMIT_OVERHEAD = 1.25
LIMIT_ERROR = 5.0


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
        shutil.copyfile(BENCH_DIR / "truth_plugin.py", self.probe / "truth_plugin.py")
        self.runner = runner
        self.timeout = timeout
        self.source_roots = [self.root / "src"] if (self.root / "src").is_dir() else [self.root]
        self.targets = targets_of(corpus / name)
        expected = json.loads((corpus / name / "EXPECTED.json").read_text(encoding="utf-8"))
        self.raw_targets = (expected.get("truth") or {}).get("cpu", [])
        self.runs = 0

    def _run(self, mode, pytest_args, options=None):
        self.runs += 1
        return run_probe(
            mode,
            runner=[self.runner],
            driver=Driver(),
            root=self.root,
            workdir=self.workdir,
            probe_path=self.probe,
            pytest_args=pytest_args,
            timeout=self.timeout,
            options=options,
            name=f"{mode}-{self.runs}",
        )

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
        raw = {t["function"]: t for t in self.raw_targets}
        os.environ["TRUTH_TARGETS"] = json.dumps(
            {
                "cpu": [
                    dict(
                        raw.get(f"{m}:{q}", {}),
                        function=f"{m}:{q}",
                        recursive=r,
                        callees=[":".join(c) for c in cs],
                    )
                    for m, q, _t, r, cs in self.targets
                ]
            }
        )
        os.environ["TRUTH_OUT"] = str(out)
        run = self._run("time", ["-p", "truth_plugin"])
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
            target = raw.get(f"{m}:{q}", {})
            if target.get("threads") and timed:
                # run by worker threads: scaled per test phase as the CPU pass scales threads side by side
                shares[q] = truth_shares(timed, target)[0]
            shares[q + " (inclusive)"] = 100.0 * inclusive / wall if wall > 0 else None
        return wall, shares, (timed.get("phases") or {}).get("cpu")

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
        profile = build_profile(CpuRun.from_json(data), self.root, self.source_roots)
        shares = {}
        total = profile.total_wall
        for _m, q, _t, _r, _c in self.targets:
            found = [fp for fp in profile.functions.values() if fp.qualname == q]
            shares[q] = 100.0 * sum(fp.wall() for fp in found) / total if total > 0 else None
            shares[q + " (inclusive)"] = (
                100.0 * sum(fp.cumulative_total() for fp in found) / total if total > 0 else None
            )
        return wall, shares, cpu, profile.engine_detail


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--projects", help="comma-separated projects (default: every project of the corpus)")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--runner", default=sys.executable, help="the project's python (default: this one)")
    ap.add_argument(
        "--corpus",
        default=os.environ.get("PERFSCAN_CORPUS", str(BENCH_DIR / "corpus")),
        help="corpus folder (default: $PERFSCAN_CORPUS, else bench/corpus)",
    )
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args(argv)
    corpus = Path(args.corpus)
    projects = (
        [p for p in args.projects.split(",") if p]
        if args.projects
        else sorted(p.name for p in corpus.iterdir() if (p / "EXPECTED.json").is_file())
        if corpus.is_dir()
        else []
    )
    if not projects:
        print(f"engines: no corpus project in {corpus}", file=sys.stderr)
        return 2
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
            order = variants[rnd % len(variants) :] + variants[: rnd % len(variants)]
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
    targets = {p: targets_of(corpus / p) for p in projects}
    text = render(results, projects, engines, details, args, time.monotonic() - started, targets)
    print(text)
    try:
        (BENCH_DIR / "engines-last-run.md").write_text(text, encoding="utf-8")
    except OSError:
        pass
    return 0


def render(results, projects, engines, details, args, seconds, targets) -> str:
    py = os.popen(f"{args.runner} -c 'import sys; print(sys.version.split()[0])'").read().strip() or "?"
    lines = [
        f"# CPU engines: overhead and share error ({args.rounds} rounds, interleaved; Python {py}; "
        f"{os.cpu_count()} CPUs; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}; {seconds:.0f} s)",
        "",
    ]
    for e in engines:
        lines.append(f"- {e}: {details.get(e, 'n/a')}")
    lines += [
        "",
        "## Overhead: wall time of the test phases under the engine / without a profiler (same round)",
        "",
        "| project | plain (s) | " + " | ".join(engines) + " |",
        "|---|---|" + "---|" * len(engines),
    ]
    per_engine_medians = {e: [] for e in engines}
    per_engine_cpu = {e: [] for e in engines}
    for p in projects:
        plain = [r[0] for r in results[p]["plain"]]
        plain_cpu = [r[2] for r in results[p]["truth"]]
        row = [p, fmt_range(plain, 2)]
        for e in engines:
            ratios = [r[0] / b for r, b in zip(results[p][e], plain) if r[0] is not None and b]
            cpu_ratios = [r[2] / b for r, b in zip(results[p][e], plain_cpu) if r[2] is not None and b]
            row.append(
                fmt_range(ratios, 2, "x") + (f"; CPU {statistics.median(cpu_ratios):.2f}x" if cpu_ratios else "")
            )
            if ratios:
                per_engine_medians[e].append(statistics.median(ratios))
            if cpu_ratios:
                per_engine_cpu[e].append(statistics.median(cpu_ratios))
        lines.append("| " + " | ".join(row) + " |")
    lines.append(
        "| **median over projects** | | "
        + " | ".join(
            (f"**{statistics.median(per_engine_medians[e]):.2f}x**" if per_engine_medians[e] else "n/a")
            + (f"; CPU {statistics.median(per_engine_cpu[e]):.2f}x" if per_engine_cpu[e] else "")
            for e in engines
        )
        + " |"
    )
    lines += [
        "",
        "Wall is the issue's figure, over a plain run with nothing loaded; CPU (process CPU time of the same "
        "phases, over the truth run's, whose call-site timers cost a little) is less sensitive to other load "
        "on the machine.",
    ]
    lines += [
        "",
        "## Attributable share (%) and absolute error (percentage points) against ground truth",
        "",
        "Truth here: this machine's, in the same rounds: call-site timers with no profiler, minus the time of the "
        "function's direct project callees (attributable, as the engines rank). README: the external corpus's table "
        "(inclusive time, compared with the engine's inclusive share where the function has project callees). "
        "Each engine cell: share median (min-max) / error vs the same round's truth / error vs README.",
        "",
        "| function | truth here | README | " + " | ".join(engines) + " |",
        "|---|---|---|" + "---|" * len(engines),
    ]
    errors_here = {e: [] for e in engines}
    errors_readme = {e: [] for e in engines}
    for p in projects:
        for _module, qual, readme, _rec, callees in targets[p]:
            truth = [r[1].get(qual) if r[1] else None for r in results[p]["truth"]]
            # the README's figure is inclusive time: for a function with project callees it is
            # compared with the engine's inclusive (cumulative) share
            readme_key = qual + " (inclusive)" if callees else qual
            inclusive_truth = [r[1].get(readme_key) if r[1] else None for r in results[p]["truth"]]
            row = [
                f"{p} `{qual}`" + ("" if readme is not None else " +"),
                fmt_range(truth, 1) + (f"; inclusive {fmt_range(inclusive_truth, 1)}" if callees else ""),
                (f"{readme:g}" + (" (inclusive)" if callees else "")) if readme is not None else "-",
            ]
            for e in engines:
                shares = [r[1].get(qual) if r[1] else None for r in results[p][e]]
                vals = [v for v in shares if v is not None]
                if not vals:
                    row.append("n/a")
                    continue
                # per-round error against the same round's truth, then the median
                paired = [abs(s - t) for s, t in zip(shares, truth) if s is not None and t is not None]
                err_here = statistics.median(paired) if paired else None
                readme_vals = [r[1].get(readme_key) for r in results[p][e] if r[1] and r[1].get(readme_key) is not None]
                err_readme = (
                    abs(statistics.median(readme_vals) - readme) if readme is not None and readme_vals else None
                )
                if err_here is not None:
                    errors_here[e].append(err_here)
                if err_readme is not None:  # only the external corpus's README has figures
                    errors_readme[e].append(err_readme)
                cell = fmt_range(vals, 1)
                if callees and readme_vals:
                    cell += f" (inclusive {statistics.median(readme_vals):.1f})"
                cell += f" / {err_here:.1f}" if err_here is not None else " / n/a"
                cell += f" / {err_readme:.1f}" if err_readme is not None else ""
                row.append(cell)
            lines.append("| " + " | ".join(row) + " |")
    lines.append(
        "| **median error (here / README)** | | | "
        + " | ".join(
            (
                f"**{statistics.median(errors_here[e]):.1f}"
                + (f" / {statistics.median(errors_readme[e]):.1f}" if errors_readme[e] else "")
                + "**"
                if errors_here[e]
                else "n/a"
            )
            for e in engines
        )
        + " |"
    )
    lines += [
        "",
        f"## Acceptance: median overhead <= {LIMIT_OVERHEAD:.2f}x, median share error <= {LIMIT_ERROR:g} points",
        "",
    ]
    for e in engines:
        ov = statistics.median(per_engine_medians[e]) if per_engine_medians[e] else None
        er = statistics.median(errors_here[e]) if errors_here[e] else None
        er2 = statistics.median(errors_readme[e]) if errors_readme[e] else None
        ok = ov is not None and er is not None and ov <= LIMIT_OVERHEAD and er <= LIMIT_ERROR
        vs_readme = f" (vs README {er2:.1f})" if er2 is not None else ""
        lines.append(
            f"- {e}: overhead {ov:.2f}x, error {er:.1f} points{vs_readme}: {'meets' if ok else 'does not meet'} both"
            if ov is not None and er is not None
            else f"- {e}: n/a"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
