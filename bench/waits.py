#!/usr/bin/env python3
"""Waiting time: perfscan's wall and waiting shares against ground truth, and what measuring them
costs, side by side with pyinstrument (wall clock) and `py-spy record --idle` on the same tests.

    python bench/waits.py [--rounds N] [--projects a,b] [--runner PY] [--no-peers]
                          [--peers-venv DIR] [--corpus DIR] [--timeout S]

For each corpus project whose EXPECTED.json truth lists waits (default: every such project of
bench/corpus), on a private copy, in interleaved rounds (the order rotated from round to round):

- plain: the probe's `time` mode (no profiler): the baseline of perfscan's overhead.
- truth: bench/truth_plugin.py times each planted function at its call sites and its listed
  waits (a sleep, a socket read, a lock): the ground truth of this machine, this round
  (bench/truth.py's `shares`, which scales worker threads as perfscan does).
- perfscan: the CPU pass's default run (`cpu` mode, sampling engine, no call counters: the plain
  run counts), which samples waiting on the wall clock; shares as the pass computes them.
- perfscan, CPU only: the same with the waiting sampler off (`wait_interval=0`): what waiting costs.
- the peers, from a private venv (made from the runner's python, cached in bench/.venv-peers):
  plain pytest (their baseline), pyinstrument (`-r json`, the main thread's wall clock) and
  `py-spy record --idle` (every thread's samples, waiting included). A function's share there is
  its time credited to the innermost project function on each stack, over the main thread's
  time. They measure wall time with no split, so only the wall share is compared.

Output: Markdown on stdout and in bench/waits-last-run.md (not committed). Figures are median
(min-max) over rounds; errors are in percentage points against the same round's truth.
"""

from __future__ import annotations

import argparse
import collections
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
sys.path.insert(0, str(BENCH_DIR))

from children import run_child  # noqa: E402
from engines import Project  # noqa: E402
from peers import ProjectFilter  # noqa: E402
from truth import shares  # noqa: E402

from perfscan.astutil import package_of  # noqa: E402
from perfscan.passes.cpu.patterns.astkit import module_aliases  # noqa: E402
from perfscan.passes.cpu.profile import build_profile  # noqa: E402
from perfscan.passes.cpu.waitfacts import wait_sites  # noqa: E402

VARIANTS = ("plain", "truth", "perfscan", "cpu-only", "peers-plain", "pyinstrument", "py-spy")
WAIT_KINDS = {"time:sleep": "sleep", "socket:": "io", "lock:": "lock"}  # truth wait spec prefix -> site kind
PYTEST = ("-m", "pytest", "-q", "-p", "no:cacheprovider")


def log(msg: str) -> None:
    print(f"[waits] {msg}", file=sys.stderr, flush=True)


def fmt(values, digits=1, suffix=""):
    vals = [v for v in values if v is not None]
    if not vals:
        return "n/a"
    med = statistics.median(vals)
    return f"{med:.{digits}f}{suffix}" + (f" ({min(vals):.{digits}f}-{max(vals):.{digits}f})" if len(vals) > 1 else "")


def targets(corpus: Path, name: str):
    truth = json.loads((corpus / name / "EXPECTED.json").read_text(encoding="utf-8")).get("truth") or {}
    return truth.get("cpu", [])


def waits_projects(corpus: Path):
    return sorted(
        p.name
        for p in corpus.iterdir()
        if (p / "EXPECTED.json").is_file() and any(t.get("waits") for t in targets(corpus, p.name))
    )


def kinds_of(target) -> set:
    return {kind for spec in target.get("waits", []) for prefix, kind in WAIT_KINDS.items() if spec.startswith(prefix)}


class WaitProject(Project):
    """engines.Project with waiting figures: truth, perfscan's two runs, and the peers."""

    def __init__(self, name, corpus, tmp, runner, timeout, peers_python):
        super().__init__(name, corpus, tmp, runner, timeout)
        self.wait_targets = targets(corpus, name)
        self.peers_python = peers_python
        self.filter = ProjectFilter(self.root)

    def truth_run(self):
        """(wall, {function: (wall share, waiting share)})"""
        out = self.workdir / f"truth-{self.runs}.json"
        os.environ["TRUTH_TARGETS"] = json.dumps({"cpu": self.wait_targets})
        os.environ["TRUTH_OUT"] = str(out)
        run = self._run("time", ["-p", "truth_plugin"])
        data = run.read("time.json")
        try:
            timed = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log(f"{self.name}: truth run failed: {run.child.tail(5)}")
            return None, {}
        wall = sum(float(v) for v in ((data or {}).get("phases") or {}).values())
        return wall, {t["function"]: shares(timed, t) for t in self.wait_targets}

    def perfscan_run(self, waiting: bool):
        options = {"engine": "sample", "count": "0"}
        if not waiting:
            options["wait_interval"] = "0"
        run = self._run("cpu", [], options)
        data = run.read("cpu.json")
        if data is None:
            log(f"{self.name}: cpu run failed: {run.child.tail(5)}")
            return None, {}
        wall = sum(float(p.get("wall") or 0.0) for p in (data.get("phases") or {}).values())
        from perfscan.passes.cpu.records import CpuRun

        profile = build_profile(CpuRun.from_json(data), self.root, self.source_roots)
        total = profile.total_wall or 1e-9
        out = {}
        for t in self.wait_targets:
            module, qual = t["function"].split(":")
            found = [fp for fp in profile.functions.values() if fp.module == module and fp.qualname == qual]
            share = 100.0 * sum(fp.wall() for fp in found) / total
            kinds, waited = kinds_of(t), 0.0
            for fp in found:
                aliases = module_aliases(fp.tree, package_of(fp.module, fp.rel.endswith("__init__.py")))
                for site in wait_sites(fp.info.node, aliases, fp.wait_lines, {}, fp.wait_via, {}, 1):
                    if site.kind in kinds:
                        waited += site.seconds
            out[t["function"]] = (share, 100.0 * waited / total if kinds else None)
        return wall, out

    def peer_run(self, peer):
        """(process seconds, {function: wall share})"""
        if self.peers_python is None:
            return None, {}
        bin_dir = Path(self.peers_python).parent
        out_file = self.workdir / f"{peer}-{self.runs}.json"
        self.runs += 1
        if peer == "peers-plain":
            argv = [self.peers_python, *PYTEST]
        elif peer == "pyinstrument":
            argv = [bin_dir / "pyinstrument", "-r", "json", "-o", out_file, *PYTEST]
        else:
            argv = [bin_dir / "py-spy", "record", "--idle", "-o", out_file, "--format", "speedscope", "--"]
            argv += [self.peers_python, *PYTEST]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PERFSCAN_", "TRUTH_"))}
        env["PYTHONPATH"] = str(self.source_roots[0])
        c = run_child(argv, self.root, env, self.workdir / "logs", f"{peer}-{self.runs}", self.timeout)
        if not c.ok:
            log(f"{self.name}: {peer} failed: {c.why()}")
            return None, {}
        if peer == "peers-plain":
            return c.seconds, {}
        try:
            times, total = (self._pyinstrument if peer == "pyinstrument" else self._speedscope)(out_file)
        except (OSError, ValueError, KeyError) as exc:
            log(f"{self.name}: {peer} profile unreadable: {exc}")
            return c.seconds, {}
        out = {}
        for t in self.wait_targets:
            qual = t["function"].split(":")[1].split(".")[-1]
            secs = sum(v for (rel, name), v in times.items() if name == qual)
            out[t["function"]] = 100.0 * secs / total if total > 0 and secs > 0 else None
        return c.seconds, out

    def _pyinstrument(self, path):
        data = json.loads(Path(path).read_text("utf-8"))
        times = collections.Counter()
        stack = [(data["root_frame"], None)]
        while stack:
            node, owner = stack.pop()
            own = self.filter.function(node.get("file_path"), node.get("function")) or owner
            children = node.get("children") or []
            self_time = node.get("time", 0.0) - sum(ch.get("time", 0.0) for ch in children)
            if own and self_time > 0:
                times[own] += self_time
            stack.extend((ch, own) for ch in children)
        return times, data["root_frame"].get("time", 0.0)

    def _speedscope(self, path):
        data = json.loads(Path(path).read_text("utf-8"))
        frames = data.get("shared", {}).get("frames", [])
        keys = [self.filter.function(f.get("file"), f.get("name")) for f in frames]
        times = collections.Counter()
        main_total = 0.0
        for prof in data.get("profiles", []):
            weights = prof.get("weights") or [1] * len(prof.get("samples", []))
            # with --idle every thread is sampled for its whole life: the main thread, alive
            # longest, has the most; its time is the denominator
            main_total = max(main_total, float(sum(weights)))
            for sample, w in zip(prof.get("samples", []), weights):
                for idx in reversed(sample):
                    if keys[idx]:
                        times[keys[idx]] += w
                        break
        return times, main_total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--projects")
    ap.add_argument("--runner", default=sys.executable)
    ap.add_argument("--corpus", default=str(BENCH_DIR / "corpus"))
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--peers-venv", default=str(BENCH_DIR / ".venv-peers"))
    args = ap.parse_args(argv)
    corpus = Path(args.corpus)
    if os.sep in args.runner:
        args.runner = os.path.abspath(args.runner)  # the children run in the project's copy
    names = [p for p in (args.projects or "").split(",") if p] or waits_projects(corpus)
    if not names:
        print(f"waits: no corpus project with waits in {corpus}", file=sys.stderr)
        return 2
    peers_python = None
    if not args.no_peers:
        peers_python = _peers_venv(Path(args.peers_venv), args.runner, args.timeout)
    variants = [v for v in VARIANTS if peers_python is not None or v not in ("peers-plain", "pyinstrument", "py-spy")]
    tmp = Path(tempfile.mkdtemp(prefix="perfscan-waits-"))
    started = time.monotonic()
    results = {n: {v: [] for v in variants} for n in names}
    try:
        projects = {n: WaitProject(n, corpus, tmp, args.runner, args.timeout, peers_python) for n in names}
        for rnd in range(args.rounds):
            order = variants[rnd % len(variants) :] + variants[: rnd % len(variants)]
            for n in names:
                p = projects[n]
                for v in order:
                    log(f"round {rnd + 1}/{args.rounds} {n} {v}")
                    if v == "plain":
                        results[n][v].append(p.bare()[:2])
                    elif v == "truth":
                        results[n][v].append(p.truth_run())
                    elif v in ("perfscan", "cpu-only"):
                        results[n][v].append(p.perfscan_run(v == "perfscan"))
                    else:
                        results[n][v].append(p.peer_run(v))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = render(results, names, variants, args, time.monotonic() - started, corpus)
    print(text)
    try:
        (BENCH_DIR / "waits-last-run.md").write_text(text, encoding="utf-8")
    except OSError:
        pass
    return 0


def _peers_venv(venv: Path, runner: str, timeout: float):
    python = venv / "bin" / "python"
    logs = venv.parent / ".waits-logs"
    if not python.exists():
        log(f"creating the peers' venv {venv}")
        if not run_child([runner, "-m", "venv", venv], REPO, dict(os.environ), logs, "venv", timeout).ok:
            return None
    if not (venv / "bin" / "py-spy").exists() or not (venv / "bin" / "pyinstrument").exists():
        log("installing pyinstrument, py-spy and pytest into the peers' venv (cached for later runs)")
        argv = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "pyinstrument", "py-spy", "pytest"]
        if not run_child(argv, REPO, dict(os.environ), logs, "pip", timeout).ok:
            log("the peers could not be installed: they are left out")
            return None
    return str(python)


def render(results, names, variants, args, seconds, corpus) -> str:
    py = os.popen(f"{args.runner} -c 'import sys; print(sys.version.split()[0])'").read().strip() or "?"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"# Waiting time: shares against ground truth and overhead ({args.rounds} rounds, interleaved; "
        f"Python {py}; {os.cpu_count()} CPUs; load average {load}; {seconds:.0f} s)",
        "",
        "## Overhead: the test phases' wall time under each, over the plain run of the same round",
        "",
        "perfscan's runs over the probe's plain run (phases' wall); the peers' over plain pytest in their venv "
        "(the process's wall time).",
        "",
        "| project | perfscan (CPU + waiting) | perfscan, CPU only | pyinstrument | py-spy --idle |",
        "|---|---|---|---|---|",
    ]
    for n in names:
        r = results[n]
        row = [n]
        for v, base in (
            ("perfscan", "plain"),
            ("cpu-only", "plain"),
            ("pyinstrument", "peers-plain"),
            ("py-spy", "peers-plain"),
        ):
            if v not in r:
                row.append("n/a")
                continue
            ratios = [a[0] / b[0] for a, b in zip(r[v], r[base]) if a[0] and b[0]]
            row.append(fmt(ratios, 2, "x"))
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "## Shares of the profiled wall time (%) and error against the same round's truth (points)",
        "",
        "Truth: call-site timers with no profiler (bench/truth.py's `shares`). perfscan cells: wall share / "
        "error, then its waiting share at the listed waits' call sites / error. Peers: wall share / error "
        "(pyinstrument profiles the main thread only).",
        "",
        "| function | truth: wall, waiting | perfscan | pyinstrument | py-spy --idle |",
        "|---|---|---|---|---|",
    ]
    errs = collections.defaultdict(list)
    for n in names:
        r = results[n]
        for t in targets(corpus, n):
            key = t["function"]
            truth = [(x[1].get(key) if x[1] else None) for x in r["truth"]]
            t_wall = [x[0] if x else None for x in truth]
            t_wait = [x[1] if x else None for x in truth]
            row = [f"{n} `{key.split(':')[1]}`", f"{fmt(t_wall)}; {fmt(t_wait) if t.get('waits') else '-'}"]
            ps = [(x[1].get(key) if x[1] else None) for x in r["perfscan"]]
            e_wall = [abs(p[0] - tw) for p, tw in zip(ps, t_wall) if p and tw is not None]
            e_wait = [abs(p[1] - tw) for p, tw in zip(ps, t_wait) if p and p[1] is not None and tw is not None]
            errs["perfscan wall"] += [statistics.median(e_wall)] if e_wall else []
            errs["perfscan waiting"] += [statistics.median(e_wait)] if e_wait else []
            cell = f"{fmt([p[0] for p in ps if p])} / {fmt(e_wall)}"
            if t.get("waits"):
                cell += f"; waiting {fmt([p[1] for p in ps if p and p[1] is not None])} / {fmt(e_wait)}"
            row.append(cell)
            for peer in ("pyinstrument", "py-spy"):
                if peer not in r:
                    row.append("n/a")
                    continue
                vals = [(x[1].get(key) if x[1] else None) for x in r[peer]]
                err = [abs(v - tw) for v, tw in zip(vals, t_wall) if v is not None and tw is not None]
                errs[peer] += [statistics.median(err)] if err else []
                row.append(f"{fmt(vals)} / {fmt(err)}" if any(v is not None for v in vals) else "not in its profile")
            lines.append("| " + " | ".join(row) + " |")
    lines += ["", "## Median error over the functions (points)", ""]
    for k, v in errs.items():
        lines.append(f"- {k}: {statistics.median(v):.1f}" if v else f"- {k}: n/a")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
